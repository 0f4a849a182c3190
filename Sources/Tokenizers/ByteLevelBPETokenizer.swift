import GGUF

/// Byte-level BPE (`tokenizer.ggml.model == "gpt2"`): special tokens cut out, pre-tokenizer
/// split by `tokenizer.ggml.pre`, then each word's bytes merged by rank.
public final class ByteLevelBPETokenizer: Tokenizer, VocabularyBacked {
    let vocabulary: Vocabulary
    let table: BPEMergeTable
    public let preTokenizer: PreTokenizerKind
    /// Llama-3 style: a word that is itself a token is emitted without merging.
    public let ignoresMerges: Bool
    /// Problems that did not stop loading (e.g. an unrecognised `tokenizer.ggml.pre`).
    public let loadWarnings: [String]

    init(file: GGUFFile) throws(TokenizerError) {
        let path = file.path
        let preName = file["tokenizer.ggml.pre"]?.stringValue
        let settings = PreTokenizerSettings.forGGUFName(preName)
        preTokenizer = settings.kind
        ignoresMerges = settings.ignoreMerges
        loadWarnings = settings.recognized ? [] : [
            "\(path): tokenizer.ggml.pre '\(preName ?? "")' is not recognised; using the default pre-tokenizer as llama.cpp does (token ids may differ from the model's own tokenizer)"
        ]
        vocabulary = try Vocabulary.load(from: file, kind: .byteLevelBPE,
                                         options: .init(defaultAddBOS: settings.addBOS, cleanSpaces: settings.cleanSpaces,
                                                        noBOS: settings.noBOS))
        guard let mergeValues = file["tokenizer.ggml.merges"]?.arrayValue else {
            throw .missingKey(path: path, key: "tokenizer.ggml.merges")
        }
        var merges: [String] = []
        merges.reserveCapacity(mergeValues.count)
        for (i, v) in mergeValues.enumerated() {
            guard let s = v.stringValue else {
                throw .invalidValue(path: path, key: "tokenizer.ggml.merges", detail: "entry \(i) is not a string")
            }
            merges.append(s)
        }
        table = try BPEMergeTable(texts: vocabulary.texts, mergeStrings: merges, path: path)
    }

    public var vocabularySize: Int { vocabulary.count }
    public var bosToken: Int32? { vocabulary.bos }
    public var eosToken: Int32? { vocabulary.eos }
    public var addsBOS: Bool { vocabulary.addBOS }
    public var addsEOS: Bool { vocabulary.addEOS }
    public var endOfGenerationTokens: Set<Int32> { vocabulary.endOfGeneration }

    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        let bytes = Array(text.utf8)
        let fragments = vocabulary.partition(bytes, parseSpecial: parseSpecial)
        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3 + 4)
        var cache = WordCache()
        var workspace = BPEWorkspace()
        bytes.withUnsafeBufferPointer { buf in
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                case .text(let range):
                    let cps = CodepointText(utf8: buf[range])
                    let ends = preTokenizer.split(cps)
                    var s = 0
                    for e in ends {
                        let b0 = range.lowerBound + cps.byteOffsets[s]
                        let b1 = range.lowerBound + cps.byteOffsets[e]
                        encodeWord(UnsafeBufferPointer(rebasing: buf[b0..<b1]), into: &out, cache: &cache, workspace: &workspace)
                        s = e
                    }
                }
            }
        }
        return out
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32],
                            cache: inout WordCache, workspace: inout BPEWorkspace) {
        if let hit = cache.lookup(word) {
            out.append(contentsOf: hit)
            return
        }
        let before = out.count
        if ignoresMerges, let t = table.token(forBytes: word) {
            out.append(t)
        } else {
            table.encodeWord(word, into: &out, workspace: &workspace)
        }
        cache.insert(word, out[before...])
    }

    public func decodeBytes(_ tokens: [Int32], renderSpecial: Bool) -> [UInt8] {
        vocabulary.detokenize(tokens, renderSpecial: renderSpecial)
    }

    public func pieceBytes(_ token: Int32, renderSpecial: Bool) -> [UInt8] {
        vocabulary.piece(token, renderSpecial: renderSpecial)
    }

    public func tokenText(_ token: Int32) -> String {
        vocabulary.isValid(token) ? vocabulary.texts[Int(token)] : ""
    }

    public func tokenID(for text: String) -> Int32? {
        vocabulary.idForBytes[text.utf8]
    }
}

/// Per-call cache of word → tokens (words repeat a lot in real text). Byte-exact keys: Swift
/// `String` keys would merge canonically equivalent spellings that tokenize differently.
struct WordCache {
    private var index: [[UInt8]: Range<Int>] = [:]
    private var storage: [Int32] = []
    private let limit = 1 << 20

    func lookup(_ word: UnsafeBufferPointer<UInt8>) -> ArraySlice<Int32>? {
        guard let r = index[Array(word)] else { return nil }
        return storage[r]
    }

    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, _ tokens: ArraySlice<Int32>) {
        guard storage.count < limit, word.count <= 64 else { return }
        let start = storage.count
        storage.append(contentsOf: tokens)
        index[Array(word)] = start..<storage.count
    }
}
