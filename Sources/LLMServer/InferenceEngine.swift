import Foundation
import LLMRuntime
import LLMServerAPI
import Synchronization

/// What a job reports to the request that submitted it.
enum JobEvent: Sendable {
    case text(String)
    case finished(GenerationResult)
    case failed(APIError)
}

/// One request's work for the engine: its prompt, sampling, limits and where its events go.
final class Job: @unchecked Sendable {
    let prompt: [Int32]
    let parameters: SamplingParameters
    let limits: GenerationLimits
    /// Monotonic time after which the job stops (nil: none).
    let deadline: Double?
    let submitted = Clock.now()
    private let continuation: AsyncStream<JobEvent>.Continuation
    private let cancelled = Atomic<Bool>(false)
    /// Whether the client's connection is still open (nil: not watched).
    private let isConnected: (@Sendable () -> Bool)?

    init(prompt: [Int32], parameters: SamplingParameters, limits: GenerationLimits, deadline: Double?,
         continuation: AsyncStream<JobEvent>.Continuation, isConnected: (@Sendable () -> Bool)? = nil) {
        self.prompt = prompt
        self.parameters = parameters
        self.limits = limits
        self.deadline = deadline
        self.continuation = continuation
        self.isConnected = isConnected
    }

    /// Asks the engine to stop this job at its next step (the client went away).
    func cancel() { cancelled.store(true, ordering: .relaxed) }
    /// Cancelled, or its client's connection closed.
    var isCancelled: Bool {
        if cancelled.load(ordering: .relaxed) { return true }
        guard let isConnected, !isConnected() else { return false }
        cancel()
        return true
    }

    func send(_ event: JobEvent) {
        continuation.yield(event)
        switch event {
        case .text: break
        case .finished, .failed: continuation.finish()
        }
    }
}

/// Figures for /metrics and the logs.
struct EngineStatistics: Sendable {
    var promptTokens = 0
    var cachedTokens = 0
    var generatedTokens = 0
    /// Seconds the engine spent in steps that generated tokens.
    var busySeconds = 0.0
    var queued = 0
    var busySlots = 0
    var slots = 0
    var steps = 0
}

/// Runs every request on one model: `parallel` slots, each with its own KV cache and the
/// tokens it holds, and a queue. One engine thread runs steps; each step feeds one token to
/// every decoding slot and a prompt chunk to slots still reading their prompt, then samples
/// for each slot that got logits. Finished slots keep their cache, so a later request that
/// starts with the same tokens (a chat resending its history) reuses them.
final class InferenceEngine: @unchecked Sendable {
    let model: LanguageModel
    let contextPerSlot: Int
    let queueLimit: Int
    /// Rows of a step: decoded tokens plus prompt chunks (llama-server's batch size).
    let promptChunk: Int
    private let slots: [Slot]
    private let runner: any StepRunner

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var accepting = true
    private var stopped = false
    private var stats = EngineStatistics()
    private var thread: Thread?

    init(model: LanguageModel, parallel: Int, contextPerSlot: Int, queueLimit: Int, promptChunk: Int = 256, batched: Bool = true) throws(ModelError) {
        self.model = model
        self.contextPerSlot = contextPerSlot
        self.queueLimit = queueLimit
        // A step holds at most max(slots, chunk) rows, as the footprint estimate counts them.
        let rows = max(parallel, min(promptChunk, contextPerSlot))
        self.promptChunk = rows
        if batched {
            // The sessions keep only caches and tokens; the shared run state holds the activations.
            slots = try (0..<parallel).map { _ throws(ModelError) in try Slot(model: model, context: contextPerSlot, batch: 1) }
            runner = try BatchedStepRunner(model: model, rows: rows, slots: parallel, context: contextPerSlot)
        } else {
            slots = try (0..<parallel).map { _ throws(ModelError) in try Slot(model: model, context: contextPerSlot, batch: rows) }
            runner = SequentialStepRunner()
        }
        stats.slots = parallel
        // The caches' memory is taken now: the footprint is what the plan said from the start.
        for slot in slots { (slot.session.cache as? F16KVCache)?.reserveMemory() }
    }

