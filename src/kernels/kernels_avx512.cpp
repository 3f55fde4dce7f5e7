// The AVX-512 kernel table (F, BW, VL, VNNI, VBMI on top of AVX2/FMA/F16C). The only translation
// unit compiled with -mavx512*: every helper is in an anonymous namespace (STYLE.md 3.5) and
// nothing here is reached unless isa.cpp has checked the CPU. It overrides what AVX-512 makes
// faster and takes everything else from the AVX2 table (a copy of its function pointers):
//  - q8_0/q4_0 matmul (decode and prefill) on quads of blocks: one zmm holds four 32-blocks, the
//    int8 products are summed by vpdpbusd (u8 x s8 -> int32, four products per lane) straight
//    into exact int32 partial sums, one per lane, and each lane is scaled with one FMA by its
//    block's rounded scale product (the kernels.h contract, as in the AVX2 pairs).
//  - q8_0x16/q4_0x16 (16 rows interleaved, dtype.h): one row per int32 lane, vpdpbusd against
//    four broadcast activation bytes, tiles of 16 rows x 8 tokens.
//  - f16 decode (T = 1) on zmm; f16 prefill on f32 panels packed once per cache block, and for
//    long batches as BLAS-style outer products on transposed packed slivers.
//  - f16x16 (each 16-row group stored column by column, dtype.h): decode walks four groups per
//    thread at once, one zmm of 16 rows per column and FMA; prefill converts and transposes 16 x
//    16 blocks into the packed f32 panels, or (outer products) only converts: a group's column
//    is already a sliver's row.
//
// Decode streams four rows at a time, so the hardware sees four interleaved short streams (a q4_0
// row of Mistral's 4096 columns is 2304 bytes) and does not ramp up on them; a software prefetch
// of the same spot of the next row group fixes that. It goes to L2 (_MM_HINT_T1): prefetches into
// L1 hold the core's few L1 miss buffers and cut a single core's streaming rate about in half here
// (docs/ARCHITECTURE.md, "Software prefetch goes to L2").
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

// GCC 12's AVX-512 intrinsics start their results from an "undefined" register that its
// -Wmaybe-uninitialized flags at every inlined use (GCC PR105593, fixed in GCC 13): silenced for
// the header's own lines only (GCC decides by the location of the warning).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <mistral/kernels.h>

#include "kernels/isa.h"
#include "kernels/x16_generic.h"

namespace mistral {
namespace {

// Local helpers (std::min and TensorView::row are inline functions shared with baseline TUs).
inline size_t min_size(size_t a, size_t b) {
    return a < b ? a : b;
}
inline const std::byte* row_ptr(const TensorView& w, size_t r) {
    return w.data + r * w.row_bytes;
}

// Per-thread scratch of the prefill paths, grown on first use and kept (heap, not static TLS:
// a large .tbss would be allocated and zeroed for every thread, used or not).
template <class T>
T* scratch(std::vector<T>& v, size_t n) {
    if (v.size() < n)
        v.resize(n);
    return v.data();
}

// 64 bytes at p + off of which only the first `avail - off` exist (zero when off >= avail); the
// masked load never touches (or faults on) the missing ones.
inline __m512i load_upto(const std::byte* p, size_t off, size_t avail) {
    const size_t m = avail > off ? min_size(64, avail - off) : 0;
    const __mmask64 k = m == 64 ? ~__mmask64{0} : (__mmask64{1} << m) - 1;
    return _mm512_maskz_loadu_epi8(k, p + off);
}

inline __mmask16 mask_first(size_t m) {  // the first min(m, 16) lanes
    return m >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << m) - 1);
}

// y[t * ldy + r] (+)= the sum of acc[r][t]'s lanes. Fully unrolled and inlined, so the tile's
// accumulators never need a home in memory (with a loop here GCC stores all of them on every
// iteration of the tile's main loop).
template <int R, int TT>
__attribute__((always_inline)) inline void store_tile(const __m512 (&acc)[R][TT], float* y,
                                                      size_t ldy, bool accumulate) {
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const float v = _mm512_reduce_add_ps(acc[r][t]);
            float& out = y[t * ldy + r];
            out = accumulate ? out + v : v;
        }
    }
}

// ---- quads of blocks ---------------------------------------------------------------------------
//
// A quad is four consecutive 32-blocks k = 0..3: `lo` holds values 0..15 of block k in bytes
// 16k..16k+15, `hi` values 16..31; after vpdpbusd, int32 lane l holds an exact partial sum of
// block l / 4. The scales come as 16 f16 words [d0 x4, d1 x4, d2 x4, d3 x4] (one per lane).
// The byte and word gathers are vpermt2b / vpermt2w over the quad's raw bytes (two zmm).

struct Quad {
    __m512i lo, hi;
    __m512 d;  // block scale per lane, as float
};

// Permute indices, as constant tables (a namespace-scope __m512i would be built by AVX-512 code
// at program start, before any CPU check).
struct alignas(64) Index64 {
    uint8_t v[64];
};
// vpermt2b over two zmm (a: bytes 0..63, b: 64..127): out byte 16k + j = in byte base + stride * k
// + j, for k < 4, j < 16.
constexpr Index64 gather16_index(int base, int stride) {
    Index64 idx{};
    for (int k = 0; k < 4; ++k) {
        for (int j = 0; j < 16; ++j)
            idx.v[16 * k + j] = static_cast<uint8_t>(base + stride * k + j);
    }
    return idx;
}
// vpermt2w / vpermw: out words 4k..4k+3 = in word stride_words * k, for k < 4 (words 16.. unused).
constexpr Index64 scale_index(int stride_words) {
    Index64 idx{};
    for (int w = 0; w < 16; ++w) {
        const int src = stride_words * (w / 4);
        idx.v[2 * w] = static_cast<uint8_t>(src & 0xff);
        idx.v[2 * w + 1] = static_cast<uint8_t>(src >> 8);
    }
    return idx;
}
constexpr Index64 kQ8LoIdx = gather16_index(2, 34);       // values 0..15 of block k at 34k + 2
constexpr Index64 kQ8HiIdx = gather16_index(18 - 8, 34);  // values 16..31, from p + 8
constexpr Index64 kQ8DIdx = scale_index(17);              // scale of block k: word 17k
constexpr Index64 kQ4QsIdx = gather16_index(2, 18);       // nibble bytes of block k at 18k + 2
constexpr Index64 kQ4DIdx = scale_index(9);               // scale of block k: word 9k

