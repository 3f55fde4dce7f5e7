// The reference kernels against double-precision loops and hand-computed cases.
#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/kernels.h>

#include "test_util.h"

namespace mistral::test {
namespace {

const KernelTable& K = reference_kernels();

double D(float v) {
    return static_cast<double>(v);
}

// A [rows, cols] tensor of `type` holding `vals` (quantized/rounded), with its storage.
struct OwnedTensor {
    std::vector<std::byte> bytes;
    TensorView view;
};
OwnedTensor make_tensor(DType type, size_t rows, size_t cols, const std::vector<float>& vals) {
    OwnedTensor t;
    const size_t rb = bytes_for(type, cols);
    t.bytes.resize(rows * rb);
    for (size_t r = 0; r < rows; ++r)
        row_from_f32(type, vals.data() + r * cols, t.bytes.data() + r * rb, cols);
    t.view = TensorView{type, 2, rows, cols, rb, t.bytes.data()};
    return t;
}

TEST(ReferenceKernels, MatmulF32HandComputed) {
    // W = [[1, 2], [3, 4], [-1, 0.5]], x rows (1, 1) and (2, -1)
    const auto w = make_tensor(DType::kF32, 3, 2, {1, 2, 3, 4, -1, 0.5f});
    const float x[] = {1, 1, 2, -1};
    float y[6] = {0, 0, 0, 0, 0, 0};
    K.matmul(w.view, ActBatch{x, nullptr, 2, 2}, y, 0, 3);
    const float want[] = {3, 7, -0.5f, 0, 2, -2.5f};
    for (int i = 0; i < 6; ++i)
        EXPECT_FLOAT_EQ(y[i], want[i]) << i;
    // A row range writes only its columns.
    float z[6] = {9, 9, 9, 9, 9, 9};
    K.matmul(w.view, ActBatch{x, nullptr, 2, 2}, z, 1, 2);
    EXPECT_EQ(z[0], 9.0f);
    EXPECT_FLOAT_EQ(z[1], 7.0f);
    EXPECT_EQ(z[2], 9.0f);
    EXPECT_FLOAT_EQ(z[4], 2.0f);
}

// Every weight type against a double dot over the dequantized weights (float types) or over
// the dequantized weights times the q8_0-dequantized activations (block types: the kernel's
// contract is an exact integer dot per block, so this must agree to float rounding).
TEST(ReferenceKernels, MatmulEveryTypeAgainstDouble) {
    Rng rng(42);
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
        for (size_t n : {size_t{32}, size_t{96}, size_t{160}}) {
            const size_t rows = 7, T = 3;
            const auto wv = rng.normals(rows * n);
            const auto x = rng.normals(T * n, 3.0f);
            const auto w = make_tensor(type, rows, n, wv);
            std::vector<BlockQ8_0> xq(T * n / kQBlock);
            for (size_t t = 0; t < T; ++t)
                K.quantize_act(x.data() + t * n, xq.data() + t * n / kQBlock, n);
            std::vector<float> y(T * rows);
            K.matmul(w.view, ActBatch{x.data(), xq.data(), T, n}, y.data(), 0, rows);
            std::vector<float> wr(n), xr(n);
            for (size_t t = 0; t < T; ++t) {
                if (is_quantized(type))
                    dequantize_row_q8_0(xq.data() + t * n / kQBlock, xr.data(), n);
                else
                    std::copy(x.begin() + static_cast<long>(t * n),
                              x.begin() + static_cast<long>((t + 1) * n), xr.begin());
                for (size_t r = 0; r < rows; ++r) {
                    row_to_f32(type, w.view.row(r), wr.data(), n);
                    double d = 0, mag = 0;
                    for (size_t i = 0; i < n; ++i) {
                        d += D(wr[i]) * D(xr[i]);
                        mag += std::abs(D(wr[i]) * D(xr[i]));
                    }
                    EXPECT_NEAR(y[t * rows + r], d, 1e-6 * mag + 1e-6)
                            << dtype_name(type) << " n=" << n;
                }
            }
        }
    }
}

// q4_0x16 / q8_0x16 are q4_0 / q8_0 relaid: the bytes sit where docs/FORMAT.md says (checked here
// by the table's own formula, not by the block functions), q4_0x16_block / q8_0x16_block recover
// every block, and the reference gives bit-identical products and rows for both layouts.
template <class Block>
void check_relaid(DType plain_type, DType x16_type,
                  void (*interleave)(const void*, void*, size_t, size_t) noexcept,
                  Block (*block)(const void*, size_t, size_t, size_t) noexcept) {
    Rng rng(16);
    const size_t rows = 48, n = 160, nb = n / kQBlock, T = 3;
    const size_t group_block = 16 * sizeof(Block);
    const auto wv = rng.normals(rows * n);
    const auto plain = make_tensor(plain_type, rows, n, wv);
    std::vector<std::byte> inter(plain.bytes.size());
    interleave(plain.bytes.data(), inter.data(), rows, nb);
    const TensorView x16{x16_type, 2, rows, n, plain.view.row_bytes, inter.data()};
    const auto* pb = reinterpret_cast<const Block*>(plain.bytes.data());
    const auto* ib = reinterpret_cast<const uint8_t*>(inter.data());
    for (size_t r = 0; r < rows; ++r) {
        for (size_t k = 0; k < nb; ++k) {
            const Block& want = pb[r * nb + k];
            const size_t base = ((r / 16) * nb + k) * group_block;
            uint16_t d;
            std::memcpy(&d, ib + base + 2 * (r % 16), 2);
            EXPECT_EQ(d, want.d) << r << " " << k;
            for (size_t i = 0; i < sizeof want.qs; ++i) {
                uint8_t q;
                std::memcpy(&q, &want.qs[i], 1);
                EXPECT_EQ(ib[base + 32 + 64 * (i / 4) + 4 * (r % 16) + i % 4], q)
                        << r << " " << k << " " << i;
            }
            const Block got = block(inter.data(), nb, r, k);
            EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << r << " " << k;
        }
    }
    const auto x = rng.normals(T * n, 3.0f);
    std::vector<BlockQ8_0> xq(T * nb);
    for (size_t t = 0; t < T; ++t)
        K.quantize_act(x.data() + t * n, xq.data() + t * nb, n);
    const ActBatch a{x.data(), xq.data(), T, n};
    std::vector<float> y_plain(T * rows, -1.0f), y_x16(T * rows, -1.0f);
    K.matmul(plain.view, a, y_plain.data(), 0, rows);
    K.matmul(x16, a, y_x16.data(), 0, rows);
    EXPECT_EQ(std::memcmp(y_plain.data(), y_x16.data(), y_x16.size() * sizeof(float)), 0);
    std::vector<float> y_part(T * rows, -1.0f);
    K.matmul(x16, a, y_part.data(), 5, 37);  // cuts groups: only [5, 37) written
    for (size_t t = 0; t < T; ++t) {
        for (size_t r = 0; r < rows; ++r) {
            const float want = r >= 5 && r < 37 ? y_plain[t * rows + r] : -1.0f;
            EXPECT_EQ(y_part[t * rows + r], want) << t << " " << r;
        }
    }
    std::vector<float> row_plain(n), row_x16(n);
    for (size_t r : {size_t{0}, size_t{17}, size_t{47}}) {
        K.row_to_f32(plain.view, r, row_plain.data());
        K.row_to_f32(x16, r, row_x16.data());
        EXPECT_EQ(std::memcmp(row_plain.data(), row_x16.data(), n * sizeof(float)), 0) << r;
    }
}

TEST(ReferenceKernels, Q4_0x16IsQ4_0Relaid) {
    check_relaid<BlockQ4_0>(DType::kQ4_0, DType::kQ4_0x16, interleave_q4_0x16, q4_0x16_block);
}

TEST(ReferenceKernels, Q8_0x16IsQ8_0Relaid) {
    check_relaid<BlockQ8_0>(DType::kQ8_0, DType::kQ8_0x16, interleave_q8_0x16, q8_0x16_block);
}

// f16x16 is f16 relaid: each value sits where docs/FORMAT.md says (the formula, written out
// here: a group's columns in order, 16 rows' values each), f16x16_value finds it, and the
// reference gives bit-identical products and rows for both layouts.
TEST(ReferenceKernels, F16x16IsF16Relaid) {
    Rng rng(17);
    const size_t rows = 48, n = 192, T = 3;
    const auto wv = rng.normals(rows * n);
    const auto plain = make_tensor(DType::kF16, rows, n, wv);
    std::vector<std::byte> inter(plain.bytes.size());
    interleave_f16x16(plain.bytes.data(), inter.data(), rows, n);
    interleave_x16(DType::kF16x16, plain.bytes.data(), inter.data(), rows, n);  // the same
    const TensorView x16{DType::kF16x16, 2, rows, n, plain.view.row_bytes, inter.data()};
    EXPECT_EQ(x16.row_bytes, bytes_for(DType::kF16x16, n));
    const auto* pv = reinterpret_cast<const uint16_t*>(plain.bytes.data());
    const auto* ib = reinterpret_cast<const uint8_t*>(inter.data());
    for (size_t r = 0; r < rows; ++r) {
        for (size_t k = 0; k < n; ++k) {
            // group r / 16 (16 rows x n values), column k (32 bytes), row r % 16 (2 bytes)
            const size_t at = (r / 16) * 16 * n * 2 + k * 32 + (r % 16) * 2;
            uint16_t v;
            std::memcpy(&v, ib + at, 2);
            EXPECT_EQ(v, pv[r * n + k]) << r << " " << k;
            EXPECT_EQ(f16x16_value(inter.data(), n, r, k), pv[r * n + k]);
        }
    }
    const auto x = rng.normals(T * n, 3.0f);
    const ActBatch a{x.data(), nullptr, T, n};
    std::vector<float> y_plain(T * rows, -1.0f), y_x16(T * rows, -1.0f);
    K.matmul(plain.view, a, y_plain.data(), 0, rows);
    K.matmul(x16, a, y_x16.data(), 0, rows);
    EXPECT_EQ(std::memcmp(y_plain.data(), y_x16.data(), y_x16.size() * sizeof(float)), 0);
    std::vector<float> row_plain(n), row_x16(n);
    for (size_t r : {size_t{0}, size_t{17}, size_t{47}}) {
        K.row_to_f32(plain.view, r, row_plain.data());
        K.row_to_f32(x16, r, row_x16.data());
        EXPECT_EQ(std::memcmp(row_plain.data(), row_x16.data(), n * sizeof(float)), 0) << r;
    }
    EXPECT_EQ(plain_type(DType::kF16x16), DType::kF16);
    EXPECT_TRUE(is_interleaved(DType::kF16x16));
    EXPECT_FALSE(is_quantized(DType::kF16x16));
    EXPECT_EQ(block_size(DType::kF16x16), 64u);
    EXPECT_EQ(parse_dtype("f16x16"), DType::kF16x16);
}

TEST(ReferenceKernels, QuantizeActIsTheSpecQuantizer) {
    Rng rng(1);
    const auto x = rng.normals(64, 5.0f);
    BlockQ8_0 a[2], b[2];
    K.quantize_act(x.data(), a, 64);
    quantize_row_q8_0(x.data(), b, 64);
    EXPECT_EQ(0, std::memcmp(a, b, sizeof a));
}

TEST(ReferenceKernels, RmsnormAgainstDouble) {
    Rng rng(2);
    for (size_t n : {size_t{1}, size_t{17}, size_t{4096}}) {
        const auto x = rng.normals(n, 4.0f);
        const auto g = rng.normals(n);
        std::vector<float> y(n);
        K.rmsnorm(y.data(), x.data(), g.data(), n, 1e-5f);
        double ss = 0;
        for (float v : x)
            ss += D(v) * D(v);
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + 1e-5);
        for (size_t i = 0; i < n; ++i) {
            const double want = D(x[i]) * inv * D(g[i]);
            EXPECT_NEAR(y[i], want, 1e-5 * std::abs(want) + 1e-7);
        }
    }
    // hand case: x = (3, 4), gain 1, eps 0: rms = sqrt(12.5)
    const float x[] = {3, 4}, g[] = {1, 2};
    float y[2];
    K.rmsnorm(y, x, g, 2, 0.0f);
    EXPECT_NEAR(y[0], 3.0 / std::sqrt(12.5), 1e-6);
    EXPECT_NEAR(y[1], 8.0 / std::sqrt(12.5), 1e-6);
    // in place
    float z[] = {3, 4};
    K.rmsnorm(z, z, g, 2, 0.0f);
    EXPECT_EQ(z[0], y[0]);
}

