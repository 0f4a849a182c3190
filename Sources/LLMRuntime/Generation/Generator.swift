import Tokenizers

/// Why a generation ended.
public enum StopReason: String, Sendable {
    /// The model produced an end-of-generation token.
    case endOfGeneration = "eog"
    /// The text contained one of the stop strings.
    case stopString = "stop"
    /// The token limit was reached.
    case length
    /// The context has no room for another token.
    case contextFull = "context_full"
    /// The time limit passed.
    case timeLimit = "time_limit"
    /// The caller stopped it (Ctrl-C, a client that went away, a shutdown).
    case interrupted
}

/// When a generation stops, besides the model's own end.
public struct GenerationLimits: Sendable {
    /// Most tokens to generate (nil: until another limit).
    public var maxTokens: Int?
    /// Seconds from the first sampled token (nil: no limit).
    public var timeLimit: Double?
    /// Stop at the vocabulary's end-of-generation tokens.
    public var stopAtEndOfGeneration: Bool
    /// Strings that end the text; none of one is emitted, nor anything after it.
    public var stops: [String]

    public init(maxTokens: Int? = nil, timeLimit: Double? = nil, stopAtEndOfGeneration: Bool = true, stops: [String] = []) {
        self.maxTokens = maxTokens
        self.timeLimit = timeLimit
        self.stopAtEndOfGeneration = stopAtEndOfGeneration
        self.stops = stops
    }
}

/// What one decoding step produced: text to show (possibly empty, when a character or a possible
/// stop string is incomplete), and either the token to feed next or the reason generation ended.
public struct DecodingStep: Sendable {
    public var text: String
    /// The sampled token, to feed before the next step (nil once finished).
    public var nextToken: Int32?
    /// Set on the last step.
    public var stopReason: StopReason?
}

/// The per-sequence part of generation, apart from any forward pass: given the logits after
/// the last fed token it samples, detokenizes, watches the stop strings and limits, and says
/// which token to feed next. A single-sequence loop (`Generator`) and a batch scheduler that
/// runs many sequences in one forward pass drive the same code.
public struct DecodingState {
    public let parameters: SamplingParameters
    public let limits: GenerationLimits
    public private(set) var generated = 0
    public private(set) var stopReason: StopReason?
    /// The stop string that ended generation (reason `.stopString`).
    public private(set) var stopString: String?
    /// Monotonic time of the first step (nil before it).
    public private(set) var startedAt: Double?

    private var sampler: AnySampler
    private let processors: [any LogitProcessor]
    private let endTokens: Set<Int32>
    private var detokenizer: StreamingDetokenizer
    private var scanner: StopStringScanner

    public init(tokenizer: any Tokenizer, parameters: SamplingParameters, limits: GenerationLimits) {
        self.parameters = parameters
        self.limits = limits
        sampler = parameters.makeSampler()
        processors = parameters.processors
        endTokens = tokenizer.endOfGenerationTokens
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        scanner = StopStringScanner(stops: limits.stops)
    }

    public var isFinished: Bool { stopReason != nil }

    /// One step. `logits` (`vocabularySize` values, modified in place) follow the last token of
    /// `history`, the tokens in the sequence's cache; `room` is how many more the cache holds.
    public mutating func step(logits: UnsafeMutablePointer<Float>, vocabularySize: Int, history: ArraySlice<Int32>,
                              room: Int, now: Double = Clock.now()) -> DecodingStep {
        precondition(stopReason == nil, "DecodingState.step after the end")
        if startedAt == nil { startedAt = now }
        if let max = limits.maxTokens, generated >= max { return finish(.length) }
        if let limit = limits.timeLimit, let t0 = startedAt, now - t0 >= limit, generated > 0 { return finish(.timeLimit) }
        for p in processors { p.process(logits, count: vocabularySize, history: history) }
        let token = sampler.sample(logits, count: vocabularySize)
        if limits.stopAtEndOfGeneration && endTokens.contains(token) { return finish(.endOfGeneration) }
        generated += 1
        let text = scanner.append(detokenizer.append(token))
        if let stop = scanner.matched {
            stopString = stop
            return finish(.stopString, before: text)
        }
        if room == 0 { return finish(.contextFull, before: text) }
        return DecodingStep(text: text, nextToken: token, stopReason: nil)
    }

    /// Ends generation (for a reason of the caller's, or the step's own), releasing the text
    /// held back for incomplete characters or possible stop strings.
    public mutating func finish(_ reason: StopReason, before text: String = "") -> DecodingStep {
        guard stopReason == nil else { return DecodingStep(text: text, nextToken: nil, stopReason: stopReason) }
        stopReason = reason
        var out = text
        out += scanner.append(detokenizer.flush())
        out += scanner.flush()
        return DecodingStep(text: out, nextToken: nil, stopReason: reason)
    }
}

/// How a generation ended and how long it took.
public struct GenerationResult: Sendable {
    public var promptTokens = 0
    /// Prompt tokens found in the cache instead of computed.
    public var cachedTokens = 0
    public var generated = 0
    public var stopReason = StopReason.length
    public var stopString: String?
    public var promptSeconds = 0.0
    public var generationSeconds = 0.0

    public init() {}

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var generationTokensPerSecond: Double { generationSeconds > 0 ? Double(generated) / generationSeconds : 0 }
}

/// A token iterator over one `GenerationSession`: `prefill` the prompt, then `next()` until it
/// returns nil, or `run` to do both and hand each piece of text to a closure.
public final class Generator {
    public let session: GenerationSession
    public private(set) var state: DecodingState
    public private(set) var result = GenerationResult()
    /// Asked before each step; true ends generation with `.interrupted`.
    public var isCancelled: () -> Bool = { false }
    private var started = 0.0

    public init(session: GenerationSession, parameters: SamplingParameters, limits: GenerationLimits) {
        self.session = session
        state = DecodingState(tokenizer: session.model.tokenizer, parameters: parameters, limits: limits)
    }

    /// Feeds `prompt` after what the session already holds.
    public func prefill(_ prompt: [Int32], cachedTokens: Int = 0) throws(ModelError) {
        result.promptTokens = prompt.count
        result.cachedTokens = cachedTokens
        let t0 = Clock.now()
        try session.prefill(prompt)
        started = Clock.now()
        result.promptSeconds = started - t0
    }

    /// The next piece of text (possibly empty), or nil once generation has ended (`result`
    /// then says why). The text of the final step comes before the nil.
    public func next() throws(ModelError) -> String? {
        if state.isFinished { return nil }
        let step: DecodingStep
        if isCancelled() {
            step = state.finish(.interrupted)
        } else {
            step = state.step(logits: session.logits, vocabularySize: session.model.config.vocabularySize,
                              history: session.tokens[...], room: session.remaining)
        }
        if let token = step.nextToken { try session.feed(token) }
        if let reason = step.stopReason {
            result.stopReason = reason
            result.stopString = state.stopString
            result.generated = state.generated
            result.generationSeconds = Clock.now() - started
        }
        return step.text
    }

    /// Prefills `prompt`, then generates to the end, handing each piece of text to `emit`.
    public func run(prompt: [Int32], cachedTokens: Int = 0, emit: (String) -> Void) throws(ModelError) -> GenerationResult {
        try prefill(prompt, cachedTokens: cachedTokens)
        while let piece = try next() { emit(piece) }
        return result
    }
}
