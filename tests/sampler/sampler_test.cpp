// Sampler tests. Oracles: the published xoshiro256** / splitmix64 output vectors, hand-computed
// cases for each pipeline step, and a deliberately naive reference of the documented pipeline
// (full sort, normalised softmax, written independently here) for randomised cases.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/sampler.h>

#include "test_util.h"

namespace mistral {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// All filters off, temperature 1: the plain softmax.
SamplerParams plain() {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

std::vector<TokenId> ids_of(std::span<const Candidate> c) {
    std::vector<TokenId> out;
    for (const auto& x : c) {
        out.push_back(x.id);
    }
    return out;
}

// softmax(v / t) in double.
std::vector<double> softmax(const std::vector<double>& v, double t = 1.0) {
    double mx = *std::max_element(v.begin(), v.end());
    std::vector<double> e;
    double s = 0;
    for (double x : v) {
        e.push_back(std::exp((x - mx) / t));
        s += e.back();
    }
    for (double& x : e) {
        x /= s;
    }
    return e;
}

void expect_probs(std::span<const Candidate> got, const std::vector<TokenId>& ids,
                  const std::vector<double>& probs, double tol = 1e-6) {
    ASSERT_EQ(ids_of(got), ids);
    ASSERT_EQ(got.size(), probs.size());
    for (size_t i = 0; i < probs.size(); ++i) {
        EXPECT_NEAR(got[i].prob, probs[i], tol) << "candidate " << i << " (id " << ids[i] << ")";
    }
}

// ---- the RNG against published vectors -------------------------------------------------------

TEST(Xoshiro256, MatchesPublishedVectorFromState1234) {
    // Reference outputs of xoshiro256starstar.c from state {1, 2, 3, 4} (as used by the
    // rand_xoshiro crate's test suite).
    auto r = Xoshiro256::from_state({1, 2, 3, 4});
    const uint64_t want[] = {11520ull,
                             0ull,
                             1509978240ull,
                             1215971899390074240ull,
                             1216172134540287360ull,
                             607988272756665600ull,
                             16172922978634559625ull,
                             8476171486693032832ull,
                             10595114339597558777ull,
                             2904607092377533576ull};
    for (uint64_t w : want) {
        EXPECT_EQ(r.next_u64(), w);
    }
}

TEST(Xoshiro256, SplitMix64MatchesPublishedVectorFromZero) {
    uint64_t s = 0;
    EXPECT_EQ(Xoshiro256::splitmix64(&s), 0xE220A8397B1DCDAFull);
    EXPECT_EQ(Xoshiro256::splitmix64(&s), 0x6E789E6AA1B965F4ull);
    EXPECT_EQ(Xoshiro256::splitmix64(&s), 0x06C45D188009454Full);
    EXPECT_EQ(Xoshiro256::splitmix64(&s), 0xF88BB8A8724C81ECull);
}

TEST(Xoshiro256, SeedingIsFourSplitMixOutputs) {
    auto a = Xoshiro256::from_state({0xE220A8397B1DCDAFull, 0x6E789E6AA1B965F4ull,
                                     0x06C45D188009454Full, 0xF88BB8A8724C81ECull});
    Xoshiro256 b(0);
    for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(a.next_u64(), b.next_u64());
    }
    b.reseed(0);
    auto c = Xoshiro256::from_state({0xE220A8397B1DCDAFull, 0x6E789E6AA1B965F4ull,
                                     0x06C45D188009454Full, 0xF88BB8A8724C81ECull});
    EXPECT_EQ(b.next_u64(), c.next_u64());
}

TEST(Xoshiro256, DoubleIsTop53BitsScaled) {
    auto a = Xoshiro256::from_state({1, 2, 3, 4});
    EXPECT_EQ(a.next_double(), static_cast<double>(11520ull >> 11) * 0x1.0p-53);
    EXPECT_EQ(a.next_double(), 0.0);
    Xoshiro256 r(99);
    for (int i = 0; i < 10000; ++i) {
        const double u = r.next_double();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
    }
}

// ---- greedy ------------------------------------------------------------------------------------

TEST(Sampler, GreedyIsArgmaxTiesToLowestId) {
    SamplerParams p = plain();
    p.temperature = 0.0f;
    Sampler s(p);
    const std::vector<float> a = {0.1f, 3.0f, -2.0f, 3.0f, 2.9f};
    EXPECT_EQ(s.sample(a, {}), 1);
    const std::vector<float> b = {7.0f, 7.0f, 7.0f};
    EXPECT_EQ(s.sample(b, {}), 0);
    const std::vector<float> c = {-kInf, -5.0f, -5.0f};
    EXPECT_EQ(s.sample(c, {}), 1);
    p.temperature = -1.0f;  // negative = greedy too
    Sampler n(p);
    EXPECT_EQ(n.sample(a, {}), 1);
    const auto d = n.distribution(a, {});
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].id, 1);
    EXPECT_EQ(d[0].prob, 1.0f);
}

