import GGUF

/// Builds the tokenizer a GGUF model file describes.
public enum TokenizerLoader {
    /// - Parameters:
    ///   - file: the model (or vocabulary-only) GGUF file.
    ///   - sentencePieceModel: for SentencePiece vocabularies, a `tokenizer.model` file to load
    ///     instead of building the model from the GGUF vocabulary.
    public static func load(from file: GGUFFile, sentencePieceModel: String? = nil) throws -> any Tokenizer {
        guard let model = file["tokenizer.ggml.model"]?.stringValue else {
            throw TokenizerError.missingKey(path: file.path, key: "tokenizer.ggml.model")
        }
        switch model {
        case "gpt2":
            // Ignoring it would tokenize with another vocabulary than the one asked for.
            if let sentencePieceModel { throw TokenizerError.sentencePieceModelNotApplicable(source: sentencePieceModel, vocabulary: model) }
            return try ByteLevelBPETokenizer(file: file)
        case "llama":
            return try SentencePieceTokenizer(file: file, sentencePieceModel: sentencePieceModel)
        default:
            throw TokenizerError.unsupportedModel(path: file.path, model: model)
        }
    }

    /// Runs the checks a load makes of the vocabulary (token list, special ids, every byte
    /// tokenizable) without building the tokenizer: what `llmrun info` reports on.
    public static func validate(file: GGUFFile) throws(TokenizerError) {
        guard let model = file["tokenizer.ggml.model"]?.stringValue else {
            throw .missingKey(path: file.path, key: "tokenizer.ggml.model")
        }
        let kind: VocabularyKind
        switch model {
        case "gpt2": kind = .byteLevelBPE
        case "llama": kind = .sentencePiece
        default: throw .unsupportedModel(path: file.path, model: model)
        }
        _ = try Vocabulary.load(from: file, kind: kind, options: .init(defaultAddBOS: kind == .sentencePiece, cleanSpaces: false))
    }

    /// Opens `path` and loads its tokenizer.
    public static func load(path: String, sentencePieceModel: String? = nil) throws -> any Tokenizer {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw TokenizerError.gguf(error) }
        return try load(from: file, sentencePieceModel: sentencePieceModel)
    }
}
