"""rivet's llvmlite-compatible ExecutionEngine, exercised through llvmlite's
own ModuleRef and TargetMachine."""

import ctypes
import ctypes.util
import gc
import os
import subprocess
import sys
import textwrap

import pytest

import llvmlite.binding as llvm

import rivet

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()

TRIPLE = llvm.get_default_triple()

SUM = """
@glob = global i32 7
define i32 @sum(i32 %a, i32 %b) {
  %r = add i32 %a, %b
  ret i32 %r
}
"""

MUL = """
define i32 @mul(i32 %a, i32 %b) {
  %r = mul i32 %a, %b
  ret i32 %r
}
"""

# Calls a function no module defines.
NEEDS_EXTERNAL = """
declare i32 @rivet_test_external(i32)
define i32 @call_external(i32 %a) {
  %r = call i32 @rivet_test_external(i32 %a)
  ret i32 %r
}
"""

BINARY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int)
UNARY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)


def module(ir, name="m"):
    mod = llvm.parse_assembly('target triple = "%s"\n%s' % (TRIPLE, ir))
    mod.name = name
    return mod


def target_machine(**kwargs):
    kwargs.setdefault("jit", True)
    return llvm.Target.from_default_triple().create_target_machine(**kwargs)


def engine(ir=SUM, use_lmm=None, **tm_kwargs):
    return rivet.create_mcjit_compiler(module(ir), target_machine(**tm_kwargs), use_lmm)


def test_sum_runs_on_rivet():
    with engine() as ee:
        assert isinstance(ee, rivet.ExecutionEngine)
        address = ee.get_function_address("sum")
        assert address != 0
        assert BINARY(address)(2, 40) == 42
        glob = ee.get_global_value_address("glob")
        assert ctypes.c_int32.from_address(glob).value == 7
        # rivet's arena holds the code: one live allocation, executable bytes.
        stats = ee.memory_stats
        assert stats["allocations"] == 1
        assert stats["committed_by_class"]["text"] > 0
        assert ee.symbolize(address) == ("sum", 0)


@pytest.mark.parametrize("use_lmm", [True, False])
@pytest.mark.parametrize(
    "tm_kwargs",
    [
        {},  # llvmlite's JIT default: large code model, static
        {"reloc": "pic", "codemodel": "small"},
        {"reloc": "static", "codemodel": "small"},
    ],
)
def test_memory_managers_and_code_models(use_lmm, tm_kwargs):
    ir = SUM + MUL + """
define i32 @both(i32 %a, i32 %b) {
  %s = call i32 @sum(i32 %a, i32 %b)
  %m = call i32 @mul(i32 %s, i32 %b)
  %g = load i32, i32* @glob
  %r = add i32 %m, %g
  ret i32 %r
}
"""
    with engine(ir, use_lmm=use_lmm, **tm_kwargs) as ee:
        assert BINARY(ee.get_function_address("both"))(3, 4) == (3 + 4) * 4 + 7


def test_missing_name_is_zero():
    with engine() as ee:
        assert ee.get_function_address("no_such_function") == 0
        assert ee.get_global_value_address("no_such_global") == 0


def test_add_module_twice_and_remove_absent_raise_key_error():
    ee = engine()
    mod = module(MUL)
    ee.add_module(mod)
    with pytest.raises(KeyError):
        ee.add_module(mod)
    ee.remove_module(mod)
    with pytest.raises(KeyError):
        ee.remove_module(mod)
    assert not mod.closed
    ee.close()
    # Handed back by remove_module: the caller owns it, the engine did not close it.
    assert not mod.closed
    mod.close()


def test_modules_linked_in_later_finalizes_call_earlier_ones():
    with engine() as ee:
        assert BINARY(ee.get_function_address("sum"))(1, 2) == 3
        ee.add_module(
            module(
                """
declare i32 @sum(i32, i32)
define i32 @square_sum(i32 %a, i32 %b) {
  %s = call i32 @sum(i32 %a, i32 %b)
  %r = mul i32 %s, %s
  ret i32 %r
}
""",
                "square",
            )
        )
        assert BINARY(ee.get_function_address("square_sum"))(2, 3) == 25


