// The NEON table compiled once more for CPUs with the Armv8.2 dot-product extension (CMake gives
// files named *_neon_dotprod.cpp +dotprod): the q8_0/q4_0 block dots use sdot. isa.cpp selects it
// only when the kernel reports HWCAP_ASIMDDP, so the same binary runs on any AArch64 CPU.
#define MISTRAL_NEON_DOTPROD 1
#include "kernels/kernels_neon.cpp"
