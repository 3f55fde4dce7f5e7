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
    const size_t row_bytes = a.cache->row_bytes();             // one [kv_dim] row
    const size_t head_bytes = bytes_for(kv_type, a.head_dim);  // one head inside it
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

        // Key row of absolute position j for head g: the batch's own keys for j >= pos0,
        // else the rolling cache. Positions are visited in ascending order whatever the
        // batch split, so the result does not depend on the chunk size.
        const auto key_row = [&](int64_t j) -> const std::byte* {
            if (j >= a.pos0)
                return a.k_new + static_cast<size_t>(j - a.pos0) * row_bytes + g * head_bytes;
            return a.cache->key(a.layer, j) + g * head_bytes;
        };
        const auto value_row = [&](int64_t j) -> const std::byte* {
            if (j >= a.pos0)
                return a.v_new + static_cast<size_t>(j - a.pos0) * row_bytes + g * head_bytes;
            return a.cache->value(a.layer, j) + g * head_bytes;
        };

        // scores[h][j - lo] = q_h . k_j / sqrt(head_dim), each key read once for the group
        for (int64_t j = lo; j <= i; ++j) {
            const std::byte* kr = key_row(j);
            for (size_t h = 0; h < group; ++h) {
                scores[h * a.max_keys + static_cast<size_t>(j - lo)] =
                        k.dot_kv(q + h * a.head_dim, kr, kv_type, a.head_dim) * scale;
            }
        }
        for (size_t h = 0; h < group; ++h)
            k.softmax(scores + h * a.max_keys, n_keys);

        // out_h = sum_j p[h][j] * v_j, each value row read once for the group
        float* out = a.out + t * q_dim + g * group * a.head_dim;  // [group, head_dim]
        std::memset(out, 0, group * a.head_dim * sizeof(float));
        for (int64_t j = lo; j <= i; ++j) {
            const std::byte* vr = value_row(j);
            for (size_t h = 0; h < group; ++h) {
                k.axpy_kv(scores[h * a.max_keys + static_cast<size_t>(j - lo)], vr, kv_type,
                          out + h * a.head_dim, a.head_dim);
            }
        }
    }
}

}  // namespace mistral
