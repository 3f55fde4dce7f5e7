// Seeded random models: full-size shapes for benchmarks without any download, tiny ones for
// tests. Deterministic for a given (preset, type, seed) whatever the thread count: every row
// has its own generator seeded from (seed, tensor index, row).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include <mistral/error.h>
#include <mistral/model_writer.h>
#include <mistral/tokenizer.h>
#include <mistral/weights.h>

#include "convert.h"

namespace mistral::convert {

namespace {

uint64_t splitmix64(uint64_t& s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace

TokenizerModel synthetic_tokenizer(size_t vocab) {
    TokenizerModel m;
    auto add = [&](std::string p, PieceType t, float score) {
        m.pieces.push_back(std::move(p));
        m.types.push_back(t);
        m.scores.push_back(score);
    };
    add("<unk>", PieceType::kUnknown, 0.0f);
    add("<s>", PieceType::kControl, 0.0f);
    add("</s>", PieceType::kControl, 0.0f);
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        add(buf, PieceType::kByte, 0.0f);
    }
    std::vector<std::string> normal = {"\xE2\x96\x81"};  // "▁"
    for (char c = 'a'; c <= 'z'; ++c)
        normal.push_back(std::string(1, c));
    for (char c = 'a'; c <= 'z'; ++c)
        normal.push_back("\xE2\x96\x81" + std::string(1, c));
    for (char c = '!'; c <= '~'; ++c) {
        if (c < 'a' || c > 'z')
            normal.push_back(std::string(1, c));
    }
    for (char a = 'a'; a <= 'z' && normal.size() + 259 < vocab; ++a) {
        for (char b = 'a'; b <= 'z' && normal.size() + 259 < vocab; ++b)
            normal.push_back(std::string{a, b});
    }
    float score = -1.0f;
    for (auto& p : normal) {
        if (m.pieces.size() >= vocab)
            break;
        add(p, PieceType::kNormal, score);
        score -= 1.0f;
    }
    return m;
}

std::string random_presets() {
    return "mistral-7b (the paper's Table 1 shape), small (dim 1024, 8 layers), tiny";
}

ModelConfig random_preset_config(const std::string& preset) {
    if (preset == "mistral-7b")
        return mistral_7b_config();
    ModelConfig c;
    if (preset == "small") {
        c.vocab_size = 32000, c.dim = 1024, c.n_layers = 8, c.n_heads = 8, c.n_kv_heads = 2,
        c.head_dim = 128;
        c.hidden_dim = 3584, c.window = 1024, c.max_context = 8192;
        return c;
    }
    if (preset == "tiny") {
        c.vocab_size = 512, c.dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2,
        c.head_dim = 16;
        c.hidden_dim = 192, c.window = 16, c.max_context = 256;
        return c;
    }
    throw Error(Errc::kInvalidArgument,
                "unknown preset '" + preset + "' (known: " + random_presets() + ")");
}

ConvertSummary write_random_model(const RandomOptions& opts) {
    ModelConfig cfg = random_preset_config(opts.preset);
    if (opts.sliding_window)
        cfg.window = *opts.sliding_window;
    TokenizerModel tok;
    if (!opts.tokenizer.empty()) {
        tok = load_tokenizer_file(opts.tokenizer.string());  // tokenizer.model or a GGUF
        // The small presets take the tokenizer's vocabulary; mistral-7b keeps the paper's 32000.
        if (opts.preset != "mistral-7b")
            cfg.vocab_size = static_cast<int64_t>(tok.size());
        if (static_cast<int64_t>(tok.size()) != cfg.vocab_size) {
            throw Error(Errc::kShapeMismatch, opts.tokenizer.string() + ": has " +
                                                      std::to_string(tok.size()) +
                                                      " pieces, preset " + opts.preset + " needs " +
                                                      std::to_string(cfg.vocab_size));
        }
    } else {
        tok = synthetic_tokenizer(static_cast<size_t>(cfg.vocab_size));
    }
    const std::vector<ExpectedTensor> list = expected_tensors(cfg);
    std::vector<TensorSpec> specs;
    for (const auto& e : list) {
        DType t = e.is_norm ? DType::kF32 : opts.type;
        if (is_quantized(t) && e.shape.back() % kQBlock != 0)
            t = DType::kF16;
        specs.push_back({e.name, stored_type(t, e), e.shape});
    }
    ModelWriter writer(opts.output, cfg, serialize_tokenizer(tok), specs, opts.overwrite);
    ConvertSummary sum;
    sum.config = cfg;
    const size_t n_threads =
            std::max<size_t>(1, std::min<size_t>(8, std::thread::hardware_concurrency()));
    for (size_t i = 0; i < specs.size(); ++i) {
        if (opts.cancel != nullptr && opts.cancel->load())
            throw Error(Errc::kIo, "interrupted");
        if (opts.progress)
            opts.progress(i, specs.size(), specs[i].name);
        const TensorSpec& s = specs[i];
        const size_t rows = s.shape.size() == 2 ? s.shape[0] : 1, cols = s.shape.back();
        const DType plain = plain_type(s.type);
        const size_t row_bytes = bytes_for(plain, cols);
        std::vector<std::byte> data(rows * row_bytes);
        if (list[i].is_norm) {
            // Gains around 1 so activations keep their scale.
            std::vector<float> g(cols);
            uint64_t st = opts.seed * 1000003u + i;
            for (auto& v : g)
                v = 1.0f + 0.1f * (static_cast<float>(splitmix64(st) >> 40) / 16777216.0f - 0.5f);
            row_from_f32(plain, g.data(), data.data(), cols);
        } else {
            // Uniform(-a, a) with a = sqrt(3 / cols): unit-variance outputs for unit inputs.
            const float a = std::sqrt(3.0f / static_cast<float>(cols));
            auto fill = [&](size_t r0, size_t r1) {
                std::vector<float> row(cols);
                for (size_t r = r0; r < r1; ++r) {
                    uint64_t st = (opts.seed * 0x100000001b3ull) ^ (i << 40) ^ r;
                    for (auto& v : row) {
                        v = a * (2.0f * (static_cast<float>(splitmix64(st) >> 40) / 16777216.0f) -
                                 1.0f);
                    }
                    row_from_f32(plain, row.data(), data.data() + r * row_bytes, cols);
                }
            };
            std::vector<std::thread> th;
            const size_t per = (rows + n_threads - 1) / n_threads;
            for (size_t t = 0; t < n_threads; ++t) {
                const size_t r0 = t * per, r1 = std::min(rows, r0 + per);
                if (r0 < r1)
                    th.emplace_back(fill, r0, r1);
            }
            for (auto& t : th)
                t.join();
        }
        data = to_stored(std::move(data), s.type, rows, cols);
        writer.write_tensor(data);
        ++sum.tensors_by_type[s.type];
    }
    if (opts.progress)
        opts.progress(specs.size(), specs.size(), "");
    writer.commit();
    sum.n_tensors = specs.size();
    std::error_code ec;
    sum.file_bytes = std::filesystem::file_size(opts.output, ec);
    return sum;
}

}  // namespace mistral::convert
