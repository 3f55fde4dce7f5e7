// The tokenizer against ids and texts produced by the sentencepiece library (0.1.97) and by
// llama.cpp's vocabulary tests: every id must be identical, every decode equal.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/tokenizer.h>

#include "test_util.h"
#include "tokenizer/mini_json.h"

namespace mistral {
namespace {

using test::fixture_path;

Tokenizer load_spm(const std::string& rel) {
    const auto bytes = test::read_bytes(fixture_path(rel));
    return Tokenizer(parse_sentencepiece_model(bytes));
}

std::string stream_decode(const Tokenizer& tok, const std::vector<TokenId>& ids) {
    StreamDecoder sd(tok);
    std::string out;
    for (TokenId id : ids)
        out += sd.push(id);
    return out + sd.flush();
}

void check_expected_jsonl(const std::string& model_rel, const std::string& jsonl_rel) {
    const Tokenizer tok = load_spm(model_rel);
    const auto cases = test::json::parse_lines(test::read_text(fixture_path(jsonl_rel)));
    ASSERT_GT(cases.size(), 200u);
    size_t failures = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        const std::string text = c.at("text").str;
        const std::vector<TokenId> want = c.at("ids").ints();
        const std::vector<TokenId> got = tok.encode(text);
        EXPECT_EQ(got, want) << "case " << i << ": " << text;
        std::vector<std::string> pieces;
        for (TokenId id : got)
            pieces.emplace_back(tok.piece(id));
        EXPECT_EQ(pieces, c.at("pieces").strings()) << "case " << i;
        const std::string decoded = c.at("decoded").str;
        EXPECT_EQ(tok.decode(want), decoded) << "case " << i;
        EXPECT_EQ(stream_decode(tok, want), decoded) << "case " << i;
        if (got != want && ++failures > 10)
            FAIL() << "too many failures";
    }
}

TEST(TokenizerGolden, Mistral7bEveryCase) {
    check_expected_jsonl("tokenizer/mistral-7b-v0.1.model",
                         "tokenizer/mistral-7b-v0.1.expected.jsonl");
}

TEST(TokenizerGolden, Tiny512EveryCase) {
    check_expected_jsonl("tokenizer/tiny512.model", "tokenizer/tiny512.expected.jsonl");
}

TEST(TokenizerGolden, Mistral7bModelFields) {
    const Tokenizer tok = load_spm("tokenizer/mistral-7b-v0.1.model");
    const TokenizerModel& m = tok.model();
    EXPECT_EQ(m.size(), 32000u);
    EXPECT_EQ(m.kind, TokenizerModel::Kind::kBpe);
    EXPECT_TRUE(m.byte_fallback);
    EXPECT_EQ(m.unk_id, 0);
    EXPECT_EQ(m.bos_id, 1);
    EXPECT_EQ(m.eos_id, 2);
    EXPECT_EQ(m.normalizer_name, "identity");
    EXPECT_TRUE(m.add_dummy_prefix);
    EXPECT_FALSE(m.remove_extra_whitespaces);
    EXPECT_EQ(tok.piece(1), "<s>");
    EXPECT_EQ(tok.piece(13), "<0x0A>");
    EXPECT_EQ(m.types[3], PieceType::kByte);
    EXPECT_EQ(m.types[1], PieceType::kControl);
    EXPECT_EQ(m.types[0], PieceType::kUnknown);
}

// Mistral 7B Instruct v0.1 prompts (mistral-common InstructTokenizerV1): each segment
// encoded on its own, BOS first, EOS after each answer.
TEST(TokenizerGolden, Mistral7bChatPrompts) {
    const Tokenizer tok = load_spm("tokenizer/mistral-7b-v0.1.model");
    const auto cases = test::json::parse_lines(
            test::read_text(fixture_path("tokenizer/mistral-7b-v0.1.chat.expected.jsonl")));
    ASSERT_FALSE(cases.empty());
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& msgs = cases[i].at("messages").arr;
        std::vector<TokenId> ids = {tok.bos_id()};
        std::string system;
        bool first_user = true;
        for (const auto& msg : msgs) {
            const std::string role = msg.at("role").str;
            const std::string content = msg.at("content").str;
            if (role == "system") {
                system = content;
            } else if (role == "user") {
                std::string c = content;
                if (first_user && !system.empty())
                    c = system + "\n\n" + c;
                first_user = false;
                const auto seg = tok.encode("[INST] " + c + " [/INST]");
                ids.insert(ids.end(), seg.begin(), seg.end());
            } else {
                const auto seg = tok.encode(content);
                ids.insert(ids.end(), seg.begin(), seg.end());
                ids.push_back(tok.eos_id());
            }
        }
        EXPECT_EQ(ids, cases[i].at("ids").ints()) << "conversation " << i;
    }
}

// llama.cpp's tokenizer tests for the Llama 2 vocabulary: .inp cases separated by
// "\n__ggml_vocab_test__\n", .out one line of space-separated ids per case.
struct VocabCase {
    std::string text;
    std::vector<TokenId> ids;
};

