import Foundation
import Hummingbird
import LLMRuntime
import LLMServerAPI
import Synchronization
import Tokenizers

/// The loaded model and its engine, once loading has finished.
struct ServingModel: Sendable {
    let model: LanguageModel
    let engine: InferenceEngine
}

/// Where the responder finds the model once it is loaded.
final class ServingState: Sendable {
    private let value = Mutex<ServingModel?>(nil)
    var current: ServingModel? { value.withLock { $0 } }
    func set(_ model: ServingModel) { value.withLock { $0 = model } }
}

/// Routes requests, checks the key and the body size, and answers every error in OpenAI's
/// shape; writes one log line per request on stderr.
struct APIResponder: HTTPResponder {
    typealias Context = ServerRequestContext
    let configuration: ServerConfiguration
    let serving: ServingState
    let metrics: ServerMetrics
    let created = Int(Date().timeIntervalSince1970)
    let log: @Sendable (String) -> Void

    private static let routes: [String: String] = [
        "/v1/chat/completions": "POST", "/v1/completions": "POST", "/v1/models": "GET", "/health": "GET",
        "/metrics": "GET", "/tokenize": "POST", "/detokenize": "POST",
    ]

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = Clock.now()
        var path = request.uri.path
        if path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let method = request.method.rawValue
        let note = RequestNote()
        let response: Response
        switch await routed(request, context: context, path: path, note: note, started: started) {
        case .success(let r): response = r
        case .failure(let error): response = Self.error(error)
        }
        // A stream logs itself when it ends.
        if response.headers[.contentType] != "text/event-stream" {
            finish(method: method, path: path, status: response.status.code, note: note.text, started: started)
        }
        return response
    }

    private func finish(method: String, path: String, status: Int, note: String, started: Double) {
        let known = Self.routes[path] != nil ? path : "other"
        metrics.count(path: known, status: status)
        log(String(format: "%@ %@ %d%@ %.0f ms", method, path, status, note.isEmpty ? "" : " " + note, (Clock.now() - started) * 1000))
    }

    private func routed(_ request: Request, context: Context, path: String, note: RequestNote, started: Double) async -> Result<Response, APIError> {
        do {
            return .success(try await route(request, context: context, path: path, note: note, started: started))
        } catch let error as APIError {
            return .failure(error)
        } catch {
            return .failure(.invalid("\(error)"))
        }
    }

    private func route(_ request: Request, context: Context, path: String, note: RequestNote, started: Double) async throws -> Response {
        guard let allowed = Self.routes[path] else { throw APIError.notFound(path) }
        guard request.method.rawValue == allowed else { throw APIError.methodNotAllowed(request.method.rawValue, path, allowed: allowed) }
        let ready = serving.current
        if path == "/health" {
            return ready == nil
                ? Self.json(["status": "loading"], status: 503, retryAfter: 1)
                : Self.json(["status": "ok"])
        }
        if let key = configuration.apiKey {
            let header = request.headers[.authorization] ?? ""
            guard header.hasPrefix("Bearer "), constantTimeEqual(String(header.dropFirst(7)), key) else { throw APIError.unauthorized }
        }
        if path == "/metrics" {
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render(engine: ready?.engine.statistics))))
        }
        guard let ready else { throw APIError.unavailable("the model is loading") }
        if path == "/v1/models" {
            return Self.json(["object": "list", "data": [[
                "id": .string(configuration.modelID), "object": "model", "created": JSONValue(created), "owned_by": "llmrun",
                "meta": ["n_ctx_slot": JSONValue(configuration.contextPerSlot), "slots": JSONValue(configuration.parallel),
                         "n_vocab": JSONValue(ready.model.config.vocabularySize)],
            ]]])
        }
        let body = try await readJSON(request)
        switch path {
        case "/tokenize": return try tokenize(body, model: ready.model)
        case "/detokenize": return try detokenize(body, model: ready.model)
        default:
            return try await complete(body, chat: path == "/v1/chat/completions", ready: ready, path: path,
                                      note: note, started: started, isConnected: context.isConnected)
        }
    }

    private func readJSON(_ request: Request) async throws -> JSONValue {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw APIError.tooLarge(limit: limit) }
        var data = Data()
        do {
            for try await chunk in request.body {
                data.append(contentsOf: chunk.readableBytesView)
                if data.count > limit { throw APIError.tooLarge(limit: limit) }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.invalid("could not read the request body: \(error)")
        }
        return try JSONValue.requestBody(data)
    }

    // MARK: Completions

    private func complete(_ body: JSONValue, chat: Bool, ready: ServingModel, path: String,
                          note: RequestNote, started: Double, isConnected: @escaping @Sendable () -> Bool) async throws -> Response {
        let request = try CompletionRequest(json: body, chat: chat)
        let model = ready.model
        let prompt = try request.promptTokens(limits: ModelLimits(vocabularySize: model.config.vocabularySize,
                                                                  context: configuration.contextPerSlot),
                                              template: configuration.chatTemplate, tokenize: { model.tokenize($0) })
        let limits = GenerationLimits(maxTokens: request.maxTokens, stops: request.stops)
        // A stream learns of a hang-up when a write fails; an answer in one piece has no write
        // until the end, so the engine asks the connection at every step.
        let (job, events) = try ready.engine.submit(prompt: prompt, parameters: request.parameters, limits: limits,
                                                    timeout: configuration.timeout,
                                                    isConnected: request.stream ? nil : isConnected)
        let id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(24).lowercased()
        let created = Int(Date().timeIntervalSince1970)
        let shape = ResponseShape(id: id, created: created, model: configuration.modelID, chat: chat)
        if request.stream {
            return stream(events, job: job, shape: shape, includeUsage: request.includeUsage, path: path, started: started)
        }
        var text = ""
        for await event in events {
            switch event {
            case .text(let piece): text += piece
            case .failed(let error): throw error
            case .finished(let result):
                note.text = Self.note(result)
                return Self.json(shape.whole(text: text, result: result))
            }
        }
        // The events end unfinished when this handler's task is cancelled: the server saw the
        // client close before the engine's next step asked the connection.
        note.text = "client closed"
        throw APIError.unavailable("the request was cancelled")
    }

    private func stream(_ events: AsyncStream<JobEvent>, job: Job, shape: ResponseShape, includeUsage: Bool,
                        path: String, started: Double) -> Response {
        let body = ResponseBody { [self] writer in
            var note = "stream"
            var status = 200
            do {
                try await writer.write(ByteBuffer(string: "data: \(shape.chunk(text: "", first: true).serialized)\n\n"))
                loop: for await event in events {
                    switch event {
                    case .text(let piece):
                        try await writer.write(ByteBuffer(string: "data: \(shape.chunk(text: piece).serialized)\n\n"))
                    case .failed(let error):
                        status = error.status
                        try await writer.write(ByteBuffer(string: "data: \(error.body.serialized)\n\n"))
                        break loop
                    case .finished(let result):
                        note = "stream " + Self.note(result)
                        try await writer.write(ByteBuffer(string: "data: \(shape.finalChunk(result).serialized)\n\n"))
                        if includeUsage {
                            try await writer.write(ByteBuffer(string: "data: \(shape.usageChunk(result).serialized)\n\n"))
                        }
                    }
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            } catch {
                // The client went away: free its slot at the engine's next step.
                job.cancel()
                note += " client closed"
            }
            finish(method: "POST", path: path, status: status, note: note, started: started)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    private static func note(_ r: GenerationResult) -> String {
        "prompt=\(r.promptTokens) cached=\(r.cachedTokens) generated=\(r.generated) stop=\(r.stopReason.rawValue)"
    }

    // MARK: Tokenizer routes (llama-server's shapes)

    private func tokenize(_ body: JSONValue, model: LanguageModel) throws(APIError) -> Response {
        let request = try TokenizeRequest(json: body)
        let ids = model.tokenizer.encodePrompt(request.content, addSpecial: request.addSpecial, parseSpecial: request.parseSpecial)
        if request.withPieces {
            return Self.json(["tokens": .array(ids.map { id in
                let bytes = model.tokenizer.pieceBytes(id, renderSpecial: true)
                let piece: JSONValue = String(validating: bytes, as: UTF8.self).map { .string($0) }
                    ?? .array(bytes.map { JSONValue(Int($0)) })
                return ["id": JSONValue(Int(id)), "piece": piece]
            })])
        }
        return Self.json(["tokens": .array(ids.map { JSONValue(Int($0)) })])
    }

    private func detokenize(_ body: JSONValue, model: LanguageModel) throws(APIError) -> Response {
        let request = try DetokenizeRequest(json: body, vocabularySize: model.config.vocabularySize)
        return Self.json(["content": .string(model.tokenizer.decode(request.tokens, renderSpecial: true))])
    }

    // MARK: Responses

    static func json(_ value: JSONValue, status: Int = 200, retryAfter: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: HTTPResponse.Status(code: status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized + "\n")))
    }

    static func error(_ error: APIError) -> Response {
        json(error.body, status: error.status, retryAfter: error.retryAfter)
    }
}

