import Foundation
import XCTest
import TestSupport

/// Runs the built `llmrun` binary and captures what a user or script would see.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

final class DataBox: @unchecked Sendable { var data = Data() }

enum CLI {
    /// The release binary (Tools/test builds it first), else the debug one.
    /// $LLMRUN_TEST_BINARY runs the tests against another build (e.g. to see a new test fail on
    /// the previous one).
    static var binary: String? {
        if let override = ProcessInfo.processInfo.environment["LLMRUN_TEST_BINARY"], !override.isEmpty { return override }
        let root = Fixtures.repositoryRoot
        return [root + "/.build/release/llmrun", root + "/.build/debug/llmrun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs llmrun; a run still going after `timeout` seconds is killed (and shows as exit 9 by signal).
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                    timeout: Double = 600) throws -> CLIResult {
        guard let binary else { throw XCTSkip("llmrun is not built: run `swift build -c release` first") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: Fixtures.repositoryRoot)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "LLMRUN_MODEL")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Drain both pipes while the process runs so a chatty child cannot block.
        let outBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        let reader = out.fileHandleForReading
        DispatchQueue.global().async { outBox.data = reader.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outData = outBox.data
        p.waitUntilExit()
        return CLIResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    static func requireDefaultModel() throws -> String {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else {
            throw XCTSkip("default model missing: run Tools/fetch-model")
        }
        return Fixtures.defaultModel
    }
}
