// The layer loop (forward.cpp) and the scratch it runs in. Private to src/model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <mistral/kernels.h>
#include <mistral/kv_cache.h>
#include <mistral/model.h>
#include <mistral/thread_pool.h>
#include <mistral/tokenizer.h>

namespace mistral {

// Every buffer the forward pass touches, allocated once for batches of up to max_T tokens.
struct ForwardState {
    ForwardState(const ModelConfig& cfg, DType kv_type, int64_t capacity, size_t max_T,
                 size_t n_threads, bool all_logits);

    size_t max_T;
    int64_t window;  // attention window (0 = full), the model's unless overridden
    KvCache cache;
    size_t max_keys;              // keys one query can see: the cache capacity
    std::vector<float> inv_freq;  // [head_dim / 2] RoPE frequencies, float32 as mistral-src
    Buffer x;                     // [max_T, dim]    residual stream
    Buffer xn;                    // [max_T, max(dim, q_dim)] normed input / projection output
    Buffer xq;                    // [max_T, max(dim, q_dim, hidden_dim) / 32] BlockQ8_0 activations
    Buffer q;                     // [max_T, q_dim]
    Buffer k, v;                  // [max_T, kv_dim] f32
    Buffer k_new, v_new;          // [max_T, kv_dim] of the cache type (RoPE'd keys, values)
    Buffer att;                   // [max_T, q_dim]  attention output
    Buffer h1, h3;                // [max_T, hidden_dim] FFN gate / up
    Buffer scores;                // [n_threads, group, max_keys]
    Buffer cos_sin;               // [max_T, head_dim] (cos, sin) per rotary pair and position
    Buffer logits;                // [max_T, vocab] if all_logits else [vocab]
};

// Runs ids[T] (T <= st.max_T, validated by Session) at positions pos0.. through the model,
// writing this batch's keys/values into st.cache. Returns the logits of the last position or
// of all T. pool may be null.
std::span<const float> run_forward(const Model& model, const KernelTable& k, ThreadPool* pool,
                                   ForwardState& st, std::span<const TokenId> ids, int64_t pos0,
                                   bool all_logits) noexcept;

// mistral-src's RoPE frequencies in float32: 1 / theta^(2i / head_dim).
std::vector<float> rope_inv_freq(size_t head_dim, float theta);
// (cos, sin) of pos * inv_freq[i] for each pair, angle rounded to float as torch.outer does.
void rope_cos_sin(int64_t pos, std::span<const float> inv_freq, float* cos_sin) noexcept;

}  // namespace mistral
