// Mistral's native folders: params.json + consolidated.00.pth (a torch.save zip: a pickled dict
// of tensors whose storages are stored zip entries) or consolidated.safetensors (newer
// releases), + tokenizer.model. Names are already ours and RoPE rows already interleaved.
#include <map>

#include <mistral/error.h>
#include <mistral/json.h>

#include "mapped_source.h"
#include "pickle.h"
#include "safetensors.h"
#include "source.h"
#include "zip_reader.h"

namespace mistral::convert {

namespace {

// a * b, throwing kBadValue on 64-bit overflow.
uint64_t mul_checked(uint64_t a, uint64_t b, const std::string& what) {
    if (a != 0 && b > UINT64_MAX / a)
        throw Error(Errc::kBadValue, what + ": size overflows 64 bits");
    return a * b;
}

// params.json fields; hidden_dim / vocab_size may still be 0 (taken from the tensors later).
ModelConfig parse_params(const Json& j) {
    if (!j.is_object())
        throw Error(Errc::kBadValue, "not a JSON object");
    if (const Json* moe = j.find("moe"); moe != nullptr && !moe->is_null()) {
        throw Error(Errc::kUnsupported, "mixture-of-experts models (\"moe\") are not supported");
    }
    ModelConfig c;
    c.dim = require_int(j, "dim");
    c.n_layers = require_int(j, "n_layers");
    c.n_heads = require_int(j, "n_heads");
    if (c.n_heads <= 0)
        throw Error(Errc::kBadValue, "n_heads must be positive");
    c.n_kv_heads = get_int(j, "n_kv_heads").value_or(c.n_heads);
    c.head_dim = get_int(j, "head_dim").value_or(c.dim / c.n_heads);
    c.hidden_dim = get_int(j, "hidden_dim").value_or(0);
    c.vocab_size = get_int(j, "vocab_size").value_or(0);
    if (c.vocab_size == -1)
        c.vocab_size = 0;  // llama's "take it from the tokenizer" marker
    c.norm_eps = static_cast<float>(get_double(j, "norm_eps").value_or(1e-5));
    c.rope_theta = static_cast<float>(get_double(j, "rope_theta").value_or(10000.0));
    c.window = get_int(j, "sliding_window").value_or(0);
    c.max_context =
            get_int(j, "max_seq_len").value_or(get_int(j, "max_position_embeddings").value_or(0));
    return c;
}

// Requires row-major contiguous strides (dims of size 1 may have any stride, as in PyTorch).
void check_contiguous(const std::string& name, const TorchTensorRef& t) {
    uint64_t expect = 1;
    for (size_t d = t.shape.size(); d-- > 0;) {
        if (t.shape[d] != 1 && t.stride[d] != expect) {
            std::string s;
            for (const uint64_t v : t.stride)
                s += (s.empty() ? "" : ", ") + std::to_string(v);
            throw Error(Errc::kUnsupported, "tensor " + name + " is not contiguous (stride [" + s +
                                                    "]); save it with .contiguous()");
        }
        expect = mul_checked(expect, t.shape[d], "tensor " + name);
    }
}

class NativeSource final : public MappedSource {
public:
    NativeSource(const std::filesystem::path& dir, const SourceOptions& opts) {
        namespace fs = std::filesystem;
        kind_ = "native";
        const auto params_path = dir / "params.json";
        const Json j = read_json_file(params_path);
        try {
            cfg_ = parse_params(j);
        } catch (const Error& e) {
            throw with_context(e, params_path.string());
        }

        std::error_code ec;
        const fs::path pth = dir / "consolidated.00.pth";
        const fs::path st = dir / "consolidated.safetensors";
        if (fs::exists(dir / "consolidated.01.pth", ec)) {
            throw Error(Errc::kUnsupported, dir.string() +
                                                    ": model-parallel checkpoints "
                                                    "(consolidated.01.pth, ...) are not supported");
        }
        fs::path weights;
        if (fs::exists(pth, ec)) {
            weights = pth;
            try {
                load_pth(pth);
            } catch (const Error& e) {
                throw with_context(e, pth.string());
            }
        } else if (fs::exists(st, ec)) {
            weights = st;
            try {
                load_safetensors(st);
            } catch (const Error& e) {
                throw with_context(e, st.string());
            }
        } else {
            throw Error(Errc::kIo,
                        dir.string() + ": no consolidated.00.pth or consolidated.safetensors");
        }

        // Sizes params.json may leave out are read off the tensors.
        if (cfg_.hidden_dim == 0)
            cfg_.hidden_dim = rows_of("layers.0.feed_forward.w1.weight", weights);
        if (cfg_.vocab_size == 0)
            cfg_.vocab_size = rows_of("tok_embeddings.weight", weights);
        tok_ = read_tokenizer_model(dir);
        cfg_.bos_id = tok_.bos_id;
        cfg_.eos_id = tok_.eos_id;
        finish_config(cfg_, opts, params_path.string());

        const auto lookup = [&](const std::string& name) -> const RawTensor* {
            const auto it = raw_.find(name);
            return it == raw_.end() ? nullptr : &it->second;
        };
        bind(
                lookup, [](const std::string& n) { return n; },
                [](const std::string&) { return size_t{0}; }, weights.string());
        for (const auto& [name, raw] : raw_) {
            bool used = false;
            for (const auto& t : tensors())
                used = used || t.name == name;
            if (!used && opts.warn)
                opts.warn("ignoring tensor " + name + " in " + weights.filename().string());
        }
    }

private:
    int64_t rows_of(const std::string& name, const std::filesystem::path& file) const {
        const auto it = raw_.find(name);
        if (it == raw_.end())
            throw Error(Errc::kMissingTensor, file.string() + ": missing tensor " + name);
        if (it->second.shape.size() != 2 || it->second.shape[0] == 0 ||
            it->second.shape[0] > (1u << 30)) {
            throw Error(Errc::kShapeMismatch,
                        file.string() + ": tensor " + name + " is not a matrix");
        }
        return static_cast<int64_t>(it->second.shape[0]);
    }

