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