inline __m512i index(const Index64& i) {
    return _mm512_load_si512(i.v);
}

// Four q8_0 blocks (136 bytes at p, of which `avail` exist: 136 for a whole quad). The values
// of block k are at 34k + 2 ..: the low halves within bytes 0..127, the high halves within
// 8..135, so each half is one vpermt2b over two loads.
template <bool kWhole>
inline Quad unpack_q8(const std::byte* p, size_t avail) {
    static_assert(sizeof(BlockQ8_0) == 34);
    __m512i a, b, a8, b8;
    if constexpr (kWhole) {
        a = _mm512_loadu_si512(p);
        b = _mm512_loadu_si512(p + 64);
        a8 = _mm512_loadu_si512(p + 8);
        b8 = _mm512_loadu_si512(p + 72);
    } else {
        a = load_upto(p, 0, avail);
        b = load_upto(p, 64, avail);
        a8 = load_upto(p, 8, avail);
        b8 = load_upto(p, 72, avail);
    }
    Quad q;
    q.lo = _mm512_permutex2var_epi8(a, index(kQ8LoIdx), b);
    q.hi = _mm512_permutex2var_epi8(a8, index(kQ8HiIdx), b8);
    q.d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(a, index(kQ8DIdx), b)));
    return q;
}

// Four q4_0 blocks (72 bytes at p, `avail` of them exist): nibbles of block k at 18k + 2 ..
// (byte j: value j low, value j + 16 high), so lo / hi are the low / high nibbles of one gather.
template <bool kWhole>
inline Quad unpack_q4(const std::byte* p, size_t avail) {
    static_assert(sizeof(BlockQ4_0) == 18);
    __m512i a, b;
    if constexpr (kWhole) {
        a = _mm512_loadu_si512(p);
        b = _mm512_castsi128_si512(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 64)));
    } else {
        a = load_upto(p, 0, avail);
        b = load_upto(p, 64, avail);
    }
    const __m512i q = _mm512_permutex2var_epi8(a, index(kQ4QsIdx), b);
    const __m512i m = _mm512_set1_epi8(0x0f);
    Quad r;
    r.lo = _mm512_and_si512(q, m);
    r.hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m);
    r.d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(index(kQ4DIdx), a)));
    return r;
}

// An activation quad prepared for one weight type: vpdpbusd multiplies unsigned by signed bytes,
// so the weights are made unsigned by an offset c (q4_0: the nibble u = w + 8; q8_0: w + 128,
// an xor with 0x80) and the lanes start from bias = -c * (sum of the lane's 8 activations).
struct ActQuad {
    __m512i lo, hi, bias;
    __m512 d;
};

template <int kOffset>
inline ActQuad prepare_act(const Quad& x) {
    const __m512i c = _mm512_set1_epi8(static_cast<char>(kOffset));
    const __m512i s =
            _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), c, x.lo), c, x.hi);
    return {x.lo, x.hi, _mm512_sub_epi32(_mm512_setzero_si512(), s), x.d};
}

// The activation quad of blocks [i, i + m) of one token, m <= 4 (missing blocks are zero, with
// scale 0, so they add exactly nothing).
template <class Q>
inline ActQuad act_quad(const BlockQ8_0* x, size_t m) {
    const std::byte* p = reinterpret_cast<const std::byte*>(x);
    return prepare_act<Q::kOffset>(m == 4 ? unpack_q8<true>(p, 4 * sizeof(BlockQ8_0))
                                          : unpack_q8<false>(p, m * sizeof(BlockQ8_0)));
}

// Weight policies: load() a quad (whole or the last m blocks of a row) as unsigned bytes.
struct QuadsQ4 {
    static constexpr int kOffset = 8;
    static constexpr size_t kBlockBytes = sizeof(BlockQ4_0);
    template <bool kWhole>
    static Quad load(const std::byte* p, size_t m) {
        return unpack_q4<kWhole>(p, m * kBlockBytes);
    }
};
struct QuadsQ8 {
    static constexpr int kOffset = 128;
    static constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
    template <bool kWhole>
    static Quad load(const std::byte* p, size_t m) {
        Quad q = unpack_q8<kWhole>(p, m * kBlockBytes);
        const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
        q.lo = _mm512_xor_si512(q.lo, flip);
        q.hi = _mm512_xor_si512(q.hi, flip);
        return q;
    }
};

// acc += float(exact lane sums of w . x) * (d_w * d_x), one FMA per 16 lanes (4 blocks).
// Lane sums stay below 2^24 (|sum| <= 8 * 255 * 127 + 8 * 128 * 127), so the conversion is exact.
inline __m512 quad_fma(const Quad& w, const ActQuad& x, __m512 acc) {
    const __m512i p = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x.bias, w.lo, x.lo), w.hi, x.hi);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(w.d, x.d), acc);
}

// ---- decode (T = 1) ------------------------------------------------------------------------

inline void prefetch_l2(const std::byte* p) {
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1);
}

// R rows x 1 token, the token's activation quads prepared by the caller (xp[i / 4] for blocks
// [i, i + 4), the last one possibly partial).
template <class Q, int R>
void rows_quads_t1(const std::byte* w0, size_t row_bytes, const ActQuad* xp, size_t nb, float* y) {
    constexpr size_t kQuadBytes = 4 * Q::kBlockBytes;
    __m512 acc[R];
    for (int r = 0; r < R; ++r)
        acc[r] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const ActQuad& x = xp[i / 4];
        for (int r = 0; r < R; ++r) {
            const std::byte* p = w0 + r * row_bytes + i * Q::kBlockBytes;
            for (size_t b = 0; b < kQuadBytes; b += 64)
                prefetch_l2(p + R * row_bytes + b);
            acc[r] = quad_fma(Q::template load<true>(p, 4), x, acc[r]);
        }
    }
    if (i < nb) {
        const size_t m = nb - i;
        const ActQuad& x = xp[i / 4];
        for (int r = 0; r < R; ++r) {
            const std::byte* p = w0 + r * row_bytes + i * Q::kBlockBytes;
            acc[r] = quad_fma(Q::template load<false>(p, m), x, acc[r]);
        }
    }
    for (int r = 0; r < R; ++r)
        y[r] = _mm512_reduce_add_ps(acc[r]);
}

