# Cross-build for Linux aarch64 with Debian's gcc-aarch64-linux-gnu; tests run
# under qemu-user (qemu-user-static). CMocka comes from Debian's multiarch
# package libcmocka-dev:arm64 (installed by .ci/run / scripts/test-aarch64).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
# The target libraries come from Debian multiarch (libc6:arm64 in
# /lib/aarch64-linux-gnu, pulled in by libcmocka-dev:arm64), which qemu finds
# by itself. Pointing qemu at the cross sysroot (-L /usr/aarch64-linux-gnu)
# instead makes threaded programs hang in glibc start-up under qemu 7.2.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
