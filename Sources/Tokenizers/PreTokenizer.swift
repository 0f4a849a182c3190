/// How byte-level BPE text is split into words before merges, chosen by `tokenizer.ggml.pre`.
///
/// Each kind is a list of stages applied in order, as llama.cpp applies its list of regexes: every
/// stage splits each piece the previous stage produced, matches become pieces, and text between
/// matches stays a piece of its own. A stage sees only its piece, so `(?!\S)` and `$` treat the
/// piece's end as the end of the text. The regexes are implemented as hand-written scanners.
public enum PreTokenizerKind: String, Sendable, CaseIterable {
    /// llama.cpp's fallback: `[\p{P}\$\+<=>\^~\|]+`, then GPT-2, then `\p{N}+`, then `[0-9][0-9][0-9]`.
    case `default`
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `\p{N}` (each digit alone), then the GPT-2 pattern (starcoder, smollm, refact, command-r, …).
    case smollm
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// Same as llama3 with `\p{N}` (single digits) instead of `\p{N}{1,3}`.
    case qwen2
    /// DeepSeek LLM: `[\r\n]`, `\s?[Latin/Greek/Cyrillic/… letters]+`, `\s?[!-/:-~！-／：-～‘-‟　-。]+`, `\s+$`, `[一-龥ࠀ-一가-퟿]+`, `\p{N}+`.
    case deepseekLLM = "deepseek-llm"
    /// DeepSeek Coder: `[\r\n]`, `\s?\p{L}+`, `\s?\p{P}+`, `[一-龥ࠀ-一가-퟿]+`, `\p{N}`.
    case deepseekCoder = "deepseek-coder"
    /// Falcon: ``[\p{P}\$\+<=>\^~\|`]+``, then GPT-2, then `[0-9][0-9][0-9]`.
    case falcon

    /// The kind for a `tokenizer.ggml.pre` value, with the name families llama.cpp groups
    /// together; nil for names it does not know (llama.cpp then falls back to `default`).
    public static func forGGUFName(_ name: String?) -> PreTokenizerKind? {
        guard let name, !name.isEmpty else { return .default }
        return PreTokenizerSettings.table[name]?.kind
    }

    var stages: [PreTokenizerStage] {
        switch self {
        case .default: return [.punctuationRuns(backtick: false), .gpt2, .numberRuns, .asciiDigitTriples]
        case .falcon: return [.punctuationRuns(backtick: true), .gpt2, .asciiDigitTriples]
        case .gpt2: return [.gpt2]
        case .smollm: return [.singleNumbers, .gpt2]
        case .llama3: return [.llama3(maxDigits: 3)]
        case .qwen2: return [.llama3(maxDigits: 1)]
        case .deepseekLLM:
            return [.lineBreakChar, .deepseekLetters, .deepseekPunctuation, .trailingWhitespace, .cjkRuns, .numberRuns]
        case .deepseekCoder:
            return [.lineBreakChar, .spaceThenLetters, .spaceThenPunctuation, .cjkRuns, .singleNumbers]
        }
    }

    /// The words `text` is split into before BPE (for inspection and tests; special tokens are
    /// not cut out here).
    public func words(in text: String) -> [String] {
        let bytes = Array(text.utf8)
        let cps = CodepointText(utf8: bytes)
        var out: [String] = []
        var s = 0
        for e in split(cps) {
            out.append(String(decoding: bytes[cps.byteOffsets[s]..<cps.byteOffsets[e]], as: UTF8.self))
            s = e
        }
        return out
    }

    /// Splits `text` into words, returned as code point ranges (as end indices, in order).
    func split(_ text: CodepointText) -> [Int] {
        var ends = text.count > 0 ? [text.count] : []
        text.codepoints.withUnsafeBufferPointer { cps in
            text.flags.withUnsafeBufferPointer { fl in
                for stage in stages {
                    var next: [Int] = []
                    next.reserveCapacity(max(ends.count * 2, text.count / 3))
                    var start = 0
                    for end in ends {
                        stage.split(cps, fl, start, end, into: &next)
                        start = end
                    }
                    ends = next
                }
            }
        }
        return ends
    }
}

/// What llama.cpp derives from a `tokenizer.ggml.pre` name besides the split patterns.
struct PreTokenizerSettings {
    var kind: PreTokenizerKind
    /// A word that is itself a token is emitted without merging (Llama-3, Tekken).
    var ignoreMerges = false
    /// llama.cpp's `clean_spaces` when detokenizing.
    var cleanSpaces = true
    /// Default for `add_bos_token` when the file does not say.
    var addBOS = false
    /// The vocabulary has no BOS (ChatGLM-4).
    var noBOS = false
    /// False when the name was not recognised and the default was used.
    var recognized = true

