//! Layout, symbol resolution, GOT and stub building, and the relocation
//! driver.
//!
//! # Resolution order
//!
//! An undefined name is looked up, first hit wins, in:
//! 1. global mappings (`add_global_mapping`);
//! 2. the engine's modules: those being linked now, then those linked before;
//! 3. symbols the user registered (`add_symbol`; the last write of a name wins);
//! 4. names rivet's run time provides to JIT code (`atexit`, `__cxa_atexit`,
//!    `__tls_get_addr`), so that exit handlers and thread-locals are scoped
//!    to their module; then the user's resolver callback
//!    (`set_symbol_resolver`);
//! 5. libraries loaded with `load_library_permanently`, in load order;
//! 6. the process itself (`dlsym`).
//!
//! Linker-defined names: `_GLOBAL_OFFSET_TABLE_` (the module's GOT),
//! `__ImageBase` and `__dso_handle` (the module's lowest address), `__imp_X`
//! (a slot holding X's address) and `_fltused`.
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
mod debug_sections;
mod hash;
mod layout;
mod runtime_info;
mod symbols;

pub use debug_sections::DwarfSection;
pub use hash::{NameHasher, NameMap};
pub use runtime_info::{InitArray, RuntimeInfo, TlsTemplate};
pub use symbols::{Export, Externals, RuntimeServices, Strength, SymbolResolver, SymbolTable};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::load::{
    Binding, ComdatSelection, Definition, ObjectFile, SectionKind, Symbol, SymbolKind, Target,
};
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

