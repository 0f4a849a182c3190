import CKernels
import GGUF

/// The elementwise and normalisation steps of the forward pass, in f32.
public enum Ops {
    /// RMSNorm: `out = x / sqrt(mean(x²) + eps) * weight`.
    @inline(__always)
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count n: Int, eps: Float,
                               into out: UnsafeMutablePointer<Float>) {
        var sum: Double = 0
        for i in 0..<n { sum += Double(x[i] * x[i]) }
        let scale = Float(1.0 / (sum / Double(n) + Double(eps)).squareRoot())
        for i in 0..<n { out[i] = x[i] * scale * weight[i] }
    }

    /// SwiGLU in place: `gate = silu(gate) * up`.
    @inline(__always)
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// GeGLU in place: `gate = gelu(gate) * up`, with GELU's tanh form (as Gemma and ggml use).
    @inline(__always)
    public static func geGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        let c: Float = 0.7978845608028654  // sqrt(2/pi)
        for i in 0..<n {
            let g = gate[i]
            gate[i] = 0.5 * g * (1 + tanhf(c * (g + 0.044715 * g * g * g))) * up[i]
        }
    }

    /// `y += x`.
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { y[i] += x[i] }
    }

    /// Softmax in place over `n` values.
    @inline(__always)
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var maxValue = -Float.infinity
        for i in 0..<n where x[i] > maxValue { maxValue = x[i] }
        var sum: Float = 0
        for i in 0..<n {
            let e = expf(x[i] - maxValue)
            x[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<n { x[i] *= inv }
    }
}

#if canImport(Glibc)
import Glibc
#endif
