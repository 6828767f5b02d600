"""What ``rivet.install()`` changes in numba and llvmlite beyond the engine.

Two kinds of change, each undone by ``rivet.uninstall()``:

- **numba frees code** (always, once installed): ``JITCPUCodegen._add_module``
  returns a cleanup, which numba already registers with ``weakref.finalize``
  on the code library (numba 0.68 has the removal written and commented out
  "due to MCJIT engine leakage in removeModule"). The cleanup is a queued
  removal (``rivet.ExecutionEngine._removal``): when the library dies, its
  module leaves the engine at the engine's next call, and the library's
  names leave numba's symbol sets. Only for engines that are rivet's;
  plain llvmlite users get no removal they did not ask for. Code whose
  address escapes into objects or callers that do not keep the library is
  kept: ufunc loop wrappers live as long as the wrapped function's
  environment; modules that give a meminfo a destructor or make a
  generator, and libraries asked for a C callback's or a raw function's
  address, stay for the life of the engine (as every module does on
  llvmlite's engine).
- **Leak workarounds** (``fix_leaks``, on by default):
  llvmlite 0.50's ``ModulePassManager`` and ``FunctionPassManager`` derive
  from ``(ffi.ObjectRef, NewPassManager)``, so ``_dispose`` resolves to
  ``ObjectRef._dispose``, which does nothing: the pass managers are never
  freed. When that is detected, the classes get ``NewPassManager._dispose``
  (which calls ``LLVMPY_DisposeNew*PassManger``); a fixed llvmlite is left
  alone. And numba's per-function pass loop (``_optimize_functions``) skips
  declarations, where the passes have nothing to do but every pass builder
  llvmlite creates leaks its ``PassInstrumentationCallbacks``.
"""

import functools
import sys
import weakref

# What install() changed: (owner, attribute, previous value or _ABSENT).
_changes = []
_ABSENT = object()

# Linkages whose definitions many modules carry (numba's runtime functions
# such as NRT_incref, a callee's copy linked into its caller): a library's
# death does not take such a name out of numba's sets. Common symbols
# (numba's environment globals, copied into callers too) are counted: the
# name goes with the last module that defines it.
_SHARED_LINKAGES = frozenset(
    (
        "available_externally",
        "linkonce_any",
        "linkonce_odr",
        "linkonce_odr_autohide",
        "weak_any",
        "weak_odr",
        "external_weak",
        "linker_private_weak",
    )
)


def _set(owner, name, value):
    _changes.append((owner, name, owner.__dict__.get(name, _ABSENT)))
    setattr(owner, name, value)


def undo():
    """Puts back everything ``apply_*`` changed, latest first."""
    while _changes:
        owner, name, previous = _changes.pop()
        if previous is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, previous)


# -- llvmlite: pass managers that are never freed ---------------------------

def pass_manager_leak():
    """The pass-manager classes of the installed llvmlite whose ``_dispose``
    is ``ObjectRef._dispose`` (does nothing) although ``NewPassManager``
    has the real one; empty for an llvmlite without the leak."""
    try:
        from llvmlite.binding import ffi
        from llvmlite.binding import newpassmanagers as npm
    except ImportError:  # pragma: no cover - older llvmlite: nothing to fix
        return []
    real = npm.__dict__.get("NewPassManager")
    real_dispose = getattr(real, "_dispose", None)
    if real_dispose is None or real_dispose is ffi.ObjectRef._dispose:
        return []
    leaking = []
    for name in ("ModulePassManager", "FunctionPassManager"):
        cls = npm.__dict__.get(name)
        if (
            cls is not None
            and issubclass(cls, real)
            and cls._dispose is ffi.ObjectRef._dispose
        ):
            leaking.append(cls)
    return leaking


def apply_pass_manager_dispose():
    """Gives leaking pass-manager classes their real ``_dispose``; returns
    them."""
    from llvmlite.binding import newpassmanagers as npm

    leaking = pass_manager_leak()
    for cls in leaking:
        _set(cls, "_dispose", npm.NewPassManager._dispose)
    return leaking


# -- numba ------------------------------------------------------------------

def _codegen_module():
    return sys.modules.get("numba.core.codegen")


