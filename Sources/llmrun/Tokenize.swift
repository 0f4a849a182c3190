import ArgumentParser
import Foundation
import LLMRuntime
import Tokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the token ids (and pieces) a model's tokenizer makes of a text.",
        discussion: """
          llmrun tokenize -p "Hello world"          one 'id -> piece' per line
          llmrun tokenize -p "Hello" --ids          [9906, 1917]
          echo "text" | llmrun tokenize --json
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("p"), .customLong("prompt")], help: "Text to tokenize (default: standard input).")
    var prompt: String?
    @Option(name: [.customShort("f"), .customLong("file")], help: "Read the text from a file.")
    var file: String?
    @Flag(name: .customLong("ids"), help: "Print only the ids, as a list.")
    var idsOnly = false
    @Flag(name: .customLong("no-bos"), help: "Do not add BOS even if the vocabulary asks for it.")
    var noBOS = false
    @Flag(name: .customLong("no-parse-special"), help: "Treat special-token text (like <|im_start|>) as plain text.")
    var noParseSpecial = false
    @Flag(name: [.customShort("e"), .customLong("escape")], help: "Replace backslash escapes (\\n, \\t, \\xHH, ...) first, as llama-tokenize does by default.")
    var escape = false
    @Flag(help: "Print JSON: ids and pieces.")
    var json = false

    func run() throws {
        var text: String
        if let prompt { text = prompt }
        else if let file { text = try Terminal.readTextFile(file, what: "the text") }
        else if !Terminal.stdinIsTTY { text = try Terminal.readAllInput(what: "the text") }
        else { throw CLIError.usage("no text: pass -p TEXT, -f FILE, or pipe it on standard input") }
        if escape { text = PromptFileText.replacingEscapes(in: text) }
        let tok = try loadTokenizer(modelOptions)
        // BOS and EOS as llama-tokenize adds them (add_special), neither with --no-bos.
        let ids = tok.encodePrompt(text, addSpecial: !noBOS, parseSpecial: !noParseSpecial)
        if json {
            struct Out: Codable { var ids: [Int32]; var pieces: [String] }
            let out = Out(ids: ids, pieces: ids.map { String(decoding: tok.decodeBytes([$0]), as: UTF8.self) })
            try printJSON(out, pretty: false)
        } else if idsOnly {
            Terminal.writeLine("[" + ids.map(String.init).joined(separator: ", ") + "]")
        } else {
            Terminal.write(ids.map { id in
                String(format: "%6d -> '%@'\n", id, String(decoding: tok.decodeBytes([id]), as: UTF8.self))
            }.joined())
        }
    }
}
