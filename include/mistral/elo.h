// Ratings from pairwise battles, the way LMSYS ranks models in Chatbot Arena: online Elo (order
// dependent) and Bradley-Terry maximum likelihood (order independent) with bootstrap confidence
// intervals. Pure functions over a battle list; no I/O. docs/EVALUATION.md has the formulas and
// the hand-computed examples the tests check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mistral {

// The outcome of one battle, as LMSYS logs it ("model_a", "model_b", "tie", "tie (bothbad)").
enum class Winner : uint8_t { kModelA, kModelB, kTie, kBothBad };

struct Battle {
    std::string model_a;
    std::string model_b;
    Winner winner = Winner::kTie;
};

// "model_a" / "model_b" / "tie" / "tie (bothbad)" and back. parse throws Error(kBadValue).
std::string_view winner_name(Winner w);
Winner parse_winner(std::string_view s);
// Score of model_a: 1 for a win, 0 for a loss, 0.5 for a tie and for "both bad" (LMSYS counts
// both as ties).
double score_a(Winner w);

// Parses a JSON-lines battle log (one object per line with string fields "model_a", "model_b"
// and "winner"; other fields are ignored; blank lines skipped). Throws Error(kBadValue) naming
// the 1-based line.
std::vector<Battle> parse_battle_log(std::string_view text);

// How ratings map onto the Elo scale.
struct EloScale {
    double scale = 400.0;  // rating points per factor `base` in odds
    double base = 10.0;
    double init = 1000.0;  // starting rating (Elo) / anchor value (Bradley-Terry)
};

struct Rating {
    std::string model;
    double rating = 0.0;
    double lower = 0.0, upper = 0.0;  // bootstrap interval (= rating when not bootstrapped)
    int64_t battles = 0;
    double wins = 0.0;  // ties count 0.5
};

// Expected score of a player rated ra against one rated rb: 1 / (1 + base^((rb - ra) / scale)).
double elo_expected(double ra, double rb, const EloScale& s);

// Online Elo in log order: every model starts at s.init; per battle E_a = elo_expected(Ra, Rb),
// Ra += k (S_a - E_a), Rb += k ((1 - S_a) - (1 - E_a)) (both computed from the ratings before
// the battle). Models in order of first appearance. Throws Error(kInvalidArgument) if a battle
// pits a model against itself or k / scale / base are not finite and positive (base > 1).
std::vector<Rating> online_elo(std::span<const Battle> battles, double k, const EloScale& s);

struct BtOptions {
    EloScale scale;
    // Strength of a Gaussian prior (L2 penalty (prior/2) * sum theta^2 on the natural-log
    // strengths): keeps the maximum finite for a model with no wins (or no losses). 0 = plain
    // maximum likelihood (throws Error(kBadValue) when it does not exist).
    double prior = 1e-3;
    // Empty: the mean rating is scale.init. Else that model gets scale.init (must be in the log).
    std::string anchor;
    int64_t max_iter = 100;  // Newton steps
    double tol = 1e-10;      // stop when max |step| in theta falls below this
};

// Bradley-Terry: P(i beats j) = 1 / (1 + base^((R_j - R_i) / scale)). Maximises the
// log-likelihood (ties = half a win each way) minus the prior by Newton's method; ratings
// R_i = init + scale / ln(base) * (theta_i - anchor). Models in order of first appearance;
// lower == upper == rating. Throws Error(kInvalidArgument) for an empty log, a self-battle,
// an unknown anchor or bad options.
std::vector<Rating> bradley_terry(std::span<const Battle> battles, const BtOptions& opt);

// bradley_terry() on `rounds` resamples of the battles (with replacement, Xoshiro256(seed)),
// and lower / upper = the 2.5 / 97.5 percentiles (linear interpolation) of each model's
// ratings; the point estimate is bradley_terry() on the full log. A model absent from a
// resample (it played no battle there) does not contribute to that round. rounds >= 1.
std::vector<Rating> bradley_terry_bootstrap(std::span<const Battle> battles, const BtOptions& opt,
                                            int64_t rounds, uint64_t seed);

// The q-quantile (q in [0, 1]) of `v` with linear interpolation between order statistics at
// position q * (n - 1) (numpy's default). v must be non-empty; it is sorted in place.
double quantile(std::vector<double>& v, double q);

}  // namespace mistral
