import ArgumentParser

/// Parsing for numeric options. Every Float or Double option goes through `finite`:
/// `Float("nan")` succeeds, and a NaN passes every `<` and `>` range check after it (`--temp nan`
/// sampled garbage, `--allocation-exponent nan` pruned the wrong amount). Options declared with
/// `parsing: .unconditional` take a value that starts with "-", so `-n -1` parses instead of
/// failing with "Missing value"; a negative value where none is allowed then gets the option's
/// own range message.
enum NumericOption {
    static func finite<T: BinaryFloatingPoint & LosslessStringConvertible>(_ text: String) throws -> T {
        guard let value = T(text.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("'\(text)' is not a number")
        }
        guard value.isFinite else { throw ValidationError("'\(text)' is not a finite number") }
        return value
    }

    /// -s: a seed 0 ... 2^64-1, or -1 for a random one (as llama.cpp's -s -1).
    static func seed(_ text: String) throws -> UInt64 {
        if text.trimmingCharacters(in: .whitespaces) == "-1" { return UInt64.random(in: 0...UInt64.max) }
        guard let value = UInt64(text.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("a seed is a whole number from 0 to 18446744073709551615, or -1 for a random one")
        }
        return value
    }
}