    init(kind: PreTokenizerKind, ignoreMerges: Bool = false, cleanSpaces: Bool = true, addBOS: Bool = false,
         noBOS: Bool = false, recognized: Bool = true) {
        self.kind = kind
        self.ignoreMerges = ignoreMerges
        self.cleanSpaces = cleanSpaces
        self.addBOS = addBOS
        self.noBOS = noBOS
        self.recognized = recognized
    }

    /// Settings for a name; unknown or missing names get the default pre-tokenizer, as in llama.cpp.
    static func forGGUFName(_ name: String?) -> PreTokenizerSettings {
        guard let name, let known = table[name] else { return .init(kind: .default, recognized: false) }
        return known
    }

    static let table: [String: PreTokenizerSettings] = {
        var t: [String: PreTokenizerSettings] = ["default": .init(kind: .default)]
        for n in ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"] {
            t[n] = .init(kind: .llama3, ignoreMerges: true, addBOS: true)
        }
        for n in ["dbrx", "smaug-bpe"] { t[n] = .init(kind: .llama3) }
        for n in ["glm4", "chatglm-bpe"] { t[n] = .init(kind: .llama3, noBOS: true) }
        for n in ["qwen2", "deepseek-r1-qwen", "kormo"] { t[n] = .init(kind: .qwen2, cleanSpaces: false) }
        for n in ["megrez", "stablelm2"] { t[n] = .init(kind: .qwen2) }
        t["hunyuan"] = .init(kind: .qwen2, cleanSpaces: false)
        for n in ["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
                  "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais"] {
            t[n] = .init(kind: .gpt2)
        }
        for n in ["trillion", "granite-docling"] { t[n] = .init(kind: .gpt2, cleanSpaces: false) }
        for n in ["starcoder", "refact", "codeshell", "exaone", "minerva-7b"] { t[n] = .init(kind: .smollm) }
        for n in ["smollm", "command-r"] { t[n] = .init(kind: .smollm, cleanSpaces: false) }
        t["deepseek-llm"] = .init(kind: .deepseekLLM, cleanSpaces: false)
        t["deepseek-coder"] = .init(kind: .deepseekCoder, cleanSpaces: false)
        t["falcon"] = .init(kind: .falcon)
        return t
    }()
}

/// One regex of a pre-tokenizer, as a scanner over code points.
enum PreTokenizerStage: Sendable {
    case gpt2
    case llama3(maxDigits: Int)
    case singleNumbers          // \p{N}
    case numberRuns             // \p{N}+
    case asciiDigitTriples      // [0-9][0-9][0-9]
    case punctuationRuns(backtick: Bool)  // [\p{P}\$\+<=>\^~\|]+ (falcon adds `)
    case lineBreakChar          // [\r\n]
    case spaceThenLetters       // \s?\p{L}+
    case spaceThenPunctuation   // \s?\p{P}+
    case deepseekLetters        // \s?[A-Za-zµÀ-ÖØ-ö…]+
    case deepseekPunctuation    // \s?[!-/:-~！-／：-～‘-‟　-。]+
    case trailingWhitespace     // \s+$
    case cjkRuns                // [一-龥ࠀ-一가-퟿]+

    /// Splits `[start, end)` into pieces, appending each piece's end index to `out`.
    /// Like a regex search: every match is a piece, and the text between matches is a piece too.
    @inline(__always)
    func split(_ cps: UnsafeBufferPointer<UInt32>, _ fl: UnsafeBufferPointer<CodepointFlags>,
               _ start: Int, _ end: Int, into out: inout [Int]) {
        var p = start
        var gapStart = start
        while p < end {
            let n = match(cps, fl, p, end)
            if n > 0 {
                if gapStart < p { out.append(p) }
                p += n
                out.append(p)
                gapStart = p
            } else {
                p += 1
            }
        }
        if gapStart < end { out.append(end) }
    }

