// An allow-list unpickler for torch.save state dicts (the data.pkl of a .pth zip). It
// interprets only the opcodes such a dict uses and only the globals needed to describe
// tensors; it never imports or calls anything. Everything else is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <mistral/dtype.h>

namespace mistral::convert {

// A tensor as _rebuild_tensor_v2 describes it: a view of a storage (a zip entry
// "<archive>/data/<key>"). Offsets, sizes and strides are in elements, not validated here
// against the storage (the caller knows its byte size).
struct TorchTensorRef {
    std::string storage_key;
    DType type = DType::kF32;    // from FloatStorage / HalfStorage / BFloat16Storage
    uint64_t storage_numel = 0;  // numel recorded in the persistent id
    uint64_t offset = 0;         // storage_offset
    std::vector<uint64_t> shape;
    std::vector<uint64_t> stride;
};

// Interprets `pickle` and returns the top-level dict's (name, tensor) entries in order. Throws
// mistral::Error: kUnsupported "pickle opcode 0x.. is not allowed" / "pickle global 'm n' is not
// allowed", kTruncated, kBadValue (malformed stack, wrong argument types, non-string keys,
// non-tensor values).
std::vector<std::pair<std::string, TorchTensorRef>> parse_torch_pickle(
        std::span<const std::byte> pickle);

}  // namespace mistral::convert