def test_remove_module_drops_its_names_and_memory():
    with engine() as ee:
        mod = module(MUL, "mul")
        ee.add_module(mod)
        ee.finalize_object()
        assert BINARY(ee.get_function_address("mul"))(6, 7) == 42
        assert ee.memory_stats["allocations"] == 2
        ee.remove_module(mod)
        assert ee.get_function_address("mul") == 0
        assert ee.memory_stats["allocations"] == 1
        # The module can be added again and links anew.
        ee.add_module(mod)
        assert BINARY(ee.get_function_address("mul"))(5, 5) == 25


def test_unresolved_symbol_is_named_then_resolved_through_llvmlite():
    ee = engine(NEEDS_EXTERNAL)
    with pytest.raises(rivet.UnresolvedSymbolsError) as info:
        ee.finalize_object()
    assert "rivet_test_external" in str(info.value)
    assert ("rivet_test_external", "m") in [tuple(s) for s in info.value.symbols]
    # A look-up finalizes too, and raises the same way rather than returning 0.
    with pytest.raises(rivet.UnresolvedSymbolsError):
        ee.get_function_address("call_external")

    # Register the name in llvmlite's process-wide table: rivet finds it there.
    triple = UNARY(lambda x: 3 * x)
    llvm.add_symbol("rivet_test_external", ctypes.cast(triple, ctypes.c_void_p).value)
    ee.finalize_object()
    assert UNARY(ee.get_function_address("call_external"))(14) == 42
    ee.close()


def test_global_mapping_beats_llvmlite_table():
    ir = NEEDS_EXTERNAL.replace("rivet_test_external", "rivet_test_mapped")
    in_table = UNARY(lambda x: x + 1)
    mapped = UNARY(lambda x: x + 1000)
    llvm.add_symbol("rivet_test_mapped", ctypes.cast(in_table, ctypes.c_void_p).value)
    mod = module(ir)
    with rivet.create_mcjit_compiler(mod, target_machine()) as ee:
        gv = mod.get_function("rivet_test_mapped")
        ee.add_global_mapping(gv, ctypes.cast(mapped, ctypes.c_void_p).value)
        assert UNARY(ee.get_function_address("call_external"))(1) == 1001


def test_global_mapping_of_a_variable():
    # numba's pattern: an external pointer-sized global, mapped to memory it owns.
    ir = """
@rivet_test_slot = external global i64
define i64 @read_slot() {
  %v = load i64, i64* @rivet_test_slot
  ret i64 %v
}
"""
    slot = ctypes.c_int64(123456789)
    mod = module(ir)
    with rivet.create_mcjit_compiler(mod, target_machine()) as ee:
        ee.add_global_mapping(mod.get_global_variable("rivet_test_slot"), ctypes.addressof(slot))
        read = ctypes.CFUNCTYPE(ctypes.c_int64)(ee.get_function_address("read_slot"))
        assert read() == 123456789
        slot.value = -5
        assert read() == -5


def test_object_cache_notify_gets_the_callers_module_object():
    seen = []
    mod = module(SUM)
    ee = rivet.create_mcjit_compiler(mod, target_machine())
    ee.set_object_cache(lambda m, buf: seen.append((m, buf)))
    assert seen == []  # lazy: nothing compiled yet
    assert BINARY(ee.get_function_address("sum"))(2, -5) == -3
    assert len(seen) == 1
    assert seen[0][0] is mod
    assert isinstance(seen[0][1], bytes) and seen[0][1][:4] == b"\x7fELF"
    ee.close()


def test_object_cache_getbuffer_replaces_compilation():
    compiled = []
    first = rivet.create_mcjit_compiler(module(SUM), target_machine())
    first.set_object_cache(lambda m, buf: compiled.append(buf))
    first.finalize_object()
    first.close()
    (sum_object,) = compiled

    asked = []
    notified = []

    def getbuffer(m):
        asked.append(m)
        return sum_object

    other = module(MUL)  # its own IR is ignored: the cache answers for it
    ee = rivet.create_mcjit_compiler(other, target_machine())
    ee.set_object_cache(lambda m, buf: notified.append(m), getbuffer)
    assert BINARY(ee.get_function_address("sum"))(20, 22) == 42
    assert ee.get_function_address("mul") == 0
    assert asked == [other] and asked[0] is other
    assert notified == []
    ee.close()


