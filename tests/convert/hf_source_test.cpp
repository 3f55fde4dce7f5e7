// The safetensors parser and the Hugging Face source on bad input: hand-built safetensors
// headers (layout from the safetensors specification) and fixture folders copied and damaged.
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/json.h>

#include "safetensors.h"
#include "source.h"
#include "test_util.h"

namespace mistral::convert {
namespace {

namespace fs = std::filesystem;
using test::copy_fixture;
using test::error_of;
using test::write_file;

std::vector<std::byte> to_bytes(const std::string& s) {
    std::vector<std::byte> b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    return b;
}

// u64 header length + header + data.
std::vector<std::byte> st_file(const std::string& header, size_t data_bytes) {
    const uint64_t n = header.size();
    std::string s(reinterpret_cast<const char*>(&n), 8);
    s += header;
    s += std::string(data_bytes, '\x01');
    return to_bytes(s);
}

// u64 header length + header + the given data section.
std::vector<std::byte> st_image(const std::string& header, const std::vector<std::byte>& data) {
    auto out = st_file(header, 0);
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

void write_text(const fs::path& p, const std::string& s) {
    write_file(p, to_bytes(s));
}

// A writable copy of a fixture folder.
bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

TEST(Safetensors, ParsesEntries) {
    const auto f = st_file(
            R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2,3],"data_offsets":[16,28]},)"
            R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"s":{"dtype":"I8","shape":[],"data_offsets":[28,29]}})",
            29);
    const SafetensorsFile st = parse_safetensors(f);
    ASSERT_EQ(st.tensors.size(), 3u);
    EXPECT_EQ(st.metadata.at("format"), "pt");
    const auto* b = st.find("b");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->dtype, "BF16");
    EXPECT_EQ(b->shape, (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(b->data.data(), f.data() + st.data_start + 16);
    EXPECT_EQ(b->data.size(), 12u);
    EXPECT_TRUE(st.find("s")->shape.empty());
}

TEST(Safetensors, RejectsBadHeaders) {
    struct Case {
        std::vector<std::byte> file;
        Errc code;
    };
    const std::vector<Case> cases = {
            {to_bytes("\x05\x00\x00"), Errc::kTruncated},  // length cut short
            {st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 15),
             Errc::kOutOfBounds},
            {st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,4]}})", 16),
             Errc::kOutOfBounds},
            {st_file(R"({"a":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}})", 16),
             Errc::kBadValue},
            {st_file(R"({"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}})", 16),
             Errc::kUnsupportedType},
            {st_file(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16),
             Errc::kBadValue},
            {st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", 16),
             Errc::kBadValue},
            {st_file(R"({"a":{"dtype":"F32","data_offsets":[0,16]}})", 16), Errc::kBadValue},
            {st_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})",
                     16),
             Errc::kBadValue},
            {st_file(R"([1,2])", 0), Errc::kBadValue},
            {st_file(R"({"a":{"dtype":"F32",)", 0), Errc::kBadValue},
            {st_file(R"({"__metadata__":{"x":1}})", 0), Errc::kBadValue},
    };
    for (size_t k = 0; k < cases.size(); ++k) {
        EXPECT_EQ(error_of([&] { parse_safetensors(cases[k].file); }), cases[k].code)
                << "case " << k;
    }
    // A header length larger than the file, and one beyond the 100 MB cap.
    auto f = st_file("{}", 0);
    const uint64_t big = 1000;
    std::memcpy(f.data(), &big, 8);
    EXPECT_EQ(error_of([&] { parse_safetensors(f); }), Errc::kTruncated);
    const uint64_t huge = uint64_t{1} << 60;
    std::memcpy(f.data(), &huge, 8);
    EXPECT_EQ(error_of([&] { parse_safetensors(f); }), Errc::kBadValue);
}

TEST(Safetensors, FuzzNeverCrashes) {
    const auto full =
            test::read_bytes(test::fixture_path("reference/gqa-swa/hf-bf16/model.safetensors"));
    uint64_t hlen;
    std::memcpy(&hlen, full.data(), 8);
    const std::vector<std::byte>& base = full;  // 300 KB: cheap enough to copy 400 times
    test::Rng rng(7);
    int ok = 0;
    for (int it = 0; it < 400; ++it) {
        std::vector<std::byte> f = base;
        const int flips = static_cast<int>(rng.next() % 4);
        for (int k = 0; k < flips; ++k) {
            // Aim most flips at the length and the JSON header.
            const size_t at = rng.next() % 2 ? rng.next() % (8 + hlen) : rng.next() % f.size();
            f[at] = static_cast<std::byte>(rng.next());
        }
        if (rng.next() % 3 == 0)
            f.resize(rng.next() % f.size());
        try {
            const SafetensorsFile st = parse_safetensors(f);
            for (const auto& t : st.tensors) {
                ASSERT_GE(t.data.data(), f.data());
                ASSERT_LE(t.data.data() + t.data.size(), f.data() + f.size());
            }
            ++ok;
        } catch (const Error&) {
        }
    }
    EXPECT_GT(ok, 0);  // some mutations must still parse, or the fuzzer only tests the first check
}