// ---- prefill (T > 1) -----------------------------------------------------------------------
//
// Register tiles of R rows x TT tokens: each weight quad is unpacked once per tile and used for
// TT tokens; the activation quads of a region of tokens x columns are prepared once per call (in
// per-thread scratch) and read as memory operands. Per quad, row and token: 2 vpdpbusd, a convert,
// a multiply and an FMA for four blocks.

template <class Q, int R, int TT>
void tile_quads(const std::byte* w0, size_t row_bytes, const ActQuad* xp, size_t ldp, size_t c0,
                size_t c1, float* y, size_t ldy, bool accumulate) {
    __m512 acc[R][TT];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm512_setzero_ps();
    }
    size_t p = 0;
    for (size_t c = c0; c < c1; c += 4, ++p) {
        const size_t m = min_size(4, c1 - c);
        Quad w[R];
        for (int r = 0; r < R; ++r) {
            const std::byte* src = w0 + r * row_bytes + c * Q::kBlockBytes;
            w[r] = m == 4 ? Q::template load<true>(src, 4) : Q::template load<false>(src, m);
        }
        for (int t = 0; t < TT; ++t) {
            const ActQuad& x = xp[t * ldp + p];
            for (int r = 0; r < R; ++r)
                acc[r][t] = quad_fma(w[r], x, acc[r][t]);
        }
    }
    store_tile<R, TT>(acc, y, ldy, accumulate);
}

// One register tile of runtime size rr x tt (1 <= rr <= R, 1 <= tt <= TT) of a tile kernel:
// Kern::tile<r, t>(args...) for every r <= R, t <= TT is its own instance, accumulators in
// registers.
template <class Kern, int R, int TT, typename... Args>
void tile_dyn(int rr, int tt, Args... args) {
    if constexpr (R > 1) {
        if (rr < R) {
            tile_dyn<Kern, R - 1, TT>(rr, tt, args...);
            return;
        }
    }
    if constexpr (TT > 1) {
        if (tt < TT) {
            tile_dyn<Kern, R, TT - 1>(rr, tt, args...);
            return;
        }
    }
    Kern::template tile<R, TT>(args...);
}

template <class Q>
struct QuadKern {
    template <int R, int TT>
    static void tile(const std::byte* w0, size_t rb, const ActQuad* xp, size_t ldp, size_t c0,
                     size_t c1, float* y, size_t ldy, bool acc) {
        tile_quads<Q, R, TT>(w0, rb, xp, ldp, c0, c1, y, ldy, acc);
    }
};

constexpr int kTileRows = 4;       // register tile: rows ...
constexpr int kTileTok = 3;        // ... x tokens: 12 accumulators + 12 weight registers of 32 zmm
constexpr size_t kRegionTok = 60;  // tokens of one prepared activation region (20 tiles) ...
constexpr size_t kRegionCols = 128;  // ... x 32-blocks (32 quads): 480 KiB of ActQuads
constexpr size_t kRegionRows = 16;   // weight rows per cache block

thread_local std::vector<ActQuad> act_quads;  // kRegionTok x kRegionCols / 4

// Token regions x column regions (activations prepared once per region) x row blocks x token
// tiles x row tiles.
template <class Q>
void matmul_quads(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    const size_t nb = a.n / kQBlock, ldy = w.rows;
    constexpr size_t kLdp = kRegionCols / 4;
    ActQuad* xp = scratch(act_quads, kRegionTok * kLdp);
    for (size_t t0 = 0; t0 < a.T; t0 += kRegionTok) {
        const size_t t1 = min_size(a.T, t0 + kRegionTok);
        for (size_t c0 = 0; c0 < nb; c0 += kRegionCols) {
            const size_t c1 = min_size(nb, c0 + kRegionCols);
            for (size_t t = t0; t < t1; ++t) {
                for (size_t c = c0, p = 0; c < c1; c += 4, ++p)
                    xp[(t - t0) * kLdp + p] = act_quad<Q>(a.xq + t * nb + c, min_size(4, c1 - c));
            }
            const bool accumulate = c0 > 0;
            for (size_t rb = r0; rb < r1; rb += kRegionRows) {
                const size_t rb1 = min_size(r1, rb + kRegionRows);
                for (size_t t = t0; t < t1; t += kTileTok) {
                    const int tt = static_cast<int>(min_size(kTileTok, t1 - t));
                    for (size_t r = rb; r < rb1; r += kTileRows) {
                        const int rr = static_cast<int>(min_size(kTileRows, rb1 - r));
                        tile_dyn<QuadKern<Q>, kTileRows, kTileTok>(
                                rr, tt, row_ptr(w, r), w.row_bytes, xp + (t - t0) * kLdp, kLdp, c0,
                                c1, y + t * ldy + r, ldy, accumulate);
                    }
                }
            }
        }
    }
}

template <class Q>
void matmul_quant(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    if (a.T > 1) {
        matmul_quads<Q>(w, a, y, r0, r1);
        return;
    }
    // The token's activation quads once per call (28 KiB for 14336 columns, then read from L1/L2),
    // not once per group of 4 rows.
    const size_t nb = a.n / kQBlock;
    ActQuad* xp = scratch(act_quads, (nb + 3) / 4);
    for (size_t c = 0; c < nb; c += 4)
        xp[c / 4] = act_quad<Q>(a.xq + c, min_size(4, nb - c));
    size_t r = r0;
    for (; r + 4 <= r1; r += 4)
        rows_quads_t1<Q, 4>(row_ptr(w, r), w.row_bytes, xp, nb, y + r);
    for (; r < r1; ++r)
        rows_quads_t1<Q, 1>(row_ptr(w, r), w.row_bytes, xp, nb, y + r);
}

// ---- f16 decode ----------------------------------------------------------------------------

