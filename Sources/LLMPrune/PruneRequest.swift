/// What a prune is asked to reach. `Pruner` resolves it once, at construction, into its final
/// settings (see `Pruner.init(sourcePath:request:settings:threads:residentBytes:)`).
public enum PruneRequest: Sendable, Equatable {
    /// Remove this fraction of all parameters (0: rewrite in the settings' formats only).
    case ratio(Double)
    /// Fit the pruned model, run at the budget's context, into its bytes: the budget planner
    /// chooses the ratio, the formats and the calibration size.
    case budget(MemoryBudget)

    /// A budget for one sequence of `context` positions, run by a CLI process.
    public static func budget(bytes: Int, context: Int) -> PruneRequest {
        .budget(MemoryBudget(bytes: bytes, context: context))
    }
}

/// Memory a pruned model may take when run, and how it will be run.
public struct MemoryBudget: Sendable, Equatable {
    public var bytes: Int
    /// Positions per sequence.
    public var context: Int
    /// Sequences served at once, each with its own KV cache (`serve --parallel`).
    public var slots = 1
    /// Rows of the model's batched forward step.
    public var batch = 256
    /// Threads the model will run on (their attention scratch counts).
    public var threads = 1
    /// What the running process holds beside the model's buffers (`BudgetPlanner.runtimeOverhead`
    /// for a CLI run, `ServingFootprint.runtimeBytes` for `serve`).
    public var runtimeBytes = BudgetPlanner.runtimeOverhead

    public init(bytes: Int, context: Int, slots: Int = 1, batch: Int = 256, threads: Int = 1,
                runtimeBytes: Int = BudgetPlanner.runtimeOverhead) {
        self.bytes = bytes
        self.context = context
        self.slots = slots
        self.batch = batch
        self.threads = threads
        self.runtimeBytes = runtimeBytes
    }
}
