#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/thread_pool.h>

namespace mistral {
namespace {

// One parallel loop over [0, n): every index exactly once; for the even loop, at most one
// (non-empty, contiguous) chunk per thread.
void expect_covers_once(ThreadPool& pool, size_t n, bool balanced) {
    const size_t threads = pool.size();
    std::vector<std::atomic<int>> hits(n);
    std::vector<std::atomic<int>> used(threads);
    const auto body = [&](size_t b, size_t e, size_t t) {
        ASSERT_LT(b, e);
        ASSERT_LT(t, threads);
        used[t]++;
        for (size_t i = b; i < e; ++i)
            hits[i]++;
    };
    if (balanced)
        pool.parallel_for_balanced(n, body);
    else
        pool.parallel_for(n, body);
    for (size_t i = 0; i < n; ++i)
        EXPECT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i << " balanced=" << balanced;
    for (size_t t = 0; t < threads && !balanced; ++t)
        EXPECT_LE(used[t].load(), 1);  // one chunk per thread
}

TEST(ThreadPool, CoversEveryIndexOnceWithContiguousChunks) {
    for (size_t threads : {size_t{1}, size_t{2}, size_t{5}}) {
        ThreadPool pool(threads);
        EXPECT_EQ(pool.size(), threads);
        for (size_t n : {size_t{1}, size_t{3}, size_t{4}, size_t{1000}})
            expect_covers_once(pool, n, false);
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

TEST(ThreadPool, BalancedCoversEveryIndexOnce) {
    // Many rounds, so that the weights have moved from the even split by the later ones.
    for (size_t threads : {size_t{1}, size_t{2}, size_t{3}}) {
        ThreadPool pool(threads);
        for (int round = 0; round < 50; ++round) {
            for (size_t n : {size_t{1}, size_t{2}, size_t{7}, size_t{256}})
                expect_covers_once(pool, n, true);
        }
    }
}

TEST(ThreadPool, BalancedHandsASlowThreadsTailToTheOthers) {
    // Thread 1 takes 5 ms per item, thread 0 no time: in a fresh pool (an even split, 32 items
    // each) thread 0 runs its own half and then most of thread 1's, and every item runs once.
    ThreadPool pool(2);
    std::vector<std::atomic<int>> hits(64);
    std::atomic<size_t> by_thread0{0};
    pool.parallel_for_balanced(64, [&](size_t b, size_t e, size_t t) {
        for (size_t i = b; i < e; ++i) {
            hits[i]++;
            if (t == 1)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (t == 0)
            by_thread0 += e - b;
    });
    for (size_t i = 0; i < hits.size(); ++i)
        EXPECT_EQ(hits[i].load(), 1) << i;
    EXPECT_GT(by_thread0.load(), 40u);
}

TEST(ThreadPool, SplitByWeights) {
    std::vector<size_t> b(3);
    split_by_weights(std::vector<double>{1.0, 1.0}, 256, b);
    EXPECT_EQ(b, (std::vector<size_t>{0, 128, 256}));
    split_by_weights(std::vector<double>{1.0, 3.0}, 256, b);
    EXPECT_EQ(b, (std::vector<size_t>{0, 64, 256}));
    split_by_weights(std::vector<double>{0.5, 1.5}, 3, b);  // 0.75 rounds to 1
    EXPECT_EQ(b, (std::vector<size_t>{0, 1, 3}));
    std::vector<size_t> b4(4);
    split_by_weights(std::vector<double>{2.0, 1.0, 1.0}, 10, b4);
    EXPECT_EQ(b4, (std::vector<size_t>{0, 5, 8, 10}));
    split_by_weights(std::vector<double>{1.0, 1.0, 1.0}, 0, b4);
    EXPECT_EQ(b4, (std::vector<size_t>{0, 0, 0, 0}));
}

TEST(ThreadPool, RebalanceMovesTowardsMeasuredSpeeds) {
    // Thread 1 takes twice as long for the same items: its weight falls, thread 0's rises, and
    // repeated calls converge on speeds 4/3 and 2/3 (rates 1 and 0.5 around their mean 0.75).
    std::vector<double> w{1.0, 1.0};
    const std::vector<size_t> items{100, 100};
    const std::vector<double> secs{1.0, 2.0};
    rebalance_weights(w, items, secs);
    EXPECT_GT(w[0], 1.0);
    EXPECT_LT(w[1], 1.0);
    EXPECT_NEAR(w[0] + w[1], 2.0, 1e-12);
    for (int i = 0; i < 100; ++i)
        rebalance_weights(w, items, secs);
    EXPECT_NEAR(w[0], 4.0 / 3.0, 1e-9);
    EXPECT_NEAR(w[1], 2.0 / 3.0, 1e-9);
    // Once the split follows the speeds (items in proportion, equal times), it stays there.
    const std::vector<double> before = w;
    rebalance_weights(w, std::vector<size_t>{400, 200}, std::vector<double>{1.0, 1.0});
    EXPECT_NEAR(w[0], before[0], 1e-9);
    EXPECT_NEAR(w[1], before[1], 1e-9);
}

TEST(ThreadPool, RebalanceIgnoresCallsWithoutEvidenceAndClamps) {
    std::vector<double> w{1.0, 1.0};
    rebalance_weights(w, std::vector<size_t>{0, 10}, std::vector<double>{0.0, 1.0});
    EXPECT_EQ(w, (std::vector<double>{1.0, 1.0}));  // thread 0 did nothing
    rebalance_weights(w, std::vector<size_t>{10, 10}, std::vector<double>{1.0, 0.0});
    EXPECT_EQ(w, (std::vector<double>{1.0, 1.0}));  // no measurable time
    for (int i = 0; i < 200; ++i)                   // thread 1 a thousand times slower
        rebalance_weights(w, std::vector<size_t>{10, 10}, std::vector<double>{1.0, 1000.0});
    EXPECT_LE(w[0], kMaxWeight);
    EXPECT_GE(w[1], kMinWeight);
    std::vector<size_t> b(3);
    split_by_weights(w, 100, b);
    EXPECT_GT(b[2] - b[1], 0u);  // the slow thread still gets a share
}

}  // namespace
}  // namespace mistral
