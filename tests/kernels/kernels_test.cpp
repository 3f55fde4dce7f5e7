// Every ISA kernel table (AVX2, NEON) against the scalar reference table, which is the spec
// (kernels.h states the contract and its tolerances). Random inputs of awkward sizes (not
// multiples of the vector width or the cache blocks), misaligned pointers (offset by one float),
// zeros, large values of both signs. Plus: the tables that should exist do, and
// MISTRAL_KERNELS=ref forces the reference.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/kernels.h>

#include "kernels/isa.h"
#include "test_util.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace mistral::test {
namespace {

const KernelTable& kRef = reference_kernels();

// Float-op sizes: around every vector width and block boundary the kernels use.
std::vector<size_t> awkward_sizes() {
    std::vector<size_t> s;
    for (size_t n = 1; n <= 17; ++n)
        s.push_back(n);
    for (size_t base : {32, 64, 128, 4096}) {
        for (size_t n = base - 1; n <= base + 1; ++n)
            s.push_back(n);
    }
    return s;
}
const size_t kTokens[] = {1, 2, 3, 5, 8, 13};
const size_t kBlocks[] = {1, 2, 3, 4, 5, 6, 127};  // quantized rows have n = 32 * k

// Mostly N(0, 1), with zeros, runs of zeros, large values (|x| up to ~1e3) and tiny ones mixed in.
std::vector<float> awkward_values(Rng& rng, size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) {
        const uint64_t kind = rng.next() % 10;
        if (kind == 0) {
            v[i] = 0.0f;
        } else if (kind == 1) {
            v[i] = rng.uniform(100.0f, 1000.0f) * (rng.next() % 2 ? 1.0f : -1.0f);
        } else if (kind == 2) {
            v[i] = rng.normal() * 1e-3f;
        } else {
            v[i] = rng.normal();
        }
    }
    if (n >= 40)
        std::fill(v.begin() + 5, v.begin() + 37, 0.0f);  // a whole zero q-block
    return v;
}

// Storage offset by one float from the allocation (which is at least 8-byte aligned), so no
// kernel can rely on 16/32-byte alignment.
template <typename T>
struct Misaligned {
    std::vector<float> storage;
    T* ptr = nullptr;
    explicit Misaligned(size_t bytes) : storage(bytes / sizeof(float) + 2, 0.0f) {
        ptr = reinterpret_cast<T*>(storage.data() + 1);
    }
};

// |got - ref| <= atol + rtol * scale[i] for every element (scale = sum |a_i b_i| for dot-like ops).
void expect_within(const float* got, const float* ref, const std::vector<double>& scale, size_t n,
                   double atol, double rtol, const std::string& what) {
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) {
        const double err = std::fabs(static_cast<double>(got[i]) - static_cast<double>(ref[i]));
        const bool same_inf = std::isinf(got[i]) && got[i] == ref[i];
        if (!(err <= atol + rtol * scale[i]) && !same_inf) {
            if (++bad <= 5) {
                ADD_FAILURE() << what << " [" << i << "]: got " << got[i] << " ref " << ref[i]
                              << " err " << err << " allowed " << atol + rtol * scale[i];
            }
        }
    }
    EXPECT_EQ(bad, 0u) << what;
}

std::string case_name(size_t n, size_t T = 0) {
    return "n=" + std::to_string(n) + (T ? " T=" + std::to_string(T) : "");
}

// ---- the table list -----------------------------------------------------------------------

// Test-name suffixes: "avx2", "avx2_q4_0", "neon_dotprod_f16" (gtest names take no '-').
std::string test_safe(std::string_view name) {
    std::string s(name);
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}
std::string table_name(const ::testing::TestParamInfo<const KernelTable*>& i) {
    return test_safe(i.param->name);
}
std::string table_dtype_name(
        const ::testing::TestParamInfo<std::tuple<const KernelTable*, DType>>& i) {
    return test_safe(std::get<0>(i.param)->name) + "_" +
           std::string(dtype_name(std::get<1>(i.param)));
}

std::vector<const KernelTable*> simd_tables() {
    std::vector<const KernelTable*> out;
    for (const KernelTable* t : available_kernels()) {
        if (t->name != "ref")
            out.push_back(t);
    }
    return out;
}

