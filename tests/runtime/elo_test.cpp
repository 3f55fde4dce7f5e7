// Online Elo and Bradley-Terry on hand-made battle logs. Every expected number is worked out by
// hand (closed forms, or a one-line root find done outside this code base) in
// docs/EVALUATION.md, "Worked examples".
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/elo.h>
#include <mistral/error.h>

namespace mistral {
namespace {

Battle battle(const char* a, const char* b, Winner w) {
    return Battle{a, b, w};
}

const Rating& find(const std::vector<Rating>& r, const std::string& name) {
    for (const Rating& x : r) {
        if (x.model == name) {
            return x;
        }
    }
    throw std::runtime_error("no rating for " + name);
}

constexpr double kLn10 = 2.302585092994046;

TEST(EloTest, ExpectedScoreFormula) {
    const EloScale s;
    EXPECT_DOUBLE_EQ(elo_expected(1000, 1000, s), 0.5);
    // 400 points = odds of 10: 10/11.
    EXPECT_NEAR(elo_expected(1400, 1000, s), 10.0 / 11.0, 1e-15);
    // base 2, scale 100: 100 points = odds 2.
    EXPECT_NEAR(elo_expected(1100, 1000, EloScale{100, 2, 0}), 2.0 / 3.0, 1e-15);
}

TEST(EloTest, OneWinThenTie) {
    // Example E1: 1000/1000, E = 0.5, K = 4: A +2, B -2. Then a tie at 1002 vs 998:
    // E_A = 1/(1+10^(-4/400)) = 0.505756208..., A += 4 (0.5 - E_A) = -0.02302483...
    std::vector<Battle> log = {battle("A", "B", Winner::kModelA)};
    auto r = online_elo(log, 4, EloScale{});
    EXPECT_DOUBLE_EQ(find(r, "A").rating, 1002.0);
    EXPECT_DOUBLE_EQ(find(r, "B").rating, 998.0);
    log.push_back(battle("B", "A", Winner::kTie));
    r = online_elo(log, 4, EloScale{});
    EXPECT_NEAR(find(r, "A").rating, 1001.9769751663554, 1e-9);
    EXPECT_NEAR(find(r, "B").rating, 998.0230248336446, 1e-9);
    EXPECT_EQ(find(r, "A").battles, 2);
    EXPECT_DOUBLE_EQ(find(r, "A").wins, 1.5);
    EXPECT_DOUBLE_EQ(find(r, "B").wins, 0.5);
    // "Both bad" scores exactly like a tie.
    log.back().winner = Winner::kBothBad;
    const auto r2 = online_elo(log, 4, EloScale{});
    EXPECT_DOUBLE_EQ(find(r2, "A").rating, find(r, "A").rating);
}

TEST(EloTest, TieBetweenEqualsChangesNothing) {
    const std::vector<Battle> log = {battle("A", "B", Winner::kTie),
                                     battle("A", "B", Winner::kBothBad)};
    const auto r = online_elo(log, 32, EloScale{});
    EXPECT_DOUBLE_EQ(find(r, "A").rating, 1000.0);
    EXPECT_DOUBLE_EQ(find(r, "B").rating, 1000.0);
}

TEST(EloTest, OrderDependence) {
    // Example E2: the same two results in the two orders. A wins then B wins: after the first
    // battle 1002/998, then E_B = 1/(1+10^(4/400)) = 0.4942...; B += 4 (1 - E_B) = 2.0230...
    const std::vector<Battle> ab = {battle("A", "B", Winner::kModelA),
                                    battle("A", "B", Winner::kModelB)};
    const std::vector<Battle> ba = {battle("A", "B", Winner::kModelB),
                                    battle("A", "B", Winner::kModelA)};
    const auto r1 = online_elo(ab, 4, EloScale{});
    const auto r2 = online_elo(ba, 4, EloScale{});
    EXPECT_NEAR(find(r1, "A").rating, 999.9769751663554, 1e-9);
    EXPECT_NEAR(find(r1, "B").rating, 1000.0230248336446, 1e-9);
    EXPECT_NEAR(find(r2, "A").rating, 1000.0230248336446, 1e-9);
    EXPECT_NEAR(find(r2, "B").rating, 999.9769751663554, 1e-9);
    // Bradley-Terry does not care about the order: one win each = equal ratings.
    BtOptions o;
    o.prior = 0;
    EXPECT_NEAR(find(bradley_terry(ab, o), "A").rating, 1000.0, 1e-9);
    EXPECT_NEAR(find(bradley_terry(ba, o), "A").rating, 1000.0, 1e-9);
}

TEST(EloTest, ModelWithNoWins) {
    // Example E3, K = 32: A beats C, B beats C, A beats B (all start at 1000).
    const std::vector<Battle> log = {battle("A", "C", Winner::kModelA),
                                     battle("B", "C", Winner::kModelA),
                                     battle("A", "B", Winner::kModelA)};
    const auto r = online_elo(log, 32, EloScale{});
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].model, "A");  // order of first appearance
    EXPECT_EQ(r[1].model, "C");
    EXPECT_EQ(r[2].model, "B");
    EXPECT_NEAR(find(r, "A").rating, 1031.9660918698307, 1e-9);
    EXPECT_NEAR(find(r, "B").rating, 999.2976013366472, 1e-9);
    EXPECT_NEAR(find(r, "C").rating, 968.736306793522, 1e-9);
    EXPECT_DOUBLE_EQ(find(r, "C").wins, 0.0);
    // Ratings are zero-sum.
    EXPECT_NEAR(find(r, "A").rating + find(r, "B").rating + find(r, "C").rating, 3000.0, 1e-9);
}

