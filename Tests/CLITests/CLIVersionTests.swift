import Foundation
import XCTest
import TestSupport

/// `llmrun --version` names the release, the build's commit and date, and the kernels this CPU
/// runs; bench's JSON carries the commit as llama-bench's build_commit does.
final class CLIVersionTests: XCTestCase {
    func testVersionNamesCommitDateAndKernels() throws {
        let r = try CLI.run(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, r.stdout)
        XCTAssertTrue(lines.first?.hasPrefix("llmrun ") == true, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("commit ") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("built ") }, r.stdout)
        let kernels = try XCTUnwrap(lines.first { $0.hasPrefix("kernels ") })
        XCTAssertTrue(["avx2", "neon", "neon+dotprod", "scalar"].contains { kernels.hasSuffix(" " + $0) }
                      || kernels.contains("avx512"), kernels)
    }

    func testBenchJSONCarriesTheBuildCommit() throws {
        _ = try CLI.requireDefaultModel()
        let version = try CLI.run(["--version"])
        let commit = try XCTUnwrap(version.stdout.split(separator: "\n").first { $0.hasPrefix("commit ") })
            .dropFirst("commit".count).trimmingCharacters(in: .whitespaces)
        let r = try CLI.run(["bench", "-p", "8", "-n", "0", "-t", "1", "-r", "1", "-o", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertFalse(rows.isEmpty)
        for row in rows { XCTAssertEqual(row["build_commit"] as? String, commit) }
    }
}
