// GGUF container parser: valid synthetic files and one test per kind of bad input.
#include "gguf_reader.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>
#include <mistral/error.h>

#include "gguf_builder.h"
#include "test_util.h"

namespace mistral::convert {
namespace {

using test::error_of;

using test::GgufBuilder;

// A valid file: every scalar type, a string, arrays (numeric, string, nested), and two tensors.
std::vector<std::byte> valid_file() {
    GgufBuilder b;
    b.header(3, 2, 16);
    b.str("k.u8"), b.u32(0), b.u8(200);
    b.str("k.i8"), b.u32(1), b.u8(0xfe);  // -2
    b.str("k.u16"), b.u32(2), b.raw("\x34\x12", 2);
    b.str("k.i16"), b.u32(3), b.raw("\xff\xff", 2);  // -1
    b.kv_u32("k.u32", 4000000000u);
    b.str("k.i32"), b.u32(5), b.i32(-7);
    b.kv_f32("k.f32", 0.25f);
    b.kv_bool("k.bool", true);
    b.kv_string("k.str", "h\xC3\xA9llo");
    b.str("k.u64"), b.u32(10), b.u64(uint64_t{1} << 40);
    b.str("k.i64"), b.u32(11), b.u64(static_cast<uint64_t>(int64_t{-5}));
    b.str("k.f64"), b.u32(12);
    const double d = -1.5;
    b.raw(&d, 8);
    b.kv_f32s("k.floats", {1.0f, 2.0f, 3.0f});
    b.kv_strings("k.strings", {"a", "", "ccc"});
    // An array of two arrays of u8: [[1, 2], [3]].
    b.str("k.nested"), b.u32(9), b.u32(9), b.u64(2);
    b.u32(0), b.u64(2), b.u8(1), b.u8(2);
    b.u32(0), b.u64(1), b.u8(3);
    b.str("general.alignment"), b.u32(4), b.u32(64);
    b.tensor("vec", {4}, 0, 0);       // f32 [4]: 16 bytes at 0
    b.tensor("mat", {32, 2}, 8, 64);  // q8_0 [2, 32]: 68 bytes at 64
    b.pad_to(64);
    for (int i = 0; i < 4; ++i)
        b.f32(static_cast<float>(i) + 0.5f);
    b.zeros(48);
    b.zeros(68);
    return b.out;
}

TEST(GgufReader, ParsesEveryValueTypeAndTensorInfo) {
    const auto bytes = valid_file();
    const GgufFile f = parse_gguf(bytes);
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.alignment, 64u);
    EXPECT_EQ(f.data_offset % 64, 0u);
    EXPECT_EQ(f.get_int("k.u8"), 200);
    EXPECT_EQ(f.get_int("k.i8"), -2);
    EXPECT_EQ(f.get_int("k.u16"), 0x1234);
    EXPECT_EQ(f.get_int("k.i16"), -1);
    EXPECT_EQ(f.get_int("k.u32"), 4000000000LL);
    EXPECT_EQ(f.get_int("k.i32"), -7);
    EXPECT_EQ(f.get_float("k.f32"), 0.25);
    EXPECT_EQ(f.get_bool("k.bool"), true);
    EXPECT_EQ(f.get_string("k.str"), "h\xC3\xA9llo");
    EXPECT_EQ(f.get_int("k.u64"), int64_t{1} << 40);
    EXPECT_EQ(f.get_int("k.i64"), -5);
    EXPECT_EQ(f.get_float("k.f64"), -1.5);
    EXPECT_FALSE(f.get_int("absent").has_value());

    const GgufValue* floats = f.find("k.floats");
    ASSERT_NE(floats, nullptr);
    EXPECT_EQ(floats->elem, GgufType::kF32);
    ASSERT_EQ(floats->count, 3u);
    float third;
    std::memcpy(&third, floats->raw.data() + 8, 4);
    EXPECT_EQ(third, 3.0f);
    EXPECT_EQ(f.find("k.strings")->strings, (std::vector<std::string>{"a", "", "ccc"}));
    const GgufValue* nested = f.find("k.nested");
    ASSERT_EQ(nested->items.size(), 2u);
    EXPECT_EQ(nested->items[0].count, 2u);
    EXPECT_EQ(static_cast<uint8_t>(nested->items[0].raw[1]), 2);
    EXPECT_EQ(static_cast<uint8_t>(nested->items[1].raw[0]), 3);

