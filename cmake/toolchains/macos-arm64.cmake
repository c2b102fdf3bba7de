# cmake/toolchains/macos-arm64.cmake - macOS on Apple silicon (arm64),
# cross-built with zig cc; see macos-zig.cmake and docs/macos.md.
set(VLLSI_MACOS_ARCH arm64)
include(${CMAKE_CURRENT_LIST_DIR}/macos-zig.cmake)
