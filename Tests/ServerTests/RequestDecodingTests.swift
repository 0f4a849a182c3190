import Foundation
import LLMServerAPI
import Tokenizers
import XCTest

/// The request decoding the server and the serve-request fuzz harness share, without a server:
/// what a body decodes to, and that every refusal is a 400 naming the field.
final class RequestDecodingTests: XCTestCase {
    private func body(_ text: String) throws -> JSONValue {
        try JSONValue.requestBody(Data(text.utf8))
    }

    private func refusal(_ make: () throws(APIError) -> Void, file: StaticString = #filePath, line: UInt = #line) -> APIError? {
        do throws(APIError) {
            try make()
            XCTFail("accepted", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.status, 400, error.message, file: file, line: line)
            return error
        }
    }

    func testChatBodyDecodesAsOpenAIClientsSendIt() throws {
        let r = try CompletionRequest(json: body(#"""
            {"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"Be "},{"type":"text","text":"brief."}]},
             {"role":"user","name":"ann","content":"Hi"}],"stop":["\n","\u00e9"],"stream":true,"stream_options":{"include_usage":true},
             "n":1,"seed":7,"max_completion_tokens":5,"max_tokens":9,"temperature":0.5}
            """#), chat: true)
        guard case .messages(let m) = r.input else { return XCTFail("\(r.input)") }
        XCTAssertEqual(m.map(\.role), ["system", "user"])
        XCTAssertEqual(m.map(\.content), ["Be brief.", "Hi"])
        XCTAssertEqual(r.stops, ["\n", "é"])
        XCTAssertTrue(r.stream && r.includeUsage && r.seedGiven)
        XCTAssertEqual(r.maxTokens, 5)
        XCTAssertEqual(r.parameters.temperature, 0.5)
        XCTAssertEqual(r.parameters.seed, 7)
    }

    func testRefusalsAre400sNamingTheField() throws {
        let cases: [(String, Bool, String?)] = [
            (#"{"messages":[{"role":"user","content":"hi"}],"tools":[]}"#, true, "tools"),
            (#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":1e300}"#, true, "max_tokens"),
            (#"{"messages":[{"role":"user","content":"hi"}],"stop":[1]}"#, true, "stop"),
            (#"{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}"#, true, "messages"),
            (#"{"prompt":["a","b"]}"#, false, "prompt"),
            (#"{"prompt":[0.5]}"#, false, "prompt"),
            (#"[1]"#, false, nil),
        ]
        for (text, chat, param) in cases {
            let json = try body(text)
            let error = refusal { () throws(APIError) in _ = try CompletionRequest(json: json, chat: chat) }
            XCTAssertEqual(error?.param, param, text)
        }
        XCTAssertEqual(refusal { () throws(APIError) in _ = try JSONValue.requestBody(Data("{not json".utf8)) }?.message,
                       "the request body is not valid JSON")
    }

    /// Found by the serve-request harness's check of accepted sampling numbers: 1e300 became a
    /// Float inf and 1e-300 a Float 0, and the repetition penalty then made logits inf or NaN.
    func testRepeatPenaltyOutsideWhatTheSamplerTakesIsRefused() throws {
        for v in ["1e300", "1e-300", "0.001", "101", "0", "-1"] {
            let json = try body(#"{"prompt":"a","repeat_penalty":\#(v)}"#)
            XCTAssertEqual(refusal { () throws(APIError) in _ = try CompletionRequest(json: json, chat: false) }?.param, "repeat_penalty", v)
        }
        for v in ["0.01", "1", "1.1", "100"] {
            XCTAssertEqual(try CompletionRequest(json: body(#"{"prompt":"a","repeat_penalty":\#(v)}"#), chat: false).parameters.repeatPenalty,
                           Float(v), v)
        }
    }

    /// Found by the serve-request harness (slow units): decoding a body nested 200 to 500 deep
    /// took 3 to 12 s, so depth is refused before decoding, past 64 levels. Brackets inside
    /// strings do not count.
    func testBodiesNestedPastTheLimitAreRefusedBeforeDecoding() throws {
        func nested(_ depth: Int) -> Data {
            Data(("{\"prompt\":\"[[{{\\\"[\",\"user\":" + String(repeating: "[", count: depth - 1) + "1"
                  + String(repeating: "]", count: depth - 1) + "}").utf8)
        }
        let deepest = try JSONValue.requestBody(nested(JSONValue.maximumRequestDepth))
        XCTAssertEqual(try JSONValue.requestBody(Data(deepest.serialized.utf8)), deepest)
        XCTAssertNotNil(try CompletionRequest(json: deepest, chat: false))
        for depth in [JSONValue.maximumRequestDepth + 1, 100_000] {
            XCTAssertEqual(refusal { () throws(APIError) in _ = try JSONValue.requestBody(nested(depth)) }?.message,
                           "the request body nests arrays and objects deeper than 64 levels")
        }
    }

    func testPromptIsCheckedAgainstTheModelsLimits() throws {
        let limits = ModelLimits(vocabularySize: 100, context: 8)
        let bytes: (String) -> [Int32] = { $0.utf8.map { Int32($0) % 100 } }
        func prompt(_ text: String) throws -> CompletionRequest { try CompletionRequest(json: body(text), chat: false) }
        XCTAssertEqual(try prompt(#"{"prompt":[[1,2,99]]}"#).promptTokens(limits: limits, template: nil, tokenize: bytes), [1, 2, 99])
        let outside = try prompt(#"{"prompt":[1,100]}"#), empty = try prompt(#"{"prompt":""}"#), long = try prompt(#"{"prompt":"12345678"}"#)
        XCTAssertEqual(refusal { () throws(APIError) in _ = try outside.promptTokens(limits: limits, template: nil, tokenize: bytes) }?.param, "prompt")
        XCTAssertEqual(refusal { () throws(APIError) in _ = try empty.promptTokens(limits: limits, template: nil, tokenize: bytes) }?.message, "the prompt is empty")
        XCTAssertEqual(refusal { () throws(APIError) in _ = try long.promptTokens(limits: limits, template: nil, tokenize: bytes) }?.code, "context_length_exceeded")
        let chat = try CompletionRequest(json: body(#"{"messages":[{"role":"user","content":"hi"}]}"#), chat: true)
        XCTAssertNotNil(refusal { () throws(APIError) in _ = try chat.promptTokens(limits: limits, template: nil, tokenize: bytes) })
        XCTAssertEqual(try chat.promptTokens(limits: ModelLimits(vocabularySize: 100, context: 64), template: ChatTemplate(kind: .chatml), tokenize: bytes).count,
                       "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n".utf8.count)
    }

    func testTokenizerBodies() throws {
        let t = try TokenizeRequest(json: body(#"{"content":"hi","add_special":true,"with_pieces":true}"#))
        XCTAssertEqual([t.content], ["hi"])
        XCTAssertEqual([t.addSpecial, t.parseSpecial, t.withPieces], [true, true, true])
        let notText = try body(#"{"content":1}"#)
        XCTAssertEqual(refusal { () throws(APIError) in _ = try TokenizeRequest(json: notText) }?.param, "content")
        XCTAssertEqual(try DetokenizeRequest(json: body(#"{"tokens":[0,99]}"#), vocabularySize: 100).tokens, [0, 99])
        for bad in ["[100]", "[-1]", "[0.5]", "[\"a\"]", "1e300"] {
            let json = try body(#"{"tokens":\#(bad)}"#)
            XCTAssertEqual(refusal { () throws(APIError) in _ = try DetokenizeRequest(json: json, vocabularySize: 100) }?.param, "tokens", bad)
        }
    }

    /// What the server prints of a parsed body parses back to the same value.
    func testJSONPrintsAsItParses() throws {
        for text in [#"{"a":[1,-0,0.1,1e300,5e-324,"\u0000\ud83d\ude80\"\\"],"b":{"c":null,"d":true}}"#, #""\u001f""#] {
            let value = try body(text)
            XCTAssertEqual(try body(value.serialized), value, text)
        }
    }
}