std::vector<VocabCase> llama_spm_cases() {
    const std::string inp =
            test::read_text(fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf.inp"));
    const std::string out =
            test::read_text(fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf.out"));
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<VocabCase> cases;
    for (size_t start = 0;;) {
        const size_t end = inp.find(sep, start);
        if (end == std::string::npos)
            break;
        cases.push_back({inp.substr(start, end - start), {}});
        start = end + sep.size();
    }
    size_t line_start = 0;
    for (auto& c : cases) {
        size_t line_end = out.find('\n', line_start);
        if (line_end == std::string::npos)
            line_end = out.size();
        const std::string line = out.substr(line_start, line_end - line_start);
        size_t p = 0;
        while (p < line.size()) {
            if (line[p] == ' ') {
                ++p;
                continue;
            }
            size_t q = line.find(' ', p);
            if (q == std::string::npos)
                q = line.size();
            c.ids.push_back(std::stoi(line.substr(p, q - p)));
            p = q;
        }
        line_start = line_end + 1;
    }
    return cases;
}

void check_llama_spm(const Tokenizer& tok) {
    const auto cases = llama_spm_cases();
    ASSERT_GT(cases.size(), 30u);
    for (size_t i = 0; i < cases.size(); ++i) {
        EXPECT_EQ(tok.encode(cases[i].text), cases[i].ids)
                << "case " << i << ": '" << cases[i].text << "'";
        // No unknown pieces and no U+2581 in these texts, so decoding restores them.
        EXPECT_EQ(tok.decode(cases[i].ids), cases[i].text) << "case " << i;
    }
}

TEST(TokenizerGolden, LlamaSpmCasesWithLlama2Model) {
    check_llama_spm(load_spm("tokenizer/llama2.model"));
}

TEST(TokenizerGolden, LlamaSpmCasesWithGgufVocab) {
    const auto bytes =
            test::read_bytes(fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf"));
    check_llama_spm(Tokenizer(parse_gguf_vocab(bytes)));
}

// The GGUF vocabulary and the tokenizer.model it came from map onto the same structure.
TEST(TokenizerGolden, GgufVocabMatchesSentencepieceModel) {
    const TokenizerModel a =
            parse_sentencepiece_model(test::read_bytes(fixture_path("tokenizer/llama2.model")));
    const TokenizerModel b = load_tokenizer_file(
            fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf").string());
    EXPECT_EQ(a.pieces, b.pieces);
    EXPECT_EQ(a.scores, b.scores);
    EXPECT_EQ(a.types, b.types);
    EXPECT_EQ(a.unk_id, b.unk_id);
    EXPECT_EQ(a.bos_id, b.bos_id);
    EXPECT_EQ(a.eos_id, b.eos_id);
    EXPECT_EQ(a.byte_fallback, b.byte_fallback);
    EXPECT_EQ(a.add_dummy_prefix, b.add_dummy_prefix);
}

// kjv-tiny's reference generations: prompt ids (BOS + EncodeAsIds) and decoded text, both
// from the sentencepiece library.
TEST(TokenizerGolden, KjvTinyPromptsAndGenerations) {
    for (const char* dir : {"kjv-tiny/hf/tokenizer.model", "kjv-tiny/native/tokenizer.model"}) {
        const Tokenizer tok = load_spm(dir);
        const auto cases =
                test::json::parse_lines(test::read_text(fixture_path("kjv-tiny/ref/greedy.jsonl")));
        ASSERT_FALSE(cases.empty());
        for (size_t i = 0; i < cases.size(); ++i) {
            std::vector<TokenId> want = cases[i].at("prompt_ids").ints();
            std::vector<TokenId> got = {tok.bos_id()};
            const auto enc = tok.encode(cases[i].at("prompt").str);
            got.insert(got.end(), enc.begin(), enc.end());
            EXPECT_EQ(got, want) << "prompt " << i;
            // `text` is the continuation of the prompt: the generated pieces' spaces are kept
            // (the dummy prefix is stripped only at the start of the whole text).
            std::vector<TokenId> all = want;
            const auto gen = cases[i].at("ids").ints();
            all.insert(all.end(), gen.begin(), gen.end());
            const std::string full = cases[i].at("prompt").str + cases[i].at("text").str;
            EXPECT_EQ(tok.decode(all), full) << "generation " << i;
            EXPECT_EQ(stream_decode(tok, all), full) << "generation " << i;
        }
    }
}

// stories260K's tokenizer: every piece's text survives encode -> decode.
TEST(TokenizerGolden, Stories260kPieceRoundTrip) {
    const Tokenizer tok = load_spm("stories260K/tokenizer.model");
    EXPECT_EQ(tok.vocab_size(), 512u);
    for (size_t id = 0; id < tok.vocab_size(); ++id) {
        if (tok.model().types[id] != PieceType::kNormal)
            continue;
        const std::vector<TokenId> one = {static_cast<TokenId>(id)};
        const std::string text = tok.decode(one);
        EXPECT_EQ(tok.decode(tok.encode(text)), text) << "piece " << id;
    }
}

}  // namespace
}  // namespace mistral
