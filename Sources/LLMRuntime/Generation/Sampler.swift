/// Chooses the next token from logits.
public protocol Sampler {
    /// `logits` has `count` entries and may be modified.
    mutating func sample(_ logits: UnsafeMutablePointer<Float>, count: Int) -> Int32
}

/// Always the most likely token (the first one on a tie, like llama.cpp).
public struct GreedySampler: Sampler {
    public init() {}
    public mutating func sample(_ logits: UnsafeMutablePointer<Float>, count: Int) -> Int32 {
        var best = 0
        for i in 1..<count where logits[i] > logits[best] { best = i }
        return Int32(best)
    }
}

/// How a sequence chooses its tokens: the stochastic sampler's settings (llama.cpp's defaults)
/// and the penalties applied to the logits first. Temperature 0 means greedy.
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float = 0.8
    public var topK: Int = 40
    public var topP: Float = 0.95
    public var minP: Float = 0.05
    public var seed: UInt64 = 0
    /// llama.cpp's repeat penalty over the last `penaltyWindow` tokens (1 = off).
    public var repeatPenalty: Float = 1
    /// OpenAI's penalties over the same window: `count * frequency + (count > 0) * presence`
    /// is subtracted from a token's logit (0 = off).
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// Recent tokens the penalties look at (-1: all of them).
    public var penaltyWindow: Int = 64

    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05, seed: UInt64 = 0,
                repeatPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0, penaltyWindow: Int = 64) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.seed = seed
        self.repeatPenalty = repeatPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.penaltyWindow = penaltyWindow
    }

    /// Greedy at temperature 0, else the seeded stochastic sampler.
    public func makeSampler() -> AnySampler {
        temperature == 0 ? AnySampler(GreedySampler()) : AnySampler(StochasticSampler(self))
    }

    /// The logit processors these settings ask for, in the order they apply.
    public var processors: [any LogitProcessor] {
        var out: [any LogitProcessor] = []
        if repeatPenalty != 1 { out.append(RepetitionPenalty(penalty: repeatPenalty, window: penaltyWindow)) }
        if presencePenalty != 0 || frequencyPenalty != 0 {
            out.append(PresenceFrequencyPenalty(presence: presencePenalty, frequency: frequencyPenalty, window: penaltyWindow))
        }
        return out
    }
}

/// A sampler chosen at run time.
public struct AnySampler: Sampler {
    private var base: any Sampler
    public init(_ base: any Sampler) { self.base = base }
    public mutating func sample(_ logits: UnsafeMutablePointer<Float>, count: Int) -> Int32 {
        base.sample(logits, count: count)
    }
}

/// top-k → top-p → min-p → temperature → a draw, in llama.cpp's order, from a seeded generator
/// (same seed, same tokens on every machine).
public struct StochasticSampler: Sampler {
    public var parameters: SamplingParameters
    private var rng: SplitMix64
    private var candidates: [(id: Int32, logit: Float)] = []

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SplitMix64(seed: parameters.seed)
    }

    public mutating func sample(_ logits: UnsafeMutablePointer<Float>, count: Int) -> Int32 {
        let p = parameters
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<count where logits[i] > -Float.infinity { candidates.append((Int32(i), logits[i])) }
        if candidates.isEmpty { return 0 }
        // Sorting all 50k-150k entries each token costs more than the model at this size:
        // partially select the top k first.
        let k = p.topK > 0 ? min(p.topK, candidates.count) : candidates.count
        if k < candidates.count {
            candidates = Array(candidates.partialTop(k))
        }
        candidates.sort { $0.logit > $1.logit }

        // Probabilities of the survivors (at temperature 1 for the top-p and min-p cuts, as llama.cpp).
        var probs = softmaxProbabilities(scale: 1)
        if p.topP < 1 {
            var cumulative: Float = 0
            var keep = candidates.count
            for (i, q) in probs.enumerated() {
                cumulative += q
                if cumulative >= p.topP { keep = i + 1; break }
            }
            candidates.removeLast(candidates.count - keep)
            probs = softmaxProbabilities(scale: 1)
        }
        if p.minP > 0, let top = probs.first {
            let threshold = top * p.minP
            let keep = max(1, probs.firstIndex(where: { $0 < threshold }) ?? probs.count)
            candidates.removeLast(candidates.count - keep)
        }
        if p.temperature <= 0 { return candidates[0].id }
        probs = softmaxProbabilities(scale: 1 / p.temperature)
        let r = Float(rng.nextUnitDouble())
        var cumulative: Float = 0
        for (i, q) in probs.enumerated() {
            cumulative += q
            if r < cumulative { return candidates[i].id }
        }
        return candidates[candidates.count - 1].id
    }

    private func softmaxProbabilities(scale: Float) -> [Float] {
        guard let maxLogit = candidates.first?.logit else { return [] }
        var out = candidates.map { expf(($0.logit - maxLogit) * scale) }
        let sum = out.reduce(0, +)
        for i in out.indices { out[i] /= sum }
        return out
    }
}

extension Array where Element == (id: Int32, logit: Float) {
    /// The `k` largest by logit, in no particular order (quickselect, O(n)).
    fileprivate func partialTop(_ k: Int) -> ArraySlice<Element> {
        var a = self
        var lo = 0, hi = a.count - 1
        while lo < hi {
            let pivot = a[(lo + hi) / 2].logit
            var i = lo, j = hi
            while i <= j {
                while a[i].logit > pivot { i += 1 }
                while a[j].logit < pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { break }
        }
        return a[0..<k]
    }
}

/// A small, fast, seedable generator with the same sequence on every platform.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnitDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

#if canImport(Glibc)
import Glibc
#endif
