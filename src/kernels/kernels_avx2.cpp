// The AVX2+FMA+F16C kernel table. The only translation unit compiled with -mavx2 -mfma -mf16c:
// every helper is in an anonymous namespace (STYLE.md 3.5) and nothing here is reached unless
// isa.cpp has checked the CPU. The numerical contract is in kernels.h; kernels_ref.cpp is the spec.
//
// matmul layout: y[t * rows + r] = dot(W row r, x row t).
//  - T == 1 (decode, memory-bound): 4 weight rows at a time share each activation load; every
//    weight byte is streamed exactly once, front to back, with a software prefetch into L2 one row
//    group ahead for the quantized types (their rows are too short for the hardware prefetcher).
//  - T > 1 (prefill, compute-bound): register tiles of kTileRows rows x kTileTok tokens, inside
//    cache blocks (tokens x columns x rows) so each weight vector loaded is reused kTileTok times
//    and the activations of a tile stay in L1.
//  - q8_0/q4_0 (both paths): two 32-blocks per ymm (block i in the low 128-bit lane, i+1 in the
//    high one); the int8 products give exact int32 partial sums per lane, converted to float and
//    scaled with one FMA by the block's scale product (d_w * d_x rounded to float, as in the
//    reference): kernels.h allows this instead of an exact int32 total per block.
//  - q8_0x16/q4_0x16 (16 rows interleaved, dtype.h): one row per int32 lane of a ymm (8 rows),
//    vpmaddubsw against four broadcast activation bytes, tiles of 8 rows x 3 tokens.
//  - f16x16 (each 16-row group stored column by column, dtype.h): decode walks four groups per
//    thread, a column as two ymm of 8 rows times the broadcast activation; prefill transposes
//    each group's columns into f32 rows (8 x 8 blocks) for the float tiles.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <immintrin.h>
#include <mistral/kernels.h>

#include "kernels/isa.h"
#include "kernels/kv_rows_generic.h"
#include "kernels/simd_avx2.h"
#include "kernels/x16_generic.h"

namespace mistral {
namespace {

// Local min: std::min is an inline template shared with baseline TUs (the ODR trap).
inline size_t min_size(size_t a, size_t b) {
    return a < b ? a : b;
}
// Row r of w (TensorView::row, kept local for the same reason).
inline const std::byte* row_ptr(const TensorView& w, size_t r) {
    return w.data + r * w.row_bytes;
}

// ---- float-weight matmul (f32 / f16 / bf16) --------------------------------------------------

struct LoadF32 {
    using E = float;
    static __m256 load8(const E* p) { return load8_f32(p); }
};
struct LoadF16 {
    using E = uint16_t;
    static __m256 load8(const E* p) { return load8_f16(p); }
};
struct LoadBF16 {
    using E = uint16_t;
    static __m256 load8(const E* p) { return load8_bf16(p); }
};

// Where a float tile's weight rows are: from(r, k) points at column k of the tile's row r, whose
// values run on contiguously from there.
template <class E>
struct PlainRows {
    const std::byte* w0;  // the tile's first row
    size_t row_bytes;
    const E* from(int r, size_t k) const {
        return reinterpret_cast<const E*>(w0 + static_cast<size_t>(r) * row_bytes) + k;
    }
};

// Register tile: R weight rows x TT tokens over columns [k0, k1).
// w: the rows (above); x: token t at x + t * ldx; y: y[t * ldy + r] (+= if accumulate).
template <class L, int R, int TT, class Rows>
void tile_float(const Rows& w, const float* x, size_t ldx, size_t k0, size_t k1, float* y,
                size_t ldy, bool accumulate) {
    using E = typename L::E;
    const E* wr[R];  // column k of each row
    for (int r = 0; r < R; ++r)
        wr[r] = w.from(r, k0);
    __m256 acc[R][TT];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm256_setzero_ps();
    }
    size_t k = k0;
    for (; k + 8 <= k1; k += 8) {
        __m256 wv[R];
        for (int r = 0; r < R; ++r)
            wv[r] = L::load8(wr[r]);
        for (int t = 0; t < TT; ++t) {
            const __m256 xv = _mm256_loadu_ps(x + t * ldx + k);
            for (int r = 0; r < R; ++r)
                acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
        for (int r = 0; r < R; ++r)
            wr[r] += 8;
    }
    // Row tail (< 8 columns): zero-padded copies, never reading past the row.
    if (k < k1) {
        const size_t m = k1 - k;
        __m256 wv[R];
        for (int r = 0; r < R; ++r) {
            E buf[8];
            copy_partial(wr[r], m, buf);
            wv[r] = L::load8(buf);
        }
        for (int t = 0; t < TT; ++t) {
            float buf[8];
            copy_partial(x + t * ldx + k, m, buf);
            const __m256 xv = _mm256_loadu_ps(buf);
            for (int r = 0; r < R; ++r)
                acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int t = 0; t < TT; ++t) {
        for (int r = 0; r < R; ++r) {
            const float s = hsum(acc[r][t]);
            float& out = y[t * ldy + r];
            out = accumulate ? out + s : s;
        }
    }
}

// ---- quantized-weight matmul (q8_0 / q4_0 weights x q8_0 activations) -------------------------

// ---- decode (T = 1) on pairs of blocks ---------------------------------------------------------
//
// One ymm holds two blocks, i in the low 128-bit lane and i+1 in the high one: the first 16
// values of both in `lo`, the last 16 in `hi`. After the integer products, lanes 0-3 hold exact
// int32 partial sums of block i and lanes 4-7 of block i+1, so one int->float conversion and one
// FMA with [s_i x4, s_i+1 x4] (s = f16(d_w) * f16(d_x), rounded to float as in the reference)
// serve two blocks, and the scale pair is built from two scalar loads and one byte shuffle.

inline __m256i two_halves(const void* a, const void* b) {
    return _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1);
}

// [f16 a x4, f16 b x4] as 8 floats.
inline __m256 scale_pair(uint16_t a, uint16_t b) {
    const uint32_t both = static_cast<uint32_t>(a) | (static_cast<uint32_t>(b) << 16);
    const __m128i h =
            _mm_shuffle_epi8(_mm_cvtsi32_si128(static_cast<int>(both)),
                             _mm_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3));
    return _mm256_cvtph_ps(h);
}

// Activation blocks i, i+1 rearranged as above, with their scale pair; shared by all rows.
struct ActPair {
    __m256i lo, hi;
    __m256 d;
    __m256i x8;  // q4_0 only: 8 * (sum of x) per lane group, see PairsQ4
};

inline ActPair act_pair(const BlockQ8_0* x) {
    const __m256i a = load_q8(x[0]), b = load_q8(x[1]);
    ActPair r;
    r.lo = _mm256_permute2x128_si256(a, b, 0x20);
    r.hi = _mm256_permute2x128_si256(a, b, 0x31);
    r.d = scale_pair(x[0].d, x[1].d);
    r.x8 = _mm256_setzero_si256();
    return r;
}

// Single-block tail of an odd block count: 8 lanes of block i only.
inline ActPair act_single(const BlockQ8_0& x) {
    ActPair r;
    r.lo = load_q8(x);
    r.hi = _mm256_setzero_si256();
    r.d = _mm256_set1_ps(_cvtsh_ss(x.d));
    r.x8 = _mm256_setzero_si256();
    return r;
}

// One policy per weight type, shared by decode and prefill: W is a weight pair (or a last single
// block) unpacked into registers, dot() its 8 exact int32 lanes against an ActPair.
// q4_0: the nibbles u = w + 8 are in [0, 15], unsigned, so maddubs(u, x) needs no sign fix-ups
// (and two of its int16 results add without overflow: 4 * 15 * 127 < 32767); the -8 is applied
// as -8 * sum(x), computed by prepare() once per activation pair for all rows.
struct PairsQ4 {
    using Block = BlockQ4_0;
    struct W {
        __m256i lo, hi;
    };
    static W pair(const Block* w) {
        const __m256i q = two_halves(w[0].qs, w[1].qs);
        const __m256i m = _mm256_set1_epi8(0x0f);
        return {_mm256_and_si256(q, m), _mm256_and_si256(_mm256_srli_epi16(q, 4), m)};
    }
    static W single(const Block& w) {  // all 32 unsigned nibbles in value order, in lo
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.qs));
        const __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
        return {_mm256_and_si256(both, _mm256_set1_epi8(0x0f)), _mm256_setzero_si256()};
    }
    static void prepare(ActPair& a) {
        const __m256i e = _mm256_set1_epi8(8);
        const __m256i s16 =
                _mm256_add_epi16(_mm256_maddubs_epi16(e, a.lo), _mm256_maddubs_epi16(e, a.hi));
        a.x8 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    }
    static __m256i dot(const W& w, const ActPair& x) {
        const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(w.lo, x.lo),
                                             _mm256_maddubs_epi16(w.hi, x.hi));
        return _mm256_sub_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)), x.x8);
    }
};