// R rows x 1 token: 16 columns per step, the activation vector loaded once for the R rows.
template <int R>
void rows_f16_t1(const std::byte* w0, size_t row_bytes, const float* x, size_t n, float* y) {
    __m512 acc[R];
    for (int r = 0; r < R; ++r)
        acc[r] = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m512 xv = _mm512_loadu_ps(x + k);
        for (int r = 0; r < R; ++r) {
            const std::byte* p = w0 + r * row_bytes + 2 * k;
            if (k % 32 == 0)
                prefetch_l2(p + R * row_bytes);
            const __m512 wv =
                    _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
            acc[r] = _mm512_fmadd_ps(wv, xv, acc[r]);
        }
    }
    if (k < n) {  // row tail (< 16 columns): masked loads read nothing past the row
        const __mmask16 m = mask_first(n - k);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + k);
        for (int r = 0; r < R; ++r) {
            const std::byte* p = w0 + r * row_bytes + 2 * k;
            const __m512 wv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
            acc[r] = _mm512_fmadd_ps(wv, xv, acc[r]);
        }
    }
    for (int r = 0; r < R; ++r)
        y[r] = _mm512_reduce_add_ps(acc[r]);
}

// ---- f16 prefill (T > 1) --------------------------------------------------------------------
//
// Packed like a BLAS: for each cache block of rows x columns the f16 weights are converted to f32
// once (zero-padded to a multiple of 16 columns) into a scratch panel that stays in L2, and
// reused by every token of the block, so the register tiles are pure FMAs on zmm (R rows x TT
// tokens: per 16 columns R + TT loads and R * TT FMAs, no conversion).

// In place: r[i] lane j <- r[j] lane i (a 16 x 16 transpose, four shuffle stages).
__attribute__((always_inline)) inline void transpose16(__m512 (&r)[16]) {
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {  // pairs of rows interleaved per 2 columns
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {  // u[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {  // gather the four 128-bit lanes of each column
        const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        const __m512 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        const __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        const __m512 w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
        r[4 + j] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    }
}

constexpr int kF16TileRows = 4;         // register tile: rows ...
constexpr int kF16TileTok = 6;          // ... x tokens: 24 accumulators
constexpr size_t kF16BlockTok = 120;    // tokens per cache block
constexpr size_t kF16BlockCols = 4096;  // columns per cache block (multiple of 16)
constexpr size_t kF16BlockRows = 8;     // rows per cache block: a 129 KiB f32 panel
// f16x16: a whole group per cache block, so that packing reads the group's columns front to
// back (8 rows would take half of each 32-byte column, and the other half later).
constexpr size_t kF16x16BlockRows = kX16Rows;

// Tile over columns [0, kc) of R packed rows (row r at wp + r * ldw, zero-padded to ldw, a
// multiple of 16) and TT tokens (token t at x + t * ldx, only kc values read).
template <int R, int TT>
void tile_packed(const float* wp, size_t ldw, const float* x, size_t ldx, size_t kc, float* y,
                 size_t ldy, bool accumulate) {
    __m512 acc[R][TT];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm512_setzero_ps();
    }
    // Both operands are zero-padded to a multiple of 16 columns.
    for (size_t k = 0; k < kc; k += 16) {
        __m512 wv[R];
        for (int r = 0; r < R; ++r)
            wv[r] = _mm512_loadu_ps(wp + r * ldw + k);
        for (int t = 0; t < TT; ++t) {
            const __m512 xv = _mm512_loadu_ps(x + t * ldx + k);
            for (int r = 0; r < R; ++r)
                acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    store_tile<R, TT>(acc, y, ldy, accumulate);
}

struct PackedKern {
    template <int R, int TT>
    static void tile(const float* wp, size_t ldw, const float* x, size_t ldx, size_t kc, float* y,
                     size_t ldy, bool acc) {
        tile_packed<R, TT>(wp, ldw, x, ldx, kc, y, ldy, acc);
    }
};

// Weight row r of a plain f16 matrix from column k0 on (contiguous), for the packing routines.
const uint16_t* f16_row_cols(const TensorView& w, size_t r, size_t k0) {
    return reinterpret_cast<const uint16_t*>(row_ptr(w, r)) + k0;
}
// Token row t of the activations from column k0 on.
const float* act_row_cols(const ActBatch& a, size_t t, size_t k0) {
    return a.x + t * a.n + k0;
}
// Column k of the 16 rows of an f16x16 group, as f32. A group starting at row r (r % 16 == 0)
// starts at row_ptr(w, r): it holds the 16 rows' bytes.
__m512 f16x16_column(const std::byte* g, size_t k) {
    return _mm512_cvtph_ps(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + k * kF16x16ColumnBytes)));
}

// Sources of the packing routines: 16 values (the first lanes of mask m) at p as f32, zeros in
// the other lanes; masked loads read nothing past the last value.
struct F16Values {
    using E = uint16_t;
    static __m512 load(__mmask16 m, const E* p) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    }
};
struct F32Values {
    using E = float;
    static __m512 load(__mmask16 m, const E* p) { return _mm512_maskz_loadu_ps(m, p); }
};

// src's columns [0, kc) as f32 at out[0, ld) (zeros past kc; ld a multiple of 16).
template <class S>
void pack_row(const typename S::E* src, size_t kc, float* out, size_t ld) {
    for (size_t k = 0; k < ld; k += 16) {
        const __m512 v = k < kc ? S::load(mask_first(kc - k), src + k) : _mm512_setzero_ps();
        _mm512_storeu_ps(out + k, v);
    }
}

// Rows [rb, rb1) of w, columns [k0, k0 + kc), as panel rows (stride ld, zeros past kc). Plain f16
// rows are packed one after the other (one stream each); an f16x16 group (rb % 16 == 0, rb1 - rb
// == 16, kc % 16 == 0) 16 columns at a time, 512 bytes in address order converted to 16 zmm
// (one column each) and transposed into 16 rows' 16 columns.
void pack_f16_rows(const TensorView& w, size_t rb, size_t rb1, size_t k0, size_t kc, float* panel,
                   size_t ld) {
    if (w.type != DType::kF16x16) {
        for (size_t r = rb; r < rb1; ++r)
            pack_row<F16Values>(f16_row_cols(w, r, k0), kc, panel + (r - rb) * ld, ld);
        return;
    }
    const std::byte* g = row_ptr(w, rb);
    for (size_t k = 0; k < ld; k += 16) {
        __m512 r[16];
#pragma GCC unroll 16
        for (size_t i = 0; i < 16; ++i)
            r[i] = k < kc ? f16x16_column(g, k0 + k + i) : _mm512_setzero_ps();
        transpose16(r);
#pragma GCC unroll 16
        for (size_t i = 0; i < kX16Rows; ++i)
            _mm512_storeu_ps(panel + i * ld + k, r[i]);
    }
}

