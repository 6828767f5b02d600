"""rivet: a JIT linker behind llvmlite's execution-engine API.

llvmlite turns IR into object bytes (``TargetMachine.emit_object``); rivet
links those bytes into memory it controls and hands out addresses. The API is
llvmlite's: ``create_mcjit_compiler``, ``check_jit_execution`` and an
``ExecutionEngine`` with ``add_module``, ``finalize_object``,
``get_function_address`` and the rest.

``rivet.install()`` makes ``llvmlite.binding.create_mcjit_compiler``,
``llvmlite.binding.ExecutionEngine`` and ``llvmlite.binding.check_jit_execution``
be rivet's, so that numba compiles and runs on rivet unmodified. Setting
``RIVET_INSTALL=1`` in the environment does the same when Python starts (a
``.pth`` file installed with the package does it), which also covers the
subprocesses numba's tests and caches start.
"""

import atexit
import collections
import ctypes
import itertools
import os
import sys
import threading
import weakref

from rivet import _numba
from rivet._rivet import (
    DEFAULT_USE_LMM,
    Engine as _Engine,
    RivetError,
    UnresolvedSymbolsError,
    check_jit_execution as _native_check_jit_execution,
)

from rivet.orcjit import (
    JITLibraryBuilder,
    LLJIT,
    ResourceTracker,
    create_lljit_compiler,
)

__all__ = [
    "DEFAULT_USE_LMM",
    "ExecutionEngine",
    "JITLibraryBuilder",
    "LLJIT",
    "ResourceTracker",
    "create_lljit_compiler",
    "RivetError",
    "UnresolvedSymbolsError",
    "check_jit_execution",
    "create_mcjit_compiler",
    "install",
    "installed",
    "uninstall",
]

__version__ = "0.1.0"


def _resolve_in_llvmlite(name):
    """Looks *name* up in llvmlite's process-wide table, in llvmlite's order:
    ``llvmlite.binding.add_symbol`` registrations, then libraries loaded with
    ``llvmlite.binding.load_library_permanently``, then the process. rivet
    asks its own run-time names (``atexit``, ``__tls_get_addr``) first.

    While ``install()`` is in effect the answers are remembered: only
    ``add_symbol`` and ``load_library_permanently`` change them, and
    ``install()`` wraps both to forget every answer (a search costs a few
    microseconds, most of them for names llvmlite does not have, and a
    numba module asks for about ten)."""
    answers = _llvmlite_answers
    if answers is not None:
        try:
            return answers[name]
        except KeyError:
            pass
    from llvmlite import binding

    generation = _llvmlite_generation
    address = binding.address_of_symbol(name)
    if answers is not None:
        with _llvmlite_answers_lock:
            # Not if the table changed during the search.
            if generation == _llvmlite_generation and answers is _llvmlite_answers:
                answers[name] = address
    return address


# llvmlite's answers by name (None: not remembered, install() is not in
# effect), and the number of changes to its table seen so far.
_llvmlite_answers = None
_llvmlite_generation = 0
_llvmlite_answers_lock = threading.Lock()


def _forget_llvmlite_answers():
    global _llvmlite_generation, _llvmlite_answers
    with _llvmlite_answers_lock:
        _llvmlite_generation += 1
        if _llvmlite_answers is not None:
            _llvmlite_answers = {}


