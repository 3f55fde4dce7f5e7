#!/usr/bin/env bash
# Enforces docs/ARCHITECTURE.md's layering with a grep over #include lines:
# the library never includes the CLI or tools; kernels know nothing of model/tokenizer;
# the tokenizer and sampler know nothing of tensors/kernels/model; only src/kernels uses ISA macros.
set -euo pipefail
fail=0
check() {  # check DIR REGEX WHY
  local hits
  hits=$(grep -rnE "$2" $1 2>/dev/null || true)
  if [ -n "$hits" ]; then echo "layering: $3"; echo "$hits"; fail=1; fi
}
check "src/util src/io src/format src/tensor src/kernels src/model src/tokenizer src/sampler src/runtime include" \
      '#include "(cli|convert)/' "the library must not include cli/ or tools/"
check "src/kernels" '#include <mistral/(model|session|kv_cache|tokenizer|sampler|generate)\.h>' "kernels know nothing of the model or text"
check "src/tokenizer src/sampler" '#include <mistral/(kernels|model|session|kv_cache|tensor)\.h>' "tokenizer/sampler know nothing of tensors"
hits=$(grep -rnE 'std::(cout|cerr)|fprintf\(stderr|[^nf]printf\(' src include --include=*.cpp --include=*.h | grep -vE '^src/(cli|util/check\.h)' || true)
if [ -n "$hits" ]; then echo "layering: only the CLI prints"; echo "$hits"; fail=1; fi
hits=$(grep -rnE '__AVX2__|__ARM_NEON|immintrin\.h|arm_neon\.h' src include tools --include=*.cpp --include=*.h | grep -v '^src/kernels/' || true)
if [ -n "$hits" ]; then echo "layering: ISA code outside src/kernels"; echo "$hits"; fail=1; fi
exit $fail
