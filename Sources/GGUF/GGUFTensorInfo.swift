/// Where one tensor lives in a GGUF file and what it holds.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: `shape[0]` is the contiguous (row) dimension.
    public let shape: [Int]
    public let type: GGMLType
    /// Offset of the data relative to the start of the data section.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
    /// Elements in one row (the contiguous dimension).
    public var rowLength: Int { shape.first ?? 1 }
    /// Number of rows: the product of every dimension but the first.
    public var rowCount: Int { shape.dropFirst().reduce(1, *) }
    public var rowBytes: Int { byteCount / max(rowCount, 1) }

    public init(name: String, shape: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }

    /// "576 x 1536" in ggml order.
    public var shapeDescription: String { shape.map(String.init).joined(separator: " x ") }
}
