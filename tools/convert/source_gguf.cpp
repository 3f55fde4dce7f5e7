// The GGUF converter source: llama-architecture GGUF files (how Mistral 7B GGUFs are
// published) presented under our tensor names. GGUF keeps q/k rows in Meta's interleaved RoPE
// order, which is ours, so no row permutation is needed (checked against the fixtures).
#include "source_gguf.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include <mistral/error.h>
#include <mistral/model_file.h>
#include <mistral/weights.h>

#include "kquants.h"

namespace mistral::convert {

namespace {

int64_t require_int(const GgufFile& f, const std::string& key) {
    const auto v = f.get_int(key);
    if (!v)
        throw Error(Errc::kBadValue, "missing metadata key " + key);
    return *v;
}

// A key holding a token id: absent -> fallback; must be -1 or in [0, vocab).
int32_t token_id(const GgufFile& f, const std::string& key, int32_t fallback, size_t vocab) {
    const auto v = f.get_int(key);
    if (!v)
        return fallback;
    if (*v < -1 || *v >= static_cast<int64_t>(vocab)) {
        throw Error(Errc::kBadValue, "metadata key " + key + " = " + std::to_string(*v) +
                                             " is not a token id (vocab " + std::to_string(vocab) +
                                             ")");
    }
    return static_cast<int32_t>(*v);
}

bool is_mistral_7b_shape(const ModelConfig& c) {
    const ModelConfig m = mistral_7b_config();
    return c.dim == m.dim && c.n_layers == m.n_layers && c.n_heads == m.n_heads &&
           c.n_kv_heads == m.n_kv_heads && c.hidden_dim == m.hidden_dim &&
           c.vocab_size == m.vocab_size;
}

int64_t vocab_count(const GgufFile& f) {
    const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
    if (tokens == nullptr)
        throw Error(Errc::kBadValue, "missing metadata key tokenizer.ggml.tokens");
    if (tokens->type != GgufType::kArray || tokens->elem != GgufType::kString) {
        throw Error(Errc::kBadValue,
                    "metadata key tokenizer.ggml.tokens is not an array of strings");
    }
    return static_cast<int64_t>(tokens->count);
}

}  // namespace

ModelConfig gguf_llama_config(const GgufFile& f, const SourceOptions& opts) {
    const auto arch = f.get_string("general.architecture");
    if (!arch)
        throw Error(Errc::kBadValue, "missing metadata key general.architecture");
    if (*arch != "llama") {
        throw Error(Errc::kUnsupported,
                    "architecture '" + *arch +
                            "' is not supported (only 'llama', which Mistral GGUFs use)");
    }
    if (const auto experts = f.get_int("llama.expert_count"); experts && *experts > 0) {
        throw Error(Errc::kUnsupported, "mixture-of-experts models (llama.expert_count = " +
                                                std::to_string(*experts) + ") are not supported");
    }
    if (const auto scaling = f.get_string("llama.rope.scaling.type");
        scaling && *scaling != "none") {
        throw Error(Errc::kUnsupported, "RoPE scaling '" + *scaling + "' is not supported");
    }
    if (const auto linear = f.get_float("llama.rope.scale_linear"); linear && *linear != 1.0) {
        throw Error(Errc::kUnsupported,
                    "linear RoPE scaling (llama.rope.scale_linear) is not supported");
    }

    ModelConfig c;
    c.dim = require_int(f, "llama.embedding_length");
    c.n_layers = require_int(f, "llama.block_count");
    c.hidden_dim = require_int(f, "llama.feed_forward_length");
    c.n_heads = require_int(f, "llama.attention.head_count");
    c.n_kv_heads = f.get_int("llama.attention.head_count_kv").value_or(c.n_heads);
    if (c.n_heads <= 0 || c.dim <= 0)
        throw Error(Errc::kBadValue, "non-positive embedding length or head count");
    if (const auto kl = f.get_int("llama.attention.key_length")) {
        c.head_dim = *kl;
    } else {
        if (c.dim % c.n_heads != 0) {
            throw Error(Errc::kBadValue, "embedding length " + std::to_string(c.dim) +
                                                 " is not a multiple of " +
                                                 std::to_string(c.n_heads) + " heads");
        }
        c.head_dim = c.dim / c.n_heads;
    }
    if (const auto vl = f.get_int("llama.attention.value_length"); vl && *vl != c.head_dim) {
        throw Error(Errc::kUnsupported, "value head size " + std::to_string(*vl) +
                                                " differs from key head size " +
                                                std::to_string(c.head_dim));
    }
    if (const auto rd = f.get_int("llama.rope.dimension_count"); rd && *rd != c.head_dim) {
        throw Error(Errc::kUnsupported, "partial RoPE (llama.rope.dimension_count " +
                                                std::to_string(*rd) + " of head size " +
                                                std::to_string(c.head_dim) + ") is not supported");
    }
    const auto eps = f.get_float("llama.attention.layer_norm_rms_epsilon");
    if (!eps)
        throw Error(Errc::kBadValue, "missing metadata key llama.attention.layer_norm_rms_epsilon");
    c.norm_eps = static_cast<float>(*eps);
    c.rope_theta = static_cast<float>(f.get_float("llama.rope.freq_base").value_or(10000.0));
    c.max_context = f.get_int("llama.context_length").value_or(0);
    c.vocab_size = vocab_count(f);
    if (const auto vs = f.get_int("llama.vocab_size"); vs && *vs != c.vocab_size) {
        throw Error(Errc::kBadValue, "llama.vocab_size = " + std::to_string(*vs) +
                                             " but the vocabulary has " +
                                             std::to_string(c.vocab_size) + " tokens");
    }
    const size_t vocab = static_cast<size_t>(c.vocab_size);
    c.bos_id = token_id(f, "tokenizer.ggml.bos_token_id", 1, vocab);
    c.eos_id = token_id(f, "tokenizer.ggml.eos_token_id", 2, vocab);

    // The sliding window: published Mistral GGUFs do not record it.
    const auto key_window = f.get_int("llama.attention.sliding_window");
    if (key_window) {
        c.window = *key_window;
        if (opts.sliding_window && *opts.sliding_window != *key_window && opts.warn) {
            opts.warn("the file's llama.attention.sliding_window = " + std::to_string(*key_window) +
                      " overrides --sliding-window " + std::to_string(*opts.sliding_window));
        }
    } else if (opts.sliding_window) {
        c.window = *opts.sliding_window;
    } else if (is_mistral_7b_shape(c)) {
        c.window = 4096;
        if (opts.warn) {
            opts.warn(
                    "the GGUF file does not record the sliding window; using Mistral 7B v0.1's "
                    "4096 "
                    "(pass --sliding-window N to override)");
        }
    } else {
        c.window = 0;
        if (opts.warn) {
            opts.warn(
                    "the GGUF file does not record the sliding window; using full attention "
                    "(pass --sliding-window N if the model uses one)");
        }
    }
    c.validate();
    return c;
}

TokenizerModel gguf_llama_tokenizer(const GgufFile& f) {
    const auto model = f.get_string("tokenizer.ggml.model");
    if (!model)
        throw Error(Errc::kBadValue, "missing metadata key tokenizer.ggml.model");
    if (*model != "llama") {
        throw Error(Errc::kUnsupported,
                    "tokenizer '" + *model + "' is not supported (only 'llama', SentencePiece)");
    }
    if (const auto cm = f.find("tokenizer.ggml.precompiled_charsmap");
        cm != nullptr && cm->count > 0) {
        throw Error(Errc::kUnsupported,
                    "tokenizers with a precompiled normalization map are not supported");
    }
    TokenizerModel m;
    m.kind = TokenizerModel::Kind::kBpe;
    const size_t n = static_cast<size_t>(vocab_count(f));
    m.pieces = f.find("tokenizer.ggml.tokens")->strings;

    const GgufValue* scores = f.find("tokenizer.ggml.scores");
    if (scores == nullptr || scores->type != GgufType::kArray || scores->elem != GgufType::kF32 ||
        scores->count != n) {
        throw Error(Errc::kBadValue,
                    "tokenizer.ggml.scores must be an array of " + std::to_string(n) + " f32");
    }
    m.scores.resize(n);
    std::memcpy(m.scores.data(), scores->raw.data(), n * sizeof(float));

    const GgufValue* types = f.find("tokenizer.ggml.token_type");
    if (types == nullptr || types->type != GgufType::kArray || types->elem != GgufType::kI32 ||
        types->count != n) {
        throw Error(Errc::kBadValue,
                    "tokenizer.ggml.token_type must be an array of " + std::to_string(n) + " i32");
    }
    m.types.resize(n);
    m.byte_fallback = false;
    for (size_t k = 0; k < n; ++k) {
        int32_t t;
        std::memcpy(&t, types->raw.data() + k * sizeof(t), sizeof(t));
        // GGUF's token types use sentencepiece's numbering (1 normal ... 6 byte).
        if (t < 1 || t > 6) {
            throw Error(Errc::kBadValue,
                        "token " + std::to_string(k) + " has unknown type " + std::to_string(t));
        }
        m.types[k] = static_cast<PieceType>(t);
        if (m.types[k] == PieceType::kByte)
            m.byte_fallback = true;
    }
    m.unk_id = token_id(f, "tokenizer.ggml.unknown_token_id", 0, n);
    m.bos_id = token_id(f, "tokenizer.ggml.bos_token_id", 1, n);
    m.eos_id = token_id(f, "tokenizer.ggml.eos_token_id", 2, n);
    m.pad_id = token_id(f, "tokenizer.ggml.padding_token_id", -1, n);
    m.add_dummy_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    m.remove_extra_whitespaces =
            f.get_bool("tokenizer.ggml.remove_extra_whitespaces").value_or(false);
    m.normalizer_name = "identity";
    return m;
}

std::string gguf_to_our_name(const std::string& g) {
    static constexpr std::pair<std::string_view, std::string_view> kGlobal[] = {
            {"token_embd.weight", "tok_embeddings.weight"},
            {"output_norm.weight", "norm.weight"},
            {"output.weight", "output.weight"},
    };
    static constexpr std::pair<std::string_view, std::string_view> kLayer[] = {
            {"attn_q.weight", "attention.wq.weight"},
            {"attn_k.weight", "attention.wk.weight"},
            {"attn_v.weight", "attention.wv.weight"},
            {"attn_output.weight", "attention.wo.weight"},
            {"ffn_gate.weight", "feed_forward.w1.weight"},
            {"ffn_down.weight", "feed_forward.w2.weight"},
            {"ffn_up.weight", "feed_forward.w3.weight"},
            {"attn_norm.weight", "attention_norm.weight"},
            {"ffn_norm.weight", "ffn_norm.weight"},
    };
    for (const auto& [from, to] : kGlobal) {
        if (g == from)
            return std::string(to);
    }
    // "blk.<N>.<suffix>", N a plain decimal number without leading zeros.
    if (g.rfind("blk.", 0) != 0)
        return "";
    const size_t dot = g.find('.', 4);
    if (dot == std::string::npos || dot == 4 || dot - 4 > 6)
        return "";
    const std::string num = g.substr(4, dot - 4);
    for (char ch : num) {
        if (ch < '0' || ch > '9')
            return "";
    }
    if (num.size() > 1 && num[0] == '0')
        return "";
    const std::string suffix = g.substr(dot + 1);
    for (const auto& [from, to] : kLayer) {
        if (suffix == from)
            return "layers." + num + "." + std::string(to);
    }
    return "";
}

namespace {

class GgufSource final : public TensorSource {
public:
    GgufSource(const std::filesystem::path& path, const SourceOptions& opts)
        : path_(path), file_(MappedFile::open(path)) {
        try {
            gguf_ = parse_gguf(file_.bytes());
            cfg_ = gguf_llama_config(gguf_, opts);
            tok_ = gguf_llama_tokenizer(gguf_);
            build_tensor_list(opts);
        } catch (const Error& e) {
            throw with_context(e, path.string());
        }
    }

