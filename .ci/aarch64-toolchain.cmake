# Cross-compiling for AArch64 Linux with Debian's g++-aarch64-linux-gnu; binaries are linked
# statically so qemu-aarch64 (Debian's qemu-user) runs them without an aarch64 sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# gtest_discover_tests and ctest run the test binaries through the emulator.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
# The host's GoogleTest is x86-64: build it from Debian's googletest sources instead.
set(MISTRAL_GTEST_FROM_SOURCE ON CACHE BOOL "" FORCE)
