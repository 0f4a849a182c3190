#include "CSentencePiece.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

struct csp_processor {
    sentencepiece::SentencePieceProcessor sp;
    bool loaded = false;
    std::string error;
};

namespace {

void write_error(char *error, size_t capacity, const std::string &message) {
    if (error == nullptr || capacity == 0) return;
    const size_t n = message.size() < capacity - 1 ? message.size() : capacity - 1;
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
}

int finish_load(csp_processor *p, const sentencepiece::util::Status &status) {
    if (status.ok()) {
        p->loaded = true;
        p->error.clear();
        return 0;
    }
    p->loaded = false;
    p->error = status.ToString();
    return -1;
}

}  // namespace

extern "C" {

csp_processor *csp_new(void) {
    try {
        return new csp_processor();
    } catch (...) {
        return nullptr;
    }
}

void csp_free(csp_processor *processor) {
    try {
        delete processor;
    } catch (...) {
    }
}

int csp_load_file(csp_processor *processor, const char *path) {
    if (processor == nullptr || path == nullptr) return -1;
    try {
        return finish_load(processor, processor->sp.Load(path));
    } catch (const std::exception &e) {
        processor->loaded = false;
        processor->error = std::string("exception while loading: ") + e.what();
    } catch (...) {
        processor->loaded = false;
        processor->error = "unknown exception while loading";
    }
    return -1;
}

int csp_load_serialized(csp_processor *processor, const void *bytes, size_t length) {
    if (processor == nullptr || (bytes == nullptr && length > 0)) return -1;
    try {
        std::string serialized(static_cast<const char *>(bytes), length);
        return finish_load(processor, processor->sp.LoadFromSerializedProto(serialized));
    } catch (const std::exception &e) {
        processor->loaded = false;
        processor->error = std::string("exception while loading: ") + e.what();
    } catch (...) {
        processor->loaded = false;
        processor->error = "unknown exception while loading";
    }
    return -1;
}

const char *csp_last_error(const csp_processor *processor) {
    if (processor == nullptr) return "no processor";
    return processor->error.c_str();
}

int csp_encode(const csp_processor *processor, const char *text, size_t length,
               int32_t **out_ids, size_t *out_count, char *error, size_t error_capacity) {
    if (out_ids) *out_ids = nullptr;
    if (out_count) *out_count = 0;
    if (processor == nullptr || !processor->loaded) {
        write_error(error, error_capacity, "no SentencePiece model loaded");
        return -1;
    }
    if (out_ids == nullptr || out_count == nullptr || (text == nullptr && length > 0)) {
        write_error(error, error_capacity, "invalid arguments");
        return -1;
    }
    try {
        std::vector<int> ids;
        const auto status = processor->sp.Encode(std::string_view(text ? text : "", length), &ids);
        if (!status.ok()) {
            write_error(error, error_capacity, status.ToString());
            return -1;
        }
        if (!ids.empty()) {
            auto *buffer = static_cast<int32_t *>(std::malloc(ids.size() * sizeof(int32_t)));
            if (buffer == nullptr) {
                write_error(error, error_capacity, "out of memory");
                return -1;
            }
            for (size_t i = 0; i < ids.size(); ++i) buffer[i] = static_cast<int32_t>(ids[i]);
            *out_ids = buffer;
            *out_count = ids.size();
        }
        return 0;
    } catch (const std::exception &e) {
        write_error(error, error_capacity, std::string("exception while encoding: ") + e.what());
    } catch (...) {
        write_error(error, error_capacity, "unknown exception while encoding");
    }
    return -1;
}

int csp_decode(const csp_processor *processor, const int32_t *ids, size_t count,
               char **out_text, size_t *out_length, char *error, size_t error_capacity) {
    if (out_text) *out_text = nullptr;
    if (out_length) *out_length = 0;
    if (processor == nullptr || !processor->loaded) {
        write_error(error, error_capacity, "no SentencePiece model loaded");
        return -1;
    }
    if (out_text == nullptr || out_length == nullptr || (ids == nullptr && count > 0)) {
        write_error(error, error_capacity, "invalid arguments");
        return -1;
    }
    try {
        const int size = processor->sp.GetPieceSize();
        std::vector<int> input(count);
        for (size_t i = 0; i < count; ++i) {
            if (ids[i] < 0 || ids[i] >= size) {
                write_error(error, error_capacity, "token id " + std::to_string(ids[i]) + " is out of range 0..<" + std::to_string(size));
                return -1;
            }
            input[i] = ids[i];
        }
        std::string text;
        const auto status = processor->sp.Decode(input, &text);
        if (!status.ok()) {
            write_error(error, error_capacity, status.ToString());
            return -1;
        }
        auto *buffer = static_cast<char *>(std::malloc(text.size() > 0 ? text.size() : 1));
        if (buffer == nullptr) {
            write_error(error, error_capacity, "out of memory");
            return -1;
        }
        std::memcpy(buffer, text.data(), text.size());
        *out_text = buffer;
        *out_length = text.size();
        return 0;
    } catch (const std::exception &e) {
        write_error(error, error_capacity, std::string("exception while decoding: ") + e.what());
    } catch (...) {
        write_error(error, error_capacity, "unknown exception while decoding");
    }
    return -1;
}

void csp_free_buffer(void *buffer) { std::free(buffer); }

int32_t csp_vocab_size(const csp_processor *processor) {
    if (processor == nullptr || !processor->loaded) return -1;
    try {
        return static_cast<int32_t>(processor->sp.GetPieceSize());
    } catch (...) {
        return -1;
    }
}

int64_t csp_id_to_piece(const csp_processor *processor, int32_t id, char *buffer, size_t capacity) {
    if (processor == nullptr || !processor->loaded) return -1;
    try {
        if (id < 0 || id >= processor->sp.GetPieceSize()) return -1;
        const std::string &piece = processor->sp.IdToPiece(id);
        if (buffer != nullptr && capacity > 0) {
            std::memcpy(buffer, piece.data(), piece.size() < capacity ? piece.size() : capacity);
        }
        return static_cast<int64_t>(piece.size());
    } catch (...) {
        return -1;
    }
}

int32_t csp_piece_to_id(const csp_processor *processor, const char *piece, size_t length) {
    if (processor == nullptr || !processor->loaded || (piece == nullptr && length > 0)) return -1;
    try {
        return static_cast<int32_t>(processor->sp.PieceToId(std::string_view(piece ? piece : "", length)));
    } catch (...) {
        return -1;
    }
}

int32_t csp_unk_id(const csp_processor *processor) {
    if (processor == nullptr || !processor->loaded) return -1;
    try {
        return static_cast<int32_t>(processor->sp.unk_id());
    } catch (...) {
        return -1;
    }
}

}  // extern "C"
