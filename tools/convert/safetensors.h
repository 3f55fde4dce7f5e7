// The safetensors container (Hugging Face): u64 little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then
// the data section; offsets are relative to the start of the data section.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace mistral::convert {

struct SafetensorsEntry {
    std::string name;
    std::string dtype;                // as written: "F32", "BF16", "F16", "I64", ...
    std::vector<uint64_t> shape;      // empty for a scalar
    uint64_t begin = 0, end = 0;      // byte range inside the data section
    std::span<const std::byte> data;  // the tensor's bytes (points into the parsed span)
};

struct SafetensorsFile {
    std::vector<SafetensorsEntry> tensors;        // in header order
    std::map<std::string, std::string> metadata;  // "__metadata__"
    size_t data_start = 0;                        // 8 + header length

    // Returns nullptr if absent. O(n).
    const SafetensorsEntry* find(const std::string& name) const;
};

// Largest header we accept (the format's own readers cap it at 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;

// Bytes per element of a safetensors dtype name; 0 if the name is unknown.
size_t safetensors_dtype_size(const std::string& dtype);

// Parses and validates a whole file image: header length, JSON, every entry's dtype, shape and
// offsets (begin <= end <= data size, end - begin == numel * element size, no overflow).
// Pure (no I/O). Throws mistral::Error: kTruncated, kOutOfBounds, kBadValue, kUnsupportedType
// (unknown dtype, naming the tensor). Never reads outside `file`.
SafetensorsFile parse_safetensors(std::span<const std::byte> file);

}  // namespace mistral::convert
