#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/kv_cache.h>

#include "model/test_models.h"

namespace mistral::test {
namespace {

TEST(KvCache, SlotsWrapAndOverwriteThePositionOneWindowBack) {
    const ModelConfig cfg = tiny_config(4, 2, 16, 4);  // kv_dim 32, 2 layers
    KvCache c(cfg, DType::kF32, 4);
    EXPECT_EQ(c.slot(0), 0u);
    EXPECT_EQ(c.slot(3), 3u);
    EXPECT_EQ(c.slot(4), 0u);
    EXPECT_EQ(c.slot(13), 1u);
    EXPECT_EQ(c.bytes(), 2u * 2u * 4u * 32u * 4u);
    std::vector<float> k(32), v(32);
    for (int64_t pos = 0; pos < 12; ++pos) {
        for (size_t i = 0; i < 32; ++i) {
            k[i] = static_cast<float>(pos * 100 + static_cast<int64_t>(i));
            v[i] = -k[i];
        }
        c.store(1, pos, k.data(), v.data());
        EXPECT_EQ(c.bytes(), 2u * 2u * 4u * 32u * 4u);  // constant
    }
    // Positions 8..11 are present; position 9 (slot 1) replaced 5 and 1.
    float got[32];
    std::memcpy(got, c.key(1, 9), sizeof got);
    EXPECT_EQ(got[0], 900.0f);
    EXPECT_EQ(got[31], 931.0f);
    std::memcpy(got, c.value(1, 5), sizeof got);  // same slot as 9
    EXPECT_EQ(got[2], -902.0f);
    // layer 0 untouched (zero-initialised)
    std::memcpy(got, c.key(0, 9), sizeof got);
    EXPECT_EQ(got[0], 0.0f);
    EXPECT_NE(c.key(0, 1), c.key(1, 1));
    EXPECT_NE(c.key(1, 1), c.value(1, 1));
}

TEST(KvCache, F16StoresRoundedHalves) {
    const ModelConfig cfg = tiny_config(2, 1, 16, 0, 1);  // kv_dim 16, 1 layer
    KvCache c(cfg, DType::kF16, 3);
    EXPECT_EQ(c.row_bytes(), 32u);
    EXPECT_EQ(c.bytes(), 2u * 3u * 32u);
    std::vector<float> k(16, 1.0f / 3.0f), v(16, 65504.0f);
    c.store(0, 7, k.data(), v.data());
    const auto* kh = reinterpret_cast<const uint16_t*>(c.key(0, 7));
    const auto* vh = reinterpret_cast<const uint16_t*>(c.value(0, 1));  // slot 1 too
    EXPECT_EQ(kh[5], 0x3555);                                           // 1/3 in binary16
    EXPECT_EQ(vh[0], 0x7bff);                                           // max finite half
}

TEST(KvCache, RejectsBadTypeAndCapacity) {
    const ModelConfig cfg = tiny_config(2, 1, 16, 0, 1);
    try {
        KvCache c(cfg, DType::kQ8_0, 4);
        FAIL() << "q8_0 cache accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kInvalidArgument);
    }
    EXPECT_THROW(KvCache(cfg, DType::kF32, 0), Error);
}

// A capacity the machine cannot hold is refused when the cache is made, with the sizes in the
// message, instead of being mapped lazily and killed by the OOM killer once the context grows.
TEST(KvCache, RefusesMoreThanPhysicalMemory) {
    const ModelConfig cfg = tiny_config(4, 2, 16, 4);  // kv_dim 32: 256 bytes per f32 row
    for (const int64_t capacity : {int64_t{1} << 40, INT64_MAX}) {  // 512 TiB; size overflow
        try {
            KvCache c(cfg, DType::kF32, capacity);
            FAIL() << "capacity " << capacity << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::kInvalidArgument);
            EXPECT_NE(std::string(e.what()).find("memory"), std::string::npos) << e.what();
        }
    }
    KvCache ok(cfg, DType::kF32, 1 << 16);  // 32 MiB: fine
    EXPECT_EQ(ok.capacity(), 1 << 16);
}

}  // namespace
}  // namespace mistral::test
