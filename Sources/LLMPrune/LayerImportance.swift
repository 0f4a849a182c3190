import LLMRuntime

/// Block importance (ShortGPT's BI): 1 − mean over tokens of cos(x_in, x_out). A block that
/// barely turns the residual stream can go with little loss.
public enum LayerImportance {
    /// Mean cosine similarity between matching rows of two activation sets.
    public static func meanCosine(_ a: Activations, _ b: Activations) -> Double {
        var total = 0.0
        for r in 0..<a.rows {
            let x = a.row(r), y = b.row(r)
            var xy = 0.0, xx = 0.0, yy = 0.0
            for i in 0..<a.width {
                xy += Double(x[i] * y[i]); xx += Double(x[i] * x[i]); yy += Double(y[i] * y[i])
            }
            total += xx > 0 && yy > 0 ? xy / (xx * yy).squareRoot() : 1
        }
        return total / Double(a.rows)
    }

    /// Which layers to drop: the `count` least important, never the first or the last.
    public static func layersToDrop(scores: [Double], count: Int) -> [Int] {
        let candidates = Array(1..<max(1, scores.count - 1))
        let ranked = candidates.sorted { scores[$0] < scores[$1] }
        return Array(ranked.prefix(max(0, min(count, candidates.count)))).sorted()
    }
}
