/// A cursor over the mapped file that refuses to read past its end.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    private(set) var position = 0

    /// Nested arrays deeper than this are refused (no real file needs more than one level).
    static let maxArrayDepth = 8

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - position }

    private func truncated(_ field: String, need: Int) -> GGUFError {
        .malformed(path: path, field: field, expected: "\(need) more bytes at offset \(position)",
                   found: "the end of the file (\(bytes.count) bytes)")
    }

    mutating func read<T: FixedWidthInteger>(_ field: @autoclosure () -> String) throws(GGUFError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw truncated(field(), need: size) }
        let v = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: v)
    }

    /// Checks that `count` items of at least `minimumSize` bytes each can fit in what is left,
    /// before anything is allocated for them.
    func checkCount(_ count: UInt64, minimumSize: Int, field: String) throws(GGUFError) {
        let limit = UInt64(remaining / minimumSize)
        guard count <= limit else {
            throw .malformed(path: path, field: field, expected: "at most \(limit) (what the file's size allows)",
                             found: "\(count)")
        }
    }

    mutating func readString(_ field: @autoclosure () -> String) throws(GGUFError) -> String {
        let length: UInt64 = try read("\(field()) length")
        guard length <= UInt64(remaining) else {
            throw .malformed(path: path, field: "\(field()) length",
                             expected: "at most \(remaining) (the bytes left in the file)", found: "\(length)")
        }
        let n = Int(length)
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)]), as: UTF8.self)
        position += n
        return s
    }

    mutating func readValue(_ type: GGUFValueType, field: String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(field))
        case .int8: return .int8(try read(field))
        case .uint16: return .uint16(try read(field))
        case .int16: return .int16(try read(field))
        case .uint32: return .uint32(try read(field))
        case .int32: return .int32(try read(field))
        case .uint64: return .uint64(try read(field))
        case .int64: return .int64(try read(field))
        case .float32: return .float32(Float(bitPattern: try read(field)))
        case .float64: return .float64(Double(bitPattern: try read(field)))
        case .bool:
            let b: UInt8 = try read(field)
            guard b <= 1 else {
                throw .malformed(path: path, field: field, expected: "a bool (0 or 1)", found: "\(b)")
            }
            return .bool(b == 1)
        case .string: return .string(try readString(field))
        case .array:
            guard depth < ByteReader.maxArrayDepth else {
                throw .malformed(path: path, field: field, expected: "arrays nested at most \(ByteReader.maxArrayDepth) deep",
                                 found: "deeper nesting")
            }
            let rawType: UInt32 = try read("\(field) array type")
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw .malformed(path: path, field: "\(field) array type", expected: "a value type 0...12", found: "\(rawType)")
            }
            let count: UInt64 = try read("\(field) array length")
            try checkCount(count, minimumSize: elementType.minimumEncodedSize, field: "\(field) array length")
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for i in 0..<Int(count) {
                items.append(try readValue(elementType, field: "\(field)[\(i)]", depth: depth + 1))
            }
            return .array(elementType, items)
        }
    }

    /// What a file that is not GGUF starts with, in words ("an HTML page", the bytes).
    static func describeMagic(_ bytes: UnsafeRawBufferPointer) -> String {
        let head = Array(bytes.prefix(16))
        let text = String(decoding: head, as: UTF8.self).lowercased()
        if text.hasPrefix("<!doctype") || text.hasPrefix("<html") || text.hasPrefix("<?xml") || text.hasPrefix("\n<") {
            return "an HTML/XML document (was a web page saved instead of the model?)"
        }
        if head.starts(with: [0x50, 0x4b, 0x03, 0x04]) { return "a zip archive (unpack the .gguf from it)" }
        if head.starts(with: [0x1f, 0x8b]) { return "a gzip archive" }
        if text.hasPrefix("version https://git-lfs") { return "a Git LFS pointer, not the model data" }
        let hex = head.prefix(4).map { String($0, radix: 16).leftPadded(2) }.joined(separator: " ")
        return "bytes \(hex)"
    }
}

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