/// One module to link: the engine's id for it, its run-time key and its
/// parsed object.
pub struct LinkUnit<'a, 'data> {
    pub module: u64,
    /// The key the run time knows the module by (its thread-local block,
    /// its exit handlers): from [`next_module_key`], unique in the process.
    pub key: u64,
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
    pub module: u64,
    /// The run-time key it was linked with ([`LinkUnit::key`]).
    pub key: u64,
    /// The instruction set of the module's code.
    pub arch: crate::arch::Arch,
    pub allocation: Allocation,
    /// Names this module now defines for the engine.
    pub exports: Vec<(Arc<str>, Export)>,
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

/// Where one not-owned symbol of an object resolves to.
#[derive(Debug, Clone, Copy)]
enum Resolved {
    Address(u64),
    Batch {
        object: usize,
        symbol: usize,
    },
    GotBase,
    ImageBase,
    /// A slot (in the module's GOT) holding the address of what the inner
    /// resolution gives: COFF's `__imp_` symbols.
    ImportPointer(ImportTarget),
}

/// What an import pointer's slot holds.
#[derive(Debug, Clone, Copy)]
enum ImportTarget {
    Address(u64),
    Batch { object: usize, symbol: usize },
}

/// The definition that wins a name among the batch.
#[derive(Debug, Clone, Copy)]
struct Winner {
    object: usize,
    symbol: usize,
    strength: Strength,
    common_align: u64,
}

/// The COMDAT section defining symbol `index` of `object`, with its selection.
fn comdat_of<'o, 'data>(
    object: &'o ObjectFile<'data>,
    index: usize,
) -> Option<(&'o crate::load::Section<'data>, ComdatSelection)> {
    let Definition::Section { section, .. } = object.symbols.get(index)?.definition else {
        return None;
    };
    let section = object.sections.get(section as usize)?;
    Some((section, section.comdat?.selection))
}

fn strength_of(binding: Binding, definition: Definition) -> Strength {
    match (binding, definition) {
        (_, Definition::Common { size, .. }) => Strength::Common { size },
        (Binding::Weak, _) => Strength::Weak,
        _ => Strength::Strong,
    }
}

/// Decides which definition of each external name the batch provides.
fn collect_definitions<'u>(
    units: &'u [LinkUnit<'_, '_>],
    table: &SymbolTable,
    later_definitions_win: bool,
) -> Result<Winners<'u>> {
    // One object defines each name at most once (its assembler saw to
    // that), and no name it leaves undefined is defined in the batch: a
    // table by symbol then answers every question without hashing names.
    let mut single = (units.len() == 1).then(|| vec![None; units[0].object.symbols.len()]);
    let symbols: usize = units.iter().map(|u| u.object.symbols.len()).sum();
    let mut winners: NameMap<&'u str, Winner> = if single.is_some() {
        NameMap::default()
    } else {
        NameMap::with_capacity_and_hasher(symbols / 2, Default::default())
    };
    for (oi, unit) in units.iter().enumerate() {
        let object = unit.object;
        for (si, sym) in object.symbols.iter().enumerate() {
            if !sym.is_external() || sym.definition == Definition::Undefined || sym.name.is_empty()
            {
                continue;
            }
            let strength = strength_of(sym.binding, sym.definition);
            let common_align = match sym.definition {
                Definition::Common { align, .. } => align,
                _ => 1,
            };
            if let Some(existing) = table.get(sym.name) {
                match (existing.strength, strength) {
                    (Strength::Strong, Strength::Strong) if !later_definitions_win => {
                        return Err(Error::DuplicateSymbol {
                            name: sym.name.to_string(),
                            first: table.module_name(existing.module).to_string(),
                            second: object.name.clone(),
                        })
                    }
                    (_, Strength::Strong) => {}
                    (Strength::Common { size: have }, Strength::Common { size }) => {
                        if size > have {
                            return Err(Error::CommonSizeMismatch {
                                name: sym.name.to_string(),
                                object: object.name.clone(),
                                size,
                                existing: have,
                            });
                        }
                        continue;
                    }
                    _ => continue,
                }
            }
            let candidate = Winner {
                object: oi,
                symbol: si,
                strength,
                common_align,
            };
            if let Some(by_symbol) = single.as_mut() {
                by_symbol[si] = Some(candidate);
                continue;
            }
            match winners.entry(sym.name) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(candidate);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    let w = o.get_mut();
                    match (w.strength, strength) {
                        (Strength::Strong, Strength::Strong) => {
                            return Err(Error::DuplicateSymbol {
                                name: sym.name.to_string(),
                                first: units[w.object].object.name.clone(),
                                second: object.name.clone(),
                            })
                        }
                        (Strength::Strong, _) | (Strength::Common { .. }, Strength::Weak) => {}
                        (Strength::Common { size: a }, Strength::Common { size: b }) => {
                            w.strength = Strength::Common { size: a.max(b) };
                            w.common_align = w.common_align.max(common_align);
                        }
                        (Strength::Weak, Strength::Weak) => {
                            // COMDAT copies: the group's selection decides.
                            let first = units[w.object].object;
                            if let (Some((kept, selection)), Some((other, _))) =
                                (comdat_of(first, w.symbol), comdat_of(object, si))
                            {
                                let mismatch = |reason: &str| Error::ComdatMismatch {
                                    name: sym.name.to_string(),
                                    first: first.name.clone(),
                                    second: object.name.clone(),
                                    reason: reason.to_string(),
                                };
                                match selection {
                                    ComdatSelection::SameSize if kept.size != other.size => {
                                        return Err(mismatch("sizes differ (SAME_SIZE)"))
                                    }
                                    ComdatSelection::ExactMatch
                                        if kept.size != other.size || kept.data != other.data =>
                                    {
                                        return Err(mismatch("contents differ (EXACT_MATCH)"))
                                    }
                                    ComdatSelection::Largest if other.size > kept.size => {
                                        *w = candidate
                                    }
                                    _ => {}
                                }
                            }
                        }
                        (_, Strength::Strong) | (Strength::Weak, Strength::Common { .. }) => {
                            *w = candidate
                        }
                    }
                }
            }
        }
    }
    Ok(match single {
        Some(by_symbol) => Winners::Single(by_symbol),
        None => Winners::Map(winners),
    })
}

/// The definitions a batch provides: by name for several objects, by
/// symbol index for one.
enum Winners<'u> {
    Map(NameMap<&'u str, Winner>),
    Single(Vec<Option<Winner>>),
}

