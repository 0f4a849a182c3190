import FuzzSupport
import Tokenizers

// Chat-template detection and rendering on arbitrary input: a `tokenizer.chat_template` text
// (the kind is detected from it and a ChatML default system prompt is read out of its string
// literals), BOS/EOS texts and a conversation of arbitrary roles and contents. Fields are
// separated by NUL bytes: flags, template, bos, eos, then role and content pairs. Checks, besides
// no crash: ChatML keeps every role and content verbatim, and every kind renders the same
// messages the same way twice.

@_cdecl("fuzz_chat_template_main")
public func main(_ argc: CInt, _ argv: Arguments) -> CInt {
    runFuzzer(argc: argc, argv: argv, seeds: Seeds.write, fuzzChatTemplate)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChatTemplate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let flags = input.byte()
    func field() -> String { String(decoding: input.bytes(upTo: 0), as: UTF8.self) }
    let jinja = field()
    let bos = flags & 2 != 0 ? field() : nil
    let eos = flags & 4 != 0 ? field() : nil
    var messages: [ChatMessage] = []
    while !input.isEmpty && messages.count < 64 {
        let role = field()
        messages.append(ChatMessage(role: role, content: field()))
    }
    let addGenerationPrompt = flags & 1 != 0

    _ = ChatTemplateKind.detect(from: jinja)
    if let template = ChatTemplate(jinja: jinja) {
        let text = template.render(messages, addGenerationPrompt: addGenerationPrompt, bos: bos, eos: eos)
        if template.kind == .chatml {
            for m in messages where !text.contains("<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n") {
                fatalError("chatml lost the turn \(String(reflecting: m)) in \(String(reflecting: text))")
            }
        }
    }
    for kind in ChatTemplateKind.allCases {
        let system = flags & 8 != 0 ? jinja : nil
        let once = kind.render(messages, addGenerationPrompt: addGenerationPrompt, bos: bos, eos: eos, defaultSystemPrompt: system)
        let twice = kind.render(messages, addGenerationPrompt: addGenerationPrompt, bos: bos, eos: eos, defaultSystemPrompt: system)
        if once != twice { fatalError("\(kind) rendered the same conversation differently") }
    }
    return 0
}