def apply_numba(fix_leaks):
    """Patches numba's code generator if numba is imported (rivet calls this
    at ``install()`` and again when an engine is created, which numba does
    after importing its code generator). Once per install."""
    codegen = _codegen_module()
    if codegen is None:
        return False
    jit_codegen = getattr(codegen, "JITCPUCodegen", None)
    if jit_codegen is None or jit_codegen.__dict__.get("_rivet_patched"):
        return False
    _set(jit_codegen, "_rivet_patched", True)
    _set(jit_codegen, "_add_module", _freeing_add_module(jit_codegen._add_module))
    _keep_ufunc_wrappers()
    jit_library = getattr(codegen, "JITCodeLibrary", None)
    if jit_library is not None and "get_pointer_to_function" in jit_library.__dict__:
        _set(
            jit_library,
            "get_pointer_to_function",
            _keeping_escaped_code(jit_library.__dict__["get_pointer_to_function"]),
        )
    library = getattr(codegen, "CPUCodeLibrary", None)
    if fix_leaks and library is not None and "_optimize_functions" in library.__dict__:
        _set(
            library,
            "_optimize_functions",
            _definitions_only(library.__dict__["_optimize_functions"]),
        )
    return True


def _freeing_add_module(original):
    def _add_module(self, module):
        from rivet import ExecutionEngine

        jit_engine = self._engine
        engine = getattr(jit_engine, "_ee", None)
        if not isinstance(engine, ExecutionEngine):
            return original(self, module)
        if _may_outlive_its_library(module):
            return original(self, module)
        names, functions = _own_names(module)
        # Counted before the engine's call, which carries out queued
        # removals: a dropped library's name that this module defines too
        # must stay in numba's sets.
        counts = jit_engine.__dict__.setdefault("_rivet_name_counts", {})
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        try:
            jit_engine.add_module(module)
        except BaseException:
            for name in names:
                _uncount(counts, name)
            raise
        # Holds neither the library nor the codegen: numba registers this
        # with weakref.finalize on the library.
        forget = functools.partial(
            _forget_names, jit_engine, self._rtlinker, names, functions
        )
        removal = engine._removal(module, forget)
        # numba sets this weak proxy of the library just before the call;
        # the library's get_pointer_to_function may cancel the removal.
        library = getattr(module, "_CPUCodeLibrary__library", None)
        if library is not None:
            try:
                library._rivet_removal = removal
            except ReferenceError:  # pragma: no cover - the library is gone
                pass
        return removal

    _add_module.__doc__ = original.__doc__
    _add_module.__wrapped__ = original
    return _add_module


# Wrapper libraries of numba's ufuncs, kept for as long as the environment
# of the function they wrap (Environment -> [library]).
_wrappers_by_environment = weakref.WeakKeyDictionary()
_wrappers_kept_forever = []


def _keep_ufunc_wrappers():
    """numba builds a ufunc's loop in a wrapper library, takes the loop's
    address (``get_pointer_to_function``) and drops the library: the ufunc
    keeps only the wrapped function's library and environment alive. On
    llvmlite's engine the code stays anyway; rivet frees a dead library's
    code, so each wrapper library (made through ``_wrapper_info``, in
    ``numba.np.ufunc.wrappers`` and ``numba.np.ufunc.parallel``) is kept
    alive by that environment."""
    for module_name in ("numba.np.ufunc.wrappers", "numba.np.ufunc.parallel"):
        module = sys.modules.get(module_name)
        original = getattr(module, "_wrapper_info", None) if module else None
        if original is None or getattr(original, "_rivet_keeps_library", False):
            continue
        _set(module, "_wrapper_info", _kept_wrapper_info(original))


def _kept_wrapper_info(original):
    class _wrapper_info(original):
        __slots__ = ()
        _rivet_keeps_library = True

        def __new__(cls, *args, **kwargs):
            info = original.__new__(cls, *args, **kwargs)
            _keep_wrapper(info.library, info.env)
            return info

    _wrapper_info.__qualname__ = original.__qualname__
    _wrapper_info.__module__ = original.__module__
    return _wrapper_info