def _table_changing(function):
    """*function* (llvmlite's ``add_symbol`` or ``load_library_permanently``),
    forgetting rivet's remembered answers once it has changed the table."""

    def changed(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            _forget_llvmlite_answers()

    changed.__name__ = function.__name__
    changed.__doc__ = function.__doc__
    changed.__wrapped__ = function
    return changed


def check_jit_execution():
    """Raises OSError naming the refusal when the system does not let this
    process run code it writes (SELinux, PaX, a noexec policy); returns
    None otherwise."""
    _native_check_jit_execution()


def create_mcjit_compiler(module, target_machine, use_lmm=None):
    """An engine that compiles with *target_machine* (llvmlite's
    ``TargetMachine``) and holds *module* (llvmlite's ``ModuleRef``).

    *use_lmm*: True for rivet's arena (one reservation, code and data within
    ±2 GiB), False for its per-section manager, None for the default (the
    arena on every platform)."""
    if _saved is not None:
        # numba creates its engine after importing its code generator:
        # installed before numba was imported, rivet patches numba now.
        _numba.apply_numba(_fix_leaks)
    return ExecutionEngine(module, target_machine, use_lmm=use_lmm)


class _Entry(object):
    """A module the engine holds.

    Pending (not compiled yet): the engine holds the ``ModuleRef`` and owns
    the LLVM module. Linked (its object handed to rivet's linker): the IR is
    not needed any more, so the engine keeps only a weak reference to the
    ``ModuleRef`` and gives the LLVM module back to it; the IR is freed as
    soon as the caller drops the ``ModuleRef`` (at once if nobody held it).
    """

    __slots__ = ("key", "ident", "module", "ref", "raw", "native_id")

    def __init__(self, key, module, raw):
        self.key = key
        # id() of the ModuleRef: the index of _by_module (ModuleRef is not
        # hashable). Checked against the object itself on every look-up,
        # since an id is reused once its object is gone.
        self.ident = id(module)
        self.module = module
        self.ref = None
        # The LLVM module's address, kept so that the engine can still
        # compile and dispose of a module whose ModuleRef the caller closed
        # while the engine owned it (llvmlite lets that happen).
        self.raw = raw
        # rivet's number for the module's object, once compiled.
        self.native_id = None

    def current(self):
        """The caller's ModuleRef, or None once it is gone."""
        if self.module is not None:
            return self.module
        if self.ref is not None:
            return self.ref()
        return None


class _Removal(object):
    """A removal of one module that the garbage collector may request (the
    cleanup rivet's numba hook returns). Calling it only queues the
    removal; the engine carries it out under its lock at its next call,
    since collection can happen anywhere, in the middle of a compile
    included. Holds neither the module nor its owner."""

    __slots__ = ("_engine", "_key", "_on_removed", "__weakref__")

    def __init__(self, engine, key, on_removed):
        self._engine = engine
        self._key = key
        self._on_removed = on_removed

    def __call__(self):
        engine, self._engine = self._engine, None
        if engine is not None:
            # deque.append is atomic: safe from a finalizer on any thread.
            engine._removals.append((self._key, self._on_removed))

    def cancel(self):
        """The module stays for the life of the engine: calling the removal
        does nothing from now on."""
        self._engine = None


def _closed_error():
    # llvmlite raises ctypes.ArgumentError for any call on a closed engine
    # (its pointer is gone); callers and llvmlite's tests rely on that type.
    return ctypes.ArgumentError("the ExecutionEngine is closed")


# Engines alive now. When Python exits they are left mapped rather than
# freed, as llvmlite leaves MCJIT's: objects finalized late in interpreter
# shutdown may still call JIT code (numba's array destructors, for example).
_live_engines = weakref.WeakSet()


@atexit.register
def _keep_code_at_exit():
    for engine in list(_live_engines):
        engine._leak_at_exit()


class ExecutionEngine(object):
    """llvmlite's ``ExecutionEngine`` on rivet.

    Owns the modules added to it. Code generation is lazy: modules are
    compiled (with the engine's target machine, or taken from the object
    cache) and linked at ``finalize_object`` or at the first address query.
    Once a module's object is emitted, the engine no longer needs its IR:
    it holds the ``ModuleRef`` weakly from then on, so the IR is freed when
    the caller drops it (the code stays until ``remove_module`` or
    ``close()``).
    """

    _closed = False
    _native = None

    def __init__(self, module, target_machine, use_lmm=None):
        self._native = _Engine(use_lmm)
        self._tm = target_machine
        self._td = None
        # Modules waiting to be compiled, and those handed to rivet's linker,
        # each by key in the order they were added; _by_module finds an
        # entry from its ModuleRef (by id, checked) without a scan.
        self._pending = {}
        self._linked = {}
        self._by_module = {}
        self._keys = itertools.count()
        # Removals requested by the garbage collector (_Removal), carried
        # out at the next call.
        self._removals = collections.deque()
        self._objects = []
        self._lock = threading.RLock()
        self._compiling = False
        self._object_cache_notify = None
        self._object_cache_getbuffer = None
        self._native.set_symbol_resolver(_resolve_in_llvmlite)
        _live_engines.add(self)
        self.add_module(module)

    # -- llvmlite's API -----------------------------------------------------

    def add_module(self, module):
        """The engine takes ownership of *module* (a ``ModuleRef``); it is
        compiled at the next ``finalize_object`` or address query. KeyError
        if it was added already."""
        with self._lock:
            self._enter()
            if self._find(module) is not None:
                raise KeyError("module already added to this engine")
            if module.closed:
                raise _closed_module_error(module)
            raw = ctypes.cast(module._ptr, ctypes.c_void_p).value
            entry = _Entry(next(self._keys), module, raw)
            self._pending[entry.key] = entry
            self._by_module[entry.ident] = entry
            module._owned = True

    def remove_module(self, module):
        """Hands *module* back to the caller: its names disappear from the
        engine at once, and its code's memory is reused once no live module
        binds to it (the engine's unloading rules). KeyError if the engine
        does not hold it."""
        with self._lock:
            self._enter()
            entry = self._find(module)
            if entry is None:
                raise KeyError("module not added to this engine")
            self._forget(entry)
            if entry.module is not None:
                # Pending: the engine owned it until now.
                module._owned = False
                if module.closed:
                    # Closed while the engine owned it: nobody else can free it.
                    _dispose_raw_module(entry.raw)

    def finalize_object(self):
        """Compiles and links every module added so far. Unresolved symbols
        raise ``UnresolvedSymbolsError`` naming them (the modules stay
        pending: register the names and call again)."""
        with self._lock:
            self._enter()
            self._compile_pending()
            self._native.finalize()

    def get_function_address(self, name):
        """The address of function *name*, finalizing first; 0 when no
        module of the engine defines it (as llvmlite returns)."""
        return self._address(name)

    def get_global_value_address(self, name):
        """The address of global *name*, finalizing first; 0 when no module
        of the engine defines it (as llvmlite returns)."""
        return self._address(name)

    def add_global_mapping(self, gv, addr):
        """Maps the global *gv* (a ``ValueRef``, or a name) to *addr* ahead
        of every other definition, for modules linked from now on."""
        name = gv if isinstance(gv, str) else gv.name
        addr = getattr(addr, "value", addr)
        with self._lock:
            self._enter()
            self._native.add_global_mapping(name, int(addr or 0))

    def add_object_file(self, obj_file):
        """Adds a relocatable object: a path, or an ``ObjectFileRef``."""
        if isinstance(obj_file, (str, bytes, os.PathLike)):
            path = os.fsdecode(obj_file)
            with open(path, "rb") as f:
                data = f.read()
            name = path
        else:
            data = getattr(obj_file, "_rivet_object_bytes", None)
            if data is None:
                raise TypeError(
                    "rivet needs the bytes of %r: create ObjectFileRef objects "
                    "after `import rivet` (it records them), or pass a path"
                    % (obj_file,)
                )
            name = "<ObjectFileRef>"
        with self._lock:
            self._enter()
            self._objects.append(self._native.add_object(data, name))

    def set_object_cache(self, notify_func=None, getbuffer_func=None):
        """*notify_func(module, buffer)* is called for every module compiled,
        with the ``ModuleRef`` the caller added and the object's bytes;
        *getbuffer_func(module)* is called before compiling one and may return
        bytes that replace compiling it (notify is then not called)."""
        with self._lock:
            self._object_cache_notify = notify_func
            self._object_cache_getbuffer = getbuffer_func

    def run_static_constructors(self):
        """Runs the static constructors of every module (once each)."""
        with self._lock:
            self._enter()
            self._compile_pending()
            self._native.run_static_constructors()

    def run_static_destructors(self):
        """Runs the static destructors of every module whose constructors
        ran."""
        with self._lock:
            self._enter()
            self._native.run_static_destructors()

    @property
    def target_data(self):
        """llvmlite's ``TargetData`` for the engine's target machine (the
        same object every time)."""
        if self._td is None:
            self._td = self._tm.target_data
        return self._td

    def enable_jit_events(self):
        """Registers modules linked from now on with gdb and writes a perf
        map naming their functions. Returns True."""
        with self._lock:
            self._enter()
            return self._native.enable_jit_events()

    def close(self):
        """Frees the engine: modules' destructors run, code is unmapped and
        the modules it owned are disposed of. Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        _live_engines.discard(self)
        native = self._native
        if native is not None:
            native.close()
        for entry in list(getattr(self, "_pending", {}).values()):
            module = entry.module
            if module.closed:
                _dispose_raw_module(entry.raw)
            else:
                module._owned = False
                module.close()
        for entry in list(getattr(self, "_linked", {}).values()):
            # As llvmlite's engine does, close the modules it was given
            # that the caller still holds (their IR is freed).
            module = entry.current()
            if module is not None:
                module.close()
        self._pending = {}
        self._linked = {}
        self._by_module = {}
        self._objects = []

    @property
    def closed(self):
        return self._closed

    def __enter__(self):
        if self._closed:
            raise RuntimeError("%s instance already closed" % (self.__class__,))
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()

    def __del__(self):
        if sys is None or sys.is_finalizing():
            self._leak_at_exit()
        else:
            self.close()

    # -- rivet's additions --------------------------------------------------

    @property
    def memory_stats(self):
        """The memory manager's figures: reserved and committed bytes,
        committed bytes per segment class, allocations, mappings."""
        with self._lock:
            self._enter()
            return self._native.memory_stats()

    def symbolize(self, address):
        """``(name, offset)`` of the function or global holding *address*,
        or None."""
        self._check_open()
        return self._native.symbolize(address)

    def symbolize_line(self, address):
        """``(file, line, column)`` of the code at *address*, from the DWARF
        line table of its module (compiled with debug information and
        linked while gdb registration or a jitdump was on, as it is by
        default for the Python package: ``RIVET_GDB=0`` turns it off), or
        None."""
        self._check_open()
        return self._native.symbolize_line(address)

    @property
    def module_count(self):
        """How many modules (IR and objects) the engine holds."""
        with self._lock:
            if not self._closed:
                self._drain_removals()
            return len(self._pending) + len(self._linked) + len(self._objects)

    # -- internals ----------------------------------------------------------

    def _check_open(self):
        if self._closed:
            raise _closed_error()

    def _enter(self):
        """Every call that holds the lock starts here: the engine must be
        open, and removals the garbage collector asked for are done now."""
        self._check_open()
        self._drain_removals()

    def _find(self, module):
        entry = self._by_module.get(id(module))
        if entry is not None and entry.current() is module:
            return entry
        return None

    def _forget(self, entry):
        """Takes *entry* out of the engine: its object leaves rivet (names
        at once; memory as the engine allows), and the maps forget it."""
        if entry.native_id is not None:
            self._native.remove_module(entry.native_id)
        if entry.module is not None:
            self._pending.pop(entry.key, None)
        else:
            self._linked.pop(entry.key, None)
        if self._by_module.get(entry.ident) is entry:
            del self._by_module[entry.ident]

    def _removal(self, module, on_removed=None):
        """A callable that asks for *module*'s removal when called (from a
        finalizer, on any thread); the next call of the engine carries it
        out, then calls *on_removed()* (not if the module was removed
        otherwise meanwhile). For code whose owner is known to be gone, as
        numba's code libraries are when their finalizers run."""
        with self._lock:
            self._check_open()
            entry = self._find(module)
            if entry is None:
                raise KeyError("module not added to this engine")
            return _Removal(self, entry.key, on_removed)

    def _drain_removals(self):
        # The lock is held. A finalizer that ran inside a compile (this
        # thread holds the lock then too) waits for the compile to end.
        if self._compiling:
            return
        removals = self._removals
        while removals:
            key, on_removed = removals.popleft()
            entry = self._pending.get(key) or self._linked.get(key)
            if entry is None:
                # Removed already (remove_module, or a second request).
                continue
            self._forget(entry)
            module = entry.module
            if module is not None:
                # Never compiled (its compile failed): its IR goes too.
                if module.closed:
                    _dispose_raw_module(entry.raw)
                else:
                    module._owned = False
                    module.close()
            if on_removed is not None:
                try:
                    on_removed()
                except Exception:  # a cleanup's failure is not the caller's
                    sys.unraisablehook(_unraisable(sys.exc_info(), on_removed))

    def _address(self, name):
        with self._lock:
            self._enter()
            self._compile_pending()
            return self._native.address(name) or 0

    def _compile_pending(self):
        if not self._pending:
            return
        if self._compiling:
            raise RuntimeError(
                "object cache callbacks may not call back into the engine"
            )
        self._compiling = True
        try:
            for entry in list(self._pending.values()):
                module = entry.module
                data = None
                if self._object_cache_getbuffer is not None:
                    data = self._object_cache_getbuffer(module)
                if data is None:
                    data = self._tm.emit_object(_compilable(module, entry.raw))
                    if self._object_cache_notify is not None:
                        self._object_cache_notify(module, data)
                entry.native_id = self._native.add_object(
                    bytes(data), _module_name(module, entry.raw)
                )
                self._release_ir(entry)
                del module
        finally:
            self._compiling = False

    def _release_ir(self, entry):
        """*entry*'s object is in rivet: the engine lets go of its IR."""
        module = entry.module
        del self._pending[entry.key]
        entry.module = None
        self._linked[entry.key] = entry
        if module.closed:
            # Closed by the caller while the engine owned it: nobody else
            # can free it, the engine does now.
            _dispose_raw_module(entry.raw)
        else:
            # The ModuleRef owns its LLVM module again: it is freed when the
            # last reference goes (now, unless the caller keeps one).
            module._owned = False
        # Found again by remove_module for as long as the caller holds it.
        entry.ref = weakref.ref(module)
        entry.raw = None

    def _leak_at_exit(self):
        # Keep the code mapped until the process ends (see _live_engines).
        native = self._native
        if native is not None and not native.closed:
            native.leak()
        self._closed = True


