"""Links and unloads JIT libraries one at a time through llvmlite's ORC API,
on llvmlite's own LLJIT and on rivet's, each in a fresh interpreter, and
prints what the process keeps: resident memory and mappings after a
warm-up and after N more libraries, and the time per library.

    python bench_orcjit.py [--libraries 1000] [--warmup 50]

Each library is one IR function (a distinct constant, so no two are the
same), linked with ``JITLibraryBuilder().add_ir(...).export_symbol(...)
.link(lljit, name)``, called once, and unloaded with its tracker's
``close()`` before the next one is linked.
"""

import argparse
import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    r"""
    import ctypes, gc, json, sys, time
    engine, libraries, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    import llvmlite.binding as llvm
    if engine == "rivet":
        import rivet
        rivet.install()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    triple = llvm.get_default_triple()
    lljit = llvm.create_lljit_compiler()
    kind = type(lljit).__module__

    def figures():
        rss = 0
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        with open("/proc/self/maps") as f:
            maps = sum(1 for _ in f)
        return rss, maps

    def one(k):
        ir = ('target triple = "%s"\n'
              'define i64 @value_%d() {\n  ret i64 %d\n}\n') % (triple, k, k)
        rt = (llvm.JITLibraryBuilder().add_ir(ir)
              .export_symbol("value_%d" % k).link(lljit, "lib_%d" % k))
        assert ctypes.CFUNCTYPE(ctypes.c_int64)(rt["value_%d" % k])() == k
        rt.close()

    for k in range(warmup):
        one(k)
    gc.collect()
    rss0, maps0 = figures()
    start = time.perf_counter()
    for k in range(warmup, warmup + libraries):
        one(k)
    elapsed = time.perf_counter() - start
    gc.collect()
    rss1, maps1 = figures()
    print(json.dumps({"kind": kind, "rss0": rss0, "rss1": rss1, "maps0": maps0,
                      "maps1": maps1, "seconds": elapsed}))
    """
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    print("%d libraries linked, called and unloaded one at a time (after %d "
          "warm-up ones), each engine in a fresh interpreter"
          % (args.libraries, args.warmup))
    print("%-10s %-14s %12s %12s %10s %10s %14s" % (
        "engine", "LLJIT class", "RSS kept", "per library", "maps", "maps kept",
        "ms per library"))
    failed = False
    for engine in ("llvmlite", "rivet"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, engine, str(args.libraries), str(args.warmup)],
            capture_output=True, text=True)
        if out.returncode != 0:
            print("%-10s failed: %s" % (engine, out.stderr.strip().splitlines()[-1:]))
            failed = True
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        kept = r["rss1"] - r["rss0"]
        print("%-10s %-14s %9.0f KiB %8.2f KiB %10d %+10d %14.3f" % (
            engine, r["kind"], kept / 1024, kept / 1024 / args.libraries,
            r["maps1"], r["maps1"] - r["maps0"],
            1000 * r["seconds"] / args.libraries))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
