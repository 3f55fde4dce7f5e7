// UTF-8 helpers against hand-checked RFC 3629 cases.
#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/utf8.h>

namespace mistral {
namespace {

TEST(Utf8, Decode) {
    EXPECT_EQ(utf8_decode("A").cp, U'A');
    const Utf8Char euro = utf8_decode("\xE2\x82\xAC!");
    EXPECT_TRUE(euro.valid);
    EXPECT_EQ(euro.cp, 0x20ACu);
    EXPECT_EQ(euro.len, 3u);
    const Utf8Char max = utf8_decode("\xF4\x8F\xBF\xBF");
    EXPECT_TRUE(max.valid);
    EXPECT_EQ(max.cp, 0x10FFFFu);
    for (const char* bad : {"\x80", "\xC0\x80", "\xC1\xBF", "\xE0\x9F\xBF", "\xED\xA0\x80",
                            "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "\xE2\x82", "\xC3"}) {
        const Utf8Char c = utf8_decode(bad);
        EXPECT_FALSE(c.valid) << bad;
        EXPECT_EQ(c.len, 1u);
        EXPECT_EQ(c.cp, 0xFFFDu);
    }
}

TEST(Utf8, InvalidOffset) {
    EXPECT_EQ(utf8_invalid_offset(""), kUtf8Valid);
    EXPECT_EQ(utf8_invalid_offset("h\xC3\xA9llo \xF0\x9F\x98\x80"), kUtf8Valid);
    EXPECT_EQ(utf8_invalid_offset(std::string_view("a\0b", 3)), kUtf8Valid);
    EXPECT_EQ(utf8_invalid_offset("abc\xE2\x82"), 3u);
    EXPECT_EQ(utf8_invalid_offset("\xC3\xA9\xED\xBF\xBF"), 2u);  // surrogate U+DFFF
    try {
        require_valid_utf8("xy\xFFz", "prompt");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kInvalidUtf8);
        EXPECT_STREQ(e.what(), "prompt: invalid UTF-8 at byte offset 2");
    }
}

TEST(Utf8, IncompletePrefix) {
    EXPECT_TRUE(utf8_is_incomplete_prefix("\xE2"));
    EXPECT_TRUE(utf8_is_incomplete_prefix("\xE2\x82"));
    EXPECT_TRUE(utf8_is_incomplete_prefix("\xF0\x9F\x98"));
    EXPECT_FALSE(utf8_is_incomplete_prefix("\xE2\x82\xAC"));  // complete
    EXPECT_FALSE(utf8_is_incomplete_prefix("\xE0\x80"));      // overlong, can never complete
    EXPECT_FALSE(utf8_is_incomplete_prefix("\xED\xA0"));      // surrogate
    EXPECT_FALSE(utf8_is_incomplete_prefix("\xE2\x41"));
    EXPECT_FALSE(utf8_is_incomplete_prefix("\x80"));
    EXPECT_FALSE(utf8_is_incomplete_prefix("A"));
}

TEST(Utf8, AppendAndReplace) {
    std::string s;
    for (char32_t cp : {U'A', char32_t{0xE9}, char32_t{0x20AC}, char32_t{0x1F600}})
        utf8_append(s, cp);
    EXPECT_EQ(s, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    std::string r;
    utf8_append_replacing(r, "a\xE2\x82z\xF0\x9F\x98\x80\xC0");
    EXPECT_EQ(r, "a\xEF\xBF\xBD\xEF\xBF\xBDz\xF0\x9F\x98\x80\xEF\xBF\xBD");
}

}  // namespace
}  // namespace mistral
