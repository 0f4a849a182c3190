import GGUF

/// Why a tokenizer could not be built.
public enum TokenizerError: Error, CustomStringConvertible, Sendable {
    /// A required `tokenizer.*` key is absent from the model file.
    case missingKey(path: String, key: String)
    /// A key has the wrong type or an impossible value.
    case invalidValue(path: String, key: String, detail: String)
    /// `tokenizer.ggml.model` names a tokenizer this build does not implement.
    case unsupportedModel(path: String, model: String)
    /// libsentencepiece rejected the model.
    case sentencePiece(source: String, message: String)
    /// Reading the model file failed.
    case gguf(GGUFError)
    /// A SentencePiece `tokenizer.model` was given for a vocabulary it cannot replace.
    case sentencePieceModelNotApplicable(source: String, vocabulary: String)

    public var description: String {
        switch self {
        case .missingKey(let path, let key):
            return "\(path): no tokenizer: metadata key '\(key)' is missing (is this a vocabulary-carrying GGUF? files converted without a tokenizer cannot be used for text)"
        case .invalidValue(let path, let key, let detail):
            return "\(path): metadata key '\(key)': \(detail)"
        case .unsupportedModel(let path, let model):
            return "\(path): tokenizer.ggml.model '\(model)' is not supported; supported are 'gpt2' (byte-level BPE) and 'llama' (SentencePiece)"
        case .sentencePiece(let source, let message):
            return "\(source): SentencePiece could not load the model: \(message)"
        case .gguf(let error):
            return error.description
        case .sentencePieceModelNotApplicable(let source, let vocabulary):
            return "\(source): a SentencePiece model replaces only a SentencePiece ('llama') vocabulary, and this model's is '\(vocabulary)' (byte-level BPE); leave it out"
        }
    }
}
