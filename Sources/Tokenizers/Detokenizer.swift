extension Vocabulary {
    /// `llama_token_to_piece(token, lstrip: 0, special:)`.
    func piece(_ token: Int32, renderSpecial: Bool) -> [UInt8] {
        guard isValid(token) else { return [] }
        let i = Int(token)
        if !renderSpecial && types[i].isHiddenByDefault { return [] }
        return Array(pieces.bytes(ofEntry: i))
    }

    /// `llama_detokenize(tokens, remove_special: false, unparse_special: renderSpecial)`.
    func detokenize(_ tokens: [Int32], renderSpecial: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(tokens.count * 4)
        var removeSpace = addSpacePrefix
        for token in tokens {
            guard isValid(token) else { continue }
            let i = Int(token)
            if !renderSpecial && types[i].isHiddenByDefault {
                removeSpace = false
                continue
            }
            let p = pieces.bytes(ofEntry: i)
            if removeSpace, let first = p.first, first == 0x20 {
                out.append(contentsOf: p.dropFirst())
            } else {
                out.append(contentsOf: p)
            }
            removeSpace = false
        }
        if cleanSpaces { Self.cleanUpSpaces(&out) }
        return out
    }

    /// llama.cpp's `clean_spaces` passes (HF's `clean_up_tokenization`): drop the space before
    /// `? ! . ,`, collapse ` ' ` to `'`, and drop the space before `'s 'm 're 've`.
    static func cleanUpSpaces(_ text: inout [UInt8]) {
        let space: UInt8 = 0x20, quote: UInt8 = 0x27
        guard text.count > 1 else { return }
        // first pass: " ?", " !", " .", " ,"
        var out: [UInt8] = [text[0]]
        out.reserveCapacity(text.count)
        for i in 1..<text.count {
            let x = text[i]
            if text[i - 1] == space && (x == 0x3F || x == 0x21 || x == 0x2E || x == 0x2C) { out.removeLast() }
            out.append(x)
        }
        text = out
        guard text.count > 1 else { return }
        // second pass: " ' " → "'" (llama.cpp blanks the skipped space, which later checks then see)
        out = [text[0]]
        var i = 1
        while i < text.count {
            let x = text[i]
            if x == quote && i + 1 < text.count && text[i - 1] == space && text[i + 1] == space {
                out.removeLast()
                out.append(x)
                text[i + 1] = 0
                i += 2
                continue
            }
            out.append(x)
            i += 1
        }
        text = out
        guard text.count > 1 else { return }
        // third pass: " 's", " 'm", " 're", " 've"
        out = [text[0]]
        for i in 1..<text.count {
            let x = text[i]
            if text[i - 1] == space && x == quote && i + 1 < text.count {
                let x1 = text[i + 1]
                if x1 == 0x73 || x1 == 0x6D {
                    out.removeLast()
                } else if i + 2 < text.count {
                    let x2 = text[i + 2]
                    if (x1 == 0x72 && x2 == 0x65) || (x1 == 0x76 && x2 == 0x65) { out.removeLast() }
                }
            }
            out.append(x)
        }
        text = out
    }
}
