import GGUF

/// Errors loading or running a model, each naming what a user can check or change.
public enum ModelError: Error, CustomStringConvertible, Sendable {
    /// The file is readable but its metadata or tensors don't describe a model we can run.
    case badModel(path: String, detail: String)
    /// The model uses an architecture or tensor type this build cannot run.
    case unsupported(path: String, detail: String)
    /// The request does not fit the model (prompt longer than the context, and so on).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .badModel(let path, let detail): return "\(path): \(detail)"
        case .unsupported(let path, let detail): return "\(path): \(detail)"
        case .invalidRequest(let detail): return detail
        }
    }
}
