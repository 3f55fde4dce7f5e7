// One test per bad-input case of the weight file loader, plus the happy path.
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/model.h>
#include <mistral/model_file.h>
#include <mistral/model_writer.h>
#include <mistral/weights.h>

#include "test_util.h"

namespace mistral {
namespace {

using test::error_of;

using test::make_model_image;
using test::tiny_config;

// Runs f and returns the Errc it threw; fails if it did not throw mistral::Error.
// Offset of the directory entry fields that follow the tensor name `name` in the image.
size_t after_name(const std::vector<std::byte>& img, const std::string& name) {
    // Entry: u16 length, name bytes, u32 type, u32 ndim, u64 shape[ndim], u64 offset, u64 size.
    for (size_t i = 2; i + name.size() <= img.size(); ++i) {
        uint16_t len;
        std::memcpy(&len, img.data() + i - 2, 2);
        if (len == name.size() && std::memcmp(img.data() + i, name.data(), name.size()) == 0) {
            return i + name.size();
        }
    }
    ADD_FAILURE() << "tensor " << name << " not found in image";
    return 0;
}

template <typename T>
void poke(std::vector<std::byte>& img, size_t off, T v) {
    std::memcpy(img.data() + off, &v, sizeof v);
}

TEST(ModelFile, ValidImageParsesAndBinds) {
    const ModelConfig cfg = tiny_config();
    const auto img = make_model_image(cfg, DType::kQ8_0, 7);
    const ModelFile mf = parse_model_file(img);
    EXPECT_EQ(mf.version, kFileVersion);
    EXPECT_EQ(mf.config.dim, cfg.dim);
    EXPECT_EQ(mf.config.n_kv_heads, cfg.n_kv_heads);
    EXPECT_EQ(mf.config.window, cfg.window);
    EXPECT_FLOAT_EQ(mf.config.norm_eps, cfg.norm_eps);
    EXPECT_EQ(mf.tensors.size(), expected_tensors(cfg).size());
    for (const auto& t : mf.tensors) {
        // Zero-copy: views point into the image, page aligned.
        EXPECT_GE(t.view.data, img.data());
        EXPECT_LE(t.view.data + t.view.nbytes(), img.data() + img.size());
        EXPECT_EQ(t.offset % kDataAlign, 0u) << t.name;
    }
    const Weights w = bind_weights(mf, mf.config);
    EXPECT_EQ(w.layers.size(), 2u);
    EXPECT_EQ(w.layers[1].wk.rows, static_cast<size_t>(cfg.kv_dim()));
    EXPECT_EQ(w.layers[1].wk.type, DType::kQ8_0);
    EXPECT_EQ(w.norm.type, DType::kF32);
}

TEST(ModelFile, TensorBytesRoundTrip) {
    ModelConfig cfg = tiny_config();
    std::vector<TensorSpec> specs;
    std::vector<std::vector<std::byte>> data;
    uint8_t counter = 0;
    for (const auto& e : expected_tensors(cfg)) {
        TensorSpec s{e.name, e.is_norm ? DType::kF32 : DType::kF16, e.shape};
        std::vector<std::byte> d(tensor_bytes(s));
        for (auto& b : d)
            b = static_cast<std::byte>(counter++);
        specs.push_back(s);
        data.push_back(d);
    }
    const auto img = build_model_image(cfg, {}, specs, data);
    const ModelFile mf = parse_model_file(img);
    for (size_t i = 0; i < specs.size(); ++i) {
        const TensorInfo* t = mf.find(specs[i].name);
        ASSERT_NE(t, nullptr);
        ASSERT_EQ(t->view.nbytes(), data[i].size());
        EXPECT_EQ(std::memcmp(t->view.data, data[i].data(), data[i].size()), 0) << specs[i].name;
    }
}

TEST(ModelFile, EmptyFile) {
    EXPECT_EQ(error_of([] { parse_model_file({}); }), Errc::kTruncated);
}

TEST(ModelFile, WrongMagic) {
    auto img = make_model_image(tiny_config(), DType::kF32, 1);
    img[0] = std::byte{'G'};
    std::string msg;
    EXPECT_EQ(error_of([&] { parse_model_file(img); }, &msg), Errc::kBadMagic);
    EXPECT_NE(msg.find("magic"), std::string::npos);
    // A GGUF given to the engine directly gets the same clear error.
    const char gguf[] = "GGUF\x03\0\0\0";
    std::vector<std::byte> g(reinterpret_cast<const std::byte*>(gguf),
                             reinterpret_cast<const std::byte*>(gguf) + 8);
    EXPECT_EQ(error_of([&] { parse_model_file(g); }), Errc::kBadMagic);
}

TEST(ModelFile, NewerVersion) {
    auto img = make_model_image(tiny_config(), DType::kF32, 1);
    poke<uint32_t>(img, 8, kFileVersion + 1);
    std::string msg;
    EXPECT_EQ(error_of([&] { parse_model_file(img); }, &msg), Errc::kNewerVersion);
    EXPECT_NE(msg.find("newer version"), std::string::npos) << msg;
}

TEST(ModelFile, UnknownRequiredSectionIsNewerVersion) {
    // Insert a required section with an unknown tag in front of the metadata.
    auto img = make_model_image(tiny_config(), DType::kF32, 1);
    uint64_t meta_size, data_offset;
    std::memcpy(&meta_size, img.data() + 16, 8);
    std::memcpy(&data_offset, img.data() + 24, 8);
    ASSERT_GE(data_offset - kHeaderBytes - meta_size, 16u) << "needs room for a 16-byte section";
    std::vector<std::byte> extra(16);
    poke<uint32_t>(extra, 0, 0x5a5a5a5a);
    poke<uint32_t>(extra, 4, kSectionRequired);
    poke<uint64_t>(extra, 8, 0);
    img.insert(img.begin() + kHeaderBytes, extra.begin(), extra.end());
    img.erase(img.begin() + static_cast<std::ptrdiff_t>(data_offset),
              img.begin() + static_cast<std::ptrdiff_t>(data_offset + 16));
    poke<uint64_t>(img, 16, meta_size + 16);
    EXPECT_EQ(error_of([&] { parse_model_file(img); }), Errc::kNewerVersion);
    // The same section marked optional is skipped.
    poke<uint32_t>(img, kHeaderBytes + 4, 0);
    EXPECT_NO_THROW(parse_model_file(img));
}

TEST(ModelFile, TruncatedData) {
    const auto img = make_model_image(tiny_config(), DType::kF32, 1);
    for (size_t cut :
         {size_t{4}, size_t{12}, size_t{40}, size_t{100}, img.size() / 2, img.size() - 1}) {
        std::vector<std::byte> t(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(cut));
        const Errc e = error_of([&] { parse_model_file(t); });
        EXPECT_TRUE(e == Errc::kTruncated || e == Errc::kBadMagic)
                << "cut at " << cut << ": " << errc_name(e);
    }
}

TEST(ModelFile, TensorOutOfBounds) {
    auto img = make_model_image(tiny_config(), DType::kF32, 1);
    const size_t p = after_name(img, "layers.1.attention.wq.weight");
    // type(4) + ndim(4) + shape(16) -> offset
    poke<uint64_t>(img, p + 4 + 4 + 16, uint64_t{1} << 40);
    std::string msg;
    EXPECT_EQ(error_of([&] { parse_model_file(img); }, &msg), Errc::kOutOfBounds);
    EXPECT_NE(msg.find("layers.1.attention.wq.weight"), std::string::npos) << msg;
}

TEST(ModelFile, SizeDisagreesWithShape) {
    auto img = make_model_image(tiny_config(), DType::kF32, 1);
    const size_t p = after_name(img, "output.weight");
    poke<uint64_t>(img, p + 4 + 4 + 16 + 8, 12345);
    EXPECT_EQ(error_of([&] { parse_model_file(img); }), Errc::kBadValue);
}

TEST(ModelFile, UnknownTensorType) {
    auto img = make_model_image(tiny_config(), DType::kF32, 1);
    const size_t p = after_name(img, "tok_embeddings.weight");
    poke<uint32_t>(img, p, 99);
    std::string msg;
    EXPECT_EQ(error_of([&] { parse_model_file(img); }, &msg), Errc::kUnsupportedType);
    EXPECT_NE(msg.find("tok_embeddings.weight"), std::string::npos) << msg;
}

// Type code 7 (the f16x16 row-piece layout of earlier files) is refused with a message saying
// what to do, not read as the current f16x16.
TEST(ModelFile, RetiredF16x16LayoutAsksForAConversion) {
    EXPECT_FALSE(dtype_valid(7));
    EXPECT_FALSE(parse_dtype("?").has_value());
    auto img = make_model_image(tiny_config(), DType::kF16, 3);
    poke<uint32_t>(img, after_name(img, "layers.0.attention.wq.weight"), 7);
    std::string msg;
    EXPECT_EQ(error_of([&] { parse_model_file(img); }, &msg), Errc::kUnsupportedType);
    EXPECT_NE(msg.find("layers.0.attention.wq.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("convert the model again"), std::string::npos) << msg;
}

// q4_0x16 interleaves groups of 16 rows: a matrix of 300 rows (the tiny vocabulary) cannot be
// one; a 64-row one can (same bytes as q4_0, so only the type code changes).
TEST(ModelFile, Q4_0x16NeedsWholeGroupsOfRows) {
    auto img = make_model_image(tiny_config(), DType::kQ4_0, 3);
    poke<uint32_t>(img, after_name(img, "layers.0.attention.wq.weight"),
                   static_cast<uint32_t>(DType::kQ4_0x16));
    const ModelFile ok = parse_model_file(img);
    EXPECT_EQ(ok.find("layers.0.attention.wq.weight")->view.type, DType::kQ4_0x16);
    poke<uint32_t>(img, after_name(img, "output.weight"), static_cast<uint32_t>(DType::kQ4_0x16));
    std::string msg;
    EXPECT_EQ(error_of([&] { parse_model_file(img); }, &msg), Errc::kBadValue);
    EXPECT_NE(msg.find("output.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("multiple of 16 rows"), std::string::npos) << msg;
}

// f16x16 stores groups of 16 rows column by column, in 64-column blocks: a [64, 64] matrix can be
// one (same bytes as f16), a [64, 96] one (w2, hidden_dim 96) or a [300, 64] one (the vocabulary)
// cannot.
TEST(ModelFile, F16x16NeedsWholeGroupsAndPieces) {
    auto img = make_model_image(tiny_config(), DType::kF16, 3);
    poke<uint32_t>(img, after_name(img, "layers.0.attention.wq.weight"),
                   static_cast<uint32_t>(DType::kF16x16));
    const ModelFile ok = parse_model_file(img);
    EXPECT_EQ(ok.find("layers.0.attention.wq.weight")->view.type, DType::kF16x16);
    for (const char* bad : {"layers.0.feed_forward.w2.weight", "output.weight"}) {
        auto img2 = img;
        poke<uint32_t>(img2, after_name(img2, bad), static_cast<uint32_t>(DType::kF16x16));
        std::string msg;
        EXPECT_EQ(error_of([&] { parse_model_file(img2); }, &msg), Errc::kBadValue) << bad;
        EXPECT_NE(msg.find(bad), std::string::npos) << msg;
        EXPECT_NE(msg.find("multiple of"), std::string::npos) << msg;
    }
}

TEST(ModelFile, ShapeInconsistentWithHyperparameters) {
    const ModelConfig cfg = tiny_config();
    std::vector<TensorSpec> specs;
    for (const auto& e : expected_tensors(cfg))
        specs.push_back({e.name, DType::kF32, e.shape});
    specs[2].shape = {static_cast<uint64_t>(cfg.q_dim()),
                      static_cast<uint64_t>(cfg.dim + 32)};  // wq
    const auto img = build_model_image(cfg, {}, specs, {});
    std::string msg;
    EXPECT_EQ(error_of([&] { Model::from_image(img, "bad.mst"); }, &msg), Errc::kShapeMismatch);
    EXPECT_EQ(msg.rfind("bad.mst: ", 0), 0u) << msg;
    EXPECT_NE(msg.find("layers.0.attention.wq.weight"), std::string::npos) << msg;
}

TEST(ModelFile, MissingTensor) {
    const ModelConfig cfg = tiny_config();
    std::vector<TensorSpec> specs;
    for (const auto& e : expected_tensors(cfg)) {
        if (e.name != "layers.1.feed_forward.w2.weight")
            specs.push_back({e.name, DType::kF32, e.shape});
    }
    const auto img = build_model_image(cfg, {}, specs, {});
    std::string msg;
    EXPECT_EQ(error_of([&] { Model::from_image(img); }, &msg), Errc::kMissingTensor);
    EXPECT_NE(msg.find("layers.1.feed_forward.w2.weight"), std::string::npos) << msg;
}

TEST(ModelFile, NormMustBeF32) {
    const ModelConfig cfg = tiny_config();
    std::vector<TensorSpec> specs;
    for (const auto& e : expected_tensors(cfg))
        specs.push_back({e.name, DType::kF16, e.shape});
    const auto img = build_model_image(cfg, {}, specs, {});
    EXPECT_EQ(error_of([&] { Model::from_image(img); }), Errc::kUnsupportedType);
}

TEST(ModelFile, ImpossibleHyperparameters) {
    ModelConfig cfg = tiny_config();
    cfg.n_kv_heads = 3;  // 4 heads are not a multiple of 3
    std::vector<TensorSpec> specs;
    const auto img = build_model_image(cfg, {}, specs, {});
    std::string msg;
    EXPECT_EQ(error_of([&] { parse_model_file(img); }, &msg), Errc::kBadValue);
    EXPECT_NE(msg.find("n_kv_heads"), std::string::npos) << msg;
}

TEST(ModelFile, MissingFileNamesThePath) {
    std::string msg;
    EXPECT_EQ(error_of([&] { Model::load("/nonexistent/dir/model.mst"); }, &msg), Errc::kIo);
    EXPECT_NE(msg.find("/nonexistent/dir/model.mst"), std::string::npos) << msg;
    test::TempDir dir;
    EXPECT_EQ(error_of([&] { Model::load(dir.path()); }), Errc::kIo);  // a directory
    { std::ofstream(dir / "empty.mst"); }
    EXPECT_EQ(error_of([&] { Model::load(dir / "empty.mst"); }, &msg), Errc::kTruncated);
    EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

TEST(ModelWriter, WritesLoadableFileAtomically) {
    const ModelConfig cfg = tiny_config();
    test::TempDir dir;
    const auto out = dir / "m.mst";
    std::vector<TensorSpec> specs;
    for (const auto& e : expected_tensors(cfg))
        specs.push_back({e.name, e.is_norm ? DType::kF32 : DType::kQ4_0, e.shape});
    {
        ModelWriter w(out, cfg, {}, specs, false);
        for (const auto& s : specs) {
            std::vector<std::byte> d(tensor_bytes(s));
            w.write_tensor(d);
            EXPECT_FALSE(std::filesystem::exists(out)) << "final name appears only at commit";
        }
        w.commit();
    }
    EXPECT_TRUE(std::filesystem::exists(out));
    EXPECT_NO_THROW(Model::load(out));
    // Refuses to overwrite unless asked.
    EXPECT_EQ(error_of([&] { ModelWriter w(out, cfg, {}, specs, false); }), Errc::kIo);
    // An abandoned writer leaves nothing behind.
    const auto out2 = dir / "m2.mst";
    {
        ModelWriter w(out2, cfg, {}, specs, false);
        w.write_tensor(std::vector<std::byte>(tensor_bytes(specs[0])));
    }
    size_t files = 0;
    for ([[maybe_unused]] const auto& f : std::filesystem::directory_iterator(dir.path()))
        ++files;
    EXPECT_EQ(files, 1u);
    EXPECT_FALSE(std::filesystem::exists(out2));
}

}  // namespace
}  // namespace mistral
