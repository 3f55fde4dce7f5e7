// `mistral logits` end to end: the built binary against the official reference logits, stdin
// ids, stdout output, and clean failures.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include <gtest/gtest.h>

#include "convert.h"
#include "test_util.h"

namespace mistral::test {
namespace {

class LogitsCli : public ::testing::Test {
protected:
    void SetUp() override {
        ref_ = fixture_path("reference/gqa-swa");
        ids_ = read_text(ref_ / "tokens.txt");
        while (!ids_.empty() && (ids_.back() == '\n' || ids_.back() == ' '))
            ids_.pop_back();
        convert::ConvertOptions o;
        o.input = ref_ / "native";
        o.output = model_ = tmp_ / "m.mst";
        convert::convert_model(o);
    }
    std::string base() const {
        return shell_quote(bin_path("mistral").string()) + " logits -m " +
               shell_quote(model_.string());
    }

    TempDir tmp_;
    std::filesystem::path ref_, model_;
    std::string ids_;
};

double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
    double err = 0, mx = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        err = std::max(err, std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])));
        mx = std::max(mx, std::abs(static_cast<double>(want[i])));
    }
    return err / mx;
}

TEST_F(LogitsCli, AllPositionsMatchTheReference) {
    const auto want = read_f32(ref_ / "logits.f32");
    for (const char* extra : {"", " --chunk 3", " --chunk 1 --threads 2", " --chunk 13"}) {
        const auto out = tmp_ / "all.f32";
        const RunResult r = run(base() + " --ids " + shell_quote(ids_) + " --all -o " +
                                shell_quote(out.string()) + extra);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const auto got = read_f32(out);
        ASSERT_EQ(got.size(), want.size()) << extra;
        EXPECT_LT(rel_err(got, want), 1e-4) << extra;
    }
}

TEST_F(LogitsCli, LastPositionFromStdinToStdout) {
    const auto want = read_f32(ref_ / "logits.f32");
    const RunResult r = run(base() + " --ids - -o -", ids_ + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(r.out.size(), 512u * 4u);
    std::vector<float> got(512);
    std::memcpy(got.data(), r.out.data(), r.out.size());
    const std::vector<float> last(want.end() - 512, want.end());
    EXPECT_LT(rel_err(got, last), 1e-4);
    // f16 cache: within its stated bound (see forward_golden_test.cpp)
    const RunResult h = run(base() + " --kv-type f16 --ids - -o -", ids_);
    ASSERT_EQ(h.exit_code, 0) << h.err;
    std::memcpy(got.data(), h.out.data(), std::min<size_t>(h.out.size(), 2048));
    EXPECT_LT(rel_err(got, last), 3e-3);
}

TEST_F(LogitsCli, BadInputFailsCleanlyLeavingNoFile) {
    const auto out = tmp_ / "x.f32";
    const std::string o = " -o " + shell_quote(out.string());
    struct Case {
        std::string args;
        int code;
    } cases[] = {
            {" --ids '1 2 512'" + o, 1},  // id outside the vocabulary
            {" --ids '1 two'" + o, 2},    // not a number
            {" --ids ''" + o, 2},         // nothing
            {" --ids 1 --kv-type q4_0" + o, 2},
            {" --ids 1 --chunk 0" + o, 2},
            {" --ids 1", 2},  // no output
    };
    for (const auto& c : cases) {
        const RunResult r = run(base() + c.args);
        EXPECT_EQ(r.exit_code, c.code) << c.args << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
        EXPECT_FALSE(std::filesystem::exists(out)) << c.args;
    }
    // A cache smaller than the window cannot roll: running out is a clear message, exit 1.
    const RunResult r = run(base() + " --ctx 4 --ids '1 2 3 4 5'" + o);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("context full"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace mistral::test
