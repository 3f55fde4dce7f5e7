// Self-reflection moderation (Mistral 7B paper, section 5.2): the model itself is asked to
// classify a text as acceptable or as one of the paper's harm categories, and each label is
// scored by the log-likelihood of its answer word (no free-form parsing). The prompt is ours
// (the paper does not publish its own); docs/MODERATION.md documents it.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mistral/session.h>
#include <mistral/tokenizer.h>

namespace mistral {

struct ModerationLabel {
    std::string_view name;    // reported label
    std::string_view answer;  // the answer text scored as the assistant's reply
};

// acceptable, illegal, hateful, unqualified_advice (answers: the same words).
std::span<const ModerationLabel> moderation_labels();

// Our default prompt; "{text}" marks where the text goes.
std::string_view default_moderation_prompt();

// `prompt` with every "{text}" replaced by `text`; without a placeholder, the text is appended
// after a blank line.
std::string fill_moderation_prompt(std::string_view prompt, std::string_view text);

struct ModerationResult {
    std::string label;                // the most probable label (first on ties)
    std::vector<std::string> labels;  // every label, in moderation_labels() order
    std::vector<double> logprobs;     // log p(answer | prompt), summed over its ids
    std::vector<double> probs;        // softmax of logprobs over the labels (sums to 1)
};

// Builds the user turn fill_moderation_prompt(prompt, text) with the chat template
// (encode_chat), scores every label's answer ids (tok.encode(answer), as an assistant reply is
// encoded) with score_continuations, and normalises. The session needs all_logits = true.
ModerationResult moderate(Session& session, const Tokenizer& tok, std::string_view prompt,
                          std::string_view text);

}  // namespace mistral
