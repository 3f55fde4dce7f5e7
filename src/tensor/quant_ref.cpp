// Reference q8_0 / q4_0 quantizers: the definition of the block formats (docs/FORMAT.md).
#include <algorithm>
#include <cmath>
#include <cstring>

#include <mistral/dtype.h>

namespace mistral {

// q8_0: d = max|x| / 127 (stored as f16), q = round(x / d) in [-127, 127].
void quantize_row_q8_0(const float* x, BlockQ8_0* out, size_t n) noexcept {
    for (size_t b = 0; b < n / kQBlock; ++b) {
        const float* xb = x + b * kQBlock;
        float amax = 0.0f;
        for (size_t i = 0; i < kQBlock; ++i)
            amax = std::max(amax, std::fabs(xb[i]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        out[b].d = f32_to_f16(d);
        for (size_t i = 0; i < kQBlock; ++i) {
            out[b].qs[i] =
                    static_cast<int8_t>(std::clamp(std::nearbyint(xb[i] * id), -127.0f, 127.0f));
        }
    }
}

// q4_0: the value of largest magnitude m maps to -8: d = m / -8, q = clamp(round(x/d) + 8, 0, 15).
// Using the signed extreme (not |m|) spends the asymmetric 16th level on the larger side.
void quantize_row_q4_0(const float* x, BlockQ4_0* out, size_t n) noexcept {
    for (size_t b = 0; b < n / kQBlock; ++b) {
        const float* xb = x + b * kQBlock;
        float m = 0.0f;
        for (size_t i = 0; i < kQBlock; ++i) {
            if (std::fabs(xb[i]) > std::fabs(m))
                m = xb[i];
        }
        const float d = m / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        out[b].d = f32_to_f16(d);
        for (size_t j = 0; j < kQBlock / 2; ++j) {
            const float lo = std::clamp(std::nearbyint(xb[j] * id) + 8.0f, 0.0f, 15.0f);
            const float hi =
                    std::clamp(std::nearbyint(xb[j + kQBlock / 2] * id) + 8.0f, 0.0f, 15.0f);
            out[b].qs[j] = static_cast<uint8_t>(static_cast<unsigned>(lo) |
                                                (static_cast<unsigned>(hi) << 4));
        }
    }
}

void dequantize_row_q8_0(const BlockQ8_0* in, float* y, size_t n) noexcept {
    for (size_t b = 0; b < n / kQBlock; ++b) {
        const float d = f16_to_f32(in[b].d);
        for (size_t i = 0; i < kQBlock; ++i)
            y[b * kQBlock + i] = d * static_cast<float>(in[b].qs[i]);
    }
}

void dequantize_row_q4_0(const BlockQ4_0* in, float* y, size_t n) noexcept {
    for (size_t b = 0; b < n / kQBlock; ++b) {
        const float d = f16_to_f32(in[b].d);
        for (size_t j = 0; j < kQBlock / 2; ++j) {
            y[b * kQBlock + j] = d * static_cast<float>((in[b].qs[j] & 0x0f) - 8);
            y[b * kQBlock + j + kQBlock / 2] = d * static_cast<float>((in[b].qs[j] >> 4) - 8);
        }
    }
}

// ---- q4_0x16 / q8_0x16: the layouts are defined by these (docs/FORMAT.md) --------------------

namespace {

// Offsets inside one group block: row r's scale, and its quant byte i.
constexpr size_t x16_scale_at(size_t r) {
    return 2 * r;
}
constexpr size_t x16_qs_at(size_t r, size_t i) {
    return 2 * kX16Rows + 64 * (i / 4) + 4 * r + i % 4;
}

template <class Block>
void interleave_x16(const void* in, void* out, size_t rows, size_t n_blocks) {
    const auto* src = static_cast<const Block*>(in);
    auto* dst = static_cast<uint8_t*>(out);
    for (size_t g = 0; g < rows / kX16Rows; ++g) {
        for (size_t k = 0; k < n_blocks; ++k) {
            uint8_t* o = dst + (g * n_blocks + k) * kX16Rows * sizeof(Block);
            for (size_t r = 0; r < kX16Rows; ++r) {
                const Block& b = src[(g * kX16Rows + r) * n_blocks + k];
                std::memcpy(o + x16_scale_at(r), &b.d, 2);
                for (size_t i = 0; i < sizeof b.qs; ++i)
                    std::memcpy(o + x16_qs_at(r, i), &b.qs[i], 1);
            }
        }
    }
}

template <class Block>
Block x16_block(const void* data, size_t n_blocks, size_t r, size_t k) {
    const auto* o = static_cast<const uint8_t*>(data) +
                    ((r / kX16Rows) * n_blocks + k) * kX16Rows * sizeof(Block);
    const size_t lane = r % kX16Rows;
    Block b;
    std::memcpy(&b.d, o + x16_scale_at(lane), 2);
    for (size_t i = 0; i < sizeof b.qs; ++i)
        std::memcpy(&b.qs[i], o + x16_qs_at(lane, i), 1);
    return b;
}

}  // namespace

void interleave_q4_0x16(const void* in, void* out, size_t rows, size_t n_blocks) noexcept {
    interleave_x16<BlockQ4_0>(in, out, rows, n_blocks);
}
BlockQ4_0 q4_0x16_block(const void* data, size_t n_blocks, size_t r, size_t k) noexcept {
    return x16_block<BlockQ4_0>(data, n_blocks, r, k);
}
void interleave_q8_0x16(const void* in, void* out, size_t rows, size_t n_blocks) noexcept {
    interleave_x16<BlockQ8_0>(in, out, rows, n_blocks);
}
BlockQ8_0 q8_0x16_block(const void* data, size_t n_blocks, size_t r, size_t k) noexcept {
    return x16_block<BlockQ8_0>(data, n_blocks, r, k);
}

// ---- f16x16 (docs/FORMAT.md) --------------------------------------------------------------------

namespace {

// Index (in f16 values) of value (r, k) in an f16x16 matrix of `cols` columns.
constexpr size_t f16x16_index(size_t cols, size_t r, size_t k) {
    return (r / kX16Rows) * kX16Rows * cols + k * kX16Rows + r % kX16Rows;
}

}  // namespace

void interleave_f16x16(const void* in, void* out, size_t rows, size_t cols) noexcept {
    const auto* src = static_cast<const uint8_t*>(in);
    auto* dst = static_cast<uint8_t*>(out);
    for (size_t g = 0; g < rows / kX16Rows; ++g) {  // group by group, in the output's order
        const uint8_t* s = src + 2 * g * kX16Rows * cols;
        uint8_t* d = dst + 2 * f16x16_index(cols, g * kX16Rows, 0);
        for (size_t k = 0; k < cols; ++k) {
            for (size_t r = 0; r < kX16Rows; ++r, d += 2)
                std::memcpy(d, s + 2 * (r * cols + k), 2);
        }
    }
}

uint16_t f16x16_value(const void* data, size_t cols, size_t r, size_t k) noexcept {
    uint16_t v;
    std::memcpy(&v, static_cast<const uint8_t*>(data) + 2 * f16x16_index(cols, r, k), 2);
    return v;
}

void interleave_x16(DType t, const void* in, void* out, size_t rows, size_t cols) noexcept {
    if (t == DType::kQ4_0x16)
        interleave_q4_0x16(in, out, rows, cols / kQBlock);
    else if (t == DType::kQ8_0x16)
        interleave_q8_0x16(in, out, rows, cols / kQBlock);
    else if (t == DType::kF16x16)
        interleave_f16x16(in, out, rows, cols);
}

}  // namespace mistral
