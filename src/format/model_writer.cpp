// Writer for the weight file: metadata built in memory, tensor data streamed, temp + rename.
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <mistral/error.h>
#include <mistral/model_writer.h>
#include <unistd.h>

#include "format/hparams.h"

namespace mistral {

namespace {

uint64_t align_up(uint64_t v, uint64_t a) {
    return (v + a - 1) / a * a;
}

class ByteSink {
public:
    void bytes(const void* p, size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        out.insert(out.end(), b, b + n);
    }
    template <typename T>
    void put(T v) {
        bytes(&v, sizeof v);
    }
    void str16(const std::string& s) {
        put<uint16_t>(static_cast<uint16_t>(s.size()));
        bytes(s.data(), s.size());
    }
    std::vector<std::byte> out;
};

void section(ByteSink& meta, uint32_t tag, const std::vector<std::byte>& payload) {
    meta.put<uint32_t>(tag);
    meta.put<uint32_t>(kSectionRequired);
    meta.put<uint64_t>(payload.size());
    meta.bytes(payload.data(), payload.size());
}

}  // namespace

uint64_t tensor_bytes(const TensorSpec& spec) {
    if (spec.shape.empty() || spec.shape.size() > 2) {
        throw Error(Errc::kBadValue, "tensor " + spec.name + " must have rank 1 or 2");
    }
    const uint64_t cols = spec.shape.back();
    const uint64_t rows = spec.shape.size() == 2 ? spec.shape[0] : 1;
    if (cols % block_size(spec.type) != 0) {
        throw Error(Errc::kBadValue, "tensor " + spec.name + ": row length " +
                                             std::to_string(cols) + " is not a multiple of the " +
                                             std::string(dtype_name(spec.type)) + " block");
    }
    return rows * bytes_for(spec.type, cols);
}

std::vector<std::byte> build_metadata(const ModelConfig& cfg,
                                      std::span<const std::byte> tokenizer_blob,
                                      const std::vector<TensorSpec>& tensors,
                                      std::vector<uint64_t>* offsets, uint64_t* file_size,
                                      const std::map<std::string, HparamValue>& extra_hparams) {
    std::map<std::string, HparamValue> hp = extra_hparams;
    hp["vocab_size"] = cfg.vocab_size;
    hp["dim"] = cfg.dim;
    hp["n_layers"] = cfg.n_layers;
    hp["n_heads"] = cfg.n_heads;
    hp["n_kv_heads"] = cfg.n_kv_heads;
    hp["head_dim"] = cfg.head_dim;
    hp["hidden_dim"] = cfg.hidden_dim;
    hp["norm_eps"] = static_cast<double>(cfg.norm_eps);
    hp["rope_theta"] = static_cast<double>(cfg.rope_theta);
    hp["sliding_window"] = cfg.window;
    hp["max_context"] = cfg.max_context;
    hp["bos_id"] = cfg.bos_id;
    hp["eos_id"] = cfg.eos_id;
    ByteSink hps;
    hps.put<uint32_t>(static_cast<uint32_t>(hp.size()));
    for (const auto& [k, v] : hp) {
        hps.str16(k);
        if (const auto* i = std::get_if<int64_t>(&v)) {
            hps.put<uint8_t>(format::kHparamInt);
            hps.put<int64_t>(*i);
        } else {
            hps.put<uint8_t>(format::kHparamReal);
            hps.put<double>(std::get<double>(v));
        }
    }

    // Tensor offsets are relative to the data section; every tensor starts on a page.
    std::vector<uint64_t> rel(tensors.size());
    uint64_t cursor = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        rel[i] = cursor;
        cursor = align_up(cursor + tensor_bytes(tensors[i]), kDataAlign);
    }
    const uint64_t data_size = tensors.empty() ? 0 : rel.back() + tensor_bytes(tensors.back());

    ByteSink dir;
    dir.put<uint32_t>(static_cast<uint32_t>(tensors.size()));
    for (size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        dir.str16(t.name);
        dir.put<uint32_t>(static_cast<uint32_t>(t.type));
        dir.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
        for (uint64_t d : t.shape)
            dir.put<uint64_t>(d);
        dir.put<uint64_t>(rel[i]);
        dir.put<uint64_t>(tensor_bytes(t));
    }

    ByteSink meta;
    section(meta, kTagHparams, hps.out);
    section(meta, kTagTokenizer,
            std::vector<std::byte>(tokenizer_blob.begin(), tokenizer_blob.end()));
    section(meta, kTagTensors, dir.out);

