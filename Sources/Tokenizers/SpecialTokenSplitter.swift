/// A piece of input after special tokens have been cut out.
enum Fragment: Equatable {
    /// Raw text: a byte range of the input.
    case text(Range<Int>)
    /// A special token found in the text.
    case token(Int32)
}

extension Vocabulary {
    /// Cuts special tokens out of `bytes` the way llama.cpp's `tokenizer_st_partition` does: each
    /// special token in turn, longest first, splits every remaining text fragment at its
    /// non-overlapping occurrences (left to right). Control and unknown tokens take part only with
    /// `parseSpecial`; user-defined tokens always do. LSTRIP/RSTRIP tokens swallow the whitespace
    /// next to them.
    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !bytes.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<bytes.count)]
        let candidates = specialTokensOccurring(in: bytes, parseSpecial: parseSpecial)
        guard !candidates.isEmpty else { return fragments }
        bytes.withUnsafeBufferPointer { buf in
            for special in candidates {
                var next: [Fragment] = []
                next.reserveCapacity(fragments.count + 8)
                var changed = false
                for fragment in fragments {
                    guard case .text(let range) = fragment else { next.append(fragment); continue }
                    var cursor = range.lowerBound
                    let end = range.upperBound
                    while let m = Self.find(special.bytes, in: buf, from: cursor, before: end) {
                        changed = true
                        var leftEnd = m
                        if special.lstrip {
                            while leftEnd > cursor, Self.isCSpace(buf[leftEnd - 1]) { leftEnd -= 1 }
                        }
                        if leftEnd > cursor { next.append(.text(cursor..<leftEnd)) }
                        next.append(.token(special.id))
                        var right = m + special.bytes.count
                        if special.rstrip {
                            while right < end, Self.isCSpace(buf[right]) { right += 1 }
                        }
                        cursor = right
                    }
                    if cursor < end { next.append(.text(cursor..<end)) }
                }
                if changed { fragments = next }
            }
        }
        return fragments
    }

    /// The special tokens (in matching order) that occur anywhere in `bytes`.
    private func specialTokensOccurring(in bytes: [UInt8], parseSpecial: Bool) -> [SpecialToken] {
        guard !specialTokens.isEmpty else { return [] }
        var found = [Bool](repeating: false, count: specialTokens.count)
        var any = false
        bytes.withUnsafeBufferPointer { buf in
            let n = buf.count
            for p in 0..<n {
                let list = specialTokensByFirstByte[Int(buf[p])]
                if list.isEmpty { continue }
                for index in list where !found[index] {
                    let special = specialTokens[index]
                    guard parseSpecial || special.alwaysMatched else { continue }
                    let t = special.bytes
                    if p + t.count <= n {
                        var k = 1
                        while k < t.count && buf[p + k] == t[k] { k += 1 }
                        if k == t.count { found[index] = true; any = true }
                    }
                }
            }
        }
        guard any else { return [] }
        return specialTokens.indices.filter { found[$0] }.map { specialTokens[$0] }
    }

    /// First occurrence of `needle` that lies entirely in `[from, before)`.
    private static func find(_ needle: [UInt8], in hay: UnsafeBufferPointer<UInt8>, from: Int, before: Int) -> Int? {
        let m = needle.count
        guard m > 0, before - from >= m else { return nil }
        let first = needle[0]
        var p = from
        let last = before - m
        while p <= last {
            if hay[p] == first {
                var k = 1
                while k < m && hay[p + k] == needle[k] { k += 1 }
                if k == m { return p }
            }
            p += 1
        }
        return nil
    }

    /// C `isspace` in the "C" locale.
    @inline(__always)
    static func isCSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
}
