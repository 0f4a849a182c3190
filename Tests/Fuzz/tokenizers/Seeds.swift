import FuzzSupport

/// The committed seed corpus (Tests/FuzzCorpus/tokenizers), written by `Tools/fuzz --seeds
/// tokenizers`: the round-trip tests' texts, each for a few of the tokenizers (the first byte).
enum Seeds {
    static let texts = [
        "Hello world",
        "Héllo wörld, naïve café; Ångström → façade",
        "emoji 🚀🎉 and 👩‍👩‍👧 family, flags 🇫🇷 and ✅",
        "日本語のテキスト、中文句子。한국어 문장",
        "def add(a, b):\n    return a + b\n\n\tif x == 100:\n\t\tprint(\"ok\")\n",
        "   three leading spaces and trailing   ",
        "mixed\r\nline endings\rand\u{00A0}nbsp\u{3000}ideographic space",
        "Numbers 12345 3.14159 ½ ² ⅷ and it's 'quoted' , spaced !",
        "<|im_start|>user\nhi<|im_end|>\n<tool>call</tool><|endoftext|>",
        "\u{2581}sentencepiece\u{2581}space and <0x41> byte text",
    ]

    /// Inputs the fuzzer once failed on, whole (selector byte first; some are not UTF-8).
    static let found: [[UInt8]] = [
        // SentencePiece: "<tool>" then U+07EE, a combining mark. The harness compared Characters
        // and missed the user-defined token, whose fragment after it gets a space prefix.
        Array("\u{0B}<im_starten\u{08}\0\0&\0\0\0\0>\n<tool>".utf8)
            + [0xDF, 0xAE, 0x07, 0x66] + Array(repeating: 0xFF, count: 10) + Array("yexxt|".utf8),
    ]

    static func write(to dir: String) throws {
        for (i, bytes) in found.enumerated() { try writeFile(dir + "/found-\(i)", bytes) }
        for (i, text) in texts.enumerated() {
            for selector: UInt8 in [UInt8(i % 13), UInt8(11 + i % 2), 0x30 | UInt8((i + 5) % 13)] {
                let bytes = [selector] + Array(text.utf8)
                try writeFile(dir + "/text-\(i)-\(selector)", bytes)
            }
        }
    }
}
