import CKernels
import GGUF
import LLMRuntime
import TestSupport

/// Random blocks of the formats the runtime reads in their own bytes, and tiny models made of
/// them: DecodedPerTileTests and KQuant23ForwardTests compare such a model with a Q8_0 twin.
enum RandomBlocks {
    /// Random blocks of `type`, `count` of 256 values: random bytes (every grid index, sign,
    /// sub-scale and quant occurs) with each block's f16 scale set to a quantizer's size (IQ1_M's
    /// is spread over the top nibbles of its four sub-block scales; Q2_K also has a min scale).
    static func of(_ type: GGMLType, count: Int, rng: inout SplitMix64) -> [UInt8] {
        if type.blockSize < 256 {  // Q1_0, Q2_0: 128 and 64 values, the scale first
            return (0..<(count * 256 / type.blockSize)).flatMap { _ -> [UInt8] in
                let d = lr_f32_to_f16(Float(5 + rng.next() % 95) / 10000)
                return [UInt8(d & 0xFF), UInt8(d >> 8)] + (2..<type.typeSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
        let bytes = type.byteCount(forElements: 256)!
        let dAt: Int? = switch type {
        case .q2_K: 80
        case .q3_K: 108
        case .tq1_0: 52
        case .tq2_0: 64
        case .iq1_m: nil
        default: 0
        }
        var out = [UInt8]()
        out.reserveCapacity(bytes * count)
        for _ in 0..<count {
            var b = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let d = lr_f32_to_f16(Float(5 + rng.next() % 95) / 10000)
            if let at = dAt {
                b[at] = UInt8(d & 0xFF); b[at + 1] = UInt8(d >> 8)
            } else {
                for i in 0..<4 { b[49 + 2 * i] = b[49 + 2 * i] & 0x0F | UInt8((d >> (4 * i)) & 0xF) << 4 }
            }
            if type == .q2_K {
                let m = lr_f32_to_f16(Float(rng.next() % 100) / 10000)
                b[82] = UInt8(m & 0xFF); b[83] = UInt8(m >> 8)
            }
            out += b
        }
        return out
    }

    /// A tiny model (hidden 256, two blocks, 4 heads) whose block matrices and untied output
    /// hold `blocks(rng, count)` (count: 256-value units; rng seeded by the tensor's name), stored
    /// as `type`, or as Q8_0 rows made by `twin(raw, columns, rows)` when it is given.
    static func model(_ type: GGMLType, blocks: @escaping (inout SplitMix64, Int) -> [UInt8],
                      twin: (([UInt8], Int, Int) -> [UInt8]?)? = nil) -> TinyModel {
        var t = TinyModel()
        t.hiddenSize = 256
        t.headDim = 64
        t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 512), count: 2)
        t.matrixType = twin == nil ? type : .q8_0
        t.tiedOutput = false  // the output's rows (the vocabulary) end in a partial group of 8
        t.tensorBytes = { desc in
            guard desc.shape.count == 2, desc.name != "token_embd.weight" else { return nil }
            var rng = SplitMix64(seed: desc.name.utf8.reduce(UInt64(type.rawValue)) { $0 &* 31 &+ UInt64($1) })
            let (columns, rows) = (desc.shape[0], desc.shape[1])
            let raw = blocks(&rng, rows * columns / 256)
            guard let twin else { return raw }
            return twin(raw, columns, rows)
        }
        return t
    }
}
