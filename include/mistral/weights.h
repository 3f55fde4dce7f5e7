// Binding of the file's tensors to the model's structure. expected_tensors() is the ONE list
// of tensor names and shapes: the converter writes it, the loader binds and checks it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <mistral/config.h>
#include <mistral/model_file.h>
#include <mistral/tensor.h>

namespace mistral {

struct LayerWeights {
    TensorView attention_norm;  // [dim] f32
    TensorView wq;              // [q_dim, dim]
    TensorView wk;              // [kv_dim, dim]
    TensorView wv;              // [kv_dim, dim]
    TensorView wo;              // [dim, q_dim]
    TensorView ffn_norm;        // [dim] f32
    TensorView w1;              // [hidden_dim, dim]  gate
    TensorView w2;              // [dim, hidden_dim]  down
    TensorView w3;              // [hidden_dim, dim]  up
};

struct Weights {
    TensorView tok_embeddings;  // [vocab_size, dim]
    std::vector<LayerWeights> layers;
    TensorView norm;    // [dim] f32
    TensorView output;  // [vocab_size, dim]
};

struct ExpectedTensor {
    std::string name;  // Mistral (mistral-src) naming, e.g. "layers.3.attention.wq.weight"
    std::vector<uint64_t> shape;  // [cols] or [rows, cols]
    bool is_norm = false;         // 1-D gain vector: always stored as f32
};

// All tensors of a model with this config, in canonical file order.
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& cfg);

// Binds every expected tensor by name, checking shape and type. Throws kMissingTensor,
// kShapeMismatch or kUnsupportedType (norms must be f32) naming the tensor. Extra tensors
// are ignored.
Weights bind_weights(const ModelFile& file, const ModelConfig& cfg);

}  // namespace mistral
