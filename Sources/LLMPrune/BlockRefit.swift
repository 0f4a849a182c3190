import Foundation
import LLMRuntime

/// How the refit trains each pruned MLP.
public struct RefitSettings: Sendable, Equatable {
    /// Adam steps at most (0: no refit, the mask-tuned block is written as it is).
    public var steps = 0
    public var learningRate = 3e-4
    /// Calibration tokens per mini-batch.
    public var batchTokens = 1024
    /// Held-out error is measured every this many steps; the best parameters so far are kept,
    /// and the refit stops after `patience` measurements without improvement.
    public var evaluateEvery = 25
    public var patience = 2
    /// Whose activations feed each block's MLP in the refit.
    public var input: RefitInput = .pruned
    public init() {}
}

/// What the refit trains each block's MLP on.
public enum RefitInput: String, Sendable, CaseIterable, Codable {
    /// The pruned model's activations, toward the target `--target` chooses (the dense stream's
    /// position by default).
    case pruned
    /// The dense model's activations at that block, toward the dense MLP's output on them.
    case dense
}

/// What the refit of one block did.
public struct RefitOutcome: Sendable {
    public var steps: Int
    /// Held-out mean squared error before and after.
    public var heldOutBefore: Double
    public var heldOutAfter: Double
}

/// Local reconstruction of one pruned block's MLP: its kept weights, in f32, trained by Adam to
/// bring the MLP's output on the calibration tokens closer to a target (the dense MLP's output,
/// or the dense stream's position less the pruned stream's), with early stopping on held-out
/// sequences so it keeps whatever measured best there, the mask-tuned start included.
enum BlockRefit {
    /// - Parameters:
    ///   - inputs: the MLP's normalized input per token (tokens, dim).
    ///   - target: what its output should be (tokens, dim).
    ///   - sequenceLength: tokens per calibration sequence; whole sequences are held out.
    ///   - trainBias: false where the architecture's loaders read no MLP bias (it stays as it starts).
    static func fit(_ start: SwiGLUParameters, inputs: Activations, target: Activations, sequenceLength: Int,
                    settings: RefitSettings, seed: UInt64, trainBias: Bool = true, pool: ThreadPool?) -> (SwiGLUParameters, RefitOutcome) {
        let dim = start.dim, tokens = inputs.rows
        let sequences = max(1, tokens / max(sequenceLength, 1))
        // An eighth of the sequences held out (at least one, when there are two or more).
        let heldSequences = sequences >= 2 ? max(1, sequences / 8) : 0
        let trainRows = heldSequences > 0 ? (sequences - heldSequences) * sequenceLength : tokens
        let batch = max(1, min(settings.batchTokens, trainRows))
        let gradient = SwiGLUGradient(dim: dim, width: start.width, maxRows: batch, pool: pool)
        let xb = UnsafeMutablePointer<Float>.allocate(capacity: batch * dim)
        let tb = UnsafeMutablePointer<Float>.allocate(capacity: batch * dim)
        defer { xb.deallocate(); tb.deallocate() }

        func heldOutError(_ p: [Float]) -> Double {
            guard heldSequences > 0 else { return 0 }
            var sum = 0.0, r0 = trainRows
            p.withUnsafeBufferPointer { pp in
                while r0 < tokens {
                    let n = min(batch, tokens - r0)
                    sum += gradient.squaredError(pp.baseAddress!, x: inputs.row(r0), target: target.row(r0), rows: n)
                    r0 += n
                }
            }
            return sum / Double((tokens - trainRows) * dim)
        }

        var params = start.values
        var best = params
        let before = heldOutError(params)
        var bestError = before
        var grad = [Float](repeating: 0, count: params.count)
        var adam = Adam(count: params.count, learningRate: Float(settings.learningRate))
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<trainRows)
        var cursor = trainRows
        var sinceBest = 0, step = 0
        while step < settings.steps {
            // Tokens drawn without replacement, reshuffled each pass over the training rows.
            for i in 0..<batch {
                if cursor == trainRows { order.shuffle(using: &rng); cursor = 0 }
                let r = order[cursor]; cursor += 1
                (xb + i * dim).update(from: inputs.row(r), count: dim)
                (tb + i * dim).update(from: target.row(r), count: dim)
            }
            _ = params.withUnsafeBufferPointer { p in
                grad.withUnsafeMutableBufferPointer { g in
                    gradient.meanSquaredError(p.baseAddress!, x: xb, target: tb, rows: batch, gradient: g.baseAddress!)
                }
            }
            if !trainBias { for i in start.biasOffset..<grad.count { grad[i] = 0 } }
            adam.step(&params, grad)
            step += 1
            if step % settings.evaluateEvery == 0 || step == settings.steps {
                guard heldSequences > 0 else { best = params; continue }
                let e = heldOutError(params)
                if e < bestError {
                    bestError = e
                    best = params
                    sinceBest = 0
                } else {
                    sinceBest += 1
                    if sinceBest >= settings.patience { break }
                }
            }
        }
        var out = start
        out.values = best
        return (out, RefitOutcome(steps: step, heldOutBefore: before, heldOutAfter: bestError))
    }
}

/// Adam (Kingma & Ba) with the usual β₁ = 0.9, β₂ = 0.999.
struct Adam {
    var m: [Float], v: [Float]
    let learningRate: Float
    let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    var t = 0

    init(count: Int, learningRate: Float) {
        m = [Float](repeating: 0, count: count)
        v = [Float](repeating: 0, count: count)
        self.learningRate = learningRate
    }

    mutating func step(_ p: inout [Float], _ g: [Float]) {
        t += 1
        let c1 = 1 - pow(beta1, Float(t)), c2 = 1 - pow(beta2, Float(t))
        let lr = learningRate / c1, b1 = beta1, b2 = beta2, eps = epsilon
        let sqrtC2 = c2.squareRoot()
        p.withUnsafeMutableBufferPointer { pp in
            m.withUnsafeMutableBufferPointer { mm in
                v.withUnsafeMutableBufferPointer { vv in
                    g.withUnsafeBufferPointer { gg in
                        for i in 0..<gg.count {
                            let gi = gg[i]
                            mm[i] = b1 * mm[i] + (1 - b1) * gi
                            vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
                            pp[i] -= lr * mm[i] / (vv[i].squareRoot() / sqrtC2 + eps)
                        }
                    }
                }
            }
        }
    }
}