    /// Length of the match at `p` (0 if none), looking no further than `end`.
    @inline(__always)
    func match(_ cps: UnsafeBufferPointer<UInt32>, _ fl: UnsafeBufferPointer<CodepointFlags>, _ p: Int, _ end: Int) -> Int {
        switch self {
        case .gpt2: return Scan.gpt2(cps, fl, p, end)
        case .llama3(let maxDigits): return Scan.llama3(cps, fl, p, end, maxDigits: maxDigits)
        case .singleNumbers: return fl[p].contains(.number) ? 1 : 0
        case .numberRuns: return Scan.run(fl, p, end) { $0.contains(.number) }
        case .asciiDigitTriples:
            guard p + 3 <= end else { return 0 }
            return Scan.isASCIIDigit(cps[p]) && Scan.isASCIIDigit(cps[p + 1]) && Scan.isASCIIDigit(cps[p + 2]) ? 3 : 0
        case .punctuationRuns(let backtick):
            var q = p
            while q < end, fl[q].contains(.punctuation) || Scan.isExtraPunctuationSymbol(cps[q]) || (backtick && cps[q] == 0x60) {
                q += 1
            }
            return q - p
        case .lineBreakChar: return cps[p] == 0x0A || cps[p] == 0x0D ? 1 : 0
        case .spaceThenLetters: return Scan.optionalSpaceThenRun(fl, p, end) { $0.contains(.letter) }
        case .spaceThenPunctuation: return Scan.optionalSpaceThenRun(fl, p, end) { $0.contains(.punctuation) }
        case .deepseekLetters: return Scan.optionalSpaceThenRun(cps, fl, p, end, DeepSeekClasses.isLetter)
        case .deepseekPunctuation: return Scan.optionalSpaceThenRun(cps, fl, p, end, DeepSeekClasses.isPunctuation)
        case .trailingWhitespace:
            var q = p
            while q < end, fl[q].contains(.whitespace) { q += 1 }
            return q == end ? q - p : 0
        case .cjkRuns:
            var q = p
            while q < end, DeepSeekClasses.isCJK(cps[q]) { q += 1 }
            return q - p
        }
    }
}

/// The scanners behind the stages.
enum Scan {
    static let apostrophe: UInt32 = 0x27

    @inline(__always) static func isASCIIDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }

    /// `$ + < = > ^ ~ |`, which the default pre-tokenizer adds to `\p{P}`.
    @inline(__always) static func isExtraPunctuationSymbol(_ c: UInt32) -> Bool {
        c == 0x24 || c == 0x2B || c == 0x3C || c == 0x3D || c == 0x3E || c == 0x5E || c == 0x7E || c == 0x7C
    }

    @inline(__always) static func isOther(_ f: CodepointFlags) -> Bool {
        !f.contains(.whitespace) && !f.contains(.letter) && !f.contains(.number)
    }

    @inline(__always) static func lower(_ c: UInt32) -> UInt32 {
        (c >= 0x41 && c <= 0x5A) ? c + 0x20 : c
    }

    @inline(__always)
    static func run(_ fl: UnsafeBufferPointer<CodepointFlags>, _ p: Int, _ end: Int, _ test: (CodepointFlags) -> Bool) -> Int {
        var q = p
        while q < end, test(fl[q]) { q += 1 }
        return q - p
    }

    /// `\s?X+`: an optional whitespace character, then one or more characters passing `test`.
    @inline(__always)
    static func optionalSpaceThenRun(_ fl: UnsafeBufferPointer<CodepointFlags>, _ p: Int, _ end: Int,
                                     _ test: (CodepointFlags) -> Bool) -> Int {
        var q = p
        if fl[q].contains(.whitespace), q + 1 < end, test(fl[q + 1]) { q += 1 }
        let n = run(fl, q, end, test)
        return n > 0 ? q + n - p : 0
    }

    @inline(__always)
    static func optionalSpaceThenRun(_ cps: UnsafeBufferPointer<UInt32>, _ fl: UnsafeBufferPointer<CodepointFlags>,
                                     _ p: Int, _ end: Int, _ test: (UInt32) -> Bool) -> Int {
        var q = p
        if fl[q].contains(.whitespace), q + 1 < end, test(cps[q + 1]) { q += 1 }
        var r = q
        while r < end, test(cps[r]) { r += 1 }
        return r > q ? r - p : 0
    }

    /// Contractions `'s 't 're 've 'm 'll 'd` at `p`: the match length, or 0.
    @inline(__always)
    static func contraction(_ cps: UnsafeBufferPointer<UInt32>, _ p: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard cps[p] == apostrophe, p + 1 < end else { return 0 }
        let c1 = caseInsensitive ? lower(cps[p + 1]) : cps[p + 1]
        if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return 2 }  // s t m d
        if p + 2 < end {
            let c2 = caseInsensitive ? lower(cps[p + 2]) : cps[p + 2]
            if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) { return 3 }  // re ve ll
        }
        return 0
    }

    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    @inline(__always)
    static func gpt2(_ cps: UnsafeBufferPointer<UInt32>, _ fl: UnsafeBufferPointer<CodepointFlags>, _ p: Int, _ end: Int) -> Int {
        let c = contraction(cps, p, end, caseInsensitive: false)
        if c > 0 { return c }
        // ` ?X+` where X is letters, numbers, or anything else but whitespace
        var q = p
        if cps[p] == 0x20 {
            if p + 1 < end, !fl[p + 1].contains(.whitespace) { q = p + 1 }
        }
        let f = fl[q]
        if !f.contains(.whitespace) {
            let n: Int
            if f.contains(.letter) {
                n = run(fl, q, end) { $0.contains(.letter) }
            } else if f.contains(.number) {
                n = run(fl, q, end) { $0.contains(.number) }
            } else {
                n = run(fl, q, end) { isOther($0) }
            }
            return q + n - p
        }
        return whitespaceRun(fl, p, end)
    }

    /// `\s+(?!\S)|\s+` at a whitespace character.
    @inline(__always)
    static func whitespaceRun(_ fl: UnsafeBufferPointer<CodepointFlags>, _ p: Int, _ end: Int) -> Int {
        let n = run(fl, p, end) { $0.contains(.whitespace) }
        if n > 1 && p + n < end { return n - 1 }  // leave the last one to prefix the next word
        return max(n, 1)
    }

    /// Llama-3 / Qwen2:
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    @inline(__always)
    static func llama3(_ cps: UnsafeBufferPointer<UInt32>, _ fl: UnsafeBufferPointer<CodepointFlags>, _ p: Int, _ end: Int,
                       maxDigits: Int) -> Int {
        let c = contraction(cps, p, end, caseInsensitive: true)
        if c > 0 { return c }
        let cp = cps[p]
        let f = fl[p]
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if cp != 0x0A && cp != 0x0D && !f.contains(.number) {
            if f.contains(.letter) || (p + 1 < end && fl[p + 1].contains(.letter)) {
                var q = p + 1
                while q < end, fl[q].contains(.letter) { q += 1 }
                return q - p
            }
        }
        // \p{N}{1,max}
        if f.contains(.number) {
            var q = p + 1
            while q < end, q - p < maxDigits, fl[q].contains(.number) { q += 1 }
            return q - p
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        var q = p
        if cp == 0x20, p + 1 < end, isOther(fl[p + 1]) { q = p + 1 }
        if isOther(fl[q]) {
            while q < end, isOther(fl[q]) { q += 1 }
            while q < end, cps[q] == 0x0A || cps[q] == 0x0D { q += 1 }
            return q - p
        }
        // \s*[\r\n]+ : through the last line break of the whitespace run
        var r = p
        var lastBreakEnd = -1
        while r < end, fl[r].contains(.whitespace) {
            if cps[r] == 0x0A || cps[r] == 0x0D { lastBreakEnd = r + 1 }
            r += 1
        }
        if lastBreakEnd > 0 { return lastBreakEnd - p }
        let n = r - p
        if n > 1 && r < end { return n - 1 }
        return max(n, 1)
    }
}

