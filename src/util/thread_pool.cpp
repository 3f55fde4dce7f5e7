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
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
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

// How far one balanced call moves the weights towards its own speeds: a few calls (a decode
// token has ~160) follow a thread that stays slow, one odd call does not swing the split.
constexpr double kRebalanceStep = 0.25;

using Clock = std::chrono::steady_clock;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// A thread's claimable range in a balanced job: [lo, hi) as lo | hi << 32, in one atomic word so
// that its owner (claiming pieces from lo) and the other threads (stealing from hi) never take the
// same item. One cache line each: the owner updates its own word throughout the job.
struct alignas(64) ClaimRange {
    std::atomic<uint64_t> word{0};
};

uint64_t pack_range(size_t lo, size_t hi) {
    return static_cast<uint64_t>(lo) | (static_cast<uint64_t>(hi) << 32);
}
size_t range_lo(uint64_t w) {
    return static_cast<size_t>(w & 0xffffffffu);
}
size_t range_hi(uint64_t w) {
    return static_cast<size_t>(w >> 32);
}

// Claims max(1, left / divisor) of the items left in r, from its front or its back, as [b, e).
// False once r is empty. lo <= hi always holds: every claim moves one end towards the other.
bool claim(ClaimRange& r, bool front, size_t divisor, size_t& b, size_t& e) {
    uint64_t w = r.word.load(std::memory_order_acquire);
    for (;;) {
        const size_t lo = range_lo(w), hi = range_hi(w);
        if (lo >= hi)
            return false;
        const size_t k = std::max<size_t>(1, (hi - lo) / divisor);
        b = front ? lo : hi - k;
        e = front ? lo + k : hi;
        if (r.word.compare_exchange_weak(w, front ? pack_range(e, hi) : pack_range(lo, b),
                                         std::memory_order_acq_rel))
            return true;
    }
}

}  // namespace

struct ThreadPool::Impl {
    size_t n_threads = 1;
    std::vector<std::thread> workers;
    std::mutex mu;
    std::condition_variable work_cv;  // sleeping workers wait for a new generation (or stop)
    const std::function<void(size_t, size_t, size_t)>* fn = nullptr;
    std::vector<size_t> bounds;            // chunk i of the current job is [bounds[i], bounds[i+1])
    bool timed = false;                    // a balanced job: claimed pieces, timed per thread
    Clock::time_point start;               // when the current job was published
    std::vector<double> seconds;           // per thread: start -> end of its part (timed jobs)
    std::vector<double> weights;           // relative thread speeds for balanced jobs (mean 1)
    std::vector<size_t> items_done;        // per thread: items it ran in the current timed job
    std::unique_ptr<ClaimRange[]> ranges;  // per thread: what is left of its chunk (timed jobs)
    std::atomic<uint64_t> generation{0};   // bumped (after fn and bounds are set) to start a job
    std::atomic<size_t> pending{0};        // worker chunks of the current job not yet finished
    std::atomic<size_t> sleepers{0};       // workers blocked (or about to block) on work_cv
    std::atomic<bool> stop{false};

    // Runs chunk `i` of the current job (if not empty); a balanced job's through run_claiming.
    void run_chunk(size_t i) {
        if (timed) {
            run_claiming(i);
            return;
        }
        const size_t b = bounds[i], e = bounds[i + 1];
        if (b < e)
            (*fn)(b, e, i);
    }

    // Thread i's part of a balanced job: its own chunk front to back, in pieces of a quarter of
    // what is left (so the stream stays one range), then, while another thread still has items
    // not yet claimed, half of those from the far end of the largest such range. A thread that
    // runs slow in this call (preempted, or a slower core) thus hands its tail to the others
    // instead of making them wait at the barrier. Records the items run and the end time.
    void run_claiming(size_t i) {
        size_t done = 0, b = 0, e = 0;
        while (claim(ranges[i], true, 4, b, e)) {
            (*fn)(b, e, i);
            done += e - b;
        }
        for (;;) {
            size_t victim = n_threads, most = 0;
            for (size_t j = 0; j < n_threads; ++j) {
                const uint64_t w = ranges[j].word.load(std::memory_order_acquire);
                if (j != i && range_hi(w) - range_lo(w) > most) {
                    most = range_hi(w) - range_lo(w);
                    victim = j;
                }
            }
            if (victim == n_threads)
                break;
            if (claim(ranges[victim], false, 2, b, e)) {
                (*fn)(b, e, i);
                done += e - b;
            }
        }
        items_done[i] = done;
        seconds[i] = std::chrono::duration<double>(Clock::now() - start).count();
    }