thread_local std::vector<float> f16_panel, f16_tokens;

void matmul_f16_packed(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    // Both packed operands have a row stride of a multiple of 16 floats plus 16, never a multiple
    // of 4 KiB: rows at such strides share L1 sets, and 6 tokens + 4 rows would overflow 8 ways.
    constexpr size_t kLd = kF16BlockCols + 16;
    const size_t block_rows = w.type == DType::kF16x16 ? kF16x16BlockRows : kF16BlockRows;
    float* panel = scratch(f16_panel, block_rows * kLd);  // 129 KiB (f16x16: 257 KiB)
    float* xs = scratch(f16_tokens, kF16BlockTok * kLd);  // 1.9 MiB, streamed from L2/L3
    const size_t ldy = w.rows;
    for (size_t t0 = 0; t0 < a.T; t0 += kF16BlockTok) {
        const size_t t1 = min_size(a.T, t0 + kF16BlockTok);
        for (size_t k0 = 0; k0 < a.n; k0 += kF16BlockCols) {
            const size_t kc = min_size(a.n - k0, kF16BlockCols);
            const size_t ld = (kc + 15) / 16 * 16 + 16;
            const bool accumulate = k0 > 0;
            for (size_t t = t0; t < t1; ++t)
                pack_row<F32Values>(act_row_cols(a, t, k0), kc, xs + (t - t0) * ld, ld);
            for (size_t rb = r0; rb < r1; rb += block_rows) {
                const size_t rb1 = min_size(r1, rb + block_rows);
                pack_f16_rows(w, rb, rb1, k0, kc, panel, ld);
                for (size_t t = t0; t < t1; t += kF16TileTok) {
                    const int tt = static_cast<int>(min_size(kF16TileTok, t1 - t));
                    for (size_t r = rb; r < rb1; r += kF16TileRows) {
                        const int rr = static_cast<int>(min_size(kF16TileRows, rb1 - r));
                        tile_dyn<PackedKern, kF16TileRows, kF16TileTok>(
                                rr, tt, static_cast<const float*>(panel + (r - rb) * ld), ld,
                                static_cast<const float*>(xs + (t - t0) * ld), ld, kc,
                                y + t * ldy + r, ldy, accumulate);
                    }
                }
            }
        }
    }
}

// ---- f16 prefill, long batches: outer products ---------------------------------------------
//
// The tiles above keep 16 partial sums per output and reduce them at the end, so both operands
// stream from L2 (10 zmm loads per 24 FMAs). For long batches (T >= kOuterMinTok) the BLAS
// formulation is faster: 32 rows x 12 tokens of outputs, each zmm accumulator holding 16 rows of
// one token, updated per column k by a zmm of 16 rows' weights times one broadcast activation
// (2 loads + 12 broadcasts per 24 FMAs, no reduction). That needs the weights transposed: each
// cache block of rows x columns is packed once per call into "slivers" of 32 rows, column-major
// ([k][32] f32), and the activations into panels of 12 tokens ([k][12]); the token panel of a
// sliver stays in L1 while the slivers stream from L2. The transposition costs about what the
// reductions saved at T = 128, so short batches keep the tiles above.

constexpr size_t kOuterRows = 32;      // rows per sliver (two zmm)
constexpr int kOuterTok = 12;          // tokens per panel: 24 accumulators
constexpr size_t kOuterCols = 768;     // columns per cache block
constexpr size_t kOuterBlock = 128;    // rows per cache block: a 384 KiB packed block
constexpr size_t kOuterMaxTok = 1024;  // tokens per pass (bounds the token panels: 3 MiB)
constexpr size_t kOuterMinTok = 192;   // below this the packing does not pay
constexpr size_t kPrefetchPanels = 6;  // token panels (36 KiB each) that the next block's
                                       // prefetch is spread over

// Transposed packing: out[k * L + i] = row(i)'s column k, for k < round16(kc) and i < L; zeros
// for rows i >= nrows and columns k >= kc. Rows go 16 at a time through a 16 x 16 transpose.
// L = 32: a weight sliver; L = 12: a token panel.
template <class S, size_t L, class RowFn>
void pack_transposed(RowFn row_of, size_t nrows, size_t kc, float* out) {
    const typename S::E* rows[L];
    for (size_t i = 0; i < L && i < nrows; ++i)
        rows[i] = row_of(i);
    for (size_t k = 0; k < kc; k += 16) {
        const __mmask16 m = mask_first(kc - k);
#pragma GCC unroll 2
        for (size_t h = 0; h < L; h += 16) {
            __m512 r[16];
#pragma GCC unroll 16
            for (size_t i = 0; i < 16; ++i) {
                const size_t row = h + i;
                r[i] = row < nrows && row < L ? S::load(m, rows[row] + k) : _mm512_setzero_ps();
            }
            transpose16(r);
            const __mmask16 lanes = mask_first(L - h);
#pragma GCC unroll 16
            for (size_t i = 0; i < 16; ++i)
                _mm512_mask_storeu_ps(out + (k + i) * L + h, lanes, r[i]);
        }
    }
}