TEST(BradleyTerryTest, TwoModelsClosedForm) {
    // Example B1: A beats B 3 times, B beats A once. MLE: theta_A - theta_B = ln 3; on the Elo
    // scale 400 log10(3) = 190.85 points, split around the mean 1000: +-95.424250943932.
    std::vector<Battle> log(3, battle("A", "B", Winner::kModelA));
    log.push_back(battle("B", "A", Winner::kModelA));
    BtOptions o;
    o.prior = 0;
    const auto r = bradley_terry(log, o);
    EXPECT_NEAR(find(r, "A").rating, 1000 + 95.42425094393249, 1e-6);
    EXPECT_NEAR(find(r, "B").rating, 1000 - 95.42425094393249, 1e-6);
    EXPECT_EQ(find(r, "A").battles, 4);
    EXPECT_DOUBLE_EQ(find(r, "A").wins, 3.0);
    // Anchoring B at 1000 instead of the mean shifts both.
    o.anchor = "B";
    const auto rb = bradley_terry(log, o);
    EXPECT_NEAR(find(rb, "B").rating, 1000.0, 1e-9);
    EXPECT_NEAR(find(rb, "A").rating, 1000 + 2 * 95.42425094393249, 1e-6);
    // Another scale: base e, scale 1 gives theta itself: ln 3 apart.
    o.anchor.clear();
    o.scale = EloScale{1.0, std::exp(1.0), 0.0};
    const auto re = bradley_terry(log, o);
    EXPECT_NEAR(find(re, "A").rating - find(re, "B").rating, std::log(3.0), 1e-9);
}

TEST(BradleyTerryTest, TiesCountHalfEachWay) {
    // Example B2: A 2 wins, B 1 win, 2 ties (one "both bad"): A 3 vs B 2 effective wins.
    // 400 log10(1.5) / 2 = 35.218251811136.
    const std::vector<Battle> log = {
            battle("A", "B", Winner::kModelA), battle("B", "A", Winner::kModelB),
            battle("A", "B", Winner::kModelB), battle("A", "B", Winner::kTie),
            battle("B", "A", Winner::kBothBad)};
    BtOptions o;
    o.prior = 0;
    const auto r = bradley_terry(log, o);
    EXPECT_NEAR(find(r, "A").rating, 1035.218251811136, 1e-6);
    EXPECT_NEAR(find(r, "B").rating, 964.781748188864, 1e-6);
}

TEST(BradleyTerryTest, StarAndCycle) {
    // Example B3: B and C only meet A, so the fit decouples: A-B = ln 3 (3-1), A-C = 0 (1-1).
    // Mean anchored: theta = (ln3/3, -2 ln3/3, ln3/3); 400/ln10 * ln3/3 = 63.616167295955.
    std::vector<Battle> log(3, battle("A", "B", Winner::kModelA));
    log.push_back(battle("A", "B", Winner::kModelB));
    log.push_back(battle("A", "C", Winner::kModelA));
    log.push_back(battle("A", "C", Winner::kModelB));
    BtOptions o;
    o.prior = 0;
    auto r = bradley_terry(log, o);
    EXPECT_NEAR(find(r, "A").rating, 1063.616167295955, 1e-6);
    EXPECT_NEAR(find(r, "C").rating, 1063.616167295955, 1e-6);
    EXPECT_NEAR(find(r, "B").rating, 1000 - 2 * 63.616167295955, 1e-6);
    // A rock-paper-scissors cycle: everyone 1000.
    const std::vector<Battle> cyc = {battle("A", "B", Winner::kModelA),
                                     battle("B", "C", Winner::kModelA),
                                     battle("C", "A", Winner::kModelA)};
    r = bradley_terry(cyc, o);
    for (const Rating& x : r) {
        EXPECT_NEAR(x.rating, 1000.0, 1e-9) << x.model;
    }
}