impl Winners<'_> {
    /// The winning definition of `name`, for a reference from elsewhere in
    /// the batch (always `None` for a single object: see `collect_definitions`).
    #[inline]
    fn by_name(&self, name: &str) -> Option<Winner> {
        match self {
            Winners::Map(m) => m.get(name).copied(),
            Winners::Single(_) => None,
        }
    }

    /// The winner of `name` if it is symbol `symbol` of object `object`.
    #[inline]
    fn owned_by(&self, name: &str, object: usize, symbol: usize) -> Option<Winner> {
        match self {
            Winners::Map(m) => m
                .get(name)
                .copied()
                .filter(|w| w.object == object && w.symbol == symbol),
            Winners::Single(v) => v.get(symbol).copied().flatten(),
        }
    }

    /// For a single object, its winning definition of `name`, found by
    /// scanning its symbols: for the rare look-ups (`__imp_X` naming an X
    /// of the same object) that `by_name` rightly does not answer.
    fn scan_single(&self, units: &[LinkUnit<'_, '_>], name: &str) -> Option<Winner> {
        let Winners::Single(v) = self else {
            return None;
        };
        let object = units.first()?.object;
        object
            .symbols
            .iter()
            .enumerate()
            .find(|(i, s)| s.name == name && v.get(*i).is_some_and(Option::is_some))
            .and_then(|(i, _)| v[i])
    }

    /// Every winning definition.
    fn all(&self) -> Box<dyn Iterator<Item = Winner> + '_> {
        match self {
            Winners::Map(m) => Box::new(m.values().copied()),
            Winners::Single(v) => Box::new(v.iter().flatten().copied()),
        }
    }
}

