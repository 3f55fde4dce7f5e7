// The Mistral-native source on bad input: fixture folders copied and damaged in place (the
// torch.save archive patched byte for byte, keeping every length, so only the targeted
// check can fire), plus a seeded fuzz over the real archive's zip + pickle layers.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/json.h>

#include "pickle.h"
#include "source.h"
#include "test_util.h"
#include "zip_reader.h"

namespace mistral::convert {
namespace {

namespace fs = std::filesystem;
using test::copy_fixture;
using test::error_of;
using test::write_file;
using namespace std::string_literals;

void write_text(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// Replaces the first occurrence of `from` in the folder's .pth with `to` (same length).
void patch_pth(const test::TempDir& d, const std::string& from, const std::string& to) {
    ASSERT_EQ(from.size(), to.size());
    auto b = test::read_bytes(d / "consolidated.00.pth");
    const auto* begin = reinterpret_cast<const char*>(b.data());
    const std::string_view hay(begin, b.size());
    const size_t at = hay.find(from);
    ASSERT_NE(at, std::string_view::npos) << "pattern not found";
    std::memcpy(b.data() + at, to.data(), to.size());
    write_file(d / "consolidated.00.pth", b);
}

void patch_params(const test::TempDir& d, const std::function<void(Json&)>& edit) {
    Json j = Json::parse(test::read_text(d / "params.json"));
    edit(j);
    write_text(d / "params.json", j.dump());
}

constexpr const char* kFixture = "reference/gqa-swa/native";

TEST(NativeSource, MissingParams) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    fs::remove(d / "params.json");
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }), Errc::kIo);
}

TEST(NativeSource, BadParams) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    write_text(d / "params.json", "{\"dim\": 64 \"n_layers\": 2}");
    std::string msg;
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }, &msg), Errc::kBadValue);
    EXPECT_TRUE(contains(msg, "params.json")) << msg;

    write_text(d / "params.json", R"({"dim": 64})");
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }, &msg), Errc::kBadValue);
    EXPECT_TRUE(contains(msg, "n_layers")) << msg;

    copy_fixture(kFixture, d);
    patch_params(d, [](Json& j) { j.set("moe", Json::parse(R"({"num_experts": 8})")); });
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }), Errc::kUnsupported);
}

TEST(NativeSource, SizesFromTensorsWhenParamsOmitThem) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    patch_params(d, [](Json& j) {
        std::erase_if(j.as_object(), [](const auto& kv) {
            return kv.first == "hidden_dim" || kv.first == "sliding_window" ||
                   kv.first == "rope_theta";
        });
        j.set("vocab_size", Json(-1));
    });
    const auto s = open_native(d.path(), {});
    EXPECT_EQ(s->config().hidden_dim, 160);  // manifest: hidden_dim 160
    EXPECT_EQ(s->config().vocab_size, 512);
    EXPECT_EQ(s->config().window, 0);
    EXPECT_EQ(s->config().rope_theta, 10000.0f);
}

TEST(NativeSource, ForbiddenGlobalInPickle) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    // "collections\nOrderedDict\n" (24 bytes) -> "os\nsystem\n" + filler never reached.
    patch_pth(d, "collections\nOrderedDict\n", "os\nsystem\n" + std::string(14, 'N'));
    std::string msg;
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }, &msg), Errc::kUnsupported);
    EXPECT_TRUE(contains(msg, "'os system' is not allowed")) << msg;

    copy_fixture(kFixture, d);
    patch_pth(d, "torch._utils\n_rebuild_tensor_v2\n", "builtins\neval\n" + std::string(18, 'N'));
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }, &msg), Errc::kUnsupported);
    EXPECT_TRUE(contains(msg, "'builtins eval' is not allowed")) << msg;
}