TEST(KernelDispatch, TablesThatShouldExistDo) {
    const auto tables = available_kernels();
    ASSERT_FALSE(tables.empty());
    EXPECT_EQ(tables.front(), &reference_kernels());
#if defined(__x86_64__)
    const bool cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                     __builtin_cpu_supports("f16c");
    EXPECT_EQ(find_kernels("avx2") != nullptr, isa_compiled_in("avx2") && cpu)
            << "compiled in: " << isa_compiled_in("avx2") << ", cpu: " << cpu;
    const bool cpu512 = cpu && __builtin_cpu_supports("avx512f") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512vnni") &&
                        __builtin_cpu_supports("avx512vbmi");
    EXPECT_EQ(find_kernels("avx512") != nullptr, isa_compiled_in("avx512") && cpu512)
            << "compiled in: " << isa_compiled_in("avx512") << ", cpu: " << cpu512;
#endif
#if defined(__aarch64__)
    EXPECT_EQ(find_kernels("neon") != nullptr, isa_compiled_in("neon"));
#if defined(__linux__)
    const bool dotprod = (::getauxval(AT_HWCAP) & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
    EXPECT_EQ(find_kernels("neon-dotprod") != nullptr, isa_compiled_in("neon-dotprod") && dotprod)
            << "compiled in: " << isa_compiled_in("neon-dotprod") << ", cpu: " << dotprod;
#endif
#endif
    // Without MISTRAL_KERNELS the most capable table is chosen.
    const char* old = std::getenv("MISTRAL_KERNELS");
    const std::string saved = old ? old : "";
    unsetenv("MISTRAL_KERNELS");
    EXPECT_EQ(&select_kernels(), tables.back());
    if (old)
        setenv("MISTRAL_KERNELS", saved.c_str(), 1);
}

TEST(KernelDispatch, EnvironmentForcesReferenceOrRejectsUnknown) {
    const char* old = std::getenv("MISTRAL_KERNELS");
    const std::string saved = old ? old : "";
    setenv("MISTRAL_KERNELS", "ref", 1);
    EXPECT_EQ(&select_kernels(), &reference_kernels());
    EXPECT_EQ(select_kernels().name, "ref");
    setenv("MISTRAL_KERNELS", "sse9", 1);
    try {
        (void)select_kernels();
        ADD_FAILURE() << "unknown table accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kInvalidArgument);
    }
    for (const KernelTable* t : available_kernels()) {
        setenv("MISTRAL_KERNELS", std::string(t->name).c_str(), 1);
        EXPECT_EQ(&select_kernels(), t);
    }
    if (old) {
        setenv("MISTRAL_KERNELS", saved.c_str(), 1);
    } else {
        unsetenv("MISTRAL_KERNELS");
    }
}

// ---- matmul ------------------------------------------------------------------------------

// A [rows, n] weight of `type`, misaligned; float types from awkward values, block types as
// raw random blocks (every int8 incl. -128, every nibble) with random f16 scales; q4_0x16,
// q8_0x16 and f16x16 as such rows interleaved (rows % 16 == 0).
struct Weight {
    Misaligned<std::byte> mem;
    TensorView view;
    Weight(DType type, size_t rows, size_t n, Rng& rng) : mem(rows * bytes_for(type, n)) {
        const size_t rb = bytes_for(type, n);
        view = TensorView{type, 2, rows, n, rb, mem.ptr};
        std::vector<std::byte> plain(is_interleaved(type) ? rows * rb : 0);
        for (size_t r = 0; r < rows; ++r) {
            std::byte* row = plain.empty() ? mem.ptr + r * rb : plain.data() + r * rb;
            if (is_quantized(type)) {
                for (size_t b = 0; b < n / kQBlock; ++b) {
                    std::byte* blk = row + b * block_bytes(type);
                    const uint16_t d = f32_to_f16(rng.uniform(-0.05f, 0.05f));
                    std::memcpy(blk, &d, 2);
                    for (size_t i = 2; i < block_bytes(type); ++i)
                        blk[i] = static_cast<std::byte>(rng.next());
                }
            } else {
                const auto vals = awkward_values(rng, n);
                row_from_f32(plain_type(type), vals.data(), row, n);
            }
        }
        if (!plain.empty())
            interleave_x16(type, plain.data(), mem.ptr, rows, n);
    }
};

// sum_i |w_i x_i| per output in double (the error scale of the contract), over the values the
// kernel actually multiplies (dequantized weights and, for block types, dequantized activations).
std::vector<double> dot_scales(const TensorView& w, const float* x, const BlockQ8_0* xq, size_t T) {
    const size_t n = w.cols;
    std::vector<float> wr(n), xr(n);
    std::vector<double> s(T * w.rows);
    for (size_t r = 0; r < w.rows; ++r) {
        kRef.row_to_f32(w, r, wr.data());
        for (size_t t = 0; t < T; ++t) {
            if (is_quantized(w.type)) {
                dequantize_row_q8_0(xq + t * (n / kQBlock), xr.data(), n);
            } else {
                std::memcpy(xr.data(), x + t * n, n * sizeof(float));
            }
            double acc = 0.0;
            for (size_t i = 0; i < n; ++i)
                acc += std::fabs(static_cast<double>(wr[i]) * static_cast<double>(xr[i]));
            s[t * w.rows + r] = acc;
        }
    }
    return s;
}

// One matmul case: rows [r0, r1) of a [rows, n] weight times T tokens, table vs reference.
void check_matmul(const KernelTable& k, DType type, size_t rows, size_t r0, size_t r1, size_t n,
                  size_t T, Rng& rng) {
    const Weight w(type, rows, n, rng);
    Misaligned<float> x(T * n * sizeof(float));
    const auto xv = awkward_values(rng, T * n);
    std::memcpy(x.ptr, xv.data(), T * n * sizeof(float));
    std::vector<BlockQ8_0> xq(is_quantized(type) ? T * n / kQBlock : 0);
    for (size_t t = 0; is_quantized(type) && t < T; ++t) {
        kRef.quantize_act(x.ptr + t * n, xq.data() + t * (n / kQBlock), n);
    }
    const ActBatch a{x.ptr, xq.empty() ? nullptr : xq.data(), T, n};
    constexpr float kSentinel = -12345.0f;  // columns outside [r0, r1) must stay untouched
    Misaligned<float> got(T * rows * sizeof(float));
    std::vector<float> want(T * rows, kSentinel);
    std::fill(got.ptr, got.ptr + T * rows, kSentinel);
    k.matmul(w.view, a, got.ptr, r0, r1);
    kRef.matmul(w.view, a, want.data(), r0, r1);
    const auto scale = dot_scales(w.view, x.ptr, xq.data(), T);
    expect_within(got.ptr, want.data(), scale, T * rows, 1e-6, 1e-5,
                  std::string(dtype_name(type)) + " rows=" + std::to_string(rows) + " [" +
                          std::to_string(r0) + "," + std::to_string(r1) + ") " + case_name(n, T));
}

class SimdMatmul : public ::testing::TestWithParam<std::tuple<const KernelTable*, DType>> {};

TEST_P(SimdMatmul, AwkwardShapesMatchReference) {
    const auto [k, type] = GetParam();
    Rng rng(1000 + static_cast<uint64_t>(type));
    if (type == DType::kF16x16) {
        // Whole groups at several 64-column block counts and every token tail; ranges that
        // cut groups; the avx512 prefill's cache blocks (120 tokens x 4096 columns; for T >= 192
        // outer products on 128-row blocks of 32-row slivers x 768 columns) crossed with tails.
        for (size_t n : {64, 128, 192, 640}) {
            for (size_t T : kTokens)
                check_matmul(*k, type, 32, 16, 32, n, T, rng);
        }
        for (size_t T : {size_t{1}, size_t{7}}) {
            check_matmul(*k, type, 48, 3, 45, 320, T, rng);
            check_matmul(*k, type, 32, 5, 12, 128, T, rng);
        }
        check_matmul(*k, type, 48, 0, 48, 4160, 1, rng);
        // Decode's streams (two here; kernels may use more): group i of each equal part of the
        // range together, the groups left over alone (7, 4 and 11 groups).
        check_matmul(*k, type, 112, 0, 112, 640, 1, rng);
        check_matmul(*k, type, 176, 0, 176, 192, 1, rng);
        check_matmul(*k, type, 112, 19, 109, 320, 1, rng);
        check_matmul(*k, type, 80, 16, 80, 128, 1, rng);
        check_matmul(*k, type, 32, 0, 32, 4160, 125, rng);
        check_matmul(*k, type, 176, 5, 171, 832, 200, rng);
    } else if (is_interleaved(type)) {
        // Whole 16-row groups at every block count and token tail, many groups with long token
        // runs, and ranges that cut groups (those rows go through the reference, the rest not).
        for (size_t kb : kBlocks) {
            for (size_t T : kTokens)
                check_matmul(*k, type, 32, 16, 32, kb * kQBlock, T, rng);
        }
        check_matmul(*k, type, 112, 16, 96, 127 * kQBlock, 70, rng);
        check_matmul(*k, type, 48, 0, 48, 130 * kQBlock, 62, rng);
        // Decode walks the whole groups of its range as S streams (group i of each of S equal
        // parts together, the fewer than S left over alone): 7, 4, 11 and 9 groups.
        check_matmul(*k, type, 112, 0, 112, 127 * kQBlock, 1, rng);
        check_matmul(*k, type, 176, 0, 176, 5 * kQBlock, 1, rng);
        check_matmul(*k, type, 160, 16, 160, 9 * kQBlock, 1, rng);
        check_matmul(*k, type, 112, 19, 109, 40 * kQBlock, 1, rng);
        check_matmul(*k, type, 80, 16, 80, 3 * kQBlock, 1, rng);
        for (size_t T : {size_t{1}, size_t{7}}) {
            check_matmul(*k, type, 48, 3, 45, 40 * kQBlock, T, rng);
            check_matmul(*k, type, 32, 5, 12, 3 * kQBlock, T, rng);
        }
    } else if (is_quantized(type)) {
        for (size_t kb : kBlocks) {
            for (size_t T : kTokens)
                check_matmul(*k, type, 9, 2, 9, kb * kQBlock, T, rng);
        }
        // Crosses every cache block of the prefill paths: avx2 64 tokens, 48 rows, 32 q-blocks;
        // avx512 60 tokens, 16 rows, 128 q-blocks.
        check_matmul(*k, type, 103, 3, 102, 127 * kQBlock, 70, rng);
        check_matmul(*k, type, 21, 1, 19, 130 * kQBlock, 62, rng);
        check_matmul(*k, type, 5, 1, 4, 40 * kQBlock, 1, rng);
    } else {
        for (size_t n : awkward_sizes()) {
            for (size_t T : kTokens) {
                if (n > 1000 && T > 5)
                    continue;  // the large sizes: a few token counts suffice
                check_matmul(*k, type, 7, 1, 6, n, T, rng);
            }
        }
        check_matmul(*k, type, 103, 3, 102, 1100, 70, rng);  // every cache block, with a tail
        check_matmul(*k, type, 11, 1, 10, 4100, 125, rng);   // avx512 f16: 120 tokens x 4096
        // avx512 f16 outer products (T >= 192): two 128-row blocks ending in a part sliver, a
        // 768-column block and a tail that is not a multiple of 16, 16 token panels and a part one.
        check_matmul(*k, type, 150, 5, 141, 1000, 200, rng);
        check_matmul(*k, type, 9, 0, 9, 4097, 1, rng);
    }
}

// Decode's threads split a matrix at multiples of 16 rows wherever their measured speeds put the
// cut (ThreadPool::parallel_for_balanced), so a row's product must not depend on the range it is
// computed in: the same bits for any 16-row-aligned split, or the logits would vary run to run.
TEST_P(SimdMatmul, DecodeRowsDoNotDependOnTheSplit) {
    const auto [k, type] = GetParam();
    Rng rng(2000 + static_cast<uint64_t>(type));
    const size_t rows = 80, n = 640;  // 5 groups; n a multiple of every block and chunk
    const Weight w(type, rows, n, rng);
    const auto xv = awkward_values(rng, n);
    std::vector<BlockQ8_0> xq(n / kQBlock);
    kRef.quantize_act(xv.data(), xq.data(), n);
    const ActBatch a{xv.data(), is_quantized(type) ? xq.data() : nullptr, 1, n};
    std::vector<float> whole(rows), split(rows);
    k->matmul(w.view, a, whole.data(), 0, rows);
    for (const auto& cuts :
         std::vector<std::vector<size_t>>{{0, 16, 80}, {0, 48, 64, 80}, {0, 16, 32, 48, 64, 80}}) {
        std::fill(split.begin(), split.end(), 0.0f);
        for (size_t i = 0; i + 1 < cuts.size(); ++i)
            k->matmul(w.view, a, split.data(), cuts[i], cuts[i + 1]);
        EXPECT_EQ(0, std::memcmp(whole.data(), split.data(), rows * sizeof(float)))
                << dtype_name(type) << " cut after row " << cuts[1];
    }
}

std::vector<std::tuple<const KernelTable*, DType>> matmul_params() {
    std::vector<std::tuple<const KernelTable*, DType>> out;
    for (const KernelTable* t : simd_tables()) {
        for (uint32_t d = 0; d < kNumDTypes; ++d) {
            if (dtype_valid(d))
                out.emplace_back(t, static_cast<DType>(d));
        }
    }
    return out;
}
INSTANTIATE_TEST_SUITE_P(Tables, SimdMatmul, ::testing::ValuesIn(matmul_params()),
                         table_dtype_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SimdMatmul);

// ---- dot_kv / axpy_kv ------------------------------------------------------------------------

class SimdKv : public ::testing::TestWithParam<std::tuple<const KernelTable*, DType>> {};

TEST_P(SimdKv, DotAndAxpyMatchReference) {
    const auto [k, kv] = GetParam();
    Rng rng(77 + static_cast<uint64_t>(kv));
    for (size_t n : awkward_sizes()) {
        Misaligned<float> q(n * sizeof(float));
        Misaligned<std::byte> row(bytes_for(kv, n));
        const auto qv = awkward_values(rng, n), rv = awkward_values(rng, n);
        std::memcpy(q.ptr, qv.data(), n * sizeof(float));
        row_from_f32(kv, rv.data(), row.ptr, n);
        std::vector<float> rf(n);
        row_to_f32(kv, row.ptr, rf.data(), n);
        double scale = 0.0;
        for (size_t i = 0; i < n; ++i)
            scale += std::fabs(static_cast<double>(qv[i]) * static_cast<double>(rf[i]));
        const float got = k->dot_kv(q.ptr, row.ptr, kv, n);
        const float want = kRef.dot_kv(q.ptr, row.ptr, kv, n);
        expect_within(&got, &want, {scale}, 1, 1e-6, 1e-5, "dot_kv " + case_name(n));

        // out += a * v: per element the scale is |out| + |a v| (one rounding either way).
        const float a = rng.normal();
        Misaligned<float> out(n * sizeof(float));
        const auto ov = awkward_values(rng, n);
        std::memcpy(out.ptr, ov.data(), n * sizeof(float));
        std::vector<float> want_out(ov);
        k->axpy_kv(a, row.ptr, kv, out.ptr, n);
        kRef.axpy_kv(a, row.ptr, kv, want_out.data(), n);
        std::vector<double> s(n);
        for (size_t i = 0; i < n; ++i)
            s[i] = std::fabs(static_cast<double>(ov[i])) +
                   std::fabs(static_cast<double>(a) * static_cast<double>(rf[i]));
        expect_within(out.ptr, want_out.data(), s, n, 1e-6, 1e-5, "axpy_kv " + case_name(n));
    }
}

// Grouped rows: group sizes around the 4-head register block, head_dim at and off the 8 and
// 16 vector steps, row counts around the 2-row step and across the 32-row value blocks, padded
// row stride and score stride.
TEST_P(SimdKv, RowsMatchReference) {
    const auto [k, kv] = GetParam();
    Rng rng(91 + static_cast<uint64_t>(kv));
    for (size_t group : {1, 3, 4, 5, 8}) {
        for (size_t hd : {6, 8, 16, 24, 40, 128}) {
            for (size_t n : {1, 2, 3, 17, 33, 71}) {
                const std::string what = "group=" + std::to_string(group) +
                                         " hd=" + std::to_string(hd) + " " + case_name(n);
                const size_t stride = bytes_for(kv, hd + 3);  // rows of a wider cache line
                const size_t ld = n + 5;
                Misaligned<float> q(group * hd * sizeof(float));
                Misaligned<std::byte> rows(stride * n);
                const auto qv = awkward_values(rng, group * hd);
                std::memcpy(q.ptr, qv.data(), qv.size() * sizeof(float));
                std::vector<std::vector<float>> rf(n, std::vector<float>(hd));
                for (size_t j = 0; j < n; ++j) {
                    const auto rv = awkward_values(rng, hd);
                    row_from_f32(kv, rv.data(), rows.ptr + j * stride, hd);
                    row_to_f32(kv, rows.ptr + j * stride, rf[j].data(), hd);
                }
                const float scale = 0.125f;
                std::vector<float> got(group * ld, -7.0f), want(group * ld, -7.0f);
                k->dot_kv_rows(q.ptr, group, hd, rows.ptr, stride, kv, n, scale, got.data(), ld);
                kRef.dot_kv_rows(q.ptr, group, hd, rows.ptr, stride, kv, n, scale, want.data(), ld);
                std::vector<double> sc(group * ld, 0.0);
                for (size_t h = 0; h < group; ++h) {
                    for (size_t j = 0; j < n; ++j) {
                        for (size_t i = 0; i < hd; ++i) {
                            sc[h * ld + j] += std::fabs(static_cast<double>(qv[h * hd + i]) *
                                                        static_cast<double>(rf[j][i]) *
                                                        static_cast<double>(scale));
                        }
                    }
                }
                expect_within(got.data(), want.data(), sc, got.size(), 1e-6, 1e-5,
                              "dot_kv_rows " + what);  // padding (-7) must be untouched too

                // out[h] += sum_j p[h][j] v_j on top of existing values
                std::vector<float> p(group * ld);
                for (auto& x : p)
                    x = rng.uniform(0.0f, 1.0f);
                Misaligned<float> out(group * hd * sizeof(float));
                const auto ov = awkward_values(rng, group * hd);
                std::memcpy(out.ptr, ov.data(), ov.size() * sizeof(float));
                std::vector<float> want_out(ov);
                k->axpy_kv_rows(p.data(), ld, group, hd, rows.ptr, stride, kv, n, out.ptr);
                kRef.axpy_kv_rows(p.data(), ld, group, hd, rows.ptr, stride, kv, n,
                                  want_out.data());
                std::vector<double> so(group * hd);
                for (size_t h = 0; h < group; ++h) {
                    for (size_t i = 0; i < hd; ++i) {
                        double acc = std::fabs(static_cast<double>(ov[h * hd + i]));
                        for (size_t j = 0; j < n; ++j)
                            acc += std::fabs(static_cast<double>(p[h * ld + j]) *
                                             static_cast<double>(rf[j][i]));
                        so[h * hd + i] = acc;
                    }
                }
                expect_within(out.ptr, want_out.data(), so, so.size(), 1e-6, 1e-5,
                              "axpy_kv_rows " + what);
            }
        }
    }
}

// The reference row kernels are the per-row ones composed, bit for bit (the spec).
TEST(ReferenceKv, RowsAreTheSingleRowKernelsComposed) {
    Rng rng(5);
    const size_t group = 3, hd = 10, n = 4, ld = 6;
    const auto qv = awkward_values(rng, group * hd), rv = awkward_values(rng, n * hd);
    std::vector<float> s(group * ld, 0.0f), out(group * hd, 0.5f), out2(out);
    kRef.dot_kv_rows(qv.data(), group, hd, reinterpret_cast<const std::byte*>(rv.data()),
                     hd * sizeof(float), DType::kF32, n, 0.25f, s.data(), ld);
    for (size_t h = 0; h < group; ++h) {
        for (size_t j = 0; j < n; ++j) {
            EXPECT_EQ(s[h * ld + j],
                      kRef.dot_kv(qv.data() + h * hd, rv.data() + j * hd, DType::kF32, hd) * 0.25f);
        }
    }
    kRef.axpy_kv_rows(s.data(), ld, group, hd, reinterpret_cast<const std::byte*>(rv.data()),
                      hd * sizeof(float), DType::kF32, n, out.data());
    for (size_t j = 0; j < n; ++j) {
        for (size_t h = 0; h < group; ++h)
            kRef.axpy_kv(s[h * ld + j], rv.data() + j * hd, DType::kF32, out2.data() + h * hd, hd);
    }
    EXPECT_EQ(out, out2);
}

std::vector<std::tuple<const KernelTable*, DType>> kv_params() {
    std::vector<std::tuple<const KernelTable*, DType>> out;
    for (const KernelTable* t : simd_tables()) {
        for (DType d : {DType::kF32, DType::kF16, DType::kBF16})
            out.emplace_back(t, d);
    }
    return out;
}
INSTANTIATE_TEST_SUITE_P(Tables, SimdKv, ::testing::ValuesIn(kv_params()), table_dtype_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SimdKv);

// ---- the other ops ---------------------------------------------------------------------------

class SimdOps : public ::testing::TestWithParam<const KernelTable*> {};

TEST_P(SimdOps, QuantizeActIsBitExact) {
    const KernelTable& k = *GetParam();
    Rng rng(5);
    for (size_t kb : kBlocks) {
        const size_t n = kb * kQBlock;
        auto v = awkward_values(rng, n);
        // Block 0: amax 127 gives d = 1, so x * id hits exact .5 ties (round half to even).
        const float ties[] = {127.0f, 0.5f,  1.5f,   2.5f,    -0.5f,
                              -1.5f,  -2.5f, 126.5f, -126.5f, 3.49999f};
        std::copy(std::begin(ties), std::end(ties), v.begin());
        for (size_t i = 10; i < kQBlock; ++i)
            v[i] = rng.uniform(-127.0f, 127.0f);
        if (kb >= 3) {
            for (size_t i = 0; i < kQBlock; ++i)
                v[kQBlock + i] = rng.normal() * 1e-30f;  // tiny d
            for (size_t i = 0; i < kQBlock; ++i)
                v[2 * kQBlock + i] = rng.normal() * 3e4f;  // huge d
        }
        Misaligned<float> x(n * sizeof(float));
        std::memcpy(x.ptr, v.data(), n * sizeof(float));
        std::vector<BlockQ8_0> got(kb), want(kb);
        k.quantize_act(x.ptr, got.data(), n);
        quantize_row_q8_0(x.ptr, want.data(), n);
        for (size_t b = 0; b < kb; ++b) {
            EXPECT_EQ(got[b].d, want[b].d) << "block " << b << " " << case_name(n);
            EXPECT_EQ(std::memcmp(got[b].qs, want[b].qs, kQBlock), 0)
                    << "block " << b << " " << case_name(n);
        }
    }
}

TEST_P(SimdOps, RmsnormMatchesReference) {
    const KernelTable& k = *GetParam();
    Rng rng(6);
    for (size_t n : awkward_sizes()) {
        const auto xv = awkward_values(rng, n), gv = awkward_values(rng, n);
        Misaligned<float> x(n * sizeof(float)), g(n * sizeof(float)), out(n * sizeof(float));
        std::memcpy(x.ptr, xv.data(), n * sizeof(float));
        std::memcpy(g.ptr, gv.data(), n * sizeof(float));
        std::vector<float> want(n);
        kRef.rmsnorm(want.data(), x.ptr, g.ptr, n, 1e-5f);
        k.rmsnorm(out.ptr, x.ptr, g.ptr, n, 1e-5f);
        std::vector<double> s(want.begin(), want.end());
        for (auto& e : s)
            e = std::fabs(e);
        expect_within(out.ptr, want.data(), s, n, 0.0, 1e-5, "rmsnorm " + case_name(n));
        k.rmsnorm(x.ptr, x.ptr, g.ptr, n, 1e-5f);  // in place (out aliases x)
        expect_within(x.ptr, want.data(), s, n, 0.0, 1e-5, "rmsnorm in place " + case_name(n));
    }
}

TEST_P(SimdOps, SoftmaxMatchesReference) {
    const KernelTable& k = *GetParam();
    Rng rng(7);
    for (size_t n : awkward_sizes()) {
        for (float spread : {1.0f, 30.0f}) {  // 30: most exp() underflow, some to subnormals
            auto v = awkward_values(rng, n);
            for (auto& e : v)
                e = std::fmax(std::fmin(e, 1000.0f), -1000.0f) * spread * 0.1f;
            Misaligned<float> x(n * sizeof(float));
            std::memcpy(x.ptr, v.data(), n * sizeof(float));
            std::vector<float> want(v);
            kRef.softmax(want.data(), n);
            k.softmax(x.ptr, n);
            std::vector<double> s(want.begin(), want.end());
            // relative 1e-5; below 1e-30 a probability is zero for every purpose (subnormals)
            expect_within(x.ptr, want.data(), s, n, 1e-30, 1e-5, "softmax " + case_name(n));
        }
    }
}

TEST_P(SimdOps, SwigluMatchesReference) {
    const KernelTable& k = *GetParam();
    Rng rng(8);
    for (size_t n : awkward_sizes()) {
        const auto gv = awkward_values(rng, n), uv = awkward_values(rng, n);  // |g| up to 1e3
        Misaligned<float> g(n * sizeof(float)), u(n * sizeof(float));
        std::memcpy(g.ptr, gv.data(), n * sizeof(float));
        std::memcpy(u.ptr, uv.data(), n * sizeof(float));
        std::vector<float> want(gv);
        kRef.swiglu(want.data(), u.ptr, n);
        k.swiglu(g.ptr, u.ptr, n);
        std::vector<double> s(want.begin(), want.end());
        for (auto& e : s)
            e = std::fabs(e);
        expect_within(g.ptr, want.data(), s, n, 1e-30, 1e-5, "swiglu " + case_name(n));
    }
}

TEST_P(SimdOps, RopeMatchesReference) {
    const KernelTable& k = *GetParam();
    Rng rng(9);
    for (size_t n_heads : {1, 3, 8}) {
        for (size_t head_dim : {2, 6, 8, 14, 16, 18, 64, 128}) {
            const size_t n = n_heads * head_dim;
            std::vector<float> cs(head_dim);
            for (size_t i = 0; i < head_dim / 2; ++i) {
                const float ang = rng.uniform(-100.0f, 100.0f);
                cs[2 * i] = std::cos(ang);
                cs[2 * i + 1] = std::sin(ang);
            }
            const auto v = awkward_values(rng, n);
            Misaligned<float> x(n * sizeof(float));
            std::memcpy(x.ptr, v.data(), n * sizeof(float));
            std::vector<float> want(v);
            kRef.rope(want.data(), n_heads, head_dim, cs.data());
            k.rope(x.ptr, n_heads, head_dim, cs.data());
            std::vector<double> s(n);  // per pair: |a| + |b|
            for (size_t i = 0; i < n; i += 2)
                s[i] = s[i + 1] = std::fabs(v[i]) + std::fabs(v[i + 1]);
            expect_within(x.ptr, want.data(), s, n, 0.0, 1e-6,
                          "rope heads=" + std::to_string(n_heads) +
                                  " head_dim=" + std::to_string(head_dim));
        }
    }
}

TEST_P(SimdOps, RowToF32IsBitExact) {
    const KernelTable& k = *GetParam();
    Rng rng(10);
    for (uint32_t d = 0; d < kNumDTypes; ++d) {
        if (!dtype_valid(d))
            continue;
        const DType type = static_cast<DType>(d);
        std::vector<size_t> sizes;
        if (type == DType::kF16x16) {
            sizes = {64, 192, 4160};  // whole 64-column blocks
        } else if (is_quantized(type)) {
            for (size_t kb : kBlocks)
                sizes.push_back(kb * kQBlock);
        } else {
            sizes = awkward_sizes();
        }
        for (size_t n : sizes) {
            Weight w(type, is_interleaved(type) ? 32 : 3, n, rng);
            if (type == DType::kF16) {  // every finite f16 bit pattern class: random non-NaN bits
                auto* h = reinterpret_cast<uint16_t*>(w.mem.ptr);
                for (size_t i = 0; i < 3 * n; ++i) {
                    uint16_t bits = static_cast<uint16_t>(rng.next());
                    if ((bits & 0x7c00u) == 0x7c00u)
                        bits &= 0x83ffu;  // NaN/Inf -> subnormal
                    h[i] = bits;
                }
            }
            Misaligned<float> got(n * sizeof(float));
            std::vector<float> want(n);
            const size_t row = is_interleaved(type) ? 21 : 2;
            k.row_to_f32(w.view, row, got.ptr);
            kRef.row_to_f32(w.view, row, want.data());
            EXPECT_EQ(std::memcmp(got.ptr, want.data(), n * sizeof(float)), 0)
                    << dtype_name(type) << " " << case_name(n);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Tables, SimdOps, ::testing::ValuesIn(simd_tables()), table_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SimdOps);

}  // namespace
}  // namespace mistral::test
