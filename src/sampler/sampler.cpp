// The sampler pipeline documented step by step in include/mistral/sampler.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <mistral/error.h>
#include <mistral/sampler.h>

#include "util/check.h"

namespace mistral {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

// exp(x - x_max) in double: the softmax numerator relative to the best token, in (0, 1].
double rel_weight(float x, float x_max) {
    return std::exp(static_cast<double>(x) - static_cast<double>(x_max));
}

void check_params(const SamplerParams& p) {
    auto bad = [](const std::string& what) {
        return Error(Errc::kInvalidArgument, "sampler: " + what);
    };
    if (std::isnan(p.temperature)) {
        throw bad("temperature is NaN");
    }
    if (std::isnan(p.top_p)) {
        throw bad("top_p is NaN");
    }
    if (std::isnan(p.min_p)) {
        throw bad("min_p is NaN");
    }
    if (!(p.repeat_penalty > 0.0f) || std::isinf(p.repeat_penalty)) {
        throw bad("repeat_penalty must be a finite number > 0, got " +
                  std::to_string(p.repeat_penalty));
    }
    if (p.repeat_last_n < -1) {
        throw bad("repeat_last_n must be >= -1, got " + std::to_string(p.repeat_last_n));
    }
}

}  // namespace

// ---- Xoshiro256 --------------------------------------------------------------------------------

uint64_t Xoshiro256::splitmix64(uint64_t* state) {
    // splitmix64 (Steele, Lea, Flood), the seeding generator recommended for xoshiro.
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

Xoshiro256 Xoshiro256::from_state(const std::array<uint64_t, 4>& s) {
    MISTRAL_CHECK(s[0] | s[1] | s[2] | s[3], "xoshiro256 state must not be all zero");
    Xoshiro256 r;
    r.s_ = s;
    return r;
}

void Xoshiro256::reseed(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& w : s_) {
        w = splitmix64(&sm);
    }
    // splitmix64 is a bijection of its counter, so four successive outputs are never all zero.
}

