import Foundation

/// Small whole-file writes (plans, logs) that never leave a half-written file at `path`: the
/// bytes go to a temporary file beside it, which is then renamed over it.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws(GGUFError) {
        try checkWritable(path)
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw .cannotCreate(path: path, reason: "could not create \(tmp)")
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw .cannotCreate(path: path, reason: reason)
        }
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
