import Foundation
import GGUF
import LLMRuntime

/// Writes small random LLaMA-architecture GGUF models for tests: a byte-level BPE vocabulary
/// (256 byte tokens, a few merges, ChatML specials) and random weights in the chosen format.
public struct TinyModel {
    public var hiddenSize = 64
    public var layers: [LayerShape] = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 128), count: 2)
    public var headDim = 16
    public var contextLength = 256
    public var matrixType: GGMLType = .q8_0
    public var embeddingType: GGMLType = .q8_0
    public var tiedOutput = true
    public var architecture = "llama"
    public var seed: UInt64 = 42
    /// Written as per-layer arrays even when all layers agree (as pruned models are).
    public var perLayerArrays = false
    /// Give every MLP an `ffn_down.bias`, as pruned models have.
    public var mlpBias = false
    /// Give every attention output projection an `attn_output.bias`, as pruned models have.
    public var outputBiases = false
    /// For `architecture = "gemma3"`: the sliding window, and the period of global layers
    /// (layer i is windowed unless i % period == period - 1).
    public var slidingWindow = 3
    public var slidingWindowPeriod = 2
    /// Token strings in place of the byte-level vocabulary (the last three are the control
    /// tokens); a short list makes a model of a few kB (the fuzzers' seeds).
    public var vocabularyOverride: [String]? = nil
    /// Metadata values written in place of the ones the fields above give (for corrupt-file tests).
    public var metadataOverrides: [String: GGUFValue] = [:]
    /// Metadata added after the rest, and keys left out (for corrupt-file tests).
    public var extraMetadata: [(key: String, value: GGUFValue)] = []
    public var omittedMetadata: Set<String> = []
    /// Tensors left out, and shapes written in place of the right ones with random values
    /// (for corrupt-file tests).
    public var omittedTensors: Set<String> = []
    public var shapeOverrides: [String: [Int]] = [:]
    /// Bytes written for a tensor in place of its quantized random values (nil: quantize them),
    /// for formats this library reads but does not write (Q2_K, Q3_K, the IQ1/IQ2/IQ3 types).
    public var tensorBytes: ((GGUFTensorDescriptor) -> [UInt8]?)? = nil

    public init() {}

    /// A tiny Gemma 3: one KV head per block (as gemma-3-270m), its extra norms, and windows
    /// on every other layer.
    public static func gemma3(layers: Int = 4) -> TinyModel {
        var t = TinyModel()
        t.architecture = "gemma3"
        t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 1, feedForwardLength: 128), count: layers)
        return t
    }

    public static let merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s"]
    public static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    /// GPT-2's byte→printable-character map.
    public static func byteToUnicode() -> [String] {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var map = [String](repeating: "", count: 256)
        var extra = 0
        for b in 0..<256 {
            if printable.contains(b) {
                map[b] = String(UnicodeScalar(UInt8(b)))
            } else {
                map[b] = String(UnicodeScalar(UInt32(256 + extra))!)
                extra += 1
            }
        }
        printable.removeAll()
        return map
    }

    public var vocabulary: [String] {
        if let vocabularyOverride { return vocabularyOverride }
        return TinyModel.byteToUnicode() + TinyModel.merges.map { $0.replacingOccurrences(of: " ", with: "") } + TinyModel.specials
    }

    public var metadata: [(key: String, value: GGUFValue)] {
        let arch = architecture
        let vocab = vocabulary
        var types = [GGUFValue](repeating: .int32(1), count: vocab.count)
        for i in (vocab.count - TinyModel.specials.count)..<vocab.count { types[i] = .int32(3) }
        func perLayer(_ f: (LayerShape) -> Int) -> GGUFValue {
            let values = layers.map(f)
            if !perLayerArrays, Set(values).count == 1 { return .uint32(UInt32(values[0])) }
            return .array(.int32, values.map { .int32(Int32($0)) })
        }
        var extra: [(key: String, value: GGUFValue)] = []
        if arch == "gemma3" {
            extra = [("\(arch).attention.sliding_window", .uint32(UInt32(slidingWindow))),
                     ("\(arch).attention.sliding_window_pattern", .uint32(UInt32(slidingWindowPeriod)))]
        }
        let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        return ([
            ("general.architecture", .string(arch)),
            ("general.name", .string("tiny-test")),
            ("\(arch).block_count", .uint32(UInt32(layers.count))),
            ("\(arch).context_length", .uint32(UInt32(contextLength))),
            ("\(arch).embedding_length", .uint32(UInt32(hiddenSize))),
            ("\(arch).feed_forward_length", perLayer(\.feedForwardLength)),
            ("\(arch).attention.head_count", perLayer(\.headCount)),
            ("\(arch).attention.head_count_kv", perLayer(\.kvHeadCount)),
            ("\(arch).attention.key_length", .uint32(UInt32(headDim))),
            ("\(arch).attention.value_length", .uint32(UInt32(headDim))),
            ("\(arch).rope.freq_base", .float32(arch == "gemma3" ? 1_000_000 : 10000)),
            ("\(arch).rope.dimension_count", .uint32(UInt32(headDim))),
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(1e-5)),
            ("general.alignment", .uint32(32)),
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(.string, vocab.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, types)),
            ("tokenizer.ggml.merges", .array(.string, TinyModel.merges.map { .string($0) })),
            ("tokenizer.ggml.bos_token_id", .uint32(UInt32(vocab.count - 3))),
            ("tokenizer.ggml.eos_token_id", .uint32(UInt32(vocab.count - 1))),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
            ("tokenizer.chat_template", .string(chatml)),
        ] + extra).filter { !omittedMetadata.contains($0.key) }.map { (key: $0.key, value: metadataOverrides[$0.key] ?? $0.value) }
            + extraMetadata
    }

    /// Tensors in file order, with their f32 values.
    public func tensors() -> [(descriptor: GGUFTensorDescriptor, values: [Float])] {
        var rng = SplitMix64(seed: seed)
        func random(_ n: Int, scale: Float) -> [Float] {
            (0..<n).map { _ in (Float(rng.nextUnitDouble()) * 2 - 1) * scale }
        }
        func norm(_ n: Int) -> [Float] { (0..<n).map { _ in 1 + (Float(rng.nextUnitDouble()) - 0.5) * 0.2 } }
        let d = hiddenSize, v = vocabulary.count
        var out: [(GGUFTensorDescriptor, [Float])] = []
        out.append((GGUFTensorDescriptor(name: "token_embd.weight", shape: [d, v], type: embeddingType), random(d * v, scale: 1)))
        for (i, l) in layers.enumerated() {
            let p = "blk.\(i)."
            let q = l.headCount * headDim, kv = l.kvHeadCount * headDim, ff = l.feedForwardLength
            let s = 1 / Float(d).squareRoot()
            out.append((GGUFTensorDescriptor(name: p + "attn_norm.weight", shape: [d], type: .f32), norm(d)))
            if l.headCount > 0 {
                out.append((GGUFTensorDescriptor(name: p + "attn_q.weight", shape: [d, q], type: matrixType), random(d * q, scale: s)))
                out.append((GGUFTensorDescriptor(name: p + "attn_k.weight", shape: [d, kv], type: matrixType), random(d * kv, scale: s)))
                out.append((GGUFTensorDescriptor(name: p + "attn_v.weight", shape: [d, kv], type: matrixType), random(d * kv, scale: s)))
                out.append((GGUFTensorDescriptor(name: p + "attn_output.weight", shape: [q, d], type: matrixType), random(q * d, scale: 1 / Float(q).squareRoot())))
                if architecture == "gemma3" {
                    out.append((GGUFTensorDescriptor(name: p + "attn_q_norm.weight", shape: [headDim], type: .f32), norm(headDim)))
                    out.append((GGUFTensorDescriptor(name: p + "attn_k_norm.weight", shape: [headDim], type: .f32), norm(headDim)))
                }
            }
            if architecture == "gemma3" {
                out.append((GGUFTensorDescriptor(name: p + "post_attention_norm.weight", shape: [d], type: .f32), norm(d)))
                out.append((GGUFTensorDescriptor(name: p + "post_ffw_norm.weight", shape: [d], type: .f32), norm(d)))
            }
            out.append((GGUFTensorDescriptor(name: p + "ffn_norm.weight", shape: [d], type: .f32), norm(d)))
            if ff > 0 {
                out.append((GGUFTensorDescriptor(name: p + "ffn_gate.weight", shape: [d, ff], type: matrixType), random(d * ff, scale: s)))
                out.append((GGUFTensorDescriptor(name: p + "ffn_up.weight", shape: [d, ff], type: matrixType), random(d * ff, scale: s)))
                out.append((GGUFTensorDescriptor(name: p + "ffn_down.weight", shape: [ff, d], type: matrixType), random(ff * d, scale: 1 / Float(ff).squareRoot())))
                if mlpBias { out.append((GGUFTensorDescriptor(name: p + "ffn_down.bias", shape: [d], type: .f32), random(d, scale: 0.5))) }
                if outputBiases { out.append((GGUFTensorDescriptor(name: p + "attn_output.bias", shape: [d], type: .f32), random(d, scale: 0.5))) }
            }
        }
        out.append((GGUFTensorDescriptor(name: "output_norm.weight", shape: [d], type: .f32), norm(d)))
        if !tiedOutput {
            out.append((GGUFTensorDescriptor(name: "output.weight", shape: [d, v], type: matrixType), random(d * v, scale: 1 / Float(d).squareRoot())))
        }
        return out.filter { !omittedTensors.contains($0.0.name) }.map { t in
            guard let shape = shapeOverrides[t.0.name] else { return t }
            return (GGUFTensorDescriptor(name: t.0.name, shape: shape, type: t.0.type), random(shape.reduce(1, *), scale: 0.1))
        }
    }

    /// Writes the model to `path` and returns it.
    @discardableResult
    public func write(to path: String) throws -> String {
        let tensors = tensors()
        let writer = try GGUFWriter(path: path, metadata: metadata, tensors: tensors.map(\.descriptor))
        for (desc, values) in tensors {
            if values.isEmpty {  // a zero dimension (corrupt-file tests)
                try writer.writeTensor(named: desc.name, bytes: [UInt8]())
                continue
            }
            if let raw = tensorBytes?(desc) {
                try writer.writeTensor(named: desc.name, bytes: raw)
                continue
            }
            guard let bytes = values.withUnsafeBufferPointer({ TensorConversion.quantize($0.baseAddress!, count: values.count, to: desc.type) }) else {
                throw TinyModelError.cannotQuantize(desc.type)
            }
            try writer.writeTensor(named: desc.name, bytes: bytes)
        }
        try writer.finish()
        return path
    }
}

public enum TinyModelError: Error { case cannotQuantize(GGMLType) }

/// A fresh directory under the system temp dir, removed by `cleanup()`.
public struct TemporaryDirectory {
    public let path: String
    public init(_ name: String = "llmrun-test") {
        let base = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }
    public func file(_ name: String) -> String { path + "/" + name }
    public func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Paths of the repository's test data, relative to this source file.
public enum Fixtures {
    public static var repositoryRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }
    /// Data fetched from PyPI by Tools/fetch-testdata (vocabulary GGUFs, eval-wiki.txt).
    public static var fetched: String { repositoryRoot + "/Tests/Data/fetched" }
    /// Small committed data (multiple-choice samples).
    public static var data: String { repositoryRoot + "/Tests/Data" }
    /// llama.cpp's figures (Tests/Reference/README.md).
    public static var reference: String { repositoryRoot + "/Tests/Reference" }
    public static var defaultModel: String { repositoryRoot + "/Models/SmolLM2-135M-Instruct.Q4_1.gguf" }
    public static func model(_ file: String) -> String { repositoryRoot + "/Models/" + file }
}
