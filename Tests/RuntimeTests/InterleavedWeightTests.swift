import CKernels
import GGUF
import LLMRuntime
import TestSupport
import XCTest

/// Q4 matrices moved to the x8 layout at load compute what they computed in rows, and still
/// give back their rows unchanged (prune plans and the writer read them).
final class InterleavedWeightTests: XCTestCase {
    /// A matrix of random values in `type`, `rows` a multiple of 8 plus a tail.
    private func randomMatrix(_ type: GGMLType, rows: Int, columns: Int, seed: UInt64) -> WeightMatrix {
        var rng = SplitMix64(seed: seed)
        if type == .iq4_nl {  // no quantizer writes IQ4_NL: random blocks as a file holds them
            var bytes = [UInt8]()
            for _ in 0..<(rows * columns / 32) {
                let h = lr_f32_to_f16(Float(1 + rng.next() % 100) / 4000)
                bytes += [UInt8(h & 0xFF), UInt8(h >> 8)] + (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            return WeightMatrix(type: type, rows: rows, columns: columns, bytes: bytes)
        }
        let values = (0..<(rows * columns)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        return WeightMatrix(values: values, rows: rows, columns: columns, type: type)
    }

    private func randomInput(tokens: Int, columns: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<(tokens * columns)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 500 }
    }

    func testInterleavedMatrixKeepsItsRows() {
        let pool = ThreadPool(threadCount: 2)
        for type in [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl] {
            let m = randomMatrix(type, rows: 37, columns: 96, seed: 1)
            let x = m.interleaved(pool: pool)
            XCTAssertEqual(x.layout, .x8)
            XCTAssertEqual(x.interleavedRows, 32)
            XCTAssertEqual(x.bytes, m.bytes, "\(type): rows read back in the file layout")
            XCTAssertEqual(x.selectingRows([36, 3, 9]).bytes, m.selectingRows([36, 3, 9]).bytes)
            XCTAssertEqual(x.dequantized(), m.dequantized())
            XCTAssertEqual(x.selectingColumns([0, 1, 2].flatMap { c in (0..<32).map { c * 32 + $0 } }.reversed(), scales: nil).bytes,
                           m.selectingColumns([0, 1, 2].flatMap { c in (0..<32).map { c * 32 + $0 } }.reversed(), scales: nil).bytes)
        }
    }

    /// A matrix nothing else holds is interleaved within its buffer; one that is shared is
    /// copied, and the other holder still reads its rows.
    func testInterleavingInPlaceOnlyWhenUnshared() {
        let pool = ThreadPool(threadCount: 2)
        for type in [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl] {
            let reference = randomMatrix(type, rows: 43, columns: 64, seed: 3)
            var sole: WeightMatrix? = WeightMatrix(type: type, rows: 43, columns: 64, bytes: reference.bytes)
            let address = sole!.data
            let inPlace = WeightMatrix.interleaving(&sole, pool: pool)!
            XCTAssertNil(sole)
            XCTAssertEqual(inPlace.data, address, "\(type): packed within its own buffer")
            XCTAssertEqual(inPlace.layout, .x8)
            XCTAssertEqual(inPlace.bytes, reference.bytes)

            let kept = WeightMatrix(type: type, rows: 43, columns: 64, bytes: reference.bytes)
            var shared: WeightMatrix? = kept
            let copied = WeightMatrix.interleaving(&shared, pool: pool)!
            XCTAssertNotEqual(copied.data, kept.data, "\(type): a shared buffer is not rewritten")
            XCTAssertEqual(copied.bytes, reference.bytes)
            XCTAssertEqual(kept.bytes, reference.bytes)
        }
    }

    /// Every path a mat-mul can take on an x8 matrix (int8 mat-vec, small int8 batches, f32
    /// activations when the input was prepared for a rows-layout matrix), with a tail of rows in
    /// the file layout, against the same matrix in rows.
    func testInterleavedMatmulMatchesRows() {
        let pool = ThreadPool(threadCount: 2)
        for type in [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl] {
            for rows in [8, 37, 200] {
                let columns = 576
                let m = randomMatrix(type, rows: rows, columns: columns, seed: UInt64(rows))
                let x = m.interleaved(pool: pool)
                for tokens in [1, 2, 5, 40] {
                    let input = randomInput(tokens: tokens, columns: columns, seed: 9)
                    var expected = [Float](repeating: 0, count: tokens * rows)
                    var viaRowsInput = MatmulInput(maxRows: tokens, maxColumns: columns)
                    input.withUnsafeBufferPointer { viaRowsInput.prepare($0.baseAddress!, rows: tokens, columns: columns, for: m, pool: pool) }
                    pool.matmul(m, viaRowsInput, into: &expected, outStride: rows)
                    for preparedFor in [x, m] {
                        var got = [Float](repeating: .nan, count: tokens * rows)
                        var xin = MatmulInput(maxRows: tokens, maxColumns: columns)
                        input.withUnsafeBufferPointer { xin.prepare($0.baseAddress!, rows: tokens, columns: columns, for: preparedFor, pool: pool) }
                        pool.matmul(x, xin, into: &got, outStride: rows)
                        let scale = expected.map(abs).max() ?? 1
                        let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? .nan
                        // Int8 activations against f32 ones differ by the activations' rounding.
                        XCTAssertLessThan(worst / scale, 0.02, "\(type) \(rows) rows, \(tokens) tokens, input for \(preparedFor.layout)")
                        XCTAssertFalse(got.contains { $0.isNaN }, "every output written")
                    }
                }
            }
        }
    }

    /// A loaded Q4_0 model runs its matrices interleaved where the backend prefers it, and reads
    /// the same logits as with the rows layout (the forward-pass tests check those against an
    /// f32 reference).
    func testModelsLoadInterleavedWhereTheBackendPrefersIt() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var tiny = TinyModel()
        tiny.matrixType = .q4_0
        tiny.embeddingType = .q4_0  // tied: the output matrix is the embedding
        let path = try tiny.write(to: dir.file("q40.gguf"))
        let model = try LanguageModel(path: path, threads: 2)
        let expected: WeightMatrix.Layout = lr_x8_preferred(Int32(GGMLType.q4_0.rawValue)) != 0 ? .x8 : .rows
        XCTAssertEqual(model.transformer.weights.layers[0].gate?.layout, expected)
        XCTAssertEqual(model.transformer.weights.layers[0].wq?.layout, expected)
        XCTAssertEqual(model.transformer.weights.output.layout, expected)
        // The embedding lookup still reads the file's rows.
        var row = [Float](repeating: 0, count: model.config.hiddenSize)
        var fileRow = row
        model.transformer.weights.tokenEmbedding.lookup(7, into: &row)
        model.transformer.weights.output.dequantizeRow(7, into: &fileRow)
        XCTAssertEqual(row, fileRow)
    }
}
