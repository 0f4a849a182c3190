import Tokenizers

/// What `llmrun serve` was asked for.
public struct ServerConfiguration: Sendable {
    /// Address to listen on; loopback unless the user chooses otherwise.
    public var host = "127.0.0.1"
    /// Port (0: any free one, reported through `onListening`).
    public var port = 8080
    /// Slots: sequences decoded together, each with its own KV cache.
    public var parallel = 4
    /// Context of each slot (`-c` is per slot: the caches hold `parallel * contextPerSlot` positions).
    public var contextPerSlot = 2048
    /// Requests waiting for a slot beyond those running; past it, 503.
    public var queue = 64
    /// Bearer key for every route but /health (nil: no authentication).
    public var apiKey: String?
    /// Seconds a request may take from its arrival, queue included (nil: no limit).
    public var timeout: Double?
    /// Largest request body accepted.
    public var maxBodyBytes = 1 << 20
    /// Rows of an engine step: one per decoding slot, the rest prompt chunks.
    public var promptChunk = 256
    /// One batched forward per step (false: each slot's forward in turn, the same arithmetic).
    public var batchedForward = true
    /// Seconds running requests get to finish at shutdown before they are cancelled.
    public var shutdownGrace = 10.0
    /// The model id clients name (the file name without .gguf).
    public var modelID = "model"
    /// The chat template (nil: /v1/chat/completions answers 400).
    public var chatTemplate: ChatTemplate?

    public init() {}
}
