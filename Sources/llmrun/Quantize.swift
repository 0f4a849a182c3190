import ArgumentParser
import Foundation
import GGUF
import LLMPrune
import LLMRuntime

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite a model with its matrices in another format (as llama-quantize --allow-requantize).",
        discussion: """
        Every tensor of two or more dimensions is dequantized and quantized again with ggml's \
        reference rounding (so the bytes equal llama-quantize's; iq4_nl, which has no such \
        rounding here, gets each block's scale by least squares instead); vectors stay F32. The \
        output is written as a stream and appears only when complete.

        --fit (4-bit types) runs the model over calibration text first and fits each block's \
        scale and offset by least squares, weighted by how much signal each input of the matrix \
        carries there (what llama.cpp's importance matrix is for). On SmolLM2-135M, Q4_1 to Q4_0: \
        wiki perplexity 20.7 fitted, 23.8 with the reference rounding (the Q4_1 source: 17.7), in \
        about 20 s on two cores; to IQ4_NL (the same size): 19.8 fitted, 22.6 without --fit.

          llmrun quantize -m model.Q4_1.gguf -o model.Q8_0.gguf --type q8_0
          llmrun quantize -m model.Q8_0.gguf -o model.Q4_0.gguf --type q4_0 --fit
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output GGUF.")
    var output: String
    @Option(name: .customLong("type"), help: "q8_0, q4_0, q4_1, iq4_nl or f16.")
    var type: String = "q8_0"
    @Flag(help: "Fit 4-bit blocks to the model's activations on calibration text instead of ggml's rounding (q4_0, q4_1, iq4_nl; the model must be one llmrun runs).")
    var fit = false
    @Option(help: "Calibration text for --fit (default: the bundled text; use text like what the model will serve).")
    var calib: String?
    @Flag(help: "Print a JSON report (output, format, bytes, seconds, peak RSS) on stdout.")
    var json = false

    /// What --json prints.
    struct Report: Encodable {
        var output: String
        var type: String
        var fitted: Bool
        var outputBytes: Int
        var calibrationTokens: Int?
        var seconds: Double
        var peakResidentBytes: Int
    }

    func validate() throws {
        guard let t = GGMLType(name: type), [.q8_0, .q4_0, .q4_1, .iq4_nl, .f16].contains(t) else {
            throw ValidationError("--type must be q8_0, q4_0, q4_1, iq4_nl or f16")
        }
        if fit && ![.q4_0, .q4_1, .iq4_nl].contains(t) {
            throw ValidationError("--fit applies to q4_0, q4_1 and iq4_nl: q8_0 and f16 rounding has no scale to choose")
        }
        if calib != nil && !fit { throw ValidationError("--calib is the text --fit runs on; add --fit") }
    }

    func run() throws {
        let target = GGMLType(name: type)!
        let path = try modelOptions.resolvedPath()
        if let calib { try checkInputFile(calib, option: "--calib") }
        try checkOutputPath(output, option: "-o", inputs: [("-m", path)] + (calib.map { [("--calib", $0)] } ?? []))
        if fit { return try runFitted(target, path: path) }
        let started = Date()
        let source = try GGUFFile(path: path)
        func outputType(_ t: GGUFTensorInfo) -> GGMLType {
            t.shape.count >= 2 && t.shape[0] % target.blockSize == 0 ? target : .f32
        }
        var metadata = source.metadata.filter { $0.key != "general.file_type" }
        metadata.append(("general.file_type", .uint32(target.llamaFileType!)))
        for t in source.tensors where !TensorConversion.canDequantize(t.type) {
            throw ModelError.unsupported(path: source.path, detail: "\(t.name): tensor type \(t.type) cannot be converted by this build")
        }
        let writer = try GGUFWriter(path: output, metadata: metadata,
                                    tensors: source.tensors.map { GGUFTensorDescriptor(name: $0.name, shape: $0.shape, type: outputType($0)) })
        var bar = ProgressBar(label: "quantize", total: source.tensors.count)
        Terminal.catchInterrupts()
        for (i, t) in source.tensors.enumerated() {
            if Terminal.interrupted {
                writer.abort()
                throw CLIError(description: "interrupted at tensor \(i + 1) of \(source.tensors.count); nothing was written", exitCode: ExitCode.interrupted)
            }
            let values = TensorConversion.floats(of: t, in: source)
            let bytes = values.withUnsafeBufferPointer { TensorConversion.quantize($0.baseAddress!, count: values.count, to: outputType(t))! }
            try writer.writeTensor(named: t.name, bytes: bytes)
            source.releasePages(of: t)
            bar.update(i + 1, detail: t.name)
        }
        try writer.finish()
        bar.finish()
        let bytes = (try? GGUFFile(path: output).fileSize) ?? 0
        Terminal.status("wrote \(output) (\(formatBytes(bytes)))")
        if json {
            try printJSON(Report(output: output, type: type.lowercased(), fitted: false, outputBytes: bytes, calibrationTokens: nil,
                                 seconds: Date().timeIntervalSince(started), peakResidentBytes: ProcessMemory.peakResidentBytes))
        }
    }

    /// --fit: the pruner's pass over the calibration text with nothing to remove, which records
    /// every matrix's input energies and writes each block fitted to them (the embedding and a
    /// separate output matrix too, the latter weighted by the final hidden state).
    private func runFitted(_ target: GGMLType, path: String) throws {
        returnLargeBuffersToTheSystem()
        let architecture = try ModelConfig(file: GGUFFile(path: path)).architecture
        guard ModelConfig.prunableArchitectures.contains(architecture) else {
            throw ModelError.unsupported(path: path, detail: "--fit runs the model, and architecture '\(architecture)' is not one llmrun runs yet (\(ModelConfig.prunableArchitectures.sorted().joined(separator: ", "))); quantize without --fit")
        }
        var settings = PruneSettings()
        settings.ratio = 0
        settings.outputType = target
        settings.embeddingType = target
        let pruner = try Pruner(sourcePath: path, settings: settings, threads: threadOptions.count)
        let text = try calib.map { try Terminal.readTextFile($0, what: "the calibration text") } ?? CalibrationSet.bundledText()
        let calibration = try pruner.calibration(text: text)
        Terminal.status("fitting \(path) to \(type.uppercased()) on \(calibration.tokenCount) calibration tokens")
        let report = try runShowingProgress(pruner, label: "quantize", calibration: calibration,
                                            outputPath: output, planPath: nil) { p in
            // Blocks cost alike here; writing is a copy.
            p.phase == "writing" ? 0.99 : 0.99 * Double(p.layer) / Double(max(p.layers, 1))
        }
        Terminal.status(String(format: "wrote %@ (%@) in %.1f s, peak RSS %@", output, formatBytes(report.outputBytes ?? 0),
                               report.seconds, formatBytes(report.peakResidentBytes)))
        if json {
            try printJSON(Report(output: output, type: type.lowercased(), fitted: true, outputBytes: report.outputBytes ?? 0,
                                 calibrationTokens: report.calibrationTokens, seconds: report.seconds,
                                 peakResidentBytes: report.peakResidentBytes))
        }
    }
}
