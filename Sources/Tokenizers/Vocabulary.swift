import GGUF

/// Which tokenizer algorithm a vocabulary belongs to (`tokenizer.ggml.model`).
enum VocabularyKind: Sendable {
    /// `llama`: SentencePiece (BPE by piece score, byte fallback, `▁` for spaces).
    case sentencePiece
    /// `gpt2`: byte-level BPE with ranked merges.
    case byteLevelBPE
}

/// Tokenizers built on a `Vocabulary` (lets helpers such as the streaming detokenizer see its flags).
protocol VocabularyBacked {
    var vocabulary: Vocabulary { get }
}

/// A token matched in raw text before pre-tokenization.
struct SpecialToken: Sendable {
    let id: Int32
    let bytes: [UInt8]
    /// Matched even when special tokens are not parsed (user-defined tokens).
    let alwaysMatched: Bool
    /// Whitespace before / after the token in the text is dropped (llama.cpp's LSTRIP / RSTRIP).
    let lstrip: Bool
    let rstrip: Bool
}

/// Everything about a vocabulary that does not depend on the algorithm: token strings and types,
/// special ids, llama.cpp's per-model flags, special-token matching and detokenization.
struct Vocabulary: Sendable {
    let kind: VocabularyKind
    let texts: [String]
    let types: [TokenType]
    let scores: [Float]
    /// Exact (byte-wise) lookup; when strings repeat, the last id wins, as in llama.cpp.
    let idForBytes: ByteStringTable

    let bos: Int32?
    let eos: Int32?
    let eot: Int32?
    let eom: Int32?
    let unk: Int32?
    let pad: Int32?
    let addBOS: Bool
    let addEOS: Bool
    /// SentencePiece's dummy prefix: a space in front of text; also strips one leading space when detokenizing.
    let addSpacePrefix: Bool
    /// llama.cpp's `clean_spaces` (HF `clean_up_tokenization_spaces`), applied by `decode`.
    let cleanSpaces: Bool
    let endOfGeneration: Set<Int32>
    /// Longest first, the order llama.cpp matches them in.
    let specialTokens: [SpecialToken]
    /// Indices into `specialTokens` by first byte, for finding which ones occur in a text.
    let specialTokensByFirstByte: [[Int]]
    /// `llama_token_to_piece(token, special: true)` for every token.
    let pieces: ByteStringTable

    var count: Int { texts.count }

    func isValid(_ token: Int32) -> Bool { token >= 0 && Int(token) < texts.count }

    // MARK: - Loading

    struct Options {
        var defaultAddBOS: Bool
        var cleanSpaces: Bool
        /// The pre-tokenizer has no BOS token (llama.cpp clears it for ChatGLM-4).
        var noBOS = false
    }

