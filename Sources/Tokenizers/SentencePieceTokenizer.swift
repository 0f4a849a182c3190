import GGUF

/// SentencePiece (`tokenizer.ggml.model == "llama"`), tokenizing through libsentencepiece with a
/// model built from the GGUF vocabulary (or a given `tokenizer.model`), with llama.cpp's handling
/// around it: special tokens are cut out first, and every text fragment gets the dummy-prefix
/// space when `add_space_prefix` is set (fragments only ever follow a special token or the start).
public final class SentencePieceTokenizer: Tokenizer, VocabularyBacked {
    let vocabulary: Vocabulary
    let processor: SentencePieceProcessor

    /// Long fragments are encoded in pieces cut after a newline (see `encode`); only for models
    /// built from the GGUF vocabulary, where it is known to be exact.
    let chunksAtNewlines: Bool
    /// Without the dummy prefix in the model, the tokenizer writes the space itself.
    let writesSpacePrefix: Bool
    static let chunkSize = 16 * 1024

    init(file: GGUFFile, sentencePieceModel: String?) throws(TokenizerError) {
        vocabulary = try Vocabulary.load(from: file, kind: .sentencePiece,
                                         options: .init(defaultAddBOS: true, cleanSpaces: false))
        if let modelPath = sentencePieceModel {
            processor = try SentencePieceProcessor(path: modelPath)
            guard processor.vocabularySize <= vocabulary.count else {
                throw .sentencePiece(source: modelPath, message:
                    "it has \(processor.vocabularySize) pieces but the GGUF vocabulary has \(vocabulary.count); use the tokenizer.model that belongs to this model")
            }
            chunksAtNewlines = false
            writesSpacePrefix = false
        } else {
            let built = Self.builtModel(vocabulary)
            chunksAtNewlines = built.chunksAtNewlines
            writesSpacePrefix = chunksAtNewlines && vocabulary.addSpacePrefix
            processor = try SentencePieceProcessor(serializedProto: built.serialized, source: file.path)
        }
    }

    /// The ModelProto built from the vocabulary, serialized, and whether fragments may be cut at
    /// newlines. A function of its own so the proto's per-piece arrays are freed before
    /// libsentencepiece parses the bytes: with Gemma 3's 262,144 pieces, `llmrun tokenize` peaked
    /// at 144 MB resident while they were alive, 126 MB now.
    private static func builtModel(_ vocabulary: Vocabulary) -> (serialized: [UInt8], chunksAtNewlines: Bool) {
        var proto = SentencePieceModelProto(vocabulary: vocabulary)
        // SentencePiece's BPE slows down more than linearly on long inputs (4.5 s for the
        // 1.7 MB evaluation text in one call). When no piece that merges contains a newline
        // next to other characters, a newline never merges, so cutting right after one gives
        // exactly the same ids; the dummy-prefix space is then written by us, once per fragment.
        let newlineMerges = proto.pieces.contains { p in
            p.type == .normal && p.text.count > 1 && p.text.contains(0x0A)
        }
        if !newlineMerges { proto.addDummyPrefix = false }
        return (proto.serialized(), !newlineMerges)
    }

    public var vocabularySize: Int { vocabulary.count }
    public var bosToken: Int32? { vocabulary.bos }
    public var eosToken: Int32? { vocabulary.eos }
    public var addsBOS: Bool { vocabulary.addBOS }
    public var addsEOS: Bool { vocabulary.addEOS }
    public var endOfGenerationTokens: Set<Int32> { vocabulary.endOfGeneration }

    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        let bytes = Array(text.utf8)
        let fragments = vocabulary.partition(bytes, parseSpecial: parseSpecial)
        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3 + 4)
        var scratch: [UInt8] = []
        bytes.withUnsafeBufferPointer { buf in
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                case .text(let range):
                    encodeFragment(buf, range, into: &out, scratch: &scratch)
                }
            }
        }
        return out
    }

    /// Encodes one text fragment. Encoding valid UTF-8 with a loaded model does not fail; if it
    /// ever did, the fragment would be dropped rather than crash generation.
    private func encodeFragment(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [Int32],
                                scratch: inout [UInt8]) {
        guard chunksAtNewlines else {
            processor.encode(UnsafeBufferPointer(rebasing: buf[range]), into: &out)
            return
        }
        var start = range.lowerBound
        var first = true
        while start < range.upperBound {
            var end = range.upperBound
            if end - start > Self.chunkSize {
                var p = start + Self.chunkSize - 1
                while p < range.upperBound && buf[p] != 0x0A { p += 1 }
                end = min(p + 1, range.upperBound)
            }
            if first && writesSpacePrefix {
                scratch.removeAll(keepingCapacity: true)
                scratch.append(0x20)
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<end]))
                scratch.withUnsafeBufferPointer { _ = processor.encode($0, into: &out) }
            } else {
                processor.encode(UnsafeBufferPointer(rebasing: buf[start..<end]), into: &out)
            }
            first = false
            start = end
        }
    }

    public func decodeBytes(_ tokens: [Int32], renderSpecial: Bool) -> [UInt8] {
        vocabulary.detokenize(tokens, renderSpecial: renderSpecial)
    }

    public func pieceBytes(_ token: Int32, renderSpecial: Bool) -> [UInt8] {
        vocabulary.piece(token, renderSpecial: renderSpecial)
    }

    public func tokenText(_ token: Int32) -> String {
        vocabulary.isValid(token) ? vocabulary.texts[Int(token)] : ""
    }

    public func tokenID(for text: String) -> Int32? {
        vocabulary.idForBytes[text.utf8]
    }

    /// The SentencePiece ModelProto built from the GGUF vocabulary (with the dummy prefix as the
    /// vocabulary asks), e.g. to save as a `tokenizer.model` for other tools.
    public func serializedModelProto() -> [UInt8] {
        SentencePieceModelProto(vocabulary: vocabulary).serialized()
    }

    /// SentencePiece's own detokenizer (differs from llama.cpp's for control and byte tokens).
    public func sentencePieceDecode(_ tokens: [Int32]) throws(TokenizerError) -> String {
        switch processor.decode(tokens) {
        case .success(var bytes):
            // The loaded model has no dummy prefix when we write the space ourselves; drop the
            // leading space SentencePiece would then have dropped.
            if writesSpacePrefix, bytes.first == 0x20 { bytes.removeFirst() }
            return String(decoding: bytes, as: UTF8.self)
        case .failure(let e): throw e
        }
    }
}
