// generate() on tiny random in-memory models. Oracles: a hand-written decode loop over the
// Session API (argmax / a second Sampler with the same seed), Tokenizer::decode for the text,
// and stop positions computed from the full unstopped text.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/generate.h>
#include <mistral/kernels.h>
#include <mistral/model.h>
#include <mistral/utf8.h>

#include "test_util.h"

namespace mistral {
namespace {

// A 300-piece vocabulary of short ASCII words (no byte fallback), some with the U+2581 space
// marker, so every id has a known, printable text. unk 0, bos 1, eos 2.
TokenizerModel word_vocab(size_t n, TokenId eos = 2) {
    TokenizerModel m;
    m.byte_fallback = false;
    m.pieces = {"<unk>", "<s>", "</s>"};
    m.types = {PieceType::kUnknown, PieceType::kControl, PieceType::kControl};
    for (size_t i = 3; i < n; ++i) {
        std::string w = i % 4 == 0 ? "\xE2\x96\x81" : "";
        for (size_t v = i; v > 0; v /= 26) {
            w += static_cast<char>('a' + v % 26);
        }
        m.pieces.push_back(w);
        m.types.push_back(PieceType::kNormal);
    }
    m.scores.assign(n, 0.0f);
    if (eos != 2) {
        m.types[static_cast<size_t>(eos)] = PieceType::kControl;
        m.eos_id = eos;
    }
    return m;
}

class GenerateTest : public ::testing::Test {
protected:
    void SetUp() override {
        cfg_ = test::tiny_config();  // vocab 300, window 8
        tok_ = std::make_unique<Tokenizer>(word_vocab(static_cast<size_t>(cfg_.vocab_size)));
        model_ = Model::from_image(test::make_model_image(cfg_, DType::kF32, 1234,
                                                          serialize_tokenizer(tok_->model())));
    }

    Session session(SessionOptions opts = {}) const {
        return Session(*model_, reference_kernels(), opts);
    }

    // Greedy reference: prefill, then argmax (ties -> lowest id) and decode, n times.
    std::vector<TokenId> greedy_ref(const std::vector<TokenId>& prompt, size_t n) const {
        Session s = session();
        auto logits = s.prefill(prompt);
        std::vector<TokenId> out;
        for (size_t i = 0; i < n; ++i) {
            const auto it = std::max_element(logits.begin(), logits.end());
            out.push_back(static_cast<TokenId>(it - logits.begin()));
            if (i + 1 < n) {
                logits = s.decode(out.back());
            }
        }
        return out;
    }

    static SamplerParams greedy() {
        SamplerParams p;
        p.temperature = 0.0f;
        return p;
    }

    // Greedy generation of n tokens without EOS or stop strings.
    GenerateResult run_plain(const std::vector<TokenId>& prompt, int64_t n) const {
        Session s = session();
        Sampler smp(greedy());
        GenerateOptions o;
        o.max_tokens = n;
        o.stop_at_eos = false;
        return generate(s, smp, tok_.get(), prompt, o, nullptr);
    }

