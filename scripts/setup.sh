#!/usr/bin/env bash
# Installs what rivet needs on a Debian 12 (bookworm) x86-64 machine and does
# nothing when it is all present. Safe to run again.
#
#   LLVM 22 (libLLVM, headers, llvm-config) from Debian's repositories,
#   build tools for the C parts of dependencies, and a Rust toolchain check.
#
# The LLVM location is given to llvm-sys by .cargo/config.toml
# (LLVM_SYS_221_PREFIX=/usr/lib/llvm-22); nothing needs exporting.
set -euo pipefail

need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

for pkg in llvm-22-dev llvm-22 libzstd-dev zlib1g-dev pkg-config gcc gdb make cmake libclang-22-dev; do
    have_pkg "$pkg" || need_pkgs+=("$pkg")
done

if ((${#need_pkgs[@]})); then
    echo "setup: installing ${need_pkgs[*]}"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ ! -x /usr/lib/llvm-22/bin/llvm-config ]; then
    echo "setup: /usr/lib/llvm-22/bin/llvm-config is missing after install" >&2
    exit 1
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo is not on PATH; install a Rust toolchain (rustup) first" >&2
    exit 1
fi
