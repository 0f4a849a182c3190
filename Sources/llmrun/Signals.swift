import Foundation
import Synchronization

/// The stop signal received and not yet taken (SIGINT or SIGTERM), 0 if none.
private let pendingSignal = Atomic<Int32>(0)
/// The last stop signal received, kept for the exit code (128 + its number) after a chat has
/// taken a Ctrl-C and carried on.
private let lastSignal = Atomic<Int32>(0)

/// SIGINT (Ctrl-C) and SIGTERM (systemd, kill) both ask llmrun to stop cleanly: long loops poll
/// `Terminal.interrupted`, partial output is flushed, --json still prints its object, nothing
/// half-written is left at an output path, and the exit code is 130 or 143. A second signal
/// while the first is pending ends the process at once.
enum Signals {
    /// Installed for every command before its work starts. Without SA_RESTART, a blocking read
    /// returns EINTR so a prompt, or a pipe that never closes, notices the signal.
    static func install() {
        for s in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                lastSignal.store(signal, ordering: .relaxed)
                if pendingSignal.exchange(signal, ordering: .relaxed) != 0 { _exit(128 + signal) }
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(s, &action, nil)
        }
    }

    /// The pending stop signal, 0 if none.
    static var received: Int32 { pendingSignal.load(ordering: .relaxed) }

    /// Whether llmrun must end rather than carry on (a chat carries on after Ctrl-C, never after SIGTERM).
    static var terminating: Bool { received == SIGTERM }

    /// Takes a pending SIGINT (a chat that stopped an answer carries on). SIGTERM stays pending:
    /// it ends the process whatever the command does with the interrupt.
    static func take() -> Bool {
        let s = pendingSignal.load(ordering: .relaxed)
        if s == SIGINT { pendingSignal.store(0, ordering: .relaxed) }
        return s != 0
    }

    /// The exit code of a run stopped by a signal: 130 for SIGINT, 143 for SIGTERM.
    static var exitCode: Int32 {
        lastSignal.load(ordering: .relaxed) == SIGTERM ? ExitCode.terminated : ExitCode.interrupted
    }

    static var name: String {
        lastSignal.load(ordering: .relaxed) == SIGTERM ? "terminated (SIGTERM)" : "interrupted (SIGINT)"
    }
}
