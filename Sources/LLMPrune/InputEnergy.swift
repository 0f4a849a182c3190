/// The mean square of each input of a projection over the calibration tokens. Requantizing a
/// matrix to a 4-bit format fits each block to these (`lr_quantize_row_fit`): an error in a
/// weight costs that weight's input energy in the output, so the inputs that carry the most
/// signal get the finest levels.
struct InputEnergy {
    private(set) var sums: [Double]
    private(set) var rows = 0

    init(width: Int) { sums = [Double](repeating: 0, count: width) }

    /// Adds `rows` rows of `sums.count` values.
    mutating func add(_ p: UnsafePointer<Float>, rows n: Int) {
        let width = sums.count
        sums.withUnsafeMutableBufferPointer { s in
            for r in 0..<n {
                let row = p + r * width
                for c in 0..<width { s[c] += Double(row[c] * row[c]) }
            }
        }
        rows += n
    }

    /// The means, or nil if nothing was added. Each is at least a millionth of their average:
    /// an input that never fired on the calibration text may on other text, so its weights
    /// keep some say in the fit.
    var means: [Float]? {
        guard rows > 0 else { return nil }
        let means = sums.map { $0 / Double(rows) }
        let floor = means.reduce(0, +) / Double(max(means.count, 1)) * 1e-6
        return means.map { Float(max($0, floor)) }
    }
}

/// The input energies of one pruned block's projections, in the pruned block's own columns.
struct BlockInputEnergy {
    /// Of `wq`, `wk`, `wv`: the normalized block input (dim).
    var attention: [Float]?
    /// Of `wo`: the kept heads' output (qDim).
    var heads: [Float]?
    /// Of `gate`, `up`: the normalized input of the MLP (dim).
    var feedForward: [Float]?
    /// Of `down`: the kept channels' activations (ff).
    var hidden: [Float]?
}
