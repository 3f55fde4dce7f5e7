// The NEON kernel table (AArch64, where Advanced SIMD is baseline). Same contract as every table
// (kernels.h); kernels_ref.cpp is the spec.
//  - Float matmul: 4-wide FMA (vfmaq_f32), f16 converted in registers (vcvt_f32_f16), bf16 by
//    a widening shift; for T > 1 each converted weight vector is reused for up to 4 tokens.
//  - q8_0/q4_0: per block an exact int32 dot (sdot when the compiler targets +dotprod, else
//    widening multiplies), then sum += (d_w * d_x) * float(isum) in block order, which is
//    the reference's order (the tests hold it to the kernels.h bound: GCC may contract either
//    side's update into an FMA).
//  - q8_0x16/q4_0x16 (16 rows interleaved, dtype.h): one row per int32 lane (4 rows), sdot by
//    element against four activation bytes (widening multiplies without +dotprod).
//  - f16x16 (each 16-row group stored column by column, dtype.h): a column converts to four
//    vectors of 4 rows, multiplied by the broadcast activation; decode reads a group as one
//    stream, prefill takes up to 4 tokens per converted column.
// This file is compiled twice: as itself for baseline ARMv8-A (table "neon"), and through
// kernels_neon_dotprod.cpp with +dotprod and MISTRAL_NEON_DOTPROD defined (table
// "neon-dotprod", selected at startup only where the CPU reports the dot-product instructions).
// Everything but the exported accessor is in an anonymous namespace, so the two copies never
// meet at link time.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <arm_neon.h>
#include <mistral/kernels.h>

#include "kernels/isa.h"
#include "kernels/kv_rows_generic.h"
#include "kernels/simd_neon.h"
#include "kernels/x16_generic.h"
namespace mistral {
namespace {

struct LoadF32 {
    using E = float;
    static float32x4_t load4(const E* p) { return load4_f32(p); }
};
struct LoadF16 {
    using E = uint16_t;
    static float32x4_t load4(const E* p) { return load4_f16(p); }
};
struct LoadBF16 {
    using E = uint16_t;
    static float32x4_t load4(const E* p) { return load4_bf16(p); }
};

constexpr size_t kTileTok = 4;

// One weight row (n values) times TT tokens: y[t * ldy] = dot(w, x + t * n).
template <class L, size_t TT>
void row_tile_float(const typename L::E* w, const float* x, size_t n, float* y, size_t ldy) {
    float32x4_t acc[TT];
    for (size_t t = 0; t < TT; ++t)
        acc[t] = vdupq_n_f32(0.0f);
    size_t k = 0;
    for (; k + 4 <= n; k += 4, w += 4) {
        const float32x4_t wv = L::load4(w);
        for (size_t t = 0; t < TT; ++t)
            acc[t] = vfmaq_f32(acc[t], wv, vld1q_f32(x + t * n + k));
    }
    if (k < n) {  // tail: zero-padded copies
        typename L::E wb[4];
        copy_partial4(w, n - k, wb);
        const float32x4_t wv = L::load4(wb);
        for (size_t t = 0; t < TT; ++t) {
            float xb[4];
            copy_partial4(x + t * n + k, n - k, xb);
            acc[t] = vfmaq_f32(acc[t], wv, vld1q_f32(xb));
        }
    }
    for (size_t t = 0; t < TT; ++t)
        y[t * ldy] = vaddvq_f32(acc[t]);
}

template <class L>
void matmul_float(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    using E = typename L::E;
    for (size_t r = r0; r < r1; ++r) {
        const E* wr = reinterpret_cast<const E*>(w.row(r));
        size_t t = 0;
        for (; t + kTileTok <= a.T; t += kTileTok) {
            row_tile_float<L, kTileTok>(wr, a.x + t * a.n, a.n, y + t * w.rows + r, w.rows);
        }
        for (; t < a.T; ++t)
            row_tile_float<L, 1>(wr, a.x + t * a.n, a.n, y + t * w.rows + r, w.rows);
    }
}

// f16x16: one group of 16 rows x TT tokens over all n columns. Per column, its 16 rows' values
// (32 bytes) as four vectors of 4 rows, each FMA'd by the token's broadcast activation into the
// token's partial sums; for decode (TT = 1) two sets of partial sums (even and odd columns), so
// that two FMA chains are in flight. y[t * ldy + r] = row r's dot with token t.
template <size_t TT>
void group_f16x16(const std::byte* g, const float* x, size_t n, float* y, size_t ldy) {
    constexpr size_t A = TT == 1 ? 2 : 1;
    float32x4_t acc[TT][A][4];
    for (size_t t = 0; t < TT; ++t)
        for (size_t i = 0; i < A; ++i)
            for (size_t q = 0; q < 4; ++q)
                acc[t][i][q] = vdupq_n_f32(0.0f);
    const auto* w = reinterpret_cast<const uint16_t*>(g);
    for (size_t k = 0; k < n; ++k, w += kX16Rows) {
        float32x4_t wv[4];
        for (size_t q = 0; q < 4; ++q)
            wv[q] = load4_f16(w + 4 * q);
        for (size_t t = 0; t < TT; ++t) {
            const float32x4_t xb = vdupq_n_f32(x[t * n + k]);
            for (size_t q = 0; q < 4; ++q)
                acc[t][k % A][q] = vfmaq_f32(acc[t][k % A][q], wv[q], xb);
        }
    }
    for (size_t t = 0; t < TT; ++t) {
        for (size_t q = 0; q < 4; ++q) {
            float32x4_t sum = acc[t][0][q];
            for (size_t i = 1; i < A; ++i)
                sum = vaddq_f32(sum, acc[t][i][q]);
            vst1q_f32(y + t * ldy + 4 * q, sum);
        }
    }
}

void matmul_f16x16(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    for_whole_x16_groups(w, a, y, r0, r1, [&](const std::byte* gp, float* yg) {
        size_t t = 0;
        for (; t + kTileTok <= a.T; t += kTileTok)
            group_f16x16<kTileTok>(gp, a.x + t * a.n, a.n, yg + t * w.rows, w.rows);
        for (; t < a.T; ++t)
            group_f16x16<1>(gp, a.x + t * a.n, a.n, yg + t * w.rows, w.rows);
    });
}

// q4_0 block -> two 16-lane int8 halves in value order, values in [-8, 7].
inline void unpack_q4(const BlockQ4_0& b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t q = vld1q_u8(b.qs);
    const int8x16_t eight = vdupq_n_s8(8);
    lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), eight);
    hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
}

