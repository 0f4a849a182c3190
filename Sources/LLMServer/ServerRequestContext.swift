import Hummingbird
import LLMRuntime
import NIOCore
import Synchronization

/// The request context of every route: Hummingbird's basic one, plus whether the client's
/// connection is still open, so that a request answered in one piece (not streamed, hence with
/// no write to fail) still notices a client that hung up and frees its slot.
struct ServerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// False once the client has closed its side. Called from the engine's thread.
    let isConnected: @Sendable () -> Bool

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let watch = ConnectionWatch(channel: source.channel)
        isConnected = { watch.isConnected }
    }
}

/// Asks the socket whether the client is still there. The HTTP handler stops reading while an
/// answer is pending (pipelining), so a hang-up never reaches the channel as an end of input:
/// only the TCP state shows it (CLOSE_WAIT once the client's FIN arrived). Asked at most every
/// 20 ms, since each asking is a hop to the connection's event loop.
final class ConnectionWatch: Sendable {
    private let channel: any Channel
    private let state = Mutex<(checked: Double, open: Bool)>((0, true))
    private static let interval = 0.02

    init(channel: any Channel) { self.channel = channel }

    var isConnected: Bool {
        let now = Clock.now()
        let due = state.withLock { s -> Bool? in
            if !s.open { return false }
            if now - s.checked < ConnectionWatch.interval { return true }
            s.checked = now
            return nil
        }
        if let due { return due }
        let open = channel.isActive && !ConnectionWatch.peerClosed(channel)
        if !open { state.withLock { $0.open = false } }
        return open
    }

    /// Whether the TCP state is one a peer's FIN leads to. TCP_INFO's first byte is the state; a
    /// 4-byte read of it (all a socket option's value holds) is enough.
    private static func peerClosed(_ channel: any Channel) -> Bool {
        let option = ChannelOptions.Types.SocketOption(level: .tcp, name: .tcp_info)
        guard let value = try? channel.getOption(option).wait() else { return false }
        let tcpState = UInt8(truncatingIfNeeded: value)
        // CLOSE_WAIT 8, LAST_ACK 9, CLOSE 7.
        return tcpState == 7 || tcpState == 8 || tcpState == 9
    }
}
