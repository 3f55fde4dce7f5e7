// Element types of the weight file and the KV cache, their block layouts and scalar
// conversions. The numeric values of DType are part of the file format (docs/FORMAT.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mistral {

enum class DType : uint32_t {
    kF32 = 0,
    kF16 = 1,   // IEEE binary16
    kBF16 = 2,  // bfloat16 (upper half of a float32)
    kQ8_0 = 3,  // blocks of 32: f16 scale + 32 x int8
    kQ4_0 = 4,  // blocks of 32: f16 scale + 16 bytes of 4-bit values (offset 8)
};
inline constexpr uint32_t kNumDTypes = 5;

inline constexpr size_t kQBlock = 32;  // values per q8_0 / q4_0 block

// q8_0 block: value i = d * qs[i].
struct BlockQ8_0 {
    uint16_t d;  // f16 scale
    int8_t qs[kQBlock];
};
// q4_0 block: byte j holds value j in its low nibble and value j+16 in its high nibble;
// value = d * (nibble - 8).
struct BlockQ4_0 {
    uint16_t d;  // f16 scale
    uint8_t qs[kQBlock / 2];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "packed block layout");

std::string_view dtype_name(DType t) noexcept;            // "f32", "q4_0", ...
std::optional<DType> parse_dtype(std::string_view name);  // inverse of dtype_name
bool dtype_valid(uint32_t code) noexcept;                 // a known DType value
bool is_quantized(DType t) noexcept;                      // q8_0 / q4_0
size_t block_size(DType t) noexcept;                      // values per block (1 for floats)
size_t block_bytes(DType t) noexcept;                     // bytes per block
// Bytes for n values of type t; n must be a multiple of block_size(t) (checked by callers).
size_t bytes_for(DType t, size_t n) noexcept;

// Scalar conversions, round-to-nearest-even, NaN/Inf preserved.
float f16_to_f32(uint16_t h) noexcept;
uint16_t f32_to_f16(float f) noexcept;
float bf16_to_f32(uint16_t h) noexcept;
uint16_t f32_to_bf16(float f) noexcept;

// Reference quantizers (the spec; kernels must agree with these). n % 32 == 0.
void quantize_row_q8_0(const float* x, BlockQ8_0* out, size_t n) noexcept;
void quantize_row_q4_0(const float* x, BlockQ4_0* out, size_t n) noexcept;
void dequantize_row_q8_0(const BlockQ8_0* in, float* y, size_t n) noexcept;
void dequantize_row_q4_0(const BlockQ4_0* in, float* y, size_t n) noexcept;

// Converts n values of any type to f32 / from f32 (quantizing when t is a block type).
void row_to_f32(DType t, const void* src, float* dst, size_t n) noexcept;
void row_from_f32(DType t, const float* src, void* dst, size_t n) noexcept;

}  // namespace mistral
