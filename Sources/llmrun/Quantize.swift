import ArgumentParser
import Foundation
import GGUF
import LLMRuntime

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite a model with its matrices in another format (as llama-quantize --allow-requantize).",
        discussion: """
        Every tensor of two or more dimensions is dequantized and quantized again with ggml's \
        reference rounding (so the bytes equal llama-quantize's); vectors stay F32. The output \
        is written as a stream and appears only when complete.

          llmrun quantize -m model.Q4_1.gguf -o model.Q8_0.gguf --type q8_0
        """
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output GGUF.")
    var output: String
    @Option(name: .customLong("type"), help: "q8_0, q4_0, q4_1 or f16.")
    var type: String = "q8_0"

    func validate() throws {
        guard let t = GGMLType(name: type), [.q8_0, .q4_0, .q4_1, .f16].contains(t) else {
            throw ValidationError("--type must be q8_0, q4_0, q4_1 or f16")
        }
    }

    func run() throws {
        let target = GGMLType(name: type)!
        let source = try GGUFFile(path: try modelOptions.resolvedPath())
        guard URL(fileURLWithPath: output).standardized.path != URL(fileURLWithPath: source.path).standardized.path else {
            throw CLIError.usage("the output would overwrite the source; choose another -o")
        }
        func outputType(_ t: GGUFTensorInfo) -> GGMLType {
            t.shape.count >= 2 && t.shape[0] % target.blockSize == 0 ? target : .f32
        }
        var metadata = source.metadata.filter { $0.key != "general.file_type" }
        let fileType: [GGMLType: UInt32] = [.f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7]
        metadata.append(("general.file_type", .uint32(fileType[target]!)))
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
        Terminal.status("wrote \(output) (\(formatBytes((try? GGUFFile(path: output).fileSize) ?? 0)))")
    }
}
