#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file. Pages are file-backed, so the kernel can
/// reclaim them under memory pressure: a mapped model costs address space, not RAM.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    /// The mapped bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(GGUFError) {
        self.path = path
        // Checked before opening (a FIFO would block in open), and again on the descriptor,
        // opened non-blocking, in case the path changed in between.
        try RegularFile.check(path)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            let err = errno
            if err == ENOENT { throw .fileNotFound(path: path) }
            throw .io(path: path, reason: "cannot open: \(String(cString: strerror(err)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw .io(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        try RegularFile.check(mode: st.st_mode, path: path)
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw .io(path: path, reason: "cannot map: \(String(cString: strerror(errno)))")
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Tells the kernel we no longer need this range resident (used while streaming a large model).
    public func release(offset: Int, count: Int) {
        guard let base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset / page) * page
        let end = min(size, offset + count)
        guard end > start else { return }
        _ = madvise(base + start, end - start, Int32(MADV_DONTNEED))
    }

    deinit {
        if let base { munmap(base, size) }
    }
}
