// The reference kernels: the spec every ISA table is tested against (see kernels.h for the
// contract). Plain loops, fixed left-to-right float accumulation, no intrinsics.
#include <cmath>
#include <cstring>

#include <mistral/kernels.h>

#include "kernels/kv_rows_generic.h"
namespace mistral {

namespace {

// ---- matmul ------------------------------------------------------------------------------------

// dot(w row of a float type, x[n]) accumulated in float, left to right.
float dot_f32_row(const float* w, const float* x, size_t n) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i)
        sum += w[i] * x[i];
    return sum;
}

float dot_f16_row(const uint16_t* w, const float* x, size_t n) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i)
        sum += f16_to_f32(w[i]) * x[i];
    return sum;
}

float dot_bf16_row(const uint16_t* w, const float* x, size_t n) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i)
        sum += bf16_to_f32(w[i]) * x[i];
    return sum;
}

// sum += one weight block times one q8_0 activation block: the exact int32 sum of the products,
// then one scaled float add. One definition per block type, used by both its layouts, so that
// however the compiler contracts the update (an FMA or not), plain and interleaved weights give
// identical sums.
inline void add_block(float& sum, int32_t isum, uint16_t wd, uint16_t xd) {
    const float scale = f16_to_f32(wd) * f16_to_f32(xd);
    sum += scale * static_cast<float>(isum);
}
inline void add_block(float& sum, const BlockQ8_0& w, const BlockQ8_0& x) {
    int32_t isum = 0;
    for (size_t i = 0; i < kQBlock; ++i)
        isum += static_cast<int32_t>(w.qs[i]) * static_cast<int32_t>(x.qs[i]);
    add_block(sum, isum, w.d, x.d);
}
// Byte j of a q4 block: low nibble = value j, high = j + 16.
inline void add_block(float& sum, const BlockQ4_0& w, const BlockQ8_0& x) {
    constexpr size_t kHalf = kQBlock / 2;
    int32_t isum = 0;
    for (size_t j = 0; j < kHalf; ++j) {
        const int32_t lo = static_cast<int32_t>(w.qs[j] & 0x0f) - 8;
        const int32_t hi = static_cast<int32_t>(w.qs[j] >> 4) - 8;
        isum += lo * static_cast<int32_t>(x.qs[j]);
        isum += hi * static_cast<int32_t>(x.qs[j + kHalf]);
    }
    add_block(sum, isum, w.d, x.d);
}

// q8_0 / q4_0 weights x q8_0 activations, one row.
template <class Block>
float dot_quant_row(const Block* w, const BlockQ8_0* x, size_t n_blocks) {
    float sum = 0.0f;
    for (size_t b = 0; b < n_blocks; ++b)
        add_block(sum, w[b], x[b]);
    return sum;
}

// Interleaved weights: block by block as the plain layout (same sums, same order: identical
// results).
template <class Block>
float dot_x16_row(const TensorView& w, size_t r, const BlockQ8_0* x, size_t n_blocks,
                  Block (*block)(const void*, size_t, size_t, size_t) noexcept) {
    float sum = 0.0f;
    for (size_t b = 0; b < n_blocks; ++b)
        add_block(sum, block(w.data, n_blocks, r, b), x[b]);
    return sum;
}

// f16x16 weights: the row's values left to right (the plain f16 row's order: identical sums).
float dot_f16x16_row(const TensorView& w, size_t r, const float* x) {
    float sum = 0.0f;
    for (size_t k = 0; k < w.cols; ++k)
        sum += f16_to_f32(f16x16_value(w.data, w.cols, r, k)) * x[k];
    return sum;
}

// One output: dot(W row r, activation row t).
float dot_row(const TensorView& w, const ActBatch& a, size_t r, size_t t) {
    const std::byte* wr = w.row(r);
    const float* x = a.x + t * a.n;
    const size_t n_blocks = a.n / kQBlock;
    switch (w.type) {
        case DType::kF32:
            return dot_f32_row(reinterpret_cast<const float*>(wr), x, a.n);
        case DType::kF16:
            return dot_f16_row(reinterpret_cast<const uint16_t*>(wr), x, a.n);
        case DType::kBF16:
            return dot_bf16_row(reinterpret_cast<const uint16_t*>(wr), x, a.n);
        case DType::kQ8_0:
            return dot_quant_row(reinterpret_cast<const BlockQ8_0*>(wr), a.xq + t * n_blocks,
                                 n_blocks);
        case DType::kQ4_0:
            return dot_quant_row(reinterpret_cast<const BlockQ4_0*>(wr), a.xq + t * n_blocks,
                                 n_blocks);
        case DType::kQ4_0x16:
            return dot_x16_row(w, r, a.xq + t * n_blocks, n_blocks, q4_0x16_block);
        case DType::kQ8_0x16:
            return dot_x16_row(w, r, a.xq + t * n_blocks, n_blocks, q8_0x16_block);
        case DType::kF16x16:
            return dot_f16x16_row(w, r, x);
    }
    return 0.0f;
}

