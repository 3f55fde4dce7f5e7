// Online Elo and Bradley-Terry ratings from battle logs (see include/mistral/elo.h and
// docs/EVALUATION.md for the formulas and the hand-computed examples).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include <mistral/elo.h>
#include <mistral/error.h>
#include <mistral/json.h>
#include <mistral/sampler.h>

#include "util/check.h"

namespace mistral {

namespace {

// Model names in order of first appearance and the battles as index pairs.
struct Indexed {
    std::vector<std::string> names;
    std::map<std::string, size_t, std::less<>> index;
    std::vector<size_t> a, b;  // [battles]

    size_t id(const std::string& name) {
        auto it = index.find(name);
        if (it != index.end()) {
            return it->second;
        }
        names.push_back(name);
        index.emplace(name, names.size() - 1);
        return names.size() - 1;
    }
};

Indexed index_battles(std::span<const Battle> battles) {
    Indexed ix;
    for (size_t n = 0; n < battles.size(); ++n) {
        const Battle& bt = battles[n];
        if (bt.model_a == bt.model_b) {
            throw Error(Errc::kInvalidArgument, "battle " + std::to_string(n + 1) + ": model '" +
                                                        bt.model_a + "' against itself");
        }
        ix.a.push_back(ix.id(bt.model_a));
        ix.b.push_back(ix.id(bt.model_b));
    }
    return ix;
}

void check_scale(const EloScale& s) {
    if (!std::isfinite(s.scale) || s.scale <= 0 || !std::isfinite(s.base) || s.base <= 1 ||
        !std::isfinite(s.init)) {
        throw Error(Errc::kInvalidArgument, "ratings: scale must be > 0, base > 1 and init finite");
    }
}

// Per-model battle and win counts (ties 0.5) into `out` (already named).
void count_results(std::span<const Battle> battles, const Indexed& ix, std::vector<Rating>& out) {
    for (size_t n = 0; n < battles.size(); ++n) {
        const double sa = score_a(battles[n].winner);
        out[ix.a[n]].battles += 1;
        out[ix.b[n]].battles += 1;
        out[ix.a[n]].wins += sa;
        out[ix.b[n]].wins += 1.0 - sa;
    }
}

// log(sigmoid(x)) without overflow.
double log_sigmoid(double x) {
    return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x));
}
double sigmoid(double x) {
    return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

// w[i * n + j] = wins of i over j (ties and "both bad" give 0.5 to each side).
std::vector<double> win_matrix(std::span<const Battle> battles, const Indexed& ix,
                               std::span<const size_t> sample, size_t n) {
    std::vector<double> w(n * n, 0.0);
    for (size_t k : sample) {
        const double sa = score_a(battles[k].winner);
        w[ix.a[k] * n + ix.b[k]] += sa;
        w[ix.b[k] * n + ix.a[k]] += 1.0 - sa;
    }
    return w;
}

// True if every model can reach every other along "beat" edges (w_ij > 0): the condition for
// the plain maximum-likelihood estimate to exist (Zermelo / Ford). `present` masks models
// that played in this sample.
bool strongly_connected(const std::vector<double>& w, size_t n, const std::vector<bool>& present,
                        std::string* culprit) {
    size_t start = n;
    for (size_t i = 0; i < n; ++i) {
        if (present[i]) {
            start = i;
            break;
        }
    }
    if (start == n) {
        return true;
    }
    for (int dir = 0; dir < 2; ++dir) {
        std::vector<bool> seen(n, false);
        std::vector<size_t> stack{start};
        seen[start] = true;
        while (!stack.empty()) {
            const size_t i = stack.back();
            stack.pop_back();
            for (size_t j = 0; j < n; ++j) {
                const double e = dir == 0 ? w[i * n + j] : w[j * n + i];
                if (e > 0 && !seen[j]) {
                    seen[j] = true;
                    stack.push_back(j);
                }
            }
        }
        for (size_t i = 0; i < n; ++i) {
            if (present[i] && !seen[i]) {
                if (culprit != nullptr) {
                    *culprit = std::to_string(i);
                }
                return false;
            }
        }
    }
    return true;
}

// The penalised log-likelihood: sum w_ij log sigma(t_i - t_j) - prior/2 sum t^2 - (sum t)^2/2.
// The last term fixes the shift freedom when prior == 0; with prior > 0 the optimum already has
// sum t = 0 (the likelihood's gradient sums to zero), so it does not move the optimum.
double objective(const std::vector<double>& w, const std::vector<double>& t, double prior) {
    const size_t n = t.size();
    double f = 0.0, sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; ++i) {
        sum += t[i];
        sq += t[i] * t[i];
        for (size_t j = 0; j < n; ++j) {
            if (w[i * n + j] > 0) {
                f += w[i * n + j] * log_sigmoid(t[i] - t[j]);
            }
        }
    }
    return f - 0.5 * prior * sq - 0.5 * sum * sum;
}

