// attention() in isolation: one-hot queries give exact expected outputs, GQA head mapping,
// the sliding-window mask, and the cache/batch split.
#include "model/attention.h"

#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "model/test_models.h"

namespace mistral::test {
namespace {

struct AttnSetup {
    ModelConfig cfg;
    KvCache cache;
    std::vector<float> q, out, scores;
    std::vector<std::byte> k_new, v_new;
    AttentionArgs a;

    AttnSetup(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t window,
              int64_t capacity, size_t T, int64_t pos0)
        : cfg(tiny_config(n_heads, n_kv_heads, head_dim, window, 1)),
          cache(cfg, DType::kF32, capacity) {
        q.assign(T * static_cast<size_t>(cfg.q_dim()), 0.0f);
        out.assign(q.size(), NAN);
        scores.assign(static_cast<size_t>(cfg.group() * capacity), 0.0f);
        k_new.resize(T * cache.row_bytes());
        v_new.resize(T * cache.row_bytes());
        a.layer = 0;
        a.T = T;
        a.pos0 = pos0;
        a.n_heads = static_cast<size_t>(n_heads);
        a.n_kv_heads = static_cast<size_t>(n_kv_heads);
        a.head_dim = static_cast<size_t>(head_dim);
        a.window = window;
        a.q = q.data();
        a.k_new = k_new.data();
        a.v_new = v_new.data();
        a.cache = &cache;
        a.out = out.data();
        a.scores = scores.data();
        a.max_keys = static_cast<size_t>(capacity);
    }
    float* knew(size_t t) { return reinterpret_cast<float*>(k_new.data() + t * cache.row_bytes()); }
    float* vnew(size_t t) { return reinterpret_cast<float*>(v_new.data() + t * cache.row_bytes()); }
    void run() { attention(reference_kernels(), a, 0, attention_items(a), 0); }
};

// With all keys zero, every visible position gets equal weight: the output is the mean of the
// visible values, which identifies exactly which positions the mask lets through.
TEST(Attention, SlidingWindowMaskSeesExactlyWKeys) {
    const int64_t W = 3;
    AttnSetup s(2, 1, 4, W, /*capacity*/ W, /*T*/ 5, /*pos0*/ 0);
    for (size_t t = 0; t < 5; ++t) {
        for (size_t e = 0; e < 4; ++e)
            s.vnew(t)[e] = static_cast<float>(t * 10 + e);
    }
    s.run();
    for (size_t t = 0; t < 5; ++t) {
        const size_t lo = t + 1 >= W ? t + 1 - W : 0;
        double mean = 0;
        for (size_t j = lo; j <= t; ++j)
            mean += static_cast<double>(j * 10);
        mean /= static_cast<double>(t - lo + 1);
        for (size_t h = 0; h < 2; ++h)
            EXPECT_NEAR(s.out[t * 8 + h * 4], mean, 1e-5) << "t=" << t << " h=" << h;
    }
}

// A large one-hot query picks out the key aligned with it: output = that key's value.
TEST(Attention, OneHotQueriesAndGqaMapping) {
    // 4 query heads, 2 KV heads: heads 0,1 read KV head 0; heads 2,3 read KV head 1.
    AttnSetup s(4, 2, 4, 0, 8, 4, 0);
    for (size_t t = 0; t < 4; ++t) {
        for (size_t g = 0; g < 2; ++g) {
            // key t of head g is one-hot on dim (t + g) % 4, scaled up
            s.knew(t)[g * 4 + (t + g) % 4] = 1.0f;
            for (size_t e = 0; e < 4; ++e)
                s.vnew(t)[g * 4 + e] = static_cast<float>(100 * g + 10 * t + e);
        }
    }
    // Query at t = 3 (sees keys 0..3): head h asks for key j_h of its KV head.
    const size_t want_key[4] = {0, 2, 1, 3};
    for (size_t h = 0; h < 4; ++h) {
        const size_t g = h / 2;
        s.q[3 * 16 + h * 4 + (want_key[h] + g) % 4] = 200.0f;  // softmax becomes one-hot
    }
    s.run();
    for (size_t h = 0; h < 4; ++h) {
        const size_t g = h / 2;
        for (size_t e = 0; e < 4; ++e) {
            EXPECT_NEAR(s.out[3 * 16 + h * 4 + e], 100.0 * g + 10.0 * want_key[h] + e, 1e-3)
                    << "head " << h;
        }
    }
}

// Keys before the batch come from the cache at slot pos % capacity; a batch longer than the
// capacity still sees its own earlier keys.
TEST(Attention, CachePlusBatchWhenBatchIsLongerThanWindow) {
    const int64_t W = 2;
    AttnSetup s(1, 1, 4, W, W, /*T*/ 4, /*pos0*/ 10);
    // cache holds positions 8, 9 (slots 0, 1); only 9 is visible to position 10
    std::vector<float> kz(4, 0.0f), v8(4, 80.0f), v9(4, 90.0f);
    s.cache.store(0, 8, kz.data(), v8.data());
    s.cache.store(0, 9, kz.data(), v9.data());
    for (size_t t = 0; t < 4; ++t) {
        for (size_t e = 0; e < 4; ++e)
            s.vnew(t)[e] = static_cast<float>(100 + 10 * t);
    }
    s.run();
    EXPECT_NEAR(s.out[0], (90.0 + 100.0) / 2, 1e-4);    // pos 10: keys 9 (cache), 10
    EXPECT_NEAR(s.out[4], (100.0 + 110.0) / 2, 1e-4);   // pos 11: keys 10, 11 (batch)
    EXPECT_NEAR(s.out[12], (120.0 + 130.0) / 2, 1e-4);  // pos 13: keys 12, 13
}

}  // namespace
}  // namespace mistral::test