struct PairsQ8 {
    using Block = BlockQ8_0;
    static void prepare(ActPair&) {}
    struct W {
        __m256i lo, hi, alo, ahi;  // values and their absolute values (as u8)
    };
    static W pair(const Block* w) {
        const __m256i lo = two_halves(w[0].qs, w[1].qs);
        const __m256i hi = two_halves(w[0].qs + 16, w[1].qs + 16);
        return {lo, hi, _mm256_sign_epi8(lo, lo), _mm256_sign_epi8(hi, hi)};
    }
    static W single(const Block& w) {
        const __m256i lo = load_q8(w);
        return {lo, _mm256_setzero_si256(), _mm256_sign_epi8(lo, lo), _mm256_setzero_si256()};
    }
    static __m256i dot(const W& w, const ActPair& x) {
        // two int16 halves could overflow when added (2 * 32512), so each is widened first
        const __m256i one = _mm256_set1_epi16(1);
        const __m256i a =
                _mm256_madd_epi16(_mm256_maddubs_epi16(w.alo, _mm256_sign_epi8(x.lo, w.lo)), one);
        const __m256i b =
                _mm256_madd_epi16(_mm256_maddubs_epi16(w.ahi, _mm256_sign_epi8(x.hi, w.hi)), one);
        return _mm256_add_epi32(a, b);
    }
};

// Decode: R rows x 1 token, two blocks per step, every weight block loaded once, front to back.
// Few live registers (R accumulators and one activation pair), so nothing spills.
template <class Q, int R>
void rows_quant_t1(const std::byte* w0, size_t row_bytes, const BlockQ8_0* xq, size_t nb,
                   float* y) {
    using Block = typename Q::Block;
    const Block* wr[R];
    for (int r = 0; r < R; ++r)
        wr[r] = reinterpret_cast<const Block*>(w0 + r * row_bytes);
    __m256 acc[R];
    for (int r = 0; r < R; ++r)
        acc[r] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        ActPair x = act_pair(xq + i);
        Q::prepare(x);
        for (int r = 0; r < R; ++r) {
            // Rows are only a few KB: too short for the hardware prefetcher to ramp up on each
            // one, so fetch the same spot of the next row group ahead, into L2 (prefetches into
            // L1 hold the core's few L1 miss buffers: 15-18 -> 20-22 GB/s per core with T1).
            // A hint: never faults.
            _mm_prefetch(reinterpret_cast<const char*>(wr[r] + i) + R * row_bytes, _MM_HINT_T1);
            const __m256 p = _mm256_cvtepi32_ps(Q::dot(Q::pair(wr[r] + i), x));  // exact: < 2^24
            const __m256 s = _mm256_mul_ps(scale_pair(wr[r][i].d, wr[r][i + 1].d), x.d);
            acc[r] = _mm256_fmadd_ps(p, s, acc[r]);
        }
    }
    if (i < nb) {
        ActPair x = act_single(xq[i]);
        Q::prepare(x);
        for (int r = 0; r < R; ++r) {
            const __m256 p = _mm256_cvtepi32_ps(Q::dot(Q::single(wr[r][i]), x));
            const __m256 s = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(wr[r][i].d)), x.d);
            acc[r] = _mm256_fmadd_ps(p, s, acc[r]);
        }
    }
    for (int r = 0; r < R; ++r)
        y[r] = hsum(acc[r]);
}

// ---- prefill (T > 1) on pairs of blocks ----------------------------------------------------
//
// The same pair layout and per-lane FMA as decode, in register tiles of R rows x TT tokens: each
// weight pair is unpacked once per tile and reused for TT tokens, the activations of a cache block
// of tokens x columns are rearranged once per call into ActPairs (on the stack) and read as memory
// operands. Per block, row and token: 2 maddubs, madd, one add, and half a cvt/mul/FMA (an exact
// int32 total per block, summed with a horizontal tree, cost about twice as many instructions).

