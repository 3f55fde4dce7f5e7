// The forward pass against the official mistral-src implementation (fixtures/reference: its
// float64 logits for random models with short sliding windows; fixtures/gguf: the same models as
// llama.cpp lays them out; fixtures/kjv-tiny: a trained model's logits and greedy continuations).
// Every model is converted by our converter from the fixture's own files into a TempDir.
//
// Tolerances (err = max |ours - reference| / max |reference|, over all positions):
//   f32 / bf16 / f16 weights, f32 cache: 1e-4 (the bound; measured <= 2.4e-6).
//   f16 KV cache (f32 weights): 3e-3 (measured <= 1.1e-3: keys/values rounded to 11 bits).
//   q8_0 / q4_0 / K-quant weights: rounding the weights alone moves these random, redundancy-free
//   models far (the naive double pass over the dequantized q8_0 weights is already 2.7-4.1% off,
//   q4_0 43-62%), so the official reference only bounds gross errors (q8_0 0.12, 4-bit 1.0) and
//   the tight check is against that naive pass over the same stored weights, where only our
//   q8_0 activation quantization differs: 5e-2 (measured in the test output below).
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <mistral/kernels.h>
#include <mistral/session.h>

#include "convert.h"
#include "model/test_models.h"

namespace mistral::test {
namespace {

struct RefModel {
    const char* name;
    int64_t window;
};
constexpr RefModel kRefModels[] = {
        {"gqa-swa", 8}, {"mqa-swa-theta1e6", 5}, {"mha-full", 4096}, {"dim256", 16}};

std::vector<TokenId> read_ids(const std::filesystem::path& p) {
    std::istringstream in(read_text(p));
    std::vector<TokenId> ids;
    TokenId v = 0;
    while (in >> v)
        ids.push_back(v);
    return ids;
}

double rel_err(std::span<const float> got, std::span<const float> want) {
    EXPECT_EQ(got.size(), want.size());
    double err = 0, mx = 0;
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
        err = std::max(err, std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])));
        mx = std::max(mx, std::abs(static_cast<double>(want[i])));
    }
    return err / mx;
}

std::unique_ptr<Model> convert(const TempDir& dir, const std::filesystem::path& input,
                               const std::string& out_name,
                               std::optional<DType> type = std::nullopt,
                               std::optional<int64_t> window = std::nullopt) {
    convert::ConvertOptions o;
    o.input = input;
    o.output = dir / out_name;
    o.type = type;
    o.sliding_window = window;
    convert::convert_model(o);
    return Model::load(o.output);
}

// All-position logits, fed in chunks.
std::vector<float> logits_chunked(const Model& m, std::span<const TokenId> ids, size_t chunk,
                                  DType kv = DType::kF32) {
    SessionOptions o;
    o.all_logits = true;
    o.max_batch = static_cast<int64_t>(chunk);
    o.kv_type = kv;
    Session s(m, select_kernels(), o);
    std::vector<float> all;
    for (size_t b = 0; b < ids.size(); b += chunk) {
        const auto out = s.forward(ids.subspan(b, std::min(chunk, ids.size() - b)), s.pos(), true);
        all.insert(all.end(), out.begin(), out.end());
    }
    return all;
}

class ReferenceModel : public ::testing::TestWithParam<RefModel> {};

// hf, hf-bf16 and native sources (whole sequence), and for native chunk sizes 1, 3, W, W+5.
// Golden tests run the selected (fastest) kernel table; chunk-size results must agree within
// 1e-6 of each other (forward_test.cpp checks bit-identity for the reference table).
TEST_P(ReferenceModel, EverySourceAndChunkSizeWithin1e4) {
    const RefModel rm = GetParam();
    const auto dir = fixture_path(std::string("reference/") + rm.name);
    const auto ids = read_ids(dir / "tokens.txt");
    const auto want = read_f32(dir / "logits.f32");
    TempDir tmp;
    for (const char* src : {"hf", "hf-bf16", "native"}) {
        const auto model = convert(tmp, dir / src, std::string(src) + ".mst");
        ASSERT_EQ(model->config().window, rm.window) << src;
        const size_t W = static_cast<size_t>(rm.window);
        const auto whole = logits_chunked(*model, ids, ids.size());
        EXPECT_LT(rel_err(whole, want), 1e-4) << rm.name << " " << src;
        if (std::string(src) != "native")
            continue;
        for (size_t chunk : {size_t{1}, size_t{3}, W, W + 5}) {
            if (chunk >= ids.size())
                continue;  // the whole-sequence case above
            const auto got = logits_chunked(*model, ids, chunk);
            EXPECT_LT(rel_err(got, want), 1e-4) << rm.name << " " << src << " chunk " << chunk;
            EXPECT_LT(rel_err(got, whole), 1e-6) << rm.name << " " << src << " chunk " << chunk;
        }
    }
}

