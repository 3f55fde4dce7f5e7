// `mistral logits -m MODEL --ids "1 2 3" [--all] [--chunk N] [--kv-type T] -o OUT.f32`: runs the
// ids through the model and writes float32 little-endian logits of the last position, or with
// --all of every position (row-major [T, vocab]). This is how the reference logits are checked.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include <mistral/kernels.h>
#include <mistral/model.h>
#include <mistral/session.h>
#include <mistral/thread_pool.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"

namespace mistral::cli {

namespace {

constexpr OptSpec kLogitsOpts[] = {
        {"--model,-m", "FILE", "model file"},
        {"--ids", "IDS", "token ids, space separated (\"-\": read them from stdin)"},
        {"--output,-o", "FILE", "output file of float32 logits (\"-\": stdout)"},
        {"--all", "", "logits of every position ([T, vocab]) instead of the last only"},
        {"--chunk", "N", "prefill chunk size (default: the sliding window, or 512 without one)"},
        {"--kv-type", "T", "KV cache element type: f32 (default) or f16"},
        {"--ctx", "N",
         "positions the KV cache holds (default: the window, or min(max_context, 4096))"},
        {"--threads,-t", "N", "worker threads (default: all cores)"},
};

std::vector<TokenId> parse_ids(const std::string& text) {
    std::vector<TokenId> ids;
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        ids.push_back(static_cast<TokenId>(parse_int("--ids", word, 0, INT32_MAX)));
    }
    if (ids.empty())
        throw UsageError("--ids: no token ids given");
    return ids;
}

// Writes bytes to `path` through a temporary file in the same directory renamed over it, so
// a failure never leaves a partial file; "-" writes to stdout.
void write_output(const std::string& path, const std::vector<float>& data) {
    const auto* bytes = reinterpret_cast<const char*>(data.data());
    const size_t n = data.size() * sizeof(float);
    if (path == "-") {
        std::cout.write(bytes, static_cast<std::streamsize>(n));
        std::cout.flush();
        if (!std::cout)
            throw Error(Errc::kIo, "stdout: write failed");
        return;
    }
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr)
        throw Error(Errc::kIo, path + ": " + std::strerror(errno));
    const bool ok =
            std::fwrite(bytes, 1, n, f) == n && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    const int err = errno;
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = ok && closed ? errno : err;
        std::remove(tmp.c_str());
        throw Error(Errc::kIo, path + ": " + std::strerror(e));
    }
}

}  // namespace

int cmd_logits(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral logits -m MODEL --ids \"1 2 3\" [--all] [--chunk N] [--kv-type T] -o "
                "OUT.f32",
                "Write the model's float32 logits for the given token ids.", kLogitsOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kLogitsOpts, 0);
    const std::string model_path = args.get_or("--model", "");
    if (model_path.empty())
        throw UsageError("no model given (-m MODEL)");
    const auto ids_arg = args.get("--ids");
    if (!ids_arg)
        throw UsageError("no token ids given (--ids \"1 2 3\" or --ids -)");
    const auto out_path = args.get("--output");
    if (!out_path)
        throw UsageError("no output given (-o OUT.f32, or -o - for stdout)");
    const std::string kv_name = args.get_or("--kv-type", "f32");
    const auto kv = parse_dtype(kv_name);
    if (!kv || (*kv != DType::kF32 && *kv != DType::kF16)) {
        throw UsageError("--kv-type: expected f32 or f16, got '" + kv_name + "'");
    }
    const int64_t chunk_arg = args.get_int("--chunk", 0, 1, INT32_MAX);
    const int64_t ctx = args.get_int("--ctx", 0, 1, INT32_MAX);
    const int64_t hw =
            std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
    const int64_t threads = args.get_int("--threads", hw, 1, 1024);
    const bool all = args.has("--all");

    std::string ids_text = *ids_arg;
    if (ids_text == "-") {
        ids_text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    const std::vector<TokenId> ids = parse_ids(ids_text);

    const KernelTable& kernels = select_kernels();
    const auto model = Model::load(model_path);
    const int64_t vocab = model->config().vocab_size;
    const int64_t T = static_cast<int64_t>(ids.size());
    const int64_t chunk =
            chunk_arg > 0 ? chunk_arg : (model->config().window > 0 ? model->config().window : 512);

    ThreadPool pool(static_cast<size_t>(threads));
    SessionOptions opts;
    opts.ctx = ctx;
    opts.max_batch = std::min(chunk, T);  // scratch never needs more than the prompt
    opts.kv_type = *kv;
    opts.all_logits = all;
    opts.pool = &pool;
    Session session(*model, kernels, opts);

    std::vector<float> out;
    out.reserve(static_cast<size_t>(all ? T * vocab : vocab));
    const std::span<const TokenId> all_ids(ids);
    for (int64_t b = 0; b < T; b += opts.max_batch) {
        const auto batch = all_ids.subspan(static_cast<size_t>(b),
                                           static_cast<size_t>(std::min(opts.max_batch, T - b)));
        const auto logits = session.forward(batch, session.pos(), all);
        if (all)
            out.insert(out.end(), logits.begin(), logits.end());
        else
            out.assign(logits.begin(), logits.end());
    }
    write_output(*out_path, out);
    return 0;
}

}  // namespace mistral::cli