// Tile over blocks [c0, c1) of R rows; xp: the ActPairs of token t at xp + t * ldp (pair 0 =
// blocks c0, c0+1; a last odd block is a single).
template <class Q, int R, int TT>
void tile_quant_pairs(const std::byte* w0, size_t row_bytes, const ActPair* xp, size_t ldp,
                      size_t c0, size_t c1, float* y, size_t ldy, bool accumulate) {
    using Block = typename Q::Block;
    const Block* wr[R];
    for (int r = 0; r < R; ++r)
        wr[r] = reinterpret_cast<const Block*>(w0 + r * row_bytes);
    __m256 acc[R][TT];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm256_setzero_ps();
    }
    auto step = [&](size_t p, const typename Q::W(&wp)[R], const __m256(&sw)[R])
            __attribute__((always_inline)) {
        for (int t = 0; t < TT; ++t) {
            const ActPair& x = xp[t * ldp + p];
            for (int r = 0; r < R; ++r) {
                const __m256 v = _mm256_cvtepi32_ps(Q::dot(wp[r], x));
                acc[r][t] = _mm256_fmadd_ps(v, _mm256_mul_ps(sw[r], x.d), acc[r][t]);
            }
        }
    };
    size_t c = c0, p = 0;
    for (; c + 2 <= c1; c += 2, ++p) {
        typename Q::W wp[R];
        __m256 sw[R];
        for (int r = 0; r < R; ++r) {
            wp[r] = Q::pair(wr[r] + c);
            sw[r] = scale_pair(wr[r][c].d, wr[r][c + 1].d);
        }
        step(p, wp, sw);
    }
    if (c < c1) {
        typename Q::W wp[R];
        __m256 sw[R];
        for (int r = 0; r < R; ++r) {
            wp[r] = Q::single(wr[r][c]);
            sw[r] = _mm256_set1_ps(_cvtsh_ss(wr[r][c].d));
        }
        step(p, wp, sw);
    }
    for (int t = 0; t < TT; ++t) {
        for (int r = 0; r < R; ++r) {
            const float v = hsum(acc[r][t]);
            float& out = y[t * ldy + r];
            out = accumulate ? out + v : v;
        }
    }
}

// ---- blocking driver ---------------------------------------------------------------------------

constexpr int kTileRows = 3;       // register tile (prefill): rows ...
constexpr int kTileTok = 4;        // ... x tokens: 12 accumulators + 3 weight vectors in ymm
constexpr size_t kBlockTok = 64;   // tokens per cache block (their activation slice stays in L2)
constexpr size_t kBlockRows = 48;  // weight rows per cache block (their slice stays in L2)
// Columns per cache block, float weights: long, so a tile's prologue and epilogue are rare
// (f16 prefill 512 -> 4096 columns: 79-84 -> 97-101 GFLOP/s per core).
constexpr size_t kBlockColsF = 4096;

// One tile of runtime size rr x tt (<= kTileRows x kTileTok) of a float or quantized kernel.
// Kern::tile<R, TT>(args...) is the register tile.
template <class Kern, int R, typename... Args>
void tile_tt(int tt, Args... args) {
    switch (tt) {
        case 1:
            Kern::template tile<R, 1>(args...);
            break;
        case 2:
            Kern::template tile<R, 2>(args...);
            break;
        case 3:
            Kern::template tile<R, 3>(args...);
            break;
        default:
            Kern::template tile<R, kTileTok>(args...);
            break;
    }
}
template <class Kern, typename... Args>
void tile_dyn(int rr, int tt, Args... args) {
    switch (rr) {
        case 1:
            tile_tt<Kern, 1>(tt, args...);
            break;
        case 2:
            tile_tt<Kern, 2>(tt, args...);
            break;
        default:
            tile_tt<Kern, kTileRows>(tt, args...);
            break;
    }
}
static_assert(kTileRows == 3 && kTileTok == 4, "tile_dyn enumerates these sizes");

template <class L>
struct FloatKern {
    template <int R, int TT, class Rows>
    static void tile(Rows w, const float* x, size_t ldx, size_t k0, size_t k1, float* y, size_t ldy,
                     bool acc) {
        tile_float<L, R, TT>(w, x, ldx, k0, k1, y, ldy, acc);
    }
};
// Walks token blocks x column blocks x row blocks x token tiles x row tiles. `X` is the
// activation base (floats), `ldx` its per-token stride, [0, ncols) the column range;
// rows_at(r) is the Rows (above) of a tile starting at row r.
template <class Kern, typename X, class RowsAt>
void matmul_blocked(const TensorView& w, RowsAt rows_at, const X* x, size_t ldx, size_t ncols,
                    size_t block_cols, size_t T, float* y, size_t r0, size_t r1) {
    const size_t ldy = w.rows;
    for (size_t t0 = 0; t0 < T; t0 += kBlockTok) {
        const size_t t1 = min_size(T, t0 + kBlockTok);
        for (size_t k0 = 0; k0 < ncols; k0 += block_cols) {
            const size_t k1 = min_size(ncols, k0 + block_cols);
            const bool accumulate = k0 > 0;  // later column blocks add to the partial sums
            for (size_t rb = r0; rb < r1; rb += kBlockRows) {
                const size_t rb1 = min_size(r1, rb + kBlockRows);
                for (size_t t = t0; t < t1; t += kTileTok) {
                    const int tt = static_cast<int>(min_size(kTileTok, t1 - t));
                    for (size_t r = rb; r < rb1; r += kTileRows) {
                        const int rr = static_cast<int>(min_size(kTileRows, rb1 - r));
                        tile_dyn<Kern>(rr, tt, rows_at(r), x + t * ldx, ldx, k0, k1,
                                       y + t * ldy + r, ldy, accumulate);
                    }
                }
            }
        }
    }
}

template <class L>
void matmul_float(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    using Rows = PlainRows<typename L::E>;
    if (a.T == 1) {
        size_t r = r0;
        for (; r + 4 <= r1; r += 4)
            tile_float<L, 4, 1>(Rows{row_ptr(w, r), w.row_bytes}, a.x, a.n, 0, a.n, y + r, 0,
                                false);
        for (; r < r1; ++r)
            tile_float<L, 1, 1>(Rows{row_ptr(w, r), w.row_bytes}, a.x, a.n, 0, a.n, y + r, 0,
                                false);
        return;
    }
    matmul_blocked<FloatKern<L>>(
            w,
            [&](size_t r) {
                return Rows{row_ptr(w, r), w.row_bytes};
            },
            a.x, a.n, a.n, kBlockColsF, a.T, y, r0, r1);
}

// f16x16 decode: S groups of 16 rows x 1 token at once (for_whole_x16_group_streams), per column
// of each group two ymm of 8 rows converted from 16 bytes each and two FMAs by the broadcast
// activation, into two partial sums per group (even and odd columns). No per-row horizontal sums.
// Every group goes through the same arithmetic.
constexpr size_t kF16x16Sums = 2;
constexpr size_t kF16x16Streams = 4;

