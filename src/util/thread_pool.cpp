// ThreadPool: persistent workers started per parallel_for by a generation counter; the caller
// runs chunk 0 itself, then waits for a countdown of the others (the barrier).
//
// Spin, then sleep. Decoding a token issues a few hundred parallel_fors with only microseconds
// of serial work between them, while waking a thread blocked in the kernel (futex) costs tens
// of microseconds on a virtual machine. So workers first poll the generation counter for a short
// while (kSpinRounds, with a pause instruction between polls, well under a millisecond), and only
// then block on the condition variable; the caller polls the countdown, yielding once it has
// waited long (an oversubscribed machine may have descheduled a worker). The caller takes the
// mutex to notify only when some worker is asleep, so a busy decode loop makes no system call.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <mistral/thread_pool.h>

#include "util/check.h"

namespace mistral {

namespace {

constexpr int kSpinRounds = 1 << 14;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

}  // namespace

struct ThreadPool::Impl {
    size_t n_threads = 1;
    std::vector<std::thread> workers;
    std::mutex mu;
    std::condition_variable work_cv;  // sleeping workers wait for a new generation (or stop)
    const std::function<void(size_t, size_t, size_t)>* fn = nullptr;
    size_t n = 0;                         // items of the current job
    std::atomic<uint64_t> generation{0};  // bumped (after fn and n are set) to start a job
    std::atomic<size_t> pending{0};       // worker chunks of the current job not yet finished
    std::atomic<size_t> sleepers{0};      // workers blocked (or about to block) on work_cv
    std::atomic<bool> stop{false};

    // Chunk `i` of [0, n) split into n_threads nearly equal contiguous ranges.
    void range(size_t i, size_t* begin, size_t* end) const {
        *begin = n * i / n_threads;
        *end = n * (i + 1) / n_threads;
    }

    // Returns once generation != seen, or stop is set.
    void wait_for_work(uint64_t seen) {
        for (int i = 0; i < kSpinRounds; ++i) {
            if (generation.load(std::memory_order_acquire) != seen ||
                stop.load(std::memory_order_acquire))
                return;
            cpu_relax();
        }
        std::unique_lock<std::mutex> lock(mu);
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        // The predicate is re-checked under the mutex after `sleepers` is raised: a job started
        // before that is seen here; one started after it finds sleepers > 0 and notifies.
        work_cv.wait(lock, [&] {
            return generation.load(std::memory_order_seq_cst) != seen ||
                   stop.load(std::memory_order_seq_cst);
        });
        sleepers.fetch_sub(1, std::memory_order_relaxed);
    }

    void worker_loop(size_t index) {
        uint64_t seen = 0;
        for (;;) {
            wait_for_work(seen);
            if (stop.load(std::memory_order_acquire))
                return;
            seen = generation.load(std::memory_order_acquire);
            size_t b = 0, e = 0;
            range(index, &b, &e);
            if (b < e)
                (*fn)(b, e, index);
            pending.fetch_sub(1, std::memory_order_acq_rel);
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
        impl_->stop.store(true, std::memory_order_seq_cst);
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
    MISTRAL_CHECK(p.pending.load(std::memory_order_acquire) == 0, "parallel_for is not reentrant");
    p.fn = &fn;
    p.n = n;
    p.pending.store(p.n_threads - 1, std::memory_order_relaxed);
    p.generation.fetch_add(1, std::memory_order_seq_cst);  // publishes fn, n and pending
    if (p.sleepers.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> lock(p.mu);
        p.work_cv.notify_all();
    }
    size_t b = 0, e = 0;
    p.range(0, &b, &e);
    if (b < e)
        fn(b, e, 0);
    for (int i = 0; p.pending.load(std::memory_order_acquire) != 0; ++i) {
        if (i < kSpinRounds)
            cpu_relax();
        else
            std::this_thread::yield();
    }
}

}  // namespace mistral
