//! The resolve phase: which definition of each external name the link
//! provides, and where every symbol an object does not define for itself
//! goes, in the order the module documentation gives.

use super::bounds::{self, BoundEnd};
use super::symbols::{Externals, Strength, SymbolTable};
use super::{
    NameMap, ObjectRecord, DSO_HANDLE_NAME, FLTUSED, FLTUSED_NAME, GOT_BASE_NAME, IMAGE_BASE_NAME,
    IMPORT_PREFIX, STACK_GUARD_NAME, TLV_GETTER_NAME,
};
use crate::arch::Arch;
use crate::load::{Binding, ComdatSelection, Definition, Format, ObjectFile, Section, Symbol};
use crate::{Error, Result};

/// Symbol `symbol` of object `object` of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SymbolRef {
    pub object: usize,
    pub symbol: usize,
}

/// Where one symbol an object does not define for itself resolves to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resolved {
    Address(u64),
    /// A definition in an object of this link.
    InLink(SymbolRef),
    GotBase,
    ImageBase,
    /// A slot (in the module's GOT) holding the address of what the inner
    /// resolution gives: COFF's `__imp_` symbols.
    ImportPointer(ImportTarget),
    /// The start or end of the referring object's sections of one name
    /// (the first of which is given): a linker-defined section bound.
    SectionBound(BoundEnd, u32),
    /// The module's own getter of Mach-O thread-local variables, for code
    /// that runs only in the emulator (see `tlv`).
    SingleThreadTlvGetter,
    /// A word in the module's own Data holding the process's stack
    /// protector guard (`__stack_chk_guard` that nothing else defines).
    StackGuard,
}

/// What an import pointer's slot holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ImportTarget {
    Address(u64),
    InLink(SymbolRef),
}

/// Where an object's symbols that it does not define for itself resolve:
/// (symbol, resolution), in symbol order. Sparse: a large object defines
/// most of its symbols itself, and a slot per symbol would be mostly empty.
#[derive(Debug, Default)]
pub(crate) struct Resolutions(Vec<(u32, Resolved)>);

impl Resolutions {
    /// Where symbol `symbol` resolves, if the object does not define it.
    pub fn get(&self, symbol: usize) -> Option<Resolved> {
        let symbol = u32::try_from(symbol).ok()?;
        let at = self.0.binary_search_by_key(&symbol, |&(s, _)| s).ok()?;
        Some(self.0[at].1)
    }

    /// Every resolved symbol with its resolution, in symbol order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, Resolved)> + '_ {
        self.0.iter().map(|&(s, r)| (s as usize, r))
    }

    /// Records symbol `symbol`'s resolution; symbols come in increasing order.
    fn push(&mut self, symbol: usize, resolved: Resolved) {
        debug_assert!(self.0.last().is_none_or(|&(s, _)| (s as usize) < symbol));
        // Symbol indices fit in u32: the loaders index symbols with u32.
        self.0.push((symbol as u32, resolved));
    }
}

impl Resolved {
    /// The object of this link the resolution lands in, if any.
    fn object_in_link(self) -> Option<usize> {
        match self {
            Resolved::InLink(r) | Resolved::ImportPointer(ImportTarget::InLink(r)) => {
                Some(r.object)
            }
            _ => None,
        }
    }
}

/// A definition that holds its name for the whole link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Winner {
    pub strength: Strength,
    /// For a common block: the largest alignment any object asked for.
    pub common_align: u64,
}

/// The winning definitions by name, for references from one object of the
/// link to another. Empty for a lone object: its references never name its
/// own definitions (its assembler bound those), so no name is hashed.
pub(crate) type WinnersByName<'u> = NameMap<&'u str, SymbolRef>;

/// Decides which definition of each external name the link provides: marks
/// each record's winning symbols (`ObjectRecord::winners`) and returns them
/// by name.
pub(crate) fn decide_definitions<'u>(
    records: &mut [ObjectRecord<'u, '_, '_>],
    table: &SymbolTable,
    later_definitions_win: bool,
) -> Result<WinnersByName<'u>> {
    let lone = records.len() == 1;
    let mut by_name = WinnersByName::default();
    if !lone {
        let symbols: usize = records.iter().map(|r| r.object().symbols.len()).sum();
        by_name.reserve(symbols / 2);
    }
    for oi in 0..records.len() {
        let object: &'u ObjectFile<'_> = records[oi].unit.object;
        for (si, sym) in object.symbols.iter().enumerate() {
            if !sym.is_external() || sym.definition == Definition::Undefined || sym.name.is_empty()
            {
                continue;
            }
            let candidate = Winner {
                strength: strength_of(sym.binding, sym.definition),
                common_align: match sym.definition {
                    Definition::Common { align, .. } => align,
                    _ => 1,
                },
            };
            if !beats_earlier_modules(sym, object, candidate, table, later_definitions_win)? {
                continue;
            }
            let here = SymbolRef {
                object: oi,
                symbol: si,
            };
            if lone {
                records[oi].winners[si] = Some(candidate);
                continue;
            }
            let Some(&holder) = by_name.get(sym.name) else {
                by_name.insert(sym.name, here);
                records[oi].winners[si] = Some(candidate);
                continue;
            };
            // Always marked: the map and the records' marks change together.
            let Some(held) = records[holder.object].winners[holder.symbol] else {
                continue;
            };
            match settle(records, holder, held, here, candidate)? {
                Settled::Keep => {}
                Settled::Merge(merged) => {
                    records[holder.object].winners[holder.symbol] = Some(merged);
                }
                Settled::Replace => {
                    records[holder.object].winners[holder.symbol] = None;
                    records[oi].winners[si] = Some(candidate);
                    by_name.insert(sym.name, here);
                }
            }
        }
    }
    Ok(by_name)
}

