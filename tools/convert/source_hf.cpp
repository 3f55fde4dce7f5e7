// Hugging Face model folders: config.json + *.safetensors (optionally sharded through
// model.safetensors.index.json) + tokenizer.model. Names are mapped to ours and the q/k rows
// un-permuted back to Mistral's interleaved RoPE order.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include <mistral/error.h>
#include <mistral/json.h>

#include "mapped_source.h"
#include "safetensors.h"
#include "source.h"
#include "util/check.h"

namespace mistral::convert {

void unpermute_hf_rows(std::byte* data, size_t rows, size_t row_bytes, size_t n_heads) {
    MISTRAL_CHECK(n_heads > 0 && rows % n_heads == 0 && (rows / n_heads) % 2 == 0,
                  "unpermute_hf_rows needs whole heads of even size");
    const size_t hd = rows / n_heads;  // rows per head
    const size_t half = hd / 2;
    std::vector<std::byte> head(hd * row_bytes);  // [hd, row_bytes]: one head in HF order
    for (size_t h = 0; h < n_heads; ++h) {
        std::byte* base = data + h * hd * row_bytes;
        std::memcpy(head.data(), base, head.size());
        // HF row j*half + i holds our row 2i + j (HF grouped the even then the odd rows).
        for (size_t i = 0; i < half; ++i) {
            for (size_t j = 0; j < 2; ++j) {
                std::memcpy(base + (2 * i + j) * row_bytes,
                            head.data() + (j * half + i) * row_bytes, row_bytes);
            }
        }
    }
}

namespace {

std::optional<DType> hf_dtype(const std::string& s) {
    if (s == "F32")
        return DType::kF32;
    if (s == "F16")
        return DType::kF16;
    if (s == "BF16")
        return DType::kBF16;
    return std::nullopt;
}

// Our per-layer suffix -> Hugging Face's.
constexpr std::pair<std::string_view, std::string_view> kLayerNames[] = {
        {"attention_norm.weight", "input_layernorm.weight"},
        {"attention.wq.weight", "self_attn.q_proj.weight"},
        {"attention.wk.weight", "self_attn.k_proj.weight"},
        {"attention.wv.weight", "self_attn.v_proj.weight"},
        {"attention.wo.weight", "self_attn.o_proj.weight"},
        {"ffn_norm.weight", "post_attention_layernorm.weight"},
        {"feed_forward.w1.weight", "mlp.gate_proj.weight"},
        {"feed_forward.w2.weight", "mlp.down_proj.weight"},
        {"feed_forward.w3.weight", "mlp.up_proj.weight"},
};

// The Hugging Face name of one of our tensors.
std::string hf_name(const std::string& ours) {
    if (ours == "tok_embeddings.weight")
        return "model.embed_tokens.weight";
    if (ours == "norm.weight")
        return "model.norm.weight";
    if (ours == "output.weight")
        return "lm_head.weight";
    // "layers.N.<suffix>"
    const size_t dot = ours.find('.', 7);
    MISTRAL_CHECK(ours.rfind("layers.", 0) == 0 && dot != std::string::npos,
                  "unexpected tensor name");
    const std::string suffix = ours.substr(dot + 1);
    for (const auto& [our, hf] : kLayerNames) {
        if (suffix == our)
            return "model." + ours.substr(0, dot + 1) + std::string(hf);
    }
    MISTRAL_CHECK(false, "tensor name without a Hugging Face equivalent");
    return {};
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The architecture fields of config.json: refuse what the Mistral forward pass would get wrong.
void check_architecture(const Json& j) {
    if (const Json* arch = j.find("architectures"); arch != nullptr && !arch->is_null()) {
        bool ok = false;
        std::string names;
        for (const Json& a : arch->as_array()) {
            const std::string& s = a.as_string();
            ok = ok || s == "MistralForCausalLM" || s == "LlamaForCausalLM";
            names += (names.empty() ? "" : ", ") + s;
        }
        if (!ok) {
            throw Error(Errc::kUnsupported,
                        "architecture " + (names.empty() ? "(none)" : names) +
                                " is not supported (MistralForCausalLM or LlamaForCausalLM)");
        }
    } else {
        const Json* mt = j.find("model_type");
        if (mt == nullptr || !mt->is_string() ||
            (mt->as_string() != "mistral" && mt->as_string() != "llama")) {
            throw Error(Errc::kUnsupported,
                        "no \"architectures\" and model_type is not mistral or llama");
        }
    }
    if (const Json* rs = j.find("rope_scaling"); rs != nullptr && !rs->is_null()) {
        throw Error(Errc::kUnsupported, "rope_scaling " + rs->dump() + " is not supported");
    }
    if (const Json* act = j.find("hidden_act"); act != nullptr && !act->is_null()) {
        if (!act->is_string() || act->as_string() != "silu") {
            throw Error(Errc::kUnsupported,
                        "hidden_act " + act->dump() + " is not supported (silu)");
        }
    }
    for (const char* key : {"attention_bias", "mlp_bias"}) {
        if (const Json* b = j.find(key); b != nullptr && b->is_bool() && b->as_bool()) {
            throw Error(Errc::kUnsupported, std::string(key) + " = true is not supported");
        }
    }
}

ModelConfig parse_hf_config(const Json& j, bool* tied) {
    if (!j.is_object())
        throw Error(Errc::kBadValue, "not a JSON object");
    check_architecture(j);
    ModelConfig c;
    c.dim = require_int(j, "hidden_size");
    c.hidden_dim = require_int(j, "intermediate_size");
    c.n_layers = require_int(j, "num_hidden_layers");
    c.n_heads = require_int(j, "num_attention_heads");
    c.n_kv_heads = get_int(j, "num_key_value_heads").value_or(c.n_heads);
    if (c.n_heads <= 0)
        throw Error(Errc::kBadValue, "num_attention_heads must be positive");
    c.head_dim = get_int(j, "head_dim").value_or(c.dim / c.n_heads);
    c.vocab_size = require_int(j, "vocab_size");
    c.norm_eps = static_cast<float>(get_double(j, "rms_norm_eps").value_or(1e-5));
    c.rope_theta = static_cast<float>(get_double(j, "rope_theta").value_or(10000.0));
    c.window = get_int(j, "sliding_window").value_or(0);  // null: full attention
    c.max_context = get_int(j, "max_position_embeddings").value_or(0);
    // Token ids may be absent, null, or (in some configs) lists: keep the defaults then.
    if (const Json* b = j.find("bos_token_id"); b != nullptr && b->is_int())
        c.bos_id = b->as_int();
    if (const Json* e = j.find("eos_token_id"); e != nullptr && e->is_int())
        c.eos_id = e->as_int();
    *tied = false;
    if (const Json* t = j.find("tie_word_embeddings"); t != nullptr && !t->is_null())
        *tied = t->as_bool();
    return c;
}

// A file name from the index: a plain name inside the folder, nothing else.
void check_shard_name(const std::string& name) {
    if (name.empty() || name.find('/') != std::string::npos ||
        name.find('\\') != std::string::npos || name == "." || name == "..") {
        throw Error(Errc::kBadValue,
                    "weight_map names a file outside the folder: \"" + name + "\"");
    }
}

class HfSource final : public MappedSource {
public:
    HfSource(const std::filesystem::path& dir, const SourceOptions& opts) {
        kind_ = "hf";
        const auto config_path = dir / "config.json";
        const Json j = read_json_file(config_path);
        bool tied = false;
        try {
            cfg_ = parse_hf_config(j, &tied);
        } catch (const Error& e) {
            throw with_context(e, config_path.string());
        }
        finish_config(cfg_, opts, config_path.string());

        map_files(dir);
        tok_ = read_tokenizer_model(dir);

        std::set<std::string> used;
        const auto resolve = [&](const std::string& ours) -> std::string {
            std::string hf = hf_name(ours);
            if (ours == "output.weight" && tied && raw_.count(hf) == 0)
                hf = "model.embed_tokens.weight";
            return hf;
        };
        const auto lookup = [&](const std::string& ours) -> const RawTensor* {
            const std::string hf = resolve(ours);
            if (const auto bad = bad_dtype_.find(hf); bad != bad_dtype_.end()) {
                throw Error(Errc::kUnsupportedType, dir.string() + ": tensor " + hf +
                                                            " has dtype " + bad->second +
                                                            " (supported: F32, F16, BF16)");
            }
            const auto it = raw_.find(hf);
            if (it == raw_.end())
                return nullptr;
            used.insert(hf);
            return &it->second;
        };
        const auto heads = [&](const std::string& ours) -> size_t {
            if (ends_with(ours, "attention.wq.weight"))
                return static_cast<size_t>(cfg_.n_heads);
            if (ends_with(ours, "attention.wk.weight"))
                return static_cast<size_t>(cfg_.n_kv_heads);
            return 0;
        };
        bind(lookup, resolve, heads, dir.string());

        // Anything else in the files is not part of the model we build: say so once per tensor.
        for (const auto& [name, raw] : raw_) {
            if (used.count(name) != 0 || ends_with(name, "rotary_emb.inv_freq"))
                continue;
            if (opts.warn)
                opts.warn("ignoring tensor " + raw.origin);
        }
        for (const auto& [name, dtype] : bad_dtype_) {
            if (opts.warn)
                opts.warn("ignoring tensor " + name + " (dtype " + dtype + ")");
        }
    }

private:
    // Maps every safetensors file of the folder and indexes its tensors by name.
    void map_files(const std::filesystem::path& dir) {
        namespace fs = std::filesystem;
        std::vector<std::string> files;
        const fs::path index = dir / "model.safetensors.index.json";
        std::error_code ec;
        if (fs::exists(index, ec)) {
            const Json j = read_json_file(index);
            try {
                const Json* wm = j.find("weight_map");
                if (wm == nullptr || !wm->is_object())
                    throw Error(Errc::kBadValue, "missing weight_map");
                for (const auto& [name, file] : wm->as_object()) {
                    const std::string& f = file.as_string();
                    check_shard_name(f);
                    if (std::find(files.begin(), files.end(), f) == files.end())
                        files.push_back(f);
                }
            } catch (const Error& e) {
                throw with_context(e, index.string());
            }
        } else {
            for (const auto& entry : fs::directory_iterator(dir, ec)) {
                const std::string name = entry.path().filename().string();
                if (ends_with(name, ".safetensors") && entry.is_regular_file(ec))
                    files.push_back(name);
            }
            std::sort(files.begin(), files.end());
        }
        if (files.empty()) {
            throw Error(Errc::kIo, dir.string() + ": no *.safetensors files");
        }
        for (const std::string& f : files) {
            const fs::path path = dir / f;
            MappedFile::Options mo;
            mo.sequential = true;  // the converter streams each tensor once
            maps_.push_back(MappedFile::open(path, mo));
            SafetensorsFile st;
            try {
                st = parse_safetensors(maps_.back().bytes());
            } catch (const Error& e) {
                throw with_context(e, path.string());
            }
            for (SafetensorsEntry& t : st.tensors) {
                if (raw_.count(t.name) != 0 || bad_dtype_.count(t.name) != 0) {
                    throw Error(Errc::kBadValue, path.string() + ": tensor " + t.name +
                                                         " also appears in another file");
                }
                const auto type = hf_dtype(t.dtype);
                if (!type) {
                    bad_dtype_[t.name] = t.dtype;
                    continue;
                }
                RawTensor r;
                r.type = *type;
                r.shape = std::move(t.shape);
                r.bytes = t.data;
                r.origin = t.name + " in " + f;
                raw_.emplace(t.name, std::move(r));
            }
        }
    }

    std::map<std::string, RawTensor> raw_;          // HF name -> tensor
    std::map<std::string, std::string> bad_dtype_;  // HF name -> dtype we cannot take
};

}  // namespace

std::unique_ptr<TensorSource> open_hf(const std::filesystem::path& dir, const SourceOptions& opts) {
    return std::make_unique<HfSource>(dir, opts);
}

}  // namespace mistral::convert
