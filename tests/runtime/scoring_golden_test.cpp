// Perplexity and continuation scoring against the official implementation's logits
// (fixtures/reference/<name>/logits.f32 for tokens.txt). The expected values are computed here
// from those logits alone: log-softmax in double, then means / sums.
//
// Windows: RoPE makes attention depend only on relative positions, and with a sliding window W
// and L layers the logits at a position depend only on the last L*(W-1)+1 ids. So a window that
// starts at `begin` reproduces the reference logits at every in-window position j >= L*(W-1),
// and the window settings below are chosen so every scored id satisfies that (or lies in the
// first window): their expected perplexity is the reference's.
#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/kernels.h>
#include <mistral/model.h>
#include <mistral/scoring.h>
#include <mistral/session.h>

#include "convert.h"
#include "test_util.h"

namespace mistral::test {
namespace {

struct Reference {
    std::unique_ptr<Model> model;
    std::vector<TokenId> ids;
    std::vector<float> logits;  // [T, vocab]
    size_t vocab = 0;

    // log softmax(logits[t])[id] in double: the oracle.
    double lsm(size_t t, TokenId id) const {
        const float* row = logits.data() + t * vocab;
        double mx = row[0];
        for (size_t i = 0; i < vocab; ++i) {
            mx = std::max(mx, static_cast<double>(row[i]));
        }
        double s = 0;
        for (size_t i = 0; i < vocab; ++i) {
            s += std::exp(static_cast<double>(row[i]) - mx);
        }
        return static_cast<double>(row[static_cast<size_t>(id)]) - mx - std::log(s);
    }
    size_t argmax(size_t t) const {
        const float* row = logits.data() + t * vocab;
        return static_cast<size_t>(std::max_element(row, row + vocab) - row);
    }
};

Reference load_reference(const std::string& name, const TempDir& tmp) {
    const auto dir = fixture_path("reference/" + name);
    convert::ConvertOptions o;
    o.input = dir / "hf";
    o.output = tmp / (name + ".mst");
    o.overwrite = true;
    convert::convert_model(o);
    Reference r;
    r.model = Model::load(o.output);
    std::istringstream in(read_text(dir / "tokens.txt"));
    for (TokenId id; in >> id;) {
        r.ids.push_back(id);
    }
    r.logits = read_f32(dir / "logits.f32");
    r.vocab = static_cast<size_t>(r.model->config().vocab_size);
    EXPECT_EQ(r.logits.size(), r.ids.size() * r.vocab);
    return r;
}

Session scoring_session(const Model& m) {
    SessionOptions o;
    o.all_logits = true;
    if (m.config().window == 0) {
        o.ctx = 4096;
    }
    return Session(m, reference_kernels(), o);
}

TEST(PerplexityWindowsTest, HandComputedPlans) {
    using W = PerplexityWindow;
    auto eq = [](const std::vector<W>& got, const std::vector<W>& want) {
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) {
            EXPECT_EQ(got[i].begin, want[i].begin) << i;
            EXPECT_EQ(got[i].end, want[i].end) << i;
            EXPECT_EQ(got[i].score_begin, want[i].score_begin) << i;
        }
    };
    eq(perplexity_windows(48, 0, 0), {{0, 48, 1}});
    eq(perplexity_windows(48, 24, 8), {{0, 24, 1}, {8, 32, 24}, {16, 40, 32}, {24, 48, 40}});
    eq(perplexity_windows(25, 12, 12), {{0, 12, 1}, {12, 24, 13}, {24, 25, 25}});
    eq(perplexity_windows(10, 4, 3), {{0, 4, 1}, {3, 7, 4}, {6, 10, 7}});
    eq(perplexity_windows(5, 100, 0), {{0, 5, 1}});
    EXPECT_THROW(perplexity_windows(1, 0, 0), Error);
    EXPECT_THROW(perplexity_windows(10, 1, 1), Error);
    EXPECT_THROW(perplexity_windows(10, 4, 5), Error);
    EXPECT_THROW(perplexity_windows(10, 4, -1), Error);
}

class ScoringGolden : public ::testing::TestWithParam<const char*> {
protected:
    TempDir tmp_;
};

TEST_P(ScoringGolden, WholeSequencePerplexity) {
    const Reference ref = load_reference(GetParam(), tmp_);
    double nll = 0;
    for (size_t t = 0; t + 1 < ref.ids.size(); ++t) {
        nll -= ref.lsm(t, ref.ids[t + 1]);
    }
    const double want = std::exp(nll / static_cast<double>(ref.ids.size() - 1));
    Session s = scoring_session(*ref.model);
    int64_t calls = 0;
    const PerplexityResult got =
            perplexity(s, ref.ids, 0, 0, [&](const PerplexityResult&, int64_t) { ++calls; });
    EXPECT_EQ(got.scored, static_cast<int64_t>(ref.ids.size()) - 1);
    EXPECT_EQ(got.windows, 1);
    EXPECT_EQ(calls, 1);
    EXPECT_NEAR(got.ppl(), want, 1e-4 * want) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Models, ScoringGolden,
                         ::testing::Values("gqa-swa", "mqa-swa-theta1e6", "mha-full", "dim256"));

// Expected perplexity over the ids a window plan scores, from the reference logits; fails the
// test if some scored id lacks the receptive field (then the reference does not apply).
double expected_windowed(const Reference& ref, const std::vector<PerplexityWindow>& plan,
                         int64_t field, int64_t* scored) {
    double nll = 0;
    *scored = 0;
    for (const auto& w : plan) {
        for (int64_t i = w.score_begin; i < w.end; ++i) {
            const int64_t j = i - 1 - w.begin;  // in-window position that predicts id i
            EXPECT_TRUE(w.begin == 0 || j >= field) << "id " << i << " lacks context";
            nll -= ref.lsm(static_cast<size_t>(i - 1), ref.ids[static_cast<size_t>(i)]);
            ++*scored;
        }
    }
    return std::exp(nll / static_cast<double>(*scored));
}

TEST(PerplexityGolden, WindowsLongerThanTheSlidingWindow) {
    TempDir tmp;
    struct Case {
        const char* model;
        int64_t ctx, stride;
    };
    // gqa-swa: W 8, 2 layers (field 14), T 48. mqa: W 5, 3 layers (field 12), T 40. The first
    // new id of a later window is predicted from in-window position ctx - stride - 1 >= field.
    for (const Case c : {Case{"gqa-swa", 24, 8}, Case{"gqa-swa", 22, 7}, Case{"gqa-swa", 16, 1},
                         Case{"mqa-swa-theta1e6", 20, 5}, Case{"mqa-swa-theta1e6", 14, 1}}) {
        const Reference ref = load_reference(c.model, tmp);
        const ModelConfig& cfg = ref.model->config();
        ASSERT_GT(c.ctx, cfg.window);
        const int64_t field = cfg.n_layers * (cfg.window - 1);
        const auto plan = perplexity_windows(static_cast<int64_t>(ref.ids.size()), c.ctx, c.stride);
        int64_t want_scored = 0;
        const double want = expected_windowed(ref, plan, field, &want_scored);
        Session s = scoring_session(*ref.model);
        const PerplexityResult got = perplexity(s, ref.ids, c.ctx, c.stride);
        EXPECT_EQ(got.scored, want_scored);
        EXPECT_EQ(got.scored, static_cast<int64_t>(ref.ids.size()) - 1);  // overlap >= field
        EXPECT_EQ(got.windows, static_cast<int64_t>(plan.size()));
        EXPECT_NEAR(got.ppl(), want, 1e-4 * want) << c.model << " ctx " << c.ctx;
    }
}

TEST(PerplexityGolden, NonOverlappingWindowsScoreOnlyWhatTheyCover) {
    TempDir tmp;
    const Reference ref = load_reference("gqa-swa", tmp);
    Session s = scoring_session(*ref.model);
    // ctx = stride = 16 over 48 ids: windows [0,16) [16,32) [32,48); ids 16 and 32 unscored.
    const PerplexityResult got = perplexity(s, ref.ids, 16, 16);
    EXPECT_EQ(got.windows, 3);
    EXPECT_EQ(got.scored, 45);
    EXPECT_EQ(got.fed, 45);
    // The ids at in-window positions >= 14 still match the reference; the others (short
    // context) must differ from it, which shows each window really starts afresh.
    Session s2 = scoring_session(*ref.model);
    const std::vector<TokenId> second(ref.ids.begin() + 16, ref.ids.begin() + 32);
    s2.reset();
    const auto logits = s2.forward(std::span<const TokenId>(second).subspan(0, 8), 0, true);
    EXPECT_GT(std::abs(log_prob(logits.subspan(2 * ref.vocab, ref.vocab), second[3]) -
                       ref.lsm(18, ref.ids[19])),
              1e-3);
}

TEST(ContinuationGolden, MatchesReferenceLogits) {
    TempDir tmp;
    const Reference ref = load_reference("gqa-swa", tmp);  // W = 8
    Session s = scoring_session(*ref.model);
    // Choices whose every id but the last follows the reference sequence, so their
    // log-likelihood is a sum of reference log-softmax entries.
    for (const size_t k : {size_t{3}, size_t{5}, size_t{10}, size_t{30}}) {
        const std::vector<TokenId> ctx(ref.ids.begin(), ref.ids.begin() + static_cast<long>(k));
        const std::vector<std::vector<TokenId>> choices = {
                {ref.ids[k], ref.ids[k + 1], ref.ids[k + 2]},  // the true continuation
                {7},                                           // one arbitrary id
                {ref.ids[k], 300},                             // true prefix + arbitrary id
                {ref.ids[k], ref.ids[k + 1], ref.ids[k + 2], ref.ids[k + 3], ref.ids[k + 4]},
                {static_cast<TokenId>(ref.argmax(k - 1))},  // the greedy id
        };
        int64_t prefills = 0;
        const auto got = score_continuations(s, ctx, choices, &prefills);
        ASSERT_EQ(got.size(), choices.size());
        for (size_t c = 0; c < choices.size(); ++c) {
            double want = 0;
            bool greedy = true;
            for (size_t i = 0; i < choices[c].size(); ++i) {
                want += ref.lsm(k - 1 + i, choices[c][i]);
                greedy = greedy && ref.argmax(k - 1 + i) == static_cast<size_t>(choices[c][i]);
            }
            EXPECT_NEAR(got[c].logprob, want, 1e-4 * std::max(1.0, std::abs(want)))
                    << "k " << k << " choice " << c;
            EXPECT_EQ(got[c].tokens, static_cast<int64_t>(choices[c].size()));
            EXPECT_EQ(got[c].greedy, greedy) << "k " << k << " choice " << c;
        }
        EXPECT_TRUE(got[4].greedy);
        // The rolling cache holds 8 positions. k = 3 and 5: every rewind happens while
        // context + fed ids <= 8 (k = 5: choice 3 spills, but choice 4 feeds nothing), so one
        // prefill. k >= 10: the context alone overflows it, so choices 2 and 3 prefill again.
        EXPECT_EQ(prefills, k <= 5 ? 1 : 3) << "k " << k;
    }
    EXPECT_THROW(score_continuations(s, {}, std::vector<std::vector<TokenId>>{{1}}), Error);
    const std::vector<TokenId> one = {1};
    EXPECT_THROW(score_continuations(s, one, std::vector<std::vector<TokenId>>{{}}), Error);
    EXPECT_THROW(score_continuations(s, one, std::vector<std::vector<TokenId>>{{9999}}), Error);
}

}  // namespace
}  // namespace mistral::test
