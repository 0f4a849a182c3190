import CKernels
import GGUF

/// A 2-D weight in a format with a native int8 kernel (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL): either a view onto
/// the mapped file or bytes converted at load from another format.
///
/// Rows are output features, columns input features: `y = W·x` reads one row per output.
public struct WeightMatrix: @unchecked Sendable {
    /// How the rows are stored: as in the file, or (Q8_0/Q4_0/Q4_1 at run time) in groups of 8
    /// rows interleaved block by block, the layout the mat-vec streams fastest (`lr_x8_pack`).
    public enum Layout: Sendable { case rows, x8 }

    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    /// Values stored per row: `columns`, or for a float matrix converted at load whose width is
    /// not a multiple of 32, the next multiple, the extra columns zero (exact: the mat-mul input
    /// is padded with zeros to match, see `MatmulInput.prepare`).
    public let storedColumns: Int
    public let rowBytes: Int
    public let data: UnsafeRawPointer
    public let layout: Layout
    /// Keeps converted bytes alive; nil for a view onto the mapping. A var only so that
    /// `interleaving` can ask whether it is the buffer's sole holder.
    var owner: AnyObject?

    /// Rows stored interleaved (a multiple of 8; 0 in the rows layout). The rest follow in the
    /// file layout.
    public var interleavedRows: Int { layout == .x8 ? rows / 8 * 8 : 0 }

    /// Formats the mat-mul kernels take directly.
    /// Q5_0 matters for small models: llama-quantize's K-quant mixes fall back to it for every
    /// matrix whose rows are not whole 256-value super-blocks (Qwen2.5-0.5B's 896-wide inputs,
    /// Gemma-3-270M's 640), where converting to Q8_0 cost half as much memory again.
    public static let nativeTypes: Set<GGMLType> = Set(GGMLType.allCases.filter { $0.kernelHandling == .native })
    /// Formats used in the file's bytes: the native ones and those decoded per tile at mat-mul
    /// time (IQ1/IQ2/IQ3, TQ1_0/TQ2_0, Q1_0/Q2_0: see `GGMLType.KernelHandling.decodedPerTile`).
    public static let residentTypes: Set<GGMLType> = Set(GGMLType.allCases.filter(\.runsFromFileBytes))

    /// The kernel format a matrix stored as `type` runs in: its own where there is a kernel;
    /// Q4_1 for Q4_K, Q5_1 for Q5_K and IQ4_NL for IQ4_XS (the same quants with one f16 scale per
    /// 32 values, so nothing is lost but the scales' rounding, at 5, 6 and 4.5 bits per value);
    /// Q4_1 for the IQ1/IQ2/IQ3 codebook formats; Q8_0 for the rest.
    public static func kernelType(for type: GGMLType) -> GGMLType { type.kernelType }

    /// Bytes a matrix tensor takes once in its kernel format.
    public static func kernelByteCount(of tensor: GGUFTensorInfo) -> Int {
        guard tensor.shape.count == 2 else {
            return kernelType(for: tensor.type).byteCount(forElements: tensor.elementCount) ?? tensor.byteCount
        }
        return (kernelType(for: tensor.type).byteCount(forElements: paddedColumns(tensor.shape[0])) ?? tensor.byteCount / tensor.shape[1])
            * tensor.shape[1]
    }

    /// `columns` rounded up to whole 32-value blocks (the width a converted matrix is stored at).
    public static func paddedColumns(_ columns: Int) -> Int { (columns + 31) / 32 * 32 }

    public init(type: GGMLType, rows: Int, columns: Int, storedColumns: Int? = nil, data: UnsafeRawPointer, owner: AnyObject?,
                layout: Layout = .rows) {
        self.type = type
        self.rows = rows
        self.columns = columns
        self.storedColumns = storedColumns ?? columns
        self.rowBytes = type.byteCount(forElements: self.storedColumns) ?? 0
        self.data = data
        self.owner = owner
        self.layout = layout
    }

