// What every table's q4_0x16 / q8_0x16 matmul shares: the split of a row range into whole 16-row
// groups (rows of a group the range cuts go through the reference, which reads any row), and the
// activation terms per block of the x86 tables. Internal linkage (anonymous namespace): each TU
// gets its own copy compiled with its own flags (STYLE.md 3.5, the ODR trap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <mistral/dtype.h>
#include <mistral/kernels.h>

namespace mistral {
namespace {

// The whole 16-row groups [*g0, *g1) inside [r0, r1); the rows of a group the range cuts (never,
// with the forward pass's 16-row splits) are computed here by the reference, which reads any row.
inline bool whole_x16_groups(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1,
                             size_t* g0, size_t* g1) {
    constexpr size_t G = kX16Rows;
    *g0 = (r0 + G - 1) / G;
    *g1 = r1 / G;
    if (*g0 >= *g1) {
        reference_kernels().matmul(w, a, y, r0, r1);
        return false;
    }
    if (r0 < *g0 * G)
        reference_kernels().matmul(w, a, y, r0, *g0 * G);
    if (*g1 * G < r1)
        reference_kernels().matmul(w, a, y, *g1 * G, r1);
    return true;
}

// Calls group(gp, yg) for each whole group of 16 rows inside [r0, r1), gp its first weight byte
// and yg = y + its first row.
template <class Group>
void for_whole_x16_groups(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1,
                          Group&& group) {
    size_t g0 = 0, g1 = 0;
    if (!whole_x16_groups(w, a, y, r0, r1, &g0, &g1))
        return;
    for (size_t g = g0; g < g1; ++g)
        group(w.data + g * kX16Rows * w.row_bytes, y + g * kX16Rows);
}

// The same groups as S streams, for decode: the range's whole groups cut into S equal parts,
// streams(g, yg) on group i of every part at once (g[s], yg[s]: part s), then group(gp, yg) on
// each of the fewer than S groups left over. A kernel that walks its S groups block by block reads
// S streams a part apart, and the hardware prefetchers keep more of several streams in flight
// than of one. Measured per token (avx512; docs/BENCHMARKS.md, sessions 12 and 13): against one
// stream, two gained 9% q4_0x16, 6% q8_0x16, 16-20% f16x16 in the host's fast phases (level in
// slow ones); against two, four gained 10-21% q4_0x16 and 4-7% q8_0x16, five or more lost 25-30%
// q4_0x16 (the f16x16 column layout walks four as well, session 14; with session 9's row-piece
// layout every three- or four-stream f16x16 kernel had lost 15-35%).
// Two adjacent groups instead of two parts lost 7%.
template <size_t S, class Streams, class Group>
void for_whole_x16_group_streams(const TensorView& w, const ActBatch& a, float* y, size_t r0,
                                 size_t r1, Streams&& streams, Group&& group) {
    static_assert(S >= 2);
    size_t g0 = 0, g1 = 0;
    if (!whole_x16_groups(w, a, y, r0, r1, &g0, &g1))
        return;
    const size_t part = (g1 - g0) / S, gb = kX16Rows * w.row_bytes;
    for (size_t g = g0; g < g0 + part; ++g) {
        const std::byte* gs[S];
        float* ys[S];
        for (size_t s = 0; s < S; ++s) {
            gs[s] = w.data + (g + s * part) * gb;
            ys[s] = y + (g + s * part) * kX16Rows;
        }
        streams(gs, ys);
    }
    for (size_t g = g0 + S * part; g < g1; ++g)
        group(w.data + g * gb, y + g * kX16Rows);
}

// for_whole_x16_group_streams with one kernel template for both: kernel(g, yg) takes arrays of
// N group pointers and outputs, called with N = S, and with N = 1 for the groups left over.
template <size_t S, class Kernel>
void for_x16_streams_of(const TensorView& w, const ActBatch& a, float* y, size_t r0, size_t r1,
                        Kernel&& kernel) {
    for_whole_x16_group_streams<S>(w, a, y, r0, r1, kernel, [&](const std::byte* gp, float* yg) {
        const std::byte* const g1[1] = {gp};
        float* const y1[1] = {yg};
        kernel(g1, y1);
    });
}

// Per token and block: the activation scale and -offset x (sum of the 32 values), so that
// weights made unsigned, u = w + offset, give sum(w x) = sum(u x) - offset sum(x) exactly.
struct ActX16 {
    float d;
    int32_t bias;
};

// The terms of a.T * n/32 activation blocks, in per-thread scratch (grown on first use, kept).
inline const ActX16* prepare_x16(const ActBatch& a, int32_t offset) {
    thread_local std::vector<ActX16> scratch;
    const size_t count = a.T * (a.n / kQBlock);
    if (scratch.size() < count)
        scratch.resize(count);
    for (size_t i = 0; i < count; ++i) {
        int32_t sum = 0;
        if (offset != 0) {  // no bias without an offset; a plain loop, so the compiler vectorizes
            for (size_t j = 0; j < kQBlock; ++j)
                sum += a.xq[i].qs[j];
        }
        scratch[i] = {f16_to_f32(a.xq[i].d), -offset * sum};
    }
    return scratch.data();
}

}  // namespace
}  // namespace mistral
