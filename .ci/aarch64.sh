#!/usr/bin/env bash
# Cross-builds for AArch64 (the NEON kernel tables) and runs the kernel and model unit tests under
# qemu-aarch64. Needs Debian's g++-aarch64-linux-gnu and qemu-user.
#   .ci/aarch64.sh [build-dir]      (default: build-aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-aarch64}
JOBS=${JOBS:-2}
# Warnings are errors here too, as in every build of .ci/run.
cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=.ci/aarch64-toolchain.cmake \
      -DMISTRAL_WERROR=ON -DMISTRAL_BUILD_TOOLS=OFF -DCMAKE_BUILD_TYPE=Release
make -C "$BUILD" -j"$JOBS" mistral_unit_tests
# Kernels (every table vs the reference: here "neon" and "neon-dotprod"), the reference itself,
# dtype conversions, and the model tests. The CLI tests need to exec aarch64 binaries from a
# shell: not run here.
FILTER='KernelDispatch.*:Tables/*:ReferenceKernels*:Dtype*:DType*:Forward*:Attention*:KvCache*'
qemu-aarch64 "$BUILD/tests/mistral_unit_tests" --gtest_filter="$FILTER" --gtest_brief=1
# Both NEON tables must be in the kernel tests: qemu-aarch64's default CPU ("max") reports the
# dot-product instructions, so the +dotprod table is selected and tested here too.
TESTS=$(qemu-aarch64 "$BUILD/tests/mistral_unit_tests" --gtest_filter='Tables/SimdOps.*' \
    --gtest_list_tests)
for t in neon neon_dotprod; do
  grep -qE "/$t\b" <<<"$TESTS" || { echo "aarch64: $t table missing from the kernel tests" >&2; exit 1; }
done
# A core without the dot-product instructions (Cortex-A53) gets the baseline table only: the
# dispatch test checks that, and the kernel tests run there without SIGILL.
qemu-aarch64 -cpu cortex-a53 "$BUILD/tests/mistral_unit_tests" \
    --gtest_filter='KernelDispatch.*:Tables/*' --gtest_brief=1
A53_TESTS=$(qemu-aarch64 -cpu cortex-a53 "$BUILD/tests/mistral_unit_tests" \
    --gtest_filter='Tables/*' --gtest_list_tests)
if grep -q neon_dotprod <<<"$A53_TESTS"; then
  echo "aarch64: neon-dotprod selected on a CPU without dotprod" >&2; exit 1
fi
echo "aarch64: OK"