TEST(HfSource, MissingConfig) {
    test::TempDir d;
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }), Errc::kIo);
    // open_source cannot tell what an empty folder is.
    EXPECT_EQ(error_of([&] { open_source(d.path(), {}); }), Errc::kBadMagic);
}

TEST(HfSource, BadConfigJson) {
    test::TempDir d;
    copy_fixture("reference/gqa-swa/hf", d);
    write_text(d / "config.json", "{\"hidden_size\": 64,");
    std::string msg;
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }, &msg), Errc::kBadValue);
    EXPECT_TRUE(contains(msg, "config.json")) << msg;
}

// Rewrites one key of the fixture's config.json.
void patch_config(const test::TempDir& d, const std::string& key, const Json& value) {
    Json j = Json::parse(test::read_text(d / "config.json"));
    j.set(key, value);
    write_text(d / "config.json", j.dump(2));
}

TEST(HfSource, UnsupportedConfigs) {
    test::TempDir d;
    copy_fixture("reference/gqa-swa/hf", d);
    patch_config(d, "rope_scaling", Json::parse(R"({"type":"linear","factor":2.0})"));
    std::string msg;
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }, &msg), Errc::kUnsupported);
    EXPECT_TRUE(contains(msg, "rope_scaling")) << msg;

    copy_fixture("reference/gqa-swa/hf", d);
    patch_config(d, "architectures", Json::parse(R"(["GPT2LMHeadModel"])"));
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }), Errc::kUnsupported);

    copy_fixture("reference/gqa-swa/hf", d);
    patch_config(d, "num_key_value_heads", Json(3));  // 4 heads are not a multiple of 3
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }), Errc::kBadValue);

    copy_fixture("reference/gqa-swa/hf", d);
    patch_config(d, "hidden_size", Json("64"));
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }), Errc::kBadValue);
}

TEST(HfSource, NullSlidingWindowMeansFullAttention) {
    test::TempDir d;
    copy_fixture("reference/gqa-swa/hf", d);
    patch_config(d, "sliding_window", Json(nullptr));
    EXPECT_EQ(open_hf(d.path(), {})->config().window, 0);
}

// The fixture's safetensors file with its header replaced (data section kept).
void rewrite_header(const test::TempDir& d, const std::function<void(Json&)>& edit) {
    const auto f = test::read_bytes(d / "model.safetensors");
    uint64_t hlen;
    std::memcpy(&hlen, f.data(), 8);
    Json h = Json::parse(std::string(reinterpret_cast<const char*>(f.data()) + 8, hlen));
    edit(h);
    write_file(d / "model.safetensors",
               st_image(h.dump(),
                        std::vector<std::byte>(f.begin() + static_cast<std::ptrdiff_t>(8 + hlen),
                                               f.end())));
}

TEST(HfSource, DamagedSafetensors) {
    test::TempDir d;
    std::string msg;
    copy_fixture("reference/gqa-swa/hf", d);
    auto f = test::read_bytes(d / "model.safetensors");
    f.resize(100);  // truncated inside the header
    write_file(d / "model.safetensors", f);
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }, &msg), Errc::kTruncated);
    EXPECT_TRUE(contains(msg, "model.safetensors")) << msg;

    copy_fixture("reference/gqa-swa/hf", d);
    rewrite_header(d, [](Json& h) {
        h.as_object()[0].second.set("data_offsets", Json::parse("[0, 99999999]"));
    });
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }), Errc::kOutOfBounds);

    copy_fixture("reference/gqa-swa/hf", d);
    rewrite_header(d, [](Json& h) {
        for (auto& [name, t] : h.as_object()) {
            if (name == "model.norm.weight")
                t.set("dtype", "I32");  // same size as F32
        }
    });
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }, &msg), Errc::kUnsupportedType);
    EXPECT_TRUE(contains(msg, "model.norm.weight")) << msg;
}

