// bench_tokenizer: encoding throughput of our tokenizer on a text file.
//   bench_tokenizer TOKENIZER TEXT [--repeat N] [--dump-ids FILE]
//   bench_tokenizer TOKENIZER TEXT --emit     (what spm_encode --output_format=id does: encode
//                                              each line once, print its ids; for timing the
//                                              two processes end to end with /usr/bin/time)
// TOKENIZER is a sentencepiece tokenizer.model or a GGUF file. The file is encoded the way
// `spm_encode` does it -- one line at a time, without the newline -- so the two can be timed
// on the same input; `--dump-ids` writes the ids in spm_encode's --output_format=id layout
// (one line of space-separated ids per input line) so they can be diffed. It also times the
// whole file encoded as one text. Reports the median CPU time of N runs after a warm-up.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <mistral/error.h>
#include <mistral/tokenizer.h>
#include <time.h>

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos)
            end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

// Process CPU time: the machine is shared, and wall time would count other jobs' time
// slices; the encoder is single-threaded, so CPU time is its running time.
double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename Fn>
double median_seconds(int repeat, Fn&& fn) {
    fn();  // warm-up
    std::vector<double> t;
    for (int i = 0; i < repeat; ++i) {
        const double t0 = cpu_seconds();
        fn();
        t.push_back(cpu_seconds() - t0);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

int run(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: bench_tokenizer TOKENIZER TEXT [--repeat N] [--dump-ids FILE]\n");
        return 2;
    }
    int repeat = 5;
    std::string dump;
    bool emit = false;
    for (int i = 3; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--repeat" && i + 1 < argc) {
            repeat = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--emit") {
            emit = true;
        } else if (a == "--dump-ids" && i + 1 < argc) {
            dump = argv[++i];
        } else {
            std::fprintf(stderr, "bench_tokenizer: unknown argument '%s'\n", a.c_str());
            return 2;
        }
    }
    const mistral::Tokenizer tok(mistral::load_tokenizer_file(argv[1]));
    std::ifstream in(argv[2], std::ios::binary);
    if (!in)
        throw mistral::Error(mistral::Errc::kIo, std::string(argv[2]) + ": cannot open");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto lines = split_lines(text);
    const double mb = static_cast<double>(text.size()) / 1e6;
    if (emit) {
        std::string out;
        for (const auto line : lines) {
            const auto ids = tok.encode(line);
            for (size_t i = 0; i < ids.size(); ++i) {
                if (i > 0)
                    out += ' ';
                out += std::to_string(ids[i]);
            }
            out += '\n';
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    }

    size_t n_tokens = 0;
    std::vector<std::vector<mistral::TokenId>> per_line(lines.size());
    const double t_lines = median_seconds(repeat, [&] {
        n_tokens = 0;
        for (size_t i = 0; i < lines.size(); ++i) {
            per_line[i] = tok.encode(lines[i]);
            n_tokens += per_line[i].size();
        }
    });
    size_t n_whole = 0;
    const double t_whole = median_seconds(repeat, [&] { n_whole = tok.encode(text).size(); });

    std::printf("input:        %s: %.2f MB, %zu lines\n", argv[2], mb, lines.size());
    std::printf("per line:     %zu tokens, %.3f s cpu, %.2f MB/s, %.0f tokens/s (median of %d)\n",
                n_tokens, t_lines, mb / t_lines, static_cast<double>(n_tokens) / t_lines, repeat);
    std::printf("whole text:   %zu tokens, %.3f s cpu, %.2f MB/s (median of %d)\n", n_whole,
                t_whole, mb / t_whole, repeat);
    // A decode sanity check that also times DecodeIds.
    std::string decoded;
    const double t_dec = median_seconds(repeat, [&] {
        decoded.clear();
        for (const auto& ids : per_line) {
            decoded += tok.decode(ids);
            decoded += '\n';
        }
    });
    std::printf("decode:       %.3f s cpu, %.2f MB/s\n", t_dec, mb / t_dec);

    if (!dump.empty()) {
        std::ofstream out(dump, std::ios::binary);
        for (const auto& ids : per_line) {
            for (size_t i = 0; i < ids.size(); ++i) {
                if (i > 0)
                    out << ' ';
                out << ids[i];
            }
            out << '\n';
        }
        if (!out)
            throw mistral::Error(mistral::Errc::kIo, dump + ": write failed");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const mistral::Error& e) {
        std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
        return 1;
    }
}
