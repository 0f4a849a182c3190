/// A tensor element format as numbered by ggml (the ids stored in GGUF files).
///
/// Every format stores values in blocks: `blockSize` values packed into `typeSize` bytes.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3
    case q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20
    case iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28
    case iq1_m = 29, bf16 = 30, tq1_0 = 34, tq2_0 = 35
    /// ggml's sign format (each value +d or -d, 128 a block) and its 2-bit one (levels -1..2, 64 a block).
    case q1_0 = 41, q2_0 = 42

    /// Values per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl: return 32
        case .q1_0: return 128
        case .q2_0: return 64
        default: return 256
        }
    }

    /// Bytes per block.
    public var typeSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8: return 1
        case .i64, .f64: return 8
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q8_1: return 36
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .q8_K: return 292
        case .iq2_xxs: return 66
        case .iq2_xs: return 74
        case .iq3_xxs: return 98
        case .iq1_s: return 50
        case .iq4_nl: return 18
        case .iq3_s: return 110
        case .iq2_s: return 82
        case .iq4_xs: return 136
        case .iq1_m: return 56
        case .tq1_0: return 54
        case .tq2_0: return 66
        case .q1_0, .q2_0: return 18
        }
    }

    /// The name llama.cpp prints for this type ("Q4_K", "F32").
    public var description: String { rawName.uppercased() }

    /// Parses a name such as "q8_0" or "Q4_K" (case-insensitive).
    public init?(name: String) {
        let wanted = name.lowercased()
        guard let found = GGMLType.allCases.first(where: { $0.description.lowercased() == wanted }) else { return nil }
        self = found
    }

    /// Bytes taken by `count` values, or nil when `count` is not a whole number of blocks
    /// or the product overflows.
    public func byteCount(forElements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: typeSize)
        return overflow ? nil : bytes
    }
}

extension GGMLType {
    fileprivate var rawName: String {
        switch self {
        case .f32: "f32"; case .f16: "f16"; case .bf16: "bf16"; case .f64: "f64"
        case .q4_0: "q4_0"; case .q4_1: "q4_1"; case .q5_0: "q5_0"; case .q5_1: "q5_1"
        case .q8_0: "q8_0"; case .q8_1: "q8_1"
        case .q2_K: "q2_K"; case .q3_K: "q3_K"; case .q4_K: "q4_K"; case .q5_K: "q5_K"; case .q6_K: "q6_K"; case .q8_K: "q8_K"
        case .iq2_xxs: "iq2_xxs"; case .iq2_xs: "iq2_xs"; case .iq3_xxs: "iq3_xxs"; case .iq1_s: "iq1_s"
        case .iq4_nl: "iq4_nl"; case .iq3_s: "iq3_s"; case .iq2_s: "iq2_s"; case .iq4_xs: "iq4_xs"; case .iq1_m: "iq1_m"
        case .i8: "i8"; case .i16: "i16"; case .i32: "i32"; case .i64: "i64"
        case .tq1_0: "tq1_0"; case .tq2_0: "tq2_0"; case .q1_0: "q1_0"; case .q2_0: "q2_0"
        }
    }
}

extension GGMLType {
    /// llama.cpp's `general.file_type` (llama_ftype) for a file whose matrices are mostly of this
    /// format, for the formats llmrun writes (nil for the others).
    public var llamaFileType: UInt32? {
        switch self {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 7
        case .iq4_nl: 25
        default: nil
        }
    }
}
