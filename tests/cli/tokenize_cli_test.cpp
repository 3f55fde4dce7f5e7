// `mistral tokenize` driven as a user would: exit codes (0 ok, 1 bad input, 2 usage), one
// line on stderr for errors, output exactly as documented. Expected ids come from the
// sentencepiece fixtures (tokenizer/*.expected.jsonl).
#include <fstream>

#include <gtest/gtest.h>
#include <mistral/tokenizer.h>

#include "test_util.h"

namespace mistral {
namespace {

using test::run;
using test::shell_quote;

std::string mistral_bin() {
    return shell_quote(test::bin_path("mistral").string());
}
std::string mistral_tok() {
    return mistral_bin() + " tokenize --tokenizer " +
           shell_quote(test::fixture_path("tokenizer/mistral-7b-v0.1.model").string());
}

size_t lines(const std::string& s) {
    return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(TokenizeCli, EncodesPromptAndStdinRaw) {
    // "Hello\nworld" -> [22557, 13, 9471] (fixture); stdin is taken raw, newline included.
    auto r = run(mistral_tok() + " -p " + shell_quote("Hello\nworld"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "22557 13 9471\n");
    EXPECT_EQ(r.err, "");
    r = run(mistral_tok(), "Hello\nworld");
    EXPECT_EQ(r.out, "22557 13 9471\n");
    r = run(mistral_tok(), "\n");  // -> [28705, 13] (fixture)
    EXPECT_EQ(r.out, "28705 13\n");
    r = run(mistral_tok(), "");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "\n");
}

TEST(TokenizeCli, PiecesAndBos) {
    auto r = run(mistral_tok() + " --pieces -p " + shell_quote("Hello\nworld"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "\xE2\x96\x81Hello <0x0A> world\n");
    r = run(mistral_tok() + " --bos -p " + shell_quote("Hello  world"));  // [22557, 28705, 1526]
    EXPECT_EQ(r.out, "1 22557 28705 1526\n");
}

TEST(TokenizeCli, DecodePrintsTextExactly) {
    auto r = run(mistral_tok() + " --decode -p " + shell_quote("1 22557 13 9471 2"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "Hello\nworld");
    r = run(mistral_tok() + " --decode", " 28705\n22557\t28705 1526 \n");
    EXPECT_EQ(r.out, " Hello  world");
}

TEST(TokenizeCli, BadInputIsOneLineAndExitOne) {
    auto r = run(mistral_tok(), std::string("ok \xC3\x28 bad"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("offset 3"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");

    r = run(mistral_tok() + " --decode -p " + shell_quote("1 32000"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1u);
    EXPECT_NE(r.err.find("32000"), std::string::npos) << r.err;

    r = run(mistral_tok() + " --decode -p " + shell_quote("1 -4"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("-4"), std::string::npos) << r.err;

    r = run(mistral_tok() + " --decode -p " + shell_quote("1 two"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("two"), std::string::npos) << r.err;

    r = run(mistral_bin() + " tokenize --tokenizer /nonexistent/tokenizer.model -p x");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1u);

    // Not a tokenizer: the kjv params.json.
    r = run(mistral_bin() + " tokenize --tokenizer " +
            shell_quote(test::fixture_path("kjv-tiny/native/params.json").string()) + " -p x");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
}

TEST(TokenizeCli, UsageErrorsExitTwo) {
    for (const std::string& args :
         {std::string(" -p x"), std::string(" --tokenizer a -m b -p x"),
          std::string(" --tokenizer a --decode --pieces"), std::string(" --tokenizer a --bogus")}) {
        const auto r = run(mistral_bin() + " tokenize" + args);
        EXPECT_EQ(r.exit_code, 2) << args;
        EXPECT_EQ(lines(r.err), 1u) << args << ": " << r.err;
    }
    const auto r = run(mistral_bin() + " tokenize --help");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("--decode"), std::string::npos);
}

TEST(TokenizeCli, GgufVocabulary) {
    // llama.cpp's case " Hello world" -> 29871 15043 3186 (ggml-vocab-llama-spm.gguf.out).
    const auto r = run(
            mistral_bin() + " tokenize --tokenizer " +
            shell_quote(
                    test::fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf").string()) +
            " -p " + shell_quote(" Hello world"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "29871 15043 3186\n");
}

// -m: the tokenizer embedded in a model file (tiny512's, in a small random model).
TEST(TokenizeCli, ModelFile) {
    const TokenizerModel tm = parse_sentencepiece_model(
            test::read_bytes(test::fixture_path("tokenizer/tiny512.model")));
    ModelConfig cfg = test::tiny_config();
    cfg.vocab_size = static_cast<int64_t>(tm.size());
    const auto image = test::make_model_image(cfg, DType::kF32, 1, serialize_tokenizer(tm));
    test::TempDir dir;
    const auto path = dir / "tiny.mst";
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(image.data()),
                  static_cast<std::streamsize>(image.size()));
    }
    // "Hello" -> [325, 374, 326, 337, 337, 327] (tiny512.expected.jsonl)
    auto r = run(mistral_bin() + " tokenize -m " + shell_quote(path.string()) + " -p Hello");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "325 374 326 337 337 327\n");
    r = run(mistral_bin() + " tokenize -m " + shell_quote(path.string()) + " --decode -p " +
            shell_quote("1 325 374 326 337 337 327 2"));
    EXPECT_EQ(r.out, "Hello");
}

}  // namespace
}  // namespace mistral
