# cmake/toolchains/macos-zig-rules.cmake - CMAKE_USER_MAKE_RULES_OVERRIDE of
# macos-zig.cmake: read after CMake's Apple platform files, so these win.
#
# The compiler checks pass "-v -Wl,-v"; zig's linker rejects -v.
set(CMAKE_C_VERBOSE_FLAG "-v")
# Archives: zig bundles llvm-ar and llvm-ranlib as subcommands. CMake wants a
# single program for CMAKE_AR, so the archive rules name the subcommands.
set(CMAKE_C_ARCHIVE_CREATE "\"${VLLSI_ZIG}\" ar qc <TARGET> <LINK_FLAGS> <OBJECTS>")
set(CMAKE_C_ARCHIVE_APPEND "\"${VLLSI_ZIG}\" ar q <TARGET> <LINK_FLAGS> <OBJECTS>")
set(CMAKE_C_ARCHIVE_FINISH "\"${VLLSI_ZIG}\" ranlib <TARGET>")
