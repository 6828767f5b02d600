"""llvmlite's ORC API on rivet: ``create_lljit_compiler``, ``LLJIT``,
``JITLibraryBuilder`` and ``ResourceTracker``, with llvmlite 0.50's
signatures, return types and error messages.

LLVM (through llvmlite) turns IR and assembly into object bytes with the
LLJIT's target machine; rivet links each library into memory it controls,
in a namespace of its own: its imports, then the exports of the libraries
it names (in order), then the process if ``add_current_process()`` was
called, and nothing else. ``use_jit_link`` is accepted and changes nothing:
rivet is the linker either way.

A library stays loaded while its ``ResourceTracker`` lives. ``close()``
on the tracker unloads it at once (its destructors run; its memory goes
back once no other library binds to it). A tracker collected by the garbage
collector is unloaded at the LLJIT's next call, not from inside the
collector. Closing the LLJIT (``close()``, ``with``) unloads every library
and runs their destructors; an LLJIT collected by the garbage collector
frees its libraries without calling their destructors, since the
collector may already have freed what they refer to.
"""

import atexit
import threading
import weakref

from rivet._rivet import LibraryEngine as _LibraryEngine

__all__ = [
    "JITLibraryBuilder",
    "LLJIT",
    "ResourceTracker",
    "create_lljit_compiler",
]

_IR, _ASSEMBLY, _OBJECT, _LIBRARY = range(4)


class JITLibraryBuilder(object):
    """The units, link order, imports and exports of one library, in the
    order they are given; ``link(lljit, name)`` links them."""

    def __init__(self):
        self.__entries = []
        self.__exports = []
        self.__imports = {}

    def add_ir(self, llvmir):
        """A unit of LLVM IR (a string, or anything whose ``str()`` is IR,
        such as an ``llvmlite.ir.Module``)."""
        self.__entries.append((_IR, str(llvmir)))
        return self

    def add_native_assembly(self, asm):
        """A unit of assembly for the LLJIT's target, assembled in-process
        by LLVM."""
        self.__entries.append((_ASSEMBLY, str(asm)))
        return self

    def add_object_img(self, data):
        """A unit of object code: the bytes of a relocatable object."""
        self.__entries.append((_OBJECT, bytes(data)))
        return self

    def add_object_file(self, file_path):
        """A unit of object code read from *file_path*."""
        with open(file_path, "rb") as f:
            self.__entries.append((_OBJECT, f.read()))
        return self

    def add_jit_library(self, name):
        """Names left undefined resolve in library *name*'s exports."""
        self.__entries.append((_LIBRARY, str(name)))
        return self

    def add_current_process(self):
        """Names found nowhere else resolve in the process and the
        libraries it has loaded."""
        self.__entries.append((_LIBRARY, ""))
        return self

    def import_symbol(self, name, address):
        """Defines *name* at *address* in the library."""
        self.__imports[str(name)] = int(address)
        return self

    def export_symbol(self, name):
        """Makes *name* visible to look-ups and to other libraries; its
        address is in the tracker ``link`` returns."""
        name = str(name)
        if name not in self.__exports:
            self.__exports.append(name)
        return self

    def link(self, lljit, library_name):
        """Links the units into library *library_name* of *lljit*, runs its
        constructors, and returns its ``ResourceTracker``. RuntimeError
        when linking fails."""
        assert not lljit.closed, "Cannot add to closed JIT"
        library_name = str(library_name)
        assert len(library_name.encode("utf-8")) > 0, "Library cannot be empty"
        return lljit._link(
            library_name, list(self.__entries), dict(self.__imports), list(self.__exports)
        )