TEST(NativeSource, ForbiddenOpcodeInPickle) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    patch_pth(d, "\x80\x02}q"s, "\x80\x02\x93q"s);  // STACK_GLOBAL instead of EMPTY_DICT
    std::string msg;
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }, &msg), Errc::kUnsupported);
    EXPECT_TRUE(contains(msg, "pickle opcode 0x93 is not allowed")) << msg;
}

TEST(NativeSource, CompressedEntry) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    // Central directory header of data.pkl: signature, versions (2+2), flags, method = 0 -> 8.
    patch_pth(d, "PK\x01\x02\x00\x00\x00\x00\x08\x08\x00\x00"s,
              "PK\x01\x02\x00\x00\x00\x00\x08\x08\x08\x00"s);
    std::string msg;
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }, &msg), Errc::kUnsupported);
    EXPECT_TRUE(contains(msg, "compressed")) << msg;
}

TEST(NativeSource, TruncatedArchive) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    auto b = test::read_bytes(d / "consolidated.00.pth");
    b.resize(b.size() / 2);
    write_file(d / "consolidated.00.pth", b);
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }), Errc::kBadMagic);
    // Cut just before the end record: still a clean error.
    b = test::read_bytes(test::fixture_path(std::string(kFixture) + "/consolidated.00.pth"));
    ASSERT_GT(b.size(), 10u);
    // (erase, not resize: GCC 12 -Wstringop-overflow misfires on resize(size() - k) under ASan)
    b.erase(b.end() - 10, b.end());
    write_file(d / "consolidated.00.pth", b);
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }), Errc::kBadMagic);
}

TEST(NativeSource, MissingTensor) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    // The key of the final norm (BINUNICODE length 11), renamed.
    patch_pth(d, "\x0b\x00\x00\x00norm.weight"s, "\x0b\x00\x00\x00norm.weighX"s);
    std::string msg;
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }, &msg), Errc::kMissingTensor);
    EXPECT_TRUE(contains(msg, "norm.weight")) << msg;
}

TEST(NativeSource, NonContiguousTensor) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    // tok_embeddings [512, 64] with stride (64, 1) -> (1, 64): a transposed view.
    patch_pth(d, "K\x40K\x01\x86"s, "K\x01K\x40\x86"s);
    std::string msg;
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }, &msg), Errc::kUnsupported);
    EXPECT_TRUE(contains(msg, "not contiguous")) << msg;
}

TEST(NativeSource, StorageTooSmall) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    // tok_embeddings' storage offset 0 -> 1: one element past its storage's end.
    patch_pth(d, "\x51K\x00M\x00\x02"s, "\x51K\x01M\x00\x02"s);
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }), Errc::kOutOfBounds);
}

TEST(NativeSource, ModelParallelCheckpointRefused) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    write_file(d / "consolidated.01.pth", test::read_bytes(d / "consolidated.00.pth"));
    EXPECT_EQ(error_of([&] { open_native(d.path(), {}); }), Errc::kUnsupported);
}

// The fixture archive was written by torch.save, whose zip writer records each entry's CRC-32:
// ours agrees on every entry, and converting reads (and so checks) every storage.
TEST(NativeSource, TorchCrcsAgree) {
    const auto zip_bytes =
            test::read_bytes(test::fixture_path(std::string(kFixture) + "/consolidated.00.pth"));
    const ZipArchive a = ZipArchive::parse(zip_bytes);
    ASSERT_GT(a.entries().size(), 3u);
    for (const ZipEntry& e : a.entries()) {
        EXPECT_NE(e.crc32, 0u) << e.name;
        EXPECT_NO_THROW(check_crc(e, a.entry_data(e))) << e.name;
    }
    test::TempDir d;
    copy_fixture(kFixture, d);
    const auto s = open_native(d.path(), {});
    for (size_t i = 0; i < s->tensors().size(); ++i)
        EXPECT_NO_THROW(s->read(i)) << s->tensors()[i].name;
}