fn strength_of(binding: Binding, definition: Definition) -> Strength {
    match (binding, definition) {
        (_, Definition::Common { size, .. }) => Strength::Common { size },
        (Binding::Weak, _) => Strength::Weak,
        _ => Strength::Strong,
    }
}

/// Whether a definition in this link takes its name from the modules
/// linked before (`table`): a strong one does (or is an error), a weak or
/// common one binds to the existing definition instead.
fn beats_earlier_modules(
    sym: &Symbol<'_>,
    object: &ObjectFile<'_>,
    candidate: Winner,
    table: &SymbolTable,
    later_definitions_win: bool,
) -> Result<bool> {
    let Some(existing) = table.get(sym.name) else {
        return Ok(true);
    };
    match (existing.strength, candidate.strength) {
        (Strength::Strong, Strength::Strong) if !later_definitions_win => {
            Err(Error::DuplicateSymbol {
                name: sym.name.to_string(),
                first: table.module_name(existing.module).to_string(),
                second: object.name.clone(),
            })
        }
        (_, Strength::Strong) => Ok(true),
        (Strength::Common { size: have }, Strength::Common { size }) if size > have => {
            Err(Error::CommonSizeMismatch {
                name: sym.name.to_string(),
                object: object.name.clone(),
                size,
                existing: have,
            })
        }
        _ => Ok(false),
    }
}

/// What a second definition of a name in the link does to the first.
enum Settled {
    Keep,
    /// Two common blocks: one of the larger size and alignment.
    Merge(Winner),
    Replace,
}

