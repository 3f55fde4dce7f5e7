#include <cstdio>
#include <cstring>
#include <string>

#include <mistral/error.h>
#include <mistral/kv_cache.h>
#include <unistd.h>

namespace mistral {

namespace {

// Physical memory of this machine in bytes, or SIZE_MAX if the system does not say.
size_t physical_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return SIZE_MAX;
    size_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<size_t>(pages), static_cast<size_t>(page), &bytes))
        return SIZE_MAX;
    return bytes;
}

std::string gib(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

}  // namespace

KvCache::KvCache(const ModelConfig& cfg, DType kv_type, int64_t capacity)
    : type_(kv_type),
      capacity_(capacity),
      kv_dim_(static_cast<size_t>(cfg.kv_dim())),
      n_layers_(static_cast<size_t>(cfg.n_layers)),
      n_kv_heads_(static_cast<size_t>(cfg.n_kv_heads)),
      row_bytes_(0),
      head_bytes_(0) {
    if (kv_type != DType::kF32 && kv_type != DType::kF16) {
        throw Error(Errc::kInvalidArgument,
                    "KV cache type must be f32 or f16, not " + std::string(dtype_name(kv_type)));
    }
    if (capacity < 1) {
        throw Error(Errc::kInvalidArgument,
                    "KV cache capacity must be >= 1, got " + std::to_string(capacity));
    }
    row_bytes_ = bytes_for(kv_type, kv_dim_);
    head_bytes_ = bytes_for(kv_type, kv_dim_ / n_kv_heads_);  // kv_dim = n_kv_heads * head_dim
    // The buffers are mapped lazily, so the kernel would accept any size here and the process
    // would meet the OOM killer once the context fills it: refuse what this machine cannot hold
    // (the capacity comes from the user: --ctx, --depth, full attention).
    size_t total = 0, both = 0;
    const bool overflow =
            __builtin_mul_overflow(n_layers_, static_cast<size_t>(capacity_), &total) ||
            __builtin_mul_overflow(total, row_bytes_, &total) ||
            __builtin_mul_overflow(total, size_t{2}, &both);
    const size_t ram = physical_memory();
    if (overflow || both > ram) {
        throw Error(Errc::kInvalidArgument,
                    "a KV cache of " + std::to_string(capacity) + " positions needs " +
                            (overflow ? std::string("more than 16 EiB")
                                      : gib(static_cast<double>(both))) +
                            ", more than this machine's " + gib(static_cast<double>(ram)) +
                            " of memory (use a shorter context or --kv-type f16)");
    }
    // Small pages: the cache is head-major, so the first position alone writes a row in every
    // (layer, head) run, 2 x 32 x 8 runs for Mistral 7B; with huge pages that one position made
    // the whole 1 GiB (f32, W = 4096) resident and zeroed it before the first token.
    k_ = Buffer(total, false);
    v_ = Buffer(total, false);
}

void KvCache::store(size_t layer, int64_t pos, const float* k, const float* v) noexcept {
    const size_t head_dim = kv_dim_ / n_kv_heads_;
    for (size_t h = 0; h < n_kv_heads_; ++h) {
        row_from_f32(type_, k + h * head_dim, key(layer, h, pos), head_dim);
        row_from_f32(type_, v + h * head_dim, value(layer, h, pos), head_dim);
    }
}

void KvCache::store_rows(size_t layer, int64_t pos, const std::byte* k,
                         const std::byte* v) noexcept {
    for (size_t h = 0; h < n_kv_heads_; ++h) {
        std::memcpy(key(layer, h, pos), k + h * head_bytes_, head_bytes_);
        std::memcpy(value(layer, h, pos), v + h * head_bytes_, head_bytes_);
    }
}

}  // namespace mistral
