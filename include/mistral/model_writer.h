// Streaming writer for the weight file: the directory is fixed up front, then each tensor's
// bytes are written in order. Output goes to a temporary file that commit() fsyncs and renames;
// destroying an uncommitted writer deletes it, so a failed conversion leaves nothing behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <mistral/config.h>
#include <mistral/dtype.h>
#include <mistral/model_file.h>

namespace mistral {

struct TensorSpec {
    std::string name;
    DType type = DType::kF32;
    std::vector<uint64_t> shape;  // [cols] or [rows, cols]
};

// Returns the bytes a tensor of this spec occupies; throws kBadValue if cols % block != 0.
uint64_t tensor_bytes(const TensorSpec& spec);

// Serialises the metadata (header + HPAR + TOKN + TDIR) for the given tensors; also returns
// the absolute file offset of each tensor. Pure: used by the writer and by tests that build
// files in memory.
std::vector<std::byte> build_metadata(const ModelConfig& cfg,
                                      std::span<const std::byte> tokenizer_blob,
                                      const std::vector<TensorSpec>& tensors,
                                      std::vector<uint64_t>* offsets, uint64_t* file_size,
                                      const std::map<std::string, HparamValue>& extra_hparams = {});

class ModelWriter {
public:
    // Throws Error(kIo) if `path` exists and !overwrite, or the temp file cannot be created.
    ModelWriter(std::filesystem::path path, const ModelConfig& cfg,
                std::span<const std::byte> tokenizer_blob, std::vector<TensorSpec> tensors,
                bool overwrite, const std::map<std::string, HparamValue>& extra_hparams = {});
    ~ModelWriter();
    ModelWriter(const ModelWriter&) = delete;
    ModelWriter& operator=(const ModelWriter&) = delete;

    // Writes the next tensor (in spec order); data.size() must equal tensor_bytes(spec).
    void write_tensor(std::span<const std::byte> data);
    // Index of the next tensor to write.
    size_t next_index() const { return next_; }
    const std::vector<TensorSpec>& specs() const { return specs_; }
    // Flushes, fsyncs and renames over the final path. Throws kIo.
    void commit();

private:
    void write_all(const void* p, size_t n);
    std::filesystem::path path_, tmp_;
    std::vector<TensorSpec> specs_;
    std::vector<uint64_t> offsets_;
    uint64_t file_size_ = 0;
    uint64_t written_ = 0;
    size_t next_ = 0;
    int fd_ = -1;
    bool committed_ = false;
};

// Builds a complete file image in memory (tests, fuzzing). `data[i]` holds tensor i's bytes.
std::vector<std::byte> build_model_image(const ModelConfig& cfg,
                                         std::span<const std::byte> tokenizer_blob,
                                         const std::vector<TensorSpec>& tensors,
                                         const std::vector<std::vector<std::byte>>& data);

}  // namespace mistral
