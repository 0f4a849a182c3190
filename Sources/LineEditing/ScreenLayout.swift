/// Where text lands on a terminal of a given width: how many columns each character takes, and the
/// row and column of any position once lines wrap. The editor redraws from this, so it must agree
/// with what the terminal does.
public enum ScreenLayout {
    /// Columns a character takes: 0 for combining marks, 2 for wide East Asian characters and
    /// emoji, 1 otherwise.
    public static func width(of character: Character) -> Int {
        guard let first = character.unicodeScalars.first else { return 0 }
        if character.unicodeScalars.count > 1, character.unicodeScalars.contains(where: { $0.properties.isEmojiPresentation || $0.value == 0xFE0F }) {
            return 2
        }
        return width(ofScalar: first)
    }

    public static func width(ofScalar scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v == 0 { return 0 }
        if v < 0x20 || (v >= 0x7F && v < 0xA0) { return 2 }  // drawn as ^X
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if scalar.properties.isEmojiPresentation { return 2 }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
        ]
        return wide.contains(where: { $0.contains(v) }) ? 2 : 1
    }

    /// What to write for a character: control characters as ^X, a tab as the spaces to the next
    /// stop (so the terminal's own tab stops never disagree with the layout).
    public static func glyph(of character: Character, column: Int) -> String {
        if character == "\t" { return String(repeating: " ", count: 8 - column % 8) }
        if let v = character.unicodeScalars.first?.value, character.unicodeScalars.count == 1,
           v < 0x20 || (v >= 0x7F && v < 0xA0) {
            return "^" + String(UnicodeScalar(UInt8((v + 0x40) & 0x7F)))
        }
        return String(character)
    }

    public struct Position: Equatable, Sendable {
        public var row: Int
        public var column: Int
    }

    /// The position after writing `prompt` and then `characters[..<upTo]`, with `continuation`
    /// written after each line break. Like a terminal, a character that does not fit on the row
    /// goes to the next one; a row filled exactly leaves the cursor at its end until the next
    /// character (`column == width`).
    public static func position(prompt: String, continuation: String, characters: [Character],
                                upTo: Int, width: Int) -> Position {
        let width = max(width, 8)
        var p = Position(row: 0, column: 0)
        func put(_ w: Int) {
            if p.column + w > width { p.row += 1; p.column = 0 }
            p.column += w
        }
        for c in prompt { put(self.width(of: c)) }
        for c in characters[..<upTo] {
            if c == "\n" {
                p.row += 1
                p.column = 0
                for pc in continuation { put(self.width(of: pc)) }
                continue
            }
            if c == "\t" { put(8 - p.column % 8); continue }
            put(self.width(of: c))
        }
        return p
    }
}
