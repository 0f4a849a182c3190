/// One sequence's part of a batched forward step: a chunk of its tokens at positions
/// `start..<start+tokens.count` (one token when it is decoding, a prompt chunk when it is
/// prefilling), the KV cache they extend, and which of its rows need logits.
public struct BatchSegment {
    public var tokens: [Int32]
    public var start: Int
    public var cache: KVCache
    public var logits: LogitSelection

    public init(tokens: [Int32], start: Int, cache: KVCache, logits: LogitSelection = .last) {
        self.tokens = tokens
        self.start = start
        self.cache = cache
        self.logits = logits
    }
}

/// Where one sequence sits in a batch: rows `rows` of the run state hold its tokens at
/// positions `start...`, whose keys and values go to `cache`.
public struct SequenceRows {
    public var rows: Range<Int>
    public var start: Int
    public var cache: KVCache

    public init(rows: Range<Int>, start: Int, cache: KVCache) {
        self.rows = rows
        self.start = start
        self.cache = cache
    }
}

/// The rows of one forward step, sequence after sequence: the matrix products run over all of
/// them at once, RoPE and attention per row at its own sequence's position and cache.
public struct BatchRows {
    public let sequences: [SequenceRows]
    /// Rows in all (the sequences' rows are `0..<count`, in order).
    public let count: Int
    /// For each row, the index of its sequence (attention jobs are handed out by row).
    private let sequenceOfRow: [Int]

    public init(_ sequences: [SequenceRows]) {
        var next = 0
        var owner: [Int] = []
        for (i, s) in sequences.enumerated() {
            precondition(s.rows.lowerBound == next, "BatchRows: sequence \(i) starts at row \(s.rows.lowerBound), expected \(next)")
            owner += repeatElement(i, count: s.rows.count)
            next = s.rows.upperBound
        }
        self.sequences = sequences
        self.count = next
        self.sequenceOfRow = owner
    }

    /// One sequence of `count` rows at positions `start...`.
    public init(count: Int, start: Int, cache: KVCache) {
        self.init([SequenceRows(rows: 0..<count, start: start, cache: cache)])
    }

    /// The sequence a row belongs to, and the row's position in it.
    @inline(__always)
    public func locate(row: Int) -> (sequence: SequenceRows, position: Int) {
        let s = sequences[sequenceOfRow[row]]
        return (s, s.start + row - s.rows.lowerBound)
    }
}