template <typename Block>
float dot_quant_row(const Block* w, const BlockQ8_0* x, size_t nb) {
    float sum = 0.0f;
    for (size_t b = 0; b < nb; ++b) {
        int8x16_t w0, w1;
        if constexpr (sizeof(Block) == sizeof(BlockQ4_0)) {
            unpack_q4(w[b], w0, w1);
        } else {
            w0 = vld1q_s8(w[b].qs);
            w1 = vld1q_s8(w[b].qs + 16);
        }
        const int32_t isum = block_dot_i8(w0, w1, vld1q_s8(x[b].qs), vld1q_s8(x[b].qs + 16));
        const float scale = f16_to_f32(w[b].d) * f16_to_f32(x[b].d);
        sum += scale * static_cast<float>(isum);
    }
    return sum;
}

template <typename Block>
void matmul_quant(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    const size_t nb = a.n / kQBlock;
    for (size_t r = r0; r < r1; ++r) {
        const Block* wr = reinterpret_cast<const Block*>(w.row(r));
        for (size_t t = 0; t < a.T; ++t)
            y[t * w.rows + r] = dot_quant_row(wr, a.xq + t * nb, nb);
    }
}

// ---- q4_0x16 / q8_0x16 ---------------------------------------------------------------------
//
// Quarter q of each 64-byte chunk of a group block (dtype.h) holds rows 4q..4q+3, four quant
// bytes per 32-bit lane: one dot4_lane per chunk gives the block's exact int32 sums of four rows
// (signed weights: q4_0 nibble - 8, q8_0 as stored). Per lane, sum += (d_w * d_x) * float(isum)
// in block order, as in the reference.

// A block's 8 weight registers (rows 4q..4q+3): register j is multiplied by activation bytes
// 4j..4j+3.
struct X16Q4 {
    static constexpr size_t kBlockBytes = kQ4x16GroupBlockBytes;
    static void unpack(const std::byte* p, size_t q, int8x16_t (&w)[8]) {
        const uint8x16_t m = vdupq_n_u8(0x0f);
        const int8x16_t eight = vdupq_n_s8(8);
        for (int c = 0; c < 4; ++c) {  // values 4c.. (low nibbles) and 4c + 16.. (high)
            const uint8x16_t v =
                    vld1q_u8(reinterpret_cast<const uint8_t*>(p + 32 + 64 * c + 16 * q));
            w[c] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, m)), eight);
            w[c + 4] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
        }
    }
};
struct X16Q8 {
    static constexpr size_t kBlockBytes = kQ8x16GroupBlockBytes;
    static void unpack(const std::byte* p, size_t q, int8x16_t (&w)[8]) {
        for (int c = 0; c < 8; ++c)
            w[c] = vld1q_s8(reinterpret_cast<const int8_t*>(p + 32 + 64 * c + 16 * q));
    }
};