def test_getbuffer_returning_none_compiles_normally():
    notified = []
    mod = module(MUL)
    ee = rivet.create_mcjit_compiler(mod, target_machine())
    ee.set_object_cache(lambda m, buf: notified.append(m), lambda m: None)
    assert BINARY(ee.get_function_address("mul"))(6, 7) == 42
    assert notified == [mod]
    ee.close()


def test_close_and_context_manager():
    mod = module(SUM)
    ee = rivet.create_mcjit_compiler(mod, target_machine())
    added = module(MUL)
    ee.add_module(added)
    with ee:
        assert ee.get_function_address("mul") != 0
    assert ee.closed
    assert mod.closed and added.closed  # the engine owned and disposed them
    ee.close()  # twice is fine
    with pytest.raises(RuntimeError):
        with ee:
            pass
    with pytest.raises(ctypes.ArgumentError):
        ee.finalize_object()
    with pytest.raises(ctypes.ArgumentError):
        ee.get_function_address("sum")


def test_module_closed_while_owned_still_compiles():
    mod = module(SUM)
    ee = rivet.create_mcjit_compiler(mod, target_machine())
    mod.close()  # owned by the engine: the LLVM module lives on
    assert BINARY(ee.get_function_address("sum"))(1, 1) == 2
    ee.close()


def test_target_data_is_llvmlites_for_the_engine_machine():
    tm = target_machine()
    ee = rivet.create_mcjit_compiler(module(SUM), tm)
    td = ee.target_data
    assert isinstance(td, llvm.TargetData)
    assert ee.target_data is td
    assert str(td) == str(tm.target_data)
    i64 = llvm.parse_assembly("@x = global i64 0").get_global_variable("x")
    assert td.get_abi_size(i64.global_value_type) == 8
    del ee
    gc.collect()
    assert str(td).startswith("e-")


def test_static_constructors_and_destructors():
    ir = """
@A = global i32 0
define void @ctor() {
  store i32 10, i32* @A
  ret void
}
define void @dtor() {
  store i32 20, i32* @A
  ret void
}
@llvm.global_ctors = appending global [1 x {i32, void ()*, i8*}] [{i32, void ()*, i8*} {i32 0, void ()* @ctor, i8* null}]
@llvm.global_dtors = appending global [1 x {i32, void ()*, i8*}] [{i32, void ()*, i8*} {i32 0, void ()* @dtor, i8* null}]
"""
    with engine(ir) as ee:
        a = ctypes.c_int32.from_address(ee.get_global_value_address("A"))
        assert a.value == 0
        ee.run_static_constructors()
        assert a.value == 10
        ee.run_static_destructors()
        assert a.value == 20


def test_add_object_file_from_object_file_ref_and_path(tmp_path):
    tm = target_machine(jit=False)
    obj = tm.emit_object(module(SUM))
    caller = """
declare i32 @sum(i32, i32)
define i32 @sum_twice(i32 %a, i32 %b) {
  %s = call i32 @sum(i32 %a, i32 %b)
  %r = call i32 @sum(i32 %s, i32 %s)
  ret i32 %r
}
"""
    with rivet.create_mcjit_compiler(module(caller), tm) as ee:
        ee.add_object_file(llvm.ObjectFileRef.from_data(obj))
        assert BINARY(ee.get_function_address("sum_twice"))(2, 3) == 10

    path = tmp_path / "sum.o"
    path.write_bytes(obj)
    with rivet.create_mcjit_compiler(module(caller), tm) as ee:
        ee.add_object_file(str(path))
        assert BINARY(ee.get_function_address("sum_twice"))(4, 5) == 18


