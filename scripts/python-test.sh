#!/usr/bin/env bash
# The Python package's suites, as CI runs them: builds `rivet` (python/) into
# a virtual environment with pinned llvmlite/numba, then runs
#   - rivet's own tests (python/tests, pytest),
#   - llvmlite 0.50's engine tests with rivet installed,
#   - numba 0.68's codegen, caching and NRT tests plus a sample of its array
#     and ufunc tests, and its gdb suites, with rivet installed
#     (RIVET_INSTALL=1),
#   - the compile-and-first-call benchmark (python/bench_numba.py) and the
#     memory churn benchmark, quick (python/bench_numba_memory.py --quick).
#
# The virtual environment lives in target/python-venv (RIVET_PY_VENV to move
# it); it is reused when present. BENCH=0 skips the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

venv=${RIVET_PY_VENV:-$root/target/python-venv}
python=${PYTHON:-python3}

# Pinned versions (llvmlite 0.50.x and numba 0.68.x are what rivet targets).
pins=(llvmlite==0.50.0 numba==0.68.1 numpy==2.4.6 maturin==1.16.0 pytest==9.2.0 pexpect==4.9.0)

if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "python-test: installing python3-venv"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "python-test: creating $venv"
    "$python" -m venv "$venv"
fi
export PATH="$venv/bin:$PATH"
export VIRTUAL_ENV="$venv"
# pyo3 builds against this interpreter (for clippy as for maturin).
export PYO3_PYTHON="$venv/bin/python"
unset RIVET_INSTALL

pip install -q --disable-pip-version-check "${pins[@]}"

echo "== lints of the binding crate"
cargo clippy -p rivet-python --all-targets -- -D warnings

echo "== building and installing rivet (pip install ./python)"
pip install -q --disable-pip-version-check --no-build-isolation ./python

# Run from a neutral directory, so `import rivet` is the installed package.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Every suite runs; failures are listed at the end and fail the script.
failed=()
run_suite() {
    local name=$1
    shift
    echo "== $name"
    if ! "$@"; then
        failed+=("$name")
    fi
}

run_suite "rivet's own tests" python -m pytest -q "$root/python/tests"
run_suite "llvmlite 0.50's engine tests, with rivet installed" \
    python "$root/python/tests/llvmlite_suite.py"

# numba's suites: RIVET_INSTALL=1 makes every interpreter (numba's test
# runner starts several) install rivet before numba loads.
export RIVET_INSTALL=1
python - <<'EOF'
from numba import njit
from numba.core.registry import cpu_target
assert njit(lambda x: x + 1)(41) == 42
kind = type(cpu_target.target_context.codegen()._engine._ee).__module__
assert kind == "rivet", kind
print("numba compiles on", kind)
EOF

# test_codegen through rivet's runner: its test_library_lifetime, an
# expected failure on llvmlite's engine, passes on rivet and must.
run_suite "numba.tests.test_codegen, with rivet installed" \
    python "$root/python/tests/numba_suite.py" numba.tests.test_codegen
numba_suites=(
    numba.tests.test_caching
    numba.tests.test_nrt
    # Look-ups that must not link modules waiting for a global mapping.
    numba.tests.test_recursion
    numba.tests.test_literal_dispatch
)
# The sample of array and ufunc tests (README lists it).
numba_sample=(
    numba.tests.test_dyn_array
    numba.tests.test_ufuncs.TestArrayOperators
    numba.tests.test_ufuncs.TestScalarUFuncs
    numba.tests.test_ufuncs.TestUfuncIssues
    numba.tests.test_ufuncs.TestLoopTypesPower
    numba.tests.npyufunc.test_vectorize_decor
)
for suite in "${numba_suites[@]}"; do
    run_suite "$suite, with rivet installed" python -m numba.runtests -m 2 "$suite"
done
run_suite "numba array and ufunc sample, with rivet installed" \
    python -m numba.runtests -m 2 "${numba_sample[@]}"
# Lifetimes, generators, exceptions, threads, jitclasses: code that outlives
# or escapes the function that made it, on an engine that gives memory back.
run_suite "numba lifetime, exception and thread sample, with rivet installed" \
    python -m numba.runtests -m 2 numba.tests.test_obj_lifetime numba.tests.test_generators \
    numba.tests.test_exceptions numba.tests.test_threadsafety numba.tests.test_jitclasses
# gdb sees numba's debug=True code (breaks by file:line, shows arguments).
# numba needs NUMBA_GDB_BINARY to find gdb; serial, as test_gdb_bindings
# gives each case 20 s.
command -v gdb >/dev/null || echo "python-test: no gdb (scripts/setup.sh installs it); numba skips these"
run_suite "numba's gdb suites, with rivet installed" env NUMBA_GDB_BINARY=gdb \
    python -m numba.runtests numba.tests.test_gdb_dwarf numba.tests.test_gdb_bindings
unset RIVET_INSTALL

if [ "${BENCH:-1}" != 0 ]; then
    echo "== benchmark: numba compile-and-first-call, llvmlite's engine vs rivet"
    python "$root/python/bench_numba.py" --repeat 3
    echo "== benchmark: numba warm start from its on-disk cache (100 functions), llvmlite's engine vs rivet"
    python "$root/python/bench_numba.py" --warm-start 100 --repeat 3
    echo "== benchmark: 1,000 JIT libraries linked and unloaded, llvmlite's LLJIT vs rivet"
    python "$root/python/bench_orcjit.py" --libraries 1000
    echo "== benchmark: memory kept per dropped numba function (quick), llvmlite's engine vs rivet"
    python "$root/python/bench_numba_memory.py" --quick
fi

if ((${#failed[@]})); then
    echo "python-test: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "python-test: every suite passed"
