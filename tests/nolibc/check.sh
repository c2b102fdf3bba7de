#!/bin/sh
# tests/nolibc/check.sh - binary checks for the nolibc programs (ctest
# nolibc.static and nolibc.noruntime_syscalls). The tools come from CMake,
# so a cross build uses the cross binutils.
#
#   check.sh static   NM READELF OBJDUMP AR BINARY...
#       each BINARY is a static executable with no undefined symbol, no
#       PT_INTERP, no dynamic section and none of libc's symbols.
#   check.sh static-ours NM READELF OBJDUMP AR BINARY...
#       the same for a binary with our own libc-named functions (the nolibc
#       engine): static, and its link map names no C library.
#   check.sh syscalls NM READELF OBJDUMP AR NORUNTIME_BIN NORUNTIME_LIB FULL_BIN FULL_LIB
#       the library members NORUNTIME_BIN's link map (NORUNTIME_BIN.map) pulled
#       from NORUNTIME_LIB contain no system call instruction, while those
#       FULL_BIN pulled from FULL_LIB do (so the check is shown to bite).
set -eu
mode=$1 NM=$2 READELF=$3 OBJDUMP=$4 AR=$5
shift 5
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# Symbols only a C library defines; any of them in a binary means libc got in.
LIBC_SYMS='__libc_start_main __libc_csu_init __libc_setup_tls _IO_stdin_used
_dl_relocate_static_pie __errno_location errno environ malloc calloc realloc
free printf fprintf puts abort exit _exit raise getauxval getenv strerror
pthread_create pthread_join __stack_chk_fail __stack_chk_guard'

check_static() {
    bin=$1
    und=$("$NM" -u "$bin")
    [ -z "$und" ] || bad "$bin has undefined symbols: $und"
    "$READELF" -hW "$bin" | grep -q 'Type:[[:space:]]*EXEC' || bad "$bin is not a static EXEC"
    ! "$READELF" -lW "$bin" | grep -q 'INTERP' || bad "$bin has PT_INTERP"
    ! "$READELF" -lW "$bin" | grep -q 'DYNAMIC' || bad "$bin has PT_DYNAMIC"
    "$READELF" -dW "$bin" | grep -q 'no dynamic section' || bad "$bin has a dynamic section"
    defined=$("$NM" "$bin" | awk '{print $NF}')
    for s in $LIBC_SYMS; do
        if echo "$defined" | grep -qx "$s"; then bad "$bin defines libc symbol $s"; fi
    done
    [ $fail -eq 0 ] && echo "ok: $bin is static and libc-free"
}

# The members of archive $2 that link map $1 lists, one per line.
members() {
    lib=$(basename "$2")
    grep -o "$lib([^)]*)" "$1" | sed "s/^$lib(//; s/)\$//" | sort -u
}

# How many of those members contain a syscall / svc instruction.
count_syscall_members() {
    map=$1 lib=$2
    dir=$(mktemp -d)
    (cd "$dir" && "$AR" x "$lib")
    n=0 total=0
    for m in $(members "$map" "$lib"); do
        total=$((total + 1))
        if "$OBJDUMP" -d "$dir/$m" | grep -Eq '[[:space:]](syscall|svc)([[:space:]]|$)'; then
            echo "  $m: system call instruction" >&2
            n=$((n + 1))
        fi
    done
    rm -rf "$dir"
    [ "$total" -gt 0 ] || bad "no member of $lib in $map (wrong map?)"
    echo "$n"
}

case $mode in
static)
    for b in "$@"; do check_static "$b"; done
    ;;
static-ours)
    # A binary that carries our own build of some libc function names
    # (src/sys/linux/nolibc/engine_libc.c): static like the others, and its
    # link map names no C library archive or shared object at all.
    for b in "$@"; do
        und=$("$NM" -u "$b")
        [ -z "$und" ] || bad "$b has undefined symbols: $und"
        ! "$READELF" -lW "$b" | grep -q 'INTERP' || bad "$b has PT_INTERP"
        "$READELF" -dW "$b" | grep -q 'no dynamic section' || bad "$b has a dynamic section"
        [ -f "$b.map" ] || bad "$b.map is missing"
        ! grep -Eq '/libc\.(a|so)|libc_nonshared|ld-linux' "$b.map" || bad "$b links from a C library"
        grep -q 'engine_libc' "$b.map" || bad "$b.map does not show engine_libc: wrong map?"
        [ $fail -eq 0 ] && echo "ok: $b is static and took nothing from a C library"
    done
    ;;
syscalls)
    n=$(count_syscall_members "$1.map" "$2")
    [ "$n" -eq 0 ] && echo "ok: no system call in what $(basename "$1") links from $(basename "$2")" ||
        bad "$n members of $2 linked into $1 make system calls"
    n=$(count_syscall_members "$3.map" "$4" 2>/dev/null)
    [ "$n" -gt 0 ] && echo "ok: control: $n members of $(basename "$4") do make system calls" ||
        bad "control: found no system call in $4: the check cannot see them"
    ;;
*)
    echo "usage: $0 static|syscalls NM READELF OBJDUMP AR FILES..." >&2
    exit 2
    ;;
esac
exit $fail
