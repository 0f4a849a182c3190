import Foundation
import XCTest
import LLMRuntime
import TestSupport

/// -m's lookup on temporary folders: paths, file names and short names, the search order, and a
/// message that names the folders searched.
final class ModelLocatorTests: XCTestCase {
    private func touch(_ path: String, bytes: Int = 4) {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x47, count: bytes))
    }

    func testStandardSearchPathOrder() {
        let locator = ModelLocator.standard(environment: ["LLMRUN_MODELS": "/a:/b", "HOME": "/home/u"], extra: ["/repo/Models"])
        XCTAssertEqual(locator.searchPath, ["/a", "/b", "/home/u/.local/share/llmrun/models",
                                            "/usr/local/share/llmrun/models", "Models", "/repo/Models"])
        XCTAssertEqual(ModelLocator.standard(environment: [:]).searchPath, ["/usr/local/share/llmrun/models", "Models"])
    }

    func testShortNamesFileNamesAndPaths() throws {
        let dir = TemporaryDirectory("locator")
        defer { dir.cleanup() }
        let first = dir.file("first"), second = dir.file("second")
        touch(second + "/SmolLM2-135M-Instruct.Q4_1.gguf")
        touch(second + "/mine.gguf")
        let locator = ModelLocator(searchPath: [first, second])
        XCTAssertEqual(try locator.resolve("smollm2-135m"), second + "/SmolLM2-135M-Instruct.Q4_1.gguf")
        XCTAssertEqual(try locator.resolve("SmolLM2-135M"), second + "/SmolLM2-135M-Instruct.Q4_1.gguf")
        XCTAssertEqual(try locator.resolve("mine.gguf"), second + "/mine.gguf")
        XCTAssertEqual(try locator.resolve("mine"), second + "/mine.gguf")
        XCTAssertEqual(try locator.resolve(second + "/mine.gguf"), second + "/mine.gguf")
        // An earlier folder wins.
        touch(first + "/mine.gguf")
        XCTAssertEqual(try locator.resolve("mine"), first + "/mine.gguf")
        // A path is only a path.
        XCTAssertThrowsError(try locator.resolve(first + "/SmolLM2-135M-Instruct.Q4_1.gguf")) { error in
            XCTAssertEqual(error as? ModelLookupError, .noSuchFile(first + "/SmolLM2-135M-Instruct.Q4_1.gguf"))
        }
    }

    func testNotFoundNamesTheSearchPath() {
        let dir = TemporaryDirectory("locator")
        defer { dir.cleanup() }
        let locator = ModelLocator(searchPath: [dir.file("a"), dir.file("b")])
        XCTAssertThrowsError(try locator.resolve("gemma3-270m")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(dir.file("a") + ", " + dir.file("b")), message)
            XCTAssertTrue(message.contains("Tools/fetch-model gemma3-270m"), message)
        }
    }

    func testInstalledModelsShadowLaterCopies() {
        let dir = TemporaryDirectory("locator")
        defer { dir.cleanup() }
        touch(dir.file("a/gemma-3-270m.Q4_K_M.gguf"), bytes: 10)
        touch(dir.file("b/gemma-3-270m.Q4_K_M.gguf"), bytes: 20)
        touch(dir.file("b/other.gguf"), bytes: 30)
        touch(dir.file("b/notes.txt"))
        let found = ModelLocator(searchPath: [dir.file("a"), dir.file("b"), dir.file("missing")]).installedModels()
        XCTAssertEqual(found, [
            ModelLocator.Entry(name: "gemma3-270m", path: dir.file("a/gemma-3-270m.Q4_K_M.gguf"), size: 10),
            ModelLocator.Entry(name: "other.gguf", path: dir.file("b/other.gguf"), size: 30),
        ])
    }
}
