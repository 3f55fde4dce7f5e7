// Log-likelihood scoring: windowed perplexity and continuation scoring (see scoring.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <mistral/error.h>
#include <mistral/scoring.h>

namespace mistral {

namespace {

// Index of the largest logit, lowest id on ties (the sampler's greedy rule).
size_t argmax(std::span<const float> logits) {
    size_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i) {
        if (logits[i] > logits[best]) {
            best = i;
        }
    }
    return best;
}

}  // namespace

double log_prob(std::span<const float> logits, TokenId id) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) {
        throw Error(Errc::kInvalidArgument, "token id " + std::to_string(id) +
                                                    " out of range for vocabulary of " +
                                                    std::to_string(logits.size()));
    }
    // log p = x_id - max - log(sum exp(x - max)), in double so a 32000-term sum keeps its digits.
    double mx = -std::numeric_limits<double>::infinity();
    for (float v : logits) {
        mx = std::max(mx, static_cast<double>(v));
    }
    double sum = 0.0;
    for (float v : logits) {
        sum += std::exp(static_cast<double>(v) - mx);
    }
    return static_cast<double>(logits[static_cast<size_t>(id)]) - mx - std::log(sum);
}

std::vector<PerplexityWindow> perplexity_windows(int64_t n, int64_t ctx, int64_t stride) {
    if (n < 2) {
        throw Error(Errc::kInvalidArgument,
                    "perplexity needs at least 2 tokens, got " + std::to_string(n));
    }
    if (ctx == 0) {
        ctx = n;
    }
    if (stride == 0) {
        stride = ctx;
    }
    if (ctx < 2) {
        throw Error(Errc::kInvalidArgument, "--ctx must be >= 2, got " + std::to_string(ctx));
    }
    if (stride < 1 || stride > ctx) {
        throw Error(Errc::kInvalidArgument, "--stride must be in [1, ctx=" + std::to_string(ctx) +
                                                    "], got " + std::to_string(stride));
    }
    std::vector<PerplexityWindow> out;
    int64_t prev_end = 0;  // ids below this are scored (or are id 0, never scored)
    for (int64_t begin = 0;; begin += stride) {
        const int64_t end = std::min(begin + ctx, n);
        out.push_back({begin, end, std::max(prev_end, begin + 1)});
        prev_end = end;
        if (end == n) {
            break;
        }
    }
    return out;
}

PerplexityResult perplexity(Session& session, std::span<const TokenId> ids, int64_t ctx,
                            int64_t stride, const PerplexityProgress& progress) {
    const auto windows = perplexity_windows(static_cast<int64_t>(ids.size()), ctx, stride);
    const size_t vocab = static_cast<size_t>(session.config().vocab_size);
    const int64_t batch = session.max_batch();
    PerplexityResult res;
    for (const PerplexityWindow& w : windows) {
        session.reset();
        // Window position j predicts id begin + j + 1; the rows needed are j in
        // [score_begin - begin - 1, end - begin - 1).
        const int64_t need_lo = w.score_begin - w.begin - 1;
        const int64_t need_hi = w.end - w.begin - 1;
        for (int64_t p = 0; p < need_hi; p += batch) {
            const int64_t T = std::min(batch, need_hi - p);  // the window's last id is never fed
            const auto chunk =
                    ids.subspan(static_cast<size_t>(w.begin + p), static_cast<size_t>(T));
            const bool wanted = p + T > need_lo;
            const auto logits = session.forward(chunk, p, wanted);
            res.fed += T;
            if (!wanted) {
                continue;
            }
            for (int64_t r = std::max<int64_t>(0, need_lo - p); r < T; ++r) {
                const TokenId next = ids[static_cast<size_t>(w.begin + p + r + 1)];
                const auto row = logits.subspan(static_cast<size_t>(r) * vocab, vocab);
                res.nll -= log_prob(row, next);
                ++res.scored;
            }
        }
        ++res.windows;
        if (progress) {
            progress(res, static_cast<int64_t>(windows.size()));
        }
    }
    return res;
}

std::vector<ContinuationScore> score_continuations(
        Session& session, std::span<const TokenId> context,
        std::span<const std::vector<TokenId>> continuations, int64_t* context_prefills) {
    if (context.empty()) {
        throw Error(Errc::kInvalidArgument, "scoring: empty context (start it with BOS)");
    }
    for (const auto& c : continuations) {
        if (c.empty()) {
            throw Error(Errc::kInvalidArgument, "scoring: empty continuation");
        }
    }
    const size_t vocab = static_cast<size_t>(session.config().vocab_size);
    const int64_t C = static_cast<int64_t>(context.size());
    const int64_t batch = session.max_batch();
    int64_t prefills = 0;
    std::vector<float> ctx_logits;  // [vocab] logits after the context: predict each first id
    auto prefill_context = [&] {
        session.reset();
        const auto l = session.prefill(context, batch);
        ctx_logits.assign(l.begin(), l.end());
        ++prefills;
    };
    prefill_context();
    std::vector<ContinuationScore> out;
    for (const auto& cont : continuations) {
        ContinuationScore s;
        s.tokens = static_cast<int64_t>(cont.size());
        s.logprob = log_prob(ctx_logits, cont[0]);
        s.greedy = argmax(ctx_logits) == static_cast<size_t>(cont[0]);
        // Feed cont[0 .. L-2] from position C; row r predicts cont[r + 1].
        const int64_t n_feed = s.tokens - 1;
        if (n_feed > 0) {
            // Going back to C needs every context position still cached (Session's rule).
            if (session.pos() != C && session.pos() > session.capacity()) {
                prefill_context();
            }
            for (int64_t p = 0; p < n_feed; p += batch) {
                const int64_t T = std::min(batch, n_feed - p);
                const auto chunk = std::span<const TokenId>(cont).subspan(static_cast<size_t>(p),
                                                                          static_cast<size_t>(T));
                const auto logits = session.forward(chunk, C + p, true);
                for (int64_t r = 0; r < T; ++r) {
                    const auto row = logits.subspan(static_cast<size_t>(r) * vocab, vocab);
                    const TokenId next = cont[static_cast<size_t>(p + r + 1)];
                    s.logprob += log_prob(row, next);
                    s.greedy = s.greedy && argmax(row) == static_cast<size_t>(next);
                }
            }
        }
        out.push_back(s);
    }
    if (context_prefills != nullptr) {
        *context_prefills = prefills;
    }
    return out;
}

EncodedPair encode_pair(const Tokenizer& tok, std::string_view context,
                        std::string_view continuation) {
    std::string ctx(context);
    std::string cont(continuation);
    const size_t keep = ctx.find_last_not_of(' ');
    const size_t cut = keep == std::string::npos ? 0 : keep + 1;
    if (cut < ctx.size()) {
        cont = ctx.substr(cut) + cont;
        ctx.resize(cut);
    }
    const std::vector<TokenId> ctx_ids = tok.encode(ctx);
    const std::vector<TokenId> whole = tok.encode(ctx + cont);
    EncodedPair out;
    out.context.push_back(tok.bos_id());
    out.context.insert(out.context.end(), ctx_ids.begin(), ctx_ids.end());
    if (whole.size() > ctx_ids.size()) {
        out.continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(ctx_ids.size()),
                                whole.end());
    }
    if (out.continuation.empty()) {
        throw Error(Errc::kInvalidArgument,
                    "continuation '" + std::string(continuation) + "' encodes to no tokens");
    }
    return out;
}

}  // namespace mistral
