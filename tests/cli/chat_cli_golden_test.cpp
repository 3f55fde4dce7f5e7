// `mistral chat --conversation FILE --ids` against mistral-common's InstructTokenizerV1 ids
// (fixtures/tokenizer/mistral-7b-v0.1.chat.expected.jsonl), through the built binaries: a tiny
// random model carrying the Mistral 7B v0.1 tokenizer is made with mistral-convert.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <mistral/json.h>
#include <mistral/tokenizer.h>

#include "convert/gguf_builder.h"
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
        const std::string model = test::default_model_path().string();
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
    const auto swa = test::run(test::shell_quote(test::bin_path("mistral").string()) + " chat -m " +
                                       test::shell_quote(test::default_model_path().string()) +
                                       " -n 20 --temp 0",
                               turns);
    EXPECT_EQ(swa.exit_code, 0) << swa.err;
    EXPECT_EQ(swa.err.find("dropped"), std::string::npos) << swa.err;
}

TokenizerModel mistral_v1_vocab() {
    return parse_sentencepiece_model(
            test::read_bytes(test::fixture_path("tokenizer/mistral-7b-v0.1.model")));
}

// A model with random weights whose vocabulary (a vocabulary-only GGUF) is the Mistral 7B v0.1
// one plus "[INST]" and "[/INST]" as pieces of `type` (ids 32000, 32001), the way a V3
// vocabulary (Mistral 7B v0.3) carries them as control pieces.
std::string write_v3_model(const test::TempDir& dir, const std::string& name, PieceType type,
                           const std::string& convert_args = "") {
    const TokenizerModel m = mistral_v1_vocab();
    std::vector<std::string> pieces = m.pieces;
    std::vector<float> scores = m.scores;
    std::vector<int32_t> types;
    for (PieceType t : m.types)
        types.push_back(static_cast<int32_t>(t));
    for (const char* p : {"[INST]", "[/INST]"}) {
        pieces.push_back(p);
        scores.push_back(0.0f);
        types.push_back(static_cast<int32_t>(type));
    }
    test::GgufBuilder b;
    b.header(3, 0, 6);
    b.kv_string("general.architecture", "llama");
    b.kv_string("tokenizer.ggml.model", "llama");
    b.kv_strings("tokenizer.ggml.tokens", pieces);
    b.kv_f32s("tokenizer.ggml.scores", scores);
    b.kv_i32s("tokenizer.ggml.token_type", types);
    b.kv_u32("tokenizer.ggml.bos_token_id", 1);
    const std::string vocab = (dir / (name + ".gguf")).string();
    std::ofstream(vocab, std::ios::binary)
            .write(reinterpret_cast<const char*>(b.out.data()),
                   static_cast<std::streamsize>(b.out.size()));
    const std::string model = (dir / (name + ".mst")).string();
    const auto conv = test::run(test::shell_quote(test::bin_path("mistral-convert").string()) +
                                " --random tiny -q --tokenizer " + test::shell_quote(vocab) +
                                convert_args + " -o " + test::shell_quote(model));
    EXPECT_EQ(conv.exit_code, 0) << conv.err;
    return model;
}

