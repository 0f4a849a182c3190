import GGUF

/// Small vocabularies for the tokenizer harness and the seed corpus, learnt at start-up by a few
/// hundred BPE merges over a built-in text: real merge structure (multi-byte characters, words,
/// leading spaces) without committing a vocabulary file.
public enum FuzzVocabulary {
    /// English, code, accents, Cyrillic, Greek, CJK, Korean and emoji, so merges join bytes of
    /// multi-byte characters too.
    static let trainingText = """
    The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away, and then the \
    fox comes back to the dog. It's the end of the story, isn't it? They're here and we'll see.
    def add(a, b):
        return a + b

    for i in range(10):
        print("value", i, add(i, 2))
    Héllo wörld, naïve café; Ångström → façade. Привет, мир! Γειά σου Κόσμε.
    日本語のテキスト、中文句子。한국어 문장. emoji 🚀🎉 and 👩‍👩‍👧 family, flags 🇫🇷 ✅
    Numbers 12345 and 3.14159 and 2024-01-01, tabs\tand  double  spaces\r\n
    """

    /// Byte-pair merges learnt over `symbols` words (each word a list of symbols), most frequent
    /// pair first, ties broken by the pair's text so the result does not depend on hashing.
    static func learnMerges(_ words: [[String]], count: Int) -> [(String, String)] {
        var words = words
        var merges: [(String, String)] = []
        for _ in 0..<count {
            var counts: [String: (Int, String, String)] = [:]
            for w in words where w.count > 1 {
                for i in 0..<(w.count - 1) {
                    let key = w[i] + "\u{0}" + w[i + 1]
                    counts[key, default: (0, w[i], w[i + 1])].0 += 1
                }
            }
            guard let best = counts.max(by: { $0.value.0 != $1.value.0 ? $0.value.0 < $1.value.0 : $0.key > $1.key })?.value
            else { break }
            merges.append((best.1, best.2))
            for j in words.indices {
                var w = words[j], i = 0
                var out: [String] = []
                while i < w.count {
                    if i + 1 < w.count, w[i] == best.1, w[i + 1] == best.2 {
                        out.append(w[i] + w[i + 1]); i += 2
                    } else {
                        out.append(w[i]); i += 1
                    }
                }
                w = out
                words[j] = w
            }
        }
        return merges
    }

    /// Words as GPT-2's pre-tokenizer would roughly cut them: a leading space joins the next run.
    static func splitWords(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for c in text {
            if c == " " || c.isNewline {
                if !current.isEmpty { words.append(current) }
                current = String(c)
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// GPT-2's byte → printable-character map.
    public static let byteSymbols: [String] = {
        let printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var map = [String](repeating: "", count: 256)
        var extra = 0
        for b in 0..<256 {
            if printable.contains(b) {
                map[b] = String(Character(Unicode.Scalar(UInt8(b))))
            } else {
                map[b] = String(Character(Unicode.Scalar(UInt32(256 + extra))!))
                extra += 1
            }
        }
        return map
    }()

    public static let bpeSpecials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    /// A byte-level BPE vocabulary (`tokenizer.ggml.model = gpt2`): 256 byte tokens, `mergeCount`
    /// merges, ChatML control tokens and one user-defined token, with the given pre-tokenizer.
    public static func bpe(pre: String, mergeCount: Int = 300) -> [(key: String, value: GGUFValue)] {
        let words = splitWords(trainingText).map { w in Array(w.utf8).map { byteSymbols[Int($0)] } }
        let merges = learnMerges(words, count: mergeCount)
        var tokens = byteSymbols
        var seen = Set(tokens)
        for (a, b) in merges where seen.insert(a + b).inserted { tokens.append(a + b) }
        var types = [GGUFValue](repeating: .int32(1), count: tokens.count)
        tokens += bpeSpecials
        types += bpeSpecials.map { _ in .int32(3) }
        tokens.append("<tool>")
        types.append(.int32(4))
        return [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(pre)),
            ("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, types)),
            ("tokenizer.ggml.merges", .array(.string, merges.map { .string($0.0 + " " + $0.1) })),
            ("tokenizer.ggml.bos_token_id", .uint32(UInt32(tokens.count - 4))),
            ("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 2))),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
        ]
    }

    /// A SentencePiece vocabulary (`tokenizer.ggml.model = llama`) as llama.cpp's converter
    /// writes one: `<unk>`, `<s>`, `</s>`, the 256 byte-fallback tokens, the characters of the
    /// text and `mergeCount` merged pieces (scored by merge order), one user-defined token.
    public static func sentencePiece(mergeCount: Int = 300, addSpacePrefix: Bool = true) -> [(key: String, value: GGUFValue)] {
        let space = "\u{2581}"
        let words = splitWords(trainingText).map { w in
            w.replacingSpaces(with: space).map { String($0) }
        }
        var characters: [String] = []
        var seen: Set<String> = []
        for w in words { for c in w where seen.insert(c).inserted { characters.append(c) } }
        characters.sort()
        let merges = learnMerges(words, count: mergeCount)
        var tokens = ["<unk>", "<s>", "</s>"] + (0..<256).map { "<0x" + hex2(UInt8($0)) + ">" }
        var types: [Int32] = [2, 3, 3] + Array(repeating: 6, count: 256)
        var scores: [Float] = Array(repeating: 0, count: tokens.count)
        for (i, (a, b)) in merges.enumerated() where seen.insert(a + b).inserted {
            tokens.append(a + b); types.append(1); scores.append(-Float(i))
        }
        for (i, c) in characters.enumerated() {
            tokens.append(c); types.append(1); scores.append(-Float(1000 + i))
        }
        tokens.append("<tool>"); types.append(4); scores.append(0)
        return [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) })),
            ("tokenizer.ggml.scores", .array(.float32, scores.map { .float32($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, types.map { .int32($0) })),
            ("tokenizer.ggml.bos_token_id", .uint32(1)),
            ("tokenizer.ggml.eos_token_id", .uint32(2)),
            ("tokenizer.ggml.unknown_token_id", .uint32(0)),
            ("tokenizer.ggml.add_space_prefix", .bool(addSpacePrefix)),
        ]
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }

    /// Writes a tensor-less GGUF file holding `metadata` and opens it.
    public static func file(_ metadata: [(key: String, value: GGUFValue)], at path: String) throws -> GGUFFile {
        let writer = try GGUFWriter(path: path, metadata: metadata, tensors: [])
        try writer.finish()
        return try GGUFFile(path: path)
    }
}

extension String {
    func replacingSpaces(with s: String) -> String {
        var out = ""
        for c in self { if c == " " { out += s } else { out.append(c) } }
        return out
    }
}
