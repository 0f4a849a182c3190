/// Unicode character classes the pre-tokenizer patterns need, one bit each, for one code point.
///
/// Categories follow the Unicode general category (`\p{L}` = Lu Ll Lt Lm Lo, `\p{N}` = Nd Nl No, …).
/// Whitespace is the Unicode White_Space set that llama.cpp uses for `\s`
/// (U+0009–000D, U+0020, U+0085, U+00A0, U+1680, U+2000–200A, U+2028–2029, U+202F, U+205F, U+3000).
struct CodepointFlags: OptionSet, Sendable {
    let rawValue: UInt8

    static let letter = CodepointFlags(rawValue: 1 << 0)       // \p{L}
    static let number = CodepointFlags(rawValue: 1 << 1)       // \p{N}
    static let punctuation = CodepointFlags(rawValue: 1 << 2)  // \p{P}
    static let symbol = CodepointFlags(rawValue: 1 << 3)       // \p{S}
    static let mark = CodepointFlags(rawValue: 1 << 4)         // \p{M}
    static let whitespace = CodepointFlags(rawValue: 1 << 5)   // \s

    /// Flags of one code point, computed from the standard library's Unicode tables.
    static func compute(_ value: UInt32) -> CodepointFlags {
        guard let scalar = Unicode.Scalar(value) else { return [] }
        var flags: CodepointFlags = []
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            flags.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            flags.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            flags.insert(.punctuation)
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            flags.insert(.symbol)
        case .nonspacingMark, .spacingMark, .enclosingMark:
            flags.insert(.mark)
        default:
            break
        }
        if isWhitespace(value) { flags.insert(.whitespace) }
        return flags
    }

    @inline(__always)
    static func isWhitespace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }
}

/// Flags for every code point of the Basic Multilingual Plane, computed once on first use.
private let basicPlaneFlags: [CodepointFlags] = (0..<0x10000).map { CodepointFlags.compute(UInt32($0)) }

/// Looks up code point flags: a table for the BMP, the Unicode tables directly beyond it.
@inline(__always)
func codepointFlags(_ c: UInt32) -> CodepointFlags {
    if c < 0x10000 { return basicPlaneFlags[Int(c)] }
    return CodepointFlags.compute(c)
}
