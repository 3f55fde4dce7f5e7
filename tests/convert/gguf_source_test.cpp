// The GGUF converter source on synthetic files: name mapping, shapes, types, tied output,
// vocabulary, sliding-window precedence and the refusals.
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/weights.h>

#include "gguf_builder.h"
#include "gguf_reader.h"
#include "source.h"
#include "source_gguf.h"
#include "test_util.h"

namespace mistral::convert {
namespace {

using test::GgufBuilder;

struct Tiny {
    std::string arch = "llama";
    std::string tok_model = "llama";
    uint64_t dim = 32, hidden = 64, n_layers = 1, n_heads = 2, n_kv_heads = 1;
    std::vector<std::string> pieces = {"<unk>", "<s>", "</s>", "<0x41>",
                                       "\xE2\x96\x81"
                                       "a"};
    std::vector<int32_t> types = {2, 3, 3, 6, 1};
    std::set<std::string> omit;                            // GGUF tensor names to leave out
    std::map<std::string, uint32_t> type_of;               // GGUF name -> ggml type (default f32)
    std::map<std::string, std::vector<uint64_t>> dims_of;  // GGUF name -> dims override
    std::vector<std::string> extra;                        // extra f32 [dim] tensors
    std::optional<uint32_t> window_key;
    std::string rope_scaling;
};

struct Built {
    std::vector<std::byte> file;
    std::map<std::string, std::vector<std::byte>> data;  // GGUF name -> tensor bytes
};

size_t tensor_bytes(uint32_t type, uint64_t n) {
    const GgmlTypeInfo* info = ggml_type_info(type);
    return static_cast<size_t>(n / info->block_size * info->block_bytes);
}

Built build(const Tiny& t) {
    const uint64_t head_dim = t.dim / t.n_heads, vocab = t.pieces.size();
    std::vector<std::pair<std::string, std::vector<uint64_t>>> list = {
            {"token_embd.weight", {t.dim, vocab}}};
    for (uint64_t l = 0; l < t.n_layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        list.push_back({p + "attn_norm.weight", {t.dim}});
        list.push_back({p + "attn_q.weight", {t.dim, t.n_heads * head_dim}});
        list.push_back({p + "attn_k.weight", {t.dim, t.n_kv_heads * head_dim}});
        list.push_back({p + "attn_v.weight", {t.dim, t.n_kv_heads * head_dim}});
        list.push_back({p + "attn_output.weight", {t.n_heads * head_dim, t.dim}});
        list.push_back({p + "ffn_norm.weight", {t.dim}});
        list.push_back({p + "ffn_gate.weight", {t.dim, t.hidden}});
        list.push_back({p + "ffn_down.weight", {t.hidden, t.dim}});
        list.push_back({p + "ffn_up.weight", {t.dim, t.hidden}});
    }
    list.push_back({"output_norm.weight", {t.dim}});
    list.push_back({"output.weight", {t.dim, vocab}});
    for (const auto& e : t.extra)
        list.push_back({e, {t.dim}});
    std::erase_if(list, [&](const auto& e) { return t.omit.count(e.first) != 0; });
    for (auto& [name, dims] : list) {
        if (auto it = t.dims_of.find(name); it != t.dims_of.end())
            dims = it->second;
    }

    size_t n_kv = 14 + (t.window_key ? 1 : 0) + (t.rope_scaling.empty() ? 0 : 1);
    GgufBuilder b;
    b.header(3, list.size(), n_kv);
    b.kv_string("general.architecture", t.arch);
    b.kv_u32("llama.context_length", 4096);
    b.kv_u32("llama.embedding_length", static_cast<uint32_t>(t.dim));
    b.kv_u32("llama.block_count", static_cast<uint32_t>(t.n_layers));
    b.kv_u32("llama.feed_forward_length", static_cast<uint32_t>(t.hidden));
    b.kv_u32("llama.attention.head_count", static_cast<uint32_t>(t.n_heads));
    b.kv_u32("llama.attention.head_count_kv", static_cast<uint32_t>(t.n_kv_heads));
    b.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-6f);
    b.kv_f32("llama.rope.freq_base", 1000000.0f);
    if (t.window_key)
        b.kv_u32("llama.attention.sliding_window", *t.window_key);
    if (!t.rope_scaling.empty())
        b.kv_string("llama.rope.scaling.type", t.rope_scaling);
    b.kv_string("tokenizer.ggml.model", t.tok_model);
    b.kv_strings("tokenizer.ggml.tokens", t.pieces);
    std::vector<float> scores;
    for (size_t i = 0; i < t.pieces.size(); ++i)
        scores.push_back(-static_cast<float>(i));
    b.kv_f32s("tokenizer.ggml.scores", scores);
    b.kv_i32s("tokenizer.ggml.token_type", t.types);
    b.kv_u32("tokenizer.ggml.bos_token_id", 1);

