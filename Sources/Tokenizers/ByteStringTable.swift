/// Byte strings stored back to back in one buffer, each mapped to a value through an
/// open-addressing index on their contents.
///
/// It replaces `[[UInt8]: Int32]` dictionaries and `[[UInt8]]` lists over whole vocabularies:
/// there every key is an array object of its own (≈64 bytes of heap for a 5-byte token), so a
/// 49,152-token vocabulary held three such structures in ~15 MB; here it is the bytes plus
/// 12 bytes an entry.
struct ByteStringTable: Sendable {
    private var storage: [UInt8] = []
    /// Entry e is storage[offsets[e] ..< offsets[e + 1]].
    private var offsets: [Int32] = [0]
    private var values: [Int32] = []
    /// Entry index + 1 per slot, 0 for empty; a power of two, at most half full.
    private var slots: [Int32]

    init(expectedCount: Int = 0) {
        var size = 16
        while size < 2 * expectedCount { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        storage.reserveCapacity(expectedCount * 6)
        offsets.reserveCapacity(expectedCount + 1)
        values.reserveCapacity(expectedCount)
    }

    /// Entries in insertion order (a key set twice is one entry).
    var count: Int { values.count }

    /// The bytes of entry `e`.
    func bytes(ofEntry e: Int) -> ArraySlice<UInt8> { storage[Int(offsets[e])..<Int(offsets[e + 1])] }

    /// The value stored for `key`, if any.
    subscript<C: Collection>(key: C) -> Int32? where C.Element == UInt8 {
        guard let e = entry(for: key) else { return nil }
        return values[e]
    }

    /// Sets the value of `key`, adding it when new (a repeated key keeps its first entry and
    /// takes the new value, as assigning to a dictionary does).
    mutating func set<C: Collection>(_ key: C, to value: Int32) where C.Element == UInt8 {
        if let e = entry(for: key) {
            values[e] = value
            return
        }
        if 2 * (count + 1) > slots.count { grow() }
        storage.append(contentsOf: key)
        offsets.append(Int32(storage.count))
        values.append(value)
        place(count - 1, hash: Self.hash(key))
    }

    /// Appends `key` as a new entry without indexing it (lists looked up by position only).
    mutating func append<C: Collection>(_ key: C) where C.Element == UInt8 {
        storage.append(contentsOf: key)
        offsets.append(Int32(storage.count))
        values.append(-1)
    }

    private func entry<C: Collection>(for key: C) -> Int? where C.Element == UInt8 {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: Self.hash(key)) & mask
        while true {
            let s = Int(slots[i])
            if s == 0 { return nil }
            if bytes(ofEntry: s - 1).elementsEqual(key) { return s - 1 }
            i = (i + 1) & mask
        }
    }

    private mutating func place(_ e: Int, hash: UInt64) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = Int32(e + 1)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        for e in 0..<count { place(e, hash: Self.hash(bytes(ofEntry: e))) }
    }

    /// FNV-1a, then a multiply to spread the low bits the mask keeps.
    private static func hash<C: Collection>(_ key: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let m = (h ^ (h >> 29)) &* 0xbf58_476d_1ce4_e5b9
        return m ^ (m >> 32)
    }
}
