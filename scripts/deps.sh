# shellcheck shell=bash
# scripts/deps.sh - sourced by the scripts: install missing Debian packages.
# Packages are installed with --no-install-recommends, so every script names
# each package it uses itself, also those another package only recommends:
# libc6-dev (gcc only recommends it: the C library headers, crt files, and
# libc.a for static links) and libc6-dev-arm64-cross (the same for
# gcc-aarch64-linux-gnu).
vl_need_packages() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# The aarch64 cross toolchain with its C library, qemu-user, and Debian's
# multiarch arm64 CMocka (for the aarch64 cross tests).
vl_need_arm64() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        $sudo dpkg --add-architecture arm64
        $sudo apt-get update -qq
    fi
    vl_need_packages gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static \
        libcmocka-dev:arm64
}
