"""Runs numba test modules with rivet installed, in this interpreter.

    python numba_suite.py numba.tests.test_codegen [...]

numba marks some tests as expected failures because its code cannot be
freed on llvmlite's engine (MCJIT's removeModule is disabled). On rivet
they pass, and unittest counts an unexpected success as a failure. This
runner exits 0 only when nothing failed or errored and the unexpected
successes are exactly the tests listed in FIXED_ON_RIVET that were run:
each must pass, so a regression fails as loudly as a new failure.
"""

import sys
import unittest

import rivet

rivet.install()

# numba test ids that are expected failures on llvmlite's engine and pass
# on rivet, with the reason numba gives.
FIXED_ON_RIVET = {
    # "MCJIT removeModule leaks and it is disabled": on rivet a library and
    # its final module are collected once dropped.
    "numba.tests.test_codegen.JITCPUCodegenTestCase.test_library_lifetime",
}


def main(names):
    if not names:
        raise SystemExit(__doc__)
    suite = unittest.defaultTestLoader.loadTestsFromNames(names)
    ran = {test.id() for test in _tests(suite)}
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    unexpected = {test.id() for test in result.unexpectedSuccesses}
    wanted = FIXED_ON_RIVET & ran
    ok = not result.failures and not result.errors and unexpected == wanted
    print(
        "numba suite on rivet: %d run, %d failures, %d errors, "
        "unexpected successes %s (wanted %s)"
        % (
            result.testsRun,
            len(result.failures),
            len(result.errors),
            sorted(unexpected),
            sorted(wanted),
        )
    )
    return 0 if ok else 1


def _tests(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _tests(test)
        else:
            yield test


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
