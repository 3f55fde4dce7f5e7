// K-quant dequantization on hand-packed blocks. Each test packs known quants and scales
// into the documented bit layout (the inverse direction of the code under test) and checks
// the values d * scale * q - dmin * min exactly (all numbers are small dyadic rationals).
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/dtype.h>

#include "gguf_reader.h"
#include "kquants.h"

namespace mistral::convert {
namespace {

// Packs 8 six-bit scales and mins into the 12-byte q4_K/q5_K layout.
void pack_scales(const uint8_t sc[8], const uint8_t mn[8], uint8_t out[12]) {
    for (int j = 0; j < 4; ++j) {
        out[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        out[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

constexpr uint8_t kSc[8] = {1, 2, 3, 7, 40, 17, 63, 33};  // 40.. need the high bits
constexpr uint8_t kMn[8] = {0, 5, 9, 2, 50, 16, 31, 63};

// The quant of value v (0..255) in the hand-made blocks below.
int q4_of(size_t v) {
    return static_cast<int>((v * 7 + v / 32) % 16);
}
int q5_of(size_t v) {
    return static_cast<int>((v * 11 + 3) % 32);
}
int q6_of(size_t v) {
    return static_cast<int>((v * 5 + 1) % 64);
}

TEST(KQuants, Q4KHandPacked) {
    BlockQ4K blk[2];
    std::memset(blk, 0, sizeof(blk));
    blk[0].d = f32_to_f16(0.5f);
    blk[0].dmin = f32_to_f16(0.25f);
    blk[1].d = f32_to_f16(-2.0f);
    blk[1].dmin = f32_to_f16(1.0f);
    for (auto& b : blk) {
        pack_scales(kSc, kMn, b.scales);
        // value v: chunk c = v / 64; the first 32 values of a chunk are low nibbles of
        // qs[32c + l], the next 32 the high nibbles of the same bytes.
        for (size_t v = 0; v < 256; ++v) {
            const size_t c = v / 64, l = v % 32;
            const bool high = (v % 64) >= 32;
            b.qs[32 * c + l] |= static_cast<uint8_t>(q4_of(v) << (high ? 4 : 0));
        }
    }
    std::vector<float> y(512);
    dequantize_q4_K(reinterpret_cast<const std::byte*>(blk), y.data(), 512);
    for (size_t i = 0; i < 512; ++i) {
        const size_t v = i % 256, j = v / 32;
        const float d = i < 256 ? 0.5f : -2.0f, dmin = i < 256 ? 0.25f : 1.0f;
        const float want = d * static_cast<float>(kSc[j]) * static_cast<float>(q4_of(v)) -
                           dmin * static_cast<float>(kMn[j]);
        ASSERT_EQ(y[i], want) << "value " << i;
    }
}

TEST(KQuants, Q5KHandPacked) {
    BlockQ5K blk;
    std::memset(&blk, 0, sizeof(blk));
    blk.d = f32_to_f16(0.125f);
    blk.dmin = f32_to_f16(0.5f);
    pack_scales(kSc, kMn, blk.scales);
    // As q4_K for the low 4 bits; the fifth bit of value l (l+32) of chunk c is bit 2c
    // (2c+1) of qh[l].
    for (size_t v = 0; v < 256; ++v) {
        const size_t c = v / 64, l = v % 32;
        const bool high = (v % 64) >= 32;
        const int q = q5_of(v);
        blk.qs[32 * c + l] |= static_cast<uint8_t>((q & 15) << (high ? 4 : 0));
        if (q >= 16)
            blk.qh[l] |= static_cast<uint8_t>(1u << (2 * c + (high ? 1 : 0)));
    }
    std::vector<float> y(256);
    dequantize_q5_K(reinterpret_cast<const std::byte*>(&blk), y.data(), 256);
    for (size_t v = 0; v < 256; ++v) {
        const size_t j = v / 32;
        const float want = 0.125f * static_cast<float>(kSc[j]) * static_cast<float>(q5_of(v)) -
                           0.5f * static_cast<float>(kMn[j]);
        ASSERT_EQ(y[v], want) << "value " << v;
    }
}

TEST(KQuants, Q6KHandPacked) {
    BlockQ6K blk;
    std::memset(&blk, 0, sizeof(blk));
    blk.d = f32_to_f16(0.25f);
    for (int s = 0; s < 16; ++s)
        blk.scales[s] = static_cast<int8_t>((s % 2 ? -1 : 1) * (s * 8 + 1));
    // value v: half h = v / 128, quarter g = (v % 128) / 32, l = v % 32. Low 4 bits: low
    // nibble (g = 0, 1) or high nibble (g = 2, 3) of ql[64h + 32(g % 2) + l]; top 2 bits:
    // bits 2g, 2g+1 of qh[32h + l]; scale: scales[v / 16].
    for (size_t v = 0; v < 256; ++v) {
        const size_t h = v / 128, g = (v % 128) / 32, l = v % 32;
        const int q = q6_of(v);
        blk.ql[64 * h + 32 * (g % 2) + l] |= static_cast<uint8_t>((q & 15) << (g >= 2 ? 4 : 0));
        blk.qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * g));
    }
    std::vector<float> y(256);
    dequantize_q6_K(reinterpret_cast<const std::byte*>(&blk), y.data(), 256);
    for (size_t v = 0; v < 256; ++v) {
        const float want =
                0.25f * static_cast<float>(blk.scales[v / 16]) * static_cast<float>(q6_of(v) - 32);
        ASSERT_EQ(y[v], want) << "value " << v;
    }
}

TEST(KQuants, DispatchAndMisalignedInput) {
    // f16 values at an odd address, q8_0 and q4_0 through the generic entry point.
    std::vector<std::byte> buf(1 + 64);
    for (size_t i = 0; i < 32; ++i) {
        const uint16_t h = f32_to_f16(static_cast<float>(i) - 16.0f);
        std::memcpy(buf.data() + 1 + 2 * i, &h, 2);
    }
    std::vector<float> y(32);
    ASSERT_TRUE(dequantize_ggml(kGgmlF16, buf.data() + 1, y.data(), 32));
    for (size_t i = 0; i < 32; ++i)
        EXPECT_EQ(y[i], static_cast<float>(i) - 16.0f);

    BlockQ4_0 q4{};
    q4.d = f32_to_f16(2.0f);
    for (int j = 0; j < 16; ++j)
        q4.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    ASSERT_TRUE(dequantize_ggml(kGgmlQ4_0, reinterpret_cast<const std::byte*>(&q4), y.data(), 32));
    EXPECT_EQ(y[0], -16.0f);  // (0 - 8) * 2
    EXPECT_EQ(y[15], 14.0f);  // (15 - 8) * 2
    EXPECT_EQ(y[16], 14.0f);  // high nibble of byte 0 = 15
    EXPECT_EQ(y[31], -16.0f);

    EXPECT_FALSE(dequantize_ggml(10, buf.data(), y.data(), 256));  // q2_K: not supported
}

}  // namespace
}  // namespace mistral::convert