def _unraisable(exc_info, obj):
    exc_type, exc_value, exc_tb = exc_info
    return _UnraisableHookArgs(
        exc_type, exc_value, exc_tb, "rivet: a module's removal hook failed", obj
    )


class _UnraisableHookArgs(object):
    __slots__ = ("exc_type", "exc_value", "exc_traceback", "err_msg", "object")

    def __init__(self, exc_type, exc_value, exc_traceback, err_msg, obj):
        self.exc_type = exc_type
        self.exc_value = exc_value
        self.exc_traceback = exc_traceback
        self.err_msg = err_msg
        self.object = obj


def _closed_module_error(module):
    return ctypes.ArgumentError("%r is closed" % (module,))


def _compilable(module, raw):
    """*module*, or for a ModuleRef closed while the engine owned it, a
    borrowed ModuleRef over the same LLVM module."""
    if not module.closed:
        return module
    from llvmlite.binding import ffi, module as llmodule

    borrowed = llmodule.ModuleRef(ctypes.cast(raw, ffi.LLVMModuleRef), None)
    borrowed._owned = True  # never disposes: the engine does
    return borrowed


def _module_name(module, raw):
    return _compilable(module, raw).name


def _dispose_raw_module(raw):
    from llvmlite.binding import ffi

    ffi.lib.LLVMPY_DisposeModule(ctypes.cast(raw, ffi.LLVMModuleRef))