    ModelConfig cfg_;
    std::unique_ptr<Tokenizer> tok_;
    std::unique_ptr<Model> model_;
    const std::vector<TokenId> prompt_ = {1, 17, 250, 42, 99, 3};
};

TEST_F(GenerateTest, GreedyMatchesHandWrittenArgmaxLoop) {
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 20;
    o.stop_at_eos = false;
    std::vector<TokenId> seen;
    const auto r = generate(s, smp, tok_.get(), prompt_, o, [&](TokenId id, std::string_view) {
        seen.push_back(id);
        return true;
    });
    EXPECT_EQ(r.ids, greedy_ref(prompt_, 20));
    EXPECT_EQ(seen, r.ids);  // one callback per id, in order
    EXPECT_EQ(r.stop_reason, "length");
    EXPECT_EQ(r.prompt_tokens, 6);
    EXPECT_GE(r.prompt_ms, 0.0);
    EXPECT_GE(r.gen_ms, 0.0);
    // The last sampled id is not fed.
    EXPECT_EQ(s.pos(), 6 + 20 - 1);
}

TEST_F(GenerateTest, SeededSamplingMatchesHandWrittenLoopWithPenaltyHistory) {
    SamplerParams p;
    p.temperature = 1.3f;
    p.top_k = 60;
    p.top_p = 0.98f;
    p.min_p = 0.01f;
    p.repeat_penalty = 1.4f;
    p.repeat_last_n = 16;
    p.seed = 9;
    // Reference: the sampler sees prompt + generated ids as its history.
    std::vector<TokenId> want;
    {
        Session s = session();
        Sampler smp(p);
        std::vector<TokenId> hist = prompt_;
        auto logits = s.prefill(prompt_);
        for (int i = 0; i < 24; ++i) {
            const TokenId id = smp.sample(logits, hist);
            hist.push_back(id);
            want.push_back(id);
            logits = s.decode(id);
        }
    }
    GenerateOptions o;
    o.max_tokens = 24;
    o.stop_at_eos = false;
    Session s = session();
    Sampler smp(p);
    const auto r = generate(s, smp, tok_.get(), prompt_, o, nullptr);
    EXPECT_EQ(r.ids, want);

    // Same seed, same ids; another seed, other ids.
    Session s2 = session();
    Sampler again(p);
    EXPECT_EQ(generate(s2, again, tok_.get(), prompt_, o, nullptr).ids, want);
    p.seed = 10;
    Session s3 = session();
    Sampler other(p);
    EXPECT_NE(generate(s3, other, tok_.get(), prompt_, o, nullptr).ids, want);
}

TEST_F(GenerateTest, PrefillChunkSizeDoesNotChangeTheTokens) {
    std::vector<TokenId> prompt;
    for (int i = 0; i < 21; ++i) {
        prompt.push_back(static_cast<TokenId>((i * 37 + 5) % 300));
    }
    const auto want = greedy_ref(prompt, 8);
    for (int64_t chunk : {1, 3, 8, 21, 0}) {
        Session s = session();
        Sampler smp(greedy());
        GenerateOptions o;
        o.max_tokens = 8;
        o.chunk = chunk;
        o.stop_at_eos = false;
        EXPECT_EQ(generate(s, smp, tok_.get(), prompt, o, nullptr).ids, want) << chunk;
    }
}

TEST_F(GenerateTest, StreamedTextIsTheDecodedText) {
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 30;
    o.stop_at_eos = false;
    o.continue_text = false;  // the reply decoded on its own
    std::string streamed;
    const auto r = generate(s, smp, tok_.get(), prompt_, o, [&](TokenId, std::string_view t) {
        streamed += t;
        return true;
    });
    EXPECT_FALSE(streamed.empty());
    EXPECT_EQ(streamed, tok_->decode(r.ids));
    EXPECT_EQ(r.text, streamed);
}

TEST_F(GenerateTest, StopsAtEos) {
    const auto plain = run_plain(prompt_, 30).ids;
    // Pick as "EOS" the id whose first occurrence is latest, and rebuild the tokenizer with it.
    size_t k = 0;
    for (size_t i = 0; i < plain.size(); ++i) {
        if (std::find(plain.begin(), plain.begin() + static_cast<ptrdiff_t>(i), plain[i]) ==
            plain.begin() + static_cast<ptrdiff_t>(i)) {
            k = i;
        }
    }
    const TokenId eos = plain[k];
    ASSERT_GE(eos, 3);
    const Tokenizer tok(word_vocab(300, eos));
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.continue_text = false;
    o.max_tokens = 30;
    std::vector<TokenId> seen;
    std::string streamed;
    const auto r = generate(s, smp, &tok, prompt_, o, [&](TokenId id, std::string_view t) {
        seen.push_back(id);
        streamed += t;
        return true;
    });
    EXPECT_EQ(r.stop_reason, "eos");
    const std::vector<TokenId> want(plain.begin(), plain.begin() + static_cast<ptrdiff_t>(k + 1));
    EXPECT_EQ(r.ids, want);
    EXPECT_EQ(seen, want);  // the EOS gets its (text-less) callback
    EXPECT_EQ(streamed, tok.decode(std::span<const TokenId>(want).first(k)));
    // stop_at_eos = false runs through it.
    Session s2 = session();
    Sampler smp2(greedy());
    o.stop_at_eos = false;
    EXPECT_EQ(generate(s2, smp2, &tok, prompt_, o, nullptr).ids, plain);
}

TEST_F(GenerateTest, StopStringIsNeverEmitted) {
    const auto plain = run_plain(prompt_, 30);
    const std::string full = plain.text;
    ASSERT_GE(full.size(), 20u);
    const std::string stop = full.substr(full.size() / 2, 4);
    const size_t at = full.find(stop);
    // Tokens needed until the decoded text first contains the stop string.
    size_t k = 0;
    while (tok_->decode(std::span<const TokenId>(plain.ids).first(k)).find(stop) ==
           std::string::npos) {
        ++k;
    }
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 30;
    o.stop_at_eos = false;
    o.stop = {"", "\x01never", stop};
    std::string streamed;
    size_t calls = 0;
    const auto r = generate(s, smp, tok_.get(), prompt_, o, [&](TokenId, std::string_view t) {
        streamed += t;
        ++calls;
        // Every prefix streamed so far is a prefix of the text before the stop string.
        EXPECT_EQ(full.substr(0, streamed.size()), streamed);
        EXPECT_LE(streamed.size(), at);
        return true;
    });
    EXPECT_EQ(r.stop_reason, "stop string");
    EXPECT_EQ(streamed, full.substr(0, at));
    EXPECT_EQ(r.text, streamed);
    EXPECT_EQ(r.ids.size(), k);
    EXPECT_EQ(calls, k);
}

TEST_F(GenerateTest, EarliestOfSeveralStopStringsWins) {
    const std::string full = run_plain(prompt_, 30).text;
    ASSERT_GE(full.size(), 20u);
    const std::string late = full.substr(full.size() - 5, 4);
    const std::string early = full.substr(3, 3);
    const size_t cut = std::min(full.find(late), full.find(early));
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 30;
    o.stop_at_eos = false;
    o.stop = {late, early};
    const auto r = generate(s, smp, tok_.get(), prompt_, o, nullptr);
    EXPECT_EQ(r.stop_reason, "stop string");
    EXPECT_EQ(r.text, full.substr(0, cut));

    // Two stop strings completed by the same token: the one starting first cuts, whatever
    // their order in the list.
    size_t c = 0;
    while (c + 3 <= full.size() &&
           !(full.find(full.substr(c, 3)) == c && full.find(full.substr(c + 1, 2)) == c + 1)) {
        ++c;
    }
    ASSERT_LE(c + 3, full.size()) << "no suitable position in " << full;
    Session s2 = session();
    Sampler smp2(greedy());
    o.stop = {full.substr(c + 1, 2), full.substr(c, 3)};
    const auto r2 = generate(s2, smp2, tok_.get(), prompt_, o, nullptr);
    EXPECT_EQ(r2.stop_reason, "stop string");
    EXPECT_EQ(r2.text, full.substr(0, c));
}

TEST_F(GenerateTest, HeldBackStopPrefixIsReleasedAtTheEnd) {
    const std::string full = run_plain(prompt_, 30).text;
    ASSERT_GE(full.size(), 4u);
    // A stop string that starts like the end of the text but never completes.
    const std::string tail = full.substr(full.size() - 2);
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 30;
    o.stop_at_eos = false;
    o.stop = {tail + "\x01"};
    std::vector<std::string> pieces;
    const auto r = generate(s, smp, tok_.get(), prompt_, o, [&](TokenId, std::string_view t) {
        pieces.emplace_back(t);
        return true;
    });
    EXPECT_EQ(r.stop_reason, "length");
    EXPECT_EQ(r.text, full);
    ASSERT_EQ(pieces.size(), 30u);
    // The last callback carries the held-back tail.
    ASSERT_GE(pieces.back().size(), tail.size());
    EXPECT_EQ(pieces.back().substr(pieces.back().size() - tail.size()), tail);
}

TEST_F(GenerateTest, CallbackFalseStops) {
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 50;  // a bound, so a broken callback stop fails instead of hanging
    o.stop_at_eos = false;
    int calls = 0;
    const auto r = generate(s, smp, tok_.get(), prompt_, o,
                            [&](TokenId, std::string_view) { return ++calls < 3; });
    EXPECT_EQ(r.stop_reason, "callback");
    EXPECT_EQ(r.ids, greedy_ref(prompt_, 3));
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(s.pos(), 6 + 3 - 1);
}

TEST_F(GenerateTest, MaxTokensZeroOnlyPrefills) {
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 0;
    int calls = 0;
    const auto r = generate(s, smp, tok_.get(), prompt_, o, [&](TokenId, std::string_view) {
        ++calls;
        return true;
    });
    EXPECT_TRUE(r.ids.empty());
    EXPECT_EQ(r.stop_reason, "length");
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(s.pos(), 6);
}

TEST_F(GenerateTest, NonRollingContextStopsWhenFull) {
    SessionOptions so;
    so.ctx = 6;  // < window 8: a plain (non-rolling) cache of 6 positions
    Session s = session(so);
    ASSERT_FALSE(s.rolling());
    Sampler smp(greedy());
    GenerateOptions o;  // no limit
    o.stop_at_eos = false;
    const std::vector<TokenId> prompt = {1, 5, 6, 7};
    const auto r = generate(s, smp, tok_.get(), prompt, o, nullptr);
    EXPECT_EQ(r.stop_reason, "context");
    // Positions 4 and 5 take the first two generated ids; the third cannot be fed.
    EXPECT_EQ(r.ids, greedy_ref(prompt, 3));
    EXPECT_EQ(s.pos(), 6);
    // A prompt longer than the context is refused before any compute.
    Session s2 = session(so);
    const std::vector<TokenId> too_long = {1, 2, 3, 4, 5, 6, 7};
    try {
        generate(s2, smp, tok_.get(), too_long, o, nullptr);
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kContextOverflow);
    }
}

TEST_F(GenerateTest, ContinuingAConversationFeedsTheLastId) {
    // Turn 1, then turn 2 whose prompt starts with turn 1's last (unfed) id: the same as one
    // fresh greedy run over the whole history.
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 4;
    o.stop_at_eos = false;
    const auto a = generate(s, smp, tok_.get(), prompt_, o, nullptr);
    std::vector<TokenId> next = {a.ids.back(), 20, 21};
    const auto b = generate(s, smp, tok_.get(), next, o, nullptr);
    std::vector<TokenId> all = prompt_;
    all.insert(all.end(), a.ids.begin(), a.ids.end() - 1);
    all.insert(all.end(), next.begin(), next.end());
    EXPECT_EQ(b.ids, greedy_ref(all, 4));
}

TEST_F(GenerateTest, WorksWithoutATokenizer) {
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 5;
    std::string streamed;
    const auto r = generate(s, smp, nullptr, prompt_, o, [&](TokenId, std::string_view t) {
        streamed += t;
        return true;
    });
    EXPECT_EQ(r.ids, greedy_ref(prompt_, 5));
    EXPECT_TRUE(streamed.empty());
    EXPECT_TRUE(r.text.empty());
}

// Byte-fallback vocabulary: 256 byte pieces plus multi-byte words, so streamed text has
// split and invalid UTF-8 to hold back or replace.
TokenizerModel byte_vocab(size_t n) {
    TokenizerModel m;
    m.pieces = {"<unk>", "<s>", "</s>"};
    m.types = {PieceType::kUnknown, PieceType::kControl, PieceType::kControl};
    for (int b = 0; b < 256; ++b) {
        static const char kHex[] = "0123456789ABCDEF";
        m.pieces.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
        m.types.push_back(PieceType::kByte);
    }
    const char* const kWords[] = {"\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80",
                                  "\xE2\x96\x81"
                                  "a"};
    for (size_t i = m.pieces.size(); i < n; ++i) {
        std::string w = kWords[i % 4];
        for (size_t v = i; v > 0; v /= 26) {
            w += static_cast<char>('a' + v % 26);
        }
        m.pieces.push_back(w);
        m.types.push_back(PieceType::kNormal);
    }
    m.scores.assign(n, 0.0f);
    return m;
}

TEST_F(GenerateTest, ByteFallbackTextStreamsValidUtf8) {
    const Tokenizer tok(byte_vocab(300));
    SamplerParams p;
    p.temperature = 1.5f;  // wander over byte and word pieces
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 4;
    Session s = session();
    Sampler smp(p);
    GenerateOptions o;
    o.max_tokens = 60;
    o.stop_at_eos = false;
    std::string streamed;
    const auto r = generate(s, smp, &tok, prompt_, o, [&](TokenId, std::string_view t) {
        EXPECT_EQ(utf8_invalid_offset(t), kUtf8Valid) << "a callback split a character";
        streamed += t;
        return true;
    });
    size_t bytes = 0;
    for (TokenId id : r.ids) {
        bytes += (id >= 3 && id < 259);
    }
    EXPECT_GT(bytes, 10u) << "the test needs byte pieces in the output";
    EXPECT_EQ(streamed, tok.decode(r.ids));

    // A stop string starting with a multi-byte character (the first one) of the text.
    const std::string full = streamed;
    const size_t c = static_cast<size_t>(
            std::find_if(full.begin(), full.end(), [](char ch) { return (ch & 0x80) != 0; }) -
            full.begin());
    ASSERT_LT(c, full.size()) << full;
    const std::string stop = full.substr(c, 5);
    Session s2 = session();
    Sampler smp2(p);
    o.stop = {stop};
    const auto r2 = generate(s2, smp2, &tok, prompt_, o, nullptr);
    EXPECT_EQ(r2.stop_reason, "stop string");
    EXPECT_EQ(r2.text, full.substr(0, full.find(stop)));
}

TEST_F(GenerateTest, RejectsBadArguments) {
    auto code_of = [&](const std::vector<TokenId>& prompt, const GenerateOptions& o,
                       const Tokenizer* tok) {
        Session s = session();
        Sampler smp(greedy());
        try {
            generate(s, smp, tok, prompt, o, nullptr);
        } catch (const Error& e) {
            return e.code();
        }
        return Errc::kIo;  // sentinel: no throw
    };
    GenerateOptions o;
    o.max_tokens = 2;
    EXPECT_EQ(code_of({}, o, tok_.get()), Errc::kInvalidArgument);
    o.max_tokens = -2;
    EXPECT_EQ(code_of(prompt_, o, tok_.get()), Errc::kInvalidArgument);
    o.max_tokens = 2;
    o.stop = {"x"};
    EXPECT_EQ(code_of(prompt_, o, nullptr), Errc::kInvalidArgument);
    EXPECT_EQ(code_of(prompt_, o, tok_.get()), Errc::kIo);  // fine with a tokenizer
    o.stop = {""};
    EXPECT_EQ(code_of(prompt_, o, nullptr), Errc::kIo);  // empty stop strings are ignored
    EXPECT_EQ(code_of({1, 300}, o, tok_.get()), Errc::kInvalidArgument);  // id out of range
}

}  // namespace
}  // namespace mistral

namespace mistral {
namespace {

// A completion continues the prompt's text: what streams is exactly the tail that the
// generated ids add to DecodeIds(prompt), so a leading space of the first piece survives.
TEST_F(GenerateTest, ContinuationIsTheTailOfTheWholeDecodedText) {
    Session s = session();
    Sampler smp(greedy());
    GenerateOptions o;
    o.max_tokens = 30;
    o.stop_at_eos = false;
    std::string streamed;
    const auto r = generate(s, smp, tok_.get(), prompt_, o, [&](TokenId, std::string_view t) {
        streamed += t;
        return true;
    });
    std::vector<TokenId> all(prompt_.begin(), prompt_.end());
    all.insert(all.end(), r.ids.begin(), r.ids.end());
    const std::string whole = tok_->decode(all), head = tok_->decode(prompt_);
    ASSERT_EQ(whole.substr(0, head.size()), head);
    EXPECT_EQ(streamed, whole.substr(head.size()));
}

}  // namespace
}  // namespace mistral
