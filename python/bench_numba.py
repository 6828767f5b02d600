"""numba's compile-and-first-call time on rivet and on llvmlite's own engine.

    python bench_numba.py [--repeat N]
    python bench_numba.py --warm-start N [--repeat R]

For each engine a fresh interpreter is started (rivet installed before numba
is imported, or not at all), numba's target is warmed up with one throwaway
function, and then each benchmark function is defined anew REPEAT times and
timed from the call that triggers compilation to its return. The time spent
inside the engine (``finalize_object``: code generation to object bytes plus
linking; both engines do both there) is reported beside the total.

``--warm-start N`` measures the other start a numba user has: N functions
with ``cache=True`` compiled once (a first process writes numba's on-disk
cache), then loaded from that cache by a fresh process per engine and run,
REPEAT times. numba still parses each function's bitcode and rebuilds its
types; the engine receives the module with its cached object (llvmlite's
object-cache hook), so its part is linking: ``add_module``,
``finalize_object`` and the address look-ups, each timed.
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


# Function templates for the warm start: (source with {i}, call arguments).
WARM_TEMPLATES = [
    ("def f{i}(a, b):\n    return (a * {i} + b - {k}) // (b | 1)\n", "(7, 3)"),
    (
        "def f{i}(n):\n    s = 0\n    for j in range(n):\n        s += j * {i} % ({k} + 1)\n"
        "    return s\n",
        "(100,)",
    ),
    (
        "def f{i}(x):\n    return math.sin(x * {i}) + math.sqrt(x + {i}) + math.log1p(x * {k})\n",
        "(0.5,)",
    ),
    ("def f{i}(a):\n    return (a * {i}.0 + {k}.0).sum() / a.size\n", "(np.arange(10.0),)"),
]

WARM_CHILD = r"""
import json, sys, time
engine, folder, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
if engine == "rivet":
    import rivet
    rivet.install()
import numpy as np
import numba
from numba.core.registry import cpu_target
sys.path.insert(0, folder)
import warm_functions as m
imported = time.perf_counter() - start

jit_engine = cpu_target.target_context.codegen()._engine
kind = type(jit_engine._ee).__module__
assert (kind == "rivet") == (engine == "rivet"), kind
spent = {"add_module": 0.0, "finalize_object": 0.0, "get_function_address": 0.0,
         "compiling": 0.0}
# numba's own helper modules (not cached) are compiled on first use, inside
# a finalize_object: a finalize during which the engine reports a compiled
# object (the cache's notify hook) counts as compiling, not as linking.
ee = jit_engine._ee
compiled = [0]
notify = ee._object_cache_notify
def counting_notify(module, buffer):
    compiled[0] += 1
    if notify is not None:
        notify(module, buffer)
ee._object_cache_notify = counting_notify
def timed(name):
    original = getattr(jit_engine, name)
    def call(*args):
        before = compiled[0]
        t = time.perf_counter()
        try:
            return original(*args)
        finally:
            elapsed = time.perf_counter() - t
            spent["compiling" if compiled[0] != before else name] += elapsed
    setattr(jit_engine, name, call)
for name in ("add_module", "finalize_object", "get_function_address"):
    timed(name)

calls = json.loads(sys.argv[4])
t = time.perf_counter()
for i, args in enumerate(calls):
    getattr(m, "f%d" % i)(*eval(args, {"np": np}))
total = time.perf_counter() - t
hits = sum(sum(getattr(m, "f%d" % i).stats.cache_hits.values()) for i in range(count))
misses = sum(sum(getattr(m, "f%d" % i).stats.cache_misses.values()) for i in range(count))
print(json.dumps({"engine": kind, "import": imported, "total": total, "spent": spent,
                  "hits": hits, "misses": misses}))
"""


def warm_start(count, repeat):
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="rivet-warm-start-")
    try:
        lines = ["import math", "import numpy as np", "from numba import njit", ""]
        calls = []
        for i in range(count):
            source, args = WARM_TEMPLATES[i % len(WARM_TEMPLATES)]
            lines.append("@njit(cache=True)")
            lines.append(source.format(i=i, k=i % 13))
            calls.append(args)
        with open(os.path.join(folder, "warm_functions.py"), "w") as out:
            out.write("\n".join(lines))
        env = dict(os.environ)
        env.pop("RIVET_INSTALL", None)
        env["NUMBA_CACHE_DIR"] = os.path.join(folder, "cache")

        def child(engine):
            out = subprocess.run(
                [sys.executable, "-c", WARM_CHILD, engine, folder, str(count), json.dumps(calls)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                sys.stderr.write(out.stderr)
                raise SystemExit("warm start on %s failed" % engine)
            return json.loads(out.stdout.strip().splitlines()[-1])

        cold = child("llvmlite")  # compiles and writes the cache
        if cold["misses"] != count:
            raise SystemExit("the first process compiled %d of %d" % (cold["misses"], count))
        runs = {"llvmlite": [], "rivet": []}
        for _ in range(repeat):
            for engine in runs:  # interleaved, so drift hits both alike
                result = child(engine)
                if result["hits"] != count or result["misses"] != 0:
                    raise SystemExit(
                        "%s loaded %d of %d from the cache" % (engine, result["hits"], count)
                    )
                runs[engine].append(result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def median(engine, pick):
        return statistics.median(pick(r) for r in runs[engine]) * 1e3

    print(
        "numba warm start: %d functions loaded from numba's cache (cache=True) and called"
        " once, in a fresh process per engine; median of %d runs (ms)" % (count, repeat)
    )
    def link(r):
        return sum(v for k, v in r["spent"].items() if k != "compiling")

    rows = [
        ("first calls, total", lambda r: r["total"]),
        ("  engine: link (cached objects)", link),
        ("    add_module", lambda r: r["spent"]["add_module"]),
        ("    finalize_object", lambda r: r["spent"]["finalize_object"]),
        ("    get_function_address", lambda r: r["spent"]["get_function_address"]),
        ("  engine: numba's uncached helpers", lambda r: r["spent"]["compiling"]),
        ("  numba: cache, bitcode, types", lambda r: r["total"] - sum(r["spent"].values())),
        ("import numba (+ rivet)", lambda r: r["import"]),
    ]
    header = "%-32s %12s %12s %8s" % ("", "llvmlite", "rivet", "ratio")
    print(header)
    print("-" * len(header))
    for label, pick in rows:
        lt, rt = median("llvmlite", pick), median("rivet", pick)
        print("%-32s %12.2f %12.2f %8.2f" % (label, lt, rt, lt / rt if rt else float("nan")))
    print("(ratio: llvmlite's time / rivet's; above 1, rivet is faster)")
    link_ratio = median("llvmlite", rows[1][1]) / median("rivet", rows[1][1])
    print(
        "warm-start link, goal >= 3x llvmlite's engine: %.1fx (%s)"
        % (link_ratio, "met" if link_ratio >= 3 else "missed")
    )


def ms(values):
    return statistics.median(values) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="times each function is compiled")
    parser.add_argument(
        "--warm-start",
        type=int,
        metavar="N",
        help="load N cached functions instead (numba's cache=True), REPEAT processes per engine",
    )
    args = parser.parse_args()
    if args.warm_start:
        warm_start(args.warm_start, args.repeat)
        return

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
