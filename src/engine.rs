//! `ExecutionEngine`: llvmlite's execution-engine API over rivet's linker.
//!
//! Code generation is lazy, as in llvmlite: modules are compiled and linked
//! at [`ExecutionEngine::finalize_object`] or at the first address look-up.
//! The engine is `Send + Sync`: look-ups of linked names take a read lock
//! only, so they run on many threads while another thread adds and
//! finalizes modules; code is made executable (and, where the hardware
//! needs it, visible to instruction fetch) before its address is published.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::debug::gdb::GdbRegistration;
use crate::debug::image::ImageParts;
use crate::debug::perf::{Profiler, ProfilerOptions};
use crate::debug::unwind::UnwindRegistration;
use crate::debug::ModuleImage;
use crate::link::{
    self, Externals, InitArray, LinkMap, LinkOptions, LinkUnit, LinkedModule, SymbolTable,
};
#[cfg(feature = "llvm")]
use crate::llvm::{Module, TargetData, TargetMachine};
use crate::load::ObjectFile;
use crate::memory::SegmentClass;
use crate::memory::{
    AllocationStats, Arena, ArenaConfig, MemoryManager, MemoryStats, SectionsConfig,
    SectionsManager,
};
use crate::runtime::{self, atexit};
use crate::{Error, Result};

/// Identifies a module (IR or object) added to an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(u64);

impl ModuleId {
    /// The raw number, unique within one engine.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// Called with each module compiled and its unrelocated object bytes.
#[cfg(feature = "llvm")]
pub type NotifyFn = Box<dyn Fn(&Module, &[u8]) + Send + Sync>;
/// Called before compiling a module; returning bytes replaces compilation.
#[cfg(feature = "llvm")]
pub type GetBufferFn = Box<dyn Fn(&Module) -> Option<Vec<u8>> + Send + Sync>;

/// What [`ExecutionEngine::remove_module`] hands back.
#[derive(Default)]
pub struct Removed {
    #[cfg(feature = "llvm")]
    module: Option<Module>,
}

impl Removed {
    /// The IR module, for a module added with `add_module`; `None` for objects.
    #[cfg(feature = "llvm")]
    pub fn into_module(self) -> Option<Module> {
        self.module
    }
}

enum Source {
    #[cfg(feature = "llvm")]
    Ir(Module),
    Object,
}

struct ModuleEntry {
    name: String,
    source: Source,
    /// The object waiting to be linked (compiled, cached or added directly).
    /// Boxed, as is the linked module: an entry lives as long as its
    /// module, and these are large and needed only at one time or another.
    object: Option<Box<ParsedObject>>,
    linked: Option<Box<Linked>>,
}

/// What the engine keeps of a linked module.
struct Linked {
    /// Its memory, unwind tables and initializers. Its exports have moved
    /// to the engine's symbol table.
    module: LinkedModule,
    /// The names it defines in the symbol table, to take out on removal.
    names: Box<[Arc<str>]>,
    /// What it registered with the process.
    runtime: ModuleRuntime,
}

/// Object bytes with their parsed model, kept together so that each object
/// is parsed once, when it arrives, and the model can borrow the bytes.
struct ParsedObject {
    // Field order matters: `object` borrows `bytes`' heap buffer and is
    // dropped first.
    object: ObjectFile<'static>,
    #[allow(dead_code)] // Only owned, for `object` to borrow.
    bytes: Vec<u8>,
}

impl ParsedObject {
    fn new(bytes: Vec<u8>, name: &str) -> Result<ParsedObject> {
        // SAFETY: the buffer is on the heap and owned by the value returned;
        // it is never written, reallocated or freed while `object` lives
        // (no method hands out `bytes` mutably, and `object` drops first).
        // Moving a `Vec` moves only its pointer, not the buffer, and `Vec`
        // (unlike `Box`) asserts no uniqueness over it, so the borrow stays
        // valid. `object()` shortens the lifetime to the value's own.
        let data: &'static [u8] =
            unsafe { std::slice::from_raw_parts(bytes.as_ptr(), bytes.len()) };
        let object = ObjectFile::parse(data, name)?;
        Ok(ParsedObject { object, bytes })
    }

    fn object(&self) -> &ObjectFile<'_> {
        &self.object
    }
}

