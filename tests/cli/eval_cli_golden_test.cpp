// `mistral perplexity` and `mistral eval` end to end on the converted reference model gqa-swa,
// against the official implementation's logits (fixtures/reference/gqa-swa/logits.f32).
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/json.h>

#include "convert.h"
#include "test_util.h"

namespace mistral::test {
namespace {

class EvalCli : public ::testing::Test {
protected:
    void SetUp() override {
        ref_ = fixture_path("reference/gqa-swa");
        convert::ConvertOptions o;
        o.input = ref_ / "hf";
        o.output = model_ = tmp_ / "m.mst";
        convert::convert_model(o);
        std::istringstream in(read_text(ref_ / "tokens.txt"));
        for (int id; in >> id;) {
            ids_.push_back(id);
        }
        logits_ = read_f32(ref_ / "logits.f32");
    }
    std::string cmd(const std::string& sub) const {
        return shell_quote(bin_path("mistral").string()) + " " + sub + " -q -m " +
               shell_quote(model_.string());
    }
    // Oracle: log softmax of the reference logits at position t, in double.
    double lsm(size_t t, int id) const {
        const float* row = logits_.data() + t * 512;
        double mx = row[0], s = 0;
        for (size_t i = 0; i < 512; ++i) {
            mx = std::max(mx, static_cast<double>(row[i]));
        }
        for (size_t i = 0; i < 512; ++i) {
            s += std::exp(static_cast<double>(row[i]) - mx);
        }
        return static_cast<double>(row[id]) - mx - std::log(s);
    }
    double reference_ppl() const {
        double nll = 0;
        for (size_t t = 0; t + 1 < ids_.size(); ++t) {
            nll -= lsm(t, ids_[t + 1]);
        }
        return std::exp(nll / static_cast<double>(ids_.size() - 1));
    }

