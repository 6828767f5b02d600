//! `ExecutionEngine`: llvmlite's execution-engine API over rivet's linker.
//!
//! Code generation is lazy, as in llvmlite: modules are compiled and linked
//! at [`ExecutionEngine::finalize_object`] or at the first address look-up.
//! The engine is `Send + Sync`: look-ups of linked names take a read lock
//! only, so they run on many threads while another thread adds and
//! finalizes modules; code is made executable (and, where the hardware
//! needs it, visible to instruction fetch) before its address is published.
//!
//! # Look-ups link what they need, as MCJIT's do
//!
//! `get_function_address` / `get_global_value_address` of a name a linked
//! module defines answer from the symbol table at once, whatever is
//! pending. A name that only pending modules define links those modules
//! and, transitively, the pending modules defining names they need that
//! nothing linked or mapped provides; other pending modules stay pending
//! (so a module waiting for an `add_global_mapping` is not linked early,
//! and one that cannot link does not fail unrelated look-ups).
//! `finalize_object` links everything pending.
//!
//! # Locks
//!
//! Four, always taken in this order (a path may skip one, never go back):
//! 1. `initializers`, the turn to run static constructors or destructors
//!    (held while they run, so that a call returns only once the
//!    initializers it found due have run, even those another thread's call
//!    took first; a thread that holds the turn may take it again);
//! 2. `state`, a mutex over everything that changes: modules, the memory
//!    manager, the externals;
//! 3. `table`, a read-write lock over the names of linked modules; look-ups
//!    of linked names take only its read side;
//! 4. `guards`, a mutex over the [`CodeGuard`]s held; a leaf.
//!
//! No lock is held while JIT code runs (constructors, destructors, exit
//! handlers). Callbacks that run while `state` is held (the object cache's,
//! the symbol resolver) must not call back into the engine.
//!
//! # Unloading
//!
//! [`ExecutionEngine::remove_module`] takes a module's names out of the
//! table at once: later look-ups and links no longer see them. Its code,
//! data and registrations stay, callable, while
//! - a live module binds to its definitions (directly, or through removed
//!   modules that a live one still binds to): the engine records every
//!   binding between modules when it links them; or
//! - a [`CodeGuard`] taken before the removal is held (the engine's own
//!   calls of constructors and destructors hold one too).
//!
//! Then the module is torn down (its exit handlers and destructors run, the
//! unwinder and debugger forget it), its code is overwritten with trapping
//! instructions where the memory manager can, and its memory returns to the
//! memory manager, which may reuse the addresses for later modules. The
//! embedder's part: a thread that may call code another thread removes
//! holds a guard from before its look-up until the call returns.
//! [`UnloadPolicy::Refuse`] makes `remove_module` refuse a module live
//! modules bind to instead of deferring its release.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::num::NonZeroU64;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::debug::gdb::GdbRegistration;
use crate::debug::image::ImageParts;
use crate::debug::perf::{Profiler, ProfilerOptions};
use crate::debug::unwind::UnwindRegistration;
use crate::debug::{LineTable, ModuleImage, SourceLocation};
use crate::link::{
    self, Externals, InitArray, LinkMap, LinkOptions, LinkUnit, LinkedModule, NameMap, RuntimeInfo,
    SymbolTable, TlsTemplate,
};
#[cfg(feature = "llvm")]
use crate::llvm::{Module, TargetData, TargetMachine};
use crate::load::{Definition, ObjectFile};
use crate::memory::{Allocation, SegmentClass};
use crate::memory::{
    AllocationStats, Arena, ArenaConfig, MemoryManager, MemoryStats, SectionsConfig,
    SectionsManager,
};
use crate::runtime::{self, atexit};
use crate::{Error, Result};

mod library;
pub use library::{LibraryBuilder, LibraryId, LinkedLibrary};

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
    /// Boxed, without spare room: the entry lives as long as the module.
    name: Box<str>,
    source: Source,
    /// The object waiting to be linked (compiled, cached or added directly).
    /// Boxed, as is the linked module: an entry lives as long as its
    /// module, and these are large and needed only at one time or another.
    object: Option<Box<ParsedObject>>,
    linked: Option<Box<Linked>>,
    /// The JIT library the module belongs to; `None` for the engine's own
    /// (MCJIT-style) modules.
    library: Option<NonZeroU64>,
}

