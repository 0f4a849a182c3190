import CSentencePiece
import GGUF

/// Owns a libsentencepiece processor (through the CSentencePiece shim). Encoding and decoding
/// are const in SentencePiece and safe to call from several threads once loaded.
final class SentencePieceProcessor: @unchecked Sendable {
    private let handle: OpaquePointer

    /// Loads a `tokenizer.model` file.
    init(path: String) throws(TokenizerError) {
        do { try RegularFile.check(path) } catch { throw .gguf(error) }
        guard let h = csp_new() else { throw .sentencePiece(source: path, message: "out of memory") }
        handle = h
        if csp_load_file(handle, path) != 0 {
            // every stored property is set, so deinit frees the handle
            let message = String(cString: csp_last_error(handle))
            throw .sentencePiece(source: path, message: message)
        }
    }

    /// Loads a serialized ModelProto.
    init(serializedProto bytes: [UInt8], source: String) throws(TokenizerError) {
        guard let h = csp_new() else { throw .sentencePiece(source: source, message: "out of memory") }
        handle = h
        let status = bytes.withUnsafeBytes { csp_load_serialized(handle, $0.baseAddress, $0.count) }
        if status != 0 {
            // every stored property is set, so deinit frees the handle
            let message = String(cString: csp_last_error(handle))
            throw .sentencePiece(source: source, message: message)
        }
    }

    deinit { csp_free(handle) }

    private static func string(_ cString: [CChar]) -> String {
        String(decoding: cString.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var vocabularySize: Int { Int(csp_vocab_size(handle)) }
    var unknownID: Int32 { csp_unk_id(handle) }

    /// Ids for UTF-8 text, appended to `out`. Returns an error message on failure.
    @discardableResult
    func encode(_ text: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) -> String? {
        var ids: UnsafeMutablePointer<Int32>?
        var count = 0
        var error = [CChar](repeating: 0, count: 512)
        let status = text.withMemoryRebound(to: CChar.self) { chars in
            csp_encode(handle, chars.baseAddress, chars.count, &ids, &count, &error, error.count)
        }
        defer { csp_free_buffer(ids) }
        guard status == 0 else { return Self.string(error) }
        if let ids, count > 0 { out.append(contentsOf: UnsafeBufferPointer(start: ids, count: count)) }
        return nil
    }

    /// SentencePiece's own detokenization.
    func decode(_ ids: [Int32]) -> Result<[UInt8], TokenizerError> {
        var text: UnsafeMutablePointer<CChar>?
        var length = 0
        var error = [CChar](repeating: 0, count: 512)
        let status = ids.withUnsafeBufferPointer { csp_decode(handle, $0.baseAddress, $0.count, &text, &length, &error, error.count) }
        defer { csp_free_buffer(text) }
        guard status == 0 else { return .failure(.sentencePiece(source: "decode", message: Self.string(error))) }
        guard let text, length > 0 else { return .success([]) }
        return .success(Array(UnsafeRawBufferPointer(start: text, count: length)))
    }

    func piece(_ id: Int32) -> String? {
        let n = csp_id_to_piece(handle, id, nil, 0)
        guard n >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: Int(n))
        _ = buffer.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { csp_id_to_piece(handle, id, $0.baseAddress, $0.count) }
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    func id(ofPiece piece: String) -> Int32 {
        var p = piece
        return p.withUTF8 { u in u.withMemoryRebound(to: CChar.self) { csp_piece_to_id(handle, $0.baseAddress, $0.count) } }
    }
}
