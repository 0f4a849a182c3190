#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A tensor the writer will emit: its data is supplied later, in the same order.
public struct GGUFTensorDescriptor: Sendable, Equatable {
    public let name: String
    /// ggml order: `shape[0]` is the row length.
    public let shape: [Int]
    public let type: GGMLType

    public init(name: String, shape: [Int], type: GGMLType) {
        self.name = name
        self.shape = shape
        self.type = type
    }

    public var byteCount: Int? { type.byteCount(forElements: shape.reduce(1, *)) }
}

/// Writes a GGUF v3 file as a stream: the header goes out first, then each tensor's bytes as the
/// caller produces them, so a model never has to be held in memory to be written.
///
/// The file is invisible until `finish()`: it is created unnamed (`O_TMPFILE`) in the target's
/// directory where the file system allows, else under a hidden temporary name, and only after
/// `fsync` is it linked or renamed to the target. An error, `abort()`, or the process dying
/// leaves nothing at the target path.
public final class GGUFWriter {
    public let path: String
    private let descriptors: [GGUFTensorDescriptor]
    private let alignment: Int
    private var fd: Int32
    private var tempPath: String?  // nil when the file is unnamed (O_TMPFILE)
    private var buffer: [UInt8] = []
    private var nextTensor = 0
    private var written = 0
    private var finished = false
    private static let bufferLimit = 1 << 20