/// What the engine keeps of a linked module: what finding it by address,
/// running its initializers and tearing it down need. Its exports have
/// moved to the engine's symbol table (or its library's); what few modules
/// have is boxed apart, so that a small module's record stays small.
struct Linked {
    /// Its memory.
    allocation: Allocation,
    /// What it registered with the process.
    runtime: ModuleRuntime,
    /// Its bindings to other modules, both ways, when it has any.
    bindings: Option<Box<Bindings>>,
    /// Initializers, thread-local block, link map and debug records, for
    /// a module that has any.
    extras: Option<Box<Extras>>,
}

/// The bindings between a module and the others.
#[derive(Default)]
struct Bindings {
    /// The other modules it binds to, sorted ([`LinkedModule::binds_to`]).
    binds_to: Box<[u64]>,
    /// The modules (live, removed or being torn down) that bind to this
    /// one, sorted: the reverse of their `binds_to`.
    bound_by: Vec<u64>,
}

/// The parts of a linked module's record most modules do without.
#[derive(Default)]
struct Extras {
    constructors: Vec<InitArray>,
    destructors: Vec<InitArray>,
    tls: Option<TlsTemplate>,
    map: Option<Box<LinkMap>>,
    /// The module's image as registered with the debugger (`enable_gdb`).
    gdb: Option<GdbRegistration>,
    /// Its source lines, read from its DWARF when debugging or jitdump
    /// output was on at link time (for `symbolize_line`).
    lines: Option<LineTable>,
}

impl Linked {
    fn constructors(&self) -> &[InitArray] {
        self.extras.as_ref().map_or(&[], |e| &e.constructors)
    }

    fn destructors(&self) -> &[InitArray] {
        self.extras.as_ref().map_or(&[], |e| &e.destructors)
    }

    fn map(&self) -> Option<&LinkMap> {
        self.extras.as_ref()?.map.as_deref()
    }

    fn lines(&self) -> Option<&LineTable> {
        self.extras.as_ref()?.lines.as_ref()
    }

    /// The other modules it binds to, sorted.
    fn binds_to(&self) -> &[u64] {
        self.bindings.as_ref().map_or(&[], |b| &b.binds_to)
    }

    /// The modules that bind to it, sorted.
    fn bound_by(&self) -> &[u64] {
        self.bindings.as_ref().map_or(&[], |b| &b.bound_by)
    }

    /// Records that module `from` binds to this one.
    fn add_bound_by(&mut self, from: u64) {
        let bound_by = &mut self.bindings.get_or_insert_default().bound_by;
        if let Err(at) = bound_by.binary_search(&from) {
            bound_by.insert(at, from);
        }
    }

    fn remove_bound_by(&mut self, from: u64) {
        let Some(bindings) = self.bindings.as_mut() else {
            return;
        };
        if let Ok(at) = bindings.bound_by.binary_search(&from) {
            bindings.bound_by.remove(at);
        }
        if bindings.bound_by.is_empty() && bindings.binds_to.is_empty() {
            self.bindings = None;
        }
    }

    /// Whether `addr` lies in one of the module's segments.
    fn holds(&self, addr: u64) -> bool {
        self.allocation
            .segments
            .iter()
            .any(|s| s.size > 0 && addr >= s.addr && addr < s.addr + s.size)
    }
}

/// A module removed from the engine whose memory is still kept.
struct Retired {
    linked: Box<Linked>,
    /// The guard epoch of its removal: guards taken in it or before keep
    /// the module.
    epoch: u64,
}

/// What `remove_module` does with a module that live modules bind to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnloadPolicy {
    /// Take its names out now; keep its code, data and registrations until
    /// no live module binds to it (as `dlclose` keeps a library that
    /// another one needs). The default.
    #[default]
    Defer,
    /// Refuse with [`Error::ModuleInUse`], naming the modules that bind to it.
    Refuse,
}

/// While held, no module removed after the guard was taken is torn down:
/// code its thread looked up, or is running, stays mapped and callable.
/// Take one before looking up an address that another thread may remove,
/// and drop it once the call has returned. A guard costs a mutex-guarded
/// counter, but it holds back the release of every module removed while
/// it is held: keep it for a call, not for a thread's life.
#[must_use = "the guard protects code only while it is held"]
pub struct CodeGuard<'e> {
    engine: &'e ExecutionEngine,
    epoch: u64,
}

impl Drop for CodeGuard<'_> {
    fn drop(&mut self) {
        self.engine.release_guard(self.epoch);
    }
}

impl std::fmt::Debug for CodeGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeGuard")
            .field("epoch", &self.epoch)
            .finish()
    }
}

/// The turn to run initializers; `taken` when this holder took it (not a
/// nested call on the thread that holds it).
struct InitializerTurn<'e> {
    engine: &'e ExecutionEngine,
    taken: bool,
}

