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

    /// The columns `kept`, each multiplied by its scale, requantized to `type`'s `editedFormat`
    /// (Q4_K as Q4_1, Q5_K as Q5_1, Q8_0 when nothing holds its quants). The kept count must be a multiple of 32.
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
        let t = type.editedFormat  // each 32-value kernel format has a quantizer
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

    /// The matrix in another format, row by row (in the file layout): 4-bit blocks fitted by
    /// least squares weighted by `importance` (one per column; nil: equal), other formats with
    /// the reference rounding, as `prune` writes matrices it converts.
    public func requantized(to type: GGMLType, importance: [Float]? = nil) throws(ModelError) -> WeightMatrix {
        try WeightMatrix.quantizingRows(rows: rows, columns: columns, to: type, importance: importance) { r, out in
            dequantizeRow(r, into: out)
        }
    }

    /// A matrix tensor of a file in another format, without binding it first; its file pages are
    /// dropped as its rows are read (an embedding is the largest tensor of a small model).
    public static func requantizing(_ tensor: GGUFTensorInfo, in file: GGUFFile, to type: GGMLType,
                                    importance: [Float]? = nil) throws(ModelError) -> WeightMatrix {
        let columns = tensor.shape.first ?? 0, rows = tensor.elementCount / max(columns, 1)
        guard tensor.shape.count == 2, TensorConversion.canDequantize(tensor.type),
              let sourceRow = tensor.type.byteCount(forElements: columns) else {
            throw .unsupported(path: file.path, detail: "\(tensor.name): cannot convert \(tensor.type) to \(type)")
        }
        let data = file.data(for: tensor).baseAddress!
        let slice = 1024
        return try quantizingRows(rows: rows, columns: columns, to: type, importance: importance) { r, out in
            TensorConversion.dequantize(type: tensor.type, source: data + r * sourceRow, count: columns, into: out)
            if (r + 1) % slice == 0 || r + 1 == rows {
                let first = r / slice * slice
                file.releasePages(of: tensor, range: (first * sourceRow)..<((r + 1) * sourceRow))
            }
        }
    }

    /// Rows made by `row(r, into:)` as f32, quantized one at a time into a matrix of `type`.
    private static func quantizingRows(rows: Int, columns: Int, to type: GGMLType, importance: [Float]?,
                                       row: (Int, UnsafeMutablePointer<Float>) -> Void) throws(ModelError) -> WeightMatrix {
        guard type.isQuantizableKernelFormat, let rowBytes = type.byteCount(forElements: columns) else {
            let formats = WeightMatrix.nativeTypes.filter(\.isQuantizableKernelFormat).map { "\($0)" }.sorted()
            throw .unsupported(path: "", detail: "matrices are converted in memory only to the kernel formats \(formats.joined(separator: ", ")), not \(type)")
        }
        let buffer = AlignedBuffer(byteCount: max(1, rows * rowBytes))
        let weights = importance.flatMap { $0.count == columns ? $0 : nil } ?? []
        var values = [Float](repeating: 0, count: columns)
        values.withUnsafeMutableBufferPointer { v in
            weights.withUnsafeBufferPointer { w in
                for r in 0..<rows {
                    row(r, v.baseAddress!)
                    let q = TensorConversion.quantizeFitted(v.baseAddress!, count: columns, to: type,
                                                            weights: w.isEmpty ? nil : w.baseAddress) ?? []
                    q.withUnsafeBytes { (buffer.pointer + r * rowBytes).copyMemory(from: $0.baseAddress!, byteCount: min(q.count, rowBytes)) }
                }
            }
        }
        return WeightMatrix(type: type, rows: rows, columns: columns, data: UnsafeRawPointer(buffer.pointer), owner: buffer)
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
