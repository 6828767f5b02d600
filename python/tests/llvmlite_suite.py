"""Runs llvmlite's own execution-engine tests with rivet installed.

    python llvmlite_suite.py

Exits non-zero unless every test passes and the engines the tests created
were rivet's (counted through ``llvmlite.binding.create_mcjit_compiler``).
"""

import sys
import unittest

import rivet

rivet.install()

import llvmlite.binding as llvm  # noqa: E402  (after install, on purpose)

SUITES = [
    "llvmlite.tests.test_binding.TestMCJit",
    "llvmlite.tests.test_binding.TestObjectFile",
    "llvmlite.tests.test_binding.TestGlobalConstructors",
    "llvmlite.tests.test_binding.TestMisc.test_check_jit_execution",
    "llvmlite.tests.test_binding.TestDylib",
]

created = []


def counting_create_mcjit_compiler(module, target_machine, use_lmm=None):
    engine = rivet.create_mcjit_compiler(module, target_machine, use_lmm)
    created.append(type(engine).__module__)
    return engine


def main():
    assert llvm.ExecutionEngine is rivet.ExecutionEngine
    assert llvm.check_jit_execution is rivet.check_jit_execution
    llvm.create_mcjit_compiler = counting_create_mcjit_compiler
    suite = unittest.defaultTestLoader.loadTestsFromNames(SUITES)
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    kinds = sorted(set(created))
    print("llvmlite engine tests: %d run, %d engines created, all of them %s"
          % (result.testsRun, len(created), kinds))
    if not result.wasSuccessful():
        return 1
    if not created or kinds != ["rivet"]:
        print("the tests did not run on rivet's engine", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