    TempDir tmp_;
    std::filesystem::path ref_, model_;
    std::vector<int> ids_;
    std::vector<float> logits_;
};

TEST_F(EvalCli, PerplexityOfTokenIdsMatchesReference) {
    const double want = reference_ppl();
    const std::string ids = shell_quote((ref_ / "tokens.txt").string());
    // Default window (whole sequence), then windows of 24 > W = 8 advanced by 8 (every scored
    // id keeps >= 14 = L*(W-1) ids of context, so the reference logits still apply).
    for (const char* extra : {"", " --ctx 24 --stride 8", " --ctx 16 --stride 1"}) {
        const RunResult r = run(cmd("perplexity") + " --json --ids " + ids + extra);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const Json j = Json::parse(r.out);
        EXPECT_NEAR(j.at("perplexity").as_double(), want, 1e-4 * want) << extra;
        EXPECT_EQ(j.at("tokens_scored").as_int(), 47) << extra;
        EXPECT_GT(j.at("tokens_per_second").as_double(), 0.0);
    }
    // ids from stdin, plain output: "perplexity: X" first; running value on stderr without -q.
    const RunResult r = run(shell_quote(bin_path("mistral").string()) + " perplexity -m " +
                                    shell_quote(model_.string()) + " --ids - --ctx 16 --stride 16",
                            read_text(ref_ / "tokens.txt"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("perplexity: ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("45 scored of 48 (3 windows of 16"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("[3/3] perplexity"), std::string::npos) << r.err;
}

TEST_F(EvalCli, PerplexityOfText) {
    // Text mode: BOS + the text's ids (tiny512 vocabulary): "Hello  world" is 11 ids (the
    // sentencepiece oracle in fixtures/tokenizer/tiny512.expected.jsonl), so 11 are scored.
    const RunResult r = run(cmd("perplexity") + " --json", "Hello  world");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json j = Json::parse(r.out);
    EXPECT_EQ(j.at("tokens").as_int(), 12);
    EXPECT_EQ(j.at("tokens_scored").as_int(), 11);
    EXPECT_TRUE(std::isfinite(j.at("perplexity").as_double()));
}

TEST_F(EvalCli, PerplexityBadInput) {
    const std::string ids = shell_quote((ref_ / "tokens.txt").string());
    for (const std::string& bad :
         {" --ids " + ids + " --ctx 8 --stride 9", " --ids " + ids + " --ctx 1",
          " --ids " + ids + " -f x", std::string(" --ids /nonexistent")}) {
        const RunResult r = run(cmd("perplexity") + bad);
        EXPECT_NE(r.exit_code, 0) << bad;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << bad << ": " << r.err;
        EXPECT_TRUE(r.out.empty()) << bad;
    }
    const RunResult r = run(cmd("perplexity") + " --ids -", "1 2 99999");
    EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(EvalCli, MultipleChoiceMatchesReference) {
    // tests/data/mc_gqa_swa.jsonl: contexts are prefixes of tokens.txt; every choice follows
    // the reference sequence except (possibly) its last id, so its log-likelihood is a sum of
    // reference log-softmax entries. Hand-checked result: acc 3/7, acc_norm 6/7.
    const auto path = std::filesystem::path(MISTRAL_SOURCE_DIR) / "tests/data/mc_gqa_swa.jsonl";
    const RunResult r = run(cmd("eval") + " --json --mc " + shell_quote(path.string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json j = Json::parse(r.out);
    EXPECT_EQ(j.at("items").as_int(), 7);
    EXPECT_EQ(j.at("correct").as_int(), 3);
    EXPECT_EQ(j.at("correct_norm").as_int(), 6);
    std::istringstream file(read_text(path));
    std::string line;
    size_t i = 0;
    int correct = 0, correct_norm = 0;
    while (std::getline(file, line)) {
        const Json item = Json::parse(line);
        const size_t k = item.at("context_ids").size();
        const Json& p = j.at("predictions").as_array().at(i++);
        size_t best = 0, best_norm = 0;
        double bs = -1e300, bn = -1e300;
        const auto& choices = item.at("choices_ids").as_array();
        for (size_t c = 0; c < choices.size(); ++c) {
            double want = 0;
            const auto& ch = choices[c].as_array();
            for (size_t t = 0; t < ch.size(); ++t) {
                want += lsm(k - 1 + t, static_cast<int>(ch[t].as_int()));
            }
            EXPECT_NEAR(p.at("logprobs").as_array()[c].as_double(), want, 1e-4 * std::abs(want));
            const double norm = want / static_cast<double>(ch.size());
            if (want > bs) {
                bs = want;
                best = c;
            }
            if (norm > bn) {
                bn = norm;
                best_norm = c;
            }
        }
        EXPECT_EQ(p.at("pred").as_int(), static_cast<int64_t>(best)) << "item " << i;
        EXPECT_EQ(p.at("pred_norm").as_int(), static_cast<int64_t>(best_norm)) << "item " << i;
        correct += static_cast<int64_t>(best) == item.at("label").as_int();
        correct_norm += static_cast<int64_t>(best_norm) == item.at("label").as_int();
    }
    EXPECT_EQ(i, 7u);
    EXPECT_EQ(correct, 3);
    EXPECT_EQ(correct_norm, 6);
    // Plain output.
    const RunResult t = run(cmd("eval") + " --mc " + shell_quote(path.string()));
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("acc: 0.4286 (3/7"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("acc_norm: 0.8571 (6/7"), std::string::npos) << t.out;
}

TEST_F(EvalCli, TextItemsEqualTheirTokenIds) {
    // "x = y + 1;" is [325 369 325 64 306 325 46 325 373 395] (sentencepiece, tiny512 fixture);
    // pieces never cross a space, so context "x = y " (its space moves to the choice) is the
    // first five ids and choice "+ 1;" the last five (lm-eval-harness's pair rule).
    const std::string items =
            "{\"context\": \"x = y \", \"choices\": [\"+ 1;\", \"+ 1;\"], \"label\": 1}\n"
            "{\"context_ids\": [1, 325, 369, 325, 64, 306], \"choices_ids\": [[325, 46, 325, "
            "373, 395], [325, 46]], \"label\": 0}\n";
    const RunResult r = run(cmd("eval") + " --json --mc -", items);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json j = Json::parse(r.out);
    const auto& p = j.at("predictions").as_array();
    EXPECT_EQ(p[0].at("tokens").as_array()[0].as_int(), 5);
    EXPECT_NEAR(p[0].at("logprobs").as_array()[0].as_double(),
                p[1].at("logprobs").as_array()[0].as_double(), 1e-9);
    EXPECT_EQ(p[0].at("pred").as_int(), 0);  // equal scores: the first choice wins the tie
    // Bad items: one line on stderr naming the line, exit 1.
    for (const std::string& bad :
         {std::string("{\"context\": \"a\", \"choices\": [\"b\"], \"label\": 0}"),
          std::string("{\"context\": \"a\", \"choices\": [\" b\", \" c\"], \"label\": 2}"),
          std::string("{\"context_ids\": [1], \"choices_ids\": [[5], [600]], \"label\": 0}"),
          std::string("not json")}) {
        const RunResult b = run(cmd("eval") + " --mc -", "\n" + bad + "\n");
        EXPECT_EQ(b.exit_code, 1) << bad;
        EXPECT_NE(b.err.find("line 2"), std::string::npos) << b.err;
        EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << b.err;
    }
}

}  // namespace
}  // namespace mistral::test
