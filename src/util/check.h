// Always-on invariant checks for OUR bugs (never for input a user or file controls: throw
// mistral::Error for those). MISTRAL_DCHECK compiles out with NDEBUG.
#pragma once

#include <cstdio>
#include <cstdlib>

#define MISTRAL_CHECK(cond, msg)                                                                \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            std::fprintf(stderr, "%s:%d: internal check failed: %s (%s)\n", __FILE__, __LINE__, \
                         #cond, msg);                                                           \
            std::abort();                                                                       \
        }                                                                                       \
    } while (0)

#ifdef NDEBUG
#define MISTRAL_DCHECK(cond, msg) \
    do {                          \
    } while (0)
#else
#define MISTRAL_DCHECK(cond, msg) MISTRAL_CHECK(cond, msg)
#endif
