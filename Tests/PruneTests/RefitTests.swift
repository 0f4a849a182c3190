import Foundation
import XCTest
import GGUF
@testable import LLMPrune
import LLMRuntime
import TestSupport

final class RefitTests: XCTestCase {
    /// The SwiGLU MLP's analytic gradient (every parameter: gate, up, down, bias) against central
    /// differences of its mean squared error, on shapes small enough to perturb every entry.
    func testSwiGLUGradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 3)
        func random(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in (Float(rng.nextUnitDouble()) * 2 - 1) * scale } }
        let dim = 6, width = 5, rows = 7
        let start = SwiGLUParameters(dim: dim, width: width, gate: random(width * dim, 1), up: random(width * dim, 1),
                                     down: random(dim * width, 1), bias: random(dim, 0.3))
        let x = random(rows * dim, 1), target = random(rows * dim, 1)
        let f = SwiGLUGradient(dim: dim, width: width, maxRows: rows, pool: nil)
        var grad = [Float](repeating: 0, count: start.values.count)
        let loss = start.values.withUnsafeBufferPointer { p in
            grad.withUnsafeMutableBufferPointer { g in
                f.meanSquaredError(p.baseAddress!, x: x, target: target, rows: rows, gradient: g.baseAddress!)
            }
        }
        func mse(_ v: [Float]) -> Double {
            v.withUnsafeBufferPointer { f.squaredError($0.baseAddress!, x: x, target: target, rows: rows) } / Double(rows * dim)
        }
        XCTAssertEqual(loss, mse(start.values), accuracy: 1e-9)
        let h: Float = 1e-2
        for i in 0..<start.values.count {
            var plus = start.values, minus = start.values
            plus[i] += h
            minus[i] -= h
            let numeric = (mse(plus) - mse(minus)) / Double(2 * h)
            XCTAssertEqual(Double(grad[i]), numeric, accuracy: 2e-3 + 1e-2 * abs(numeric), "parameter \(i)")
        }
    }

    /// On a target the start cannot reach, the refit lowers the held-out error, and never returns
    /// parameters worse there than the ones it started from.
    func testRefitLowersTheHeldOutError() {
        var rng = SplitMix64(seed: 11)
        func random(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in (Float(rng.nextUnitDouble()) * 2 - 1) * scale } }
        let dim = 16, width = 32, sequences = 8, length = 32
        let teacher = SwiGLUParameters(dim: dim, width: width, gate: random(width * dim, 0.5), up: random(width * dim, 0.5),
                                       down: random(dim * width, 0.5), bias: nil)
        let x = Activations(rows: sequences * length, width: dim), target = Activations(rows: sequences * length, width: dim)
        for i in 0..<(x.rows * dim) { x.pointer[i] = Float(rng.nextUnitDouble()) * 2 - 1 }
        let tg = teacher.gate, tu = teacher.up, td = teacher.down
        for r in 0..<x.rows {
            for d in 0..<dim {
                var y: Float = 0
                for j in 0..<width {
                    var g: Float = 0, u: Float = 0
                    for i in 0..<dim { g += tg[j * dim + i] * x.row(r)[i]; u += tu[j * dim + i] * x.row(r)[i] }
                    y += td[d * width + j] * g / (1 + exp(-g)) * u
                }
                target.row(r)[d] = y
            }
        }
        // The student starts from the teacher with noise on every weight.
        var noisy = teacher
        for i in noisy.values.indices { noisy.values[i] += (Float(rng.nextUnitDouble()) * 2 - 1) * 0.2 }
        var settings = RefitSettings()
        settings.steps = 200
        settings.learningRate = 3e-3
        settings.batchTokens = 64
        let (fitted, outcome) = BlockRefit.fit(noisy, inputs: x, target: target, sequenceLength: length,
                                               settings: settings, seed: 1, pool: nil)
        XCTAssertLessThan(outcome.heldOutAfter, 0.5 * outcome.heldOutBefore)
        XCTAssertEqual(fitted.values.count, noisy.values.count)

        // A learning rate that only makes things worse leaves the start as it was.
        settings.learningRate = 10
        settings.steps = 50
        let (kept, bad) = BlockRefit.fit(noisy, inputs: x, target: target, sequenceLength: length, settings: settings, seed: 1, pool: nil)
        XCTAssertLessThanOrEqual(bad.heldOutAfter, bad.heldOutBefore)
        if bad.heldOutAfter == bad.heldOutBefore { XCTAssertEqual(kept.values, noisy.values) }
    }

    private var calibrationText: String {
        (0..<60).map { "the sentence number \($0) is here, and then the next one comes in a stream of text \($0 * 7)." }
            .joined(separator: "\n")
    }

    private func tinyModel(_ dir: TemporaryDirectory, type: GGMLType = .q8_0) throws -> String {
        var t = TinyModel()
        t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 128), count: 4)
        t.matrixType = type
        return try t.write(to: dir.file("tiny.gguf"))
    }

    private func settings(refitSteps: Int) -> PruneSettings {
        var s = PruneSettings()
        s.ratio = 0.3
        s.calibrationSamples = 4
        s.sequenceLength = 32
        s.refit.steps = refitSteps
        return s
    }

    /// With no refit steps the pruned file is the one COMP wrote before the refit existed, to
    /// the byte (the digest of what commit e00b546's `llmrun prune --ratio 0.3 --calib-samples 4
    /// --seq-len 32 --calib` wrote for this model and text, with 1 or 2 threads).
    func testNoRefitStepsWritesTodaysCOMPFile() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let source = try tinyModel(dir)
        let pruner = try Pruner(sourcePath: source, settings: settings(refitSteps: 0), threads: 2)
        let out = dir.file("comp.gguf")
        let report = try pruner.run(calibration: try pruner.calibration(text: calibrationText), outputPath: out, planPath: nil)
        XCTAssertNil(report.refit)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: out))
        XCTAssertEqual(SHA256.hex(bytes), Self.compDigest)
    }

    static let compDigest = "3c9100c5222b4cc68e3f63d686fb1e04a7f28ca055c1889345fc4ecb02369489"

    /// With refit steps, every pruned block's MLP is trained (its held-out error no worse than the
    /// mask-tuned one's), its gate and up are rewritten rather than copied, and the file runs.
    func testRefitWritesARunnableModel() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let source = try tinyModel(dir, type: .q4_1)
        let pruner = try Pruner(sourcePath: source, settings: settings(refitSteps: 40), threads: 2)
        let out = dir.file("refit.gguf")
        let report = try pruner.run(calibration: try pruner.calibration(text: calibrationText), outputPath: out, planPath: nil)
        let records = try XCTUnwrap(report.refit)
        XCTAssertFalse(records.isEmpty)
        for r in records {
            XCTAssertGreaterThan(r.steps, 0)
            XCTAssertLessThanOrEqual(r.heldOutAfter, r.heldOutBefore, "block \(r.layer)")
        }
        XCTAssertTrue(records.contains { $0.heldOutAfter < $0.heldOutBefore })
        let model = try LanguageModel(path: out, threads: 1)
        XCTAssertEqual(model.file.tensors.reduce(0) { $0 + $1.elementCount }, report.parametersAfter)
        XCTAssertEqual(model.file.tensor(named: "blk.0.ffn_gate.weight")?.type, .q4_1)
        let session = try GenerationSession(model: model, contextLength: 32)
        try session.prefill([1, 2, 3, 4])
        XCTAssertTrue(UnsafeBufferPointer(start: session.logits, count: model.config.vocabularySize).allSatisfy(\.isFinite))
        // The refit's digest differs from the mask-tuned file's: the refit did change the weights.
        let comp = try Pruner(sourcePath: source, settings: settings(refitSteps: 0), threads: 2)
        let compOut = dir.file("comp.gguf")
        _ = try comp.run(calibration: try comp.calibration(text: calibrationText), outputPath: compOut, planPath: nil)
        XCTAssertNotEqual(FileManager.default.contents(atPath: out), FileManager.default.contents(atPath: compOut))
    }
}
