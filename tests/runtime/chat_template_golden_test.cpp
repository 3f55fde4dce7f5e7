// The chat templates: V1 against mistral-common's InstructTokenizerV1 ids
// (fixtures/tokenizer/mistral-7b-v0.1.chat.expected.jsonl), V3 against its documented rule.
#include <algorithm>
#include <sstream>

#include <gtest/gtest.h>
#include <mistral/chat.h>
#include <mistral/json.h>
#include <mistral/tokenizer.h>

#include "test_util.h"

namespace mistral {
namespace {

Tokenizer mistral_tokenizer() {
    const auto bytes = test::read_bytes(test::fixture_path("tokenizer/mistral-7b-v0.1.model"));
    return Tokenizer(parse_sentencepiece_model(bytes));
}

TEST(ChatTemplateGolden, EveryFixtureConversation) {
    const Tokenizer tok = mistral_tokenizer();
    std::istringstream in(
            test::read_text(test::fixture_path("tokenizer/mistral-7b-v0.1.chat.expected.jsonl")));
    std::string line;
    size_t cases = 0;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        const Json rec = Json::parse(line);
        // The fixture line is itself an object with a "messages" list.
        const std::vector<ChatMessage> msgs = parse_conversation(line);
        std::vector<TokenId> want;
        for (const auto& v : rec.at("ids").as_array())
            want.push_back(static_cast<TokenId>(v.as_int()));
        EXPECT_EQ(encode_chat(tok, msgs), want) << line;
        ++cases;
    }
    EXPECT_GE(cases, 20u);
}

// The Mistral 7B v0.1 vocabulary with "[INST]" and "[/INST]" appended as control pieces (ids
// 32000, 32001), as V2/V3 vocabularies carry them (Mistral 7B v0.3 has them at 3 and 4).
TokenizerModel with_inst_controls(TokenizerModel m) {
    for (const char* p : {"[INST]", "[/INST]"}) {
        m.pieces.push_back(p);
        m.scores.push_back(0.0f);
        m.types.push_back(PieceType::kControl);
    }
    return m;
}

std::vector<TokenId> cat(std::initializer_list<std::vector<TokenId>> parts) {
    std::vector<TokenId> out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// mistral-common's InstructTokenizerV2/V3 rule (its documented encoding: BOS, INST_ID,
// encode(user), END_INST_ID, encode(assistant), EOS, ...; the system prompt + "\n\n" before the
// LAST user message), assembled here from segment encodings the sentencepiece fixtures prove.
TEST(ChatTemplate, ControlMarkersSelectTheV3Template) {
    const Tokenizer v1 = mistral_tokenizer();
    const Tokenizer v3(with_inst_controls(v1.model()));
    EXPECT_EQ(chat_format(v1), ChatFormat::kV1);
    EXPECT_EQ(chat_format(v3), ChatFormat::kV3);
    EXPECT_EQ(chat_format_name(chat_format(v3)), "v3");
    const TokenId inst = 32000, end = 32001, bos = v3.bos_id(), eos = v3.eos_id();
    auto enc = [&](const std::string& t) { return v3.encode(t); };

    const std::vector<ChatMessage> msgs = {{"system", "Be brief."},
                                           {"user", "Hello, how are you?"},
                                           {"assistant", "Fine, and you?"},
                                           {"user", "I'm doing great!"}};
    EXPECT_EQ(encode_chat(v3, msgs), cat({{bos, inst},
                                          enc("Hello, how are you?"),
                                          {end},
                                          enc("Fine, and you?"),
                                          {eos},
                                          {inst},
                                          enc("Be brief.\n\nI'm doing great!"),
                                          {end}}));
    // Two system messages join with a blank line; a conversation ending with an assistant turn
    // puts the system prompt on the last user turn before it.
    EXPECT_EQ(
            encode_chat(v3, {{"system", "A"}, {"system", "B"}, {"user", "x"}, {"assistant", "y"}}),
            cat({{bos, inst}, enc("A\n\nB\n\nx"), {end}, enc("y"), {eos}}));
    // Without a system prompt, and markers typed by the user stay text (sentencepiece never
    // matches a control piece in text).
    const auto typed = encode_chat(v3, {{"user", "say [INST] and [/INST]"}});
    EXPECT_EQ(typed, cat({{bos, inst}, enc("say [INST] and [/INST]"), {end}}));
    EXPECT_EQ(std::count(typed.begin(), typed.end(), inst), 1);
    // One new turn for a cached conversation: no BOS, the system prompt only when given.
    EXPECT_EQ(encode_user_turn(v3, "hi"), cat({{inst}, enc("hi"), {end}}));
    EXPECT_EQ(encode_user_turn(v3, "hi", "S"), cat({{inst}, enc("S\n\nhi"), {end}}));
    // V1 keeps the markers as text and the system prompt on the first user turn.
    EXPECT_EQ(encode_chat(v1, msgs),
              cat({{bos},
                   v1.encode("[INST] Be brief.\n\nHello, how are you? [/INST]"),
                   v1.encode("Fine, and you?"),
                   {eos},
                   v1.encode("[INST] I'm doing great! [/INST]")}));
    // Only one marker as a control piece is not the V3 vocabulary.
    TokenizerModel half = v1.model();
    half.pieces.push_back("[INST]");
    half.scores.push_back(0.0f);
    half.types.push_back(PieceType::kControl);
    EXPECT_EQ(chat_format(Tokenizer(std::move(half))), ChatFormat::kV1);
    // User-defined markers are single pieces too (sentencepiece also matches them in text).
    TokenizerModel user_defined = with_inst_controls(v1.model());
    user_defined.types[32000] = user_defined.types[32001] = PieceType::kUserDefined;
    const Tokenizer ud(std::move(user_defined));
    EXPECT_EQ(chat_format(ud), ChatFormat::kV3);
    EXPECT_EQ(encode_chat(ud, {{"user", "hi"}}), cat({{bos, inst}, ud.encode("hi"), {end}}));
}

TEST(ChatTemplate, ConversationJsonRoundTripAndValidation) {
    const std::vector<ChatMessage> msgs = {
            {"system", "be brief"}, {"user", "hi \"there\"\n"}, {"assistant", "yo"}};
    EXPECT_EQ(parse_conversation(conversation_to_json(msgs)).size(), 3u);
    EXPECT_EQ(parse_conversation(conversation_to_json(msgs))[1].content, "hi \"there\"\n");
    EXPECT_EQ(parse_conversation(R"([{"role":"user","content":"x"}])").size(), 1u);
    EXPECT_THROW(parse_conversation(R"([{"role":"bot","content":"x"}])"), Error);
    EXPECT_THROW(parse_conversation(R"({"msgs":[]})"), Error);
    EXPECT_THROW(parse_conversation(R"([{"role":"user"}])"), Error);
    EXPECT_THROW(validate_conversation({{"assistant", "x"}}), Error);
    EXPECT_THROW(validate_conversation({{"user", "x"}, {"user", "y"}}), Error);
    EXPECT_THROW(validate_conversation({{"user", "x"}, {"system", "y"}}), Error);
    EXPECT_NO_THROW(validate_conversation(
            {{"system", "s"}, {"user", "x"}, {"assistant", "y"}, {"user", "z"}}));
}

}  // namespace
}  // namespace mistral
