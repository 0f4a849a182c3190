import LLMRuntime

/// Parameter accounting for planning: what a layer of a given shape costs.
public struct ParameterCount: Sendable {
    public let hiddenSize: Int
    public let headDim: Int
    public let hasAttentionBias: Bool

    public init(config: ModelConfig) {
        hiddenSize = config.hiddenSize
        headDim = config.headDim
        hasAttentionBias = config.hasAttentionBias
    }

    /// Parameters of one query/KV group: a KV head with its query heads (q, k, v rows and o columns).
    public func attentionGroup(queryHeadsPerGroup g: Int) -> Int {
        let d = hiddenSize, hd = headDim
        return d * hd * g * 2 + d * hd * 2 + (hasAttentionBias ? hd * (g + 2) : 0)
    }

    /// Parameters of one MLP channel (a row of gate and up, a column of down).
    public var mlpChannel: Int { 3 * hiddenSize }

    public func layer(_ s: LayerShape) -> Int {
        let groups = s.kvHeadCount
        let g = groups > 0 ? s.headCount / groups : 0
        return 2 * hiddenSize + groups * attentionGroup(queryHeadsPerGroup: g) + s.feedForwardLength * mlpChannel
    }
}