template <size_t S>
void streams_f16x16_t1(const std::byte* const (&g)[S], const float* x, size_t n,
                       float* const (&y)[S]) {
    constexpr size_t A = kF16x16Sums;
    __m256 lo[S][A], hi[S][A];
    for (size_t s = 0; s < S; ++s) {
        for (size_t i = 0; i < A; ++i) {
            lo[s][i] = _mm256_setzero_ps();
            hi[s][i] = _mm256_setzero_ps();
        }
    }
    for (size_t k = 0; k < n; k += 4) {  // n % 64 == 0
        for (size_t s = 0; s < S; ++s) {
            const auto* q = reinterpret_cast<const __m128i*>(g[s] + k * kF16x16ColumnBytes);
            for (size_t j = 0; j < 4; ++j) {
                const __m256 xv = _mm256_broadcast_ss(x + k + j);
                lo[s][j % A] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(q + 2 * j)), xv,
                                               lo[s][j % A]);
                hi[s][j % A] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(q + 2 * j + 1)), xv,
                                               hi[s][j % A]);
            }
        }
    }
    for (size_t s = 0; s < S; ++s) {
        __m256 l = lo[s][0], h = hi[s][0];
        for (size_t i = 1; i < A; ++i) {
            l = _mm256_add_ps(l, lo[s][i]);
            h = _mm256_add_ps(h, hi[s][i]);
        }
        _mm256_storeu_ps(y[s], l);
        _mm256_storeu_ps(y[s] + 8, h);
    }
}

// In place: r[i] lane j <- r[j] lane i (an 8 x 8 transpose in three shuffle stages).
inline void transpose8(__m256 (&r)[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; ++h) {  // u[4h + c]: lanes c and c + 4 of rows 4h .. 4h + 3
        u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

// f16x16, T > 1: per column block, each whole group's columns converted and transposed (8 x 8
// blocks, in address order) into 16 f32 rows, then the plain float tiles on them for every
// token. The rows of a group the range cuts go through the reference (x16_generic.h).
constexpr size_t kF16x16PackCols = 1024;  // a 64 KiB panel
thread_local std::vector<float> f16x16_panel;

// Columns [k0, k0 + kc) (kc % 8 == 0) of the group at g as 16 f32 rows at panel + i * ld: 8 x 8
// blocks, each 8 columns of 8 rows converted and transposed in registers.
void pack_f16x16_group(const std::byte* g, size_t k0, size_t kc, float* panel, size_t ld) {
    for (size_t k = 0; k < kc; k += 8) {
        for (size_t h = 0; h < kX16Rows; h += 8) {
            __m256 v[8];
            for (size_t j = 0; j < 8; ++j)
                v[j] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(
                        g + (k0 + k + j) * kF16x16ColumnBytes + 2 * h)));
            transpose8(v);
            for (size_t i = 0; i < 8; ++i)
                _mm256_storeu_ps(panel + (h + i) * ld + k, v[i]);
        }
    }
}

void matmul_f16x16_prefill(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    size_t g0 = 0, g1 = 0;
    if (!whole_x16_groups(w, a, y, r0, r1, &g0, &g1))
        return;
    constexpr size_t kLd = kF16x16PackCols + 8;  // row stride off a multiple of 4 KiB (L1 sets)
    if (f16x16_panel.size() < kX16Rows * kLd)
        f16x16_panel.resize(kX16Rows * kLd);
    float* panel = f16x16_panel.data();
    const size_t ldy = w.rows;
    for (size_t k0 = 0; k0 < a.n; k0 += kF16x16PackCols) {
        const size_t kc = min_size(a.n - k0, kF16x16PackCols);  // a multiple of 64
        for (size_t g = g0; g < g1; ++g) {
            pack_f16x16_group(w.data + g * kX16Rows * w.row_bytes, k0, kc, panel, kLd);
            const size_t rg = g * kX16Rows;
            for (size_t t = 0; t < a.T; t += kTileTok) {
                const int tt = static_cast<int>(min_size(kTileTok, a.T - t));
                for (size_t r = 0; r < kX16Rows; r += kTileRows) {
                    const int rr = static_cast<int>(min_size(kTileRows, kX16Rows - r));
                    tile_dyn<FloatKern<LoadF32>>(
                            rr, tt,
                            PlainRows<float>{reinterpret_cast<const std::byte*>(panel + r * kLd),
                                             kLd * sizeof(float)},
                            a.x + t * a.n + k0, a.n, size_t{0}, kc, y + t * ldy + rg + r, ldy,
                            k0 > 0);
                }
            }
        }
    }
}

void matmul_f16x16(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    // Four streams: per token on the AVX2 table (Zen 5), one / two / four 1.61-1.63 / 1.64-1.70 /
    // 1.82-1.92 t/s (docs/BENCHMARKS.md, session 14), though 16 sums fill the 16 ymm.
    if (a.T == 1) {
        for_x16_streams_of<kF16x16Streams>(
                w, a, y, r0, r1,
                [&]<size_t N>(const std::byte* const(&g)[N], float* const(&yg)[N]) {
                    streams_f16x16_t1<N>(g, a.x, a.n, yg);
                });
        return;
    }
    matmul_f16x16_prefill(w, a, y, r0, r1);
}

template <class Q>
struct PairKern {
    template <int R, int TT>
    static void tile(const std::byte* w0, size_t rb, const ActPair* xp, size_t ldp, size_t c0,
                     size_t c1, float* y, size_t ldy, bool acc) {
        tile_quant_pairs<Q, R, TT>(w0, rb, xp, ldp, c0, c1, y, ldy, acc);
    }
};

constexpr size_t kPairTok = 32;   // tokens of one prepared activation region ...
constexpr size_t kPairCols = 32;  // ... x 32-blocks (16 pairs): 64 KiB of ActPairs on the stack
constexpr size_t kPairRows = 48;  // weight rows per cache block

// Prefill on pairs: token blocks x column blocks (activations rearranged once per region) x row
// blocks x token tiles x row tiles.
template <class Q>
void matmul_quant_pairs(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    const size_t nb = a.n / kQBlock, ldy = w.rows;
    constexpr size_t kLdp = kPairCols / 2;
    ActPair xp[kPairTok * kLdp];
    for (size_t t0 = 0; t0 < a.T; t0 += kPairTok) {
        const size_t t1 = min_size(a.T, t0 + kPairTok);
        for (size_t c0 = 0; c0 < nb; c0 += kPairCols) {
            const size_t c1 = min_size(nb, c0 + kPairCols);
            for (size_t t = t0; t < t1; ++t) {
                const BlockQ8_0* xb = a.xq + t * nb;
                size_t c = c0, p = 0;
                for (; c + 2 <= c1; c += 2, ++p) {
                    ActPair x = act_pair(xb + c);
                    Q::prepare(x);
                    xp[(t - t0) * kLdp + p] = x;
                }
                if (c < c1) {
                    ActPair x = act_single(xb[c]);
                    Q::prepare(x);
                    xp[(t - t0) * kLdp + p] = x;
                }
            }
            const bool accumulate = c0 > 0;
            for (size_t rb = r0; rb < r1; rb += kPairRows) {
                const size_t rb1 = min_size(r1, rb + kPairRows);
                for (size_t t = t0; t < t1; t += kTileTok) {
                    const int tt = static_cast<int>(min_size(kTileTok, t1 - t));
                    for (size_t r = rb; r < rb1; r += kTileRows) {
                        const int rr = static_cast<int>(min_size(kTileRows, rb1 - r));
                        tile_dyn<PairKern<Q>>(rr, tt, row_ptr(w, r), w.row_bytes,
                                              xp + (t - t0) * kLdp, kLdp, c0, c1, y + t * ldy + r,
                                              ldy, accumulate);
                    }
                }
            }
        }
    }
}

