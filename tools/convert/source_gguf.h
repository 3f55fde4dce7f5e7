// Interpretation of a parsed GGUF "llama" file: hyperparameters, vocabulary and the mapping of
// GGUF tensor names onto ours. open_gguf (source.h) is built from these; they are exposed for
// the tests (a vocabulary-only GGUF has no tensors to open).
#pragma once

#include <string>
#include <vector>

#include <mistral/config.h>
#include <mistral/tokenizer.h>

#include "gguf_reader.h"
#include "source.h"

namespace mistral::convert {

// Hyperparameters from the llama.* keys (general.architecture must be "llama": else
// kUnsupported). The sliding window: the GGUF key llama.attention.sliding_window if present
// (it wins over opts.sliding_window, with a warning if they differ); else opts.sliding_window;
// else 4096 with a warning if the shape is Mistral 7B's; else 0 (full attention) with a warning.
// Throws kBadValue for missing/ill-typed keys, kUnsupported for rope scaling, partial RoPE or
// mixtures of experts.
ModelConfig gguf_llama_config(const GgufFile& f, const SourceOptions& opts);

// Vocabulary from tokenizer.ggml.* (model must be "llama", i.e. SentencePiece; else
// kUnsupported). Throws kBadValue for missing or inconsistent arrays and ids.
TokenizerModel gguf_llama_tokenizer(const GgufFile& f);

// Our name for a GGUF tensor name ("blk.3.attn_q.weight" -> "layers.3.attention.wq.weight"),
// or "" if it is not a tensor of a llama model.
std::string gguf_to_our_name(const std::string& gguf_name);

}  // namespace mistral::convert
