// parse_gguf_vocab: the tokenizer.ggml.* metadata of a GGUF file (v2/v3) mapped onto
// TokenizerModel. Only the key/value header is read; tensors are ignored. llama.cpp writes
// SentencePiece vocabularies as model "llama" with per-token type codes equal to
// sentencepiece's piece types (1 normal ... 6 byte).
#include <cstring>
#include <limits>

#include <mistral/byte_reader.h>
#include <mistral/error.h>
#include <mistral/tokenizer.h>

#include "tokenizer/tokenizer_impl.h"

namespace mistral {

namespace {

constexpr std::string_view kWhat = "gguf";

enum GgufType : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
};

size_t scalar_size(uint32_t type) {
    switch (type) {
        case kU8:
        case kI8:
        case kBool:
            return 1;
        case kU16:
        case kI16:
            return 2;
        case kU32:
        case kI32:
        case kF32:
            return 4;
        case kU64:
        case kI64:
        case kF64:
            return 8;
        default:
            return 0;
    }
}

[[noreturn]] void bad(const std::string& msg) {
    throw Error(Errc::kBadValue, std::string(kWhat) + ": " + msg);
}

std::string read_string(ByteReader& r) {
    const uint64_t n = r.u64("gguf string length");
    if (n > r.remaining())
        throw Error(Errc::kTruncated, std::string(kWhat) + ": string of " + std::to_string(n) +
                                              " bytes is past the end");
    return r.str(static_cast<size_t>(n), "gguf string");
}

// Reads an integer-typed scalar as int64.
int64_t read_int(ByteReader& r, uint32_t type, const std::string& key) {
    switch (type) {
        case kU8:
            return r.u8("gguf value");
        case kI8:
            return static_cast<int8_t>(r.u8("gguf value"));
        case kU16:
            return r.u16("gguf value");
        case kI16:
            return static_cast<int16_t>(r.u16("gguf value"));
        case kU32:
            return r.u32("gguf value");
        case kI32:
            return r.i32("gguf value");
        case kU64: {
            const uint64_t v = r.u64("gguf value");
            if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                bad(key + " is out of range");
            return static_cast<int64_t>(v);
        }
        case kI64:
            return r.i64("gguf value");
        default:
            bad(key + " is not an integer");
    }
}

void skip_value(ByteReader& r, uint32_t type, int depth) {
    if (type == kString) {
        read_string(r);
        return;
    }
    if (type == kArray) {
        if (depth > 2)
            bad("arrays nested too deeply");
        const uint32_t elem = r.u32("gguf array type");
        const uint64_t n = r.u64("gguf array length");
        const size_t es = scalar_size(elem);
        if (es > 0) {
            if (n > r.remaining() / es)
                throw Error(Errc::kTruncated, std::string(kWhat) + ": array is past the end");
            r.skip(static_cast<size_t>(n) * es, "gguf array");
            return;
        }
        if (elem != kString && elem != kArray)
            bad("unknown array element type " + std::to_string(elem));
        if (n > r.remaining() / 8)
            throw Error(Errc::kTruncated, std::string(kWhat) + ": array is past the end");
        for (uint64_t i = 0; i < n; ++i)
            skip_value(r, elem, depth + 1);
        return;
    }
    const size_t es = scalar_size(type);
    if (es == 0)
        bad("unknown value type " + std::to_string(type));
    r.skip(es, "gguf value");
}

// Reads an array header and checks its element type; returns the element count.
uint64_t array_header(ByteReader& r, uint32_t type, uint32_t want_elem, const std::string& key,
                      size_t min_elem) {
    if (type != kArray)
        bad(key + " is not an array");
    const uint32_t elem = r.u32("gguf array type");
    if (elem != want_elem)
        bad(key + " has element type " + std::to_string(elem));
    const uint64_t n = r.u64("gguf array length");
    if (n > r.remaining() / min_elem)
        throw Error(Errc::kTruncated, std::string(kWhat) + ": " + key + " is past the end");
    return n;
}

}  // namespace