/// Links `units` into memory from `memory`, resolving against `table` (what
/// the engine linked before) and `externals`. On success every module is
/// finalized (unless `options.skip_finalize`) and its exports are returned
/// for the caller to publish; on failure nothing stays allocated.
pub fn link(
    units: &[LinkUnit<'_, '_>],
    table: &SymbolTable,
    externals: &Externals,
    memory: &mut dyn MemoryManager,
    options: LinkOptions,
) -> Result<Vec<LinkedModule>> {
    let winners = collect_definitions(units, table, options.later_definitions_win)?;

    // Which symbols each object defines for itself, and where the others go.
    let mut owned: Vec<Vec<bool>> = Vec::with_capacity(units.len());
    let mut resolved: Vec<Vec<Option<Resolved>>> = Vec::with_capacity(units.len());
    let mut missing: Vec<(String, String)> = Vec::new();
    let mut binds_to: Vec<Vec<u64>> = Vec::with_capacity(units.len());
    for (oi, unit) in units.iter().enumerate() {
        let object = unit.object;
        let mut deps: Vec<u64> = Vec::new();
        let mut own = vec![false; object.symbols.len()];
        let mut res = vec![None; object.symbols.len()];
        for (si, sym) in object.symbols.iter().enumerate() {
            let defined = sym.definition != Definition::Undefined;
            if defined && (!sym.is_external() || sym.name.is_empty()) {
                own[si] = true;
                continue;
            }
            if sym.name.is_empty() {
                res[si] = Some(Resolved::Address(0));
                continue;
            }
            if defined && winners.owned_by(sym.name, oi, si).is_some() {
                own[si] = true;
                continue;
            }
            let found =
                resolve_name(sym.name, &winners, table, externals, &mut deps).or_else(|| {
                    let inner = sym.name.strip_prefix(IMPORT_PREFIX)?;
                    // `__imp_X` may point at an X of the same object.
                    let here = winners.scan_single(units, inner).map(|w| Resolved::Batch {
                        object: w.object,
                        symbol: w.symbol,
                    });
                    Some(Resolved::ImportPointer(
                        match here.or_else(|| {
                            resolve_name(inner, &winners, table, externals, &mut deps)
                        })? {
                            Resolved::Address(a) => ImportTarget::Address(a),
                            Resolved::Batch { object, symbol } => {
                                ImportTarget::Batch { object, symbol }
                            }
                            _ => return None,
                        },
                    ))
                });
            match found {
                Some(r) => {
                    let batch = match r {
                        Resolved::Batch { object, .. } => Some(object),
                        Resolved::ImportPointer(ImportTarget::Batch { object, .. }) => Some(object),
                        _ => None,
                    };
                    if let Some(other) = batch.filter(|&other| other != oi) {
                        deps.push(units[other].module);
                    }
                    res[si] = Some(r)
                }
                None if sym.binding == Binding::Weak && !defined => {
                    res[si] = Some(Resolved::Address(0))
                }
                None => missing.push((sym.name.to_string(), object.name.clone())),
            }
        }
        owned.push(own);
        resolved.push(res);
        deps.sort_unstable();
        deps.dedup();
        deps.retain(|&d| d != unit.module);
        binds_to.push(deps);
    }
    if !missing.is_empty() {
        return Err(Error::UnresolvedSymbols { symbols: missing });
    }

    // Plan and allocate every module; on any error give everything back.
    // Common blocks, by the object that provides their storage: one pass
    // over the winners, not one per object.
    let mut commons_of: Vec<Vec<(u32, u64, u64)>> = vec![Vec::new(); units.len()];
    for w in winners.all() {
        if let Strength::Common { size } = w.strength {
            commons_of[w.object].push((w.symbol as u32, size, w.common_align));
        }
    }
    let relax_within = memory.module_span();
    let mut layouts = Vec::with_capacity(units.len());
    for (oi, unit) in units.iter().enumerate() {
        let commons = &commons_of[oi];
        let own = &owned[oi];
        let imports: Vec<u32> = resolved[oi]
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, Some(Resolved::ImportPointer(_))))
            .map(|(i, _)| i as u32)
            .collect();
        layouts.push(layout::plan(
            unit.object,
            commons,
            &imports,
            |i| own[i],
            relax_within,
        )?);
    }
    let mut allocations: Vec<Allocation> = Vec::with_capacity(units.len());
    let result = link_allocated(
        units,
        &layouts,
        &owned,
        &resolved,
        &winners,
        externals.runtime,
        memory,
        &mut allocations,
        options,
    );
    match result {
        Ok(exports_and_maps) => Ok(allocations
            .into_iter()
            .zip(exports_and_maps)
            .zip(units)
            .zip(binds_to)
            .map(
                |(((allocation, (exports, map, runtime)), unit), binds_to)| LinkedModule {
                    module: unit.module,
                    key: unit.key,
                    arch: unit.object.arch,
                    allocation,
                    exports,
                    map: map.map(Box::new),
                    runtime,
                    binds_to: binds_to.into_boxed_slice(),
                },
            )
            .collect()),
        Err(e) => {
            for a in allocations {
                memory.release(a);
            }
            Err(e)
        }
    }
}

type ExportsAndMap = (Vec<(Arc<str>, Export)>, Option<LinkMap>, RuntimeInfo);

