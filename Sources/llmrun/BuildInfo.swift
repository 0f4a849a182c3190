import CBuildInfo
import CKernels

/// What `llmrun --version` prints: the release, the commit and date Tools/stamp-build wrote at
/// build time, and the kernels this CPU runs (the C dispatch picks them on first use).
enum BuildInfo {
    static var version: String { String(cString: llmrun_version()) }
    static var commit: String { String(cString: llmrun_build_commit()) }
    static var date: String { String(cString: llmrun_build_date()) }
    static var kernels: String { String(cString: lr_kernels_backend()) }

    static var text: String {
        """
        llmrun \(version)
        commit   \(commit)
        built    \(date)
        kernels  \(kernels)
        """
    }
}
