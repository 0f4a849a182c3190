/// Watches streamed text for stop strings (`generate --stop`). A token may end in the first
/// half of a stop string, so any tail of the text that could still grow into one is held back
/// until the next piece settles it: a stop string is never printed, even one split across
/// tokens, and the text before it always is.
///
/// Matching is on UTF-8 bytes. The pieces come from `StreamingDetokenizer`, whole characters
/// only, and a held-back tail begins where a stop string does (a UTF-8 lead byte), so what is
/// released is always whole characters.
public struct StopStringScanner: Sendable {
    public let stops: [[UInt8]]
    /// Text received but not yet released: a possible start of a stop string.
    private var pending: [UInt8] = []
    /// The stop string found, once one is.
    public private(set) var matched: String?

    /// Empty strings are ignored (they would match before anything is said).
    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }.map { Array($0.utf8) }
    }

    public var isEmpty: Bool { stops.isEmpty }

    /// Adds a piece of text; returns the text that can be printed now. Once a stop string is
    /// found (`matched` is set) this returns the text before it and nothing ever after.
    public mutating func append(_ piece: String) -> String {
        guard matched == nil else { return "" }
        if stops.isEmpty { return piece }
        pending += piece.utf8
        // The earliest stop string in the pending text wins.
        var earliest: (at: Int, stop: [UInt8])?
        for stop in stops {
            if let at = firstIndex(of: stop, in: pending), at < (earliest?.at ?? .max) { earliest = (at, stop) }
        }
        if let (at, stop) = earliest {
            matched = String(decoding: stop, as: UTF8.self)
            let before = String(decoding: pending[..<at], as: UTF8.self)
            pending = []
            return before
        }
        let keep = longestTailThatStartsAStop()
        let release = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return release
    }

    /// At the end of generation: the held-back text (it never became a stop string).
    public mutating func flush() -> String {
        defer { pending = [] }
        return matched == nil ? String(decoding: pending, as: UTF8.self) : ""
    }

    /// The length of the longest tail of `pending` that is a proper prefix of some stop string.
    private func longestTailThatStartsAStop() -> Int {
        var best = 0
        for stop in stops {
            var n = min(stop.count - 1, pending.count)
            while n > best {
                if pending[(pending.count - n)...].elementsEqual(stop[..<n]) { best = n; break }
                n -= 1
            }
        }
        return best
    }

    private func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count)
            where haystack[start] == needle[0] && haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