// y[t * ldy + i] (+)= sum_k wp[k * 32 + i] * xp[k * 12 + t] for t < TT and the rows i whose
// lanes are set in (m0, m1).
template <int TT>
void tile_outer(const float* wp, const float* xp, size_t kc, float* y, size_t ldy, __mmask16 m0,
                __mmask16 m1, bool accumulate) {
    __m512 lo[TT], hi[TT];
#pragma GCC unroll 16
    for (int t = 0; t < TT; ++t) {
        lo[t] = _mm512_setzero_ps();
        hi[t] = _mm512_setzero_ps();
        _mm_prefetch(reinterpret_cast<const char*>(y + t * ldy), _MM_HINT_T0);  // for the end
        _mm_prefetch(reinterpret_cast<const char*>(y + t * ldy + 16), _MM_HINT_T0);
    }
    for (size_t k = 0; k < kc; ++k) {
        const __m512 w0 = _mm512_load_ps(wp + k * kOuterRows);
        const __m512 w1 = _mm512_load_ps(wp + k * kOuterRows + 16);
#pragma GCC unroll 16
        for (int t = 0; t < TT; ++t) {
            const __m512 xb = _mm512_set1_ps(xp[k * kOuterTok + t]);
            lo[t] = _mm512_fmadd_ps(w0, xb, lo[t]);
            hi[t] = _mm512_fmadd_ps(w1, xb, hi[t]);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < TT; ++t) {
        float* out = y + t * ldy;
        if (accumulate) {
            lo[t] = _mm512_add_ps(lo[t], _mm512_maskz_loadu_ps(m0, out));
            hi[t] = _mm512_add_ps(hi[t], _mm512_maskz_loadu_ps(m1, out + 16));
        }
        _mm512_mask_storeu_ps(out, m0, lo[t]);
        _mm512_mask_storeu_ps(out + 16, m1, hi[t]);
    }
}

struct OuterKern {
    template <int R, int TT>
    static void tile(const float* wp, const float* xp, size_t kc, float* y, size_t ldy,
                     __mmask16 m0, __mmask16 m1, bool acc) {
        static_assert(R == 1);
        tile_outer<TT>(wp, xp, kc, y, ldy, m0, m1, acc);
    }
};

// The sliver of an f16x16 matrix's rows [s, s + nrows) (s % 16 == 0, nrows 16 or 32), columns
// [k0, k0 + kc) (kc % 16 == 0), as pack_transposed would write it: a group's column is already
// 16 rows of one column, so this only converts.
void pack_f16x16_sliver(const TensorView& w, size_t s, size_t nrows, size_t k0, size_t kc,
                        float* out) {
    const std::byte* g0 = row_ptr(w, s);
    const std::byte* g1 = nrows > kX16Rows ? row_ptr(w, s + kX16Rows) : nullptr;
    for (size_t k = 0; k < kc; ++k) {
        _mm512_storeu_ps(out + k * kOuterRows, f16x16_column(g0, k0 + k));
        _mm512_storeu_ps(out + k * kOuterRows + kX16Rows,
                         g1 != nullptr ? f16x16_column(g1, k0 + k) : _mm512_setzero_ps());
    }
}

// The line-th 64-byte line of the weights of rows [r0, ...) x columns [k0, k0 + 32 lpr), counted
// row by row for plain f16 (lpr lines per row), and for f16x16 (r0 % 16 == 0) group by group in
// address order (16 lpr lines per group): the same lines either way.
const std::byte* f16_block_line(const TensorView& w, size_t r0, size_t k0, size_t lpr,
                                size_t line) {
    if (w.type == DType::kF16x16) {
        const size_t per_group = kX16Rows * lpr;
        return row_ptr(w, r0 + line / per_group * kX16Rows) + k0 * kF16x16ColumnBytes +
               64 * (line % per_group);
    }
    return row_ptr(w, r0 + line / lpr) + 2 * k0 + 64 * (line % lpr);
}

thread_local std::vector<float> outer_block, outer_tokens;

// Passes of <= kOuterMaxTok tokens x column blocks (token panels packed) x row blocks (slivers
// packed; the next block's weights prefetched into L2 meanwhile) x token panels x slivers.
void matmul_f16_outer(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    constexpr size_t kColsPad = (kOuterCols + 15) / 16 * 16;
    constexpr size_t kPanels = (kOuterMaxTok + kOuterTok - 1) / kOuterTok;
    // 64-byte aligned: the slivers are read with aligned loads.
    float* block = scratch(outer_block, kOuterBlock * kColsPad + 16);
    block += (64 - reinterpret_cast<uintptr_t>(block) % 64) % 64 / sizeof(float);
    float* panels = scratch(outer_tokens, kPanels * kOuterTok * kColsPad);
    const size_t ldy = w.rows;
    for (size_t t0 = 0; t0 < a.T; t0 += kOuterMaxTok) {
        const size_t nt = min_size(a.T - t0, kOuterMaxTok);
        const size_t np = (nt + kOuterTok - 1) / kOuterTok;
        for (size_t k0 = 0; k0 < a.n; k0 += kOuterCols) {
            const size_t kc = min_size(a.n - k0, kOuterCols), kp = (kc + 15) / 16 * 16;
            for (size_t p = 0; p < np; ++p) {
                const size_t t = t0 + p * kOuterTok;
                pack_transposed<F32Values, kOuterTok>(
                        [&](size_t i) { return act_row_cols(a, t + i, k0); },
                        min_size(kOuterTok, a.T - t), kc, panels + p * kOuterTok * kp);
            }
            for (size_t rb = r0; rb < r1; rb += kOuterBlock) {
                const size_t rb1 = min_size(r1, rb + kOuterBlock);
                for (size_t s = rb; s < rb1; s += kOuterRows) {
                    if (w.type == DType::kF16x16)
                        pack_f16x16_sliver(w, s, min_size(kOuterRows, rb1 - s), k0, kc,
                                           block + (s - rb) * kp);
                    else
                        pack_transposed<F16Values, kOuterRows>(
                                [&](size_t i) { return f16_row_cols(w, s + i, k0); },
                                min_size(kOuterRows, rb1 - s), kc, block + (s - rb) * kp);
                }
                // The block packed next (rows of this column block, else the next column
                // block's first rows), prefetched into L2 a share per token panel: packing
                // reads 32 rows at a time, too many streams for the hardware prefetcher. Only
                // during the last kPrefetchPanels panels: every panel streams through L2 once per
                // block (1.5 MiB at T = 512), which evicts lines fetched much earlier (packing's
                // share of an f16 pp512 profile fell from 3.8% to 2.7% with this).
                size_t nr0 = rb1, nk0 = k0;
                if (nr0 >= r1) {
                    nr0 = r0;
                    nk0 = k0 + kOuterCols;
                }
                const size_t nr1 = min_size(r1, nr0 + kOuterBlock);
                const size_t nbytes = nk0 < a.n ? 2 * min_size(kOuterCols, a.n - nk0) : 0;
                const size_t lines_per_row = (nbytes + 63) / 64;
                const size_t lines = (nr1 - nr0) * lines_per_row;
                const size_t p_first = np > kPrefetchPanels ? np - kPrefetchPanels : 0;
                const size_t per_panel = (lines + (np - p_first) - 1) / (np - p_first);
                size_t line = 0;
                for (size_t p = 0; p < np; ++p) {
                    const size_t end = p < p_first ? 0 : min_size(lines, line + per_panel);
                    for (; line < end; ++line) {
                        _mm_prefetch(reinterpret_cast<const char*>(
                                             f16_block_line(w, nr0, nk0, lines_per_row, line)),
                                     _MM_HINT_T1);
                    }
                    const size_t t = t0 + p * kOuterTok;
                    const int tt = static_cast<int>(min_size(kOuterTok, a.T - t));
                    for (size_t s = rb; s < rb1; s += kOuterRows) {
                        const size_t rows = min_size(kOuterRows, rb1 - s);
                        tile_dyn<OuterKern, 1, kOuterTok>(
                                1, tt, static_cast<const float*>(block + (s - rb) * kp),
                                static_cast<const float*>(panels + p * kOuterTok * kp), kc,
                                y + t * ldy + s, ldy, mask_first(rows),
                                mask_first(rows > 16 ? rows - 16 : 0), k0 > 0);
                    }
                }
            }
        }
    }
}

void matmul_f16_t1(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    size_t r = r0;
    for (; r + 4 <= r1; r += 4)
        rows_f16_t1<4>(row_ptr(w, r), w.row_bytes, a.x, a.n, y + r);
    for (; r < r1; ++r)
        rows_f16_t1<1>(row_ptr(w, r), w.row_bytes, a.x, a.n, y + r);
}

// ---- f16x16 decode ---------------------------------------------------------------------------
//
// S groups of 16 rows x 1 token at once (for_whole_x16_group_streams): per column of each group,
// one 32-byte load converted to the 16 rows' values (a zmm whose lanes are the rows) and one FMA
// by the broadcast activation, into kF16x16Sums partial sums per group (column k into sum k % 4,
// added in order at the end). No per-row horizontal sums, 16 sums in registers for S = 4. Four
// streams against the row-piece layout's two-stream kernel (sessions 9-13): +26-35% f16 tg per
// token (docs/BENCHMARKS.md, session 14). Every group goes through the same arithmetic whatever
// S, so the result does not depend on the split.
constexpr size_t kF16x16Sums = 4;
constexpr size_t kF16x16Streams = 4;

template <size_t S>
void streams_f16x16_t1(const std::byte* const (&g)[S], const float* x, size_t n,
                       float* const (&y)[S]) {
    constexpr size_t A = kF16x16Sums;
    __m512 acc[S][A];
    for (size_t s = 0; s < S; ++s)
        for (size_t i = 0; i < A; ++i)
            acc[s][i] = _mm512_setzero_ps();
    for (size_t k = 0; k < n; k += 8) {  // n % 64 == 0
#pragma GCC unroll 8
        for (size_t s = 0; s < S; ++s) {
#pragma GCC unroll 8
            for (size_t j = 0; j < 8; ++j)
                acc[s][j % A] = _mm512_fmadd_ps(f16x16_column(g[s], k + j),
                                                _mm512_set1_ps(x[k + j]), acc[s][j % A]);
        }
    }
    for (size_t s = 0; s < S; ++s) {
        __m512 sum = acc[s][0];
        for (size_t i = 1; i < A; ++i)
            sum = _mm512_add_ps(sum, acc[s][i]);
        _mm512_storeu_ps(y[s], sum);
    }
}

void matmul_f16x16_t1(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    for_x16_streams_of<kF16x16Streams>(
            w, a, y, r0, r1, [&]<size_t N>(const std::byte* const(&g)[N], float* const(&yg)[N]) {
                streams_f16x16_t1<N>(g, a.x, a.n, yg);
            });
}

// f16x16, T > 1: the packed tiles or the outer products on the range's whole groups (the rows of
// a group it cuts go through the reference, x16_generic.h).
void matmul_f16x16_prefill(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    size_t g0 = 0, g1 = 0;
    if (!whole_x16_groups(w, a, y, r0, r1, &g0, &g1))
        return;
    if (a.T >= kOuterMinTok)
        matmul_f16_outer(w, a, y, g0 * kX16Rows, g1 * kX16Rows);
    else
        matmul_f16_packed(w, a, y, g0 * kX16Rows, g1 * kX16Rows);
}

// ---- q4_0x16 / q8_0x16: 16 rows per lane set (decode and prefill) --------------------------
//
// A group block (dtype.h) holds 16 rows x 32 values: 64-byte chunks whose 32-bit lane r is four
// quant bytes of row r. vpdpbusd multiplies each lane by the same four activation bytes (a
// broadcast), so one zmm of int32 sums is one block of 16 rows: no unpacking permutes, no per-row
// horizontal sums, and each weight zmm serves a whole tile of tokens. Per block and token: 8
// vpdpbusd into a sum started at the block's bias, a convert and one FMA by the rounded scale
// products of the 16 rows (the kernels.h contract, as for the quads). The weights are made
// unsigned for vpdpbusd as in the quads (q4_0 nibble + 8, q8_0 xor 0x80).

// A block's 8 weight registers: register j is multiplied by activation bytes 4j..4j+3.
struct X16Q4 {
    static constexpr size_t kBlockBytes = kQ4x16GroupBlockBytes;
    static constexpr int32_t kOffset = 8;
    static void unpack(const std::byte* p, __m512i (&w)[8]) {
        const __m512i m = _mm512_set1_epi8(0x0f);
        for (int c = 0; c < 4; ++c) {  // values 4c.. (low nibbles) and 4c + 16.. (high)
            const __m512i v = _mm512_loadu_si512(p + 32 + 64 * c);
            w[c] = _mm512_and_si512(v, m);
            w[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
        }
    }
};
struct X16Q8 {
    static constexpr size_t kBlockBytes = kQ8x16GroupBlockBytes;
    static constexpr int32_t kOffset = 128;
    static void unpack(const std::byte* p, __m512i (&w)[8]) {
        const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
        for (int c = 0; c < 8; ++c)
            w[c] = _mm512_xor_si512(_mm512_loadu_si512(p + 32 + 64 * c), flip);
    }
};

inline __m512i bcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

// 16 rows (one group, from g0) x TT tokens (activations xq / ax with nb blocks per token; y with
// stride ldy), every block column.
template <class P, int TT>
void tile_x16(const std::byte* g0, size_t nb, const BlockQ8_0* xq, const ActX16* ax, float* y,
              size_t ldy) {
    __m512 acc[TT];
    for (int t = 0; t < TT; ++t)
        acc[t] = _mm512_setzero_ps();
    for (size_t k = 0; k < nb; ++k) {
        const std::byte* p = g0 + k * P::kBlockBytes;
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        __m512i w[8];
        P::unpack(p, w);
        for (int t = 0; t < TT; ++t) {
            const BlockQ8_0& x = xq[t * nb + k];
            const ActX16& s = ax[t * nb + k];
            __m512i sum = _mm512_set1_epi32(s.bias);
            for (int j = 0; j < 8; ++j)
                sum = _mm512_dpbusd_epi32(sum, w[j], bcast4(x.qs + 4 * j));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(s.d)), acc[t]);
        }
    }
    for (int t = 0; t < TT; ++t)
        _mm512_storeu_ps(y + t * ldy, acc[t]);
}

