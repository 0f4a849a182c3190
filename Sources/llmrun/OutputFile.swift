import Foundation

/// A file's identity: device and inode after following links. Two spellings of one path, a
/// symbolic link to a file and a hard link to it all compare equal; comparing the spelled paths
/// let `prune -m link.gguf -o src.gguf` overwrite the source it was reading.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// Whether `a` and `b` name the same file, or, where one does not exist yet, the same name
    /// in the same directory.
    static func same(_ a: String, _ b: String) -> Bool {
        if let ia = FileIdentity(a), let ib = FileIdentity(b) { return ia == ib }
        if FileIdentity(a) != nil || FileIdentity(b) != nil { return false }
        let (da, na) = split(a), (db, nb) = split(b)
        guard na == nb else { return false }
        if let ia = FileIdentity(da), let ib = FileIdentity(db) { return ia == ib }
        return URL(fileURLWithPath: a).standardized.path == URL(fileURLWithPath: b).standardized.path
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}

/// Checks made before any work on a file a command will write (prune's -o and --plan-out,
/// quantize's -o), so a run cannot fail after minutes of calibration, nor replace what it reads:
/// - 64 when it is one of `inputs` (the model, calibration text), by identity, links included;
/// - 73 when it is a directory, a device or FIFO (outputs are renamed into place, which would
///   replace the device node), its directory is missing, its name too long, or no file can be
///   created there (a read-only file system, /proc).
func checkOutputPath(_ output: String, option: String, inputs: [(option: String, path: String)]) throws {
    for input in inputs where FileIdentity.same(output, input.path) {
        let link = output == input.path ? "" : " (through a link, or another spelling of the path)"
        throw CLIError.usage("\(option) \(output) is \(input.option) \(input.path)\(link): writing it would destroy what llmrun reads; choose another \(option)")
    }
    func refuse(_ reason: String) -> CLIError {
        CLIError(description: "\(option) \(output): \(reason)", exitCode: ExitCode.cannotCreate)
    }
    var st = stat()
    if stat(output, &st) == 0 {
        if (st.st_mode & S_IFMT) == S_IFDIR { throw refuse("is a directory") }
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw refuse("exists and is not a regular file (a device, FIFO or socket); llmrun writes a new file and renames it into place")
        }
    }
    let (directory, name) = FileIdentity.split(output)
    if name.isEmpty { throw refuse("names no file") }
    guard stat(directory, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
        throw refuse("directory '\(directory)' does not exist")
    }
    let nameMax = pathconf(directory, Int32(_PC_NAME_MAX))
    if nameMax > 0 && name.utf8.count > nameMax {
        throw refuse("the file name is \(name.utf8.count) bytes long; this file system allows \(nameMax)")
    }
    // access() says yes to root anywhere, /proc included: create a file to know.
    let probe = "\(directory)/.llmrun-check-\(getpid())"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw refuse("cannot create a file in '\(directory)': \(String(cString: strerror(errno)))") }
    close(fd)
    unlink(probe)
}

/// Two outputs of one run must not be the same file (the second would replace the first).
func checkDistinctOutputs(_ a: (option: String, path: String), _ b: (option: String, path: String)) throws {
    if FileIdentity.same(a.path, b.path) {
        throw CLIError.usage("\(a.option) and \(b.option) name the same file (\(a.path)); give each its own")
    }
}

/// Checks that an input file (calibration text, a plan, a tokenizer model) can be read, before
/// any work: 66 when it is missing, a directory or unreadable. Pipes and devices are read as
/// text streams; a tokenizer model must be a regular file (`regularOnly`).
func checkInputFile(_ path: String, option: String, regularOnly: Bool = false) throws {
    var st = stat()
    guard stat(path, &st) == 0 else {
        throw CLIError.missingInput("\(path): \(errno == ENOENT ? "no such file" : String(cString: strerror(errno))) (\(option))")
    }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw CLIError.missingInput("\(path) is a directory, not a regular file (\(option))") }
    if regularOnly && (st.st_mode & S_IFMT) != S_IFREG {
        throw CLIError.missingInput("\(path) is not a regular file (\(option))")
    }
    if access(path, R_OK) != 0 {
        throw CLIError.missingInput("\(path): cannot read: \(String(cString: strerror(errno))) (\(option))")
    }
}
