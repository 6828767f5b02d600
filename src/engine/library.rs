//! JIT libraries: ORC's JITDylibs (llvmlite's `JITLibraryBuilder`) on the
//! engine's core.
//!
//! A library is a named set of units (IR, assembly, objects) linked together
//! once, in a namespace of its own: its imported symbols (name → address)
//! are definitions of the library, its export list holds the only names
//! that look-ups and other libraries see, and its link order (other
//! libraries' exports, then optionally the process) answers the names it
//! leaves undefined. Nothing else resolves: not the engine's own modules,
//! not `add_symbol`, not the process unless asked for. Linking a library
//! runs its constructors; disposing of it runs its destructors and unloads
//! it under the engine's unloading rules (see the engine's docs): a library
//! that a live library binds to keeps its memory until that one goes.

use std::num::NonZeroU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{
    adopt, call_initializer, collect_calls, lock, ExecutionEngine, ModuleEntry, ParsedObject,
    Source,
};
use crate::link::{self, Export, Externals, LinkOptions, LinkUnit, NameMap, Strength, SymbolTable};
#[cfg(feature = "llvm")]
use crate::llvm::Module;
use crate::load::{Definition, SymbolKind};
use crate::memory::AllocationStats;
use crate::{Error, Result};

/// Identifies one linked library (a later library of the same name has
/// another id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LibraryId(u64);

impl LibraryId {
    /// The raw number, unique within one engine.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The id with raw number `raw` (from [`as_u64`](Self::as_u64)).
    pub fn from_u64(raw: u64) -> LibraryId {
        LibraryId(raw)
    }
}

enum Unit {
    #[cfg(feature = "llvm")]
    Ir(Module),
    #[cfg(feature = "llvm")]
    Assembly(String),
    Object {
        bytes: Vec<u8>,
        name: String,
    },
}

enum LinkOrderEntry {
    Library(String),
    Process,
}

/// What a library is made of, in the order of llvmlite's builder calls.
#[derive(Default)]
pub struct LibraryBuilder {
    units: Vec<Unit>,
    link_order: Vec<LinkOrderEntry>,
    imports: Vec<(String, u64)>,
    exports: Vec<String>,
}

impl LibraryBuilder {
    /// An empty library.
    pub fn new() -> LibraryBuilder {
        LibraryBuilder::default()
    }

    /// An IR module, compiled with the engine's target machine.
    #[cfg(feature = "llvm")]
    pub fn add_ir(mut self, module: Module) -> LibraryBuilder {
        self.units.push(Unit::Ir(module));
        self
    }

    /// Assembly text for the engine's target, assembled in-process.
    #[cfg(feature = "llvm")]
    pub fn add_native_assembly(mut self, text: &str) -> LibraryBuilder {
        self.units.push(Unit::Assembly(text.to_string()));
        self
    }

    /// A relocatable object; `name` names it in errors.
    pub fn add_object(mut self, bytes: Vec<u8>, name: &str) -> LibraryBuilder {
        self.units.push(Unit::Object {
            bytes,
            name: name.to_string(),
        });
        self
    }

    /// Names left undefined resolve in library `name`'s exports (in the
    /// order the libraries were added).
    pub fn add_library(mut self, name: &str) -> LibraryBuilder {
        self.link_order
            .push(LinkOrderEntry::Library(name.to_string()));
        self
    }

    /// Names found nowhere else resolve in the process (`dlsym`).
    pub fn add_current_process(mut self) -> LibraryBuilder {
        self.link_order.push(LinkOrderEntry::Process);
        self
    }

    /// Defines `name` at `address` in the library.
    pub fn import_symbol(mut self, name: &str, address: u64) -> LibraryBuilder {
        self.imports.push((name.to_string(), address));
        self
    }

    /// Makes `name` (defined or imported by the library) visible to
    /// look-ups and to libraries that link against this one.
    pub fn export_symbol(mut self, name: &str) -> LibraryBuilder {
        if !self.exports.iter().any(|e| e == name) {
            self.exports.push(name.to_string());
        }
        self
    }
}

/// A library as linked: its id and the address of each export.
#[derive(Debug, Clone)]
pub struct LinkedLibrary {
    /// The engine's id for the library.
    pub id: LibraryId,
    /// The library's name.
    pub name: String,
    /// Every exported name with its address, in the order they were asked for.
    pub exports: Vec<(String, u64)>,
}

/// The engine's record of a live library.
pub(super) struct Library {
    id: LibraryId,
    /// Its modules, in the order they were linked.
    modules: Vec<u64>,
    /// The names it exports.
    exports: NameMap<Arc<str>, Export>,
}

