import ArgumentParser
import Foundation
import GGUF
import LLMPrune
import LLMRuntime
import LLMServer
import Tokenizers

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over an OpenAI-compatible HTTP API.",
        discussion: """
        Routes: POST /v1/chat/completions, POST /v1/completions (both with "stream": true), \
        GET /v1/models, GET /health, GET /metrics (Prometheus), POST /tokenize, POST /detokenize.

        --parallel slots decode together, sharing the weights; each has its own KV cache of \
        -c positions (-c is per slot, unlike llama-server's total: the caches hold \
        parallel x c positions). A request goes to the free slot whose cache shares the \
        longest start with its prompt, and only the rest is computed. Requests past the slots \
        wait in a queue of --queue; past that they get 503 with Retry-After. Any "model" name \
        is answered by the loaded model. A request whose client hangs up, streaming or not, is \
        cancelled at the next step. The planned footprint printed at start (the model's \
        buffers, the process, and what serving takes per slot and queue place) is what \
        --budget fits. Logs (one \
        line per request) go to stderr; SIGTERM or SIGINT stop the server, letting running \
        requests finish for up to 10 s.

          llmrun serve -m model.gguf --port 8080
          llmrun serve --parallel 8 -c 1024 --api-key secret
          curl localhost:8080/v1/chat/completions -d '{"messages":[{"role":"user","content":"Hi"}]}'
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var planOptions: PrunePlanOption

    @Option(help: "Address to listen on (0.0.0.0 exposes the server to the network).")
    var host = "127.0.0.1"
    @Option(help: "Port (0: any free port, printed on stderr).")
    var port = 8080
    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context of each slot.")
    var context: Int = 2048
    @Option(name: [.customLong("parallel"), .customLong("np", withSingleDash: true)], help: "Slots: requests decoded at once.")
    var parallel = 4
    @Option(help: "Requests waiting for a slot, beyond the running ones (then 503).")
    var queue = 64
    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on every route but /health (default: $LLMRUN_API_KEY).")
    var apiKey: String?
    @Option(help: "Seconds a request may take from its arrival, waiting included (0: no limit).")
    var timeout: Double = 600
    @Option(name: [.customShort("b"), .customLong("batch-size")], help: "Prompt tokens per engine step, across slots.")
    var batch = 256
    @Option(name: .customLong("max-body"), help: "Largest request body, in bytes.")
    var maxBody = 1 << 20
    @Option(help: "Prune at load to fit this memory (e.g. 1GB) with every slot's KV cache counted, as `prune --budget` plans; nothing is written. Exit 75 before listening when it cannot fit.")
    var budget: ByteSize?
    @Option(name: .customLong("chat-template"), help: "Template to use instead of the file's: \(ChatTemplateKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var chatTemplate: String?

    func validate() throws {
        if context < 16 { throw ValidationError("-c must be at least 16") }
        if parallel < 1 || parallel > 256 { throw ValidationError("--parallel must be between 1 and 256") }
        if queue < 0 { throw ValidationError("--queue must be 0 or more") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if timeout < 0 { throw ValidationError("--timeout must be 0 or more") }
        if batch < 1 { throw ValidationError("-b must be positive") }
        if maxBody < 1 { throw ValidationError("--max-body must be positive") }
        if budget != nil && planOptions.prunePlan != nil { throw ValidationError("give --budget or --prune-plan, not both") }
        if let chatTemplate, ChatTemplateKind(rawValue: chatTemplate) == nil {
            throw ValidationError("unknown chat template '\(chatTemplate)'; known: \(ChatTemplateKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let path = try modelOptions.resolvedPath()
        // What the process holds before the model (runtime, libraries), counted as the budget planner counts it.
        let baseline = ProcessMemory.residentBytes
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.parallel = parallel
        config.contextPerSlot = context
        config.queue = queue
        config.apiKey = apiKey ?? ProcessInfo.processInfo.environment["LLMRUN_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        config.timeout = timeout > 0 ? timeout : nil
        config.promptChunk = batch
        config.maxBodyBytes = maxBody
        config.modelID = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        // The header is read here and let go before serving: a second mapping of it stayed
        // resident beside the model's own for as long as the server ran.
        config.chatTemplate = try readChatTemplate(path)
        let footprint = try ServingFootprint(modelPath: path, context: context, slots: parallel, batch: batch,
                                             threads: threadOptions.count, queue: queue, processBytes: baseline)

        let options = modelOptions, threads = threadOptions.count, plan = planOptions
        let dense = budget == nil && planOptions.prunePlan == nil
        let host = self.host, ready = config, parallel = self.parallel, context = self.context, batch = self.batch
        var load: ModelLoader = { _ in
            let model = try loadModel(options, threads: threads, plan: plan)
            returnFreedMemoryToTheSystem()
            return model
        }
        if let budget {
            // Checked before listening (exit 75); the pruning itself runs while /health says loading.
            _ = try footprint.budgetPlan(budget: budget.bytes)
            load = { stopRequested in
                returnLargeBuffersToTheSystem()
                var lastPhase = ""
                let servingPlan = try ServingBudget.plan(modelPath: path, budget: budget.bytes, context: context, slots: parallel,
                                                         batch: batch, threads: threads, runtimeBytes: footprint.runtimeBytes,
                                                         progress: { p in
                    if p.phase != lastPhase {
                        Terminal.status("budget: \(p.phase) (\(String(format: "%.0f s", p.elapsed)), RSS \(ByteSize(bytes: p.residentBytes)))")
                        lastPhase = p.phase
                    }
                }, shouldStop: stopRequested)
                Terminal.status(servingPlan.description)
                let model = try LanguageModel(path: path, threads: threads, sentencePieceModel: options.tokenizerModel, loadTransform: servingPlan)
                returnFreedMemoryToTheSystem()
                return model
            }
        }
        try await InferenceServer.run(
            configuration: config,
            load: load,
            onListening: { port in Terminal.status("llmrun serve: listening on http://\(host):\(port) (loading \(path))") },
            onReady: { model in
                if dense {
                    Terminal.status("llmrun serve: planned footprint \(footprint.description)")
                }
                Terminal.status("llmrun serve: ready · \(ready.modelID) · \(ready.parallel) slots x \(ready.contextPerSlot) context · loaded in \(String(format: "%.1f", model.loadSeconds)) s")
            },
            log: { Terminal.status($0) }
        )
        Terminal.status("llmrun serve: stopped")
    }

    /// The chat template to serve: --chat-template's, or the file's.
    private func readChatTemplate(_ path: String) throws -> ChatTemplate? {
        let file = try GGUFFile(path: path)
        guard let chatTemplate, let kind = ChatTemplateKind(rawValue: chatTemplate) else { return ChatTemplate(file: file) }
        return ChatTemplate(file: file).flatMap { $0.kind == kind ? $0 : nil } ?? ChatTemplate(kind: kind)
    }
}
