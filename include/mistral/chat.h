// The Mistral 7B Instruct v0.1 chat template, exactly as mistral-common's InstructTokenizerV1
// builds it, and conversation (de)serialisation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <mistral/tokenizer.h>

namespace mistral {

struct ChatMessage {
    std::string role;  // "system", "user" or "assistant"
    std::string content;
};

// The paper's §5.1 guardrail system prompt.
inline constexpr std::string_view kGuardrailPrompt =
        "Always assist with care, respect, and truth. Respond with utmost utility yet securely. "
        "Avoid harmful, unethical, prejudiced, or negative content. Ensure replies promote "
        "fairness and positivity.";

// Parses a conversation: a JSON list of {"role", "content"} objects, or an object with a
// "messages" list. Throws Error(kBadValue) on malformed JSON, unknown roles, non-string content.
std::vector<ChatMessage> parse_conversation(std::string_view json_text);
// The inverse: {"messages": [...]} pretty-printed.
std::string conversation_to_json(const std::vector<ChatMessage>& messages);

// Checks the v1 ordering rules: optional system messages first, then user/assistant turns
// alternating, starting with user. Throws Error(kBadValue) naming the offending message.
void validate_conversation(const std::vector<ChatMessage>& messages);

// Token ids of the whole conversation: BOS; per user turn encode("[INST] " + content +
// " [/INST]"), with the system prompt(s) + "\n\n" prepended to the first user turn's content;
// per assistant turn encode(content) + EOS. Each segment is encoded on its own.
std::vector<TokenId> encode_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages);

// The ids of one new user turn appended to a conversation whose earlier turns are already in
// the KV cache (no BOS): encode("[INST] " + prefix + content + " [/INST]").
std::vector<TokenId> encode_user_turn(const Tokenizer& tok, std::string_view content,
                                      std::string_view system = {});

}  // namespace mistral
