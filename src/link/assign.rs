//! The assign phase: once every object has memory, the run-time address of
//! each section and symbol, its own definitions first, then what it binds
//! to in the other objects of the link or elsewhere.

use super::bounds::{self, BoundEnd};
use super::ifunc::is_indirect;
use super::resolve::{ImportTarget, Resolved, SymbolRef};
use super::ObjectRecord;
use crate::load::{Definition, ObjectFile};
use crate::memory::{Allocation, SegmentClass};
use crate::{Error, Result};

/// The addresses of one object of the link, as the relocation pass reads them.
#[derive(Debug, Default)]
pub(crate) struct ObjectAddresses {
    /// Run-time address of each symbol (0 when not defined anywhere, e.g. undefined weak).
    pub symbols: Vec<u64>,
    /// Run-time address of each section (0 when not loaded): where its
    /// bytes and fixups are.
    pub sections: Vec<u64>,
    /// What a reference to each section resolves to: its address, or its
    /// offset in the TLS block for a thread-local section.
    pub section_targets: Vec<u64>,
    /// The section (address, number in its object) each symbol lives in,
    /// when the link defines it: for section-relative fixups, and empty
    /// when no object of the link has one.
    pub symbol_sections: Vec<Option<(u64, u16)>>,
    /// The module's image base (COFF image-relative fixups).
    pub image_base: u64,
    /// GOT slots whose value is not their target's address: (slot, value).
    pub got_overrides: Vec<(u32, u64)>,
    /// Symbols whose GOT loads read a word elsewhere than their GOT slot:
    /// (symbol, address of the word). An indirect function's slot.
    pub got_slots_elsewhere: Vec<(u32, u64)>,
    /// Whether each symbol is defined (in a section or as a common) by an
    /// object of this link, so that its address is final when the link
    /// applies its fixups, and is not a thread-local of this object: GOT
    /// accesses of it may be relaxed.
    pub defined_in_link: Vec<bool>,
}