impl Drop for InitializerTurn<'_> {
    fn drop(&mut self) {
        if self.taken {
            *lock(&self.engine.initializers) = None;
            self.engine.initializers_done.notify_all();
        }
    }
}

/// The guards held now, by epoch. Every removal starts a new epoch.
#[derive(Default)]
struct Guards {
    epoch: u64,
    /// Guards held, by the epoch they were taken in.
    held: BTreeMap<u64, usize>,
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
    /// Process-wide key for exit handlers and the TLS block ([`LinkedModule::key`]).
    key: u64,
    /// Unwind tables registered with the unwinder.
    unwind: Option<UnwindRegistration>,
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
    /// Removed modules whose memory is still kept (see "Unloading").
    retired: BTreeMap<u64, Retired>,
    /// Removed modules being torn down now, with the lock released: they
    /// still hold what they bind to.
    tearing_down: HashSet<u64>,
    unload_policy: UnloadPolicy,
    /// Whether tearing a module down runs its destructors and exit handlers.
    run_destructors: bool,
    /// Live JIT libraries, by name.
    libraries: BTreeMap<String, library::Library>,
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
    /// The thread running static constructors or destructors, if any.
    initializers: Mutex<Option<std::thread::ThreadId>>,
    initializers_done: std::sync::Condvar,
    state: Mutex<State>,
    table: RwLock<SymbolTable>,
    guards: Mutex<Guards>,
    /// `State::unlinked.len()`, read without the lock.
    pending: AtomicUsize,
    /// `State::retired.len()`, so that dropping a guard looks for work
    /// only when there is some.
    retired: AtomicUsize,
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

/// The profiler `RIVET_PERF_MAP` / `RIVET_JITDUMP` ask for, if any. An
/// output that cannot be opened is left off: profiling never fails an engine.
fn profiler_from_env() -> Option<Profiler> {
    let options = ProfilerOptions::from_env();
    options
        .any()
        .then(|| Profiler::open(options).ok())
        .flatten()
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
            initializers: Mutex::new(None),
            initializers_done: std::sync::Condvar::new(),
            state: Mutex::new(State {
                memory,
                modules: BTreeMap::new(),
                unlinked: Vec::new(),
                constructors_due: Vec::new(),
                retired: BTreeMap::new(),
                tearing_down: HashSet::new(),
                unload_policy: UnloadPolicy::default(),
                run_destructors: true,
                libraries: BTreeMap::new(),
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
                profiler: profiler_from_env(),
            }),
            table: RwLock::new(SymbolTable::default()),
            guards: Mutex::new(Guards::default()),
            pending: AtomicUsize::new(0),
            retired: AtomicUsize::new(0),
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
                name: name.into_boxed_str(),
                source,
                object,
                linked: None,
                library: None,
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

    /// Removes a module: its names disappear at once, and an IR module is
    /// handed back (it can be added again). Its memory goes back to the
    /// memory manager once nothing holds it: see "Unloading" in this
    /// module's docs. Code that other modules bound to it keeps working
    /// until they are removed too. Under [`UnloadPolicy::Refuse`], a module
    /// that live modules bind to is refused with [`Error::ModuleInUse`].
    pub fn remove_module(&self, id: ModuleId) -> Result<Removed> {
        let mut state = lock(&self.state);
        let entry = state
            .modules
            .get(&id.0)
            .ok_or(Error::ModuleNotFound(id.0))?;
        if state.unload_policy == UnloadPolicy::Refuse {
            if let Some(linked) = entry.linked.as_deref() {
                let mut dependents: Vec<String> = linked
                    .bound_by()
                    .iter()
                    .filter_map(|d| state.modules.get(d).map(|e| e.name.to_string()))
                    .collect();
                if !dependents.is_empty() {
                    dependents.sort();
                    return Err(Error::ModuleInUse {
                        module: entry.name.to_string(),
                        dependents,
                    });
                }
            }
        }
        if entry.library.is_some() {
            // A library's modules go with the library (`dispose_library`).
            return Err(Error::ModuleNotFound(id.0));
        }
        let Some(source) = self.retire_locked(&mut state, id.0) else {
            return Err(Error::ModuleNotFound(id.0));
        };
        let removed = match source {
            #[cfg(feature = "llvm")]
            Source::Ir(module) => Removed {
                module: Some(module),
            },
            Source::Object => Removed::default(),
        };
        self.reclaim(state);
        Ok(removed)
    }

    /// Takes module `id` out of the engine: a linked module's names leave
    /// the table and it joins the removed modules (freed by `reclaim`); a
    /// pending one is forgotten. Returns what it was made from.
    fn retire_locked(&self, state: &mut State, id: u64) -> Option<Source> {
        let entry = state.modules.remove(&id)?;
        match entry.linked {
            Some(linked) => {
                if let Ok(at) = state.constructors_due.binary_search(&id) {
                    state.constructors_due.remove(at);
                }
                if entry.library.is_none() {
                    let mut table = self.table_write();
                    table.remove_module(id);
                }
                let epoch = {
                    let mut guards = lock(&self.guards);
                    let epoch = guards.epoch;
                    guards.epoch += 1;
                    epoch
                };
                state.retired.insert(id, Retired { linked, epoch });
                self.retired.store(state.retired.len(), Ordering::Release);
            }
            None => {
                state.unlinked.retain(|&u| u != id);
                self.pending.store(state.unlinked.len(), Ordering::Release);
            }
        }
        Some(entry.source)
    }

    /// Whether unloading a module (removal, a library's disposal, dropping
    /// the engine) runs its destructors and the exit handlers its code
    /// registered; on by default. Turn it off before dropping an engine
    /// whose modules' destructors may refer to memory the embedder has
    /// already freed, as a garbage collector tearing objects down in no
    /// particular order does.
    pub fn set_run_destructors(&self, run: bool) {
        lock(&self.state).run_destructors = run;
    }

    /// Sets what [`remove_module`](Self::remove_module) does with a module
    /// that live modules bind to (default: [`UnloadPolicy::Defer`]).
    pub fn set_unload_policy(&self, policy: UnloadPolicy) {
        lock(&self.state).unload_policy = policy;
    }

    /// A guard that keeps every module not removed yet mapped and callable
    /// while it is held (see [`CodeGuard`]).
    pub fn guard(&self) -> CodeGuard<'_> {
        let mut guards = lock(&self.guards);
        let epoch = guards.epoch;
        *guards.held.entry(epoch).or_insert(0) += 1;
        CodeGuard {
            engine: self,
            epoch,
        }
    }

