import Foundation
import FuzzSupport
import LLMRuntime
import LLMServerAPI
import Tokenizers

// Arbitrary bytes as a request body, through the functions the server calls on one: the JSON
// parse, then the body read as /v1/chat/completions', /v1/completions', /tokenize's and
// /detokenize's, and a decoded completion's prompt checked against a model's limits (fixed
// numbers; the text "tokenized" as its UTF-8 bytes, since the tokenizers have their own
// harness). Checks, besides no crash:
// - every refusal is an APIError with a 4xx status (client input never earns a 5xx), whose
//   error object is valid JSON;
// - a body that parses prints as JSON that parses back to the same value, and prints the same
//   way again;
// - what is accepted is within the limits: ids in the vocabulary, a prompt that fits a slot,
//   sampling numbers the sampler takes without making a logit NaN or infinite.

/// SmolLM2's vocabulary and a small slot, so long prompts reach the context check.
let limits = ModelLimits(vocabularySize: 49_152, context: 512)
let template = ChatTemplate(kind: .chatml)

@_cdecl("fuzz_serve_request_main")
public func main(_ argc: CInt, _ argv: Arguments) -> CInt {
    runFuzzer(argc: argc, argv: argv, seeds: Seeds.write, fuzzServeRequest)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServeRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let body: JSONValue
    do throws(APIError) {
        body = try JSONValue.requestBody(Data(input.bytes))
    } catch {
        refused(error, "the body")
        return 0
    }
    checkRoundTrip(body)
    for chat in [true, false] {
        let request: CompletionRequest
        do throws(APIError) { request = try CompletionRequest(json: body, chat: chat) } catch { refused(error, chat ? "chat" : "completion"); continue }
        checkAccepted(request)
        for template in [template, nil] {
            do throws(APIError) {
                let prompt = try request.promptTokens(limits: limits, template: template, tokenize: { $0.utf8.map { Int32($0) } })
                if prompt.isEmpty || prompt.count >= limits.context || prompt.contains(where: { $0 < 0 || Int($0) >= limits.vocabularySize }) {
                    fatalError("accepted a prompt of \(prompt.count) tokens outside the limits: \(prompt.prefix(16))")
                }
            } catch {
                refused(error, "the prompt")
            }
        }
    }
    do throws(APIError) { _ = try TokenizeRequest(json: body) } catch { refused(error, "tokenize") }
    do throws(APIError) {
        let request = try DetokenizeRequest(json: body, vocabularySize: limits.vocabularySize)
        if let bad = request.tokens.first(where: { $0 < 0 || Int($0) >= limits.vocabularySize }) {
            fatalError("detokenize accepted the id \(bad)")
        }
    } catch {
        refused(error, "detokenize")
    }
    return 0
}

/// A refusal must be a client error the server can answer with a JSON error object.
func refused(_ error: APIError, _ what: String) {
    verbose("\(what): \(error)")
    guard (400..<500).contains(error.status) else { fatalError("\(what) refused with \(error.status): \(error.message)") }
    let text = error.body.serialized
    guard let back = JSONValue.parse(Data(text.utf8)), back == error.body else {
        fatalError("the error object for \(String(reflecting: error.message)) prints as invalid JSON: \(text)")
    }
}

/// What the server prints of a value must read back as the same value.
func checkRoundTrip(_ value: JSONValue) {
    let text = value.serialized
    guard let again = JSONValue.parse(Data(text.utf8)) else { fatalError("\(value) prints as invalid JSON: \(text)") }
    guard again == value else { fatalError("\(value) prints as \(text), which parses as \(again)") }
    guard again.serialized == text else { fatalError("\(text) prints differently once parsed again: \(again.serialized)") }
}

/// An accepted request's numbers, as the sampler and the generation limits will use them.
func checkAccepted(_ r: CompletionRequest) {
    let p = r.parameters
    let finite = [p.temperature, p.topP, p.minP, p.repeatPenalty, p.presencePenalty, p.frequencyPenalty].allSatisfy(\.isFinite)
    // A penalty of 0 or of Float's extremes turns a logit into ±inf or NaN (0 * inf).
    guard finite, p.temperature >= 0, p.topK >= 0, (0.01...100).contains(p.repeatPenalty) else {
        fatalError("accepted sampling parameters the sampler cannot use: \(p)")
    }
    guard (r.maxTokens ?? 0) >= 0, r.stops.count <= 4 else { fatalError("accepted max_tokens \(String(describing: r.maxTokens)), \(r.stops.count) stops") }
}
