import LLMRuntime
import TestSupport
import Tokenizers
import XCTest

/// The library's Generator and ChatSession against the token loop `generate` and `chat` ran
/// before they existed (sample → end test → detokenize → stop scan → feed), on a tiny model.
final class GeneratorTests: XCTestCase {
    static let modelPath: String = {
        let directory = TemporaryDirectory("llmrun-generator-tests")
        return try! TinyModel().write(to: directory.file("tiny.gguf"))
    }()

    /// The previous CLI loop, kept here as the reference.
    private func referenceRun(_ session: GenerationSession, prompt: [Int32], maxTokens: Int, parameters: SamplingParameters,
                              stops: [String]) throws -> (text: String, generated: Int) {
        try session.prefill(prompt)
        var sampler = parameters.makeSampler()
        var detokenizer = StreamingDetokenizer(tokenizer: session.model.tokenizer)
        var scanner = StopStringScanner(stops: stops)
        var text = "", generated = 0
        while generated < maxTokens {
            let token = session.sample(using: &sampler, processors: parameters.processors)
            if session.model.tokenizer.endOfGenerationTokens.contains(token) { break }
            generated += 1
            text += scanner.append(detokenizer.append(token))
            if scanner.matched != nil { break }
            if session.remaining == 0 { break }
            try session.feed(token)
        }
        text += scanner.append(detokenizer.flush())
        text += scanner.flush()
        return (text, generated)
    }

    func testGeneratorMatchesTheReferenceLoop() throws {
        let model = try LanguageModel(path: Self.modelPath, threads: 1)
        let prompt = model.tokenize("the cat sat")
        let settings: [(SamplingParameters, [String])] = [
            (SamplingParameters(temperature: 0), []),
            (SamplingParameters(temperature: 0.9, topK: 0, topP: 1, minP: 0, seed: 42), []),
            (SamplingParameters(temperature: 0.8, seed: 7, repeatPenalty: 1.3), ["e"]),
            (SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 9, presencePenalty: 0.5, frequencyPenalty: 0.5), []),
        ]
        for (parameters, stops) in settings {
            let reference = try referenceRun(try GenerationSession(model: model, contextLength: 64), prompt: prompt,
                                             maxTokens: 40, parameters: parameters, stops: stops)
            let generator = Generator(session: try GenerationSession(model: model, contextLength: 64), parameters: parameters,
                                      limits: GenerationLimits(maxTokens: 40, stops: stops))
            var text = ""
            let result = try generator.run(prompt: prompt) { text += $0 }
            XCTAssertEqual(text, reference.text, "\(parameters)")
            XCTAssertEqual(result.generated, reference.generated)
            XCTAssertGreaterThan(result.generated, 0)
            if !stops.isEmpty && result.stopReason == .stopString { XCTAssertFalse(text.contains("e")) }
        }
    }

    func testLimitsAndStopReasons() throws {
        let model = try LanguageModel(path: Self.modelPath, threads: 1)
        let prompt = model.tokenize("the cat")
        let greedy = SamplingParameters(temperature: 0.9, topK: 0, topP: 1, minP: 0, seed: 5)
        func run(_ limits: GenerationLimits, context: Int = 64, cancelAfter: Int? = nil) throws -> GenerationResult {
            let g = Generator(session: try GenerationSession(model: model, contextLength: context), parameters: greedy, limits: limits)
            var pieces = 0
            if let cancelAfter { g.isCancelled = { pieces >= cancelAfter } }
            return try g.run(prompt: prompt) { _ in pieces += 1 }
        }
        let capped = try run(GenerationLimits(maxTokens: 3, stopAtEndOfGeneration: false))
        XCTAssertEqual(capped.stopReason, .length)
        XCTAssertEqual(capped.generated, 3)
        let full = try run(GenerationLimits(stopAtEndOfGeneration: false), context: prompt.count + 5)
        XCTAssertEqual(full.stopReason, .contextFull)
        XCTAssertEqual(full.generated, 6, "the last token is emitted, not fed")
        let cancelled = try run(GenerationLimits(stopAtEndOfGeneration: false), cancelAfter: 2)
        XCTAssertEqual(cancelled.stopReason, .interrupted)
        XCTAssertEqual(cancelled.generated, 2)
        let timed = try run(GenerationLimits(timeLimit: 0, stopAtEndOfGeneration: false))
        XCTAssertEqual(timed.stopReason, .timeLimit)
        XCTAssertEqual(timed.generated, 1, "a time limit still lets one token out")
    }

    /// A second turn feeds only the new messages; the first turn's tokens stay in the cache.
    func testChatSessionReusesTheConversationPrefix() throws {
        let model = try LanguageModel(path: Self.modelPath, threads: 1)
        let chat = try ChatSession(model: model, template: ChatTemplate(kind: .chatml), system: "Be brief.", contextLength: 200,
                               answerReserve: 16)
        let p = SamplingParameters(temperature: 0)
        let first = try chat.respond(to: "hello", maxTokens: 6, parameters: p) { _ in }
        XCTAssertEqual(first.cachedTokens, 0)
        let second = try chat.respond(to: "and then?", maxTokens: 6, parameters: p) { _ in }
        XCTAssertGreaterThan(second.cachedTokens, first.promptTokens - 1)
        XCTAssertEqual(chat.turns.map(\.role), ["user", "assistant", "user", "assistant"])
        chat.reset()
        XCTAssertTrue(chat.turns.isEmpty)
    }
}