TEST_P(ReferenceModel, F16KvCacheWithinItsBound) {
    const RefModel rm = GetParam();
    const auto dir = fixture_path(std::string("reference/") + rm.name);
    const auto ids = read_ids(dir / "tokens.txt");
    const auto want = read_f32(dir / "logits.f32");
    TempDir tmp;
    const auto model = convert(tmp, dir / "native", "m.mst");
    const auto got = logits_chunked(*model, ids, 3, DType::kF16);
    const double err = rel_err(got, want);
    EXPECT_LT(err, 3e-3) << rm.name;
    EXPECT_GT(err, 1e-5) << rm.name << ": the f16 cache should be visible";
    EXPECT_LT(rel_err(got, logits_chunked(*model, ids, ids.size(), DType::kF16)), 1e-6);
}

// Converted to each type by our converter.
TEST_P(ReferenceModel, ConvertedTypesWithinTheirBounds) {
    const RefModel rm = GetParam();
    const auto dir = fixture_path(std::string("reference/") + rm.name);
    const auto ids = read_ids(dir / "tokens.txt");
    const auto want = read_f32(dir / "logits.f32");
    TempDir tmp;
    const struct {
        DType type;
        double vs_reference, vs_naive;
    } cases[] = {{DType::kF16, 1e-4, 1e-4},
                 {DType::kBF16, 1e-4, 1e-4},
                 {DType::kQ8_0, 0.12, 5e-2},
                 {DType::kQ4_0, 1.0, 5e-2}};
    for (const auto& c : cases) {
        const auto model =
                convert(tmp, dir / "native", std::string(dtype_name(c.type)) + ".mst", c.type);
        const auto got = logits_chunked(*model, ids, 7);
        const double e_ref = rel_err(got, want);
        EXPECT_LT(e_ref, c.vs_reference) << rm.name << " " << dtype_name(c.type);
        if (c.type == DType::kF16) {  // token by token too: f16x16 matrices take the decode kernel
            EXPECT_LT(rel_err(logits_chunked(*model, ids, 1), want), c.vs_reference) << rm.name;
        }
        double e_naive = 0;
        if (is_quantized(c.type)) {  // float types: the reference check above is already tight
            const auto naive = naive::logits(*model, ids);
            std::vector<double> flat;
            for (const auto& r : naive)
                flat.insert(flat.end(), r.begin(), r.end());
            e_naive = rel_max_error(got, flat);
            EXPECT_LT(e_naive, c.vs_naive) << rm.name << " " << dtype_name(c.type);
        }
        std::printf("  %-18s %-5s vs reference %.3g, vs naive pass on the same weights %.3g\n",
                    rm.name, std::string(dtype_name(c.type)).c_str(), e_ref, e_naive);
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceModel, ::testing::ValuesIn(kRefModels),
                         [](const ::testing::TestParamInfo<RefModel>& p) {
                             std::string n = p.param.name;
                             for (char& ch : n) {
                                 if (ch == '-')
                                     ch = '_';
                             }
                             return n;
                         });

// GGUF files made by llama.cpp (converted with --sliding-window from the manifest).
TEST(GgufFixtures, WithinTheirBounds) {
    const struct {
        const char* file;
        const char* ref;
        int64_t window;
        double bound;
    } cases[] = {
            {"gqa-swa-f32", "gqa-swa", 8, 1e-4},  {"gqa-swa-f16", "gqa-swa", 8, 1e-4},
            {"gqa-swa-q8_0", "gqa-swa", 8, 0.12}, {"gqa-swa-q4_0", "gqa-swa", 8, 1.0},
            {"dim256-q8_0", "dim256", 16, 0.12},  {"dim256-q4_0", "dim256", 16, 1.0},
            {"dim256-q4_k_m", "dim256", 16, 1.0}, {"dim256-q6_k", "dim256", 16, 0.25},
    };
    TempDir tmp;
    for (const auto& c : cases) {
        const auto dir = fixture_path(std::string("reference/") + c.ref);
        const auto ids = read_ids(dir / "tokens.txt");
        const auto want = read_f32(dir / "logits.f32");
        const auto model = convert(tmp, fixture_path(std::string("gguf/") + c.file + ".gguf"),
                                   std::string(c.file) + ".mst", std::nullopt, c.window);
        ASSERT_EQ(model->config().window, c.window);
        const auto got = logits_chunked(*model, ids, 5);
        const double err = rel_err(got, want);
        EXPECT_LT(err, c.bound) << c.file;
        std::printf("  %-14s vs reference %.3g\n", c.file, err);
        EXPECT_LT(rel_err(got, logits_chunked(*model, ids, ids.size())), 1e-6) << c.file;
    }
}

// ---- kjv-tiny: a trained model (W = 64) ----

std::vector<TokenId> json_ints(const std::string& line, const std::string& key) {
    const size_t k = line.find("\"" + key + "\"");
    EXPECT_NE(k, std::string::npos) << key;
    const size_t b = line.find('[', k), e = line.find(']', b);
    std::string body = line.substr(b + 1, e - b - 1);
    for (char& ch : body) {
        if (ch == ',')
            ch = ' ';
    }
    std::istringstream in(body);
    std::vector<TokenId> out;
    TokenId v = 0;
    while (in >> v)
        out.push_back(v);
    return out;
}

std::vector<std::string> lines_of(const std::filesystem::path& p) {
    std::istringstream in(read_text(p));
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) {
        if (!l.empty())
            out.push_back(l);
    }
    return out;
}

