// `mistral eval -m MODEL --mc FILE.jsonl [--json]`: zero-shot multiple-choice scoring as the
// paper's benchmarks (HellaSwag, ARC, PIQA, ...) are scored: for each choice the summed and the
// per-token log-likelihood of its ids given the context (prefilled once per item); accuracy
// under both. Items: {"context": "...", "choices": ["...", ...], "label": k}, or pre-tokenized
// {"context_ids": [...], "choices_ids": [[...], ...], "label": k} (ids used as is).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include <mistral/error.h>
#include <mistral/json.h>
#include <mistral/scoring.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace mistral::cli {

namespace {

constexpr OptSpec kEvalOpts[] = {
        {"--model,-m", "FILE", "model file"},
        {"--mc", "FILE", "multiple-choice items, one JSON object a line (\"-\": stdin)"},
        {"--limit", "N", "score only the first N items"},
        {"--json", "", "print accuracies and per-item predictions as one JSON object"},
        {"--threads,-t", "N", "threads (default: physical cores)"},
        {"--quiet,-q", "", "no load summary or progress on stderr"},
};

struct Item {
    std::vector<TokenId> context;
    std::vector<std::vector<TokenId>> choices;
    int64_t label = 0;
};

std::vector<TokenId> id_array(const Json& j, int64_t vocab, const std::string& where) {
    std::vector<TokenId> out;
    for (const Json& v : j.as_array()) {
        const int64_t id = v.as_int();
        if (id < 0 || id >= vocab) {
            throw Error(Errc::kBadValue, where + ": token id " + std::to_string(id) +
                                                 " out of range [0, " + std::to_string(vocab) +
                                                 ")");
        }
        out.push_back(static_cast<TokenId>(id));
    }
    return out;
}

Item parse_item(const Json& j, const Tokenizer& tok, int64_t vocab) {
    Item it;
    if (const Json* ids = j.find("context_ids")) {
        it.context = id_array(*ids, vocab, "context_ids");
        for (const Json& c : j.at("choices_ids").as_array()) {
            it.choices.push_back(id_array(c, vocab, "choices_ids"));
        }
    } else {
        const std::string& ctx = j.at("context").as_string();
        for (const Json& c : j.at("choices").as_array()) {
            EncodedPair p = encode_pair(tok, ctx, c.as_string());
            it.context = std::move(p.context);  // the same for every choice
            it.choices.push_back(std::move(p.continuation));
        }
    }
    if (it.choices.size() < 2) {
        throw Error(Errc::kBadValue, "an item needs at least 2 choices");
    }
    if (it.context.empty()) {
        throw Error(Errc::kBadValue, "empty context_ids");
    }
    for (const auto& c : it.choices) {
        if (c.empty()) {
            throw Error(Errc::kBadValue, "a choice has no token ids");
        }
    }
    it.label = j.at("label").as_int();
    if (it.label < 0 || it.label >= static_cast<int64_t>(it.choices.size())) {
        throw Error(Errc::kBadValue, "label " + std::to_string(it.label) + " out of range");
    }
    return it;
}

// Index of the largest value; the first one on ties.
size_t best(const std::vector<double>& v) {
    return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

int cmd_eval(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help("mistral eval -m MODEL --mc FILE.jsonl [--json]",
                                 "Zero-shot multiple-choice accuracy by choice log-likelihood.",
                                 kEvalOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kEvalOpts, 0);
    const auto mc_path = args.get("--mc");
    if (!mc_path) {
        throw UsageError("no items given (--mc FILE.jsonl)");
    }
    const int64_t limit = args.get_int("--limit", -1, 1, int64_t{1} << 40);
    const bool quiet = args.has("--quiet");
    std::string text;
    if (*mc_path == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(*mc_path, std::ios::binary);
        if (!in) {
            throw Error(Errc::kIo, *mc_path + ": cannot open");
        }
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    LoadedModel lm = load_model(args, quiet);
    const ModelConfig& cfg = lm.model->config();

    // Parse and tokenize everything first: bad input fails before any scoring, and the
    // longest item sizes a full-attention cache.
    std::vector<Item> items;
    size_t line_no = 0, pos = 0;
    while (pos < text.size() && (limit < 0 || static_cast<int64_t>(items.size()) < limit)) {
        const size_t nl = std::min(text.find('\n', pos), text.size());
        const std::string_view line(text.data() + pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
            continue;
        }
        try {
            items.push_back(parse_item(Json::parse(line), *lm.tokenizer, cfg.vocab_size));
        } catch (const Error& e) {
            throw Error(e.code(), *mc_path + ": line " + std::to_string(line_no) + ": " + e.what());
        }
    }
    if (items.empty()) {
        throw Error(Errc::kBadValue, *mc_path + ": no items");
    }
    int64_t longest = 0;
    for (const Item& it : items) {
        for (const auto& c : it.choices) {
            longest = std::max(longest, static_cast<int64_t>(it.context.size() + c.size()));
        }
    }
    SessionOptions so;
    so.all_logits = true;
    so.pool = lm.pool.get();
    so.ctx = cfg.window > 0 ? 0 : longest;
    Session session(*lm.model, *lm.kernels, so);

    int64_t correct = 0, correct_norm = 0;
    Json preds = Json::array();
    for (size_t i = 0; i < items.size(); ++i) {
        const Item& it = items[i];
        const auto scores = score_continuations(session, it.context, it.choices);
        std::vector<double> sum, norm;
        Json lp = Json::array(), ntok = Json::array();
        for (const auto& s : scores) {
            sum.push_back(s.logprob);
            norm.push_back(s.logprob / static_cast<double>(s.tokens));
            lp.push_back(s.logprob);
            ntok.push_back(s.tokens);
        }
        const size_t pred = best(sum), pred_norm = best(norm);
        correct += static_cast<int64_t>(pred) == it.label;
        correct_norm += static_cast<int64_t>(pred_norm) == it.label;
        if (!quiet) {
            std::fprintf(stderr, "[%zu/%zu] acc %.4f acc_norm %.4f\n", i + 1, items.size(),
                         static_cast<double>(correct) / static_cast<double>(i + 1),
                         static_cast<double>(correct_norm) / static_cast<double>(i + 1));
        }
        Json p = Json::object();
        p.set("index", static_cast<int64_t>(i));
        p.set("label", it.label);
        p.set("pred", static_cast<int64_t>(pred));
        p.set("pred_norm", static_cast<int64_t>(pred_norm));
        p.set("logprobs", std::move(lp));
        p.set("tokens", std::move(ntok));
        preds.push_back(std::move(p));
    }
    const double n = static_cast<double>(items.size());
    if (args.has("--json")) {
        Json j = Json::object();
        j.set("items", static_cast<int64_t>(items.size()));
        j.set("acc", static_cast<double>(correct) / n);
        j.set("acc_norm", static_cast<double>(correct_norm) / n);
        j.set("correct", correct);
        j.set("correct_norm", correct_norm);
        j.set("predictions", std::move(preds));
        std::cout << j.dump() << "\n";
    } else {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "items: %zu\nacc: %.4f (%lld/%zu, summed log-likelihood)\nacc_norm: %.4f "
                      "(%lld/%zu, per-token log-likelihood)\n",
                      items.size(), static_cast<double>(correct) / n,
                      static_cast<long long>(correct), items.size(),
                      static_cast<double>(correct_norm) / n, static_cast<long long>(correct_norm),
                      items.size());
        std::cout << buf;
    }
    return 0;
}

}  // namespace mistral::cli
