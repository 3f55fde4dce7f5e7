#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/kv_cache.h>
#include <unistd.h>

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
    // Positions 8..11 are present; position 9 (slot 1) replaced 5 and 1. Head 0 holds values
    // 0..15 of the row, head 1 values 16..31.
    float got[16];
    std::memcpy(got, c.key(1, 0, 9), sizeof got);
    EXPECT_EQ(got[0], 900.0f);
    EXPECT_EQ(got[15], 915.0f);
    std::memcpy(got, c.key(1, 1, 9), sizeof got);
    EXPECT_EQ(got[0], 916.0f);
    EXPECT_EQ(got[15], 931.0f);
    std::memcpy(got, c.value(1, 1, 5), sizeof got);  // same slot as 9
    EXPECT_EQ(got[2], -918.0f);
    // layer 0 untouched (zero-initialised)
    std::memcpy(got, c.key(0, 0, 9), sizeof got);
    EXPECT_EQ(got[0], 0.0f);
    EXPECT_NE(c.key(0, 0, 1), c.key(1, 0, 1));
    EXPECT_NE(c.key(1, 0, 1), c.value(1, 0, 1));
    EXPECT_NE(c.key(1, 0, 1), c.key(1, 1, 1));
}

TEST(KvCache, RowsOfOneHeadAreContiguousUpToTheWrap) {
    // Attention reads a head's keys as runs of rows head_bytes() apart.
    const ModelConfig cfg = tiny_config(4, 2, 16, 4);  // 2 KV heads of 16, 2 layers
    KvCache c(cfg, DType::kF32, 4);
    EXPECT_EQ(c.head_bytes(), 16u * 4u);
    EXPECT_EQ(c.row_bytes(), 32u * 4u);
    for (size_t layer = 0; layer < 2; ++layer) {
        for (size_t h = 0; h < 2; ++h) {
            for (int64_t pos = 4; pos < 7; ++pos) {  // slots 0..2 -> 1..3
                EXPECT_EQ(c.key(layer, h, pos + 1) - c.key(layer, h, pos),
                          static_cast<ptrdiff_t>(c.head_bytes()));
                EXPECT_EQ(c.value(layer, h, pos + 1) - c.value(layer, h, pos),
                          static_cast<ptrdiff_t>(c.head_bytes()));
            }
        }
    }
    // store_rows takes rows as the forward pass holds them: [kv_dim], heads in order.
    std::vector<float> k(32), v(32);
    for (size_t i = 0; i < 32; ++i) {
        k[i] = static_cast<float>(i);
        v[i] = 100.0f + static_cast<float>(i);
    }
    c.store_rows(0, 6, reinterpret_cast<const std::byte*>(k.data()),
                 reinterpret_cast<const std::byte*>(v.data()));
    float got[16];
    std::memcpy(got, c.key(0, 1, 6), sizeof got);
    EXPECT_EQ(got[0], 16.0f);
    std::memcpy(got, c.value(0, 0, 2), sizeof got);  // slot 2 as well
    EXPECT_EQ(got[15], 115.0f);
}

TEST(KvCache, F16StoresRoundedHalves) {
    const ModelConfig cfg = tiny_config(2, 1, 16, 0, 1);  // kv_dim 16, 1 layer
    KvCache c(cfg, DType::kF16, 3);
    EXPECT_EQ(c.row_bytes(), 32u);
    EXPECT_EQ(c.bytes(), 2u * 3u * 32u);
    std::vector<float> k(16, 1.0f / 3.0f), v(16, 65504.0f);
    c.store(0, 7, k.data(), v.data());
    const auto* kh = reinterpret_cast<const uint16_t*>(c.key(0, 0, 7));
    const auto* vh = reinterpret_cast<const uint16_t*>(c.value(0, 0, 1));  // slot 1 too
    EXPECT_EQ(kh[5], 0x3555);                                              // 1/3 in binary16
    EXPECT_EQ(vh[0], 0x7bff);                                              // max finite half
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

// Resident memory follows the positions written, one page per (layer, head) run at first, and
// stops growing at W slots: writing the next W positions replaces rows in place.
TEST(KvCache, ResidentMemoryGrowsWithPositionsAndStopsAtW) {
    const int64_t W = 4096;
    const ModelConfig cfg = tiny_config(4, 2, 128, W);  // 2 layers x 2 kv heads x 128, 8 MiB
    KvCache c(cfg, DType::kF32, W);
    const long page_size = ::sysconf(_SC_PAGESIZE);
    ASSERT_GT(page_size, 0);
    const size_t page = static_cast<size_t>(page_size);
    EXPECT_EQ(c.resident_bytes(), 0u);
    std::vector<float> k(256, 1.0f), v(256, 2.0f);
    for (size_t l = 0; l < 2; ++l)
        c.store(l, 0, k.data(), v.data());
    EXPECT_EQ(c.resident_bytes(), 2u * 2u * 2u * page);  // K and V x 2 layers x 2 heads
    for (int64_t pos = 1; pos < W; ++pos) {
        for (size_t l = 0; l < 2; ++l)
            c.store(l, pos, k.data(), v.data());
    }
    EXPECT_EQ(c.resident_bytes(), c.bytes());
    for (int64_t pos = W; pos < 2 * W; ++pos) {
        for (size_t l = 0; l < 2; ++l)
            c.store(l, pos, k.data(), v.data());
    }
    EXPECT_EQ(c.resident_bytes(), c.bytes());
}

}  // namespace
}  // namespace mistral::test