def _keep_wrapper(library, environment):
    try:
        _wrappers_by_environment.setdefault(environment, []).append(library)
    except TypeError:  # no environment (None), or one without weak references
        _wrappers_kept_forever.append(library)


# numba's run-time functions that store the address of JIT code in an
# object that lives on after the call: the destructor of a meminfo (typed
# and reflected lists, sets, typed dicts, jitclass instances, structrefs)
# and a generator's next and finalizer functions. Such an object can
# outlive the library that made it, and nothing tells when the last one
# goes, so a module calling them is never removed (as on llvmlite's
# engine, where nothing is).
_CODE_ESCAPING_CALLS = (
    "NRT_MemInfo_alloc_dtor",
    "NRT_MemInfo_alloc_dtor_safe",
    "NRT_MemInfo_new_varsize_dtor",
    "numba_make_generator",
)


def _may_outlive_its_library(module):
    for name in _CODE_ESCAPING_CALLS:
        try:
            module.get_function(name)
        except NameError:
            continue
        return True
    return False


# Entry points whose addresses numba hands to code that keeps the library
# alive itself: a dispatcher's CPython wrapper (its function object holds
# the library), a ufunc loop's wrapper (see _keep_ufunc_wrappers).
_KEPT_BY_THEIR_USERS = ("_ZN7cpython", "__ufunc__.", "__gufunc__.")


def _keeping_escaped_code(original):
    def get_pointer_to_function(self, name):
        address = original(self, name)
        if address and not name.startswith(_KEPT_BY_THEIR_USERS):
            # A C callback (CFunc.address, ``cfunc.`` wrappers) or a raw
            # function address (first-class functions): the caller keeps
            # the address, not the library. The code stays for the life of
            # the engine, as on llvmlite's engine.
            removal = self.__dict__.get("_rivet_removal")
            if removal is not None:
                removal.cancel()
        return address

    get_pointer_to_function.__doc__ = original.__doc__
    get_pointer_to_function.__wrapped__ = original
    return get_pointer_to_function


def _own_names(module):
    """The names *module* defines that numba records (``JitEngine.
    _defined_symbols``: functions and globals; the runtime linker's
    ``_defined``: functions), without those many modules define."""
    names, functions = [], []
    for values, kind in ((module.functions, functions), (module.global_variables, None)):
        for value in values:
            if value.is_declaration or value.linkage.name in _SHARED_LINKAGES:
                continue
            names.append(value.name)
            if kind is not None:
                kind.append(value.name)
    return tuple(names), frozenset(functions)


def _uncount(counts, name):
    """One module fewer defines *name*; whether others still do."""
    left = counts.get(name, 0) - 1
    if left > 0:
        counts[name] = left
        return True
    counts.pop(name, None)
    return False


def _forget_names(jit_engine, rtlinker, names, functions):
    """A library's module left the engine: its names leave numba's sets,
    unless a live module defines them too."""
    counts = jit_engine.__dict__.get("_rivet_name_counts", {})
    defined = jit_engine._defined_symbols
    rt_defined = getattr(rtlinker, "_defined", None)
    for name in names:
        if _uncount(counts, name):
            continue
        defined.discard(name)
        if rt_defined is not None and name in functions:
            rt_defined.discard(name)


class _Definitions(object):
    """A ``ModuleRef`` whose ``functions`` are its definitions only; the
    rest (attributes, assignments, the ctypes pointer) is the module's."""

    __slots__ = ("_module",)

    def __init__(self, module):
        object.__setattr__(self, "_module", module)

    @property
    def functions(self):
        return (f for f in self._module.functions if not f.is_declaration)

    def __getattr__(self, name):
        return getattr(self._module, name)

    def __setattr__(self, name, value):
        setattr(self._module, name, value)


def _definitions_only(original):
    def _optimize_functions(self, ll_module):
        # Function passes do nothing to a declaration, but each function
        # gets its own pass builder, and llvmlite 0.50 leaks each builder's
        # PassInstrumentationCallbacks: run numba's loop over definitions.
        return original(self, _Definitions(ll_module))

    _optimize_functions.__doc__ = original.__doc__
    _optimize_functions.__wrapped__ = original
    return _optimize_functions