// A model whose vocabulary has the markers as control pieces chats in the V3 template: `info`
// names it, --conversation --ids gives mistral-common's V3 ids (control ids around each user
// turn, the system prompt on the last one), and the REPL, which can extend its cache turn by
// turn only while the system prompt stays where it was, prefills the whole conversation again
// when a system prompt has to move to the new turn; `complete` notes that markers typed in a
// prompt stay text (unless they are user-defined pieces, which text matches).
TEST(ChatCliGolden, ControlMarkerVocabularyChatsInTheV3Template) {
    test::TempDir dir;
    const std::string model = write_v3_model(dir, "v3", PieceType::kControl);
    const std::string mistral = test::shell_quote(test::bin_path("mistral").string());
    const auto info = test::run(mistral + " info --no-tensors " + test::shell_quote(model));
    ASSERT_EQ(info.exit_code, 0) << info.err;
    EXPECT_NE(info.out.find("chat template:   v3"), std::string::npos) << info.out;

    const Tokenizer tok(mistral_v1_vocab());
    const std::string file = (dir / "c.json").string();
    std::ofstream(file) << R"([{"role":"system","content":"Be brief."},)"
                        << R"({"role":"user","content":"Hello"},)"
                        << R"({"role":"assistant","content":"Hi there"},)"
                        << R"({"role":"user","content":"Bye"}])";
    const auto ids = test::run(mistral + " chat -m " + test::shell_quote(model) +
                               " --conversation " + test::shell_quote(file) + " --ids");
    ASSERT_EQ(ids.exit_code, 0) << ids.err;
    std::vector<TokenId> want = {1, 32000};
    for (const auto& [text, after] : std::vector<std::pair<std::string, std::vector<TokenId>>>{
                 {"Hello", {32001}}, {"Hi there", {2, 32000}}, {"Be brief.\n\nBye", {32001}}}) {
        const auto seg = tok.encode(text);
        want.insert(want.end(), seg.begin(), seg.end());
        want.insert(want.end(), after.begin(), after.end());
    }
    std::string want_text;
    for (TokenId id : want)
        want_text += (want_text.empty() ? "" : " ") + std::to_string(id);
    EXPECT_EQ(ids.out, want_text + "\n");

    // Piped turns: without a system prompt each turn extends the cache. With one, which moves
    // to the newest turn, the conversation is encoded again and only the cached tokens it
    // starts with are reused: on the second turn those before the first user turn's text (the
    // system prompt left it), on the third at least the whole first user turn.
    // (The preset's window of 16 would roll before the third turn: then nothing can be reused.)
    const std::string w64 =
            write_v3_model(dir, "v3-w64", PieceType::kControl, " --sliding-window 64");
    const std::string chat = mistral + " chat -m " + test::shell_quote(w64) + " -n 3 --temp 0";
    const auto plain = test::run(chat, "Hello\nBye\n");
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    const auto sys = test::run(chat + " --system 'Be brief.'", "Hello\nBye\nOk\n");
    ASSERT_EQ(sys.exit_code, 0) << sys.err;
    // The number of cached tokens the n-th turn's status line reports reused (-1: no line).
    auto reused = [](const std::string& err, int n) -> long {
        size_t at = std::string::npos;
        for (int i = 0; i < n; ++i) {
            at = err.find("[prompt:", at == std::string::npos ? 0 : at + 1);
            if (at == std::string::npos)
                return -1;
        }
        const size_t open = err.find('(', at);
        return open == std::string::npos ? -1 : std::strtol(err.c_str() + open + 1, nullptr, 10);
    };
    EXPECT_GT(reused(plain.err, 2), 0) << plain.err;
    std::vector<TokenId> before = {1, 32000}, after = {1, 32000};
    const auto with_sys = tok.encode("Be brief.\n\nHello"), hello = tok.encode("Hello");
    before.insert(before.end(), with_sys.begin(), with_sys.end());
    after.insert(after.end(), hello.begin(), hello.end());
    long common = 0;
    while (common < static_cast<long>(std::min(before.size(), after.size())) &&
           before[static_cast<size_t>(common)] == after[static_cast<size_t>(common)])
        ++common;
    EXPECT_EQ(reused(sys.err, 2), common) << sys.err;
    EXPECT_GE(reused(sys.err, 3), static_cast<long>(3 + hello.size())) << sys.err;

    // `complete` keeps sentencepiece's encoding (markers typed in a prompt are text) and says
    // so for this vocabulary; a prompt without them gets no note, nor does a v1 model.
    const std::string complete = mistral + " complete -n 1 --temp 0 -m ";
    const auto typed = test::run(complete + test::shell_quote(model) + " -p '[INST] hi [/INST]'");
    ASSERT_EQ(typed.exit_code, 0) << typed.err;
    EXPECT_NE(typed.err.find("encoded as text"), std::string::npos) << typed.err;
    const auto untyped = test::run(complete + test::shell_quote(model) + " -p 'hi'");
    ASSERT_EQ(untyped.exit_code, 0) << untyped.err;
    EXPECT_EQ(untyped.err.find("encoded as text"), std::string::npos) << untyped.err;
    const auto v1 = test::run(complete + test::shell_quote(test::default_model_path().string()) +
                              " -p '[INST] hi [/INST]'");
    ASSERT_EQ(v1.exit_code, 0) << v1.err;
    EXPECT_EQ(v1.err.find("encoded as text"), std::string::npos) << v1.err;
    // User-defined markers are matched in text (as sentencepiece does): the same prompt then
    // carries the marker ids, and there is nothing to note.
    const std::string ud = write_v3_model(dir, "v3-user-defined", PieceType::kUserDefined);
    const auto matched = test::run(complete + test::shell_quote(ud) + " -p '[INST] hi [/INST]'");
    ASSERT_EQ(matched.exit_code, 0) << matched.err;
    EXPECT_EQ(matched.err.find("encoded as text"), std::string::npos) << matched.err;
}

}  // namespace
}  // namespace mistral
