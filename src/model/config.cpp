#include <cmath>
#include <string>

#include <mistral/config.h>
#include <mistral/error.h>

namespace mistral {

namespace {

void require(bool ok, const char* field, const std::string& why) {
    if (!ok) {
        throw Error(Errc::kBadValue, std::string("bad hyperparameter ") + field + ": " + why);
    }
}

void require_range(int64_t v, const char* field, int64_t lo, int64_t hi) {
    require(v >= lo && v <= hi, field,
            std::to_string(v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) +
                    "]");
}

}  // namespace

void ModelConfig::validate() const {
    // Generous upper limits: they only exist so that products of these numbers cannot
    // overflow 64-bit sizes before the tensor directory is checked against the file size.
    require_range(vocab_size, "vocab_size", 1, 1 << 22);
    require_range(dim, "dim", 1, 1 << 16);
    require_range(n_layers, "n_layers", 1, 1024);
    require_range(n_heads, "n_heads", 1, 1024);
    require_range(n_kv_heads, "n_kv_heads", 1, n_heads);
    require(n_heads % n_kv_heads == 0, "n_kv_heads",
            std::to_string(n_heads) + " query heads are not a multiple of " +
                    std::to_string(n_kv_heads));
    require_range(head_dim, "head_dim", 2, 1 << 12);
    require(head_dim % 2 == 0, "head_dim",
            "RoPE needs an even head_dim, got " + std::to_string(head_dim));
    require_range(hidden_dim, "hidden_dim", 1, 1 << 20);
    require(std::isfinite(norm_eps) && norm_eps > 0.0f && norm_eps < 1.0f, "norm_eps",
            "must be in (0, 1)");
    require(std::isfinite(rope_theta) && rope_theta > 1.0f, "rope_theta", "must be > 1");
    require_range(window, "sliding_window", 0, int64_t{1} << 30);
    require_range(max_context, "max_context", 0, int64_t{1} << 30);
    require_range(bos_id, "bos_id", -1, vocab_size - 1);
    require_range(eos_id, "eos_id", -1, vocab_size - 1);
}

int64_t ModelConfig::n_params() const {
    const int64_t per_layer =
            2 * dim + dim * q_dim() * 2 + dim * kv_dim() * 2 + 3 * dim * hidden_dim;
    return 2 * vocab_size * dim + dim + n_layers * per_layer;
}

ModelConfig mistral_7b_config() {
    ModelConfig c;
    c.vocab_size = 32000;
    c.dim = 4096;
    c.n_layers = 32;
    c.n_heads = 32;
    c.n_kv_heads = 8;
    c.head_dim = 128;
    c.hidden_dim = 14336;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.window = 4096;
    c.max_context = 32768;
    c.bos_id = 1;
    c.eos_id = 2;
    return c;
}

}  // namespace mistral