impl ExecutionEngine {
    /// Links the units of `builder` as library `name` (a name no live
    /// library has), runs their constructors, and returns the exports'
    /// addresses. On error nothing stays linked or allocated, and the error
    /// is [`Error::LibraryLink`] naming the library and its exports.
    pub fn link_library(&self, name: &str, builder: LibraryBuilder) -> Result<LinkedLibrary> {
        if name.is_empty() {
            return Err(Error::LibraryNotFound(String::new()));
        }
        let exports_wanted = builder.exports.clone();
        let (linked, guard, calls) = {
            let mut state = lock(&self.state);
            if state.libraries.contains_key(name) {
                return Err(Error::LibraryExists(name.to_string()));
            }
            let linked = self
                .link_library_locked(&mut state, name, builder)
                .map_err(|source| Error::LibraryLink {
                    library: name.to_string(),
                    exports: exports_wanted,
                    source: Box::new(source),
                })?;
            // Constructors run as the library links, under a guard: a
            // concurrent dispose waits for them.
            let mut calls = Vec::new();
            let modules = state.libraries.get(name).map(|l| l.modules.clone());
            for id in modules.into_iter().flatten() {
                if let Some(l) = state
                    .modules
                    .get_mut(&id)
                    .and_then(|e| e.linked.as_deref_mut())
                {
                    l.runtime.constructors_ran = true;
                    collect_calls(l.constructors(), id as usize, &mut calls);
                }
            }
            calls.sort_by_key(|&(priority, order, index, _)| (priority, order, index));
            (linked, self.guard(), calls)
        };
        for (_, _, _, f) in calls {
            // SAFETY: a constructor pointer from the initializer array of a
            // module just linked and finalized; the guard keeps it mapped.
            unsafe { call_initializer(f) };
        }
        drop(guard);
        Ok(linked)
    }

    fn link_library_locked(
        &self,
        state: &mut super::State,
        name: &str,
        builder: LibraryBuilder,
    ) -> Result<LinkedLibrary> {
        let LibraryBuilder {
            units,
            link_order,
            imports,
            exports,
        } = builder;
        // Objects first: compile and parse every unit.
        let mut objects = Vec::with_capacity(units.len());
        for (index, unit) in units.into_iter().enumerate() {
            let (bytes, object_name) = match unit {
                #[cfg(feature = "llvm")]
                Unit::Ir(mut module) => {
                    let tm = state.target_machine.as_ref().ok_or_else(|| {
                        Error::Llvm(format!(
                            "library `{name}` has IR but the engine has no target machine"
                        ))
                    })?;
                    let object_name = format!("{name}/{}", module.name());
                    (tm.emit_object(&mut module)?, object_name)
                }
                #[cfg(feature = "llvm")]
                Unit::Assembly(text) => {
                    let tm = state.target_machine.as_ref().ok_or_else(|| {
                        Error::Llvm(format!(
                            "library `{name}` has assembly but the engine has no target machine"
                        ))
                    })?;
                    (tm.assemble(&text)?, format!("{name}/<assembly {index}>"))
                }
                Unit::Object {
                    bytes,
                    name: object,
                } => (bytes, format!("{name}/{object}")),
            };
            let _ = index;
            objects.push(ParsedObject::new(bytes, &object_name)?);
        }
        // The scope: imports, then the link order's exports, then (if
        // asked) the process.
        let mut externals = Externals::isolated();
        for (import, address) in &imports {
            externals.global_mappings.insert(import.clone(), *address);
        }
        let mut scope = SymbolTable::default();
        for entry in &link_order {
            match entry {
                LinkOrderEntry::Library(other) => {
                    let library = state
                        .libraries
                        .get(other)
                        .ok_or_else(|| Error::LibraryNotFound(other.clone()))?;
                    for (export, definition) in &library.exports {
                        if scope.get(export).is_none() {
                            scope.insert(export, *definition)?;
                        }
                    }
                }
                LinkOrderEntry::Process => externals.search_process(),
            }
        }
        // Every export must be something the library defines or imports.
        let defines = |wanted: &str| {
            imports.iter().any(|(i, _)| i == wanted)
                || objects.iter().any(|o| {
                    o.object().symbols.iter().any(|s| {
                        s.name == wanted && s.is_external() && s.definition != Definition::Undefined
                    })
                })
        };
        let missing: Vec<String> = exports.iter().filter(|e| !defines(e)).cloned().collect();
        if !missing.is_empty() {
            return Err(Error::SymbolNotFound(missing.join(", ")));
        }
        let first_id = state.next_id;
        state.next_id += objects.len() as u64;
        let units: Vec<LinkUnit<'_, '_>> = objects
            .iter()
            .enumerate()
            .map(|(i, parsed)| LinkUnit {
                module: first_id + i as u64,
                key: link::next_module_key(),
                object: parsed.object(),
            })
            .collect();
        let options = LinkOptions {
            map: state.keep_maps || state.gdb || state.profiler.is_some(),
            debug_info: state.gdb && state.memory.runs_code(),
            skip_finalize: false,
            // The library's own definitions shadow its link order's.
            later_definitions_win: true,
        };
        let linked = link::link(&units, &scope, &externals, state.memory.as_mut(), options)?;
        drop(units);

        let library_id = state.next_id;
        state.next_id += 1;
        let mut defined: NameMap<Arc<str>, Export> = NameMap::default();
        for (import, address) in &imports {
            defined.insert(
                Arc::from(import.as_str()),
                Export {
                    address: *address,
                    module: 0,
                    strength: Strength::Strong,
                    kind: SymbolKind::Other,
                },
            );
        }
        let mut modules = Vec::with_capacity(linked.len());
        let mut edges = Vec::new();
        for (mut module, parsed) in linked.into_iter().zip(objects) {
            for (export, definition) in std::mem::take(&mut module.exports).iter() {
                // The first definition of a name wins, as in the link order.
                if !defined.contains_key(export) {
                    defined.insert(Arc::from(export), definition);
                }
            }
            let id = module.module;
            edges.extend(module.binds_to.iter().map(|&to| (id, to)));
            let object_name = parsed.object().name.clone();
            drop(parsed);
            let record = adopt(
                module,
                &object_name,
                state.memory.as_ref(),
                state.gdb,
                &mut state.profiler,
            );
            state.modules.insert(
                id,
                ModuleEntry {
                    name: object_name.into_boxed_str(),
                    source: Source::Object,
                    object: None,
                    linked: Some(record),
                    // Ids start at 1.
                    library: NonZeroU64::new(library_id),
                },
            );
            modules.push(id);
        }
        for (from, to) in edges {
            if let Some(linked) = state.linked_mut(to) {
                linked.add_bound_by(from);
            }
        }
        let mut visible: NameMap<Arc<str>, Export> = NameMap::default();
        let mut addresses = Vec::with_capacity(exports.len());
        for export in &exports {
            if let Some((key, definition)) = defined.get_key_value(export.as_str()) {
                visible.insert(key.clone(), *definition);
                addresses.push((export.clone(), definition.address));
            }
        }
        state.libraries.insert(
            name.to_string(),
            Library {
                id: LibraryId(library_id),
                modules,
                exports: visible,
            },
        );
        Ok(LinkedLibrary {
            id: LibraryId(library_id),
            name: name.to_string(),
            exports: addresses,
        })
    }

