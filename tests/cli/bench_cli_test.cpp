// `mistral bench` driven as a user (or a llama-bench script) would: its JSON shape, the depth
// and attention options, and its usage errors, on the shipped default model (W = 64).
#include <gtest/gtest.h>
#include <mistral/json.h>

#include "test_util.h"

namespace mistral {
namespace {

using test::run;
using test::shell_quote;

std::string bench(const std::string& extra) {
    const std::string model = test::default_model_path().string();
    return shell_quote(test::bin_path("mistral").string()) + " bench -m " + shell_quote(model) +
           " -q -t 2 " + extra;
}

const Json& test_named(const Json& arr, const std::string& name) {
    for (const Json& o : arr.as_array()) {
        if (o.at("test").as_string() == name)
            return o;
    }
    throw std::runtime_error("no test " + name);
}

TEST(BenchCli, JsonIsShapedLikeLlamaBench) {
    const auto r = run(bench("-p 8 -n 4 -r 2 --json"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json arr = Json::parse(r.out);
    ASSERT_EQ(arr.size(), 2u);
    const Json& pp = test_named(arr, "pp8");
    const Json& tg = test_named(arr, "tg4");
    EXPECT_EQ(pp.at("n_prompt").as_int(), 8);
    EXPECT_EQ(pp.at("n_gen").as_int(), 0);
    EXPECT_EQ(tg.at("n_prompt").as_int(), 0);
    EXPECT_EQ(tg.at("n_gen").as_int(), 4);
    for (const Json* o : {&pp, &tg}) {
        EXPECT_EQ(o->at("n_threads").as_int(), 2);
        EXPECT_EQ(o->at("n_depth").as_int(), 0);
        EXPECT_GT(o->at("model_size").as_int(), 4000000);
        EXPECT_GT(o->at("avg_ts").as_double(), 0.0);
        EXPECT_GE(o->at("stddev_ts").as_double(), 0.0);
        EXPECT_EQ(o->at("samples_ts").size(), 2u);
    }
}

// --depth-fill random reaches depth D without running D tokens; beyond the window both fills
// attend to W keys per token, so the bytes per token they report are the same, and full
// attention reports the D + k keys it reads.
TEST(BenchCli, DepthFillsAndFullAttention) {
    const auto a = run(bench("-p 0 -n 4 -r 1 --depth 200 --json"));
    const auto b = run(bench("-p 0 -n 4 -r 1 --depth 200 --depth-fill random --json"));
    const auto c =
            run(bench("-p 0 -n 4 -r 1 --depth 200 --depth-fill random --attention full "
                      "--json"));
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(b.exit_code, 0) << b.err;
    ASSERT_EQ(c.exit_code, 0) << c.err;
    const Json ja = Json::parse(a.out), jb = Json::parse(b.out), jc = Json::parse(c.out);
    const Json& ta = test_named(ja, "tg4");
    const Json& tb = test_named(jb, "tg4");
    const Json& tc = test_named(jc, "tg4");
    EXPECT_EQ(ta.at("n_depth").as_int(), 200);
    EXPECT_EQ(tb.at("n_depth").as_int(), 200);
    EXPECT_EQ(ta.at("bytes_per_token").as_double(), tb.at("bytes_per_token").as_double());
    // kjv-tiny: 4 layers x kv_dim 64 x (k + v) x 4 bytes = 2 KiB per attended key
    const double per_key = 4 * 64 * 2 * 4;
    EXPECT_DOUBLE_EQ(tc.at("bytes_per_token").as_double() - tb.at("bytes_per_token").as_double(),
                     per_key * ((200 + 2.5) - 64));
}

// --membw: the machine's read bandwidth and the read rate of the weights tg streams, in both
// outputs (the table line names the tg ceiling they imply), and a read of the weights next to
// each tg repetition with the fraction of it each repetition reached.
TEST(BenchCli, MembwReportsMachineAndWeightsReadRates) {
    const auto j = run(bench("-p 0 -n 2 -r 3 --membw --json"));
    ASSERT_EQ(j.exit_code, 0) << j.err;
    const Json arr = Json::parse(j.out);
    const Json& tg = test_named(arr, "tg2");
    EXPECT_GT(tg.at("read_bandwidth_gbps").as_double(), 0.0);
    EXPECT_GT(tg.at("weights_read_gbps").as_double(), 0.0);
    const Json::Array& reads = tg.at("bracket_read_gbps").as_array();
    const Json::Array& ts = tg.at("samples_ts").as_array();
    ASSERT_EQ(reads.size(), 3u);
    ASSERT_EQ(ts.size(), 3u);
    double mean = 0;
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_GT(reads[i].as_double(), 0.0);
        mean += tg.at("bytes_per_token").as_double() * ts[i].as_double() / 1e9 /
                reads[i].as_double() / 3;
    }
    EXPECT_NEAR(tg.at("tg_vs_bracket_read").as_double(), mean, 1e-9 * mean);
    const auto t = run(bench("-p 0 -n 2 -r 1 --membw"));
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("of the measured read bandwidth"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("tg ceiling: reading the weights alone runs at"), std::string::npos)
            << t.out;
    EXPECT_NE(t.out.find("tg next to its reads:"), std::string::npos) << t.out;
    // Without --membw nothing is read besides the run.
    const auto plain = run(bench("-p 0 -n 2 -r 1 --json"));
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_EQ(test_named(Json::parse(plain.out), "tg2").find("bracket_read_gbps"), nullptr);
}

TEST(BenchCli, BadOptionsAreUsageErrors) {
    for (const std::string bad : {"--depth-fill zeros", "--attention sparse", "-p -1", "-r 0"}) {
        const auto r = run(bench(bad));
        EXPECT_EQ(r.exit_code, 2) << bad;
        EXPECT_TRUE(r.out.empty()) << bad;
        EXPECT_NE(r.err.find("mistral"), std::string::npos) << bad << ": " << r.err;
    }
}

}  // namespace
}  // namespace mistral
