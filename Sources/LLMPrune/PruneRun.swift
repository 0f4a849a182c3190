import Foundation
import GGUF
import LLMRuntime

/// One run's context: the calibration runner, the clock and the caller's progress and stop
/// hooks, shared by every step of `Pruner`'s run.
final class PruneRun {
    let source: GGUFFile
    let config: ModelConfig
    let calibration: CalibrationSet
    let runner: LayerRunner
    let embedding: EmbeddingTable
    let started: Double
    private let progress: (PruneProgress) -> Void
    private let shouldStop: () -> Bool

    init(pruner: Pruner, calibration: CalibrationSet, progress: @escaping (PruneProgress) -> Void,
         shouldStop: @escaping () -> Bool) throws {
        started = Clock.now()
        source = pruner.source
        config = pruner.config
        self.calibration = calibration
        runner = try LayerRunner(config: config, pool: pruner.pool, calibration: calibration)
        embedding = try EmbeddingTable(file: source, config: config)
        self.progress = progress
        self.shouldStop = shouldStop
    }

    var blocks: Int { config.blockCount }
    /// Calibration tokens, all sequences together.
    var rows: Int { calibration.tokenCount }

    func report(_ phase: String, _ layer: Int) {
        progress(PruneProgress(phase: phase, layer: layer, layers: blocks, elapsed: Clock.now() - started,
                               residentBytes: ProcessMemory.residentBytes))
    }

    func checkStop(_ phase: String, _ layer: Int) throws {
        if shouldStop() {
            throw PruneError.interrupted("stopped during \(phase) at block \(layer + 1) of \(blocks); nothing was written")
        }
    }

    /// Gives back the pages of block `l`'s weights (the source is memory-mapped).
    func release(_ l: Int) {
        for t in source.tensors where t.name.hasPrefix("blk.\(l).") { source.releasePages(of: t) }
    }
}

/// Pass 2's residual streams: the pruned model's, and the dense model's beside it where the
/// stream target or dense refit inputs need it (one block behind the pruned one at most).
final class PruneStreams {
    /// The pruned model's stream.
    let x: Activations
    let dense: Activations?
    private var denseNext = 0
    private let run: PruneRun
    private let dropped: Set<Int>

    init(_ run: PruneRun, allocation: PruneAllocation) {
        self.run = run
        dropped = allocation.droppedSet
        x = run.runner.embed(run.embedding)
        dense = allocation.streamTarget || allocation.denseInputs ? x.copy() : nil
    }

    /// Runs the dense model on through block `l`; `weights` are block `held`'s, already loaded.
    func advanceDense(through l: Int, weights: LayerWeights, of held: Int) throws {
        guard let xd = dense else { return }
        let config = run.config
        while denseNext <= l {
            let w = denseNext == held ? weights : try LayerWeights(file: run.source, config: config, layer: denseNext)
            run.runner.apply(.attention, layer: denseNext, weights: w, shape: config.layers[denseNext], to: xd)
            run.runner.apply(.feedForward, layer: denseNext, weights: w, shape: config.layers[denseNext], to: xd)
            if dropped.contains(denseNext) { run.release(denseNext) }
            denseNext += 1
        }
    }
}