    /// The address of `name` among library `library`'s exports:
    /// [`Error::LibraryNotFound`] when no live library has that name,
    /// [`Error::SymbolNotFound`] when it does not export `name`.
    pub fn lookup_in_library(&self, library: &str, name: &str) -> Result<u64> {
        let state = lock(&self.state);
        let record = state
            .libraries
            .get(library)
            .ok_or_else(|| Error::LibraryNotFound(library.to_string()))?;
        record
            .exports
            .get(name)
            .map(|e| e.address)
            .ok_or_else(|| Error::SymbolNotFound(name.to_string()))
    }

    /// Unloads library `id`: its names go at once; its destructors run and
    /// its memory goes back under the engine's unloading rules (a library
    /// that a live library binds to stays until that one goes). Its name
    /// can be linked again. [`Error::LibraryNotFound`] when it is gone.
    pub fn dispose_library(&self, id: LibraryId) -> Result<()> {
        let mut state = lock(&self.state);
        let Some(name) = state
            .libraries
            .iter()
            .find(|(_, l)| l.id == id)
            .map(|(n, _)| n.clone())
        else {
            return Err(Error::LibraryNotFound(format!("#{}", id.0)));
        };
        let Some(library) = state.libraries.remove(&name) else {
            return Err(Error::LibraryNotFound(name));
        };
        for module in library.modules.iter().rev() {
            let _ = self.retire_locked(&mut state, *module);
        }
        self.retired.store(state.retired.len(), Ordering::Release);
        self.reclaim(state);
        Ok(())
    }

    /// The names of the live libraries.
    pub fn library_names(&self) -> Vec<String> {
        lock(&self.state).libraries.keys().cloned().collect()
    }

    /// What library `id`'s memory costs (its modules' figures added up);
    /// `None` when it is gone or the memory manager does not say.
    pub fn library_memory_stats(&self, id: LibraryId) -> Option<AllocationStats> {
        let state = lock(&self.state);
        let library = state.libraries.values().find(|l| l.id == id)?;
        let mut total = AllocationStats::default();
        for module in &library.modules {
            let linked = state.modules.get(module)?.linked.as_deref()?;
            let stats = state.memory.allocation_stats(&linked.allocation)?;
            for i in 0..total.bytes_by_class.len() {
                total.bytes_by_class[i] += stats.bytes_by_class[i];
                total.pages_by_class[i] += stats.pages_by_class[i];
                total.exclusive_by_class[i] += stats.exclusive_by_class[i];
            }
        }
        Some(total)
    }
}
