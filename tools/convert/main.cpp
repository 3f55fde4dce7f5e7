// mistral-convert: Hugging Face / Mistral / GGUF models -> our mmap-ready weight file.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <mistral/error.h>
#include <unistd.h>

#include "convert.h"

namespace {

std::atomic<bool> g_cancel{false};  // set by SIGINT/SIGTERM; the driver polls it between tensors

extern "C" void on_signal(int) {
    g_cancel.store(true);
}

constexpr const char* kUsage =
        "usage: mistral-convert INPUT -o OUT [--type T] [--sliding-window N] [--force]\n"
        "       mistral-convert --random PRESET -o OUT [--type T] [--seed S] [--tokenizer FILE] "
        "[--sliding-window N] [--force]\n"
        "\n"
        "INPUT is detected automatically: a Hugging Face folder (config.json + *.safetensors +\n"
        "tokenizer.model), a Mistral folder (params.json + consolidated.00.pth + "
        "tokenizer.model),\n"
        "or a GGUF file (architecture llama).\n"
        "\n"
        "options:\n"
        "  -o, --output OUT          output file (written to OUT.tmp.PID, renamed when complete)\n"
        "  --type T                  f32|f16|bf16|q8_0|q4_0 for the matrices (default: the "
        "source's\n"
        "                            precision; q8_0 for K-quant GGUF tensors). Norms stay f32.\n"
        "  --sliding-window N        attention window W (0 = full attention); for GGUFs, which\n"
        "                            lack it (a llama.attention.sliding_window key wins), and\n"
        "                            --random (instead of the preset's)\n"
        "  --force                   overwrite OUT if it exists\n"
        "  --random PRESET           seeded random weights; presets: mistral-7b, small, tiny\n"
        "  --seed S                  seed for --random (default 1)\n"
        "  --tokenizer FILE          tokenizer.model or a GGUF's vocabulary for --random (small\n"
        "                            presets adopt its vocab; default for mistral-7b:\n"
        "                            ../shared/fixtures/tokenizer/mistral-7b-v0.1.model if "
        "present)\n"
        "  -q, --quiet               no progress or notes\n"
        "  -h, --help                this help\n";

class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Args {
    std::string input, output, preset, tokenizer;
    std::optional<mistral::DType> type;
    std::optional<int64_t> window;
    uint64_t seed = 1;
    bool force = false, quiet = false, help = false;
};

int64_t parse_int(const std::string& flag, const std::string& v, int64_t lo, int64_t hi) {
    size_t used = 0;
    long long x = 0;
    try {
        x = std::stoll(v, &used);
    } catch (const std::exception&) {
        throw UsageError(flag + ": '" + v + "' is not an integer");
    }
    if (used != v.size())
        throw UsageError(flag + ": '" + v + "' is not an integer");
    if (x < lo || x > hi)
        throw UsageError(flag + ": " + v + " is out of range");
    return x;
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw UsageError("option " + s + " needs a value");
            return argv[++i];
        };
        if (s == "-h" || s == "--help") {
            a.help = true;
        } else if (s == "-o" || s == "--output") {
            a.output = value();
        } else if (s == "--type") {
            const std::string t = value();
            a.type = mistral::parse_dtype(t);
            if (!a.type || mistral::is_interleaved(*a.type)) {
                throw UsageError("--type: unknown type '" + t +
                                 "' (f32, f16, bf16, q8_0, q4_0; their matrices are stored "
                                 "16 rows interleaved where they can be)");
            }
        } else if (s == "--sliding-window") {
            a.window = parse_int(s, value(), 0, int64_t{1} << 30);
        } else if (s == "--force") {
            a.force = true;
        } else if (s == "-q" || s == "--quiet") {
            a.quiet = true;
        } else if (s == "--random") {
            a.preset = value();
        } else if (s == "--seed") {
            a.seed = static_cast<uint64_t>(parse_int(s, value(), 0, INT64_MAX));
        } else if (s == "--tokenizer") {
            a.tokenizer = value();
        } else if (s.size() > 1 && s[0] == '-') {
            throw UsageError("unknown option '" + s + "' (see --help)");
        } else if (a.input.empty()) {
            a.input = s;
        } else {
            throw UsageError("unexpected argument '" + s + "'");
        }
    }
    return a;
}

