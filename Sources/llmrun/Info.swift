import ArgumentParser
import Foundation
import GGUF
import LLMRuntime
import Tokenizers

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a GGUF model file holds and the memory a run needs.",
        discussion: """
        Reads only the header: fast even for large files. With --json, prints one JSON object \
        (all sizes in bytes) for scripts.

        The file gets the checks a load makes (hyper-parameters, every tensor's presence, shape \
        and type, the vocabulary against the embedding, special token ids) without reading the \
        weights. When one fails, info still prints what the header holds (with --json, the \
        object with an "error" field), then the error on stderr, and exits 65, as generate \
        would. A vocabulary-only GGUF (no architecture, no tensors) is described and exits 0.

          llmrun info                       the default model
          llmrun info -m model.gguf -c 4096 memory at a 4096-token context
          llmrun info --json | jq .parameters
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context length for the memory estimate.")
    var context: Int = 2048
    @Flag(help: "Print JSON instead of text.")
    var json = false
    @Flag(help: "Also list every metadata key and tensor.")
    var verbose = false

    func validate() throws {
        if context < 1 { throw ValidationError("-c must be positive") }
    }

    func run() throws {
        let path = try modelOptions.resolvedPath()
        let file = try GGUFFile(path: path)
        var report = ModelReport(file: file, context: context)
        var problem: Error?
        do { try report.describeModel(file) } catch {
            report.error = "\(error)"
            problem = error
        }
        if json {
            try printJSON(report)
        } else {
            Terminal.writeLine(report.text)
            if verbose {
                Terminal.writeLine("\nmetadata:")
                for (k, v) in file.metadata { Terminal.writeLine("  \(k) = \(v.summary())") }
                Terminal.writeLine("\ntensors:")
                let tiedOutput = file.tensor(named: "output.weight") == nil
                for t in file.tensors {
                    // What a matrix runs as (the embedding, unless it is also the output, is only looked up by row).
                    let matrix = t.shape.count == 2 && (t.name != "token_embd.weight" || tiedOutput)
                    Terminal.writeLine("  \(t.name)  \(t.type)  \(t.shapeDescription)" + (matrix ? "  runs as \(t.type.runsAsDescription)" : ""))
                }
            }
        }
        if let problem { throw problem }
    }
}

/// What `info` reports, in one Codable value so text and JSON say the same thing.
struct ModelReport: Codable {
    struct Layers: Codable {
        var count: Int
        var headCount: [Int]
        var kvHeadCount: [Int]
        var feedForwardLength: [Int]
    }
    var path: String
    var fileSize: Int
    var ggufVersion: Int
    var architecture: String
    var name: String?
    var runnable: Bool
    var layers: Layers?
    var embeddingLength: Int?
    var headDim: Int?
    var contextLength: Int?
    var ropeBase: Float?
    var ropeDimensions: Int?
    /// Positions a sliding-window layer sees, and which layers have one (Gemma 3).
    var slidingWindow: Int?
    var slidingWindowLayers: [Int]?
    var ropeBaseSlidingWindow: Float?
    var prunable: Bool?
    var normEpsilon: Float?
    var vocabularySize: Int
    var tokenizer: String?
    var preTokenizer: String?
    var chatTemplate: String?
    var tensorCount: Int
    var tensorTypes: [String: Int]
    var parameters: Int
    var parametersWithoutEmbedding: Int
    var memory: MemoryEstimate?
    var memoryContext: Int
    /// Matrices without a kernel in their stored format, by "stored -> in memory" (the memory
    /// estimate counts them converted).
    var conversions: [String: Int] = [:]
    /// Matrices kept in their file bytes and decoded per tile at mat-mul time, by
    /// "stored -> decoded to".
    var decodedPerTile: [String: Int] = [:]
    /// Matrices moved to the interleaved (x8) layout at load on this CPU, by kernel format.
    var interleaved: [String: Int] = [:]
    /// Why a load would refuse the file (then the model fields above are what could be read).
    var error: String?

    /// What the header says, before any check.
    init(file: GGUFFile, context: Int) {
        path = file.path
        fileSize = file.fileSize
        ggufVersion = Int(file.version)
        architecture = file["general.architecture"]?.stringValue ?? "(none: vocabulary only?)"
        name = file["general.name"]?.stringValue
        vocabularySize = file["tokenizer.ggml.tokens"]?.arrayValue?.count ?? 0
        tokenizer = file["tokenizer.ggml.model"]?.stringValue
        preTokenizer = file["tokenizer.ggml.pre"]?.stringValue
        if let jinja = file["tokenizer.chat_template"]?.stringValue {
            chatTemplate = ChatTemplateKind.detect(from: jinja)?.rawValue ?? "unrecognized"
        }
        tensorCount = file.tensors.count
        tensorTypes = Dictionary(file.tensors.map { ("\($0.type)", 1) }, uniquingKeysWith: +)
        parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        parametersWithoutEmbedding = parameters - (file.tensor(named: "token_embd.weight")?.elementCount ?? 0)
        memoryContext = context
        runnable = ModelConfig.runnableArchitectures.contains(architecture)
    }

    /// Adds the model's config and memory estimate, after the checks a load makes; throws what
    /// a load would.
    mutating func describeModel(_ file: GGUFFile) throws {
        guard file["general.architecture"] != nil else {
            if file.tensors.isEmpty {  // a vocabulary-only file, as `tokenize` takes
                try TokenizerLoader.validate(file: file)
                return
            }
            throw ModelError.badModel(path: file.path, detail: "metadata 'general.architecture' is missing, but the file holds \(file.tensors.count) tensors")
        }
        let config = try ModelConfig(file: file)
        layers = Layers(count: config.blockCount, headCount: config.layers.map(\.headCount),
                        kvHeadCount: config.layers.map(\.kvHeadCount), feedForwardLength: config.layers.map(\.feedForwardLength))
        embeddingLength = config.hiddenSize
        headDim = config.headDim
        contextLength = config.contextLength
        ropeBase = config.ropeBase
        ropeDimensions = config.ropeDimensions
        if config.slidingWindow > 0 {
            slidingWindow = config.slidingWindow
            slidingWindowLayers = config.layers.indices.filter(config.isSlidingWindow)
            ropeBaseSlidingWindow = config.ropeBaseSlidingWindow
        }
        prunable = ModelConfig.prunableArchitectures.contains(config.architecture)
        normEpsilon = config.normEpsilon
        vocabularySize = config.vocabularySize
        // The same checks as a load, in the same order, without binding the weights.
        if runnable { try LanguageModel.validate(file: file, config: config) }
        try MemoryEstimate.checkContext(memoryContext)
        memory = MemoryEstimate(file: file, config: config, context: memoryContext)
        for t in MemoryEstimate.convertedAtLoad(file) {
            conversions["\(t.type) -> \(WeightMatrix.kernelType(for: t.type))", default: 0] += 1
        }
        let tiedOutput = file.tensor(named: "output.weight") == nil
        for t in file.tensors where t.shape.count == 2 && (t.name != "token_embd.weight" || tiedOutput) {
            if case .decodedPerTile(let to) = t.type.kernelHandling { decodedPerTile["\(t.type) -> \(to)", default: 0] += 1 }
            let kernel = WeightMatrix.kernelType(for: t.type)
            if t.shape[1] >= 8 && WeightMatrix.interleavesAtLoad(kernel) {
                interleaved["\(kernel)", default: 0] += 1
            }
        }
    }

    /// A RoPE base as a whole number when it is one (validated bases are at most 1e12).
    private static func describe(_ base: Float) -> String {
        base.isFinite && base.magnitude < 1e15 && base == base.rounded() ? "\(Int(base))" : "\(base)"
    }

    private static func describe(_ values: [Int]) -> String {
        guard let first = values.first else { return "-" }
        if values.allSatisfy({ $0 == first }) { return "\(first)" }
        return "per layer [\(values.map(String.init).joined(separator: ", "))]"
    }

    var text: String {
        var lines: [String] = []
        func add(_ k: String, _ v: String) { lines.append(k.padding(toLength: 22, withPad: " ", startingAt: 0) + v) }
        add("file", "\(path) (\(formatBytes(fileSize)), GGUF v\(ggufVersion))")
        add("architecture", architecture + (!runnable ? " (not runnable by this build)"
                                            : prunable == false ? " (runs; cannot be pruned by this build)" : ""))
        if let name { add("name", name) }
        if let layers {
            add("layers", "\(layers.count)")
            add("embedding length", "\(embeddingLength ?? 0)")
            add("feed-forward length", ModelReport.describe(layers.feedForwardLength))
            add("attention heads", ModelReport.describe(layers.headCount))
            add("KV heads", ModelReport.describe(layers.kvHeadCount))
            add("head dimension", "\(headDim ?? 0)")
            add("RoPE", "base \(ModelReport.describe(ropeBase ?? 0)), \(ropeDimensions ?? 0) dimensions"
                + (ropeBaseSlidingWindow.map { ", base \(ModelReport.describe($0)) on sliding-window layers" } ?? ""))
            if let slidingWindow, let windowed = slidingWindowLayers {
                add("sliding window", "\(slidingWindow) positions on \(windowed.count) of \(layers.count) layers (the others attend to all)")
            }
            add("context length", "\(contextLength ?? 0) (trained)")
            add("RMSNorm epsilon", "\(normEpsilon ?? 0)")
        }
        add("vocabulary", "\(vocabularySize) tokens (\(tokenizer ?? "none")\(preTokenizer.map { ", pre-tokenizer \($0)" } ?? ""))")
        add("chat template", chatTemplate ?? "none")
        let types = tensorTypes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        add("tensors", "\(tensorCount) (\(types))")
        if !conversions.isEmpty {
            add("converted at load", conversions.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !decodedPerTile.isEmpty {
            add("decoded per tile", decodedPerTile.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                + " (kept at file size; 8 rows at a time decoded at mat-mul time)")
        }
        if !interleaved.isEmpty {
            add("interleaved at load", interleaved.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                + " (rows in groups of 8 for the mat-vec)")
        }
        add("parameters", "\(parameters.formatted()) (\(parametersWithoutEmbedding.formatted()) without the embedding)")
        if let memory {
            add("memory at -c \(memoryContext)", "\(formatBytes(memory.totalBytes)): weights \(formatBytes(memory.weightBytes)) + KV cache \(formatBytes(memory.kvCacheBytes)) + scratch \(formatBytes(memory.scratchBytes)) + tokenizer \(formatBytes(memory.tokenizerBytes))")
            let physical = ProcessMemory.physicalBytes
            if physical > 0, memory.kvCacheBytes.clampedAdding(memory.scratchBytes) > physical {
                add("", "more than this machine's \(formatBytes(physical)) of memory: a run at -c \(memoryContext) is refused")
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension Int {
    /// 134515008 → "134,515,008".
    func formatted() -> String {
        let digits = Array(String(self.magnitude))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return self < 0 ? "-" + out : out
    }
}
