// Shared machinery of the Hugging Face and Mistral-native sources: a TensorSource whose tensors
// are byte ranges of memory-mapped files, bound to expected_tensors(cfg) by name and shape;
// plus small helpers (JSON files, tokenizer.model, typed hyperparameter fields).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <mistral/config.h>
#include <mistral/json.h>
#include <mistral/model_file.h>
#include <mistral/tokenizer.h>

#include "source.h"

namespace mistral::convert {

// A checksum over the bytes a tensor lies in (a zip entry of a torch.save archive), verified the
// first time one of its tensors is read, so each byte is checked in the pass that converts it
// rather than in an extra pass over the whole file. Shared by the tensors of one storage.
struct StorageCheck {
    std::function<void()> verify;  // throws mistral::Error on a mismatch
    bool done = false;
};

// One tensor as found in an input file, before binding.
struct RawTensor {
    DType type = DType::kF32;
    std::vector<uint64_t> shape;
    std::span<const std::byte> bytes;  // exactly numel * element size, inside a mapped file
    std::string origin;                // name in the input ("model.norm.weight" in x.safetensors)
    std::shared_ptr<StorageCheck> check;  // null: the format has no checksum
};

class MappedSource : public TensorSource {
public:
    std::string kind() const override { return kind_; }
    ModelConfig config() const override { return cfg_; }
    TokenizerModel tokenizer() const override { return tok_; }
    const std::vector<SourceTensor>& tensors() const override { return tensors_; }
    std::vector<std::byte> read(size_t i) override;

protected:
    // Fills tensors_ with expected_tensors(cfg_), in canonical order, from lookup(our_name)
    // (nullptr: absent -> Error(kMissingTensor) "<where>: missing tensor <origin_name(name)>").
    // Checks each shape (kShapeMismatch). unpermute_heads(name) > 0 marks HF q/k tensors.
    // read(i) runs the tensor's storage check first, once per storage.
    void bind(const std::function<const RawTensor*(const std::string&)>& lookup,
              const std::function<std::string(const std::string&)>& origin_name,
              const std::function<size_t(const std::string&)>& unpermute_heads,
              const std::string& where);

    std::string kind_;
    ModelConfig cfg_;
    TokenizerModel tok_;
    std::vector<MappedFile> maps_;  // keeps every span below alive

private:
    struct Entry {
        std::span<const std::byte> bytes;
        size_t unpermute_heads = 0;  // 0: copy as is
        std::shared_ptr<StorageCheck> check;
    };
    std::vector<SourceTensor> tensors_;
    std::vector<Entry> entries_;
};

// Reads and parses a JSON file; errors are prefixed with the path. Missing file: kIo.
Json read_json_file(const std::filesystem::path& path);
// Parses dir/tokenizer.model; missing file: kIo naming it.
TokenizerModel read_tokenizer_model(const std::filesystem::path& dir);

// Typed optional fields of a hyperparameter object: absent or null -> nullopt; a value of the
// wrong type -> Error(kBadValue) "<key> must be ...".
std::optional<int64_t> get_int(const Json& obj, std::string_view key);
std::optional<double> get_double(const Json& obj, std::string_view key);
// Required integer field: absent/null -> Error(kBadValue) "missing <key>".
int64_t require_int(const Json& obj, std::string_view key);

// Applies --sliding-window and validates; errors get `where` as prefix.
void finish_config(ModelConfig& cfg, const SourceOptions& opts, const std::string& where);

}  // namespace mistral::convert
