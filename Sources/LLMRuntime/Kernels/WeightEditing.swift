import CKernels
import GGUF

/// Structural edits of weight matrices, used to apply pruning: keep some rows (output
/// features), keep and scale some columns (input features).
extension WeightMatrix {
    /// The rows `kept`, in that order. Row bytes are copied unchanged: no requantization.
    public func selectingRows(_ kept: [Int]) -> WeightMatrix {
        var bytes = [UInt8](repeating: 0, count: kept.count * rowBytes)
        bytes.withUnsafeMutableBytes { out in
            for (i, r) in kept.enumerated() {
                copyRow(r, to: out.baseAddress!.advanced(by: i * rowBytes))
            }
        }
        return WeightMatrix(type: type, rows: kept.count, columns: columns, storedColumns: storedColumns, bytes: bytes)
    }

    /// All values as f32, row-major (rows, columns).
    public func dequantized() -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * columns) { buf, n in
            for r in 0..<rows { dequantizeRow(r, into: buf.baseAddress! + r * columns) }
            n = rows * columns
        }
    }

    /// The columns `kept`, each multiplied by its scale, requantized to `type` (Q8_0 when the
    /// source format cannot be written). The kept count must be a multiple of 32.
    public func selectingColumns(_ kept: [Int], scales: [Float]?, as outType: GGMLType = .q8_0,
                                 importance: [Float]? = nil) -> WeightMatrix {
        let full = dequantized()
        var selected = [Float](repeating: 0, count: rows * kept.count)
        for r in 0..<rows {
            for (i, c) in kept.enumerated() {
                selected[r * kept.count + i] = full[r * columns + c] * (scales?[i] ?? 1)
            }
        }
        return WeightMatrix(values: selected, rows: rows, columns: kept.count, type: outType, importance: importance)
    }

    /// Quantizes f32 values (row-major) into a matrix of a kernel format, 4-bit blocks fitted by
    /// least squares weighted by `importance` (one per column, e.g. the mean square of that input
    /// over calibration tokens; nil: equal).
    public init(values: [Float], rows: Int, columns: Int, type: GGMLType = .q8_0, importance: [Float]? = nil) {
        let t = WeightMatrix.nativeTypes.contains(type) ? type : .q8_0  // each kernel format has a quantizer
        let rowBytes = t.byteCount(forElements: columns)!
        var bytes = [UInt8](repeating: 0, count: rows * rowBytes)
        let weights = importance.flatMap { $0.count == columns ? $0 : nil } ?? []
        values.withUnsafeBufferPointer { v in
            weights.withUnsafeBufferPointer { w in
                bytes.withUnsafeMutableBytes { out in
                    for r in 0..<rows {
                        _ = lr_quantize_row_fit(Int32(t.rawValue), v.baseAddress! + r * columns, out.baseAddress! + r * rowBytes,
                                                Int64(columns), w.isEmpty ? nil : w.baseAddress)
                    }
                }
            }
        }
        self.init(type: t, rows: rows, columns: columns, bytes: bytes)
    }

    /// The matrix's bytes in the file layout (for writing to a file).
    public var bytes: [UInt8] {
        guard layout == .x8 else { return Array(UnsafeRawBufferPointer(start: data, count: rows * rowBytes)) }
        return [UInt8](unsafeUninitializedCapacity: rows * rowBytes) { buf, n in
            for r in 0..<rows { copyRow(r, to: buf.baseAddress! + r * rowBytes) }
            n = rows * rowBytes
        }
    }
}
