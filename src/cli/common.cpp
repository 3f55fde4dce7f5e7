#include "cli/common.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include <mistral/error.h>
#include <sys/mman.h>
#include <unistd.h>

namespace mistral::cli {

const std::vector<OptSpec> kModelOpts = {
        {"--model,-m", "FILE", "model file (.mst, from mistral-convert)"},
        {"--threads,-t", "N", "threads (default: physical cores)"},
        {"--ctx-size,-c", "N",
         "context for full-attention models (default min(max_context, 4096))"},
        {"--chunk", "N", "prefill chunk in tokens (default: the window W, or 512 when W = 0)"},
        {"--kv-type", "T", "KV cache type: f32 (default) or f16"},
        {"--mlock", "", "lock the model in RAM"},
        {"--quiet,-q", "", "no load summary or timings on stderr"},
};

const std::vector<OptSpec> kSamplingOpts = {
        {"--temp", "T", "temperature (default 0.8; 0 = greedy)"},
        {"--top-k", "K", "top-k (default 40; 0 = off)"},
        {"--top-p", "P", "top-p (default 0.95; 1 = off)"},
        {"--min-p", "P", "min-p (default 0.05; 0 = off)"},
        {"--repeat-penalty", "R", "repetition penalty (default 1.0 = off)"},
        {"--repeat-last-n", "N", "tokens the penalty looks back (default 64; -1 = all)"},
        {"--seed", "S", "random seed (default: random, printed in the summary)"},
};

std::vector<OptSpec> concat(std::initializer_list<std::span<const OptSpec>> lists) {
    std::vector<OptSpec> out;
    for (auto l : lists)
        out.insert(out.end(), l.begin(), l.end());
    return out;
}

size_t physical_cores() {
    // Count distinct (package, core) pairs; fall back to the logical count.
    std::set<std::pair<std::string, std::string>> cores;
    for (unsigned cpu = 0; cpu < 4096; ++cpu) {
        const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::ifstream pkg(base + "physical_package_id"), core(base + "core_id");
        if (!pkg || !core)
            break;
        std::string p, c;
        pkg >> p;
        core >> c;
        cores.insert({p, c});
    }
    const size_t logical = std::max(1u, std::thread::hardware_concurrency());
    return cores.empty() ? logical : std::min(cores.size(), logical);
}

namespace {

// Touches every page of the mapping with a progress bar when a good part of it is not resident
// (first run after boot or download), so the wait is visible instead of a silent first token.
void page_in_with_progress(std::span<const std::byte> bytes) {
    if (!::isatty(2) || bytes.empty())
        return;
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const auto* base = bytes.data();
    const size_t n_pages = (bytes.size() + page - 1) / page;
    std::vector<unsigned char> resident(n_pages);
    if (::mincore(const_cast<std::byte*>(base), bytes.size(), resident.data()) != 0)
        return;
    const size_t missing = static_cast<size_t>(std::count_if(
            resident.begin(), resident.end(), [](unsigned char r) { return (r & 1) == 0; }));
    if (missing < n_pages / 10 || bytes.size() < (size_t{64} << 20))
        return;
    volatile unsigned char sink = 0;
    const size_t step = std::max<size_t>(1, n_pages / 100);
    for (size_t p = 0; p < n_pages; ++p) {
        sink = sink + static_cast<unsigned char>(base[p * page]);
        if (p % step == 0) {
            std::fprintf(stderr, "\rloading %3zu%%", p * 100 / n_pages);
            std::fflush(stderr);
        }
    }
    std::fprintf(stderr, "\rloading 100%%\n");
}

std::atomic<bool> g_sigint{false};

extern "C" void on_sigint(int) {
    g_sigint.store(true);
}

}  // namespace

LoadedModel load_model(const ParsedArgs& args, bool quiet) {
    const auto path = args.get("--model");
    if (!path)
        throw UsageError("no model given (-m FILE)");
    kv_type_option(args);  // flag errors are usage errors, reported before any loading
    const int64_t threads =
            args.get_int("--threads", static_cast<int64_t>(physical_cores()), 1, 256);
    const auto t0 = std::chrono::steady_clock::now();
    LoadedModel lm;
    LoadOptions lo;
    lo.mlock = args.has("--mlock");
    lm.model = Model::load(*path, lo);
    page_in_with_progress(lm.model->bytes());
    try {
        lm.tokenizer =
                std::make_unique<Tokenizer>(deserialize_tokenizer(lm.model->tokenizer_blob()));
    } catch (const Error& e) {
        throw with_context(e, *path);
    }
    lm.kernels = &select_kernels();
    lm.pool = std::make_unique<ThreadPool>(static_cast<size_t>(threads));
    lm.load_ms = ms_since(t0);
    if (!quiet) {
        const ModelConfig& c = lm.model->config();
        const auto& types = lm.model->weights().layers.front().wq.type;
        std::fprintf(
                stderr,
                "mistral: %s: %lld layers, dim %lld, %lld/%lld heads, %s, window %lld, %.1f MiB; "
                "kernels %s, "
                "%lld threads; loaded in %.0f ms%s\n",
                path->c_str(), static_cast<long long>(c.n_layers), static_cast<long long>(c.dim),
                static_cast<long long>(c.n_heads), static_cast<long long>(c.n_kv_heads),
                std::string(dtype_name(types)).c_str(), static_cast<long long>(c.window),
                static_cast<double>(lm.model->file_bytes()) / 1048576.0,
                std::string(lm.kernels->name).c_str(), static_cast<long long>(threads), lm.load_ms,
                lo.mlock && !lm.model->locked() ? " (mlock failed: running unlocked)" : "");
    }
    return lm;
}

SessionOptions session_options(const ParsedArgs& args, const LoadedModel& lm) {
    SessionOptions so;
    so.ctx = args.get_int("--ctx-size", 0, 0, int64_t{1} << 24);
    so.kv_type = kv_type_option(args);
    so.max_batch = std::min<int64_t>(chunk_option(args), kDefaultMaxBatch * 8);
    so.pool = lm.pool.get();
    return so;
}

DType kv_type_option(const ParsedArgs& args) {
    const std::string kv = args.get_or("--kv-type", "f32");
    if (kv == "f32")
        return DType::kF32;
    if (kv == "f16")
        return DType::kF16;
    throw UsageError("--kv-type: '" + kv + "' is not f32 or f16");
}

int64_t chunk_option(const ParsedArgs& args) {
    return args.get_int("--chunk", 0, 1, int64_t{1} << 20);
}

SamplerParams sampler_params(const ParsedArgs& args) {
    SamplerParams p;
    p.temperature = static_cast<float>(args.get_real("--temp", 0.8, 0.0, 100.0));
    p.top_k = static_cast<int>(args.get_int("--top-k", 40, 0, int64_t{1} << 30));
    p.top_p = static_cast<float>(args.get_real("--top-p", 0.95, 0.0, 1.0));
    p.min_p = static_cast<float>(args.get_real("--min-p", 0.05, 0.0, 1.0));
    p.repeat_penalty = static_cast<float>(args.get_real("--repeat-penalty", 1.0, 1e-3, 100.0));
    p.repeat_last_n = static_cast<int>(args.get_int("--repeat-last-n", 64, -1, int64_t{1} << 30));
    if (auto s = args.get("--seed")) {
        p.seed = static_cast<uint64_t>(parse_int("--seed", *s, 0, INT64_MAX));
    } else {
        p.seed = std::random_device{}() | (static_cast<uint64_t>(std::random_device{}()) << 32);
    }
    return p;
}

void install_sigint_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking read returns EINTR so the REPL can react
    ::sigaction(SIGINT, &sa, nullptr);
}

std::atomic<bool>& sigint_flag() {
    return g_sigint;
}

bool write_stdout(std::string_view text) {
    if (!text.empty() && std::fwrite(text.data(), 1, text.size(), stdout) != text.size())
        return false;
    return std::fflush(stdout) == 0;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace mistral::cli