constexpr int kX16Tok = 8;  // tokens per tile: 8 accumulators + 8 weight zmm + temporaries

template <class P, int TT>
void tile_x16_tail(int tt, const std::byte* g0, size_t nb, const BlockQ8_0* xq, const ActX16* ax,
                   float* y, size_t ldy) {
    if constexpr (TT > 0) {
        if (tt == TT) {
            tile_x16<P, TT>(g0, nb, xq, ax, y, ldy);
            return;
        }
        tile_x16_tail<P, TT - 1>(tt, g0, nb, xq, ax, y, ldy);
    }
}

// Decode: one block of S groups at once (g[s], S streams), each into its own sums (the T = 1
// tile's arithmetic, S times, with the same activation bytes).
template <class P, size_t S>
void streams_x16_t1(const std::byte* const (&g)[S], size_t nb, const BlockQ8_0* xq,
                    const ActX16* ax, float* const (&y)[S]) {
    __m512 acc[S];
    for (size_t s = 0; s < S; ++s)
        acc[s] = _mm512_setzero_ps();
    for (size_t k = 0; k < nb; ++k) {
        const BlockQ8_0& x = xq[k];
        const __m512 d = _mm512_set1_ps(ax[k].d);
        for (size_t s = 0; s < S; ++s) {
            const std::byte* p = g[s] + k * P::kBlockBytes;
            const __m512 dw =
                    _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
            __m512i w[8];
            P::unpack(p, w);
            __m512i sum = _mm512_set1_epi32(ax[k].bias);
            for (int j = 0; j < 8; ++j)
                sum = _mm512_dpbusd_epi32(sum, w[j], bcast4(x.qs + 4 * j));
            acc[s] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw, d), acc[s]);
        }
    }
    for (size_t s = 0; s < S; ++s)
        _mm512_storeu_ps(y[s], acc[s]);
}

