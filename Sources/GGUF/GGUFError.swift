/// Everything that can go wrong reading or writing a GGUF file, with messages a user can act on.
public enum GGUFError: Error, CustomStringConvertible, Sendable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be opened, mapped or read.
    case io(path: String, reason: String)
    /// The path names a FIFO, device, directory or socket: reading one could block forever or
    /// never end, so it is refused before it is opened.
    case notARegularFile(path: String, kind: String)
    /// The file's contents contradict the format: `field` names what was being read.
    case malformed(path: String, field: String, expected: String, found: String)
    /// The file uses a feature this build does not support.
    case unsupported(path: String, field: String, detail: String)
    /// The output could not be created or written.
    case cannotCreate(path: String, reason: String)
    /// The writer was used out of order (a programming error in the caller, reported, not trapped).
    case writerMisuse(String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        case .notARegularFile(let path, let kind):
            return "\(path): is \(kind), not a regular file"
        case .malformed(let path, let field, let expected, let found):
            return "\(path): not a valid GGUF file: \(field): expected \(expected), found \(found)"
        case .unsupported(let path, let field, let detail):
            return "\(path): \(field): \(detail)"
        case .cannotCreate(let path, let reason):
            return "\(path): cannot write: \(reason)"
        case .writerMisuse(let detail):
            return "GGUF writer: \(detail)"
        }
    }
}
