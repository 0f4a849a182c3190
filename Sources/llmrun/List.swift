import ArgumentParser
import Foundation
import GGUF
import LLMRuntime

/// `llmrun list`: the models -m can name, found where ModelLocator looks.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models found in the model folders.",
        discussion: """
        Looks in $LLMRUN_MODELS, ~/.local/share/llmrun/models, /usr/local/share/llmrun/models and \
        ./Models, in that order; the NAME column is what -m takes. Fetch models with Tools/fetch-model.
        """
    )

    @Flag(help: "Print the list as JSON.")
    var json = false

    struct Row: Encodable {
        var name: String
        var path: String
        var size: Int
        var architecture: String
        var format: String
        var error: String?
    }

    func run() throws {
        let locator = ModelOptions.locator
        let rows = locator.installedModels().map { entry -> Row in
            var row = Row(name: entry.name, path: entry.path, size: entry.size, architecture: "-", format: "-")
            do {
                let file = try GGUFFile(path: entry.path)
                row.architecture = file["general.architecture"]?.stringValue ?? "(vocabulary only)"
                row.format = Self.format(of: file)
            } catch {
                row.error = "\(error)"
            }
            return row
        }
        if json {
            try printJSON(rows)
            return
        }
        if rows.isEmpty {
            Terminal.status("llmrun: no models in \(locator.searchPath.joined(separator: ", ")) (fetch one with Tools/fetch-model)")
            return
        }
        let table = [["NAME", "SIZE", "ARCHITECTURE", "FORMAT", "PATH"]] + rows.map {
            [$0.name, formatBytes($0.size), $0.architecture, $0.error == nil ? $0.format : "unreadable", $0.path]
        }
        let widths = (0..<4).map { c in table.map { $0[c].count }.max() ?? 0 }
        for line in table {
            print((0..<4).map { line[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") + "  " + line[4])
        }
    }

    /// llama.cpp's name for general.file_type ("Q4_K_M"), else the type most matrices have.
    static func format(of file: GGUFFile) -> String {
        let names = [0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
                     11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
                     17: "Q5_K_M", 18: "Q6_K", 25: "IQ4_NL", 30: "IQ4_XS", 32: "BF16"]
        if let t = file["general.file_type"]?.intValue, let name = names[t] { return name }
        let counts = Dictionary(file.tensors.filter { $0.shape.count == 2 }.map { ("\($0.type)".uppercased(), 1) }, uniquingKeysWith: +)
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? "-"
    }
}
