// Properties that must hold for any input: decode(encode(s)) == s for random Unicode text
// (what sentencepiece guarantees for identity normalization with byte fallback and no
// extra-whitespace removal, as long as s has no literal U+2581, which decodes to ' '), and
// the streaming decoder emitting exactly what DecodeIds returns.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/tokenizer.h>
#include <mistral/utf8.h>

#include "test_util.h"

namespace mistral {
namespace {

// Random text mixing every plane and the awkward cases: controls (incl. NUL), combining
// marks, emoji ZWJ sequences with variation selectors, private use, BOM, U+FFFD, long runs of
// spaces, tabs and newlines.
std::string random_text(test::Rng& rng, size_t units) {
    std::string s;
    const auto pick = [&rng](uint32_t lo, uint32_t hi) {
        return static_cast<char32_t>(lo + rng.next() % (hi - lo + 1));
    };
    for (size_t i = 0; i < units; ++i) {
        switch (rng.next() % 14) {
            case 0:
                utf8_append(s, pick(0x20, 0x7E));
                break;
            case 1:
                utf8_append(s, pick(0x00, 0x1F));
                break;
            case 2:
                s.append(1 + rng.next() % 40, ' ');
                break;
            case 3:
                utf8_append(s, pick(0x80, 0x7FF));
                break;
            case 4:
                utf8_append(s, pick(0x0300, 0x036F));
                break;  // combining marks
            case 5: {
                // Emoji ZWJ sequence, e.g. family / profession emoji.
                const int n = 2 + static_cast<int>(rng.next() % 3);
                for (int k = 0; k < n; ++k) {
                    if (k > 0)
                        utf8_append(s, 0x200D);
                    utf8_append(s, pick(0x1F466, 0x1F469));
                    if (rng.next() % 2)
                        utf8_append(s, 0xFE0F);
                }
                break;
            }
            case 6: {
                char32_t c = pick(0x800, 0xFFFF);
                if ((c >= 0xD800 && c <= 0xDFFF) || c == 0x2581)
                    c = 0x4E2D;  // no surrogates, no ▁
                utf8_append(s, c);
                break;
            }
            case 7:
                utf8_append(s, pick(0x10000, 0x10FFFF));
                break;  // all supplementary planes
            case 8:
                utf8_append(s, pick(0x4E00, 0x9FFF));
                break;
            case 9:
                utf8_append(s, pick(0xE000, 0xF8FF));
                break;  // private use
            case 10:
                utf8_append(s, rng.next() % 2 ? 0xFEFF : 0xFFFD);
                break;
            case 11:
                s += "\t\n\r\n"[rng.next() % 4];
                break;
            case 12:
                s += "Hello world, the quick brown fox 12345 ";
                break;
            default:
                utf8_append(s, pick(0x0400, 0x04FF));
                break;
        }
    }
    return s;
}

std::string stream_decode(const Tokenizer& tok, const std::vector<TokenId>& ids) {
    StreamDecoder sd(tok);
    std::string out;
    for (TokenId id : ids)
        out += sd.push(id);
    return out + sd.flush();
}

void check_round_trips(const std::string& model_rel, uint64_t seed) {
    const Tokenizer tok(parse_sentencepiece_model(test::read_bytes(test::fixture_path(model_rel))));
    test::Rng rng(seed);
    for (int iter = 0; iter < 300; ++iter) {
        const std::string s = random_text(rng, 1 + rng.next() % 40);
        ASSERT_EQ(utf8_invalid_offset(s), kUtf8Valid);
        const std::vector<TokenId> ids = tok.encode(s);
        for (TokenId id : ids)
            ASSERT_TRUE(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
        ASSERT_EQ(tok.decode(ids), s) << model_rel << " iteration " << iter;
        ASSERT_EQ(stream_decode(tok, ids), s) << model_rel << " iteration " << iter;
    }
    // Long runs of spaces alone and around text.
    for (size_t n : {1u, 2u, 3u, 15u, 16u, 17u, 100u, 1000u}) {
        const std::string sp(n, ' ');
        for (const std::string& s : {sp, sp + "a", "a" + sp, "a" + sp + "b", sp + "\n" + sp}) {
            ASSERT_EQ(tok.decode(tok.encode(s)), s) << model_rel << " spaces " << n;
        }
    }
}

TEST(TokenizerProperty, RandomUnicodeRoundTripsMistral7b) {
    check_round_trips("tokenizer/mistral-7b-v0.1.model", 11);
}
TEST(TokenizerProperty, RandomUnicodeRoundTripsTiny512) {
    check_round_trips("tokenizer/tiny512.model", 12);
}
TEST(TokenizerProperty, RandomUnicodeRoundTripsKjvTiny) {
    check_round_trips("kjv-tiny/hf/tokenizer.model", 13);
}

// For arbitrary id sequences (bytes that form invalid UTF-8, controls, unk, split
// characters), the streaming decoder's output concatenates to DecodeIds' text, and it
// never emits invalid UTF-8 along the way.
TEST(TokenizerProperty, StreamDecoderAgreesWithDecodeOnRandomIds) {
    const Tokenizer tok(parse_sentencepiece_model(
            test::read_bytes(test::fixture_path("tokenizer/mistral-7b-v0.1.model"))));
    test::Rng rng(7);
    for (int iter = 0; iter < 500; ++iter) {
        std::vector<TokenId> ids;
        const size_t n = rng.next() % 24;
        for (size_t i = 0; i < n; ++i) {
            const uint64_t k = rng.next() % 4;
            if (k <= 1) {
                ids.push_back(static_cast<TokenId>(3 + rng.next() % 256));  // byte pieces 3..258
            } else if (k == 2) {
                ids.push_back(static_cast<TokenId>(rng.next() % 3));  // unk, bos, eos
            } else {
                ids.push_back(static_cast<TokenId>(rng.next() % tok.vocab_size()));
            }
        }
        StreamDecoder sd(tok);
        std::string out;
        for (TokenId id : ids) {
            const std::string part = sd.push(id);
            ASSERT_EQ(utf8_invalid_offset(part), kUtf8Valid) << "iteration " << iter;
            out += part;
        }
        out += sd.flush();
        ASSERT_EQ(out, tok.decode(ids)) << "iteration " << iter;
        ASSERT_EQ(utf8_invalid_offset(out), kUtf8Valid);
    }
}

}  // namespace
}  // namespace mistral