    void run(size_t n, const std::function<void(size_t, size_t, size_t)>& f, bool balanced);

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
            run_chunk(index);
            pending.fetch_sub(1, std::memory_order_acq_rel);
        }
    }
};

ThreadPool::ThreadPool(size_t n_threads) : impl_(std::make_unique<Impl>()) {
    impl_->n_threads = n_threads == 0 ? 1 : n_threads;
    impl_->bounds.assign(impl_->n_threads + 1, 0);
    impl_->seconds.assign(impl_->n_threads, 0.0);
    impl_->weights.assign(impl_->n_threads, 1.0);
    impl_->items_done.assign(impl_->n_threads, 0);
    impl_->ranges = std::make_unique<ClaimRange[]>(impl_->n_threads);
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
    impl_->run(n, fn, false);
}

void ThreadPool::parallel_for_balanced(size_t n,
                                       const std::function<void(size_t, size_t, size_t)>& fn) {
    impl_->run(n, fn, true);
}

void ThreadPool::Impl::run(size_t n_items, const std::function<void(size_t, size_t, size_t)>& f,
                           bool balanced) {
    if (n_items == 0)
        return;
    if (n_threads == 1 || n_items == 1) {
        f(0, n_items, 0);
        return;
    }
    MISTRAL_CHECK(pending.load(std::memory_order_acquire) == 0, "parallel_for is not reentrant");
    fn = &f;
    if (balanced) {
        MISTRAL_CHECK(n_items <= 0xffffffffu, "a balanced loop has at most 2^32 - 1 items");
        split_by_weights(weights, n_items, bounds);
        for (size_t i = 0; i < n_threads; ++i)
            ranges[i].word.store(pack_range(bounds[i], bounds[i + 1]), std::memory_order_relaxed);
    } else {
        for (size_t i = 0; i <= n_threads; ++i)
            bounds[i] = n_items * i / n_threads;
    }
    timed = balanced;
    if (timed)
        start = Clock::now();
    pending.store(n_threads - 1, std::memory_order_relaxed);
    generation.fetch_add(1, std::memory_order_seq_cst);  // publishes fn, bounds and pending
    if (sleepers.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> lock(mu);
        work_cv.notify_all();
    }
    run_chunk(0);
    for (int i = 0; pending.load(std::memory_order_acquire) != 0; ++i) {
        if (i < kSpinRounds)
            cpu_relax();
        else
            std::this_thread::yield();
    }
    if (timed)
        rebalance_weights(weights, items_done, seconds);
}

void split_by_weights(std::span<const double> weights, size_t n, std::span<size_t> bounds) {
    MISTRAL_CHECK(bounds.size() == weights.size() + 1, "one bound more than weights");
    double total = 0;
    for (double w : weights)
        total += w;
    double sum = 0;
    bounds[0] = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
        sum += weights[i];
        const auto b = static_cast<size_t>(std::llround(static_cast<double>(n) * sum / total));
        bounds[i + 1] = std::clamp(b, bounds[i], n);
    }
    bounds[weights.size()] = n;
}

void rebalance_weights(std::span<double> weights, std::span<const size_t> items,
                       std::span<const double> seconds) {
    const size_t k = weights.size();
    MISTRAL_CHECK(items.size() == k && seconds.size() == k, "one entry per thread");
    double mean_rate = 0;
    for (size_t i = 0; i < k; ++i) {
        if (items[i] == 0 || !(seconds[i] > 0))
            return;
        mean_rate += static_cast<double>(items[i]) / seconds[i] / static_cast<double>(k);
    }
    double mean_w = 0;
    for (size_t i = 0; i < k; ++i) {
        const double target = static_cast<double>(items[i]) / seconds[i] / mean_rate;
        weights[i] += kRebalanceStep * (target - weights[i]);
        mean_w += weights[i] / static_cast<double>(k);
    }
    for (size_t i = 0; i < k; ++i)
        weights[i] = std::clamp(weights[i] / mean_w, kMinWeight, kMaxWeight);
}

}  // namespace mistral
