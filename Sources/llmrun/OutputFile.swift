import Foundation

/// Checks made before any long work on a command's output file (prune, quantize): it must not be
/// the model being read, nor a directory, and its directory must be writable. Finding out after
/// minutes of calibration would waste them.
func checkOutputPath(_ output: String, source: String) throws {
    if URL(fileURLWithPath: output).standardized.path == URL(fileURLWithPath: source).standardized.path {
        throw CLIError.usage("the output would overwrite the source model; choose another -o")
    }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
        throw CLIError(description: "\(output) is a directory", exitCode: ExitCode.cannotCreate)
    }
    let directory = URL(fileURLWithPath: output).deletingLastPathComponent().path
    if access(directory, W_OK) != 0 {
        throw CLIError(description: "\(output): cannot write to '\(directory)': \(String(cString: strerror(errno)))",
                       exitCode: ExitCode.cannotCreate)
    }
}
