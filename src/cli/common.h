// Pieces shared by the generating subcommands (complete, chat, ...): model loading with the
// load summary and page-in progress, sampling/session flags, signals, stdout streaming.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <mistral/kernels.h>
#include <mistral/model.h>
#include <mistral/sampler.h>
#include <mistral/session.h>
#include <mistral/thread_pool.h>
#include <mistral/tokenizer.h>

#include "cli/args.h"

namespace mistral::cli {

// --model, --threads, --mlock, --ctx-size, --chunk, --kv-type, -q.
extern const std::vector<OptSpec> kModelOpts;
// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --seed.
extern const std::vector<OptSpec> kSamplingOpts;
// Concatenates option lists.
std::vector<OptSpec> concat(std::initializer_list<std::span<const OptSpec>> lists);

struct LoadedModel {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    const KernelTable* kernels = nullptr;
    std::unique_ptr<ThreadPool> pool;
    double load_ms = 0;
};

// Physical cores of this machine (hyperthreads not counted), at least 1.
size_t physical_cores();

// Loads -m MODEL (UsageError if absent), its tokenizer, the kernel table and the thread pool.
// Shows a page-in progress bar on a terminal when the file is not in the page cache, and
// (unless quiet) one summary line on stderr.
LoadedModel load_model(const ParsedArgs& args, bool quiet);

// SessionOptions from -c/--ctx-size, --kv-type, --chunk (max_batch), the pool.
SessionOptions session_options(const ParsedArgs& args, const LoadedModel& lm);
// --kv-type (f32 or f16; UsageError otherwise).
DType kv_type_option(const ParsedArgs& args);
// The prefill chunk from --chunk (0 = the session default).
int64_t chunk_option(const ParsedArgs& args);
SamplerParams sampler_params(const ParsedArgs& args);

// SIGINT handling: the first Ctrl-C sets the flag (generation stops at the next token); the
// handler stays installed, so a program decides itself what a second one means.
void install_sigint_handler();
std::atomic<bool>& sigint_flag();

// Writes text to stdout and flushes (streaming). Returns false if stdout is gone (EPIPE).
bool write_stdout(std::string_view text);

double ms_since(std::chrono::steady_clock::time_point t0);

}  // namespace mistral::cli
