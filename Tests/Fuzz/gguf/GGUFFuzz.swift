import FuzzSupport
import GGUF
import LLMRuntime
import Tokenizers

// A GGUF file from arbitrary bytes, read as `info` and a model load read it: the header, the
// model config, the weights bound to it (and interleaved as the kernels want them), an
// embedding row, the memory estimate and the chat template. Every failure must be a thrown
// error; a trap, an overflow or an out-of-bounds access is a finding. The tokenizer is left to
// the tokenizers harness: building one costs 2-40 ms here, a hundred times the rest.

nonisolated(unsafe) let scratch = ScratchFile("gguf")
let pool = ThreadPool(threadCount: 1)

@_cdecl("fuzz_gguf_main")
public func main(_ argc: CInt, _ argv: Arguments) -> CInt {
    runFuzzer(argc: argc, argv: argv, seeds: Seeds.write, fuzzGGUF)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    guard scratch.write(input.bytes) else { return 0 }
    let file: GGUFFile
    do { file = try GGUFFile(path: scratch.path) } catch { verbose("\(error)"); return 0 }
    for (_, value) in file.metadata { _ = value.summary() }
    var parameters = 0
    for t in file.tensors {
        let bytes = file.data(for: t)
        if let last = bytes.last { parameters &+= Int(last) }
        parameters &+= t.elementCount
    }
    if let jinja = file["tokenizer.chat_template"]?.stringValue {
        _ = ChatTemplateKind.detect(from: jinja)
        _ = ChatTemplate(jinja: jinja)?.render([.user("hi")], addGenerationPrompt: true, bos: nil)
    }
    guard file["general.architecture"] != nil else { return 0 }
    let config: ModelConfig
    do { config = try ModelConfig(file: file) } catch { verbose("\(error)"); return 0 }
    _ = MemoryEstimate(file: file, config: config, context: min(config.contextLength, 4096))
    for t in MemoryEstimate.convertedAtLoad(file) { _ = WeightMatrix.kernelType(for: t.type) }
    guard ModelConfig.runnableArchitectures.contains(config.architecture) else { return 0 }
    var weights: ModelWeights
    do { weights = try ModelWeights(file: file, config: config) } catch { verbose("\(error)"); return 0 }
    weights.interleaveForKernels(pool: pool)
    if config.vocabularySize > 0, config.hiddenSize > 0, config.hiddenSize <= 1 << 16 {
        var row = [Float](repeating: 0, count: config.hiddenSize)
        weights.tokenEmbedding.lookup(Int32(config.vocabularySize - 1), into: &row)
    }
    verbose("loaded")
    return parameters == -1 ? 1 : 0
}
