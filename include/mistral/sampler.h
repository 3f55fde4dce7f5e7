// Seeded next-token sampler: repetition penalty, top-k, top-p, min-p, temperature, then a draw
// from the softmax of what is left. No global state: each Sampler owns its RNG and scratch.
//
// The pipeline, in this exact order (llama.cpp's default chain order; each step is off at its
// neutral value):
//   0. NaN logits count as -inf.
//   1. Repetition penalty (CTRL / llama.cpp style), off when repeat_penalty == 1 or
//      repeat_last_n == 0: every DISTINCT id among the last repeat_last_n entries of `recent`
//      (all of `recent` when repeat_last_n == -1; ids outside [0, vocab) are ignored) gets its
//      logit divided by repeat_penalty when the logit is > 0, multiplied when it is <= 0. A token
//      repeated several times is penalised once.
//      Then, if any logit is +inf, the +inf tokens become 0 and every other token -inf (the
//      limit of a softmax), so they share the mass equally.
//   2. Order. Candidates are ranked by (logit descending, id ascending): equal logits always
//      rank the lower id first. Every tie below is broken by this order.
//   3. Top-k, off when top_k <= 0 or top_k >= vocab: keep the first top_k candidates.
//   4. Top-p, off when top_p >= 1: p_i = softmax over the top-k survivors (temperature 1);
//      keep the smallest prefix whose cumulative probability (summed in double) is >= top_p
//      (so at least one token; top_p <= 0 keeps exactly one).
//   5. Min-p, off when min_p <= 0: drop every token with p_i < min_p * p_max, i.e. with
//      exp(logit_i - logit_max) < min_p (in double; the ratio does not depend on which set was
//      normalised). The best token always stays, even when min_p > 1.
//   6. Temperature: temperature <= 0 means greedy: the first candidate in the order of step 2
//      (argmax, ties -> lowest id), and steps 3-5 and the RNG are skipped (no draw is consumed).
//      Otherwise weights w_i = exp((logit_i - logit_max) / temperature) over the survivors.
//   7. Draw: u = (next_u64() >> 11) * 2^-53 in [0, 1); walk the survivors in the order of step 2
//      summing w_i (in double) and return the first id whose running sum exceeds u * sum(w).
// Tokens whose logit is -inf (or NaN) never survive steps 3-7; if every logit is -inf or NaN,
// sample() returns 0 (the argmax under the tie rule). Greedy and this case consume no draw.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mistral {

using TokenId = int32_t;  // the same alias as tokenizer.h (the sampler does not depend on it)

// xoshiro256** 1.0 (Blackman & Vigna), seeded through splitmix64, implemented here so a seed
// gives the same numbers on every platform and standard library (std:: distributions do not).
class Xoshiro256 {
public:
    explicit Xoshiro256(uint64_t seed) { reseed(seed); }
    // Raw state (tests against the published vectors; must not be all zero).
    static Xoshiro256 from_state(const std::array<uint64_t, 4>& s);
    // State = four successive splitmix64 outputs starting from `seed`.
    void reseed(uint64_t seed);
    uint64_t next_u64();
    // Uniform in [0, 1) with 53 random bits.
    double next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

    // One splitmix64 step: advances *state and returns the mixed output.
    static uint64_t splitmix64(uint64_t* state);

private:
    Xoshiro256() = default;
    std::array<uint64_t, 4> s_{};
};

inline constexpr uint64_t kDefaultSeed = 0x5EED5EED5EED5EEDull;

struct SamplerParams {
    float temperature = 0.8f;     // <= 0: greedy
    int top_k = 40;               // <= 0 or >= vocab: off
    float top_p = 0.95f;          // >= 1: off
    float min_p = 0.05f;          // <= 0: off
    float repeat_penalty = 1.0f;  // 1: off; must be > 0
    int repeat_last_n = 64;       // 0: off; -1: all of `recent`
    uint64_t seed = kDefaultSeed;
};

// A surviving token and its final probability (after every step, temperature included).
struct Candidate {
    TokenId id = 0;
    float logit = 0.0f;  // after the penalty (and the +inf clean-up), before temperature
    float prob = 0.0f;
};

class Sampler {
public:
    // Throws Error(kInvalidArgument) on NaN parameters, repeat_penalty <= 0 or infinite, or
    // repeat_last_n < -1. (temperature = +inf is allowed: uniform over the survivors.)
    explicit Sampler(SamplerParams params);

    // Picks the next id from `logits` ([vocab]) given the ids so far (`recent`, oldest first).
    // Throws Error(kInvalidArgument) if logits is empty; otherwise only std::bad_alloc when the
    // scratch grows (once per vocabulary size). O(vocab) plus O(k log k) with top-k set
    // (nth_element, no full sort); without top-k it sorts the min-p survivors, and with top-p
    // only as deep as the top-p cut (blocks of growing size). A full sort of the vocabulary
    // happens only with top-k, top-p and min-p all off.
    TokenId sample(std::span<const float> logits, std::span<const TokenId> recent);

    // Runs steps 0-6 without drawing and returns the survivors in rank order with their final
    // probabilities (summing to 1). Greedy returns the single argmax with prob 1. The span is
    // valid until the next call. For tests and for showing probabilities.
    std::span<const Candidate> distribution(std::span<const float> logits,
                                            std::span<const TokenId> recent);

    void reseed(uint64_t seed) { rng_.reseed(seed); }
    const SamplerParams& params() const { return params_; }

private:
    void filter(std::span<const float> logits, std::span<const TokenId> recent);

    SamplerParams params_;
    Xoshiro256 rng_;
    std::vector<float> x_;       // [vocab] cleaned + penalised logits
    std::vector<uint8_t> seen_;  // [vocab] penalty marks, all zero between calls
    struct Ranked {
        float x;  // logit after steps 0-1
        TokenId id;
    };
    std::vector<Ranked> ranked_;  // [vocab] candidates; the first n_ are the survivors, ranked
    std::vector<Candidate> out_;  // [<= vocab] survivors for distribution()
    std::vector<double> weight_;  // [<= vocab] temperature weights of the survivors
    size_t n_ = 0;                // number of survivors in ranked_
    float x_max_ = 0.0f;          // largest cleaned logit (or -inf)
    bool greedy_ = false;         // the last filter() took the greedy path
};

}  // namespace mistral