/// What a linked module registered with the process, undone on removal.
struct ModuleRuntime {
    /// Process-wide key for exit handlers.
    key: u64,
    /// Unwind tables registered with the unwinder.
    unwind: Option<UnwindRegistration>,
    /// The module's image as registered with the debugger.
    gdb: Option<GdbRegistration>,
    constructors_ran: bool,
    destructors_ran: bool,
}

struct State {
    memory: Box<dyn MemoryManager>,
    modules: BTreeMap<u64, ModuleEntry>,
    /// Modules added and not linked yet, in the order they were added:
    /// a finalize visits these, not every module.
    unlinked: Vec<u64>,
    /// Linked modules whose constructors have not run, in the order they
    /// were added.
    constructors_due: Vec<u64>,
    next_id: u64,
    externals: Externals,
    #[cfg(feature = "llvm")]
    target_machine: Option<TargetMachine>,
    #[cfg(feature = "llvm")]
    notify: Option<NotifyFn>,
    #[cfg(feature = "llvm")]
    getbuffer: Option<GetBufferFn>,
    keep_maps: bool,
    /// See [`LinkOptions::later_definitions_win`].
    later_definitions_win: bool,
    /// Register every linked module with the debugger (GDB JIT interface).
    gdb: bool,
    /// Perf map / jitdump output, when switched on.
    profiler: Option<Profiler>,
}

/// The engine: owns modules and the memory they are linked into.
pub struct ExecutionEngine {
    state: Mutex<State>,
    table: RwLock<SymbolTable>,
    pending: AtomicUsize,
    #[cfg(feature = "llvm")]
    target_data: Option<TargetData>,
}

/// Whether `use_lmm = None` picks the arena on this platform. rivet picks it
/// everywhere: the arena keeps code and data within ±2 GiB, so small-code-
/// model PIC links, and it is what llvmlite picks on arm64.
pub const DEFAULT_USE_LMM: bool = true;

/// Creates an engine for `target_machine` holding `module`, as llvmlite's
/// `create_mcjit_compiler`. `use_lmm`: `Some(true)` the arena (the "llmm"
/// path), `Some(false)` the per-section manager, `None` the default
/// ([`DEFAULT_USE_LMM`]).
#[cfg(feature = "llvm")]
pub fn create_mcjit_compiler(
    module: Module,
    target_machine: TargetMachine,
    use_lmm: Option<bool>,
) -> Result<ExecutionEngine> {
    let mut engine = ExecutionEngine::with_lmm(use_lmm)?;
    engine.target_data = Some(target_machine.target_data());
    lock(&engine.state).target_machine = Some(target_machine);
    engine.add_module(module);
    Ok(engine)
}

/// Checks that the system lets this process run code it writes (see
/// [`crate::memory::check_jit_execution`]).
pub fn check_jit_execution() -> Result<()> {
    crate::memory::check_jit_execution()
}

