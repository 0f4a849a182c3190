/// libFuzzer's driver, called with the harness's entry point (libFuzzer ≥ 11 exports it).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// A harness's `main` arguments, as SwiftPM passes them to `<target>_main`.
public typealias Arguments = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

/// Runs libFuzzer on `testOneInput` with the process's arguments: what every harness's `main`
/// does. SwiftPM links an executable target's `main` to `<target>_main`, so each harness defines
/// that (the `@_cdecl` names differ) and calls this, rather than relying on libFuzzer's own
/// `main`. With `LLMRUN_FUZZ_SEEDS` set it writes the seeds instead (`writeSeedsIfAsked`);
/// `setUp` runs once before the first input, so its cost is not taken for a slow input.
public func runFuzzer(argc: CInt, argv: Arguments, seeds: (String) throws -> Void, setUp: () -> Void = {},
                      _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    writeSeedsIfAsked(seeds)
    setUp()
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
}

#if canImport(Glibc)
import Glibc
#endif

/// With `LLMRUN_FUZZ_SEEDS=DIR` (set by `Tools/fuzz --seeds`), writes the harness's seed corpus
/// into DIR and exits instead of fuzzing.
public func writeSeedsIfAsked(_ write: (String) throws -> Void) {
    guard let dir = getenv("LLMRUN_FUZZ_SEEDS").map({ String(cString: $0) }) else { return }
    do {
        try write(dir)
        exit(0)
    } catch {
        let message = Array("cannot write the seeds into \(dir): \(error)\n".utf8)
        _ = message.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        exit(1)
    }
}

nonisolated(unsafe) private let isVerbose = getenv("LLMRUN_FUZZ_VERBOSE") != nil

/// With `LLMRUN_FUZZ_VERBOSE` set, prints why an input was refused (to check that seeds get
/// through to the code they are meant for).
public func verbose(_ message: @autoclosure () -> String) {
    guard isVerbose else { return }
    let line = Array((message() + "\n").utf8)
    _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
}

public func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
