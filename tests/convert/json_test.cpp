// JSON parser/serializer: expected values come from RFC 8259 and the Unicode encoding rules
// (hand-computed UTF-8 bytes), not from our own output.
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/json.h>

namespace mistral {
namespace {

Errc parse_error(std::string_view text, size_t depth = 128) {
    try {
        Json::parse(text, depth);
    } catch (const Error& e) {
        return e.code();
    }
    ADD_FAILURE() << "parsed without error: " << text;
    return Errc::kIo;
}

TEST(Json, ParsesScalarsAndContainers) {
    const Json j =
            Json::parse(R"( {"a": 1, "b": [true, false, null], "c": "x", "d": -2.5e3, "e": {}} )");
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.size(), 5u);
    EXPECT_EQ(j.at("a").as_int(), 1);
    EXPECT_TRUE(j.at("b").as_array()[0].as_bool());
    EXPECT_FALSE(j.at("b").as_array()[1].as_bool());
    EXPECT_TRUE(j.at("b").as_array()[2].is_null());
    EXPECT_EQ(j.at("c").as_string(), "x");
    EXPECT_EQ(j.at("d").as_double(), -2500.0);
    EXPECT_TRUE(j.at("e").is_object());
    EXPECT_EQ(j.find("zz"), nullptr);
    // Insertion order is kept.
    EXPECT_EQ(j.as_object()[3].first, "d");
}

TEST(Json, IntegersAreExact) {
    // 2^63 - 1 and 2^53 + 1 are not representable as doubles; the int64 must be exact.
    const Json j = Json::parse(
            "[9223372036854775807, -9223372036854775808, 9007199254740993, 1e3, 1.5, 4096.0]");
    const auto& a = j.as_array();
    EXPECT_EQ(a[0].as_int(), INT64_MAX);
    EXPECT_EQ(a[1].as_int(), INT64_MIN);
    EXPECT_EQ(a[2].as_int(), 9007199254740993LL);
    EXPECT_TRUE(a[3].is_int());
    EXPECT_EQ(a[3].as_int(), 1000);
    EXPECT_FALSE(a[4].is_int());
    EXPECT_THROW(a[4].as_int(), Error);
    EXPECT_EQ(a[5].as_int(), 4096);
    // Beyond int64: a double only.
    const Json big = Json::parse("18446744073709551616");
    EXPECT_EQ(big.as_double(), 18446744073709551616.0);
}

TEST(Json, StringEscapes) {
    const Json j =
            Json::parse(R"(["\"\\\/\b\f\n\r\t", "\u0041\u00e9\u20ac", "\ud83d\ude00", "日本"])");
    const auto& a = j.as_array();
    EXPECT_EQ(a[0].as_string(), "\"\\/\b\f\n\r\t");
    EXPECT_EQ(a[1].as_string(), "A\xC3\xA9\xE2\x82\xAC");     // A é €
    EXPECT_EQ(a[2].as_string(), "\xF0\x9F\x98\x80");          // U+1F600 from a surrogate pair
    EXPECT_EQ(a[3].as_string(), "\xE6\x97\xA5\xE6\x9C\xAC");  // raw UTF-8 passes through
    EXPECT_EQ(Json::parse(R"("\u0000")").as_string(), std::string(1, '\0'));
}

TEST(Json, RejectsMalformedInput) {
    const char* bad[] = {
            "",
            "   ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "[1 2]",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "'a'",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12G4\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"a\tb\"",
            "[1] [2]",
            "{1: 2}",
            "{\"a\" 1}",
            "1e999",
            "// c\n1",
            "{\"a\":1,\"a\":2}",
            "\"\xC3\"",
            "\"\xED\xA0\x80\"",
            "\xEF\xBB\xBF{}",
    };
    for (const char* s : bad) {
        EXPECT_EQ(parse_error(s), Errc::kBadValue) << "input: " << s;
    }
}

TEST(Json, ErrorNamesOffset) {
    try {
        Json::parse("[1, 2, x]");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("byte offset 7"), std::string::npos) << e.what();
    }
}

TEST(Json, DepthLimit) {
    const std::string deep = std::string(200, '[') + std::string(200, ']');
    EXPECT_EQ(parse_error(deep, 128), Errc::kBadValue);
    EXPECT_NO_THROW(Json::parse(deep, 200));
    // Very deep input must not overflow the C++ stack either.
    const std::string huge(1 << 20, '[');
    EXPECT_EQ(parse_error(huge), Errc::kBadValue);
}

TEST(Json, TypeMismatchThrows) {
    const Json j = Json::parse(R"({"a": "1"})");
    EXPECT_THROW(j.at("a").as_int(), Error);
    EXPECT_THROW(j.at("b"), Error);
    EXPECT_THROW(j.as_array(), Error);
    try {
        j.at("a").as_double();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kBadValue);
    }
}

TEST(Json, QuoteEscapes) {
    EXPECT_EQ(json_quote("a\"b\\c\n\t\x01\x1f/\xC3\xA9"),
              "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\xC3\xA9\"");
    EXPECT_EQ(json_quote(""), "\"\"");
    try {
        json_quote("\xFF");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kInvalidUtf8);
    }
}

TEST(Json, DumpCompactAndPretty) {
    Json o = Json::object();
    o.set("role", "user");
    o.set("n", int64_t{-3});
    o.set("x", 0.1);
    o.set("list", Json::array());
    o.at("list");  // exists
    Json arr = Json::array();
    arr.push_back(true);
    arr.push_back(nullptr);
    o.set("list", arr);
    EXPECT_EQ(o.dump(), R"({"role":"user","n":-3,"x":0.1,"list":[true,null]})");
    EXPECT_EQ(o.dump(2),
              "{\n  \"role\": \"user\",\n  \"n\": -3,\n  \"x\": 0.1,\n  \"list\": [\n    true,\n"
              "    null\n  ]\n}");
    EXPECT_EQ(Json::object().dump(2), "{}");
    EXPECT_THROW(Json(std::nan("")).dump(), Error);
    EXPECT_THROW(Json(INFINITY).dump(), Error);
}

TEST(Json, RoundTripPreservesValues) {
    const std::string text =
            R"({"s":"\u00e9\n\"","d":3.141592653589793,"i":-9223372036854775808,"e":1e-300,"a":[[],{}]})";
    const Json j = Json::parse(text);
    const Json k = Json::parse(j.dump());
    EXPECT_EQ(k.at("s").as_string(), "\xC3\xA9\n\"");
    EXPECT_EQ(k.at("d").as_double(), 3.141592653589793);
    EXPECT_EQ(k.at("i").as_int(), INT64_MIN);
    EXPECT_EQ(k.at("e").as_double(), 1e-300);
    EXPECT_EQ(k.dump(), j.dump());
}

}  // namespace
}  // namespace mistral
