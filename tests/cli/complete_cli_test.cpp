// `mistral complete`, `chat` and the top-level CLI driven as a user would: the built binary on
// the shipped default model (models/kjv-tiny.mst), checking stdout, stderr and exit codes.
#include <fstream>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "test_util.h"

namespace mistral {
namespace {

using test::run;
using test::shell_quote;

std::string mistral() {
    return shell_quote(test::bin_path("mistral").string());
}
std::string model() {
    return shell_quote(test::default_model_path().string());
}
std::string complete(const std::string& extra) {
    return mistral() + " complete -m " + model() + " -q " + extra;
}

size_t lines(const std::string& s) {
    return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(CompleteCli, PromptFromFlagFileAndStdinAgree) {
    test::TempDir dir;
    { std::ofstream(dir / "p.txt") << "And God said\n"; }
    const auto a = run(complete("--temp 0 -n 12 -p 'And God said'"));
    const auto b = run(complete("--temp 0 -n 12 -f " + shell_quote((dir / "p.txt").string())));
    const auto c = run(complete("--temp 0 -n 12"), "And God said\n");
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_FALSE(a.out.empty());
    EXPECT_EQ(a.out, b.out);              // one trailing newline of the file is dropped
    EXPECT_EQ(a.out, c.out);              // likewise for stdin
    EXPECT_TRUE(a.err.empty()) << a.err;  // -q: nothing on stderr
    // --raw keeps the newline: a different prompt.
    const auto d = run(complete("--temp 0 -n 12 --raw"), "And God said\n");
    EXPECT_EQ(d.exit_code, 0);
    EXPECT_NE(a.out, d.out);
}

TEST(CompleteCli, GreedyAndSeedDeterminism) {
    const auto g1 = run(complete("--temp 0 -n 20 -p 'In the beginning'"));
    const auto g2 = run(complete("--temp 0 -n 20 -p 'In the beginning'"));
    EXPECT_EQ(g1.out, g2.out);
    const auto s1 = run(complete("--temp 1 --seed 42 -n 30 -p 'In the beginning'"));
    const auto s2 = run(complete("--temp 1 --seed 42 -n 30 -p 'In the beginning'"));
    const auto s3 = run(complete("--temp 1 --seed 43 -n 30 -p 'In the beginning'"));
    ASSERT_EQ(s1.exit_code, 0) << s1.err;
    EXPECT_EQ(s1.out, s2.out);
    EXPECT_NE(s1.out, s3.out);
}

TEST(CompleteCli, LengthStopStringEchoAndTimings) {
    // -n bounds the tokens: fewer tokens, a prefix of the longer greedy text.
    const auto short_run = run(complete("--temp 0 -n 5 -p 'In the beginning'"));
    const auto long_run = run(complete("--temp 0 -n 40 -p 'In the beginning'"));
    ASSERT_FALSE(short_run.out.empty());
    EXPECT_EQ(long_run.out.rfind(short_run.out, 0), 0u);
    EXPECT_GT(long_run.out.size(), short_run.out.size());
    // --stop: the text ends just before the first occurrence of the stop string.
    const std::string full = long_run.out;
    const size_t at = full.find("LORD");
    ASSERT_NE(at, std::string::npos) << full;
    const auto stopped = run(complete("--temp 0 -n 40 --stop LORD -p 'In the beginning'"));
    EXPECT_EQ(stopped.out, full.substr(0, at));
    // --echo prints the prompt first.
    const auto echo = run(complete("--temp 0 -n 5 --echo -p 'In the beginning'"));
    EXPECT_EQ(echo.out, "In the beginning" + short_run.out);
    // Without -q: a load summary and a timings line on stderr, nothing else on stdout.
    const auto verbose =
            run(mistral() + " complete -m " + model() + " --temp 0 -n 5 -p 'In the beginning'");
    EXPECT_EQ(verbose.out, short_run.out);
    EXPECT_NE(verbose.err.find("loaded in"), std::string::npos) << verbose.err;
    EXPECT_NE(verbose.err.find("tok/s"), std::string::npos) << verbose.err;
    EXPECT_NE(verbose.err.find("generated 5 tokens"), std::string::npos) << verbose.err;
}

TEST(CompleteCli, GoesPastTheWindowWithConstantMemory) {
    // 400 tokens with a 64-token window: the rolling cache keeps working.
    const auto r = run(complete("--temp 0.8 --seed 1 -n 400 -p 'In the beginning'"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_GT(r.out.size(), 400u);
}

TEST(CompleteCli, BadInputIsOneLineOnStderr) {
    // Invalid UTF-8 prompt: exit 1, one line naming the byte offset.
    const auto bad = run(complete("-n 3"), std::string("ok \xff\xfe", 5));
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(lines(bad.err), 1u) << bad.err;
    EXPECT_NE(bad.err.find("offset 3"), std::string::npos) << bad.err;
    EXPECT_TRUE(bad.out.empty());
    // Missing and corrupt model files.
    test::TempDir dir;
    const auto missing =
            run(mistral() + " complete -m " + shell_quote((dir / "nope.mst").string()) + " -p x");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_EQ(lines(missing.err), 1u) << missing.err;
    EXPECT_NE(missing.err.find("nope.mst"), std::string::npos);
    { std::ofstream(dir / "junk.mst") << "this is not a model file at all"; }
    const auto junk =
            run(mistral() + " complete -m " + shell_quote((dir / "junk.mst").string()) + " -p x");
    EXPECT_EQ(junk.exit_code, 1);
    EXPECT_EQ(lines(junk.err), 1u) << junk.err;
    EXPECT_NE(junk.err.find("magic"), std::string::npos) << junk.err;
    // A truncated copy of the real model.
    {
        const auto bytes = test::read_bytes(test::default_model_path());
        std::ofstream out(dir / "cut.mst", std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size() / 2));
    }
    const auto cut = run(mistral() + " info " + shell_quote((dir / "cut.mst").string()));
    EXPECT_EQ(cut.exit_code, 1);
    EXPECT_EQ(lines(cut.err), 1u) << cut.err;
    EXPECT_NE(cut.err.find("truncated"), std::string::npos) << cut.err;
}

TEST(CompleteCli, UsageErrorsExitTwoNamingTheFlag) {
    struct Case {
        std::string args, flag;
    };
    const Case cases[] = {
            {"complete -m x --frobnicate", "--frobnicate"},
            {"complete -m x -n", "-n"},
            {"complete -m x -n many", "--n-predict"},
            {"complete -m x --temp -1", "--temp"},
            {"complete -m x --top-p 2", "--top-p"},
            {"complete -m x --kv-type q4_0 -p hi", "--kv-type"},
            {"complete -p hi", "-m"},
            {"chat -m x --ids", "--conversation"},
            {"nosuchcommand", "nosuchcommand"},
    };
    for (const auto& c : cases) {
        const auto r = run(mistral() + " " + c.args);
        EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
        EXPECT_EQ(lines(r.err), 1u) << c.args << ": " << r.err;
        EXPECT_NE(r.err.find(c.flag), std::string::npos) << c.args << ": " << r.err;
    }
}

TEST(CompleteCli, HelpFitsAScreen) {
    for (const std::string cmd : {"", "complete", "chat", "info", "tokenize", "logits", "bench",
                                  "perplexity", "eval", "moderate"}) {
        const auto r = run(mistral() + " " + cmd + " --help");
        EXPECT_EQ(r.exit_code, 0) << cmd;
        EXPECT_GT(lines(r.out), 2u) << cmd;
        EXPECT_LE(lines(r.out), 40u) << cmd << "\n" << r.out;
    }
}

TEST(CompleteCli, SigintPrintsPartialTextAndExits130) {
    test::TempDir dir;
    const std::string out = (dir / "out.txt").string();
    // Background job: generate "forever", interrupt after a moment.
    const std::string cmd =
            complete("--temp 0.8 --seed 5 -n 10000000 --ignore-eos -p 'In the beginning'") + " > " +
            shell_quote(out) + " & pid=$!; sleep 1.5; kill -INT $pid; wait $pid; echo $?";
    const auto r = run(cmd);
    EXPECT_EQ(r.out, "130\n") << r.err;
    EXPECT_FALSE(test::read_text(out).empty());
}

TEST(ChatCli, PipeModeAnswersEachLine) {
    const auto r = run(mistral() + " chat -m " + model() + " -q --temp 0 -n 12",
                       "Who made the earth?\n\nAnd the sea?\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Two replies separated by a blank line.
    const size_t sep = r.out.find("\n\n");
    ASSERT_NE(sep, std::string::npos) << r.out;
    EXPECT_GT(sep, 0u);
    EXPECT_GT(r.out.size(), sep + 3);
    EXPECT_EQ(r.out.find("\n\n", sep + 2), std::string::npos) << r.out;
    // The same conversation as a JSON file gives the same first reply.
    test::TempDir dir;
    { std::ofstream(dir / "c.json") << R"([{"role":"user","content":"Who made the earth?"}])"; }
    const auto one = run(mistral() + " chat -m " + model() + " -q --temp 0 -n 12 --conversation " +
                         shell_quote((dir / "c.json").string()));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(one.out, r.out.substr(0, sep) + "\n");
    // --one: all of stdin is one message.
    const auto whole = run(mistral() + " chat -m " + model() + " -q --temp 0 -n 12 --one",
                           "Who made the earth?\n");
    EXPECT_EQ(whole.out, one.out);
}

TEST(ChatCli, BadConversationFile) {
    test::TempDir dir;
    { std::ofstream(dir / "bad.json") << R"([{"role":"robot","content":"x"}])"; }
    const auto r = run(mistral() + " chat -m " + model() + " --conversation " +
                       shell_quote((dir / "bad.json").string()) + " --ids");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("robot"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mistral