TEST(ReferenceKernels, RopeRotatesInterleavedPairsOfEveryHead) {
    // two heads of head_dim 4: pairs (0,1), (2,3) rotated by 90 and 180 degrees
    float v[] = {1, 0, 1, 1, 0, 2, 3, -1};
    const float cs[] = {0, 1, -1, 0};  // (cos, sin) of pair 0 and pair 1
    K.rope(v, 2, 4, cs);
    const float want[] = {0, 1, -1, -1, -2, 0, -3, 1};
    for (int i = 0; i < 8; ++i)
        EXPECT_NEAR(v[i], want[i], 1e-7) << i;
}

TEST(ReferenceKernels, KvDotAndAxpyForEveryCacheType) {
    Rng rng(3);
    const size_t n = 33;
    const auto q = rng.normals(n), kv = rng.normals(n);
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
        std::vector<std::byte> row(bytes_for(t, n));
        row_from_f32(t, kv.data(), row.data(), n);
        std::vector<float> back(n);
        row_to_f32(t, row.data(), back.data(), n);
        double d = 0;
        for (size_t i = 0; i < n; ++i)
            d += D(q[i]) * D(back[i]);
        EXPECT_NEAR(K.dot_kv(q.data(), row.data(), t, n), d, 1e-5) << dtype_name(t);
        std::vector<float> out(q);
        K.axpy_kv(0.5f, row.data(), t, out.data(), n);
        for (size_t i = 0; i < n; ++i)
            EXPECT_NEAR(out[i], D(q[i]) + 0.5 * D(back[i]), 1e-6) << dtype_name(t);
    }
}