TokenizerModel parse_gguf_vocab(std::span<const std::byte> gguf) {
    ByteReader r(gguf);
    const auto magic = r.bytes(4, "gguf magic");
    if (std::memcmp(magic.data(), "GGUF", 4) != 0)
        throw Error(Errc::kBadMagic, std::string(kWhat) + ": bad magic");
    const uint32_t version = r.u32("gguf version");
    if (version < 2 || version > 3) {
        throw Error(Errc::kUnsupported, std::string(kWhat) + ": version " +
                                                std::to_string(version) +
                                                " is not supported (2 or 3)");
    }
    r.u64("gguf tensor count");
    const uint64_t n_kv = r.u64("gguf kv count");

    TokenizerModel m;
    m.kind = TokenizerModel::Kind::kBpe;
    m.normalizer_name = "identity";
    m.remove_extra_whitespaces = false;
    std::string model_name;
    bool have_scores = false, have_types = false;
    TokenId unk_key = -1;
    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string key = read_string(r);
        const uint32_t type = r.u32("gguf value type");
        if (key == "tokenizer.ggml.model") {
            if (type != kString)
                bad(key + " is not a string");
            model_name = read_string(r);
        } else if (key == "tokenizer.ggml.tokens") {
            const uint64_t n = array_header(r, type, kString, key, 8);
            m.pieces.reserve(static_cast<size_t>(n));
            for (uint64_t j = 0; j < n; ++j)
                m.pieces.push_back(read_string(r));
        } else if (key == "tokenizer.ggml.scores") {
            const uint64_t n = array_header(r, type, kF32, key, 4);
            m.scores.reserve(static_cast<size_t>(n));
            for (uint64_t j = 0; j < n; ++j)
                m.scores.push_back(r.f32("gguf score"));
            have_scores = true;
        } else if (key == "tokenizer.ggml.token_type") {
            const uint64_t n = array_header(r, type, kI32, key, 4);
            m.types.reserve(static_cast<size_t>(n));
            for (uint64_t j = 0; j < n; ++j) {
                const int32_t t = r.i32("gguf token type");
                if (t < 1 || t > 6)
                    bad("token " + std::to_string(j) + " has unknown type " + std::to_string(t));
                m.types.push_back(static_cast<PieceType>(t));
            }
            have_types = true;
        } else if (key == "tokenizer.ggml.bos_token_id" || key == "tokenizer.ggml.eos_token_id" ||
                   key == "tokenizer.ggml.unknown_token_id" ||
                   key == "tokenizer.ggml.padding_token_id") {
            const int64_t v = read_int(r, type, key);
            if (v < -1 || v > std::numeric_limits<TokenId>::max())
                bad(key + " is out of range");
            const auto id = static_cast<TokenId>(v);
            if (key == "tokenizer.ggml.bos_token_id")
                m.bos_id = id;
            if (key == "tokenizer.ggml.eos_token_id")
                m.eos_id = id;
            if (key == "tokenizer.ggml.unknown_token_id")
                unk_key = id;
            if (key == "tokenizer.ggml.padding_token_id")
                m.pad_id = id;
        } else if (key == "tokenizer.ggml.add_space_prefix" ||
                   key == "tokenizer.ggml.remove_extra_whitespaces") {
            if (type != kBool)
                bad(key + " is not a bool");
            const bool v = r.u8("gguf bool") != 0;
            if (key == "tokenizer.ggml.add_space_prefix") {
                m.add_dummy_prefix = v;
            } else {
                m.remove_extra_whitespaces = v;
            }
        } else if (key == "tokenizer.ggml.precompiled_charsmap") {
            const uint64_t n = array_header(r, type, kU8, key, 1);
            m.precompiled_charsmap = r.str(static_cast<size_t>(n), key);
            if (!m.precompiled_charsmap.empty())
                m.normalizer_name = "precompiled";
        } else {
            skip_value(r, type, 0);
        }
    }
    if (model_name.empty())
        throw Error(Errc::kMissingTensor,
                    std::string(kWhat) + ": no tokenizer.ggml.model key (no vocabulary)");
    if (model_name != "llama") {
        throw Error(Errc::kUnsupported,
                    std::string(kWhat) + ": tokenizer model '" + model_name +
                            "' is not supported (only 'llama', SentencePiece BPE)");
    }
    if (m.pieces.empty())
        bad("no tokenizer.ggml.tokens");
    if (!have_scores)
        m.scores.assign(m.pieces.size(), 0.0f);
    if (!have_types)
        m.types.assign(m.pieces.size(), PieceType::kNormal);
    m.byte_fallback = false;
    m.unk_id = -1;
    for (size_t i = 0; i < m.types.size(); ++i) {
        if (m.types[i] == PieceType::kByte)
            m.byte_fallback = true;
        if (m.types[i] == PieceType::kUnknown && m.unk_id < 0)
            m.unk_id = static_cast<TokenId>(i);
    }
    if (unk_key >= 0 && m.unk_id >= 0 && unk_key != m.unk_id) {
        bad("unknown_token_id " + std::to_string(unk_key) + " is not the unknown-type token " +
            std::to_string(m.unk_id));
    }
    tok::check_model(m, kWhat);
    return m;
}

}  // namespace mistral