/// Whether environment variable `name` is set to something other than "" or "0".
fn env_flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held (only possible from a user callback)
    // leaves state that is still consistent: every mutation is completed
    // before user code runs, so the poison flag is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ExecutionEngine {
    /// An engine that links into `memory`. Without a target machine it links
    /// objects only.
    pub fn new(memory: Box<dyn MemoryManager>) -> ExecutionEngine {
        ExecutionEngine {
            state: Mutex::new(State {
                memory,
                modules: BTreeMap::new(),
                unlinked: Vec::new(),
                constructors_due: Vec::new(),
                next_id: 1,
                externals: Externals::default(),
                #[cfg(feature = "llvm")]
                target_machine: None,
                #[cfg(feature = "llvm")]
                notify: None,
                #[cfg(feature = "llvm")]
                getbuffer: None,
                keep_maps: false,
                later_definitions_win: false,
                gdb: env_flag("RIVET_GDB"),
                profiler: None,
            }),
            table: RwLock::new(SymbolTable::default()),
            pending: AtomicUsize::new(0),
            #[cfg(feature = "llvm")]
            target_data: None,
        }
    }

    /// An engine with a built-in memory manager: the arena for `Some(true)`,
    /// the per-section manager for `Some(false)`, the default for `None`.
    pub fn with_lmm(use_lmm: Option<bool>) -> Result<ExecutionEngine> {
        let memory: Box<dyn MemoryManager> = if use_lmm.unwrap_or(DEFAULT_USE_LMM) {
            Box::new(Arena::new(ArenaConfig::default())?)
        } else {
            Box::new(SectionsManager::new(SectionsConfig::default()))
        };
        Ok(ExecutionEngine::new(memory))
    }

    /// Sets the machine that compiles added IR modules.
    #[cfg(feature = "llvm")]
    pub fn set_target_machine(&mut self, target_machine: TargetMachine) {
        self.target_data = Some(target_machine.target_data());
        lock(&self.state).target_machine = Some(target_machine);
    }

    /// The target data of the engine's target machine.
    #[cfg(feature = "llvm")]
    pub fn target_data(&self) -> Option<&TargetData> {
        self.target_data.as_ref()
    }

    /// Lets a module define a name that a module finalized *earlier*
    /// already defines strongly: the new definition wins for later links and
    /// look-ups, code already finalized keeps its binding. This is MCJIT's
    /// behaviour, which llvmlite users (numba's cache reloads) rely on; by
    /// default rivet refuses it with [`Error::DuplicateSymbol`]. Removing the
    /// newer module removes the name; the older definition is not restored.
    pub fn allow_redefinition(&self, allow: bool) {
        lock(&self.state).later_definitions_win = allow;
    }

    /// Keeps a [`LinkMap`] of every module linked from now on.
    pub fn keep_link_maps(&self, keep: bool) {
        lock(&self.state).keep_maps = keep;
    }

    /// Registers every module linked from now on with debuggers through the
    /// GDB JIT interface (also switched on by `RIVET_GDB=1`), so that gdb
    /// can break in JIT functions by name and backtrace through them.
    pub fn enable_gdb(&self, on: bool) {
        lock(&self.state).gdb = on;
    }

    /// Writes a perf map and/or jitdump naming every function linked from
    /// now on (also switched on by `RIVET_PERF_MAP=1` / `RIVET_JITDUMP=1`).
    pub fn enable_profiling(&self, options: ProfilerOptions) -> Result<()> {
        let profiler = if options.any() {
            Some(Profiler::open(options)?)
        } else {
            None
        };
        lock(&self.state).profiler = profiler;
        Ok(())
    }

    fn table_read(&self) -> RwLockReadGuard<'_, SymbolTable> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn table_write(&self) -> RwLockWriteGuard<'_, SymbolTable> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, name: String, source: Source, object: Option<Box<ParsedObject>>) -> ModuleId {
        let mut state = lock(&self.state);
        let id = state.next_id;
        state.next_id += 1;
        state.modules.insert(
            id,
            ModuleEntry {
                name,
                source,
                object,
                linked: None,
            },
        );
        state.unlinked.push(id);
        self.pending.fetch_add(1, Ordering::AcqRel);
        ModuleId(id)
    }

    /// Adds an IR module; it is compiled at the next finalize or look-up.
    /// The engine owns it until [`remove_module`](Self::remove_module) hands
    /// it back, so a module cannot be added twice:
    ///
    /// ```compile_fail
    /// # use rivet::{ExecutionEngine, llvm::Module};
    /// let engine = ExecutionEngine::with_lmm(None).unwrap();
    /// let module = Module::parse_ir("", "m").unwrap();
    /// engine.add_module(module);
    /// engine.add_module(module); // error: use of moved value
    /// ```
    #[cfg(feature = "llvm")]
    pub fn add_module(&self, module: Module) -> ModuleId {
        let name = module.name();
        self.insert(name, Source::Ir(module), None)
    }

    /// Adds a relocatable object read from `path`.
    pub fn add_object_file(&self, path: impl AsRef<Path>) -> Result<ModuleId> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_object_bytes(bytes, &path.display().to_string())
    }

    /// Adds a relocatable object held in memory; `name` names it in errors.
    /// The bytes are checked now, so a malformed object fails here.
    pub fn add_object_bytes(&self, bytes: Vec<u8>, name: &str) -> Result<ModuleId> {
        let parsed = ParsedObject::new(bytes, name)?;
        Ok(self.insert(name.to_string(), Source::Object, Some(Box::new(parsed))))
    }

    /// Removes a module: its names disappear, its memory goes back to the
    /// memory manager, and an IR module is handed back (it can be added
    /// again). Code that other modules bound to it keeps the old addresses.
    pub fn remove_module(&self, id: ModuleId) -> Result<Removed> {
        let mut state = lock(&self.state);
        let entry = state
            .modules
            .remove(&id.0)
            .ok_or(Error::ModuleNotFound(id.0))?;
        match entry.linked {
            Some(linked) => {
                let Linked {
                    module,
                    names,
                    runtime,
                } = *linked;
                if let Ok(at) = state.constructors_due.binary_search(&id.0) {
                    state.constructors_due.remove(at);
                }
                {
                    let mut table = self.table_write();
                    for name in names.iter() {
                        table.remove_if_from(name, id.0);
                    }
                    table.forget_module(id.0);
                }
                // The module's code still runs here: its destructors and exit
                // handlers, then the unwinder forgets it, then memory goes.
                drop(state);
                teardown(&module, runtime);
                lock(&self.state).memory.release(module.allocation);
            }
            None => {
                state.unlinked.retain(|&u| u != id.0);
                self.pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
        Ok(match entry.source {
            #[cfg(feature = "llvm")]
            Source::Ir(module) => Removed {
                module: Some(module),
            },
            Source::Object => Removed::default(),
        })
    }

    /// Maps `name` to `address` ahead of everything else (llvmlite's
    /// `add_global_mapping`). Affects modules linked from now on.
    pub fn add_global_mapping(&self, name: &str, address: u64) {
        lock(&self.state)
            .externals
            .global_mappings
            .insert(name.to_string(), address);
    }

    /// Registers `name` at `address`, consulted after the engine's own
    /// modules (llvmlite's `add_symbol`). The last registration wins.
    pub fn add_symbol(&self, name: &str, address: u64) {
        lock(&self.state)
            .externals
            .user_symbols
            .insert(name.to_string(), address);
    }

    /// Sets a callback consulted for names not found among the engine's
    /// modules and `add_symbol` registrations, before rivet's run time,
    /// loaded libraries and the process: a bridge to an embedder's own
    /// symbol table (llvmlite's `add_symbol` / `address_of_symbol`).
    pub fn set_symbol_resolver(&self, resolver: Option<crate::link::SymbolResolver>) {
        lock(&self.state).externals.resolver = resolver;
    }

    /// Loads a shared library whose symbols resolve after the user's.
    pub fn load_library_permanently(&self, path: impl AsRef<Path>) -> Result<()> {
        lock(&self.state).externals.load_library(path.as_ref())
    }

    /// Sets the object-cache callbacks (llvmlite's `set_object_cache`).
    /// `notify` gets every module compiled from IR with its unrelocated
    /// object; `getbuffer` may return an object that replaces compiling the
    /// module (`notify` is then not called). Neither may call back into the
    /// engine.
    #[cfg(feature = "llvm")]
    pub fn set_object_cache(&self, notify: Option<NotifyFn>, getbuffer: Option<GetBufferFn>) {
        let mut state = lock(&self.state);
        state.notify = notify;
        state.getbuffer = getbuffer;
    }

    /// Compiles and links every pending module. On error the pending modules
    /// stay pending (fix the cause, e.g. with `add_symbol` or by removing a
    /// module, and call again), nothing stays allocated, and modules linked
    /// before are untouched.
    pub fn finalize_object(&self) -> Result<()> {
        if self.pending.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let mut state = lock(&self.state);
        self.finalize_locked(&mut state)
    }

    fn finalize_locked(&self, state: &mut State) -> Result<()> {
        #[cfg(feature = "llvm")]
        compile_pending(state)?;
        let State {
            memory,
            modules,
            unlinked,
            constructors_due,
            externals,
            keep_maps,
            later_definitions_win,
            gdb,
            profiler,
            ..
        } = state;
        let mut ids = Vec::new();
        let mut objects = Vec::new();
        for &id in unlinked.iter() {
            let Some(entry) = modules.get(&id) else {
                continue;
            };
            if entry.linked.is_some() {
                continue;
            }
            let Some(parsed) = entry.object.as_ref() else {
                continue;
            };
            objects.push(parsed.object());
            ids.push(id);
        }
        if objects.is_empty() {
            return Ok(());
        }
        let units: Vec<LinkUnit<'_, '_>> = ids
            .iter()
            .zip(&objects)
            .map(|(&module, &object)| LinkUnit { module, object })
            .collect();
        let options = LinkOptions {
            // Debuggers and profilers describe modules from their maps.
            map: *keep_maps || *gdb || profiler.is_some(),
            skip_finalize: false,
            later_definitions_win: *later_definitions_win,
            // DWARF is relocated only for the debugger's image.
            debug_info: *gdb && memory.runs_code(),
        };
        let linked = {
            let table = self.table_read();
            link::link(&units, &table, externals, memory.as_mut(), options)?
        };
        drop(units);
        drop(objects);
        let mut table = self.table_write();
        let already = constructors_due.len();
        for mut module in linked {
            let Some(entry) = modules.get_mut(&module.module) else {
                // Cannot happen: the lock was held throughout. Give the memory back.
                memory.release(module.allocation);
                continue;
            };
            table.set_module_name(module.module, entry.name.clone());
            table.reserve(module.exports.len());
            let names: Box<[Arc<str>]> = std::mem::take(&mut module.exports)
                .into_iter()
                .map(|(name, export)| {
                    table.insert(name.clone(), export);
                    name
                })
                .collect();
            entry.object = None;
            let mut runtime = register_runtime(&module, memory.runs_code());
            if let Some(map) = module.map.as_ref() {
                let parts = ImageParts::from_link_map(map);
                let image = ModuleImage {
                    name: &entry.name,
                    arch: module.arch,
                    sections: &parts.sections,
                    symbols: &parts.symbols,
                    dwarf: parts.dwarf,
                };
                // Debug and profiler output is best effort: failing to
                // describe a module to them does not fail the link.
                if *gdb && memory.runs_code() {
                    runtime.gdb = GdbRegistration::register(&image).ok().flatten();
                }
                if let Some(p) = profiler.as_mut() {
                    let _ = p.module_loaded(&image);
                }
            }
            constructors_due.push(module.module);
            entry.linked = Some(Box::new(Linked {
                module,
                names,
                runtime,
            }));
        }
        unlinked.clear();
        // Ids come in increasing order (a finalize links every module added
        // before it); sort only if that ever changes, as remove_module
        // searches the list.
        let fresh = constructors_due
            .get(already.saturating_sub(1)..)
            .unwrap_or_default();
        if !fresh.is_sorted() {
            constructors_due.sort_unstable();
        }
        self.pending.store(0, Ordering::Release);
        Ok(())
    }

    fn lookup(&self, name: &str) -> Result<u64> {
        if self.pending.load(Ordering::Acquire) != 0 {
            let mut state = lock(&self.state);
            if self.pending.load(Ordering::Acquire) != 0 {
                self.finalize_locked(&mut state)?;
            }
        }
        self.table_read()
            .get(name)
            .map(|e| e.address)
            .ok_or_else(|| Error::SymbolNotFound(name.to_string()))
    }

    /// The address of function `name`, finalizing pending modules first.
    pub fn get_function_address(&self, name: &str) -> Result<u64> {
        self.lookup(name)
    }

    /// The address of global variable `name`, finalizing pending modules first.
    pub fn get_global_value_address(&self, name: &str) -> Result<u64> {
        self.lookup(name)
    }

    /// Runs the constructors of every linked module whose constructors have
    /// not run yet (from IR `llvm.global_ctors`, and from objects'
    /// `.init_array`, `.ctors`, `__mod_init_func` and `.CRT$XC*`), lowest
    /// priority first, finalizing pending modules first. Each module's
    /// constructors run once.
    pub fn run_static_constructors(&self) -> Result<()> {
        let calls = {
            let mut state = lock(&self.state);
            self.finalize_locked(&mut state)?;
            let mut calls = Vec::new();
            let State {
                modules,
                constructors_due,
                ..
            } = &mut *state;
            // Module ids grow in the order modules were added, so they
            // order calls of equal priority as the modules were added.
            for id in constructors_due.drain(..) {
                let Some(entry) = modules.get_mut(&id) else {
                    continue;
                };
                let Some(linked) = entry.linked.as_deref_mut() else {
                    continue;
                };
                if linked.runtime.constructors_ran {
                    continue;
                }
                linked.runtime.constructors_ran = true;
                collect_calls(&linked.module.runtime.constructors, id as usize, &mut calls);
            }
            calls.sort_by_key(|&(priority, order, index, _)| (priority, order, index));
            calls
        };
        // Called without the lock: constructors may call back into the engine.
        for (_, _, _, f) in calls {
            // SAFETY: `f` is a constructor pointer from a linked, finalized
            // module's initializer array; constructors take no arguments.
            unsafe { call_initializer(f) };
        }
        Ok(())
    }

    /// Runs the destructors (`llvm.global_dtors`, `.fini_array`, `.dtors`,
    /// `__mod_term_func`, `.CRT$XT*`) of every module whose constructors ran
    /// and whose destructors have not, highest priority first. A module
    /// removed (or dropped with its engine) after its constructors ran gets
    /// its destructors then.
    pub fn run_static_destructors(&self) -> Result<()> {
        let calls = {
            let mut state = lock(&self.state);
            let mut calls = Vec::new();
            for (order, entry) in state.modules.values_mut().enumerate() {
                let Some(linked) = entry.linked.as_deref_mut() else {
                    continue;
                };
                let rt = &mut linked.runtime;
                if !rt.constructors_ran || rt.destructors_ran {
                    continue;
                }
                rt.destructors_ran = true;
                collect_calls(&linked.module.runtime.destructors, order, &mut calls);
            }
            destructor_order(&mut calls);
            calls
        };
        for (_, _, _, f) in calls {
            // SAFETY: as for constructors.
            unsafe { call_initializer(f) };
        }
        Ok(())
    }

    /// The function or global whose definition holds `addr`, with the
    /// offset into it: a symbolizer for JIT frames in backtraces.
    pub fn symbolize(&self, addr: u64) -> Option<(String, u64)> {
        let table = self.table_read();
        let state = lock(&self.state);
        let module = state.modules.iter().find_map(|(&id, e)| {
            let linked = e.linked.as_ref()?;
            let inside = linked
                .module
                .allocation
                .segments
                .iter()
                .any(|s| s.size > 0 && addr >= s.addr && addr < s.addr + s.size);
            inside.then_some(id)
        })?;
        table
            .iter()
            .filter(|(_, e)| e.module == module && e.address <= addr)
            .max_by_key(|(_, e)| e.address)
            .map(|(name, e)| (name.to_string(), addr - e.address))
    }

    /// The memory manager's figures.
    pub fn memory_stats(&self) -> MemoryStats {
        lock(&self.state).memory.stats()
    }

    /// What module `id`'s memory costs, as the memory manager reports it
    /// ([`MemoryManager::allocation_stats`]); `None` while the module is
    /// not linked, or when the manager does not say.
    pub fn module_memory_stats(&self, id: ModuleId) -> Option<AllocationStats> {
        let state = lock(&self.state);
        let linked = state.modules.get(&id.0)?.linked.as_ref()?;
        state.memory.allocation_stats(&linked.module.allocation)
    }

    /// The link map of each linked module (kept only after
    /// [`keep_link_maps`](Self::keep_link_maps)), with the module's name.
    pub fn link_maps(&self) -> Vec<(String, LinkMap)> {
        let state = lock(&self.state);
        state
            .modules
            .values()
            .filter_map(|e| {
                let map = e.linked.as_ref()?.module.map.as_deref()?.clone();
                Some((e.name.clone(), map))
            })
            .collect()
    }

    /// The ids of the engine's modules, in the order they were added.
    pub fn module_ids(&self) -> Vec<ModuleId> {
        lock(&self.state)
            .modules
            .keys()
            .map(|&k| ModuleId(k))
            .collect()
    }
}

/// Registers a freshly linked module with the process: its code ranges for
/// exit-handler ownership, its unwind tables with the unwinder.
fn register_runtime(module: &LinkedModule, runs_code: bool) -> ModuleRuntime {
    let key = runtime::next_module_key();
    if !runs_code {
        // Code that does not run here has no constructors to run either:
        // mark them done so that nothing ever calls into the image.
        return ModuleRuntime {
            key,
            unwind: None,
            gdb: None,
            constructors_ran: true,
            destructors_ran: true,
        };
    }
    for class in [SegmentClass::Text, SegmentClass::Stubs] {
        let seg = module.allocation.segment(class);
        atexit::add_code_range(seg.addr, seg.addr + seg.size, key);
    }
    if let Some(template) = module.runtime.tls {
        runtime::tls::register(template);
    }
    // Only code this machine runs gets unwind tables registered: objects for
    // another instruction set (linked for an emulator) are not unwound here.
    let tables = &module.runtime.unwind_tables;
    let native = Some(module.arch) == crate::load::Arch::host();
    let unwind = (native && !tables.is_empty()).then(|| {
        // SAFETY: the tables are relocated `.eh_frame` sections of a
        // finalized module, each followed by the zero terminator the layout
        // reserves; they stay mapped until `teardown` drops this first.
        unsafe { UnwindRegistration::register(tables) }
    });
    ModuleRuntime {
        key,
        unwind,
        gdb: None,
        constructors_ran: false,
        destructors_ran: false,
    }
}

/// Undoes [`register_runtime`] for a module about to be freed: runs its
/// pending destructors and exit handlers, then unregisters its unwind tables.
fn teardown(module: &LinkedModule, runtime: ModuleRuntime) {
    // As `dlclose` does: exit handlers first (C++ static objects), then the
    // destructor arrays.
    atexit::module_removed(runtime.key);
    if runtime.constructors_ran && !runtime.destructors_ran {
        let mut calls = Vec::new();
        collect_calls(&module.runtime.destructors, 0, &mut calls);
        destructor_order(&mut calls);
        for (_, _, _, f) in calls {
            // SAFETY: destructor pointers of a module whose code is still mapped.
            unsafe { call_initializer(f) };
        }
    }
    if let Some(template) = module.runtime.tls {
        runtime::tls::unregister(template.key);
    }
    drop(runtime.gdb);
    drop(runtime.unwind);
}

/// (priority, module order, index within the module, function address).
type InitCall = (u32, usize, usize, u64);

/// Reads the function pointers of `arrays`, in each array's call order.
fn collect_calls(arrays: &[InitArray], order: usize, calls: &mut Vec<InitCall>) {
    let mut index = 0;
    for array in arrays {
        let pointers: Vec<u64> = (0..array.count)
            // SAFETY: the array lies in the module's finalized, readable
            // memory (`count` pointers at `addr`, as the linker laid it out).
            .map(|i| unsafe { std::ptr::read_unaligned((array.addr + 8 * i) as *const u64) })
            .collect();
        let ordered: Box<dyn Iterator<Item = u64>> = if array.reverse {
            Box::new(pointers.into_iter().rev())
        } else {
            Box::new(pointers.into_iter())
        };
        for f in ordered {
            // 0 and -1 are the sentinels `.ctors` may hold.
            if f != 0 && f != u64::MAX {
                calls.push((array.priority, order, index, f));
                index += 1;
            }
        }
    }
}

/// Destructors run highest priority first, later modules first.
fn destructor_order(calls: &mut [InitCall]) {
    calls.sort_by_key(|&(priority, order, index, _)| {
        (std::cmp::Reverse(priority), std::cmp::Reverse(order), index)
    });
}

/// Calls a constructor or destructor.
///
/// # Safety
/// `f` must be the address of a finalized `void (void)` function.
unsafe fn call_initializer(f: u64) {
    // SAFETY: guaranteed by the caller.
    let f: extern "C" fn() = unsafe { std::mem::transmute(f as usize) };
    f();
}

impl Drop for ExecutionEngine {
    fn drop(&mut self) {
        // Remove modules last-added first, so each one's destructors and exit
        // handlers run while the code they call is still there.
        let ids: Vec<u64> = lock(&self.state).modules.keys().rev().copied().collect();
        for id in ids {
            let _ = self.remove_module(ModuleId(id));
        }
    }
}

/// Turns every pending IR module into object bytes: from the cache's
/// `getbuffer` when it has them, else by compiling (and telling `notify`).
#[cfg(feature = "llvm")]
fn compile_pending(state: &mut State) -> Result<()> {
    let State {
        modules,
        unlinked,
        target_machine,
        notify,
        getbuffer,
        ..
    } = state;
    for id in unlinked.iter() {
        let Some(entry) = modules.get_mut(id) else {
            continue;
        };
        if entry.linked.is_some() || entry.object.is_some() {
            continue;
        }
        let Source::Ir(module) = &mut entry.source else {
            continue;
        };
        if let Some(bytes) = getbuffer.as_ref().and_then(|f| f(module)) {
            entry.object = Some(Box::new(ParsedObject::new(bytes, &entry.name)?));
            continue;
        }
        let tm = target_machine.as_ref().ok_or_else(|| {
            Error::Llvm(format!(
                "module `{}` needs compiling but the engine has no target machine",
                entry.name
            ))
        })?;
        let bytes = tm.emit_object(module)?;
        if let Some(f) = notify.as_ref() {
            f(module, &bytes);
        }
        entry.object = Some(Box::new(ParsedObject::new(bytes, &entry.name)?));
    }
    Ok(())
}
