import CKernels
import Foundation

/// Deterministic random numbers for kernel tests (SplitMix64).
struct KernelRNG {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) * 0x1p-24
    }

    /// An int8 quantized value as a quantizer writes them: -127...127.
    mutating func q8() -> UInt8 { UInt8(bitPattern: Int8(Int(next() % 255) - 127)) }
}

/// The three weight formats with native dot products, and their GGUF block sizes.
enum DotType: CaseIterable {
    case q8_0, q4_0, q4_1

    var ggmlType: Int32 {
        switch self {
        case .q8_0: return Int32(LR_TYPE_Q8_0)
        case .q4_0: return Int32(LR_TYPE_Q4_0)
        case .q4_1: return Int32(LR_TYPE_Q4_1)
        }
    }

    var blockBytes: Int {
        switch self {
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        }
    }

    typealias Dot = (Int32, UnsafeMutablePointer<Float>?, UnsafeRawPointer?, UnsafeRawPointer?) -> Void

    var scalarDot: Dot {
        switch self {
        case .q8_0: return lr_vec_dot_q8_0_q8_0_scalar
        case .q4_0: return lr_vec_dot_q4_0_q8_0_scalar
        case .q4_1: return lr_vec_dot_q4_1_q8_0_scalar
        }
    }

    var dispatchedDot: Dot {
        switch self {
        case .q8_0: return lr_vec_dot_q8_0_q8_0
        case .q4_0: return lr_vec_dot_q4_0_q8_0
        case .q4_1: return lr_vec_dot_q4_1_q8_0
        }
    }

    /// Random weight blocks with f16 scales of realistic size.
    func randomBlocks(_ count: Int, _ rng: inout KernelRNG) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(count * blockBytes)
        for _ in 0..<count {
            appendHalf(lr_f32_to_f16(rng.uniform(0.001, 0.05)), to: &bytes)
            switch self {
            case .q8_0:
                for _ in 0..<32 { bytes.append(rng.q8()) }
            case .q4_0:
                for _ in 0..<16 { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
            case .q4_1:
                appendHalf(lr_f32_to_f16(rng.uniform(-0.4, 0.1)), to: &bytes)
                for _ in 0..<16 { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
            }
        }
        return bytes
    }

    /// Sum of |terms| of the dot product of one weight row with one activation row: the scale
    /// against which float rounding differences are judged (integer parts are exact).
    func magnitude(weights w: UnsafePointer<UInt8>, activations a: UnsafePointer<UInt8>, count n: Int) -> Double {
        var total = 0.0
        for b in 0..<(n / 32) {
            let wb = w + b * blockBytes
            let ab = a + b * 34
            let d = abs(Double(half(wb)) * Double(half(ab)))
            var isum = 0.0, asum = 0.0
            for j in 0..<32 {
                let av = abs(Double(Int8(bitPattern: ab[2 + j])))
                let q: Double
                switch self {
                case .q8_0: q = abs(Double(Int8(bitPattern: wb[2 + j])))
                case .q4_0, .q4_1:
                    let byte = wb[(self == .q4_1 ? 4 : 2) + (j & 15)]
                    q = Double(j < 16 ? byte & 15 : byte >> 4) + (self == .q4_0 ? 8 : 0)
                }
                isum += q * av
                asum += av
            }
            total += d * isum
            if self == .q4_1 { total += abs(Double(half(wb + 2)) * Double(half(ab))) * asum }
        }
        return total
    }
}

/// Random Q8_0 activation blocks.
func randomActivations(_ count: Int, _ rng: inout KernelRNG) -> [UInt8] {
    var bytes = [UInt8]()
    bytes.reserveCapacity(count * 34)
    for _ in 0..<count {
        appendHalf(lr_f32_to_f16(rng.uniform(0.005, 0.2)), to: &bytes)
        for _ in 0..<32 { bytes.append(rng.q8()) }
    }
    return bytes
}

func appendHalf(_ h: UInt16, to bytes: inout [UInt8]) {
    bytes.append(UInt8(h & 0xFF))
    bytes.append(UInt8(h >> 8))
}

/// The little-endian half stored at p, as f32.
func half(_ p: UnsafePointer<UInt8>) -> Float { lr_f16_to_f32(UInt16(p[0]) | UInt16(p[1]) << 8) }

/// SIMD backends this CPU can run (forcing each in turn); the scalar one is the oracle.
func availableSIMDBackends() -> [String] {
    let candidates: [String] = ["avx512vnni", "avx2", "neon", "neon+dotprod"]
    let names = candidates.filter { lr_kernels_force($0) == 0 }
    _ = lr_kernels_force("auto")
    return names
}

/// A sum in double of `count` products, and the sum of their magnitudes (the scale of the
/// rounding error an f32 kernel may make on it).
func referenceSum(_ count: Int, startingAt start: Double = 0, _ term: (Int) -> Double) -> (sum: Double, magnitude: Double) {
    var sum = start, magnitude = 0.0
    for i in 0..<count {
        let t = term(i)
        sum += t
        magnitude += abs(t)
    }
    return (sum, magnitude)
}
