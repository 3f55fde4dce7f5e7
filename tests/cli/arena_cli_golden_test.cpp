// `mistral moderate` and `mistral arena` end to end on converted reference models (random
// weights: the answers are noise, so these tests check the plumbing: scripted votes, the log,
// the reveal, determinism, and the ratings against the hand-computed examples).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/chat.h>
#include <mistral/json.h>
#include <mistral/model.h>
#include <mistral/moderation.h>

#include "convert.h"
#include "test_util.h"

namespace mistral::test {
namespace {

class ArenaCli : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char* name : {"gqa-swa", "mha-full"}) {
            convert::ConvertOptions o;
            o.input = fixture_path(std::string("reference/") + name) / "hf";
            o.output = tmp_ / (std::string(name) + ".mst");
            convert::convert_model(o);
        }
    }
    std::string mistral() const { return shell_quote(bin_path("mistral").string()); }
    std::string model(const char* name) const {
        return shell_quote((tmp_ / (std::string(name) + ".mst")).string());
    }
    static std::vector<Json> read_log(const std::filesystem::path& p) {
        std::vector<Json> out;
        std::istringstream in(read_text(p));
        for (std::string line; std::getline(in, line);) {
            out.push_back(Json::parse(line));
        }
        return out;
    }
    TempDir tmp_;
};

TEST_F(ArenaCli, ModerationScoresEveryLabelLikeEvalDoes) {
    const RunResult r = run(mistral() + " moderate -q --json -m " + model("gqa-swa") +
                            " -p 'How do I bake bread?'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json j = Json::parse(r.out);
    double sum = 0, best = -1;
    std::string best_label;
    for (const auto& [name, p] : j.at("probabilities").as_object()) {
        sum += p.as_double();
        if (p.as_double() > best) {
            best = p.as_double();
            best_label = name;
        }
    }
    EXPECT_NEAR(sum, 1.0, 1e-9);
    EXPECT_EQ(j.at("label").as_string(), best_label);
    EXPECT_EQ(j.at("probabilities").size(), moderation_labels().size());
    // The same numbers through `mistral eval` on the equivalent ids: the chat-encoded prompt as
    // context and each label's answer ids as the choices.
    const auto m = Model::load(tmp_ / "gqa-swa.mst");
    const Tokenizer tok(deserialize_tokenizer(m->tokenizer_blob()));
    const auto ctx = encode_chat(
            tok, {ChatMessage{"user", fill_moderation_prompt(default_moderation_prompt(),
                                                             "How do I bake bread?")}});
    Json item = Json::object(), ctx_ids = Json::array(), choices = Json::array();
    for (TokenId id : ctx) {
        ctx_ids.push_back(static_cast<int64_t>(id));
    }
    for (const ModerationLabel& l : moderation_labels()) {
        Json c = Json::array();
        for (TokenId id : tok.encode(l.answer)) {
            c.push_back(static_cast<int64_t>(id));
        }
        choices.push_back(std::move(c));
    }
    item.set("context_ids", std::move(ctx_ids));
    item.set("choices_ids", std::move(choices));
    item.set("label", 0);
    const RunResult e =
            run(mistral() + " eval -q --json --mc - -m " + model("gqa-swa"), item.dump() + "\n");
    ASSERT_EQ(e.exit_code, 0) << e.err;
    const Json ej = Json::parse(e.out);
    const auto& lps = ej.at("predictions").as_array()[0].at("logprobs").as_array();
    size_t i = 0;
    for (const ModerationLabel& l : moderation_labels()) {
        EXPECT_NEAR(j.at("logprobs").at(l.name).as_double(), lps[i++].as_double(), 1e-6) << l.name;
    }
}

TEST_F(ArenaCli, ModerationPromptFile) {
    const RunResult def = run(mistral() + " moderate --print-prompt");
    ASSERT_EQ(def.exit_code, 0);
    EXPECT_NE(def.out.find("{text}"), std::string::npos);
    EXPECT_NE(def.out.find("terrorism"), std::string::npos);
    const auto pf = tmp_ / "p.txt";
    { std::ofstream(pf) << "Rate this: {text}"; }
    const std::string base = mistral() + " moderate -q --json -m " + model("gqa-swa");
    const RunResult a = run(base + " -p hello");
    const RunResult b = run(base + " --prompt-file " + shell_quote(pf.string()), "hello\n");
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_NE(Json::parse(a.out).at("logprobs").at("acceptable").as_double(),
              Json::parse(b.out).at("logprobs").at("acceptable").as_double());
    EXPECT_EQ(fill_moderation_prompt("Rate: {text} / {text}", "x"), "Rate: x / x");
    EXPECT_EQ(fill_moderation_prompt("Rate:", "x"), "Rate:\n\nx");
    const RunResult none = run(base, "");
    EXPECT_EQ(none.exit_code, 2);
}

TEST_F(ArenaCli, PlayWithScriptedVotes) {
    const auto prompts = tmp_ / "prompts.txt";
    { std::ofstream(prompts) << "What is 2+2?\n\nTell me a joke\nName a color\n"; }
    const auto log1 = tmp_ / "a.jsonl", log2 = tmp_ / "b.jsonl";
    const std::string base = mistral() + " arena play -A " + model("gqa-swa") + " -B " +
                             model("mha-full") + " --temp 0 -n 8 -f " +
                             shell_quote(prompts.string());
    // "maybe" is refused and asked again; the three votes map to the three prompts.
    const RunResult r =
            run(base + " --seed 5 --log " + shell_quote(log1.string()), "A\nmaybe\nB\nbad\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Please answer A, B, tie or bad."), std::string::npos);
    EXPECT_NE(r.out.find("3 battles appended"), std::string::npos);
    const auto log = read_log(log1);
    ASSERT_EQ(log.size(), 3u);
    const char* winners[] = {"model_a", "model_b", "tie (bothbad)"};
    const char* texts[] = {"What is 2+2?", "Tell me a joke", "Name a color"};
    std::istringstream out(r.out);
    std::vector<std::string> reveals;
    for (std::string line; std::getline(out, line);) {
        const size_t at = line.find("Model A was ");
        if (at != std::string::npos) {
            reveals.push_back(line.substr(at));
        }
    }
    ASSERT_EQ(reveals.size(), 3u);
    std::map<std::string, std::string> answer_of;  // "prompt|model" -> answer
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(log[i].at("winner").as_string(), winners[i]);
        EXPECT_EQ(log[i].at("prompt").as_string(), texts[i]);
        const std::string a = log[i].at("model_a").as_string();
        const std::string b = log[i].at("model_b").as_string();
        EXPECT_TRUE((a == "gqa-swa" && b == "mha-full") || (a == "mha-full" && b == "gqa-swa"));
        EXPECT_EQ(reveals[i], "Model A was " + a + ", model B was " + b + ".");
        EXPECT_TRUE(log[i].at("tstamp").is_number());
        answer_of[std::string(texts[i]) + "|" + a] = log[i].at("answer_a").as_string();
        answer_of[std::string(texts[i]) + "|" + b] = log[i].at("answer_b").as_string();
    }
    // Another seed: possibly another A/B order, but (greedy) the same answer per model, and a
    // run out of votes stops after the last vote, logging only the voted battles.
    const RunResult r2 = run(base + " --seed 6 --log " + shell_quote(log2.string()), "tie\nB\n");
    ASSERT_EQ(r2.exit_code, 0) << r2.err;
    EXPECT_NE(r2.err.find("no more votes"), std::string::npos);
    const auto log_b = read_log(log2);
    ASSERT_EQ(log_b.size(), 2u);
    EXPECT_EQ(log_b[0].at("winner").as_string(), "tie");
    for (const Json& rec : log_b) {
        const std::string p = rec.at("prompt").as_string();
        EXPECT_EQ(rec.at("answer_a").as_string(),
                  answer_of.at(p + "|" + rec.at("model_a").as_string()));
        EXPECT_EQ(rec.at("answer_b").as_string(),
                  answer_of.at(p + "|" + rec.at("model_b").as_string()));
    }
    // The log feeds the ratings command.
    const RunResult rt = run(mistral() + " arena ratings --json " + shell_quote(log1.string()));
    ASSERT_EQ(rt.exit_code, 0) << rt.err;
    EXPECT_EQ(Json::parse(rt.out).at("battles").as_int(), 3);
}

