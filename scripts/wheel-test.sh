#!/usr/bin/env bash
# The Python package as users install it: a wheel.
#
#   1. `maturin build --release` builds rivet's Python package (python/) as
#      a manylinux wheel for this machine: abi3, so one wheel serves
#      CPython 3.9 and newer.
#   2. A fresh virtual environment is made, and PATH is stripped of every
#      directory holding cargo, rustc or rustup, so nothing can build from
#      source; the wheel is installed there with binary packages only.
#   3. llvmlite 0.50's engine tests run there with rivet installed
#      (python/tests/llvmlite_suite.py).
#
# maturin comes from the virtual environment of scripts/python-test.sh
# (RIVET_PY_VENV, default target/python-venv; made here if missing). Run
# after python-test.sh, the release build of the extension it made is
# reused by cargo. The wheel is left in WHEEL_DIR (default target/wheel-dist).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

venv=${RIVET_PY_VENV:-$root/target/python-venv}
python=${PYTHON:-python3}
out=${WHEEL_DIR:-$root/target/wheel-dist}
maturin_pin=maturin==1.16.0
llvmlite_pin=llvmlite==0.50.0

if [ ! -x "$venv/bin/maturin" ]; then
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$maturin_pin"
fi

echo "== wheel: maturin build --release"
rm -rf "$out"
mkdir -p "$out"
PYO3_PYTHON="$venv/bin/python" "$venv/bin/maturin" build --release --strip \
    -m python/Cargo.toml --out "$out" -i "$venv/bin/python"
wheels=("$out"/*.whl)
if [ "${#wheels[@]}" != 1 ] || [ ! -f "${wheels[0]}" ]; then
    echo "wheel-test: expected one wheel in $out" >&2
    exit 1
fi
wheel=${wheels[0]}
echo "wheel-test: built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"
case "$(basename "$wheel")" in
    rivet-*-cp39-abi3-manylinux*_"$(uname -m)".whl) ;;
    *)
        echo "wheel-test: $(basename "$wheel") is not an abi3 manylinux wheel for $(uname -m)" >&2
        exit 1
        ;;
esac

# PATH without a Rust toolchain.
clean_path=""
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
    [ -n "$dir" ] || continue
    if [ -e "$dir/cargo" ] || [ -e "$dir/rustc" ] || [ -e "$dir/rustup" ]; then
        continue
    fi
    clean_path="${clean_path:+$clean_path:}$dir"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fresh="$work/venv"
"$python" -m venv "$fresh"
# Everything below runs without a Rust toolchain or cargo's settings.
no_rust=(env -u CARGO -u CARGO_HOME -u RUSTUP_HOME -u RUSTUP_TOOLCHAIN -u RUSTC
    -u CARGO_TARGET_DIR -u VIRTUAL_ENV -u PYO3_PYTHON -u RIVET_INSTALL
    PATH="$fresh/bin:$clean_path")
if "${no_rust[@]}" sh -c 'command -v cargo || command -v rustc'; then
    echo "wheel-test: a Rust toolchain is still on PATH" >&2
    exit 1
fi

echo "== wheel: installing into a fresh virtual environment (no Rust on PATH)"
cd "$work"
"${no_rust[@]}" pip install -q --disable-pip-version-check --only-binary=:all: \
    "$llvmlite_pin" "$wheel"
"${no_rust[@]}" python - <<'EOF'
import sys
import rivet
assert rivet.__file__.startswith(sys.prefix), rivet.__file__
rivet.check_jit_execution()
print("wheel-test: rivet imported from", rivet.__file__)
EOF

echo "== wheel: llvmlite 0.50's engine tests, with rivet installed from the wheel"
"${no_rust[@]}" python "$root/python/tests/llvmlite_suite.py"
echo "wheel-test: the wheel installs and passes llvmlite's engine tests"