TEST(Sampler, GreedyAppliesRepetitionPenalty) {
    SamplerParams p = plain();
    p.temperature = 0.0f;
    p.repeat_penalty = 2.0f;
    Sampler s(p);
    const std::vector<float> logits = {1.0f, 3.0f, 2.0f};
    const std::vector<TokenId> recent = {1};
    EXPECT_EQ(s.sample(logits, recent), 2);  // 3/2 = 1.5 < 2
}

// ---- repetition penalty ------------------------------------------------------------------------

TEST(Sampler, RepetitionPenaltyDividesPositiveMultipliesNegativeOncePerToken) {
    SamplerParams p = plain();
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 64;
    Sampler s(p);
    const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
    // 0 twice (penalised once), 1, out-of-range ids ignored, 4 has logit 0 (stays 0).
    const std::vector<TokenId> recent = {0, 1, 0, 7, -3, 4};
    const auto d = s.distribution(logits, recent);
    // Penalised logits: {1, -2, 0.5, 3, 0}; rank order 3, 0, 2, 4, 1.
    std::map<TokenId, float> got;
    for (const auto& c : d) {
        got[c.id] = c.logit;
    }
    EXPECT_EQ(got.at(0), 1.0f);
    EXPECT_EQ(got.at(1), -2.0f);
    EXPECT_EQ(got.at(2), 0.5f);
    EXPECT_EQ(got.at(3), 3.0f);
    EXPECT_EQ(got.at(4), 0.0f);
    const auto sm = softmax({3.0, 1.0, 0.5, 0.0, -2.0});
    expect_probs(d, {3, 0, 2, 4, 1}, sm);
    // The marks are cleared: the same logits without history are unpenalised.
    expect_probs(s.distribution(logits, {}), {3, 0, 2, 4, 1}, softmax({3.0, 2.0, 0.5, 0.0, -1.0}));
}

TEST(Sampler, RepetitionPenaltyWindow) {
    const std::vector<float> logits = {4.0f, 4.0f, 4.0f, 1.0f};
    const std::vector<TokenId> recent = {0, 1, 2};
    auto penalised = [&](int last_n) {
        SamplerParams p = plain();
        p.repeat_penalty = 4.0f;
        p.repeat_last_n = last_n;
        Sampler s(p);
        std::vector<TokenId> out;
        for (const auto& c : s.distribution(logits, recent)) {
            if (c.logit == 1.0f && c.id != 3) {
                out.push_back(c.id);
            }
        }
        std::sort(out.begin(), out.end());
        return out;
    };
    EXPECT_EQ(penalised(0), (std::vector<TokenId>{}));
    EXPECT_EQ(penalised(1), (std::vector<TokenId>{2}));
    EXPECT_EQ(penalised(2), (std::vector<TokenId>{1, 2}));
    EXPECT_EQ(penalised(64), (std::vector<TokenId>{0, 1, 2}));
    EXPECT_EQ(penalised(-1), (std::vector<TokenId>{0, 1, 2}));
}

TEST(Sampler, PenaltyBelowOneBoostsAndOverflowBecomesInf) {
    SamplerParams p = plain();
    p.repeat_penalty = 0.5f;
    Sampler s(p);
    // 3e38 / 0.5 overflows to +inf, so token 1 takes all the mass.
    const std::vector<float> logits = {3.0e38f, 3.0e38f, 0.0f};
    const std::vector<TokenId> recent = {1};
    const auto d = s.distribution(logits, recent);
    ASSERT_FALSE(d.empty());
    EXPECT_EQ(d[0].id, 1);
    EXPECT_EQ(d[0].prob, 1.0f);
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(s.sample(logits, recent), 1);
    }
}

// ---- top-k -------------------------------------------------------------------------------------