TEST(ReferenceKernels, SoftmaxAgainstDoubleAndLargeInputs) {
    std::vector<float> x = {1, 2, 3, -1000, 1000.5f, 1000};
    std::vector<float> a(x.begin(), x.begin() + 3);
    K.softmax(a.data(), 3);
    const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
    EXPECT_NEAR(a[0], std::exp(1.0) / z, 1e-7);
    EXPECT_NEAR(a[2], std::exp(3.0) / z, 1e-7);
    std::vector<float> b(x.begin() + 3, x.end());  // would overflow without the max shift
    K.softmax(b.data(), 3);
    EXPECT_EQ(b[0], 0.0f);
    EXPECT_NEAR(b[1], 1.0 / (1.0 + std::exp(-0.5)), 1e-6);
    float one = 5;
    K.softmax(&one, 1);
    EXPECT_EQ(one, 1.0f);
}

TEST(ReferenceKernels, SwigluAgainstDouble) {
    float g[] = {0, 1, -2, 30, -30};
    const float u[] = {2, 3, 4, 0.5f, 1};
    const float g0[] = {0, 1, -2, 30, -30};
    K.swiglu(g, u, 5);
    for (int i = 0; i < 5; ++i) {
        const double want = D(g0[i]) / (1.0 + std::exp(-D(g0[i]))) * D(u[i]);
        EXPECT_NEAR(g[i], want, 1e-6 * std::abs(want) + 1e-30) << i;
    }
}