    /// Builds a matrix from Q8_0/Q4_0/Q4_1 bytes held in memory (used by the pruner).
    public init(type: GGMLType, rows: Int, columns: Int, storedColumns: Int? = nil, bytes: [UInt8]) {
        let buffer = AlignedBuffer(byteCount: bytes.count)
        bytes.withUnsafeBytes { buffer.pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        self.init(type: type, rows: rows, columns: columns, storedColumns: storedColumns, data: UnsafeRawPointer(buffer.pointer),
                  owner: buffer)
    }

    /// Views a tensor in place when its format has a kernel or is decoded per tile, otherwise
    /// converts it once to its `kernelType` (a kernel per format would be a kernel per format
    /// and CPU to prove).
    public init(tensor: GGUFTensorInfo, in file: GGUFFile) throws(ModelError) {
        try WeightMatrix.checkSupported(tensor, in: file)
        let columns = tensor.shape[0], rows = tensor.shape[1]
        let bytes = file.data(for: tensor)
        if WeightMatrix.residentTypes.contains(tensor.type) {
            self.init(type: tensor.type, rows: rows, columns: columns, data: bytes.baseAddress!, owner: nil)
            return
        }
        let target = WeightMatrix.kernelType(for: tensor.type)
        let stored = WeightMatrix.paddedColumns(columns)
        let outRowBytes = target.byteCount(forElements: stored)!
        let buffer = AlignedBuffer(byteCount: outRowBytes * rows)
        TensorConversion.toKernelType(type: tensor.type, source: bytes.baseAddress!, sourceRowBytes: tensor.rowBytes,
                                      rows: rows, columns: columns, destination: buffer.pointer)
        // The source bytes are not read again (the file pages come back from disk if they are):
        // dropping them keeps resident memory at the converted copy instead of both.
        file.releasePages(of: tensor)
        self.init(type: target, rows: rows, columns: columns, storedColumns: stored, data: UnsafeRawPointer(buffer.pointer),
                  owner: buffer)
    }

    /// Throws unless `tensor` is a matrix this build can run: in a kernel format, or one it
    /// converts (a type it dequantizes; float rows of any width, padded with zeros).
    static func checkSupported(_ tensor: GGUFTensorInfo, in file: GGUFFile) throws(ModelError) {
        guard tensor.shape.count == 2 else {
            throw .badModel(path: file.path, detail: "\(tensor.name): expected a matrix, found shape \(tensor.shapeDescription)")
        }
        if WeightMatrix.residentTypes.contains(tensor.type) { return }
        guard TensorConversion.canDequantize(tensor.type) else {
            throw .unsupported(path: file.path, detail: "\(tensor.name): tensor type \(tensor.type) is not supported by this build")
        }
    }

    /// Row `r`'s bytes in the file layout, copied to `out` (`rowBytes` bytes).
    public func copyRow(_ r: Int, to out: UnsafeMutableRawPointer) {
        if r < interleavedRows {
            _ = lr_x8_unpack_row(Int32(type.rawValue), data + r / 8 * 8 * rowBytes, Int32(r % 8), Int32(storedColumns), out)
        } else {
            out.copyMemory(from: data + r * rowBytes, byteCount: rowBytes)
        }
    }

    /// Dequantizes one row into `out` (`columns` floats).
    public func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        if storedColumns != columns {
            let wide = UnsafeMutablePointer<Float>.allocate(capacity: storedColumns)
            defer { wide.deallocate() }
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: rowBytes, alignment: 16)
            defer { bytes.deallocate() }
            copyRow(r, to: bytes)
            _ = lr_dequantize_row(Int32(type.rawValue), bytes, wide, Int64(storedColumns))
            out.update(from: wide, count: columns)
        } else if r < interleavedRows {
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: rowBytes, alignment: 16)
            defer { bytes.deallocate() }
            copyRow(r, to: bytes)
            _ = lr_dequantize_row(Int32(type.rawValue), bytes, out, Int64(columns))
        } else {
            _ = lr_dequantize_row(Int32(type.rawValue), data + r * rowBytes, out, Int64(columns))
        }
    }

    /// Whether the active kernels run matrices of this kernel format faster in the x8 layout
    /// (a model's are moved to it at load: `ModelWeights.interleaveForKernels`).
    public static func interleavesAtLoad(_ type: GGMLType) -> Bool { lr_x8_preferred(Int32(type.rawValue)) != 0 }

    /// Whether the active kernels run this matrix faster in the x8 layout.
    public var prefersInterleaved: Bool {
        layout == .rows && rows >= 8 && storedColumns % 32 == 0 && WeightMatrix.interleavesAtLoad(type)
    }

    /// The same matrix with its rows in groups of 8 interleaved (`Layout.x8`), in new memory;
    /// rows past the last whole group stay in the file layout after the groups. Groups are
    /// packed in parallel on `pool`, a slice of about 4 MB at a time, and `packed` is told each
    /// source range once it has been copied (a view onto the mapping drops those pages there, so
    /// loading never holds a large matrix twice).
    public func interleaved(pool: ThreadPool, packed: (UnsafeRawPointer, Int) -> Void = { _, _ in }) -> WeightMatrix {
        let groups = rows / 8
        let groupBytes = 8 * rowBytes
        let buffer = AlignedBuffer(byteCount: rows * rowBytes)
        let src = data, dst = buffer.pointer, wtype = Int32(type.rawValue), k = Int32(storedColumns), rb = rowBytes
        let sliceGroups = max(1, (4 << 20) / max(groupBytes, 1))
        for first in stride(from: 0, to: groups, by: sliceGroups) {
            let end = min(groups, first + sliceGroups)
            let perChunk = max(1, (end - first + pool.threadCount * 4 - 1) / (pool.threadCount * 4))
            pool.parallelFor((end - first + perChunk - 1) / perChunk) { chunk, _ in
                for g in (first + chunk * perChunk)..<min(end, first + chunk * perChunk + perChunk) {
                    _ = lr_x8_pack(wtype, src + g * groupBytes, rb, k, dst + g * groupBytes)
                }
            }
            packed(src + first * groupBytes, (end - first) * groupBytes)
        }
        let tail = groups * groupBytes
        dst.advanced(by: tail).copyMemory(from: src + tail, byteCount: rows * rowBytes - tail)
        packed(src + tail, rows * rowBytes - tail)
        return WeightMatrix(type: type, rows: rows, columns: columns, storedColumns: storedColumns, data: UnsafeRawPointer(dst),
                            owner: buffer, layout: .x8)
    }

    /// `matrix` interleaved in its own buffer, group by group through a small copy, when nothing
    /// else holds that buffer (a matrix converted at load: no second copy of it, even for a
    /// moment); otherwise as `interleaved(pool:)`. `matrix` is taken: on return only the result
    /// should be used.
    public static func interleaving(_ matrix: inout WeightMatrix?, pool: ThreadPool) -> WeightMatrix? {
        guard var m = matrix else { return nil }
        matrix = nil
        guard m.owner is AlignedBuffer, isKnownUniquelyReferenced(&m.owner) else { return m.interleaved(pool: pool) }
        let buffer = m.owner as! AlignedBuffer
        let (type, rows, columns, stored, rowBytes) = (m.type, m.rows, m.columns, m.storedColumns, m.rowBytes)
        let groupBytes = 8 * rowBytes, groups = rows / 8, base = buffer.pointer
        let wtype = Int32(type.rawValue), k = Int32(stored)
        let scratch = AlignedBuffer(byteCount: pool.threadCount * groupBytes)
        pool.parallelFor(groups) { g, thread in
            let tmp = scratch.pointer + thread * groupBytes, at = base + g * groupBytes
            tmp.copyMemory(from: at, byteCount: groupBytes)
            _ = lr_x8_pack(wtype, tmp, rowBytes, k, at)
        }
        return WeightMatrix(type: type, rows: rows, columns: columns, storedColumns: stored, data: UnsafeRawPointer(base),
                            owner: buffer, layout: .x8)
    }
}

