// Runtime ISA detection, compiled for the baseline ISA (never with -mavx2): it decides whether
// the AVX2 table may be used at all, so it must itself run on any x86-64.
#include "kernels/isa.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace mistral {

#if defined(__aarch64__) && defined(__linux__)
// Linux's AArch64 hwcap bit for the dot-product instructions (asm/hwcap.h: HWCAP_ASIMDDP).
constexpr unsigned long kHwcapAsimdDp = 1ul << 20;
#endif

const KernelTable* avx2_kernels_if_supported() noexcept {
#if defined(MISTRAL_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
    // FMA and F16C are separate CPUID bits from AVX2; the table uses all three.
    static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                                  __builtin_cpu_supports("f16c");
    return supported ? &avx2_kernels() : nullptr;
#else
    return nullptr;
#endif
}

const KernelTable* avx512_kernels_if_supported() noexcept {
#if defined(MISTRAL_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
    // __builtin_cpu_supports reports AVX-512 features only when the OS saves the zmm state.
    static const bool supported =
            avx2_kernels_if_supported() != nullptr && __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
    return supported ? &avx512_kernels() : nullptr;
#else
    return nullptr;
#endif
}

const KernelTable* neon_kernels_if_supported() noexcept {
#if defined(MISTRAL_HAVE_NEON) && defined(__aarch64__)
    return &neon_kernels();  // Advanced SIMD is mandatory on AArch64
#else
    return nullptr;
#endif
}

const KernelTable* neon_dotprod_kernels_if_supported() noexcept {
#if defined(MISTRAL_HAVE_NEON) && defined(__aarch64__) && defined(__linux__)
    static const bool supported = (::getauxval(AT_HWCAP) & kHwcapAsimdDp) != 0;
    return supported ? &neon_dotprod_kernels() : nullptr;
#else
    return nullptr;
#endif
}

bool isa_compiled_in(std::string_view name) noexcept {
#if defined(MISTRAL_HAVE_AVX2)
    if (name == "avx2")
        return true;
#endif
#if defined(MISTRAL_HAVE_AVX512)
    if (name == "avx512")
        return true;
#endif
#if defined(MISTRAL_HAVE_NEON)
    if (name == "neon")
        return true;
#endif
#if defined(MISTRAL_HAVE_NEON) && defined(__linux__)
    if (name == "neon-dotprod")
        return true;
#endif
    (void)name;
    return false;
}

}  // namespace mistral
