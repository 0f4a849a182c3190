#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One file per process that each input is written to: the GGUF reader maps files, so bytes in
/// memory go through it (in /dev/shm when there is one, so no disk is touched).
public struct ScratchFile {
    public let path: String

    public init(_ name: String) {
        var dir = "/dev/shm"
        var st = stat()
        if stat(dir, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
            dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        }
        path = "\(dir)/llmrun-fuzz-\(name)-\(getpid())"
    }

    /// Replaces the file's contents with `bytes`; false if it cannot be written (a harness then
    /// skips the input rather than report a crash that is not the code's).
    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }

    public func remove() { unlink(path) }
}

public struct WriteError: Error, CustomStringConvertible {
    public let path: String
    public var description: String { "cannot write \(path)" }
}

/// Writes a seed file.
public func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw WriteError(path: path) }
    defer { close(fd) }
    let ok = bytes.withUnsafeBytes { b in Glibc.write(fd, b.baseAddress, b.count) == b.count }
    guard ok else { throw WriteError(path: path) }
}
