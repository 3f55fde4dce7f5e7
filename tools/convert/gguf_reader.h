// GGUF (v2/v3) container parser: a pure function over a byte span. It reads the header, every
// metadata key/value (all GGUF value types, nested arrays included) and the tensor directory,
// and checks every count, length and offset against the span before using it, so a hostile
// file gives mistral::Error, never a crash or an allocation larger than the file implies.
// Interpreting the metadata (architecture, vocabulary) is source_gguf's job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mistral::convert {

// GGUF metadata value types (numbering from the GGUF specification).
enum class GgufType : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
};
std::string_view gguf_type_name(GgufType t) noexcept;  // "u32", "string", ... ("?" if unknown)

// One metadata value. Scalars use one of u/i/f/str; arrays keep their element type and count,
// with elements in `raw` (numeric/bool: packed little-endian, a view into the file),
// `strings` (string elements) or `items` (nested arrays).
struct GgufValue {
    GgufType type = GgufType::kU8;
    uint64_t u = 0;                  // kU8..kU64 and kBool
    int64_t i = 0;                   // kI8..kI64
    double f = 0.0;                  // kF32, kF64
    std::string str;                 // kString
    GgufType elem = GgufType::kU8;   // kArray: element type
    uint64_t count = 0;              // kArray: number of elements
    std::span<const std::byte> raw;  // kArray of numbers/bools
    std::vector<std::string> strings;
    std::vector<GgufValue> items;

    bool is_integer() const;  // any of u8..i64
    bool is_float() const;    // f32 or f64
};

struct GgufKeyValue {
    std::string key;
    GgufValue value;
};

// ggml tensor type codes used by llama.cpp (only the ones we name in code; the table in
// gguf_reader.cpp knows the block sizes of every type published so far).
inline constexpr uint32_t kGgmlF32 = 0;
inline constexpr uint32_t kGgmlF16 = 1;
inline constexpr uint32_t kGgmlQ4_0 = 2;
inline constexpr uint32_t kGgmlQ8_0 = 8;
inline constexpr uint32_t kGgmlQ4_K = 12;
inline constexpr uint32_t kGgmlQ5_K = 13;
inline constexpr uint32_t kGgmlQ6_K = 14;
inline constexpr uint32_t kGgmlBF16 = 30;

struct GgmlTypeInfo {
    std::string_view name;  // "q4_K"
    uint32_t block_size;    // values per block
    uint32_t block_bytes;   // bytes per block
};
// nullptr if `type` is not a known ggml type.
const GgmlTypeInfo* ggml_type_info(uint32_t type) noexcept;
// The type's name, or "type <n>" if unknown.
std::string ggml_type_name(uint32_t type);

struct GgufTensorInfo {
    std::string name;
    std::vector<uint64_t> dims;  // GGUF order: innermost (row length, ne0) first
    uint32_t type = 0;           // ggml type code (always known: checked by the parser)
    uint64_t offset = 0;         // relative to the data section
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    std::span<const std::byte> data;  // [n_bytes], inside the parsed span
};

struct GgufFile {
    uint32_t version = 0;
    uint64_t alignment = 32;   // general.alignment
    uint64_t data_offset = 0;  // start of the data section in the span
    std::vector<GgufKeyValue> metadata;
    std::vector<GgufTensorInfo> tensors;

    // nullptr if absent. O(number of keys).
    const GgufValue* find(std::string_view key) const;
    const GgufTensorInfo* find_tensor(std::string_view name) const;
    // Typed getters: nullopt if absent; Error(kBadValue) naming the key if it has another
    // type. get_int accepts every integer type (and refuses u64 values above INT64_MAX),
    // get_float f32/f64, get_bool bool.
    std::optional<std::string> get_string(std::string_view key) const;
    std::optional<int64_t> get_int(std::string_view key) const;
    std::optional<double> get_float(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
};

// Parses a GGUF v2 or v3 file. Throws Error: kBadMagic (not "GGUF"), kNewerVersion (version
// > 3), kUnsupported (version 1), kTruncated, kOutOfBounds (tensor data outside the file),
// kBadValue (bad counts, duplicate keys/names, misaligned offsets, bad dims),
// kUnsupportedType (unknown value or tensor type). Messages name the key or tensor.
GgufFile parse_gguf(std::span<const std::byte> data);

}  // namespace mistral::convert
