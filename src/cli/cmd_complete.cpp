// `mistral complete`: continue a prompt, streaming the text to stdout.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <mistral/chat.h>
#include <mistral/error.h>
#include <mistral/generate.h>
#include <mistral/utf8.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace mistral::cli {

namespace {

const std::vector<OptSpec> kCompleteOpts = {
        {"--prompt,-p", "TEXT", "the prompt (default: stdin)"},
        {"--file,-f", "FILE", "read the prompt from FILE"},
        {"--raw", "", "keep stdin/file bytes exactly (default: drop one trailing newline)"},
        {"--n-predict,-n", "N", "tokens to generate (default -1: until EOS)"},
        {"--stop", "STR", "stop at STR (repeatable; not printed)"},
        {"--no-bos", "", "do not prepend BOS"},
        {"--ignore-eos", "", "keep generating past the end-of-sequence token"},
        {"--echo", "", "print the prompt before the continuation"},
};

std::string read_all(std::istream& in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

// Reads the prompt from -p, -f or stdin (shared with other commands).
std::string read_prompt(const ParsedArgs& args) {
    if (args.has("--prompt") && args.has("--file"))
        throw UsageError("give either -p or -f, not both");
    std::string text;
    bool strip = !args.has("--raw");
    if (auto p = args.get("--prompt")) {
        text = *p;
        strip = false;  // -p is taken as given
    } else if (auto f = args.get("--file")) {
        std::ifstream in(*f, std::ios::binary);
        if (!in)
            throw Error(Errc::kIo, *f + ": cannot open");
        text = read_all(in);
    } else {
        text = read_all(std::cin);
    }
    if (strip && !text.empty() && text.back() == '\n') {
        text.pop_back();
        if (!text.empty() && text.back() == '\r')
            text.pop_back();
    }
    return text;
}

int cmd_complete(std::span<const std::string> argv) {
    const auto specs = concat({kModelOpts, kCompleteOpts, kSamplingOpts});
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral complete -m MODEL [-p TEXT | -f FILE | < stdin] [options]",
                "Continue a prompt; the continuation streams to stdout, timings go to stderr.",
                specs);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, specs);
    const bool quiet = args.has("--quiet");
    const int64_t n_predict = args.get_int("--n-predict", -1, -1, int64_t{1} << 40);
    const SamplerParams sp = sampler_params(args);
    const std::string prompt = read_prompt(args);
    LoadedModel lm = load_model(args, quiet);

    std::vector<TokenId> ids;
    if (!args.has("--no-bos"))
        ids.push_back(lm.tokenizer->bos_id());
    const auto text_ids = lm.tokenizer->encode(prompt);  // throws kInvalidUtf8 with the offset
    ids.insert(ids.end(), text_ids.begin(), text_ids.end());
    // A v3 vocabulary has the instruct markers as special pieces; typed in a prompt they stay
    // text unless encode() matched them (user-defined pieces): say so rather than let a
    // hand-written template pass for the real one.
    if (!quiet) {
        if (const auto m = inst_markers(*lm.tokenizer)) {
            auto stays_text = [&](std::string_view marker, TokenId id) {
                return prompt.find(marker) != std::string::npos &&
                       std::find(text_ids.begin(), text_ids.end(), id) == text_ids.end();
            };
            if (stays_text("[INST]", m->begin) || stays_text("[/INST]", m->end)) {
                std::fprintf(stderr,
                             "mistral: note: [INST] / [/INST] in the prompt are encoded as text; "
                             "this vocabulary has them as special tokens (v3 template: use "
                             "`mistral chat`)\n");
            }
        }
    }
    if (ids.empty())
        throw Error(Errc::kInvalidArgument, "empty prompt (and --no-bos): nothing to continue");

    Session session(*lm.model, *lm.kernels, session_options(args, lm));
    if (!session.rolling() && static_cast<int64_t>(ids.size()) > session.capacity()) {
        throw Error(Errc::kContextOverflow, "the prompt has " + std::to_string(ids.size()) +
                                                    " tokens but the context holds " +
                                                    std::to_string(session.capacity()) +
                                                    " (raise -c)");
    }
    Sampler sampler(sp);
    GenerateOptions go;
    go.max_tokens = n_predict;
    go.chunk = chunk_option(args);
    go.stop = args.all("--stop");
    go.stop_at_eos = !args.has("--ignore-eos");

    install_sigint_handler();
    if (args.has("--echo"))
        write_stdout(prompt);
    bool broken_pipe = false;
    const GenerateResult r = generate(session, sampler, lm.tokenizer.get(), ids, go,
                                      [&](TokenId, std::string_view text) {
                                          if (!write_stdout(text)) {
                                              broken_pipe = true;
                                              return false;
                                          }
                                          return !sigint_flag().load();
                                      });
    const bool interrupted = sigint_flag().load();
    if (!quiet) {
        const double pp =
                r.prompt_ms > 0 ? static_cast<double>(r.prompt_tokens) * 1000.0 / r.prompt_ms : 0.0;
        const double tg =
                r.gen_ms > 0 ? static_cast<double>(r.ids.size()) * 1000.0 / r.gen_ms : 0.0;
        // On a terminal the text has no final newline: start the timings on a fresh line.
        if (::isatty(1) && ::isatty(2))
            std::fputs("\n", stderr);
        std::fprintf(stderr,
                     "load %.0f ms | prompt %lld tokens, %.1f tok/s | generated %zu tokens, %.1f "
                     "tok/s | stop: %s | "
                     "seed %llu\n",
                     lm.load_ms, static_cast<long long>(r.prompt_tokens), pp, r.ids.size(), tg,
                     interrupted ? "interrupted" : r.stop_reason.c_str(),
                     static_cast<unsigned long long>(sp.seed));
    }
    if (interrupted)
        return 130;
    return broken_pipe ? 1 : 0;
}

}  // namespace mistral::cli
