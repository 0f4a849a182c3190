import CKernels
import GGUF

/// How the runtime runs a matrix stored in each format, in one place (the Swift side of
/// CKernels' type_traits.h): which formats the kernels take as the file stores them, which are
/// re-packed block by block into a kernel format holding the same quants, and which are
/// converted (dequantized, then quantized again as Q8_0). A new kernel format changes this
/// switch, its row in type_traits.h and its kernels.
extension GGMLType {
    public enum KernelHandling: Equatable, Sendable {
        /// The file's bytes are the kernels' (interleaved x8 at load where the backend prefers).
        case native
        /// Re-packed into `to` without requantizing: the same quants with one f16 scale (and
        /// min) per 32 values, so only the scales' rounding changes.
        case repacked(to: GGMLType)
        /// Mapped level by level onto `to`'s evenly spaced levels (the grid-coded IQ1/IQ2/IQ3
        /// formats as Q4_1: exact for IQ3_S and IQ1_S, within 1.4% of the largest level for the
        /// others; sub-blocks with two scales fitted by least squares. TQ1_0/TQ2_0 as Q4_0, exactly).
        case mapped(to: GGMLType)
        /// Dequantized and quantized again as `to` with the reference rounding.
        case converted(to: GGMLType)
    }

    public var kernelHandling: KernelHandling {
        switch self {
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_nl: .native
        // Q4_K and Q5_K run in the file's own super-blocks (4.5 and 5.5 bits a value, against the
        // 5 and 6 of the Q4_1 / Q5_1 re-packs): Qwen2.5 Q4_K_M generates 1.16x (1.5B) and 1.26x
        // (0.5B) as fast with 17% less peak memory, for prompts at 0.87-0.92x of the re-packs
        // (docs/measurements.md); on a small box memory and generation come first. Q6_K too
        // (6.56 bits a value against its Q8_0 copy's 8.5) since its x8 chunks sit in the order its
        // kernels read them (17 GB/s a core from memory, against 6-7): the 1.5B then generates
        // 1.15x llama.cpp's speed (0.91x with the copies) and holds exactly the file's tensor bytes.
        case .q4_K, .q5_K, .q6_K: .native
        case .iq4_xs: .repacked(to: .iq4_nl)
        // 3-bit and IQ1 codebook formats: Q4_1 (5 bits a value) holds their levels, where Q4_0's
        // grid has no zero-free symmetric levels (IQ3's odd multiples, IQ1's shifted -1/0/1).
        // IQ2's +-8/25/43 do not sit on an even grid: mapped to Q4_1 (8 -> 8.5), SmolLM2 IQ2_XXS
        // scored wiki perplexity 351 against llama.cpp's 271, so IQ2 takes Q8_0 copies.
        case .iq3_xxs, .iq3_s, .iq1_s, .iq1_m: .mapped(to: .q4_1)
        // Ternary levels with one scale per 256 values: Q4_0 codes 7..10 under that scale.
        case .tq1_0, .tq2_0: .mapped(to: .q4_0)
        default: .converted(to: .q8_0)
        }
    }

    /// A kernel format this library also quantizes f32 rows into (the pruner's and quantizer's
    /// outputs): the 32-value formats; the K-quants are run, not written.
    public var isQuantizableKernelFormat: Bool {
        kernelHandling == .native && blockSize == 32
    }

    /// The format edited values of a matrix stored as this type are quantized into (pruning's
    /// column edits): itself when this library writes it; the 32-value format that holds the same
    /// quants for the K-quants it runs natively (Q4_1 for Q4_K, Q5_1 for Q5_K); Q8_0 else.
    public var editedFormat: GGMLType {
        if isQuantizableKernelFormat { return self }
        switch self {
        case .q4_K: return .q4_1
        case .q5_K: return .q5_1
        default: return kernelType.isQuantizableKernelFormat ? kernelType : .q8_0
        }
    }

    /// The format a matrix stored as this type runs in.
    public var kernelType: GGMLType {
        switch kernelHandling {
        case .native: self
        case .repacked(let t), .mapped(let t), .converted(let t): t
        }
    }

    /// The row re-packer for a `.repacked` or `.mapped` type (one row of `count` values), else nil.
    var rowRepacker: ((UnsafeRawPointer?, UnsafeMutableRawPointer?, Int64) -> Void)? {
        switch self {
        case .q4_K: lr_convert_row_q4_K_to_q4_1
        case .q5_K: lr_convert_row_q5_K_to_q5_1
        case .iq4_xs: lr_convert_row_iq4_xs_to_iq4_nl
        case .iq3_xxs, .iq3_s, .iq1_s, .iq1_m:
            { [raw = Int32(rawValue)] src, dst, n in _ = lr_convert_row_iq_grid_to_q4_1(raw, src, dst, n) }
        case .tq1_0, .tq2_0:
            { [raw = Int32(rawValue)] src, dst, n in _ = lr_convert_row_ternary_to_q4_0(raw, src, dst, n) }
        default: nil
        }
    }
}
