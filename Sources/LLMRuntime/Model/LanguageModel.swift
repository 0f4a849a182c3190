import GGUF
import Tokenizers
#if canImport(Glibc)
import Glibc
#endif

/// A model ready to run: the mapped file, its config, weights bound on a thread pool, and its tokenizer.
public final class LanguageModel: @unchecked Sendable {
    public let file: GGUFFile
    public let config: ModelConfig
    public let transformer: Transformer
    public let tokenizer: any Tokenizer
    /// Seconds spent mapping, validating, binding and converting.
    public let loadSeconds: Double

    public var path: String { file.path }
    public var pool: ThreadPool { transformer.pool }

    /// - Parameters:
    ///   - threads: worker threads for the mat-muls (the caller's thread included).
    ///   - sentencePieceModel: a `tokenizer.model` file to use instead of the GGUF vocabulary.
    ///   - loadTransform: edits the blocks as they are bound (a prune plan applied in memory).
    ///   - transform: edits the config and weights after binding.
    public init(path: String, threads: Int = ThreadPool.processorCount, sentencePieceModel: String? = nil,
                loadTransform: (any LoadTransform)? = nil,
                transform: ((inout ModelConfig, inout ModelWeights) throws -> Void)? = nil) throws {
        let started = Clock.now()
        let file = try GGUFFile(path: path)
        var config = try ModelConfig(file: file)
        guard ModelConfig.runnableArchitectures.contains(config.architecture) else {
            throw ModelError.unsupported(path: path, detail: "architecture '\(config.architecture)' cannot be run yet (supported: \(ModelConfig.runnableArchitectures.sorted().joined(separator: ", ")))")
        }
        var weights: ModelWeights
        if let loadTransform {
            weights = try ModelWeights(file: file, config: config, transform: loadTransform)
            config = try loadTransform.transformedConfig(config).config
        } else {
            weights = try ModelWeights(file: file, config: config)
        }
        try transform?(&config, &weights)
        let pool = ThreadPool(threadCount: threads)
        weights.interleaveForKernels(pool: pool)
        self.file = file
        self.config = config
        self.tokenizer = try TokenizerLoader.load(from: file, sentencePieceModel: sentencePieceModel)
        self.transformer = Transformer(config: config, weights: weights, pool: pool)
        self.loadSeconds = Clock.now() - started
    }

    /// Tokens for a prompt: BOS first when the vocabulary asks for it.
    public func tokenize(_ text: String, addBOS: Bool? = nil, parseSpecial: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        if addBOS ?? tokenizer.addsBOS, let bos = tokenizer.bosToken { ids.append(bos) }
        ids += tokenizer.encode(text, parseSpecial: parseSpecial)
        return ids
    }
}

/// Monotonic seconds.
public enum Clock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
