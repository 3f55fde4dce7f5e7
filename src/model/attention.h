// Grouped-query, sliding-window attention of one layer for a batch of T queries, over the rolling
// KV cache (positions before the batch) plus the batch's own keys/values (kept in scratch, so a
// batch longer than the cache still sees every key inside its window).
#pragma once

#include <cstddef>
#include <cstdint>

#include <mistral/kernels.h>
#include <mistral/kv_cache.h>

namespace mistral {

struct AttentionArgs {
    size_t layer = 0;
    size_t T = 0;  // queries in the batch, at positions pos0 .. pos0 + T - 1
    int64_t pos0 = 0;
    size_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
    int64_t window = 0;        // query i sees keys j with i - window < j <= i; 0 = all j <= i
    const float* q = nullptr;  // [T, n_heads * head_dim], RoPE applied
    const std::byte* k_new = nullptr;  // [T, kv_dim] of cache->type(), RoPE applied
    const std::byte* v_new = nullptr;  // [T, kv_dim] of cache->type()
    const KvCache* cache = nullptr;    // holds positions [pos0 - capacity, pos0) still needed
    float* out = nullptr;              // [T, n_heads * head_dim]
    float* scores = nullptr;           // scratch [n_threads, group, max_keys]
    size_t max_keys = 0;               // >= keys any query sees (min(window, pos0 + T))
};

// Number of work items (T * n_kv_heads): item = t * n_kv_heads + kv_head.
inline size_t attention_items(const AttentionArgs& a) {
    return a.T * a.n_kv_heads;
}

// Computes items [begin, end) using the `thread`-th scores scratch. Each item reads the keys and
// values of its KV head once for all `group` query heads that share it.
void attention(const KernelTable& k, const AttentionArgs& a, size_t begin, size_t end,
               size_t thread) noexcept;

}  // namespace mistral
