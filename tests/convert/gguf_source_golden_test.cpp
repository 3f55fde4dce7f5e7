// The GGUF source against the fixtures: llama.cpp's GGUF files of the reference models must
// give the manifest's hyperparameters, our tensor list, and the reference weights (the
// Hugging Face safetensors with HF's q/k row permutation undone) exactly (f32), within f16
// rounding (f16), or within per-block quantization bounds (q8_0, q4_0, q4_K, q6_K); and the
// vocabulary must equal the sentencepiece tokenizer.model it was converted from.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <mistral/dtype.h>
#include <mistral/error.h>
#include <mistral/tokenizer.h>
#include <mistral/weights.h>

#include "gguf_reader.h"
#include "kquants.h"
#include "source.h"
#include "source_gguf.h"
#include "test_util.h"

namespace mistral::convert {
namespace {

using test::fixture_path;
using test::read_bytes;

// ---- reference weights: model.safetensors (F32), parsed here independently --------------
struct RefTensor {
    std::vector<uint64_t> shape;
    std::vector<float> data;
};

// Comma-separated unsigned integers.
std::vector<uint64_t> numbers(const std::string& list) {
    std::vector<uint64_t> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ','))
        out.push_back(std::stoull(item));
    return out;
}

// The header is JSON: {"<name>":{"dtype":"F32","shape":[r,c],"data_offsets":[b,e]},...};
// a plain scan suffices for these files.
std::map<std::string, RefTensor> read_safetensors(const std::string& rel) {
    const auto bytes = read_bytes(fixture_path(rel));
    uint64_t header_len;
    std::memcpy(&header_len, bytes.data(), 8);
    const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, header_len);
    std::map<std::string, RefTensor> out;
    const std::string tag = "\":{\"dtype\":\"";
    for (size_t pos = header.find(tag); pos != std::string::npos; pos = header.find(tag, pos + 1)) {
        const size_t name_start = header.rfind('"', pos - 1) + 1;
        const std::string name = header.substr(name_start, pos - name_start);
        EXPECT_EQ(header.compare(pos + tag.size(), 4, "F32\""), 0) << name;
        const size_t shape = header.find("\"shape\":[", pos) + 9;
        const size_t offsets = header.find("\"data_offsets\":[", pos) + 16;
        RefTensor t;
        t.shape = numbers(header.substr(shape, header.find(']', shape) - shape));
        const auto range = numbers(header.substr(offsets, header.find(']', offsets) - offsets));
        t.data.resize((range.at(1) - range.at(0)) / 4);
        std::memcpy(t.data.data(), bytes.data() + 8 + header_len + range[0], range[1] - range[0]);
        out[name] = std::move(t);
    }
    EXPECT_FALSE(out.empty());
    return out;
}

// Hugging Face name of our tensor, and the number of heads whose rows HF permuted (0: none).
std::pair<std::string, int64_t> hf_name(const std::string& ours, const ModelConfig& c) {
    if (ours == "tok_embeddings.weight")
        return {"model.embed_tokens.weight", 0};
    if (ours == "norm.weight")
        return {"model.norm.weight", 0};
    if (ours == "output.weight")
        return {"lm_head.weight", 0};
    const size_t dot = ours.find('.', 7);
    const std::string layer = ours.substr(7, dot - 7), rest = ours.substr(dot + 1);
    const std::map<std::string, std::pair<std::string, int64_t>> m = {
            {"attention.wq.weight", {"self_attn.q_proj.weight", c.n_heads}},
            {"attention.wk.weight", {"self_attn.k_proj.weight", c.n_kv_heads}},
            {"attention.wv.weight", {"self_attn.v_proj.weight", 0}},
            {"attention.wo.weight", {"self_attn.o_proj.weight", 0}},
            {"feed_forward.w1.weight", {"mlp.gate_proj.weight", 0}},
            {"feed_forward.w2.weight", {"mlp.down_proj.weight", 0}},
            {"feed_forward.w3.weight", {"mlp.up_proj.weight", 0}},
            {"attention_norm.weight", {"input_layernorm.weight", 0}},
            {"ffn_norm.weight", {"post_attention_layernorm.weight", 0}},
    };
    const auto& [name, heads] = m.at(rest);
    return {"model.layers." + layer + "." + name, heads};
}

