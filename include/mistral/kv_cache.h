// The KV cache: Mistral's rolling buffer. Each layer keeps `capacity` slots of keys and of values
// ([capacity, kv_dim] each); position pos lives in slot pos % capacity, so with capacity == window
// position i overwrites position i - window and memory stays fixed however long the text.
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
    // Bytes of one cached row of kv_dim values.
    size_t row_bytes() const { return row_bytes_; }
    // Slot of an absolute position. pos >= 0.
    size_t slot(int64_t pos) const { return static_cast<size_t>(pos % capacity_); }

    // Row for slot(pos) of layer `layer` ([kv_dim] of type()).
    std::byte* key(size_t layer, int64_t pos) { return k_.data() + offset(layer, pos); }
    std::byte* value(size_t layer, int64_t pos) { return v_.data() + offset(layer, pos); }
    const std::byte* key(size_t layer, int64_t pos) const { return k_.data() + offset(layer, pos); }
    const std::byte* value(size_t layer, int64_t pos) const {
        return v_.data() + offset(layer, pos);
    }

    // Converts k[kv_dim], v[kv_dim] to type() and stores them at slot(pos) of `layer`.
    void store(size_t layer, int64_t pos, const float* k, const float* v) noexcept;

    // Total bytes held (keys + values, all layers): constant for the cache's lifetime.
    size_t bytes() const { return k_.size() + v_.size(); }

private:
    size_t offset(size_t layer, int64_t pos) const {
        return (layer * static_cast<size_t>(capacity_) + slot(pos)) * row_bytes_;
    }

    DType type_;
    int64_t capacity_;
    size_t kv_dim_, n_layers_, row_bytes_;
    Buffer k_;  // [n_layers, capacity, kv_dim] of type_
    Buffer v_;  // [n_layers, capacity, kv_dim] of type_
};

}  // namespace mistral
