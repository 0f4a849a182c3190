/// Takes typed values off the front of a fuzzer's input (the rest stays for the text or bytes
/// the harness is about), so one input can choose a vocabulary, a flag and a string.
public struct FuzzInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var position = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size)
    }

    public var isEmpty: Bool { position >= bytes.count }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func bool() -> Bool { byte() & 1 == 1 }

    /// Bytes up to the next `separator` (not included), or to the end.
    public mutating func bytes(upTo separator: UInt8) -> ArraySlice<UInt8> {
        let start = position
        while position < bytes.count, bytes[position] != separator { position += 1 }
        let out = Array(bytes[start..<position])[...]
        if position < bytes.count { position += 1 }
        return out
    }

    /// Everything left.
    public mutating func rest() -> ArraySlice<UInt8> {
        let out = Array(bytes[min(position, bytes.count)...])[...]
        position = bytes.count
        return out
    }
}