TEST(Sampler, TopKKeepsKBestTiesToLowestId) {
    SamplerParams p = plain();
    p.top_k = 3;
    Sampler s(p);
    const std::vector<float> logits = {1.0f, 5.0f, 3.0f, 5.0f, 2.0f, 4.0f};
    expect_probs(s.distribution(logits, {}), {1, 3, 5}, softmax({5.0, 5.0, 4.0}));

    p.top_k = 2;
    Sampler t(p);
    const std::vector<float> tie = {3.0f, 1.0f, 3.0f, 3.0f};
    expect_probs(t.distribution(tie, {}), {0, 2}, {0.5, 0.5});
}

TEST(Sampler, TopKOffAtZeroNegativeAndVocab) {
    const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
    for (int k : {0, -1, 3, 1000}) {
        SamplerParams p = plain();
        p.top_k = k;
        Sampler s(p);
        expect_probs(s.distribution(logits, {}), {2, 1, 0}, softmax({2.0, 1.0, 0.0}));
    }
    SamplerParams p = plain();
    p.top_k = 1;
    Sampler one(p);
    expect_probs(one.distribution(logits, {}), {2}, {1.0});
}

// ---- top-p -------------------------------------------------------------------------------------

std::vector<float> log_probs(const std::vector<double>& probs) {
    std::vector<float> out;
    for (double q : probs) {
        out.push_back(static_cast<float>(std::log(q)));
    }
    return out;
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
    // Probabilities 0.5, 0.3, 0.15, 0.05 (ids shuffled to test the ranking).
    const std::vector<float> logits = log_probs({0.15, 0.5, 0.05, 0.3});
    auto kept = [&](float top_p, int top_k) {
        SamplerParams p = plain();
        p.top_p = top_p;
        p.top_k = top_k;
        Sampler s(p);
        return ids_of(s.distribution(logits, {}));
    };
    EXPECT_EQ(kept(0.75f, 0), (std::vector<TokenId>{1, 3}));        // 0.5, 0.8
    EXPECT_EQ(kept(0.45f, 0), (std::vector<TokenId>{1}));           // 0.5
    EXPECT_EQ(kept(0.85f, 0), (std::vector<TokenId>{1, 3, 0}));     // 0.5, 0.8, 0.95
    EXPECT_EQ(kept(0.97f, 0), (std::vector<TokenId>{1, 3, 0, 2}));  // 1.0
    EXPECT_EQ(kept(0.0f, 0), (std::vector<TokenId>{1}));
    EXPECT_EQ(kept(-1.0f, 0), (std::vector<TokenId>{1}));
    EXPECT_EQ(kept(1.0f, 0), (std::vector<TokenId>{1, 3, 0, 2}));  // off
    // After top-k 2 the probabilities are renormalised over {0.5, 0.3}: 0.625, 0.375, so
    // top_p 0.6 keeps one token, where over the full vocabulary it keeps two.
    EXPECT_EQ(kept(0.6f, 2), (std::vector<TokenId>{1}));
    EXPECT_EQ(kept(0.6f, 0), (std::vector<TokenId>{1, 3}));
    // The kept tokens are renormalised (temperature 1).
    SamplerParams p = plain();
    p.top_p = 0.85f;
    Sampler s(p);
    expect_probs(s.distribution(logits, {}), {1, 3, 0}, {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95});
}

// ---- min-p -------------------------------------------------------------------------------------

TEST(Sampler, MinPDropsBelowFractionOfBest) {
    const std::vector<float> logits = log_probs({0.15, 0.5, 0.05, 0.3});
    auto kept = [&](float min_p, int top_k) {
        SamplerParams p = plain();
        p.min_p = min_p;
        p.top_k = top_k;
        Sampler s(p);
        return ids_of(s.distribution(logits, {}));
    };
    for (int k : {0, 3, 4}) {  // the unsorted (no top-k) and the top-k paths agree
        EXPECT_EQ(kept(0.2f, k), (std::vector<TokenId>{1, 3, 0})) << k;  // >= 0.1
        EXPECT_EQ(kept(0.35f, k), (std::vector<TokenId>{1, 3})) << k;    // >= 0.175
        EXPECT_EQ(kept(0.05f, k).size(), std::min<size_t>(4, k ? k : 4)) << k;
        EXPECT_EQ(kept(2.0f, k), (std::vector<TokenId>{1})) << k;              // best always stays
        EXPECT_EQ(kept(0.0f, k).size(), k ? std::min<size_t>(4, k) : 4) << k;  // off
    }
    SamplerParams p = plain();
    p.min_p = 0.35f;
    Sampler s(p);
    expect_probs(s.distribution(logits, {}), {1, 3}, {0.5 / 0.8, 0.3 / 0.8});
}