    /// Waits for the turn to run initializers (see "Locks"); the turn is
    /// given back when the value returned is dropped.
    fn initializer_turn(&self) -> InitializerTurn<'_> {
        let me = std::thread::current().id();
        let mut owner = lock(&self.initializers);
        while owner.is_some_and(|o| o != me) {
            owner = self
                .initializers_done
                .wait(owner)
                .unwrap_or_else(|e| e.into_inner());
        }
        let taken = owner.is_none();
        *owner = Some(me);
        InitializerTurn {
            engine: self,
            taken,
        }
    }

    fn release_guard(&self, epoch: u64) {
        {
            let mut guards = lock(&self.guards);
            if let Some(count) = guards.held.get_mut(&epoch) {
                *count -= 1;
                if *count == 0 {
                    guards.held.remove(&epoch);
                }
            }
        }
        if self.retired.load(Ordering::Acquire) == 0 {
            return;
        }
        // Never wait here: the thread may be inside a callback that holds
        // the lock; the engine's next call does the work then.
        let state = match self.state.try_lock() {
            Ok(state) => state,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        self.reclaim(state);
    }

    /// Tears down and frees every removed module that nothing holds any
    /// more (the engine does this at each removal and when a guard is
    /// dropped; call it after dropping guards on another path). Returns how
    /// many removed modules are still kept, by live modules binding to them
    /// or by guards.
    pub fn quiesce(&self) -> usize {
        self.reclaim(lock(&self.state));
        lock(&self.state).retired.len()
    }

    /// Tears down and frees the removed modules nothing holds, dependents
    /// before what they bind to. Gives up the lock while their destructors
    /// and exit handlers run.
    fn reclaim<'e>(&'e self, mut state: MutexGuard<'e, State>) {
        while !state.retired.is_empty() {
            let oldest_guard = lock(&self.guards).held.keys().next().copied();
            let order = reclaimable(&state, oldest_guard);
            if order.is_empty() {
                break;
            }
            let mut doomed = Vec::with_capacity(order.len());
            for id in order {
                if let Some(retired) = state.retired.remove(&id) {
                    state.tearing_down.insert(id);
                    doomed.push((id, retired.linked));
                }
            }
            self.retired.store(state.retired.len(), Ordering::Release);
            let run_destructors = state.run_destructors;
            drop(state);
            let mut freed = Vec::with_capacity(doomed.len());
            for (id, mut linked) in doomed {
                teardown(&mut linked, run_destructors);
                freed.push((id, linked));
            }
            state = lock(&self.state);
            for (id, module) in freed {
                state.tearing_down.remove(&id);
                for dependency in module.binds_to() {
                    if let Some(linked) = state.linked_mut(*dependency) {
                        linked.remove_bound_by(id);
                    }
                }
                state.memory.release(module.allocation);
            }
        }
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
        self.link_pending(&mut state, None)
    }

    /// Links the pending modules `only` names (sorted), or all of them.
    fn link_pending(&self, state: &mut State, only: Option<&[u64]>) -> Result<()> {
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
        } = &mut *state;
        let mut ids = Vec::new();
        let mut objects = Vec::new();
        for &id in unlinked.iter() {
            if only.is_some_and(|only| only.binary_search(&id).is_err()) {
                continue;
            }
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
            .map(|(&module, &object)| LinkUnit {
                module,
                key: link::next_module_key(),
                object,
            })
            .collect();
        let options = LinkOptions {
            // Debuggers and profilers describe modules from their maps.
            map: *keep_maps || *gdb || profiler.is_some(),
            skip_finalize: false,
            later_definitions_win: *later_definitions_win,
            // DWARF is relocated only for the debugger's image and the
            // jitdump's line records (and kept as a line table).
            debug_info: (*gdb || profiler.as_ref().is_some_and(|p| p.options().jitdump))
                && memory.runs_code(),
        };
        let linked = {
            let table = self.table_read();
            link::link(&units, &table, externals, memory.as_mut(), options)?
        };
        drop(units);
        drop(objects);
        let mut edges = Vec::new();
        let mut table = self.table_write();
        let already = constructors_due.len();
        for mut module in linked {
            let Some(entry) = modules.get_mut(&module.module) else {
                // Cannot happen: the lock was held throughout. Give the memory back.
                memory.release(module.allocation);
                continue;
            };
            table.insert_module(
                module.module,
                &entry.name,
                std::mem::take(&mut module.exports),
            );
            entry.object = None;
            edges.extend(module.binds_to.iter().map(|&to| (module.module, to)));
            constructors_due.push(module.module);
            entry.linked = Some(adopt(module, &entry.name, memory.as_ref(), *gdb, profiler));
        }
        drop(table);
        unlinked.retain(|id| ids.binary_search(id).is_err());
        // Ids come in increasing order (modules link in the order they were
        // added); sort only if that ever changes, as remove_module
        // searches the list.
        let fresh = constructors_due
            .get(already.saturating_sub(1)..)
            .unwrap_or_default();
        if !fresh.is_sorted() {
            constructors_due.sort_unstable();
        }
        self.pending.store(unlinked.len(), Ordering::Release);
        for (from, to) in edges {
            if let Some(linked) = state.linked_mut(to) {
                linked.add_bound_by(from);
            }
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Result<u64> {
        // A name already linked answers at once, whatever is pending.
        let linked = self.table_read().get(name).map(|e| e.address);
        if let Some(address) = linked {
            return Ok(address);
        }
        if self.pending.load(Ordering::Acquire) != 0 {
            let mut state = lock(&self.state);
            #[cfg(feature = "llvm")]
            compile_pending(&mut state)?;
            let needed = {
                let table = self.table_read();
                pending_closure(&state, &table, name)
            };
            if let Some(needed) = needed {
                self.link_pending(&mut state, Some(&needed))?;
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
    /// When it returns, every constructor due when it was called has run,
    /// also those another thread's call had taken and was still running.
    pub fn run_static_constructors(&self) -> Result<()> {
        let _turn = self.initializer_turn();
        let (calls, guard) = {
            let mut state = lock(&self.state);
            self.link_pending(&mut state, None)?;
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
                collect_calls(linked.constructors(), id as usize, &mut calls);
            }
            calls.sort_by_key(|&(priority, order, index, _)| (priority, order, index));
            // Taken before the lock goes: a module removed from now on
            // stays until the calls are done.
            (calls, self.guard())
        };
        // Called without the lock: constructors may call back into the engine.
        for (_, _, _, f) in calls {
            // SAFETY: `f` is a constructor pointer from a linked, finalized
            // module's initializer array; constructors take no arguments.
            // The guard keeps the module mapped even if another thread
            // removes it meanwhile.
            unsafe { call_initializer(f) };
        }
        drop(guard);
        Ok(())
    }

    /// Runs the destructors (`llvm.global_dtors`, `.fini_array`, `.dtors`,
    /// `__mod_term_func`, `.CRT$XT*`) of every module whose constructors ran
    /// and whose destructors have not, highest priority first. A module
    /// removed (or dropped with its engine) after its constructors ran gets
    /// its destructors then.
    pub fn run_static_destructors(&self) -> Result<()> {
        let _turn = self.initializer_turn();
        let (calls, guard) = {
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
                collect_calls(linked.destructors(), order, &mut calls);
            }
            destructor_order(&mut calls);
            (calls, self.guard())
        };
        for (_, _, _, f) in calls {
            // SAFETY: as for constructors, the guard included.
            unsafe { call_initializer(f) };
        }
        drop(guard);
        Ok(())
    }

    /// The function or global whose definition holds `addr`, with the
    /// offset into it: a symbolizer for JIT frames in backtraces.
    pub fn symbolize(&self, addr: u64) -> Option<(String, u64)> {
        // The lock order: state, then table.
        let state = lock(&self.state);
        let table = self.table_read();
        let module = state
            .modules
            .iter()
            .find_map(|(&id, e)| e.linked.as_ref()?.holds(addr).then_some(id))?;
        table
            .iter()
            .filter(|(_, e)| e.module == module && e.address <= addr)
            .max_by_key(|(_, e)| e.address)
            .map(|(name, e)| (name.to_string(), addr - e.address))
    }

    /// The source file, line and column of the code at `addr`, from the
    /// DWARF line table of the module holding it. Known for modules
    /// compiled with debug information (`-g`) and linked while gdb
    /// registration ([`enable_gdb`](Self::enable_gdb)) or jitdump output
    /// was on; `None` otherwise, or for an address in no module.
    pub fn symbolize_line(&self, addr: u64) -> Option<SourceLocation> {
        let state = lock(&self.state);
        state.modules.values().find_map(|e| {
            let linked = e.linked.as_ref()?;
            if !linked.holds(addr) {
                return None;
            }
            linked.lines()?.lookup(addr)
        })
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
        state.memory.allocation_stats(&linked.allocation)
    }

    /// The link map of each linked module (kept only after
    /// [`keep_link_maps`](Self::keep_link_maps)), with the module's name.
    pub fn link_maps(&self) -> Vec<(String, LinkMap)> {
        let state = lock(&self.state);
        state
            .modules
            .values()
            .filter_map(|e| {
                let map = e.linked.as_ref()?.map()?.clone();
                Some((e.name.to_string(), map))
            })
            .collect()
    }

    /// The ids of the engine's modules, in the order they were added.
    pub fn module_ids(&self) -> Vec<ModuleId> {
        lock(&self.state)
            .modules
            .iter()
            .filter(|(_, e)| e.library.is_none())
            .map(|(&k, _)| ModuleId(k))
            .collect()
    }
}

impl State {
    /// A linked module's record, live or removed and kept.
    fn linked_mut(&mut self, id: u64) -> Option<&mut Linked> {
        match self.modules.get_mut(&id) {
            Some(entry) => entry.linked.as_deref_mut(),
            None => self.retired.get_mut(&id).map(|r| &mut *r.linked),
        }
    }

    fn linked(&self, id: u64) -> Option<&Linked> {
        match self.modules.get(&id) {
            Some(entry) => entry.linked.as_deref(),
            None => self.retired.get(&id).map(|r| &*r.linked),
        }
    }
}

/// The removed modules that can be torn down now, dependents before what
/// they bind to: those that no live module (nor one being torn down)
/// reaches through bindings, directly or through other removed modules,
/// and that no guard taken at `oldest_guard` or later holds.
fn reclaimable(state: &State, oldest_guard: Option<u64>) -> Vec<u64> {
    let mut kept: HashSet<u64> = HashSet::new();
    let mut work = Vec::new();
    for (&id, retired) in &state.retired {
        let guarded = oldest_guard.is_some_and(|g| g <= retired.epoch);
        let bound = retired
            .linked
            .bound_by()
            .iter()
            .any(|d| state.modules.contains_key(d) || state.tearing_down.contains(d));
        if guarded || bound {
            kept.insert(id);
            work.push(id);
        }
    }
    while let Some(id) = work.pop() {
        let Some(retired) = state.retired.get(&id) else {
            continue;
        };
        for &to in retired.linked.binds_to() {
            if state.retired.contains_key(&to) && kept.insert(to) {
                work.push(to);
            }
        }
    }
    // Order the rest: a module goes once every module binding to it has
    // gone (later-added first among the ready ones); a cycle is broken at
    // its latest module.
    let mut waiting: HashMap<u64, usize> = state
        .retired
        .iter()
        .filter(|(id, _)| !kept.contains(id))
        .map(|(&id, r)| {
            let dependents = r
                .linked
                .bound_by()
                .iter()
                .filter(|d| state.retired.contains_key(d) && !kept.contains(d))
                .count();
            (id, dependents)
        })
        .collect();
    let mut ready: BinaryHeap<u64> = waiting
        .iter()
        .filter(|(_, &n)| n == 0)
        .map(|(&id, _)| id)
        .collect();
    let mut order = Vec::with_capacity(waiting.len());
    loop {
        while let Some(id) = ready.pop() {
            if waiting.remove(&id).is_none() {
                continue;
            }
            order.push(id);
            let Some(linked) = state.linked(id) else {
                continue;
            };
            for to in linked.binds_to() {
                if let Some(n) = waiting.get_mut(to) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        ready.push(*to);
                    }
                }
            }
        }
        match waiting.keys().max() {
            Some(&id) => ready.push(id),
            None => break,
        }
    }
    order
}

