import Foundation
import Hummingbird
import LLMRuntime
import Logging
import ServiceLifecycle
import Synchronization

/// Loads the model to serve; the argument says whether the server has been asked to stop.
public typealias ModelLoader = @Sendable (_ stopRequested: @escaping @Sendable () -> Bool) throws -> LanguageModel

/// An OpenAI-compatible HTTP server over one model. It listens at once (/health answers 503
/// while the model loads), stops on SIGTERM or SIGINT: new requests are refused, running ones
/// get `shutdownGrace` seconds to finish, then are cancelled.
public enum InferenceServer {
    /// Runs until a signal stops it. `load` runs on a thread of its own while the server listens,
    /// and polls its argument: true once a signal (or the task's cancellation) asks the server to
    /// stop, so a long load (pruning to a budget) can give up rather than finish first.
    /// `onListening` gets the bound port; `log` gets one line per request (and status lines).
    public static func run(configuration: ServerConfiguration,
                           load: @escaping ModelLoader,
                           onListening: @escaping @Sendable (Int) -> Void = { _ in },
                           onReady: @escaping @Sendable (LanguageModel) -> Void = { _ in },
                           log: @escaping @Sendable (String) -> Void) async throws {
        let serving = ServingState()
        let responder = APIResponder(configuration: configuration, serving: serving, metrics: ServerMetrics(), log: log)
        var logger = Logger(label: "llmrun-serve", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .critical
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port),
                                                    serverName: "llmrun"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
        let engine = EngineService(configuration: configuration, serving: serving, load: load, onReady: onReady)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: engine)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }
}

/// Loads the model, runs the engine, and drains it at shutdown (before the HTTP server stops,
/// since a service group shuts its services down in reverse order).
struct EngineService: Service {
    let configuration: ServerConfiguration
    let serving: ServingState
    let load: ModelLoader
    let onReady: @Sendable (LanguageModel) -> Void

    func run() async throws {
        let stop = StopFlag()
        let model: LanguageModel
        do {
            model = try await withTaskCancellationOrGracefulShutdownHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<LanguageModel, any Error>) in
                    let t = Thread { c.resume(with: Result { try load({ stop.isSet }) }) }
                    t.stackSize = 8 << 20
                    t.start()
                }
            } onCancelOrGracefulShutdown: {
                stop.set()
            }
        } catch {
            // Stopped while loading: the load gave up (its error says where); nothing to drain.
            if stop.isSet { return }
            throw error
        }
        let engine = try InferenceEngine(model: model, parallel: configuration.parallel, contextPerSlot: configuration.contextPerSlot,
                                     queueLimit: configuration.queue, promptChunk: configuration.promptChunk,
                                     batched: configuration.batchedForward)
        engine.start()
        serving.set(ServingModel(model: model, engine: engine))
        onReady(model)
        try? await gracefulShutdown()
        await engine.shutdown(grace: configuration.shutdownGrace)
    }
}

/// Set once, read from the loading thread.
private final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