    var statistics: EngineStatistics {
        condition.lock()
        defer { condition.unlock() }
        return stats
    }

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "llmrun-engine"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// Queues a job; throws 503 when the slots and the queue are full, or the server is stopping.
    /// `isConnected` says whether the client still waits for the answer; asked before each step.
    func submit(prompt: [Int32], parameters: SamplingParameters, limits: GenerationLimits,
                timeout: Double?, isConnected: (@Sendable () -> Bool)? = nil) throws(APIError) -> (Job, AsyncStream<JobEvent>) {
        let (stream, continuation) = AsyncStream<JobEvent>.makeStream()
        let job = Job(prompt: prompt, parameters: parameters, limits: limits,
                      deadline: timeout.map { Clock.now() + $0 }, continuation: continuation, isConnected: isConnected)
        continuation.onTermination = { _ in job.cancel() }
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { throw APIError.unavailable("the server is shutting down") }
        let busy = slots.filter { $0.job != nil }.count
        guard busy + queue.count < slots.count + queueLimit else {
            throw APIError.unavailable("all \(slots.count) slots are busy and the queue of \(queueLimit) is full; retry later")
        }
        queue.append(job)
        stats.queued = queue.count
        condition.signal()
        return (job, stream)
    }

    /// Stops accepting, lets running and queued jobs finish for up to `grace` seconds, cancels
    /// what is left, and ends the engine thread.
    func shutdown(grace: Double) async {
        locked { accepting = false }
        let end = Clock.now() + grace
        while Clock.now() < end {
            if locked({ queue.isEmpty && slots.allSatisfy { $0.job == nil } }) { break }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        locked {
            stopped = true
            condition.signal()
        }
        // The thread cancels what is left at its next step.
        while thread?.isFinished == false { try? await Task.sleep(nanoseconds: 10_000_000) }
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    // MARK: The engine thread

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && slots.allSatisfy({ $0.job == nil }) && !stopped { condition.wait() }
            if stopped {
                for job in queue { job.send(.failed(.unavailable("the server is shutting down"))) }
                queue.removeAll()
                condition.unlock()
                for slot in slots where slot.job != nil { finish(slot, .interrupted) }
                return
            }
            admit()
            condition.unlock()
            step()
        }
    }

    /// Moves queued jobs into free slots, each to the free slot whose cache shares the longest
    /// prefix with its prompt (ties: the slot idle longest). Caller holds the lock.
    private func admit() {
        let now = Clock.now()
        queue.removeAll { job in
            if job.isCancelled { job.send(.failed(.unavailable("cancelled"))); return true }
            if let d = job.deadline, now >= d {
                job.send(.failed(.unavailable("the request waited past its time limit (--timeout) for a slot")))
                return true
            }
            return false
        }
        while !queue.isEmpty {
            let free = slots.filter { $0.job == nil }
            guard !free.isEmpty else { break }
            let job = queue.removeFirst()
            let best = free.max { a, b in
                let (ma, mb) = (a.sharedPrefix(with: job.prompt), b.sharedPrefix(with: job.prompt))
                return ma != mb ? ma < mb : a.idleSince > b.idleSince
            }!
            best.start(job)
        }
        stats.queued = queue.count
        stats.busySlots = slots.filter { $0.job != nil }.count
    }

