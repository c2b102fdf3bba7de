# src/sys/linux/nolibc/nolibc.cmake - the freestanding sys layer
# (VLLSI_NOLIBC), included from the top-level CMakeLists.txt. See
# docs/nolibc.md for what each target gives and costs.
#
#   vllsi_sys_nolibc            the whole sys layer, hosted runtime (mmap)
#   vllsi_sys_nolibc_embedded   the same, heap from the stack arena only
#   vllsi_sys_nolibc_noruntime  the kernel-free part, heap ops -ENOSYS
#   vllsi_nolibc_crt            _start and the TLS layout (start.c, tls_setup.c):
#                               every nolibc program links it; thread_clone.c
#                               uses its TLS functions for new threads
#
# Everything is compiled -ffreestanding -fno-builtin and linked -nostdlib
# -static: the only library a program links besides ours is libgcc, the
# compiler's own runtime (e.g. __popcountdi2 for __builtin_popcountll without
# POPCNT); the ctest nolibc.static check proves that no libc symbol got in.

set(VLLSI_NOLIBC_CFLAGS -ffreestanding -fno-builtin -fno-stack-protector
    -fno-asynchronous-unwind-tables -fno-unwind-tables -ffunction-sections -fdata-sections)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  # Stops gcc turning support.c's byte loops back into memset/memcpy calls.
  list(APPEND VLLSI_NOLIBC_CFLAGS -fno-tree-loop-distribute-patterns)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  # Outline atomics call libgcc helpers that probe the CPU through libc's
  # getauxval in a constructor nobody runs here: inline LL/SC instead.
  list(APPEND VLLSI_NOLIBC_CFLAGS -mno-outline-atomics)
endif()
set(VLLSI_NOLIBC_LDFLAGS -nostdlib -static -no-pie -Wl,--gc-sections)

set(VLLSI_NL_COMMON ${VLLSI_NL_DIR}/support.c)
set(VLLSI_NL_THREADS ${VLLSI_NL_DIR}/thread_clone.c)

# vllsi_nolibc_library(<target> <sources...>): a freestanding static library.
function(vllsi_nolibc_library name)
  add_library(${name} STATIC ${ARGN})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(${name} PRIVATE ${VLLSI_WARNINGS}
      "SHELL:-iquote ${PROJECT_SOURCE_DIR}/src/sys" "SHELL:-iquote ${PROJECT_SOURCE_DIR}/src")
  target_compile_options(${name} PUBLIC ${VLLSI_NOLIBC_CFLAGS})
  target_compile_definitions(${name} PRIVATE VLLSI_BUILDING VLLSI_NOLIBC=1)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_link_options(${name} INTERFACE ${VLLSI_NOLIBC_LDFLAGS})
  target_link_libraries(${name} INTERFACE gcc)
endfunction()

vllsi_nolibc_library(vllsi_sys_nolibc
    ${VLLSI_SYS_SOURCES_HOSTED} ${VLLSI_NL_THREADS} ${VLLSI_NL_COMMON})
vllsi_nolibc_library(vllsi_sys_nolibc_embedded
    ${VLLSI_SYS_SOURCES_EMBEDDED} ${VLLSI_NL_THREADS} ${VLLSI_NL_COMMON})
vllsi_nolibc_library(vllsi_sys_nolibc_noruntime
    ${VLLSI_SYS_SOURCES_NO_RUNTIME} ${VLLSI_NL_COMMON})

add_library(vllsi_nolibc_crt OBJECT ${VLLSI_NL_DIR}/start.c ${VLLSI_NL_DIR}/tls_setup.c)
target_include_directories(vllsi_nolibc_crt PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_options(vllsi_nolibc_crt PRIVATE ${VLLSI_WARNINGS} ${VLLSI_NOLIBC_CFLAGS}
    "SHELL:-iquote ${PROJECT_SOURCE_DIR}/src/sys" "SHELL:-iquote ${PROJECT_SOURCE_DIR}/src")
target_compile_definitions(vllsi_nolibc_crt PRIVATE VLLSI_BUILDING VLLSI_NOLIBC=1)
set_target_properties(vllsi_nolibc_crt PROPERTIES POSITION_INDEPENDENT_CODE OFF)

# The engine without libc: the core, the reactor, the epoll and sync drivers
# and the callback loop, from their hosted sources unchanged, over
# engine_libc.c (the C library functions they call, made from raw system
# calls) and engine_drivers.c (io_uring and sim answer "not here", so AUTO
# falls back to epoll). A program links it instead of vllsi_sys_nolibc.
if(TRUE) # needs no liburing: built whenever VLLSI_NOLIBC is
  add_library(vllsi_engine_nolibc STATIC
      src/engine/engine.c src/engine/ops.c src/engine/reactor.c src/engine/timer_heap.c
      src/engine/workers.c src/engine/statx.c
      src/engine/loop.c src/drivers/epoll.c src/drivers/sync.c
      ${VLLSI_NL_DIR}/engine_libc.c ${VLLSI_NL_DIR}/engine_drivers.c)
  target_include_directories(vllsi_engine_nolibc PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(vllsi_engine_nolibc PRIVATE ${VLLSI_WARNINGS} ${VLLSI_NOLIBC_CFLAGS}
      "SHELL:-iquote ${PROJECT_SOURCE_DIR}/src/engine" "SHELL:-iquote ${PROJECT_SOURCE_DIR}/src/sys"
      "SHELL:-iquote ${PROJECT_SOURCE_DIR}/src")
  target_compile_definitions(vllsi_engine_nolibc PRIVATE VLLSI_BUILDING VLLSI_NOLIBC=1)
  set_target_properties(vllsi_engine_nolibc PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_link_libraries(vllsi_engine_nolibc PUBLIC vllsi_sys_nolibc)
endif()