    Built out;
    uint64_t offset = 0;
    std::vector<std::vector<std::byte>> blobs;
    for (const auto& [name, dims] : list) {
        uint64_t n = 1;
        for (auto d : dims)
            n *= d;
        const uint32_t type = t.type_of.count(name) ? t.type_of.at(name) : kGgmlF32;
        std::vector<std::byte> blob(tensor_bytes(type, n));
        if (type == kGgmlF32) {
            for (size_t k = 0; k < n; ++k) {
                const float v = static_cast<float>(blobs.size()) + 0.001f * static_cast<float>(k);
                std::memcpy(blob.data() + 4 * k, &v, 4);
            }
        } else {
            for (size_t k = 0; k < blob.size(); ++k)
                blob[k] = std::byte{static_cast<uint8_t>(k * 7 % 13)};
        }
        b.tensor(name, dims, type, offset);
        offset += (blob.size() + 31) / 32 * 32;
        out.data[name] = blob;
        blobs.push_back(std::move(blob));
    }
    b.pad_to(32);
    for (const auto& blob : blobs) {
        b.raw(blob.data(), blob.size());
        b.pad_to(32);
    }
    out.file = std::move(b.out);
    return out;
}

struct Opened {
    test::TempDir dir;
    std::vector<std::string> warnings;
    std::unique_ptr<TensorSource> src;
};

std::unique_ptr<Opened> open_tiny(const Tiny& t, std::optional<int64_t> window = std::nullopt,
                                  Built* built_out = nullptr) {
    auto o = std::make_unique<Opened>();
    Built built = build(t);
    const auto path = o->dir / "tiny.gguf";
    std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(built.file.data()),
                   static_cast<std::streamsize>(built.file.size()));
    SourceOptions opts;
    opts.sliding_window = window;
    auto* w = &o->warnings;
    opts.warn = [w](const std::string& s) { w->push_back(s); };
    o->src = open_gguf(path, opts);
    if (built_out != nullptr)
        *built_out = std::move(built);
    return o;
}

template <typename F>
Error error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no mistral::Error thrown";
    return Error(Errc::kIo, "none");
}

TEST(GgufSource, MapsNamesShapesAndBytes) {
    Tiny t;
    t.type_of["blk.0.attn_v.weight"] = kGgmlQ8_0;
    t.type_of["blk.0.ffn_up.weight"] = kGgmlQ4_0;
    t.type_of["blk.0.ffn_gate.weight"] = kGgmlF16;
    t.type_of["blk.0.ffn_down.weight"] = kGgmlBF16;
    Built built;
    auto o = open_tiny(t, 16, &built);
    const TensorSource& s = *o->src;
    EXPECT_EQ(s.kind(), "gguf");
    const ModelConfig c = s.config();
    EXPECT_EQ(c.dim, 32);
    EXPECT_EQ(c.n_layers, 1);
    EXPECT_EQ(c.n_heads, 2);
    EXPECT_EQ(c.n_kv_heads, 1);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.hidden_dim, 64);
    EXPECT_EQ(c.vocab_size, 5);
    EXPECT_EQ(c.window, 16);
    EXPECT_EQ(c.max_context, 4096);
    EXPECT_FLOAT_EQ(c.norm_eps, 1e-6f);
    EXPECT_FLOAT_EQ(c.rope_theta, 1e6f);
    EXPECT_TRUE(o->warnings.empty());

    const auto expected = expected_tensors(c);
    ASSERT_EQ(s.tensors().size(), expected.size());
    const std::map<std::string, std::string> gguf_name = {
            {"tok_embeddings.weight", "token_embd.weight"},
            {"layers.0.attention.wq.weight", "blk.0.attn_q.weight"},
            {"layers.0.attention.wk.weight", "blk.0.attn_k.weight"},
            {"layers.0.attention.wv.weight", "blk.0.attn_v.weight"},
            {"layers.0.attention.wo.weight", "blk.0.attn_output.weight"},
            {"layers.0.feed_forward.w1.weight", "blk.0.ffn_gate.weight"},
            {"layers.0.feed_forward.w2.weight", "blk.0.ffn_down.weight"},
            {"layers.0.feed_forward.w3.weight", "blk.0.ffn_up.weight"},
            {"layers.0.attention_norm.weight", "blk.0.attn_norm.weight"},
            {"layers.0.ffn_norm.weight", "blk.0.ffn_norm.weight"},
            {"norm.weight", "output_norm.weight"},
            {"output.weight", "output.weight"},
    };
    for (size_t i = 0; i < expected.size(); ++i) {
        const SourceTensor& st = s.tensors()[i];
        EXPECT_EQ(st.name, expected[i].name);
        EXPECT_EQ(st.shape, expected[i].shape) << st.name;
        EXPECT_EQ(o->src->read(i), built.data.at(gguf_name.at(st.name))) << st.name;
    }
    EXPECT_EQ(s.tensors()[4].type, DType::kQ8_0);  // wv
    EXPECT_EQ(s.tensors()[9].type, DType::kQ4_0);  // w3
    EXPECT_EQ(s.tensors()[7].type, DType::kF16);   // w1
    EXPECT_EQ(s.tensors()[8].type, DType::kBF16);  // w2

    const TokenizerModel tok = s.tokenizer();
    EXPECT_EQ(tok.kind, TokenizerModel::Kind::kBpe);
    EXPECT_EQ(tok.pieces, t.pieces);
    EXPECT_EQ(tok.scores, (std::vector<float>{0, -1, -2, -3, -4}));
    EXPECT_EQ(tok.types[3], PieceType::kByte);
    EXPECT_EQ(tok.types[4], PieceType::kNormal);
    EXPECT_TRUE(tok.byte_fallback);
    EXPECT_TRUE(tok.add_dummy_prefix);
    EXPECT_EQ(tok.bos_id, 1);
    EXPECT_EQ(tok.eos_id, 2);  // default when the key is absent
    EXPECT_EQ(tok.unk_id, 0);
    EXPECT_EQ(tok.pad_id, -1);
}