/// Settles the definition `held` at `holder` against `candidate` at
/// `here`, by ELF's rules: strong beats common beats weak, the first weak
/// one wins unless its COMDAT group's selection says otherwise, two strong
/// ones are an error.
fn settle(
    records: &[ObjectRecord<'_, '_, '_>],
    holder: SymbolRef,
    held: Winner,
    here: SymbolRef,
    candidate: Winner,
) -> Result<Settled> {
    let first = records[holder.object].object();
    let second = records[here.object].object();
    let name = || second.symbols[here.symbol].name.to_string();
    Ok(match (held.strength, candidate.strength) {
        (Strength::Strong, Strength::Strong) => {
            return Err(Error::DuplicateSymbol {
                name: name(),
                first: first.name.clone(),
                second: second.name.clone(),
            })
        }
        (Strength::Strong, _) | (Strength::Common { .. }, Strength::Weak) => Settled::Keep,
        (Strength::Common { size: a }, Strength::Common { size: b }) => Settled::Merge(Winner {
            strength: Strength::Common { size: a.max(b) },
            common_align: held.common_align.max(candidate.common_align),
        }),
        (Strength::Weak, Strength::Weak) => {
            // COMDAT copies: the group's selection decides.
            let (Some((kept, selection)), Some((other, _))) = (
                comdat_of(first, holder.symbol),
                comdat_of(second, here.symbol),
            ) else {
                return Ok(Settled::Keep);
            };
            let mismatch = |reason: &str| Error::ComdatMismatch {
                name: name(),
                first: first.name.clone(),
                second: second.name.clone(),
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
                ComdatSelection::Largest if other.size > kept.size => Settled::Replace,
                _ => Settled::Keep,
            }
        }
        (_, Strength::Strong) | (Strength::Weak, Strength::Common { .. }) => Settled::Replace,
    })
}

/// The COMDAT section defining symbol `index` of `object`, with its selection.
fn comdat_of<'o, 'data>(
    object: &'o ObjectFile<'data>,
    index: usize,
) -> Option<(&'o Section<'data>, ComdatSelection)> {
    let Definition::Section { section, .. } = object.symbols.get(index)?.definition else {
        return None;
    };
    let section = object.sections.get(section as usize)?;
    Some((section, section.comdat?.selection))
}

/// Resolves every symbol of record `oi` that it does not define for itself
/// (`ObjectRecord::owned`, `resolved`, `binds_to`); names found nowhere go
/// to `missing` as (name, object).
pub(crate) fn resolve_symbols(
    records: &mut [ObjectRecord<'_, '_, '_>],
    oi: usize,
    by_name: &WinnersByName<'_>,
    table: &SymbolTable,
    externals: &Externals,
    missing: &mut Vec<(String, String)>,
) {
    let object = records[oi].object();
    let mut binds_to: Vec<u64> = Vec::new();
    let mut owned = vec![false; object.symbols.len()];
    let mut resolved = Resolutions::default();
    for (si, sym) in object.symbols.iter().enumerate() {
        let defined = sym.definition != Definition::Undefined;
        if defined
            && (!sym.is_external() || sym.name.is_empty() || records[oi].winners[si].is_some())
        {
            owned[si] = true;
            continue;
        }
        if sym.name.is_empty() {
            resolved.push(si, Resolved::Address(0));
            continue;
        }
        let mut lookup =
            |name: &str| resolve_name(name, object, by_name, table, externals, &mut binds_to);
        let found = lookup(sym.name).or_else(|| {
            let inner = sym.name.strip_prefix(IMPORT_PREFIX)?;
            let target = match own_winner(&records[oi], oi, inner).or_else(|| lookup(inner))? {
                Resolved::Address(a) => ImportTarget::Address(a),
                Resolved::InLink(r) => ImportTarget::InLink(r),
                _ => return None,
            };
            Some(Resolved::ImportPointer(target))
        });
        match found {
            Some(r) => {
                if let Some(other) = r.object_in_link().filter(|&other| other != oi) {
                    binds_to.push(records[other].unit.module);
                }
                resolved.push(si, r)
            }
            None if sym.binding == Binding::Weak && !defined => {
                resolved.push(si, Resolved::Address(0))
            }
            None => missing.push((sym.name.to_string(), object.name.clone())),
        }
    }
    let record = &mut records[oi];
    binds_to.sort_unstable();
    binds_to.dedup();
    binds_to.retain(|&d| d != record.unit.module);
    record.owned = owned;
    record.resolved = resolved;
    record.binds_to = binds_to;
}

/// `__imp_X` may point at an X of its own object, which a lone object's
/// (empty) [`WinnersByName`] leaves out: its own winning definition of
/// `name`, found by a scan (such look-ups are rare).
fn own_winner(record: &ObjectRecord<'_, '_, '_>, oi: usize, name: &str) -> Option<Resolved> {
    record
        .object()
        .symbols
        .iter()
        .enumerate()
        .find(|&(si, s)| s.name == name && record.winners[si].is_some())
        .map(|(si, _)| {
            Resolved::InLink(SymbolRef {
                object: oi,
                symbol: si,
            })
        })
}

/// Where `name` resolves, in the documented order; a definition from a
/// module the engine linked before is recorded in `binds_to`.
fn resolve_name(
    name: &str,
    object: &ObjectFile<'_>,
    by_name: &WinnersByName<'_>,
    table: &SymbolTable,
    externals: &Externals,
    binds_to: &mut Vec<u64>,
) -> Option<Resolved> {
    if let Some(&a) = externals.global_mappings.get(name) {
        return Some(Resolved::Address(a));
    }
    if let Some(&r) = by_name.get(name) {
        return Some(Resolved::InLink(r));
    }
    // Bounds are the referring module's own: before other modules' names.
    if let Some((end, section)) = bounds::bound_of(object, name) {
        return Some(Resolved::SectionBound(end, section));
    }
    if let Some(e) = table.get(name) {
        binds_to.push(e.module);
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
    if object.format == Format::MachO && name == TLV_GETTER_NAME {
        let getter = externals.runtime.map_or(0, |r| r.tlv_getter(object.arch));
        if getter != 0 {
            return Some(Resolved::Address(getter));
        }
        if super::tlv::has_single_thread_getter(object.arch) && Some(object.arch) != Arch::host() {
            return Some(Resolved::SingleThreadTlvGetter);
        }
    }
    if let Some(a) = externals.resolver.as_ref().and_then(|r| r(name)) {
        return Some(Resolved::Address(a));
    }
    if let Some(a) = externals.lookup_loaded(name) {
        return Some(Resolved::Address(a));
    }
    match name {
        FLTUSED_NAME => Some(Resolved::Address(&FLTUSED as *const i32 as u64)),
        // Last: a definition anywhere else (a C library that exports one)
        // is the guard the rest of the process checks against.
        STACK_GUARD_NAME => Some(Resolved::StackGuard),
        _ => None,
    }
}