// Rows 4q..4q+3 of one group (from g0) x TT tokens, every block column.
template <class P, int TT>
void tile_x16(const std::byte* g0, size_t q, size_t nb, const BlockQ8_0* xq, float* y, size_t ldy) {
    float32x4_t acc[TT];
    for (int t = 0; t < TT; ++t)
        acc[t] = vdupq_n_f32(0.0f);
    for (size_t k = 0; k < nb; ++k) {
        const std::byte* p = g0 + k * P::kBlockBytes;
        const float32x4_t dw = load4_f16(reinterpret_cast<const uint16_t*>(p) + 4 * q);
        int8x16_t w[8];
        P::unpack(p, q, w);
        for (int t = 0; t < TT; ++t) {
            const BlockQ8_0& x = xq[t * nb + k];
            const int8x16_t xl = vld1q_s8(x.qs), xh = vld1q_s8(x.qs + 16);
            int32x4_t sum = vdupq_n_s32(0);
            sum = dot4_lane<0>(sum, w[0], xl);
            sum = dot4_lane<1>(sum, w[1], xl);
            sum = dot4_lane<2>(sum, w[2], xl);
            sum = dot4_lane<3>(sum, w[3], xl);
            sum = dot4_lane<0>(sum, w[4], xh);
            sum = dot4_lane<1>(sum, w[5], xh);
            sum = dot4_lane<2>(sum, w[6], xh);
            sum = dot4_lane<3>(sum, w[7], xh);
            const float32x4_t scale = vmulq_f32(dw, vdupq_n_f32(f16_to_f32(x.d)));
            acc[t] = vaddq_f32(acc[t], vmulq_f32(scale, vcvtq_f32_s32(sum)));
        }
    }
    for (int t = 0; t < TT; ++t)
        vst1q_f32(y + t * ldy, acc[t]);
}

template <class P>
void matmul_x16(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    const size_t nb = a.n / kQBlock, ldy = w.rows;
    for_whole_x16_groups(w, a, y, r0, r1, [&](const std::byte* gp, float* yg) {
        for (size_t q = 0; q < 4; ++q) {
            size_t t = 0;
            for (; t + kTileTok <= a.T; t += kTileTok)
                tile_x16<P, kTileTok>(gp, q, nb, a.xq + t * nb, yg + 4 * q + t * ldy, ldy);
            for (; t < a.T; ++t)
                tile_x16<P, 1>(gp, q, nb, a.xq + t * nb, yg + 4 * q + t * ldy, ldy);
        }
    });
}

void matmul_interleaved(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    if (w.type == DType::kQ4_0x16)
        matmul_x16<X16Q4>(w, a, y, r0, r1);
    else
        matmul_x16<X16Q8>(w, a, y, r0, r1);
}

void matmul_neon(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) noexcept {
    switch (w.type) {
        case DType::kF32:
            matmul_float<LoadF32>(w, a, y, r0, r1);
            return;
        case DType::kF16:
            matmul_float<LoadF16>(w, a, y, r0, r1);
            return;
        case DType::kBF16:
            matmul_float<LoadBF16>(w, a, y, r0, r1);
            return;
        case DType::kQ8_0:
            matmul_quant<BlockQ8_0>(w, a, y, r0, r1);
            return;
        case DType::kQ4_0:
            matmul_quant<BlockQ4_0>(w, a, y, r0, r1);
            return;
        case DType::kQ4_0x16:
        case DType::kQ8_0x16:
            matmul_interleaved(w, a, y, r0, r1);
            return;
        case DType::kF16x16:
            matmul_f16x16(w, a, y, r0, r1);
            return;
    }
}

// Bit-exact with quantize_row_q8_0: maxnm ignores NaN like std::max(amax, |x|); vrndnq is
// round-half-even like nearbyint; the scale goes through the same f32_to_f16.
void quantize_act_neon(const float* x, BlockQ8_0* xq, size_t n) noexcept {
    for (size_t b = 0; b < n / kQBlock; ++b) {
        const float* xb = x + b * kQBlock;
        float32x4_t v[8];
        float32x4_t amax = vdupq_n_f32(0.0f);
        for (int i = 0; i < 8; ++i) {
            v[i] = vld1q_f32(xb + 4 * i);
            amax = vmaxnmq_f32(amax, vabsq_f32(v[i]));
        }
        const float d = vmaxnmvq_f32(amax) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        xq[b].d = f32_to_f16(d);
        for (int i = 0; i < 8; i += 2) {
            int32x4_t q[2];
            for (int j = 0; j < 2; ++j) {
                float32x4_t r = vrndnq_f32(vmulq_n_f32(v[i + j], id));
                r = vminq_f32(vmaxq_f32(r, vdupq_n_f32(-127.0f)), vdupq_n_f32(127.0f));
                q[j] = vcvtq_s32_f32(r);
            }
            const int16x8_t q16 = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
            vst1_s8(xq[b].qs + 4 * i, vmovn_s16(q16));
        }
    }
}