TEST(HfSource, MissingTensorAndTiedEmbeddings) {
    test::TempDir d;
    copy_fixture("reference/gqa-swa/hf", d);
    rewrite_header(d, [](Json& h) {
        Json::Object& o = h.as_object();
        std::erase_if(o, [](const auto& kv) { return kv.first == "lm_head.weight"; });
    });
    std::string msg;
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }, &msg), Errc::kMissingTensor);
    EXPECT_TRUE(contains(msg, "lm_head.weight")) << msg;

    patch_config(d, "tie_word_embeddings", Json(true));
    const auto src = open_hf(d.path(), {});
    const auto& t = src->tensors();
    ASSERT_EQ(t.front().name, "tok_embeddings.weight");
    ASSERT_EQ(t.back().name, "output.weight");
    EXPECT_EQ(src->read(t.size() - 1), src->read(0));
}

TEST(HfSource, ShardedWithIndex) {
    // Split the fixture into two shards plus an index, as HF does for big models, and check
    // every tensor reads back identical to the single-file folder.
    const fs::path orig = test::fixture_path("reference/gqa-swa/hf");
    const auto f = test::read_bytes(orig / "model.safetensors");
    uint64_t hlen;
    std::memcpy(&hlen, f.data(), 8);
    const Json h = Json::parse(std::string(reinterpret_cast<const char*>(f.data()) + 8, hlen));
    test::TempDir d;
    copy_fixture("reference/gqa-swa/hf", d);
    fs::remove(d / "model.safetensors");
    Json shard_hdr[2] = {Json::object(), Json::object()};
    std::vector<std::byte> shard_data[2];
    Json index = Json::object();
    Json wm = Json::object();
    size_t k = 0;
    for (const auto& [name, t] : h.as_object()) {
        if (name == "__metadata__")
            continue;
        const int s = static_cast<int>(k++ % 2);
        const auto& off = t.at("data_offsets").as_array();
        const auto b = f.begin() + static_cast<std::ptrdiff_t>(
                                           8 + hlen + static_cast<uint64_t>(off[0].as_int()));
        const auto e = f.begin() + static_cast<std::ptrdiff_t>(
                                           8 + hlen + static_cast<uint64_t>(off[1].as_int()));
        Json nt = t;
        Json no = Json::array();
        no.push_back(Json(static_cast<int64_t>(shard_data[s].size())));
        shard_data[s].insert(shard_data[s].end(), b, e);
        no.push_back(Json(static_cast<int64_t>(shard_data[s].size())));
        nt.set("data_offsets", no);
        shard_hdr[s].set(name, nt);
        wm.set(name,
               s == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
    }
    for (int s = 0; s < 2; ++s) {
        write_file(d / (s == 0 ? "model-00001-of-00002.safetensors"
                               : "model-00002-of-00002.safetensors"),
                   st_image(shard_hdr[s].dump(), shard_data[s]));
    }
    index.set("metadata", Json::object());
    index.set("weight_map", wm);
    write_text(d / "model.safetensors.index.json", index.dump());

    const auto a = open_hf(orig, {});
    const auto b = open_hf(d.path(), {});
    ASSERT_EQ(a->tensors().size(), b->tensors().size());
    for (size_t i = 0; i < a->tensors().size(); ++i)
        EXPECT_EQ(a->read(i), b->read(i)) << a->tensors()[i].name;

    // An index pointing outside the folder is refused.
    wm.set("model.norm.weight", "../model.safetensors");
    index.set("weight_map", wm);
    write_text(d / "model.safetensors.index.json", index.dump());
    EXPECT_EQ(error_of([&] { open_hf(d.path(), {}); }), Errc::kBadValue);
}

TEST(HfSource, ExtraTensorsAreIgnoredWithAWarning) {
    test::TempDir d;
    copy_fixture("reference/gqa-swa/hf", d);
    rewrite_header(d, [](Json& h) {
        Json t = h.at("model.norm.weight");
        h.set("model.layers.0.self_attn.rotary_emb.inv_freq", t);  // silently ignored
        h.set("model.extra.weight", t);                            // warned about
    });
    std::vector<std::string> warnings;
    SourceOptions opts;
    opts.warn = [&](const std::string& w) { warnings.push_back(w); };
    open_hf(d.path(), opts);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(contains(warnings[0], "model.extra.weight")) << warnings[0];
}

TEST(HfSource, UnpermuteRowsByHand) {
    // 2 heads of head_dim 4, one byte per row: HF order within a head is [r0 r2 r1 r3]
    // (evens then odds); ours is [r0 r1 r2 r3].
    std::vector<std::byte> rows = {std::byte{0}, std::byte{2}, std::byte{1}, std::byte{3},
                                   std::byte{4}, std::byte{6}, std::byte{5}, std::byte{7}};
    unpermute_hf_rows(rows.data(), 8, 1, 2);
    for (size_t i = 0; i < rows.size(); ++i)
        EXPECT_EQ(rows[i], std::byte(i));
}

}  // namespace
}  // namespace mistral::convert
