#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include <mistral/dtype.h>

namespace mistral {

std::string_view dtype_name(DType t) noexcept {
    switch (t) {
        case DType::kF32:
            return "f32";
        case DType::kF16:
            return "f16";
        case DType::kBF16:
            return "bf16";
        case DType::kQ8_0:
            return "q8_0";
        case DType::kQ4_0:
            return "q4_0";
        case DType::kQ4_0x16:
            return "q4_0x16";
        case DType::kQ8_0x16:
            return "q8_0x16";
        case DType::kF16x16:
            return "f16x16";
    }
    return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
    for (uint32_t i = 0; i < kNumDTypes; ++i) {
        if (dtype_valid(i) && dtype_name(static_cast<DType>(i)) == name) {
            return static_cast<DType>(i);
        }
    }
    return std::nullopt;
}

bool dtype_valid(uint32_t code) noexcept {
    return code < kNumDTypes && code != kRetiredF16x16Code;
}

bool is_quantized(DType t) noexcept {
    return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_0x16 || t == DType::kQ8_0x16;
}

bool is_interleaved(DType t) noexcept {
    return t == DType::kQ4_0x16 || t == DType::kQ8_0x16 || t == DType::kF16x16;
}

DType plain_type(DType t) noexcept {
    switch (t) {
        case DType::kQ4_0x16:
            return DType::kQ4_0;
        case DType::kQ8_0x16:
            return DType::kQ8_0;
        case DType::kF16x16:
            return DType::kF16;
        default:
            return t;
    }
}

size_t block_size(DType t) noexcept {
    if (t == DType::kF16x16)
        return kF16x16Cols;
    return is_quantized(t) ? kQBlock : 1;
}

size_t block_bytes(DType t) noexcept {
    switch (t) {
        case DType::kF32:
            return 4;
        case DType::kF16:
        case DType::kBF16:
            return 2;
        case DType::kQ8_0:
        case DType::kQ8_0x16:
            return sizeof(BlockQ8_0);
        case DType::kQ4_0:
        case DType::kQ4_0x16:
            return sizeof(BlockQ4_0);
        case DType::kF16x16:
            return 2 * kF16x16Cols;
    }
    return 0;
}

size_t bytes_for(DType t, size_t n) noexcept {
    return n / block_size(t) * block_bytes(t);
}

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
float f16_to_f32(uint16_t h) noexcept {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {  // Inf / NaN: keep the payload
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {  // normal
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {  // signed zero
        bits = sign;
    } else {  // subnormal: normalise
        uint32_t e = 113;
        while ((mant & 0x400u) == 0) {
            mant <<= 1;
            --e;
        }
        bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    }
    return std::bit_cast<float>(bits);
}

uint16_t f32_to_f16(float f) noexcept {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {  // Inf or NaN (quiet the NaN, keep it a NaN)
        return static_cast<uint16_t>(sign | 0x7c00u |
                                     (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
    }
    if (ax >= 0x477ff000u) {  // rounds to >= 65520: overflow to Inf
        return static_cast<uint16_t>(sign | 0x7c00u);
    }
    if (ax < 0x38800000u) {      // below the smallest normal (2^-14): subnormal or zero
        if (ax < 0x33000000u) {  // < 2^-25 rounds to zero
            return sign;
        }
        const uint32_t e = ax >> 23;
        const uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;  // 14..24 : value = mant * 2^(e-150), want units of 2^-24
        uint32_t q = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) {
            ++q;
        }
        return static_cast<uint16_t>(sign | q);
    }
    // Normal: rebias exponent and round the mantissa to 10 bits (nearest even).
    uint32_t v = ax - 0x38000000u;  // exponent bias 127 -> 15
    const uint32_t rem = v & 0x1fffu;
    v >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) {
        ++v;  // may carry into the exponent, which is still correct
    }
    return static_cast<uint16_t>(sign | v);
}

float bf16_to_f32(uint16_t h) noexcept {
    return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

uint16_t f32_to_bf16(float f) noexcept {
    uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep it quiet
        return static_cast<uint16_t>((x >> 16) | 0x40u);
    }
    x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even
    return static_cast<uint16_t>(x >> 16);
}

void row_to_f32(DType t, const void* src, float* dst, size_t n) noexcept {
    switch (t) {
        case DType::kF32:
            std::memcpy(dst, src, n * sizeof(float));
            return;
        case DType::kF16: {
            const auto* s = static_cast<const uint16_t*>(src);
            for (size_t i = 0; i < n; ++i)
                dst[i] = f16_to_f32(s[i]);
            return;
        }
        case DType::kBF16: {
            const auto* s = static_cast<const uint16_t*>(src);
            for (size_t i = 0; i < n; ++i)
                dst[i] = bf16_to_f32(s[i]);
            return;
        }
        case DType::kQ8_0:
            dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
            return;
        case DType::kQ4_0:
            dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
            return;
        case DType::kQ4_0x16:  // rows are not contiguous: a misuse, made loud
        case DType::kQ8_0x16:
        case DType::kF16x16:
            for (size_t i = 0; i < n; ++i)
                dst[i] = std::numeric_limits<float>::quiet_NaN();
            return;
    }
}

void row_from_f32(DType t, const float* src, void* dst, size_t n) noexcept {
    switch (t) {
        case DType::kF32:
            std::memcpy(dst, src, n * sizeof(float));
            return;
        case DType::kF16: {
            auto* d = static_cast<uint16_t*>(dst);
            for (size_t i = 0; i < n; ++i)
                d[i] = f32_to_f16(src[i]);
            return;
        }
        case DType::kBF16: {
            auto* d = static_cast<uint16_t*>(dst);
            for (size_t i = 0; i < n; ++i)
                d[i] = f32_to_bf16(src[i]);
            return;
        }
        case DType::kQ8_0:
            quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
            return;
        case DType::kQ4_0:
            quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
            return;
        case DType::kQ4_0x16:
        case DType::kQ8_0x16:
        case DType::kF16x16:
            return;
    }
}

}  // namespace mistral
