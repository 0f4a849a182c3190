import GGUF

/// The format a pruned model's tensors are written in: as the source has them, or one GGML type
/// llmrun quantizes to. Encoded (JSON, plans, reports) as its name: "source", "q8_0", ...
public enum OutputFormat: Hashable, Sendable {
    case source
    case type(GGMLType)

    /// The formats `prune --out-type` / `--embedding-type` can ask for, besides the source's.
    public static let writable: [GGMLType] = [.q8_0, .q4_0, .q4_1, .iq4_nl, .f16]
    /// Every format that can be asked for, by name.
    public static let choices: [OutputFormat] = [.source] + writable.map { .type($0) }

    /// The format a settings value means (`nil`: the source's).
    public init(_ type: GGMLType?) { self = type.map { .type($0) } ?? .source }

    /// "source" or a writable type's name, case-insensitive.
    public init?(name: String) {
        if name.lowercased() == "source" { self = .source; return }
        guard let t = GGMLType(name: name), OutputFormat.writable.contains(t) else { return nil }
        self = .type(t)
    }

    /// The GGML type written (`nil`: the source's, tensor by tensor).
    public var ggmlType: GGMLType? {
        if case .type(let t) = self { return t }
        return nil
    }

    /// "source", "q8_0", "q4_1", ...
    public var name: String { ggmlType.map { "\($0)".lowercased() } ?? "source" }
}

extension OutputFormat: CustomStringConvertible {
    public var description: String { name }
}

extension OutputFormat: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let name = try c.decode(String.self)
        // Any GGML type reads back (a plan may name one this build cannot write yet).
        if name == "source" { self = .source } else if let t = GGMLType(name: name) { self = .type(t) } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown tensor format '\(name)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }
}
