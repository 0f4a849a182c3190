import GGUF

/// Byte-level BPE symbols and merges, keyed by raw bytes (vocabulary strings with the GPT-2 byte
/// map undone), so words are merged without building mapped strings.
///
/// Symbols are vocabulary ids where the string is a token, and ids from `vocabularySize` upward
/// for strings that only occur inside merges.
struct BPEMergeTable: Sendable {
    let vocabularySize: Int
    /// Raw bytes → symbol: token ids for tokens whose text is entirely GPT-2-mapped characters,
    /// then the symbols that occur only inside merges.
    let tokenForBytes: ByteStringTable
    /// Symbol of each single byte.
    let byteSymbol: [Int32]
    /// (left << 32 | right) → (rank << 32 | merged symbol).
    let merges: [UInt64: UInt64]

    init(texts: [String], mergeStrings: [String], path: String) throws(TokenizerError) {
        vocabularySize = texts.count
        var symbols = ByteStringTable(expectedCount: texts.count + mergeStrings.count / 4)
        for (i, t) in texts.enumerated() {
            if let raw = GPT2ByteMap.rawBytes(of: t) { symbols.set(raw, to: Int32(i)) }
        }
        var extras = 0
        func intern(_ raw: [UInt8]) -> Int32 {
            if let s = symbols[raw] { return s }
            let s = Int32(texts.count + extras)
            extras += 1
            symbols.set(raw, to: s)
            return s
        }
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(mergeStrings.count)
        for (rank, merge) in mergeStrings.enumerated() {
            // "left right"; the separator is the first space after the first character
            let u = Array(merge.utf8)
            guard u.count >= 3, let sep = u[1...].firstIndex(of: 0x20) else {
                throw .invalidValue(path: path, key: "tokenizer.ggml.merges", detail: "entry \(rank) '\(merge)' is not 'left right'")
            }
            let leftText = String(decoding: u[..<sep], as: UTF8.self)
            let rightText = String(decoding: u[(sep + 1)...], as: UTF8.self)
            guard let left = GPT2ByteMap.rawBytes(of: leftText), let right = GPT2ByteMap.rawBytes(of: rightText),
                  !left.isEmpty, !right.isEmpty else { continue }  // can never apply to byte-mapped text
            let l = intern(left), r = intern(right)
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if table[key] != nil { continue }  // the first rank of a repeated merge wins
            let merged = intern(left + right)
            table[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
        }
        byteSymbol = (0..<256).map { intern([UInt8($0)]) }
        merges = table
        tokenForBytes = symbols
    }

    /// The token whose raw bytes are `bytes` (symbols that only occur inside merges are not tokens).
    func token<C: Collection>(forBytes bytes: C) -> Int32? where C.Element == UInt8 {
        guard let s = tokenForBytes[bytes], Int(s) < vocabularySize else { return nil }
        return s
    }

    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> (rank: Int32, symbol: Int32)? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        guard let v = merges[key] else { return nil }
        return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v & 0xFFFF_FFFF))
    }
}

/// Scratch space for merging one word, reused across words.
struct BPEWorkspace {
    var symbol: [Int32] = []
    var start: [Int32] = []
    var length: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var heap: [Candidate] = []

    struct Candidate {
        var rank: Int32
        var left: Int32
        var right: Int32
        var leftLength: Int32
        var rightLength: Int32
        var merged: Int32

        @inline(__always)
        func precedes(_ o: Candidate) -> Bool { rank != o.rank ? rank < o.rank : left < o.left }
    }

    mutating func push(_ c: Candidate) {
        heap.append(c)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if heap[i].precedes(heap[parent]) { heap.swapAt(i, parent); i = parent } else { break }
        }
    }

    mutating func pop() -> Candidate? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n && heap[l].precedes(heap[m]) { m = l }
                if r < n && heap[r].precedes(heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

extension BPEMergeTable {
    /// Merges one word (raw bytes) and appends its tokens, as llama.cpp's BPE session does:
    /// repeatedly apply the lowest-ranked merge among adjacent symbols (leftmost on ties); symbols
    /// that end up not being tokens are emitted byte by byte where a single-character token exists.
    func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32], workspace w: inout BPEWorkspace) {
        let n = word.count
        if n == 0 { return }
        if n == 1 {
            emit(byteSymbol[Int(word[0])], start: 0, length: 1, word: word, into: &out)
            return
        }
        w.symbol.removeAll(keepingCapacity: true)
        w.start.removeAll(keepingCapacity: true)
        w.length.removeAll(keepingCapacity: true)
        w.prev.removeAll(keepingCapacity: true)
        w.next.removeAll(keepingCapacity: true)
        w.heap.removeAll(keepingCapacity: true)
        for i in 0..<n {
            w.symbol.append(byteSymbol[Int(word[i])])
            w.start.append(Int32(i))
            w.length.append(1)
            w.prev.append(Int32(i - 1))
            w.next.append(i + 1 < n ? Int32(i + 1) : -1)
        }
        for i in 0..<(n - 1) { addCandidate(Int32(i), Int32(i + 1), &w) }
        while let c = w.pop() {
            let l = Int(c.left), r = Int(c.right)
            // stale if either side changed since the candidate was made
            guard w.length[l] == c.leftLength, w.length[r] == c.rightLength, w.next[l] == c.right else { continue }
            w.symbol[l] = c.merged
            w.length[l] += w.length[r]
            w.length[r] = 0
            let rn = w.next[r]
            w.next[l] = rn
            if rn >= 0 { w.prev[Int(rn)] = c.left }
            w.next[r] = -2  // dead
            if w.prev[l] >= 0 { addCandidate(w.prev[l], c.left, &w) }
            if rn >= 0 { addCandidate(c.left, rn, &w) }
        }
        var i: Int32 = 0
        while i >= 0 {
            let k = Int(i)
            emit(w.symbol[k], start: Int(w.start[k]), length: Int(w.length[k]), word: word, into: &out)
            i = w.next[k]
        }
    }

    @inline(__always)
    private func addCandidate(_ left: Int32, _ right: Int32, _ w: inout BPEWorkspace) {
        guard let m = merge(w.symbol[Int(left)], w.symbol[Int(right)]) else { return }
        w.push(.init(rank: m.rank, left: left, right: right, leftLength: w.length[Int(left)],
                     rightLength: w.length[Int(right)], merged: m.symbol))
    }

    @inline(__always)
    private func emit(_ symbol: Int32, start: Int, length: Int, word: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        if Int(symbol) < vocabularySize {
            out.append(symbol)
            return
        }
        // Not a token: llama.cpp looks up each byte of the mapped string as a one-byte token,
        // which can only succeed for the printable ASCII bytes that map to themselves.
        for k in start..<(start + length) {
            let b = word[k]
            if b >= 0x21 && b <= 0x7E, let t = token(forBytes: CollectionOfOne(b)) { out.append(t) }
        }
    }
}
