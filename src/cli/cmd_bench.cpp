// `mistral bench`: prompt-processing and generation throughput, printed like llama-bench
// (a markdown table, or --json shaped like `llama-bench -o json`), plus bytes per generated
// token, the effective bandwidth of generation and, with --membw, the machine's read bandwidth
// and the read rate of the weights themselves.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <numeric>
#include <sstream>
#include <thread>

#include <mistral/error.h>
#include <mistral/json.h>
#include <mistral/sampler.h>
#include <mistral/tensor.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace mistral::cli {

namespace {

const std::vector<OptSpec> kBenchOpts = {
        {"--model,-m", "FILE", "model file"},
        {"--n-prompt,-p", "N", "prompt tokens for pp (default 512; 0 = skip)"},
        {"--n-gen,-n", "N", "generated tokens for tg (default 128; 0 = skip)"},
        {"--repetitions,-r", "N", "repetitions (default 3)"},
        {"--threads,-t", "N", "threads (default: physical cores)"},
        {"--depth,-d", "D", "context depth before tg starts (default 0)"},
        {"--depth-fill", "HOW",
         "prefill (default: run D random tokens through the model) or random (seeded random "
         "keys/values in the cache, no compute: same tg cost, no prefill time)"},
        {"--kv-type", "T", "KV cache type: f32 (default) or f16"},
        {"--attention", "MODE", "swa (default: the model's window) or full (ignore the window)"},
        {"--json", "", "print a JSON array like llama-bench -o json"},
        {"--membw", "",
         "also measure the machine's read bandwidth (STREAM-like sum) and the rate at which the "
         "weights alone can be read (the ceiling of tg)"},
        {"--mlock", "", "lock the model in RAM"},
        {"--quiet,-q", "", "no load summary"},
};

struct Stats {
    double mean = 0, stddev = 0;
};

Stats stats(const std::vector<double>& v) {
    Stats s;
    if (v.empty())
        return s;
    s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    if (v.size() > 1) {
        double acc = 0;
        for (double x : v)
            acc += (x - s.mean) * (x - s.mean);
        s.stddev = std::sqrt(acc / static_cast<double>(v.size() - 1));
    }
    return s;
}

// Per tg repetition: its effective bandwidth over the mean of the weight reads bracketing it.
std::vector<double> bracket_ratios(const std::vector<double>& ts, const std::vector<double>& reads,
                                   double bytes_per_token) {
    std::vector<double> r;
    for (size_t i = 0; i < ts.size() && i < reads.size(); ++i)
        r.push_back(reads[i] > 0 ? bytes_per_token * ts[i] / 1e9 / reads[i] : 0);
    return r;
}

// A run of mapped bytes that a read-rate measurement sums.
struct ReadSpan {
    const std::byte* p;
    size_t n;
};

// What generation streams per token: every matrix once, but only one embedding row.
std::vector<ReadSpan> weight_spans(const Model& m) {
    std::vector<ReadSpan> spans;
    for (const auto& t : m.file().tensors) {
        spans.push_back({t.view.data,
                         t.name == "tok_embeddings.weight" ? t.view.row_bytes : t.view.nbytes()});
    }
    return spans;
}

double weight_bytes_per_token(const Model& m) {
    double b = 0;
    for (const ReadSpan& s : weight_spans(m))
        b += static_cast<double>(s.n);
    return b;
}

// Sum of the 64-bit words in bytes [b, e) of the spans laid end to end (a span's last < 64
// bytes added one by one). Eight integer sums (the compiler may vectorise them, unlike float
// sums) so the loop is bound by memory and not by add latency.
uint64_t sum_words(const std::vector<ReadSpan>& spans, size_t b, size_t e) {
    uint64_t acc[8] = {};
    size_t off = 0;
    for (const ReadSpan& sp : spans) {
        const size_t lo = std::max(b, off), hi = std::min(e, off + sp.n);
        const std::byte* p = sp.p + (lo - off);
        off += sp.n;
        if (lo >= hi)
            continue;
        size_t i = 0;
        const size_t n = hi - lo;
        for (; i + 64 <= n; i += 64) {
            for (size_t k = 0; k < 8; ++k) {
                uint64_t w;
                std::memcpy(&w, p + i + 8 * k, sizeof w);
                acc[k] += w;
            }
        }
        for (; i < n; ++i)
            acc[0] += static_cast<uint64_t>(p[i]);
    }
    return std::accumulate(std::begin(acc), std::end(acc), uint64_t{0});
}

// STREAM-like read rate in GB/s: n_threads threads each sum an equal share of the spans (cut at
// multiples of 64 bytes), best of `passes`. *sum: the total of the last pass.
double best_read_rate(const std::vector<ReadSpan>& spans, size_t n_threads, uint64_t* sum,
                      int passes = 3) {
    size_t total = 0;
    for (const ReadSpan& sp : spans)
        total += sp.n;
    double best = 0;
    for (int rep = 0; rep < passes; ++rep) {
        std::vector<uint64_t> sums(n_threads, 0);
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> th;
        for (size_t t = 0; t < n_threads; ++t) {
            th.emplace_back([&, t] {
                const size_t b = total * t / n_threads / 64 * 64;
                const size_t e = t + 1 == n_threads ? total : total * (t + 1) / n_threads / 64 * 64;
                sums[t] = sum_words(spans, b, e);
            });
        }
        for (auto& t : th)
            t.join();
        const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        *sum = std::accumulate(sums.begin(), sums.end(), uint64_t{0});
        best = std::max(best, static_cast<double>(total) / secs / 1e9);
    }
    return best;
}

// The machine's read bandwidth: a 1 GiB buffer of ones (32x the L3) from Buffer (anonymous mmap
// with transparent huge pages where allowed, as the model's own scratch).
double measure_read_bandwidth(size_t n_threads) {
    const size_t n = (size_t{1} << 30) / sizeof(uint64_t);
    Buffer mem(n * sizeof(uint64_t));
    uint64_t* buf = mem.as<uint64_t>();
    for (size_t i = 0; i < n; ++i)
        buf[i] = 1;
    uint64_t sum = 0;
    const double rate = best_read_rate({{mem.data(), n * sizeof(uint64_t)}}, n_threads, &sum);
    return sum == n ? rate : 0;  // checking the sum keeps the loop
}

// The bytes generation streams, read as fast as the machine allows: the same pages, mapped the
// same way (file-backed, some 2 MiB folios, some 4 KiB) as during tg, so weight bytes / this is
// the least time a generated token can take with this file as it is cached now.
double measure_weights_read_bandwidth(const Model& m, size_t n_threads, int passes = 3) {
    uint64_t sum = 0;
    const double rate = best_read_rate(weight_spans(m), n_threads, &sum, passes);
    volatile uint64_t sink = sum;  // keeps the loop
    (void)sink;
    return rate;
}

std::string human_gib(double bytes) {
    char buf[32];
    if (bytes >= 1073741824.0) {
        std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / 1073741824.0);
    } else {
        std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / 1048576.0);
    }
    return buf;
}

}  // namespace