TEST(Sampler, MinPAfterTopP) {
    // top_p 0.97 keeps all four; min_p 0.2 then drops 0.05.
    const std::vector<float> logits = log_probs({0.5, 0.3, 0.15, 0.05});
    SamplerParams p = plain();
    p.top_p = 0.97f;
    p.min_p = 0.2f;
    Sampler s(p);
    expect_probs(s.distribution(logits, {}), {0, 1, 2}, {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95});
}

// ---- temperature -------------------------------------------------------------------------------

TEST(Sampler, TemperatureScalesLogitsBeforeTheFinalSoftmax) {
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
    for (float t : {0.5f, 1.0f, 2.0f, 10.0f}) {
        SamplerParams p = plain();
        p.temperature = t;
        Sampler s(p);
        expect_probs(s.distribution(logits, {}), {2, 1, 0},
                     softmax({3.0, 2.0, 1.0}, static_cast<double>(t)));
    }
    // Hand value: T = 0.5 doubles the gaps: e^4 : e^2 : 1.
    SamplerParams p = plain();
    p.temperature = 0.5f;
    Sampler s(p);
    const double e2 = std::exp(2.0), e4 = std::exp(4.0), z = 1 + e2 + e4;
    expect_probs(s.distribution(logits, {}), {2, 1, 0}, {e4 / z, e2 / z, 1 / z});
    // +inf temperature: uniform over the survivors.
    p.temperature = kInf;
    Sampler u(p);
    expect_probs(u.distribution(logits, {}), {2, 1, 0}, {1 / 3.0, 1 / 3.0, 1 / 3.0});
}

TEST(Sampler, FiltersSeeTemperatureOne) {
    // With top_p 0.75 over softmax(T=1) = {0.5, 0.3, ...}: two tokens survive regardless of T.
    const std::vector<float> logits = log_probs({0.5, 0.3, 0.15, 0.05});
    for (float t : {0.1f, 1.0f, 5.0f}) {
        SamplerParams p = plain();
        p.top_p = 0.75f;
        p.temperature = t;
        Sampler s(p);
        const auto d = s.distribution(logits, {});
        EXPECT_EQ(ids_of(d), (std::vector<TokenId>{0, 1})) << t;
        const auto want = softmax({std::log(0.5), std::log(0.3)}, static_cast<double>(t));
        expect_probs(d, {0, 1}, want);
    }
}

// ---- a naive reference of the whole documented pipeline ----------------------------------------

struct RefOut {
    std::vector<TokenId> ids;
    std::vector<double> probs;
};

