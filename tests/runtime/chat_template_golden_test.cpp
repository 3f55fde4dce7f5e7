// The chat template against mistral-common's InstructTokenizerV1 ids
// (fixtures/tokenizer/mistral-7b-v0.1.chat.expected.jsonl).
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
