#include "test_util.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mistral::test {

std::filesystem::path fixture_path(const std::string& rel) {
    std::filesystem::path p = std::filesystem::path(MISTRAL_FIXTURES_DIR) / rel;
    if (!std::filesystem::exists(p)) {
        ADD_FAILURE() << "missing fixture: " << p
                      << " (../shared/fixtures must sit beside the checkout)";
        throw std::runtime_error("missing fixture " + p.string());
    }
    return p;
}

std::filesystem::path default_model_path() {
    return std::filesystem::path(MISTRAL_SOURCE_DIR) / "models/kjv-tiny.mst";
}

std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + p.string());
    std::vector<char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(buf.size());
    if (!buf.empty())
        std::memcpy(out.data(), buf.data(), buf.size());
    return out;
}

std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<float> read_f32(const std::filesystem::path& p) {
    const auto b = read_bytes(p);
    std::vector<float> out(b.size() / 4);
    if (!out.empty())
        std::memcpy(out.data(), b.data(), out.size() * 4);
    return out;
}

std::filesystem::path bin_path(const std::string& name) {
    return std::filesystem::path(MISTRAL_BIN_DIR) / name;
}

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mistral-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

RunResult run(const std::string& command_line, const std::string& stdin_data) {
    TempDir dir;
    const auto in = dir / "stdin", out = dir / "stdout", err = dir / "stderr";
    {
        std::ofstream f(in, std::ios::binary);
        f << stdin_data;
    }
    const std::string cmd = "( " + command_line + " ) <" + shell_quote(in.string()) + " >" +
                            shell_quote(out.string()) + " 2>" + shell_quote(err.string());
    const int status = std::system(cmd.c_str());
    RunResult r;
    if (status == -1) {
        r.exit_code = -1;
    } else if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.exit_code = 128 + WTERMSIG(status);
    }
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
}

void expect_all_close(std::span<const float> got, std::span<const float> want, float atol,
                      float rtol, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double max_abs = 0.0, max_rel = 0.0;
    size_t bad = 0;
    std::ostringstream first;
    for (size_t i = 0; i < got.size(); ++i) {
        const double d = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
        const double lim = static_cast<double>(atol) +
                           static_cast<double>(rtol) * std::fabs(static_cast<double>(want[i]));
        max_abs = std::max(max_abs, d);
        if (want[i] != 0.0f)
            max_rel = std::max(max_rel, d / std::fabs(static_cast<double>(want[i])));
        if (!(d <= lim)) {
            if (bad < 5)
                first << "\n  [" << i << "] got " << got[i] << " want " << want[i] << " |diff| "
                      << d;
            ++bad;
        }
    }
    EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " values differ (max abs "
                       << max_abs << ", max rel " << max_rel << ", atol " << atol << ", rtol "
                       << rtol << ")" << first.str();
}

Errc error_of(const std::function<void()>& f, std::string* message) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        if (message != nullptr)
            *message = e.what();
        return e.code();
    }
    ADD_FAILURE() << "no mistral::Error thrown";
    return Errc::kIo;
}

void write_file(const std::filesystem::path& p, const std::vector<std::byte>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out)
        throw std::runtime_error("cannot write " + p.string());
}

void copy_fixture(const std::string& rel, const TempDir& dir) {
    for (const auto& e : std::filesystem::directory_iterator(fixture_path(rel))) {
        write_file(dir.path() / e.path().filename(), read_bytes(e.path()));
    }
}

std::vector<float> Rng::normals(size_t n, float scale) {
    std::vector<float> v(n);
    for (auto& x : v)
        x = normal() * scale;
    return v;
}

}  // namespace mistral::test

#include <mistral/weights.h>

namespace mistral::test {

ModelConfig tiny_config() {
    ModelConfig c;
    c.vocab_size = 300;
    c.dim = 64;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 16;
    c.hidden_dim = 96;
    c.window = 8;
    c.max_context = 128;
    return c;
}

std::vector<std::byte> make_model_image(const ModelConfig& cfg, DType type, uint64_t seed,
                                        std::span<const std::byte> tokenizer_blob) {
    Rng rng(seed);
    std::vector<TensorSpec> specs;
    std::vector<std::vector<std::byte>> data;
    for (const auto& e : expected_tensors(cfg)) {
        const DType t = e.is_norm ? DType::kF32 : type;
        specs.push_back({e.name, t, e.shape});
        const size_t rows = e.shape.size() == 2 ? e.shape[0] : 1, cols = e.shape.back();
        std::vector<std::byte> bytes(rows * bytes_for(t, cols));
        std::vector<float> row(cols);
        for (size_t r = 0; r < rows; ++r) {
            for (auto& v : row)
                v = e.is_norm ? 1.0f + 0.1f * rng.normal()
                              : rng.normal() / std::sqrt(static_cast<float>(cols));
            row_from_f32(t, row.data(), bytes.data() + r * bytes_for(t, cols), cols);
        }
        data.push_back(std::move(bytes));
    }
    return build_model_image(cfg, tokenizer_blob, specs, data);
}

}  // namespace mistral::test