    void load_pth(const std::filesystem::path& path) {
        MappedFile::Options mo;
        mo.sequential = true;
        maps_.push_back(MappedFile::open(path, mo));
        const ZipArchive zip = ZipArchive::parse(maps_.back().bytes());
        // The pickle is "<archive name>/data.pkl"; storages are "<archive name>/data/<key>".
        const ZipEntry* pkl = nullptr;
        for (const ZipEntry& e : zip.entries()) {
            const size_t slash = e.name.find('/');
            if (slash != std::string::npos && e.name.substr(slash + 1) == "data.pkl") {
                if (pkl != nullptr)
                    throw Error(Errc::kBadValue, "more than one data.pkl in the archive");
                pkl = &e;
            }
        }
        if (pkl == nullptr)
            throw Error(Errc::kBadMagic, "no data.pkl: not a torch.save archive");
        const std::string prefix =
                pkl->name.substr(0, pkl->name.size() - std::string("data.pkl").size());
        if (const ZipEntry* bo = zip.find(prefix + "byteorder"); bo != nullptr) {
            const auto b = zip.entry_data(*bo);
            if (std::string_view(reinterpret_cast<const char*>(b.data()), b.size()) != "little") {
                throw Error(Errc::kUnsupported, "big-endian torch archives are not supported");
            }
        }
        // Storages are checked against their CRC-32 when first read (MappedSource::read); the
        // pickle is not: every value it holds is validated (shapes against params.json, types,
        // offsets within their storage), and a damaged one fails to parse.
        std::map<std::string, std::shared_ptr<StorageCheck>> checks;
        for (auto& [name, t] : parse_torch_pickle(zip.entry_data(*pkl))) {
            const std::string where = "tensor " + name;
            const ZipEntry* se = zip.find(prefix + "data/" + t.storage_key);
            if (se == nullptr)
                throw Error(Errc::kMissingTensor,
                            where + ": storage " + t.storage_key + " is missing");
            const auto storage = zip.entry_data(*se);
            const size_t elem = bytes_for(t.type, 1);
            check_contiguous(name, t);
            uint64_t numel = 1;
            for (const uint64_t d : t.shape)
                numel = mul_checked(numel, d, where);
            const uint64_t end = mul_checked(
                    t.offset + numel < t.offset ? UINT64_MAX : t.offset + numel, elem, where);
            if (end > storage.size()) {
                throw Error(Errc::kOutOfBounds,
                            where + ": elements [" + std::to_string(t.offset) + ", " +
                                    std::to_string(t.offset + numel) + ") lie outside its " +
                                    std::to_string(storage.size()) + "-byte storage");
            }
            RawTensor r;
            r.type = t.type;
            r.shape = t.shape;
            r.bytes = storage.subspan(static_cast<size_t>(t.offset * elem),
                                      static_cast<size_t>(numel * elem));
            r.origin = name;
            auto& check = checks[se->name];
            if (check == nullptr) {
                check = std::make_shared<StorageCheck>();
                check->verify = [entry = *se, storage, path] {
                    try {
                        check_crc(entry, storage);
                    } catch (const Error& err) {
                        throw with_context(err, path.string());
                    }
                };
            }
            r.check = check;
            raw_.emplace(name, std::move(r));
        }
    }

    void load_safetensors(const std::filesystem::path& path) {
        MappedFile::Options mo;
        mo.sequential = true;
        maps_.push_back(MappedFile::open(path, mo));
        for (SafetensorsEntry& e : parse_safetensors(maps_.back().bytes()).tensors) {
            RawTensor r;
            if (e.dtype == "F32") {
                r.type = DType::kF32;
            } else if (e.dtype == "F16") {
                r.type = DType::kF16;
            } else if (e.dtype == "BF16") {
                r.type = DType::kBF16;
            } else {
                throw Error(Errc::kUnsupportedType, "tensor " + e.name + " has dtype " + e.dtype +
                                                            " (supported: F32, F16, BF16)");
            }
            r.shape = std::move(e.shape);
            r.bytes = e.data;
            r.origin = e.name;
            raw_.emplace(e.name, std::move(r));
        }
    }

    std::map<std::string, RawTensor> raw_;  // our name -> tensor
};

}  // namespace

std::unique_ptr<TensorSource> open_native(const std::filesystem::path& dir,
                                          const SourceOptions& opts) {
    return std::make_unique<NativeSource>(dir, opts);
}

}  // namespace mistral::convert
