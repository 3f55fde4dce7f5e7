// The compute kernels behind one table of function pointers. The reference table (plain loops,
// src/kernels/kernels_ref.cpp) is the spec and is always built; ISA tables (AVX2, NEON) start as
// a copy of it and override what they implement, so partial coverage is safe (AVX-512 starts as
// a copy of AVX2 the same way).
//
// Every kernel is pure, single-threaded and noexcept: shapes are validated by the model layer,
// which also splits rows across threads. Pointers need only float alignment.
//
// Contract an ISA table must meet against reference_kernels() (tested in kernels_test.cpp):
//  - matmul on f32/f16/bf16 weights (and f16x16, f16 rows interleaved in groups of 16, dtype.h):
//    every output is dot(float(w row), x) accumulated in float.
//    Any summation order is allowed: |got - ref| <= 1e-6 + 1e-5 * sum_i |w_i * x_i|.
//  - matmul on q8_0/q4_0 weights (and their 16-row interleaved forms q8_0x16/q4_0x16, the same
//    blocks: the same results) consumes the activations quantized to q8_0 (ActBatch::xq, made
//    by quantize_act). The reference sums each 32-block's int8 products exactly in int32, then
//    y += (f16(w.d) * f16(x.d)) * float(isum), the scale product rounded to float first. An ISA
//    table may instead split a block's integer sum into exact int32 partial sums and add each,
//    times the same rounded scale product, in float (one FMA per 8 lanes, no horizontal sum per
//    block), in any order: same bound as above, with w_i, x_i the dequantized values.
//  - quantize_act is bit-exact with quantize_row_q8_0 (dtype.h).
//  - rmsnorm, softmax, swiglu: relative error <= 1e-5 per element (exp/rsqrt approximations ok).
//  - row_to_f32: bit-exact. rope: |got - ref| <= 1e-6 * (|a| + |b|) per rotated pair (FMA ok).
//  - dot_kv, axpy_kv, dot_kv_rows, axpy_kv_rows: same bound as the float matmul (the sum of
//    |products| of each output element; axpy_kv_rows may fuse each multiply-add).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <mistral/dtype.h>
#include <mistral/tensor.h>

namespace mistral {

// A batch of T activation rows of length n (row-major [T, n]), as matmul consumes it.
// xq holds the same rows quantized to q8_0 ([T, n/32] blocks, made by quantize_act) and must be
// non-null when the weight is q8_0 or q4_0; it is ignored for float weights.
struct ActBatch {
    const float* x = nullptr;       // [T, n]
    const BlockQ8_0* xq = nullptr;  // [T, n/32] or null
    size_t T = 0;
    size_t n = 0;
};

struct KernelTable {
    std::string_view name;  // "ref", "avx2", "avx512", "neon"

    // y[t * w.rows + r] = dot(W row r, x row t) for r in [r0, r1), t in [0, a.T).
    // W: [rows, n] of any DType, a.n == w.cols. y: [T, w.rows]; only columns [r0, r1) are written.
    void (*matmul)(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) noexcept;

    // xq[n/32] = q8_0 quantization of x[n] (n % 32 == 0); bit-exact with quantize_row_q8_0.
    void (*quantize_act)(const float* x, BlockQ8_0* xq, size_t n) noexcept;

    // out[i] = x[i] * gain[i] / sqrt(mean(x^2) + eps). out may alias x.
    void (*rmsnorm)(float* out, const float* x, const float* gain, size_t n, float eps) noexcept;

    // Rotates pairs (2i, 2i+1) of each of n_heads heads of v[n_heads, head_dim] in place:
    //   (a, b) <- (a*c - b*s, a*s + b*c),  c = cos_sin[2i], s = cos_sin[2i+1], i < head_dim/2.
    // (The interleaved-pair convention of mistral-src; the caller computes the angles.)
    void (*rope)(float* v, size_t n_heads, size_t head_dim, const float* cos_sin) noexcept;

    // Attention score: dot(q[n], k[n]) where k is one cached row of type kv (f32, f16 or bf16).
    float (*dot_kv)(const float* q, const void* k, DType kv, size_t n) noexcept;

    // out[n] += a * v[n], v one cached row of type kv (f32, f16 or bf16).
    void (*axpy_kv)(float a, const void* v, DType kv, float* out, size_t n) noexcept;

    // Attention over n cached rows of one KV head, for the `group` query heads that share it
    // (grouped-query attention: each row is read once for the whole group). Row j < n starts at
    // rows + j * stride bytes and holds head_dim values of type kv (f32, f16 or bf16).
    // Scores: s[h * ld + j] = dot_kv(q + h * head_dim, row j) * scale, for h < group.
    void (*dot_kv_rows)(const float* q, size_t group, size_t head_dim, const std::byte* rows,
                        size_t stride, DType kv, size_t n, float scale, float* s,
                        size_t ld) noexcept;
    // Values: out[h * head_dim + i] += p[h * ld + j] * row_j[i] for j = 0, 1, ..., n - 1 in
    // that order (so splitting the rows into consecutive runs gives the same result), h < group.
    void (*axpy_kv_rows)(const float* p, size_t ld, size_t group, size_t head_dim,
                         const std::byte* rows, size_t stride, DType kv, size_t n,
                         float* out) noexcept;

    // In place: x[i] = exp(x[i] - max) / sum_j exp(x[j] - max). n >= 1.
    void (*softmax)(float* x, size_t n) noexcept;

    // In place: gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
    void (*swiglu)(float* gate, const float* up, size_t n) noexcept;

    // out[w.cols] = row `row` of w converted to float (embedding lookup).
    void (*row_to_f32)(const TensorView& w, size_t row, float* out) noexcept;
};

// The scalar reference table: always available.
const KernelTable& reference_kernels();

// Reference first, then every ISA table this build has and this CPU runs.
std::span<const KernelTable* const> available_kernels();

// The best available table, or the one named by the environment variable MISTRAL_KERNELS
// ("ref", "avx2", "avx512", "neon"). Throws Error(kInvalidArgument) if that name is unknown or not
// available here. Call once at the top (CLI, tests) and pass the table down.
const KernelTable& select_kernels();

// Finds an available table by name; nullptr if absent.
const KernelTable* find_kernels(std::string_view name);

}  // namespace mistral