def test_malformed_object_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "broken.o"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 20)
    with engine() as ee:
        with pytest.raises(rivet.RivetError) as info:
            ee.add_object_file(str(path))
        assert "broken.o" in str(info.value)
        assert BINARY(ee.get_function_address("sum"))(1, 2) == 3


def test_numba_pattern_common_and_linkonce_shared_across_modules():
    # numba's objects: COMMON environment globals and linkonce_odr helpers
    # duplicated in every module; the first definition wins and is shared.
    def numba_like(tag):
        return module(
            """
@NumbaEnv.shared = common global i8* null, align 8
define linkonce_odr i32 @helper(i32 %%a) {
  %%r = add i32 %%a, %d
  ret i32 %%r
}
define i8** @env_%s() {
  ret i8** @NumbaEnv.shared
}
define i32 @call_%s(i32 %%a) {
  %%r = call i32 @helper(i32 %%a)
  ret i32 %%r
}
"""
            % (1 if tag == "a" else 2, tag, tag),
            tag,
        )

    env = ctypes.CFUNCTYPE(ctypes.c_void_p)
    with rivet.create_mcjit_compiler(numba_like("a"), target_machine()) as ee:
        ee.finalize_object()
        ee.add_module(numba_like("b"))
        env_a = env(ee.get_function_address("env_a"))()
        env_b = env(ee.get_function_address("env_b"))()
        assert env_a == env_b == ee.get_global_value_address("NumbaEnv.shared")
        # The first helper (adds 1) serves both modules.
        assert UNARY(ee.get_function_address("call_a"))(1) == 2
        assert UNARY(ee.get_function_address("call_b"))(1) == 2


def test_later_strong_definition_replaces_earlier_like_mcjit():
    with engine() as ee:
        assert BINARY(ee.get_function_address("sum"))(2, 3) == 5
        ee.add_module(
            module(
                """
define i32 @sum(i32 %a, i32 %b) {
  %r = sub i32 %a, %b
  ret i32 %r
}
""",
                "sum2",
            )
        )
        # As MCJIT: a look-up answers the linked definition until a
        # finalize links the new one (llvmlite's engine prints 5, 5, -1).
        assert BINARY(ee.get_function_address("sum"))(2, 3) == 5
        ee.finalize_object()
        assert BINARY(ee.get_function_address("sum"))(2, 3) == -1


def test_check_jit_execution():
    assert rivet.check_jit_execution() is None


def test_install_patches_llvmlite_and_uninstall_restores():
    was = rivet.installed()
    original = llvm.create_mcjit_compiler
    try:
        rivet.install()
        assert llvm.create_mcjit_compiler is rivet.create_mcjit_compiler
        assert llvm.ExecutionEngine is rivet.ExecutionEngine
        assert llvm.check_jit_execution is rivet.check_jit_execution
        ee = llvm.create_mcjit_compiler(module(SUM), target_machine())
        assert isinstance(ee, rivet.ExecutionEngine)
        assert BINARY(ee.get_function_address("sum"))(1, 2) == 3
        ee.close()
        rivet.uninstall()
        assert not rivet.installed()
        assert llvm.create_mcjit_compiler is not rivet.create_mcjit_compiler
        assert llvm.ExecutionEngine is not rivet.ExecutionEngine
    finally:
        if was:
            rivet.install()
        else:
            rivet.uninstall()
    if not was:
        assert llvm.create_mcjit_compiler is original


def run_python(code, **env):
    full_env = dict(os.environ)
    full_env.pop("RIVET_INSTALL", None)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_environment_variable_installs_at_startup():
    code = """
        import llvmlite.binding as llvm, sys
        print("rivet" in sys.modules, llvm.create_mcjit_compiler.__module__)
    """
    on = run_python(code, RIVET_INSTALL="1")
    assert on.returncode == 0, on.stderr
    assert on.stdout.split() == ["True", "rivet"]
    off = run_python(code)
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["False", "llvmlite.binding.executionengine"]