/// The pending modules a look-up of `name` must link (sorted): the ones
/// defining it and, transitively, those defining a name they need that no
/// global mapping and no linked module provides, and those whose definition
/// of a name would beat (or, for commons, merge with) a weak or common one
/// of theirs, so that the definition rules hold as in one finalize. `None`
/// when no pending module defines `name`.
fn pending_closure(state: &State, table: &SymbolTable, name: &str) -> Option<Vec<u64>> {
    /// How firmly a definition holds its name: weak, common, strong.
    fn rank(sym: &crate::load::Symbol<'_>) -> u8 {
        match (sym.binding, sym.definition) {
            (_, Definition::Common { .. }) => 1,
            (crate::load::Binding::Weak, _) => 0,
            _ => 2,
        }
    }
    let object_of = |id: &u64| {
        state
            .modules
            .get(id)
            .and_then(|e| e.object.as_deref())
            .map(ParsedObject::object)
    };
    let mut definers: NameMap<&str, Vec<(u64, u8)>> = NameMap::default();
    for id in &state.unlinked {
        let Some(object) = object_of(id) else {
            continue;
        };
        for sym in &object.symbols {
            if sym.is_external() && sym.definition != Definition::Undefined && !sym.name.is_empty()
            {
                definers.entry(sym.name).or_default().push((*id, rank(sym)));
            }
        }
    }
    let mut chosen: BTreeSet<u64> = definers.get(name)?.iter().map(|&(id, _)| id).collect();
    let mut work: Vec<u64> = chosen.iter().copied().collect();
    while let Some(id) = work.pop() {
        let Some(object) = object_of(&id) else {
            continue;
        };
        for sym in &object.symbols {
            if sym.name.is_empty() {
                continue;
            }
            let mine = match sym.definition {
                Definition::Undefined => None,
                _ if !sym.is_external() => continue,
                _ => Some(rank(sym)),
            };
            if mine == Some(2) {
                continue;
            }
            // A COFF import pointer `__imp_X` needs `X`.
            let inner = mine.is_none().then(|| sym.name.strip_prefix("__imp_"));
            for wanted in [Some(sym.name), inner.flatten()].into_iter().flatten() {
                if state.externals.global_mappings.contains_key(wanted)
                    || table.get(wanted).is_some()
                {
                    continue;
                }
                for &(d, theirs) in definers.get(wanted).into_iter().flatten() {
                    let needed = match mine {
                        None => true,
                        Some(mine) => theirs > mine || (theirs == 1 && mine == 1),
                    };
                    if needed && chosen.insert(d) {
                        work.push(d);
                    }
                }
            }
        }
    }
    Some(chosen.into_iter().collect())
}

