// Model hyperparameters as stored in the weight file, plus derived sizes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mistral {

struct ModelConfig {
    int64_t vocab_size = 0;
    int64_t dim = 0;  // model width
    int64_t n_layers = 0;
    int64_t n_heads = 0;     // query heads
    int64_t n_kv_heads = 0;  // key/value heads (GQA: n_heads % n_kv_heads == 0)
    int64_t head_dim = 0;
    int64_t hidden_dim = 0;  // SwiGLU FFN width
    float norm_eps = 1e-5f;
    float rope_theta = 10000.0f;
    int64_t window = 0;       // sliding window W; 0 = full causal attention
    int64_t max_context = 0;  // training context (informational; 0 = unknown)
    int64_t bos_id = 1;
    int64_t eos_id = 2;

    int64_t q_dim() const { return n_heads * head_dim; }
    int64_t kv_dim() const { return n_kv_heads * head_dim; }
    int64_t group() const { return n_heads / n_kv_heads; }
    // Number of parameters the tensor list implies.
    int64_t n_params() const;

    // Throws Error(kBadValue) naming the first impossible field (zero or negative sizes,
    // n_heads not a multiple of n_kv_heads, odd head_dim, non-finite eps/theta, absurd sizes).
    void validate() const;
};

// The paper's Mistral 7B v0.1 shape (Table 1).
ModelConfig mistral_7b_config();

}  // namespace mistral