RefOut reference(std::vector<float> x, const std::vector<TokenId>& recent, const SamplerParams& p) {
    const size_t n = x.size();
    // penalty
    if (p.repeat_penalty != 1.0f && p.repeat_last_n != 0) {
        size_t start = 0;
        if (p.repeat_last_n > 0 && recent.size() > static_cast<size_t>(p.repeat_last_n)) {
            start = recent.size() - static_cast<size_t>(p.repeat_last_n);
        }
        std::vector<bool> hit(n, false);
        for (size_t i = start; i < recent.size(); ++i) {
            if (recent[i] >= 0 && static_cast<size_t>(recent[i]) < n) {
                hit[static_cast<size_t>(recent[i])] = true;
            }
        }
        for (size_t i = 0; i < n; ++i) {
            if (hit[i]) {
                x[i] = x[i] > 0 ? x[i] / p.repeat_penalty : x[i] * p.repeat_penalty;
            }
        }
    }
    // full sort of (logit, id)
    std::vector<std::pair<float, TokenId>> all;
    for (size_t i = 0; i < n; ++i) {
        all.push_back({x[i], static_cast<TokenId>(i)});
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    if (p.temperature <= 0) {
        return {{all[0].second}, {1.0}};
    }
    if (p.top_k > 0 && static_cast<size_t>(p.top_k) < n) {
        all.resize(static_cast<size_t>(p.top_k));
    }
    std::vector<double> lg;
    for (const auto& a : all) {
        lg.push_back(static_cast<double>(a.first));
    }
    const auto pr = softmax(lg);
    size_t keep = all.size();
    if (p.top_p < 1.0f) {
        double cum = 0;
        for (size_t i = 0; i < all.size(); ++i) {
            cum += pr[i];
            if (cum >= static_cast<double>(p.top_p)) {
                keep = i + 1;
                break;
            }
        }
    }
    if (p.min_p > 0.0f) {
        for (size_t i = 1; i < keep; ++i) {
            if (pr[i] < static_cast<double>(p.min_p) * pr[0]) {
                keep = i;
                break;
            }
        }
    }
    all.resize(keep);
    lg.resize(keep);
    RefOut out;
    for (const auto& a : all) {
        out.ids.push_back(a.second);
    }
    out.probs = softmax(lg, static_cast<double>(p.temperature));
    return out;
}

TEST(Sampler, MatchesNaiveReferenceOnRandomCases) {
    test::Rng rng(20261126);
    const float top_ps[] = {1.0f, 0.95f, 0.8f, 0.5f, 0.0f};
    const float min_ps[] = {0.0f, 0.05f, 0.1f, 0.3f};
    const int top_ks[] = {0, 1, 5, 40, 199, 200, 500};
    const float temps[] = {0.0f, 0.3f, 0.8f, 1.0f, 1.7f};
    const float pens[] = {1.0f, 1.1f, 1.5f, 0.8f};
    int cases = 0;
    for (int it = 0; it < 400; ++it) {
        const size_t vocab = 200;
        std::vector<float> logits(vocab);
        const float scale = rng.uniform(0.5f, 6.0f);
        for (auto& v : logits) {
            // Quantised values so there are ties to break.
            v = std::round(rng.normal() * scale * 8.0f) / 8.0f;
        }
        std::vector<TokenId> recent;
        const size_t nr = rng.next() % 100;
        for (size_t i = 0; i < nr; ++i) {
            recent.push_back(static_cast<TokenId>(rng.next() % 210));
        }
        SamplerParams p;
        p.top_p = top_ps[rng.next() % 5];
        p.min_p = min_ps[rng.next() % 4];
        p.top_k = top_ks[rng.next() % 7];
        p.temperature = temps[rng.next() % 5];
        p.repeat_penalty = pens[rng.next() % 4];
        p.repeat_last_n = static_cast<int>(rng.next() % 70) - 1;
        Sampler s(p);
        const auto got = s.distribution(logits, recent);
        const auto want = reference(logits, recent, p);
        ASSERT_EQ(ids_of(got), want.ids) << "case " << it;
        for (size_t i = 0; i < want.probs.size(); ++i) {
            ASSERT_NEAR(got[i].prob, want.probs[i], 1e-6) << "case " << it << " candidate " << i;
        }
        ++cases;
    }
    EXPECT_EQ(cases, 400);
}

TEST(Sampler, TopPWithoutTopKMatchesFullSortOnLargeVocab) {
    // Flat distributions put the top-p cut thousands of ranks deep, past several of the
    // partially sorted blocks the implementation uses instead of a full sort.
    test::Rng rng(77);
    for (float scale : {0.05f, 0.3f, 1.0f, 4.0f}) {
        for (float top_p : {0.2f, 0.9f, 0.999f}) {
            std::vector<float> logits(5000);
            for (auto& v : logits) {
                v = std::round(rng.normal() * scale * 64.0f) / 64.0f;  // with ties
            }
            SamplerParams p = plain();
            p.top_p = top_p;
            Sampler s(p);
            const auto got = s.distribution(logits, {});
            const auto want = reference(logits, {}, p);
            ASSERT_EQ(ids_of(got), want.ids) << scale << " " << top_p;
            for (size_t i = 0; i < want.probs.size(); ++i) {
                ASSERT_NEAR(got[i].prob, want.probs[i], 1e-6);
            }
            if (scale == 0.05f && top_p == 0.9f) {
                EXPECT_GT(got.size(), 4000u);  // the deep case really is deep
            }
        }
    }
}

// ---- the draw ----------------------------------------------------------------------------------

TEST(Sampler, DrawIsInverseCdfOverRankOrderWithDocumentedUniform) {
    SamplerParams p = plain();
    p.top_k = 4;
    p.temperature = 0.9f;
    p.seed = 77;
    Sampler s(p);
    const std::vector<float> logits = {0.3f, 1.2f, -0.4f, 0.9f, 2.0f, 0.0f};
    const auto ref = reference(logits, {}, p);  // ids 4, 1, 3, 0
    Xoshiro256 rng(77);
    for (int i = 0; i < 2000; ++i) {
        const double u = rng.next_double();
        double cum = 0;
        TokenId want = ref.ids.back();
        for (size_t j = 0; j < ref.ids.size(); ++j) {
            cum += ref.probs[j];
            if (cum > u) {
                want = ref.ids[j];
                break;
            }
        }
        ASSERT_EQ(s.sample(logits, {}), want) << "draw " << i << " u=" << u;
    }
}

TEST(Sampler, FrequenciesFollowTheFilteredDistribution) {
    SamplerParams p = plain();
    p.top_k = 5;
    p.temperature = 0.7f;
    p.seed = 12345;
    Sampler s(p);
    const std::vector<float> logits = {0.5f, 1.5f, -1.0f, 1.0f, 0.0f, 2.0f, -3.0f, 0.2f};
    // Top 5: ids 5 (2.0), 1 (1.5), 3 (1.0), 0 (0.5), 7 (0.2); softmax of logits / 0.7.
    const std::vector<TokenId> ids = {5, 1, 3, 0, 7};
    const auto prob = softmax({2.0, 1.5, 1.0, 0.5, 0.2}, 0.7);
    const int n = 40000;
    std::map<TokenId, int> count;
    for (int i = 0; i < n; ++i) {
        ++count[s.sample(logits, {})];
    }
    double chi2 = 0;
    int seen = 0;
    for (size_t j = 0; j < ids.size(); ++j) {
        const double e = prob[j] * n;
        const double o = count[ids[j]];
        chi2 += (o - e) * (o - e) / e;
        seen += count[ids[j]];
    }
    EXPECT_EQ(seen, n) << "a filtered-out token was sampled";
    // 4 degrees of freedom: P(chi2 > 18.47) = 0.001.
    EXPECT_LT(chi2, 18.47);
    // And not suspiciously perfect (P(chi2 < 0.0908) = 0.001).
    EXPECT_GT(chi2, 0.0908);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferent) {
    test::Rng rng(3);
    const auto logits = rng.normals(1000, 2.0f);
    SamplerParams p;  // defaults: top-k 40, top-p 0.95, min-p 0.05, T 0.8
    p.seed = 42;
    p.top_k = 100;
    p.min_p = 0.0f;
    p.temperature = 1.5f;
    auto run = [&](Sampler& s) {
        std::vector<TokenId> out;
        for (int i = 0; i < 300; ++i) {
            out.push_back(s.sample(logits, out));
        }
        return out;
    };
    Sampler a(p), b(p);
    const auto xa = run(a);
    EXPECT_EQ(xa, run(b));
    p.seed = 43;
    Sampler c(p);
    const auto xc = run(c);
    EXPECT_NE(xa, xc);
    // reseed() restarts the sequence.
    c.reseed(42);
    EXPECT_EQ(run(c), xa);
    // Several distinct ids were drawn (it is not degenerate).
    std::vector<TokenId> uniq = xa;
    std::sort(uniq.begin(), uniq.end());
    uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
    EXPECT_GT(uniq.size(), 10u);
}

// ---- edge cases --------------------------------------------------------------------------------

TEST(Sampler, ExtremeFiniteLogits) {
    Sampler s(plain());
    const std::vector<float> logits = {-1e30f, 1e30f, 0.0f, -3.4e38f, 3.4e38f};
    const auto d = s.distribution(logits, {});
    ASSERT_EQ(d.size(), 5u);
    EXPECT_EQ(d[0].id, 4);
    EXPECT_EQ(d[0].prob, 1.0f);
    for (size_t i = 1; i < d.size(); ++i) {
        EXPECT_EQ(d[i].prob, 0.0f);
    }
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(s.sample(logits, {}), 4);
    }
}

