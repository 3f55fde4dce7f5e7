// The mutable side of inference: a Session owns the KV cache, every scratch buffer (allocated
// once, in the constructor) and the current position. It borrows the (immutable, shareable)
// Model, a kernel table and optionally a thread pool, which must outlive it. Move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include <mistral/config.h>
#include <mistral/dtype.h>
#include <mistral/kernels.h>
#include <mistral/kv_cache.h>
#include <mistral/model.h>
#include <mistral/thread_pool.h>
#include <mistral/tokenizer.h>

namespace mistral {

inline constexpr int64_t kDefaultFullAttentionCtx = 4096;  // cap of the W = 0 default context
inline constexpr int64_t kDefaultMaxBatch = 512;           // cap of the default batch (scratch)

struct SessionOptions {
    // Positions the cache holds. 0 = default: the window W for sliding-window models (a rolling
    // buffer: generation never runs out), else min(max_context, 4096) (or 4096 if unknown).
    // With W = 0, or ctx < W, going past ctx positions throws Error(kContextOverflow).
    int64_t ctx = 0;
    // Largest T one forward() takes; sizes the scratch. 0 = default_chunk() capped at 512.
    int64_t max_batch = 0;
    DType kv_type = DType::kF32;  // f32 or f16
    // Reserve [max_batch, vocab] logits so forward(..., all_logits = true) is allowed.
    bool all_logits = false;
    ThreadPool* pool = nullptr;  // null: run on the calling thread
    // Ignore the model's sliding window: full causal attention over a non-rolling cache of ctx
    // positions (to measure what the window saves, e.g. `mistral bench --attention full`).
    bool full_attention = false;
};

struct ForwardState;  // scratch buffers (src/model/forward.h)

class Session {
public:
    // Allocates the cache and all scratch. Throws Error(kInvalidArgument) for bad options.
    Session(const Model& model, const KernelTable& kernels, SessionOptions opts = {});
    ~Session();
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Runs ids[T] at positions pos0 .. pos0+T-1 and returns the logits of the last position
    // ([vocab]) or, with all_logits, of every position ([T, vocab], row-major). The span stays
    // valid until the next call. pos0 must be pos() (continue), or go back to a position whose
    // keys are all still cached (always pos0 == 0). Throws Error before computing anything:
    // kInvalidArgument (empty/too long batch, id out of range, bad pos0, all_logits not
    // reserved), kContextOverflow (a non-rolling cache would run out).
    std::span<const float> forward(std::span<const TokenId> ids, int64_t pos0,
                                   bool all_logits = false);
    // The prompt at pos(), in chunks of `chunk` tokens (0 = default_chunk()) each at most
    // max_batch(); returns the last position's logits. Logits do not depend on the chunk size.
    std::span<const float> prefill(std::span<const TokenId> ids, int64_t chunk = 0);
    // One token at pos().
    std::span<const float> decode(TokenId id);

    int64_t pos() const { return pos_; }
    // Benchmarks only: continues as if n tokens had been processed from position 0, with seeded
    // random keys and values in the cache slots they would occupy (the last capacity() of them),
    // without running the model. Attending to them costs what attending to real ones costs, so
    // `mistral bench --depth D --depth-fill random` times generation at depth D without the
    // prefill of D tokens. Throws Error(kContextOverflow) if a non-rolling cache holds fewer
    // than n positions.
    void fill_cache_randomly(int64_t n, uint64_t seed);
    void reset() { pos_ = 0; }
    // Forgets positions n.. (the next token goes to n) when every position before n is still
    // cached: n == pos(), n == 0, or 0 < n < pos() while no slot has been reused (pos() <=
    // capacity()). Returns false, changing nothing, otherwise (the caller starts over).
    bool rewind(int64_t n);
    // Positions the cache holds; true if it rolls (sliding window, capacity >= window).
    int64_t capacity() const;
    bool rolling() const;
    int64_t max_batch() const { return max_batch_; }
    // The default prefill chunk: W, or 512 when W = 0.
    int64_t default_chunk() const;
    size_t kv_bytes() const;
    const KvCache& cache() const;
    const ModelConfig& config() const;
    const KernelTable& kernels() const { return *kernels_; }

private:
    const Model* model_;
    ModelConfig cfg_;  // the model's, with window = 0 under full_attention
    const KernelTable* kernels_;
    ThreadPool* pool_;
    int64_t max_batch_ = 0;
    bool all_logits_ = false;
    int64_t pos_ = 0;
    std::unique_ptr<ForwardState> state_;
};

}  // namespace mistral
