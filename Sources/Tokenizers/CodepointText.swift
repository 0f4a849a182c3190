/// UTF-8 text decoded into code points, with each code point's flags and byte offset,
/// so pre-tokenizer scanners can work on code points and hand back byte ranges.
struct CodepointText {
    var codepoints: [UInt32] = []
    var flags: [CodepointFlags] = []
    /// `byteOffsets[i]` is where code point `i` starts in the UTF-8 input; one extra entry marks the end.
    var byteOffsets: [Int] = []

    var count: Int { codepoints.count }

    /// Decodes `bytes`, which must be valid UTF-8 (they come from a Swift `String`).
    init<C: RandomAccessCollection>(utf8 bytes: C) where C.Element == UInt8, C.Index == Int {
        codepoints.reserveCapacity(bytes.count)
        flags.reserveCapacity(bytes.count)
        byteOffsets.reserveCapacity(bytes.count + 1)
        var i = bytes.startIndex
        let end = bytes.endIndex
        let base = bytes.startIndex
        while i < end {
            let b0 = UInt32(bytes[i])
            var c: UInt32
            var n: Int
            if b0 < 0x80 {
                c = b0; n = 1
            } else if b0 & 0xE0 == 0xC0 {
                c = b0 & 0x1F; n = 2
            } else if b0 & 0xF0 == 0xE0 {
                c = b0 & 0x0F; n = 3
            } else {
                c = b0 & 0x07; n = 4
            }
            if i + n > end { n = end - i }  // truncated input: take what is there
            var k = 1
            while k < n {
                c = (c << 6) | (UInt32(bytes[i + k]) & 0x3F)
                k += 1
            }
            codepoints.append(c)
            flags.append(codepointFlags(c))
            byteOffsets.append(i - base)
            i += n
        }
        byteOffsets.append(end - base)
    }
}