def test_numba_runs_on_rivet():
    pytest.importorskip("numba")
    code = """
        import numpy as np
        from numba import njit
        from numba.core.registry import cpu_target

        @njit
        def norm(a):
            s = 0.0
            for x in a:
                s += x * x
            return np.sqrt(s)

        @njit
        def outer(n):
            return np.ones((n, n)).sum() + norm(np.arange(float(n)))

        print(norm(np.array([3.0, 4.0])), outer(3))
        ee = cpu_target.target_context.codegen()._engine._ee
        print(type(ee).__module__, ee.memory_stats["allocations"] > 0)
    """
    result = run_python(code, RIVET_INSTALL="1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["5.0", repr(9.0 + 5.0 ** 0.5)]
    assert lines[1].split() == ["rivet", "True"]


def test_install_after_numba_import_still_routes_through_rivet():
    pytest.importorskip("numba")
    code = """
        import numba
        import rivet
        rivet.install()
        from numba import njit
        from numba.core.registry import cpu_target

        @njit
        def add(a, b):
            return a + b

        print(add(40, 2), type(cpu_target.target_context.codegen()._engine._ee).__module__)
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["42", "rivet"]


def test_libm_through_llvmlite_load_library_permanently():
    libm = ctypes.util.find_library("m")
    assert libm
    llvm.load_library_permanently(libm)
    ir = """
declare double @cbrt(double)
define double @root(double %x) {
  %r = call double @cbrt(double %x)
  ret double %r
}
"""
    with engine(ir) as ee:
        root = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(ee.get_function_address("root"))
        libm_cbrt = ctypes.CDLL(libm).cbrt
        libm_cbrt.restype = ctypes.c_double
        libm_cbrt.argtypes = [ctypes.c_double]
        for x in (8.0, 27.0, -3.5, 1e300):
            assert root(x) == libm_cbrt(x)
        assert root(8.0) == 2.0


def test_symbolize_line_names_the_source_of_debug_code():
    if os.environ.get("RIVET_GDB") == "0":
        pytest.skip("gdb registration (and so the line table) is off")
    fixture = os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "..", "..", "fixtures", "debug", "debug_args.ll",
    )
    with open(fixture) as f:
        ir = f.read()
    mod = llvm.parse_assembly('target triple = "%s"\n%s' % (TRIPLE, ir))
    with rivet.create_mcjit_compiler(mod, target_machine()) as ee:
        scale = ee.get_function_address("rivet_dbg_scale")
        where = ee.symbolize_line(scale)
        assert where is not None
        path, line, _column = where
        assert path.endswith("debug_args.c"), where
        # rivet_dbg_scale spans lines 3 to 6 of debug_args.c.
        assert 3 <= line <= 6, where
        assert ee.symbolize_line(0) is None


def test_remembered_llvmlite_answers_follow_add_symbol():
    """While install() is in effect rivet remembers what llvmlite's table
    answered, misses included; add_symbol makes it ask again, so a name
    registered (or registered again) later is found at its new address."""
    was_installed = rivet.installed()
    rivet.install()
    try:
        ir = NEEDS_EXTERNAL.replace("rivet_test_external", "rivet_test_remembered")
        ee = engine(ir)
        with pytest.raises(rivet.UnresolvedSymbolsError):
            ee.finalize_object()
        assert rivet._llvmlite_answers.get("rivet_test_remembered", 1) in (None, 0)
        first = UNARY(lambda x: x + 1)
        llvm.add_symbol("rivet_test_remembered", ctypes.cast(first, ctypes.c_void_p).value)
        assert "rivet_test_remembered" not in rivet._llvmlite_answers
        ee.finalize_object()
        assert UNARY(ee.get_function_address("call_external"))(1) == 2
        ee.close()
        # Registered again: a new engine links against the new address.
        second = UNARY(lambda x: x + 100)
        llvm.add_symbol("rivet_test_remembered", ctypes.cast(second, ctypes.c_void_p).value)
        ee = engine(ir)
        assert UNARY(ee.get_function_address("call_external"))(1) == 101
        assert rivet._llvmlite_answers["rivet_test_remembered"] == ctypes.cast(
            second, ctypes.c_void_p
        ).value
        ee.close()
    finally:
        if not was_installed:
            rivet.uninstall()
    assert rivet._llvmlite_answers is None or was_installed
