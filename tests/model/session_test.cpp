// Session option handling and input validation: every bad input is an Error before compute.
#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/session.h>

#include "model/test_models.h"

namespace mistral::test {
namespace {

Errc code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    ADD_FAILURE() << "no error thrown";
    return Errc::kIo;
}

TEST(Session, DefaultsFollowTheWindow) {
    const auto swa = random_model(tiny_config(4, 2, 16, 8), DType::kF32, 1);
    Session s(*swa, reference_kernels());
    EXPECT_EQ(s.capacity(), 8);
    EXPECT_TRUE(s.rolling());
    EXPECT_EQ(s.default_chunk(), 8);
    EXPECT_EQ(s.max_batch(), 8);
    EXPECT_EQ(s.kv_bytes(), 2u * 2u * 8u * 32u * 4u);

    const auto full = random_model(tiny_config(4, 2, 16, 0), DType::kF32, 1);  // max_context 256
    Session f(*full, reference_kernels());
    EXPECT_EQ(f.capacity(), 256);
    EXPECT_FALSE(f.rolling());
    EXPECT_EQ(f.default_chunk(), 512);
    SessionOptions o;
    o.ctx = 10;
    Session g(*full, reference_kernels(), o);
    EXPECT_EQ(g.capacity(), 10);
}

TEST(Session, FullAttentionOverflowIsAClearErrorBeforeCompute) {
    const auto m = random_model(tiny_config(4, 2, 16, 0), DType::kF32, 1);
    SessionOptions o;
    o.ctx = 6;
    Session s(*m, reference_kernels(), o);
    const std::vector<TokenId> ids = {1, 2, 3, 4, 5};
    s.prefill(ids);
    s.decode(7);
    EXPECT_EQ(s.pos(), 6);
    EXPECT_EQ(code_of([&] { s.decode(8); }), Errc::kContextOverflow);
    EXPECT_EQ(s.pos(), 6);  // nothing happened
    s.reset();
    EXPECT_EQ(s.prefill(ids).size(), 96u);
}

// The benchmark's fast depth: the position moves, generation continues, a rolling cache takes
// any depth in constant memory, a non-rolling one refuses what it cannot hold.
TEST(Session, FillCacheRandomlyMovesThePosition) {
    const auto swa = random_model(tiny_config(4, 2, 16, 8), DType::kF32, 1);
    Session s(*swa, reference_kernels());
    const size_t bytes = s.kv_bytes();
    s.fill_cache_randomly(1000, 7);
    EXPECT_EQ(s.pos(), 1000);
    EXPECT_EQ(s.decode(5).size(), 96u);
    EXPECT_EQ(s.pos(), 1001);
    EXPECT_EQ(s.kv_bytes(), bytes);
    const auto full = random_model(tiny_config(4, 2, 16, 0), DType::kF32, 1);
    SessionOptions o;
    o.ctx = 6;
    Session f(*full, reference_kernels(), o);
    EXPECT_EQ(code_of([&] { f.fill_cache_randomly(7, 1); }), Errc::kContextOverflow);
    EXPECT_EQ(code_of([&] { f.fill_cache_randomly(-1, 1); }), Errc::kInvalidArgument);
    f.fill_cache_randomly(5, 1);
    f.decode(3);
    EXPECT_EQ(code_of([&] { f.decode(4); }), Errc::kContextOverflow);
}

TEST(Session, RejectsBadInput) {
    const auto m = random_model(tiny_config(4, 2, 16, 4), DType::kF32, 1);
    Session s(*m, reference_kernels());
    const std::vector<TokenId> bad_id = {1, 96};
    EXPECT_EQ(code_of([&] { s.forward(bad_id, 0); }), Errc::kInvalidArgument);
    const std::vector<TokenId> neg = {-1};
    EXPECT_EQ(code_of([&] { s.forward(neg, 0); }), Errc::kInvalidArgument);
    EXPECT_EQ(code_of([&] { s.forward({}, 0); }), Errc::kInvalidArgument);
    const std::vector<TokenId> five = {1, 2, 3, 4, 5};  // max_batch is 4
    EXPECT_EQ(code_of([&] { s.forward(five, 0); }), Errc::kInvalidArgument);
    const std::vector<TokenId> two = {1, 2};
    EXPECT_EQ(code_of([&] { s.forward(two, 0, true); }), Errc::kInvalidArgument);  // not reserved
    EXPECT_EQ(code_of([&] { s.forward(two, 3); }), Errc::kInvalidArgument);        // gap
    EXPECT_EQ(s.pos(), 0);
    s.prefill(five);
    s.prefill(five);  // pos 10, slots reused: cannot go back to 7
    EXPECT_EQ(code_of([&] { s.forward(two, 7); }), Errc::kInvalidArgument);
    s.forward(two, 0);  // starting over is fine
    EXPECT_EQ(s.pos(), 2);
    SessionOptions o;
    o.kv_type = DType::kQ4_0;
    EXPECT_EQ(code_of([&] { Session bad(*m, reference_kernels(), o); }), Errc::kInvalidArgument);
}

// Going back while nothing was overwritten recomputes the same logits.
TEST(Session, RewindWithinTheCacheRecomputesIdentically) {
    const auto m = random_model(tiny_config(4, 2, 16, 0), DType::kF32, 3);
    Session s(*m, reference_kernels());
    const std::vector<TokenId> ids = {1, 5, 9, 13};
    s.prefill(ids);
    const std::vector<TokenId> tail = {20};
    const auto a = std::vector<float>(s.forward(tail, 4).begin(), s.forward(tail, 4).end());
    s.prefill(tail);  // pos 6
    const auto b = s.forward(tail, 4);
    EXPECT_EQ(std::vector<float>(b.begin(), b.end()), a);
}

// rewind(n) keeps positions 0..n-1: continuing from there gives the logits of a fresh session
// that prefilled the whole sequence, in a sliding-window cache until its first slot is reused.
// Once one is, only rewinding to pos() or 0 is possible, and a refused rewind changes nothing.
TEST(Session, RewindKeepsThePrefixWhileNoSlotWasReused) {
    const auto m = random_model(tiny_config(4, 2, 16, 8), DType::kF32, 5);  // window 8
    const std::vector<TokenId> first = {1, 5, 9, 13, 20, 33};
    const std::vector<TokenId> second = {1, 5, 9, 40, 41, 42, 43};
    Session fresh(*m, reference_kernels());
    const auto w = fresh.prefill(second);
    const std::vector<float> want(w.begin(), w.end());

    Session s(*m, reference_kernels());
    s.prefill(first);
    EXPECT_FALSE(s.rewind(7));  // past pos()
    EXPECT_FALSE(s.rewind(-1));
    ASSERT_TRUE(s.rewind(3));
    EXPECT_EQ(s.pos(), 3);
    const auto got = s.prefill(std::span<const TokenId>(second).subspan(3));
    EXPECT_EQ(std::vector<float>(got.begin(), got.end()), want);

    s.prefill(first);  // pos 13 > window 8: slots of positions 0..4 reused
    EXPECT_FALSE(s.rewind(10));
    EXPECT_EQ(s.pos(), 13);
    EXPECT_TRUE(s.rewind(13));
    EXPECT_TRUE(s.rewind(0));
    EXPECT_EQ(s.pos(), 0);
}

}  // namespace
}  // namespace mistral::test
