"""Address look-ups link what they need, as MCJIT's do: numba's runtime
linker for recursive functions relies on it. Each test runs on rivet's
engine and on llvmlite's own, and both must agree."""

import ctypes

import pytest

import llvmlite.binding as llvm
from llvmlite.binding import executionengine

import rivet

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()

TRIPLE = llvm.get_default_triple()


def module(ir, name):
    mod = llvm.parse_assembly('target triple = "%s"\n%s' % (TRIPLE, ir))
    mod.name = name
    return mod


def target_machine():
    return llvm.Target.from_default_triple().create_target_machine(jit=True)


def engines():
    """(name, create_mcjit_compiler) for rivet, and for llvmlite's own
    engine unless rivet has been installed over it in this process."""
    found = [("rivet", rivet.create_mcjit_compiler)]
    if not rivet.installed():
        found.append(("llvmlite", executionengine.create_mcjit_compiler))
    return found


ENGINES = engines()


@pytest.mark.parametrize("name,create", ENGINES, ids=[n for n, _ in ENGINES])
def test_a_look_up_does_not_link_a_module_waiting_for_its_global_mapping(name, create):
    a = module("define i64 @abort_fn() {\n ret i64 7\n}\n", "a")
    b = module(
        '@".numba.unresolved$f" = external global ptr\n'
        "define ptr @get_b() {\n"
        '  %p = load ptr, ptr @".numba.unresolved$f"\n'
        "  ret ptr %p\n"
        "}\n",
        "b",
    )
    engine = create(a, target_machine())
    engine.finalize_object()
    engine.add_module(b)
    # A name an earlier module defines answers without linking `b`.
    abort_fn = engine.get_function_address("abort_fn")
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(abort_fn)() == 7
    slot = ctypes.c_uint64(0xFEEDBEEF)
    engine.add_global_mapping(
        b.get_global_variable(".numba.unresolved$f"), ctypes.addressof(slot)
    )
    engine.finalize_object()
    get_b = engine.get_function_address("get_b")
    assert ctypes.CFUNCTYPE(ctypes.c_uint64)(get_b)() == 0xFEEDBEEF
    engine.close()


@pytest.mark.parametrize("name,create", ENGINES, ids=[n for n, _ in ENGINES])
def test_a_look_up_links_the_module_defining_the_name_and_what_it_calls(name, create):
    first = module("define i64 @first() {\n ret i64 1\n}\n", "first")
    engine = create(first, target_machine())
    engine.finalize_object()
    engine.add_module(
        module(
            "declare i64 @helper()\n"
            "define i64 @user() {\n"
            "  %v = call i64 @helper()\n"
            "  %r = add i64 %v, 1\n"
            "  ret i64 %r\n"
            "}\n",
            "user",
        )
    )
    engine.add_module(module("define i64 @helper() {\n ret i64 41\n}\n", "helper"))
    user = engine.get_function_address("user")
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(user)() == 42
    engine.close()


def test_a_module_that_cannot_link_fails_only_the_look_ups_that_need_it():
    engine = rivet.create_mcjit_compiler(
        module("define i64 @linked() {\n ret i64 11\n}\n", "linked"), target_machine()
    )
    engine.finalize_object()
    engine.add_module(
        module(
            "declare i64 @rivet_nowhere()\n"
            "define i64 @broken() {\n"
            "  %v = call i64 @rivet_nowhere()\n"
            "  ret i64 %v\n"
            "}\n",
            "broken",
        )
    )
    for _ in range(3):
        with pytest.raises(rivet.UnresolvedSymbolsError) as error:
            engine.get_function_address("broken")
        assert "rivet_nowhere" in str(error.value)
        # Names already linked still answer.
        linked = engine.get_function_address("linked")
        assert ctypes.CFUNCTYPE(ctypes.c_int64)(linked)() == 11
    engine.close()