TEST(ReferenceKernels, RowToF32ReadsTheRightRow) {
    const auto w = make_tensor(DType::kBF16, 3, 4, {1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4});
    float out[4];
    K.row_to_f32(w.view, 1, out);
    EXPECT_EQ(out[0], 5.0f);
    EXPECT_EQ(out[3], 8.0f);
}

TEST(Dispatch, ReferenceComesFirstAndIsSelectable) {
    ASSERT_FALSE(available_kernels().empty());
    EXPECT_EQ(available_kernels()[0], &reference_kernels());
    EXPECT_EQ(find_kernels("ref"), &reference_kernels());
    EXPECT_EQ(find_kernels("nope"), nullptr);
    for (const KernelTable* t : available_kernels()) {
        EXPECT_NE(t->matmul, nullptr);
        EXPECT_NE(t->quantize_act, nullptr);
        EXPECT_NE(t->rmsnorm, nullptr);
        EXPECT_NE(t->rope, nullptr);
        EXPECT_NE(t->dot_kv, nullptr);
        EXPECT_NE(t->axpy_kv, nullptr);
        EXPECT_NE(t->softmax, nullptr);
        EXPECT_NE(t->swiglu, nullptr);
        EXPECT_NE(t->row_to_f32, nullptr);
    }
}

}  // namespace
}  // namespace mistral::test