# -- ObjectFileRef: remember the bytes ---------------------------------------

def _record_object_file_bytes():
    """Makes ``ObjectFileRef.from_data`` / ``from_path`` remember the bytes
    they were made from, since llvmlite offers no way to read them back and
    rivet links the bytes itself."""
    try:
        from llvmlite.binding import object_file
    except ImportError:  # pragma: no cover - llvmlite is a dependency
        return
    cls = object_file.ObjectFileRef
    if getattr(cls, "_rivet_records_bytes", False):
        return
    original_from_data = cls.from_data.__func__

    def from_data(cls, data):
        obj = original_from_data(cls, data)
        obj._rivet_object_bytes = bytes(data)
        return obj

    def from_path(cls, path):
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_data(data)

    cls.from_data = classmethod(from_data)
    cls.from_path = classmethod(from_path)
    cls._rivet_records_bytes = True


_record_object_file_bytes()


# -- install / uninstall -----------------------------------------------------

_saved = None
_fix_leaks = True
_PATCHED = ("create_mcjit_compiler", "ExecutionEngine", "check_jit_execution")
# llvmlite's ORC API, in llvmlite.binding and llvmlite.binding.orcjit.
_PATCHED_ORC = ("create_lljit_compiler", "LLJIT", "JITLibraryBuilder", "ResourceTracker")
_THIS = sys.modules[__name__]
# llvmlite's calls that change what its symbol table answers.
_TABLE_CHANGING = ("add_symbol", "load_library_permanently")


