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

    // Splits [0, n) into at most size() contiguous chunks and calls fn(begin, end, thread) for
    // each non-empty one, `thread` < size() distinct per chunk; returns when all are done.
    // Not reentrant: one parallel_for at a time per pool; fn must not throw.
    void parallel_for(size_t n,
                      const std::function<void(size_t begin, size_t end, size_t thread)>& fn);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mistral
