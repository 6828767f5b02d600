//! The linker: one record per object of a link, and the phases run over
//! them in sequence: resolve (`resolve`: which definition of each name
//! wins, where every other symbol goes), plan (`layout`: segments, GOT,
//! stubs, TLS block), allocate (the [`MemoryManager`]), assign (`assign`:
//! addresses), apply (`apply`: bytes, GOT, stubs, fixups) and export (the
//! names, map and run-time facts of each module). It depends on `load`,
//! `arch` and `memory` only; the run time reaches it through
//! [`Externals::runtime`].
//!
//! # Resolution order
//!
//! An undefined name is looked up, first hit wins, in:
//! 1. global mappings (`add_global_mapping`);
//! 2. the engine's modules: those being linked now, then those linked before;
//! 3. symbols the user registered (`add_symbol`; the last write of a name wins);
//! 4. names rivet's run time provides to JIT code (`atexit`, `__cxa_atexit`,
//!    `__tls_get_addr`, and Mach-O's `__tlv_bootstrap`), so that exit handlers and thread-locals are scoped
//!    to their module; then the user's resolver callback
//!    (`set_symbol_resolver`);
//! 5. libraries loaded with `load_library_permanently`, in load order;
//! 6. the process itself (`dlsym`).
//!
//! Linker-defined names: `_GLOBAL_OFFSET_TABLE_` (the module's GOT),
//! `__ImageBase` and `__dso_handle` (the module's lowest address), `__imp_X`
//! (a slot holding X's address), `_fltused`, section bounds
//! (ELF `__start_NAME` / `__stop_NAME`, Mach-O `section$start$SEG$SECT` /
//! `section$end$SEG$SECT`, of the referring module's sections: see
//! `bounds`; looked up right after the definitions of this link); and, when found nowhere
//! else (after step 6), `__stack_chk_guard` (a word of the module's Data
//! holding a random value fixed per process). Mach-O's `__tlv_bootstrap`
//! for arm64 code, which this host runs only in the emulator, is a getter
//! of the module's own over one copy of its thread-local block (`tlv`).
//!
//! An undefined weak name found nowhere is 0. Any other name found nowhere
//! fails the link with [`Error::UnresolvedSymbols`] listing every one.
//!
//! # Definitions
//!
//! Definitions follow ELF. Among everything linked in one finalize, a strong
//! definition beats weak and common ones whatever order they arrived in, the
//! first of several weak ones wins, common blocks merge into one of the
//! largest size and alignment (a common beats a weak definition), and two
//! strong definitions are [`Error::DuplicateSymbol`]. Against modules linked
//! earlier, a new strong definition replaces a weak or common one for every
//! later link and look-up (and a strong one too, with
//! [`LinkOptions::later_definitions_win`]), and a new weak or common definition binds to the
//! existing one. Bindings in code already finalized never change.

mod apply;
mod assign;
mod bounds;
mod debug_sections;
mod hash;
mod ifunc;
mod layout;
mod resolve;
mod runtime_info;
mod symbols;
mod tlv;

pub use debug_sections::DwarfSection;
pub use hash::{NameHasher, NameMap};
pub use runtime_info::{InitArray, RuntimeInfo, TlsTemplate};
pub use symbols::{
    Export, Exports, Externals, RuntimeServices, Strength, SymbolResolver, SymbolTable,
};

use std::sync::atomic::{AtomicU64, Ordering};

use apply::ThreadLocals;
use assign::ObjectAddresses;
use layout::ObjectLayout;
use resolve::{Resolutions, Resolved, Winner};

use crate::arch::Arch;
use crate::load::{Definition, ObjectFile, SectionKind, SymbolKind, Target};
use crate::memory::{Allocation, MemoryManager, SegmentClass};
use crate::{Error, Result};

