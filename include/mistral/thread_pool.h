// A fixed set of worker threads for data-parallel loops. The model layer splits work (matmul
// rows, attention heads) across it; kernels themselves stay single-threaded.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace mistral {

class ThreadPool {
public:
    // n_threads >= 1 workers in total, the calling thread included (n_threads - 1 are spawned).
    explicit ThreadPool(size_t n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    size_t size() const;

    // Calls fn(begin, end, thread) over [0, n) and returns when all calls are done; `thread` <
    // size() identifies the calling thread (calls with the same value never overlap).
    // grain == 0: at most size() contiguous chunks, one per thread (the static split).
    // grain > 0: chunks of `grain` items (the last may be shorter) claimed one at a time by
    // whichever thread is free, so a thread slowed down (by the host, by memory) takes fewer.
    // Not reentrant: one parallel_for at a time per pool; fn must not throw.
    void parallel_for(size_t n,
                      const std::function<void(size_t begin, size_t end, size_t thread)>& fn,
                      size_t grain = 0);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mistral
