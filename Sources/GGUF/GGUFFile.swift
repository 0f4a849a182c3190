/// A GGUF file (versions 2 and 3), memory-mapped and validated.
///
/// Every count, length and offset in the header is checked against the file's size before it
/// is used, so a truncated or hostile file produces a `GGUFError` naming the field, never a
/// crash or an allocation larger than the file.
public final class GGUFFile: @unchecked Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian
    public static let defaultAlignment = 32
    /// ggml supports at most four dimensions.
    public static let maxDimensions = 4

    public let path: String
    public let version: UInt32
    /// Metadata in file order (the order matters to write the file back unchanged).
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int
    public var fileSize: Int { mapping.size }

    let mapping: MappedFile
    private let metadataIndex: [String: Int]
    private let tensorIndex: [String: Int]

    public init(path: String) throws(GGUFError) {
        let mapping = try MappedFile(path: path)
        self.mapping = mapping
        self.path = path
        var reader = ByteReader(bytes: mapping.bytes, path: path)

        // Header
        guard mapping.size >= 4 else {
            throw .malformed(path: path, field: "header.magic", expected: "the 4 bytes \"GGUF\"",
                             found: "a file of \(mapping.size) bytes")
        }
        let magic: UInt32 = try reader.read("header.magic")
        guard magic == GGUFFile.magic else {
            throw .malformed(path: path, field: "header.magic", expected: "\"GGUF\"",
                             found: ByteReader.describeMagic(mapping.bytes))
        }
        let version: UInt32 = try reader.read("header.version")
        guard version == 2 || version == 3 else {
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                throw .unsupported(path: path, field: "header.version",
                                   detail: "big-endian GGUF files are not supported")
            }
            throw .unsupported(path: path, field: "header.version",
                               detail: "version \(version) is not supported (expected 2 or 3)")
        }
        self.version = version
        let tensorCount: UInt64 = try reader.read("header.tensor_count")
        let kvCount: UInt64 = try reader.read("header.metadata_kv_count")
        // The smallest metadata entry is 8 (key length) + 4 (type) + 1 (a uint8); the smallest
        // tensor descriptor is 8 (name length) + 4 (dims) + 4 (type) + 8 (offset).
        try reader.checkCount(kvCount, minimumSize: 13, field: "header.metadata_kv_count")
        try reader.checkCount(tensorCount, minimumSize: 24, field: "header.tensor_count")

        // Metadata
        var metadata: [(key: String, value: GGUFValue)] = []
        var metadataIndex: [String: Int] = [:]
        metadata.reserveCapacity(Int(kvCount))
        for i in 0..<Int(kvCount) {
            let key = try reader.readString("metadata[\(i)].key")
            let rawType: UInt32 = try reader.read("metadata '\(key)' type")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw .malformed(path: path, field: "metadata '\(key)' type", expected: "a value type 0...12",
                                 found: "\(rawType)")
            }
            let value = try reader.readValue(type, field: "metadata '\(key)'", depth: 0)
            guard metadataIndex[key] == nil else {
                throw .malformed(path: path, field: "metadata '\(key)'", expected: "unique keys",
                                 found: "the key twice")
            }
            metadataIndex[key] = metadata.count
            metadata.append((key, value))
        }
        self.metadata = metadata
        self.metadataIndex = metadataIndex

        var alignment = GGUFFile.defaultAlignment
        if let i = metadataIndex["general.alignment"] {
            let v = metadata[i].value
            guard case .uint32(let a) = v, a > 0, a & (a - 1) == 0 else {
                throw .malformed(path: path, field: "metadata 'general.alignment'",
                                 expected: "a uint32 power of two", found: v.summary())
            }
            alignment = Int(a)
        }
        self.alignment = alignment

        // Tensor descriptors
        var infos: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        var raw: [(name: String, shape: [Int], type: GGMLType, offset: UInt64)] = []
        raw.reserveCapacity(Int(tensorCount))
        for i in 0..<Int(tensorCount) {
            let name = try reader.readString("tensor[\(i)].name")
            let field = "tensor '\(name)'"
            let nDims: UInt32 = try reader.read("\(field) n_dims")
            guard nDims >= 1, nDims <= UInt32(GGUFFile.maxDimensions) else {
                throw .malformed(path: path, field: "\(field) n_dims", expected: "1 to \(GGUFFile.maxDimensions)",
                                 found: "\(nDims)")
            }
            var shape: [Int] = []
            var elements = 1
            for d in 0..<Int(nDims) {
                let dim: UInt64 = try reader.read("\(field) dimension \(d)")
                guard dim <= UInt64(Int32.max) else {
                    throw .malformed(path: path, field: "\(field) dimension \(d)", expected: "at most \(Int32.max)",
                                     found: "\(dim)")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dim))
                guard !overflow, product <= mapping.size * 8 else {
                    throw .malformed(path: path, field: "\(field) shape", expected: "a size that fits in the file",
                                     found: "\(shape.map(String.init).joined(separator: " x ")) x \(dim)...")
                }
                elements = product
                shape.append(Int(dim))
            }
            let rawType: UInt32 = try reader.read("\(field) type")
            guard let type = GGMLType(rawValue: rawType) else {
                throw .malformed(path: path, field: "\(field) type", expected: "a known ggml type id",
                                 found: "\(rawType)")
            }
            guard shape[0] % type.blockSize == 0 else {
                throw .malformed(path: path, field: "\(field) shape",
                                 expected: "a row length that is a multiple of \(type)'s block of \(type.blockSize)",
                                 found: "\(shape[0])")
            }
            let offset: UInt64 = try reader.read("\(field) offset")
            guard tensorIndex[name] == nil else {
                throw .malformed(path: path, field: field, expected: "unique tensor names", found: "the name twice")
            }
            tensorIndex[name] = raw.count
            raw.append((name, shape, type, offset))
        }

        // Data section: starts at the next multiple of the alignment.
        let headerEnd = reader.position
        let dataOffset = (headerEnd + alignment - 1) / alignment * alignment
        // A file without tensors (a vocabulary-only GGUF) may end right after its metadata.
        guard dataOffset <= mapping.size || raw.isEmpty else {
            throw .malformed(path: path, field: "tensor data", expected: "data after the header at byte \(dataOffset)",
                             found: "the file ends at byte \(mapping.size)")
        }
        self.dataOffset = min(dataOffset, mapping.size)
        let dataSize = mapping.size - self.dataOffset
        for t in raw {
            let field = "tensor '\(t.name)'"
            guard let bytes = t.type.byteCount(forElements: t.shape.reduce(1, *)) else {
                throw .malformed(path: path, field: "\(field) shape", expected: "a whole number of blocks",
                                 found: t.shape.map(String.init).joined(separator: " x "))
            }
            guard t.offset % UInt64(alignment) == 0 else {
                throw .malformed(path: path, field: "\(field) offset", expected: "a multiple of the alignment \(alignment)",
                                 found: "\(t.offset)")
            }
            guard t.offset <= UInt64(dataSize), UInt64(bytes) <= UInt64(dataSize) - t.offset else {
                // The offset is the file's word: it may be anything up to 2^64 − 1.
                let end = t.offset.addingReportingOverflow(UInt64(bytes))
                let short = end.overflow ? "more than 2^64 bytes" : "\(end.partialValue - UInt64(dataSize)) bytes"
                throw .malformed(path: path, field: "\(field) data",
                                 expected: "\(bytes) bytes at offset \(t.offset) within \(dataSize) bytes of tensor data",
                                 found: "a truncated file or a corrupt offset (the tensor would end \(short) past the data)")
            }
            infos.append(GGUFTensorInfo(name: t.name, shape: t.shape, type: t.type, offset: Int(t.offset), byteCount: bytes))
        }
        self.tensors = infos
        self.tensorIndex = tensorIndex
    }

    // MARK: Metadata access

    public subscript(key: String) -> GGUFValue? {
        metadataIndex[key].map { metadata[$0].value }
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The raw bytes of a tensor, inside the mapping (no copy).
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[(dataOffset + tensor.offset)..<(dataOffset + tensor.offset + tensor.byteCount)])
    }

    /// Drops the pages of a tensor's data (all of it, or the bytes in `range`) from memory. They
    /// are file-backed and read-only: a page touched again, or shared with a neighbour, is simply
    /// read back.
    public func releasePages(of tensor: GGUFTensorInfo, range: Range<Int>? = nil) {
        let r = range ?? 0..<tensor.byteCount
        mapping.release(offset: dataOffset + tensor.offset + r.lowerBound, count: r.count)
    }

    /// The same for `count` bytes at `pointer`, if they lie inside the mapping (else nothing).
    public func releasePages(at pointer: UnsafeRawPointer, count: Int) {
        guard let base = mapping.bytes.baseAddress, pointer >= base, pointer + count <= base + mapping.bytes.count else { return }
        mapping.release(offset: pointer - base, count: count)
    }

    /// Typed accessor that reports a missing or mistyped key in terms a user understands.
    public func requiredInt(_ key: String) throws(GGUFError) -> Int {
        guard let v = self[key] else {
            throw .malformed(path: path, field: "metadata '\(key)'", expected: "an integer", found: "no such key")
        }
        guard let i = v.intValue else {
            throw .malformed(path: path, field: "metadata '\(key)'", expected: "an integer", found: v.summary())
        }
        return i
    }
}
