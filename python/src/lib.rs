//! `rivet._rivet`: rivet's linker core for Python.
//!
//! This is the native half of the `rivet` package. It knows nothing about
//! LLVM: it takes relocatable object bytes (which the Python half gets from
//! llvmlite's `TargetMachine.emit_object`), links them into memory rivet
//! controls and answers address look-ups. The llvmlite-shaped API (module
//! ownership, lazy compilation, the object cache) lives in `rivet/__init__.py`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use pyo3::create_exception;
use pyo3::exceptions::{PyKeyError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use rivet::debug::perf::ProfilerOptions;
use rivet::memory::{Arena, ArenaConfig, ArenaMode, SegmentClass};
use rivet::{Error, ExecutionEngine, ModuleId};

mod orc;

create_exception!(
    _rivet,
    RivetError,
    PyRuntimeError,
    "An error from rivet's linker; the message names the symbol, section, relocation and object."
);
create_exception!(
    _rivet,
    UnresolvedSymbolsError,
    RivetError,
    "Symbols referenced but defined nowhere; `.symbols` lists (symbol, object) pairs."
);

/// Turns a core error into the Python exception that describes it.
fn to_py(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::UnresolvedSymbols { symbols } => {
            let err = UnresolvedSymbolsError::new_err(message);
            // Best effort: the message already names every symbol.
            let _ = err.value(py).setattr("symbols", symbols);
            err
        }
        Error::JitExecutionRefused { .. } => PyOSError::new_err(message),
        Error::ModuleNotFound(_) => PyKeyError::new_err(message),
        _ => RivetError::new_err(message),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps guarded here are updated in one step each; a panic elsewhere
    // cannot leave them half-written, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether engines register their modules with gdb from the start: yes,
/// as llvmlite's, unless `RIVET_GDB` is set to "0" (or to nothing).
fn gdb_by_default() -> bool {
    std::env::var_os("RIVET_GDB").is_none_or(|v| !v.is_empty() && v != "0")
}

/// Whether this process is being debugged: `RIVET_GDB=1` says so, and so
/// does a tracer (a debugger that started the process or attached to it:
/// `TracerPid` in `/proc/self/status`).
fn debugging() -> bool {
    if std::env::var_os("RIVET_GDB").is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .is_some_and(|pid| pid.trim() != "0")
    })
}

/// An engine over the memory `use_lmm` asks for, fit for a debugger that
/// sets breakpoints when `debugged`.
///
/// A debugger sets a breakpoint by writing into the code's page. The
/// arena's dual-mapped mode runs code from a private mapping of a memory
/// file, so such a write gives the process its own copy of the page, and
/// code that rivet links later beside it (written through the file) would
/// not show there. Its page mode gives each module pages of its own, which
/// a breakpoint cannot disturb, at some 12 KiB and 3 mappings a module:
/// engines created while the process is debugged use it, unless
/// `RIVET_ARENA_MODE` names a mode.
fn engine_for(use_lmm: Option<bool>, debugged: bool) -> rivet::Result<ExecutionEngine> {
    let arena = use_lmm.unwrap_or(rivet::DEFAULT_USE_LMM);
    if debugged && arena && std::env::var_os(ArenaMode::ENV).is_none() {
        let config = ArenaConfig {
            mode: Some(ArenaMode::Pages),
            ..ArenaConfig::default()
        };
        return Ok(ExecutionEngine::new(Box::new(Arena::new(config)?)));
    }
    ExecutionEngine::with_lmm(use_lmm)
}

/// One rivet execution engine: objects in, addresses out.
///
/// Calls keep the interpreter attached, so callbacks into Python (the symbol
/// resolver) run on the calling thread without waiting for it.
#[pyclass(module = "rivet._rivet", name = "Engine", frozen)]
struct Engine {
    engine: EngineSlot,
    /// Raw module numbers handed to Python, and the core's ids for them.
    ids: Mutex<HashMap<u64, ModuleId>>,
}

/// A Python object's engine: `None` once closed. Calls take a clone of the
/// `Arc` and release the lock, so a call re-entering from a callback cannot
/// deadlock here.
pub(crate) struct EngineSlot(RwLock<Option<Arc<ExecutionEngine>>>);

impl EngineSlot {
    pub(crate) fn new(engine: ExecutionEngine) -> EngineSlot {
        EngineSlot(RwLock::new(Some(Arc::new(engine))))
    }