class ResourceTracker(object):
    """Keeps a library loaded, and knows the addresses of the exports asked
    for. ``tracker[name]`` is an export's address."""

    def __init__(self, lljit, library_id, name, addresses):
        self.__lljit = lljit
        self.__id = library_id
        self.__name = name
        self.__addresses = addresses
        self._closed = library_id is None

    def __getitem__(self, item):
        return self.__addresses[item]

    @property
    def name(self):
        return self.__name

    @property
    def closed(self):
        return self._closed

    def memory_stats(self):
        """What the library's memory costs: bytes of its segments, of the
        pages they touch and of the pages only it uses, and bytes by class;
        None once it is unloaded."""
        lljit = self.__lljit
        if self._closed or lljit is None or lljit.closed:
            return None
        return lljit._native.library_memory_stats(self.__id)

    def close(self):
        """Unloads the library now: its destructors run, its names go.
        Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        lljit = self.__lljit
        if lljit is not None and not lljit.closed:
            lljit._dispose(self.__id)

    def __enter__(self):
        if self._closed:
            raise RuntimeError("%s instance already closed" % (self.__class__,))
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()

    def __del__(self):
        if getattr(self, "_closed", True):
            return
        self._closed = True
        lljit = self.__lljit
        if lljit is not None:
            # Never call into JIT code from the garbage collector: the
            # LLJIT unloads the library at its next call.
            lljit._collected.append(self.__id)


# LLJITs alive now: left mapped, not freed, when Python exits (objects
# finalized late in shutdown may still call their code).
_live = weakref.WeakSet()


class LLJIT(object):
    """A set of JIT libraries linked by rivet (llvmlite's ``LLJIT``)."""

    def __init__(self, target_machine, use_lmm=None):
        self._native = _LibraryEngine(use_lmm)
        self._tm = target_machine
        self._td = None
        self._lock = threading.RLock()
        # Ids of libraries whose trackers the garbage collector took.
        self._collected = []
        self._closed = False
        _live.add(self)

    @property
    def closed(self):
        return self._closed

    def lookup(self, dylib, fn):
        """The address of *fn* among library *dylib*'s exports, in a
        ``ResourceTracker`` (which does not own the library). RuntimeError
        when the library or the name is not there."""
        assert not self.closed, "Cannot lookup in closed JIT"
        with self._lock:
            self._unload_collected()
            address = self._native.lookup(str(dylib), str(fn))
        return ResourceTracker(self, None, dylib, {fn: address})

    @property
    def target_data(self):
        """llvmlite's ``TargetData`` for the LLJIT's target machine (the
        same object every time)."""
        if self._td is None:
            self._td = self._tm.target_data
        return self._td

    def close(self):
        """Unloads every library (their destructors run) and frees the
        JIT. Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        self._collected = []
        self._native.close()

    def __enter__(self):
        if self._closed:
            raise RuntimeError("%s instance already closed" % (self.__class__,))
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()

    def __del__(self):
        if getattr(self, "_closed", True):
            return
        self._closed = True
        native = getattr(self, "_native", None)
        if native is not None and not native.closed:
            # See the module's docs: no destructors from the collector.
            native.set_run_destructors(False)
            native.close()

    # -- internals ----------------------------------------------------------

    def _unload_collected(self):
        while self._collected:
            library_id = self._collected.pop()
            try:
                self._native.dispose(library_id)
            except RuntimeError:
                pass  # closed meanwhile

    def _dispose(self, library_id):
        with self._lock:
            self._unload_collected()
            self._native.dispose(library_id)

    def _link(self, name, entries, imports, exports):
        objects = []
        link_order = []
        for kind, value in entries:
            if kind == _LIBRARY:
                link_order.append(value or None)
            elif kind == _OBJECT:
                objects.append((value, "%s.o" % (name,)))
            elif kind == _IR:
                objects.append((self._compile_ir(value), "%s.ll" % (name,)))
            else:
                objects.append((self._assemble(value), "%s.s" % (name,)))
        with self._lock:
            if self._closed:
                raise RuntimeError("the JIT is closed")
            self._unload_collected()
            library_id, addresses = self._native.link(
                name, objects, link_order, list(imports.items()), exports
            )
        return ResourceTracker(self, library_id, name, addresses)

    def _compile_ir(self, text):
        from llvmlite import binding

        module = binding.parse_assembly(text)
        module.verify()
        return self._tm.emit_object(module)

    def _assemble(self, text):
        from llvmlite import binding

        lines = "\n".join(
            'module asm "%s"' % (_ir_string(line),) for line in text.splitlines()
        )
        module = binding.parse_assembly(
            'target triple = "%s"\n%s\n' % (_ir_string(self._tm.triple), lines)
        )
        return self._tm.emit_object(module)

    def _leak_at_exit(self):
        native = self._native
        if not native.closed:
            native.leak()
        self._closed = True


def _ir_string(text):
    """*text* as the inside of an IR string constant."""
    out = []
    for byte in text.encode("utf-8"):
        if byte == 0x22 or byte == 0x5C or byte < 0x20 or byte >= 0x7F:
            out.append("\\%02X" % byte)
        else:
            out.append(chr(byte))
    return "".join(out)


def create_lljit_compiler(target_machine=None, *, use_jit_link=False, suppress_errors=False):
    """An LLJIT on rivet. *target_machine* (llvmlite's ``TargetMachine``)
    compiles IR and assembly; None makes one for the host. *use_jit_link*
    and *suppress_errors* are accepted for llvmlite's signature: rivet links
    either way, and reports errors as exceptions, never on stderr."""
    from llvmlite import binding

    binding.initialize_native_target()
    binding.initialize_native_asmprinter()
    binding.initialize_native_asmparser()
    if target_machine is None:
        target = binding.Target.from_default_triple()
        target_machine = target.create_target_machine(
            cpu=binding.get_host_cpu_name(),
            features=binding.get_host_cpu_features().flatten(),
            reloc="pic",
            codemodel="default",
        )
    return LLJIT(target_machine)


@atexit.register
def _leak_live_at_exit():
    for lljit in list(_live):
        lljit._leak_at_exit()
