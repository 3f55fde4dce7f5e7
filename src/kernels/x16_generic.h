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

// The same groups as two streams, for decode: pair(gp, yg, gq, yq) on group i of the first half
// of the range together with group i of the second half, then group(gp, yg) on the last one when
// their number is odd. A kernel that walks both groups block by block reads two streams half
// the range apart, and the hardware prefetchers seem to keep more of two streams in flight than
// of one: avx512 decode +9% q4_0x16, +6% q8_0x16, +16-20% f16x16 in the host's fast phases, level
// in slow ones (docs/BENCHMARKS.md, session 12; two adjacent groups instead lost 7%).
template <class Pair, class Group>
void for_whole_x16_group_pairs(const TensorView& w, const ActBatch& a, float* y, size_t r0,
                               size_t r1, Pair&& pair, Group&& group) {
    size_t g0 = 0, g1 = 0;
    if (!whole_x16_groups(w, a, y, r0, r1, &g0, &g1))
        return;
    const size_t half = (g1 - g0) / 2, gb = kX16Rows * w.row_bytes;
    for (size_t g = g0; g < g0 + half; ++g) {
        pair(w.data + g * gb, y + g * kX16Rows, w.data + (g + half) * gb,
             y + (g + half) * kX16Rows);
    }
    if ((g1 - g0) % 2 != 0)
        group(w.data + (g1 - 1) * gb, y + (g1 - 1) * kX16Rows);
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
