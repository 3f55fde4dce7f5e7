#include <string>

#include <mistral/error.h>
#include <mistral/kv_cache.h>

namespace mistral {

KvCache::KvCache(const ModelConfig& cfg, DType kv_type, int64_t capacity)
    : type_(kv_type),
      capacity_(capacity),
      kv_dim_(static_cast<size_t>(cfg.kv_dim())),
      n_layers_(static_cast<size_t>(cfg.n_layers)),
      row_bytes_(0) {
    if (kv_type != DType::kF32 && kv_type != DType::kF16) {
        throw Error(Errc::kInvalidArgument,
                    "KV cache type must be f32 or f16, not " + std::string(dtype_name(kv_type)));
    }
    if (capacity < 1) {
        throw Error(Errc::kInvalidArgument,
                    "KV cache capacity must be >= 1, got " + std::to_string(capacity));
    }
    row_bytes_ = bytes_for(kv_type, kv_dim_);
    const size_t total = n_layers_ * static_cast<size_t>(capacity_) * row_bytes_;
    k_ = Buffer(total);
    v_ = Buffer(total);
}

void KvCache::store(size_t layer, int64_t pos, const float* k, const float* v) noexcept {
    row_from_f32(type_, k, key(layer, pos), kv_dim_);
    row_from_f32(type_, v, value(layer, pos), kv_dim_);
}

}  // namespace mistral