    ASSERT_EQ(f.tensors.size(), 2u);
    const GgufTensorInfo* vec = f.find_tensor("vec");
    ASSERT_NE(vec, nullptr);
    EXPECT_EQ(vec->n_bytes, 16u);
    float v2;
    std::memcpy(&v2, vec->data.data() + 8, 4);
    EXPECT_EQ(v2, 2.5f);
    const GgufTensorInfo* mat = f.find_tensor("mat");
    EXPECT_EQ(mat->dims, (std::vector<uint64_t>{32, 2}));
    EXPECT_EQ(mat->n_elements, 64u);
    EXPECT_EQ(mat->n_bytes, 68u);
    EXPECT_EQ(mat->data.data(), bytes.data() + f.data_offset + 64);
}

TEST(GgufReader, TypedGettersRefuseOtherTypes) {
    const auto bytes = valid_file();
    const GgufFile f = parse_gguf(bytes);
    EXPECT_EQ(error_of([&] { (void)f.get_int("k.str"); }), Errc::kBadValue);
    EXPECT_EQ(error_of([&] { (void)f.get_string("k.u32"); }), Errc::kBadValue);
    EXPECT_EQ(error_of([&] { (void)f.get_float("k.u32"); }), Errc::kBadValue);
    EXPECT_EQ(error_of([&] { (void)f.get_bool("k.u8"); }), Errc::kBadValue);
}

TEST(GgufReader, VersionTwoAndNoTensors) {
    GgufBuilder b;
    b.header(2, 0, 1);
    b.kv_string("general.architecture", "llama");
    const GgufFile f = parse_gguf(b.out);  // ends before the padded data section: fine
    EXPECT_EQ(f.version, 2u);
    EXPECT_TRUE(f.tensors.empty());
}

TEST(GgufReader, WrongMagic) {
    auto bytes = valid_file();
    bytes[0] = std::byte{'g'};
    EXPECT_EQ(error_of([&] { parse_gguf(bytes); }), Errc::kBadMagic);
    EXPECT_EQ(error_of([&] { parse_gguf(std::span<const std::byte>(bytes.data(), 2)); }),
              Errc::kBadMagic);
}

TEST(GgufReader, VersionOneAndFour) {
    auto bytes = valid_file();
    bytes[4] = std::byte{1};
    EXPECT_EQ(error_of([&] { parse_gguf(bytes); }), Errc::kUnsupported);
    bytes[4] = std::byte{4};
    EXPECT_EQ(error_of([&] { parse_gguf(bytes); }), Errc::kNewerVersion);
    bytes[4] = std::byte{0};
    EXPECT_EQ(error_of([&] { parse_gguf(bytes); }), Errc::kBadValue);
    bytes[7] = std::byte{3};  // big-endian version 3
    EXPECT_EQ(error_of([&] { parse_gguf(bytes); }), Errc::kUnsupported);
}

TEST(GgufReader, EveryTruncationIsAnError) {
    const auto bytes = valid_file();
    for (size_t n = 0; n < bytes.size(); ++n) {
        const auto code =
                error_of([&] { parse_gguf(std::span<const std::byte>(bytes.data(), n)); });
        EXPECT_TRUE(code == Errc::kTruncated || code == Errc::kOutOfBounds ||
                    code == Errc::kBadMagic)
                << "at length " << n << ": " << errc_name(code);
    }
}

// Seeded byte flips of the synthetic file: success or a clean Error, never a crash.
TEST(GgufReader, RandomByteFlips) {
    const auto original = valid_file();
    test::Rng rng(7);
    int ok = 0;
    for (int it = 0; it < 3000; ++it) {
        auto bytes = original;
        const int flips = 1 + static_cast<int>(rng.next() % 4);
        for (int k = 0; k < flips; ++k) {
            bytes[rng.next() % bytes.size()] = static_cast<std::byte>(rng.next() & 0xff);
        }
        try {
            const GgufFile f = parse_gguf(bytes);
            for (const auto& t : f.tensors) {
                ASSERT_GE(t.data.data(), bytes.data());
                ASSERT_LE(t.data.data() + t.data.size(), bytes.data() + bytes.size());
            }
            ++ok;
        } catch (const Error&) {
        }
    }
    EXPECT_GT(ok, 0);
    EXPECT_LT(ok, 3000);
}

TEST(GgufReader, AbsurdCounts) {
    {
        GgufBuilder b;
        b.header(3, uint64_t{1} << 60, 0);
        EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kTruncated);
    }
    {
        GgufBuilder b;
        b.header(3, 0, uint64_t{1} << 60);
        EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kTruncated);
    }
    {  // a string claiming 2^62 bytes
        GgufBuilder b;
        b.header(3, 0, 1);
        b.str("key"), b.u32(8), b.u64(uint64_t{1} << 62), b.raw("abc", 3);
        EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kTruncated);
    }
    {  // a key claiming 2^64-1 bytes
        GgufBuilder b;
        b.header(3, 0, 1);
        b.u64(std::numeric_limits<uint64_t>::max());
        b.zeros(16);
        EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kTruncated);
    }
    {  // an array of 2^62 strings and one of 2^61 u64
        for (uint32_t elem : {8u, 10u, 9u}) {
            GgufBuilder b;
            b.header(3, 0, 1);
            b.str("arr"), b.u32(9), b.u32(elem), b.u64(uint64_t{1} << 61);
            b.zeros(64);
            EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kTruncated) << elem;
        }
    }
    {  // a dimension so large the byte count would overflow
        GgufBuilder b;
        b.header(3, 1, 0);
        b.tensor("t", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0);
        b.pad_to(32);
        b.zeros(32);
        EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kBadValue);
    }
}