    const uint64_t data_offset = align_up(kHeaderBytes + meta.out.size(), kDataAlign);
    ByteSink head;
    head.bytes(kFileMagic, sizeof kFileMagic);
    head.put<uint32_t>(kFileVersion);
    head.put<uint32_t>(0);
    head.put<uint64_t>(meta.out.size());
    head.put<uint64_t>(data_offset);
    head.put<uint64_t>(data_size);
    head.out.resize(kHeaderBytes);
    head.bytes(meta.out.data(), meta.out.size());
    head.out.resize(data_offset);  // zero padding up to the data section

    if (offsets) {
        offsets->resize(tensors.size());
        for (size_t i = 0; i < tensors.size(); ++i)
            (*offsets)[i] = data_offset + rel[i];
    }
    if (file_size)
        *file_size = data_offset + data_size;
    return head.out;
}

std::vector<std::byte> build_model_image(const ModelConfig& cfg,
                                         std::span<const std::byte> tokenizer_blob,
                                         const std::vector<TensorSpec>& tensors,
                                         const std::vector<std::vector<std::byte>>& data) {
    std::vector<uint64_t> offsets;
    uint64_t size = 0;
    std::vector<std::byte> img = build_metadata(cfg, tokenizer_blob, tensors, &offsets, &size);
    img.resize(size);
    for (size_t i = 0; i < tensors.size() && i < data.size(); ++i) {
        const size_t n = std::min<size_t>(data[i].size(), tensor_bytes(tensors[i]));
        std::memcpy(img.data() + offsets[i], data[i].data(), n);
    }
    return img;
}

ModelWriter::ModelWriter(std::filesystem::path path, const ModelConfig& cfg,
                         std::span<const std::byte> tokenizer_blob, std::vector<TensorSpec> tensors,
                         bool overwrite, const std::map<std::string, HparamValue>& extra_hparams)
    : path_(std::move(path)), specs_(std::move(tensors)) {
    std::error_code ec;
    if (!overwrite && std::filesystem::exists(path_, ec)) {
        throw Error(Errc::kIo, path_.string() + ": already exists (use --force to overwrite)");
    }
    std::vector<std::byte> meta =
            build_metadata(cfg, tokenizer_blob, specs_, &offsets_, &file_size_, extra_hparams);
    tmp_ = path_;
    tmp_ += ".tmp." + std::to_string(::getpid());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        throw Error(Errc::kIo, path_.string() + ": cannot create: " + std::strerror(errno));
    }
    write_all(meta.data(), meta.size());
}

ModelWriter::~ModelWriter() {
    if (fd_ >= 0)
        ::close(fd_);
    if (!committed_ && !tmp_.empty())
        ::unlink(tmp_.c_str());
}

void ModelWriter::write_all(const void* p, size_t n) {
    const auto* b = static_cast<const char*>(p);
    while (n > 0) {
        const ssize_t w = ::write(fd_, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            throw Error(Errc::kIo, path_.string() + ": write failed: " + std::strerror(errno));
        }
        b += w;
        n -= static_cast<size_t>(w);
        written_ += static_cast<uint64_t>(w);
    }
}

void ModelWriter::write_tensor(std::span<const std::byte> data) {
    if (next_ >= specs_.size()) {
        throw Error(Errc::kInvalidArgument, "more tensors written than declared");
    }
    const TensorSpec& s = specs_[next_];
    if (data.size() != tensor_bytes(s)) {
        throw Error(Errc::kInvalidArgument,
                    "tensor " + s.name + ": got " + std::to_string(data.size()) +
                            " bytes, expected " + std::to_string(tensor_bytes(s)));
    }
    static const char zeros[kDataAlign] = {};
    while (written_ < offsets_[next_]) {
        write_all(zeros, static_cast<size_t>(
                                 std::min<uint64_t>(sizeof zeros, offsets_[next_] - written_)));
    }
    write_all(data.data(), data.size());
    ++next_;
}

void ModelWriter::commit() {
    if (next_ != specs_.size()) {
        throw Error(Errc::kInvalidArgument, "only " + std::to_string(next_) + " of " +
                                                    std::to_string(specs_.size()) +
                                                    " tensors written");
    }
    if (::fsync(fd_) != 0) {
        throw Error(Errc::kIo, path_.string() + ": fsync failed: " + std::strerror(errno));
    }
    if (::close(fd_) != 0) {
        fd_ = -1;
        throw Error(Errc::kIo, path_.string() + ": close failed: " + std::strerror(errno));
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
        throw Error(Errc::kIo, path_.string() + ": rename failed: " + std::strerror(errno));
    }
    committed_ = true;
}

}  // namespace mistral
