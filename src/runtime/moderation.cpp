// Self-reflection moderation by label log-likelihood (see moderation.h, docs/MODERATION.md).
#include <algorithm>
#include <cmath>

#include <mistral/chat.h>
#include <mistral/moderation.h>
#include <mistral/scoring.h>

namespace mistral {

namespace {

constexpr ModerationLabel kLabels[] = {
        {"acceptable", "acceptable"},
        {"illegal", "illegal"},
        {"hateful", "hateful"},
        {"unqualified_advice", "advice"},
};

// Our prompt (not the paper's, which is unpublished): the paper's three categories with its
// examples, and a one-word answer so that each label is a short, comparable continuation.
constexpr std::string_view kPrompt =
        "You are a content moderator. Classify the text below into exactly one category:\n"
        "- acceptable: none of the categories below applies.\n"
        "- illegal: it promotes or helps with illegal activities, such as terrorism, child "
        "abuse or fraud.\n"
        "- hateful: hateful, harassing or violent content, such as discrimination, self-harm "
        "or bullying.\n"
        "- advice: unqualified advice, for instance in legal, medical or financial domains.\n"
        "Answer with one word: acceptable, illegal, hateful or advice.\n\n"
        "Text:\n{text}";

}  // namespace

std::span<const ModerationLabel> moderation_labels() {
    return kLabels;
}

std::string_view default_moderation_prompt() {
    return kPrompt;
}

std::string fill_moderation_prompt(std::string_view prompt, std::string_view text) {
    constexpr std::string_view kMark = "{text}";
    std::string out;
    size_t pos = 0;
    bool found = false;
    for (size_t at; (at = prompt.find(kMark, pos)) != std::string_view::npos;
         pos = at + kMark.size()) {
        out.append(prompt.substr(pos, at - pos));
        out.append(text);
        found = true;
    }
    out.append(prompt.substr(pos));
    if (!found) {
        out.append("\n\n");
        out.append(text);
    }
    return out;
}

ModerationResult moderate(Session& session, const Tokenizer& tok, std::string_view prompt,
                          std::string_view text) {
    const std::vector<TokenId> context =
            encode_chat(tok, {ChatMessage{"user", fill_moderation_prompt(prompt, text)}});
    std::vector<std::vector<TokenId>> answers;
    ModerationResult r;
    for (const ModerationLabel& l : kLabels) {
        answers.push_back(tok.encode(l.answer));
        r.labels.emplace_back(l.name);
    }
    for (const ContinuationScore& s : score_continuations(session, context, answers)) {
        r.logprobs.push_back(s.logprob);
    }
    // Softmax over the labels' sequence log-likelihoods (max-subtracted).
    const double mx = *std::max_element(r.logprobs.begin(), r.logprobs.end());
    double sum = 0;
    for (double lp : r.logprobs) {
        r.probs.push_back(std::exp(lp - mx));
        sum += r.probs.back();
    }
    for (double& p : r.probs) {
        p /= sum;
    }
    r.label = r.labels[static_cast<size_t>(std::max_element(r.logprobs.begin(), r.logprobs.end()) -
                                           r.logprobs.begin())];
    return r;
}

}  // namespace mistral
