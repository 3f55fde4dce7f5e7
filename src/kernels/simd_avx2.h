// Private AVX2/FMA/F16C helpers. Included ONLY by kernels_avx2.cpp (the one TU compiled with
// -mavx2 -mfma -mf16c). Everything here lives in an anonymous namespace so no symbol compiled
// with these flags can leak to a baseline caller (STYLE.md 3.5, "the ODR trap").
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <immintrin.h>
#include <mistral/dtype.h>

namespace mistral {
namespace {

// ---- horizontal reductions -------------------------------------------------------------------

// Sum of the 8 lanes (fixed tree order: high+low halves, then pairs).
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// ---- element loads (8 values -> 8 floats) ----------------------------------------------------

inline __m256 load8_f32(const float* p) {
    return _mm256_loadu_ps(p);
}
inline __m256 load8_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
// bf16 is the upper half of a float32: widen and shift into place (exact).
inline __m256 load8_bf16(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

// The first `m` (< 8) elements, zero-padded (for row tails; never reads past p[m-1]).
template <typename E>
inline void copy_partial(const E* p, size_t m, E (&buf)[8]) {
    for (size_t i = 0; i < 8; ++i)
        buf[i] = E{};
    std::memcpy(buf, p, m * sizeof(E));
}

// ---- q8/q4 block products --------------------------------------------------------------------

// Signed 32 x int8 dot: 8 int32 lanes whose total is exactly sum_i w_i * x_i.
// maddubs needs one unsigned operand: |w| (as u8, exact even for -128) times sign(x, w).
// Each pair sum is <= 2 * 128 * 127 < 32767, so the int16 saturation never triggers.
inline __m256i dot32_i8(__m256i w, __m256i x) {
    const __m256i aw = _mm256_sign_epi8(w, w);
    const __m256i sx = _mm256_sign_epi8(x, w);
    const __m256i p16 = _mm256_maddubs_epi16(aw, sx);
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

inline __m256i load_q8(const BlockQ8_0& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
}

// q4_0 block -> 32 signed int8 in [-8, 7], in value order (byte j: low nibble = value j,
// high nibble = value j + 16).
inline __m256i load_q4(const BlockQ4_0& b) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    const __m256i nib = _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
    return _mm256_sub_epi8(nib, _mm256_set1_epi8(8));
}

// ---- exp ---------------------------------------------------------------------------------------

// exp(x) for 8 floats, ~2 ulp (Cody-Waite range reduction, degree-6 polynomial on
// [-ln2/2, ln2/2]). The 2^n scale is applied in two halves, so results that overflow give
// +inf and results in the subnormal range are rounded once, like std::exp. x is clamped to
// [-104, 89] first (outside, exp is already 0 or inf). NaN inputs are not propagated.
inline __m256 exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(89.0f));
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // r = x - fx*ln2, ln2 split in a short head (exact product) and a tail
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^n = 2^n1 * 2^n2 with n1 = n >> 1: both factors are normal floats for n in [-151, 129]
    const __m256i n = _mm256_cvtps_epi32(fx);
    const __m256i n1 = _mm256_srai_epi32(n, 1);
    const __m256i n2 = _mm256_sub_epi32(n, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

}  // namespace
}  // namespace mistral
