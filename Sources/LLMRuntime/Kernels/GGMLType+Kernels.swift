import CKernels
import GGUF

/// How the runtime runs a matrix stored in each format, in one place (the Swift side of
/// CKernels' type_traits.h): which formats the kernels take as the file stores them, which are
/// re-packed block by block into a kernel format holding the same quants, which stay in their
/// file bytes and are decoded per tile at mat-mul time, and which are converted (dequantized,
/// then quantized again as Q8_0). A new kernel format changes this
/// switch, its row in type_traits.h and its kernels.
extension GGMLType {
    public enum KernelHandling: Equatable, Sendable {
        /// The file's bytes are the kernels' (interleaved x8 at load where the backend prefers).
        case native
        /// Re-packed into `to` without requantizing: the same quants with one f16 scale (and
        /// min) per 32 values, so only the scales' rounding changes.
        case repacked(to: GGMLType)
        /// Kept in the file's bytes; each group of 8 rows is decoded into `to` (Q8_0) in a
        /// per-thread scratch at mat-mul time and run through `to`'s kernels for every token of
        /// the batch (CKernels' decode_tile.c): memory at the file's size, the products the
        /// same as a Q8_0 copy's.
        case decodedPerTile(to: GGMLType)
        /// Dequantized and quantized again as `to` with the reference rounding.
        case converted(to: GGMLType)
    }

    public var kernelHandling: KernelHandling {
        // IQ1/IQ2/IQ3, TQ1_0/TQ2_0 and Q1_0/Q2_0 (CKernels' lr_decoded_per_tile says which): at
        // 1.1-3.4 bits a value, a Q8_0 copy took up to 7x their size and the Q4_1 mapping (IQ3,
        // IQ1) up to 3x; decoding 8 rows at a time keeps them at their size (see
        // docs/measurements.md, "formats").
        if lr_tile_decode_format(Int32(rawValue)) == Int32(GGMLType.q8_0.rawValue) { return .decodedPerTile(to: .q8_0) }
        return switch self {
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_nl: .native
        // Q4_K and Q5_K run in the file's own super-blocks (4.5 and 5.5 bits a value, against the
        // 5 and 6 of the Q4_1 / Q5_1 re-packs): Qwen2.5 Q4_K_M generates 1.16x (1.5B) and 1.26x
        // (0.5B) as fast with 17% less peak memory, for prompts at 0.87-0.92x of the re-packs
        // (docs/measurements.md); on a small box memory and generation come first. Q6_K too
        // (6.56 bits a value against its Q8_0 copy's 8.5) since its x8 chunks sit in the order its
        // kernels read them (17 GB/s a core from memory, against 6-7): the 1.5B then generates
        // 1.15x llama.cpp's speed (0.91x with the copies) and holds exactly the file's tensor bytes.
        case .q4_K, .q5_K, .q6_K: .native
        // Q2_K and Q3_K too (2.6 and 3.4 bits a value), in x8 kernels that read their 16-value
        // sub-blocks as Q6_K's: decoded per tile to Q8_0 instead, every token paid ~1.3 ns a value
        // (Qwen2.5-0.5B Q2_K generated at 0.19x llama.cpp's speed; docs/measurements.md).
        case .q2_K, .q3_K: .native
        case .iq4_xs: .repacked(to: .iq4_nl)
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

    /// The format a matrix stored as this type is held in at run time: its own when the kernels
    /// read the file's bytes (native, or decoded per tile), else what the load makes of it.
    public var kernelType: GGMLType {
        switch kernelHandling {
        case .native, .decodedPerTile: self
        case .repacked(let t), .converted(let t): t
        }
    }

    /// Whether a matrix of this type is used in the file's bytes (mapped, never converted).
    public var runsFromFileBytes: Bool {
        switch kernelHandling {
        case .native, .decodedPerTile: true
        default: false
        }
    }

    /// What a matrix stored as this type runs as, for `info`: "Q4_K", "decoded per tile from
    /// IQ2_XXS to Q8_0", "Q4_1 (re-packed from Q4_K)".
    public var runsAsDescription: String {
        switch kernelHandling {
        case .native: "\(self)"
        case .decodedPerTile(let t): "decoded per tile from \(self) to \(t)"
        case .repacked(let t): "\(t) (re-packed from \(self))"
        case .converted(let t): "\(t) (converted from \(self))"
        }
    }

    /// The row re-packer for a `.repacked` type (one row of `count` values), else nil.
    var rowRepacker: ((UnsafeRawPointer?, UnsafeMutableRawPointer?, Int64) -> Void)? {
        switch self {
        case .q4_K: lr_convert_row_q4_K_to_q4_1
        case .q5_K: lr_convert_row_q5_K_to_q5_1
        case .iq4_xs: lr_convert_row_iq4_xs_to_iq4_nl
        default: nil
        }
    }
}