uint64_t Xoshiro256::next_u64() {
    // xoshiro256** 1.0: scrambler rotl(s1 * 5, 7) * 9, then the linear state update.
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

// ---- Sampler -----------------------------------------------------------------------------------

Sampler::Sampler(SamplerParams params) : params_(params), rng_(params.seed) {
    check_params(params_);
}

void Sampler::filter(std::span<const float> logits, std::span<const TokenId> recent) {
    const size_t vocab = logits.size();
    if (vocab == 0) {
        throw Error(Errc::kInvalidArgument, "sampler: empty logits");
    }
    if (x_.size() != vocab) {  // scratch sized once per vocabulary
        x_.assign(vocab, 0.0f);
        seen_.assign(vocab, 0);
        ranked_.assign(vocab, Ranked{});
        out_.reserve(vocab);
        weight_.assign(vocab, 0.0);
    }

    // Step 0: NaN -> -inf.
    for (size_t i = 0; i < vocab; ++i) {
        x_[i] = std::isnan(logits[i]) ? -kInf : logits[i];
    }

    // Step 1: repetition penalty over the distinct ids of the last repeat_last_n entries.
    const float penalty = params_.repeat_penalty;
    if (penalty != 1.0f && params_.repeat_last_n != 0 && !recent.empty()) {
        size_t window = recent.size();
        if (params_.repeat_last_n > 0) {
            window = std::min(window, static_cast<size_t>(params_.repeat_last_n));
        }
        const auto last = recent.last(window);
        for (TokenId id : last) {
            if (id < 0 || static_cast<size_t>(id) >= vocab || seen_[static_cast<size_t>(id)]) {
                continue;
            }
            const auto u = static_cast<size_t>(id);
            seen_[u] = 1;
            x_[u] = x_[u] > 0.0f ? x_[u] / penalty : x_[u] * penalty;
        }
        for (TokenId id : last) {  // leave seen_ all zero for the next call
            if (id >= 0 && static_cast<size_t>(id) < vocab) {
                seen_[static_cast<size_t>(id)] = 0;
            }
        }
    }

    // Step 0 (cont.): +inf tokens share the whole mass; everything else gets -inf.
    float x_max = -kInf;
    for (size_t i = 0; i < vocab; ++i) {
        x_max = std::max(x_max, x_[i]);
    }
    if (x_max == kInf) {
        for (size_t i = 0; i < vocab; ++i) {
            x_[i] = x_[i] == kInf ? 0.0f : -kInf;
        }
        x_max = 0.0f;
    }
    x_max_ = x_max;

    // Greedy (and the degenerate all -inf case): the first max, i.e. ties -> lowest id.
    if (params_.temperature <= 0.0f || x_max == -kInf) {
        size_t best = 0;
        while (x_[best] != x_max) {
            ++best;
        }
        ranked_[0] = {x_[best], static_cast<TokenId>(best)};
        weight_[0] = 1.0;
        n_ = 1;
        greedy_ = true;
        return;
    }
    greedy_ = false;

    // Step 2: rank by (logit desc, id asc). -inf tokens are never candidates. Candidates are
    // packed (logit, id) pairs so that selection and sorting stay in contiguous memory.
    auto ranks_before = [](const Ranked& a, const Ranked& b) {
        return a.x > b.x || (a.x == b.x && a.id < b.id);
    };
    const auto at = [this](size_t i) { return ranked_.begin() + static_cast<ptrdiff_t>(i); };
    const bool top_k_on = params_.top_k > 0 && static_cast<size_t>(params_.top_k) < vocab;
    const bool top_p_on = params_.top_p < 1.0f;
    const bool min_p_on = params_.min_p > 0.0f;
    const double min_p = static_cast<double>(params_.min_p);
    const double top_p = static_cast<double>(params_.top_p);

    size_t m = 0;  // candidates in ranked_[0, m)
    double z = 0;  // softmax denominator over the top-k survivors (relative to x_max)
    if (top_k_on) {
        // Step 3: top-k by partial selection, then sort only the k survivors.
        for (size_t i = 0; i < vocab; ++i) {
            if (x_[i] != -kInf) {
                ranked_[m++] = {x_[i], static_cast<TokenId>(i)};
            }
        }
        const auto k = static_cast<size_t>(params_.top_k);
        if (m > k) {
            std::nth_element(at(0), at(k), at(m), ranks_before);
            m = k;
        }
        std::sort(at(0), at(m), ranks_before);
        if (top_p_on) {
            for (size_t i = 0; i < m; ++i) {
                z += rel_weight(ranked_[i].x, x_max);
            }
        }
        // Step 4: top-p, the smallest prefix with cumulative probability >= top_p.
        if (top_p_on) {
            double cum = 0;
            for (size_t i = 0; i < m; ++i) {
                cum += rel_weight(ranked_[i].x, x_max) / z;
                if (cum >= top_p) {
                    m = i + 1;
                    break;
                }
            }
        }
    } else {
        // No top-k: the top-p denominator is over the whole vocabulary, and min-p (a prefix
        // of the rank order, independent of normalisation) can be applied before sorting so
        // that only its survivors are sorted. Same result as applying it after top-p.
        for (size_t i = 0; i < vocab; ++i) {
            if (x_[i] == -kInf) {
                continue;
            }
            const double w = rel_weight(x_[i], x_max);
            z += w;
            if (!min_p_on || x_[i] == x_max || !(w < min_p)) {  // the best always survives
                ranked_[m++] = {x_[i], static_cast<TokenId>(i)};
            }
        }
        if (!top_p_on) {
            std::sort(at(0), at(m), ranks_before);
        } else {
            // Step 4: top-p, sorting only as far as needed: select and sort growing blocks
            // [s, e) of the rank order until the cumulative probability reaches top_p. The
            // prefix found is exactly the one a full sort would give.
            double cum = 0;
            size_t s = 0;
            bool cut = false;
            while (s < m && !cut) {
                const size_t e = std::min(m, std::max<size_t>(64, 4 * s));
                if (e < m) {
                    std::nth_element(at(s), at(e), at(m), ranks_before);
                }
                std::sort(at(s), at(e), ranks_before);
                for (size_t i = s; i < e; ++i) {
                    cum += rel_weight(ranked_[i].x, x_max) / z;
                    if (cum >= top_p) {
                        m = i + 1;
                        cut = true;
                        break;
                    }
                }
                s = e;
            }
        }
    }
    MISTRAL_CHECK(m >= 1, "the best finite token always survives ranking");

    // Step 5: min-p; the best token (ratio 1) is always kept, even when min_p > 1.
    if (min_p_on) {
        for (size_t i = 1; i < m; ++i) {
            if (rel_weight(ranked_[i].x, x_max) < min_p) {
                m = i;
                break;
            }
        }
    }

    // Step 6: temperature weights, relative to the best token (so weight_[0] == 1).
    const double inv_t = 1.0 / static_cast<double>(params_.temperature);
    for (size_t i = 0; i < m; ++i) {
        const double d = static_cast<double>(ranked_[i].x) - static_cast<double>(x_max);
        weight_[i] = std::exp(d * inv_t);
    }
    n_ = m;
}

TokenId Sampler::sample(std::span<const float> logits, std::span<const TokenId> recent) {
    filter(logits, recent);
    if (greedy_) {
        return ranked_[0].id;
    }
    // Step 7: inverse-CDF draw over the survivors in rank order.
    double total = 0;
    for (size_t i = 0; i < n_; ++i) {
        total += weight_[i];
    }
    const double target = rng_.next_double() * total;
    double cum = 0;
    for (size_t i = 0; i < n_; ++i) {
        cum += weight_[i];
        if (cum > target) {
            return ranked_[i].id;
        }
    }
    return ranked_[n_ - 1].id;  // rounding: target within an ulp of total
}

std::span<const Candidate> Sampler::distribution(std::span<const float> logits,
                                                 std::span<const TokenId> recent) {
    filter(logits, recent);
    double total = 0;
    for (size_t i = 0; i < n_; ++i) {
        total += weight_[i];
    }
    out_.clear();
    for (size_t i = 0; i < n_; ++i) {
        out_.push_back({ranked_[i].id, ranked_[i].x, static_cast<float>(weight_[i] / total)});
    }
    return out_;
}

}  // namespace mistral