// ---- q4_0x16 / q8_0x16: 8 rows per ymm (decode and prefill) --------------------------------
//
// Half h of a group block (dtype.h) is bytes 32h..32h+31 of each 64-byte chunk: lane r of it is
// four quant bytes of row 8h + r, so vpmaddubsw by the broadcast four activation bytes gives two
// int16 pair sums per row, and vpmaddwd by ones one int32 sum per row. The block's sums start at
// its bias and are scaled with one FMA by the rounded scale products (the kernels.h contract).

inline __m256i bcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

// q4_0: the nibbles unsigned (u = w + 8, bias -8 sum(x)); the block's eight products are added in
// int16 (|sum| <= 8 * 2 * 15 * 128 < 2^15: no saturation), widened once.
struct X16Q4 {
    static constexpr size_t kBlockBytes = kQ4x16GroupBlockBytes;
    static constexpr int32_t kOffset = 8;
    static void unpack(const std::byte* p, size_t h, __m256i (&w)[8]) {
        const __m256i m = _mm256_set1_epi8(0x0f);
        for (int c = 0; c < 4; ++c) {  // values 4c.. (low nibbles) and 4c + 16.. (high)
            const __m256i v =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 + 64 * c + 32 * h));
            w[c] = _mm256_and_si256(v, m);
            w[c + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
        }
    }
    static __m256i dot(const __m256i (&w)[8], const int8_t* x) {
        __m256i s16 = _mm256_maddubs_epi16(w[0], bcast4(x));
        for (int j = 1; j < 8; ++j)
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[j], bcast4(x + 4 * j)));
        return _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    }
};
// q8_0: signed weights, so each product is |w| x (x with w's sign) (pairs <= 2 * 128 * 127 fit
// int16), widened per chunk; no bias.
struct X16Q8 {
    static constexpr size_t kBlockBytes = kQ8x16GroupBlockBytes;
    static constexpr int32_t kOffset = 0;
    static void unpack(const std::byte* p, size_t h, __m256i (&w)[8]) {
        for (int c = 0; c < 8; ++c)
            w[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 + 64 * c + 32 * h));
    }
    static __m256i dot(const __m256i (&w)[8], const int8_t* x) {
        const __m256i ones = _mm256_set1_epi16(1);
        __m256i s32 = _mm256_setzero_si256();
        for (int j = 0; j < 8; ++j) {
            const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w[j]),
                                                   _mm256_sign_epi8(bcast4(x + 4 * j), w[j]));
            s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(p, ones));
        }
        return s32;
    }
};

// Rows 8h..8h+7 of one group (from g0) x TT tokens, every block column.
template <class P, int TT>
void tile_x16(const std::byte* g0, size_t h, size_t nb, const BlockQ8_0* xq, const ActX16* ax,
              float* y, size_t ldy) {
    __m256 acc[TT];
    for (int t = 0; t < TT; ++t)
        acc[t] = _mm256_setzero_ps();
    for (size_t k = 0; k < nb; ++k) {
        const std::byte* p = g0 + k * P::kBlockBytes;
        const __m256 dw =
                _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * h)));
        __m256i w[8];
        P::unpack(p, h, w);
        for (int t = 0; t < TT; ++t) {
            const ActX16& s = ax[t * nb + k];
            const __m256i sum =
                    _mm256_add_epi32(P::dot(w, xq[t * nb + k].qs), _mm256_set1_epi32(s.bias));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum),
                                     _mm256_mul_ps(dw, _mm256_set1_ps(s.d)), acc[t]);
        }
    }
    for (int t = 0; t < TT; ++t)
        _mm256_storeu_ps(y + t * ldy, acc[t]);
}

constexpr int kX16Tok = 3;  // tokens per tile: 3 accumulators + 8 weight ymm + temporaries

// Decode: rows 8h..8h+7 of two groups (g[0], g[1]) x 1 token, block by block: two streams
// (for_whole_x16_group_streams<2>), each group's arithmetic as in tile_x16<P, 1>: +1-4% q4_0 tg on
// the session 12 machine with this table forced (the avx512 table gains more). Three streams
// measured level with two, four 27% slower (session 13; likely the 16 ymm registers).
template <class P>
void pair_x16_t1(const std::byte* const (&g)[2], size_t h, size_t nb, const BlockQ8_0* xq,
                 const ActX16* ax, float* const (&y)[2]) {
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (size_t k = 0; k < nb; ++k) {
        const ActX16& s = ax[k];
        for (int st = 0; st < 2; ++st) {
            const std::byte* p = g[st] + k * P::kBlockBytes;
            const __m256 dw =
                    _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * h)));
            __m256i w[8];
            P::unpack(p, h, w);
            const __m256i sum = _mm256_add_epi32(P::dot(w, xq[k].qs), _mm256_set1_epi32(s.bias));
            acc[st] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum),
                                      _mm256_mul_ps(dw, _mm256_set1_ps(s.d)), acc[st]);
        }
    }
    _mm256_storeu_ps(y[0] + 8 * h, acc[0]);
    _mm256_storeu_ps(y[1] + 8 * h, acc[1]);
}

