/// What one key press (or one pasted block) means to the editor.
public enum Key: Equatable, Sendable {
    case text(String)          // typed characters
    case paste(String)         // a bracketed paste, newlines included
    case enter                 // Return (CR)
    case newline               // Alt-Enter: a line break inside the message
    case backspace, delete
    case left, right, up, down, home, end, wordLeft, wordRight
    case killToEnd, killToStart, deleteWordBackward, transpose
    case clearScreen, reverseSearch, cancel
    case interrupt             // Ctrl-C
    case endOfInput            // Ctrl-D
    case escape
}

/// Turns the bytes a terminal sends into keys. It is fed whatever `read` returned and keeps an
/// incomplete escape sequence or UTF-8 character for the next call, so a sequence split across
/// reads still decodes.
public struct KeyDecoder: Sendable {
    private var pending: [UInt8] = []
    private var pasting = false
    private var pasted: [UInt8] = []

    public init() {}

    /// True while bytes that might still complete a sequence are held back.
    public var hasPending: Bool { !pending.isEmpty }

    public mutating func feed(_ bytes: [UInt8]) -> [Key] {
        pending += bytes
        var keys: [Key] = []
        var text: [UInt8] = []
        func flushText() {
            if !text.isEmpty { keys.append(.text(String(decoding: text, as: UTF8.self))); text.removeAll() }
        }
        var i = 0
        while i < pending.count {
            if pasting {
                // Everything up to ESC [ 2 0 1 ~ is text.
                if let end = Self.find(Self.pasteEnd, in: pending, from: i) {
                    pasted += pending[i..<end]
                    i = end + Self.pasteEnd.count
                    pasting = false
                    let content = String(decoding: pasted, as: UTF8.self)
                        .replacingOccurrences(of: "\r\n", with: "\n")
                        .replacingOccurrences(of: "\r", with: "\n")
                    keys.append(.paste(content))
                    pasted.removeAll()
                    continue
                }
                // Keep a tail that may be the start of the end marker.
                let keep = Self.partialSuffix(of: pending[i...], matching: Self.pasteEnd)
                pasted += pending[i..<(pending.count - keep)]
                i = pending.count - keep
                break
            }
            let b = pending[i]
            if b == 0x1B {
                flushText()
                guard let (key, length) = Self.escapeSequence(pending, at: i) else { break }  // incomplete
                i += length
                if key == .paste("") { pasting = true; continue }
                if let key { keys.append(key) }
                continue
            }
            if b < 0x20 || b == 0x7F {
                flushText()
                if let key = Self.control(b) { keys.append(key) }
                i += 1
                continue
            }
            // UTF-8: take a whole character or wait for the rest of it.
            let need = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            if i + need > pending.count { break }
            text += pending[i..<(i + need)]
            i += need
        }
        flushText()
        pending.removeFirst(i)
        return keys
    }

    /// A lone ESC that no more bytes followed: the Escape key itself.
    public mutating func flushPending() -> [Key] {
        guard !pending.isEmpty, !pasting else { return [] }
        let rest = pending
        pending.removeAll()
        if rest == [0x1B] { return [.escape] }
        return [.text(String(decoding: rest.filter { $0 != 0x1B }, as: UTF8.self))]
    }

    static let pasteStart: [UInt8] = Array("\u{1B}[200~".utf8)
    static let pasteEnd: [UInt8] = Array("\u{1B}[201~".utf8)

    static func control(_ b: UInt8) -> Key? {
        switch b {
        case 0x01: return .home          // Ctrl-A
        case 0x02: return .left          // Ctrl-B
        case 0x03: return .interrupt     // Ctrl-C
        case 0x04: return .endOfInput    // Ctrl-D (delete when the line is not empty)
        case 0x05: return .end           // Ctrl-E
        case 0x06: return .right         // Ctrl-F
        case 0x07: return .cancel        // Ctrl-G
        case 0x08, 0x7F: return .backspace
        case 0x09: return .text("\t")
        case 0x0A: return .enter         // LF: what type-ahead made in cooked mode sends for Enter
        case 0x0B: return .killToEnd     // Ctrl-K
        case 0x0C: return .clearScreen   // Ctrl-L
        case 0x0D: return .enter
        case 0x0E: return .down          // Ctrl-N
        case 0x10: return .up            // Ctrl-P
        case 0x12: return .reverseSearch // Ctrl-R
        case 0x14: return .transpose     // Ctrl-T
        case 0x15: return .killToStart   // Ctrl-U
        case 0x17: return .deleteWordBackward // Ctrl-W
        default: return nil
        }
    }

    /// Decodes the escape sequence at `i`: nil when it is incomplete (wait for more bytes); a nil
    /// key for a complete sequence the editor ignores. A bracketed-paste start is `.paste("")`.
    static func escapeSequence(_ b: [UInt8], at i: Int) -> (Key?, Int)? {
        guard i + 1 < b.count else { return nil }
        let second = b[i + 1]
        if second == UInt8(ascii: "[") {
            // CSI: parameters (digits, ';') then one final byte in 0x40...0x7E.
            var j = i + 2
            while j < b.count && (b[j] >= 0x30 && b[j] <= 0x3F) { j += 1 }
            guard j < b.count else { return nil }
            let params = String(decoding: b[(i + 2)..<j], as: UTF8.self)
            let final = b[j]
            let length = j - i + 1
            switch final {
            case UInt8(ascii: "A"): return (.up, length)
            case UInt8(ascii: "B"): return (.down, length)
            case UInt8(ascii: "C"): return (params.hasSuffix(";5") || params.hasSuffix(";3") ? .wordRight : .right, length)
            case UInt8(ascii: "D"): return (params.hasSuffix(";5") || params.hasSuffix(";3") ? .wordLeft : .left, length)
            case UInt8(ascii: "H"): return (.home, length)
            case UInt8(ascii: "F"): return (.end, length)
            case UInt8(ascii: "~"):
                switch params {
                case "1", "7": return (.home, length)
                case "4", "8": return (.end, length)
                case "3": return (.delete, length)
                case "200": return (.paste(""), length)
                default: return (nil, length)
                }
            default: return (nil, length)
            }
        }
        if second == UInt8(ascii: "O") {
            guard i + 2 < b.count else { return nil }
            switch b[i + 2] {
            case UInt8(ascii: "A"): return (.up, 3)
            case UInt8(ascii: "B"): return (.down, 3)
            case UInt8(ascii: "C"): return (.right, 3)
            case UInt8(ascii: "D"): return (.left, 3)
            case UInt8(ascii: "H"): return (.home, 3)
            case UInt8(ascii: "F"): return (.end, 3)
            default: return (nil, 3)
            }
        }
        switch second {   // Alt-key
        case UInt8(ascii: "b"): return (.wordLeft, 2)
        case UInt8(ascii: "f"): return (.wordRight, 2)
        case 0x0D: return (.newline, 2)   // Alt-Enter
        case 0x7F: return (.deleteWordBackward, 2)
        case 0x1B: return (.escape, 1)
        default: return (nil, 2)
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count - start >= needle.count else { return nil }
        var i = start
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// The length of the longest suffix of `bytes` that is a proper prefix of `marker`.
    static func partialSuffix(of bytes: ArraySlice<UInt8>, matching marker: [UInt8]) -> Int {
        var n = min(marker.count - 1, bytes.count)
        while n > 0 {
            if Array(bytes.suffix(n)) == Array(marker.prefix(n)) { return n }
            n -= 1
        }
        return 0
    }
}
