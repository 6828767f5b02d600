#!/usr/bin/env bash
# rivet's whole test suite, as CI runs it: set-up, formatting, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --features emulator -- -D warnings
cargo test --features emulator
# The arena's other mode (a page run per class, protections per page) passes too.
RIVET_ARENA_MODE=pages cargo test -p rivet --features emulator --test integration
bash scripts/fuzz.sh
bash scripts/python-test.sh
# The wheel, installed where no Rust toolchain is (reuses python-test's release build).
bash scripts/wheel-test.sh