void rmsnorm_neon(float* out, const float* x, const float* gain, size_t n, float eps) noexcept {
    float32x4_t acc = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        acc = vfmaq_f32(acc, v, v);
    }
    float ss = vaddvq_f32(acc);
    for (; i < n; ++i)
        ss += x[i] * x[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
    i = 0;
    for (; i + 4 <= n; i += 4) {
        vst1q_f32(out + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), inv), vld1q_f32(gain + i)));
    }
    for (; i < n; ++i)
        out[i] = (x[i] * inv) * gain[i];
}

void rope_neon(float* v, size_t n_heads, size_t head_dim, const float* cos_sin) noexcept {
    for (size_t h = 0; h < n_heads; ++h) {
        float* p = v + h * head_dim;
        size_t i = 0;
        for (; i + 8 <= head_dim; i += 8) {  // 4 pairs, de-interleaved by vld2q
            const float32x4x2_t ab = vld2q_f32(p + i);
            const float32x4x2_t cs = vld2q_f32(cos_sin + i);
            float32x4x2_t o;
            o.val[0] = vfmsq_f32(vmulq_f32(ab.val[0], cs.val[0]), ab.val[1], cs.val[1]);
            o.val[1] = vfmaq_f32(vmulq_f32(ab.val[0], cs.val[1]), ab.val[1], cs.val[0]);
            vst2q_f32(p + i, o);
        }
        for (; i + 2 <= head_dim; i += 2) {
            const float c = cos_sin[i], s = cos_sin[i + 1];
            const float a = p[i], b = p[i + 1];
            p[i] = a * c - b * s;
            p[i + 1] = a * s + b * c;
        }
    }
}

template <class L>
float dot_kv_typed(const float* q, const typename L::E* k, size_t n) {
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(q + i), L::load4(k + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(q + i + 4), L::load4(k + i + 4));
    }
    for (; i + 4 <= n; i += 4)
        acc0 = vfmaq_f32(acc0, vld1q_f32(q + i), L::load4(k + i));
    if (i < n) {
        float qb[4];
        typename L::E kb[4];
        copy_partial4(q + i, n - i, qb);
        copy_partial4(k + i, n - i, kb);
        acc1 = vfmaq_f32(acc1, vld1q_f32(qb), L::load4(kb));
    }
    return vaddvq_f32(vaddq_f32(acc0, acc1));
}

float dot_kv_neon(const float* q, const void* k, DType kv, size_t n) noexcept {
    switch (kv) {
        case DType::kF16:
            return dot_kv_typed<LoadF16>(q, static_cast<const uint16_t*>(k), n);
        case DType::kBF16:
            return dot_kv_typed<LoadBF16>(q, static_cast<const uint16_t*>(k), n);
        default:
            return dot_kv_typed<LoadF32>(q, static_cast<const float*>(k), n);
    }
}

template <class L>
void axpy_kv_typed(float a, const typename L::E* v, float* out, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vfmaq_n_f32(vld1q_f32(out + i), L::load4(v + i), a));
    if (i < n) {
        float ob[4];
        typename L::E vb[4];
        copy_partial4(out + i, n - i, ob);
        copy_partial4(v + i, n - i, vb);
        vst1q_f32(ob, vfmaq_n_f32(vld1q_f32(ob), L::load4(vb), a));
        std::memcpy(out + i, ob, (n - i) * sizeof(float));
    }
}

void axpy_kv_neon(float a, const void* v, DType kv, float* out, size_t n) noexcept {
    switch (kv) {
        case DType::kF16:
            axpy_kv_typed<LoadF16>(a, static_cast<const uint16_t*>(v), out, n);
            return;
        case DType::kBF16:
            axpy_kv_typed<LoadBF16>(a, static_cast<const uint16_t*>(v), out, n);
            return;
        default:
            axpy_kv_typed<LoadF32>(a, static_cast<const float*>(v), out, n);
            return;
    }
}

