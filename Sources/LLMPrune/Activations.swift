import LLMRuntime

/// Hidden states of every calibration token, (sequences * length, width) in f32: the pruner's
/// residual stream between layers, and its captures of sub-layer inputs.
public final class Activations: @unchecked Sendable {
    public let rows: Int
    public let width: Int
    public let storage: AlignedBuffer
    public var pointer: UnsafeMutablePointer<Float> { storage.floats() }

    public init(rows: Int, width: Int) {
        self.rows = rows
        self.width = width
        storage = AlignedBuffer(byteCount: rows * width * 4)
        storage.pointer.initializeMemory(as: Float.self, repeating: 0, count: rows * width)
    }

    public func row(_ r: Int) -> UnsafeMutablePointer<Float> { pointer + r * width }

    /// The mean square of each of `columns` (all by default) over the rows: how much a weight
    /// reading that input matters, for fitting quantization to it.
    public func columnMeanSquares(_ columns: [Int]? = nil) -> [Float] {
        var energy = InputEnergy(width: width)
        energy.add(pointer, rows: rows)
        let means = energy.means ?? [Float](repeating: 0, count: width)
        return columns.map { $0.map { means[$0] } } ?? means
    }

    public func copy() -> Activations {
        let c = Activations(rows: rows, width: width)
        c.pointer.update(from: pointer, count: rows * width)
        return c
    }
}

/// Runs single blocks over every calibration sequence with the inference code
/// (`TransformerBlock`), one sequence at a time so each sees its own causal context.
public final class LayerRunner {
    public let config: ModelConfig
    public let block: TransformerBlock
    public let calibration: CalibrationSet
    let state: RunState
    let cache: F16KVCache

    public init(config: ModelConfig, pool: ThreadPool, calibration: CalibrationSet) {
        self.config = config
        self.block = TransformerBlock(config: config, pool: pool)
        self.calibration = calibration
        let T = calibration.length
        state = RunState(config: config, maxBatch: T, contextLength: T, threads: pool.threadCount, logitRows: 1)
        // One cache slot, reused by every layer and sequence; shaped for the widest layer.
        let widest = config.layers.max { $0.kvHeadCount < $1.kvHeadCount } ?? LayerShape(headCount: 0, kvHeadCount: 0, feedForwardLength: 0)
        cache = F16KVCache(layers: [widest], headDim: config.headDim, capacity: T)
    }

    public var sequenceLength: Int { calibration.length }

    /// The embeddings of every calibration token.
    public func embed(_ table: EmbeddingTable) -> Activations {
        let x = Activations(rows: calibration.tokenCount, width: config.hiddenSize)
        for (s, seq) in calibration.sequences.enumerated() {
            for (t, token) in seq.enumerated() { table.lookup(token, into: x.row(s * seq.count + t)) }
        }
        return x
    }

    public enum SubLayer { case attention, feedForward }

    /// Runs a sub-layer on every sequence of `input`. For each sequence, `visit` sees the run
    /// state after the sub-layer ran: `state.xb2` its output (T, dim), `state.xb` its normalized
    /// input (T, dim), `state.att` the heads' output (T, qDim), `state.hb` the MLP hidden (T, ff)
    /// — and the sequence's first row.
    /// `layer` is the block's index in the source model (sliding-window layers differ).
    public func run(_ sub: SubLayer, layer: Int, weights: LayerWeights, shape: LayerShape, input: Activations,
                    visit: (_ state: RunState, _ firstRow: Int) -> Void) {
        let T = sequenceLength, dim = config.hiddenSize
        let rows = BatchRows(count: T, start: 0, cache: cache)
        block.prepareRoPE(rows, state: state)
        for s in 0..<calibration.count {
            state.x.update(from: input.row(s * T), count: T * dim)
            switch sub {
            case .attention:
                block.attention(weights, shape: shape, cacheLayer: 0, layer: layer, rows: rows, state: state)
            case .feedForward:
                block.feedForward(weights, shape: shape, count: T, state: state)
            }
            visit(state, s * T)
        }
    }

    /// Adds a sub-layer's output to the residual stream: `x += sublayer(x)` for every token.
    /// `observe` sees each sequence's run state first (as `run`'s `visit`).
    public func apply(_ sub: SubLayer, layer: Int, weights: LayerWeights, shape: LayerShape, to x: Activations,
                      observe: ((_ state: RunState) -> Void)? = nil) {
        let T = sequenceLength, dim = config.hiddenSize
        run(sub, layer: layer, weights: weights, shape: shape, input: x) { state, first in
            observe?(state)
            Ops.add(state.xb2, into: x.row(first), count: T * dim)
        }
    }
}