TEST(GgufSource, NoBytePiecesMeansNoByteFallback) {
    Tiny t;
    t.types = {2, 3, 3, 1, 1};
    EXPECT_FALSE(open_tiny(t, 16)->src->tokenizer().byte_fallback);
}

TEST(GgufSource, TiedOutputReusesTheEmbedding) {
    Tiny t;
    t.omit.insert("output.weight");
    Built built;
    auto o = open_tiny(t, 16, &built);
    const auto& ts = o->src->tensors();
    ASSERT_EQ(ts.back().name, "output.weight");
    EXPECT_NE(ts.back().note.find("tied"), std::string::npos);
    EXPECT_EQ(o->src->read(ts.size() - 1), built.data.at("token_embd.weight"));
}

TEST(GgufSource, KQuantsAreDequantizedWithOneWarningPerType) {
    Tiny t;
    t.dim = 256;
    t.hidden = 512;
    t.n_heads = 8;
    t.n_kv_heads = 2;
    t.type_of = {{"blk.0.attn_q.weight", kGgmlQ4_K},
                 {"blk.0.attn_k.weight", kGgmlQ4_K},
                 {"blk.0.ffn_up.weight", kGgmlQ5_K},
                 {"output.weight", kGgmlQ6_K}};
    Built built;
    auto o = open_tiny(t, 16, &built);
    EXPECT_EQ(o->warnings.size(), 3u);
    const auto& ts = o->src->tensors();
    EXPECT_EQ(ts[2].name, "layers.0.attention.wq.weight");
    EXPECT_EQ(ts[2].type, DType::kF32);
    EXPECT_EQ(ts[2].note, "q4_K dequantized");
    EXPECT_EQ(ts.back().note, "q6_K dequantized");
    const auto bytes = o->src->read(ts.size() - 1);
    EXPECT_EQ(bytes.size(), 5u * 256u * sizeof(float));
}

TEST(GgufSource, UnsupportedTensorTypeNamesTensorAndType) {
    Tiny t;
    t.type_of["blk.0.attn_k.weight"] = 3;  // q4_1
    const Error e = error_of([&] { open_tiny(t, 16); });
    EXPECT_EQ(e.code(), Errc::kUnsupportedType);
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_k.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("q4_1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tiny.gguf"), std::string::npos) << e.what();
}

TEST(GgufSource, RefusesUnknownExtraAndMissingTensors) {
    Tiny extra;
    extra.extra = {"rope_freqs.weight"};
    EXPECT_EQ(error_of([&] { open_tiny(extra, 16); }).code(), Errc::kUnsupported);
    Tiny beyond;
    beyond.extra = {"blk.1.attn_norm.weight"};  // only one layer
    EXPECT_EQ(error_of([&] { open_tiny(beyond, 16); }).code(), Errc::kUnsupported);
    Tiny missing;
    missing.omit.insert("blk.0.ffn_up.weight");
    const Error e = error_of([&] { open_tiny(missing, 16); });
    EXPECT_EQ(e.code(), Errc::kMissingTensor);
    EXPECT_NE(std::string(e.what()).find("layers.0.feed_forward.w3.weight"), std::string::npos);
}

