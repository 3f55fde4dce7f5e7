// Our tokenizer serialisation: lossless round trip and a typed error for each kind of bad blob.
#include <cstring>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/tokenizer.h>

#include "test_util.h"
#include "tokenizer/tiny_models.h"

namespace mistral {
namespace {

void expect_same(const TokenizerModel& a, const TokenizerModel& b) {
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.pieces, b.pieces);
    EXPECT_EQ(a.scores, b.scores);
    EXPECT_EQ(a.types, b.types);
    EXPECT_EQ(a.unk_id, b.unk_id);
    EXPECT_EQ(a.bos_id, b.bos_id);
    EXPECT_EQ(a.eos_id, b.eos_id);
    EXPECT_EQ(a.pad_id, b.pad_id);
    EXPECT_EQ(a.byte_fallback, b.byte_fallback);
    EXPECT_EQ(a.split_digits, b.split_digits);
    EXPECT_EQ(a.treat_whitespace_as_suffix, b.treat_whitespace_as_suffix);
    EXPECT_EQ(a.allow_whitespace_only_pieces, b.allow_whitespace_only_pieces);
    EXPECT_EQ(a.split_by_whitespace, b.split_by_whitespace);
    EXPECT_EQ(a.split_by_number, b.split_by_number);
    EXPECT_EQ(a.split_by_unicode_script, b.split_by_unicode_script);
    EXPECT_EQ(a.max_piece_length, b.max_piece_length);
    EXPECT_EQ(a.unk_surface, b.unk_surface);
    EXPECT_EQ(a.normalizer_name, b.normalizer_name);
    EXPECT_EQ(a.precompiled_charsmap, b.precompiled_charsmap);
    EXPECT_EQ(a.add_dummy_prefix, b.add_dummy_prefix);
    EXPECT_EQ(a.remove_extra_whitespaces, b.remove_extra_whitespaces);
    EXPECT_EQ(a.escape_whitespaces, b.escape_whitespaces);
}

TEST(TokenizerBlob, RoundTripsRealModels) {
    for (const char* rel : {"tokenizer/mistral-7b-v0.1.model", "tokenizer/tiny512.model",
                            "stories260K/tokenizer.model"}) {
        const TokenizerModel m =
                parse_sentencepiece_model(test::read_bytes(test::fixture_path(rel)));
        expect_same(deserialize_tokenizer(serialize_tokenizer(m)), m);
    }
}

TEST(TokenizerBlob, RoundTripsEveryFlag) {
    TokenizerModel m = test::make_model({{"a", -1.5f}, {"b", 2.0f, PieceType::kUserDefined}}, true);
    m.split_digits = true;
    m.treat_whitespace_as_suffix = true;
    m.allow_whitespace_only_pieces = true;
    m.split_by_whitespace = false;
    m.split_by_number = false;
    m.split_by_unicode_script = false;
    m.add_dummy_prefix = false;
    m.remove_extra_whitespaces = true;
    m.escape_whitespaces = false;
    m.pad_id = 2;
    m.max_piece_length = 7;
    m.unk_surface = "??";
    m.normalizer_name = "nmt_nfkc";
    m.precompiled_charsmap = std::string("\x01\x00\x02", 3);
    expect_same(deserialize_tokenizer(serialize_tokenizer(m)), m);
}

Errc error_of(std::span<const std::byte> blob) {
    try {
        deserialize_tokenizer(blob);
    } catch (const Error& e) {
        return e.code();
    }
    return Errc::kIo;  // "did not throw"
}

TEST(TokenizerBlob, BadBlobs) {
    const auto good = serialize_tokenizer(test::make_model({{"a"}}, true));
    auto b = good;
    b[0] = std::byte{'X'};
    EXPECT_EQ(error_of(b), Errc::kBadMagic);
    b = good;
    b[4] = std::byte{9};  // version 9
    EXPECT_EQ(error_of(b), Errc::kNewerVersion);
    b = good;
    b.pop_back();
    EXPECT_EQ(error_of(b), Errc::kTruncated);
    b = good;
    b.push_back(std::byte{0});
    EXPECT_EQ(error_of(b), Errc::kBadValue);  // trailing bytes
    b = good;
    b[8] = std::byte{7};  // kind
    EXPECT_EQ(error_of(b), Errc::kBadValue);
    b = good;
    b[11] = std::byte{0x80};  // unknown flag bit 15
    EXPECT_EQ(error_of(b), Errc::kBadValue);
    b = good;
    b[b.size() - 1] = std::byte{9};  // last piece's type
    EXPECT_EQ(error_of(b), Errc::kBadValue);
    EXPECT_EQ(error_of({}), Errc::kTruncated);
}

TEST(TokenizerBlob, SentencepieceModelErrors) {
    // A truncated protobuf, a field of the wrong wire type, and a non-BPE model.
    const auto good = test::read_bytes(test::fixture_path("tokenizer/tiny512.model"));
    std::vector<std::byte> b(good.begin(),
                             good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2));
    try {
        parse_sentencepiece_model(b);
        FAIL();
    } catch (const Error& e) {
        EXPECT_TRUE(e.code() == Errc::kTruncated || e.code() == Errc::kBadValue) << e.what();
    }
    // Field 1 (pieces) as a varint instead of a message.
    const std::vector<std::byte> wrong = {std::byte{0x08}, std::byte{0x01}};
    try {
        parse_sentencepiece_model(wrong);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kBadValue);
    }
    // No pieces at all.
    EXPECT_THROW(parse_sentencepiece_model({}), Error);
    // tiny512 with model_type rewritten to UNIGRAM parses but cannot be used.
    TokenizerModel m = parse_sentencepiece_model(good);
    m.kind = TokenizerModel::Kind::kUnigram;
    try {
        Tokenizer t(m);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kUnsupported);
    }
}

}  // namespace
}  // namespace mistral