/// The name the large code model uses for the GOT base.
const GOT_BASE_NAME: &str = "_GLOBAL_OFFSET_TABLE_";
/// COFF's name for the image base, which image-relative fixups count from.
const IMAGE_BASE_NAME: &str = "__ImageBase";
/// COFF's prefix for "a pointer to": `__imp_f` is a slot holding `f`'s address.
const IMPORT_PREFIX: &str = "__imp_";
/// The handle C++ code passes to `__cxa_atexit`.
const DSO_HANDLE_NAME: &str = "__dso_handle";
/// Marks floating-point use in COFF objects; only its existence matters.
const FLTUSED_NAME: &str = "_fltused";
static FLTUSED: i32 = 0;
/// The stack protector's canary, which code compiled with `-fstack-protector`
/// for targets without a thread-pointer guard (Apple's, RISC-V, ...) loads
/// from memory. When nothing defines it, each module that refers to it gets
/// a word of its own Data holding [`stack_guard_value`]: reachable by
/// PC-relative code and mapped wherever the module is (the emulator too).
const STACK_GUARD_NAME: &str = "__stack_chk_guard";
/// The getter Mach-O thread-local variable descriptors name
/// (`__tlv_bootstrap`, without the underscore the loader drops): the run
/// time's ([`RuntimeServices::tlv_getter`]).
const TLV_GETTER_NAME: &str = "_tlv_bootstrap";

/// The process's stack guard: random, fixed for the life of the process
/// (every module compares against the same value), low byte zero as C
/// libraries make it, so that a string copy cannot reproduce it.
fn stack_guard_value() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::OnceLock;
    static GUARD: OnceLock<u64> = OnceLock::new();
    *GUARD.get_or_init(|| {
        // `RandomState` keys come from the operating system's random source.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        hasher.finish() & !0xff
    })
}

/// One module to link: the engine's id for it, its run-time key and its
/// parsed object.
pub struct LinkUnit<'a, 'data> {
    /// The engine's id for the module.
    pub module: u64,
    /// The key the run time knows the module by (its thread-local block,
    /// its exit handlers): from [`next_module_key`], unique in the process.
    pub key: u64,
    /// The parsed object.
    pub object: &'a ObjectFile<'data>,
}

/// A fresh process-wide key for a module (never 0), unique across engines.
pub fn next_module_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Knobs of one link.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkOptions {
    /// Build a [`LinkMap`] for each module (for `rivet link --map`).
    pub map: bool,
    /// Leave memory writable (skip [`MemoryManager::finalize`]); for images
    /// that are inspected rather than run.
    pub skip_finalize: bool,
    /// A strong definition of a name that a module linked *before* defines
    /// strongly replaces it for later links and look-ups (MCJIT's behaviour,
    /// which llvmlite users such as numba rely on), instead of being
    /// [`Error::DuplicateSymbol`]. Two strong definitions linked together
    /// are an error either way.
    pub later_definitions_win: bool,
    /// Relocate each object's DWARF (`.debug_*` sections) into heap
    /// buffers, carried in its [`LinkMap::dwarf`] (so only with `map`), for
    /// debuggers. Off, DWARF costs nothing at link time.
    pub debug_info: bool,
}

/// A linked module: its memory and the names it defines.
#[derive(Debug)]
pub struct LinkedModule {
    /// The engine's id for the module.
    pub module: u64,
    /// The run-time key it was linked with ([`LinkUnit::key`]).
    pub key: u64,
    /// The instruction set of the module's code.
    pub arch: crate::arch::Arch,
    /// Where the module's segments are.
    pub allocation: Allocation,
    /// Names this module now defines for the engine.
    pub exports: Exports,
    /// Boxed: kept only when asked for, and the module record lives long.
    pub map: Option<Box<LinkMap>>,
    /// Unwind tables and initializers, for the run-time side.
    pub runtime: RuntimeInfo,
    /// The other modules (of the engine, or of this link) whose definitions
    /// this module's code or data refer to, sorted: the engine keeps their
    /// memory while this module lives.
    pub binds_to: Box<[u64]>,
}

