import ArgumentParser
import Foundation
import GGUF
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
        if escape { text = String(decoding: PromptFileText.replacingEscapes(Array(text.utf8)), as: UTF8.self) }
        // Only the vocabulary is read (as llama-tokenize's vocab_only): no weights are loaded, so any
        // GGUF with a vocabulary works, whatever its architecture or tensor types.
        let path = try modelOptions.resolvedPath()
        if let spm = modelOptions.tokenizerModel, !FileManager.default.fileExists(atPath: spm) {
            throw CLIError.missingInput("\(spm): no such file (--tokenizer)")
        }
        let tok = try TokenizerLoader.load(from: try GGUFFile(path: path), sentencePieceModel: modelOptions.tokenizerModel)
        // BOS and EOS as llama.cpp's add_special: what the vocabulary asks for, neither with --no-bos.
        var ids: [Int32] = []
        if !noBOS, tok.addsBOS, let bos = tok.bosToken { ids.append(bos) }
        ids += tok.encode(text, parseSpecial: !noParseSpecial)
        if !noBOS, tok.addsEOS, let eos = tok.eosToken { ids.append(eos) }
        if json {
            struct Out: Codable { var ids: [Int32]; var pieces: [String] }
            let out = Out(ids: ids, pieces: ids.map { String(decoding: tok.decodeBytes([$0]), as: UTF8.self) })
            try printJSON(out, pretty: false)
        } else if idsOnly {
            print("[" + ids.map(String.init).joined(separator: ", ") + "]")
        } else {
            for id in ids {
                print(String(format: "%6d -> '%@'", id, String(decoding: tok.decodeBytes([id]), as: UTF8.self)))
            }
        }
    }
}
