"""numba's compile-and-first-call time on rivet and on llvmlite's own engine.

    python bench_numba.py [--repeat N]

For each engine a fresh interpreter is started (rivet installed before numba
is imported, or not at all), numba's target is warmed up with one throwaway
function, and then each benchmark function is defined anew REPEAT times and
timed from the call that triggers compilation to its return. The time spent
inside the engine (``finalize_object``: code generation to object bytes plus
linking; both engines do both there) is reported beside the total.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap

# Each benchmark: name -> (source defining `f`, expression for the arguments).
BENCHMARKS = {
    "scalar_arith": (
        """
        def f(a, b):
            return (a * b + a - b) // (b | 1)
        """,
        "(7, 3)",
    ),
    "loop_sum": (
        """
        def f(n):
            s = 0
            for i in range(n):
                s += i * i
            return s
        """,
        "(1000,)",
    ),
    "math_calls": (
        """
        import math
        def f(x):
            return math.sin(x) * math.exp(-x) + math.sqrt(x) + math.log1p(x)
        """,
        "(0.5,)",
    ),
    "array_reduce": (
        """
        import numpy as np
        def f(a):
            return (a * 2.0 + 1.0).sum() / a.size
        """,
        "(np.arange(100.0),)",
    ),
    "array_alloc_nrt": (
        """
        import numpy as np
        def f(n):
            a = np.empty((n, n))
            for i in range(n):
                for j in range(n):
                    a[i, j] = i - j
            return np.abs(a).max()
        """,
        "(16,)",
    ),
    "list_dict": (
        """
        def f(n):
            d = {}
            xs = []
            for i in range(n):
                d[i] = i * 2
                xs.append(d[i])
            return sum(xs)
        """,
        "(50,)",
    ),
    "branchy": (
        """
        def f(x):
            if x < 0:
                return -1
            elif x == 0:
                return 0
            elif x < 10:
                return x * 3
            elif x < 100:
                return x // 7
            return x % 13
        """,
        "(42,)",
    ),
}


CHILD = r"""
import json, sys, textwrap, time
engine, repeat, benchmarks = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
if engine == "rivet":
    import rivet
    rivet.install()
import numpy as np
import numba
from numba import njit
from numba.core.registry import cpu_target

# Warm up: numba's target context, the engine and the runtime.
njit(lambda x: x + 1)(1)
codegen = cpu_target.target_context.codegen()
ee = codegen._engine._ee
kind = type(ee).__module__
assert (kind == "rivet") == (engine == "rivet"), kind

# numba calls codegen._engine.finalize_object() (its JitEngine wrapper);
# time that call on this instance.
engine_time = [0.0]
jit_engine = codegen._engine
original_finalize = jit_engine.finalize_object
def timed_finalize():
    t = time.perf_counter()
    try:
        return original_finalize()
    finally:
        engine_time[0] += time.perf_counter() - t
jit_engine.finalize_object = timed_finalize

results = {}
for name, (source, args) in benchmarks.items():
    totals, engine_parts = [], []
    for _ in range(repeat):
        namespace = {"np": np}
        exec(textwrap.dedent(source), namespace)
        f = njit(namespace["f"])  # a new dispatcher: nothing compiled yet
        call_args = eval(args, namespace)
        engine_time[0] = 0.0
        t = time.perf_counter()
        f(*call_args)
        totals.append(time.perf_counter() - t)
        engine_parts.append(engine_time[0])
    results[name] = {"total": totals, "engine": engine_parts}
print(json.dumps({"engine": kind, "results": results}))
"""


def run(engine, repeat):
    env = dict(os.environ)
    env.pop("RIVET_INSTALL", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, engine, str(repeat), json.dumps(BENCHMARKS)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit("benchmark on %s failed" % engine)
    return json.loads(out.stdout.strip().splitlines()[-1])["results"]


def ms(values):
    return statistics.median(values) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="times each function is compiled")
    args = parser.parse_args()

    results = {engine: run(engine, args.repeat) for engine in ("llvmlite", "rivet")}
    print(
        "numba compile-and-first-call, median of %d fresh compilations (ms);"
        " 'engine' is the part inside finalize_object (codegen + link)" % args.repeat
    )
    header = "%-16s %12s %12s %12s %12s %8s" % (
        "function", "llvmlite", "rivet", "llvmlite eng", "rivet eng", "ratio"
    )
    print(header)
    print("-" * len(header))
    for name in BENCHMARKS:
        lt, rt = ms(results["llvmlite"][name]["total"]), ms(results["rivet"][name]["total"])
        le, re_ = ms(results["llvmlite"][name]["engine"]), ms(results["rivet"][name]["engine"])
        print("%-16s %12.2f %12.2f %12.2f %12.2f %8.2f" % (name, lt, rt, le, re_, rt / lt))


if __name__ == "__main__":
    main()