    /// The engine; ValueError naming `what` once closed.
    pub(crate) fn get(&self, what: &str) -> PyResult<Arc<ExecutionEngine>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| PyValueError::new_err(format!("the {what} is closed")))
    }

    /// Takes the engine out: dropping it frees every module.
    pub(crate) fn take(&self) -> Option<Arc<ExecutionEngine>> {
        self.0.write().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Closes the slot leaving the engine's code and data mapped until the
    /// process ends: for engines alive at interpreter exit, whose code
    /// objects being torn down may still call.
    pub(crate) fn leak(&self) {
        if let Some(engine) = self.take() {
            // Deliberately never dropped: the memory stays until exit.
            std::mem::forget(engine);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.0.read().unwrap_or_else(|e| e.into_inner()).is_none()
    }
}

impl Engine {
    fn get(&self) -> PyResult<Arc<ExecutionEngine>> {
        self.engine.get("engine")
    }
}

#[pymethods]
impl Engine {
    /// `use_lmm`: True for the arena (one reservation, everything within
    /// ±2 GiB), False for the per-section manager, None for the default.
    #[new]
    #[pyo3(signature = (use_lmm=None))]
    fn new(py: Python<'_>, use_lmm: Option<bool>) -> PyResult<Engine> {
        let gdb = gdb_by_default();
        let engine = engine_for(use_lmm, gdb && debugging()).map_err(|e| to_py(py, e))?;
        // llvmlite's engine (MCJIT) lets a later module redefine a name an
        // earlier finalize defined; numba reloads cached functions that way.
        engine.allow_redefinition(true);
        // MCJIT also registers every module with gdb (its constructor adds
        // LLVM's GDB registration listener), so numba's `debug=True` code
        // is visible to gdb with no switch; so is rivet's, unless
        // RIVET_GDB=0. The cost is paid per module: an ELF image of its
        // symbols, plus its DWARF when the object carries any.
        if gdb {
            engine.enable_gdb(true);
        }
        Ok(Engine {
            engine: EngineSlot::new(engine),
            ids: Mutex::new(HashMap::new()),
        })
    }

    /// Adds a relocatable object (checked now, linked at the next finalize);
    /// returns a module number for `remove_module`.
    fn add_object(&self, py: Python<'_>, data: &[u8], name: &str) -> PyResult<u64> {
        let engine = self.get()?;
        let id = engine
            .add_object_bytes(data.to_vec(), name)
            .map_err(|e| to_py(py, e))?;
        lock(&self.ids).insert(id.as_u64(), id);
        Ok(id.as_u64())
    }

    /// Removes a module added with `add_object`: its names go, its memory is
    /// reused. KeyError for an unknown number.
    fn remove_module(&self, py: Python<'_>, module: u64) -> PyResult<()> {
        let engine = self.get()?;
        let id = lock(&self.ids)
            .remove(&module)
            .ok_or_else(|| PyKeyError::new_err(format!("module {module} is not in this engine")))?;
        engine.remove_module(id).map_err(|e| to_py(py, e))?;
        Ok(())
    }

    /// Links every pending object. On error nothing stays allocated and the
    /// objects stay pending.
    fn finalize(&self, py: Python<'_>) -> PyResult<()> {
        self.get()?.finalize_object().map_err(|e| to_py(py, e))
    }

    /// The address of `name` after finalizing, or None when no module
    /// defines it. A failing finalize raises.
    fn address(&self, py: Python<'_>, name: &str) -> PyResult<Option<u64>> {
        match self.get()?.get_function_address(name) {
            Ok(address) => Ok(Some(address)),
            Err(Error::SymbolNotFound(_)) => Ok(None),
            Err(e) => Err(to_py(py, e)),
        }
    }

    /// Maps `name` to `address` ahead of everything else.
    fn add_global_mapping(&self, name: &str, address: u64) -> PyResult<()> {
        self.get()?.add_global_mapping(name, address);
        Ok(())
    }

    /// Registers `name` at `address`, after the engine's own modules.
    fn add_symbol(&self, name: &str, address: u64) -> PyResult<()> {
        self.get()?.add_symbol(name, address);
        Ok(())
    }

    /// Loads a shared library whose symbols resolve after the user's.
    fn load_library_permanently(&self, py: Python<'_>, path: &str) -> PyResult<()> {
        self.get()?
            .load_library_permanently(path)
            .map_err(|e| to_py(py, e))
    }

    /// Sets (or, with None, clears) a callable `resolver(name) -> int | None`
    /// consulted for names found neither in the engine's modules nor among
    /// `add_symbol` registrations. 0 and None mean "not here"; an exception
    /// raised by the callable is reported as unraisable and means the same.
    #[pyo3(signature = (resolver))]
    fn set_symbol_resolver(&self, resolver: Option<Py<PyAny>>) -> PyResult<()> {
        let engine = self.get()?;
        let resolver = resolver.map(|callable| {
            let f: rivet::link::SymbolResolver = Box::new(move |name: &str| {
                // The linker calls this during finalize, on the thread that
                // asked for it, which is attached already; attaching again
                // is a cheap re-entry.
                Python::attach(|py| match callable.call1(py, (name,)) {
                    Ok(value) => match value.extract::<Option<u64>>(py) {
                        Ok(address) => address.filter(|&a| a != 0),
                        Err(e) => {
                            e.write_unraisable(py, Some(callable.bind(py)));
                            None
                        }
                    },
                    Err(e) => {
                        e.write_unraisable(py, Some(callable.bind(py)));
                        None
                    }
                })
            });
            f
        });
        engine.set_symbol_resolver(resolver);
        Ok(())
    }

    /// Runs the constructors of every module whose constructors have not run.
    fn run_static_constructors(&self, py: Python<'_>) -> PyResult<()> {
        self.get()?
            .run_static_constructors()
            .map_err(|e| to_py(py, e))
    }

    /// Runs the destructors of every module whose constructors ran.
    fn run_static_destructors(&self, py: Python<'_>) -> PyResult<()> {
        self.get()?
            .run_static_destructors()
            .map_err(|e| to_py(py, e))
    }

    /// Registers modules linked from now on with gdb (JIT interface; on by
    /// default unless RIVET_GDB=0) and writes a perf map naming their
    /// functions. Returns True.
    fn enable_jit_events(&self, py: Python<'_>) -> PyResult<bool> {
        let engine = self.get()?;
        engine.enable_gdb(true);
        engine
            .enable_profiling(ProfilerOptions {
                perf_map: true,
                ..ProfilerOptions::default()
            })
            .map_err(|e| to_py(py, e))?;
        Ok(true)
    }

    /// The function or global holding `address`, with the offset into it.
    fn symbolize(&self, address: u64) -> PyResult<Option<(String, u64)>> {
        Ok(self.get()?.symbolize(address))
    }

    /// `(file, line, column)` of the code at `address`, from the DWARF line
    /// table of its module (compiled with debug information and linked
    /// while gdb registration or jitdump output was on), or None.
    fn symbolize_line(&self, address: u64) -> PyResult<Option<(String, u32, u32)>> {
        Ok(self
            .get()?
            .symbolize_line(address)
            .map(|l| (l.file, l.line, l.column)))
    }

    /// The memory manager's figures, as a dict.
    fn memory_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.get()?.memory_stats();
        let dict = PyDict::new(py);
        dict.set_item("reserved_bytes", stats.reserved_bytes)?;
        dict.set_item("committed_bytes", stats.committed_bytes)?;
        dict.set_item("allocations", stats.allocations)?;
        dict.set_item("mappings", stats.mappings)?;
        let by_class = PyDict::new(py);
        for class in SegmentClass::ALL {
            by_class.set_item(
                format!("{class:?}").to_lowercase(),
                stats.committed_by_class[class as usize],
            )?;
        }
        dict.set_item("committed_by_class", by_class)?;
        Ok(dict)
    }

    /// The module numbers of the engine, in the order they were added.
    fn module_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let ids: Vec<u64> = self
            .get()?
            .module_ids()
            .into_iter()
            .map(ModuleId::as_u64)
            .collect();
        PyList::new(py, ids)
    }

    /// Frees the engine: every module's destructors and exit handlers run,
    /// then its memory is unmapped. Closing twice does nothing.
    fn close(&self) {
        let engine = self.engine.take();
        lock(&self.ids).clear();
        drop(engine);
    }

    /// Leaves the engine's code and data mapped until the process ends and
    /// closes this handle: for engines still alive at interpreter exit,
    /// whose code objects being torn down may still call.
    fn leak(&self) {
        self.engine.leak();
        lock(&self.ids).clear();
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.engine.is_closed()
    }
}

/// Raises OSError naming the refusal when the system does not let this
/// process run code it writes; returns None otherwise.
#[pyfunction]
fn check_jit_execution(py: Python<'_>) -> PyResult<()> {
    rivet::check_jit_execution().map_err(|e| to_py(py, e))
}

#[pymodule]
fn _rivet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Engine>()?;
    m.add_class::<orc::LibraryEngine>()?;
    m.add_function(wrap_pyfunction!(check_jit_execution, m)?)?;
    m.add("RivetError", py.get_type::<RivetError>())?;
    m.add(
        "UnresolvedSymbolsError",
        py.get_type::<UnresolvedSymbolsError>(),
    )?;
    m.add("DEFAULT_USE_LMM", rivet::DEFAULT_USE_LMM)?;
    Ok(())
}