/// The log line's details, filled in as a request is answered.
final class RequestNote: @unchecked Sendable {
    var text = ""
}

/// Compares two keys in time that depends on their lengths only, not on where they differ.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
        diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return diff == 0
}

/// The JSON objects of one completion, whole or as stream chunks.
struct ResponseShape: Sendable {
    let id: String
    let created: Int
    let model: String
    let chat: Bool

    static func finishReason(_ reason: StopReason) -> String {
        switch reason {
        case .endOfGeneration, .stopString: return "stop"
        case .length, .contextFull, .timeLimit, .interrupted: return "length"
        }
    }

    func usage(_ r: GenerationResult) -> JSONValue {
        ["prompt_tokens": JSONValue(r.promptTokens), "completion_tokens": JSONValue(r.generated),
         "total_tokens": JSONValue(r.promptTokens + r.generated),
         "prompt_tokens_details": ["cached_tokens": JSONValue(r.cachedTokens)]]
    }

    private func envelope(_ object: String, choices: [JSONValue]) -> [String: JSONValue] {
        ["id": .string(id), "object": .string(object), "created": JSONValue(created), "model": .string(model),
         "choices": .array(choices), "system_fingerprint": "llmrun"]
    }

    func whole(text: String, result: GenerationResult) -> JSONValue {
        let reason = JSONValue.string(Self.finishReason(result.stopReason))
        let choice: JSONValue = chat
            ? ["index": 0, "message": ["role": "assistant", "content": .string(text)], "finish_reason": reason, "logprobs": .null]
            : ["index": 0, "text": .string(text), "finish_reason": reason, "logprobs": .null]
        var o = envelope(chat ? "chat.completion" : "text_completion", choices: [choice])
        o["usage"] = usage(result)
        return .object(o)
    }

    func chunk(text: String, first: Bool = false, finish: StopReason? = nil) -> JSONValue {
        let reason: JSONValue = finish.map { .string(Self.finishReason($0)) } ?? .null
        let choice: JSONValue
        if chat {
            var delta: [String: JSONValue] = [:]
            if first { delta["role"] = "assistant" }
            if finish == nil { delta["content"] = .string(text) }
            choice = ["index": 0, "delta": .object(delta), "finish_reason": reason, "logprobs": .null]
        } else {
            choice = ["index": 0, "text": .string(text), "finish_reason": reason, "logprobs": .null]
        }
        return .object(envelope(chat ? "chat.completion.chunk" : "text_completion", choices: [choice]))
    }

    func finalChunk(_ result: GenerationResult) -> JSONValue { chunk(text: "", finish: result.stopReason) }

    /// The extra chunk `stream_options.include_usage` asks for: no choices, the usage.
    func usageChunk(_ result: GenerationResult) -> JSONValue {
        var o = envelope(chat ? "chat.completion.chunk" : "text_completion", choices: [])
        o["usage"] = usage(result)
        return .object(o)
    }
}
