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

    /// The gated MLP activation in place: `gate = act(gate) * up` (SiLU for SwiGLU, GELU's tanh
    /// form for Gemma's GeGLU). SIMD kernels (see CKernels/glu.c); `lr_*_scalar` are the definitions.
    @inline(__always)
    public static func gate(_ activation: GateActivation, gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>,
                            count n: Int) {
        switch activation {
        case .silu: lr_swiglu(gate, up, Int64(n))
        case .geluTanh: lr_geglu(gate, up, Int64(n))
        }
    }

    /// `y += x`.
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { y[i] += x[i] }
    }
}

#if canImport(Glibc)
import Glibc
#endif
