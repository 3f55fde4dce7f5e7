// The Mistral 7B Instruct chat templates, exactly as mistral-common's instruct tokenizers build
// them (V1, and V2/V3 for SentencePiece vocabularies whose [INST] markers are special pieces),
// and conversation (de)serialisation.
#pragma once

#include <optional>
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

// Which of mistral-common's instruct formats a vocabulary implies.
//  kV1 (Mistral 7B v0.1/v0.2): "[INST]" and "[/INST]" are plain text; a user turn is
//      encode("[INST] " + content + " [/INST]"); the system prompt goes to the first user turn.
//  kV3 (V2 and V3 alike without tools; Mistral 7B v0.3): both markers are control (or
//      user-defined) pieces of the vocabulary; a user turn is the [INST] id, encode(content), the
//      [/INST] id; the system prompt goes to the last user turn.
// In both, the system prompt(s) + "\n\n" are prepended to that turn's content, an assistant
// turn is encode(content) + EOS, and every segment is encoded on its own (so each starts with
// the dummy-prefix space).
enum class ChatFormat { kV1, kV3 };
// The ids of "[INST]" and "[/INST]" when the vocabulary has both as control or user-defined
// pieces (encode() never produces a control piece from text; it matches a user-defined one
// whole, as sentencepiece does), else nullopt.
struct InstMarkers {
    TokenId begin, end;
};
std::optional<InstMarkers> inst_markers(const Tokenizer& tok);
// kV3 when inst_markers finds both markers, else kV1.
ChatFormat chat_format(const Tokenizer& tok);
std::string_view chat_format_name(ChatFormat f);  // "v1" or "v3"

// Token ids of the whole conversation in the tokenizer's format (chat_format): BOS, then the
// turns as above.
std::vector<TokenId> encode_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages);

// The ids of one new user turn appended to a conversation whose earlier turns are already in
// the KV cache (no BOS), with `system` + "\n\n" prepended to the content when not empty.
std::vector<TokenId> encode_user_turn(const Tokenizer& tok, std::string_view content,
                                      std::string_view system = {});

}  // namespace mistral
