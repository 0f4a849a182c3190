/// A memory size given by a user: "2GB", "1.5GiB", "512MB", "100MiB", "123456" (bytes).
/// GB/MB are powers of 1000, GiB/MiB powers of 1024, as on the packaging of an SD card.
public struct ByteSize: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    public init?(parsing text: String) {
        let s = text.trimmingCharacters(in: " ").lowercased()
        let units: [(String, Double)] = [("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776),
                                         ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12),
                                         ("k", 1e3), ("m", 1e6), ("g", 1e9), ("b", 1)]
        var number = Substring(s)
        var factor = 1.0
        for (suffix, f) in units where s.hasSuffix(suffix) {
            number = s.dropLast(suffix.count)
            factor = f
            break
        }
        guard let v = Double(number.trimmingCharacters(in: " ")), v > 0, v.isFinite else { return nil }
        let b = v * factor
        guard b < 1e18 else { return nil }
        bytes = Int(b)
    }

    public static func < (a: ByteSize, b: ByteSize) -> Bool { a.bytes < b.bytes }

    public var description: String {
        if bytes >= 1_000_000_000 { return String(format: "%.2f GB", Double(bytes) / 1e9) }
        if bytes >= 1_000_000 { return String(format: "%.1f MB", Double(bytes) / 1e6) }
        return "\(bytes) B"
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

import Foundation
