"""Runs llvmlite's own execution-engine tests with rivet installed.

    python llvmlite_suite.py

Exits non-zero unless every test passes and the engines the tests created
were rivet's (counted through ``llvmlite.binding.create_mcjit_compiler``
and ``llvmlite.binding.create_lljit_compiler``).

llvmlite 0.50 skips its ORC tests (``TestOrcLLJIT``) as a class, calling
OrcJIT experimental; they run here with that skip lifted, the tests
themselves unmodified.
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
    "llvmlite.tests.test_binding.TestOrcLLJIT",
]

created = []
created_lljits = []


def counting_create_mcjit_compiler(module, target_machine, use_lmm=None):
    engine = rivet.create_mcjit_compiler(module, target_machine, use_lmm)
    created.append(type(engine).__module__)
    return engine


def counting_create_lljit_compiler(target_machine=None, **kwargs):
    lljit = rivet.create_lljit_compiler(target_machine, **kwargs)
    created_lljits.append(type(lljit).__module__)
    return lljit


def main():
    from llvmlite.tests import test_binding

    assert llvm.ExecutionEngine is rivet.ExecutionEngine
    assert llvm.check_jit_execution is rivet.check_jit_execution
    assert llvm.LLJIT is rivet.LLJIT
    assert llvm.JITLibraryBuilder is rivet.JITLibraryBuilder
    llvm.create_mcjit_compiler = counting_create_mcjit_compiler
    llvm.create_lljit_compiler = counting_create_lljit_compiler
    # Lift the class-level skip of llvmlite's ORC tests.
    test_binding.TestOrcLLJIT.__unittest_skip__ = False
    suite = unittest.defaultTestLoader.loadTestsFromNames(SUITES)
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    kinds = sorted(set(created))
    lljit_kinds = sorted(set(created_lljits))
    print("llvmlite engine tests: %d run (%d skipped), %d engines created, all of "
          "them %s; %d LLJITs created, all of them %s"
          % (result.testsRun, len(result.skipped), len(created), kinds,
             len(created_lljits), lljit_kinds))
    if not result.wasSuccessful():
        return 1
    if not created or kinds != ["rivet"]:
        print("the tests did not run on rivet's engine", file=sys.stderr)
        return 1
    if not created_lljits or lljit_kinds != ["rivet.orcjit"]:
        print("the ORC tests did not run on rivet's LLJIT", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
