import GGUF

/// Which importance metric and compensation decide what is removed.
public enum PruneMethod: String, Sendable, CaseIterable, Codable {
    /// COMP: layers by importance, then neurons by least-squares cost with mask tuning.
    case comp
    /// ShortGPT: whole layers only, by importance.
    case layers
    /// Channels and KV groups with the smallest weight norms.
    case magnitude
    /// Wanda-SP: Σ|W|·‖x‖ per channel.
    case wandaSP = "wanda-sp"
    /// FLAP: fluctuation of each channel's input times its weight norm; removed channels'
    /// mean output is compensated by rescaling the kept ones (no bias tensor is added).
    case flap
}

/// How COMP makes up for removed MLP channels.
public enum Compensation: String, Sendable, CaseIterable, Codable {
    /// One least-squares scale per kept channel, folded into its column (COMP's mask tuning).
    case masks
    /// The kept columns of the down projection re-fitted by least squares (structured OBS).
    case refit
}

/// What each pruned MLP is tuned to reproduce.
public enum ReconstructionTarget: String, Sendable, CaseIterable, Codable {
    /// The dense sub-layer's output on the same (pruned-model) input.
    case layer
    /// The dense model's residual stream after the block: the pruned block also makes up for
    /// the error the blocks before it left in the stream.
    case stream
}

/// Everything that decides a pruning run.
public struct PruneSettings: Sendable {
    public var method: PruneMethod = .comp
    /// Fraction of all parameters to remove.
    public var ratio: Double = 0.2
    /// Share of the removed parameters taken as whole layers (the rest as neurons). Measured on
    /// SmolLM2-135M with the other defaults, as wiki perplexity / multiple-choice acc_norm on
    /// held-out items (501–900 of HellaSwag, PIQA, WinoGrande; 501–570 of ARC-Easy; pooled), at
    /// ratio 0.2: 0 → 35.3 / 0.487, 0.25 → 37.1 / 0.501, 0.5 → 37.9 / 0.513, 0.75 → 46.3 / 0.502;
    /// at 0.3: 0 → 58.3 / 0.486, 0.5 → 64.1 / 0.494. Neurons alone keep the most of one text's
    /// statistics; whole layers leave every remaining block's knowledge intact, and the
    /// benchmarks reward that (on the first 500 items of the seven tasks, 0.5 scored 0.442 at
    /// 0.2 against 0.423 for 0, dense 0.445). Not everywhere: Qwen2.5-Coder-0.5B at 0.2 gave
    /// 43.0 / 0.493 for 0 and 45.6 / 0.488 for 0.5 (tied on the benchmarks, worse perplexity),
    /// so for such models 0 may serve better. Gemma 3 gets 0 (see `defaultLayerShare`).
    /// `nil`: the architecture's default, filled in once when a `Pruner` resolves its request.
    public var layerShare: Double?
    /// The layer share of every architecture but Gemma 3.
    public static let standardLayerShare = 0.5

