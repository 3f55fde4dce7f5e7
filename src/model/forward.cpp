// The transformer layer loop over a batch of T tokens:
//   embedding -> n_layers x (RMSNorm -> attention -> residual -> RMSNorm -> SwiGLU FFN -> residual)
//   -> RMSNorm -> output projection.
// Threads split matmul rows and attention (query, KV head) items; everything else is cheap.
#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <utility>

#include "model/attention.h"
#include "util/check.h"

namespace mistral {

namespace {

size_t sz(int64_t v) {
    return static_cast<size_t>(v);
}

// Runs fn over [0, n) on the pool, or inline when there is none. Callers pass lambdas that
// capture one pointer, so std::function stores them inline: no allocation in forward().
// `balanced`: the pool splits by the threads' measured speeds (decode's matmul rows, where one
// thread's half of every matrix would otherwise wait for the other's: ThreadPool).
void par(ThreadPool* pool, size_t n, const std::function<void(size_t, size_t, size_t)>& fn,
         bool balanced = false) {
    if (pool == nullptr || pool->size() == 1) {
        if (n > 0)
            fn(0, n, 0);
        return;
    }
    if (balanced)
        pool->parallel_for_balanced(n, fn);
    else
        pool->parallel_for(n, fn);
}

struct Ctx {
    const KernelTable& k;
    ThreadPool* pool;
    ForwardState& st;
};

// An activation batch x[T, n] for the given weights: quantized to q8_0 (into st.xq) once if
// any of them is a block type.
ActBatch prepare(Ctx& c, const float* x, size_t T, size_t n,
                 std::initializer_list<const TensorView*> ws) {
    ActBatch a{x, nullptr, T, n};
    const bool quantized = std::any_of(ws.begin(), ws.end(),
                                       [](const TensorView* w) { return is_quantized(w->type); });
    if (quantized) {
        a.xq = c.st.xq.as<BlockQ8_0>();
        struct Job {
            const KernelTable* k;
            ActBatch a;
            BlockQ8_0* xq;
        } job{&c.k, a, c.st.xq.as<BlockQ8_0>()};
        par(c.pool, T, [p = &job](size_t b, size_t e, size_t) {
            const size_t n_ = p->a.n, nb = n_ / kQBlock;
            for (size_t t = b; t < e; ++t)
                p->k->quantize_act(p->a.x + t * n_, p->xq + t * nb, n_);
        });
    }
    return a;
}

// Rows [r0, a.T) of a batch, as a batch of their own.
ActBatch rows_of(const ActBatch& a, size_t r0) {
    return {a.x + r0 * a.n, a.xq != nullptr ? a.xq + r0 * (a.n / kQBlock) : nullptr, a.T - r0, a.n};
}

// Threads split matmul rows at multiples of 16: whole groups of an interleaved matrix (q4_0x16,
// q8_0x16: dtype.h) each.
constexpr size_t kRowUnit = kX16Rows;

size_t row_units(size_t rows) {
    return (rows + kRowUnit - 1) / kRowUnit;
}

// y[T, w.rows] = a . W^T, rows split across threads.
void matmul(Ctx& c, const TensorView& w, const ActBatch& a, float* y) {
    struct Job {
        const KernelTable* k;
        const TensorView* w;
        const ActBatch* a;
        float* y;
    } job{&c.k, &w, &a, y};
    par(
            c.pool, row_units(w.rows),
            [p = &job](size_t u0, size_t u1, size_t) {
                const size_t r1 = std::min(u1 * kRowUnit, p->w->rows);
                p->k->matmul(*p->w, *p->a, p->y, u0 * kRowUnit, r1);
            },
            a.T == 1);
}

// Several products of the same activations as one parallel loop over their stacked row units
// (one barrier instead of one per matrix, and the split evens out across them). Units are counted
// per matrix, so every cut falls on a multiple of 16 rows of the matrix it is in.
void matmul_stacked(Ctx& c, std::initializer_list<std::pair<const TensorView*, float*>> outs,
                    const ActBatch& a) {
    struct Job {
        const KernelTable* k;
        const ActBatch* a;
        std::pair<const TensorView*, float*> outs[3];
        size_t n = 0;
        size_t units = 0;
    } job{&c.k, &a, {}, 0, 0};
    for (const auto& o : outs) {
        MISTRAL_CHECK(job.n < 3, "at most 3 stacked matmuls");
        job.outs[job.n++] = o;
        job.units += row_units(o.first->rows);
    }
    par(
            c.pool, job.units,
            [p = &job](size_t u0, size_t u1, size_t) {
                size_t base = 0;  // the first unit of matrix i
                for (size_t i = 0; i < p->n; ++i) {
                    const TensorView& w = *p->outs[i].first;
                    const size_t units = row_units(w.rows);
                    const size_t lo = std::max(u0, base), hi = std::min(u1, base + units);
                    if (lo < hi) {
                        p->k->matmul(w, *p->a, p->outs[i].second, (lo - base) * kRowUnit,
                                     std::min((hi - base) * kRowUnit, w.rows));
                    }
                    base += units;
                }
            },
            a.T == 1);
}

void rmsnorm_rows(Ctx& c, float* out, const float* x, const TensorView& gain, size_t T, size_t dim,
                  float eps) {
    const float* g = reinterpret_cast<const float*>(gain.data);
    for (size_t t = 0; t < T; ++t)
        c.k.rmsnorm(out + t * dim, x + t * dim, g, dim, eps);
}

void add_rows(float* x, const float* y, size_t n) {
    for (size_t i = 0; i < n; ++i)
        x[i] += y[i];
}

}  // namespace

std::vector<float> rope_inv_freq(size_t head_dim, float theta) {
    // torch: 1.0 / (theta ** (arange(0, dim, 2).float() / dim)), all in float32
    std::vector<float> f(head_dim / 2);
    for (size_t i = 0; i < f.size(); ++i) {
        const float e = static_cast<float>(2 * i) / static_cast<float>(head_dim);
        const float p =
                static_cast<float>(std::pow(static_cast<double>(theta), static_cast<double>(e)));
        f[i] = 1.0f / p;
    }
    return f;
}

void rope_cos_sin(int64_t pos, std::span<const float> inv_freq, float* cos_sin) noexcept {
    // torch.outer(t, freqs) in float32 (t converted to float), then polar(1, angle)
    const float p = static_cast<float>(pos);
    for (size_t i = 0; i < inv_freq.size(); ++i) {
        const float angle = p * inv_freq[i];
        cos_sin[2 * i] = static_cast<float>(std::cos(static_cast<double>(angle)));
        cos_sin[2 * i + 1] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
}

ForwardState::ForwardState(const ModelConfig& cfg, DType kv_type, int64_t capacity, size_t max_T_,
                           size_t n_threads, bool all_logits)
    : max_T(max_T_),
      window(cfg.window),
      cache(cfg, kv_type, capacity),
      max_keys(sz(capacity)),
      inv_freq(rope_inv_freq(sz(cfg.head_dim), cfg.rope_theta)) {
    const size_t dim = sz(cfg.dim), q_dim = sz(cfg.q_dim()), kv_dim = sz(cfg.kv_dim());
    const size_t hidden = sz(cfg.hidden_dim), widest = std::max({dim, q_dim, hidden});
    const auto floats = [](size_t n) { return Buffer(n * sizeof(float)); };
    x = floats(max_T * dim);
    xn = floats(max_T * std::max(dim, q_dim));
    xq = Buffer(max_T * (widest / kQBlock + 1) * sizeof(BlockQ8_0));
    q = floats(max_T * q_dim);
    k = floats(max_T * kv_dim);
    v = floats(max_T * kv_dim);
    k_new = Buffer(max_T * cache.row_bytes());
    v_new = Buffer(max_T * cache.row_bytes());
    att = floats(max_T * q_dim);
    h1 = floats(max_T * hidden);
    h3 = floats(max_T * hidden);
    scores = floats(n_threads * sz(cfg.group()) * max_keys);
    cos_sin = floats(max_T * sz(cfg.head_dim));
    logits = floats((all_logits ? max_T : 1) * sz(cfg.vocab_size));
}

std::span<const float> run_forward(const Model& model, const KernelTable& k, ThreadPool* pool,
                                   ForwardState& st, std::span<const TokenId> ids, int64_t pos0,
                                   bool all_logits) noexcept {
    const ModelConfig& cfg = model.config();
    const Weights& w = model.weights();
    const size_t T = ids.size();
    const size_t dim = sz(cfg.dim), q_dim = sz(cfg.q_dim()), kv_dim = sz(cfg.kv_dim());
    const size_t hidden = sz(cfg.hidden_dim), head_dim = sz(cfg.head_dim),
                 vocab = sz(cfg.vocab_size);
    MISTRAL_CHECK(T >= 1 && T <= st.max_T, "batch exceeds the scratch");
    Ctx c{k, pool, st};
    KvCache& cache = st.cache;

    float* x = st.x.as<float>();              // [T, dim]
    float* xn = st.xn.as<float>();            // [T, dim] (or [T, q_dim])
    float* q = st.q.as<float>();              // [T, q_dim]
    float* kk = st.k.as<float>();             // [T, kv_dim]
    float* vv = st.v.as<float>();             // [T, kv_dim]
    float* att = st.att.as<float>();          // [T, q_dim]
    float* h1 = st.h1.as<float>();            // [T, hidden]
    float* h3 = st.h3.as<float>();            // [T, hidden]
    float* cos_sin = st.cos_sin.as<float>();  // [T, head_dim]

    // Token embeddings and the rotary table of each position.
    for (size_t t = 0; t < T; ++t) {
        k.row_to_f32(w.tok_embeddings, static_cast<size_t>(ids[t]), x + t * dim);
        rope_cos_sin(pos0 + static_cast<int64_t>(t), st.inv_freq, cos_sin + t * head_dim);
    }

    AttentionArgs aa;
    aa.T = T;
    aa.pos0 = pos0;
    aa.n_heads = sz(cfg.n_heads);
    aa.n_kv_heads = sz(cfg.n_kv_heads);
    aa.head_dim = head_dim;
    aa.window = st.window;
    aa.q = q;
    aa.k_new = st.k_new.data();
    aa.v_new = st.v_new.data();
    aa.cache = &cache;
    aa.out = att;
    aa.scores = st.scores.as<float>();
    aa.max_keys = st.max_keys;
    // Of this batch, only the last `keep` positions fit in (and are written to) the cache.
    const size_t keep = std::min(T, sz(cache.capacity()));

    for (size_t l = 0; l < w.layers.size(); ++l) {
        const LayerWeights& L = w.layers[l];
        // In the last layer only the rows that get logits need queries, attention output and
        // the FFN: every row's keys and values are still cached, but nothing reads the other
        // rows' hidden state again. Rows [r0, T) go on past the key/value projections.
        const size_t r0 = (l + 1 == w.layers.size() && !all_logits) ? T - 1 : 0;
        const size_t R = T - r0;
        // ---- attention block ----
        rmsnorm_rows(c, xn, x, L.attention_norm, T, dim, cfg.norm_eps);
        const ActBatch xa = prepare(c, xn, T, dim, {&L.wq, &L.wk, &L.wv});
        if (r0 == 0) {
            matmul_stacked(c, {{&L.wq, q}, {&L.wk, kk}, {&L.wv, vv}},
                           xa);  // [T, q_dim], [T, kv_dim] x2
        } else {
            matmul_stacked(c, {{&L.wk, kk}, {&L.wv, vv}}, xa);
            matmul(c, L.wq, rows_of(xa, r0), q + r0 * q_dim);
        }
        for (size_t t = 0; t < T; ++t) {
            // rotate at the absolute position; keys are cached rotated
            if (t >= r0)
                k.rope(q + t * q_dim, aa.n_heads, head_dim, cos_sin + t * head_dim);
            k.rope(kk + t * kv_dim, aa.n_kv_heads, head_dim, cos_sin + t * head_dim);
            // the batch's keys/values in the cache type, so they round exactly as cached ones
            row_from_f32(cache.type(), kk + t * kv_dim, st.k_new.data() + t * cache.row_bytes(),
                         kv_dim);
            row_from_f32(cache.type(), vv + t * kv_dim, st.v_new.data() + t * cache.row_bytes(),
                         kv_dim);
        }
        aa.layer = l;
        struct Job {
            const KernelTable* k;
            const AttentionArgs* a;
            size_t first;  // item of query row r0
        } job{&k, &aa, r0 * aa.n_kv_heads};
        par(pool, attention_items(aa) - job.first, [p = &job](size_t b, size_t e, size_t thread) {
            attention(*p->k, *p->a, p->first + b, p->first + e, thread);
        });
        // Now that every query has read the old contents, commit this batch to the cache.
        for (size_t t = T - keep; t < T; ++t) {
            const int64_t pos = pos0 + static_cast<int64_t>(t);
            cache.store_rows(l, pos, st.k_new.data() + t * cache.row_bytes(),
                             st.v_new.data() + t * cache.row_bytes());
        }
        float* xr = x + r0 * dim;  // the rows that go on, [R, dim]
        float* xnr = xn + r0 * dim;
        const ActBatch oa = prepare(c, att + r0 * q_dim, R, q_dim, {&L.wo});
        matmul(c, L.wo, oa, xnr);  // [R, dim]
        add_rows(xr, xnr, R * dim);

        // ---- feed-forward block: w2(silu(w1 x) * w3 x) ----
        rmsnorm_rows(c, xnr, xr, L.ffn_norm, R, dim, cfg.norm_eps);
        const ActBatch fa = prepare(c, xnr, R, dim, {&L.w1, &L.w3});
        matmul_stacked(c, {{&L.w1, h1}, {&L.w3, h3}}, fa);  // [R, hidden] x2
        for (size_t t = 0; t < R; ++t)
            k.swiglu(h1 + t * hidden, h3 + t * hidden, hidden);
        const ActBatch da = prepare(c, h1, R, hidden, {&L.w2});
        matmul(c, L.w2, da, xnr);  // [R, dim]
        add_rows(xr, xnr, R * dim);
    }

    // Final norm and output projection, for every row or only the last one.
    const size_t first = all_logits ? 0 : T - 1;
    const size_t n_out = T - first;
    rmsnorm_rows(c, xn, x + first * dim, w.norm, n_out, dim, cfg.norm_eps);
    const ActBatch fa = prepare(c, xn, n_out, dim, {&w.output});
    float* logits = st.logits.as<float>();  // [n_out, vocab]
    matmul(c, w.output, fa, logits);
    return {logits, n_out * vocab};
}

}  // namespace mistral
