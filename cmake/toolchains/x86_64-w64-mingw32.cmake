# Cross-build for Windows x64 with Debian's mingw-w64 (gcc-mingw-w64-x86-64);
# the tests run under Wine (wine64). The -posix compiler flavour is used
# because the test suites create foreign threads with pthread_create
# (winpthreads); the library itself only calls kernel32/ntdll/ws2_32.
#
# Everything is linked statically (libgcc, libwinpthread, CMocka), so the
# .exe files run under Wine without copying MinGW DLLs next to them.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -Wl,-Bstatic -lwinpthread -Wl,-Bdynamic")
# pkg-config must never hand the cross build a host (Linux) library.
set(ENV{PKG_CONFIG_LIBDIR} "")
# Wine runs the tests; WINEDEBUG=-all keeps its fixme chatter out of the logs.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/lib/wine/wine64)