#[allow(clippy::too_many_arguments)]
fn link_allocated(
    units: &[LinkUnit<'_, '_>],
    layouts: &[layout::ObjectLayout],
    owned: &[Vec<bool>],
    resolved: &[Vec<Option<Resolved>>],
    winners: &Winners<'_>,
    runtime: Option<&'static dyn RuntimeServices>,
    memory: &mut dyn MemoryManager,
    allocations: &mut Vec<Allocation>,
    options: LinkOptions,
) -> Result<Vec<ExportsAndMap>> {
    for l in layouts {
        allocations.push(memory.allocate(&l.request)?);
    }

    // Addresses of sections and of the symbols each object owns.
    let mut section_addrs: Vec<Vec<u64>> = Vec::with_capacity(units.len());
    let mut symbol_addrs: Vec<Vec<u64>> = Vec::with_capacity(units.len());
    let mut section_targets: Vec<Vec<u64>> = Vec::with_capacity(units.len());
    for (oi, unit) in units.iter().enumerate() {
        let object = unit.object;
        let alloc = &allocations[oi];
        let layout = &layouts[oi];
        let secs: Vec<u64> = layout
            .placement
            .iter()
            .map(|p| p.map_or(0, |(class, off)| alloc.segment(class).addr + off))
            .collect();
        // What a reference to each section means: its address, or for a
        // thread-local section its offset in the module's TLS block.
        let mut targets = secs.clone();
        if let Some(tls) = &layout.tls {
            for (i, &off) in tls.section_offsets.iter().enumerate() {
                if off != u64::MAX {
                    targets[i] = off;
                }
            }
        }
        let mut syms = vec![0u64; object.symbols.len()];
        let data_base = alloc.segment(SegmentClass::Data).addr;
        for (si, sym) in object.symbols.iter().enumerate() {
            if !owned[oi][si] {
                continue;
            }
            syms[si] = match sym.definition {
                // A malformed offset may overflow: the address wraps, and
                // every fixup that uses it is range-checked.
                Definition::Section { section, offset } => targets
                    .get(section as usize)
                    .copied()
                    .unwrap_or(0)
                    .wrapping_add(offset),
                Definition::Absolute(v) => v,
                Definition::Common { .. } => layout
                    .commons
                    .iter()
                    .find(|(s, _)| *s as usize == si)
                    .map_or(0, |(_, off)| data_base + off),
                Definition::Undefined => 0,
            };
        }
        section_addrs.push(secs);
        section_targets.push(targets);
        symbol_addrs.push(syms);
    }
    // The section each symbol lives in (its address and number in the
    // defining object), for section-relative fixups; `None` when the
    // definition is outside the batch.
    let mut symbol_sections: Vec<Vec<Option<(u64, u16)>>> = units
        .iter()
        .enumerate()
        .map(|(oi, unit)| {
            unit.object
                .symbols
                .iter()
                .enumerate()
                .map(|(si, sym)| match sym.definition {
                    Definition::Section { section, .. } if owned[oi][si] => Some((
                        section_addrs[oi]
                            .get(section as usize)
                            .copied()
                            .unwrap_or(0),
                        section as u16,
                    )),
                    _ => None,
                })
                .collect()
        })
        .collect();
    for oi in 0..units.len() {
        for si in 0..symbol_sections[oi].len() {
            if let Some(Resolved::Batch { object, symbol }) = resolved[oi][si] {
                symbol_sections[oi][si] = symbol_sections[object][symbol];
            }
        }
    }
    // Fill in what resolves to other objects of the batch, or elsewhere.
    let mut import_values: Vec<Vec<(u32, u64)>> = vec![Vec::new(); units.len()];
    for oi in 0..units.len() {
        let got_base = allocations[oi].segment(SegmentClass::Got).addr;
        let image_base = image_base(&allocations[oi]);
        for si in 0..symbol_addrs[oi].len() {
            let addr = match resolved[oi][si] {
                None => continue,
                Some(Resolved::Address(a)) => a,
                Some(Resolved::GotBase) => got_base,
                Some(Resolved::ImageBase) => image_base,
                Some(Resolved::Batch { object, symbol }) => symbol_addrs[object][symbol],
                Some(Resolved::ImportPointer(target)) => {
                    let value = match target {
                        ImportTarget::Address(a) => a,
                        ImportTarget::Batch { object, symbol } => symbol_addrs[object][symbol],
                    };
                    let slot = layouts[oi].got_of_symbol[si];
                    import_values[oi].push((slot, value));
                    got_base + slot as u64 * 8
                }
            };
            symbol_addrs[oi][si] = addr;
        }
    }

    let mut static_pieces = StaticPieces {
        runtime,
        keys: Vec::new(),
    };
    let mut out = Vec::with_capacity(units.len());
    for (oi, unit) in units.iter().enumerate() {
        let object = unit.object;
        let tls = layouts[oi].tls.as_ref().map(|block| TlsTemplate {
            key: unit.key,
            image: allocations[oi].segment(SegmentClass::ReadOnly).addr + block.image_offset,
            image_size: block.image_size,
            size: block.size,
            align: block.align,
        });
        // Static TLS models (local and initial exec): a piece of the
        // reserved static TLS, given back if the link fails from here on.
        let tp_offset = match (&tls, &layouts[oi].tls) {
            (Some(t), Some(block))
                if object
                    .sections
                    .iter()
                    .flat_map(|s| &s.relocations)
                    .any(|r| r.kind.is_tp_relative()) =>
            {
                let host_runtime =
                    runtime.filter(|_| Some(object.arch) == crate::arch::Arch::host());
                if let Some(runtime) = host_runtime {
                    match runtime.reserve_static_tls(t.key, block.size, block.align, &object.name) {
                        Ok(tp) => {
                            static_pieces.keys.push(t.key);
                            Some(tp)
                        }
                        // Descriptors alone can do without static TLS: their
                        // resolver then finds the dynamic block.
                        Err(_)
                            if runtime.dynamic_tlsdesc_resolver(object.arch) != 0
                                && object
                                    .sections
                                    .iter()
                                    .flat_map(|s| &s.relocations)
                                    .filter(|r| r.kind.is_tp_relative())
                                    .all(|r| r.kind.tls_pair().is_some()) =>
                        {
                            None
                        }
                        Err(e) => return Err(e),
                    }
                } else {
                    // Code for another machine (linked for the emulator or
                    // for inspection), or no run time to run it: the block
                    // where a static executable of that machine has its
                    // first one.
                    Some(foreign_tp_offset(object.arch, block.size, block.align))
                }
            }
            _ => None,
        };
        apply::apply(
            object,
            &layouts[oi],
            &allocations[oi],
            &apply::Addresses {
                tp_offset,
                symbols: &symbol_addrs[oi],
                sections: &section_addrs[oi],
                section_targets: &section_targets[oi],
                symbol_sections: &symbol_sections[oi],
                image_base: image_base(&allocations[oi]),
                got_overrides: &import_values[oi],
                tls_key: tls.map_or(0, |t| t.key),
                tlsdesc_resolver: runtime.map_or(0, |r| r.tlsdesc_resolver(object.arch)),
                dynamic_tlsdesc_resolver: runtime
                    .map_or(0, |r| r.dynamic_tlsdesc_resolver(object.arch)),
            },
        )?;
        // New threads start from the process's TLS image: the module's
        // initial values go into its piece of it now, while an error can
        // still fail the link.
        if let (Some(_), Some(block), Some(t), Some(runtime)) =
            (tp_offset, &layouts[oi].tls, &tls, runtime)
        {
            let seg = allocations[oi].segment(SegmentClass::ReadOnly);
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
            runtime.write_static_tls_image(t.key, image)?;
        }
        // Sized once: a 5,000-function object exports 15,000 names, and
        // growing by doubling would allocate and copy twice that.
        let exportable = |(si, sym): &(usize, &Symbol<'_>)| {
            sym.is_external() && owned[oi][*si] && !sym.name.is_empty()
        };
        let count = object.symbols.iter().enumerate().filter(exportable).count();
        let mut exports = Vec::with_capacity(count);
        for (si, sym) in object.symbols.iter().enumerate().filter(exportable) {
            if let Some(w) = winners.owned_by(sym.name, oi, si) {
                exports.push((
                    Arc::from(sym.name),
                    Export {
                        address: symbol_addrs[oi][si],
                        module: unit.module,
                        strength: w.strength,
                        kind: sym.kind,
                    },
                ));
            }
        }
        let mut map = options.map.then(|| {
            build_map(
                object,
                &layouts[oi],
                &allocations[oi],
                &symbol_addrs[oi],
                &section_addrs[oi],
            )
        });
        if let (true, Some(map)) = (options.debug_info, map.as_mut()) {
            map.dwarf = debug_sections::relocate(object, &section_targets[oi], &symbol_addrs[oi]);
        }
        let mut runtime = runtime_info::collect(object, &section_addrs[oi]);
        runtime.tls = tls;
        out.push((exports, map, runtime));
    }
    if !options.skip_finalize {
        for a in allocations.iter() {
            memory.finalize(a)?;
        }
    }
    // The modules own their pieces now (the engine's teardown gives them back).
    static_pieces.keys.clear();
    Ok(out)
}

