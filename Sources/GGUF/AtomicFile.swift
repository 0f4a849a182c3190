import Foundation

/// Small whole-file writes (plans, logs) that never leave a half-written file at `path`: the
/// bytes go to a temporary file beside it, which is then renamed over it.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws(GGUFError) {
        try StagedFile(data, for: path).commit()
    }

    /// Throws unless a file can be created at `path` (its directory exists and is writable), so
    /// a long run can refuse before its work rather than after.
    public static func checkWritable(_ path: String) throws(GGUFError) {
        let dir = (path as NSString).deletingLastPathComponent
        let directory = dir.isEmpty ? "." : dir
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .cannotCreate(path: path, reason: "directory '\(directory)' does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw .cannotCreate(path: path, reason: "directory '\(directory)' is not writable")
        }
    }
}

/// A small file written in full (and synced) under a temporary name beside `path`, which
/// `commit()` renames into place. A run with several outputs stages each before publishing any,
/// so a full disk leaves all of them or none; dropped uncommitted, it removes its temporary.
public final class StagedFile {
    public let path: String
    private var temporary: String?

    public init(_ data: Data, for path: String) throws(GGUFError) {
        self.path = path
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw .cannotCreate(path: path, reason: "it exists and is not a regular file")
        }
        let (directory, _) = StagedFile.split(path)
        // A short name of its own, so a target name near the length limit still has a temporary.
        let temporary = "\(directory)/.llmrun-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotCreate(path: path, reason: "\(temporary): \(String(cString: strerror(errno)))") }
        self.temporary = temporary
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 {
            discard()
            throw .cannotCreate(path: path, reason: "write: \(String(cString: strerror(failure)))")
        }
    }

    deinit { discard() }

    /// Renames the file into place.
    public func commit() throws(GGUFError) {
        guard let temporary else { throw .writerMisuse("commit of a discarded or committed staged file") }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw .cannotCreate(path: path, reason: reason)
        }
        self.temporary = nil
    }

    /// Removes the temporary file; nothing appears at `path`.
    public func discard() {
        if let temporary { unlink(temporary) }
        temporary = nil
    }

    private static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}