void matmul_ref(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) noexcept {
    // y: [T, rows]; row-outer so each weight row is streamed once for the whole batch.
    for (size_t r = r0; r < r1; ++r) {
        for (size_t t = 0; t < a.T; ++t)
            y[t * w.rows + r] = dot_row(w, a, r, t);
    }
}

void quantize_act_ref(const float* x, BlockQ8_0* xq, size_t n) noexcept {
    quantize_row_q8_0(x, xq, n);
}

// ---- element-wise ops ------------------------------------------------------------------------

void rmsnorm_ref(float* out, const float* x, const float* gain, size_t n, float eps) noexcept {
    // mean of squares, in float, left to right
    float ss = 0.0f;
    for (size_t i = 0; i < n; ++i)
        ss += x[i] * x[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
    // normalise, then scale by the learned gain (mistral-src: norm(x) * weight)
    for (size_t i = 0; i < n; ++i)
        out[i] = (x[i] * inv) * gain[i];
}

void rope_ref(float* v, size_t n_heads, size_t head_dim, const float* cos_sin) noexcept {
    const size_t n_pairs = head_dim / 2;
    for (size_t h = 0; h < n_heads; ++h) {
        float* p = v + h * head_dim;  // [head_dim] = n_pairs interleaved (re, im) pairs
        for (size_t i = 0; i < n_pairs; ++i) {
            const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
            const float a = p[2 * i], b = p[2 * i + 1];
            // complex multiply (a + ib)(c + is), as torch.view_as_complex(x) * freqs_cis
            p[2 * i] = a * c - b * s;
            p[2 * i + 1] = a * s + b * c;
        }
    }
}

float kv_at(const void* row, DType kv, size_t i) {
    switch (kv) {
        case DType::kF16:
            return f16_to_f32(static_cast<const uint16_t*>(row)[i]);
        case DType::kBF16:
            return bf16_to_f32(static_cast<const uint16_t*>(row)[i]);
        default:
            return static_cast<const float*>(row)[i];
    }
}

float dot_kv_ref(const float* q, const void* k, DType kv, size_t n) noexcept {
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i)
        sum += q[i] * kv_at(k, kv, i);
    return sum;
}

void axpy_kv_ref(float a, const void* v, DType kv, float* out, size_t n) noexcept {
    for (size_t i = 0; i < n; ++i)
        out[i] += a * kv_at(v, kv, i);
}

void softmax_ref(float* x, size_t n) noexcept {
    // subtract the max for range safety; exp; normalise by the sum
    float max = x[0];
    for (size_t i = 1; i < n; ++i)
        max = x[i] > max ? x[i] : max;
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - max);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (size_t i = 0; i < n; ++i)
        x[i] *= inv;
}

void swiglu_ref(float* gate, const float* up, size_t n) noexcept {
    for (size_t i = 0; i < n; ++i) {
        const float g = gate[i];
        gate[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

void row_to_f32_ref(const TensorView& w, size_t row, float* out) noexcept {
    tensor_row_to_f32(w, row, out);
}

constexpr KernelTable kReference = {
        .name = "ref",
        .matmul = matmul_ref,
        .quantize_act = quantize_act_ref,
        .rmsnorm = rmsnorm_ref,
        .rope = rope_ref,
        .dot_kv = dot_kv_ref,
        .axpy_kv = axpy_kv_ref,
        .dot_kv_rows = dot_kv_rows_generic<dot_kv_ref>,
        .axpy_kv_rows = axpy_kv_rows_generic<axpy_kv_ref>,
        .softmax = softmax_ref,
        .swiglu = swiglu_ref,
        .row_to_f32 = row_to_f32_ref,
};

}  // namespace

const KernelTable& reference_kernels() {
    return kReference;
}

}  // namespace mistral
