// `mistral chat --conversation FILE --ids` against mistral-common's InstructTokenizerV1 ids
// (fixtures/tokenizer/mistral-7b-v0.1.chat.expected.jsonl), through the built binaries: a tiny
// random model carrying the Mistral 7B v0.1 tokenizer is made with mistral-convert.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <mistral/json.h>

#include "test_util.h"

namespace mistral {
namespace {

TEST(ChatCliGolden, ConversationIdsEqualEveryFixtureCase) {
    test::TempDir dir;
    const std::string model = (dir / "m.mst").string();
    const auto conv = test::run(
            test::shell_quote(test::bin_path("mistral-convert").string()) +
            " --random tiny -q --tokenizer " +
            test::shell_quote(test::fixture_path("tokenizer/mistral-7b-v0.1.model").string()) +
            " -o " + test::shell_quote(model));
    ASSERT_EQ(conv.exit_code, 0) << conv.err;
    std::istringstream in(
            test::read_text(test::fixture_path("tokenizer/mistral-7b-v0.1.chat.expected.jsonl")));
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        const Json rec = Json::parse(line);
        const std::string file = (dir / ("c" + std::to_string(n) + ".json")).string();
        { std::ofstream(file) << rec.at("messages").dump(); }
        const auto r = test::run(test::shell_quote(test::bin_path("mistral").string()) +
                                 " chat -m " + test::shell_quote(model) + " --conversation " +
                                 test::shell_quote(file) + " --ids");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        std::string want;
        for (const auto& v : rec.at("ids").as_array())
            want += (want.empty() ? "" : " ") + std::to_string(v.as_int());
        EXPECT_EQ(r.out, want + "\n") << line;
        ++n;
    }
    EXPECT_GE(n, 20u);
}

TEST(CompleteCliGolden, DefaultModelReproducesReferenceGreedyText) {
    // models/kjv-tiny.mst (f16) continues the reference prompts exactly like mistral-src (f64).
    std::istringstream in(test::read_text(test::fixture_path("kjv-tiny/ref/greedy.jsonl")));
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        const Json rec = Json::parse(line);
        const std::string model =
                (std::filesystem::path(MISTRAL_SOURCE_DIR) / "models/kjv-tiny.mst").string();
        const auto r = test::run(test::shell_quote(test::bin_path("mistral").string()) +
                                 " complete -q --temp 0 -m " + test::shell_quote(model) + " -n " +
                                 std::to_string(rec.at("ids").size()) + " -p " +
                                 test::shell_quote(rec.at("prompt").as_string()));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, rec.at("text").as_string()) << rec.at("prompt").as_string();
        ++n;
    }
    EXPECT_EQ(n, 4u);
}

TEST(ChatCliGolden, FullAttentionChatDropsOldestTurnsWhenTheContextFills) {
    // kjv-tiny converted with --sliding-window 0 is a full-attention model: a 96-position
    // context fills after two turns, and the oldest turns are dropped with a notice.
    test::TempDir dir;
    const std::string model = (dir / "full.mst").string();
    const auto conv =
            test::run(test::shell_quote(test::bin_path("mistral-convert").string()) + " " +
                      test::shell_quote(test::fixture_path("kjv-tiny/hf").string()) +
                      " --sliding-window 0 -q -o " + test::shell_quote(model));
    ASSERT_EQ(conv.exit_code, 0) << conv.err;
    const std::string turns =
            "Who made the earth and the heaven and all that is in them?\n"
            "And what did the LORD say unto Moses in the land of Egypt?\n"
            "And who was the king of Israel?\nTell me more\n";
    const auto r = test::run(test::shell_quote(test::bin_path("mistral").string()) + " chat -m " +
                                     test::shell_quote(model) + " -c 96 -n 20 --temp 0",
                             turns);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("context full: dropped the oldest"), std::string::npos) << r.err;
    // Four replies, separated by blank lines.
    size_t replies = 1;
    for (size_t at = r.out.find("\n\n"); at != std::string::npos; at = r.out.find("\n\n", at + 2))
        ++replies;
    EXPECT_EQ(replies, 4u) << r.out;
    // The same model with a sliding window never needs to drop anything.
    const auto swa =
            test::run(test::shell_quote(test::bin_path("mistral").string()) + " chat -m " +
                              test::shell_quote((std::filesystem::path(MISTRAL_SOURCE_DIR) /
                                                 "models/kjv-tiny.mst")
                                                        .string()) +
                              " -n 20 --temp 0",
                      turns);
    EXPECT_EQ(swa.exit_code, 0) << swa.err;
    EXPECT_EQ(swa.err.find("dropped"), std::string::npos) << swa.err;
}

}  // namespace
}  // namespace mistral
