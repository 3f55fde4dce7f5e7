// Private NEON helpers (AArch64), included only by kernels_neon.cpp, which is compiled twice
// (baseline and +dotprod): the anonymous namespace keeps each copy local to its translation
// unit, so the baseline table can never call a helper compiled with sdot (STYLE.md 3.5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <arm_neon.h>
#include <mistral/dtype.h>

namespace mistral {
namespace {

inline float32x4_t load4_f32(const float* p) {
    return vld1q_f32(p);
}
inline float32x4_t load4_f16(const uint16_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}
// bf16 is the upper half of a float32: widen with a 16-bit left shift (exact).
inline float32x4_t load4_bf16(const uint16_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

// The first m (< 4) elements, zero-padded.
template <typename E>
inline void copy_partial4(const E* p, size_t m, E (&buf)[4]) {
    for (size_t i = 0; i < 4; ++i)
        buf[i] = E{};
    std::memcpy(buf, p, m * sizeof(E));
}

// Exact int32 sum of w[i] * x[i] over one 32-value block (int8 x int8).
inline int32_t block_dot_i8(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
#if defined(__ARM_FEATURE_DOTPROD)
    int32x4_t acc = vdotq_s32(vdupq_n_s32(0), w0, x0);
    acc = vdotq_s32(acc, w1, x1);
    return vaddvq_s32(acc);
#else
    // widening multiplies: |w * x| <= 128 * 128 fits int16; pairwise-add into int32
    int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    acc = vpadalq_s16(acc, vmull_high_s8(w0, x0));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    acc = vpadalq_s16(acc, vmull_high_s8(w1, x1));
    return vaddvq_s32(acc);
#endif
}

// acc[r] += sum_j w[4r + j] * x[4L + j] for r < 4: four 4-byte dot products of each row's lane
// with the same four activation bytes (sdot by element where available).
template <int L>
inline int32x4_t dot4_lane(int32x4_t acc, int8x16_t w, int8x16_t x) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_laneq_s32(acc, w, x, L);
#else
    // |w x| <= 128 * 127: a pair fits int16; pairwise-add the pairs into each row's int32 lane
    const int8x16_t xb = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(x), L));
    const int16x8_t p = vpaddq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(xb)), vmull_high_s8(w, xb));
    return vpadalq_s16(acc, p);
#endif
}

// exp(x) for 4 floats: the same algorithm as the AVX2 exp256 (Cody-Waite reduction, degree-6
// polynomial, 2^n applied in two halves so overflow gives inf and subnormals round once).
inline float32x4_t exp4(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-104.0f)), vdupq_n_f32(89.0f));
    const float32x4_t fx = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, fx, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, fx, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t n = vcvtq_s32_f32(fx);  // exact: fx is integral
    const int32x4_t n1 = vshrq_n_s32(n, 1);
    const int32x4_t n2 = vsubq_s32(n, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

}  // namespace
}  // namespace mistral