/// Where everything of one module went.
#[derive(Debug, Clone, Default)]
pub struct LinkMap {
    /// (name, address, size, alignment, class) of each loaded section.
    pub sections: Vec<(String, u64, u64, u64, SegmentClass)>,
    /// (name, address) of each symbol the module defines, locals included.
    pub symbols: Vec<(String, u64)>,
    /// (target, slot address, value) of each GOT slot.
    pub got: Vec<(String, u64, u64)>,
    /// (target, stub address) of each stub reserved.
    pub stubs: Vec<(String, u64)>,
    /// The object's DWARF sections, relocated against the addresses above
    /// (with [`LinkOptions::debug_info`]; else empty).
    pub dwarf: Vec<DwarfSection>,
}

/// One object of the link and what each phase finds for it, in phase
/// order: resolve fills `winners` to `binds_to`, plan `layout`, allocate
/// `allocation`, assign `addresses`, apply `tls`.
struct ObjectRecord<'u, 'a, 'data> {
    unit: &'u LinkUnit<'a, 'data>,
    /// Per symbol: `Some` when it is the definition of its name that the
    /// whole link binds to (decided across the link).
    winners: Vec<Option<Winner>>,
    /// Per symbol: whether the object's own definition is the one its
    /// references bind to (locals, and its winning externals).
    owned: Vec<bool>,
    /// Per symbol not owned: where it resolves.
    resolved: Resolutions,
    /// The other modules its code or data refer to, sorted.
    binds_to: Vec<u64>,
    layout: ObjectLayout,
    /// Its memory, from the allocate phase until it is handed over in a
    /// [`LinkedModule`] or given back.
    allocation: Option<Allocation>,
    addresses: ObjectAddresses,
    /// The module's thread-local block, for the run time.
    tls: Option<TlsTemplate>,
    /// Its indirect functions (planned with the layout).
    ifuncs: Vec<ifunc::IndirectFunction>,
    /// Its own getter and block of Mach-O thread-locals, for code that
    /// runs only in the emulator (planned with the layout).
    single_thread_tlv: Option<tlv::SingleThreadTlv>,
}

impl<'u, 'a, 'data> ObjectRecord<'u, 'a, 'data> {
    fn new(unit: &'u LinkUnit<'a, 'data>) -> Self {
        ObjectRecord {
            unit,
            winners: vec![None; unit.object.symbols.len()],
            owned: Vec::new(),
            resolved: Resolutions::default(),
            binds_to: Vec::new(),
            layout: ObjectLayout::default(),
            allocation: None,
            addresses: ObjectAddresses::default(),
            tls: None,
            ifuncs: Vec::new(),
            single_thread_tlv: None,
        }
    }

    fn object(&self) -> &'a ObjectFile<'data> {
        self.unit.object
    }

    /// Its memory: every phase after allocate may count on it.
    fn allocation(&self) -> Result<&Allocation> {
        self.allocation
            .as_ref()
            .ok_or_else(|| Error::MalformedObject {
                object: self.object().name.clone(),
                reason: "internal layout error: no memory allocated".to_string(),
            })
    }

    /// The common blocks whose storage this object provides, with the size
    /// and alignment agreed across the link: (symbol, size, alignment).
    fn commons(&self) -> Vec<(u32, u64, u64)> {
        self.winners
            .iter()
            .enumerate()
            .filter_map(|(si, w)| match w {
                Some(Winner {
                    strength: Strength::Common { size },
                    common_align,
                }) => Some((si as u32, *size, *common_align)),
                _ => None,
            })
            .collect()
    }
}

