//! The relocation pass: copy bytes, fill the GOT, write stubs where a branch
//! cannot reach, and patch every fixup, in one linear walk per object.

use super::layout::{ObjectLayout, TlsPairTarget, NONE};
use crate::arch::{self, FixupError, FixupValues, PropsCache};
use crate::error::RelocationSite;
use crate::load::{Definition, ObjectFile, Relocation, Section, SectionKind, Target};
use crate::memory::{Allocation, SegmentClass};
use crate::{Error, Result};

/// Addresses the pass needs for one object.
pub(crate) struct Addresses<'a> {
    /// Run-time address of each symbol (0 when not defined anywhere, e.g. undefined weak).
    pub symbols: &'a [u64],
    /// Run-time address of each section (0 when not loaded): where its
    /// bytes and fixups are.
    pub sections: &'a [u64],
    /// What a reference to each section resolves to: its address, or its
    /// offset in the TLS block for a thread-local section.
    pub section_targets: &'a [u64],
    /// The section (address, number in its object) each symbol lives in,
    /// when known: for section-relative fixups.
    pub symbol_sections: &'a [Option<(u64, u16)>],
    /// The module's TLS key (0: no TLS block).
    pub tls_key: u64,
    /// The run time's TLS descriptor resolvers for the object's code, for
    /// modules with and without static TLS (0: none).
    pub tlsdesc_resolver: u64,
    pub dynamic_tlsdesc_resolver: u64,
    /// The offset of the module's static-TLS piece from the thread pointer,
    /// when it uses the static TLS models.
    pub tp_offset: Option<i64>,
    /// The module's image base (COFF image-relative fixups).
    pub image_base: u64,
    /// GOT slots whose value is not their target's address: (slot, value).
    pub got_overrides: &'a [(u32, u64)],
}

impl Addresses<'_> {
    #[inline]
    fn of(&self, target: Target) -> u64 {
        match target {
            Target::Symbol(i) => self.symbols.get(i as usize).copied().unwrap_or(0),
            Target::Section(i) => self.section_targets.get(i as usize).copied().unwrap_or(0),
        }
    }
}

/// A writable view of one segment of an allocation.
struct SegmentWriter {
    ptr: *mut u8,
    size: usize,
}

impl SegmentWriter {
    fn new(allocation: &Allocation, class: SegmentClass) -> SegmentWriter {
        let seg = allocation.segment(class);
        SegmentWriter {
            ptr: seg.write_ptr,
            size: seg.size as usize,
        }
    }

    /// The bytes `[offset, offset + len)` of the segment, or `None` when out of bounds.
    fn slice(&mut self, offset: u64, len: u64) -> Option<&mut [u8]> {
        let end = offset.checked_add(len)?;
        if end > self.size as u64 || self.ptr.is_null() {
            return None;
        }
        // SAFETY: the memory manager handed out `size` writable bytes at `ptr`
        // for this allocation, which the linker owns exclusively until
        // finalize; the range was checked to lie inside them, and the returned
        // borrow is tied to `&mut self`, so no two slices alias.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.add(offset as usize), len as usize) })
    }
}

