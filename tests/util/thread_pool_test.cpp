#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/thread_pool.h>

namespace mistral {
namespace {

TEST(ThreadPool, CoversEveryIndexOnceWithContiguousChunks) {
    for (size_t threads : {size_t{1}, size_t{2}, size_t{5}}) {
        ThreadPool pool(threads);
        EXPECT_EQ(pool.size(), threads);
        for (size_t n : {size_t{1}, size_t{3}, size_t{4}, size_t{1000}}) {
            std::vector<std::atomic<int>> hits(n);
            std::vector<std::atomic<int>> used(threads);
            pool.parallel_for(n, [&](size_t b, size_t e, size_t t) {
                ASSERT_LT(b, e);
                ASSERT_LT(t, threads);
                used[t]++;
                for (size_t i = b; i < e; ++i)
                    hits[i]++;
            });
            for (size_t i = 0; i < n; ++i)
                EXPECT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
            for (size_t t = 0; t < threads; ++t)
                EXPECT_LE(used[t].load(), 1);  // one chunk per thread
        }
    }
}

TEST(ThreadPool, GrainChunksCoverEveryIndexOnce) {
    for (size_t threads : {size_t{1}, size_t{2}, size_t{5}}) {
        ThreadPool pool(threads);
        for (size_t n : {size_t{1}, size_t{7}, size_t{64}, size_t{1001}}) {
            for (size_t grain : {size_t{1}, size_t{16}, size_t{5000}}) {
                std::vector<std::atomic<int>> hits(n);
                std::atomic<size_t> calls{0};
                pool.parallel_for(
                        n,
                        [&](size_t b, size_t e, size_t t) {
                            ASSERT_LT(b, e);
                            ASSERT_LE(e - b, grain);
                            ASSERT_EQ(b % grain, 0u);
                            ASSERT_LT(t, threads);
                            calls++;
                            for (size_t i = b; i < e; ++i)
                                hits[i]++;
                        },
                        grain);
                for (size_t i = 0; i < n; ++i)
                    EXPECT_EQ(hits[i].load(), 1) << "n=" << n << " grain=" << grain << " i=" << i;
                EXPECT_EQ(calls.load(), (n + grain - 1) / grain);
            }
        }
    }
}

TEST(ThreadPool, GrainChunksGoToTheThreadsThatAreFree) {
    // The calling thread (0) is slow on each of its chunks: the workers take the rest, where the
    // static split would have left it a quarter of the items.
    ThreadPool pool(4);
    std::vector<std::atomic<int>> chunks(4);
    pool.parallel_for(
            400,
            [&](size_t, size_t, size_t t) {
                chunks[t]++;
                if (t == 0)
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
            },
            4);
    EXPECT_EQ(chunks[0] + chunks[1] + chunks[2] + chunks[3], 100);
    EXPECT_LT(chunks[0].load(), 25);
}

TEST(ThreadPool, ManyRoundsBackToBack) {
    ThreadPool pool(3);
    std::atomic<long> sum{0};
    for (int round = 0; round < 2000; ++round) {
        pool.parallel_for(10, [&](size_t b, size_t e, size_t) {
            for (size_t i = b; i < e; ++i)
                sum += static_cast<long>(i);
        });
    }
    EXPECT_EQ(sum.load(), 2000L * 45L);
    pool.parallel_for(0, [&](size_t, size_t, size_t) { FAIL(); });
}

}  // namespace
}  // namespace mistral