/// Conversions between tensor formats, through the C kernels.
public enum TensorConversion {
    /// Formats with a dequantizer in the kernel library.
    public static let dequantizable: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1,
                                                      .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs,
                                                      .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s, .iq1_s, .iq1_m, .tq1_0, .tq2_0,
                                                      .q1_0, .q2_0]

    public static func canDequantize(_ type: GGMLType) -> Bool { dequantizable.contains(type) }

    /// Dequantizes `count` values (a whole number of blocks) to f32.
    public static func dequantize(type: GGMLType, source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        _ = lr_dequantize_row(Int32(type.rawValue), source, out, Int64(count))
    }

    /// Dequantizes a whole tensor to f32 (norms, biases, the pruner's working copies).
    public static func floats(of tensor: GGUFTensorInfo, in file: GGUFFile) -> [Float] {
        let n = tensor.elementCount
        return [Float](unsafeUninitializedCapacity: n) { buf, count in
            dequantize(type: tensor.type, source: file.data(for: tensor).baseAddress!, count: n, into: buf.baseAddress!)
            count = n
        }
    }

    /// Converts rows of a dequantizable format to its `WeightMatrix.kernelType`. Formats whose
    /// quants fit the kernel format's are re-packed block by block, losing only the f16 rounding
    /// of a product of scales: Q4_K as Q4_1, Q5_K as Q5_1, IQ4_XS as IQ4_NL. Everything else goes through f32
    /// to Q8_0.
    public static func toKernelType(type: GGMLType, source: UnsafeRawPointer, sourceRowBytes: Int, rows: Int, columns: Int,
                                    destination: UnsafeMutableRawPointer) {
        let target = WeightMatrix.kernelType(for: type)
        guard let repack = type.rowRepacker else {
            toQ8_0(type: type, source: source, sourceRowBytes: sourceRowBytes, rows: rows, columns: columns, destination: destination)
            return
        }
        let outRowBytes = target.byteCount(forElements: columns)!
        for r in 0..<rows {
            repack(source + r * sourceRowBytes, destination + r * outRowBytes, Int64(columns))
        }
    }

    /// Converts rows of any dequantizable format to Q8_0 with the reference rounding. Rows whose
    /// width is not a multiple of 32 (float formats only) are padded with zero columns to the next
    /// one, which leaves every block's scale as it was.
    public static func toQ8_0(type: GGMLType, source: UnsafeRawPointer, sourceRowBytes: Int, rows: Int, columns: Int,
                              destination: UnsafeMutableRawPointer) {
        let stored = WeightMatrix.paddedColumns(columns)
        let outRowBytes = GGMLType.q8_0.byteCount(forElements: stored)!
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: stored)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: 0, count: stored)
        for r in 0..<rows {
            _ = lr_dequantize_row(Int32(type.rawValue), source + r * sourceRowBytes, scratch, Int64(columns))
            lr_quantize_row_q8_0_ref(scratch, destination + r * outRowBytes, Int64(stored))
        }
    }

    /// Quantizes f32 values to `type` (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, F16, F32) with llama.cpp's reference rounding.
    public static func quantize(_ values: UnsafePointer<Float>, count: Int, to type: GGMLType) -> [UInt8]? {
        guard let bytes = type.byteCount(forElements: count) else { return nil }
        var out = [UInt8](repeating: 0, count: bytes)
        out.withUnsafeMutableBytes { raw in
            let dst = raw.baseAddress!
            switch type {
            case .q8_0: lr_quantize_row_q8_0_ref(values, dst, Int64(count))
            case .q4_0: lr_quantize_row_q4_0_ref(values, dst, Int64(count))
            case .q4_1: lr_quantize_row_q4_1_ref(values, dst, Int64(count))
            case .q5_0: lr_quantize_row_q5_0_ref(values, dst, Int64(count))
            case .q5_1: lr_quantize_row_q5_1_ref(values, dst, Int64(count))
            // No reference rounding to match here: the least-squares fit, weighting each value by
            // its square (large weights matter most when nothing says which inputs do).
            case .iq4_nl:
                let w = (0..<count).map { values[$0] * values[$0] }
                _ = lr_quantize_row_fit(Int32(type.rawValue), values, dst, Int64(count), w)
            case .f16:
                let p = dst.assumingMemoryBound(to: UInt16.self)
                for i in 0..<count { p[i] = lr_f32_to_f16(values[i]) }
            case .f32: dst.copyMemory(from: values, byteCount: count * 4)
            default: break
            }
        }
        return [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_nl, .f16, .f32].contains(type) ? out : nil
    }

    /// Quantizes f32 values to `type` choosing each block's scale by weighted least squares
    /// (`lr_quantize_row_fit`): less error than the reference rounding at 4 bits. `weights`, one
    /// per value (nil: equal), say how much each value's error costs.
    public static func quantizeFitted(_ values: UnsafePointer<Float>, count: Int, to type: GGMLType,
                                      weights: UnsafePointer<Float>? = nil) -> [UInt8]? {
        guard type == .q4_0 || type == .q4_1 || type == .iq4_nl else { return quantize(values, count: count, to: type) }
        guard let bytes = type.byteCount(forElements: count) else { return nil }
        var out = [UInt8](repeating: 0, count: bytes)
        out.withUnsafeMutableBytes { raw in
            _ = lr_quantize_row_fit(Int32(type.rawValue), values, raw.baseAddress!, Int64(count), weights)
        }
        return out
    }
}

/// Heap memory aligned for SIMD loads, released with its owner.
public final class AlignedBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int

    /// Buffers from this size on start at a 2 MiB boundary and ask Linux for transparent huge
    /// pages over their whole 2 MiB pages (the tail stays in 4 KiB pages, so nothing resident is
    /// added): a mat-vec streaming interleaved weights then takes no TLB miss every 4 KiB. One Zen 4
    /// core read Q4_K x8 weights 1.2x as fast from memory that way (docs/measurements.md).
    static let hugePageBytes = 2 << 20

    public init(byteCount: Int, alignment: Int = 64) {
        self.byteCount = byteCount
        let huge = AlignedBuffer.hugePageBytes
        let large = byteCount >= huge
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: large ? max(alignment, huge) : alignment)
        #if os(Linux)
        if large { _ = lr_advise_huge_pages(pointer, byteCount / huge * huge) }
        #endif
    }

    public func floats() -> UnsafeMutablePointer<Float> { pointer.assumingMemoryBound(to: Float.self) }

    deinit { pointer.deallocate() }
}
