// Non-owning tensor views (into the mmap) and an owning aligned buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <mistral/dtype.h>

namespace mistral {

// A 1-D ([cols], rows == 1, ndim == 1) or 2-D row-major [rows, cols] tensor. Rows are contiguous:
// row r starts at data + r * row_bytes, row_bytes == bytes_for(type, cols) -- except for
// q4_0x16 / q8_0x16 / f16x16, whose rows are interleaved in groups of 16 (row() is then
// meaningless; use tensor_row_to_f32 or q4_0x16_block / q8_0x16_block / f16x16_value).
struct TensorView {
    DType type = DType::kF32;
    int ndim = 0;
    size_t rows = 0;
    size_t cols = 0;
    size_t row_bytes = 0;
    const std::byte* data = nullptr;

    size_t numel() const { return rows * cols; }
    size_t nbytes() const { return rows * row_bytes; }
    const std::byte* row(size_t r) const { return data + r * row_bytes; }
    bool valid() const { return data != nullptr; }
};

// "[4096, 14336]" style shape string.
std::string shape_string(const TensorView& t);

// out[t.cols] = row `row` of t as float, for every type (the interleaved ones included). The spec
// the kernels' row_to_f32 is tested against.
void tensor_row_to_f32(const TensorView& t, size_t row, float* out) noexcept;

// An owning, 64-byte aligned, zero-initialised byte buffer. Move-only. Large buffers (the KV
// cache, the scratch of a 7B model) come from anonymous mmap: the kernel hands out zero pages on
// first touch, so a buffer costs no time (and no resident memory) until it is used. They ask for
// transparent huge pages, or with `huge_pages` false refuse them: a buffer written sparsely (the
// head-major KV cache, whose first position touches every head's run) would otherwise be zeroed
// and made resident 2 MiB per touch.
class Buffer {
public:
    Buffer() = default;
    explicit Buffer(size_t bytes, bool huge_pages = true);
    std::byte* data() { return ptr_.get(); }
    const std::byte* data() const { return ptr_.get(); }
    size_t size() const { return size_; }
    // Bytes of the buffer in physical memory now, in whole pages (mincore): pages never written
    // are not. A heap buffer (< 1 MiB, zeroed at construction) counts whole.
    size_t resident_bytes() const;
    template <typename T>
    T* as() {
        return reinterpret_cast<T*>(ptr_.get());
    }
    template <typename T>
    const T* as() const {
        return reinterpret_cast<const T*>(ptr_.get());
    }

private:
    struct Free {
        Free() noexcept : mapped(0) {}
        explicit Free(size_t bytes) noexcept : mapped(bytes) {}
        size_t mapped;  // bytes mapped with mmap, or 0 for the heap
        void operator()(std::byte* p) const noexcept;
    };
    std::unique_ptr<std::byte, Free> ptr_;
    size_t size_ = 0;
};

}  // namespace mistral