/// Copies, fills and patches `object` into `allocation`.
pub(crate) fn apply(
    object: &ObjectFile<'_>,
    layout: &ObjectLayout,
    allocation: &Allocation,
    addrs: &Addresses<'_>,
) -> Result<()> {
    let mut writers: Vec<SegmentWriter> = SegmentClass::ALL
        .iter()
        .map(|&c| SegmentWriter::new(allocation, c))
        .collect();
    let internal = |what: &str| Error::MalformedObject {
        object: object.name.clone(),
        reason: format!("internal layout error: {what}"),
    };

    // Section bytes. Zero-fill sections need nothing: fresh memory is zero.
    for (section, place) in object.sections.iter().zip(&layout.placement) {
        let Some((class, offset)) = *place else {
            continue;
        };
        if section.data.is_empty() {
            continue;
        }
        if (section.data.len() as u64) > section.size {
            return Err(internal(section.name));
        }
        let dest = writers[class as usize]
            .slice(offset, section.data.len() as u64)
            .ok_or_else(|| internal(section.name))?;
        dest.copy_from_slice(section.data);
    }

    // Whether a target lives in a thread-local section.
    let is_tls = |target: Target| {
        let section = match target {
            Target::Section(i) => Some(i as usize),
            Target::Symbol(i) => match object.symbols.get(i as usize).map(|s| s.definition) {
                Some(Definition::Section { section, .. }) => Some(section as usize),
                _ => None,
            },
        };
        section
            .and_then(|i| object.sections.get(i))
            .is_some_and(|s| s.kind.is_tls())
    };

    // GOT slots hold their targets' addresses; a thread-local's slot (an
    // initial-exec load) holds its offset from the thread pointer.
    let got_base = allocation.segment(SegmentClass::Got).addr;
    {
        let got = &mut writers[SegmentClass::Got as usize];
        for (slot, &target) in layout.got_targets.iter().enumerate() {
            let field = got
                .slice(slot as u64 * 8, 8)
                .ok_or_else(|| internal("GOT"))?;
            let value = addrs
                .got_overrides
                .iter()
                .find(|(s, _)| *s as usize == slot)
                .map_or_else(|| addrs.of(target), |&(_, v)| v);
            let value = match addrs.tp_offset {
                Some(tp) if is_tls(target) => value.wrapping_add(tp as u64),
                _ => value,
            };
            field.copy_from_slice(&value.to_le_bytes());
        }
        // TLS pairs: (module key, offset) as `__tls_get_addr` reads them.
        // TLS descriptors: (resolver, the target's thread-pointer offset).
        for &(slot, what) in &layout.tls_pairs {
            let (first, second) = match what {
                TlsPairTarget::Symbol(i) => (addrs.tls_key, addrs.of(Target::Symbol(i))),
                TlsPairTarget::Module => (addrs.tls_key, 0),
                TlsPairTarget::Descriptor(i) => match addrs.tp_offset {
                    Some(tp) => (
                        addrs.tlsdesc_resolver,
                        addrs.of(Target::Symbol(i)).wrapping_add(tp as u64),
                    ),
                    // No static TLS: the dynamic resolver, with the module
                    // key and the offset in its block packed in one word.
                    None => {
                        let offset = addrs.of(Target::Symbol(i));
                        if addrs.tls_key >> 32 != 0 || offset >> 32 != 0 {
                            return Err(internal("TLS descriptor key or offset too large"));
                        }
                        (addrs.dynamic_tlsdesc_resolver, addrs.tls_key << 32 | offset)
                    }
                },
            };
            let field = got
                .slice(slot as u64 * 8, 16)
                .ok_or_else(|| internal("TLS GOT pair"))?;
            field[..8].copy_from_slice(&first.to_le_bytes());
            field[8..].copy_from_slice(&second.to_le_bytes());
        }
    }

    let stubs_base = allocation.segment(SegmentClass::Stubs).addr;
    let mut stubs_writer = SegmentWriter::new(allocation, SegmentClass::Stubs);
    let mut stub_written = vec![false; layout.stub_targets.len()];
    let mut props_cache = PropsCache::default();

    for (index, section) in object.sections.iter().enumerate() {
        if section.relocations.is_empty() {
            continue;
        }
        let Some((class, offset)) = layout.placement[index] else {
            continue;
        };
        let section_addr = addrs.sections[index];
        // Each class has its own segment, so the section's view and the stubs'
        // view never overlap (a section is never placed in Stubs).
        let mut section_writer = SegmentWriter::new(allocation, class);
        let bytes = section_writer
            .slice(offset, section.size)
            .ok_or_else(|| internal(section.name))?;
        for reloc in &section.relocations {
            let kind = reloc.kind;
            let props = props_cache.get(kind);
            let p = section_addr.wrapping_add(reloc.offset);
            let s = addrs.of(reloc.target);
            // A difference S - T + A folds T into the addend, so range checks
            // see the true (possibly negative) value; addresses are below 2^63.
            let a = match reloc.subtrahend {
                Some(t) => reloc.addend.wrapping_sub(addrs.of(t) as i64),
                None => reloc.addend,
            };
            let mut values = FixupValues {
                p,
                s,
                a,
                got_base,
                image_base: addrs.image_base,
                ..FixupValues::default()
            };
            if props.section_relative {
                let home = match reloc.target {
                    Target::Section(i) => addrs.sections.get(i as usize).map(|&b| (b, i as u16)),
                    Target::Symbol(i) => addrs.symbol_sections.get(i as usize).copied().flatten(),
                };
                let Some((base, number)) = home else {
                    return Err(Error::BadRelocation {
                        site: site(object, section, reloc),
                        reason: "section-relative fixup against a symbol defined outside \
                                 the modules linked with it"
                            .to_string(),
                    });
                };
                values.section_base = base;
                values.section_index = number;
            }
            if props.got_slot {
                let slot = match reloc.target {
                    Target::Symbol(i) => layout.got_of_symbol[i as usize],
                    Target::Section(i) => layout.got_of_section[i as usize],
                };
                if slot != NONE {
                    values.got_slot = got_base + slot as u64 * 8;
                } else {
                    // The layout made no slot: a GOT load it found it can
                    // relax into a direct reference (the fixup then writes
                    // S + A - P into the rewritten instruction).
                    let relaxed = usize::try_from(reloc.offset)
                        .is_ok_and(|at| kind.relax_got_load(bytes, at));
                    if !relaxed {
                        return Err(internal("GOT slot missing"));
                    }
                }
            }
            if let (true, Target::Symbol(i)) = (props.size, reloc.target) {
                values.size = object.symbols.get(i as usize).map_or(0, |s| s.size);
            }
            // Descriptors without static TLS need no offset here.
            let dynamic_descriptor =
                props.tls == Some(arch::TlsPair::Descriptor) && addrs.tp_offset.is_none();
            if props.tp_relative && !dynamic_descriptor {
                let defined_here = is_tls(reloc.target);
                let Some(tp) = addrs.tp_offset.filter(|_| defined_here) else {
                    return Err(Error::BadRelocation {
                        site: site(object, section, reloc),
                        reason: "the thread-local variable is not defined in this module; \
                                 rivet resolves thread-locals within one module only"
                            .to_string(),
                    });
                };
                if !props.got_slot {
                    values.s = s.wrapping_add(tp as u64);
                }
            }
            if let Some(pair) = props.tls {
                let slot = match (pair, reloc.target) {
                    (arch::TlsPair::Symbol, Target::Symbol(i)) => {
                        layout.tls_pair_of_symbol[i as usize]
                    }
                    (arch::TlsPair::Descriptor, Target::Symbol(i)) => {
                        layout.tls_desc_of_symbol[i as usize]
                    }
                    (arch::TlsPair::Descriptor, Target::Section(_)) => {
                        return Err(Error::BadRelocation {
                            site: site(object, section, reloc),
                            reason: "a TLS descriptor of a section rather than a symbol"
                                .to_string(),
                        })
                    }
                    _ => layout.tls_module_pair,
                };
                let defined_here = match reloc.target {
                    Target::Symbol(i) => object
                        .symbols
                        .get(i as usize)
                        .is_some_and(|s| s.definition != Definition::Undefined),
                    Target::Section(_) => true,
                };
                if addrs.tls_key == 0 || !defined_here {
                    return Err(Error::BadRelocation {
                        site: site(object, section, reloc),
                        reason: "the thread-local variable is not defined in this module; \
                                 rivet resolves thread-locals within one module only"
                            .to_string(),
                    });
                }
                if slot == NONE {
                    return Err(internal("TLS pair missing"));
                }
                values.got_slot = got_base + slot as u64 * 8;
            }
            let place = usize::try_from(reloc.offset)
                .ok()
                .and_then(|o| bytes.get_mut(o..))
                .ok_or_else(|| place_error(object, section, reloc))?;
            if props.branch && !kind.branch_reaches(p, s, a) {
                if let Target::Symbol(i) = reloc.target {
                    // The stub jumps to the branch's real target itself.
                    let offset = a.wrapping_sub(kind.branch_bias());
                    let stub = layout.stub_for(i, offset);
                    if stub != NONE {
                        let stub_offset = stub as u64 * layout.stub_size;
                        if !stub_written[stub as usize] {
                            let field = stubs_writer
                                .slice(stub_offset, layout.stub_size)
                                .ok_or_else(|| internal("stub"))?;
                            arch::write_stub(object.arch, field, s.wrapping_add(offset as u64))
                                .map_err(|e| fixup_error(object, section, reloc, e))?;
                            stub_written[stub as usize] = true;
                        }
                        values.stub = stubs_base + stub_offset;
                    }
                }
            }
            kind.apply(place, &values)
                .map_err(|e| fixup_error(object, section, reloc, e))?;
        }
    }
    // Unwind tables go to the process unwinder, which trusts them: check
    // their structure as relocated (a fixup may land anywhere in them).
    for (section, place) in object.sections.iter().zip(&layout.placement) {
        let (SectionKind::Unwind, Some((class, offset))) = (section.kind, *place) else {
            continue;
        };
        let mut writer = SegmentWriter::new(allocation, class);
        let bytes = writer
            .slice(offset, section.size)
            .ok_or_else(|| internal(section.name))?;
        super::runtime_info::check_eh_frame(bytes).map_err(|why| Error::MalformedObject {
            object: object.name.clone(),
            reason: format!("unwind table `{}`: {why}", section.name),
        })?;
    }
    Ok(())
}

fn site(object: &ObjectFile<'_>, section: &Section<'_>, reloc: &Relocation) -> Box<RelocationSite> {
    Box::new(RelocationSite {
        object: object.name.clone(),
        section: section.name.to_string(),
        offset: reloc.offset,
        kind: reloc.kind.to_string(),
        symbol: object.target_name(reloc.target).to_string(),
    })
}

fn place_error(object: &ObjectFile<'_>, section: &Section<'_>, reloc: &Relocation) -> Error {
    Error::BadRelocation {
        site: site(object, section, reloc),
        reason: format!("offset lies outside the section's {} bytes", section.size),
    }
}

fn fixup_error(
    object: &ObjectFile<'_>,
    section: &Section<'_>,
    reloc: &Relocation,
    error: FixupError,
) -> Error {
    let site = site(object, section, reloc);
    match error {
        FixupError::Overflow { value, min, max } => Error::RelocationOverflow {
            site,
            value,
            min,
            max,
        },
        FixupError::PlaceOutOfBounds { needed, available } => Error::BadRelocation {
            site,
            reason: format!("field of {needed} bytes but only {available} left in the section"),
        },
        FixupError::Invalid(why) => Error::BadRelocation {
            site,
            reason: why.to_string(),
        },
    }
}
