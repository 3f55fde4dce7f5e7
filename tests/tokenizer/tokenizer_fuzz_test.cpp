// The tokenizer's entry points take untrusted bytes: random truncations, byte flips and
// insertions must end in a mistral::Error or a working tokenizer, never a crash (run under
// ASan/UBSan in CI). Seeded, so a failure reproduces.
#include <functional>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/tokenizer.h>

#include "test_util.h"

namespace mistral {
namespace {

std::vector<std::byte> mutate(const std::vector<std::byte>& in, test::Rng& rng, size_t hot_prefix) {
    std::vector<std::byte> b = in;
    const size_t span = std::min(hot_prefix, b.size());
    switch (rng.next() % 4) {
        case 0:  // truncate
            b.resize(rng.next() % (b.size() + 1));
            break;
        case 1:  // flip a few bytes
        case 2:
            for (int k = 0, n = 1 + static_cast<int>(rng.next() % 8); k < n && span > 0; ++k) {
                b[rng.next() % span] ^= static_cast<std::byte>(1 + rng.next() % 255);
            }
            break;
        default: {  // insert or delete a run
            const size_t at = span > 0 ? rng.next() % span : 0;
            if (rng.next() % 2) {
                b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), 1 + rng.next() % 16,
                         static_cast<std::byte>(rng.next()));
            } else {
                b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                        b.begin() + static_cast<std::ptrdiff_t>(
                                            std::min(b.size(), at + 1 + rng.next() % 16)));
            }
        }
    }
    return b;
}

// Parses; if that succeeds, the model must also be usable (or refused with an Error).
size_t fuzz(const std::vector<std::byte>& good, size_t hot_prefix, int iterations, uint64_t seed,
            const std::function<TokenizerModel(std::span<const std::byte>)>& parse) {
    test::Rng rng(seed);
    size_t accepted = 0;
    for (int i = 0; i < iterations; ++i) {
        const auto bad = mutate(good, rng, hot_prefix);
        try {
            const TokenizerModel m = parse(bad);
            const Tokenizer tok(m);
            const auto ids = tok.encode("Hello wörld 123 \xF0\x9F\x98\x80 <s>  \n");
            tok.decode(ids);
            ++accepted;
        } catch (const Error&) {
            // refused: fine
        }
    }
    return accepted;
}

TEST(TokenizerFuzz, SentencepieceModel) {
    const auto good = test::read_bytes(test::fixture_path("tokenizer/tiny512.model"));
    ASSERT_NO_THROW(parse_sentencepiece_model(good));
    const size_t ok = fuzz(good, good.size(), 400, 1, [](std::span<const std::byte> b) {
        return parse_sentencepiece_model(b);
    });
    // Both outcomes must occur, or the mutations are not exercising the parser.
    EXPECT_GT(ok, 0u);
    EXPECT_LT(ok, 400u);
}

TEST(TokenizerFuzz, OurBlob) {
    const auto good = serialize_tokenizer(parse_sentencepiece_model(
            test::read_bytes(test::fixture_path("tokenizer/tiny512.model"))));
    ASSERT_NO_THROW(deserialize_tokenizer(good));
    const size_t ok = fuzz(good, good.size(), 400, 2,
                           [](std::span<const std::byte> b) { return deserialize_tokenizer(b); });
    EXPECT_GT(ok, 0u);
    EXPECT_LT(ok, 400u);
}

TEST(TokenizerFuzz, GgufVocab) {
    const auto good =
            test::read_bytes(test::fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf"));
    ASSERT_NO_THROW(parse_gguf_vocab(good));
    // Mutations concentrate on the first 4 KiB (header, keys, first tokens).
    const size_t ok = fuzz(good, 4096, 60, 3,
                           [](std::span<const std::byte> b) { return parse_gguf_vocab(b); });
    EXPECT_LT(ok, 60u);
}

}  // namespace
}  // namespace mistral