/// Makes the record of a freshly linked module: registers it with the
/// process, and with the debugger (`gdb`) and the profiler when they are on.
fn adopt(
    module: LinkedModule,
    name: &str,
    memory: &dyn MemoryManager,
    gdb: bool,
    profiler: &mut Option<Profiler>,
) -> Box<Linked> {
    let LinkedModule {
        key,
        arch,
        allocation,
        map,
        runtime: info,
        binds_to,
        ..
    } = module;
    let runtime = register_runtime(key, arch, &allocation, &info, memory.runs_code());
    let mut extras = Extras {
        constructors: info.constructors,
        destructors: info.destructors,
        tls: info.tls,
        map,
        gdb: None,
        lines: None,
    };
    if let Some(map) = extras.map.as_mut() {
        let parts = ImageParts::from_link_map(map);
        let image = ModuleImage {
            name,
            arch,
            sections: &parts.sections,
            symbols: &parts.symbols,
            dwarf: parts.dwarf,
        };
        // Debug and profiler output is best effort: failing to describe a
        // module to them does not fail the link.
        if gdb && memory.runs_code() {
            extras.gdb = GdbRegistration::register(&image).ok().flatten();
        }
        if let Some(p) = profiler.as_mut() {
            let _ = p.module_loaded(&image);
        }
        // The registered image holds its own copy of the DWARF; the engine
        // keeps only the line table, for `symbolize_line`.
        if !map.dwarf.is_empty() {
            extras.lines = LineTable::from_dwarf(&map.dwarf);
        }
        map.dwarf = Vec::new();
    }
    let needed = !extras.constructors.is_empty()
        || !extras.destructors.is_empty()
        || extras.tls.is_some()
        || extras.map.is_some()
        || extras.gdb.is_some()
        || extras.lines.is_some();
    Box::new(Linked {
        allocation,
        runtime,
        bindings: (!binds_to.is_empty()).then(|| {
            Box::new(Bindings {
                binds_to,
                bound_by: Vec::new(),
            })
        }),
        extras: needed.then(|| Box::new(extras)),
    })
}

