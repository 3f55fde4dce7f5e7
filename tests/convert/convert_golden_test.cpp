// The whole conversion path (source -> ModelWriter -> file -> Model::load) on every reference
// fixture: the tensors in our files equal the source values (exactly for f32/bf16 and the
// lossless cases, within the quantizer's bound otherwise), and the three sources of one model
// (hf, hf-bf16, native) give identical engine tensors. The oracle is the fixture weights, read
// from Mistral's own consolidated.00.pth (which tests/convert/sources_golden_test.cpp proves
// equal to the two Hugging Face encodings).
#include <cmath>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>
#include <mistral/model.h>

#include "convert.h"
#include "source.h"
#include "test_util.h"

namespace mistral {
namespace {

const char* const kModels[] = {"gqa-swa", "mqa-swa-theta1e6", "mha-full", "dim256"};

struct Reference {
    std::map<std::string, std::vector<float>> values;  // our name -> f32 values
};

Reference read_native(const std::string& model) {
    convert::SourceOptions so;
    auto src = convert::open_native(test::fixture_path("reference/" + model + "/native"), so);
    Reference ref;
    for (size_t i = 0; i < src->tensors().size(); ++i) {
        const auto& t = src->tensors()[i];
        EXPECT_EQ(t.type, DType::kF32) << t.name;
        const auto bytes = src->read(i);
        std::vector<float> v(bytes.size() / 4);
        std::memcpy(v.data(), bytes.data(), bytes.size());
        ref.values[t.name] = std::move(v);
    }
    return ref;
}

std::vector<float> dequantized(const TensorView& v) {
    std::vector<float> out(v.numel());
    for (size_t r = 0; r < v.rows; ++r)
        tensor_row_to_f32(v, r, out.data() + r * v.cols);
    return out;
}

std::unique_ptr<Model> convert_to(const std::filesystem::path& in, const std::filesystem::path& out,
                                  std::optional<DType> type) {
    convert::ConvertOptions o;
    o.input = in;
    o.output = out;
    o.type = type;
    convert::convert_model(o);
    return Model::load(out);
}

// Largest |x| in the 32-block containing element i (the quantizer's scale is derived from it).
float block_amax(const std::vector<float>& x, size_t i) {
    const size_t b = i / 32 * 32;
    float m = 0.0f;
    for (size_t k = b; k < b + 32; ++k)
        m = std::max(m, std::fabs(x[k]));
    return m;
}

TEST(ConvertGolden, EverySourceGivesTheSourceValuesAndIdenticalTensors) {
    for (const char* name : kModels) {
        SCOPED_TRACE(name);
        const Reference ref = read_native(name);
        test::TempDir dir;
        std::vector<std::vector<std::byte>> data_sections;
        for (const char* kind : {"native", "hf", "hf-bf16"}) {
            SCOPED_TRACE(kind);
            const auto path = dir / (std::string(kind) + ".mst");
            auto m = convert_to(test::fixture_path(std::string("reference/") + name + "/" + kind),
                                path, std::nullopt);
            for (const auto& t : m->file().tensors) {
                // Default type = the source's precision (norms always f32).
                const bool norm = t.view.ndim == 1;
                EXPECT_EQ(t.view.type,
                          norm || std::string(kind) != "hf-bf16" ? DType::kF32 : DType::kBF16)
                        << t.name;
                ASSERT_TRUE(ref.values.count(t.name)) << t.name;
                EXPECT_EQ(dequantized(t.view), ref.values.at(t.name)) << t.name;
            }
            // Tensor bytes from the data offset on (metadata may differ: max_context).
            const auto bytes = test::read_bytes(path);
            uint64_t data_offset = 0;
            std::memcpy(&data_offset, bytes.data() + 24, 8);
            data_sections.emplace_back(bytes.begin() + static_cast<std::ptrdiff_t>(data_offset),
                                       bytes.end());
        }
        EXPECT_TRUE(data_sections[0] == data_sections[1]) << "native and hf tensors differ";
    }
}

TEST(ConvertGolden, RequestedTypesStayWithinTheirBounds) {
    for (const char* name : kModels) {
        SCOPED_TRACE(name);
        const Reference ref = read_native(name);
        test::TempDir dir;
        for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
            SCOPED_TRACE(dtype_name(type));
            auto m = convert_to(test::fixture_path(std::string("reference/") + name + "/hf"),
                                dir / (std::string(dtype_name(type)) + ".mst"), type);
            size_t checked = 0, interleaved = 0;
            for (const auto& t : m->file().tensors) {
                const auto got = dequantized(t.view);
                const auto& want = ref.values.at(t.name);
                if (t.view.ndim == 1) {
                    EXPECT_EQ(t.view.type, DType::kF32);
                    EXPECT_EQ(got, want) << t.name;
                    continue;
                }
                // q4_0 / q8_0 / f16 matrices the forward pass multiplies are stored 16-row
                // interleaved (docs/FORMAT.md): all but the embedding table, when their rows (and
                // for f16 their columns, a multiple of 64) allow it.
                const bool multiplied = t.name != "tok_embeddings.weight" && t.view.rows % 16 == 0;
                const bool x16 = multiplied && (type == DType::kQ4_0 || type == DType::kQ8_0 ||
                                                (type == DType::kF16 && t.view.cols % 64 == 0));
                const DType want_type = !x16                   ? type
                                        : type == DType::kQ4_0 ? DType::kQ4_0x16
                                        : type == DType::kQ8_0 ? DType::kQ8_0x16
                                                               : DType::kF16x16;
                EXPECT_EQ(t.view.type, want_type) << t.name;
                interleaved += x16 ? 1 : 0;
                for (size_t i = 0; i < want.size(); ++i) {
                    const float x = want[i], y = got[i], e = std::fabs(x - y);
                    float bound = 0.0f;  // f32, bf16: exact (the fixture values are bf16 numbers)
                    if (type == DType::kF16)
                        bound = std::fabs(x) * 0x1p-11f + 0x1p-25f;
                    if (type == DType::kQ8_0)
                        bound = block_amax(want, i) * (0.5f / 127.0f + 1e-3f);
                    if (type == DType::kQ4_0)
                        bound = block_amax(want, i) * (1.0f / 8.0f + 2e-3f);
                    ASSERT_LE(e, bound) << t.name << "[" << i << "] " << x << " -> " << y;
                }
                ++checked;
            }
            EXPECT_GT(checked, 0u);
            if (type == DType::kQ4_0 || type == DType::kQ8_0 || type == DType::kF16) {
                EXPECT_GT(interleaved, 0u);
            }
        }
    }
}

TEST(ConvertGolden, GgufTensorsEqualTheReferenceAndBlocksCarryOver) {
    const Reference ref = read_native("gqa-swa");
    test::TempDir dir;
    convert::ConvertOptions o;
    o.input = test::fixture_path("gguf/gqa-swa-f32.gguf");
    o.output = dir / "f32.mst";
    o.sliding_window = 8;
    convert::convert_model(o);
    auto m = Model::load(o.output);
    EXPECT_EQ(m->config().window, 8);
    for (const auto& t : m->file().tensors)
        EXPECT_EQ(dequantized(t.view), ref.values.at(t.name)) << t.name;

    // q8_0 / q4_0 blocks and f16 values pass through byte for byte (both engines multiply the
    // same numbers).
    size_t f16x16_seen = 0;
    for (const char* q : {"q8_0", "q4_0", "f16"}) {
        const auto in = test::fixture_path(std::string("gguf/gqa-swa-") + q + ".gguf");
        convert::SourceOptions so;
        so.sliding_window = 8;
        auto src = convert::open_gguf(in, so);
        o.input = in;
        o.output = dir / (std::string(q) + ".mst");
        convert::convert_model(o);
        auto mq = Model::load(o.output);
        for (size_t i = 0; i < src->tensors().size(); ++i) {
            const auto& st = src->tensors()[i];
            const TensorInfo* t = mq->file().find(st.name);
            ASSERT_NE(t, nullptr) << st.name;
            if (st.type == DType::kF32 && t->view.ndim == 1)
                continue;
            const auto bytes = src->read(i);
            ASSERT_EQ(bytes.size(), t->view.nbytes()) << st.name;
            if (t->view.type == DType::kF16x16) {  // the same values, 16 rows interleaved
                EXPECT_EQ(st.type, DType::kF16) << st.name;
                const size_t n = t->view.cols;
                for (size_t r = 0; r < t->view.rows; ++r) {
                    for (size_t k = 0; k < n; ++k) {
                        uint16_t v;
                        std::memcpy(&v, bytes.data() + (r * n + k) * 2, 2);
                        ASSERT_EQ(f16x16_value(t->view.data, n, r, k), v)
                                << st.name << " row " << r << " column " << k;
                    }
                }
                ++f16x16_seen;
                continue;
            }
            if (is_interleaved(t->view.type)) {  // the same blocks, 16 rows interleaved
                const bool q4 = t->view.type == DType::kQ4_0x16;
                EXPECT_EQ(st.type, q4 ? DType::kQ4_0 : DType::kQ8_0) << st.name;
                const size_t nb = t->view.cols / kQBlock, bb = q4 ? 18 : 34;
                for (size_t r = 0; r < t->view.rows; ++r) {
                    for (size_t k = 0; k < nb; ++k) {
                        const std::byte* want = bytes.data() + (r * nb + k) * bb;
                        const BlockQ4_0 b4 = q4_0x16_block(t->view.data, nb, r, k);
                        const BlockQ8_0 b8 = q8_0x16_block(t->view.data, nb, r, k);
                        ASSERT_EQ(q4 ? std::memcmp(&b4, want, bb) : std::memcmp(&b8, want, bb), 0)
                                << st.name << " row " << r << " block " << k;
                    }
                }
                continue;
            }
            EXPECT_EQ(t->view.type, st.type) << st.name;
            EXPECT_EQ(std::memcmp(bytes.data(), t->view.data, bytes.size()), 0) << st.name;
        }
    }
    EXPECT_GT(f16x16_seen, 0u);
}

std::string convert_cmd(const std::string& args) {
    return test::shell_quote(test::bin_path("mistral-convert").string()) + " " + args;
}

size_t files_in(const std::filesystem::path& d) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(d))
        ++n;
    return n;
}