TEST(Sampler, NegativeInfinityNeverSampled) {
    Sampler s(plain());
    const std::vector<float> logits = {-kInf, 0.0f, -kInf, 0.0f, kNaN};
    expect_probs(s.distribution(logits, {}), {1, 3}, {0.5, 0.5});
    int c1 = 0;
    for (int i = 0; i < 2000; ++i) {
        const TokenId id = s.sample(logits, {});
        ASSERT_TRUE(id == 1 || id == 3) << id;
        c1 += id == 1;
    }
    EXPECT_GT(c1, 850);
    EXPECT_LT(c1, 1150);
}

TEST(Sampler, PositiveInfinitySharesTheMass) {
    SamplerParams p = plain();
    p.min_p = 0.5f;
    p.top_p = 0.9f;
    Sampler s(p);
    const std::vector<float> logits = {kInf, 100.0f, kInf, 0.0f};
    expect_probs(s.distribution(logits, {}), {0, 2}, {0.5, 0.5});
    for (int i = 0; i < 200; ++i) {
        const TokenId id = s.sample(logits, {});
        ASSERT_TRUE(id == 0 || id == 2) << id;
    }
}

TEST(Sampler, AllNegativeInfinityOrNaNReturnsZero) {
    Sampler s(plain());
    const std::vector<float> logits = {-kInf, kNaN, -kInf};
    EXPECT_EQ(s.sample(logits, {}), 0);
    expect_probs(s.distribution(logits, {}), {0}, {1.0});
}

