// `mistral tokenize -m` on a real converted model: kjv-tiny (Hugging Face folder) converted by
// mistral-convert, checked against the reference run's prompt ids and decoded generations
// (kjv-tiny/ref/greedy.jsonl, produced with the sentencepiece library).
#include <gtest/gtest.h>

#include "test_util.h"
#include "tokenizer/mini_json.h"

namespace mistral {
namespace {

using test::run;
using test::shell_quote;

TEST(TokenizeCliGolden, ConvertedKjvTinyModel) {
    test::TempDir dir;
    const std::string model = (dir / "kjv.mst").string();
    const auto conv = run(shell_quote(test::bin_path("mistral-convert").string()) + " " +
                          shell_quote(test::fixture_path("kjv-tiny/hf").string()) + " -o " +
                          shell_quote(model) + " -q");
    ASSERT_EQ(conv.exit_code, 0) << conv.err;
    const std::string tok =
            shell_quote(test::bin_path("mistral").string()) + " tokenize -m " + shell_quote(model);
    const auto cases = test::json::parse_lines(
            test::read_text(test::fixture_path("kjv-tiny/ref/greedy.jsonl")));
    ASSERT_FALSE(cases.empty());
    for (size_t i = 0; i < cases.size(); ++i) {
        const std::string prompt = cases[i].at("prompt").str;
        std::string want;
        std::string all_ids;
        for (int32_t id : cases[i].at("prompt_ids").ints()) {
            want += (want.empty() ? "" : " ") + std::to_string(id);
        }
        all_ids = want;
        for (int32_t id : cases[i].at("ids").ints())
            all_ids += " " + std::to_string(id);
        auto r = run(tok + " --bos", prompt);  // prompt on stdin, raw
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, want + "\n") << "prompt " << i;
        r = run(tok + " --decode", all_ids);
        EXPECT_EQ(r.out, prompt + cases[i].at("text").str) << "prompt " << i;
    }
}

}  // namespace
}  // namespace mistral