/// Gives every record its [`ObjectAddresses`].
pub(crate) fn assign(records: &mut [ObjectRecord<'_, '_, '_>]) -> Result<()> {
    // Symbols' sections serve only section-relative fixups, which an
    // object may make of another's symbols: kept for all or for none.
    let sections_wanted = records.iter().any(|r| r.layout.section_relative);
    for record in records.iter_mut() {
        record.addresses = own_addresses(record, record.allocation()?, sections_wanted);
        super::ifunc::assign(record)?;
    }
    for oi in 0..records.len() {
        bind_addresses(records, oi)?;
    }
    Ok(())
}

/// The addresses of `record`'s sections and of the symbols it defines.
fn own_addresses(
    record: &ObjectRecord<'_, '_, '_>,
    allocation: &Allocation,
    sections_wanted: bool,
) -> ObjectAddresses {
    let object = record.object();
    let layout = &record.layout;
    let sections: Vec<u64> = layout
        .placement
        .iter()
        .map(|p| p.map_or(0, |(class, off)| allocation.segment(class).addr + off))
        .collect();
    let mut section_targets = sections.clone();
    if let Some(tls) = &layout.tls {
        for (target, &offset) in section_targets.iter_mut().zip(&tls.section_offsets) {
            if offset != u64::MAX {
                *target = offset;
            }
        }
    }
    let data_base = allocation.segment(SegmentClass::Data).addr;
    let mut symbols = vec![0u64; object.symbols.len()];
    let defined_in_link = object
        .symbols
        .iter()
        .enumerate()
        // An indirect function's GOT loads must read its slot (the
        // resolver's result), never be relaxed to its thunk; a
        // thread-local's read its offset.
        .map(|(si, sym)| {
            record.owned[si]
                && defines_storage(sym.definition)
                && !is_indirect(object, si)
                && !in_tls_section(object, sym.definition)
        })
        .collect();
    let mut symbol_sections = if sections_wanted {
        vec![None; object.symbols.len()]
    } else {
        Vec::new()
    };
    for (si, sym) in object.symbols.iter().enumerate() {
        if !record.owned[si] {
            continue;
        }
        symbols[si] = match sym.definition {
            // A malformed offset may overflow: the address wraps, and
            // every fixup that uses it is range-checked.
            Definition::Section { section, offset } => {
                let index = section as usize;
                if let Some(home) = symbol_sections.get_mut(si) {
                    *home = Some((sections.get(index).copied().unwrap_or(0), section as u16));
                }
                section_targets
                    .get(index)
                    .copied()
                    .unwrap_or(0)
                    .wrapping_add(offset)
            }
            Definition::Absolute(v) => v,
            Definition::Common { .. } => layout
                .commons
                .iter()
                .find(|(s, _)| *s as usize == si)
                .map_or(0, |(_, off)| data_base + off),
            Definition::Undefined => 0,
        };
    }
    ObjectAddresses {
        symbols,
        sections,
        section_targets,
        symbol_sections,
        image_base: image_base(allocation),
        got_overrides: Vec::new(),
        got_slots_elsewhere: Vec::new(),
        defined_in_link,
    }
}

/// Whether a definition lies in a thread-local section of `object`.
fn in_tls_section(object: &ObjectFile<'_>, definition: Definition) -> bool {
    let Definition::Section { section, .. } = definition else {
        return false;
    };
    object
        .sections
        .get(section as usize)
        .is_some_and(|s| s.kind.is_tls())
}

/// Whether a definition places the symbol in the module's memory.
fn defines_storage(definition: Definition) -> bool {
    matches!(
        definition,
        Definition::Section { .. } | Definition::Common { .. }
    )
}

/// Fills in the addresses of record `oi`'s symbols that resolve to other
/// objects of the link or elsewhere. Reads only what [`own_addresses`]
/// wrote, so the order of the records does not matter.
fn bind_addresses(records: &mut [ObjectRecord<'_, '_, '_>], oi: usize) -> Result<()> {
    let allocation = records[oi].allocation()?;
    let got_base = allocation.segment(SegmentClass::Got).addr;
    let data_base = allocation.segment(SegmentClass::Data).addr;
    let tlv_getter = records[oi]
        .single_thread_tlv
        .map_or(0, |tlv| tlv.getter(allocation));
    let mut symbols = std::mem::take(&mut records[oi].addresses.symbols);
    let mut symbol_sections = std::mem::take(&mut records[oi].addresses.symbol_sections);
    let mut got_overrides = Vec::new();
    let mut got_slots_elsewhere: Vec<(u32, u64)> = Vec::new();
    let mut defined_in_link = std::mem::take(&mut records[oi].addresses.defined_in_link);
    let record = &records[oi];
    // A definition of this object is read from the vectors being filled:
    // its entries there are already final.
    let in_link = |r: SymbolRef, symbols: &[u64], symbol_sections: &[Option<(u64, u16)>]| {
        let (symbols, symbol_sections) = if r.object == oi {
            (symbols, symbol_sections)
        } else {
            let addresses = &records[r.object].addresses;
            (&addresses.symbols[..], &addresses.symbol_sections[..])
        };
        (
            symbols[r.symbol],
            symbol_sections.get(r.symbol).copied().flatten(),
        )
    };
    for (si, resolved) in record.resolved.iter() {
        symbols[si] = match resolved {
            Resolved::Address(a) => a,
            Resolved::GotBase => got_base,
            Resolved::ImageBase => record.addresses.image_base,
            Resolved::SingleThreadTlvGetter => tlv_getter,
            Resolved::SectionBound(end, first) => section_bound(record, si, end, first)?,
            // The plan gave it a Data word, as it does a common block.
            Resolved::StackGuard => record
                .layout
                .commons
                .iter()
                .find(|(s, _)| *s as usize == si)
                .map_or(0, |(_, off)| data_base + off),
            Resolved::InLink(r) => {
                let (address, home) = in_link(r, &symbols, &symbol_sections);
                if let Some(slot) = symbol_sections.get_mut(si) {
                    *slot = home;
                }
                // Another object's indirect function: GOT loads here read
                // its slot too, so they load the resolver's result.
                let indirect = records[r.object]
                    .ifuncs
                    .iter()
                    .find(|f| f.symbol as usize == r.symbol);
                if let Some(function) = indirect.filter(|_| r.object != oi) {
                    got_slots_elsewhere.push((si as u32, function.slot));
                }
                let home = records[r.object].object();
                defined_in_link[si] = home
                    .symbols
                    .get(r.symbol)
                    .is_some_and(|s| defines_storage(s.definition))
                    && !is_indirect(home, r.symbol);
                address
            }
            Resolved::ImportPointer(target) => {
                let value = match target {
                    ImportTarget::Address(a) => a,
                    ImportTarget::InLink(r) => in_link(r, &symbols, &symbol_sections).0,
                };
                let slot = record.layout.got_of_symbol[si];
                got_overrides.push((slot, value));
                got_base + slot as u64 * 8
            }
        };
    }
    let addresses = &mut records[oi].addresses;
    addresses.symbols = symbols;
    addresses.symbol_sections = symbol_sections;
    addresses.got_overrides = got_overrides;
    addresses.got_slots_elsewhere.extend(got_slots_elsewhere);
    addresses.defined_in_link = defined_in_link;
    Ok(())
}

/// The address of a section bound (symbol `si` of `record`): the lowest
/// start or highest end of the object's sections named as section `first`
/// is. The plan placed them together; in different segments (code and
/// data of one name) no pair of addresses encloses only them.
fn section_bound(
    record: &ObjectRecord<'_, '_, '_>,
    si: usize,
    end: BoundEnd,
    first: u32,
) -> Result<u64> {
    let object = record.object();
    let sections = &object.sections;
    let Some(named) = sections.get(first as usize) else {
        return Ok(0);
    };
    let mut class = None;
    let mut bound: Option<u64> = None;
    for i in bounds::sections_named(object, (named.segment, named.name)) {
        let Some((here, _)) = record.layout.placement[i] else {
            continue;
        };
        if class.is_some_and(|c| c != here) {
            return Err(Error::UnsupportedObject {
                object: object.name.clone(),
                reason: format!(
                    "`{}` bounds the sections named `{}`, which lie in different segments \
                     ({} and {}), so no start and end enclose only them",
                    object.symbols[si].name,
                    named.name,
                    class.map_or("", |c: SegmentClass| c.name()),
                    here.name()
                ),
            });
        }
        class = Some(here);
        let address = record.addresses.sections[i];
        bound = Some(match end {
            BoundEnd::Start => bound.map_or(address, |b| b.min(address)),
            BoundEnd::End => {
                let stop = address.wrapping_add(sections[i].size);
                bound.map_or(stop, |b| b.max(stop))
            }
        });
    }
    Ok(bound.unwrap_or(0))
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