TEST(Sampler, AllEqualLogitsAreUniform) {
    Sampler s(plain());
    const std::vector<float> logits(8, 1.25f);
    const auto d = s.distribution(logits, {});
    expect_probs(d, {0, 1, 2, 3, 4, 5, 6, 7}, std::vector<double>(8, 0.125));
    SamplerParams p = plain();
    p.top_k = 3;
    Sampler k(p);
    expect_probs(k.distribution(logits, {}), {0, 1, 2}, std::vector<double>(3, 1 / 3.0));
    p = plain();
    p.top_p = 0.3f;  // 0.125 * 3 = 0.375 >= 0.3
    Sampler tp(p);
    EXPECT_EQ(ids_of(tp.distribution(logits, {})), (std::vector<TokenId>{0, 1, 2}));
}

TEST(Sampler, VocabOfOne) {
    for (float t : {0.0f, 0.8f}) {
        SamplerParams p;
        p.temperature = t;
        p.repeat_penalty = 1.3f;
        Sampler s(p);
        const std::vector<float> logits = {-5.0f};
        const std::vector<TokenId> recent = {0, 0};
        for (int i = 0; i < 5; ++i) {
            EXPECT_EQ(s.sample(logits, recent), 0);
        }
    }
}

TEST(Sampler, VocabSizeMayChangeBetweenCalls) {
    Sampler s(plain());
    const std::vector<float> a = {0.0f, 9.0f};
    const std::vector<float> b = {0.0f, 1.0f, 2.0f, 50.0f, 3.0f};
    EXPECT_EQ(s.distribution(a, {})[0].id, 1);
    EXPECT_EQ(s.distribution(b, {})[0].id, 3);
    EXPECT_EQ(s.distribution(a, {})[0].id, 1);
}

TEST(Sampler, LargeVocabWithDefaults) {
    test::Rng rng(11);
    const auto logits = rng.normals(32000, 3.0f);
    Sampler s(SamplerParams{});
    std::vector<TokenId> recent;
    for (int i = 0; i < 50; ++i) {
        const TokenId id = s.sample(logits, recent);
        ASSERT_GE(id, 0);
        ASSERT_LT(id, 32000);
        recent.push_back(id);
    }
    EXPECT_LE(s.distribution(logits, {}).size(), 40u);
}

TEST(Sampler, RejectsBadParametersAndEmptyLogits) {
    auto code_of = [](SamplerParams p) {
        try {
            Sampler s(p);
        } catch (const Error& e) {
            return e.code();
        }
        return Errc::kIo;  // sentinel: no throw
    };
    SamplerParams p;
    p.temperature = kNaN;
    EXPECT_EQ(code_of(p), Errc::kInvalidArgument);
    p = {};
    p.top_p = kNaN;
    EXPECT_EQ(code_of(p), Errc::kInvalidArgument);
    p = {};
    p.min_p = kNaN;
    EXPECT_EQ(code_of(p), Errc::kInvalidArgument);
    for (float pen : {0.0f, -1.0f, kInf, kNaN}) {
        p = {};
        p.repeat_penalty = pen;
        EXPECT_EQ(code_of(p), Errc::kInvalidArgument) << pen;
    }
    p = {};
    p.repeat_last_n = -2;
    EXPECT_EQ(code_of(p), Errc::kInvalidArgument);
    EXPECT_EQ(code_of(SamplerParams{}), Errc::kIo);

    Sampler s(SamplerParams{});
    try {
        s.sample({}, {});
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kInvalidArgument);
    }
}

}  // namespace
}  // namespace mistral