// A one-line progress bar redrawn in place; only when stderr is a terminal.
class Progress {
public:
    explicit Progress(bool enabled) : enabled_(enabled && ::isatty(2)) {}
    void operator()(size_t done, size_t total, const std::string& name) {
        if (!enabled_)
            return;
        const int width = 30;
        const int fill = total ? static_cast<int>(width * done / total) : width;
        std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu %-40.40s", fill, "##############################",
                     width - fill, "", done, total, name.c_str());
        if (done == total)
            std::fprintf(stderr, "\n");
        std::fflush(stderr);
    }

private:
    bool enabled_;
};

// Ends a half-drawn progress line so an error message starts on its own line.
void end_bar(bool quiet) {
    if (!quiet && ::isatty(2))
        std::cerr << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    try {
        a = parse(argc, argv);
        if (a.help) {
            std::cout << kUsage;
            return 0;
        }
        if (a.output.empty())
            throw UsageError("no output file (-o OUT)");
        if (a.preset.empty() && a.input.empty())
            throw UsageError("no input (see --help)");
        if (!a.preset.empty() && !a.input.empty())
            throw UsageError("--random takes no INPUT");
    } catch (const UsageError& e) {
        std::cerr << "mistral-convert: " << e.what() << "\n";
        return 2;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    Progress progress(!a.quiet);
    auto warn = [&](const std::string& line) {
        if (!a.quiet)
            std::cerr << line << "\n";
    };
    const auto t0 = std::chrono::steady_clock::now();
    try {
        mistral::convert::ConvertSummary sum;
        if (!a.preset.empty()) {
            mistral::convert::RandomOptions ro;
            ro.preset = a.preset;
            ro.type = a.type.value_or(mistral::DType::kF32);
            ro.seed = a.seed;
            ro.output = a.output;
            ro.overwrite = a.force;
            ro.tokenizer = a.tokenizer;
            ro.sliding_window = a.window;
            if (ro.tokenizer.empty() && a.preset == "mistral-7b") {
                const std::filesystem::path dflt =
                        "../shared/fixtures/tokenizer/mistral-7b-v0.1.model";
                if (!std::filesystem::exists(dflt)) {
                    throw mistral::Error(mistral::Errc::kInvalidArgument,
                                         "--random mistral-7b needs --tokenizer FILE (Mistral 7B "
                                         "v0.1 tokenizer.model)");
                }
                ro.tokenizer = dflt;
            }
            ro.progress = [&](size_t d, size_t t, const std::string& n) { progress(d, t, n); };
            ro.cancel = &g_cancel;
            sum = mistral::convert::write_random_model(ro);
        } else {
            mistral::convert::ConvertOptions co;
            co.input = a.input;
            co.output = a.output;
            co.type = a.type;
            co.sliding_window = a.window;
            co.overwrite = a.force;
            co.warn = warn;
            co.progress = [&](size_t d, size_t t, const std::string& n) { progress(d, t, n); };
            co.cancel = &g_cancel;
            sum = mistral::convert::convert_model(co);
        }
        const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!a.quiet) {
            std::cerr << "wrote " << a.output << ": " << sum.n_tensors << " tensors,";
            for (const auto& [t, n] : sum.tensors_by_type)
                std::cerr << " " << n << " " << mistral::dtype_name(t);
            std::fprintf(stderr, "; %.1f MiB in %.1f s\n",
                         static_cast<double>(sum.file_bytes) / 1048576.0, secs);
        }
        return 0;
    } catch (const mistral::Error& e) {
        end_bar(a.quiet);
        std::cerr << "mistral-convert: " << e.what() << "\n";
        return g_cancel.load() ? 130 : 1;
    } catch (const std::bad_alloc&) {
        end_bar(a.quiet);
        std::cerr << "mistral-convert: out of memory\n";
        return 1;
    } catch (const std::exception& e) {
        end_bar(a.quiet);
        std::cerr << "mistral-convert: " << e.what() << "\n";
        return 1;
    }
}
