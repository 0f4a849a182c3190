/// Draws the prompt and the message on the terminal and puts the cursor where it belongs. Rows
/// are broken explicitly rather than left to the terminal's auto-wrap, so the layout we compute
/// is the one on screen; each redraw starts by moving back to the prompt's first row.
struct Renderer {
    var width = 80
    var styled = true
    /// The cursor's row, counted from the prompt's first row, after the last draw.
    private(set) var cursorRow = 0
    /// Where the last draw ended, for the append fast path.
    private var end = ScreenLayout.Position(row: 0, column: 0)

    /// Everything again: used after any edit that is not typing at the end.
    mutating func redraw(prompt: String, continuation: String, characters: [Character], cursor: Int) -> String {
        var out = "\r"
        if cursorRow > 0 { out += "\u{1B}[\(cursorRow)A" }
        out += "\u{1B}[J"
        var position = ScreenLayout.Position(row: 0, column: 0)
        out += styled ? "\u{1B}[1m" : ""
        out += draw(Array(prompt), continuation: continuation, at: &position)
        out += styled ? "\u{1B}[0m" : ""
        out += draw(characters, continuation: continuation, at: &position)
        out += settle(&position)
        end = position
        // The cursor: the position after prompt + characters[..<cursor], with a full row's end
        // meaning the start of the next one.
        var c = ScreenLayout.position(prompt: prompt, continuation: continuation, characters: characters,
                                      upTo: cursor, width: width)
        if c.column >= width { c.row += 1; c.column = 0 }
        out += move(from: position, to: c)
        cursorRow = c.row
        return out
    }

    /// Typing (or pasting) at the end: only the new characters are written, so a long paste is
    /// drawn once and a message taller than the screen never needs to be redrawn from its top.
    mutating func append(_ characters: [Character], continuation: String) -> String {
        var position = end
        var out = draw(characters, continuation: continuation, at: &position)
        out += settle(&position)
        end = position
        cursorRow = position.row
        return out
    }

    /// After the message is accepted: the cursor to the end, then a new line.
    mutating func finish() -> String {
        let out = move(from: ScreenLayout.Position(row: cursorRow, column: 0), to: end) + "\r\n"
        cursorRow = 0
        end = ScreenLayout.Position(row: 0, column: 0)
        return out
    }

    mutating func reset() {
        cursorRow = 0
        end = ScreenLayout.Position(row: 0, column: 0)
    }

    private func draw(_ characters: [Character], continuation: String, at p: inout ScreenLayout.Position) -> String {
        var out = ""
        for c in characters {
            if c == "\n" {
                out += "\r\n"
                p.row += 1
                p.column = 0
                out += draw(Array(continuation), continuation: "", at: &p)
                continue
            }
            let w = c == "\t" ? 8 - p.column % 8 : ScreenLayout.width(of: c)
            if p.column + w > width {
                out += "\r\n"
                p.row += 1
                p.column = 0
            }
            out += c == "\t" ? String(repeating: " ", count: w) : ScreenLayout.glyph(of: c, column: p.column)
            p.column += w
        }
        return out
    }

    /// A row filled to its last column leaves the terminal waiting to wrap; step to the next row
    /// so every later movement starts from a known place.
    private func settle(_ p: inout ScreenLayout.Position) -> String {
        guard p.column >= width else { return "" }
        p.row += 1
        p.column = 0
        return "\r\n"
    }

    private func move(from a: ScreenLayout.Position, to b: ScreenLayout.Position) -> String {
        var out = ""
        if a.row > b.row { out += "\u{1B}[\(a.row - b.row)A" }
        if b.row > a.row { out += "\u{1B}[\(b.row - a.row)B" }
        out += "\r"
        if b.column > 0 { out += "\u{1B}[\(b.column)C" }
        return out
    }
}
