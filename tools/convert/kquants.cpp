// K-quant dequantization, written from the block layouts documented in kquants.h.
#include "kquants.h"

#include <cstring>

#include <mistral/dtype.h>

#include "gguf_reader.h"

namespace mistral::convert {

namespace {

// The 12 scale bytes of q4_K/q5_K pack 8 six-bit scales and 8 six-bit mins:
//   bytes 0-3:  low 6 bits = scale 0-3,  top 2 bits = high bits of scale 4-7
//   bytes 4-7:  low 6 bits = min 0-3,    top 2 bits = high bits of min 4-7
//   bytes 8-11: low nibble = low 4 bits of scale 4-7, high nibble = low 4 bits of min 4-7
void scale_min_k4(size_t j, const uint8_t* s, float* scale, float* min) {
    uint8_t sc, m;
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = static_cast<uint8_t>((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
        m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
    *scale = static_cast<float>(sc);
    *min = static_cast<float>(m);
}

}  // namespace

void dequantize_q4_K(const std::byte* src, float* y, size_t n) noexcept {
    for (size_t b = 0; b < n / kQK_K; ++b) {
        BlockQ4K blk;
        std::memcpy(&blk, src + b * sizeof(BlockQ4K), sizeof(BlockQ4K));
        const float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
        // Chunk c (64 values) uses sub-blocks 2c (low nibbles of qs[32c..32c+31]) and 2c+1
        // (high nibbles of the same bytes).
        for (size_t c = 0; c < 4; ++c) {
            const uint8_t* q = blk.qs + 32 * c;
            float sc_lo, m_lo, sc_hi, m_hi;
            scale_min_k4(2 * c, blk.scales, &sc_lo, &m_lo);
            scale_min_k4(2 * c + 1, blk.scales, &sc_hi, &m_hi);
            const float d_lo = d * sc_lo, off_lo = dmin * m_lo;
            const float d_hi = d * sc_hi, off_hi = dmin * m_hi;
            float* out = y + b * kQK_K + 64 * c;
            for (size_t l = 0; l < 32; ++l) {
                out[l] = d_lo * static_cast<float>(q[l] & 0x0f) - off_lo;
                out[l + 32] = d_hi * static_cast<float>(q[l] >> 4) - off_hi;
            }
        }
    }
}

void dequantize_q5_K(const std::byte* src, float* y, size_t n) noexcept {
    for (size_t b = 0; b < n / kQK_K; ++b) {
        BlockQ5K blk;
        std::memcpy(&blk, src + b * sizeof(BlockQ5K), sizeof(BlockQ5K));
        const float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
        for (size_t c = 0; c < 4; ++c) {
            const uint8_t* q = blk.qs + 32 * c;
            const uint8_t bit_lo = static_cast<uint8_t>(1u << (2 * c));
            const uint8_t bit_hi = static_cast<uint8_t>(2u << (2 * c));
            float sc_lo, m_lo, sc_hi, m_hi;
            scale_min_k4(2 * c, blk.scales, &sc_lo, &m_lo);
            scale_min_k4(2 * c + 1, blk.scales, &sc_hi, &m_hi);
            const float d_lo = d * sc_lo, off_lo = dmin * m_lo;
            const float d_hi = d * sc_hi, off_hi = dmin * m_hi;
            float* out = y + b * kQK_K + 64 * c;
            for (size_t l = 0; l < 32; ++l) {
                const int q_lo = (q[l] & 0x0f) + ((blk.qh[l] & bit_lo) ? 16 : 0);
                const int q_hi = (q[l] >> 4) + ((blk.qh[l] & bit_hi) ? 16 : 0);
                out[l] = d_lo * static_cast<float>(q_lo) - off_lo;
                out[l + 32] = d_hi * static_cast<float>(q_hi) - off_hi;
            }
        }
    }
}

void dequantize_q6_K(const std::byte* src, float* y, size_t n) noexcept {
    for (size_t b = 0; b < n / kQK_K; ++b) {
        BlockQ6K blk;
        std::memcpy(&blk, src + b * sizeof(BlockQ6K), sizeof(BlockQ6K));
        const float d = f16_to_f32(blk.d);
        // Two halves of 128 values. In half h, ql[64h + l] holds values l (low nibble) and
        // l+64 (high nibble), ql[64h + 32 + l] values l+32 and l+96; qh[32h + l] holds the
        // top 2 bits of values l, l+32, l+64, l+96 (bits 0-1, 2-3, 4-5, 6-7). Sub-block
        // scales: 16 values each, so value v of the half uses scales[8h + v / 16].
        for (size_t h = 0; h < 2; ++h) {
            const uint8_t* ql = blk.ql + 64 * h;
            const uint8_t* qh = blk.qh + 32 * h;
            const int8_t* sc = blk.scales + 8 * h;
            float* out = y + b * kQK_K + 128 * h;
            for (size_t l = 0; l < 32; ++l) {
                const int q0 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q1 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                const size_t s = l / 16;
                out[l] = d * static_cast<float>(sc[s + 0]) * static_cast<float>(q0);
                out[l + 32] = d * static_cast<float>(sc[s + 2]) * static_cast<float>(q1);
                out[l + 64] = d * static_cast<float>(sc[s + 4]) * static_cast<float>(q2);
                out[l + 96] = d * static_cast<float>(sc[s + 6]) * static_cast<float>(q3);
            }
        }
    }
}

bool dequantize_ggml(uint32_t ggml_type, const std::byte* src, float* y, size_t n) noexcept {
    // The simple types go through the engine's converters one block at a time, copied to an
    // aligned local first (GGUF data need not be aligned for uint16_t).
    DType simple;
    switch (ggml_type) {
        case kGgmlF32:
            simple = DType::kF32;
            break;
        case kGgmlF16:
            simple = DType::kF16;
            break;
        case kGgmlBF16:
            simple = DType::kBF16;
            break;
        case kGgmlQ8_0:
            simple = DType::kQ8_0;
            break;
        case kGgmlQ4_0:
            simple = DType::kQ4_0;
            break;
        case kGgmlQ4_K:
            dequantize_q4_K(src, y, n);
            return true;
        case kGgmlQ5_K:
            dequantize_q5_K(src, y, n);
            return true;
        case kGgmlQ6_K:
            dequantize_q6_K(src, y, n);
            return true;
        default:
            return false;
    }
    const size_t per = block_size(simple) == 1 ? kQBlock : block_size(simple);  // values per step
    alignas(8) std::byte tmp[kQBlock * sizeof(float)];
    for (size_t i = 0; i < n; i += per) {
        const size_t m = n - i < per ? n - i : per;
        const size_t bytes = bytes_for(simple, m);
        std::memcpy(tmp, src + bytes_for(simple, i), bytes);
        row_to_f32(simple, tmp, y + i, m);
    }
    return true;
}

}  // namespace mistral::convert
