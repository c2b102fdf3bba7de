# shellcheck shell=bash
# scripts/ci/cmocka.sh - sourced by the cross-build legs (windows.sh,
# macos.sh): CMocka cross-built from Debian's own source package, since
# Debian ships no build of it for those targets. The source is fetched once
# per build directory (apt-get source, from a deb-src entry added when the
# machine has none) and each target's build is installed into a prefix that
# later runs reuse. Uses the sourcing script's $build, $jobs and step().
# shellcheck disable=SC2154 # $build and $jobs are set by the sourcing script

# A deb-src entry for this release, so `apt-get source cmocka` works.
vl_need_deb_src() {
    grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/ &&
        return 0
    local codename sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$codename" | $sudo tee /etc/apt/sources.list.d/vllsi-deb-src.sources >/dev/null
    $sudo apt-get update -qq
}

# vl_cmocka_source: set vl_cmocka_src to the unpacked source tree in
# $build/cmocka-src, fetching it unless it is there.
vl_cmocka_src=""
vl_cmocka_source() {
    [ -n "$vl_cmocka_src" ] && return 0
    local src="$build/cmocka-src"
    if [ -d "$src" ]; then
        vl_cmocka_src=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | head -n1)
        [ -n "$vl_cmocka_src" ] && return 0
    fi
    vl_need_deb_src
    rm -rf "$src" && mkdir -p "$src"
    (cd "$src" && timeout 120 apt-get source -qq cmocka >/dev/null 2>&1) ||
        { echo "cmocka: apt-get source cmocka failed" >&2; return 1; }
    vl_cmocka_src=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | head -n1)
    [ -n "$vl_cmocka_src" ] || { echo "cmocka: no source tree in $src" >&2; return 1; }
}

# vl_build_cmocka NAME TOOLCHAIN PREFIX: build CMocka (static and shared)
# with the CMake toolchain file TOOLCHAIN in $build/cmocka-NAME and install
# it into PREFIX, unless PREFIX has it already.
vl_build_cmocka() {
    [ -f "$3/include/cmocka.h" ] && return 0
    step "CMocka for $1 from Debian's source package"
    vl_cmocka_source
    cmake -S "$vl_cmocka_src" -B "$build/cmocka-$1" -DCMAKE_TOOLCHAIN_FILE="$2" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$3" \
        -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >/dev/null
    cmake --build "$build/cmocka-$1" -j"$jobs" >/dev/null
    cmake --install "$build/cmocka-$1" >/dev/null
}