/// The literal character classes of the DeepSeek pre-tokenizers.
enum DeepSeekClasses {
    private static func ranges(_ spec: String) -> [ClosedRange<UInt32>] {
        let s = spec.unicodeScalars.map(\.value)
        var out: [ClosedRange<UInt32>] = []
        var i = 0
        while i < s.count {
            if i + 2 < s.count, s[i + 1] == 0x2D {
                out.append(s[i]...s[i + 2]); i += 3
            } else {
                out.append(s[i]...s[i]); i += 1
            }
        }
        return out.sorted { $0.lowerBound < $1.lowerBound }
    }

    private static func contains(_ table: [ClosedRange<UInt32>], _ c: UInt32) -> Bool {
        var lo = 0, hi = table.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if table[mid].upperBound < c { lo = mid + 1 } else { hi = mid }
        }
        return lo < table.count && table[lo].contains(c)
    }

    // Written as in llama.cpp's source; the escaped characters are compatibility forms that
    // Unicode normalization would otherwise change (U+1F7D, U+1FD3, U+1FDB, U+1FBE, U+2126, U+212A).
    static let letters = ranges(
        "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u{1F7D}ᾀ-ᾴᾶ-ᾼ\u{1FBE}ῂ-ῄῆ-ῌῐ-\u{1FD3}ῖ-\u{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u{2126}ℨ\u{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃")
    // U+3000 (ideographic space) is left out: llama.cpp hands non-ASCII whitespace to std::wregex as
    // U+000B, so it never matches a literal class.
    static let punctuation = ranges("!-/:-~！-／：-～‘-‟、-。")
    static let cjk = ranges("一-龥ࠀ-一가-퟿")

    static func isLetter(_ c: UInt32) -> Bool { contains(letters, c) }
    static func isPunctuation(_ c: UInt32) -> Bool { contains(punctuation, c) }
    static func isCJK(_ c: UInt32) -> Bool { contains(cjk, c) && !CodepointFlags.isWhitespace(c) }
}