TEST(GgufSource, ShapeMismatch) {
    Tiny t;
    t.dims_of["blk.0.attn_k.weight"] = {32, 32};
    EXPECT_EQ(error_of([&] { open_tiny(t, 16); }).code(), Errc::kShapeMismatch);
}

TEST(GgufSource, RefusesOtherArchitecturesTokenizersAndRopeScaling) {
    Tiny arch;
    arch.arch = "gemma";
    const Error e = error_of([&] { open_tiny(arch, 16); });
    EXPECT_EQ(e.code(), Errc::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("gemma"), std::string::npos);
    Tiny tok;
    tok.tok_model = "gpt2";
    EXPECT_EQ(error_of([&] { open_tiny(tok, 16); }).code(), Errc::kUnsupported);
    Tiny rope;
    rope.rope_scaling = "yarn";
    EXPECT_EQ(error_of([&] { open_tiny(rope, 16); }).code(), Errc::kUnsupported);
    Tiny none;
    none.rope_scaling = "none";
    EXPECT_NO_THROW(open_tiny(none, 16));
    Tiny bad_type;
    bad_type.types[4] = 7;
    EXPECT_EQ(error_of([&] { open_tiny(bad_type, 16); }).code(), Errc::kBadValue);
}

TEST(GgufSource, SlidingWindowPrecedence) {
    Tiny keyed;
    keyed.window_key = 8;
    auto a = open_tiny(keyed, std::nullopt);
    EXPECT_EQ(a->src->config().window, 8);
    EXPECT_TRUE(a->warnings.empty());
    auto b = open_tiny(keyed, 100);  // the file's key wins over the flag, with a warning
    EXPECT_EQ(b->src->config().window, 8);
    EXPECT_EQ(b->warnings.size(), 1u);
    auto c = open_tiny(Tiny{}, 100);
    EXPECT_EQ(c->src->config().window, 100);
    EXPECT_TRUE(c->warnings.empty());
    auto d = open_tiny(Tiny{}, std::nullopt);  // unknown window, not Mistral 7B: full attention
    EXPECT_EQ(d->src->config().window, 0);
    EXPECT_EQ(d->warnings.size(), 1u);
}

TEST(GgufSource, Mistral7bShapeDefaultsToWindow4096) {
    GgufBuilder b;
    b.header(3, 0, 12);
    b.kv_string("general.architecture", "llama");
    b.kv_u32("llama.embedding_length", 4096);
    b.kv_u32("llama.block_count", 32);
    b.kv_u32("llama.feed_forward_length", 14336);
    b.kv_u32("llama.attention.head_count", 32);
    b.kv_u32("llama.attention.head_count_kv", 8);
    b.kv_u32("llama.context_length", 32768);
    b.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    b.kv_f32("llama.rope.freq_base", 10000.0f);
    b.kv_string("tokenizer.ggml.model", "llama");
    b.kv_strings("tokenizer.ggml.tokens", std::vector<std::string>(32000, "x"));
    b.kv_u32("tokenizer.ggml.eos_token_id", 2);
    const GgufFile f = parse_gguf(b.out);
    std::vector<std::string> warnings;
    SourceOptions opts;
    opts.warn = [&](const std::string& s) { warnings.push_back(s); };
    const ModelConfig c = gguf_llama_config(f, opts);
    EXPECT_EQ(c.window, 4096);
    EXPECT_EQ(c.head_dim, 128);
    EXPECT_EQ(c.max_context, 32768);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("4096"), std::string::npos);
    opts.sliding_window = 2048;
    warnings.clear();
    EXPECT_EQ(gguf_llama_config(f, opts).window, 2048);
    EXPECT_TRUE(warnings.empty());
}

TEST(GgufSource, NameMapping) {
    EXPECT_EQ(gguf_to_our_name("blk.12.ffn_down.weight"), "layers.12.feed_forward.w2.weight");
    EXPECT_EQ(gguf_to_our_name("token_embd.weight"), "tok_embeddings.weight");
    EXPECT_EQ(gguf_to_our_name("blk.01.attn_q.weight"), "");
    EXPECT_EQ(gguf_to_our_name("blk..attn_q.weight"), "");
    EXPECT_EQ(gguf_to_our_name("blk.0.attn_q.bias"), "");
    EXPECT_EQ(gguf_to_our_name("blk.x.attn_q.weight"), "");
    EXPECT_EQ(gguf_to_our_name("rope_freqs.weight"), "");
}

}  // namespace
}  // namespace mistral::convert
