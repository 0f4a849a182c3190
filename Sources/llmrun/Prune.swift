import ArgumentParser
import Foundation
import GGUF
import LLMPrune
import LLMRuntime

extension PruneMethod: ExpressibleByArgument {}
extension Compensation: ExpressibleByArgument {}
extension ReconstructionTarget: ExpressibleByArgument {}
extension RefitInput: ExpressibleByArgument {}

/// "source", "q8_0", "q4_1", ... (`OutputFormat.choices`).
extension OutputFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { OutputFormat.choices.map(\.name) }
}

/// "2GB", "1.5GiB", "512MB".
extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Shrink a model by structured pruning (no fine-tuning), on this machine.",
        discussion: """
        Give a target as --ratio (fraction of all parameters to remove) or --budget (memory the \
        pruned model may take when run at -c, e.g. 2GB or 1.5GiB: llmrun works out the output \
        formats of the blocks and of the embedding, and removes only what narrower formats cannot \
        save, since a format costs far less than its bytes' worth of parameters; it keeps its own \
        memory under the budget too).

        COMP (default): scores each block's importance (1 − cos(input, output) on calibration \
        text) and takes half of the target (--layer-share; none for gemma3, where dropping blocks \
        measured far worse) as whole blocks, the least important ones. In the blocks it keeps, it \
        removes MLP channels whose loss the others can best make up for, more from the less important blocks, re-tuning the kept channels' scales by least \
        squares so the pruned model's hidden state after each block lands on the dense model's; \
        the scales are folded into the weights, and a bias makes up the removed channels' mean \
        output (llama models; --no-bias to leave it out). --attention-share also removes \
        attention KV groups. The output is a standard GGUF (llama.cpp loads it). Baselines for \
        comparison: --method layers | magnitude | wanda-sp | flap.

        The pruned file keeps its parent's formats unless --out-type says otherwise, so it is \
        smaller and faster than the parent. On SmolLM2-135M (Q4_1) at --ratio 0.2 (dense: wiki \
        perplexity 17.7, mean acc_norm 0.449 over seven zero-shot tasks) COMP gives 39.0 and \
        0.440; --layer-share 0 gives a lower perplexity (35.3) but scored lower on the tasks; the \
        baselines flap 48.8 and 0.427, ShortGPT-style layers 70.7 and 0.430. Calibrate with \
        text like what the model will serve (--calib): three slices of the bundled C4 text gave \
        perplexities from 35.3 to 38.7 at --layer-share 0, while doubling --calib-samples \
        changed nothing measurable.

          llmrun prune -m model.gguf --ratio 0.2 -o small.gguf
          llmrun prune -m model.gguf --budget 1GB -c 2048 -o fits.gguf
          llmrun prune -m model.gguf --ratio 0.3 --plan-out plan.json -o small.gguf
          llmrun chat -m model.gguf --prune-plan plan.json     apply a plan at load instead

        Exit 75 (before any work) when the budget cannot be met; exit 64 when --ratio asks \
        for more than the method can remove (no block loses over 75% of its MLP channels; \
        the message gives the limit); exit 0 with a note when the model fits already. \
        Interrupting (SIGINT, SIGTERM) leaves nothing at the output path; -o and --plan-out appear \
        together or not at all.
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output GGUF (default: next to the source, named after the method and ratio).")
    var output: String?
    @Option(parsing: .unconditional, help: "Fraction of all parameters to remove, 0 < R < 0.9.", transform: NumericOption.finite)
    var ratio: Double?
    @Option(help: "Memory the pruned model may use at -c (e.g. 2GB, 512MiB).")
    var budget: ByteSize?
    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context length the budget is planned for.")
    var context: Int = 2048
    @Option(help: "comp | layers | magnitude | wanda-sp | flap.")
    var method: PruneMethod = .comp
    @Option(help: "Calibration text, one document per line (default: the bundled C4 sample).")
    var calib: String?
    @Option(name: .customLong("calib-samples"), help: "Calibration sequences.")
    var calibSamples: Int = PruneSettings().calibrationSamples
    @Option(name: .customLong("seq-len"), help: "Tokens per calibration sequence.")
    var seqLen: Int = PruneSettings().sequenceLength
    @Option(name: .customLong("out-type"), help: ArgumentHelp(
        "Format of the pruned blocks' matrices.",
        discussion: "Default with --ratio: source. Matrices pruning only takes rows of keep their file's format and bytes (Q4_K stays Q4_K); those it edits (columns selected and scaled) are requantized to the format llmrun runs them in (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL for IQ4 files, Q4_1 for Q4_K, Q5_1 for Q5_K, or Q8_0 for the rest), each 4-bit block fitted to its inputs' energy on the calibration text (5-bit ones take the reference rounding). So the pruned file is smaller and faster than its parent. q8_0 keeps a little more quality at a larger size (SmolLM2-135M Q4_1 at --ratio 0.2: 38.3 wiki perplexity in 116 MB against 39.0 in 82 MB). Default with --budget: the planner's choice."))
    var outType: OutputFormat?

    @Option(name: .customLong("embedding-type"), help: ArgumentHelp(
        "Format of the token embedding (and a separate output matrix).",
        discussion: "Default: copied as it is, unless --budget narrows it (the planner prefers a narrower format to removing that many more parameters)."))
    var embeddingType: OutputFormat?
    @Option(name: .customLong("layer-share"), parsing: .unconditional, help: "COMP: share of the target removed as whole blocks, the rest as neurons (0: neurons only). Default 0.5, 0 for gemma3 models.", transform: NumericOption.finite)
    var layerShare: Double?
    @Option(name: .customLong("attention-share"), parsing: .unconditional, help: "Share of the neuron part taken from attention KV groups.", transform: NumericOption.finite)
    var attentionShare: Double = PruneSettings().attentionShare
    @Option(name: .customLong("allocation-exponent"), parsing: .unconditional, help: "COMP: spread neuron removal over blocks in proportion to importance^-x (0: evenly).", transform: NumericOption.finite)
    var allocationExponent: Double = PruneSettings().allocationExponent
    @Option(help: "COMP's compensation for removed MLP channels: masks (one scale per kept channel) or refit (least-squares re-fit of the down projection's kept columns; on SmolLM2-135M at --ratio 0.2 and --layer-share 0 it measured 38.4 against 35.4 for masks (without --bias) at the defaults and 35.6 with --calib-samples 64 --ridge 0.001, slower, and a plan cannot record it).")
    var compensation: Compensation = .masks
    @Option(help: "What COMP's compensation reproduces: layer (the dense block's MLP output on the pruned model's input) or stream (toward the dense model's hidden state after the block, so each block also repairs the error the blocks before it left; see --drift-share). Default: stream with masks, layer with refit (measured best for each).")
    var target: ReconstructionTarget?
    @Option(name: .customLong("drift-share"), parsing: .unconditional, help: "With the stream target: the share of the drift between the pruned and the dense stream each block makes up (0 to 1; the blocks after it see the rest). On SmolLM2-135M at --ratio 0.2 and --layer-share 0, over three calibration slices 0.3 gave 35.9 mean wiki perplexity, 1 gave 36.8 and 0 gave 37.0, but mean multiple-choice acc_norm at 0.2 / 0.3 was 0.419 / 0.403 for 0.3 against 0.423 / 0.412 for 1.", transform: NumericOption.finite)
    var driftShare: Double = PruneSettings().driftShare
    @Option(parsing: .unconditional, help: "Ridge added to COMP's least-squares systems, relative to the mean of their diagonal.", transform: NumericOption.finite)
    var ridge: Double = PruneSettings().ridge
    @Flag(inversion: .prefixedNo, help: "COMP: add a bias to each pruned MLP (ffn_down.bias) and, where KV groups are removed, to the attention output (attn_output.bias) that makes up the mean output the removed units leave out, and tune the masks on the units' fluctuations (llama-architecture models; on SmolLM2-135M at --ratio 0.2 and --layer-share 0, three calibration slices with the whole drift: 36.8 mean wiki perplexity against 37.6 without; at the default layer share with --attention-share 0.2, the attention bias took 44.5 to 43.3).")
    var bias = PruneSettings().biasCompensation
    @Option(name: .customLong("refit-steps"), help: "COMP: after a block's masks are tuned, train its MLP's kept weights toward the same target for at most this many Adam steps, stopping early on held-out calibration sequences (0: no refit).")
    var refitSteps: Int = PruneSettings().refit.steps
    @Option(name: .customLong("refit-lr"), help: "The refit's Adam learning rate.")
    var refitLR: Double = PruneSettings().refit.learningRate
    @Option(name: .customLong("refit-batch"), help: "Calibration tokens per refit step.")
    var refitBatch: Int = PruneSettings().refit.batchTokens
    @Option(name: .customLong("refit-input"), help: "What feeds each block's MLP in the refit: pruned (the pruned model's activations, toward --target) or dense (the dense model's, toward the dense MLP's output).")
    var refitInput: RefitInput = PruneSettings().refit.input
    @Option(name: .customLong("plan-out"), help: "Also write a JSON plan (what was removed, masks) to this file.")
    var planOut: String?
    @Flag(name: .customLong("dry-run"), help: "Plan only: print the target and estimates, prune nothing.")
    var dryRun = false
    @Flag(help: "Print the final report as JSON.")
    var json = false

    func validate() throws {
        if (ratio == nil) == (budget == nil) { throw ValidationError("give one target: --ratio R or --budget SIZE") }
        if let ratio, !(ratio > 0 && ratio < 0.9) { throw ValidationError("--ratio must be above 0 and below 0.9 (a fraction of all parameters: 0.2 removes a fifth)") }
        if calibSamples < 1 || seqLen < 8 { throw ValidationError("--calib-samples must be >= 1 and --seq-len >= 8") }
        if let layerShare, !(0...1).contains(layerShare) { throw ValidationError("--layer-share is a fraction between 0 and 1") }
        if !(0...1).contains(attentionShare) {
            throw ValidationError("--attention-share is a fraction between 0 and 1")
        }
        if budget != nil && outType == .source {
            throw ValidationError("--budget plans the blocks' format itself; give --out-type q8_0, q4_1 or q4_0 to fix it, or leave it out")
        }
        if context < 1 { throw ValidationError("-c must be positive") }
        if !(ridge > 0 && ridge < 100) { throw ValidationError("--ridge must be between 0 and 100") }
        if !(0...1).contains(driftShare) { throw ValidationError("--drift-share is a fraction between 0 and 1") }
        if refitSteps < 0 || refitBatch < 1 || !(refitLR > 0) { throw ValidationError("--refit-steps must be >= 0, --refit-batch >= 1 and --refit-lr positive") }
    }

    func run() throws {
        returnLargeBuffersToTheSystem()
        let source = try modelOptions.resolvedPath()
        try checkPaths(source: source, output: output)
        let request: PruneRequest = budget.map { .budget(bytes: $0.bytes, context: context) } ?? .ratio(ratio ?? 0)
        let pruner = try Pruner(sourcePath: source, request: request, settings: settings, threads: threadOptions.count)
        if let plan = pruner.budgetPlan {
            Terminal.status("budget: \(plan.explanation)")
            Terminal.status("budget: pruning process expected to peak near \(ByteSize(bytes: plan.estimatedProcessBytes)) (\(plan.calibrationSamples) calibration sequences)")
            if plan.noPruningNeeded || dryRun {
                if json { try printJSON(plan) }
                return
            }
        } else if dryRun {
            let removed = Int(pruner.settings.ratio * Double(pruner.totalParameters))
            if json {
                try printJSON(DryRunPlan(method: method.rawValue, ratio: pruner.settings.ratio, parameters: pruner.totalParameters,
                                         parametersRemoved: removed))
            } else {
                Terminal.status("would remove \(removed.formatted()) of \(pruner.totalParameters.formatted()) parameters with \(method.rawValue)")
            }
            return
        }
        let settings = pruner.settings
        let out = output ?? defaultOutput(source: source, ratio: settings.ratio)
        if output == nil { try checkPaths(source: source, output: out) }

        let text = try calib.map { try Terminal.readTextFile($0, what: "the calibration text") } ?? CalibrationSet.bundledText()
        let calibration = try pruner.calibration(text: text)
        if settings.ratio > 0 {
            Terminal.status("pruning \(source) with \(method.rawValue): remove \(String(format: "%.1f", settings.ratio * 100))% of \(pruner.totalParameters.formatted()) parameters; calibration \(calibration.count) x \(calibration.length) tokens")
        } else {
            Terminal.status("rewriting \(source) in the planned formats; nothing to remove")
        }

        let blocks = pruner.config.blockCount
        // Each pass's share of the time, as measured on SmolLM2 at --ratio 0.2 (docs/measurements.md,
        // "pruning (issue 24)"): importance 0.22 and channels 0.78, or 0.12 / 0.88 with the refit.
        let firstPass = settings.refit.steps > 0 ? 0.12 : 0.22
        let report = try runShowingProgress(pruner, label: "prune", calibration: calibration,
                                            outputPath: out, planPath: planOut) { p in
            let inPass = Double(p.layer) / Double(max(blocks, 1))
            if p.phase.hasPrefix("pass 1") { return firstPass * inPass }
            if p.phase.hasPrefix("pass 2") { return firstPass + (0.99 - firstPass) * inPass }
            return 0.99
        }
        if json {
            try printJSON(report)
        } else {
            Terminal.writeLine(Prune.describe(report))
        }
    }

    /// The flags as settings (the request and the architecture fill in the rest).
    private var settings: PruneSettings {
        var settings = PruneSettings()
        settings.method = method
        settings.calibrationSamples = calibSamples
        settings.sequenceLength = seqLen
        settings.layerShare = layerShare
        settings.attentionShare = attentionShare
        settings.compensation = compensation
        settings.target = target
        settings.ridge = ridge
        settings.biasCompensation = bias
        settings.driftShare = driftShare
        settings.allocationExponent = allocationExponent
        settings.refit.steps = refitSteps
        settings.refit.learningRate = refitLR
        settings.refit.batchTokens = refitBatch
        settings.refit.input = refitInput
        settings.outputType = outType?.ggmlType
        settings.embeddingType = embeddingType?.ggmlType
        return settings
    }

    /// Every path the run reads or writes, checked before any work (a dry run included): inputs
    /// readable, outputs creatable and none of them the model or the calibration text.
    private func checkPaths(source: String, output: String?) throws {
        if let calib { try checkInputFile(calib, option: "--calib") }
        let inputs = [("-m", source)] + (calib.map { [("--calib", $0)] } ?? [])
        if let output { try checkOutputPath(output, option: "-o", inputs: inputs) }
        if let planOut {
            try checkOutputPath(planOut, option: "--plan-out", inputs: inputs)
            if let output { try checkDistinctOutputs(("-o", output), ("--plan-out", planOut)) }
        }
    }

    private func defaultOutput(source: String, ratio: Double) -> String {
        let url = URL(fileURLWithPath: source)
        let stem = url.deletingPathExtension().lastPathComponent
        return url.deletingLastPathComponent().appendingPathComponent("\(stem).\(method.rawValue)-\(Int((ratio * 100).rounded())).gguf").path
    }


    static func describe(_ r: PruneReport) -> String {
        var lines = [
            "method             \(r.method)",
            "parameters         \(r.parametersBefore.formatted()) → \(r.parametersAfter.formatted()) (−\(String(format: "%.1f", r.ratioAchieved * 100))%; without the embedding \(r.parametersBeforeWithoutEmbedding.formatted()) → \(r.parametersAfterWithoutEmbedding.formatted()))",
            "blocks             \(r.blocksBefore) → \(r.blocksAfter)" + (r.droppedLayers.isEmpty ? "" : " (dropped \(r.droppedLayers.map(String.init).joined(separator: ", ")))"),
        ]
        if let path = r.outputPath, let bytes = r.outputBytes {
            lines.append("output             \(path) (\(formatBytes(bytes)); blocks \(r.outputType), embedding \(r.embeddingType))")
        }
        if !r.layersStoppedEarly.isEmpty {
            lines.append("stopped early      blocks \(r.layersStoppedEarly.map(String.init).joined(separator: ", ")) (mask variance bound)")
        }
        lines.append(String(format: "time               %.1f s, peak RSS %@, %d calibration tokens", r.seconds, formatBytes(r.peakResidentBytes), r.calibrationTokens))
        if let p = r.phaseSeconds, let refit = p["refit"], refit > 0 {
            lines.append(String(format: "time split         importance %.1f s, refit %.1f s, write %.1f s, selection and masks the rest",
                                p["importance"] ?? 0, refit, p["write"] ?? 0))
        }
        return lines.joined(separator: "\n")
    }
}

/// Runs a pruner (a prune, or `quantize --fit`) under a progress bar on stderr: `step` places each
/// report on the bar; off a terminal each new phase is printed instead. SIGINT stops it at the
/// next block, leaving nothing at the output path, and exits 130 (143 for SIGTERM).
func runShowingProgress(_ pruner: Pruner, label: String, calibration: CalibrationSet, outputPath: String,
                        planPath: String?, fraction: (PruneProgress) -> Double) throws -> PruneReport {
    Terminal.catchInterrupts()
    var bar = ProgressBar(label: label, total: 1)
    var lastPhase = ""
    defer { bar.finish() }
    do {
        return try pruner.run(calibration: calibration, outputPath: outputPath, planPath: planPath, progress: { p in
            bar.update(fraction: fraction(p), detail: String(format: "%@ · block %d/%d · %.0f s · RSS %@", p.phase, p.layer + 1, p.layers,
                                               p.elapsed, ByteSize(bytes: p.residentBytes).description))
            if !Terminal.stderrIsTTY && p.phase != lastPhase {
                Terminal.status("\(label): \(p.phase)")
                lastPhase = p.phase
            }
        }, shouldStop: { Terminal.interrupted })
    } catch let error as PruneError {
        if case .interrupted = error { throw CLIError(description: "\(error)", exitCode: ExitCode.interrupted) }
        throw error
    }
}


/// What `prune --ratio R --dry-run --json` prints: the cut, before any calibration runs.
private struct DryRunPlan: Encodable {
    var method: String
    var ratio: Double
    var parameters: Int
    var parametersRemoved: Int
}
