#include <atomic>
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
