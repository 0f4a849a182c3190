#ifndef CSENTENCEPIECE_H
#define CSENTENCEPIECE_H

// A C view of libsentencepiece's SentencePieceProcessor, for Swift.
// Every function catches C++ exceptions; failures come back as a negative
// return value plus a message (per handle for loading, per call otherwise).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opaque processor handle.
typedef struct csp_processor csp_processor;

/// A new, empty processor (NULL only if memory runs out). Free with csp_free.
csp_processor *csp_new(void);
void csp_free(csp_processor *processor);

/// Load a `tokenizer.model` file. Returns 0 on success, -1 on failure (see csp_last_error).
int csp_load_file(csp_processor *processor, const char *path);

/// Load a serialized ModelProto. Returns 0 on success, -1 on failure (see csp_last_error).
int csp_load_serialized(csp_processor *processor, const void *bytes, size_t length);

/// The message of the last failed load on this handle ("" if none). Valid until the next load.
const char *csp_last_error(const csp_processor *processor);

/// Encode UTF-8 text into ids. On success returns 0 and stores a malloc'ed array in *out_ids
/// (free with csp_free_buffer; NULL when *out_count is 0). On failure returns -1 and writes a
/// NUL-terminated message into `error` (at most error_capacity bytes). Thread-safe on a loaded handle.
int csp_encode(const csp_processor *processor, const char *text, size_t length,
               int32_t **out_ids, size_t *out_count, char *error, size_t error_capacity);

/// Decode ids into UTF-8 text (SentencePiece's own detokenizer). On success returns 0 and stores a
/// malloc'ed buffer in *out_text (not NUL-terminated; free with csp_free_buffer). On failure -1.
int csp_decode(const csp_processor *processor, const int32_t *ids, size_t count,
               char **out_text, size_t *out_length, char *error, size_t error_capacity);

/// Free a buffer returned by csp_encode or csp_decode.
void csp_free_buffer(void *buffer);

/// Number of pieces, or -1 if the handle holds no model.
int32_t csp_vocab_size(const csp_processor *processor);

/// The piece of `id`: copies up to `capacity` bytes into `buffer` and returns the piece's full
/// length, or -1 if the id is out of range or no model is loaded.
int64_t csp_id_to_piece(const csp_processor *processor, int32_t id, char *buffer, size_t capacity);

/// The id of a piece (the unknown id if the piece is not in the vocabulary), or -1 without a model.
int32_t csp_piece_to_id(const csp_processor *processor, const char *piece, size_t length);

/// The unknown-piece id, or -1 without a model.
int32_t csp_unk_id(const csp_processor *processor);

#ifdef __cplusplus
}
#endif

#endif
