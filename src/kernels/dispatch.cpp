// Kernel table selection: the reference table always, ISA tables when built and supported by
// this CPU. Chosen once by the caller (select_kernels), never consulted inside loops.
#include <cstdlib>
#include <string>
#include <vector>

#include <mistral/error.h>
#include <mistral/kernels.h>

#include "kernels/isa.h"

namespace mistral {

namespace {

// The tables this build has and this CPU can run, reference first. ISA tables register here
// (e.g. `if (__builtin_cpu_supports("avx2") && ...) out.push_back(&avx2_kernels());`).
std::vector<const KernelTable*> detect_tables() {
    std::vector<const KernelTable*> out;
    out.push_back(&reference_kernels());
    if (const KernelTable* t = avx2_kernels_if_supported())
        out.push_back(t);
    if (const KernelTable* t = avx512_kernels_if_supported())
        out.push_back(t);
    if (const KernelTable* t = neon_kernels_if_supported())
        out.push_back(t);
    if (const KernelTable* t = neon_dotprod_kernels_if_supported())
        out.push_back(t);
    return out;
}

}  // namespace

std::span<const KernelTable* const> available_kernels() {
    // Immutable after first use (CPU features do not change while we run).
    static const std::vector<const KernelTable*> tables = detect_tables();
    return tables;
}

const KernelTable* find_kernels(std::string_view name) {
    for (const KernelTable* t : available_kernels()) {
        if (t->name == name)
            return t;
    }
    return nullptr;
}

const KernelTable& select_kernels() {
    const char* env = std::getenv("MISTRAL_KERNELS");
    if (env != nullptr && *env != '\0') {
        const KernelTable* t = find_kernels(env);
        if (t == nullptr) {
            std::string names;
            for (const KernelTable* a : available_kernels())
                names += (names.empty() ? "" : ", ") + std::string(a->name);
            throw Error(Errc::kInvalidArgument,
                        "MISTRAL_KERNELS=" + std::string(env) +
                                " is not available here (available: " + names + ")");
        }
        return *t;
    }
    return *available_kernels().back();  // the last is the most capable
}

}  // namespace mistral
