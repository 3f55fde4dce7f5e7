// Scalar f16/bf16 conversions against the compiler's own _Float16 arithmetic (an independent
// implementation) and known bit patterns; q8_0/q4_0 round-trip error bounds.
#include <bit>
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <mistral/dtype.h>

#include "test_util.h"

namespace mistral {
namespace {

// g++ 12 has no _Float16 in C++ on AArch64; there __fp16 (ACLE) is the same IEEE binary16.
#if defined(__aarch64__)
using CompilerHalf = __fp16;
#else
using CompilerHalf = _Float16;
#endif

TEST(DType, KnownF16BitPatterns) {
    EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);               // rounds up to Inf
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie to even -> 0
    EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp -> 2 (even)
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
    EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
    EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
}

TEST(DType, F16MatchesCompilerForAllHalfValuesAndRandomFloats) {
    // Every binary16 value decodes like the compiler's _Float16.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const auto hv = std::bit_cast<CompilerHalf>(static_cast<uint16_t>(h));
        const float want = static_cast<float>(hv);
        const float got = f16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(want)) {
            EXPECT_TRUE(std::isnan(got)) << h;
        } else {
            EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::hex << h;
        }
    }
    // Random float bit patterns (all exponents) encode like the compiler.
    test::Rng rng(5);
    for (int i = 0; i < 2000000; ++i) {
        const float f = std::bit_cast<float>(static_cast<uint32_t>(rng.next()));
        if (std::isnan(f))
            continue;
        const uint16_t want = std::bit_cast<uint16_t>(static_cast<CompilerHalf>(f));
        ASSERT_EQ(f32_to_f16(f), want) << f;
    }
}

TEST(DType, Bf16RoundToNearestEven) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
    EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DType, SizesAndNames) {
    EXPECT_EQ(bytes_for(DType::kQ4_0, 64), 36u);
    EXPECT_EQ(bytes_for(DType::kQ8_0, 96), 102u);
    EXPECT_EQ(bytes_for(DType::kBF16, 7), 14u);
    for (uint32_t i = 0; i < kNumDTypes; ++i) {
        if (dtype_valid(i)) {
            EXPECT_EQ(parse_dtype(dtype_name(static_cast<DType>(i))), static_cast<DType>(i));
        }
    }
    EXPECT_FALSE(dtype_valid(kRetiredF16x16Code));
    EXPECT_FALSE(parse_dtype("q4_K").has_value());
}

// |x - dequant(quant(x))| per block is bounded by half a quantization step (plus the f16
// rounding of the scale, relative 2^-11 of the block maximum).
TEST(Quant, Q8_0RoundTripBound) {
    test::Rng rng(9);
    for (size_t n : {size_t{32}, size_t{64}, size_t{160}, size_t{4096}}) {
        std::vector<float> x = rng.normals(n, 3.0f);
        x[0] = 0.0f;
        std::vector<BlockQ8_0> q(n / 32);
        std::vector<float> y(n);
        quantize_row_q8_0(x.data(), q.data(), n);
        dequantize_row_q8_0(q.data(), y.data(), n);
        for (size_t b = 0; b < n / 32; ++b) {
            float amax = 0.0f;
            for (size_t i = 0; i < 32; ++i)
                amax = std::max(amax, std::fabs(x[b * 32 + i]));
            const float bound = amax / 127.0f * 0.5f + amax * 1.0e-3f;
            for (size_t i = 0; i < 32; ++i)
                ASSERT_LE(std::fabs(x[b * 32 + i] - y[b * 32 + i]), bound);
        }
    }
    std::vector<float> zeros(32, 0.0f), out(32, 1.0f);
    BlockQ8_0 zb;
    quantize_row_q8_0(zeros.data(), &zb, 32);
    dequantize_row_q8_0(&zb, out.data(), 32);
    for (float v : out)
        EXPECT_EQ(v, 0.0f);
}

TEST(Quant, Q4_0RoundTripBound) {
    test::Rng rng(11);
    for (size_t n : {size_t{32}, size_t{96}, size_t{4096}}) {
        std::vector<float> x = rng.normals(n, 0.5f);
        std::vector<BlockQ4_0> q(n / 32);
        std::vector<float> y(n);
        quantize_row_q4_0(x.data(), q.data(), n);
        dequantize_row_q4_0(q.data(), y.data(), n);
        for (size_t b = 0; b < n / 32; ++b) {
            float amax = 0.0f;
            for (size_t i = 0; i < 32; ++i)
                amax = std::max(amax, std::fabs(x[b * 32 + i]));
            // step = amax / 8; the far side (+amax when the extreme is negative) may clip by one
            // step.
            const float bound = amax / 8.0f + amax * 2.0e-3f;
            for (size_t i = 0; i < 32; ++i)
                ASSERT_LE(std::fabs(x[b * 32 + i] - y[b * 32 + i]), bound);
        }
    }
    // Values exactly on the grid survive exactly: d = -1 -> v = (q - 8) * -1.
    std::vector<float> grid(32);
    for (size_t i = 0; i < 32; ++i)
        grid[i] = static_cast<float>(8 - static_cast<int>(i % 16));
    grid[0] = 8.0f;  // extreme +8 -> d = -1
    BlockQ4_0 b;
    std::vector<float> y(32);
    quantize_row_q4_0(grid.data(), &b, 32);
    dequantize_row_q4_0(&b, y.data(), 32);
    for (size_t i = 0; i < 32; ++i)
        EXPECT_EQ(y[i], grid[i]) << i;
}

}  // namespace
}  // namespace mistral
