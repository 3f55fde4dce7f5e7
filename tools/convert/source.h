// Converter input sources. Each source presents its tensors under our (mistral-src) names and
// in our row order (Hugging Face's q/k row permutation already undone), in its own precision.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <mistral/config.h>
#include <mistral/dtype.h>
#include <mistral/tokenizer.h>

namespace mistral::convert {

struct SourceTensor {
    std::string name;             // our name, e.g. "layers.0.attention.wq.weight"
    DType type = DType::kF32;     // what read() returns (K-quants are dequantized: kF32)
    std::vector<uint64_t> shape;  // [cols] or [rows, cols]
    std::string note;             // e.g. "q6_K dequantized" (empty if none)
};

struct SourceOptions {
    std::optional<int64_t> sliding_window;         // --sliding-window
    std::function<void(const std::string&)> warn;  // one-line warnings for stderr
};

class TensorSource {
public:
    virtual ~TensorSource() = default;
    virtual std::string kind() const = 0;  // "hf", "native", "gguf"
    virtual ModelConfig config() const = 0;
    virtual TokenizerModel tokenizer() const = 0;
    virtual const std::vector<SourceTensor>& tensors() const = 0;
    // Bytes of tensor i (type and shape as tensors()[i]); throws mistral::Error on bad input.
    virtual std::vector<std::byte> read(size_t i) = 0;
};

// Each throws mistral::Error naming the file and problem.
std::unique_ptr<TensorSource> open_hf(const std::filesystem::path& dir, const SourceOptions& opts);
std::unique_ptr<TensorSource> open_native(const std::filesystem::path& dir,
                                          const SourceOptions& opts);
std::unique_ptr<TensorSource> open_gguf(const std::filesystem::path& file,
                                        const SourceOptions& opts);
// Detects the kind: a directory with config.json -> hf, with params.json -> native, a file
// starting with "GGUF" -> gguf; otherwise Error(kBadMagic).
std::unique_ptr<TensorSource> open_source(const std::filesystem::path& input,
                                          const SourceOptions& opts);

// Undoes Hugging Face's rotate-half permutation of q_proj/k_proj rows (n_heads heads of
// head_dim = rows / n_heads rows): our row h*hd + 2i + j is HF row h*hd + j*hd/2 + i
// (j in {0,1}). Works on whole rows of any type, row_bytes each.
void unpermute_hf_rows(std::byte* data, size_t rows, size_t row_bytes, size_t n_heads);

}  // namespace mistral::convert