TEST(KjvTiny, LongLogitsWithin1e4ForEveryChunkSize) {
    const auto lines = lines_of(fixture_path("kjv-tiny/ref/greedy.jsonl"));
    ASSERT_GE(lines.size(), 4u);
    std::vector<TokenId> ids = json_ints(lines[3], "prompt_ids");
    const auto gen = json_ints(lines[3], "ids");
    ids.insert(ids.end(), gen.begin(), gen.end());
    const auto want = read_f32(fixture_path("kjv-tiny/ref/long.logits.f32"));
    ASSERT_EQ(want.size(), ids.size() * 2048);
    TempDir tmp;
    // hf as one 228-token chunk (far longer than W), native in chunks of W + 5 = 69.
    const struct {
        const char* src;
        size_t chunk;
    } cases[] = {{"hf", ids.size()}, {"native", 69}};
    for (const auto& c : cases) {
        const auto model = convert(tmp, fixture_path(std::string("kjv-tiny/") + c.src),
                                   std::string(c.src) + ".mst");
        ASSERT_EQ(model->config().window, 64);
        EXPECT_LT(rel_err(logits_chunked(*model, ids, c.chunk), want), 1e-4) << c.src;
    }
}

// Greedy continuations identical token for token (prompt prefilled, then one token at a time,
// stopping at EOS or 120 tokens, as the reference run did). The smallest top-2 logit gap in the
// reference run is 3.9e-3, far above our ~1e-5 error.
TEST(KjvTiny, GreedyContinuationsMatchTokenForToken) {
    const auto lines = lines_of(fixture_path("kjv-tiny/ref/greedy.jsonl"));
    TempDir tmp;
    for (const char* src : {"native"}) {
        const auto model = convert(tmp, fixture_path(std::string("kjv-tiny/") + src),
                                   std::string(src) + ".mst");
        Session s(*model, select_kernels());
        for (const auto& line : lines) {
            const auto prompt = json_ints(line, "prompt_ids");
            const auto want = json_ints(line, "ids");
            s.reset();
            auto logits = s.prefill(prompt);
            std::vector<TokenId> got;
            while (got.size() < 120) {
                const auto next = static_cast<TokenId>(
                        std::max_element(logits.begin(), logits.end()) - logits.begin());
                got.push_back(next);
                if (next == model->config().eos_id)
                    break;
                logits = s.decode(next);
            }
            EXPECT_EQ(got, want) << src << ": prompt of " << prompt.size() << " tokens";
        }
    }
}

}  // namespace
}  // namespace mistral::test
