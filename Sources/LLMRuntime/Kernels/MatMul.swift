import CKernels

/// The input of a mat-mul, prepared once and shared by every weight row (and by the mat-muls
/// that read the same input, such as q/k/v or gate/up).
///
/// Usually that is the activations quantized to Q8_0, for the int8 kernels. On backends with an
/// f32-activation path (AVX2 without VNNI, where int8 multiplies are slow), batches of at least
/// `lr_gemm_f32a_min_batch()` tokens skip the quantization: the rows are used as they are and the
/// kernel dequantizes the weights instead, once per panel, for every token of the batch.
public struct MatmulInput {
    public let buffer: AlignedBuffer
    public let maxColumns: Int
    /// The width the kernels read: the input's, rounded up to whole 32-value blocks (matrices of
    /// other widths are stored padded with zero columns, and so is their input here).
    public private(set) var columns = 0
    public private(set) var count = 0
    /// The f32 rows when the f32-activation path takes this batch, else nil (Q8_0 in `buffer`).
    public private(set) var floats: UnsafePointer<Float>?
    public var rowBytes: Int { columns / 32 * 34 }
    private let f32MinBatch = Int(lr_gemm_f32a_min_batch())
    /// Values up to which the caller quantizes the rows itself.
    static let inlineValues = 16384

    public init(maxRows: Int, maxColumns: Int) {
        self.maxColumns = maxColumns
        buffer = AlignedBuffer(byteCount: maxRows * ((maxColumns + 31) / 32) * 34)
    }

    /// Prepares `rows` vectors of `columns` floats laid out with stride `columns` for mat-muls
    /// with `weights` (the first of a group is enough: it only picks the faster path). On the f32
    /// path `x` itself is read by the mat-muls, so it must stay unchanged until they have run.
    ///
    /// Interleaved (x8) Q4 weights stay on the int8 path at every batch size on AVX2: there one
    /// broadcast activation word feeds 8 rows, and measured on Zen 2 at 64 tokens, 2 threads, that
    /// beats the f32 path by 1.7x (Qwen2.5-1.5B Q4_0: 88.5 -> 154 t/s; SmolLM2 Q4_1: 718 -> 1236).
    public mutating func prepare(_ x: UnsafePointer<Float>, rows: Int, columns: Int, for weights: WeightMatrix?,
                                 pool: ThreadPool) {
        self.columns = (columns + 31) / 32 * 32
        self.count = rows
        let minBatch = weights.map { Int(lr_gemm_f32a_min_batch_for(Int32($0.type.rawValue), $0.layout == .x8 ? 1 : 0)) }
            ?? f32MinBatch
        // The f32 path reads `x` in place, which has no zero tail: padded widths take Q8_0.
        if minBatch > 0 && rows >= minBatch && columns % 32 == 0 {
            floats = x
            return
        }
        floats = nil
        let rb = rowBytes
        let base = buffer.pointer
        // Ternary matrices take activations rounded as llama.cpp's Q8_K (CKernels' lr_activations_per_256).
        if let w = weights, lr_activations_per_256(Int32(w.type.rawValue)) != 0, columns % 256 == 0 {
            let n = Int64(columns)
            if rows * columns <= MatmulInput.inlineValues {
                for r in 0..<rows { lr_quantize_row_q8_0_k256(x + r * columns, base + r * rb, n) }
            } else {
                pool.parallelFor(rows) { r, _ in lr_quantize_row_q8_0_k256(x + r * columns, base + r * rb, n) }
            }
            return
        }
        // A few decode rows (one per served sequence) quantize in microseconds: handing them
        // to the pool costs a parallel region, five a block, more than the work.
        if rows * columns <= MatmulInput.inlineValues {
            for r in 0..<rows { MatmulInput.quantizePadded(x + r * columns, columns: columns, into: base + r * rb) }
            return
        }
        pool.parallelFor(rows) { r, _ in
            MatmulInput.quantizePadded(x + r * columns, columns: columns, into: base + r * rb)
        }
    }