/// Registers a freshly linked module with the process: its code ranges for
/// exit-handler ownership, its thread-local block, its unwind tables with
/// the unwinder.
fn register_runtime(
    key: u64,
    arch: crate::arch::Arch,
    allocation: &Allocation,
    info: &RuntimeInfo,
    runs_code: bool,
) -> ModuleRuntime {
    // One key per module, chosen when it was linked: its exit handlers and
    // its thread-local block are both filed under it.
    if !runs_code {
        // Code that does not run here has no constructors to run either:
        // mark them done so that nothing ever calls into the image.
        return ModuleRuntime {
            key,
            unwind: None,
            constructors_ran: true,
            destructors_ran: true,
        };
    }
    for (start, end) in code_ranges(allocation) {
        atexit::add_code_range(start, end, key);
    }
    if let Some(template) = info.tls {
        runtime::tls::register(template);
    }
    // Only code this machine runs gets unwind tables registered: objects for
    // another instruction set (linked for an emulator) are not unwound here.
    let tables = &info.unwind_tables;
    let native = Some(arch) == crate::arch::Arch::host();
    let unwind = (native && !tables.is_empty()).then(|| {
        // SAFETY: the tables are relocated `.eh_frame` sections of a
        // finalized module, each followed by the zero terminator the layout
        // reserves; they stay mapped until `teardown` drops this first.
        unsafe { UnwindRegistration::register(tables) }
    });
    ModuleRuntime {
        key,
        unwind,
        constructors_ran: false,
        destructors_ran: false,
    }
}

