// Conversion driver: streams a TensorSource into a ModelWriter one tensor at a time, so the
// peak memory is about two copies of the largest tensor.
#include "convert.h"

#include <algorithm>
#include <set>

#include <mistral/error.h>
#include <mistral/model_writer.h>
#include <mistral/tokenizer.h>
#include <mistral/weights.h>

#include "util/check.h"

namespace mistral::convert {

DType choose_type(const SourceTensor& t, bool is_norm, std::optional<DType> requested,
                  std::string* why) {
    if (is_norm)
        return DType::kF32;
    const bool dequantized = t.note.find("dequantized") != std::string::npos;
    DType want = requested ? *requested : (dequantized ? DType::kQ8_0 : t.type);
    const uint64_t cols = t.shape.empty() ? 0 : t.shape.back();
    if (is_quantized(want) && cols % kQBlock != 0) {
        const DType fallback =
                (t.type == DType::kF16 || t.type == DType::kBF16) ? t.type : DType::kF16;
        if (why) {
            *why = t.name + ": row length " + std::to_string(cols) +
                   " is not a multiple of 32, stored as " + std::string(dtype_name(fallback)) +
                   " instead of " + std::string(dtype_name(want));
        }
        want = fallback;
    }
    return want;
}

DType stored_type(DType t, const ExpectedTensor& e) {
    const bool multiplied = e.shape.size() == 2 && e.name != "tok_embeddings.weight";
    if (!multiplied || e.shape[0] % kX16Rows != 0)
        return t;
    if (t == DType::kQ4_0)
        return DType::kQ4_0x16;
    if (t == DType::kQ8_0)
        return DType::kQ8_0x16;
    if (t == DType::kF16 && e.shape[1] % kF16x16Cols == 0)
        return DType::kF16x16;
    return t;
}

std::vector<std::byte> to_stored(std::vector<std::byte> data, DType stored, size_t rows,
                                 size_t cols) {
    if (!is_interleaved(stored))
        return data;
    MISTRAL_CHECK(rows % kX16Rows == 0, "to_stored: an interleaved matrix needs whole groups");
    std::vector<std::byte> out(data.size());
    interleave_x16(stored, data.data(), out.data(), rows, cols);
    return out;
}

namespace {

// Converts `in` (type `from`, rows x cols) to `to`, row by row through f32.
std::vector<std::byte> convert_rows(const std::vector<std::byte>& in, DType from, DType to,
                                    size_t rows, size_t cols) {
    std::vector<std::byte> out(rows * bytes_for(to, cols));
    std::vector<float> tmp(cols);
    const size_t in_row = bytes_for(from, cols), out_row = bytes_for(to, cols);
    for (size_t r = 0; r < rows; ++r) {
        row_to_f32(from, in.data() + r * in_row, tmp.data(), cols);
        row_from_f32(to, tmp.data(), out.data() + r * out_row, cols);
    }
    return out;
}

void check_cancel(const std::atomic<bool>* cancel) {
    if (cancel != nullptr && cancel->load()) {
        throw Error(Errc::kIo, "interrupted");
    }
}

}  // namespace

ConvertSummary write_model(TensorSource& src, const ConvertOptions& opts) {
    const ModelConfig cfg = src.config();
    cfg.validate();
    const TokenizerModel tok = src.tokenizer();
    if (static_cast<int64_t>(tok.size()) != cfg.vocab_size) {
        throw Error(Errc::kShapeMismatch, "the tokenizer has " + std::to_string(tok.size()) +
                                                  " pieces but the model's vocab_size is " +
                                                  std::to_string(cfg.vocab_size));
    }
    const std::vector<std::byte> tok_blob = serialize_tokenizer(tok);

    // Match every expected tensor to the source, in canonical order.
    const std::vector<ExpectedTensor> expected = expected_tensors(cfg);
    const auto& have = src.tensors();
    std::vector<size_t> source_index;
    std::vector<TensorSpec> specs;
    std::set<std::string> used;
    for (const auto& e : expected) {
        auto it = std::find_if(have.begin(), have.end(),
                               [&](const SourceTensor& s) { return s.name == e.name; });
        if (it == have.end()) {
            throw Error(Errc::kMissingTensor, opts.input.string() + ": missing tensor " + e.name);
        }
        if (it->shape != e.shape) {
            std::string got, want;
            for (auto d : it->shape)
                got += (got.empty() ? "" : ", ") + std::to_string(d);
            for (auto d : e.shape)
                want += (want.empty() ? "" : ", ") + std::to_string(d);
            throw Error(Errc::kShapeMismatch, opts.input.string() + ": tensor " + e.name +
                                                      " has shape [" + got +
                                                      "], the hyperparameters need [" + want + "]");
        }
        std::string why;
        const DType t = choose_type(*it, e.is_norm, opts.type, &why);
        if (!why.empty() && opts.warn)
            opts.warn("note: " + why);
        source_index.push_back(static_cast<size_t>(it - have.begin()));
        specs.push_back({e.name, stored_type(t, e), e.shape});
        used.insert(e.name);
    }
    for (const auto& s : have) {
        if (!used.count(s.name) && opts.warn)
            opts.warn("note: ignoring unused tensor " + s.name);
    }

    ModelWriter writer(opts.output, cfg, tok_blob, specs, opts.overwrite);
    ConvertSummary sum;
    sum.config = cfg;
    for (size_t i = 0; i < specs.size(); ++i) {
        check_cancel(opts.cancel);
        if (opts.progress)
            opts.progress(i, specs.size(), specs[i].name);
        const SourceTensor& st = have[source_index[i]];
        std::vector<std::byte> data = src.read(source_index[i]);
        const size_t rows = specs[i].shape.size() == 2 ? specs[i].shape[0] : 1;
        const size_t cols = specs[i].shape.back();
        if (data.size() != rows * bytes_for(st.type, cols)) {
            throw Error(Errc::kTruncated, opts.input.string() + ": tensor " + st.name + " has " +
                                                  std::to_string(data.size()) +
                                                  " bytes, expected " +
                                                  std::to_string(rows * bytes_for(st.type, cols)));
        }
        const DType plain = plain_type(specs[i].type);
        if (st.type != plain) {
            data = convert_rows(data, st.type, plain, rows, cols);
        }
        data = to_stored(std::move(data), specs[i].type, rows, cols);
        writer.write_tensor(data);
        ++sum.tensors_by_type[specs[i].type];
    }
    check_cancel(opts.cancel);
    if (opts.progress)
        opts.progress(specs.size(), specs.size(), "");
    writer.commit();
    sum.n_tensors = specs.size();
    std::error_code ec;
    sum.file_bytes = std::filesystem::file_size(opts.output, ec);
    return sum;
}

ConvertSummary convert_model(const ConvertOptions& opts) {
    SourceOptions so;
    so.sliding_window = opts.sliding_window;
    so.warn = opts.warn;
    auto src = open_source(opts.input, so);
    return write_model(*src, opts);
}

}  // namespace mistral::convert