template <class P>
void matmul_x16(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    const size_t nb = a.n / kQBlock, ldy = w.rows;
    const ActX16* ax = prepare_x16(a, P::kOffset);
    if (a.T == 1) {
        for_whole_x16_group_streams<2>(
                w, a, y, r0, r1,
                [&](const std::byte* const(&g)[2], float* const(&yg)[2]) {
                    for (size_t h = 0; h < 2; ++h)
                        pair_x16_t1<P>(g, h, nb, a.xq, ax, yg);
                },
                [&](const std::byte* gp, float* yg) {
                    for (size_t h = 0; h < 2; ++h)
                        tile_x16<P, 1>(gp, h, nb, a.xq, ax, yg + 8 * h, ldy);
                });
        return;
    }
    for_whole_x16_groups(w, a, y, r0, r1, [&](const std::byte* gp, float* yg) {
        for (size_t h = 0; h < 2; ++h) {  // rows 0-7, then 8-15
            float* yh = yg + 8 * h;
            size_t t = 0;
            for (; t + kX16Tok <= a.T; t += kX16Tok)
                tile_x16<P, kX16Tok>(gp, h, nb, a.xq + t * nb, ax + t * nb, yh + t * ldy, ldy);
            if (a.T - t == 2)
                tile_x16<P, 2>(gp, h, nb, a.xq + t * nb, ax + t * nb, yh + t * ldy, ldy);
            else if (a.T - t == 1)
                tile_x16<P, 1>(gp, h, nb, a.xq + t * nb, ax + t * nb, yh + t * ldy, ldy);
        }
    });
}

void matmul_interleaved(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    if (w.type == DType::kQ4_0x16)
        matmul_x16<X16Q4>(w, a, y, r0, r1);
    else
        matmul_x16<X16Q8>(w, a, y, r0, r1);
}

template <class Q>
void matmul_quant(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) {
    if (a.T == 1) {
        const size_t nb = a.n / kQBlock;
        size_t r = r0;
        for (; r + 4 <= r1; r += 4)
            rows_quant_t1<Q, 4>(row_ptr(w, r), w.row_bytes, a.xq, nb, y + r);
        for (; r < r1; ++r)
            rows_quant_t1<Q, 1>(row_ptr(w, r), w.row_bytes, a.xq, nb, y + r);
        return;
    }
    matmul_quant_pairs<Q>(w, a, y, r0, r1);
}

void matmul_avx2(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1) noexcept {
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
            matmul_quant<PairsQ8>(w, a, y, r0, r1);
            return;
        case DType::kQ4_0:
            matmul_quant<PairsQ4>(w, a, y, r0, r1);
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

// ---- quantize_act --------------------------------------------------------------------------

// Bit-exact with quantize_row_q8_0: amax is order-independent, d = amax / 127 and id = 1 / d are
// the same IEEE divisions, q = round-half-even(x * id) clamped to [-127, 127], and d is stored
// with the hardware f32->f16 conversion (round to nearest even, like f32_to_f16).
void quantize_act_avx2(const float* x, BlockQ8_0* xq, size_t n) noexcept {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t b = 0; b < n / kQBlock; ++b) {
        const float* xb = x + b * kQBlock;
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_loadu_ps(xb + 8 * i);
            // max(|x|, amax): like std::max(amax, |x|), keeps amax when |x| is NaN
            amax = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), amax);
        }
        const float d = hmax(amax) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        xq[b].d = static_cast<uint16_t>(
                _mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(d), _MM_FROUND_TO_NEAREST_INT), 0));
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; ++i) {
            __m256 r = _mm256_round_ps(_mm256_mul_ps(v[i], vid),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
            q[i] = _mm256_cvtps_epi32(r);  // exact: already an integer
        }
        // packs work inside 128-bit lanes; the permute restores value order
        const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
        const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
        const __m256i q8 = _mm256_packs_epi16(q16a, q16b);
        const __m256i ordered =
                _mm256_permutevar8x32_epi32(q8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(xq[b].qs), ordered);
    }
}

// ---- element-wise ops ------------------------------------------------------------------------

void rmsnorm_avx2(float* out, const float* x, const float* gain, size_t n, float eps) noexcept {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        acc0 = _mm256_fmadd_ps(a, a, acc0);
        acc1 = _mm256_fmadd_ps(b, b, acc1);
    }
    float ss = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i)
        ss += x[i] * x[i];
    // the same IEEE sqrt and division as the reference (sqrtss, not a libm call)
    const float inv =
            1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(ss / static_cast<float>(n) + eps)));
    const __m256 vinv = _mm256_set1_ps(inv);
    i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(v, _mm256_loadu_ps(gain + i)));
    }
    for (; i < n; ++i)
        out[i] = (x[i] * inv) * gain[i];
}

// (a, b) <- (a*c - b*s, a*s + b*c) on interleaved pairs: with cs = [c0 s0 c1 s1 ...],
// c = [c0 c0 c1 c1 ...], s = [s0 s0 ...], sw = [b0 a0 b1 a1 ...]; fmaddsub gives
// even lanes v*c - sw*s and odd lanes v*c + sw*s.
void rope_avx2(float* v, size_t n_heads, size_t head_dim, const float* cos_sin) noexcept {
    for (size_t h = 0; h < n_heads; ++h) {
        float* p = v + h * head_dim;
        size_t i = 0;
        for (; i + 8 <= head_dim; i += 8) {
            const __m256 x = _mm256_loadu_ps(p + i);
            const __m256 cs = _mm256_loadu_ps(cos_sin + i);
            const __m256 c = _mm256_moveldup_ps(cs);
            const __m256 s = _mm256_movehdup_ps(cs);
            const __m256 sw = _mm256_permute_ps(x, 0xB1);
            _mm256_storeu_ps(p + i, _mm256_fmaddsub_ps(x, c, _mm256_mul_ps(sw, s)));
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
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < 4; ++j) {
            acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8 * j), L::load8(k + i + 8 * j),
                                     acc[j]);
        }
    }
    for (; i + 8 <= n; i += 8)
        acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), L::load8(k + i), acc[0]);
    if (i < n) {
        float qb[8];
        typename L::E kb[8];
        copy_partial(q + i, n - i, qb);
        copy_partial(k + i, n - i, kb);
        acc[1] = _mm256_fmadd_ps(_mm256_loadu_ps(qb), L::load8(kb), acc[1]);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

float dot_kv_avx2(const float* q, const void* k, DType kv, size_t n) noexcept {
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
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(va, L::load8(v + i), _mm256_loadu_ps(out + i)));
    }
    if (i < n) {
        const size_t m = n - i;
        float ob[8];
        typename L::E vb[8];
        copy_partial(out + i, m, ob);
        copy_partial(v + i, m, vb);
        _mm256_storeu_ps(ob, _mm256_fmadd_ps(va, L::load8(vb), _mm256_loadu_ps(ob)));
        std::memcpy(out + i, ob, m * sizeof(float));
    }
}