/// The address ranges of a module's code (text and stubs; one range when
/// the stubs follow the text, as the arena places them): exit handlers
/// registered from them belong to the module.
fn code_ranges(allocation: &Allocation) -> impl Iterator<Item = (u64, u64)> {
    let range = |class| {
        let seg = allocation.segment(class);
        (seg.size > 0).then_some((seg.addr, seg.addr + seg.size))
    };
    let (text, stubs) = (range(SegmentClass::Text), range(SegmentClass::Stubs));
    let ranges = match (text, stubs) {
        (Some(t), Some(s)) if s.0 <= t.1 && t.0 <= s.1 => {
            [Some((t.0.min(s.0), t.1.max(s.1))), None]
        }
        _ => [text, stubs],
    };
    ranges.into_iter().flatten()
}

/// Undoes [`register_runtime`] for a module about to be freed: runs its
/// pending destructors and exit handlers, then unregisters its unwind tables.
fn teardown(linked: &mut Linked, run_destructors: bool) {
    // As `dlclose` does: exit handlers first (C++ static objects), then the
    // destructor arrays.
    let runtime = &linked.runtime;
    let starts: Vec<u64> = code_ranges(&linked.allocation)
        .map(|(start, _)| start)
        .collect();
    atexit::module_removed(runtime.key, &starts, run_destructors);
    if run_destructors && runtime.constructors_ran && !runtime.destructors_ran {
        let mut calls = Vec::new();
        collect_calls(linked.destructors(), 0, &mut calls);
        destructor_order(&mut calls);
        for (_, _, _, f) in calls {
            // SAFETY: destructor pointers of a module whose code is still mapped.
            unsafe { call_initializer(f) };
        }
    }
    if let Some(extras) = linked.extras.take() {
        if let Some(template) = extras.tls {
            runtime::tls::unregister(template.key);
        }
        drop(extras.gdb);
    }
    drop(linked.runtime.unwind.take());
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
        // No guard can outlive the engine (each borrows it), so every
        // module nothing else binds to is freed as it is removed, and the
        // last removal frees the rest.
        let mut state = lock(&self.state);
        state.libraries.clear();
        let ids: Vec<u64> = state.modules.keys().rev().copied().collect();
        for id in ids {
            let _ = self.retire_locked(&mut state, id);
            self.reclaim(state);
            state = lock(&self.state);
        }
        self.reclaim(state);
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