    /// The layer share a model gets unless one is given. Gemma-3-270M at ratio 0.2 (20% of all
    /// parameters is 53% of those outside its embedding): 0.5 gave wiki perplexity 294 and
    /// dropping blocks alone 310,565, against 123 for neurons only (flap 156, dense 15.1).
    /// Its blocks' 1 − cos scores (0.006–0.09 for most) say little there: the residual stream
    /// starts at sqrt(640) times the embedding, so every block looks like a small change.
    public static func defaultLayerShare(architecture: String) -> Double {
        architecture == "gemma3" ? 0 : standardLayerShare
    }
    /// Share of the neuron part taken from attention (KV groups) rather than MLP channels.
    public var attentionShare: Double = 0.0
    /// COMP: neuron removal per block ∝ importance^(−exponent) (0: spread evenly). Measured with
    /// the other defaults (blocks dropped for half the target) as wiki perplexity / held-out
    /// acc_norm, at ratio 0.2: 0 → 43.1, 1 → 37.9 / 0.513, 2 → 37.4 / 0.524, 3 → 37.5; at 0.3:
    /// 1 → 64.1 / 0.494, 2 → 63.9 / 0.491. 2 was also scored on the first 500 items of the seven
    /// tasks: 0.430 / 0.415 against 0.442 / 0.419 for 1. The benchmark differences go both ways
    /// within noise and the perplexity gain is small, so the default stays 1.
    /// Nor does measuring each block help: halving one block's MLP at a time (layer share 0,
    /// perplexity on held-out C4) and handing out removals by those sensitivities gave wiki
    /// perplexity 36.3 / 35.3 (quadratic / power-1.5 loss models) at ratio 0.2, where these
    /// scores give 35.3. The scores already rank the blocks as the measurements do (the middle
    /// blocks cheapest, the first and last dearest).
    public var allocationExponent = 1.0
    /// No block loses more than this share of its MLP channels.
    public var maxLayerChannelShare = 0.75
    /// COMP's compensation for removed MLP channels.
    public var compensation: Compensation = .masks
    /// What COMP's MLP compensation reproduces (`nil`: the better one for the compensation).
    public var target: ReconstructionTarget?
    /// Measured on SmolLM2-135M at ratio 0.2 (wiki perplexity, 20 chunks, ridge 0.1): masks with
    /// the layer target 36.75, with the stream target 35.40 (over three slices of the calibration
    /// text 38.02 and 37.64 on average; stream better in 5 of 6 pairs, Qwen2.5-0.5B in 3 of 3);
    /// refit (32 sequences) with the layer target 38.37, with the stream target 43.22 — a whole
    /// re-fitted column has the freedom to chase the calibration tokens' drift, one scale per
    /// channel does not.
    public var effectiveTarget: ReconstructionTarget { target ?? (compensation == .masks ? .stream : .layer) }
    /// With the stream target, the share of the drift (dense stream − pruned stream) each block
    /// is tuned to make up; the blocks after it see the rest. Measured with masks and bias on
    /// SmolLM2-135M: wiki perplexity at ratio 0.2 over three calibration slices 0 (the layer
    /// target) 36.98, 0.15 → 36.59, 0.3 → 35.89, 0.5 → 36.01, 0.7 → 36.37, 1 → 36.81 (0.3 best
    /// on every slice), but mean multiple-choice acc_norm (7 tasks × 500 items) at 0.2 / 0.3:
    /// 0.3 → 0.4191 / 0.4033, 1 → 0.4234 / 0.4115. Each gap is within about one standard error,
    /// yet both went the same way, and the benchmarks are closer to what a model is asked to do
    /// than one text's perplexity, so the default makes up all of it.
    public var driftShare = 1.0
    /// COMP: give each pruned MLP a bias (`ffn_down.bias`, which llama.cpp's llama and deci
    /// load) and solve the masks on mean-centred activations, so the removed channels' mean
    /// output is made up exactly and the masks only need to make up their fluctuation. The same
    /// for removed KV groups (`attn_output.bias`, also loaded by both): at ratio 0.2 with
    /// attention share 0.2, wiki perplexity 44.5 without it, 43.3 with it.
    /// Measured with the defaults (stream target) on the three calibration slices: 35.34 / 36.39 /
    /// 38.69 (mean 36.81) against 35.40 / 38.25 / 39.27 (37.64) without; with the layer target
    /// (slice A) 36.00 against 36.75.
    public var biasCompensation = true
    /// COMP: after a block's masks are tuned, train its MLP's kept weights (gate and up rows, down
    /// columns with the masks folded in, the bias) in f32 toward the same target (see `BlockRefit`).
    /// SmolLM2-135M in F16 at ratio 0.2 (64 × 256 calibration tokens, wiki perplexity on 10
    /// chunks): 39.16 without, 33.25 with 100 steps of 512 tokens at learning rate 1e-3 (pruned
    /// inputs, stream target).
    public var refit = RefitSettings()
    /// Calibration sequences and their length. Measured on SmolLM2-135M at ratio 0.2 with 4,096
    /// tokens in all (wiki perplexity at -c 512): 128 × 32 → 37.9, 64 × 64 → 39.3, 32 × 128 → 41.2,
    /// 256 × 16 → 43.2, 512 × 8 → 43.6. Longer sequences than the 256 positions the evaluation
    /// scores do not help; each length also reads a different slice of the text, and slices alone
    /// moved the result by 3.4 (see `--calib`).
    public var calibrationSamples = 32
    public var sequenceLength = 128
    /// Output tensor format for pruned layers (`nil`: the source's. Matrices only cut to rows keep
    /// their file format and bytes; edited ones are requantized to the format they run in, so the
    /// pruned file is smaller than its parent).
    /// SmolLM2-135M (Q4_1) at ratio 0.2 with COMP: Q8_0 blocks gave wiki perplexity 38.3 in a
    /// 116 MB file that generated at 0.76x its 98 MB parent's speed; its own Q4_1 gave 39.0.
    public var outputType: GGMLType?
    /// Format of the token embedding (and of a separate output matrix) in the output (`nil`:
    /// copied as they are). A budget may narrow it: it is a fifth of SmolLM2-135M and two
    /// thirds of Gemma-3-270M, and requantizing it costs far less than pruning its bytes'
    /// worth of blocks.
    public var embeddingType: GGMLType?
    /// Ridge added to the least-squares systems, relative to the mean of their diagonal. It pulls
    /// masks toward 1 and re-fitted columns toward the dense ones. Measured as above (masks,
    /// layer target): 1e-3 → 36.96, 1e-2 → 37.07, 0.1 → 36.75, 0.3 → 36.68, 1 → 37.34; with the
    /// stream target 0.03 → 35.64, 0.1 → 35.40, 0.3 → 35.42.
    public var ridge = 0.1
    /// Units removed per elimination step, as a fraction of those still kept.
    public var stepFraction = 0.05
    /// A layer stops pruning early when the variance of its masks exceeds this.
    public var maskVarianceBound = 0.25
    /// MLP widths are kept at multiples of this (Q8_0/Q4 rows hold 32 values).
    public var channelGranularity = 32
    /// Every kept block keeps the same shape (for architectures without per-layer shapes in llama.cpp).
    public var uniformShapes = false
    /// Largest least-squares system solved at once (its memory is about 4·n² doubles).
    public var maxSystemSize = 2048

    public init() {}

    /// The share of the target each method takes as whole blocks.
    public var effectiveLayerShare: Double {
        switch method {
        case .comp: return layerShare ?? PruneSettings.standardLayerShare
        case .layers: return 1
        case .magnitude, .wandaSP, .flap: return 0
        }
    }

    /// Whole blocks a run at `ratio` drops, given every block's parameter count (never the
    /// first or the last block). The pruner and the budget planner both count with this, so
    /// the planner's footprint knows how many blocks' KV cache the pruned model still needs.
    public func blocksToDrop(ratio: Double, totalParameters: Int, layerParameters: [Int]) -> Int {
        let blocks = layerParameters.count
        guard blocks > 2 else { return 0 }
        let meanLayer = Double(layerParameters.reduce(0, +)) / Double(blocks)
        let target = Double(Int(ratio * Double(totalParameters)))
        return min(blocks - 2, Int((target * effectiveLayerShare / meanLayer).rounded()))
    }
}
