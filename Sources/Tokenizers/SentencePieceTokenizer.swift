import GGUF

/// SentencePiece (`tokenizer.ggml.model == "llama"`), tokenizing through libsentencepiece with a
/// model built from the GGUF vocabulary (or a given `tokenizer.model`), with llama.cpp's handling
/// around it: special tokens are cut out first, and every text fragment gets the dummy-prefix
/// space when `add_space_prefix` is set (fragments only ever follow a special token or the start).
public final class SentencePieceTokenizer: Tokenizer, VocabularyBacked {
    let vocabulary: Vocabulary
    let processor: SentencePieceProcessor

    init(file: GGUFFile, sentencePieceModel: String?) throws(TokenizerError) {
        vocabulary = try Vocabulary.load(from: file, kind: .sentencePiece,
                                         options: .init(defaultAddBOS: true, cleanSpaces: false))
        if let modelPath = sentencePieceModel {
            processor = try SentencePieceProcessor(path: modelPath)
            guard processor.vocabularySize <= vocabulary.count else {
                throw .sentencePiece(source: modelPath, message:
                    "it has \(processor.vocabularySize) pieces but the GGUF vocabulary has \(vocabulary.count); use the tokenizer.model that belongs to this model")
            }
        } else {
            let proto = SentencePieceModelProto(vocabulary: vocabulary).serialized()
            processor = try SentencePieceProcessor(serializedProto: proto, source: file.path)
        }
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
        bytes.withUnsafeBufferPointer { buf in
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                case .text(let range):
                    // Encoding valid UTF-8 with a loaded model does not fail; if it ever did, the
                    // fragment would be dropped rather than crash generation.
                    processor.encode(UnsafeBufferPointer(rebasing: buf[range]), into: &out)
                }
            }
        }
        return out
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
        vocabulary.idForBytes[Array(text.utf8)]
    }

    /// SentencePiece's own detokenizer (differs from llama.cpp's for control and byte tokens).
    public func sentencePieceDecode(_ tokens: [Int32]) throws(TokenizerError) -> String {
        switch processor.decode(tokens) {
        case .success(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .failure(let e): throw e
        }
    }
}