void axpy_kv_avx2(float a, const void* v, DType kv, float* out, size_t n) noexcept {
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

// ---- attention over rows of one KV head (grouped-query) ----------------------------------------
//
// Scores: up to 4 query heads x 2 rows per step (8 independent FMA chains), each row loaded
// once per step for all of them, the 4 query heads read from L1. Values: the head_dim columns in
// slices of 16 (two vectors), each slice accumulated in registers for up to 4 heads over all n
// rows (rows ascending, one FMA per row and element) and stored once: the rows are re-read per
// slice, from cache, instead of reloading and storing `out` for every row.

// Cached rows are contiguous (the cache is head-major), but a batch's own rows are head_dim
// values inside rows of the whole kv_dim (a 4 KiB stride for f32 and Mistral's 8 x 128), where
// the hardware prefetcher sees short runs with jumps: the rows needed a little later are
// requested explicitly, whole, into L2 (into L1 they would hold the core's few miss buffers, as
// in the decode matmuls; on the earlier position-major cache, q4_0 tg at depth 4096 went from
// 4.3-4.7 to 4.85-4.93 t/s in two interleaved pairs of runs).
inline void prefetch_row(const std::byte* row, size_t bytes) {
    for (size_t b = 0; b < bytes; b += 64)
        _mm_prefetch(reinterpret_cast<const char*>(row + b), _MM_HINT_T1);
}

constexpr size_t kKvAhead = 32;     // scores: rows prefetched this far ahead
constexpr size_t kKvRowBlock = 32;  // values: rows per block, re-read per slice from L1

template <class L, int G>
void dot_rows_g(const float* q, size_t hd, const std::byte* rows, size_t stride, size_t n,
                float scale, float* s, size_t ld) {
    using E = typename L::E;
    size_t j = 0;
    for (; j + 2 <= n; j += 2) {
        if (j + kKvAhead + 1 < n) {
            prefetch_row(rows + (j + kKvAhead) * stride, hd * sizeof(E));
            prefetch_row(rows + (j + kKvAhead + 1) * stride, hd * sizeof(E));
        }
        const E* k0 = reinterpret_cast<const E*>(rows + j * stride);
        const E* k1 = reinterpret_cast<const E*>(rows + (j + 1) * stride);
        __m256 a0[G], a1[G];
        for (int g = 0; g < G; ++g) {
            a0[g] = _mm256_setzero_ps();
            a1[g] = _mm256_setzero_ps();
        }
        for (size_t d = 0; d < hd; d += 8) {
            const __m256 x0 = L::load8(k0 + d), x1 = L::load8(k1 + d);
            for (int g = 0; g < G; ++g) {
                const __m256 qv = _mm256_loadu_ps(q + g * hd + d);
                a0[g] = _mm256_fmadd_ps(qv, x0, a0[g]);
                a1[g] = _mm256_fmadd_ps(qv, x1, a1[g]);
            }
        }
        for (int g = 0; g < G; ++g) {
            s[g * ld + j] = hsum(a0[g]) * scale;
            s[g * ld + j + 1] = hsum(a1[g]) * scale;
        }
    }
    if (j < n) {
        const E* k0 = reinterpret_cast<const E*>(rows + j * stride);
        __m256 a0[G];
        for (int g = 0; g < G; ++g)
            a0[g] = _mm256_setzero_ps();
        for (size_t d = 0; d < hd; d += 8) {
            const __m256 x0 = L::load8(k0 + d);
            for (int g = 0; g < G; ++g)
                a0[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * hd + d), x0, a0[g]);
        }
        for (int g = 0; g < G; ++g)
            s[g * ld + j] = hsum(a0[g]) * scale;
    }
}

template <class L, int G>
void axpy_rows_g(const float* p, size_t ld, size_t hd, const std::byte* rows, size_t stride,
                 size_t n, float* out) {
    using E = typename L::E;
    // Rows in blocks of kKvRowBlock (16 KiB of f32 at head_dim 128, re-read per slice from
    // cache); per block, the slices of 16 columns in registers. The next block is requested into
    // L2 while this one is computed, one line per row and slice (a slice of f32 is one line), so
    // the requests are spread over the block's FMAs. Requesting the whole next block in one
    // burst at the block's start made this pass 2.4-2.7x slower per byte than the key pass (q4_0
    // decode at depth 4096, f32 cache: 16-19% of the samples against 7%; spread: 9-11% vs 8%).
    for (size_t j = 0; j < min_size(n, kKvRowBlock); ++j)
        prefetch_row(rows + j * stride, hd * sizeof(E));
    const size_t jn = n > kKvRowBlock ? n - kKvRowBlock : 0;  // rows < jn: prefetch a block on
    for (size_t j0 = 0; j0 < n; j0 += kKvRowBlock) {
        const size_t j1 = min_size(n, j0 + kKvRowBlock);
        size_t d = 0;
        for (; d + 16 <= hd; d += 16) {
            __m256 a[G][2];
            for (int g = 0; g < G; ++g) {
                a[g][0] = _mm256_loadu_ps(out + g * hd + d);
                a[g][1] = _mm256_loadu_ps(out + g * hd + d + 8);
            }
            for (size_t j = j0; j < j1; ++j) {
                const E* v = reinterpret_cast<const E*>(rows + j * stride) + d;
                if (j < jn)
                    _mm_prefetch(reinterpret_cast<const char*>(v) + kKvRowBlock * stride,
                                 _MM_HINT_T1);
                const __m256 v0 = L::load8(v), v1 = L::load8(v + 8);
                for (int g = 0; g < G; ++g) {
                    const __m256 pb = _mm256_broadcast_ss(p + g * ld + j);
                    a[g][0] = _mm256_fmadd_ps(pb, v0, a[g][0]);
                    a[g][1] = _mm256_fmadd_ps(pb, v1, a[g][1]);
                }
            }
            for (int g = 0; g < G; ++g) {
                _mm256_storeu_ps(out + g * hd + d, a[g][0]);
                _mm256_storeu_ps(out + g * hd + d + 8, a[g][1]);
            }
        }
        if (d < hd) {  // hd % 16 == 8
            __m256 a[G];
            for (int g = 0; g < G; ++g)
                a[g] = _mm256_loadu_ps(out + g * hd + d);
            for (size_t j = j0; j < j1; ++j) {
                const __m256 v0 = L::load8(reinterpret_cast<const E*>(rows + j * stride) + d);
                for (int g = 0; g < G; ++g)
                    a[g] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + g * ld + j), v0, a[g]);
            }
            for (int g = 0; g < G; ++g)
                _mm256_storeu_ps(out + g * hd + d, a[g]);
        }
    }
}

// Heads in groups of up to 4 (one template instance per count): f(std::integral_constant<int,
// G>, first head of the group).
template <class F>
void for_head_groups(size_t group, F&& f) {
    for (size_t h = 0; h < group; h += 4) {
        switch (min_size(4, group - h)) {
            case 1:
                f(std::integral_constant<int, 1>{}, h);
                break;
            case 2:
                f(std::integral_constant<int, 2>{}, h);
                break;
            case 3:
                f(std::integral_constant<int, 3>{}, h);
                break;
            default:
                f(std::integral_constant<int, 4>{}, h);
                break;
        }
    }
}

