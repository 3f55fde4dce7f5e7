// Shared helpers for the GoogleTest suites.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <mistral/config.h>
#include <mistral/error.h>
#include <mistral/model_writer.h>

namespace mistral::test {

// ../shared/fixtures/<rel>. Fails the test (ADD_FAILURE + throws) if it does not exist:
// a missing fixture is an error, never a skip.
std::filesystem::path fixture_path(const std::string& rel);
// Whole file as bytes / as text. Throws std::runtime_error if unreadable.
std::vector<std::byte> read_bytes(const std::filesystem::path& p);
std::string read_text(const std::filesystem::path& p);
std::vector<float> read_f32(const std::filesystem::path& p);
// The default model shipped in the checkout (models/kjv-tiny.mst).
std::filesystem::path default_model_path();
// Path of a built binary ("mistral", "mistral-convert").
std::filesystem::path bin_path(const std::string& name);
// A fresh empty temporary directory, removed by the returned guard's destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// Runs a shell command line; captures stdout and stderr separately.
struct RunResult {
    int exit_code = -1;  // 128+sig if killed by a signal
    std::string out, err;
};
RunResult run(const std::string& command_line, const std::string& stdin_data = "");
// Single-quotes a string for the shell.
std::string shell_quote(const std::string& s);

// |got - want| <= atol + rtol * |want| elementwise; on failure reports the max errors and the
// first 5 mismatches (llm.c style).
void expect_all_close(std::span<const float> got, std::span<const float> want, float atol,
                      float rtol, const std::string& what = "");

// Runs f and returns the code of the mistral::Error it throws (and its one-line message in
// *message); fails the test if it throws nothing or a message with a newline.
Errc error_of(const std::function<void()>& f, std::string* message = nullptr);
// Writes bytes to a file (truncating).
void write_file(const std::filesystem::path& p, const std::vector<std::byte>& bytes);
// A writable copy of every file of fixture folder `rel` into `dir`.
void copy_fixture(const std::string& rel, const TempDir& dir);

// Deterministic RNG for tests.
class Rng {
public:
    explicit Rng(uint64_t seed) : gen_(seed) {}
    float uniform(float lo, float hi) {
        return std::uniform_real_distribution<float>(lo, hi)(gen_);
    }
    float normal() { return std::normal_distribution<float>(0.0f, 1.0f)(gen_); }
    uint64_t next() { return gen_(); }
    std::vector<float> normals(size_t n, float scale = 1.0f);

private:
    std::mt19937_64 gen_;
};

}  // namespace mistral::test

namespace mistral::test {

// A complete model file image with seeded random weights of `type` (norms f32) for `cfg`;
// `tokenizer_blob` becomes the TOKN section verbatim.
std::vector<std::byte> make_model_image(const ModelConfig& cfg, DType type, uint64_t seed,
                                        std::span<const std::byte> tokenizer_blob = {});
// A small valid config (GQA 4/2 heads, head_dim 16, window 8, vocab 300).
ModelConfig tiny_config();

}  // namespace mistral::test
