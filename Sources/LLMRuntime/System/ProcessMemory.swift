#if canImport(Glibc)
import Glibc
#endif

/// Resident memory of this process, from /proc/self/status (Linux).
public enum ProcessMemory {
    /// Current resident set size in bytes (0 where unknown).
    public static var residentBytes: Int { field("VmRSS:") }
    /// Peak resident set size in bytes (0 where unknown).
    public static var peakResidentBytes: Int { field("VmHWM:") }

    /// The memory this process may use, in bytes: the machine's physical memory, or a cgroup's
    /// limit when one is lower (a container); 0 where unknown.
    public static var physicalBytes: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        var bytes = pages > 0 && pageSize > 0 ? pages.clampedMultiplying(pageSize) : 0
        for limitFile in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let limit = firstNumber(in: limitFile), limit > 0, bytes == 0 || limit < bytes { bytes = limit }
        }
        return bytes
    }

    /// The number a one-line file starts with ("max" and missing files give nil).
    private static func firstNumber(in path: String) -> Int? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 64)
        guard fgets(&line, Int32(line.count), f) != nil else { return nil }
        let end = line.firstIndex(of: 0) ?? line.count
        let s = String(decoding: line[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Int(String(s.prefix { $0.isNumber }))
    }

    private static func field(_ name: String) -> Int {
        guard let f = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let end = line.firstIndex(of: 0) ?? line.count
            let s = String(decoding: line[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if s.hasPrefix(name) {
                let digits = s.dropFirst(name.count).filter { $0.isNumber }
                return (Int(String(digits)) ?? 0) * 1024
            }
        }
        return 0
    }
}