// Solves A x = b for symmetric positive definite A ([n, n], overwritten) by Cholesky.
std::vector<double> solve_spd(std::vector<double> A, std::vector<double> b) {
    const size_t n = b.size();
    for (size_t j = 0; j < n; ++j) {
        double d = A[j * n + j];
        for (size_t k = 0; k < j; ++k) {
            d -= A[j * n + k] * A[j * n + k];
        }
        MISTRAL_CHECK(d > 0, "Bradley-Terry Hessian not negative definite");
        const double l = std::sqrt(d);
        A[j * n + j] = l;
        for (size_t i = j + 1; i < n; ++i) {
            double s = A[i * n + j];
            for (size_t k = 0; k < j; ++k) {
                s -= A[i * n + k] * A[j * n + k];
            }
            A[i * n + j] = s / l;
        }
    }
    for (size_t i = 0; i < n; ++i) {  // L y = b
        for (size_t k = 0; k < i; ++k) {
            b[i] -= A[i * n + k] * b[k];
        }
        b[i] /= A[i * n + i];
    }
    for (size_t i = n; i-- > 0;) {  // L^T x = y
        for (size_t k = i + 1; k < n; ++k) {
            b[i] -= A[k * n + i] * b[k];
        }
        b[i] /= A[i * n + i];
    }
    return b;
}

// Natural-log strengths theta [n] maximising objective() (Newton with step halving).
// Models not `present` keep theta 0 and are excluded from the system.
std::vector<double> fit_theta(const std::vector<double>& w_all, size_t n_all,
                              const std::vector<bool>& present, const BtOptions& opt) {
    std::vector<size_t> idx;  // present models
    for (size_t i = 0; i < n_all; ++i) {
        if (present[i]) {
            idx.push_back(i);
        }
    }
    const size_t n = idx.size();
    std::vector<double> w(n * n);
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j) {
            w[i * n + j] = w_all[idx[i] * n_all + idx[j]];
        }
    }
    std::vector<double> t(n, 0.0), g(n), negH(n * n);
    double f = objective(w, t, opt.prior);
    for (int64_t it = 0; it < opt.max_iter; ++it) {
        double sum = 0.0;
        for (double v : t) {
            sum += v;
        }
        // g = gradient, negH = -Hessian (positive definite thanks to the sum term).
        for (size_t i = 0; i < n; ++i) {
            g[i] = -opt.prior * t[i] - sum;
            negH[i * n + i] = opt.prior + 1.0;
            for (size_t j = 0; j < n; ++j) {
                if (j == i) {
                    continue;
                }
                const double p = sigmoid(t[i] - t[j]);  // P(i beats j)
                g[i] += w[i * n + j] * (1.0 - p) - w[j * n + i] * p;
                const double c = (w[i * n + j] + w[j * n + i]) * p * (1.0 - p);
                negH[i * n + i] += c;
                negH[i * n + j] = 1.0 - c;
            }
        }
        const std::vector<double> step = solve_spd(negH, g);
        double step_max = 0.0;
        for (double s : step) {
            step_max = std::max(step_max, std::abs(s));
        }
        // Halve the step until the objective does not decrease (it is concave: this ends).
        double scale = 1.0;
        std::vector<double> cand(n);
        double fc = f;
        for (int h = 0; h < 60; ++h, scale *= 0.5) {
            for (size_t i = 0; i < n; ++i) {
                cand[i] = t[i] + scale * step[i];
            }
            fc = objective(w, cand, opt.prior);
            if (fc >= f) {
                break;
            }
        }
        if (fc < f) {
            break;  // no ascent possible: at the optimum up to rounding
        }
        t = cand;
        f = fc;
        if (step_max * scale < opt.tol) {
            break;
        }
    }
    std::vector<double> out(n_all, 0.0);
    for (size_t i = 0; i < n; ++i) {
        out[idx[i]] = t[i];
    }
    return out;
}

