import ArgumentParser
import CKernels
import Foundation
import LLMPrune
import LLMRuntime

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt processing and generation speed, as llama-bench does.",
        discussion: """
        pp N: a prompt of N tokens fed in batches; tg N: N tokens generated one at a time. With \
        -d D the cache first holds D tokens (not timed), so the test pays for attention over a \
        long context ("tg64 @ d2048"). Each test runs once unmeasured, then -r times; figures are \
        tokens/s, mean ± standard deviation. Uses the same code path as chat and generate.

          llmrun bench                            pp128 and tg64 at the default thread count
          llmrun bench -p 128 -n 64 -t 1,2 -r 5 -o json
          llmrun bench -p 0 -n 32 -d 0,1024,4096  generation as the context fills
          llmrun bench -p 0 -n 64 --sequences 1,2,4,8   B sequences decoding together
          llmrun bench -m big.gguf --budget 1GB -c 2048 --sequences 4 -d 512 -p 0
                                                  pruned at load to serve 4 slots in 1 GB

        With --sequences B, each tg test decodes B sequences at once, each with its own cache \
        (as `serve` does for its slots): one forward step per token takes a token from every \
        sequence, so the weights are read once for all of them. The figure is the aggregate: \
        B × N tokens over the time taken. With --budget, the model is planned and pruned in \
        memory at load as `serve --budget` does for the largest --sequences count of slots of -c \
        positions (each test's caches then hold -c positions), and the peak RSS printed at the end \
        is the figure to hold against the budget.
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("p"), .customLong("n-prompt")], help: "Prompt lengths to test (comma-separated; 0 skips).")
    var prompts: String = "128"
    @Option(name: [.customShort("n"), .customLong("n-gen")], help: "Generation lengths to test (comma-separated; 0 skips).")
    var generations: String = "64"
    @Option(name: [.customShort("d"), .customLong("n-depth")], help: "Tokens already in the cache before each test (comma-separated).")
    var depths: String = "0"
    @Option(name: [.customShort("t"), .customLong("threads")], help: "Thread counts to test (comma-separated).")
    var threads: String = "\(ThreadPool.processorCount)"
    @Option(name: [.customShort("r"), .customLong("repetitions")], help: "Measured runs per test.")
    var repetitions: Int = 5
    @Option(name: [.customShort("b"), .customLong("batch-size")], help: "Prompt tokens per forward batch.")
    var batch: Int = 256
    @Option(help: "Sequences decoded together in tg tests (comma-separated).")
    var sequences: String = "1"
    @Option(help: "Prune at load to fit this memory (e.g. 1GB) when serving --sequences slots of -c positions.")
    var budget: ByteSize?
    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "With --budget: positions per slot.")
    var context: Int = 2048
    @Option(name: [.customShort("o"), .customLong("output")], help: "md, json or jsonl.")
    var output: String = "md"

    private func list(_ s: String, _ name: String) throws -> [Int] {
        let values = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("\(name) takes comma-separated non-negative numbers, got '\(s)'")
        }
        return values.map { $0! }
    }

    func validate() throws {
        _ = try list(prompts, "-p"); _ = try list(generations, "-n"); _ = try list(depths, "-d")
        if try list(sequences, "--sequences").contains(0) { throw ValidationError("--sequences values must be positive") }
        if try list(threads, "-t").contains(0) { throw ValidationError("-t values must be positive") }
        if repetitions < 1 { throw ValidationError("-r must be positive") }
        if !["md", "json", "jsonl"].contains(output) { throw ValidationError("-o must be md, json or jsonl") }
    }

    func run() throws {
        let path = try modelOptions.resolvedPath()
        var results: [BenchResult] = []
        if output == "md" {
            print("| model | size | params | backend | threads | test | t/s |")
            print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
        }
        for t in try list(threads, "-t") {
            let slots = try list(sequences, "--sequences").max() ?? 1
            let model = try budget.map { try loadModel(modelOptions, threads: t, budget: $0, context: context, slots: slots).model }
                ?? LanguageModel(path: path, threads: t)
            let tests = try list(prompts, "-p").filter { $0 > 0 }.map { (p: $0, n: 0, b: 1) }
                + list(generations, "-n").filter { $0 > 0 }.flatMap { n in try list(sequences, "--sequences").map { (p: 0, n: n, b: $0) } }
            for depth in try list(depths, "-d") {
            for test in tests {
                let context = max(depth + test.p + test.n + 1, 16, budget == nil ? 0 : self.context)
                var samples: [Double] = []
                if test.b == 1 {
                    let session = GenerationSession(model: model, contextLength: context, batchSize: batch)
                    for run in 0...repetitions {
                        let seconds = try measure(session: session, depth: depth, prompt: test.p, generate: test.n)
                        if run > 0 { samples.append(seconds) }  // run 0 warms caches and threads
                    }
                } else {
                    for run in 0...repetitions {
                        let seconds = measureTogether(model: model, sequences: test.b, context: context, depth: depth, generate: test.n)
                        if run > 0 { samples.append(seconds) }
                    }
                }
                let r = BenchResult(model: model, threads: t, depth: depth, prompt: test.p, generate: test.n, sequences: test.b,
                                    samples: samples)
                results.append(r)
                switch output {
                case "md": print(r.markdownRow)
                case "jsonl": try printJSON(r, pretty: false)
                default: break
                }
            }
            }
        }
        if output == "json" {
            try printJSON(results)
        } else if output == "md" {
            Terminal.status(String(format: "load %.0f ms · peak RSS %@", (results.first?.loadMs ?? 0), formatBytes(ProcessMemory.peakResidentBytes)))
        }
    }

    /// Seconds for one run of the test, after `depth` tokens fill the cache (not timed). Token
    /// ids are fixed pseudo-random ones, as llama-bench uses.
    private func measure(session: GenerationSession, depth: Int, prompt: Int, generate: Int) throws -> Double {
        session.reset()
        var rng = SplitMix64(seed: 42)
        let vocab = UInt64(session.model.config.vocabularySize)
        if depth > 0 { try session.prefill((0..<depth).map { _ in Int32(rng.next() % vocab) }) }
        if prompt > 0 {
            let tokens = (0..<prompt).map { _ in Int32(rng.next() % vocab) }
            let t0 = Clock.now()
            try session.prefill(tokens)
            return Clock.now() - t0
        }
        var sampler = GreedySampler()
        if depth == 0 { try session.prefill([Int32(rng.next() % vocab)]) }
        let t0 = Clock.now()
        for _ in 0..<generate {
            let token = session.sample(using: &sampler)
            try session.feed(token)
        }
        return Clock.now() - t0
    }

    /// Seconds for `generate` decode steps of `sequences` sequences together, each with its own
    /// cache holding `depth` tokens and its own first token (not timed); greedy sampling.
    private func measureTogether(model: LanguageModel, sequences b: Int, context: Int, depth: Int, generate: Int) -> Double {
        let config = model.config
        let caches = (0..<b).map { _ in F16KVCache(layers: config.layers, headDim: config.headDim, capacity: context) }
        let state = RunState(config: config, maxBatch: max(b, min(batch, depth + 1)), contextLength: context,
                             threads: model.pool.threadCount, logitRows: b)
        var rng = SplitMix64(seed: 42)
        let vocab = config.vocabularySize
        var positions = [Int](repeating: 0, count: b)
        // Fill each cache alone (untimed), then take every sequence's first logits in one step.
        for (i, cache) in caches.enumerated() where depth > 0 {
            var done = 0
            while done < depth {
                let n = min(state.maxBatch, depth - done)
                model.transformer.forward(batch: [BatchSegment(tokens: (0..<n).map { _ in Int32(rng.next() % UInt64(vocab)) },
                                                               start: done, cache: cache, logits: .none)], state: state)
                done += n
            }
            positions[i] = depth
        }
        func step(_ tokens: [Int32]) {
            model.transformer.forward(batch: (0..<b).map { BatchSegment(tokens: [tokens[$0]], start: positions[$0], cache: caches[$0]) },
                                      state: state)
            for i in 0..<b { positions[i] += 1 }
        }
        step((0..<b).map { _ in Int32(rng.next() % UInt64(vocab)) })
        var sampler = GreedySampler()
        let t0 = Clock.now()
        for _ in 0..<generate {
            step((0..<b).map { sampler.sample(state.logits + $0 * vocab, count: vocab) })
        }
        return Clock.now() - t0
    }
}

/// One row of results, with llama-bench's JSON field names where they exist.
struct BenchResult: Encodable {
    var modelFilename: String
    var modelType: String
    var modelSize: Int
    var modelParams: Int
    var backend: String
    var threads: Int
    var depth: Int
    var prompt: Int
    var generate: Int
    /// Sequences decoded together (tg tests).
    var sequences: Int
    var samplesNs: [Int]
    var loadMs: Double
    var peakRSS: Int

    init(model: LanguageModel, threads: Int, depth: Int, prompt: Int, generate: Int, sequences: Int = 1, samples: [Double]) {
        modelFilename = model.path
        modelType = "\(model.config.architecture) \(model.config.blockCount)L"
        modelSize = model.file.fileSize
        modelParams = model.file.tensors.reduce(0) { $0 + $1.elementCount }
        backend = "CPU (\(String(cString: lr_kernels_backend())))"
        self.threads = threads
        self.depth = depth
        self.prompt = prompt
        self.generate = generate
        self.sequences = sequences
        samplesNs = samples.map { Int($0 * 1e9) }
        loadMs = model.loadSeconds * 1000
        peakRSS = ProcessMemory.peakResidentBytes
    }

    var tokens: Int { prompt + generate * sequences }
    var samplesTs: [Double] { samplesNs.map { Double(tokens) / (Double($0) / 1e9) } }
    var avgTs: Double { samplesTs.reduce(0, +) / Double(max(samplesTs.count, 1)) }
    var stddevTs: Double {
        guard samplesTs.count > 1 else { return 0 }
        let m = avgTs
        return (samplesTs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(samplesTs.count - 1)).squareRoot()
    }
    var test: String {
        (prompt > 0 ? "pp\(prompt)" : "tg\(generate)") + (sequences > 1 ? " x\(sequences)" : "") + (depth > 0 ? " @ d\(depth)" : "")
    }

    var markdownRow: String {
        String(format: "| %@ | %@ | %@ | %@ | %d | %@ | %.2f ± %.2f |", modelType, formatBytes(modelSize),
               String(format: "%.2f M", Double(modelParams) / 1e6), backend, threads, test, avgTs, stddevTs)
    }

    enum CodingKeys: String, CodingKey {
        case modelFilename = "model_filename", modelType = "model_type", modelSize = "model_size"
        case modelParams = "model_n_params", backend = "backends", threads = "n_threads", depth = "n_depth", prompt = "n_prompt"
        case generate = "n_gen", sequences = "n_sequences", samplesNs = "samples_ns", loadMs = "load_ms", peakRSS = "peak_rss_bytes"
        case avgTs = "avg_ts", stddevTs = "stddev_ts", samplesTs = "samples_ts", test, avgNs = "avg_ns"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelFilename, forKey: .modelFilename)
        try c.encode(modelType, forKey: .modelType)
        try c.encode(modelSize, forKey: .modelSize)
        try c.encode(modelParams, forKey: .modelParams)
        try c.encode(backend, forKey: .backend)
        try c.encode(threads, forKey: .threads)
        try c.encode(depth, forKey: .depth)
        try c.encode(prompt, forKey: .prompt)
        try c.encode(generate, forKey: .generate)
        try c.encode(sequences, forKey: .sequences)
        try c.encode(samplesNs, forKey: .samplesNs)
        try c.encode(samplesNs.reduce(0, +) / max(samplesNs.count, 1), forKey: .avgNs)
        try c.encode(avgTs, forKey: .avgTs)
        try c.encode(stddevTs, forKey: .stddevTs)
        try c.encode(samplesTs, forKey: .samplesTs)
        try c.encode(test, forKey: .test)
        try c.encode(loadMs, forKey: .loadMs)
        try c.encode(peakRSS, forKey: .peakRSS)
    }
}