void softmax_neon(float* x, size_t n) noexcept {
    float max = x[0];
    for (size_t i = 1; i < n; ++i)
        max = x[i] > max ? x[i] : max;
    const float32x4_t vm = vdupq_n_f32(max);
    float32x4_t vsum = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(x + i, e);
        vsum = vaddq_f32(vsum, e);
    }
    float sum = vaddvq_f32(vsum);
    for (; i < n; ++i) {
        float buf[4] = {x[i] - max, 0.0f, 0.0f, 0.0f};
        vst1q_f32(buf, exp4(vld1q_f32(buf)));
        x[i] = buf[0];
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (i = 0; i < n; ++i)
        x[i] *= inv;
}

inline float32x4_t swiglu4(float32x4_t g, float32x4_t u) {
    const float32x4_t e = exp4(vnegq_f32(g));
    return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
}

void swiglu_neon(float* gate, const float* up, size_t n) noexcept {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(gate + i, swiglu4(vld1q_f32(gate + i), vld1q_f32(up + i)));
    if (i < n) {
        float gb[4], ub[4];
        copy_partial4(gate + i, n - i, gb);
        copy_partial4(up + i, n - i, ub);
        vst1q_f32(gb, swiglu4(vld1q_f32(gb), vld1q_f32(ub)));
        std::memcpy(gate + i, gb, (n - i) * sizeof(float));
    }
}

template <class L>
void convert_row(const typename L::E* src, float* out, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, L::load4(src + i));
    for (; i < n; ++i) {
        typename L::E b[4];
        copy_partial4(src + i, 1, b);
        out[i] = vgetq_lane_f32(L::load4(b), 0);
    }
}

// 16 int8 values times d, in order (d * float(q), as the reference).
inline void dequant16(int8x16_t q, float d, float* out) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
    vst1q_f32(out + 0, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
    vst1q_f32(out + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
    vst1q_f32(out + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
    vst1q_f32(out + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
}

void row_to_f32_neon(const TensorView& w, size_t row, float* out) noexcept {
    const std::byte* src = w.row(row);
    const size_t n = w.cols;
    switch (w.type) {
        case DType::kF32:
            std::memcpy(out, src, n * sizeof(float));
            return;
        case DType::kF16:
            convert_row<LoadF16>(reinterpret_cast<const uint16_t*>(src), out, n);
            return;
        case DType::kBF16:
            convert_row<LoadBF16>(reinterpret_cast<const uint16_t*>(src), out, n);
            return;
        case DType::kQ8_0: {
            const auto* b = reinterpret_cast<const BlockQ8_0*>(src);
            for (size_t i = 0; i < n / kQBlock; ++i) {
                const float d = f16_to_f32(b[i].d);
                dequant16(vld1q_s8(b[i].qs), d, out + i * kQBlock);
                dequant16(vld1q_s8(b[i].qs + 16), d, out + i * kQBlock + 16);
            }
            return;
        }
        case DType::kQ4_0: {
            const auto* b = reinterpret_cast<const BlockQ4_0*>(src);
            for (size_t i = 0; i < n / kQBlock; ++i) {
                int8x16_t lo, hi;
                unpack_q4(b[i], lo, hi);
                const float d = f16_to_f32(b[i].d);
                dequant16(lo, d, out + i * kQBlock);
                dequant16(hi, d, out + i * kQBlock + 16);
            }
            return;
        }
        case DType::kQ4_0x16:  // never an embedding table of ours: the reference is enough
        case DType::kQ8_0x16:
        case DType::kF16x16:
            reference_kernels().row_to_f32(w, row, out);
            return;
    }
}

#if defined(MISTRAL_NEON_DOTPROD)
#if !defined(__ARM_FEATURE_DOTPROD)
#error "kernels_neon_dotprod.cpp must be compiled with +dotprod"
#endif
constexpr const char* kNeonName = "neon-dotprod";
#else
constexpr const char* kNeonName = "neon";
#endif

constexpr KernelTable kNeon = {
        .name = kNeonName,
        .matmul = matmul_neon,
        .quantize_act = quantize_act_neon,
        .rmsnorm = rmsnorm_neon,
        .rope = rope_neon,
        .dot_kv = dot_kv_neon,
        .axpy_kv = axpy_kv_neon,
        .dot_kv_rows = dot_kv_rows_generic<dot_kv_neon>,
        .axpy_kv_rows = axpy_kv_rows_generic<axpy_kv_neon>,
        .softmax = softmax_neon,
        .swiglu = swiglu_neon,
        .row_to_f32 = row_to_f32_neon,
};

}  // namespace

#if defined(MISTRAL_NEON_DOTPROD)
const KernelTable& neon_dotprod_kernels() noexcept {
    return kNeon;
}
#else
const KernelTable& neon_kernels() noexcept {
    return kNeon;
}
#endif

}  // namespace mistral
