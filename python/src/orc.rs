//! The native half of `rivet.orcjit`: one engine holding JIT libraries.
//!
//! Errors are `RuntimeError`s worded as llvmlite's LLJIT words them ("No
//! such library", "Symbols not found", "Failed to materialize symbols"),
//! which callers and llvmlite's tests match on.

use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use rivet::memory::SegmentClass;
use rivet::{Error, ExecutionEngine, LibraryBuilder, LibraryId};

use crate::EngineSlot;

fn runtime_error(error: Error) -> PyErr {
    match error {
        Error::SymbolNotFound(name) => {
            PyRuntimeError::new_err(format!("Symbols not found: [ {name} ]"))
        }
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// An engine of JIT libraries (llvmlite's `LLJIT`, without LLVM: units
/// arrive as object bytes).
#[pyclass(module = "rivet._rivet", name = "LibraryEngine", frozen)]
pub struct LibraryEngine {
    engine: EngineSlot,
}

impl LibraryEngine {
    fn get(&self) -> PyResult<Arc<ExecutionEngine>> {
        self.engine.get("JIT")
    }
}

#[pymethods]
impl LibraryEngine {
    #[new]
    #[pyo3(signature = (use_lmm=None))]
    fn new(use_lmm: Option<bool>) -> PyResult<LibraryEngine> {
        let engine = ExecutionEngine::with_lmm(use_lmm).map_err(runtime_error)?;
        Ok(LibraryEngine {
            engine: EngineSlot::new(engine),
        })
    }

    /// Links library `name` from `objects` ((bytes, name) pairs), with
    /// `link_order` (library names; `None` for the process), `imports`
    /// ((name, address) pairs) and `exports`; runs its constructors.
    /// Returns (library id, {export: address}).
    fn link<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        objects: Vec<(Vec<u8>, String)>,
        link_order: Vec<Option<String>>,
        imports: Vec<(String, u64)>,
        exports: Vec<String>,
    ) -> PyResult<(u64, Bound<'py, PyDict>)> {
        let engine = self.get()?;
        let mut builder = LibraryBuilder::new();
        for (bytes, object) in objects {
            builder = builder.add_object(bytes, &object);
        }
        for entry in &link_order {
            builder = match entry {
                Some(library) => builder.add_library(library),
                None => builder.add_current_process(),
            };
        }
        for (import, address) in &imports {
            builder = builder.import_symbol(import, *address);
        }
        for export in &exports {
            builder = builder.export_symbol(export);
        }
        let linked = engine.link_library(name, builder).map_err(runtime_error)?;
        let addresses = PyDict::new(py);
        for (export, address) in linked.exports {
            addresses.set_item(export, address)?;
        }
        Ok((linked.id.as_u64(), addresses))
    }

    /// The address of `name` among library `library`'s exports.
    fn lookup(&self, library: &str, name: &str) -> PyResult<u64> {
        self.get()?
            .lookup_in_library(library, name)
            .map_err(runtime_error)
    }

    /// Unloads library `id` (its destructors run; its memory goes back once
    /// no other library binds to it).
    fn dispose(&self, id: u64) -> PyResult<()> {
        self.get()?
            .dispose_library(LibraryId::from_u64(id))
            .map_err(runtime_error)
    }

    /// What library `id`'s memory costs: {"bytes", "pages", "exclusive",
    /// "by_class": {class: bytes}}; None once it is gone.
    fn library_memory_stats<'py>(
        &self,
        py: Python<'py>,
        id: u64,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(stats) = self.get()?.library_memory_stats(LibraryId::from_u64(id)) else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item("bytes", stats.bytes())?;
        dict.set_item("pages", stats.pages())?;
        dict.set_item("exclusive", stats.exclusive())?;
        let by_class = PyDict::new(py);
        for class in SegmentClass::ALL {
            by_class.set_item(class.name(), stats.bytes_by_class[class as usize])?;
        }
        dict.set_item("by_class", by_class)?;
        Ok(Some(dict))
    }

    /// The engine's memory figures: reserved, committed, live bytes,
    /// allocations and mappings.
    fn memory_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.get()?.memory_stats();
        let dict = PyDict::new(py);
        dict.set_item("reserved_bytes", stats.reserved_bytes)?;
        dict.set_item("committed_bytes", stats.committed_bytes)?;
        dict.set_item("live_bytes", stats.live_bytes)?;
        dict.set_item("allocations", stats.allocations)?;
        dict.set_item("mappings", stats.mappings)?;
        Ok(dict)
    }

    /// Whether unloading runs destructors (see the engine's
    /// `set_run_destructors`).
    fn set_run_destructors(&self, run: bool) -> PyResult<()> {
        self.get()?.set_run_destructors(run);
        Ok(())
    }

    /// Frees every library (destructors run) and the engine. Closing twice
    /// does nothing.
    fn close(&self) {
        drop(self.engine.take());
    }

    /// Leaves the code mapped until the process ends (interpreter exit).
    fn leak(&self) {
        self.engine.leak();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.engine.is_closed()
    }
}
