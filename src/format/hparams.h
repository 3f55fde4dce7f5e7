// The HPAR section's known keys and their mapping onto ModelConfig (shared by parser and
// writer so both use one list).
#pragma once

#include <cstdint>
#include <string_view>

#include <mistral/config.h>

namespace mistral::format {

inline constexpr uint8_t kHparamInt = 1;
inline constexpr uint8_t kHparamReal = 2;

struct HparamKey {
    std::string_view name;
    bool required;
    bool real;  // stored as f64 (else i64)
};

inline constexpr HparamKey kHparamKeys[] = {
        {"vocab_size", true, false},     {"dim", true, false},          {"n_layers", true, false},
        {"n_heads", true, false},        {"n_kv_heads", true, false},   {"head_dim", true, false},
        {"hidden_dim", true, false},     {"norm_eps", true, true},      {"rope_theta", true, true},
        {"sliding_window", true, false}, {"max_context", false, false}, {"bos_id", false, false},
        {"eos_id", false, false},
};

}  // namespace mistral::format
