// Private to src/kernels: the ISA tables and their runtime detection. The tables themselves live
// in their ISA translation units (kernels_avx2.cpp, kernels_avx512.cpp, kernels_neon.cpp and
// kernels_neon_dotprod.cpp); the detection functions live in isa.cpp, which is compiled for the
// baseline ISA so calling them can never SIGILL.
#pragma once

#include <string_view>

#include <mistral/kernels.h>

namespace mistral {

// The AVX2+FMA+F16C table if this build has it and this CPU supports all three; else nullptr.
// The CPU is queried once (cpuid via __builtin_cpu_supports).
const KernelTable* avx2_kernels_if_supported() noexcept;

// The AVX-512 table (F, BW, VL, VNNI, VBMI, plus everything the AVX2 table needs) if this build
// has it and this CPU (and OS: zmm state enabled) supports all of it; else nullptr.
const KernelTable* avx512_kernels_if_supported() noexcept;

// The NEON table if this build has it (aarch64: NEON is baseline); else nullptr.
const KernelTable* neon_kernels_if_supported() noexcept;

// The NEON table built with +dotprod (sdot) if this build has it and the CPU reports the
// dot-product instructions (Linux: HWCAP_ASIMDDP from the auxiliary vector); else nullptr.
const KernelTable* neon_dotprod_kernels_if_supported() noexcept;

// True if the table `name` ("avx2", "avx512", "neon", "neon-dotprod") was compiled into this build
// (MISTRAL_SIMD and the target architecture), whether or not this CPU can run it. Used by tests to
// make sure a table that should be available is not silently missing.
bool isa_compiled_in(std::string_view name) noexcept;

// Defined in the ISA translation units; only call after the CPU check above.
const KernelTable& avx2_kernels() noexcept;
const KernelTable& avx512_kernels() noexcept;
const KernelTable& neon_kernels() noexcept;
const KernelTable& neon_dotprod_kernels() noexcept;

}  // namespace mistral