// One byte of tensor data changed (same length, nothing else touched): the archive still opens,
// since storages are checked when converted, and reading the damaged tensor fails with its entry
// and the file named.
TEST(NativeSource, CorruptStorageFailsItsCrc) {
    test::TempDir d;
    copy_fixture(kFixture, d);
    const fs::path pth = d / "consolidated.00.pth";
    auto b = test::read_bytes(pth);
    size_t at = 0;
    std::string entry;
    {
        const ZipArchive a = ZipArchive::parse(b);
        const ZipEntry* e = a.find("consolidated.00/data/3");
        ASSERT_NE(e, nullptr);
        const auto data = a.entry_data(*e);
        ASSERT_GT(data.size(), 8u);
        at = static_cast<size_t>(data.data() - b.data()) + data.size() / 2;
        entry = e->name;
    }
    b[at] ^= std::byte{0x01};
    write_file(pth, b);
    const auto s = open_native(d.path(), {});
    int failed = 0;
    for (size_t i = 0; i < s->tensors().size(); ++i) {
        try {
            s->read(i);
        } catch (const Error& e) {
            ++failed;
            const std::string msg = e.what();
            EXPECT_EQ(e.code(), Errc::kBadValue);
            EXPECT_TRUE(contains(msg, entry) && contains(msg, "CRC-32") &&
                        contains(msg, "consolidated.00.pth"))
                    << msg;
        }
    }
    EXPECT_EQ(failed, 1);
}

TEST(NativeSource, FuzzArchiveNeverCrashes) {
    const auto base =
            test::read_bytes(test::fixture_path(std::string(kFixture) + "/consolidated.00.pth"));
    // Mutations go to the pickle (the archive's first 2 KB) and the central directory (the
    // tail), where the parsers look; the storages in between are opaque bytes.
    const size_t head = 2048, tail = 2048;
    test::Rng rng(11);
    int parsed = 0;
    for (int it = 0; it < 300; ++it) {
        std::vector<std::byte> z = base;
        const int flips = 1 + static_cast<int>(rng.next() % 3);
        for (int f = 0; f < flips; ++f) {
            const size_t at = rng.next() % 2 ? rng.next() % head : z.size() - 1 - rng.next() % tail;
            z[at] = static_cast<std::byte>(rng.next());
        }
        if (rng.next() % 4 == 0)
            z.resize(z.size() - rng.next() % tail);
        try {
            const ZipArchive a = ZipArchive::parse(z);
            for (const auto& e : a.entries()) {
                if (e.name.ends_with("data.pkl")) {
                    const auto pkl = a.entry_data(e);
                    parse_torch_pickle(pkl);
                    ++parsed;
                }
            }
        } catch (const Error&) {
        }
    }
    EXPECT_GT(parsed, 0);
}

TEST(NativeSource, FuzzPickleNeverCrashes) {
    const auto zip_bytes =
            test::read_bytes(test::fixture_path(std::string(kFixture) + "/consolidated.00.pth"));
    const ZipArchive a = ZipArchive::parse(zip_bytes);
    const ZipEntry* e = a.find("consolidated.00/data.pkl");
    ASSERT_NE(e, nullptr);
    const auto pkl = a.entry_data(*e);
    const std::vector<std::byte> base(pkl.begin(), pkl.end());
    EXPECT_EQ(parse_torch_pickle(base).size(), 21u);  // embeddings + 2 layers x 9 + norm + output
    test::Rng rng(5);
    for (int it = 0; it < 500; ++it) {
        std::vector<std::byte> p = base;
        const int flips = 1 + static_cast<int>(rng.next() % 3);
        for (int f = 0; f < flips; ++f)
            p[rng.next() % p.size()] = static_cast<std::byte>(rng.next());
        if (rng.next() % 3 == 0)
            p.resize(rng.next() % p.size());
        try {
            parse_torch_pickle(p);
        } catch (const Error&) {
        }
    }
}

}  // namespace
}  // namespace mistral::convert
