import ArgumentParser
import GGUF
import LLMRuntime
import Tokenizers
import LLMPrune

/// The one place where domain errors become exit codes (sysexits.h numbering).
enum ExitCode {
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let noInput: Int32 = 66
    static let software: Int32 = 70
    static let cannotCreate: Int32 = 73
    static let ioError: Int32 = 74
    static let budgetInfeasible: Int32 = 75
    /// Stopped by SIGINT. The same run stopped by SIGTERM exits `terminated`: the domain errors
    /// say `interrupted`, and `LLMRun.main` turns it into 128 + the signal's number.
    static let interrupted: Int32 = 130
    static let terminated: Int32 = 143

    /// nil for errors ArgumentParser reports itself (usage, --help).
    static func forDomainError(_ error: Error) -> Int32? {
        switch error {
        case let e as GGUFError:
            switch e {
            case .fileNotFound, .notARegularFile: return noInput
            case .io: return ioError
            case .malformed, .unsupported: return dataError
            case .cannotCreate: return cannotCreate
            case .writerMisuse: return software
            }
        case let e as ModelError:
            switch e {
            case .badModel, .unsupported: return dataError
            case .invalidRequest: return usage
            }
        case let e as TokenizerError:
            if case .gguf(let underlying) = e { return forDomainError(underlying) }
            return dataError
        case let e as PruneError:
            switch e {
            case .budgetInfeasible: return budgetInfeasible
            case .interrupted: return interrupted
            case .calibration, .badPlan: return dataError
            case .unreachable: return usage
            }
        case let e as CLIError: return e.exitCode
        default: return nil
        }
    }
}

/// Errors raised by the command layer itself.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32

    static func missingInput(_ what: String) -> CLIError { CLIError(description: what, exitCode: ExitCode.noInput) }
    static func usage(_ what: String) -> CLIError { CLIError(description: what, exitCode: ExitCode.usage) }
    static func io(_ what: String) -> CLIError { CLIError(description: what, exitCode: ExitCode.ioError) }
    static let interrupted = CLIError(description: "interrupted", exitCode: ExitCode.interrupted)
}
