// Binding of mapped input tensors to our tensor list, and helpers shared by the hf and native
// sources.
#include "mapped_source.h"

#include <cstring>

#include <mistral/error.h>
#include <mistral/weights.h>

#include "util/check.h"

namespace mistral::convert {

namespace {

std::string shape_str(const std::vector<uint64_t>& s) {
    std::string out = "[";
    for (size_t k = 0; k < s.size(); ++k) {
        if (k > 0)
            out += ", ";
        out += std::to_string(s[k]);
    }
    return out + "]";
}

}  // namespace

void MappedSource::bind(const std::function<const RawTensor*(const std::string&)>& lookup,
                        const std::function<std::string(const std::string&)>& origin_name,
                        const std::function<size_t(const std::string&)>& unpermute_heads,
                        const std::string& where) {
    tensors_.clear();
    entries_.clear();
    for (const ExpectedTensor& e : expected_tensors(cfg_)) {
        const RawTensor* raw = lookup(e.name);
        if (raw == nullptr) {
            throw Error(Errc::kMissingTensor, where + ": missing tensor " + origin_name(e.name));
        }
        if (raw->shape != e.shape) {
            throw Error(Errc::kShapeMismatch,
                        where + ": tensor " + raw->origin + " has shape " + shape_str(raw->shape) +
                                ", the hyperparameters need " + shape_str(e.shape));
        }
        uint64_t numel = 1;
        for (const uint64_t d : e.shape)
            numel *= d;  // shapes were validated by the config
        MISTRAL_CHECK(raw->bytes.size() == bytes_for(raw->type, static_cast<size_t>(numel)),
                      "a source produced a tensor whose byte size disagrees with its shape");
        SourceTensor t;
        t.name = e.name;
        t.type = raw->type;
        t.shape = e.shape;
        tensors_.push_back(std::move(t));
        entries_.push_back({raw->bytes, unpermute_heads(e.name), raw->check});
    }
}

std::vector<std::byte> MappedSource::read(size_t i) {
    MISTRAL_CHECK(i < entries_.size(), "tensor index out of range");
    const Entry& e = entries_[i];
    if (e.check != nullptr && !e.check->done) {
        e.check->verify();
        e.check->done = true;
    }
    std::vector<std::byte> out(e.bytes.begin(), e.bytes.end());
    if (e.unpermute_heads > 0) {
        const size_t rows = static_cast<size_t>(tensors_[i].shape[0]);
        unpermute_hf_rows(out.data(), rows, out.size() / rows, e.unpermute_heads);
    }
    return out;
}

Json read_json_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw Error(Errc::kIo, path.string() + ": no such file");
    }
    const MappedFile map = MappedFile::open(path);
    const auto b = map.bytes();
    try {
        return Json::parse(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    } catch (const Error& e) {
        throw with_context(e, path.string());
    }
}

TokenizerModel read_tokenizer_model(const std::filesystem::path& dir) {
    const std::filesystem::path path = dir / "tokenizer.model";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw Error(Errc::kIo,
                    path.string() + ": no such file (the SentencePiece tokenizer is required)");
    }
    const MappedFile map = MappedFile::open(path);
    try {
        return parse_sentencepiece_model(map.bytes());
    } catch (const Error& e) {
        throw with_context(e, path.string());
    }
}

std::optional<int64_t> get_int(const Json& obj, std::string_view key) {
    const Json* v = obj.find(key);
    if (v == nullptr || v->is_null())
        return std::nullopt;
    if (!v->is_int())
        throw Error(Errc::kBadValue, std::string(key) + " must be an integer, got " + v->dump());
    return v->as_int();
}

std::optional<double> get_double(const Json& obj, std::string_view key) {
    const Json* v = obj.find(key);
    if (v == nullptr || v->is_null())
        return std::nullopt;
    if (!v->is_number())
        throw Error(Errc::kBadValue, std::string(key) + " must be a number, got " + v->dump());
    return v->as_double();
}

int64_t require_int(const Json& obj, std::string_view key) {
    const auto v = get_int(obj, key);
    if (!v)
        throw Error(Errc::kBadValue, "missing " + std::string(key));
    return *v;
}

void finish_config(ModelConfig& cfg, const SourceOptions& opts, const std::string& where) {
    if (opts.sliding_window)
        cfg.window = *opts.sliding_window;
    try {
        cfg.validate();
    } catch (const Error& e) {
        throw with_context(e, where);
    }
}

}  // namespace mistral::convert
