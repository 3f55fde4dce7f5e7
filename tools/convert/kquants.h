// Scalar dequantization of GGUF tensor data to f32: the K-quant super-block formats (q4_K,
// q5_K, q6_K; 256 values per block) and the simple types (f32, f16, bf16, q8_0, q4_0).
// Layouts follow the public GGUF/ggml definitions; blocks are read with memcpy, so the input
// needs no alignment.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mistral::convert {

inline constexpr size_t kQK_K = 256;  // values per K-quant super-block

// q4_K: 8 sub-blocks of 32 values, each with a 6-bit scale and a 6-bit min.
// value = d * scale_j * q - dmin * min_j, q in [0, 15].
struct BlockQ4K {
    uint16_t d;             // f16 super-block scale of the sub-block scales
    uint16_t dmin;          // f16 super-block scale of the sub-block mins
    uint8_t scales[12];     // 8 scales + 8 mins, 6 bits each (see kquants.cpp)
    uint8_t qs[kQK_K / 2];  // 4-bit quants: 4 chunks of 64 values, 32 bytes each
};
// q5_K: as q4_K plus one high bit per value; q in [0, 31].
struct BlockQ5K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[kQK_K / 8];  // bit 2c (2c+1) of qh[l]: high bit of value l (l+32) of chunk c
    uint8_t qs[kQK_K / 2];
};
// q6_K: 16 sub-blocks of 16 values with int8 scales; value = d * scale_j * (q - 32), q in [0, 63].
struct BlockQ6K {
    uint8_t ql[kQK_K / 2];  // low 4 bits
    uint8_t qh[kQK_K / 4];  // high 2 bits, four values per byte
    int8_t scales[kQK_K / 16];
    uint16_t d;  // f16 super-block scale
};
static_assert(sizeof(BlockQ4K) == 144 && sizeof(BlockQ5K) == 176 && sizeof(BlockQ6K) == 210,
              "K-quant block layouts are packed");

// Each converts n values (n % 256 == 0) from `src` (n / 256 blocks, any alignment) to y[n].
void dequantize_q4_K(const std::byte* src, float* y, size_t n) noexcept;
void dequantize_q5_K(const std::byte* src, float* y, size_t n) noexcept;
void dequantize_q6_K(const std::byte* src, float* y, size_t n) noexcept;

// Dequantizes n values of GGUF tensor type `ggml_type` (see gguf_reader.h) to y[n]. Supports
// f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K; returns false (writing nothing) for any other
// type. n must be a multiple of the type's block size.
bool dequantize_ggml(uint32_t ggml_type, const std::byte* src, float* y, size_t n) noexcept;

}  // namespace mistral::convert