    /// Reads the vocabulary of `file`. `kind` comes from `tokenizer.ggml.model`; `options` carries
    /// the defaults llama.cpp picks from `tokenizer.ggml.pre`.
    static func load(from file: GGUFFile, kind: VocabularyKind, options: Options) throws(TokenizerError) -> Vocabulary {
        let path = file.path
        guard let tokenValues = file["tokenizer.ggml.tokens"]?.arrayValue else {
            throw .missingKey(path: path, key: "tokenizer.ggml.tokens")
        }
        var texts: [String] = []
        texts.reserveCapacity(tokenValues.count)
        for (i, v) in tokenValues.enumerated() {
            guard let s = v.stringValue else {
                throw .invalidValue(path: path, key: "tokenizer.ggml.tokens", detail: "entry \(i) is not a string")
            }
            texts.append(s.isEmpty ? "[EMPTY_\(i)]" : s)  // llama.cpp's name for empty tokens
        }
        let n = texts.count
        guard n > 0 else { throw .invalidValue(path: path, key: "tokenizer.ggml.tokens", detail: "the vocabulary is empty") }

        var types = [TokenType](repeating: .normal, count: n)
        if let typeValues = file["tokenizer.ggml.token_type"]?.arrayValue {
            guard typeValues.count == n else {
                throw .invalidValue(path: path, key: "tokenizer.ggml.token_type",
                                    detail: "has \(typeValues.count) entries for \(n) tokens")
            }
            for (i, v) in typeValues.enumerated() {
                types[i] = v.intValue.flatMap(TokenType.init(rawValue:)) ?? .undefined
            }
        }
        var scores = [Float](repeating: 0, count: kind == .sentencePiece ? n : 0)
        if kind == .sentencePiece, let scoreValues = file["tokenizer.ggml.scores"]?.arrayValue {
            guard scoreValues.count == n else {
                throw .invalidValue(path: path, key: "tokenizer.ggml.scores",
                                    detail: "has \(scoreValues.count) entries for \(n) tokens")
            }
            for (i, v) in scoreValues.enumerated() { scores[i] = Float(v.doubleValue ?? 0) }
        }

        var idForBytes = ByteStringTable(expectedCount: n)
        for (i, t) in texts.enumerated() { idForBytes.set(t.utf8, to: Int32(i)) }
        func id(_ text: String) -> Int32? { idForBytes[text.utf8] }

        // A special id the file gives must name a token: llama.cpp warns and falls back to its
        // default, but an id past the vocabulary is a corrupt or mismatched header, and a BOS
        // or EOS the model was not trained with gives garbage.
        for (key, value) in file.metadata where key.hasPrefix("tokenizer.ggml.") && key.hasSuffix("_token_id") {
            guard let v = value.intValue, v >= 0, v < n else {
                throw .invalidValue(path: path, key: key, detail: "\(value.summary()) is not a token id: the vocabulary has \(n) tokens (ids 0..<\(n))")
            }
        }

        // Special ids: llama.cpp's defaults per model kind, replaced by in-range GGUF values.
        func specialID(_ key: String, default def: Int32?) -> Int32? {
            if let v = file["tokenizer.ggml.\(key)"]?.intValue, v >= 0, v < n { return Int32(v) }
            if let def, def >= 0, Int(def) < n { return def }
            return nil
        }
        let bos = specialID("bos_token_id", default: options.noBOS ? nil : (kind == .sentencePiece ? 1 : 11))
        let eos = specialID("eos_token_id", default: kind == .sentencePiece ? 2 : 11)
        let unk = specialID("unknown_token_id", default: kind == .sentencePiece ? 0 : nil)
        let pad = specialID("padding_token_id", default: nil)
        var eot = specialID("eot_token_id", default: nil)
        var eom = specialID("eom_token_id", default: nil)
        var fimPre = specialID("fim_pre_token_id", default: nil) ?? specialID("prefix_token_id", default: nil)
        var fimSuf = specialID("fim_suf_token_id", default: nil) ?? specialID("suffix_token_id", default: nil)
        var fimMid = specialID("fim_mid_token_id", default: nil) ?? specialID("middle_token_id", default: nil)
        var fimPad = specialID("fim_pad_token_id", default: nil)
        var fimRep = specialID("fim_rep_token_id", default: nil)
        var fimSep = specialID("fim_sep_token_id", default: nil)

        let addBOS = file["tokenizer.ggml.add_bos_token"]?.boolValue ?? (kind == .sentencePiece ? true : options.defaultAddBOS)
        let addEOS = file["tokenizer.ggml.add_eos_token"]?.boolValue ?? false
        let addSpacePrefix = file["tokenizer.ggml.add_space_prefix"]?.boolValue ?? (kind == .sentencePiece)
        let cleanSpaces = kind == .sentencePiece ? false : options.cleanSpaces

        // llama.cpp finds end-of-turn, FIM and end-of-generation tokens by their text and makes
        // them control tokens. The first candidate present wins (llama.cpp's pick is unordered).
        func find(_ candidates: [String]) -> Int32? {
            for c in candidates { if let i = id(c) { return i } }
            return nil
        }
        func promote(_ token: Int32?) { if let t = token { types[Int(t)] = .control } }
        if eot == nil {
            eot = find(["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                        "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"])
            promote(eot)
        }
        if eom == nil { eom = find(["<|eom_id|>"]); promote(eom) }
        if fimPre == nil {
            fimPre = find(["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
                           "<|prefix|>"])
            promote(fimPre)
        }
        if fimSuf == nil {
            fimSuf = find(["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
                           "<|suffix|>"])
            promote(fimSuf)
        }
        if fimMid == nil {
            fimMid = find(["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
                           "<|middle|>"])
            promote(fimMid)
        }
        if fimPad == nil { fimPad = find(["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]); promote(fimPad) }
        if fimRep == nil { fimRep = find(["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]); promote(fimRep) }
        if fimSep == nil { fimSep = find(["<|file_sep|>"]); promote(fimSep) }

        var eog = Set<Int32>()
        for t in [fimPad, fimRep, fimSep] { if let t { eog.insert(t) } }
        for text in ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
                     "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                     "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
                     "<｜end▁of▁sentence｜>", "[e~["] {
            if let t = id(text) { eog.insert(t); promote(t) }
        }
        // gpt-oss (harmony) tokens llama.cpp always renders
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let t = id(text) { types[Int(t)] = .userDefined }
        }
        for t in [eos, eot, eom] { if let t { eog.insert(t) } }
        // harmony / solar-open: with <|return|> and <|call|> (or <|calls|> and <|flush|>) ending
        // generation, <|end|> does not
        func inEOG(_ texts: String...) -> Bool { texts.contains { id($0).map(eog.contains) ?? false } }
        if let e = id("<|end|>"), eog.contains(e),
           (inEOG("<|return|>") && inEOG("<|call|>", "<|calls|>")) || (inEOG("<|call|>", "<|calls|>") && inEOG("<|flush|>")) {
            eog.remove(e)
            types[Int(e)] = .userDefined
        }
        // Where </s> is an ordinary word next to a model's real end marker (gemma4, plamo), it stays
        // ordinary text; elsewhere (Qwen's vocabulary has a normal "</s>") it ends generation and is
        // matched as a special token, as in llama.cpp.
        if let s = id("</s>"), eog.contains(s), inEOG("<|tool_response>", "<|plamo:eos|>") {
            eog.remove(s)
            types[Int(s)] = .normal
        }

        // Special tokens, longest first; per-model strip attributes as llama.cpp sets them.
        let modelName = (file["general.name"]?.stringValue ?? "").lowercased()
        let preName = (file["tokenizer.ggml.pre"]?.stringValue ?? "").lowercased()
        let arch = (file["general.architecture"]?.stringValue ?? "").lowercased()
        let isPhi3 = modelName.contains("phi-3") || modelName.contains("phi3")
        let maskLStrip = ["jina-v2-de", "jina-v2-es", "jina-v2-code"].contains { preName.contains($0) }
            || ["nomic-bert-moe", "jina-bert-v3"].contains { arch.contains($0) }
        var specials: [SpecialToken] = []
        for i in 0..<n where types[i].isSpecial && !texts[i].isEmpty {
            let text = texts[i]
            var rstrip = false
            var lstrip = false
            if isPhi3 {
                rstrip = !["<unk>", "<s>", "<|endoftext|>"].contains(text)
            } else if maskLStrip && text == "<mask>" {
                lstrip = true
            }
            specials.append(SpecialToken(id: Int32(i), bytes: Array(text.utf8), alwaysMatched: types[i] == .userDefined,
                                         lstrip: lstrip, rstrip: rstrip))
        }
        specials.sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }

        // Pieces as llama_token_to_piece(special: true) renders them.
        var pieces = ByteStringTable()
        for i in 0..<n {
            let text = texts[i]
            switch types[i] {
            case .control, .unknown, .userDefined:
                pieces.append(text.utf8)
            case .normal:
                switch kind {
                case .sentencePiece: pieces.append(unescapeWhitespace(text))
                case .byteLevelBPE: pieces.append(GPT2ByteMap.decode(text))
                }
            case .byte:
                if kind == .sentencePiece, let b = byteValue(ofByteToken: text) {
                    pieces.append([b])
                } else {
                    pieces.append([])
                }
            case .unused, .undefined:
                pieces.append([])
            }
        }

        try checkCoversPlainText(kind: kind, types: types, idForBytes: idForBytes, unk: unk, path: path)
        return Vocabulary(kind: kind, texts: texts, types: types, scores: scores, idForBytes: idForBytes,
                          bos: bos, eos: eos, eot: eot, eom: eom, unk: unk, pad: pad,
                          addBOS: addBOS, addEOS: addEOS, addSpacePrefix: addSpacePrefix, cleanSpaces: cleanSpaces,
                          endOfGeneration: eog, specialTokens: specials,
                          specialTokensByFirstByte: (0..<256).map { b in specials.indices.filter { Int(specials[$0].bytes[0]) == b } },
                          pieces: pieces)
    }

    /// Refuses a vocabulary that cannot tokenize ordinary text. Byte-level BPE only merges the
    /// byte symbols (GPT-2's printable stand-ins) of its training text, so a byte without one is
    /// dropped from every prompt. Real vocabularies may lack bytes their training never saw
    /// (SmolLM2 lacks 21: control bytes, the invalid 0xC0/0xC1/0xF5–0xFF, and the rare 4-byte
    /// leads 0xF1/0xF2), so what is required is the bytes of plain text: tab, newline, carriage
    /// return, printable ASCII, and the UTF-8 of the Basic Multilingual Plane (continuation bytes
    /// 0x80–0xBF, leads 0xC2–0xEF). A vocabulary of invalid UTF-8 or of one repeated string has
    /// almost none of them (its prompts came out empty). SentencePiece falls back to byte pieces
    /// `<0x00>`…`<0xFF>`, so a vocabulary that has some must have all 256; one without any maps
    /// unknown text to its unknown token, which must exist.
    static let plainTextBytes: [Int] = [0x09, 0x0A, 0x0D] + Array(0x20...0x7E) + Array(0x80...0xBF) + Array(0xC2...0xEF)

    static func checkCoversPlainText(kind: VocabularyKind, types: [TokenType], idForBytes: ByteStringTable,
                                     unk: Int32?, path: String) throws(TokenizerError) {
        var missing: [Int] = []
        switch kind {
        case .byteLevelBPE:
            for b in plainTextBytes {
                let symbol = Character(UnicodeScalar(GPT2ByteMap.codepoint[b]) ?? "?")
                if idForBytes[String(symbol).utf8] == nil { missing.append(b) }
            }
        case .sentencePiece:
            let byteTokens = types.indices.filter { types[$0] == .byte }.count
            if byteTokens == 0 {
                guard unk != nil || types.contains(.unknown) else {
                    throw .invalidValue(path: path, key: "tokenizer.ggml.tokens", detail:
                        "the SentencePiece vocabulary has neither byte pieces <0x00>…<0xFF> nor an unknown token: text outside its pieces could not be tokenized")
                }
                return
            }
            for b in 0..<256 {
                let piece = "<0x" + String(b, radix: 16, uppercase: true).leftPadded(2) + ">"
                if idForBytes[piece.utf8] == nil { missing.append(b) }
            }
        }
        guard missing.isEmpty else {
            let list = missing.prefix(8).map { "0x" + String($0, radix: 16, uppercase: true).leftPadded(2) }.joined(separator: ", ")
            let needed = kind == .byteLevelBPE ? "the \(plainTextBytes.count) bytes of plain text (ASCII and UTF-8 up to U+FFFF)" : "the 256 byte pieces"
            throw .invalidValue(path: path, key: "tokenizer.ggml.tokens", detail:
                "\(missing.count) of \(needed) have no token (\(list)\(missing.count > 8 ? ", ..." : "")): text holding them could not be tokenized")
        }
    }

    /// `▁` (U+2581) → space.
    static func unescapeWhitespace(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        let u = Array(text.utf8)
        var i = 0
        while i < u.count {
            if i + 2 < u.count, u[i] == 0xE2, u[i + 1] == 0x96, u[i + 2] == 0x81 {
                out.append(0x20); i += 3
            } else {
                out.append(u[i]); i += 1
            }
        }
        return out
    }

    /// The byte of a SentencePiece byte token `<0xXX>`.
    static func byteValue(ofByteToken text: String) -> UInt8? {
        let u = Array(text.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
