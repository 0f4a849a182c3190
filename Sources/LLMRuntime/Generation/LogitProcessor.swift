/// Adjusts logits before sampling, given the tokens seen so far.
public protocol LogitProcessor {
    func process(_ logits: UnsafeMutablePointer<Float>, count: Int, history: ArraySlice<Int32>)
}

/// llama.cpp's repetition penalty: a token among the last `window` tokens has its positive
/// logit divided by `penalty` and its negative logit multiplied by it.
public struct RepetitionPenalty: LogitProcessor {
    public var penalty: Float
    public var window: Int

    public init(penalty: Float, window: Int = 64) {
        self.penalty = penalty
        self.window = window
    }

    public func process(_ logits: UnsafeMutablePointer<Float>, count: Int, history: ArraySlice<Int32>) {
        guard penalty != 1, window != 0 else { return }
        let recent = window < 0 ? history : history.suffix(window)
        for token in Set(recent) where Int(token) < count && token >= 0 {
            let l = logits[Int(token)]
            logits[Int(token)] = l > 0 ? l / penalty : l * penalty
        }
    }
}

/// OpenAI's presence and frequency penalties (as llama.cpp applies them): a token seen `count`
/// times among the last `window` tokens loses `count * frequency + presence` from its logit.
public struct PresenceFrequencyPenalty: LogitProcessor {
    public var presence: Float
    public var frequency: Float
    public var window: Int

    public init(presence: Float, frequency: Float, window: Int = 64) {
        self.presence = presence
        self.frequency = frequency
        self.window = window
    }

    public func process(_ logits: UnsafeMutablePointer<Float>, count: Int, history: ArraySlice<Int32>) {
        guard window != 0 else { return }
        let recent = window < 0 ? history : history.suffix(window)
        var counts: [Int32: Int] = [:]
        for token in recent where Int(token) < count && token >= 0 { counts[token, default: 0] += 1 }
        for (token, n) in counts { logits[Int(token)] -= Float(n) * frequency + presence }
    }
}
