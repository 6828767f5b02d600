"""Memory numba keeps for functions it no longer has: llvmlite's engine vs rivet.

    python bench_numba_memory.py [--counts 100 300 1000] [--warmup 50] [--quick]

For each engine a fresh interpreter is started (``rivet.install()`` before
numba is imported, or not at all). It warms up (``--warmup`` functions
compiled, called and dropped), then churns: it compiles a distinct small
``@njit`` function, calls it once, deletes it and runs ``gc.collect()``, over
and over. At each count of ``--counts`` (cumulative: 100, then 300, then
1,000 functions) it reads the process's resident set (``VmRSS`` in
``/proc/self/status``) and the number of its mappings (lines of
``/proc/self/maps``) and prints, per dropped function, the RSS kept and the
mappings added since the warm-up, with the median compile-and-first-call
time. ``--quick`` is ``--counts 100 --warmup 30`` (what
``scripts/python-test.sh`` runs).

``--fix-leaks 0`` runs rivet with ``rivet.install(fix_leaks=False)``: rivet
frees the code numba drops, llvmlite's pass-manager leak stays.
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import gc, json, statistics, sys, time
engine, counts, warmup, fix_leaks = (
    sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")
if engine == "rivet":
    import rivet
    rivet.install(fix_leaks=fix_leaks)
from numba import njit
from numba.core.registry import cpu_target

SOURCE = '''
def f(n, x):
    s = 0.0
    for k in range(n):
        s += k * x + %d
    return s
'''

def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")

def mappings():
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)

serial = [0]
def churn_one():
    # A distinct function each time (a new constant), compiled by its first
    # call, then dropped.
    serial[0] += 1
    i = serial[0]
    namespace = {}
    exec(SOURCE % i, namespace)
    f = njit(namespace["f"])
    t = time.perf_counter()
    value = f(3, 2.0)
    elapsed = time.perf_counter() - t
    expected = (0 + 1 * 2.0 + 2 * 2.0) + 3 * i
    assert value == expected, (value, expected)
    del f, namespace
    gc.collect()
    return elapsed

for _ in range(warmup):
    churn_one()
kind = type(cpu_target.target_context.codegen()._engine._ee).__module__
assert (kind == "rivet") == (engine == "rivet"), kind

base_rss, base_maps = rss_kib(), mappings()
times, done, rows = [], 0, []
for count in counts:
    while done < count:
        times.append(churn_one())
        done += 1
    rss, maps = rss_kib(), mappings()
    rows.append({
        "count": count,
        "rss_kib_per_function": (rss - base_rss) / count,
        "mappings_added": maps - base_maps,
        "compile_ms": statistics.median(times) * 1e3,
    })
print(json.dumps({"engine": kind, "base_rss_kib": base_rss, "rows": rows}))
"""


def run(engine, counts, warmup, fix_leaks):
    env = dict(os.environ)
    env.pop("RIVET_INSTALL", None)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            engine,
            json.dumps(counts),
            str(warmup),
            "1" if fix_leaks else "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit("memory benchmark on %s failed" % engine)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="--counts 100 --warmup 30")
    parser.add_argument("--fix-leaks", type=int, choices=(0, 1), default=1)
    parser.add_argument(
        "--engines", nargs="+", default=["llvmlite", "rivet"], choices=("llvmlite", "rivet")
    )
    args = parser.parse_args()
    counts, warmup = sorted(set(args.counts)), args.warmup
    if args.quick:
        counts, warmup = [100], 30

    results = {e: run(e, counts, warmup, args.fix_leaks) for e in args.engines}
    print(
        "numba churn: compile a distinct @njit function, call it, delete it,"
        " gc.collect(); after %d warm-up functions. Per dropped function:"
        " RSS kept (KiB), mappings added (total), median compile-and-first-call"
        " (ms). rivet: install(fix_leaks=%s)" % (warmup, bool(args.fix_leaks))
    )
    header = "%-10s %10s %14s %16s %12s" % (
        "engine", "functions", "KiB/function", "mappings added", "compile ms"
    )
    print(header)
    print("-" * len(header))
    for engine in args.engines:
        for row in results[engine]["rows"]:
            print(
                "%-10s %10d %14.1f %16d %12.2f"
                % (
                    engine,
                    row["count"],
                    row["rss_kib_per_function"],
                    row["mappings_added"],
                    row["compile_ms"],
                )
            )


if __name__ == "__main__":
    main()