// Decode streams per thread (for_whole_x16_group_streams): four, measured best (two: 10-20% fewer
// q4_0 tokens/s, five or more: 25-30% fewer).
constexpr size_t kX16Streams = 4;

template <class P>
void matmul_x16(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    const size_t nb = a.n / kQBlock, ldy = w.rows;
    const ActX16* ax = prepare_x16(a, P::kOffset);
    if (a.T == 1) {
        for_whole_x16_group_streams<kX16Streams>(
                w, a, y, r0, r1,
                [&](const std::byte* const(&g)[kX16Streams], float* const(&yg)[kX16Streams]) {
                    streams_x16_t1<P, kX16Streams>(g, nb, a.xq, ax, yg);
                },
                [&](const std::byte* gp, float* yg) { tile_x16<P, 1>(gp, nb, a.xq, ax, yg, ldy); });
        return;
    }
    for_whole_x16_groups(w, a, y, r0, r1, [&](const std::byte* gp, float* yg) {
        size_t t = 0;
        for (; t + kX16Tok <= a.T; t += kX16Tok)
            tile_x16<P, kX16Tok>(gp, nb, a.xq + t * nb, ax + t * nb, yg + t * ldy, ldy);
        if (t < a.T) {
            tile_x16_tail<P, kX16Tok - 1>(static_cast<int>(a.T - t), gp, nb, a.xq + t * nb,
                                          ax + t * nb, yg + t * ldy, ldy);
        }
    });
}

void matmul_interleaved(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    if (w.type == DType::kQ4_0x16)
        matmul_x16<X16Q4>(w, a, y, r0, r1);
    else
        matmul_x16<X16Q8>(w, a, y, r0, r1);
}

void matmul_avx512(const TensorView& w, const ActBatch& a, float* y, size_t r0,
                   size_t r1) noexcept {
    switch (w.type) {
        case DType::kQ8_0:
            matmul_quant<QuadsQ8>(w, a, y, r0, r1);
            return;
        case DType::kQ4_0:
            matmul_quant<QuadsQ4>(w, a, y, r0, r1);
            return;
        case DType::kQ4_0x16:
        case DType::kQ8_0x16:
            matmul_interleaved(w, a, y, r0, r1);
            return;
        case DType::kF16x16:
            if (a.T == 1)
                matmul_f16x16_t1(w, a, y, r0, r1);
            else
                matmul_f16x16_prefill(w, a, y, r0, r1);
            return;
        case DType::kF16:
            if (a.T == 1) {
                matmul_f16_t1(w, a, y, r0, r1);
            } else if (a.T >= kOuterMinTok) {
                matmul_f16_outer(w, a, y, r0, r1);
            } else {
                matmul_f16_packed(w, a, y, r0, r1);
            }
            return;
        default:
            break;
    }
    avx2_kernels().matmul(w, a, y, r0, r1);  // f32 and bf16
}

}  // namespace

// Built on first use, after the caller's CPU check (the copy may use AVX-512 moves).
const KernelTable& avx512_kernels() noexcept {
    static const KernelTable table = [] {
        KernelTable t = avx2_kernels();
        t.name = "avx512";
        t.matmul = matmul_avx512;
        return t;
    }();
    return table;
}

}  // namespace mistral
