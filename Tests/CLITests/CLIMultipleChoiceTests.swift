import Foundation
import XCTest
import TestSupport

/// `llmrun eval mc` on the real model: the summary, the per-item log agreeing with it, and
/// bad task files.
final class CLIMultipleChoiceTests: XCTestCase {
    func testSummaryAndItemLogAgree() throws {
        _ = try CLI.requireDefaultModel()
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = dir.file("items.jsonl")
        let tasks = ["arc_easy", "piqa"]
        let files = tasks.flatMap { ["-f", Fixtures.data + "/mc/\($0)_validation.jsonl"] }
        let r = try CLI.run(["eval", "mc"] + files + ["--limit", "12", "--json", "--log-items", log])
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let perTask = try XCTUnwrap(summary["tasks"] as? [[String: Any]])
        XCTAssertEqual(perTask.map { $0["task"] as? String }, tasks)

        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 24)
        var byTask: [String: [(label: Int, pred: Int, norm: Int, options: Int)]] = [:]
        for line in lines {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let task = try XCTUnwrap(o["task"] as? String)
            let logprobs = try XCTUnwrap(o["logprobs"] as? [Double])
            let pred = try XCTUnwrap(o["pred"] as? Int)
            // pred is the choice with the highest log-probability, and every log-probability is < 0.
            XCTAssertEqual(pred, logprobs.indices.max { logprobs[$0] < logprobs[$1] })
            XCTAssertTrue(logprobs.allSatisfy { $0 < 0 })
            byTask[task, default: []].append((try XCTUnwrap(o["label"] as? Int), pred, try XCTUnwrap(o["pred_norm"] as? Int), logprobs.count))
        }
        XCTAssertEqual(byTask["arc_easy"]?.allSatisfy { $0.options >= 3 }, true)
        XCTAssertEqual(byTask["piqa"]?.allSatisfy { $0.options == 2 }, true)
        // The summary's accuracies are the log's hit rates.
        for t in perTask {
            let name = try XCTUnwrap(t["task"] as? String)
            let items = try XCTUnwrap(byTask[name])
            XCTAssertEqual(t["items"] as? Int, 12)
            let acc = Double(items.filter { $0.pred == $0.label }.count) / 12
            let accNorm = Double(items.filter { $0.norm == $0.label }.count) / 12
            XCTAssertEqual(try XCTUnwrap(t["acc"] as? Double), acc, accuracy: 1e-9)
            XCTAssertEqual(try XCTUnwrap(t["acc_norm"] as? Double), accNorm, accuracy: 1e-9)
        }
    }

    func testBadTaskFiles() throws {
        _ = try CLI.requireDefaultModel()
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let bad = dir.file("bad.jsonl")
        try "{\"context\": \"Q\", \"choices\": [\"a\", \"b\"], \"label\": 0}\n{\"context\": \"Q\", \"choices\": [\"a\"], \"label\": 3}\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try CLI.run(["eval", "mc", "-f", bad])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("bad.jsonl:2"), r.stderr)
        XCTAssertTrue(r.stderr.contains("out of range"), r.stderr)

        let missing = try CLI.run(["eval", "mc", "-f", dir.file("nope.jsonl")])
        XCTAssertEqual(missing.status, 66, missing.stderr)

        // A log that cannot be written is refused before any item is scored.
        let good = Fixtures.data + "/mc/piqa_validation.jsonl"
        let log = dir.file("no-such-dir/items.jsonl")
        let unwritable = try CLI.run(["eval", "mc", "-f", good, "--limit", "1", "--log-items", log])
        XCTAssertEqual(unwritable.status, 73, unwritable.stderr)
        XCTAssertTrue(unwritable.stderr.contains("does not exist"), unwritable.stderr)
        XCTAssertFalse(unwritable.stdout.contains("piqa"), unwritable.stdout)
    }
}
