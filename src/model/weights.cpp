#include <mistral/error.h>
#include <mistral/weights.h>

namespace mistral {

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
    const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
    std::vector<ExpectedTensor> out;
    out.push_back({"tok_embeddings.weight", {u(c.vocab_size), u(c.dim)}, false});
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string p = "layers." + std::to_string(l) + ".";
        out.push_back({p + "attention_norm.weight", {u(c.dim)}, true});
        out.push_back({p + "attention.wq.weight", {u(c.q_dim()), u(c.dim)}, false});
        out.push_back({p + "attention.wk.weight", {u(c.kv_dim()), u(c.dim)}, false});
        out.push_back({p + "attention.wv.weight", {u(c.kv_dim()), u(c.dim)}, false});
        out.push_back({p + "attention.wo.weight", {u(c.dim), u(c.q_dim())}, false});
        out.push_back({p + "ffn_norm.weight", {u(c.dim)}, true});
        out.push_back({p + "feed_forward.w1.weight", {u(c.hidden_dim), u(c.dim)}, false});
        out.push_back({p + "feed_forward.w2.weight", {u(c.dim), u(c.hidden_dim)}, false});
        out.push_back({p + "feed_forward.w3.weight", {u(c.hidden_dim), u(c.dim)}, false});
    }
    out.push_back({"norm.weight", {u(c.dim)}, true});
    out.push_back({"output.weight", {u(c.vocab_size), u(c.dim)}, false});
    return out;
}

namespace {

TensorView bind_one(const ModelFile& file, const ExpectedTensor& e) {
    const TensorInfo* t = file.find(e.name);
    if (t == nullptr) {
        throw Error(Errc::kMissingTensor, "missing tensor " + e.name);
    }
    const TensorView& v = t->view;
    const bool ok = e.shape.size() == 1
                            ? (v.ndim == 1 && v.cols == e.shape[0])
                            : (v.ndim == 2 && v.rows == e.shape[0] && v.cols == e.shape[1]);
    if (!ok) {
        std::string want = "[" + std::to_string(e.shape[0]);
        if (e.shape.size() == 2)
            want += ", " + std::to_string(e.shape[1]);
        want += "]";
        throw Error(Errc::kShapeMismatch, "tensor " + e.name + " has shape " + shape_string(v) +
                                                  ", the hyperparameters need " + want);
    }
    if (e.is_norm && v.type != DType::kF32) {
        throw Error(Errc::kUnsupportedType,
                    "tensor " + e.name + " must be f32, not " + std::string(dtype_name(v.type)));
    }
    return v;
}

}  // namespace

Weights bind_weights(const ModelFile& file, const ModelConfig& cfg) {
    const std::vector<ExpectedTensor> list = expected_tensors(cfg);
    Weights w;
    w.layers.resize(static_cast<size_t>(cfg.n_layers));
    size_t i = 0;
    w.tok_embeddings = bind_one(file, list[i++]);
    for (auto& L : w.layers) {
        L.attention_norm = bind_one(file, list[i++]);
        L.wq = bind_one(file, list[i++]);
        L.wk = bind_one(file, list[i++]);
        L.wv = bind_one(file, list[i++]);
        L.wo = bind_one(file, list[i++]);
        L.ffn_norm = bind_one(file, list[i++]);
        L.w1 = bind_one(file, list[i++]);
        L.w2 = bind_one(file, list[i++]);
        L.w3 = bind_one(file, list[i++]);
    }
    w.norm = bind_one(file, list[i++]);
    w.output = bind_one(file, list[i++]);
    return w;
}

}  // namespace mistral