void check_bt_options(const BtOptions& opt) {
    check_scale(opt.scale);
    if (!std::isfinite(opt.prior) || opt.prior < 0 || opt.max_iter < 1 || !(opt.tol > 0)) {
        throw Error(Errc::kInvalidArgument,
                    "Bradley-Terry: prior must be >= 0, max_iter >= 1, tol > 0");
    }
}

// Ratings of one sample (indices into battles); present[i] set for models that played.
std::vector<double> bt_ratings(std::span<const Battle> battles, const Indexed& ix,
                               std::span<const size_t> sample, const BtOptions& opt,
                               std::vector<bool>& present, size_t anchor) {
    const size_t n = ix.names.size();
    present.assign(n, false);
    for (size_t k : sample) {
        present[ix.a[k]] = true;
        present[ix.b[k]] = true;
    }
    const std::vector<double> w = win_matrix(battles, ix, sample, n);
    if (opt.prior == 0) {
        std::string culprit;
        if (!strongly_connected(w, n, present, &culprit)) {
            throw Error(Errc::kBadValue,
                        "Bradley-Terry: no finite maximum-likelihood ratings (a model never wins "
                        "or never loses against the rest, e.g. '" +
                                ix.names[std::stoul(culprit)] + "'); use a prior > 0");
        }
    }
    const std::vector<double> t = fit_theta(w, n, present, opt);
    double a = 0.0;
    if (anchor < n && present[anchor]) {
        a = t[anchor];
    } else {
        size_t m = 0;
        for (size_t i = 0; i < n; ++i) {
            if (present[i]) {
                a += t[i];
                ++m;
            }
        }
        a /= static_cast<double>(m);
    }
    const double k = opt.scale.scale / std::log(opt.scale.base);
    std::vector<double> r(n);
    for (size_t i = 0; i < n; ++i) {
        r[i] = opt.scale.init + k * (t[i] - a);
    }
    return r;
}

size_t anchor_index(const Indexed& ix, const BtOptions& opt) {
    if (opt.anchor.empty()) {
        return ix.names.size();
    }
    const auto it = ix.index.find(opt.anchor);
    if (it == ix.index.end()) {
        throw Error(Errc::kInvalidArgument,
                    "anchor model '" + opt.anchor + "' does not appear in the battles");
    }
    return it->second;
}

}  // namespace

std::string_view winner_name(Winner w) {
    switch (w) {
        case Winner::kModelA:
            return "model_a";
        case Winner::kModelB:
            return "model_b";
        case Winner::kTie:
            return "tie";
        case Winner::kBothBad:
            return "tie (bothbad)";
    }
    return "tie";
}

Winner parse_winner(std::string_view s) {
    if (s == "model_a") {
        return Winner::kModelA;
    }
    if (s == "model_b") {
        return Winner::kModelB;
    }
    if (s == "tie") {
        return Winner::kTie;
    }
    if (s == "tie (bothbad)") {
        return Winner::kBothBad;
    }
    throw Error(Errc::kBadValue, "unknown winner '" + std::string(s) +
                                         "' (expected model_a, model_b, tie or tie (bothbad))");
}

double score_a(Winner w) {
    switch (w) {
        case Winner::kModelA:
            return 1.0;
        case Winner::kModelB:
            return 0.0;
        case Winner::kTie:
        case Winner::kBothBad:
            return 0.5;
    }
    return 0.5;
}

std::vector<Battle> parse_battle_log(std::string_view text) {
    std::vector<Battle> out;
    size_t line_no = 0;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
            continue;
        }
        try {
            const Json j = Json::parse(line);
            Battle b;
            b.model_a = j.at("model_a").as_string();
            b.model_b = j.at("model_b").as_string();
            b.winner = parse_winner(j.at("winner").as_string());
            out.push_back(std::move(b));
        } catch (const Error& e) {
            throw Error(Errc::kBadValue,
                        "battle log line " + std::to_string(line_no) + ": " + e.what());
        }
    }
    return out;
}

