// Tiny random models built in memory, and an independent naive forward pass (double precision,
// dense causal/sliding-window mask, full recompute from scratch) to check the engine against.
// The naive pass shares nothing with src/model except the weight file binding and the
// dtype.h dequantizers (the file format spec, tested in tensor/).
#pragma once

#include <cmath>
#include <memory>
#include <span>
#include <vector>

#include <mistral/config.h>
#include <mistral/dtype.h>
#include <mistral/model.h>
#include <mistral/model_writer.h>
#include <mistral/tokenizer.h>
#include <mistral/weights.h>

#include "test_util.h"

namespace mistral::test {

inline ModelConfig tiny_config(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                               int64_t window, int64_t n_layers = 2, float theta = 10000.0f) {
    ModelConfig c;
    c.vocab_size = 96;
    c.head_dim = head_dim;
    c.n_heads = n_heads;
    c.n_kv_heads = n_kv_heads;
    c.dim = 64;
    c.hidden_dim = 96;
    c.n_layers = n_layers;
    c.norm_eps = 1e-5f;
    c.rope_theta = theta;
    c.window = window;
    c.max_context = 256;
    return c;
}

// Random weights (normal / sqrt(cols), norm gains near 1) stored as `type` (norms f32).
inline std::unique_ptr<Model> random_model(const ModelConfig& cfg, DType type, uint64_t seed) {
    Rng rng(seed);
    std::vector<TensorSpec> specs;
    std::vector<std::vector<std::byte>> data;
    for (const ExpectedTensor& e : expected_tensors(cfg)) {
        TensorSpec s{e.name, e.is_norm ? DType::kF32 : type, e.shape};
        const size_t rows = e.shape.size() == 2 ? e.shape[0] : 1;
        const size_t cols = e.shape.back();
        std::vector<std::byte> bytes(tensor_bytes(s));
        const size_t row_bytes = bytes.size() / rows;
        std::vector<float> row(cols);
        for (size_t r = 0; r < rows; ++r) {
            for (auto& v : row) {
                v = e.is_norm ? 1.0f + 0.2f * rng.normal()
                              : rng.normal() / std::sqrt(static_cast<float>(cols));
            }
            row_from_f32(s.type, row.data(), bytes.data() + r * row_bytes, cols);
        }
        specs.push_back(std::move(s));
        data.push_back(std::move(bytes));
    }
    return Model::from_image(build_model_image(cfg, {}, specs, data), "random");
}

inline std::vector<TokenId> random_ids(size_t n, int64_t vocab, uint64_t seed) {
    Rng rng(seed);
    std::vector<TokenId> ids(n);
    for (auto& id : ids)
        id = static_cast<TokenId>(rng.next() % static_cast<uint64_t>(vocab));
    ids[0] = 1;
    return ids;
}

namespace naive {

using Mat = std::vector<std::vector<double>>;  // [rows][cols]

inline Mat load(const TensorView& t) {
    Mat m(t.rows, std::vector<double>(t.cols));
    std::vector<float> row(t.cols);
    for (size_t r = 0; r < t.rows; ++r) {
        tensor_row_to_f32(t, r, row.data());
        for (size_t c = 0; c < t.cols; ++c)
            m[r][c] = row[c];
    }
    return m;
}

// noinline: GCC 12 reports a false -Wfree-nonheap-object when this is inlined into logits().
[[gnu::noinline]] inline std::vector<double> mul(const Mat& w, const std::vector<double>& x) {
    std::vector<double> y(w.size(), 0.0);
    for (size_t r = 0; r < w.size(); ++r) {
        for (size_t c = 0; c < x.size(); ++c)
            y[r] += w[r][c] * x[c];
    }
    return y;
}

inline std::vector<double> rmsnorm(const std::vector<double>& x, const Mat& g, double eps) {
    double ss = 0;
    for (double v : x)
        ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i)
        y[i] = x[i] * inv * g[0][i];
    return y;
}

// Rotates each head's pairs (2i, 2i+1) by pos * theta^(-2i/head_dim).
inline void rope(std::vector<double>& v, size_t head_dim, int64_t pos, double theta) {
    for (size_t h = 0; h < v.size() / head_dim; ++h) {
        for (size_t i = 0; i < head_dim / 2; ++i) {
            const double ang =
                    static_cast<double>(pos) *
                    std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
            double& a = v[h * head_dim + 2 * i];
            double& b = v[h * head_dim + 2 * i + 1];
            const double na = a * std::cos(ang) - b * std::sin(ang);
            const double nb = a * std::sin(ang) + b * std::cos(ang);
            a = na;
            b = nb;
        }
    }
}

// Logits of every position [T][vocab], recomputing everything from scratch: query t attends
// to keys j with t - W < j <= t (all j <= t when W == 0).
inline std::vector<std::vector<double>> logits(const Model& m, std::span<const TokenId> ids) {
    const ModelConfig& c = m.config();
    const Weights& w = m.weights();
    const size_t T = ids.size(), hd = static_cast<size_t>(c.head_dim);
    const size_t nh = static_cast<size_t>(c.n_heads), nkv = static_cast<size_t>(c.n_kv_heads);
    const Mat emb = load(w.tok_embeddings);
    std::vector<std::vector<double>> x(T);
    for (size_t t = 0; t < T; ++t)
        x[t] = emb[static_cast<size_t>(ids[t])];
    for (const LayerWeights& L : w.layers) {
        const Mat an = load(L.attention_norm), wq = load(L.wq), wk = load(L.wk), wv = load(L.wv),
                  wo = load(L.wo), fn = load(L.ffn_norm), w1 = load(L.w1), w2 = load(L.w2),
                  w3 = load(L.w3);
        std::vector<std::vector<double>> q(T), k(T), v(T);
        for (size_t t = 0; t < T; ++t) {
            const auto xn = rmsnorm(x[t], an, c.norm_eps);
            q[t] = mul(wq, xn);
            k[t] = mul(wk, xn);
            v[t] = mul(wv, xn);
            rope(q[t], hd, static_cast<int64_t>(t), c.rope_theta);
            rope(k[t], hd, static_cast<int64_t>(t), c.rope_theta);
        }
        for (size_t t = 0; t < T; ++t) {
            std::vector<double> out(nh * hd, 0.0);
            for (size_t h = 0; h < nh; ++h) {
                const size_t g = h / (nh / nkv);
                std::vector<double> s(T, -INFINITY);  // dense mask over all keys
                double mx = -INFINITY;
                for (size_t j = 0; j < T; ++j) {
                    const bool visible =
                            j <= t && (c.window == 0 || static_cast<int64_t>(t - j) < c.window);
                    if (!visible)
                        continue;
                    double d = 0;
                    for (size_t e = 0; e < hd; ++e)
                        d += q[t][h * hd + e] * k[j][g * hd + e];
                    s[j] = d / std::sqrt(static_cast<double>(hd));
                    mx = std::max(mx, s[j]);
                }
                double sum = 0;
                for (auto& e : s) {
                    e = std::exp(e - mx);
                    sum += e;
                }
                for (size_t j = 0; j < T; ++j) {
                    for (size_t e = 0; e < hd; ++e)
                        out[h * hd + e] += s[j] / sum * v[j][g * hd + e];
                }
            }
            const auto o = mul(wo, out);
            for (size_t i = 0; i < o.size(); ++i)
                x[t][i] += o[i];
            const auto xn = rmsnorm(x[t], fn, c.norm_eps);
            auto a = mul(w1, xn);
            const auto b = mul(w3, xn);
            for (size_t i = 0; i < a.size(); ++i)
                a[i] = a[i] / (1.0 + std::exp(-a[i])) * b[i];
            const auto d = mul(w2, a);
            for (size_t i = 0; i < d.size(); ++i)
                x[t][i] += d[i];
        }
    }
    const Mat norm = load(w.norm), out = load(w.output);
    std::vector<std::vector<double>> result(T);
    for (size_t t = 0; t < T; ++t)
        result[t] = mul(out, rmsnorm(x[t], norm, c.norm_eps));
    return result;
}

}  // namespace naive

// max |got - want| / max |want| over all elements.
inline double rel_max_error(std::span<const float> got, const std::vector<double>& want) {
    double err = 0, mx = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        err = std::max(err, std::abs(static_cast<double>(got[i]) - want[i]));
        mx = std::max(mx, std::abs(want[i]));
    }
    return err / mx;
}

}  // namespace mistral::test