    /// One row to Q8_0, a partial last block completed with zeros (which leave its scale as the
    /// real values set it).
    @inline(__always)
    private static func quantizePadded(_ x: UnsafePointer<Float>, columns: Int, into out: UnsafeMutableRawPointer) {
        let whole = columns / 32 * 32
        if whole > 0 { lr_quantize_row_q8_0(x, out, Int64(whole)) }
        guard whole < columns else { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { tail in
            let t = tail.baseAddress!
            t.initialize(repeating: 0, count: 32)
            t.update(from: x + whole, count: columns - whole)
            lr_quantize_row_q8_0(t, out + whole / 32 * 34, 32)
        }
    }
}

/// One product of a group that reads the same input: `out[t][r] = w[r] · x[t]`, `outStride`
/// floats per token.
public struct MatmulJob {
    public var weights: WeightMatrix
    public var out: UnsafeMutablePointer<Float>
    public var outStride: Int

    public init(_ weights: WeightMatrix, into out: UnsafeMutablePointer<Float>, outStride: Int) {
        self.weights = weights
        self.out = out
        self.outStride = outStride
    }
}

extension ThreadPool {
    /// `out[t][r] = W[r] · x[t]` for every token t of `x` and row r of `w`.
    /// `out` has `outStride` floats per token.
    public func matmul(_ w: WeightMatrix, _ x: MatmulInput, into out: UnsafeMutablePointer<Float>, outStride: Int) {
        matmul([MatmulJob(w, into: out, outStride: outStride)], x)
    }

    /// Several products of the same input (q, k and v; gate and up) in one parallel region: in
    /// generation every region is a hand-off between threads costing microseconds, and a token
    /// runs hundreds of them.
    public func matmul(_ jobs: [MatmulJob], _ x: MatmulInput) {
        // Row chunks over all jobs: enough for load balance, each large enough to amortise the
        // hand-off, a multiple of 16 rows (the kernels' row tiles).
        let totalRows = jobs.reduce(0) { $0 + $1.weights.rows }
        let target = max(1, totalRows / (threadCount * 4))
        let chunkRows = max(16, (target + 15) / 16 * 16)
        var chunks = 0
        for job in jobs {
            precondition(job.weights.storedColumns == x.columns,
                         "matmul: \(job.weights.rows)x\(job.weights.columns) weight against \(x.columns)-wide input")
            chunks += (job.weights.rows + chunkRows - 1) / chunkRows
        }
        let n = Int32(x.count), k = Int32(x.columns)
        parallelFor(chunks) { c, _ in
            // Chunk c → (job, first row), counting through the jobs (at most three) rather than
            // building a table: this runs hundreds of times per generated token.
            var j = 0, c = c
            while true {
                let jobChunks = (jobs[j].weights.rows + chunkRows - 1) / chunkRows
                if c < jobChunks { break }
                c -= jobChunks
                j += 1
            }
            let r0 = c * chunkRows
            let job = jobs[j], w = job.weights
            let r1 = min(w.rows, r0 + chunkRows)
            let wtype = Int32(w.type.rawValue)
            // Interleaved groups first (chunks start on a multiple of 16 rows, so on a group),
            // then any rows past the last group, stored after the groups in the file layout.
            let split = min(max(w.interleavedRows, r0), r1)
            if split > r0 {
                let g0 = Int32(r0 / 8), g1 = Int32(split / 8)
                if let a = x.floats {
                    lr_gemm_f32a_x8(wtype, w.data, g0, g1, a, Int(k), n, k, job.out, job.outStride)
                } else {
                    lr_gemm_q8_x8(wtype, w.data, g0, g1, x.buffer.pointer, x.rowBytes, n, k, job.out, job.outStride)
                }
            }
            if r1 > split {
                // Row indices relative to the first file-layout row, so no pointer runs before its buffer.
                let base = w.interleavedRows
                let rows = w.data + base * w.rowBytes, out = job.out + base
                let s0 = Int32(split - base), s1 = Int32(r1 - base)
                if let a = x.floats {
                    lr_gemm_f32a(wtype, rows, w.rowBytes, s0, s1, a, Int(k), n, k, out, job.outStride)
                } else {
                    lr_gemm_q8(wtype, rows, w.rowBytes, s0, s1, x.buffer.pointer, x.rowBytes, n, k, out, job.outStride)
                }
            }
        }
    }
}
