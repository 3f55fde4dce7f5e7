// bench_kernels: the reference table and the selected (or named) ISA table, same run, same
// inputs, at Mistral-7B shapes. Warm-up, then the median of N timed repetitions. Prints one
// markdown table row per op: time per call, GB/s of weights streamed, GFLOP/s, and the
// speed-up over the reference. Never run by ctest (STYLE.md rule 10).
//
//   bench_kernels [--table NAME] [--reps N] [--quick] [--threads 2] [--matmul TYPE]
//
// The reference is far too slow for full prefill matmuls (T=512 over 32000 rows), so at T=512
// it is timed on the first kRefRowsPrefill rows only and compared per FLOP; the ISA table always
// runs the whole matrix. --threads 2 adds a row-split run with std::thread (the memory-bandwidth
// ceiling of the machine at T=1; kernels themselves are single-threaded).
// Single-threaded runs are timed in thread CPU time (CLOCK_THREAD_CPUTIME_ID), the threaded run
// in wall time. --matmul TYPE (f16, q8_0, q4_0, q8_0x16, q4_0x16) times only the matmuls of that
// weight type.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <mistral/dtype.h>
#include <mistral/kernels.h>
#include <mistral/tensor.h>
#include <time.h>

namespace {

using namespace mistral;
using Clock = std::chrono::steady_clock;

constexpr size_t kRefRowsPrefill = 256;

// Fast deterministic fill (xorshift): the values only need to be finite and varied.
struct Fill {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    float uniform() {
        return static_cast<float>(next() >> 40) / static_cast<float>(1ull << 24) * 2.0f - 1.0f;
    }
};

// CPU seconds used by this thread: on a shared, oversubscribed machine wall time mostly measures
// the other processes; thread CPU time still counts memory stalls but not time descheduled.
double thread_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double wall_seconds() {
    return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Median seconds of `reps` calls after one warm-up call (thread CPU time unless `wall`).
double time_median(int reps, const std::function<void()>& fn, bool wall = false) {
    fn();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        const double t0 = wall ? wall_seconds() : thread_seconds();
        fn();
        t.push_back((wall ? wall_seconds() : thread_seconds()) - t0);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

struct Options {
    std::string table;
    int reps = 5;
    bool quick = false;
    int threads = 1;
    std::string matmul_type;  // empty: every type, and the other ops
};

void print_header() {
    std::printf(
            "| op | type | shape | T | ref ms | simd ms | simd GB/s | simd GFLOP/s | speed-up |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
}

// bytes and flops are per call of the measured (full) work; ref_scale = full work / ref work.
void print_row(const std::string& op, const std::string& type, const std::string& shape, size_t T,
               double ref_s, double ref_scale, double simd_s, double bytes, double flops) {
    const double ref_full = ref_s * ref_scale;
    std::printf("| %s | %s | %s | %zu | %.3f%s | %.3f | %.1f | %.1f | %.1fx |\n", op.c_str(),
                type.c_str(), shape.c_str(), T, ref_full * 1e3, ref_scale != 1.0 ? " (est.)" : "",
                simd_s * 1e3, bytes / simd_s * 1e-9, flops / simd_s * 1e-9, ref_full / simd_s);
    std::fflush(stdout);
}

// ---- matmul ------------------------------------------------------------------------------

Buffer random_weight(DType type, size_t rows, size_t cols, Fill& f, TensorView& view) {
    const size_t rb = bytes_for(type, cols);
    Buffer buf(rows * rb);
    std::byte* p = buf.data();
    if (is_quantized(type)) {
        const size_t bb = block_bytes(type);
        for (size_t i = 0; i < rows * (cols / kQBlock); ++i) {
            std::byte* blk = p + i * bb;
            const uint16_t d = f32_to_f16(0.01f + 0.01f * f.uniform());
            std::memcpy(blk, &d, 2);
            for (size_t j = 2; j < bb; ++j)
                blk[j] = static_cast<std::byte>(f.next());
        }
    } else {
        std::vector<float> row(cols);
        for (size_t r = 0; r < rows; ++r) {
            for (auto& v : row)
                v = f.uniform();
            row_from_f32(plain_type(type), row.data(), p + r * rb, cols);
        }
    }
    if (is_interleaved(type)) {  // the random blocks above, 16 rows interleaved
        Buffer inter(rows * rb);
        interleave_x16(type, buf.data(), inter.data(), rows, cols);
        buf = std::move(inter);
    }
    view = TensorView{type, 2, rows, cols, rb, buf.data()};
    return buf;
}

void run_split(const KernelTable& k, const TensorView& w, const ActBatch& a, float* y,
               int threads) {
    std::vector<std::thread> pool;
    const size_t per = (w.rows + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
    for (int i = 0; i < threads; ++i) {
        const size_t r0 = std::min(w.rows, static_cast<size_t>(i) * per);
        const size_t r1 = std::min(w.rows, r0 + per);
        pool.emplace_back([&k, &w, &a, y, r0, r1] { k.matmul(w, a, y, r0, r1); });
    }
    for (auto& t : pool)
        t.join();
}

void bench_matmul(const KernelTable& ref, const KernelTable& simd, const Options& o) {
    struct Shape {
        size_t rows, cols;
    };
    std::vector<Shape> shapes = {{4096, 4096}, {14336, 4096}, {32000, 4096}};
    std::vector<size_t> tokens = {1, 512};
    if (o.quick) {
        shapes = {{4096, 4096}};
        tokens = {1, 64};
    }
    Fill f;
    for (DType type : {DType::kF16, DType::kF16x16, DType::kQ8_0, DType::kQ4_0, DType::kQ8_0x16,
                       DType::kQ4_0x16}) {
        if (!o.matmul_type.empty() && o.matmul_type != dtype_name(type))
            continue;
        for (const Shape& s : shapes) {
            TensorView w;
            const Buffer wbuf = random_weight(type, s.rows, s.cols, f, w);
            for (size_t T : tokens) {
                std::vector<float> x(T * s.cols), y(T * s.rows);
                for (auto& v : x)
                    v = f.uniform();
                std::vector<BlockQ8_0> xq(T * s.cols / kQBlock);
                for (size_t t = 0; t < T; ++t) {
                    ref.quantize_act(x.data() + t * s.cols, xq.data() + t * (s.cols / kQBlock),
                                     s.cols);
                }
                const ActBatch a{x.data(), xq.data(), T, s.cols};
                const size_t ref_rows = T == 1 ? s.rows : std::min(s.rows, kRefRowsPrefill);
                const int ref_reps = T == 1 ? o.reps : 1;
                const double ref_s =
                        time_median(ref_reps, [&] { ref.matmul(w, a, y.data(), 0, ref_rows); });
                const double simd_s =
                        time_median(o.reps, [&] { simd.matmul(w, a, y.data(), 0, s.rows); });
                const double bytes = static_cast<double>(w.nbytes());
                const double flops = 2.0 * static_cast<double>(s.rows) *
                                     static_cast<double>(s.cols) * static_cast<double>(T);
                const std::string shape = std::to_string(s.rows) + "x" + std::to_string(s.cols);
                print_row("matmul", std::string(dtype_name(type)), shape, T, ref_s,
                          static_cast<double>(s.rows) / static_cast<double>(ref_rows), simd_s,
                          bytes, flops);
                if (o.threads > 1) {
                    const double par_s = time_median(
                            o.reps, [&] { run_split(simd, w, a, y.data(), o.threads); }, true);
                    print_row("matmul " + std::to_string(o.threads) + " threads",
                              std::string(dtype_name(type)), shape, T, ref_s,
                              static_cast<double>(s.rows) / static_cast<double>(ref_rows), par_s,
                              bytes, flops);
                }
            }
        }
    }
}

// ---- the other ops -----------------------------------------------------------------------

void bench_ops(const KernelTable& ref, const KernelTable& simd, const Options& o) {
    Fill f;
    const int reps = o.reps;
    auto both = [&](const std::string& op, const std::string& type, const std::string& shape,
                    double bytes, double flops,
                    const std::function<void(const KernelTable&)>& call) {
        const double r = time_median(reps, [&] { call(ref); });
        const double s = time_median(reps, [&] { call(simd); });
        print_row(op, type, shape, 1, r, 1.0, s, bytes, flops);
    };
    constexpr size_t kDim = 4096, kHidden = 14336, kHeads = 32, kHeadDim = 128, kCtx = 4096;
    std::vector<float> x(kHidden), g(kHidden), out(kHidden);
    for (auto& v : x)
        v = f.uniform();
    for (auto& v : g)
        v = f.uniform();
    // Repeat the small ops so one timed call is well above the clock resolution.
    constexpr int kInner = 200;
    both("rmsnorm x200", "f32", "4096", 200.0 * 3 * 4 * kDim, 200.0 * 3 * kDim,
         [&](const KernelTable& k) {
             for (int i = 0; i < kInner; ++i)
                 k.rmsnorm(out.data(), x.data(), g.data(), kDim, 1e-5f);
         });
    both("swiglu x200", "f32", "14336", 200.0 * 3 * 4 * kHidden, 200.0 * 5 * kHidden,
         [&](const KernelTable& k) {
             for (int i = 0; i < kInner; ++i) {
                 std::memcpy(out.data(), x.data(), kHidden * sizeof(float));
                 k.swiglu(out.data(), g.data(), kHidden);
             }
         });
    std::vector<float> att(kCtx);
    both("softmax x200", "f32", "4096", 200.0 * 3 * 4 * kCtx, 200.0 * 4 * kCtx,
         [&](const KernelTable& k) {
             for (int i = 0; i < kInner; ++i) {
                 std::memcpy(att.data(), x.data(), kCtx * sizeof(float));
                 k.softmax(att.data(), kCtx);
             }
         });
    std::vector<float> cs(kHeadDim), q(kHeads * kHeadDim);
    for (size_t i = 0; i < kHeadDim / 2; ++i) {
        cs[2 * i] = std::cos(0.1f * static_cast<float>(i));
        cs[2 * i + 1] = std::sin(0.1f * static_cast<float>(i));
    }
    both("rope x200", "f32", "32x128", 200.0 * 2 * 4 * kHeads * kHeadDim,
         200.0 * 3 * kHeads * kHeadDim, [&](const KernelTable& k) {
             for (int i = 0; i < kInner; ++i)
                 k.rope(q.data(), kHeads, kHeadDim, cs.data());
         });
    std::vector<BlockQ8_0> xq(kHidden / kQBlock);
    both("quantize_act x200", "q8_0", "14336", 200.0 * 4 * kHidden, 200.0 * 3 * kHidden,
         [&](const KernelTable& k) {
             for (int i = 0; i < kInner; ++i)
                 k.quantize_act(x.data(), xq.data(), kHidden);
         });
    // Attention over a full cache of one KV head: kCtx scores, then kCtx value accumulations.
    for (DType kv : {DType::kF32, DType::kF16}) {
        Buffer cache(kCtx * bytes_for(kv, kHeadDim));
        std::vector<float> row(kHeadDim);
        for (size_t p = 0; p < kCtx; ++p) {
            for (auto& v : row)
                v = f.uniform();
            row_from_f32(kv, row.data(), cache.data() + p * bytes_for(kv, kHeadDim), kHeadDim);
        }
        const double bytes = static_cast<double>(cache.size()), flops = 2.0 * kCtx * kHeadDim;
        both("dot_kv (4096 pos)", std::string(dtype_name(kv)), "128", bytes, flops,
             [&](const KernelTable& k) {
                 for (size_t p = 0; p < kCtx; ++p) {
                     att[p] = k.dot_kv(q.data(), cache.data() + p * bytes_for(kv, kHeadDim), kv,
                                       kHeadDim);
                 }
             });
        both("axpy_kv (4096 pos)", std::string(dtype_name(kv)), "128", bytes, flops,
             [&](const KernelTable& k) {
                 for (size_t p = 0; p < kCtx; ++p) {
                     k.axpy_kv(1e-4f, cache.data() + p * bytes_for(kv, kHeadDim), kv, out.data(),
                               kHeadDim);
                 }
             });
    }
    for (DType type : {DType::kF16, DType::kQ4_0}) {
        TensorView w;
        const Buffer wb = random_weight(type, 64, kDim, f, w);
        both("row_to_f32 x64", std::string(dtype_name(type)), "4096",
             static_cast<double>(w.nbytes()), 0.0, [&](const KernelTable& k) {
                 for (size_t r = 0; r < 64; ++r)
                     k.row_to_f32(w, r, out.data());
             });
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--table" && i + 1 < argc) {
            o.table = argv[++i];
        } else if (a == "--reps" && i + 1 < argc) {
            o.reps = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--threads" && i + 1 < argc) {
            o.threads = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--quick") {
            o.quick = true;
        } else if (a == "--matmul" && i + 1 < argc) {
            o.matmul_type = argv[++i];
            if (o.matmul_type != "f16" && o.matmul_type != "f16x16" && o.matmul_type != "q8_0" &&
                o.matmul_type != "q4_0" && o.matmul_type != "q8_0x16" &&
                o.matmul_type != "q4_0x16") {
                std::fprintf(stderr,
                             "bench_kernels: --matmul takes f16, f16x16, q8_0, q4_0, "
                             "q8_0x16 or q4_0x16\n");
                return 2;
            }
        } else {
            std::fprintf(stderr,
                         "usage: bench_kernels [--table NAME] [--reps N] [--threads N] [--quick] "
                         "[--matmul TYPE]\n");
            return 2;
        }
    }
    try {
        const KernelTable& ref = reference_kernels();
        const KernelTable* simd = o.table.empty() ? &select_kernels() : find_kernels(o.table);
        if (simd == nullptr) {
            std::fprintf(stderr, "bench_kernels: table %s is not available here\n",
                         o.table.c_str());
            return 1;
        }
        std::printf("reference vs %.*s, median of %d (ref at T>1: first %zu rows, scaled)\n\n",
                    static_cast<int>(simd->name.size()), simd->name.data(), o.reps,
                    kRefRowsPrefill);
        print_header();
        if (o.matmul_type.empty())
            bench_ops(ref, *simd, o);
        bench_matmul(ref, *simd, o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_kernels: %s\n", e.what());
        return 1;
    }
    return 0;
}