/// Links `units` into memory from `memory`, resolving against `table` (what
/// the engine linked before) and `externals`. On success every module is
/// finalized (unless `options.skip_finalize`) and its exports are returned
/// for the caller to publish; on failure nothing stays allocated.
///
/// The phases run in sequence over one record per object: resolve (which
/// definitions win, where every other symbol goes), plan (each object's
/// segments, GOT and stubs), allocate, assign (addresses), apply (bytes,
/// GOT, stubs, fixups) and export (the names, maps and run-time facts of
/// each module).
pub fn link(
    units: &[LinkUnit<'_, '_>],
    table: &SymbolTable,
    externals: &Externals,
    memory: &mut dyn MemoryManager,
    options: LinkOptions,
) -> Result<Vec<LinkedModule>> {
    let mut records: Vec<ObjectRecord<'_, '_, '_>> = units.iter().map(ObjectRecord::new).collect();
    resolve(&mut records, table, externals, options)?;
    plan(&mut records, memory.module_span())?;
    let mut static_pieces = StaticPieces {
        runtime: externals.runtime,
        keys: Vec::new(),
    };
    let described = place(
        &mut records,
        memory,
        externals.runtime,
        &mut static_pieces,
        options,
    );
    match described {
        Ok(described) => {
            // The modules own their pieces now (the engine's teardown gives them back).
            static_pieces.keys.clear();
            Ok(export(&mut records, described))
        }
        Err(e) => {
            for record in &mut records {
                if let Some(allocation) = record.allocation.take() {
                    memory.release(allocation);
                }
            }
            Err(e)
        }
    }
}

