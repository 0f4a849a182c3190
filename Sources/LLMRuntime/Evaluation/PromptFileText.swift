/// What llama.cpp's tools do to a text read with `-f` before tokenizing it, so that figures
/// measured on the same file agree: one final newline is dropped, and backslash escapes are
/// replaced when the tool has escapes on (llama-tokenize and llama-completion by default,
/// llama-perplexity only with -e).
public enum PromptFileText {
    /// The text as llama.cpp's `-f` reads it (common_params_parse: read_file, pop_back of a final
    /// '\n', then string_process_escapes when escapes are on).
    public static func prepare(_ text: String, processEscapes: Bool) -> String {
        var bytes = Array(text.utf8)
        if bytes.last == 0x0A { bytes.removeLast() }
        if processEscapes { bytes = replacingEscapes(bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `text` with its backslash escapes replaced (`replacingEscapes` on its bytes).
    public static func replacingEscapes(in text: String) -> String {
        String(decoding: replacingEscapes(Array(text.utf8)), as: UTF8.self)
    }

    /// `\n \r \t \' \" \\` and `\xHH` (two hex digits) become the character they name; any other
    /// backslash pair, and a backslash at the very end, stay as written.
    public static func replacingEscapes(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            let c = input[i]
            guard c == UInt8(ascii: "\\"), i + 1 < input.count else {
                out.append(c)
                i += 1
                continue
            }
            let next = input[i + 1]
            i += 2
            switch next {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(next)
            case UInt8(ascii: "x") where i + 1 < input.count:
                // `\xHH`: llama.cpp reads the two characters with strtol(…, 16) and takes them only
                // when both are consumed, so a leading blank or sign before one digit also counts.
                if let v = twoCharHex(input[i], input[i + 1]) {
                    out.append(v)
                    i += 2
                } else {
                    out.append(c)
                    out.append(next)
                }
            default:
                out.append(c)
                out.append(next)
            }
        }
        return out
    }

    /// strtol(two characters, base 16) when it consumes both, as a byte (negatives wrap, as char()).
    private static func twoCharHex(_ a: UInt8, _ b: UInt8) -> UInt8? {
        guard let low = hexValue(b) else { return nil }
        if let high = hexValue(a) { return high << 4 | low }
        switch a {
        case 0x20, 0x09...0x0D, UInt8(ascii: "+"): return low
        case UInt8(ascii: "-"): return UInt8(truncatingIfNeeded: -Int(low))
        default: return nil
        }
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