/// The thread-pointer offset of the only TLS block of a static executable
/// for `arch`: after the 16-byte thread control block on AArch64 and
/// RISC-V (TLS variant I), below the thread pointer on x86-64 (variant II).
fn foreign_tp_offset(arch: crate::arch::Arch, size: u64, align: u64) -> i64 {
    let align = align.max(1);
    match arch {
        crate::arch::Arch::X86_64 => -(size.next_multiple_of(align) as i64),
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

/// Where `name` resolves, in the documented order; a definition from a
/// module the engine linked before is recorded in `deps`.
fn resolve_name(
    name: &str,
    winners: &Winners<'_>,
    table: &SymbolTable,
    externals: &Externals,
    deps: &mut Vec<u64>,
) -> Option<Resolved> {
    if let Some(&a) = externals.global_mappings.get(name) {
        return Some(Resolved::Address(a));
    }
    if let Some(w) = winners.by_name(name) {
        return Some(Resolved::Batch {
            object: w.object,
            symbol: w.symbol,
        });
    }
    if let Some(e) = table.get(name) {
        deps.push(e.module);
        return Some(Resolved::Address(e.address));
    }
    match name {
        GOT_BASE_NAME => return Some(Resolved::GotBase),
        // C++ code passes `&__dso_handle` (declared hidden, so reached
        // PC-relative) to `__cxa_atexit`; any address inside the module
        // serves, since rivet attributes exit handlers by their address.
        IMAGE_BASE_NAME | DSO_HANDLE_NAME => return Some(Resolved::ImageBase),
        _ => {}
    }
    if let Some(&a) = externals.user_symbols.get(name) {
        return Some(Resolved::Address(a));
    }
    if let Some(a) = externals.runtime.and_then(|r| r.symbol(name)) {
        return Some(Resolved::Address(a));
    }
    if let Some(a) = externals.resolver.as_ref().and_then(|r| r(name)) {
        return Some(Resolved::Address(a));
    }
    if let Some(a) = externals.lookup_loaded(name) {
        return Some(Resolved::Address(a));
    }
    (name == FLTUSED_NAME).then_some(Resolved::Address(&FLTUSED as *const i32 as u64))
}

/// The lowest address of a module's allocation: the base that image-relative
/// fixups (COFF `ADDR32NB`) count from.
fn image_base(allocation: &Allocation) -> u64 {
    allocation
        .segments
        .iter()
        .filter(|s| s.size > 0)
        .map(|s| s.addr)
        .min()
        .unwrap_or(0)
}

fn build_map(
    object: &ObjectFile<'_>,
    layout: &layout::ObjectLayout,
    allocation: &Allocation,
    symbol_addrs: &[u64],
    section_addrs: &[u64],
) -> LinkMap {
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
    for (slot, &target) in layout.got_targets.iter().enumerate() {
        let value = match target {
            Target::Symbol(s) => symbol_addrs[s as usize],
            Target::Section(s) => section_addrs[s as usize],
        };
        map.got.push((
            object.target_name(target).to_string(),
            got_base + slot as u64 * 8,
            value,
        ));
    }
    let stubs_base = allocation.segment(SegmentClass::Stubs).addr;
    for (k, &(sym, offset)) in layout.stub_targets.iter().enumerate() {
        let name = object.target_name(Target::Symbol(sym));
        map.stubs.push((
            if offset == 0 {
                name.to_string()
            } else {
                format!("{name}{offset:+#x}")
            },
            stubs_base + k as u64 * layout.stub_size,
        ));
    }
    map
}