/// The phases from allocate on, up to the description of each module (its
/// export but for its memory), every module finalized. On failure the
/// caller gives back the memory the records hold.
fn place(
    records: &mut [ObjectRecord<'_, '_, '_>],
    memory: &mut dyn MemoryManager,
    runtime: Option<&'static dyn RuntimeServices>,
    static_pieces: &mut StaticPieces,
    options: LinkOptions,
) -> Result<Vec<ModuleDescription>> {
    allocate(records, memory)?;
    assign::assign(records)?;
    apply(records, runtime, static_pieces)?;
    let mut described = records
        .iter()
        .map(|record| describe(record, options))
        .collect::<Result<Vec<_>>>()?;
    if !options.skip_finalize {
        // All at once: the manager may write and publish them together.
        let allocations = records
            .iter()
            .map(ObjectRecord::allocation)
            .collect::<Result<Vec<_>>>()?;
        memory.finalize_all(&allocations)?;
        // Resolvers are code of the modules: they run once every module of
        // the link is finalized (they may call into any of them).
        for (record, description) in records.iter().zip(&mut described) {
            let results = ifunc::run_resolvers(record, memory.runs_code())?;
            description.bind_indirect_functions(record.object(), &results);
        }
    }
    Ok(described)
}

/// The resolve phase: decides the winning definitions, then resolves every
/// object's other symbols; fails with every name found nowhere.
fn resolve(
    records: &mut [ObjectRecord<'_, '_, '_>],
    table: &SymbolTable,
    externals: &Externals,
    options: LinkOptions,
) -> Result<()> {
    let by_name = resolve::decide_definitions(records, table, options.later_definitions_win)?;
    let mut missing: Vec<(String, String)> = Vec::new();
    for oi in 0..records.len() {
        resolve::resolve_symbols(records, oi, &by_name, table, externals, &mut missing);
    }
    if !missing.is_empty() {
        return Err(Error::UnresolvedSymbols { symbols: missing });
    }
    Ok(())
}

/// The plan phase: each object's layout.
fn plan(records: &mut [ObjectRecord<'_, '_, '_>], module_span: Option<u64>) -> Result<()> {
    for record in records.iter_mut() {
        let imports: Vec<u32> = record
            .resolved
            .iter()
            .filter(|(_, r)| matches!(r, Resolved::ImportPointer(_)))
            .map(|(i, _)| i as u32)
            .collect();
        // A linker-made stack guard takes a Data word as a common block would.
        let mut commons = record.commons();
        commons.extend(
            record
                .resolved
                .iter()
                .filter(|(_, r)| matches!(r, Resolved::StackGuard))
                .map(|(i, _)| (i as u32, 8, 8)),
        );
        let object = record.object();
        // An indirect function's references go through its thunk and slot:
        // never relaxed to the resolver's own address. Asked per fixup,
        // so answered once per symbol here.
        let direct: Vec<bool> = (record.owned.iter().enumerate())
            .map(|(i, &owned)| owned && !ifunc::is_indirect(object, i))
            .collect();
        record.layout = layout::plan(
            object,
            &commons,
            &imports,
            |i| direct.get(i).copied().unwrap_or(false),
            module_span,
        )?;
        record.ifuncs = ifunc::plan(object, &record.owned, &mut record.layout.request)?;
        let mut request = std::mem::take(&mut record.layout.request);
        record.single_thread_tlv = tlv::plan(record, record.layout.tls.as_ref(), &mut request)?;
        record.layout.request = request;
    }
    Ok(())
}

/// The allocate phase: each object's memory, as its layout asks.
fn allocate(
    records: &mut [ObjectRecord<'_, '_, '_>],
    memory: &mut dyn MemoryManager,
) -> Result<()> {
    for record in records.iter_mut() {
        record.allocation = Some(memory.allocate(&record.layout.request)?);
    }
    Ok(())
}

/// The apply phase: each object's thread-local block set up, then its
/// bytes copied and relocated.
fn apply(
    records: &mut [ObjectRecord<'_, '_, '_>],
    runtime: Option<&'static dyn RuntimeServices>,
    static_pieces: &mut StaticPieces,
) -> Result<()> {
    for record in records.iter_mut() {
        let (tls, thread_locals) = thread_locals(record, runtime, static_pieces)?;
        let allocation = record.allocation()?;
        apply::apply(
            record.object(),
            &record.layout,
            allocation,
            &record.addresses,
            &thread_locals,
        )?;
        write_stack_guards(record, allocation)?;
        write_tlv_keys(record, allocation)?;
        if let Some(single_thread_tlv) = &record.single_thread_tlv {
            tlv::write(record, allocation, single_thread_tlv)?;
        }
        ifunc::write_thunks(record, allocation)?;
        // New threads start from the process's TLS image: the module's
        // initial values go into its piece of it now, while an error can
        // still fail the link.
        if let (Some(_), Some(block), Some(runtime)) =
            (thread_locals.tp_offset, &record.layout.tls, runtime)
        {
            let seg = allocation.segment(SegmentClass::ReadOnly);
            let len = block.image_size.min(block.size) as usize;
            let image = if len == 0 || seg.write_ptr.is_null() {
                &[][..]
            } else {
                // SAFETY: the layout placed `image_size` bytes of image
                // at `image_offset` in the ReadOnly segment, which `apply`
                // just wrote through this writable view and which the
                // linker still owns.
                unsafe {
                    std::slice::from_raw_parts(seg.write_ptr.add(block.image_offset as usize), len)
                }
            };
            runtime.write_static_tls_image(thread_locals.key, image)?;
        }
        record.tls = tls;
    }
    Ok(())
}

/// Writes the process's stack guard into the Data words the plan gave the
/// record's linker-made `__stack_chk_guard`.
fn write_stack_guards(record: &ObjectRecord<'_, '_, '_>, allocation: &Allocation) -> Result<()> {
    let data = allocation.segment(SegmentClass::Data);
    for &(si, offset) in &record.layout.commons {
        if !matches!(record.resolved.get(si as usize), Some(Resolved::StackGuard)) {
            continue;
        }
        if data.write_ptr.is_null() || offset.checked_add(8).is_none_or(|end| end > data.size) {
            return Err(Error::MalformedObject {
                object: record.object().name.clone(),
                reason: "internal layout error: no Data word for `__stack_chk_guard`".to_string(),
            });
        }
        // SAFETY: the word lies inside the Data segment (checked above),
        // which the linker still owns and may write until finalize; the
        // plan aligned it to 8, and `write_unaligned` needs no alignment.
        unsafe {
            data.write_ptr
                .add(offset as usize)
                .cast::<u64>()
                .write_unaligned(stack_guard_value());
        }
    }
    Ok(())
}

/// Writes the module's key into the second word of each Mach-O
/// thread-local variable descriptor (getter, key, offset), which the
/// getter finds the calling thread's block by.
fn write_tlv_keys(record: &ObjectRecord<'_, '_, '_>, allocation: &Allocation) -> Result<()> {
    const DESCRIPTOR: u64 = 24;
    let object = record.object();
    for (section, place) in object.sections.iter().zip(&record.layout.placement) {
        let (SectionKind::TlvDescriptors, Some((class, offset))) = (section.kind, *place) else {
            continue;
        };
        if section.size % DESCRIPTOR != 0 {
            return Err(Error::MalformedObject {
                object: object.name.clone(),
                reason: format!(
                    "thread-local variable descriptors `{}` take {} bytes, not a multiple of {DESCRIPTOR}",
                    section.name, section.size
                ),
            });
        }
        let segment = allocation.segment(class);
        if segment.write_ptr.is_null()
            || offset
                .checked_add(section.size)
                .is_none_or(|end| end > segment.size)
        {
            return Err(Error::MalformedObject {
                object: object.name.clone(),
                reason: format!("internal layout error: `{}`", section.name),
            });
        }
        for descriptor in 0..section.size / DESCRIPTOR {
            let at = offset + descriptor * DESCRIPTOR + 8;
            // SAFETY: the word lies inside the section's bytes in its
            // segment (checked above), which the linker owns and may write
            // until finalize; `write_unaligned` needs no alignment.
            unsafe {
                segment
                    .write_ptr
                    .add(at as usize)
                    .cast::<u64>()
                    .write_unaligned(record.unit.key);
            }
        }
    }
    Ok(())
}

/// The module's thread-local block, and what the relocation pass needs of
/// it. Static TLS models (local and initial exec) get a piece of the
/// static TLS the run time reserves, given back if the link fails.
fn thread_locals(
    record: &ObjectRecord<'_, '_, '_>,
    runtime: Option<&'static dyn RuntimeServices>,
    static_pieces: &mut StaticPieces,
) -> Result<(Option<TlsTemplate>, ThreadLocals)> {
    let object = record.object();
    let resolvers = ThreadLocals {
        tlsdesc_resolver: runtime.map_or(0, |r| r.tlsdesc_resolver(object.arch)),
        dynamic_tlsdesc_resolver: runtime.map_or(0, |r| r.dynamic_tlsdesc_resolver(object.arch)),
        ..ThreadLocals::default()
    };
    let Some(block) = &record.layout.tls else {
        return Ok((None, resolvers));
    };
    let template = TlsTemplate {
        key: record.unit.key,
        image: record.allocation()?.segment(SegmentClass::ReadOnly).addr + block.image_offset,
        image_size: block.image_size,
        size: block.size,
        align: block.align,
    };
    let relocations = || object.sections.iter().flat_map(|s| &s.relocations);
    let tp_offset = if !relocations().any(|r| r.kind.is_tp_relative()) {
        None
    } else if let Some(runtime) = runtime.filter(|_| Some(object.arch) == Arch::host()) {
        match runtime.reserve_static_tls(template.key, block.size, block.align, &object.name) {
            Ok(tp) => {
                static_pieces.keys.push(template.key);
                Some(tp)
            }
            // Descriptors alone can do without static TLS: their
            // resolver then finds the dynamic block.
            Err(_)
                if resolvers.dynamic_tlsdesc_resolver != 0
                    && relocations()
                        .filter(|r| r.kind.is_tp_relative())
                        .all(|r| r.kind.tls_pair().is_some()) =>
            {
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        // Code for another machine (linked for the emulator or for
        // inspection), or no run time to run it here: the block where a
        // static executable of that machine has its first one.
        Some(foreign_tp_offset(object.arch, block.size, block.align))
    };
    let thread_locals = ThreadLocals {
        key: template.key,
        tp_offset,
        ..resolvers
    };
    Ok((Some(template), thread_locals))
}

/// The thread-pointer offset of the only TLS block of a static executable
/// for `arch`: after the 16-byte thread control block on AArch64 and
/// RISC-V (TLS variant I), below the thread pointer on x86-64 (variant II).
fn foreign_tp_offset(arch: Arch, size: u64, align: u64) -> i64 {
    let align = align.max(1);
    match arch {
        Arch::X86_64 => -(size.next_multiple_of(align) as i64),
        _ => 16u64.next_multiple_of(align) as i64,
    }
}

/// Static-TLS pieces reserved during one link, given back unless it succeeds.
struct StaticPieces {
    runtime: Option<&'static dyn RuntimeServices>,
    keys: Vec<u64>,
}

impl Drop for StaticPieces {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime {
            for &key in &self.keys {
                runtime.release_static_tls(key);
            }
        }
    }
}

/// What the export phase hands over for one module besides its memory.
struct ModuleDescription {
    exports: Exports,
    map: Option<LinkMap>,
    runtime: RuntimeInfo,
}

impl ModuleDescription {
    /// The names of the module's indirect functions stand for their
    /// resolvers' results (symbol, result) from now on.
    fn bind_indirect_functions(&mut self, object: &ObjectFile<'_>, results: &[(u32, u64)]) {
        for &(symbol, result) in results {
            let Some(name) = object.symbols.get(symbol as usize).map(|s| s.name) else {
                continue;
            };
            self.exports.set_address(name, result);
            if let Some(map) = self.map.as_mut() {
                for got in map.got.iter_mut().filter(|g| g.0 == name) {
                    got.2 = result;
                }
            }
        }
    }
}

/// In the map, an indirect function's GOT entry is its slot (holding 0
/// until the resolver runs), and its thunk is its stub (as a static
/// linker's IPLT entry is).
fn describe_indirect_functions(
    map: &mut LinkMap,
    object: &ObjectFile<'_>,
    ifuncs: &[ifunc::IndirectFunction],
    addresses: &ObjectAddresses,
) {
    for &(symbol, word) in &addresses.got_slots_elsewhere {
        let Some(name) = object.symbols.get(symbol as usize).map(|s| s.name) else {
            continue;
        };
        for got in map.got.iter_mut().filter(|g| g.0 == name) {
            (got.1, got.2) = (word, 0);
        }
    }
    for function in ifuncs {
        let Some(name) = object.symbols.get(function.symbol as usize).map(|s| s.name) else {
            continue;
        };
        // A stub reserved for a branch to it goes unused: the thunk is in
        // the module's text, in reach of its branches.
        match map.stubs.iter_mut().find(|s| s.0 == name) {
            Some(stub) => stub.1 = function.thunk,
            None => map.stubs.push((name.to_string(), function.thunk)),
        }
    }
}

/// The names `record`'s module defines for the engine, its map and its
/// run-time facts.
fn describe(record: &ObjectRecord<'_, '_, '_>, options: LinkOptions) -> Result<ModuleDescription> {
    let object = record.object();
    let addresses = &record.addresses;
    // Sized once: a 5,000-function object exports 15,000 names, and
    // growing by doubling would allocate and copy twice that.
    let exported = || {
        object.symbols.iter().enumerate().filter_map(|(si, sym)| {
            let exportable = sym.is_external() && record.owned[si] && !sym.name.is_empty();
            Some((si, sym, record.winners[si].filter(|_| exportable)?))
        })
    };
    let (count, bytes) = exported().fold((0, 0), |(n, b), (_, sym, _)| (n + 1, b + sym.name.len()));
    // Room for the module's name too, which the engine's table files the
    // names under (the object is named as its module).
    let mut exports = Exports::with_capacity(count, bytes + object.name.len())?;
    for (si, sym, winner) in exported() {
        exports.push(
            sym.name,
            Export {
                address: addresses.symbols[si],
                module: record.unit.module,
                strength: winner.strength,
                kind: sym.kind,
            },
        )?;
    }
    let allocation = record.allocation()?;
    let mut map = options
        .map
        .then(|| build_map(object, &record.layout, allocation, addresses));
    if let Some(map) = map.as_mut() {
        describe_indirect_functions(map, object, &record.ifuncs, addresses);
        if let Some(single_thread_tlv) = &record.single_thread_tlv {
            let entries = tlv::map_entries(allocation, single_thread_tlv);
            map.sections
                .extend(entries.into_iter().filter(|entry| entry.2 > 0));
        }
        // Section bounds are the linker's definitions for this module.
        for (si, resolved) in record.resolved.iter() {
            if let Resolved::SectionBound(..) = resolved {
                map.symbols
                    .push((object.symbols[si].name.to_string(), addresses.symbols[si]));
            }
        }
    }
    if let (true, Some(map)) = (options.debug_info, map.as_mut()) {
        map.dwarf =
            debug_sections::relocate(object, &addresses.section_targets, &addresses.symbols);
    }
    let mut runtime = runtime_info::collect(object, &addresses.sections);
    runtime.tls = record.tls;
    Ok(ModuleDescription {
        exports,
        map,
        runtime,
    })
}

/// The export phase: each finalized module with its memory, names, map
/// and run-time facts. Every record has its memory by now.
fn export(
    records: &mut [ObjectRecord<'_, '_, '_>],
    described: Vec<ModuleDescription>,
) -> Vec<LinkedModule> {
    records
        .iter_mut()
        .zip(described)
        .filter_map(|(record, description)| {
            Some(LinkedModule {
                module: record.unit.module,
                key: record.unit.key,
                arch: record.object().arch,
                allocation: record.allocation.take()?,
                exports: description.exports,
                map: description.map.map(Box::new),
                runtime: description.runtime,
                binds_to: std::mem::take(&mut record.binds_to).into_boxed_slice(),
            })
        })
        .collect()
}

fn build_map(
    object: &ObjectFile<'_>,
    layout: &ObjectLayout,
    allocation: &Allocation,
    addresses: &ObjectAddresses,
) -> LinkMap {
    let (symbol_addrs, section_addrs) = (&addresses.symbols, &addresses.sections);
    let mut map = LinkMap::default();
    for (i, section) in object.sections.iter().enumerate() {
        if let Some((class, _)) = layout.placement[i] {
            // Empty sections take no memory and may have no address.
            if section.kind != SectionKind::Ignored && section.size > 0 {
                map.sections.push((
                    section.name.to_string(),
                    section_addrs[i],
                    section.size,
                    section.align,
                    class,
                ));
            }
        }
    }
    for (i, sym) in object.symbols.iter().enumerate() {
        if sym.name.is_empty()
            || sym.kind == SymbolKind::Section
            || sym.definition == Definition::Undefined
        {
            continue;
        }
        map.symbols.push((sym.name.to_string(), symbol_addrs[i]));
    }
    let got_base = allocation.segment(SegmentClass::Got).addr;
    for (slot, &(target, offset)) in layout.got_targets.iter().enumerate() {
        let value = match target {
            Target::Symbol(s) => symbol_addrs[s as usize],
            Target::Section(s) => section_addrs[s as usize],
        };
        let name = object.target_name(target);
        map.got.push((
            with_offset(name, offset),
            got_base + slot as u64 * 8,
            value.wrapping_add(offset as u64),
        ));
    }
    let stubs_base = allocation.segment(SegmentClass::Stubs).addr;
    for (k, &(sym, offset)) in layout.stub_targets.iter().enumerate() {
        let name = object.target_name(Target::Symbol(sym));
        map.stubs.push((
            with_offset(name, offset),
            stubs_base + k as u64 * layout.stub_size,
        ));
    }
    map
}

/// A map's name for a target plus an offset: `name`, or `name+0x10`.
fn with_offset(name: &str, offset: i64) -> String {
    if offset == 0 {
        name.to_string()
    } else {
        format!("{name}{offset:+#x}")
    }
}