int cmd_bench(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral bench -m MODEL [-p 512] [-n 128] [-r 3] [-t N] [-d D] [--kv-type T] "
                "[--json]",
                "Measure prompt processing (ppN) and generation (tgN) speed in tokens/s.",
                kBenchOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kBenchOpts);
    const int64_t n_prompt = args.get_int("--n-prompt", 512, 0, int64_t{1} << 20);
    const int64_t n_gen = args.get_int("--n-gen", 128, 0, int64_t{1} << 20);
    const int64_t reps = args.get_int("--repetitions", 3, 1, 1000);
    const int64_t depth = args.get_int("--depth", 0, 0, int64_t{1} << 24);
    const std::string depth_fill = args.get_or("--depth-fill", "prefill");
    if (depth_fill != "prefill" && depth_fill != "random")
        throw UsageError("--depth-fill: 'prefill' or 'random'");
    const std::string attention = args.get_or("--attention", "swa");
    if (attention != "swa" && attention != "full")
        throw UsageError("--attention: 'swa' or 'full'");
    const bool json = args.has("--json");
    LoadedModel lm = load_model(args, args.has("--quiet") || json);
    const ModelConfig& cfg = lm.model->config();

    SessionOptions so = session_options(args, lm);
    so.full_attention = attention == "full";
    // Room for the whole benchmark when the cache does not roll.
    const int64_t need = std::max(n_prompt, depth + n_gen) + 1;
    if (so.full_attention || cfg.window == 0)
        so.ctx = std::max<int64_t>(need, 16);
    so.max_batch = std::max<int64_t>(1, std::min<int64_t>(std::max<int64_t>(n_prompt, 1), 512));
    Session session(*lm.model, *lm.kernels, so);

    // Random (seeded) token ids, never BOS/EOS, like llama-bench's random prompt.
    Xoshiro256 rng(1234);
    auto random_ids = [&](int64_t n) {
        std::vector<TokenId> ids(static_cast<size_t>(n));
        for (auto& id : ids)
            id = static_cast<TokenId>(3 +
                                      rng.next_u64() % static_cast<uint64_t>(cfg.vocab_size - 3));
        return ids;
    };
    struct Result {
        std::string test;
        int64_t n_prompt = 0, n_gen = 0;
        std::vector<double> ts, ns;
    };
    std::vector<Result> results;
    const int64_t chunk = std::min<int64_t>(session.max_batch(), 512);

    if (n_prompt > 0) {
        Result r{"pp" + std::to_string(n_prompt), n_prompt, 0, {}, {}};
        const auto ids = random_ids(n_prompt);
        session.reset();
        session.prefill(std::span<const TokenId>(ids).first(
                                static_cast<size_t>(std::min<int64_t>(n_prompt, 16))),
                        chunk);  // warm-up
        for (int64_t i = 0; i < reps; ++i) {
            session.reset();
            const auto t0 = std::chrono::steady_clock::now();
            session.prefill(ids, chunk);
            const double ns = ms_since(t0) * 1e6;
            r.ns.push_back(ns);
            r.ts.push_back(static_cast<double>(n_prompt) * 1e9 / ns);
        }
        results.push_back(std::move(r));
    }
    double kv_rows_per_token = 0;
    const bool membw_wanted = args.has("--membw");
    const size_t threads = lm.pool->size();
    // With --membw, the weights are also read once right before and once right after each tg
    // repetition: the host's bandwidth drifts within seconds here, so only reads next to the
    // run it is compared with say what fraction of the reachable rate generation used.
    std::vector<double> bracket_reads;  // per repetition: the mean of the two reads
    if (n_gen > 0) {
        Result r{"tg" + std::to_string(n_gen), 0, n_gen, {}, {}};
        const auto ctx_ids = random_ids(depth);
        const auto gen_ids = random_ids(n_gen);
        for (int64_t i = -1; i < reps; ++i) {  // i = -1: warm-up
            session.reset();
            if (depth > 0 && depth_fill == "random")
                session.fill_cache_randomly(depth, 1234);
            else if (depth > 0)
                session.prefill(ctx_ids, chunk);
            const int64_t n = i < 0 ? std::min<int64_t>(n_gen, 4) : n_gen;
            const bool bracket = membw_wanted && i >= 0;
            const double read_before =
                    bracket ? measure_weights_read_bandwidth(*lm.model, threads, 1) : 0;
            const auto t0 = std::chrono::steady_clock::now();
            for (int64_t k = 0; k < n; ++k)
                session.decode(gen_ids[static_cast<size_t>(k)]);
            const double ns = ms_since(t0) * 1e6;
            if (i < 0)
                continue;
            if (bracket)
                bracket_reads.push_back(
                        (read_before + measure_weights_read_bandwidth(*lm.model, threads, 1)) / 2);
            r.ns.push_back(ns);
            r.ts.push_back(static_cast<double>(n_gen) * 1e9 / ns);
        }
        // Keys attended per generated token, averaged over the run.
        const int64_t w = (so.full_attention || cfg.window == 0) ? INT64_MAX : cfg.window;
        double rows = 0;
        for (int64_t k = 0; k < n_gen; ++k)
            rows += static_cast<double>(std::min<int64_t>(depth + k + 1, w));
        kv_rows_per_token = rows / static_cast<double>(n_gen);
        results.push_back(std::move(r));
    }

    const double wbytes = weight_bytes_per_token(*lm.model);
    const double kv_elem = so.kv_type == DType::kF16 ? 2.0 : 4.0;
    const double kv_bytes =
            kv_rows_per_token * 2.0 * static_cast<double>(cfg.n_layers * cfg.kv_dim()) * kv_elem;
    const std::string type = std::string(dtype_name(lm.model->weights().layers.front().wq.type));
    double membw = 0, weights_bw = 0;
    if (membw_wanted) {
        membw = measure_read_bandwidth(threads);
        weights_bw = measure_weights_read_bandwidth(*lm.model, threads);
    }

    if (json) {
        Json arr = Json::array();
        for (const auto& r : results) {
            const Stats t = stats(r.ts), n = stats(r.ns);
            Json o = Json::object();
            o.set("build_commit", "mistral.cpp");
            o.set("model_filename", lm.model->name());
            o.set("model_type", "mistral " + type);
            o.set("model_size", static_cast<int64_t>(lm.model->file_bytes()));
            o.set("model_n_params", cfg.n_params());
            o.set("backend", std::string("CPU (") + std::string(lm.kernels->name) + ")");
            o.set("n_threads", static_cast<int64_t>(threads));
            o.set("type_k", std::string(dtype_name(so.kv_type)));
            o.set("type_v", std::string(dtype_name(so.kv_type)));
            o.set("n_prompt", r.n_prompt);
            o.set("n_gen", r.n_gen);
            o.set("n_depth", r.n_gen > 0 ? depth : 0);
            o.set("attention", attention);
            o.set("test", r.test);
            o.set("avg_ns", static_cast<int64_t>(n.mean));
            o.set("stddev_ns", static_cast<int64_t>(n.stddev));
            o.set("avg_ts", t.mean);
            o.set("stddev_ts", t.stddev);
            Json samples = Json::array(), samples_ns = Json::array();
            for (double v : r.ts)
                samples.push_back(v);
            for (double v : r.ns)
                samples_ns.push_back(static_cast<int64_t>(v));
            o.set("samples_ts", std::move(samples));
            o.set("samples_ns", std::move(samples_ns));
            o.set("kv_bytes", static_cast<int64_t>(session.kv_bytes()));
            o.set("kv_resident_bytes", static_cast<int64_t>(session.cache().resident_bytes()));
            if (r.n_gen > 0) {
                o.set("bytes_per_token", wbytes + kv_bytes);
                o.set("effective_gbps", (wbytes + kv_bytes) * t.mean / 1e9);
            }
            if (membw > 0) {
                o.set("read_bandwidth_gbps", membw);
                o.set("weights_read_gbps", weights_bw);
            }
            if (r.n_gen > 0 && !bracket_reads.empty()) {
                Json reads = Json::array();
                for (double v : bracket_reads)
                    reads.push_back(v);
                o.set("bracket_read_gbps", std::move(reads));
                o.set("tg_vs_bracket_read",
                      stats(bracket_ratios(r.ts, bracket_reads, wbytes + kv_bytes)).mean);
            }
            arr.push_back(std::move(o));
        }
        write_stdout(arr.dump(2) + "\n");
        return 0;
    }
    std::ostringstream o;
    o << "| model | size | params | backend | threads | kv | test | t/s |\n";
    o << "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: |\n";
    for (const auto& r : results) {
        const Stats t = stats(r.ts);
        char line[512];
        std::string test = r.test;
        if (r.n_gen > 0 && depth > 0)
            test += " @ d" + std::to_string(depth);
        if (attention == "full")
            test += " (full attn)";
        std::snprintf(line, sizeof line,
                      "| mistral %s | %s | %.2f M | CPU (%s) | %zu | %s | %s | %.2f ± %.2f |\n",
                      type.c_str(), human_gib(static_cast<double>(lm.model->file_bytes())).c_str(),
                      static_cast<double>(cfg.n_params()) / 1e6,
                      std::string(lm.kernels->name).c_str(), threads,
                      std::string(dtype_name(so.kv_type)).c_str(), test.c_str(), t.mean, t.stddev);
        o << line;
    }
    for (const auto& r : results) {
        if (r.n_gen == 0)
            continue;
        const double ts = stats(r.ts).mean;
        char line[256];
        std::snprintf(line, sizeof line,
                      "\ntg: %.1f MiB per token (weights %.1f MiB + KV %.1f MiB for %.0f keys); "
                      "effective bandwidth %.2f GB/s",
                      (wbytes + kv_bytes) / 1048576.0, wbytes / 1048576.0, kv_bytes / 1048576.0,
                      kv_rows_per_token, (wbytes + kv_bytes) * ts / 1e9);
        o << line;
        if (membw > 0) {
            std::snprintf(line, sizeof line,
                          " = %.0f%% of the measured read bandwidth (%.2f GB/s, %zu threads)",
                          100.0 * (wbytes + kv_bytes) * ts / 1e9 / membw, membw, threads);
            o << line;
        }
        if (weights_bw > 0) {
            std::snprintf(line, sizeof line,
                          "\ntg ceiling: reading the weights alone runs at %.2f GB/s here "
                          "(%.2f t/s); tg reached %.0f%% of it",
                          weights_bw, weights_bw * 1e9 / wbytes,
                          100.0 * wbytes * ts / 1e9 / weights_bw);
            o << line;
        }
        if (!bracket_reads.empty()) {
            const std::vector<double> q = bracket_ratios(r.ts, bracket_reads, wbytes + kv_bytes);
            o << "\ntg next to its reads: the weights read right before and after each repetition "
                 "ran at";
            for (double v : bracket_reads) {
                std::snprintf(line, sizeof line, " %.2f", v);
                o << line;
            }
            o << " GB/s; tg reached";
            for (double v : q) {
                std::snprintf(line, sizeof line, " %.0f%%", 100.0 * v);
                o << line;
            }
            std::snprintf(line, sizeof line, " of them (mean %.0f%%)", 100.0 * stats(q).mean);
            o << line;
        }
        o << "\n";
    }
    if (membw > 0 && n_gen == 0) {
        o << "\nread bandwidth: " << membw << " GB/s; the weights alone: " << weights_bw
          << " GB/s\n";
    }
    o << "kv cache: " << session.kv_bytes() << " bytes allocated, "
      << session.cache().resident_bytes() << " resident\n";
    write_stdout(o.str());
    return 0;
}

}  // namespace mistral::cli