TEST(ConvertCliGolden, OverwriteFailuresAndUsage) {
    test::TempDir dir;
    const std::string in = test::shell_quote(test::fixture_path("reference/gqa-swa/hf").string());
    const std::string out = (dir / "m.mst").string();
    ASSERT_EQ(test::run(convert_cmd(in + " -o " + test::shell_quote(out) + " -q")).exit_code, 0);
    const auto first = test::read_bytes(out);
    // An existing output is refused without --force, and left untouched.
    const auto again =
            test::run(convert_cmd(in + " -o " + test::shell_quote(out) + " -q --type q8_0"));
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
    EXPECT_EQ(test::read_bytes(out), first);
    EXPECT_EQ(
            test::run(convert_cmd(in + " -o " + test::shell_quote(out) + " -q --type q8_0 --force"))
                    .exit_code,
            0);
    EXPECT_NE(test::read_bytes(out), first);
    EXPECT_EQ(files_in(dir.path()), 1u);

    // A conversion that fails half way (a truncated safetensors file) leaves nothing behind.
    const auto broken = dir / "broken";
    std::filesystem::create_directory(broken);
    for (const char* f : {"config.json", "tokenizer.model"}) {
        std::filesystem::copy_file(test::fixture_path(std::string("reference/gqa-swa/hf/") + f),
                                   broken / f);
    }
    const auto st = test::read_bytes(test::fixture_path("reference/gqa-swa/hf/model.safetensors"));
    {
        std::ofstream o(broken / "model.safetensors", std::ios::binary);
        o.write(reinterpret_cast<const char*>(st.data()),
                static_cast<std::streamsize>(st.size() - 1000));
    }
    const auto outdir = dir / "out";
    std::filesystem::create_directory(outdir);
    const auto bad = test::run(convert_cmd(test::shell_quote(broken.string()) + " -o " +
                                           test::shell_quote((outdir / "x.mst").string())));
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_EQ(files_in(outdir), 0u);

    // Usage errors exit 2.
    EXPECT_EQ(test::run(convert_cmd(in + " -o x --type q5_k")).exit_code, 2);
    EXPECT_EQ(test::run(convert_cmd(in + " -o x --type q4_0x16")).exit_code, 2);  // a layout
    EXPECT_EQ(test::run(convert_cmd(in + " -o x --type q8_0x16")).exit_code, 2);
    EXPECT_EQ(test::run(convert_cmd(in)).exit_code, 2);
    EXPECT_EQ(test::run(convert_cmd(in + " -o x --bogus")).exit_code, 2);
    EXPECT_EQ(test::run(convert_cmd("--help")).exit_code, 0);
    // Missing input and a non-model file: exit 1, one line.
    const auto missing = test::run(
            convert_cmd("/nonexistent/model -o " + test::shell_quote((outdir / "y.mst").string())));
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("/nonexistent/model"), std::string::npos);
    EXPECT_EQ(files_in(outdir), 0u);
}

}  // namespace
}  // namespace mistral
