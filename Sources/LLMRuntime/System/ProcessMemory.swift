#if canImport(Glibc)
import Glibc
#endif

/// Resident memory of this process, from /proc/self/status (Linux).
public enum ProcessMemory {
    /// Current resident set size in bytes (0 where unknown).
    public static var residentBytes: Int { field("VmRSS:") }
    /// Peak resident set size in bytes (0 where unknown).
    public static var peakResidentBytes: Int { field("VmHWM:") }

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
