#!/usr/bin/env bash
# Fuzzes rivet's object loaders and linker with libFuzzer (cargo fuzz): one
# target per format (fuzz/fuzz_targets/{elf,macho,coff}.rs), each run for a
# bounded time from the committed seeds (fuzz/seeds/<format>/), the inputs
# that once broke rivet (fuzz/regressions/<format>/) and the corpus of
# earlier local runs (fuzz/corpus/<format>/, not committed). Two more link
# into the heap-backed managers, from every format's seeds: `check` (rivet
# check's memory) and `image` (memory::Image), with their own regressions
# (fuzz/regressions/{check,image}/).
#
# Every input must end in Ok or a typed error: a panic, abort, crash, hang
# (-timeout) or runaway memory (-rss_limit_mb) fails the run. Findings are
# written to fuzz/artifacts/<format>/; rerun one with
#   cargo fuzz run --sanitizer none <format> fuzz/artifacts/<format>/<file>
#
# Runs on the stable toolchain: without a sanitizer, cargo fuzz passes only
# stable flags (coverage instrumentation, debug assertions and overflow
# checks in an optimized build).
#
#   FUZZ_SECONDS   seconds per format target (default 60); check and image
#                  get half of it (30 by default), to keep CI's total down
#   FUZZ_TARGETS   targets to run (default "elf macho coff check image")
#   FUZZ_SANITIZER none (default) or address
#   scripts/fuzz.sh --make-seeds   regenerates fuzz/seeds with LLVM
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-elf macho coff check image}

if [ "${1:-}" = "--make-seeds" ]; then
    exec cargo run --release --quiet --manifest-path fuzz/seedgen/Cargo.toml
fi

if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz: FUZZ_SECONDS must be a positive number of seconds, not '$seconds'" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# Instrumented, optimized, with debug assertions (cargo fuzz's default).
# FUZZ_SANITIZER=address adds AddressSanitizer and leak checks, through
# RUSTC_BOOTSTRAP=1 on a stable toolchain (slower; built in its own folder).
sanitizer=${FUZZ_SANITIZER:-none}
fuzz_flags=(--sanitizer "$sanitizer")
if [ "$sanitizer" != none ]; then
    export RUSTC_BOOTSTRAP=1
    fuzz_flags+=(--target-dir "fuzz/target/$sanitizer")
fi
cargo fuzz build "${fuzz_flags[@]}"

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
failed=()
for target in $targets; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    case "$target" in
        check | image)
            seed_dirs=(fuzz/seeds/elf fuzz/seeds/macho fuzz/seeds/coff)
            target_seconds=$(((seconds + 1) / 2))
            ;;
        *)
            seed_dirs=("fuzz/seeds/$target")
            target_seconds=$seconds
            ;;
    esac
    inputs=("$corpus" "${seed_dirs[@]}")
    if [ -d "fuzz/regressions/$target" ]; then
        inputs+=("fuzz/regressions/$target")
    fi
    log="$log_dir/$target.log"
    status=0
    cargo fuzz run "${fuzz_flags[@]}" "$target" "${inputs[@]}" -- \
        -max_total_time="$target_seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?

    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    # (No coverage line when the very first input fails.)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2 || true)
    corpus_size=$(find "$corpus" -type f | wc -l)
    seeds=$(find "${seed_dirs[@]}" -type f | wc -l)
    if [ "$status" -eq 0 ]; then
        echo "fuzz: $target: ok, ${runs:-?} executions in ${target_seconds}s (${rate:-?}/s), coverage ${cov:-?} edges, corpus $((corpus_size + seeds)) inputs ($seeds seeds + $corpus_size found)"
    else
        artifact=$(grep -oE "fuzz/artifacts/$target/(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+" "$log" | head -n 1 || true)
        echo "fuzz: $target: FAILED (exit $status) after ${runs:-?} executions; input: ${artifact:-none written}"
        # The finding: the panic message or backtrace and libFuzzer's report,
        # without progress lines, the input's bytes or cargo fuzz's own trace.
        sed -e '/^Error: Fuzz target exited/,$d' "$log" |
            grep -vE '^(#[0-9]+|INFO:|WARNING: Failed to find function|MS: )' |
            cut -c1-300 | tail -n 60 >&2
        # The input itself, so that a finding in a CI log can be replayed
        # where the artifact is gone:
        #   base64 -d > input.o, then cargo fuzz run --sanitizer none TARGET input.o
        if [ -n "$artifact" ] && [ -f "$artifact" ]; then
            echo "fuzz: $target: the input, $(wc -c <"$artifact") bytes, base64:" >&2
            base64 -w 76 "$artifact" >&2
        fi
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: targets that found a problem: ${failed[*]}" >&2
    exit 1
fi