template <class L>
void dot_rows_typed(const float* q, size_t group, size_t hd, const std::byte* rows, size_t stride,
                    size_t n, float scale, float* s, size_t ld) {
    for_head_groups(group, [&](auto g, size_t h) {
        dot_rows_g<L, decltype(g)::value>(q + h * hd, hd, rows, stride, n, scale, s + h * ld, ld);
    });
}

template <class L>
void axpy_rows_typed(const float* p, size_t ld, size_t group, size_t hd, const std::byte* rows,
                     size_t stride, size_t n, float* out) {
    for_head_groups(group, [&](auto g, size_t h) {
        axpy_rows_g<L, decltype(g)::value>(p + h * ld, ld, hd, rows, stride, n, out + h * hd);
    });
}

void dot_kv_rows_avx2(const float* q, size_t group, size_t hd, const std::byte* rows, size_t stride,
                      DType kv, size_t n, float scale, float* s, size_t ld) noexcept {
    if (hd % 8 != 0) {
        dot_kv_rows_generic<dot_kv_avx2>(q, group, hd, rows, stride, kv, n, scale, s, ld);
        return;
    }
    switch (kv) {
        case DType::kF16:
            dot_rows_typed<LoadF16>(q, group, hd, rows, stride, n, scale, s, ld);
            return;
        case DType::kBF16:
            dot_rows_typed<LoadBF16>(q, group, hd, rows, stride, n, scale, s, ld);
            return;
        default:
            dot_rows_typed<LoadF32>(q, group, hd, rows, stride, n, scale, s, ld);
            return;
    }
}

void axpy_kv_rows_avx2(const float* p, size_t ld, size_t group, size_t hd, const std::byte* rows,
                       size_t stride, DType kv, size_t n, float* out) noexcept {
    if (hd % 8 != 0) {
        axpy_kv_rows_generic<axpy_kv_avx2>(p, ld, group, hd, rows, stride, kv, n, out);
        return;
    }
    switch (kv) {
        case DType::kF16:
            axpy_rows_typed<LoadF16>(p, ld, group, hd, rows, stride, n, out);
            return;
        case DType::kBF16:
            axpy_rows_typed<LoadBF16>(p, ld, group, hd, rows, stride, n, out);
            return;
        default:
            axpy_rows_typed<LoadF32>(p, ld, group, hd, rows, stride, n, out);
            return;
    }
}

constexpr float kNegInf = -__builtin_inff();

void softmax_avx2(float* x, size_t n) noexcept {
    // max (exact in any order)
    __m256 vmax = _mm256_set1_ps(x[0]);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float max = hmax(vmax);
    for (; i < n; ++i)
        max = x[i] > max ? x[i] : max;
    // exp(x - max) and the sum; the tail is padded with -inf, whose exp is 0
    const __m256 vm = _mm256_set1_ps(max);
    __m256 vsum = _mm256_setzero_ps();
    i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    if (i < n) {
        const size_t m = n - i;
        float buf[8] = {kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf};
        std::memcpy(buf, x + i, m * sizeof(float));
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(buf), vm));
        _mm256_storeu_ps(buf, e);
        std::memcpy(x + i, buf, m * sizeof(float));
        vsum = _mm256_add_ps(vsum, e);
    }
    const __m256 vinv = _mm256_set1_ps(1.0f / hsum(vsum));
    i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    const float inv = _mm256_cvtss_f32(vinv);
    for (; i < n; ++i)
        x[i] *= inv;
}

// silu(g) * u = g / (1 + exp(-g)) * u; the same IEEE division as the reference.
inline __m256 swiglu8(__m256 g, __m256 u) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

void swiglu_avx2(float* gate, const float* up, size_t n) noexcept {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(gate + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    }
    if (i < n) {
        const size_t m = n - i;
        float gb[8], ub[8];
        copy_partial(gate + i, m, gb);
        copy_partial(up + i, m, ub);
        _mm256_storeu_ps(gb, swiglu8(_mm256_loadu_ps(gb), _mm256_loadu_ps(ub)));
        std::memcpy(gate + i, gb, m * sizeof(float));
    }
}

// ---- row_to_f32 (bit-exact: every conversion here is exact, products as in the reference) ----

template <class L>
void convert_row(const typename L::E* src, float* out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, L::load8(src + i));
    if (i < n) {
        typename L::E sb[8];
        float ob[8];
        copy_partial(src + i, n - i, sb);
        _mm256_storeu_ps(ob, L::load8(sb));
        std::memcpy(out + i, ob, (n - i) * sizeof(float));
    }
}

// 32 int8 values times the block scale d (as float), in value order.
inline void dequant32(__m256i q, float d, float* out) {
    const __m256 vd = _mm256_set1_ps(d);
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int j = 0; j < 4; ++j) {
        const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[j]));
        _mm256_storeu_ps(out + 8 * j, _mm256_mul_ps(vd, f));
    }
}

inline float f16_scale(uint16_t h) {
    return _cvtsh_ss(h);
}

void row_to_f32_avx2(const TensorView& w, size_t row, float* out) noexcept {
    const std::byte* src = row_ptr(w, row);
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
            for (size_t i = 0; i < n / kQBlock; ++i)
                dequant32(load_q8(b[i]), f16_scale(b[i].d), out + i * kQBlock);
            return;
        }
        case DType::kQ4_0: {
            const auto* b = reinterpret_cast<const BlockQ4_0*>(src);
            for (size_t i = 0; i < n / kQBlock; ++i)
                dequant32(load_q4(b[i]), f16_scale(b[i].d), out + i * kQBlock);
            return;
        }
        case DType::kQ4_0x16:  // never an embedding table of ours: the reference is enough
        case DType::kQ8_0x16:
        case DType::kF16x16:
            reference_kernels().row_to_f32(w, row, out);
            return;
    }
}

constexpr KernelTable kAvx2 = {
        .name = "avx2",
        .matmul = matmul_avx2,
        .quantize_act = quantize_act_avx2,
        .rmsnorm = rmsnorm_avx2,
        .rope = rope_avx2,
        .dot_kv = dot_kv_avx2,
        .axpy_kv = axpy_kv_avx2,
        .dot_kv_rows = dot_kv_rows_avx2,
        .axpy_kv_rows = axpy_kv_rows_avx2,
        .softmax = softmax_avx2,
        .swiglu = swiglu_avx2,
        .row_to_f32 = row_to_f32_avx2,
};

}  // namespace

// Returns the address of a constant table: no vector instructions run before the caller's check.
const KernelTable& avx2_kernels() noexcept {
    return kAvx2;
}

}  // namespace mistral
