#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Input files must be regular files (symlinks to one are fine): opening a FIFO for reading
/// blocks until a writer appears, and a device may never end.
public enum RegularFile {
    /// Throws unless `path` names a regular file, after following symlinks. A missing file is
    /// `fileNotFound`; the file itself is not opened.
    public static func check(_ path: String) throws(GGUFError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let err = errno
            if err == ENOENT || err == ENOTDIR { throw .fileNotFound(path: path) }
            throw .io(path: path, reason: "cannot open: \(String(cString: strerror(err)))")
        }
        try check(mode: st.st_mode, path: path)
    }

    /// The same for an open descriptor's `st_mode` (the path may have changed since `check`).
    static func check(mode: mode_t, path: String) throws(GGUFError) {
        switch mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw .notARegularFile(path: path, kind: "a directory")
        case S_IFIFO: throw .notARegularFile(path: path, kind: "a FIFO (named pipe)")
        case S_IFCHR, S_IFBLK: throw .notARegularFile(path: path, kind: "a device")
        case S_IFSOCK: throw .notARegularFile(path: path, kind: "a socket")
        default: throw .notARegularFile(path: path, kind: "a special file")
        }
    }
}
