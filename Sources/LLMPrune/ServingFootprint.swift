import GGUF
import LLMRuntime

/// What `llmrun serve` is planned to hold: the model's buffers (weights, every slot's KV cache,
/// the batched step's scratch, the tokenizer), the process as it was before the model, and what
/// serving adds. `serve` prints it and `serve --budget` plans with it (`budgetPlan`), so the
/// figure a user reads is the one the planner fitted.
public struct ServingFootprint: Sendable {
    public let modelPath: String
    public let context: Int
    public let slots: Int
    public let batch: Int
    public let threads: Int
    public let estimate: MemoryEstimate
    /// The process before the model: binary, libraries, runtime (measured at start).
    public let processBytes: Int
    /// What serving adds (`servingBytes(slots:queue:)`).
    public let servingBytes: Int

    /// Everything beside the model's buffers: what the budget planner adds to them.
    public var runtimeBytes: Int { processBytes + servingBytes }
    public var totalBytes: Int { estimate.totalBytes.clampedAdding(runtimeBytes) }

    /// Bytes serving adds to a process beside the model's buffers and the process it started
    /// as, measured as peak RSS less those on SmolLM2-135M (-c 1024, 4 slots, 100 clients at
    /// once, queue 128) and Qwen2.5-Coder-1.5B: the HTTP stack's code pages and threads
    /// (Hummingbird, NIO, Swift concurrency), their allocator arenas, and per request a
    /// connection's buffers, task and token arrays, counted for every slot and queue place.
    public static func servingBytes(slots: Int, queue: Int) -> Int {
        fixedServingBytes + (slots + queue).clampedMultiplying(perRequestBytes)
    }
    static let fixedServingBytes = 12_000_000
    static let perRequestBytes = 32_000

    /// Reads the model's header (and lets it go).
    public init(modelPath: String, context: Int, slots: Int, batch: Int, threads: Int, queue: Int,
                processBytes: Int) throws {
        let file = try GGUFFile(path: modelPath)
        let config = try ModelConfig(file: file)
        self.modelPath = modelPath
        self.context = context
        self.slots = slots
        self.batch = batch
        self.threads = threads
        estimate = MemoryEstimate(file: file, config: config, context: context, batch: batch, threads: threads, slots: slots)
        self.processBytes = processBytes
        servingBytes = ServingFootprint.servingBytes(slots: slots, queue: queue)
    }

    /// The budget planner's decision for serving this model within `budget` (as `serve --budget`
    /// applies it). Throws `PruneError.budgetInfeasible` when nothing fits.
    public func budgetPlan(budget: Int) throws -> BudgetPlan {
        let file = try GGUFFile(path: modelPath)
        let config = try ModelConfig(file: file)
        // (The layer share is the architecture's default: the planner resolves it.)
        return try BudgetPlanner.plan(file: file, config: config, budget: budget, context: context, requestedType: nil,
                                      settings: PruneSettings(), residentBytes: processBytes, slots: slots, batch: batch,
                                      threads: threads, runtimeBytes: runtimeBytes)
    }

    public var description: String {
        "\(formatBytes(totalBytes)) (process \(formatBytes(processBytes)), serving \(formatBytes(servingBytes)), weights \(formatBytes(estimate.weightBytes)), \(slots) caches \(formatBytes(estimate.kvCacheBytes)), scratch \(formatBytes(estimate.scratchBytes)), tokenizer \(formatBytes(estimate.tokenizerBytes)))"
    }
}
