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
    // q4_0 blocks of 16 consecutive rows interleaved for SIMD matmul (see interleave_q4_0x16):
    // the same bytes per row as q4_0, but a row is not contiguous; rows % 16 == 0.
    kQ4_0x16 = 5,
    kQ8_0x16 = 6,  // the same for q8_0
    // Code 7 was f16x16 in 64-column row pieces (sessions 9-13); retired: dtype_valid(7) is
    // false and the loader asks for the model to be converted again.
    // f16, each group of 16 rows stored column by column (see below): rows % 16 == 0,
    // cols % 64 == 0.
    kF16x16 = 8,
};
inline constexpr uint32_t kNumDTypes = 9;
inline constexpr uint32_t kRetiredF16x16Code = 7;

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

// q4_0x16 layout. For each group of 16 rows and each block column k (in k order within the
// group; groups in row order), 288 bytes: the 16 rows' f16 scales, then for c = 0..3 the bytes
// qs[4c .. 4c+3] of rows 0, 1, ..., 15 (64 bytes per c). So byte 4r + j of the c-th 64-byte
// chunk holds values 4c + j (low nibble) and 4c + j + 16 (high nibble) of row r: one 32-bit
// lane per row, as SIMD dot products with the row in the lane want them.
// q8_0x16 is the same with q8_0 blocks: 544 bytes per group block, the 16 scales, then for
// c = 0..7 the bytes qs[4c .. 4c+3] (values 4c .. 4c+3) of rows 0..15.
inline constexpr size_t kX16Rows = 16;
inline constexpr size_t kQ4x16GroupBlockBytes = kX16Rows * sizeof(BlockQ4_0);  // 288
inline constexpr size_t kQ8x16GroupBlockBytes = kX16Rows * sizeof(BlockQ8_0);  // 544
// f16x16 layout. For each group of 16 rows (groups in row order), the group's columns in order,
// each as the 16 rows' f16 values (32 bytes: row 0 of the group first). So a group is read as
// one contiguous stream, and converting 32 bytes gives one column of 16 rows: the lanes of a
// SIMD register are rows, as in q4_0x16 / q8_0x16 (no per-row horizontal sums). Its "block"
// (block_size) is 64 columns of one row, so that cols % 64 == 0 (2 KiB of a group).
inline constexpr size_t kF16x16Cols = 64;
inline constexpr size_t kF16x16ChunkBytes = kX16Rows * kF16x16Cols * 2;  // 2048
inline constexpr size_t kF16x16ColumnBytes = kX16Rows * 2;               // 32
// q4_0x16 / q8_0x16 / f16x16: rows interleaved in groups of 16 (a row is not contiguous).
bool is_interleaved(DType t) noexcept;
// out = the q4_0x16 form of `rows` q4_0 rows of n_blocks blocks each (rows % 16 == 0).
void interleave_q4_0x16(const void* in, void* out, size_t rows, size_t n_blocks) noexcept;
// Block k of row r of a q4_0x16 matrix whose rows have n_blocks blocks, as a plain q4_0 block.
BlockQ4_0 q4_0x16_block(const void* data, size_t n_blocks, size_t r, size_t k) noexcept;
// The same for q8_0 / q8_0x16.
void interleave_q8_0x16(const void* in, void* out, size_t rows, size_t n_blocks) noexcept;
BlockQ8_0 q8_0x16_block(const void* data, size_t n_blocks, size_t r, size_t k) noexcept;
// out = the f16x16 form of `rows` f16 rows of `cols` values (rows % 16 == 0, cols % 64 == 0).
void interleave_f16x16(const void* in, void* out, size_t rows, size_t cols) noexcept;
// Value (r, k) of an f16x16 matrix of `cols` columns.
uint16_t f16x16_value(const void* data, size_t cols, size_t r, size_t k) noexcept;
// The plain type with the same values: q4_0x16 -> q4_0, q8_0x16 -> q8_0, f16x16 -> f16; any
// other type itself.
DType plain_type(DType t) noexcept;
// out = the form of interleaved type t of `rows` rows of `cols` plain_type(t) values (one of the
// interleave functions above, by type; cols a multiple of block_size(t)).
void interleave_x16(DType t, const void* in, void* out, size_t rows, size_t cols) noexcept;

std::string_view dtype_name(DType t) noexcept;            // "f32", "q4_0", ...
std::optional<DType> parse_dtype(std::string_view name);  // inverse of dtype_name
bool dtype_valid(uint32_t code) noexcept;                 // a known DType value
bool is_quantized(DType t) noexcept;   // q8_0 / q4_0 / q8_0x16 / q4_0x16 (not f16x16)
size_t block_size(DType t) noexcept;   // values per block (1 for plain floats, 64 for f16x16)
size_t block_bytes(DType t) noexcept;  // bytes per block
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

// Converts n values of any type to f32 / from f32 (quantizing when t is a block type). Not for
// the interleaved types, whose rows are not contiguous (row_to_f32 gives NaNs, row_from_f32
// writes nothing): use tensor_row_to_f32 (tensor.h), q4_0x16_block / q8_0x16_block or f16x16_value.
void row_to_f32(DType t, const void* src, float* dst, size_t n) noexcept;
void row_from_f32(DType t, const float* src, void* dst, size_t n) noexcept;

}  // namespace mistral