TEST(BradleyTerryTest, ModelWithNoWins) {
    // Example B4: A beats B twice. Plain MLE: B -> -infinity, so prior 0 is refused.
    const std::vector<Battle> log(2, battle("A", "B", Winner::kModelA));
    BtOptions o;
    o.prior = 0;
    EXPECT_THROW(bradley_terry(log, o), Error);
    // With the prior: theta_A = -theta_B = t where 2 sigma(-2t) = prior * t (root found by
    // bisection): prior 1e-3 -> t = 3.2156343503151765, prior 0.1 -> t = 1.3234951252985165.
    o.prior = 1e-3;
    auto r = bradley_terry(log, o);
    EXPECT_NEAR(find(r, "A").rating, 1000 + 400 / kLn10 * 3.2156343503151765, 1e-6);
    EXPECT_NEAR(find(r, "B").rating, 1000 - 400 / kLn10 * 3.2156343503151765, 1e-6);
    o.prior = 0.1;
    r = bradley_terry(log, o);
    EXPECT_NEAR(find(r, "A").rating, 1229.9146518971995, 1e-6);
    EXPECT_NEAR(find(r, "B").rating, 770.0853481028006, 1e-6);
    // The default options (prior 1e-3) accept the log.
    EXPECT_NO_THROW(bradley_terry(log, BtOptions{}));
}

TEST(BradleyTerryTest, BadInput) {
    BtOptions o;
    EXPECT_THROW(bradley_terry({}, o), Error);
    const std::vector<Battle> self = {battle("A", "A", Winner::kModelA)};
    EXPECT_THROW(bradley_terry(self, o), Error);
    EXPECT_THROW(online_elo(self, 4, EloScale{}), Error);
    const std::vector<Battle> ok = {battle("A", "B", Winner::kTie)};
    o.anchor = "Z";
    EXPECT_THROW(bradley_terry(ok, o), Error);
    EXPECT_THROW(online_elo(ok, 0, EloScale{}), Error);
    EXPECT_THROW(online_elo(ok, 4, EloScale{400, 1, 1000}), Error);
}

TEST(BradleyTerryTest, BootstrapDeterministicAndBracketing) {
    // All ties: every resample gives exactly 1000 for both, so the interval is [1000, 1000].
    const std::vector<Battle> ties(6, battle("A", "B", Winner::kTie));
    auto r = bradley_terry_bootstrap(ties, BtOptions{}, 50, 7);
    for (const Rating& x : r) {
        EXPECT_NEAR(x.lower, 1000.0, 1e-9);
        EXPECT_NEAR(x.upper, 1000.0, 1e-9);
    }
    // A mixed log: same seed, same intervals; a different seed, different ones; the interval
    // is ordered, and a model that wins most battles has a lower bound above the loser's upper.
    std::vector<Battle> log;
    for (int i = 0; i < 30; ++i) {
        log.push_back(battle("A", "B", i % 5 == 0 ? Winner::kModelB : Winner::kModelA));
        log.push_back(battle("B", "C", i % 4 == 0 ? Winner::kTie : Winner::kModelA));
    }
    const auto r1 = bradley_terry_bootstrap(log, BtOptions{}, 100, 42);
    const auto r2 = bradley_terry_bootstrap(log, BtOptions{}, 100, 42);
    const auto r3 = bradley_terry_bootstrap(log, BtOptions{}, 100, 43);
    ASSERT_EQ(r1.size(), 3u);
    for (size_t i = 0; i < r1.size(); ++i) {
        EXPECT_EQ(r1[i].lower, r2[i].lower);
        EXPECT_EQ(r1[i].upper, r2[i].upper);
        EXPECT_LE(r1[i].lower, r1[i].rating);
        EXPECT_GE(r1[i].upper, r1[i].rating);
    }
    EXPECT_NE(r1[0].lower, r3[0].lower);
    EXPECT_GT(find(r1, "A").lower, find(r1, "B").upper);
    EXPECT_THROW(bradley_terry_bootstrap(log, BtOptions{}, 0, 1), Error);
}

TEST(QuantileTest, LinearInterpolation) {
    // numpy.percentile([1, 2, 3, 4], 25) = 1.75; 2.5% of 0..100 (101 values) = 2.5.
    std::vector<double> v = {4, 1, 3, 2};
    EXPECT_DOUBLE_EQ(quantile(v, 0.25), 1.75);
    EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1.0);
    EXPECT_DOUBLE_EQ(quantile(v, 1.0), 4.0);
    std::vector<double> w;
    for (int i = 100; i >= 0; --i) {
        w.push_back(i);
    }
    EXPECT_DOUBLE_EQ(quantile(w, 0.025), 2.5);
    EXPECT_DOUBLE_EQ(quantile(w, 0.975), 97.5);
}

TEST(BattleLogTest, ParsesLmsysFields) {
    const std::string text =
            "{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"model_b\",\"tstamp\":1.5}\n"
            "\n"
            "{\"model_a\":\"y\",\"model_b\":\"x\",\"winner\":\"tie (bothbad)\"}\n";
    const auto log = parse_battle_log(text);
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].model_a, "x");
    EXPECT_EQ(log[0].winner, Winner::kModelB);
    EXPECT_EQ(log[1].winner, Winner::kBothBad);
    EXPECT_EQ(winner_name(Winner::kBothBad), "tie (bothbad)");
    try {
        parse_battle_log(
                "{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"model_a\"}\n{\"model_a\":1}");
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_battle_log("{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"A\"}"), Error);
}

}  // namespace
}  // namespace mistral
