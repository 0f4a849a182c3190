import Foundation
import LLMRuntime
import Tokenizers

/// Token sequences the pruner measures the model on.
public struct CalibrationSet: Sendable {
    public let sequences: [[Int32]]
    public var count: Int { sequences.count }
    public var length: Int { sequences.first?.count ?? 0 }
    public var tokenCount: Int { count * length }

    public init(sequences: [[Int32]]) { self.sequences = sequences }

    /// `count` windows of `length` tokens spread evenly over the text (BOS first when the
    /// vocabulary adds one, as the model sees text in use).
    public static func make(text: String, tokenizer: any Tokenizer, count: Int, length: Int) throws -> CalibrationSet {
        let tokens = tokenizer.encode(text, parseSpecial: false)
        let bos = tokenizer.addsBOS ? tokenizer.bosToken : nil
        let body = length - (bos == nil ? 0 : 1)
        guard tokens.count >= body else {
            throw PruneError.calibration("the calibration text has \(tokens.count) tokens, fewer than one sequence of \(length)")
        }
        let windows = max(1, min(count, tokens.count / body))
        let stride = windows > 1 ? (tokens.count - body) / (windows - 1) : 0
        var sequences: [[Int32]] = []
        for w in 0..<windows {
            let start = w * stride
            var seq = bos.map { [$0] } ?? []
            seq += tokens[start..<(start + body)]
            sequences.append(seq)
        }
        return CalibrationSet(sequences: sequences)
    }

    /// The calibration text shipped with llmrun (C4 web text), looked up next to the executable.
    public static func bundledText() throws -> String {
        let name = "calibration-c4.txt"
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() {
            candidates.append(exe.appendingPathComponent("llmrun_LLMPrune.resources/\(name)"))
            candidates.append(exe.appendingPathComponent("../share/llmrun/\(name)"))
        }
        // A source checkout (tests run from the package).
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/\(name)")
        candidates.append(source)
        for url in candidates {
            if let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) {
                return text
            }
        }
        throw PruneError.calibration("the bundled calibration text was not found next to the executable; pass --calib FILE")
    }
}

/// Errors of the pruner, each naming what to change.
public enum PruneError: Error, CustomStringConvertible, Sendable {
    case calibration(String)
    /// The budget cannot be met by any pruning this tool does.
    case budgetInfeasible(String)
    case badPlan(String)
    /// The ratio asked for is more than the method can remove from this model.
    case unreachable(String)
    case interrupted(String)

    public var description: String {
        switch self {
        case .calibration(let s): return "calibration: \(s)"
        case .budgetInfeasible(let s): return "budget cannot be met: \(s)"
        case .badPlan(let s): return "prune plan: \(s)"
        case .unreachable(let s): return "ratio too high: \(s)"
        case .interrupted(let s): return "interrupted: \(s)"
        }
    }
}
