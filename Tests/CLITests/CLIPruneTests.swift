import Foundation
import XCTest
import GGUF
import LLMRuntime
import TestSupport

final class CLIPruneTests: XCTestCase {
    func testPruneTinyModelByRatioAndApplyPlan() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var t = TinyModel()
        t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 128), count: 4)
        let src = try t.write(to: dir.file("tiny.gguf"))
        let calib = dir.file("calib.txt")
        try (0..<80).map { "line \($0) of some calibration text that goes on for a while \($0 * 3)" }.joined(separator: "\n")
            .write(toFile: calib, atomically: true, encoding: .utf8)
        let out = dir.file("small.gguf"), plan = dir.file("plan.json")
        let r = try CLI.run(["prune", "-m", src, "--ratio", "0.3", "-o", out, "--plan-out", plan, "--calib", calib,
                             "--calib-samples", "4", "--seq-len", "32", "--attention-share", "0.5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertLessThan(report?["parameters_after"] as? Int ?? .max, report?["parameters_before"] as? Int ?? 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))

        let viaFile = try CLI.run(["generate", "-m", out, "-p", "the", "-n", "5", "--temp", "0", "--no-display-prompt"])
        let viaPlan = try CLI.run(["generate", "-m", src, "--prune-plan", plan, "-p", "the", "-n", "5", "--temp", "0", "--no-display-prompt"])
        XCTAssertEqual(viaFile.status, 0, viaFile.stderr)
        XCTAssertEqual(viaFile.stdout, viaPlan.stdout)

        // COMP's biases on a llama (MLP and, with attention pruned, attention output): written
        // by default, left out with --no-bias.
        func biases(_ path: String, _ suffix: String) throws -> Int {
            try GGUFFile(path: path).tensors.filter { $0.name.hasSuffix(suffix) }.count
        }
        XCTAssertGreaterThan(try biases(out, "ffn_down.bias"), 0)
        XCTAssertGreaterThan(try biases(out, "attn_output.bias"), 0)
        let plain = dir.file("plain.gguf"), plainPlan = dir.file("plain.json")
        let noBias = try CLI.run(["prune", "-m", src, "--ratio", "0.3", "-o", plain, "--plan-out", plainPlan, "--calib", calib,
                                  "--calib-samples", "4", "--seq-len", "32", "--attention-share", "0.5", "--no-bias", "--drift-share", "1"])
        XCTAssertEqual(noBias.status, 0, noBias.stderr)
        XCTAssertEqual(try biases(plain, "ffn_down.bias"), 0)
        XCTAssertEqual(try biases(plain, "attn_output.bias"), 0)
        let recorded = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: plainPlan))) as? [String: Any]
        XCTAssertEqual(recorded?["driftShare"] as? Double, 1)
        let bad = try CLI.run(["prune", "-m", src, "--ratio", "0.3", "-o", dir.file("bad.gguf"), "--drift-share", "1.5"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--drift-share"), bad.stderr)
    }

    /// By default every block matrix keeps its format (a pruned file is smaller than its parent,
    /// never larger); --out-type q8_0 widens them; --budget plans the format itself.
    func testPrunedFileKeepsTheSourceFormatByDefault() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var t = TinyModel()
        t.matrixType = .q4_1
        t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 128), count: 4)
        let src = try t.write(to: dir.file("tiny41.gguf"))
        let calib = dir.file("calib.txt")
        try (0..<80).map { "line \($0) of some calibration text that goes on for a while \($0 * 3)" }.joined(separator: "\n")
            .write(toFile: calib, atomically: true, encoding: .utf8)
        func prune(_ extra: [String]) throws -> GGUFFile {
            let out = dir.file("out\(extra.joined()).gguf")
            let r = try CLI.run(["prune", "-m", src, "--ratio", "0.3", "-o", out, "--calib", calib,
                                 "--calib-samples", "4", "--seq-len", "32", "--layer-share", "0"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try GGUFFile(path: out)
        }
        let source = try GGUFFile(path: src)
        let kept = try prune([])
        let matrices = kept.tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count == 2 }
        XCTAssertFalse(matrices.isEmpty)
        for m in matrices { XCTAssertEqual(m.type, .q4_1, m.name) }
        XCTAssertLessThan(kept.fileSize, source.fileSize)
        // Attention is not pruned here: its matrices are the source's bytes.
        let q = try XCTUnwrap(kept.tensor(named: "blk.0.attn_q.weight"))
        XCTAssertTrue(Array(kept.data(for: q)) == Array(source.data(for: try XCTUnwrap(source.tensor(named: "blk.0.attn_q.weight")))),
                      "attn_q differs from the source's")
        let wide = try prune(["--out-type", "q8_0"])
        for m in wide.tensors where m.name.hasPrefix("blk.") && m.shape.count == 2 { XCTAssertEqual(m.type, .q8_0, m.name) }
        XCTAssertGreaterThan(wide.fileSize, kept.fileSize)
        let r = try CLI.run(["generate", "-m", kept.path, "-p", "the", "-n", "4", "--temp", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)

        // A format llmrun converts at load (f16, like Q4_K or Q5_0) stays in the file: rows are
        // copied from the source tensor (the plan says which); only the edited down projection
        // takes the format the loaded matrix had.
        t.matrixType = .f16
        let src16 = try t.write(to: dir.file("tiny16.gguf"))
        let plan = dir.file("plan16.json"), out16 = dir.file("out16.gguf")
        let r16 = try CLI.run(["prune", "-m", src16, "--ratio", "0.3", "-o", out16, "--plan-out", plan, "--calib", calib,
                               "--calib-samples", "4", "--seq-len", "32", "--layer-share", "0"])
        XCTAssertEqual(r16.status, 0, r16.stderr)
        let s16 = try GGUFFile(path: src16), p16 = try GGUFFile(path: out16)
        let recorded = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: plan))) as? [String: Any]
        let layers = try XCTUnwrap(recorded?["layers"] as? [[String: Any]])
        for (i, layer) in layers.enumerated() {
            let from = try XCTUnwrap(layer["source"] as? Int)
            let kept = try XCTUnwrap(layer["keptChannels"] as? [Int], "block \(i) lost no channels")
            let gate = try XCTUnwrap(p16.tensor(named: "blk.\(i).ffn_gate.weight"))
            XCTAssertEqual(gate.type, .f16)
            let source = try XCTUnwrap(s16.tensor(named: "blk.\(from).ffn_gate.weight"))
            let rowBytes = 2 * source.shape[0]
            let sourceBytes = Array(s16.data(for: source))
            XCTAssertTrue(Array(p16.data(for: gate)) == kept.flatMap { sourceBytes[($0 * rowBytes)..<(($0 + 1) * rowBytes)] },
                          "block \(i): ffn_gate is not the source's kept rows")
            XCTAssertEqual(p16.tensor(named: "blk.\(i).attn_q.weight")?.type, .f16)
            XCTAssertEqual(p16.tensor(named: "blk.\(i).ffn_down.weight")?.type, .q8_0)
        }
        XCTAssertEqual(try CLI.run(["generate", "-m", out16, "-p", "the", "-n", "4", "--temp", "0"]).status, 0)

        let both = try CLI.run(["prune", "-m", src, "--budget", "1GB", "--out-type", "source", "-o", dir.file("x.gguf")])
        XCTAssertEqual(both.status, 64, both.stderr)
        XCTAssertTrue(both.stderr.contains("--out-type"), both.stderr)
    }

    func testGemma3PrunesNeuronsOnlyByDefault() throws {
        // Dropping blocks wrecked Gemma-3-270M (see PruneSettings.defaultLayerShare), so COMP
        // keeps every block there unless --layer-share asks otherwise.
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let src = try TinyModel.gemma3().write(to: dir.file("g.gguf"))
        let calib = dir.file("calib.txt")
        try (0..<80).map { "line \($0) of some calibration text that goes on for a while \($0 * 3)" }.joined(separator: "\n")
            .write(toFile: calib, atomically: true, encoding: .utf8)
        func blocksAfter(_ extra: [String]) throws -> Int? {
            let r = try CLI.run(["prune", "-m", src, "--ratio", "0.3", "-o", dir.file("out.gguf"), "--calib", calib,
                                 "--calib-samples", "4", "--seq-len", "32", "--json"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return report?["blocks_after"] as? Int
        }
        XCTAssertEqual(try blocksAfter([]), 4)
        XCTAssertLessThan(try blocksAfter(["--layer-share", "1"]) ?? 4, 4)
        let run = try CLI.run(["generate", "-m", dir.file("out.gguf"), "-p", "the", "-n", "3", "--temp", "0"])
        XCTAssertEqual(run.status, 0, run.stderr)
    }

    /// quantize --fit on a tiny model: 4-bit blocks, a file that generates; an architecture
    /// llmrun cannot run is refused with what to do instead.
    func testQuantizeFitOnTinyModels() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let src = try TinyModel().write(to: dir.file("tiny.gguf"))
        let calib = dir.file("calib.txt")
        try (0..<80).map { "line \($0) of some calibration text that goes on for a while \($0 * 3)" }.joined(separator: "\n")
            .write(toFile: calib, atomically: true, encoding: .utf8)
        let out = dir.file("q41.gguf")
        let r = try CLI.run(["quantize", "-m", src, "-o", out, "--type", "q4_1", "--fit", "--calib", calib])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try GGUFFile(path: out).tensor(named: "blk.0.ffn_down.weight")?.type, .q4_1)
        let g = try CLI.run(["generate", "-m", out, "-p", "the", "-n", "3", "--temp", "0"])
        XCTAssertEqual(g.status, 0, g.stderr)

        // IQ4_NL, fitted or not: llama.cpp's file type 25, and it runs; --json reports on stdout.
        for fit in [[], ["--fit", "--calib", calib]] {
            let iq4 = dir.file("iq4-\(fit.count).gguf")
            let q = try CLI.run(["quantize", "-m", src, "-o", iq4, "--type", "iq4_nl", "--json"] + fit)
            XCTAssertEqual(q.status, 0, q.stderr)
            let report = try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as? [String: Any]
            XCTAssertEqual(report?["type"] as? String, "iq4_nl")
            XCTAssertEqual(report?["fitted"] as? Bool, !fit.isEmpty)
            XCTAssertEqual(report?["output_bytes"] as? Int, try GGUFFile(path: iq4).fileSize)
            let file = try GGUFFile(path: iq4)
            XCTAssertEqual(file.tensor(named: "blk.0.ffn_down.weight")?.type, .iq4_nl)
            XCTAssertEqual(file["general.file_type"]?.intValue, 25)
            let gi = try CLI.run(["generate", "-m", iq4, "-p", "the", "-n", "3", "--temp", "0"])
            XCTAssertEqual(gi.status, 0, gi.stderr)
        }
        XCTAssertEqual(try CLI.run(["quantize", "-m", src, "-o", dir.file("x.gguf"), "--type", "iq4_xs"]).status, 64)

        var other = TinyModel()
        other.architecture = "starcoder2"
        let unknown = try other.write(to: dir.file("sc2.gguf"))
        let refused = try CLI.run(["quantize", "-m", unknown, "-o", dir.file("sc2-q4.gguf"), "--type", "q4_0", "--fit"])
        XCTAssertEqual(refused.status, 65, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("without --fit"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("sc2-q4.gguf")))

        // Output checks come before any work, with and without --fit.
        for fit in [[], ["--fit"]] {
            let missingDir = try CLI.run(["quantize", "-m", src, "-o", dir.file("missing/q.gguf"), "--type", "q4_0"] + fit)
            XCTAssertEqual(missingDir.status, 73, missingDir.stderr)
            let overwrite = try CLI.run(["quantize", "-m", src, "-o", src, "--type", "q4_0"] + fit)
            XCTAssertEqual(overwrite.status, 64, overwrite.stderr)
        }
    }

    /// An impossible budget exits 75, a ratio the method cannot reach 64 (with its limit) and an
    /// output directory that cannot be written 73, all before any work; a budget the model
    /// meets already exits 0.
    func testImpossibleTargetsExitBeforeWork() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let src = try TinyModel().write(to: dir.file("tiny.gguf"))
        let out = dir.file("x.gguf")
        let r = try CLI.run(["prune", "-m", src, "--budget", "10KB", "-o", out])
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("budget"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        for extra in [["-o", out], ["--dry-run"]] {
            let unreachable = try CLI.run(["prune", "-m", src, "--ratio", "0.85"] + extra)
            XCTAssertEqual(unreachable.status, 64, unreachable.stderr)
            XCTAssertTrue(unreachable.stderr.contains("can remove at most"), unreachable.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        let unwritable = try CLI.run(["prune", "-m", src, "--ratio", "0.2", "-o", dir.file("missing/x.gguf")])
        XCTAssertEqual(unwritable.status, 73, unwritable.stderr)
        XCTAssertFalse(unwritable.stderr.contains("pass 1"), "refused before calibrating: \(unwritable.stderr)")
        let fits = try CLI.run(["prune", "-m", src, "--budget", "2GB", "-o", out])
        XCTAssertEqual(fits.status, 0, fits.stderr)
        XCTAssertTrue(fits.stderr.contains("no pruning needed"), fits.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// SIGKILL in the middle of a prune leaves no file at the output path and the source intact.
    func testKilledPruneLeavesNoOutput() throws {
        let model = try CLI.requireDefaultModel()
        guard let binary = CLI.binary else { throw XCTSkip("not built") }
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let out = dir.file("killed.gguf")
        let before = try FileManager.default.attributesOfItem(atPath: model)[.modificationDate] as? Date
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["prune", "-m", model, "--ratio", "0.2", "-o", out, "--calib-samples", "4"]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 4)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: model)[.modificationDate] as? Date, before)
    }

    /// SIGINT stops cleanly: exit 130, a note of how far it got, no output file.
    func testInterruptedPruneSaysHowFarItGot() throws {
        let model = try CLI.requireDefaultModel()
        guard let binary = CLI.binary else { throw XCTSkip("not built") }
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let out = dir.file("int.gguf")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["prune", "-m", model, "--ratio", "0.2", "-o", out, "--calib-samples", "4"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 4)
        kill(p.processIdentifier, SIGINT)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130, text)
        XCTAssertTrue(text.contains("block"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
