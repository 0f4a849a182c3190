/// Writes a SentencePiece `ModelProto` (protobuf wire format, by hand) from a GGUF vocabulary, so
/// libsentencepiece can load it without a `tokenizer.model` file.
///
/// Piece types are chosen to make SentencePiece's BPE behave like llama.cpp's SPM tokenizer,
/// which merges into any vocabulary string by its score and does its own special-token handling:
/// byte tokens stay BYTE (byte fallback), one token is UNKNOWN (SentencePiece needs exactly one),
/// and everything else is NORMAL, so control/user-defined/unused strings stay reachable by merges
/// as in llama.cpp. Special tokens written in the text are cut out before SentencePiece sees it.
struct SentencePieceModelProto {
    // ModelProto.SentencePiece.Type
    enum PieceType: UInt64 { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    struct Piece {
        var text: [UInt8]
        var score: Float
        var type: PieceType
    }

    var pieces: [Piece] = []
    var unkID: Int32 = 0
    var bosID: Int32 = -1
    var eosID: Int32 = -1
    var padID: Int32 = -1
    var byteFallback = false
    var addDummyPrefix = true

    /// The proto for `vocabulary`.
    init(vocabulary v: Vocabulary) {
        let n = v.count
        // SentencePiece rejects empty and repeated pieces; llama.cpp resolves a repeated string to
        // its last id, so earlier copies (and empty strings) get unmatchable placeholder names.
        var unk = v.unk.map(Int.init) ?? -1
        if unk < 0 { unk = v.types.firstIndex(of: .unknown) ?? v.types.firstIndex(of: .control) ?? 0 }
        pieces.reserveCapacity(n)
        for i in 0..<n {
            var text = Array(v.texts[i].utf8)
            var type: PieceType
            switch v.types[i] {
            case .byte where Vocabulary.byteValue(ofByteToken: v.texts[i]) != nil:
                type = .byte
                byteFallback = true
            default:
                type = .normal
            }
            if i == unk { type = .unknown }
            if text.isEmpty || v.idForBytes[text] != Int32(i) {
                text = Array("\u{F8FF}llmrun-unreachable-\(i)\u{F8FF}".utf8)
                if type != .unknown { type = .control }
            }
            pieces.append(Piece(text: text, score: v.scores.isEmpty ? 0 : v.scores[i], type: type))
        }
        unkID = Int32(unk)
        bosID = v.bos ?? -1
        eosID = v.eos ?? -1
        padID = v.pad ?? -1
        addDummyPrefix = v.addSpacePrefix
    }

    /// The serialized ModelProto.
    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(pieces.count * 24 + 64)
        var piece: [UInt8] = []
        for p in pieces {
            piece.removeAll(keepingCapacity: true)
            Self.bytesField(1, p.text, into: &piece)          // piece
            Self.floatField(2, p.score, into: &piece)         // score
            Self.varintField(3, p.type.rawValue, into: &piece) // type
            Self.bytesField(1, piece, into: &out)             // ModelProto.pieces
        }
        var trainer: [UInt8] = []
        Self.varintField(3, 2, into: &trainer)                                    // model_type = BPE
        Self.varintField(4, UInt64(pieces.count), into: &trainer)                 // vocab_size
        Self.varintField(35, byteFallback ? 1 : 0, into: &trainer)                // byte_fallback
        Self.varintField(40, Self.int32(unkID), into: &trainer)                   // unk_id
        Self.varintField(41, Self.int32(bosID), into: &trainer)                   // bos_id
        Self.varintField(42, Self.int32(eosID), into: &trainer)                   // eos_id
        Self.varintField(43, Self.int32(padID), into: &trainer)                   // pad_id
        Self.bytesField(2, trainer, into: &out)                                   // ModelProto.trainer_spec
        var normalizer: [UInt8] = []
        Self.bytesField(1, Array("identity".utf8), into: &normalizer)             // name
        Self.varintField(3, addDummyPrefix ? 1 : 0, into: &normalizer)            // add_dummy_prefix
        Self.varintField(4, 0, into: &normalizer)                                 // remove_extra_whitespaces
        Self.varintField(5, 1, into: &normalizer)                                 // escape_whitespaces
        Self.bytesField(3, normalizer, into: &out)                                // ModelProto.normalizer_spec
        return out
    }

    // MARK: wire format

    static func int32(_ v: Int32) -> UInt64 { UInt64(bitPattern: Int64(v)) }  // negative int32 → 10-byte varint

    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func key(_ field: UInt64, _ wireType: UInt64, into out: inout [UInt8]) {
        varint(field << 3 | wireType, into: &out)
    }

    static func varintField(_ field: UInt64, _ value: UInt64, into out: inout [UInt8]) {
        key(field, 0, into: &out)
        varint(value, into: &out)
    }

    static func bytesField(_ field: UInt64, _ bytes: [UInt8], into out: inout [UInt8]) {
        key(field, 2, into: &out)
        varint(UInt64(bytes.count), into: &out)
        out.append(contentsOf: bytes)
    }

    static func floatField(_ field: UInt64, _ value: Float, into out: inout [UInt8]) {
        key(field, 5, into: &out)
        let bits = value.bitPattern
        out.append(UInt8(bits & 0xFF))
        out.append(UInt8((bits >> 8) & 0xFF))
        out.append(UInt8((bits >> 16) & 0xFF))
        out.append(UInt8((bits >> 24) & 0xFF))
    }
}