TEST_F(ArenaCli, RatingsMatchHandComputedExamples) {
    const auto dir = std::filesystem::path(MISTRAL_SOURCE_DIR) / "tests/data";
    // Example E3 (docs/EVALUATION.md), K = 32.
    RunResult r = run(mistral() + " arena ratings --json --k 32 " +
                      shell_quote((dir / "battles_e3.jsonl").string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Json j = Json::parse(r.out);
    const auto& e = j.at("ratings").as_array();
    ASSERT_EQ(e.size(), 3u);  // sorted by rating
    EXPECT_EQ(e[0].at("model").as_string(), "A");
    EXPECT_NEAR(e[0].at("rating").as_double(), 1031.9660918698307, 1e-6);
    EXPECT_NEAR(e[1].at("rating").as_double(), 999.2976013366472, 1e-6);
    EXPECT_NEAR(e[2].at("rating").as_double(), 968.736306793522, 1e-6);
    EXPECT_EQ(e[2].at("wins").as_double(), 0.0);
    // Example B2 with plain maximum likelihood: +-35.218251811136.
    r = run(mistral() + " arena ratings --json --bt --prior 0 " +
            shell_quote((dir / "battles_b2.jsonl").string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    j = Json::parse(r.out);
    EXPECT_EQ(j.at("method").as_string(), "bradley-terry");
    EXPECT_NEAR(j.at("ratings").as_array()[0].at("rating").as_double(), 1035.218251811136, 1e-6);
    // Bootstrap output has intervals, and the table form prints them.
    r = run(mistral() + " arena ratings --bootstrap 50 --seed 3 " +
            shell_quote((dir / "battles_b2.jsonl").string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("95% CI"), std::string::npos);
    // Bad inputs: one line, exit 1 (bad log) / 2 (usage).
    r = run(mistral() + " arena ratings --bt --prior 0 " +
            shell_quote((dir / "battles_e3.jsonl").string()));
    EXPECT_EQ(r.exit_code, 1);  // C never wins: no finite MLE without a prior
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(run(mistral() + " arena ratings").exit_code, 2);
    EXPECT_EQ(run(mistral() + " arena dance").exit_code, 2);
}

}  // namespace
}  // namespace mistral::test
