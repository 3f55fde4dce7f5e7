// `mistral moderate -m MODEL [-p TEXT | stdin] [--prompt-file FILE] [--json]`: self-reflection
// moderation (paper section 5.2) with our documented prompt (docs/MODERATION.md): prints the
// most probable label and every label's probability.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include <mistral/error.h>
#include <mistral/json.h>
#include <mistral/moderation.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace mistral::cli {

namespace {

constexpr OptSpec kModerateOpts[] = {
        {"--model,-m", "FILE", "model file (an instruct model)"},
        {"--prompt,-p", "TEXT", "the text to classify (default: stdin)"},
        {"--prompt-file", "FILE", "replace our moderation prompt ({text} marks the text)"},
        {"--print-prompt", "", "print the moderation prompt in use and exit"},
        {"--json", "", "print the result as one JSON object"},
        {"--threads,-t", "N", "threads (default: physical cores)"},
        {"--quiet,-q", "", "no load summary on stderr"},
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw Error(Errc::kIo, path + ": cannot open");
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int cmd_moderate(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral moderate -m MODEL [-p TEXT | < text] [--prompt-file FILE] [--json]",
                "Classify a text as acceptable, illegal, hateful or unqualified_advice by the "
                "model's own judgement (label log-likelihoods).",
                kModerateOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kModerateOpts, 0);
    std::string prompt(default_moderation_prompt());
    if (const auto f = args.get("--prompt-file")) {
        prompt = read_file(*f);
    }
    if (args.has("--print-prompt")) {
        std::cout << prompt << "\n";
        return 0;
    }
    std::string text;
    if (const auto p = args.get("--prompt")) {
        text = *p;
    } else {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        if (!text.empty() && text.back() == '\n') {
            text.pop_back();
        }
    }
    if (text.empty()) {
        throw UsageError("no text to classify (-p TEXT or stdin)");
    }
    LoadedModel lm = load_model(args, args.has("--quiet"));
    SessionOptions so;
    so.all_logits = true;
    so.pool = lm.pool.get();
    Session session(*lm.model, *lm.kernels, so);
    const ModerationResult r = moderate(session, *lm.tokenizer, prompt, text);
    if (args.has("--json")) {
        Json probs = Json::object(), lps = Json::object();
        for (size_t i = 0; i < r.labels.size(); ++i) {
            probs.set(r.labels[i], r.probs[i]);
            lps.set(r.labels[i], r.logprobs[i]);
        }
        Json j = Json::object();
        j.set("label", r.label);
        j.set("probabilities", std::move(probs));
        j.set("logprobs", std::move(lps));
        std::cout << j.dump() << "\n";
    } else {
        std::cout << "label: " << r.label << "\n";
        for (size_t i = 0; i < r.labels.size(); ++i) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "  %-20s %.6f  (log-likelihood %.4f)\n",
                          r.labels[i].c_str(), r.probs[i], r.logprobs[i]);
            std::cout << buf;
        }
    }
    return 0;
}

}  // namespace mistral::cli
