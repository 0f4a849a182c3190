import LLMRuntime
import XCTest

/// `PromptFileText` against what llama.cpp's common_params_parse and string_process_escapes do.
final class PromptFileTextTests: XCTestCase {
    private func escaped(_ s: String) -> String {
        String(decoding: PromptFileText.replacingEscapes(Array(s.utf8)), as: UTF8.self)
    }

    func testEscapes() {
        XCTAssertEqual(escaped(#"a\nb\tc\rd"#), "a\nb\tc\rd")
        XCTAssertEqual(escaped(#"\'q\" \\n"#), "'q\" \\n")  // \\ is one backslash, then a plain n
        XCTAssertEqual(escaped(#"\x41\x4a\x4A!"#), "AJJ!")
        XCTAssertEqual(escaped(#"\x 9|"#), "\t|")  // strtol skips a blank before one digit
        // Unknown escapes, an incomplete \x and a final lone backslash stay as written.
        XCTAssertEqual(escaped(#"\q \xg1 \x4"#), #"\q \xg1 \x4"#)
        XCTAssertEqual(escaped("end\\"), "end\\")
    }

    func testPrepareDropsOneFinalNewline() {
        XCTAssertEqual(PromptFileText.prepare("text\n\n", processEscapes: false), "text\n")
        XCTAssertEqual(PromptFileText.prepare("text", processEscapes: false), "text")
        XCTAssertEqual(PromptFileText.prepare(#"a\nb"#, processEscapes: false), #"a\nb"#)
        XCTAssertEqual(PromptFileText.prepare("a\\nb\n", processEscapes: true), "a\nb")
    }
}
