// dot_kv_rows / axpy_kv_rows composed from a table's own dot_kv / axpy_kv, one row and one head
// at a time, in the order kernels.h specifies. The reference table uses them as the spec; an ISA
// table uses them where it has no faster version. Internal linkage (anonymous namespace): each
// TU gets its own copy compiled with its own flags (STYLE.md 3.5, the ODR trap).
#pragma once

#include <cstddef>

#include <mistral/dtype.h>

namespace mistral {
namespace {

template <float (*Dot)(const float*, const void*, DType, size_t) noexcept>
void dot_kv_rows_generic(const float* q, size_t group, size_t head_dim, const std::byte* rows,
                         size_t stride, DType kv, size_t n, float scale, float* s,
                         size_t ld) noexcept {
    for (size_t j = 0; j < n; ++j) {
        for (size_t h = 0; h < group; ++h)
            s[h * ld + j] = Dot(q + h * head_dim, rows + j * stride, kv, head_dim) * scale;
    }
}

template <void (*Axpy)(float, const void*, DType, float*, size_t) noexcept>
void axpy_kv_rows_generic(const float* p, size_t ld, size_t group, size_t head_dim,
                          const std::byte* rows, size_t stride, DType kv, size_t n,
                          float* out) noexcept {
    for (size_t j = 0; j < n; ++j) {
        for (size_t h = 0; h < group; ++h)
            Axpy(p[h * ld + j], rows + j * stride, kv, out + h * head_dim, head_dim);
    }
}

}  // namespace
}  // namespace mistral