GgufBuilder one_tensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset,
                       size_t data_bytes) {
    GgufBuilder b;
    b.header(3, 1, 0);
    b.tensor("t", dims, type, offset);
    b.pad_to(32);
    b.zeros(data_bytes);
    return b;
}

TEST(GgufReader, TensorDataOutOfBounds) {
    EXPECT_NO_THROW(parse_gguf(one_tensor({8}, 0, 0, 32).out));
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({8}, 0, 32, 32).out); }), Errc::kOutOfBounds);
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({16}, 0, 0, 32).out); }), Errc::kOutOfBounds);
    // offset + size wraps around 2^64
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({8}, 0, ~uint64_t{31}, 32).out); }),
              Errc::kOutOfBounds);
}

TEST(GgufReader, MisalignedTensorData) {
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({4}, 0, 4, 64).out); }), Errc::kBadValue);
}

TEST(GgufReader, BadAlignmentValue) {
    GgufBuilder b;
    b.header(3, 0, 1);
    b.kv_u32("general.alignment", 24);
    EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kBadValue);
}

TEST(GgufReader, UnknownTypes) {
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({32}, 99, 0, 64).out); }),
              Errc::kUnsupportedType);
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({32}, 4, 0, 64).out); }),
              Errc::kUnsupportedType);  // removed q4_2
    GgufBuilder b;
    b.header(3, 0, 1);
    b.str("k"), b.u32(13), b.u32(0);
    EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kUnsupportedType);
}

TEST(GgufReader, BadDimensions) {
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({}, 0, 0, 64).out); }), Errc::kBadValue);
    EXPECT_EQ(error_of([&] {
                  parse_gguf(one_tensor({1, 1, 1, 1, 1}, 0, 0, 64).out);
              }),
              Errc::kBadValue);
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({4, 0}, 0, 0, 64).out); }), Errc::kBadValue);
    // a q8_0 row of 48 values is not whole blocks
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({48}, 8, 0, 128).out); }), Errc::kBadValue);
    // a K-quant needs rows of 256
    EXPECT_EQ(error_of([&] { parse_gguf(one_tensor({128}, 12, 0, 256).out); }), Errc::kBadValue);
}

TEST(GgufReader, DuplicateKeysAndNames) {
    GgufBuilder b;
    b.header(3, 0, 2);
    b.kv_u32("a", 1);
    b.kv_u32("a", 2);
    EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kBadValue);
    GgufBuilder t;
    t.header(3, 2, 0);
    t.tensor("x", {8}, 0, 0);
    t.tensor("x", {8}, 0, 32);
    t.pad_to(32);
    t.zeros(64);
    EXPECT_EQ(error_of([&] { parse_gguf(t.out); }), Errc::kBadValue);
}

TEST(GgufReader, BadBoolAndDeepNesting) {
    GgufBuilder b;
    b.header(3, 0, 1);
    b.str("k"), b.u32(7), b.u8(2);
    EXPECT_EQ(error_of([&] { parse_gguf(b.out); }), Errc::kBadValue);

    GgufBuilder n;
    n.header(3, 0, 1);
    n.str("deep"), n.u32(9);
    for (int i = 0; i < 20; ++i)
        n.u32(9), n.u64(1);
    n.u32(0), n.u64(0);
    EXPECT_EQ(error_of([&] { parse_gguf(n.out); }), Errc::kBadValue);
}

TEST(GgufReader, TypeTable) {
    ASSERT_NE(ggml_type_info(kGgmlQ6_K), nullptr);
    EXPECT_EQ(ggml_type_info(kGgmlQ6_K)->block_bytes, 210u);
    EXPECT_EQ(ggml_type_info(kGgmlQ4_K)->block_bytes, 144u);
    EXPECT_EQ(ggml_type_info(kGgmlQ5_K)->block_bytes, 176u);
    EXPECT_EQ(ggml_type_info(kGgmlQ8_0)->block_bytes, 34u);
    EXPECT_EQ(ggml_type_info(kGgmlBF16)->block_bytes, 2u);
    EXPECT_EQ(ggml_type_name(10), "q2_K");
    EXPECT_EQ(ggml_type_name(4), "type 4");
    EXPECT_EQ(ggml_type_info(1000), nullptr);
}

}  // namespace
}  // namespace mistral::convert
