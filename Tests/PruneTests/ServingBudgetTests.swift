import Foundation
import XCTest
import GGUF
@testable import LLMPrune
import LLMRuntime
import TestSupport

/// `serve --budget`: planned as `prune --budget` with every slot's cache counted, and applied in
/// memory at load to the same model `prune` would write.
final class ServingBudgetTests: XCTestCase {
    /// Width 512, 16 blocks (53 MB of Q8_0): big enough that its blocks and caches, not the
    /// runtime's fixed allowance or the pruning process's floor (about 61 MB), decide a budget.
    /// Written once for the class (quantizing it takes a while in a debug build).
    nonisolated(unsafe) private static let directory = TemporaryDirectory()
    private static let source: Result<String, Error> = Result {
        var t = TinyModel()
        t.hiddenSize = 512
        t.headDim = 128
        t.contextLength = 512
        t.layers = Array(repeating: LayerShape(headCount: 4, kvHeadCount: 2, feedForwardLength: 1536), count: 16)
        return try t.write(to: directory.file("serve.gguf"))
    }
    private var dir: TemporaryDirectory { ServingBudgetTests.directory }

    override class func tearDown() {
        directory.cleanup()
        super.tearDown()
    }

    private var calibrationText: String {
        (0..<60).map { "the sentence number \($0) is here, and then the next one comes in a stream of text \($0 * 7)." }
            .joined(separator: "\n")
    }

    private var settings: PruneSettings {
        var s = PruneSettings()
        s.calibrationSamples = 4
        s.sequenceLength = 32
        return s
    }

    /// The footprint `serve` prints is the one `serve --budget` plans with: the model's buffers
    /// plus the process and what serving adds, so a dense model fits a budget exactly when the
    /// printed figure does.
    func testServingFootprintIsWhatThePlannerFits() throws {
        let path = try ServingBudgetTests.source.get()
        let footprint = try ServingFootprint(modelPath: path, context: 512, slots: 4, batch: 256, threads: 2, queue: 64,
                                             processBytes: 30_000_000)
        XCTAssertEqual(footprint.servingBytes, ServingFootprint.servingBytes(slots: 4, queue: 64))
        XCTAssertGreaterThan(ServingFootprint.servingBytes(slots: 4, queue: 128), footprint.servingBytes)
        let roomy = try footprint.budgetPlan(budget: 4_000_000_000)
        XCTAssertTrue(roomy.noPruningNeeded)
        XCTAssertEqual(roomy.denseFootprintBytes, footprint.totalBytes)
        XCTAssertTrue(try footprint.budgetPlan(budget: footprint.totalBytes).noPruningNeeded)
        XCTAssertFalse(try footprint.budgetPlan(budget: footprint.totalBytes - 1).noPruningNeeded)
    }

    func testEverySlotsCacheIsCounted() throws {
        let file = try GGUFFile(path: try ServingBudgetTests.source.get())
        let config = try ModelConfig(file: file)
        let one = MemoryEstimate(file: file, config: config, context: 512)
        let four = MemoryEstimate(file: file, config: config, context: 512, slots: 4)
        XCTAssertEqual(four.kvCacheBytes, 4 * one.kvCacheBytes)
        XCTAssertEqual(four.weightBytes, one.weightBytes)
        XCTAssertGreaterThan(four.scratchBytes, one.scratchBytes)  // a logit row per slot
        let a = try BudgetPlanner.plan(file: file, config: config, budget: 4_000_000_000, context: 512, requestedType: nil, settings: settings)
        let b = try BudgetPlanner.plan(file: file, config: config, budget: 4_000_000_000, context: 512, requestedType: nil,
                                       settings: settings, slots: 4)
        XCTAssertEqual(b.denseFootprintBytes - a.denseFootprintBytes, four.totalBytes - one.totalBytes)
        // A budget the model meets with one slot is too small for four: the plan narrows or prunes.
        let between = (a.denseFootprintBytes + b.denseFootprintBytes) / 2
        XCTAssertTrue(try BudgetPlanner.plan(file: file, config: config, budget: between, context: 512, requestedType: nil,
                                             settings: settings).noPruningNeeded)
        XCTAssertFalse(try BudgetPlanner.plan(file: file, config: config, budget: between, context: 512, requestedType: nil,
                                              settings: settings, slots: 4).noPruningNeeded)
    }

    /// The plan applied at load gives the model `prune --budget` writes, to the logit: with
    /// formats alone, and with removal too.
    func testInMemoryPlanEqualsWrittenModel() throws {
        let context = 512, slots = 4
        let source = try ServingBudgetTests.source.get()
        let file = try GGUFFile(path: source)
        let config = try ModelConfig(file: file)
        let dense = try BudgetPlanner.plan(file: file, config: config, budget: 4_000_000_000, context: context, requestedType: nil,
                                           settings: settings, slots: slots).denseFootprintBytes
        let blockBytes = file.tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count >= 2 }.reduce(0) { $0 + $1.byteCount }
        // 10% under the dense footprint: narrower formats suffice. Below the 4-bit blocks: removal too.
        for (budget, removes) in [(dense - (dense - BudgetPlanner.runtimeOverhead) / 10, false), (dense - blockBytes * 3 / 5, true)] {
            let plan = try ServingBudget.plan(modelPath: source, budget: budget, context: context, slots: slots, settings: settings,
                                              calibrationText: calibrationText, residentBytes: 0, threads: 2)
            XCTAssertFalse(plan.budget.noPruningNeeded)
            XCTAssertEqual(plan.prune != nil, removes, plan.description)
            XCTAssertNotNil(plan.blockType)
            XCTAssertLessThanOrEqual(plan.budget.estimatedFootprintBytes, budget)
            XCTAssertTrue(plan.description.contains("4 slots"), plan.description)
            let inMemory = try LanguageModel(path: source, threads: 2, loadTransform: plan)

            // The same planning and pruning, written to a file.
            let pruner = try Pruner(sourcePath: source, request: .budget(MemoryBudget(bytes: budget, context: context, slots: slots)),
                                    settings: settings, threads: 2, residentBytes: 0)
            let out = dir.file("written-\(removes).gguf")
            _ = try pruner.run(calibration: try pruner.calibration(text: calibrationText), outputPath: out, planPath: nil)
            let written = try LanguageModel(path: out, threads: 2)

            XCTAssertEqual(inMemory.config.layers, written.config.layers)
            XCTAssertEqual(inMemory.config.blockCount, written.config.blockCount)
            let a = try logits(inMemory), b = try logits(written)
            let scale = b.map(abs).max() ?? 1
            XCTAssertLessThanOrEqual(zip(a, b).map { abs($0 - $1) }.max()! / scale, 1e-5, "budget \(budget): in memory vs written")
        }
    }

    private func logits(_ model: LanguageModel) throws -> [Float] {
        let session = try GenerationSession(model: model, contextLength: 32)
        try session.prefill([5, 77, 200, 31, 9, 140])
        return Array(UnsafeBufferPointer(start: session.logits, count: model.config.vocabularySize))
    }

    func testImpossibleBudgetIsRefusedBeforeAnyWork() throws {
        let source = try ServingBudgetTests.source.get()
        XCTAssertThrowsError(try ServingBudget.plan(modelPath: source, budget: 30_000_000, context: 512, slots: 4, settings: settings,
                                                    calibrationText: calibrationText, residentBytes: 0, threads: 2)) { error in
            guard case PruneError.budgetInfeasible = error else { return XCTFail("\(error)") }
        }
    }
}
