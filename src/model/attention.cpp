#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/check.h"

namespace mistral {

void attention(const KernelTable& k, const AttentionArgs& a, size_t begin, size_t end,
               size_t thread) noexcept {
    const size_t group = a.n_heads / a.n_kv_heads;
    const size_t q_dim = a.n_heads * a.head_dim;
    const DType kv_type = a.cache->type();
    const size_t row_bytes = a.cache->row_bytes();    // a batch row: [kv_dim]
    const size_t head_bytes = a.cache->head_bytes();  // one head (a cached row)
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.head_dim)));
    float* scores = a.scores + thread * group * a.max_keys;  // [group, max_keys]

    for (size_t item = begin; item < end; ++item) {
        const size_t t = item / a.n_kv_heads;                // query row in the batch
        const size_t g = item % a.n_kv_heads;                // KV head
        const int64_t i = a.pos0 + static_cast<int64_t>(t);  // absolute query position
        const int64_t lo = a.window > 0 ? std::max<int64_t>(0, i - a.window + 1) : 0;
        const size_t n_keys = static_cast<size_t>(i - lo + 1);
        MISTRAL_DCHECK(n_keys <= a.max_keys, "attention scratch too small");
        MISTRAL_DCHECK(lo >= a.pos0 - a.cache->capacity(), "key evicted from the cache");
        const float* q = a.q + t * q_dim + g * group * a.head_dim;  // [group, head_dim]

        // Keys [lo, i] as runs of equally spaced rows: the rolling cache (contiguous rows of
        // head g) up to its wrap-around and up to pos0, then the batch's own rows (head g inside
        // rows of kv_dim). Runs are visited in ascending position order and the kernels go
        // through each run in order, so neither the scores nor the order of the value sums
        // depend on how the text was split into batches.
        const auto for_runs = [&](bool keys, auto&& fn) {
            int64_t j = lo;
            while (j <= i) {
                if (j >= a.pos0) {
                    const std::byte* base = keys ? a.k_new : a.v_new;
                    fn(j, static_cast<size_t>(i - j + 1),
                       base + static_cast<size_t>(j - a.pos0) * row_bytes + g * head_bytes,
                       row_bytes);
                    return;
                }
                const int64_t to_wrap =
                        a.cache->capacity() - static_cast<int64_t>(a.cache->slot(j));
                const int64_t stop = std::min({i + 1, a.pos0, j + to_wrap});
                fn(j, static_cast<size_t>(stop - j),
                   keys ? a.cache->key(a.layer, g, j) : a.cache->value(a.layer, g, j), head_bytes);
                j = stop;
            }
        };
        // scores[h][j - lo] = q_h . k_j / sqrt(head_dim), each key read once for the group
        for_runs(true, [&](int64_t j0, size_t n, const std::byte* rows, size_t stride) {
            k.dot_kv_rows(q, group, a.head_dim, rows, stride, kv_type, n, scale,
                          scores + static_cast<size_t>(j0 - lo), a.max_keys);
        });
        for (size_t h = 0; h < group; ++h)
            k.softmax(scores + h * a.max_keys, n_keys);
        // out_h = sum_j p[h][j] * v_j, each value row read once for the group
        float* out = a.out + t * q_dim + g * group * a.head_dim;  // [group, head_dim]
        std::memset(out, 0, group * a.head_dim * sizeof(float));
        for_runs(false, [&](int64_t j0, size_t n, const std::byte* rows, size_t stride) {
            k.axpy_kv_rows(scores + static_cast<size_t>(j0 - lo), a.max_keys, group, a.head_dim,
                           rows, stride, kv_type, n, out);
        });
    }
}

}  // namespace mistral
