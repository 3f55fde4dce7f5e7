// The KV cache: Mistral's rolling buffer. Each layer keeps `capacity` slots of keys and of values
// per KV head ([n_kv_heads, capacity, head_dim] each); position pos lives in slot pos % capacity,
// so with capacity == window position i overwrites position i - window and memory stays fixed
// however long the text. Head-major: attention reads one KV head's keys (then values) for a
// query group, and in this layout they are one contiguous run of rows (up to the wrap-around),
// which the hardware prefetcher streams; position-major rows would put each head's 512 bytes
// (f32, head_dim 128) at a stride of kv_dim, a new 4 KiB page per key.
// Keys are stored already RoPE-rotated at their absolute position, so a slot never needs
// re-rotation. Element type f32 (default) or f16.
#pragma once

#include <cstddef>
#include <cstdint>

#include <mistral/config.h>
#include <mistral/dtype.h>
#include <mistral/tensor.h>

namespace mistral {

class KvCache {
public:
    // Throws Error(kInvalidArgument) if kv_type is not f32/f16, capacity < 1, or keys and values
    // together would need more than the machine's physical memory.
    KvCache(const ModelConfig& cfg, DType kv_type, int64_t capacity);
    KvCache(KvCache&&) noexcept = default;
    KvCache& operator=(KvCache&&) noexcept = default;
    KvCache(const KvCache&) = delete;
    KvCache& operator=(const KvCache&) = delete;

    int64_t capacity() const { return capacity_; }
    DType type() const { return type_; }
    size_t kv_dim() const { return kv_dim_; }
    size_t n_layers() const { return n_layers_; }
    size_t n_kv_heads() const { return n_kv_heads_; }
    // Bytes of one row of kv_dim values (as the forward pass holds a token's keys) and of one
    // head's head_dim values (one cached row).
    size_t row_bytes() const { return row_bytes_; }
    size_t head_bytes() const { return head_bytes_; }
    // Slot of an absolute position. pos >= 0.
    size_t slot(int64_t pos) const { return static_cast<size_t>(pos % capacity_); }

    // Head `head`'s row for slot(pos) of layer `layer` ([head_dim] of type()). Slots s and s + 1
    // of a head are head_bytes() apart.
    std::byte* key(size_t layer, size_t head, int64_t pos) {
        return k_.data() + offset(layer, head, pos);
    }
    std::byte* value(size_t layer, size_t head, int64_t pos) {
        return v_.data() + offset(layer, head, pos);
    }
    const std::byte* key(size_t layer, size_t head, int64_t pos) const {
        return k_.data() + offset(layer, head, pos);
    }
    const std::byte* value(size_t layer, size_t head, int64_t pos) const {
        return v_.data() + offset(layer, head, pos);
    }

    // Converts k[kv_dim], v[kv_dim] to type() and stores them at slot(pos) of `layer`.
    void store(size_t layer, int64_t pos, const float* k, const float* v) noexcept;
    // Stores rows already of type() (row_bytes() each, heads in order) at slot(pos) of `layer`.
    void store_rows(size_t layer, int64_t pos, const std::byte* k, const std::byte* v) noexcept;

    // Total bytes held (keys + values, all layers): constant for the cache's lifetime.
    size_t bytes() const { return k_.size() + v_.size(); }
    // Of those, the bytes in physical memory now (pages written so far; Buffer::resident_bytes).
    size_t resident_bytes() const { return k_.resident_bytes() + v_.resident_bytes(); }

private:
    size_t offset(size_t layer, size_t head, int64_t pos) const {
        return ((layer * n_kv_heads_ + head) * static_cast<size_t>(capacity_) + slot(pos)) *
               head_bytes_;
    }

    DType type_;
    int64_t capacity_;
    size_t kv_dim_, n_layers_, n_kv_heads_, row_bytes_, head_bytes_;
    Buffer k_;  // [n_layers, n_kv_heads, capacity, head_dim] of type_
    Buffer v_;  // [n_layers, n_kv_heads, capacity, head_dim] of type_
};

}  // namespace mistral
