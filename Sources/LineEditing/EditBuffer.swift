/// The text being edited and the cursor in it, counted in characters (grapheme clusters), so one
/// Left arrow steps over an accented letter or an emoji as the eye sees it.
public struct EditBuffer: Equatable, Sendable {
    public private(set) var characters: [Character] = []
    public private(set) var cursor = 0

    public init(_ text: String = "") {
        characters = Array(text)
        cursor = characters.count
    }

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }
    public var cursorAtEnd: Bool { cursor == characters.count }

    public mutating func insert(_ text: String) {
        let new = Array(text)
        characters.insert(contentsOf: new, at: cursor)
        cursor += new.count
    }

    public mutating func backspace() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    public mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    public mutating func moveLeft() { cursor = max(0, cursor - 1) }
    public mutating func moveRight() { cursor = min(characters.count, cursor + 1) }

    /// Home and End act on the current line of a multi-line message, as in an editor.
    public mutating func moveHome() {
        while cursor > 0 && characters[cursor - 1] != "\n" { cursor -= 1 }
    }

    public mutating func moveEnd() {
        while cursor < characters.count && characters[cursor] != "\n" { cursor += 1 }
    }

    public mutating func moveWordLeft() {
        while cursor > 0 && !characters[cursor - 1].isWordCharacter { cursor -= 1 }
        while cursor > 0 && characters[cursor - 1].isWordCharacter { cursor -= 1 }
    }

    public mutating func moveWordRight() {
        while cursor < characters.count && !characters[cursor].isWordCharacter { cursor += 1 }
        while cursor < characters.count && characters[cursor].isWordCharacter { cursor += 1 }
    }

    /// Ctrl-W: the word before the cursor, and the blanks after it.
    public mutating func deleteWordBackward() {
        let end = cursor
        moveWordLeft()
        characters.removeSubrange(cursor..<end)
    }

    /// Ctrl-K.
    public mutating func killToEnd() {
        var end = cursor
        while end < characters.count && characters[end] != "\n" { end += 1 }
        if end == cursor && end < characters.count { end += 1 }  // at a line end: join the lines
        characters.removeSubrange(cursor..<end)
    }

    /// Ctrl-U.
    public mutating func killToStart() {
        let end = cursor
        moveHome()
        characters.removeSubrange(cursor..<end)
    }

    /// Ctrl-T: swaps the two characters before the cursor (or around it), as readline does.
    public mutating func transpose() {
        guard characters.count >= 2, cursor > 0 else { return }
        if cursor == characters.count { cursor -= 1 }
        characters.swapAt(cursor - 1, cursor)
        cursor += 1
    }

    public mutating func replaceAll(with text: String) {
        characters = Array(text)
        cursor = characters.count
    }
}

extension Character {
    var isWordCharacter: Bool { isLetter || isNumber || self == "_" }
}