    std::string kind() const override { return "gguf"; }
    ModelConfig config() const override { return cfg_; }
    TokenizerModel tokenizer() const override { return tok_; }
    const std::vector<SourceTensor>& tensors() const override { return tensors_; }

    std::vector<std::byte> read(size_t i) override {
        if (i >= tensors_.size()) {
            throw Error(Errc::kInvalidArgument,
                        path_.string() + ": no tensor " + std::to_string(i));
        }
        const GgufTensorInfo& t = gguf_.tensors[index_[i]];
        if (tensors_[i].type != DType::kF32 || t.type == kGgmlF32) {  // stored as we need it
            const auto* p = t.data.data();
            return std::vector<std::byte>(p, p + t.data.size());
        }
        // A K-quant: dequantize to f32, straight into the returned buffer (operator new
        // storage is aligned for float), so a 7B embedding needs one f32 copy, not two.
        const size_t n = static_cast<size_t>(t.n_elements);
        std::vector<std::byte> out(n * sizeof(float));
        if (!dequantize_ggml(t.type, t.data.data(), reinterpret_cast<float*>(out.data()), n)) {
            // build_tensor_list only lets dequantizable types through.
            throw Error(Errc::kUnsupportedType, path_.string() + ": cannot dequantize " + t.name);
        }
        return out;
    }

private:
    void build_tensor_list(const SourceOptions& opts) {
        if (gguf_.tensors.empty()) {
            throw Error(Errc::kMissingTensor,
                        "the file has no tensors (a vocabulary-only GGUF?); nothing to convert");
        }
        std::map<std::string, size_t> by_name;  // our name -> index in gguf_.tensors
        for (size_t k = 0; k < gguf_.tensors.size(); ++k) {
            const std::string ours = gguf_to_our_name(gguf_.tensors[k].name);
            if (ours.empty()) {
                throw Error(Errc::kUnsupported,
                            "tensor '" + gguf_.tensors[k].name +
                                    "' is not part of a Mistral/llama model; refusing to guess");
            }
            by_name[ours] = k;
        }
        std::set<uint32_t> warned;
        size_t used = 0;
        for (const ExpectedTensor& e : expected_tensors(cfg_)) {
            auto it = by_name.find(e.name);
            std::string note;
            if (it == by_name.end() && e.name == "output.weight") {
                it = by_name.find("tok_embeddings.weight");  // tied embeddings
                note = "tied to token_embd.weight";
                --used;  // counted twice below
            }
            if (it == by_name.end())
                throw Error(Errc::kMissingTensor, "missing tensor " + e.name);
            ++used;
            const GgufTensorInfo& t = gguf_.tensors[it->second];
            SourceTensor s;
            s.name = e.name;
            s.note = note;
            for (auto d = t.dims.rbegin(); d != t.dims.rend(); ++d)
                s.shape.push_back(*d);  // [ne1, ne0]
            if (s.shape != e.shape) {
                std::string got, want;
                for (auto d : s.shape)
                    got += (got.empty() ? "" : ", ") + std::to_string(d);
                for (auto d : e.shape)
                    want += (want.empty() ? "" : ", ") + std::to_string(d);
                throw Error(Errc::kShapeMismatch, "tensor '" + t.name + "' has shape [" + got +
                                                          "], the hyperparameters need [" + want +
                                                          "]");
            }
            switch (t.type) {
                case kGgmlF32:
                    s.type = DType::kF32;
                    break;
                case kGgmlF16:
                    s.type = DType::kF16;
                    break;
                case kGgmlBF16:
                    s.type = DType::kBF16;
                    break;
                case kGgmlQ8_0:
                    s.type = DType::kQ8_0;
                    break;
                case kGgmlQ4_0:
                    s.type = DType::kQ4_0;
                    break;
                case kGgmlQ4_K:
                case kGgmlQ5_K:
                case kGgmlQ6_K: {
                    s.type = DType::kF32;
                    const std::string tn = ggml_type_name(t.type);
                    s.note += (s.note.empty() ? "" : "; ") + tn + " dequantized";
                    if (warned.insert(t.type).second && opts.warn) {
                        opts.warn(tn +
                                  " tensors are dequantized and requantized to the output type "
                                  "(some precision is lost; q8_0 keeps the most)");
                    }
                    break;
                }
                default:
                    throw Error(
                            Errc::kUnsupportedType,
                            "tensor '" + t.name + "' has type " + ggml_type_name(t.type) +
                                    " (supported: f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K)");
            }
            tensors_.push_back(std::move(s));
            index_.push_back(it->second);
        }
        if (used != gguf_.tensors.size()) {  // e.g. blk.N with N >= block_count
            for (const auto& [ours, k] : by_name) {
                bool found = false;
                for (const auto& s : tensors_)
                    found = found || s.name == ours;
                if (!found) {
                    throw Error(Errc::kUnsupported,
                                "tensor '" + gguf_.tensors[k].name +
                                        "' does not belong to a model of this shape");
                }
            }
        }
    }

    std::filesystem::path path_;
    MappedFile file_;
    GgufFile gguf_;  // views into file_
    ModelConfig cfg_;
    TokenizerModel tok_;
    std::vector<SourceTensor> tensors_;
    std::vector<size_t> index_;  // tensors_[i] is gguf_.tensors[index_[i]]
};

}  // namespace

std::unique_ptr<TensorSource> open_gguf(const std::filesystem::path& file,
                                        const SourceOptions& opts) {
    return std::make_unique<GgufSource>(file, opts);
}

}  // namespace mistral::convert
