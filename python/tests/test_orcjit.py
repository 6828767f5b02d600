"""rivet's ORC API (llvmlite's create_lljit_compiler / JITLibraryBuilder /
ResourceTracker) beyond what llvmlite's own tests check: memory figures,
unloading, names linked again, libraries that bind to each other, and the
garbage collector's part."""

import ctypes
import gc

import pytest

import llvmlite.binding as llvm

import rivet

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()

TRIPLE = llvm.get_default_triple()

SUM = """
target triple = "%s"
define i64 @sum(i64 %%a, i64 %%b) {
  %%r = add i64 %%a, %%b
  ret i64 %%r
}
""" % TRIPLE

TWICE = """
target triple = "%s"
declare i64 @sum(i64, i64)
define i64 @twice(i64 %%x) {
  %%r = call i64 @sum(i64 %%x, i64 %%x)
  ret i64 %%r
}
""" % TRIPLE

BINARY = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)
UNARY = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)


def link_sum(lljit, name="sum"):
    return rivet.JITLibraryBuilder().add_ir(SUM).export_symbol("sum").link(lljit, name)


def test_a_tracker_reports_its_memory_and_close_gives_it_back():
    lljit = rivet.create_lljit_compiler()
    empty = lljit._native.memory_stats()
    tracker = link_sum(lljit)
    stats = tracker.memory_stats()
    assert stats["bytes"] > 0
    assert stats["by_class"]["text"] > 0
    assert BINARY(tracker["sum"])(40, 2) == 42
    tracker.close()
    assert tracker.memory_stats() is None
    with pytest.raises(RuntimeError, match="No such library: sum"):
        lljit.lookup("sum", "sum")
    now = lljit._native.memory_stats()
    assert now["allocations"] == empty["allocations"]
    assert now["live_bytes"] == empty["live_bytes"]
    # The name can be linked again once its tracker is gone.
    again = link_sum(lljit)
    assert BINARY(again["sum"])(1, 2) == 3
    lljit.close()


def test_a_collected_tracker_is_unloaded_at_the_next_call_not_in_the_collector():
    lljit = rivet.create_lljit_compiler()
    tracker = link_sum(lljit)
    del tracker
    gc.collect()
    assert lljit._collected, "queued for the next call"
    with pytest.raises(RuntimeError, match="No such library"):
        lljit.lookup("sum", "sum")
    assert not lljit._collected
    lljit.close()


def test_a_library_another_one_binds_to_stays_until_that_one_goes():
    lljit = rivet.create_lljit_compiler()
    sum_tracker = link_sum(lljit)
    twice = (
        rivet.JITLibraryBuilder()
        .add_ir(TWICE)
        .add_jit_library("sum")
        .export_symbol("twice")
        .link(lljit, "twice")
    )
    sum_tracker.close()
    # Other libraries come and go in the memory `sum` had.
    for k in range(20):
        other = link_sum(lljit, "other%d" % k)
        assert BINARY(other["sum"])(k, 1) == k + 1
        other.close()
        assert UNARY(twice["twice"])(21) == 42
    twice.close()
    assert lljit._native.memory_stats()["allocations"] == 0
    lljit.close()


def test_errors_name_the_library_and_the_symbols():
    lljit = rivet.create_lljit_compiler()
    tracker = link_sum(lljit)
    with pytest.raises(RuntimeError, match="Symbols not found: \\[ nothing \\]"):
        lljit.lookup("sum", "nothing")
    assert BINARY(lljit.lookup("sum", "sum")["sum"])(2, 2) == 4
    tracker.close()
    with pytest.raises(RuntimeError, match=r"Failed to materialize symbols: \{ \(needs, \{ twice \}\) \}"):
        rivet.JITLibraryBuilder().add_ir(TWICE).export_symbol("twice").link(lljit, "needs")
    with pytest.raises(RuntimeError, match="No such library: missing"):
        (
            rivet.JITLibraryBuilder()
            .add_ir(TWICE)
            .add_jit_library("missing")
            .export_symbol("twice")
            .link(lljit, "needs")
        )
    lljit.close()
    with pytest.raises(AssertionError):
        lljit.lookup("sum", "sum")


def test_native_assembly_and_install():
    lljit = rivet.create_lljit_compiler()
    tracker = (
        rivet.JITLibraryBuilder()
        .add_native_assembly(
            '.text\n.globl seven\nseven:\n movl $7, %eax\n retq\n.section .rodata\n.asciz "q\\"uote"\n'
        )
        .export_symbol("seven")
        .link(lljit, "asm")
    )
    assert ctypes.CFUNCTYPE(ctypes.c_int)(tracker["seven"])() == 7
    lljit.close()
    was_installed = rivet.installed()
    rivet.install()
    try:
        assert llvm.create_lljit_compiler is rivet.create_lljit_compiler
        assert llvm.JITLibraryBuilder is rivet.JITLibraryBuilder
        assert llvm.orcjit.ResourceTracker is rivet.ResourceTracker
    finally:
        if not was_installed:
            rivet.uninstall()
    if not was_installed:
        assert llvm.create_lljit_compiler is not rivet.create_lljit_compiler
