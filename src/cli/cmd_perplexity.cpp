// `mistral perplexity -m MODEL (-f FILE | --ids FILE | stdin) [--ctx N] [--stride S] [--json]`:
// perplexity of a text (BOS + its tokens) or of a token-id sequence taken as is, in windows of
// --ctx ids advanced by --stride, scoring only each window's new ids (docs/EVALUATION.md).
// Running value on stderr; final value, token count and tokens/s on stdout.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <mistral/error.h>
#include <mistral/json.h>
#include <mistral/scoring.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace mistral::cli {

namespace {

constexpr OptSpec kPerplexityOpts[] = {
        {"--model,-m", "FILE", "model file"},
        {"--file,-f", "FILE", "text file (\"-\": stdin; the default when neither -f nor --ids)"},
        {"--ids", "FILE", "whitespace-separated token ids, used as is (\"-\": stdin)"},
        {"--ctx", "N", "window length in tokens (default: the whole sequence)"},
        {"--stride", "S", "window advance in tokens, 1..ctx (default: ctx)"},
        {"--json", "", "print the result as one JSON object"},
        {"--threads,-t", "N", "threads (default: physical cores)"},
        {"--kv-type", "T", "KV cache type: f32 (default) or f16"},
        {"--quiet,-q", "", "no load summary or running value on stderr"},
};

std::string read_input(const std::string& path) {
    if (path == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin),
                           std::istreambuf_iterator<char>());
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw Error(Errc::kIo, path + ": cannot open");
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<TokenId> parse_id_list(const std::string& text, int64_t vocab) {
    std::vector<TokenId> ids;
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        ids.push_back(static_cast<TokenId>(parse_int("--ids", word, 0, vocab - 1)));
    }
    return ids;
}

}  // namespace

int cmd_perplexity(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral perplexity -m MODEL (-f FILE | --ids FILE | < text) [--ctx N] "
                "[--stride S] [--json]",
                "Perplexity of a text (BOS + its tokens) or of token ids, in strided windows.",
                kPerplexityOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kPerplexityOpts, 0);
    if (args.has("--file") && args.has("--ids")) {
        throw UsageError("give either -f FILE or --ids FILE, not both");
    }
    const int64_t ctx_arg = args.get_int("--ctx", 0, 2, int64_t{1} << 24);
    const int64_t stride_arg = args.get_int("--stride", 0, 1, int64_t{1} << 24);
    const bool quiet = args.has("--quiet");
    const bool json = args.has("--json");

    LoadedModel lm = load_model(args, quiet);
    const ModelConfig& cfg = lm.model->config();
    std::vector<TokenId> ids;
    if (const auto f = args.get("--ids")) {
        ids = parse_id_list(read_input(*f), cfg.vocab_size);
    } else {
        ids.push_back(lm.tokenizer->bos_id());
        const auto text = lm.tokenizer->encode(read_input(args.get_or("--file", "-")));
        ids.insert(ids.end(), text.begin(), text.end());
    }
    const int64_t n = static_cast<int64_t>(ids.size());
    const int64_t ctx = ctx_arg == 0 ? n : std::min(ctx_arg, n);
    const int64_t stride = stride_arg == 0 ? ctx : stride_arg;
    if (stride > ctx) {
        throw UsageError("--stride " + std::to_string(stride) + " exceeds the window (--ctx " +
                         std::to_string(ctx) + ")");
    }
    perplexity_windows(n, ctx, stride);  // validates before anything is allocated

    SessionOptions so;
    so.all_logits = true;
    so.pool = lm.pool.get();
    const std::string kv = args.get_or("--kv-type", "f32");
    if (kv != "f32" && kv != "f16") {
        throw UsageError("--kv-type: expected f32 or f16, got '" + kv + "'");
    }
    so.kv_type = kv == "f16" ? DType::kF16 : DType::kF32;
    // Sliding-window models roll their cache (any ctx); full attention needs ctx positions.
    so.ctx = cfg.window > 0 ? 0 : ctx;
    so.max_batch = std::min<int64_t>(ctx, cfg.window > 0 ? cfg.window : 512);
    Session session(*lm.model, *lm.kernels, so);

    const auto t0 = std::chrono::steady_clock::now();
    const PerplexityResult res =
            perplexity(session, ids, ctx, stride, [&](const PerplexityResult& r, int64_t total) {
                if (!quiet) {
                    std::fprintf(stderr, "[%lld/%lld] perplexity %.4f (%lld tokens)\n",
                                 static_cast<long long>(r.windows), static_cast<long long>(total),
                                 r.ppl(), static_cast<long long>(r.scored));
                }
            });
    const double secs = ms_since(t0) / 1000.0;
    const double tps = secs > 0 ? static_cast<double>(res.fed) / secs : 0.0;
    if (json) {
        Json j = Json::object();
        j.set("perplexity", res.ppl());
        j.set("nll", res.nll);
        j.set("tokens", n);
        j.set("tokens_scored", res.scored);
        j.set("tokens_fed", res.fed);
        j.set("windows", res.windows);
        j.set("ctx", ctx);
        j.set("stride", stride);
        j.set("seconds", secs);
        j.set("tokens_per_second", tps);
        std::cout << j.dump() << "\n";
    } else {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "perplexity: %.6f\ntokens: %lld scored of %lld (%lld windows of %lld, "
                      "stride %lld)\ntokens/s: %.1f\n",
                      res.ppl(), static_cast<long long>(res.scored), static_cast<long long>(n),
                      static_cast<long long>(res.windows), static_cast<long long>(ctx),
                      static_cast<long long>(stride), tps);
        std::cout << buf;
    }
    return 0;
}

}  // namespace mistral::cli
