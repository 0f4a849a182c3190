import CKernels

/// Keys and values of past positions, per layer. Implementations differ in storage format.
public protocol KVCache: AnyObject {
    /// Positions the cache can hold.
    var capacity: Int { get }
    /// Bytes the cache occupies.
    var byteCount: Int { get }
    /// Stores the keys and values (`kvHeads*headDim` floats each) of one position.
    func store(layer: Int, position: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>)
    /// Attention of one query head over `positions` of `kvHead` (all earlier ones, or a sliding
    /// window): `out = softmax(scale · q·K) · V`. `scores` has room for `positions.count` floats.
    func attend(layer: Int, kvHead: Int, query: UnsafePointer<Float>, positions: Range<Int>, scale: Float,
                scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>)
}

/// A KV cache in f16, as llama.cpp keeps it by default: half the memory of f32, and attention
/// reads it with converting dot products.
public final class F16KVCache: KVCache {
    public let capacity: Int
    public let headDim: Int
    private let kvHeads: [Int]       // per layer
    private let keys: [UnsafeMutablePointer<UInt16>]    // per layer: (capacity, kvHeads*headDim)
    private let values: [UnsafeMutablePointer<UInt16>]  // per layer: (capacity, kvHeads*headDim)

    public init(layers: [LayerShape], headDim: Int, capacity: Int) throws(ModelError) {
        let perLayer = layers.map { capacity.clampedMultiplying($0.kvHeadCount).clampedMultiplying(headDim) }
        guard capacity >= 0, perLayer.allSatisfy({ $0 < Int.max / 2 }) else {
            throw .invalidRequest("a KV cache of \(capacity) positions is too large to allocate")
        }
        self.capacity = capacity
        self.headDim = headDim
        self.kvHeads = layers.map(\.kvHeadCount)
        keys = kvHeads.map { UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, capacity * $0 * headDim)) }
        values = kvHeads.map { UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, capacity * $0 * headDim)) }
    }

    /// Writes every page of the cache now, so its memory is resident from the start (a server
    /// reserves its footprint at load instead of growing into it request by request).
    public func reserveMemory() {
        for (layer, width) in kvHeads.enumerated() {
            let count = max(1, capacity * width * headDim)
            keys[layer].update(repeating: 0, count: count)
            values[layer].update(repeating: 0, count: count)
        }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    public var byteCount: Int { kvHeads.reduce(0) { $0 + 2 * capacity * $1 * headDim * 2 } }

    public func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        let width = kvHeads[layer] * headDim
        lr_f32_to_f16_row(k, keys[layer] + position * width, Int64(width))
        lr_f32_to_f16_row(v, values[layer] + position * width, Int64(width))
    }

    public func attend(layer: Int, kvHead: Int, query: UnsafePointer<Float>, positions: Range<Int>, scale: Float,
                       scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let width = kvHeads[layer] * headDim
        let length = positions.count
        let k = keys[layer] + positions.lowerBound * width + kvHead * headDim
        let v = values[layer] + positions.lowerBound * width + kvHead * headDim
        lr_attend_f16(query, k, v, width, Int32(length), Int32(headDim), scale, scores, out)
    }
}
