# cmake/toolchains/macos-x86_64.cmake - macOS on Intel (x86-64), cross-built
# with zig cc; see macos-zig.cmake and docs/macos.md.
set(VLLSI_MACOS_ARCH x86_64)
include(${CMAKE_CURRENT_LIST_DIR}/macos-zig.cmake)
