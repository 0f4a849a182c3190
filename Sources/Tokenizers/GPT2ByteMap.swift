/// GPT-2's reversible map between bytes and printable code points: byte-level BPE vocabularies
/// store token text with every byte replaced by one of these characters (space → `Ġ`, newline → `Ċ`).
enum GPT2ByteMap {
    /// `codepoint[b]` is the character that stands for byte `b`.
    static let codepoint: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 + n
                n += 1
            }
        }
        return table
    }()

    /// Inverse of `codepoint`, indexed by code point (< 324); -1 where no byte maps there.
    static let byteForCodepoint: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (b, c) in codepoint.enumerated() { table[Int(c)] = Int16(b) }
        return table
    }()

    /// The raw bytes a vocabulary string stands for, or nil if it has a character outside the map.
    static func rawBytes(of text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let c = Int(scalar.value)
            guard c < byteForCodepoint.count, byteForCodepoint[c] >= 0 else { return nil }
            out.append(UInt8(byteForCodepoint[c]))
        }
        return out
    }

    /// llama.cpp's `llama_decode_text`: each mapped character becomes its byte. Characters outside
    /// the map are kept as their own UTF-8 (llama.cpp writes an `[UNK_BYTE_…]` marker instead).
    static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let c = Int(scalar.value)
            if c < byteForCodepoint.count, byteForCodepoint[c] >= 0 {
                out.append(UInt8(byteForCodepoint[c]))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }
}