def _remember_llvmlite_answers(on):
    global _llvmlite_answers, _llvmlite_generation
    with _llvmlite_answers_lock:
        _llvmlite_generation += 1
        _llvmlite_answers = {} if on else None


def installed():
    """Whether ``install()`` is in effect."""
    return _saved is not None


def install(fix_leaks=True):
    """Makes llvmlite's ``create_mcjit_compiler``, ``ExecutionEngine`` and
    ``check_jit_execution``, and its ORC API (``create_lljit_compiler``,
    ``LLJIT``, ``JITLibraryBuilder``, ``ResourceTracker``), be rivet's, so
    code written for llvmlite, numba included, runs on rivet. Call it before
    numba compiles anything (best: before importing numba, or set
    ``RIVET_INSTALL=1``). Idempotent: a second call does nothing.

    numba's code libraries then free their code when they die (their
    module leaves the engine at its next call). *fix_leaks* (default True)
    also works around two leaks that are not rivet's: llvmlite 0.50's pass
    managers that are never disposed (only when the installed llvmlite has
    that bug), and numba running a pass pipeline for each declaration.
    ``RIVET_FIX_LEAKS=0`` in the environment turns it off for
    ``RIVET_INSTALL=1``."""
    global _saved, _fix_leaks
    if _saved is not None:
        return
    from llvmlite import binding
    from llvmlite.binding import executionengine, orcjit

    saved = {}
    for target in (binding, executionengine):
        for name in _PATCHED:
            saved[(target, name)] = getattr(target, name)
            setattr(target, name, getattr(_THIS, name))
    for target in (binding, orcjit):
        for name in _PATCHED_ORC:
            saved[(target, name)] = getattr(target, name)
            setattr(target, name, getattr(_THIS, name))
    from llvmlite.binding import dylib

    for target in (binding, dylib):
        for name in _TABLE_CHANGING:
            saved[(target, name)] = getattr(target, name)
            setattr(target, name, _table_changing(getattr(target, name)))
    _saved = saved
    _remember_llvmlite_answers(True)
    _fix_leaks = bool(fix_leaks)
    if _fix_leaks:
        _numba.apply_pass_manager_dispose()
    _patch_numba_proxies()
    _numba.apply_numba(_fix_leaks)


