import Foundation

/// One multiple-choice question, as in Tests/Data/mc: a context and choices, or (WinoGrande)
/// several contexts and one shared continuation.
public struct MultipleChoiceItem: Sendable {
    public var contexts: [String]
    public var continuations: [String]
    public var label: Int

    /// Parses one JSONL line of either format.
    public init(json line: String) throws {
        guard let data = line.data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.invalidRequest("not a JSON object: \(line.prefix(60))")
        }
        guard let label = object["label"] as? Int else { throw ModelError.invalidRequest("item without an integer 'label'") }
        if let contexts = object["contexts"] as? [String], let continuation = object["continuation"] as? String {
            self.contexts = contexts
            self.continuations = [continuation]
        } else if let context = object["context"] as? String, let choices = object["choices"] as? [String] {
            self.contexts = [context]
            self.continuations = choices.map { " " + $0 }
        } else {
            throw ModelError.invalidRequest("item needs 'context' and 'choices', or 'contexts' and 'continuation'")
        }
        guard label >= 0, label < max(contexts.count, continuations.count) else {
            throw ModelError.invalidRequest("label \(label) is out of range")
        }
        self.label = label
    }

    public var optionCount: Int { max(contexts.count, continuations.count) }
}

/// How the model answered one item.
public struct MultipleChoiceOutcome: Sendable, Codable {
    public var task: String
    public var index: Int
    public var label: Int
    /// The choice with the highest log-probability, and with the highest per-byte one.
    public var prediction: Int
    public var normalizedPrediction: Int
    public var logProbabilities: [Double]

    enum CodingKeys: String, CodingKey {
        case task, index, label
        case prediction = "pred", normalizedPrediction = "pred_norm", logProbabilities = "logprobs"
    }
}

public struct MultipleChoiceResult: Sendable, Codable {
    public var task: String
    public var items: Int
    public var accuracy: Double
    public var normalizedAccuracy: Double
    public var seconds: Double
    /// Every item's answer (not part of the summary's JSON; `eval mc --log-items` writes them).
    public var outcomes: [MultipleChoiceOutcome] = []

    enum CodingKeys: String, CodingKey {
        case task, items, seconds
        case accuracy = "acc", normalizedAccuracy = "acc_norm"
    }
}

/// Zero-shot multiple choice scored as lm-evaluation-harness does: the log-probability of each
/// choice given the context (acc), and that sum divided by the choice's length in bytes (acc_norm).
public struct MultipleChoiceEvaluator {
    public let scorer: ContinuationScorer

    public init(model: LanguageModel) throws(ModelError) {
        scorer = try ContinuationScorer(model: model)
    }

    /// Context tokens (BOS first when the vocabulary adds one) and the continuation's tokens,
    /// split from the tokens of the whole text so merges across the boundary match the harness.
    func tokens(context: String, continuation: String) -> ([Int32], [Int32]) {
        let model = scorer.model
        let whole = model.tokenize(context + continuation, parseSpecial: false)
        var ctx = model.tokenize(context, parseSpecial: false)
        ctx = Array(ctx.prefix(whole.count - 1))
        var split = ctx.count
        while split > 0 && whole[..<split] != ctx[..<split] { split -= 1 }
        return (Array(whole[..<split]), Array(whole[split...]))
    }

    public func evaluate(task: String, items: [MultipleChoiceItem], progress: (Int) -> Bool = { _ in true }) throws -> MultipleChoiceResult {
        let started = Clock.now()
        var correct = 0, correctNorm = 0, done = 0
        var outcomes: [MultipleChoiceOutcome] = []
        for (index, item) in items.enumerated() {
            var scores: [Double] = [], normalized: [Double] = []
            for option in 0..<item.optionCount {
                let context = item.contexts.count > 1 ? item.contexts[option] : item.contexts[0]
                let continuation = item.continuations.count > 1 ? item.continuations[option] : item.continuations[0]
                let (c, x) = tokens(context: context, continuation: continuation)
                let lp = try scorer.logProbability(context: c, continuation: x)
                scores.append(lp)
                normalized.append(lp / Double(max(1, continuation.utf8.count)))
            }
            let prediction = scores.indices.max(by: { scores[$0] < scores[$1] }) ?? 0
            let normalizedPrediction = normalized.indices.max(by: { normalized[$0] < normalized[$1] }) ?? 0
            if prediction == item.label { correct += 1 }
            if normalizedPrediction == item.label { correctNorm += 1 }
            outcomes.append(MultipleChoiceOutcome(task: task, index: index, label: item.label, prediction: prediction,
                                                  normalizedPrediction: normalizedPrediction, logProbabilities: scores))
            done += 1
            if !progress(done) { break }
        }
        let n = Double(max(done, 1))
        return MultipleChoiceResult(task: task, items: done, accuracy: Double(correct) / n,
                                    normalizedAccuracy: Double(correctNorm) / n, seconds: Clock.now() - started,
                                    outcomes: outcomes)
    }
}