// Our (interleaved, Meta) row order from HF's: our row h*hd + 2i + j = HF row h*hd + j*hd/2 + i
// (README: w.view(n_heads, rows/n_heads/2, 2, cols).transpose(1, 2)).
std::vector<float> unpermute(const RefTensor& t, int64_t n_heads) {
    const size_t rows = t.shape[0], cols = t.shape[1], hd = rows / static_cast<size_t>(n_heads);
    std::vector<float> out(t.data.size());
    for (size_t h = 0; h < static_cast<size_t>(n_heads); ++h) {
        for (size_t i = 0; i < hd / 2; ++i) {
            for (size_t j = 0; j < 2; ++j) {
                const size_t ours = h * hd + 2 * i + j, hf = h * hd + j * hd / 2 + i;
                std::memcpy(&out[ours * cols], &t.data[hf * cols], cols * sizeof(float));
            }
        }
    }
    return out;
}

// The reference values of our tensor `name`, in our row order.
std::vector<float> reference(const std::map<std::string, RefTensor>& ref, const std::string& name,
                             const ModelConfig& c) {
    const auto [hf, heads] = hf_name(name, c);
    const RefTensor& t = ref.at(hf);
    return heads != 0 ? unpermute(t, heads) : t.data;
}

// ---- manifest ---------------------------------------------------------------------------
double manifest_number(const std::string& manifest, const std::string& key) {
    const std::string tag = "\"" + key + "\": ";
    const size_t at = manifest.find(tag);
    if (at == std::string::npos) {
        ADD_FAILURE() << "manifest has no " << key;
        return 0;
    }
    return std::stod(manifest.substr(at + tag.size(), 32));
}

struct Fixture {
    std::string gguf;   // fixtures/gguf/<gguf>.gguf
    std::string model;  // fixtures/reference/<model>/
};

std::unique_ptr<TensorSource> open_fixture(const Fixture& fx, const std::string& manifest,
                                           std::vector<std::string>* warnings) {
    SourceOptions opts;
    opts.sliding_window = static_cast<int64_t>(manifest_number(manifest, "sliding_window"));
    opts.warn = [warnings](const std::string& s) { warnings->push_back(s); };
    return open_gguf(fixture_path("gguf/" + fx.gguf + ".gguf"), opts);
}

