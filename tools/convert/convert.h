// The conversion driver: any TensorSource -> our weight file, tensor by tensor, with type
// selection; and seeded random models for benchmarks and tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <mistral/config.h>
#include <mistral/dtype.h>
#include <mistral/weights.h>

#include "source.h"

namespace mistral::convert {

struct ConvertOptions {
    std::filesystem::path input;  // HF folder, Mistral folder or .gguf file
    std::filesystem::path output;
    std::optional<DType> type;                     // --type; default: keep the source precision
    std::optional<int64_t> sliding_window;         // --sliding-window
    bool overwrite = false;                        // --force
    std::function<void(const std::string&)> warn;  // one line each, to stderr
    std::function<void(size_t done, size_t total, const std::string& name)> progress;
    const std::atomic<bool>* cancel = nullptr;  // set from a signal handler: abort cleanly
};

struct ConvertSummary {
    ModelConfig config;
    size_t n_tensors = 0;
    uint64_t file_bytes = 0;
    std::map<DType, size_t> tensors_by_type;
};

// The type a tensor is stored as: norms (1-D) stay f32; others get `requested` (or the source
// type, or q8_0 for dequantized K-quants when nothing was requested); a row length that is not a
// multiple of 32 cannot be a block type and falls back to the nearest exact float type
// (f16/bf16 source: itself; f32 source: f16). `why` receives a note when it falls back.
DType choose_type(const SourceTensor& t, bool is_norm, std::optional<DType> requested,
                  std::string* why);

// The type a matrix chosen to be `t` is stored as: q4_0 / q8_0 / f16 become q4_0x16 / q8_0x16 /
// f16x16 (their 16-row interleaved layouts, see dtype.h) for the matrices the forward pass
// multiplies (all but the embedding table, which is only looked up by row) when their row count
// is a multiple of 16 (and, for f16x16, their row length a multiple of 64).
DType stored_type(DType t, const ExpectedTensor& e);
// Rows of plain_type(stored) (rows x cols) in the stored form of `stored` (interleaved for the
// x16 types; otherwise moved through unchanged).
std::vector<std::byte> to_stored(std::vector<std::byte> data, DType stored, size_t rows,
                                 size_t cols);

// Converts `src` into opts.output (temp file + rename; nothing is left behind on failure).
ConvertSummary write_model(TensorSource& src, const ConvertOptions& opts);
// open_source(opts.input) + write_model.
ConvertSummary convert_model(const ConvertOptions& opts);

struct RandomOptions {
    std::string preset;  // "mistral-7b", "tiny"
    DType type = DType::kF32;
    uint64_t seed = 1;
    std::filesystem::path output;
    std::filesystem::path tokenizer;        // tokenizer.model (mistral-7b preset); empty: synthetic
    std::optional<int64_t> sliding_window;  // --sliding-window: replaces the preset's window
    bool overwrite = false;
    std::function<void(size_t done, size_t total, const std::string& name)> progress;
    const std::atomic<bool>* cancel = nullptr;
};
// A small BPE vocabulary of `vocab` >= 259 pieces: <unk> <s> </s>, the 256 byte pieces, then
// printable single characters and letter pairs with descending scores.
TokenizerModel synthetic_tokenizer(size_t vocab);
// Names of the presets, for --help.
std::string random_presets();
// Config of a preset; throws Error(kInvalidArgument) for an unknown name.
ModelConfig random_preset_config(const std::string& preset);
ConvertSummary write_random_model(const RandomOptions& opts);

}  // namespace mistral::convert
