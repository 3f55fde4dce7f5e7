// Log-likelihood scoring over a Session: perplexity of a token sequence in (strided) windows,
// and the log-likelihood of continuations given a shared context (zero-shot multiple choice,
// moderation labels). No I/O; progress goes through a callback. See docs/EVALUATION.md.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include <mistral/session.h>
#include <mistral/tokenizer.h>

namespace mistral {

// log softmax(logits)[id], computed in double (max-subtracted). id must be in range (checked:
// Error(kInvalidArgument)).
double log_prob(std::span<const float> logits, TokenId id);

// One perplexity window: ids[begin, end) are fed at positions 0 .. end-begin-1 (a fresh
// sequence: a window's first token is used as is, no BOS is inserted), and the predictions of
// ids[score_begin, end) are scored (each from the logits of the position before it).
struct PerplexityWindow {
    int64_t begin = 0, end = 0, score_begin = 0;
};

// Windows of `ctx` tokens advanced by `stride` over n ids: window k = [k*stride, k*stride+ctx)
// clipped to n, until one reaches n. Each window scores only the ids no earlier window scored
// (and never its own first id, which has no context): the first window scores ids 1..end-1.
// With stride == ctx (non-overlapping) the first id of every later window goes unscored.
// ctx = 0 means n (one window). Throws Error(kInvalidArgument) unless n >= 2, ctx >= 2 (after
// the default) and 1 <= stride <= ctx.
std::vector<PerplexityWindow> perplexity_windows(int64_t n, int64_t ctx, int64_t stride);

struct PerplexityResult {
    double nll = 0.0;     // sum of -log p(id | preceding ids in its window), natural log
    int64_t scored = 0;   // ids scored
    int64_t windows = 0;  // windows done
    int64_t fed = 0;      // ids run through the model (overlap included)
    double ppl() const { return scored > 0 ? std::exp(nll / static_cast<double>(scored)) : 0.0; }
};

// Called after each window with the running totals.
using PerplexityProgress = std::function<void(const PerplexityResult& so_far, int64_t n_windows)>;

// Perplexity of `ids` over perplexity_windows(ids.size(), ctx, stride). The session must have
// been made with all_logits = true; each window starts at position 0 (session.reset()), so a
// non-rolling session needs capacity >= ctx, a rolling (sliding-window) one takes any ctx.
PerplexityResult perplexity(Session& session, std::span<const TokenId> ids, int64_t ctx,
                            int64_t stride, const PerplexityProgress& progress = {});

struct ContinuationScore {
    double logprob = 0.0;  // sum over the continuation's ids of log p(id | context, earlier ids)
    int64_t tokens = 0;
    bool greedy = false;  // every id was the argmax (lowest id on ties) at its position
};

// Log-likelihood of each continuation after `context` (which should start with BOS): the
// context is prefilled once (at position 0, after session.reset()); each continuation runs from
// position context.size(), rewinding the session over the previous continuation when its cache
// still holds every context position; when it does not (a rolling cache shorter than context +
// continuation) the context is prefilled again. `context_prefills` (optional) receives how many
// prefills were done. The session needs all_logits = true. Throws Error(kInvalidArgument) for an
// empty context or continuation, and the session's errors (bad ids, context overflow).
std::vector<ContinuationScore> score_continuations(
        Session& session, std::span<const TokenId> context,
        std::span<const std::vector<TokenId>> continuations, int64_t* context_prefills = nullptr);

// Token ids of a context/continuation pair the way lm-evaluation-harness makes them: trailing
// spaces of the context move to the front of the continuation; context ids = BOS +
// encode(context); continuation ids = encode(context + continuation) minus its first
// encode(context).size() ids. Throws Error(kInvalidArgument) if the continuation comes out empty.
struct EncodedPair {
    std::vector<TokenId> context;
    std::vector<TokenId> continuation;
};
EncodedPair encode_pair(const Tokenizer& tok, std::string_view context,
                        std::string_view continuation);

}  // namespace mistral
