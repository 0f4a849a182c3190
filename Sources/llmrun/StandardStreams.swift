import Foundation
import Synchronization

/// The three standard descriptors, written and read with POSIX calls that report errors (Foundation's
/// `FileHandle` write and read-to-end calls trap on EPIPE, ENOSPC or EBADF, and `print`
/// buffers in stdio, where a failed write is lost). Unattended callers close descriptors, fill
/// disks and close pipes: standard output failing stops the work and exits 74; standard error
/// failing never stops anything; a closed standard input reads as empty.
enum StandardStreams {
    /// errno of the first failed write to standard output, 0 while it works.
    private static let outputError = Atomic<Int32>(0)
    /// Standard output was closed when llmrun started: every write to it fails with EBADF.
    private static let outputClosed = Atomic<Bool>(false)

    /// Run first, before anything opens a file. A closed descriptor 0, 1 or 2 would be handed to the
    /// next open(): the model file, or worse the output being written, would become "standard
    /// error". They are reopened on /dev/null; writes to a closed standard output still fail.
    static func prepare() {
        for fd in Int32(0)...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let reserved = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if reserved >= 0 && reserved != fd {
                dup2(reserved, fd)
                close(reserved)
            }
            if fd == STDOUT_FILENO { outputClosed.store(true, ordering: .relaxed) }
        }
        signal(SIGPIPE, SIG_IGN)  // a reader gone is EPIPE on write, reported as exit 74
        signal(SIGXFSZ, SIG_IGN)  // a file-size limit is EFBIG on write, reported as an error
        // ArgumentParser prints --help through stdio: a failed final flush is exit 74 too (stderr
        // is unbuffered, so only standard output can fail here).
        atexit {
            if fflush(nil) != 0 { _exit(ExitCode.ioError) }
        }
    }

    /// Whether a write to standard output has failed (the run stops and exits 74).
    static var outputFailed: Bool { outputError.load(ordering: .relaxed) != 0 }

    /// "No space left on device", for the exit message.
    static var outputFailure: String? {
        let e = outputError.load(ordering: .relaxed)
        return e == 0 ? nil : String(cString: strerror(e))
    }

    /// Writes to standard output. After a failure later writes are dropped: the run is stopping.
    static func out(_ text: String) {
        guard !outputFailed, !text.isEmpty else { return }
        if outputClosed.load(ordering: .relaxed) {
            outputError.store(EBADF, ordering: .relaxed)
            return
        }
        if let error = writeAll(STDOUT_FILENO, text) { outputError.store(error, ordering: .relaxed) }
    }

    /// Writes to standard error, ignoring any failure: diagnostics must never stop the work.
    static func err(_ text: String) {
        _ = writeAll(STDERR_FILENO, text)
    }

    /// Writes every byte, retrying after signals; nil on success, else errno.
    private static func writeAll(_ fd: Int32, _ text: String) -> Int32? {
        var text = text
        return text.withUTF8 { bytes -> Int32? in
            var done = 0
            while done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { return EIO }
                done += n
            }
            return nil
        }
    }

    /// Reads `fd` to its end. A signal that asks llmrun to stop ends the wait (a pipe whose writer
    /// never closes it must not hold the process).
    static func readAll(_ fd: Int32, name: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes.append(contentsOf: chunk[0..<n])
                if Signals.received != 0 { throw CLIError.interrupted }  // an endless source (/dev/zero)
            } else if n == 0 {
                return bytes
            } else if errno == EINTR {
                if Signals.received != 0 { throw CLIError.interrupted }
            } else {
                throw CLIError.io("\(name): \(String(cString: strerror(errno)))")
            }
        }
    }
}
