import GGUF

/// Edits a model while it is bound at load — a prune plan applied in memory — one block at a
/// time: each block is bound dense, edited and its file pages dropped before the next is bound,
/// so a load never holds more than one dense block beside the edited ones.
public protocol LoadTransform {
    /// The edited model's config, and for each of its blocks the file's block it is made from.
    func transformedConfig(_ source: ModelConfig) throws -> (config: ModelConfig, sourceLayers: [Int])
    /// Block `index` of the edited model, from the dense weights of its source block (`source`
    /// is the file's config).
    func transformLayer(_ dense: LayerWeights, index: Int, source: ModelConfig) throws -> LayerWeights
    /// The embedding table and output matrix to use instead of the file's (nil: the file's),
    /// made without binding the file's first (a converted output matrix is hundreds of MB).
    func transformedEmbedding(file: GGUFFile, config: ModelConfig) throws -> (embedding: EmbeddingTable, output: WeightMatrix)?
}

extension LoadTransform {
    public func transformedEmbedding(file: GGUFFile, config: ModelConfig) throws -> (embedding: EmbeddingTable, output: WeightMatrix)? { nil }
}
