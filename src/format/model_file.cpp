// Parser for the weight file. Pure function over a byte span: every header field, section
// length and tensor offset/size is checked before anything is dereferenced.
#include <cmath>
#include <cstring>
#include <set>

#include <mistral/byte_reader.h>
#include <mistral/error.h>
#include <mistral/model_file.h>

#include "format/hparams.h"

namespace mistral {

namespace {

std::string tag_string(uint32_t tag) {
    std::string s(4, '?');
    for (int i = 0; i < 4; ++i) {
        const char c = static_cast<char>((tag >> (8 * i)) & 0xff);
        s[static_cast<size_t>(i)] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return s;
}

void parse_hparams(std::span<const std::byte> payload, ModelFile& mf) {
    ByteReader r(payload);
    const uint32_t count = r.u32("hyperparameter count");
    for (uint32_t i = 0; i < count; ++i) {
        const uint16_t len = r.u16("hyperparameter name length");
        std::string key = r.str(len, "hyperparameter name");
        const uint8_t type = r.u8("hyperparameter type");
        if (type == format::kHparamInt) {
            mf.hparams[key] = r.i64("hyperparameter " + key);
        } else if (type == format::kHparamReal) {
            mf.hparams[key] = r.f64("hyperparameter " + key);
        } else {
            throw Error(Errc::kBadValue, "hyperparameter " + key + " has unknown value type " +
                                                 std::to_string(type));
        }
    }
    if (!r.at_end()) {
        throw Error(Errc::kBadValue, "hyperparameter section has " + std::to_string(r.remaining()) +
                                             " trailing bytes");
    }
    auto get_int = [&](std::string_view name, bool required, int64_t dflt) -> int64_t {
        auto it = mf.hparams.find(std::string(name));
        if (it == mf.hparams.end()) {
            if (required)
                throw Error(Errc::kBadValue, "missing hyperparameter " + std::string(name));
            return dflt;
        }
        if (const auto* v = std::get_if<int64_t>(&it->second))
            return *v;
        throw Error(Errc::kBadValue, "hyperparameter " + std::string(name) + " must be an integer");
    };
    auto get_real = [&](std::string_view name) -> float {
        auto it = mf.hparams.find(std::string(name));
        if (it == mf.hparams.end())
            throw Error(Errc::kBadValue, "missing hyperparameter " + std::string(name));
        if (const auto* v = std::get_if<double>(&it->second))
            return static_cast<float>(*v);
        throw Error(Errc::kBadValue,
                    "hyperparameter " + std::string(name) + " must be a real number");
    };
    ModelConfig& c = mf.config;
    c.vocab_size = get_int("vocab_size", true, 0);
    c.dim = get_int("dim", true, 0);
    c.n_layers = get_int("n_layers", true, 0);
    c.n_heads = get_int("n_heads", true, 0);
    c.n_kv_heads = get_int("n_kv_heads", true, 0);
    c.head_dim = get_int("head_dim", true, 0);
    c.hidden_dim = get_int("hidden_dim", true, 0);
    c.norm_eps = get_real("norm_eps");
    c.rope_theta = get_real("rope_theta");
    c.window = get_int("sliding_window", true, 0);
    c.max_context = get_int("max_context", false, 0);
    c.bos_id = get_int("bos_id", false, 1);
    c.eos_id = get_int("eos_id", false, 2);
    c.validate();
}

void parse_tensors(std::span<const std::byte> payload, uint64_t data_offset, uint64_t data_size,
                   std::span<const std::byte> file, ModelFile& mf) {
    ByteReader r(payload);
    const uint32_t count = r.u32("tensor count");
    // Each entry is at least 2+1+4+4+8+8+8 bytes; refuse counts the payload cannot hold
    // before reserving memory for them.
    if (count > payload.size() / 35) {
        throw Error(Errc::kTruncated, "tensor directory claims " + std::to_string(count) +
                                              " tensors but holds " +
                                              std::to_string(payload.size()) + " bytes");
    }
    mf.tensors.reserve(count);
    std::set<std::string> seen;
    for (uint32_t i = 0; i < count; ++i) {
        TensorInfo ti;
        const uint16_t len = r.u16("tensor name length");
        ti.name = r.str(len, "tensor name");
        if (ti.name.empty())
            throw Error(Errc::kBadValue, "tensor " + std::to_string(i) + " has an empty name");
        if (!seen.insert(ti.name).second)
            throw Error(Errc::kBadValue, "tensor " + ti.name + " appears twice");
        const std::string what = "tensor " + ti.name;
        const uint32_t type = r.u32(what + " type");
        if (type == kRetiredF16x16Code) {
            throw Error(Errc::kUnsupportedType,
                        what + " is in the retired f16x16 layout (type code 7, 64-column row "
                               "pieces); convert the model again with mistral-convert");
        }
        if (!dtype_valid(type)) {
            throw Error(Errc::kUnsupportedType,
                        what + " has unknown type code " + std::to_string(type));
        }
        ti.view.type = static_cast<DType>(type);
        const uint32_t ndim = r.u32(what + " rank");
        if (ndim < 1 || ndim > 2) {
            throw Error(Errc::kBadValue,
                        what + " has rank " + std::to_string(ndim) + " (1 or 2 expected)");
        }
        ti.view.ndim = static_cast<int>(ndim);
        uint64_t shape[2] = {1, 1};
        for (uint32_t d = 0; d < ndim; ++d) {
            shape[d] = r.u64(what + " shape");
            if (shape[d] == 0 || shape[d] > (uint64_t{1} << 32)) {
                throw Error(Errc::kBadValue, what + " has dimension " + std::to_string(shape[d]));
            }
        }
        ti.view.rows = ndim == 2 ? shape[0] : 1;
        ti.view.cols = ndim == 2 ? shape[1] : shape[0];
        const uint64_t rel = r.u64(what + " offset");
        const uint64_t nbytes = r.u64(what + " size");
        if (ti.view.cols % block_size(ti.view.type) != 0) {
            throw Error(Errc::kBadValue, what + ": row length " + std::to_string(ti.view.cols) +
                                                 " is not a multiple of the " +
                                                 std::string(dtype_name(ti.view.type)) + " block");
        }
        if (is_interleaved(ti.view.type) && (ndim != 2 || ti.view.rows % kX16Rows != 0)) {
            throw Error(Errc::kBadValue, what + ": a " + std::string(dtype_name(ti.view.type)) +
                                                 " matrix needs a multiple of " +
                                                 std::to_string(kX16Rows) + " rows, not " +
                                                 std::to_string(ti.view.rows));
        }
        ti.view.row_bytes = bytes_for(ti.view.type, ti.view.cols);
        // rows <= 2^32 and row_bytes <= 2^34: the product cannot overflow 64 bits.
        const uint64_t expect = static_cast<uint64_t>(ti.view.rows) * ti.view.row_bytes;
        if (nbytes != expect) {
            throw Error(Errc::kBadValue, what + " size " + std::to_string(nbytes) +
                                                 " != " + std::to_string(expect) +
                                                 " implied by its type and shape");
        }
        if (rel % kMinTensorAlign != 0) {
            throw Error(Errc::kBadValue, what + " offset " + std::to_string(rel) + " is not " +
                                                 std::to_string(kMinTensorAlign) + "-byte aligned");
        }
        if (rel > data_size || nbytes > data_size - rel) {
            throw Error(Errc::kOutOfBounds,
                        what + " (bytes " + std::to_string(rel) + ".." +
                                std::to_string(rel + nbytes) + ") lies outside the " +
                                std::to_string(data_size) + "-byte data section");
        }
        ti.offset = data_offset + rel;
        ti.view.data = file.data() + ti.offset;
        mf.tensors.push_back(std::move(ti));
    }
    if (!r.at_end()) {
        throw Error(Errc::kBadValue,
                    "tensor directory has " + std::to_string(r.remaining()) + " trailing bytes");
    }
}

}  // namespace

const TensorInfo* ModelFile::find(std::string_view name) const {
    for (const auto& t : tensors) {
        if (t.name == name)
            return &t;
    }
    return nullptr;
}

ModelFile parse_model_file(std::span<const std::byte> data) {
    if (data.empty()) {
        throw Error(Errc::kTruncated, "empty file");
    }
    if (data.size() < sizeof(kFileMagic) ||
        std::memcmp(data.data(), kFileMagic, sizeof(kFileMagic)) != 0) {
        throw Error(Errc::kBadMagic,
                    "not a mistral.cpp model file (wrong magic; convert it with mistral-convert)");
    }
    ByteReader h(data);
    h.skip(sizeof(kFileMagic), "magic");
    ModelFile mf;
    mf.version = h.u32("format version");
    if (mf.version == 0) {
        throw Error(Errc::kBadValue, "format version 0 is invalid");
    }
    if (mf.version > kFileVersion) {
        throw Error(Errc::kNewerVersion, "made by a newer version of mistral.cpp (file format v" +
                                                 std::to_string(mf.version) +
                                                 ", this build reads up to v" +
                                                 std::to_string(kFileVersion) + ")");
    }
    h.u32("header flags");
    const uint64_t meta_size = h.u64("metadata size");
    const uint64_t data_offset = h.u64("data offset");
    const uint64_t data_size = h.u64("data size");
    h.seek(kHeaderBytes, "header");  // also proves the 64-byte header is present
    if (meta_size > data.size() - kHeaderBytes) {
        throw Error(Errc::kTruncated, "truncated: metadata of " + std::to_string(meta_size) +
                                              " bytes does not fit in a " +
                                              std::to_string(data.size()) + "-byte file");
    }
    if (data_offset % kDataAlign != 0 || data_offset < kHeaderBytes + meta_size) {
        throw Error(Errc::kBadValue, "data offset " + std::to_string(data_offset) +
                                             " is misaligned or overlaps metadata");
    }
    if (data_offset > data.size() || data_size > data.size() - data_offset) {
        throw Error(Errc::kTruncated,
                    "truncated: tensor data needs " + std::to_string(data_offset + data_size) +
                            " bytes, the file has " + std::to_string(data.size()));
    }

    ByteReader meta(data.subspan(kHeaderBytes, meta_size));
    bool have_hp = false, have_tok = false, have_dir = false;
    std::span<const std::byte> dir_payload;
    while (!meta.at_end()) {
        const uint32_t tag = meta.u32("section tag");
        const uint32_t flags = meta.u32("section flags");
        const uint64_t len = meta.u64("section length");
        if (len > meta.remaining()) {
            throw Error(Errc::kTruncated, "truncated: section " + tag_string(tag) + " claims " +
                                                  std::to_string(len) + " bytes, " +
                                                  std::to_string(meta.remaining()) + " left");
        }
        auto payload = meta.bytes(len, "section");
        if (tag == kTagHparams) {
            if (have_hp)
                throw Error(Errc::kBadValue, "duplicate hyperparameter section");
            parse_hparams(payload, mf);
            have_hp = true;
        } else if (tag == kTagTokenizer) {
            if (have_tok)
                throw Error(Errc::kBadValue, "duplicate tokenizer section");
            mf.tokenizer_blob = payload;
            have_tok = true;
        } else if (tag == kTagTensors) {
            if (have_dir)
                throw Error(Errc::kBadValue, "duplicate tensor directory");
            dir_payload = payload;
            have_dir = true;
        } else if (flags & kSectionRequired) {
            throw Error(Errc::kNewerVersion,
                        "made by a newer version of mistral.cpp (required section " +
                                tag_string(tag) + " is unknown to this build)");
        }
        // Unknown optional sections are skipped: additions that old readers may ignore.
    }
    if (!have_hp)
        throw Error(Errc::kBadValue, "missing hyperparameter section");
    if (!have_tok)
        throw Error(Errc::kBadValue, "missing tokenizer section");
    if (!have_dir)
        throw Error(Errc::kBadValue, "missing tensor directory");
    parse_tensors(dir_payload, data_offset, data_size, data, mf);
    return mf;
}

}  // namespace mistral
