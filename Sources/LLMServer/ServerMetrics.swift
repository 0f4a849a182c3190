import Foundation
import LLMRuntime
import Synchronization

/// Request counters for /metrics, by route and status.
final class ServerMetrics: Sendable {
    private let requests = Mutex<[String: Int]>([:])

    func count(path: String, status: Int) {
        requests.withLock { $0["\(path)|\(status)", default: 0] += 1 }
    }

    /// Prometheus text exposition.
    func render(engine: EngineStatistics?) -> String {
        var out = "# HELP llmrun_requests_total HTTP requests answered, by route and status.\n# TYPE llmrun_requests_total counter\n"
        for (key, n) in requests.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|", maxSplits: 1)
            out += "llmrun_requests_total{path=\"\(parts[0])\",status=\"\(parts[1])\"} \(n)\n"
        }
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double) {
            out += "# HELP llmrun_\(name) \(help)\n# TYPE llmrun_\(name) \(type)\nllmrun_\(name) \(value)\n"
        }
        let e = engine ?? EngineStatistics()
        metric("prompt_tokens_total", "counter", "Prompt tokens of finished requests.", Double(e.promptTokens))
        metric("prompt_tokens_cached_total", "counter", "Prompt tokens found in a slot's cache instead of computed.", Double(e.cachedTokens))
        metric("generated_tokens_total", "counter", "Tokens generated.", Double(e.generatedTokens))
        metric("generated_tokens_per_second", "gauge", "Generated tokens per second of engine time spent generating.",
               e.busySeconds > 0 ? Double(e.generatedTokens) / e.busySeconds : 0)
        // What a load's throughput is made of: steps, their time, and how many rows they ran.
        metric("engine_steps_total", "counter", "Forward steps the engine ran.", Double(e.steps))
        metric("engine_busy_seconds_total", "counter", "Seconds the engine spent in steps that generated tokens.", e.busySeconds)
        metric("queue_depth", "gauge", "Requests waiting for a slot.", Double(e.queued))
        metric("slots_busy", "gauge", "Slots running a request.", Double(e.busySlots))
        metric("slots", "gauge", "Slots.", Double(e.slots))
        metric("resident_memory_bytes", "gauge", "Resident memory of the process.", Double(ProcessMemory.residentBytes))
        metric("ready", "gauge", "1 once the model is loaded.", engine == nil ? 0 : 1)
        return out
    }
}
