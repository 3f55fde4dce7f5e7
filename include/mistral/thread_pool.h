// A fixed set of worker threads for data-parallel loops. The model layer splits work (matmul
// rows, attention heads) across it; kernels themselves stay single-threaded.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>

namespace mistral {

class ThreadPool {
public:
    // n_threads >= 1 workers in total, the calling thread included (n_threads - 1 are spawned).
    explicit ThreadPool(size_t n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    size_t size() const;

    // Splits [0, n) into at most size() contiguous chunks and calls fn(begin, end, thread) for
    // each non-empty one, `thread` < size() distinct per chunk; returns when all are done.
    // Not reentrant: one parallel_for at a time per pool; fn must not throw.
    void parallel_for(size_t n,
                      const std::function<void(size_t begin, size_t end, size_t thread)>& fn);

    // The same, for loops whose items cost alike on every thread (decode's matmul rows): [0, n)
    // is split in proportion to the speeds the threads showed in earlier balanced calls (items
    // run over the time from the call's start to the thread's end), and this call's timings
    // update them (rebalance_weights); starts even. Each thread runs its own chunk front to back
    // in a few calls of fn, so it streams one range of the weights; one that is done early then
    // takes the not yet started tail of another's chunk (fn called on it, from that thread).
    // Every index is still run exactly once, but a thread may get several ranges.
    void parallel_for_balanced(
            size_t n, const std::function<void(size_t begin, size_t end, size_t thread)>& fn);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Chunk boundaries of [0, n) in proportion to `weights` (all > 0): bounds[0] = 0,
// bounds[weights.size()] = n, non-decreasing; equal weights give the even split.
void split_by_weights(std::span<const double> weights, size_t n, std::span<size_t> bounds);

// Moves `weights` (relative thread speeds, mean 1) a step towards the speeds of one call in which
// thread i did items[i] items in seconds[i]. A call where some thread did nothing or took no
// measurable time teaches nothing and leaves them as they are. Each weight stays within
// [kMinWeight, kMaxWeight] of the mean.
void rebalance_weights(std::span<double> weights, std::span<const size_t> items,
                       std::span<const double> seconds);
inline constexpr double kMinWeight = 0.25;
inline constexpr double kMaxWeight = 4.0;

}  // namespace mistral