    private func step() {
        let now = Clock.now()
        for slot in slots {
            guard let job = slot.job else { continue }
            if job.isCancelled { finish(slot, .interrupted) }
            else if let d = job.deadline, now >= d { finish(slot, .timeLimit) }
        }
        // Decoding slots first, one token each; then prompt chunks within the step's budget.
        var items: [StepItem] = []
        for (i, slot) in slots.enumerated() {
            if let token = slot.nextToken { items.append(StepItem(slot: i, tokens: [token], wantsLogits: true, isPrompt: false)) }
        }
        var budget = promptChunk - items.count
        for (i, slot) in slots.enumerated() where slot.job != nil && slot.nextToken == nil && !slot.pending.isEmpty && budget > 0 {
            let n = min(budget, slot.pending.count)
            items.append(StepItem(slot: i, tokens: Array(slot.pending.prefix(n)), wantsLogits: n == slot.pending.count, isPrompt: true))
            budget -= n
        }
        guard !items.isEmpty else { return }
        let t0 = Clock.now()
        let logits = runner.run(items, sessions: slots.map(\.session))
        var generated = 0
        for (item, rows) in zip(items, logits) {
            let slot = slots[item.slot]
            if item.isPrompt {
                slot.pending.removeFirst(item.tokens.count)
                if slot.pending.isEmpty { slot.promptDone() }
            }
            slot.nextToken = nil
            guard let rows, var decoding = slot.decoding, let job = slot.job else { continue }
            let before = decoding.generated
            let out = decoding.step(logits: rows, vocabularySize: model.config.vocabularySize,
                                    history: slot.session.tokens[...], room: slot.session.remaining)
            slot.decoding = decoding
            generated += decoding.generated - before
            if !out.text.isEmpty { job.send(.text(out.text)) }
            if let token = out.nextToken { slot.nextToken = token }
            else if let reason = out.stopReason { complete(slot, reason) }
        }
        let seconds = Clock.now() - t0
        condition.lock()
        stats.steps += 1
        stats.generatedTokens += generated
        if generated > 0 { stats.busySeconds += seconds }
        stats.busySlots = slots.filter { $0.job != nil }.count
        condition.unlock()
    }

    /// Ends a slot's job for a reason of the engine's (cancelled, timed out, shutting down).
    private func finish(_ slot: Slot, _ reason: StopReason) {
        guard let job = slot.job else { return }
        if var decoding = slot.decoding {
            let out = decoding.finish(reason)
            slot.decoding = decoding
            if !out.text.isEmpty { job.send(.text(out.text)) }
        }
        complete(slot, reason)
    }

    private func complete(_ slot: Slot, _ reason: StopReason) {
        guard let job = slot.job else { return }
        var result = slot.result
        result.stopReason = reason
        result.stopString = slot.decoding?.stopString
        result.generated = slot.decoding?.generated ?? 0
        result.generationSeconds = Clock.now() - slot.decodeStarted
        job.send(.finished(result))
        condition.lock()
        stats.promptTokens += result.promptTokens
        stats.cachedTokens += result.cachedTokens
        condition.unlock()
        slot.release()
    }
}

/// A sequence position in the engine: its session (KV cache + tokens) and the job using it.
final class Slot {
    let session: GenerationSession
    var job: Job?
    var decoding: DecodingState?
    /// Prompt tokens still to feed.
    var pending: ArraySlice<Int32> = []
    /// The sampled token to feed at the next step.
    var nextToken: Int32?
    var result = GenerationResult()
    var decodeStarted = 0.0
    var idleSince = 0.0

    init(model: LanguageModel, context: Int, batch: Int) throws(ModelError) {
        session = try GenerationSession(model: model, contextLength: context, batchSize: batch)
    }

    func sharedPrefix(with prompt: [Int32]) -> Int {
        let cached = session.tokens
        var n = 0
        while n < min(cached.count, prompt.count - 1) && cached[n] == prompt[n] { n += 1 }
        return n
    }

    func start(_ job: Job) {
        self.job = job
        let kept = session.keepCommonPrefix(with: job.prompt)
        pending = job.prompt[kept...]
        nextToken = nil
        decoding = DecodingState(tokenizer: session.model.tokenizer, parameters: job.parameters, limits: job.limits)
        result = GenerationResult()
        result.promptTokens = job.prompt.count
        result.cachedTokens = kept
        result.promptSeconds = 0
        decodeStarted = Clock.now()
    }

    func promptDone() {
        let now = Clock.now()
        result.promptSeconds = now - decodeStarted
        decodeStarted = now
    }

    func release() {
        job = nil
        decoding = nil
        pending = []
        nextToken = nil
        idleSince = Clock.now()
    }
}
