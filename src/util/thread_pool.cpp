// Simple correct ThreadPool: persistent workers woken per parallel_for by a generation counter;
// the caller runs chunk 0 itself and waits for a countdown of the others (the barrier).
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <mistral/thread_pool.h>

#include "util/check.h"

namespace mistral {

struct ThreadPool::Impl {
    size_t n_threads = 1;
    std::vector<std::thread> workers;
    std::mutex mu;
    std::condition_variable work_cv;  // workers wait for a new generation (or stop)
    std::condition_variable done_cv;  // the caller waits for pending == 0
    const std::function<void(size_t, size_t, size_t)>* fn = nullptr;
    size_t n = 0;  // items of the current job
    uint64_t generation = 0;
    size_t pending = 0;  // worker chunks not yet finished
    bool stop = false;

    // Chunk `i` of [0, n) split into n_threads nearly equal contiguous ranges.
    void range(size_t i, size_t* begin, size_t* end) const {
        *begin = n * i / n_threads;
        *end = n * (i + 1) / n_threads;
    }

    void worker_loop(size_t index) {
        uint64_t seen = 0;
        for (;;) {
            std::unique_lock<std::mutex> lock(mu);
            work_cv.wait(lock, [&] { return stop || generation != seen; });
            if (stop)
                return;
            seen = generation;
            size_t b = 0, e = 0;
            range(index, &b, &e);
            const auto* f = fn;
            lock.unlock();
            if (b < e)
                (*f)(b, e, index);
            lock.lock();
            if (--pending == 0)
                done_cv.notify_one();
        }
    }
};

ThreadPool::ThreadPool(size_t n_threads) : impl_(std::make_unique<Impl>()) {
    impl_->n_threads = n_threads == 0 ? 1 : n_threads;
    for (size_t i = 1; i < impl_->n_threads; ++i) {
        impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        impl_->stop = true;
    }
    impl_->work_cv.notify_all();
    for (auto& t : impl_->workers)
        t.join();
}

size_t ThreadPool::size() const {
    return impl_->n_threads;
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t, size_t)>& fn) {
    if (n == 0)
        return;
    Impl& p = *impl_;
    if (p.n_threads == 1 || n == 1) {
        fn(0, n, 0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(p.mu);
        MISTRAL_CHECK(p.pending == 0, "parallel_for is not reentrant");
        p.fn = &fn;
        p.n = n;
        p.pending = p.n_threads - 1;
        ++p.generation;
    }
    p.work_cv.notify_all();
    size_t b = 0, e = 0;
    p.range(0, &b, &e);
    if (b < e)
        fn(b, e, 0);
    std::unique_lock<std::mutex> lock(p.mu);
    p.done_cv.wait(lock, [&] { return p.pending == 0; });
    p.fn = nullptr;
}

}  // namespace mistral
