// The immutable, shareable model: the mapped file, its config and bound weights.
// (Mutable per-conversation state lives in Session, see session.h.)
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include <mistral/config.h>
#include <mistral/model_file.h>
#include <mistral/weights.h>

namespace mistral {

struct LoadOptions {
    bool mlock = false;
};

class Model {
public:
    // Maps, parses, validates and binds. Throws mistral::Error whose message starts with the path.
    static std::unique_ptr<Model> load(const std::filesystem::path& path, LoadOptions opts = {});
    // Same over an in-memory image (tests, fuzzing); the model keeps the image alive.
    static std::unique_ptr<Model> from_image(std::vector<std::byte> image,
                                             std::string name = "<memory>");

    const ModelConfig& config() const { return file_.config; }
    const Weights& weights() const { return weights_; }
    const ModelFile& file() const { return file_; }
    std::span<const std::byte> tokenizer_blob() const { return file_.tokenizer_blob; }
    const std::string& name() const { return name_; }
    size_t file_bytes() const { return bytes_.size(); }
    // The whole mapped file (for page-cache checks and prefetching).
    std::span<const std::byte> bytes() const { return bytes_; }
    bool locked() const { return map_.locked(); }

    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

private:
    Model() = default;
    void init(std::span<const std::byte> bytes);

    MappedFile map_;
    std::vector<std::byte> image_;
    std::span<const std::byte> bytes_;
    ModelFile file_;
    Weights weights_;
    std::string name_;
};

}  // namespace mistral