double elo_expected(double ra, double rb, const EloScale& s) {
    return 1.0 / (1.0 + std::pow(s.base, (rb - ra) / s.scale));
}

std::vector<Rating> online_elo(std::span<const Battle> battles, double k, const EloScale& s) {
    check_scale(s);
    if (!std::isfinite(k) || k <= 0) {
        throw Error(Errc::kInvalidArgument, "Elo: k must be finite and > 0");
    }
    const Indexed ix = index_battles(battles);
    std::vector<Rating> out(ix.names.size());
    for (size_t i = 0; i < out.size(); ++i) {
        out[i].model = ix.names[i];
        out[i].rating = s.init;
    }
    for (size_t n = 0; n < battles.size(); ++n) {
        double& ra = out[ix.a[n]].rating;
        double& rb = out[ix.b[n]].rating;
        const double ea = elo_expected(ra, rb, s);
        const double eb = elo_expected(rb, ra, s);
        const double sa = score_a(battles[n].winner);
        ra += k * (sa - ea);
        rb += k * ((1.0 - sa) - eb);
    }
    count_results(battles, ix, out);
    for (Rating& r : out) {
        r.lower = r.upper = r.rating;
    }
    return out;
}

std::vector<Rating> bradley_terry(std::span<const Battle> battles, const BtOptions& opt) {
    check_bt_options(opt);
    if (battles.empty()) {
        throw Error(Errc::kInvalidArgument, "Bradley-Terry: no battles");
    }
    const Indexed ix = index_battles(battles);
    const size_t anchor = anchor_index(ix, opt);
    std::vector<size_t> all(battles.size());
    for (size_t k = 0; k < all.size(); ++k) {
        all[k] = k;
    }
    std::vector<bool> present;
    const std::vector<double> r = bt_ratings(battles, ix, all, opt, present, anchor);
    std::vector<Rating> out(ix.names.size());
    for (size_t i = 0; i < out.size(); ++i) {
        out[i].model = ix.names[i];
        out[i].rating = out[i].lower = out[i].upper = r[i];
    }
    count_results(battles, ix, out);
    return out;
}

std::vector<Rating> bradley_terry_bootstrap(std::span<const Battle> battles, const BtOptions& opt,
                                            int64_t rounds, uint64_t seed) {
    if (rounds < 1) {
        throw Error(Errc::kInvalidArgument, "bootstrap: rounds must be >= 1");
    }
    std::vector<Rating> out = bradley_terry(battles, opt);
    const Indexed ix = index_battles(battles);
    const size_t anchor = anchor_index(ix, opt);
    const size_t n = ix.names.size();
    std::vector<std::vector<double>> samples(n);  // [model][rounds it played]
    Xoshiro256 rng(seed);
    std::vector<size_t> pick(battles.size());
    std::vector<bool> present;
    for (int64_t r = 0; r < rounds; ++r) {
        for (size_t& p : pick) {
            // Uniform index in [0, battles): 53 random bits are plenty for any log size.
            p = static_cast<size_t>(rng.next_double() * static_cast<double>(battles.size()));
            p = std::min(p, battles.size() - 1);
        }
        const std::vector<double> ratings = bt_ratings(battles, ix, pick, opt, present, anchor);
        for (size_t i = 0; i < n; ++i) {
            if (present[i]) {
                samples[i].push_back(ratings[i]);
            }
        }
    }
    for (size_t i = 0; i < n; ++i) {
        if (!samples[i].empty()) {
            out[i].lower = quantile(samples[i], 0.025);
            out[i].upper = quantile(samples[i], 0.975);
        }
    }
    return out;
}

double quantile(std::vector<double>& v, double q) {
    MISTRAL_CHECK(!v.empty() && q >= 0 && q <= 1, "quantile of an empty vector");
    std::sort(v.begin(), v.end());
    const double pos = q * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, v.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    return v[lo] + frac * (v[hi] - v[lo]);
}

}  // namespace mistral
