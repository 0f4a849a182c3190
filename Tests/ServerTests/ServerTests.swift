import Foundation
import LLMRuntime
import LLMServer
import Synchronization
import TestSupport
import Tokenizers
import XCTest

/// A server on an ephemeral loopback port over a tiny generated model, stopped by cancelling
/// its task.
final class RunningServer: @unchecked Sendable {
    let port: Int
    let task: Task<Void, any Error>
    let log: LogBox
    var lines: [String] { log.lines.withLock { $0 } }

    private init(port: Int, task: Task<Void, any Error>, log: LogBox) {
        self.port = port
        self.task = task
        self.log = log
    }

    /// `loadDelay < 0`: the load waits (up to 60 s) until the server is asked to stop, logs
    /// "load stopped", and gives up, as a long --budget prune does.
    static func start(model path: String, loadDelay: Double = 0, waitForHealth: Bool = true,
                      _ adjust: (inout ServerConfiguration) -> Void = { _ in }) async throws -> RunningServer {
        var config = ServerConfiguration()
        config.port = 0
        config.parallel = 2
        config.contextPerSlot = 128
        config.queue = 4
        config.chatTemplate = ChatTemplate(kind: .chatml)
        config.modelID = "tiny"
        config.shutdownGrace = 2
        adjust(&config)
        let port = Mutex<Int?>(nil)
        let log = LogBox()
        let task = Task {
            try await InferenceServer.run(configuration: config, load: { stopRequested in
                                              if loadDelay < 0 {
                                                  let end = Date().addingTimeInterval(60)
                                                  while !stopRequested() && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
                                                  if stopRequested() { log.append("load stopped"); throw CancellationError() }
                                              }
                                              if loadDelay > 0 { Thread.sleep(forTimeInterval: loadDelay) }
                                              return try LanguageModel(path: path, threads: 1)
                                          },
                                          onListening: { p in port.withLock { $0 = p } }, log: { log.append($0) })
        }
        // Bounded wait for the port, then for /health to say ok.
        let end = Date().addingTimeInterval(60)
        var found: Int?
        while found == nil && Date() < end {
            found = port.withLock { $0 }
            if found == nil { try await Task.sleep(nanoseconds: 20_000_000) }
        }
        guard let found else { task.cancel(); throw HTTPTestError.timeout }
        while waitForHealth && Date() < end {
            if (try? http(found, "GET", "/health"))?.status == 200 { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return RunningServer(port: found, task: task, log: log)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

final class LogBox: @unchecked Sendable {
    let lines = Mutex<[String]>([])
    func append(_ s: String) { lines.withLock { $0.append(s) } }
}

final class ServerTests: XCTestCase {
    static let modelPath: String = {
        let directory = TemporaryDirectory("llmrun-server-tests")
        var tiny = TinyModel()
        tiny.contextLength = 256
        return try! tiny.write(to: directory.file("tiny.gguf"))
    }()

    private func chat(_ extra: String = "", content: String = "Hello there") -> String {
        #"{"model":"tiny","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"\#(content)"}],"temperature":0,"seed":1,"max_tokens":12\#(extra)}"#
    }

    func testEndpointsAnswerInOpenAIShapes() async throws {
        let server = try await RunningServer.start(model: Self.modelPath)
        defer { Task { await server.stop() } }
        let p = server.port

        let health = try http(p, "GET", "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.json?["status"] as? String, "ok")

        let models = try http(p, "GET", "/v1/models")
        XCTAssertEqual(models.status, 200)
        let data = models.json?["data"] as? [[String: Any]]
        XCTAssertEqual(data?.first?["id"] as? String, "tiny")
        XCTAssertEqual(models.json?["object"] as? String, "list")

        // Non-streaming chat: the whole answer, finish reason and usage.
        let plain = try http(p, "POST", "/v1/chat/completions", body: chat())
        XCTAssertEqual(plain.status, 200, plain.body)
        let obj = try XCTUnwrap(plain.json)
        XCTAssertEqual(obj["object"] as? String, "chat.completion")
        XCTAssertTrue((obj["id"] as? String)?.hasPrefix("chatcmpl-") ?? false)
        XCTAssertNotNil(obj["created"] as? Int)
        let choice = try XCTUnwrap((obj["choices"] as? [[String: Any]])?.first)
        let message = try XCTUnwrap(choice["message"] as? [String: Any])
        XCTAssertEqual(message["role"] as? String, "assistant")
        let text = try XCTUnwrap(message["content"] as? String)
        XCTAssertTrue(["stop", "length"].contains(choice["finish_reason"] as? String ?? ""))
        let usage = try XCTUnwrap(obj["usage"] as? [String: Any])
        let completionTokens = try XCTUnwrap(usage["completion_tokens"] as? Int)
        XCTAssertGreaterThan(completionTokens, 0)
        XCTAssertLessThanOrEqual(completionTokens, 12)
        XCTAssertEqual(usage["total_tokens"] as? Int, (usage["prompt_tokens"] as? Int ?? 0) + completionTokens)
        XCTAssertNotNil((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int)

        // Streaming, same seed: SSE framing, role first, the same text, usage, then [DONE].
        let streamed = try http(p, "POST", "/v1/chat/completions", body: chat(#","stream":true,"stream_options":{"include_usage":true}"#))
        XCTAssertEqual(streamed.status, 200)
        XCTAssertEqual(streamed.headers["content-type"], "text/event-stream")
        XCTAssertTrue(streamed.body.hasSuffix("data: [DONE]\n\n"), streamed.body)
        let events = streamed.events
        XCTAssertEqual(events.last, "[DONE]")
        let chunks = events.dropLast().compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        XCTAssertEqual(chunks.count, events.count - 1, "every event but [DONE] is a JSON object")
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        XCTAssertEqual(deltas.first?["role"] as? String, "assistant")
        XCTAssertEqual(deltas.compactMap { $0["content"] as? String }.joined(), text)
        let usageChunk = try XCTUnwrap(chunks.last)
        XCTAssertEqual((usageChunk["choices"] as? [Any])?.count, 0)
        XCTAssertEqual((usageChunk["usage"] as? [String: Any])?["completion_tokens"] as? Int, completionTokens)
        XCTAssertNotNil((chunks[chunks.count - 2]["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String)

        // The same conversation again reuses the cached prompt.
        let again = try http(p, "POST", "/v1/chat/completions", body: chat())
        let cached = ((again.json?["usage"] as? [String: Any])?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int
        XCTAssertGreaterThan(cached ?? 0, 0)

        // Text completion, plain and streamed, with a token-list prompt and a stop string.
        let completion = try http(p, "POST", "/v1/completions", body: #"{"prompt":"the cat","max_tokens":8,"temperature":0}"#)
        XCTAssertEqual(completion.status, 200, completion.body)
        XCTAssertEqual(completion.json?["object"] as? String, "text_completion")
        let ctext = ((completion.json?["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? "?"
        let cstream = try http(p, "POST", "/v1/completions", body: #"{"prompt":"the cat","max_tokens":8,"temperature":0,"stream":true}"#)
        XCTAssertEqual(cstream.events.last, "[DONE]")
        let ctexts = cstream.events.dropLast().compactMap { e -> String? in
            let o = (try? JSONSerialization.jsonObject(with: Data(e.utf8))) as? [String: Any]
            return (o?["choices"] as? [[String: Any]])?.first?["text"] as? String
        }
        XCTAssertEqual(ctexts.joined(), ctext)
        let tokensPrompt = try http(p, "POST", "/v1/completions", body: #"{"prompt":[1,2,3],"max_tokens":2,"stop":["zz"]}"#)
        XCTAssertEqual(tokensPrompt.status, 200, tokensPrompt.body)

        // llama-server's tokenizer routes.
        let tok = try http(p, "POST", "/tokenize", body: #"{"content":"the cat"}"#)
        let ids = try XCTUnwrap(tok.json?["tokens"] as? [Int])
        XCTAssertFalse(ids.isEmpty)
        let detok = try http(p, "POST", "/detokenize", body: #"{"tokens":\#(ids)}"#)
        XCTAssertEqual(detok.json?["content"] as? String, "the cat")
        let pieces = try http(p, "POST", "/tokenize", body: #"{"content":"the cat","with_pieces":true}"#)
        XCTAssertEqual((pieces.json?["tokens"] as? [[String: Any]])?.count, ids.count)

        let metrics = try http(p, "GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.body.contains("llmrun_requests_total{path=\"/v1/chat/completions\",status=\"200\"} 3"), metrics.body)
        for name in ["llmrun_generated_tokens_total", "llmrun_prompt_tokens_total", "llmrun_queue_depth", "llmrun_slots_busy",
                     "llmrun_resident_memory_bytes", "llmrun_generated_tokens_per_second"] {
            XCTAssertTrue(metrics.body.contains("\n\(name) "), name)
        }
        // One log line per request.
        let logged = server.lines
        XCTAssertTrue(logged.contains { $0.hasPrefix("POST /v1/chat/completions 200 prompt=") }, "\(logged)")
        await server.stop()
    }

    /// While the model loads, /health answers 503 (loading) with Retry-After, and so do the
    /// model routes; then 200.
    func testHealthIs503WhileLoading() async throws {
        let server = try await RunningServer.start(model: Self.modelPath, loadDelay: 1.5, waitForHealth: false)
        defer { Task { await server.stop() } }
        let p = server.port
        let loading = try http(p, "GET", "/health")
        XCTAssertEqual(loading.status, 503)
        XCTAssertEqual(loading.json?["status"] as? String, "loading")
        XCTAssertNotNil(loading.headers["retry-after"])
        XCTAssertEqual(try http(p, "POST", "/v1/completions", body: #"{"prompt":"a"}"#).status, 503)
        var ok = false
        for _ in 0..<200 where !ok {
            ok = (try http(p, "GET", "/health")).status == 200
            if !ok { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        XCTAssertTrue(ok)
        await server.stop()
    }

    /// Stopping the server while the model still loads (a --budget prune takes minutes) reaches
    /// the load, which gives up, and the server ends without an error.
    func testStopWhileLoadingReachesTheLoad() async throws {
        let server = try await RunningServer.start(model: Self.modelPath, loadDelay: -1, waitForHealth: false)
        XCTAssertEqual(try http(server.port, "GET", "/health").status, 503)
        let started = Date()
        server.task.cancel()
        let result = await server.task.result
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "the load gave up instead of running to its end")
        XCTAssertTrue(server.lines.contains("load stopped"), "\(server.lines)")
        if case .failure(let error) = result { XCTFail("the server ended with \(error)") }
    }

    func testClientMistakesGetTheirStatusAndAnErrorObject() async throws {
        let server = try await RunningServer.start(model: Self.modelPath) { $0.maxBodyBytes = 4096 }
        defer { Task { await server.stop() } }
        let p = server.port
        func check(_ r: HTTPTestResponse, _ status: Int, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(r.status, status, r.body, file: file, line: line)
            let error = r.json?["error"] as? [String: Any]
            XCTAssertNotNil(error?["type"] as? String, r.body, file: file, line: line)
            XCTAssertTrue((error?["message"] as? String ?? "").contains(fragment), r.body, file: file, line: line)
        }
        check(try http(p, "POST", "/v1/chat/completions", body: "{not json"), 400, "not valid JSON")
        check(try http(p, "POST", "/v1/chat/completions", body: #"{"messages":"hi"}"#), 400, "messages")
        check(try http(p, "POST", "/v1/chat/completions", body: #"{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#), 400, "temperature")
        check(try http(p, "POST", "/v1/chat/completions", body: #"{"messages":[{"role":"user","content":"hi"}],"n":2}"#), 400, "n = 1")
        check(try http(p, "POST", "/v1/chat/completions", body: #"{"messages":[{"role":"user","content":"hi"}],"tools":[]}"#), 400, "unsupported parameter 'tools'")
        check(try http(p, "POST", "/v1/completions", body: #"{"prompt":"\#(String(repeating: "the cat ", count: 200))"}"#), 400, "tokens but a slot's context holds 128")
        check(try http(p, "POST", "/v1/completions", body: #"{"prompt":"\#(String(repeating: "x", count: 5000))"}"#), 413, "over the limit")
        check(try http(p, "GET", "/v1/nothing"), 404, "no route")
        check(try http(p, "GET", "/v1/chat/completions"), 405, "not allowed")
        check(try http(p, "POST", "/detokenize", body: #"{"tokens":[-1]}"#), 400, "tokens")
        await server.stop()
    }

    func testBearerKeyIsRequiredExceptForHealth() async throws {
        let server = try await RunningServer.start(model: Self.modelPath) { $0.apiKey = "sekret" }
        defer { Task { await server.stop() } }
        let p = server.port
        XCTAssertEqual(try http(p, "GET", "/health").status, 200)
        let denied = try http(p, "GET", "/v1/models")
        XCTAssertEqual(denied.status, 401)
        XCTAssertEqual((denied.json?["error"] as? [String: Any])?["type"] as? String, "authentication_error")
        XCTAssertEqual(try http(p, "GET", "/v1/models", headers: ["Authorization": "Bearer wrong!"]).status, 401)
        XCTAssertEqual(try http(p, "GET", "/v1/models", headers: ["Authorization": "Bearer sekret"]).status, 200)
        await server.stop()
    }

    /// One slot, no queue: a second request while the first streams gets 503 with Retry-After;
    /// the first client hangs up after two chunks, and its slot serves the next request.
    func testFullQueueAndCancellation() async throws {
        let server = try await RunningServer.start(model: Self.modelPath) { $0.parallel = 1; $0.queue = 0 }
        defer { Task { await server.stop() } }
        let p = server.port
        let long = #"{"prompt":"the","max_tokens":100000,"temperature":1,"seed":3,"top_k":0,"top_p":1,"min_p":0,"stream":true}"#
        let first = try HTTPTestConnection(port: p)
        first.send("POST", "/v1/completions", body: long)
        let head = try first.read { $0.components(separatedBy: "data: ").count > 3 }
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"), head)

        let refused = try http(p, "POST", "/v1/completions", body: #"{"prompt":"a","max_tokens":1}"#)
        XCTAssertEqual(refused.status, 503, refused.body)
        XCTAssertNotNil(refused.headers["retry-after"])

        // Hang up; the slot must be free again within a few steps (bounded wait).
        close(first.fd)
        var served = false
        for _ in 0..<100 where !served {
            let r = try http(p, "POST", "/v1/completions", body: #"{"prompt":"a","max_tokens":2,"temperature":0}"#)
            served = r.status == 200
            if !served { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        XCTAssertTrue(served, "the cancelled stream kept its slot")
        let logged = server.lines
        XCTAssertTrue(logged.contains { $0.contains("client closed") || $0.contains("stop=interrupted") }, "\(logged)")
        await server.stop()
    }

    /// A client waiting for an answer in one piece (no stream, so no write fails) that hangs up
    /// frees its slot at the engine's next step: the request ends interrupted (or, when the
    /// server saw the close first and cancelled its handler, "client closed"), long before its
    /// context would have stopped it, and the next request is served.
    func testNonStreamingClientThatHangsUpFreesItsSlot() async throws {
        // A context long enough that the job would run for many seconds if nothing stopped it.
        let server = try await RunningServer.start(model: Self.modelPath) { $0.parallel = 1; $0.queue = 0; $0.contextPerSlot = 50_000 }
        defer { Task { await server.stop() } }
        let p = server.port
        let long = #"{"prompt":"the","max_tokens":100000,"temperature":1,"seed":3,"top_k":0,"top_p":1,"min_p":0}"#
        let first = try HTTPTestConnection(port: p)
        first.send("POST", "/v1/completions", body: long)
        // Bounded wait until the slot is taken (another request is refused).
        var busy = false
        for _ in 0..<200 where !busy {
            busy = try http(p, "POST", "/v1/completions", body: #"{"prompt":"a","max_tokens":1}"#).status == 503
            if !busy { try await Task.sleep(nanoseconds: 10_000_000) }
        }
        XCTAssertTrue(busy, "the long request never took the slot")
        let hungUp = Date()
        close(first.fd)
        var served = false
        for _ in 0..<100 where !served {
            served = try http(p, "POST", "/v1/completions", body: #"{"prompt":"a","max_tokens":2,"temperature":0}"#).status == 200
            if !served { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        XCTAssertTrue(served, "the hung-up request kept its slot")
        XCTAssertLessThan(Date().timeIntervalSince(hungUp), 5)
        // Its log line is written when its handler returns, which may come after the next
        // request's (bounded wait).
        let ended = { (line: String) in line.contains("stop=interrupted") || line.contains("client closed") }
        var logged = server.lines
        for _ in 0..<100 where !logged.contains(where: ended) {
            try await Task.sleep(nanoseconds: 50_000_000)
            logged = server.lines
        }
        XCTAssertTrue(logged.contains(where: ended), "\(logged)")
        await server.stop()
    }

    /// Four requests decoded together in one batched forward per step answer as they do with
    /// each slot's forward run in turn.
    func testBatchedStepsAnswerAsSequentialOnes() async throws {
        func answers(batched: Bool) async throws -> [String] {
            let server = try await RunningServer.start(model: Self.modelPath) { $0.parallel = 4; $0.batchedForward = batched }
            let p = server.port
            // Blocking clients on threads of their own: the concurrency pool must stay free for the server.
            let results = Mutex<[String]>(Array(repeating: "", count: 4))
            let group = DispatchGroup()
            for i in 0..<4 {
                group.enter()
                Thread.detachNewThread {
                    let r = try? http(p, "POST", "/v1/completions",
                                      body: #"{"prompt":"\#(["the cat", "a", "the the on", "in the"][i])","max_tokens":10,"temperature":0}"#)
                    let text = ((r?.json?["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? "error \(r?.status ?? 0)"
                    results.withLock { $0[i] = text }
                    group.leave()
                }
            }
            while group.wait(timeout: .now()) == .timedOut { try await Task.sleep(nanoseconds: 20_000_000) }
            let texts = results.withLock { $0 }
            await server.stop()
            return texts
        }
        let batched = try await answers(batched: true)
        let sequential = try await answers(batched: false)
        XCTAssertEqual(batched, sequential)
        XCTAssertFalse(batched.contains { $0.hasPrefix("error") }, "\(batched)")
    }

    /// The CLI: SIGTERM while a stream runs ends the process with status 0, nothing on stdout;
    /// an impossible --budget exits 75 before listening.
    func testServeCommandStopsOnSIGTERMAndRefusesAnImpossibleBudget() throws {
        let root = Fixtures.repositoryRoot
        guard let binary = [root + "/.build/release/llmrun", root + "/.build/debug/llmrun"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0) }) else { throw XCTSkip("llmrun is not built") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["serve", "-m", Self.modelPath, "--port", "0", "-t", "1", "-c", "128", "--chat-template", "chatml"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        defer { watchdog.cancel() }
        // The port from the "listening on" line (bounded read).
        var seen = "", port: Int?
        let reader = err.fileHandleForReading
        let end = Date().addingTimeInterval(30)
        while port == nil && Date() < end {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let r = seen.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(seen[r].split(separator: ":").last!)
            }
        }
        let found = try XCTUnwrap(port, seen)
        for _ in 0..<100 {
            if (try? http(found, "GET", "/health"))?.status == 200 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let stream = try HTTPTestConnection(port: found)
        stream.send("POST", "/v1/completions", body: #"{"prompt":"the","max_tokens":100,"stream":true,"temperature":0}"#)
        let head = try stream.read { $0.contains("data: ") }
        kill(pid, SIGTERM)
        let all = head + (try stream.read())
        XCTAssertTrue(all.contains("data: [DONE]"), "the running stream finishes within the grace period: \(all)")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(out.fileHandleForReading.readDataToEndOfFile().count, 0, "nothing on stdout")

        let q = Process()
        q.executableURL = URL(fileURLWithPath: binary)
        q.arguments = ["serve", "-m", Self.modelPath, "--port", "0", "--budget", "10KB"]
        let qerr = Pipe()
        q.standardError = qerr
        q.standardOutput = Pipe()
        try q.run()
        let qpid = q.processIdentifier
        let qwatch = DispatchWorkItem { kill(qpid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: qwatch)
        defer { qwatch.cancel() }
        let message = String(decoding: qerr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        q.waitUntilExit()
        XCTAssertEqual(q.terminationStatus, 75, message)
        XCTAssertFalse(message.contains("listening"), message)
    }
}
