// Seeded fuzzing of the whole GGUF source (parser, metadata interpretation, tensor list,
// dequantization) with truncations and byte flips of real llama.cpp files: every outcome
// must be success or a clean mistral::Error, never a crash (CI runs this under ASan+UBSan).
#include <fstream>

#include <gtest/gtest.h>
#include <mistral/error.h>

#include "gguf_reader.h"
#include "source.h"
#include "test_util.h"

namespace mistral::convert {
namespace {

// Opens `bytes` as a GGUF source and reads every tensor. Returns true on success.
bool exercise(const std::vector<std::byte>& bytes, const std::filesystem::path& path) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
    try {
        SourceOptions opts;
        opts.sliding_window = 8;
        opts.warn = [](const std::string&) {};
        auto src = open_gguf(path, opts);
        (void)src->config();
        (void)src->tokenizer();
        for (size_t i = 0; i < src->tensors().size(); ++i)
            (void)src->read(i);
        return true;
    } catch (const Error& e) {
        EXPECT_FALSE(std::string(e.what()).empty());
        return false;
    }
}

void fuzz(const std::string& fixture, uint64_t seed, int iterations) {
    const auto original = test::read_bytes(test::fixture_path(fixture));
    // Most decisions live in the metadata and tensor directory: aim most flips there.
    const GgufFile parsed = parse_gguf(original);
    const size_t header = static_cast<size_t>(parsed.data_offset);
    test::TempDir dir;
    const auto path = dir / "fuzz.gguf";
    ASSERT_TRUE(exercise(original, path));
    test::Rng rng(seed);
    int ok = 0;
    for (int it = 0; it < iterations; ++it) {
        std::vector<std::byte> bytes = original;
        const uint64_t mode = rng.next() % 4;
        if (mode == 0) {  // truncate
            bytes.resize(rng.next() % bytes.size());
        } else {  // flip 1-8 bytes, mostly in the header
            const int flips = 1 + static_cast<int>(rng.next() % 8);
            for (int k = 0; k < flips; ++k) {
                const size_t span = (mode == 3) ? bytes.size() : header;
                const size_t at = rng.next() % span;
                bytes[at] = static_cast<std::byte>(rng.next() & 0xff);
            }
        }
        ok += exercise(bytes, path) ? 1 : 0;
    }
    // Sanity: some mutations (e.g. in tensor data or string contents) must still succeed,
    // otherwise the fuzzer would only be testing the first check.
    EXPECT_GT(ok, 0);
}

TEST(GgufFuzz, Q4_0FileFlipsAndTruncations) {
    fuzz("gguf/gqa-swa-q4_0.gguf", 1, 200);
}
TEST(GgufFuzz, KQuantFileFlipsAndTruncations) {
    fuzz("gguf/dim256-q4_k_m.gguf", 2, 100);
}
TEST(GgufFuzz, VocabularyOnlyFile) {
    // No tensors: the source must refuse cleanly (missing tensors), never crash.
    const auto bytes =
            test::read_bytes(test::fixture_path("tokenizer/llama-spm/ggml-vocab-llama-spm.gguf"));
    test::TempDir dir;
    EXPECT_FALSE(exercise(bytes, dir / "v.gguf"));
    try {
        open_gguf(dir / "v.gguf", SourceOptions{});
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kMissingTensor);
        EXPECT_NE(std::string(e.what()).find("no tensors"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace mistral::convert
