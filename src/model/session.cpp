#include <algorithm>
#include <string>
#include <vector>

#include <mistral/error.h>
#include <mistral/session.h>

#include "model/forward.h"

namespace mistral {

namespace {

int64_t default_ctx(const ModelConfig& cfg) {
    if (cfg.window > 0)
        return cfg.window;
    return cfg.max_context > 0 ? std::min(cfg.max_context, kDefaultFullAttentionCtx)
                               : kDefaultFullAttentionCtx;
}

int64_t chunk_for(const ModelConfig& cfg) {
    return cfg.window > 0 ? cfg.window : 512;
}

}  // namespace

Session::Session(const Model& model, const KernelTable& kernels, SessionOptions opts)
    : model_(&model),
      cfg_(model.config()),
      kernels_(&kernels),
      pool_(opts.pool),
      all_logits_(opts.all_logits) {
    if (opts.full_attention)
        cfg_.window = 0;
    const ModelConfig& cfg = cfg_;
    if (opts.ctx < 0)
        throw Error(Errc::kInvalidArgument,
                    "context size must be >= 0, got " + std::to_string(opts.ctx));
    if (opts.max_batch < 0) {
        throw Error(Errc::kInvalidArgument,
                    "batch size must be >= 0, got " + std::to_string(opts.max_batch));
    }
    int64_t capacity = opts.ctx == 0 ? default_ctx(cfg) : opts.ctx;
    // A rolling buffer never needs more than the window.
    if (cfg.window > 0)
        capacity = std::min(capacity, cfg.window);
    max_batch_ = opts.max_batch == 0 ? std::min(chunk_for(cfg), kDefaultMaxBatch) : opts.max_batch;
    const size_t n_threads = pool_ != nullptr ? pool_->size() : 1;
    state_ = std::make_unique<ForwardState>(
            cfg, opts.kv_type, capacity, static_cast<size_t>(max_batch_), n_threads, all_logits_);
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

int64_t Session::capacity() const {
    return state_->cache.capacity();
}
bool Session::rolling() const {
    return config().window > 0 && capacity() >= config().window;
}
int64_t Session::default_chunk() const {
    return chunk_for(config());
}
size_t Session::kv_bytes() const {
    return state_->cache.bytes();
}
const KvCache& Session::cache() const {
    return state_->cache;
}
const ModelConfig& Session::config() const {
    return cfg_;
}

std::span<const float> Session::forward(std::span<const TokenId> ids, int64_t pos0,
                                        bool all_logits) {
    const ModelConfig& cfg = config();
    const int64_t T = static_cast<int64_t>(ids.size());
    if (T == 0)
        throw Error(Errc::kInvalidArgument, "forward: empty batch");
    if (T > max_batch_) {
        throw Error(Errc::kInvalidArgument, "forward: batch of " + std::to_string(T) +
                                                    " tokens exceeds max_batch " +
                                                    std::to_string(max_batch_));
    }
    if (all_logits && !all_logits_) {
        throw Error(Errc::kInvalidArgument,
                    "forward: all-position logits need SessionOptions.all_logits");
    }
    for (size_t t = 0; t < ids.size(); ++t) {
        if (ids[t] < 0 || ids[t] >= cfg.vocab_size) {
            throw Error(Errc::kInvalidArgument, "token id " + std::to_string(ids[t]) +
                                                        " at index " + std::to_string(t) +
                                                        " is outside the vocabulary [0, " +
                                                        std::to_string(cfg.vocab_size) + ")");
        }
    }
    // Continuing at pos() is always fine; going back is fine while no slot has been reused
    // (every earlier position is still cached), and pos0 == 0 starts over.
    const bool ok_pos =
            pos0 == pos_ || pos0 == 0 || (pos0 >= 0 && pos0 < pos_ && pos_ <= capacity());
    if (!ok_pos) {
        throw Error(Errc::kInvalidArgument,
                    "forward: position " + std::to_string(pos0) +
                            " cannot follow the cached positions (next is " + std::to_string(pos_) +
                            ")");
    }
    if (!rolling() && pos0 + T > capacity()) {
        throw Error(Errc::kContextOverflow, "context full: " + std::to_string(pos0 + T) +
                                                    " positions needed, the cache holds " +
                                                    std::to_string(capacity()) + " (raise --ctx)");
    }
    const auto out = run_forward(*model_, *kernels_, pool_, *state_, ids, pos0, all_logits);
    pos_ = pos0 + T;
    return out;
}

bool Session::rewind(int64_t n) {
    if (n < 0 || n > pos_ || (n > 0 && n < pos_ && pos_ > capacity()))
        return false;
    pos_ = n;
    return true;
}

std::span<const float> Session::prefill(std::span<const TokenId> ids, int64_t chunk) {
    if (ids.empty())
        throw Error(Errc::kInvalidArgument, "prefill: empty prompt");
    if (chunk < 0)
        throw Error(Errc::kInvalidArgument, "prefill: chunk must be >= 0");
    const size_t step =
            static_cast<size_t>(std::min(chunk == 0 ? default_chunk() : chunk, max_batch_));
    std::span<const float> last;
    for (size_t b = 0; b < ids.size(); b += step) {
        last = forward(ids.subspan(b, std::min(step, ids.size() - b)), pos_, false);
    }
    return last;
}

void Session::fill_cache_randomly(int64_t n, uint64_t seed) {
    if (n < 0)
        throw Error(Errc::kInvalidArgument, "fill_cache_randomly: negative count");
    if (!rolling() && n > capacity()) {
        throw Error(Errc::kContextOverflow, "context full: " + std::to_string(n) +
                                                    " positions needed, the cache holds " +
                                                    std::to_string(capacity()));
    }
    KvCache& cache = state_->cache;
    const size_t kv_dim = cache.kv_dim();
    std::vector<float> k(kv_dim), v(kv_dim);
    uint64_t x = seed | 1;
    auto next = [&x] {  // xorshift64*, values in [-1, 1)
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        return static_cast<float>((x * 0x2545F4914F6CDD1Dull) >> 40) * 0x1.0p-23f - 1.0f;
    };
    for (size_t l = 0; l < cache.n_layers(); ++l) {
        for (int64_t p = std::max<int64_t>(0, n - capacity()); p < n; ++p) {
            for (size_t i = 0; i < kv_dim; ++i) {
                k[i] = next();
                v[i] = next();
            }
            cache.store(l, p, k.data(), v.data());
        }
    }
    pos_ = n;
}

std::span<const float> Session::decode(TokenId id) {
    return forward(std::span<const TokenId>(&id, 1), pos_, false);
}

}  // namespace mistral
