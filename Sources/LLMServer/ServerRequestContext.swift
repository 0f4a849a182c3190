import Hummingbird

/// The request context of every route: Hummingbird's basic one, plus whether the client's
/// connection is still open, so that a request answered in one piece (not streamed, hence with
/// no write to fail) still notices a client that hung up and frees its slot.
struct ServerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// False once the connection has closed (read on the engine's thread: the channel's flag is atomic).
    let isConnected: @Sendable () -> Bool

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let channel = source.channel
        isConnected = { channel.isActive }
    }
}