// Per-element error bound of a stored tensor, from its raw blocks and the reference value x.
// The quantizers round x to the nearest level of the final (stored) scale, so the error is
// half a step, plus the distance from x to the block's representable range when x lies
// outside it (clamping), plus, for q8_0/q4_0 whose levels are chosen with the unrounded
// scale, the f16 rounding of the scale times the largest level.
std::vector<float> error_bounds(const GgufTensorInfo& t, const std::vector<float>& x) {
    const size_t n = static_cast<size_t>(t.n_elements);
    std::vector<float> bound(n);
    const std::byte* p = t.data.data();
    constexpr float kF16Rel = 1.0f / 2048.0f;  // f16 relative rounding (half an ulp)
    // Half a step plus the clamping distance to the levels [lo, hi].
    const auto level_bound = [&](size_t k, float step, float lo, float hi) {
        const float outside = std::max({0.0f, lo - x[k], x[k] - hi});
        bound[k] = 0.5f * step + outside + 1e-6f * (1.0f + std::fabs(x[k]));
    };
    switch (t.type) {
        case kGgmlQ8_0:  // d = amax/127: every x is in range
            for (size_t b = 0; b < n / 32; ++b) {
                BlockQ8_0 blk;
                std::memcpy(&blk, p + b * sizeof(blk), sizeof(blk));
                const float d = std::fabs(f16_to_f32(blk.d));
                for (size_t k = 0; k < 32; ++k)
                    bound[32 * b + k] = d * (0.5f + 127.0f * kF16Rel) + 1e-9f;
            }
            break;
        case kGgmlQ4_0:  // d = max/-8: -max maps to level 16, clamped to 15: one full step
            for (size_t b = 0; b < n / 32; ++b) {
                BlockQ4_0 blk;
                std::memcpy(&blk, p + b * sizeof(blk), sizeof(blk));
                const float d = std::fabs(f16_to_f32(blk.d));
                for (size_t k = 0; k < 32; ++k)
                    bound[32 * b + k] = d * (1.0f + 8.0f * kF16Rel) + 1e-9f;
            }
            break;
        case kGgmlQ4_K:  // sub-blocks of 32: levels d*sc_j*q - dmin*m_j, q in [0, 15]
            for (size_t b = 0; b < n / 256; ++b) {
                BlockQ4K blk;
                std::memcpy(&blk, p + b * sizeof(blk), sizeof(blk));
                const float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
                const uint8_t* s = blk.scales;
                for (size_t j = 0; j < 8; ++j) {
                    const int sc = j < 4 ? (s[j] & 63) : ((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
                    const int mn = j < 4 ? (s[j + 4] & 63) : ((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
                    const float step = d * static_cast<float>(sc),
                                lo = -dmin * static_cast<float>(mn);
                    for (size_t k = 0; k < 32; ++k) {
                        level_bound(256 * b + 32 * j + k, std::fabs(step),
                                    std::min(lo, lo + 15 * step), std::max(lo, lo + 15 * step));
                    }
                }
            }
            break;
        case kGgmlQ6_K:  // sub-blocks of 16: levels d*sc_j*q, q in [-32, 31]
            for (size_t b = 0; b < n / 256; ++b) {
                BlockQ6K blk;
                std::memcpy(&blk, p + b * sizeof(blk), sizeof(blk));
                const float d = f16_to_f32(blk.d);
                for (size_t j = 0; j < 16; ++j) {
                    const float step = d * static_cast<float>(blk.scales[j]);
                    for (size_t k = 0; k < 16; ++k) {
                        level_bound(256 * b + 16 * j + k, std::fabs(step),
                                    std::min(-32 * step, 31 * step),
                                    std::max(-32 * step, 31 * step));
                    }
                }
            }
            break;
        default:
            ADD_FAILURE() << "no bound for type " << t.type;
    }
    return bound;
}

void check_fixture(const Fixture& fx) {
    SCOPED_TRACE(fx.gguf);
    const std::string manifest =
            test::read_text(fixture_path("reference/" + fx.model + "/manifest.json"));
    std::vector<std::string> warnings;
    auto src = open_fixture(fx, manifest, &warnings);
    const ModelConfig c = src->config();
    EXPECT_EQ(c.dim, manifest_number(manifest, "dim"));
    EXPECT_EQ(c.n_layers, manifest_number(manifest, "n_layers"));
    EXPECT_EQ(c.head_dim, manifest_number(manifest, "head_dim"));
    EXPECT_EQ(c.hidden_dim, manifest_number(manifest, "hidden_dim"));
    EXPECT_EQ(c.n_heads, manifest_number(manifest, "n_heads"));
    EXPECT_EQ(c.n_kv_heads, manifest_number(manifest, "n_kv_heads"));
    EXPECT_EQ(c.vocab_size, manifest_number(manifest, "vocab_size"));
    EXPECT_EQ(c.window, manifest_number(manifest, "sliding_window"));
    EXPECT_FLOAT_EQ(c.norm_eps, static_cast<float>(manifest_number(manifest, "norm_eps")));
    EXPECT_FLOAT_EQ(c.rope_theta, static_cast<float>(manifest_number(manifest, "rope_theta")));
    EXPECT_EQ(c.bos_id, 1);
    EXPECT_EQ(c.eos_id, 2);

    const auto expected = expected_tensors(c);
    ASSERT_EQ(src->tensors().size(), expected.size());
    const auto ref = read_safetensors("reference/" + fx.model + "/hf/model.safetensors");
    const auto file_bytes = read_bytes(fixture_path("gguf/" + fx.gguf + ".gguf"));
    const GgufFile raw = parse_gguf(file_bytes);
    std::map<std::string, std::string> gguf_of;  // our name -> GGUF name
    for (const auto& t : raw.tensors)
        gguf_of[gguf_to_our_name(t.name)] = t.name;

    std::set<std::string> dequantized;
    for (size_t i = 0; i < expected.size(); ++i) {
        const SourceTensor& st = src->tensors()[i];
        SCOPED_TRACE(st.name);
        ASSERT_EQ(st.name, expected[i].name);
        ASSERT_EQ(st.shape, expected[i].shape);
        const std::vector<float> want = reference(ref, st.name, c);
        const auto bytes = src->read(i);
        std::vector<float> got(want.size());
        ASSERT_EQ(bytes.size(), bytes_for(st.type, got.size()));
        row_to_f32(st.type, bytes.data(), got.data(), got.size());
        const GgufTensorInfo& info = *raw.find_tensor(gguf_of.at(st.name));
        if (info.type == kGgmlF32) {
            ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
                    << "f32 must be exact";
            continue;
        }
        if (info.type == kGgmlF16) {
            for (size_t k = 0; k < got.size(); ++k) {
                const float bound = std::max(std::fabs(want[k]) / 2048.0f, 1.0f / (1 << 25));
                ASSERT_LE(std::fabs(got[k] - want[k]), bound) << "value " << k;
            }
            continue;
        }
        if (st.type == DType::kF32)
            dequantized.insert(ggml_type_name(info.type));
        const std::vector<float> bound = error_bounds(info, want);
        double err2 = 0, ref2 = 0;
        for (size_t k = 0; k < got.size(); ++k) {
            ASSERT_LE(std::fabs(got[k] - want[k]), bound[k])
                    << "value " << k << " want " << want[k];
            err2 += static_cast<double>(got[k] - want[k]) * static_cast<double>(got[k] - want[k]);
            ref2 += static_cast<double>(want[k]) * static_cast<double>(want[k]);
        }
        // Independent of the bound's scale decoding: the relative RMS error of a 4-bit
        // quantization of Gaussian-like weights is ~10%; 6/8 bits far less.
        const double rel = std::sqrt(err2 / ref2);
        const double max_rel = info.type == kGgmlQ8_0 ? 0.01 : info.type == kGgmlQ6_K ? 0.04 : 0.15;
        EXPECT_LE(rel, max_rel) << ggml_type_name(info.type);
    }
    EXPECT_EQ(warnings.size(), dequantized.size()) << "one warning per dequantized type";
}

TEST(GgufGolden, GqaSwaF32MatchesReferenceExactly) {
    check_fixture({"gqa-swa-f32", "gqa-swa"});
}
TEST(GgufGolden, GqaSwaF16) {
    check_fixture({"gqa-swa-f16", "gqa-swa"});
}
TEST(GgufGolden, GqaSwaQ8_0) {
    check_fixture({"gqa-swa-q8_0", "gqa-swa"});
}
TEST(GgufGolden, GqaSwaQ4_0) {
    check_fixture({"gqa-swa-q4_0", "gqa-swa"});
}
TEST(GgufGolden, Dim256Q8_0) {
    check_fixture({"dim256-q8_0", "dim256"});
}
TEST(GgufGolden, Dim256Q4_0) {
    check_fixture({"dim256-q4_0", "dim256"});
}
TEST(GgufGolden, Dim256Q4KM) {
    check_fixture({"dim256-q4_k_m", "dim256"});
}
TEST(GgufGolden, Dim256Q6K) {
    check_fixture({"dim256-q6_k", "dim256"});
}

// The claim that GGUF q/k rows are already in our (interleaved) order has teeth: taken
// without undoing HF's permutation, the reference differs.
TEST(GgufGolden, QkRowsAreInterleavedNotHfOrder) {
    const std::string manifest = test::read_text(fixture_path("reference/gqa-swa/manifest.json"));
    std::vector<std::string> warnings;
    auto src = open_fixture({"gqa-swa-f32", "gqa-swa"}, manifest, &warnings);
    const auto ref = read_safetensors("reference/gqa-swa/hf/model.safetensors");
    for (size_t i = 0; i < src->tensors().size(); ++i) {
        const std::string& name = src->tensors()[i].name;
        if (name != "layers.0.attention.wq.weight" && name != "layers.0.attention.wk.weight")
            continue;
        const auto bytes = src->read(i);
        const auto& hf = ref.at(hf_name(name, src->config()).first).data;
        ASSERT_EQ(bytes.size(), hf.size() * 4);
        EXPECT_NE(std::memcmp(bytes.data(), hf.data(), bytes.size()), 0) << name;
    }
}

// ---- vocabulary -------------------------------------------------------------------------
void expect_same_vocab(const TokenizerModel& got, const TokenizerModel& want) {
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(got.pieces, want.pieces);
    EXPECT_EQ(got.scores, want.scores);
    EXPECT_EQ(got.types, want.types);
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.byte_fallback, want.byte_fallback);
    EXPECT_EQ(got.unk_id, want.unk_id);
    EXPECT_EQ(got.bos_id, want.bos_id);
    EXPECT_EQ(got.eos_id, want.eos_id);
    EXPECT_EQ(got.pad_id, want.pad_id);
    EXPECT_EQ(got.add_dummy_prefix, want.add_dummy_prefix);
    EXPECT_EQ(got.remove_extra_whitespaces, want.remove_extra_whitespaces);
    EXPECT_EQ(got.escape_whitespaces, want.escape_whitespaces);
    EXPECT_EQ(got.normalizer_name, want.normalizer_name);
    EXPECT_EQ(got.treat_whitespace_as_suffix, want.treat_whitespace_as_suffix);
}

TEST(GgufGolden, LlamaSpmVocabularyEqualsLlama2Model) {
    const auto bytes = read_bytes(fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf"));
    const GgufFile f = parse_gguf(bytes);
    EXPECT_TRUE(f.tensors.empty());
    const TokenizerModel got = gguf_llama_tokenizer(f);
    const TokenizerModel want =
            parse_sentencepiece_model(read_bytes(fixture_path("tokenizer/llama2.model")));
    expect_same_vocab(got, want);
}

TEST(GgufGolden, FixtureVocabulariesEqualTheirTokenizerModels) {
    for (const Fixture& fx :
         {Fixture{"gqa-swa-f32", "gqa-swa"}, Fixture{"dim256-q4_k_m", "dim256"}}) {
        SCOPED_TRACE(fx.gguf);
        const std::string manifest =
                test::read_text(fixture_path("reference/" + fx.model + "/manifest.json"));
        std::vector<std::string> warnings;
        auto src = open_fixture(fx, manifest, &warnings);
        const TokenizerModel want = parse_sentencepiece_model(
                read_bytes(fixture_path("reference/" + fx.model + "/hf/tokenizer.model")));
        expect_same_vocab(src->tokenizer(), want);
    }
}

// End to end: the vocabulary read from the GGUF tokenizes llama.cpp's llama-spm test cases
// to the ids in its .out file (made with the sentencepiece library).
TEST(GgufGolden, LlamaSpmVocabularyEncodesTheReferenceCases) {
    const auto bytes = read_bytes(fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf"));
    const Tokenizer tok(gguf_llama_tokenizer(parse_gguf(bytes)));
    const std::string inp =
            test::read_text(fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf.inp"));
    std::istringstream out(
            test::read_text(fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf.out")));
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t n_cases = 0;
    for (size_t start = 0, end; (end = inp.find(sep, start)) != std::string::npos;
         start = end + sep.size()) {
        const std::string text = inp.substr(start, end - start);
        std::string line;
        ASSERT_TRUE(std::getline(out, line)) << "case " << n_cases;
        std::istringstream ids_in(line);
        std::vector<TokenId> want;
        for (TokenId id; ids_in >> id;)
            want.push_back(id);
        EXPECT_EQ(tok.encode(text), want) << "case " << n_cases << ": '" << text << "'";
        ++n_cases;
    }
    EXPECT_GT(n_cases, 30u);
}

}  // namespace
}  // namespace mistral::convert