def uninstall():
    """Puts llvmlite's own engine back, and undoes what ``install()``
    changed in numba and llvmlite (engines already created stay as they
    are)."""
    global _saved
    if _saved is None:
        return
    for (target, name), value in _saved.items():
        setattr(target, name, value)
    _saved = None
    _remember_llvmlite_answers(False)
    _numba.undo()


def _patch_numba_proxies():
    """numba's ``JitEngine`` binds ``llvmlite.binding.ExecutionEngine``'s
    methods when numba is imported. If numba was imported before
    ``install()``, make those proxies call the wrapped engine's own method,
    whichever class it is."""
    codegen = sys.modules.get("numba.core.codegen")
    if codegen is None:
        return
    jit_engine = getattr(codegen, "JitEngine", None)
    if jit_engine is None:
        return

    def forward(name):
        def method(self, *args, **kwargs):
            return getattr(self._ee, name)(*args, **kwargs)

        method.__name__ = name
        return method

    for name in (
        "set_object_cache",
        "finalize_object",
        "get_function_address",
        "get_global_value_address",
    ):
        setattr(jit_engine, name, forward(name))


def _env_flag(name):
    value = os.environ.get(name, "")
    return value not in ("", "0")


if _env_flag("RIVET_INSTALL"):
    install(fix_leaks=os.environ.get("RIVET_FIX_LEAKS", "1") != "0")
