// The mistral.cpp weight file (".mst", spec in docs/FORMAT.md): parsing over a byte span
// (no I/O, every offset and size checked) and a read-only memory map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <mistral/config.h>
#include <mistral/tensor.h>

namespace mistral {

inline constexpr char kFileMagic[8] = {'M', 'S', 'T', 'R', 'L', 'C', 'P', 'P'};
inline constexpr uint32_t kFileVersion = 1;    // the newest version this build reads/writes
inline constexpr size_t kHeaderBytes = 64;     // fixed header, metadata follows
inline constexpr size_t kDataAlign = 4096;     // data section and each tensor: page aligned
inline constexpr size_t kMinTensorAlign = 64;  // what the reader requires of each tensor
// Metadata section tags (little-endian u32 of the four ASCII bytes).
inline constexpr uint32_t kTagHparams = 0x52415048;    // "HPAR"
inline constexpr uint32_t kTagTokenizer = 0x4e4b4f54;  // "TOKN"
inline constexpr uint32_t kTagTensors = 0x52494454;    // "TDIR"
inline constexpr uint32_t kSectionRequired = 1;        // flag: a reader must understand it

struct TensorInfo {
    std::string name;
    TensorView view;      // points into the parsed span
    uint64_t offset = 0;  // from the start of the file
};

// Hyperparameter values as stored (key -> integer or real), for `info` and forward compat.
using HparamValue = std::variant<int64_t, double>;

struct ModelFile {
    uint32_t version = 0;
    ModelConfig config;
    std::map<std::string, HparamValue> hparams;  // everything in HPAR, known keys included
    std::span<const std::byte> tokenizer_blob;   // TOKN payload (see tokenizer.h)
    std::vector<TensorInfo> tensors;             // in file order

    // Returns nullptr if absent. O(n).
    const TensorInfo* find(std::string_view name) const;
};

// Parses and validates a whole file image. Throws mistral::Error (no file name in the
// message; callers add it): kBadMagic, kNewerVersion, kTruncated, kOutOfBounds,
// kUnsupportedType, kBadValue. Never reads outside `data`.
ModelFile parse_model_file(std::span<const std::byte> data);

// Read-only private memory map of a whole file. Move-only; unmaps on destruction.
class MappedFile {
public:
    struct Options {
        bool mlock = false;       // lock pages in RAM (warns via the result, never fails load)
        bool sequential = false;  // MADV_SEQUENTIAL instead of MADV_WILLNEED
    };
    // Throws Error(kIo) "<path>: <strerror>" on open/stat/mmap failure, and for empty files
    // or directories.
    static MappedFile open(const std::filesystem::path& path, Options opts);
    static MappedFile open(const std::filesystem::path& path) { return open(path, Options{}); }

    MappedFile() = default;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    std::span<const std::byte> bytes() const { return {data_, size_}; }
    const std::filesystem::path& path() const { return path_; }
    bool locked() const { return locked_; }

private:
    const std::byte* data_ = nullptr;
    size_t size_ = 0;
    bool locked_ = false;
    std::filesystem::path path_;
};

}  // namespace mistral