    public init(path: String, metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensorDescriptor]) throws(GGUFError) {
        self.path = path
        self.descriptors = tensors
        var alignment = GGUFFile.defaultAlignment
        if let v = metadata.first(where: { $0.key == "general.alignment" })?.value {
            guard case .uint32(let a) = v, a > 0, a & (a - 1) == 0 else {
                throw .writerMisuse("general.alignment must be a uint32 power of two, got \(v.summary())")
            }
            alignment = Int(a)
        }
        self.alignment = alignment
        var keys = Set<String>()
        for (key, _) in metadata where !keys.insert(key).inserted {
            throw .writerMisuse("metadata key '\(key)' given twice")
        }
        var names = Set<String>()
        for t in tensors {
            guard names.insert(t.name).inserted else { throw .writerMisuse("tensor '\(t.name)' listed twice") }
            guard (1...GGUFFile.maxDimensions).contains(t.shape.count), t.byteCount != nil else {
                throw .writerMisuse("tensor '\(t.name)': shape \(t.shape) does not suit \(t.type)")
            }
        }

        (fd, tempPath) = try GGUFWriter.createHidden(target: path)

        // Header: everything but the tensor data is known up front.
        var header = ByteWriter()
        header.u32(GGUFFile.magic)
        header.u32(3)
        header.u64(UInt64(tensors.count))
        header.u64(UInt64(metadata.count))
        for (key, value) in metadata {
            header.string(key)
            header.u32(value.type.rawValue)
            header.value(value)
        }
        var offset = 0
        for t in tensors {
            header.string(t.name)
            header.u32(UInt32(t.shape.count))
            for d in t.shape { header.u64(UInt64(d)) }
            header.u32(t.type.rawValue)
            header.u64(UInt64(offset))
            offset = GGUFWriter.aligned(offset + t.byteCount!, alignment)
        }
        buffer = header.bytes
        padBuffer()
    }

    deinit {
        if !finished { abort() }
    }

    private static func aligned(_ n: Int, _ a: Int) -> Int { (n + a - 1) / a * a }

    private func padBuffer() {
        let total = written + buffer.count
        buffer.append(contentsOf: repeatElement(0, count: GGUFWriter.aligned(total, alignment) - total))
    }

    /// The next tensor the writer expects, or nil when all have been written.
    public var expectedTensor: GGUFTensorDescriptor? {
        nextTensor < descriptors.count ? descriptors[nextTensor] : nil
    }

    /// Appends the data of the next tensor (in the order given at creation). `written`, when
    /// given, is told each byte range of `bytes` once it is in the file, so a caller copying from
    /// a memory-mapped source can drop those pages as it goes instead of holding the whole tensor.
    public func writeTensor(named name: String, bytes: UnsafeRawBufferPointer,
                            written done: ((Range<Int>) -> Void)? = nil) throws(GGUFError) {
        guard !finished, fd >= 0 else { throw .writerMisuse("write after finish or abort") }
        guard let t = expectedTensor else { throw .writerMisuse("more tensors written than declared ('\(name)')") }
        guard t.name == name else { throw .writerMisuse("expected tensor '\(t.name)' next, got '\(name)'") }
        guard bytes.count == t.byteCount else {
            throw .writerMisuse("tensor '\(name)': expected \(t.byteCount!) bytes, got \(bytes.count)")
        }
        nextTensor += 1
        if bytes.count >= GGUFWriter.bufferLimit {
            try flush()
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + GGUFWriter.bufferLimit)
                try writeAll(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                done?(start..<end)
                start = end
            }
            written += bytes.count
        } else {
            buffer.append(contentsOf: bytes)
        }
        if nextTensor < descriptors.count { padBuffer() }
        if buffer.count >= GGUFWriter.bufferLimit { try flush() }
    }

    public func writeTensor(named name: String, bytes: [UInt8]) throws(GGUFError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(GGUFError) in try writeTensor(named: name, bytes: raw) }
        }
        try result.get()
    }

    /// Flushes, fsyncs and makes the file appear at `path` in one step.
    public func finish() throws(GGUFError) {
        guard !finished, fd >= 0 else { throw .writerMisuse("finish called twice or after abort") }
        guard nextTensor == descriptors.count else {
            throw .writerMisuse("finish before all tensors were written (\(nextTensor) of \(descriptors.count))")
        }
        do throws(GGUFError) {
            try flush()
            guard fsync(fd) == 0 else { throw errnoError("fsync") }
            try publish()
        } catch {
            abort()
            throw error
        }
        close(fd)
        fd = -1
        finished = true
    }

    /// Discards everything written so far; nothing remains on disk.
    public func abort() {
        if fd >= 0 { close(fd); fd = -1 }
        if let tempPath { unlink(tempPath) }
        tempPath = nil
        finished = true
    }

    // MARK: File handling

    private func errnoError(_ what: String) -> GGUFError {
        .cannotCreate(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }

    private func flush() throws(GGUFError) {
        guard !buffer.isEmpty else { return }
        let result = buffer.withUnsafeBytes { raw in Result { () throws(GGUFError) in try writeAll(raw) } }
        try result.get()
        written += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(GGUFError) {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw errnoError("write")
            }
            done += n
        }
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    private static func createHidden(target: String) throws(GGUFError) -> (Int32, String?) {
        let dir = directory(of: target)
        var st = stat()
        if stat(target, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw .cannotCreate(path: target, reason: "it is a directory")
        }
        // The file is renamed into place: over /dev/null that would replace the device node.
        if stat(target, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw .cannotCreate(path: target, reason: "it exists and is not a regular file")
        }
        #if os(Linux)
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; Swift does not import the macro.
        let oTmpfile: Int32 = 0o20000000 | O_DIRECTORY
        let fd = open(dir, oTmpfile | O_WRONLY | O_CLOEXEC, 0o644)
        if fd >= 0 { return (fd, nil) }
        let err = errno
        if err == ENOENT || err == EACCES || err == EROFS || err == ENOTDIR {
            throw .cannotCreate(path: target, reason: "directory '\(dir)': \(String(cString: strerror(err)))")
        }
        #endif
        let name = target.split(separator: "/").last.map(String.init) ?? "model.gguf"
        let temp = "\(dir)/.\(name).\(getpid()).partial"
        let fd2 = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd2 >= 0 else {
            throw .cannotCreate(path: target, reason: "\(temp): \(String(cString: strerror(errno)))")
        }
        return (fd2, temp)
    }

    private func publish() throws(GGUFError) {
        if let tempPath {
            guard rename(tempPath, path) == 0 else { throw errnoError("rename") }
            self.tempPath = nil
        } else {
            #if os(Linux)
            let procPath = "/proc/self/fd/\(fd)"
            // linkat cannot replace an existing file: link under a hidden name, then rename over.
            if linkat(AT_FDCWD, procPath, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0 {
                guard errno == EEXIST else { throw errnoError("link") }
                let dir = GGUFWriter.directory(of: path)
                let name = path.split(separator: "/").last.map(String.init) ?? "model.gguf"
                let temp = "\(dir)/.\(name).\(getpid()).partial"
                unlink(temp)
                guard linkat(AT_FDCWD, procPath, AT_FDCWD, temp, AT_SYMLINK_FOLLOW) == 0 else { throw errnoError("link") }
                guard rename(temp, path) == 0 else {
                    let e = errnoError("rename")
                    unlink(temp)
                    throw e
                }
            }
            #endif
        }
        // Make the new directory entry durable too.
        let dfd = open(GGUFWriter.directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

/// Little-endian serialisation of header fields.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func int<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func u32(_ v: UInt32) { int(v) }
    mutating func u64(_ v: UInt64) { int(v) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u64(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func value(_ v: GGUFValue) {
        switch v {
        case .uint8(let x): int(x)
        case .int8(let x): int(x)
        case .uint16(let x): int(x)
        case .int16(let x): int(x)
        case .uint32(let x): int(x)
        case .int32(let x): int(x)
        case .uint64(let x): int(x)
        case .int64(let x): int(x)
        case .float32(let x): int(x.bitPattern)
        case .float64(let x): int(x.bitPattern)
        case .bool(let x): int(UInt8(x ? 1 : 0))
        case .string(let s): string(s)
        case .array(let t, let items):
            u32(t.rawValue)
            u64(UInt64(items.count))
            for item in items { value(item) }
        }
    }
}
