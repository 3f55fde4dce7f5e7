// Encoder/decoder semantics on hand-built models. Each expected value is derived by hand from
// sentencepiece 0.1.97's algorithm (bpe_model.cc, sentencepiece_processor.cc), cited inline.
#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/tokenizer.h>

#include "tokenizer/tiny_models.h"

namespace mistral {
namespace {

using test::kFirstExtra;
using test::make_model;
using Ids = std::vector<TokenId>;

const std::string kU2581 = "\xE2\x96\x81";  // ▁
const std::string kFffd = "\xEF\xBF\xBD";

// "▁", "a", "b", "ab", "ba" = kFirstExtra + 0..4
Tokenizer tie_model(float ab, float ba) {
    return Tokenizer(make_model({{kU2581}, {"a"}, {"b"}, {"ab", ab}, {"ba", ba}}, true));
}

TEST(Tokenizer, EqualScoresMergeLeftmostPairFirst) {
    // "aba" -> "▁aba": pairs ab (left 1) and ba (left 2) tie; the library pops the smaller
    // left index first: ▁ [ab] a.
    const Tokenizer tok = tie_model(1.0f, 1.0f);
    EXPECT_EQ(tok.encode("aba"), (Ids{kFirstExtra, kFirstExtra + 3, kFirstExtra + 1}));
}

TEST(Tokenizer, HigherScoreMergesFirstWherever) {
    const Tokenizer tok = tie_model(1.0f, 2.0f);  // ba wins: ▁ a [ba]
    EXPECT_EQ(tok.encode("aba"), (Ids{kFirstExtra, kFirstExtra + 1, kFirstExtra + 4}));
}

TEST(Tokenizer, MergesChainAndSpacesEscape) {
    // Pieces: ▁ a b ▁a ▁ab; "ab ab" -> "▁ab▁ab". ▁a (score 3) merges at both places
    // (leftmost first), then ▁ab (score 2) twice.
    const Tokenizer tok(
            make_model({{kU2581}, {"a"}, {"b"}, {kU2581 + "a", 3}, {kU2581 + "ab", 2}}, true));
    EXPECT_EQ(tok.encode("ab ab"), (Ids{kFirstExtra + 4, kFirstExtra + 4}));
    EXPECT_EQ(tok.decode(Ids{kFirstExtra + 4, kFirstExtra + 4}), "ab ab");
}

TEST(Tokenizer, ByteFallbackForCharactersNotInTheVocabulary) {
    const Tokenizer tok = tie_model(1, 1);
    // "a€" -> ▁ a <0xE2> <0x82> <0xAC>; byte pieces are 3 + value.
    EXPECT_EQ(tok.encode("a\xE2\x82\xAC"),
              (Ids{kFirstExtra, kFirstExtra + 1, 3 + 0xE2, 3 + 0x82, 3 + 0xAC}));
    EXPECT_EQ(tok.encode(""), Ids{});
}

TEST(Tokenizer, WithoutByteFallbackARunOfUnknownsIsOneUnk) {
    // PopulateSentencePieceText merges consecutive unknown pieces into one.
    const Tokenizer tok(make_model({{kU2581}, {"a"}, {"b"}}, false));
    const Ids ids = tok.encode(
            "a\xE2\x82\xAC\xE2\x82\xAC"
            "b\xC3\xA9");
    EXPECT_EQ(ids, (Ids{3, 4, 0, 5, 0}));
    // <unk> decodes to unk_surface " ⁇ ".
    EXPECT_EQ(tok.decode(ids), "a \xE2\x81\x87 b \xE2\x81\x87 ");
}

TEST(Tokenizer, UserDefinedSymbolsAreMatchedWholeAndNeverMerged) {
    // "<x>" user-defined; "a<" would merge if "<" were a plain symbol.
    const Tokenizer tok(make_model({{kU2581},
                                    {"a"},
                                    {"<"},
                                    {"a<", 5},
                                    {"<x>", 0, PieceType::kUserDefined},
                                    {kU2581 + "a", 1}},
                                   true));
    // "a<x>a<" -> ▁a (merged) [<x>] a< (merged)
    EXPECT_EQ(tok.encode("a<x>a<"), (Ids{kFirstExtra + 5, kFirstExtra + 4, kFirstExtra + 3}));
}

TEST(Tokenizer, UnusedPiecesAreSplitBackAlongTheirMerge) {
    // "ab" is unused (score 5): it merges, then resegment() splits it back into a, b.
    const Tokenizer tok(make_model({{kU2581}, {"a"}, {"b"}, {"ab", 5, PieceType::kUnused}}, true));
    EXPECT_EQ(tok.encode("ab"), (Ids{kFirstExtra, kFirstExtra + 1, kFirstExtra + 2}));
}

TEST(Tokenizer, ControlPiecesInTheTextAreOrdinaryText) {
    const Tokenizer tok(make_model({{kU2581}, {"<"}, {"s"}, {">"}}, true));
    EXPECT_EQ(tok.encode("<s>"),
              (Ids{kFirstExtra, kFirstExtra + 1, kFirstExtra + 2, kFirstExtra + 3}));
}

TEST(Tokenizer, NormalizerOptions) {
    // No dummy prefix.
    TokenizerModel m = make_model({{kU2581}, {"a"}}, true);
    m.add_dummy_prefix = false;
    EXPECT_EQ(Tokenizer(m).encode("a a"), (Ids{kFirstExtra + 1, kFirstExtra, kFirstExtra + 1}));
    // remove_extra_whitespaces: leading/trailing dropped, runs collapsed: "▁a▁a".
    m.add_dummy_prefix = true;
    m.remove_extra_whitespaces = true;
    EXPECT_EQ(Tokenizer(m).encode("  a    a  "),
              (Ids{kFirstExtra, kFirstExtra + 1, kFirstExtra, kFirstExtra + 1}));
    EXPECT_EQ(Tokenizer(m).encode("   "), Ids{});
    // treat_whitespace_as_suffix: the dummy space goes at the end: "a▁".
    m.remove_extra_whitespaces = false;
    m.treat_whitespace_as_suffix = true;
    EXPECT_EQ(Tokenizer(m).encode("a"), (Ids{kFirstExtra + 1, kFirstExtra}));
}

TEST(Tokenizer, DecodeRules) {
    // ▁ a ▁a ▁b = kFirstExtra + 0..3
    const Tokenizer tok(make_model({{kU2581}, {"a"}, {kU2581 + "a"}, {kU2581 + "b"}}, true));
    const TokenId sp = kFirstExtra, a = kFirstExtra + 1, sa = kFirstExtra + 2, sb = kFirstExtra + 3;
    EXPECT_EQ(tok.decode(Ids{sa, sb}), "a b");       // only the first ▁ is the dummy prefix
    EXPECT_EQ(tok.decode(Ids{1, sa, 2}), "a");       // controls are invisible, even before
    EXPECT_EQ(tok.decode(Ids{sp, sb}), " b");        // "▁" consumes the prefix, then " b"
    EXPECT_EQ(tok.decode(Ids{3 + 'A', sb}), "A b");  // bytes count as text
    EXPECT_EQ(tok.decode(Ids{a, sa}), "a a");
    EXPECT_EQ(tok.decode(Ids{0, sa}), " \xE2\x81\x87  a");  // unk surface is text
    // Byte runs: valid UTF-8 is kept; each byte that cannot start a character is U+FFFD.
    EXPECT_EQ(tok.decode(Ids{3 + 0xE2, 3 + 0x82, 3 + 0xAC}), "\xE2\x82\xAC");
    EXPECT_EQ(tok.decode(Ids{3 + 0xE2, 3 + 0x82}), kFffd + kFffd);                    // truncated
    EXPECT_EQ(tok.decode(Ids{3 + 0xC0, 3 + 0x80}), kFffd + kFffd);                    // overlong
    EXPECT_EQ(tok.decode(Ids{3 + 0xED, 3 + 0xA0, 3 + 0x80}), kFffd + kFffd + kFffd);  // surrogate
    EXPECT_EQ(tok.decode(Ids{3 + 0xE2, sa, 3 + 0x82}), kFffd + " a" + kFffd);
}

TEST(Tokenizer, BadInputThrows) {
    const Tokenizer tok = tie_model(1, 1);
    try {
        tok.encode("ab\xE2\x82x");
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kInvalidUtf8);
        EXPECT_NE(std::string(e.what()).find("offset 2"), std::string::npos) << e.what();
    }
    const TokenId bad = static_cast<TokenId>(tok.vocab_size());
    try {
        tok.decode(Ids{1, bad});
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
    EXPECT_THROW(tok.decode(Ids{-1}), Error);
    EXPECT_THROW(tok.piece(-5), Error);
}

Errc ctor_error(TokenizerModel m) {
    try {
        Tokenizer t(std::move(m));
    } catch (const Error& e) {
        return e.code();
    }
    return Errc::kIo;  // "did not throw"
}

TEST(Tokenizer, RefusesModelsItCannotHonour) {
    TokenizerModel m = make_model({{"a"}}, true);
    m.kind = TokenizerModel::Kind::kUnigram;
    EXPECT_EQ(ctor_error(m), Errc::kUnsupported);
    m = make_model({{"a"}}, true);
    m.normalizer_name = "nmt_nfkc";
    m.precompiled_charsmap = "\x04\x00\x00\x00xxxx";
    EXPECT_EQ(ctor_error(m), Errc::kUnsupported);
    m = make_model({{"a"}, {"a"}}, true);  // duplicate piece
    EXPECT_EQ(ctor_error(m), Errc::kBadValue);
    m = make_model({{"a"}}, true);
    m.types[0] = PieceType::kNormal;  // no unknown piece
    EXPECT_EQ(ctor_error(m), Errc::kBadValue);
    m = make_model({{"<0x41>", 0, PieceType::kByte}}, false);  // byte piece without byte_fallback
    EXPECT_EQ(ctor_error(m), Errc::kBadValue);
    m = make_model({{"a"}}, true);
    m.types[3 + 7] = PieceType::kNormal;  // byte_fallback with a byte piece missing
    EXPECT_EQ(ctor_error(m), Errc::kBadValue);
    m = make_model({{""}}, true);  // empty piece
    EXPECT_EQ(ctor_error(m), Errc::kBadValue);
    m = make_model({{"a"}}, true);
    m.eos_id = 100000;
    EXPECT_EQ(ctor_error(m), Errc::kBadValue);
    m = make_model({{"a"}}, true);
    m.scores.pop_back();
    EXPECT_EQ(ctor_error(m), Errc::kBadValue);
}

// The same string may be both a reserved and a normal piece; PieceToId prefers the reserved
// one, so DecodeIds of the normal id behaves like the reserved (control) piece.
TEST(Tokenizer, ReservedPieceWinsLookup) {
    const Tokenizer tok(make_model({{kU2581}, {"<s>"}, {"x"}}, true));
    EXPECT_EQ(tok.decode(Ids{kFirstExtra + 1, kFirstExtra + 2}), "x");
}

// StreamDecoder emits characters as soon as they are complete and agrees with decode().
TEST(StreamDecoder, HoldsSplitCharactersUntilComplete) {
    const Tokenizer tok(make_model({{kU2581}, {kU2581 + "a"}, {"b"}}, true));
    const TokenId sa = kFirstExtra + 1, b = kFirstExtra + 2;
    StreamDecoder sd(tok);
    EXPECT_EQ(sd.push(sa), "a");  // dummy prefix dropped
    EXPECT_EQ(sd.push(3 + 0xF0), "");
    EXPECT_EQ(sd.push(3 + 0x9F), "");
    EXPECT_EQ(sd.push(3 + 0x98), "");
    EXPECT_EQ(sd.push(3 + 0x80), "\xF0\x9F\x98\x80");  // 😀
    EXPECT_EQ(sd.push(sa), " a");                      // not the start any more
    EXPECT_EQ(sd.push(3 + 0xE2), "");
    EXPECT_EQ(sd.push(3 + 'A'), kFffd + "A");  // E2 41 can never complete: decided at once
    EXPECT_EQ(sd.push(3 + 0xC3), "");
    EXPECT_EQ(sd.push(b), kFffd + "b");  // a non-byte piece ends the run
    EXPECT_EQ(sd.push(3 + 0xF0), "");
    EXPECT_EQ(sd.push(3 + 0x9F), "");
    EXPECT_EQ(sd.flush(), kFffd + kFffd);  // incomplete at the end: one U+FFFD per byte
    EXPECT_EQ(sd.flush(), "");
    sd.reset();
    EXPECT_EQ(sd.push(1), "");    // <s>
    EXPECT_EQ(sd.push(sa), "a");  // still the start after a control piece
}

}  // namespace
}  // namespace mistral
