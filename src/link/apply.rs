//! The relocation pass: copy bytes, fill the GOT, write the stubs (each
//! jumping through its GOT slot), relax GOT accesses of targets the link
//! defines where the final addresses reach, and patch every fixup (a branch
//! through its stub where it cannot reach), in one linear walk per object.
//! Every byte it writes goes through [`SegmentWriter::slice`], bounds-checked
//! against the segment the memory manager handed out.

use std::collections::HashMap;

use super::assign::ObjectAddresses;
use super::layout::{ObjectLayout, TlsPairTarget, NONE};
use crate::arch::{self, FixupError, FixupValues, KindProps, PropsCache};
use crate::error::RelocationSite;
use crate::load::{Definition, ObjectFile, Relocation, Section, SectionKind, Target};
use crate::memory::{Allocation, SegmentClass};
use crate::{Error, Result};

/// What the pass needs to know of the module's thread-local block.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ThreadLocals {
    /// The module's key (0: no TLS block).
    pub key: u64,
    /// The offset of the module's static-TLS piece from the thread pointer,
    /// when it uses the static TLS models.
    pub tp_offset: Option<i64>,
    /// The run time's TLS descriptor resolvers for the object's code, for
    /// modules with and without static TLS (0: none).
    pub tlsdesc_resolver: u64,
    pub dynamic_tlsdesc_resolver: u64,
}

impl ObjectAddresses {
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
    addrs: &ObjectAddresses,
    tls: &ThreadLocals,
) -> Result<()> {
    let pass = Pass {
        object,
        layout,
        addrs,
        tls,
        got_base: allocation.segment(SegmentClass::Got).addr,
    };
    pass.copy_sections(allocation)?;
    let mut got = SegmentWriter::new(allocation, SegmentClass::Got);
    pass.fill_got(&mut got)?;
    pass.fill_tls_pairs(&mut got)?;
    let stubs_base = allocation.segment(SegmentClass::Stubs).addr;
    pass.write_stubs(
        &mut SegmentWriter::new(allocation, SegmentClass::Stubs),
        stubs_base,
    )?;
    let mut props_cache = PropsCache::default();
    for (index, section) in object.sections.iter().enumerate() {
        if section.relocations.is_empty() {
            continue;
        }
        let Some((class, offset)) = layout.placement[index] else {
            continue;
        };
        // Each class has its own segment, so the section's view and the stubs'
        // view never overlap (a section is never placed in Stubs).
        let mut section_writer = SegmentWriter::new(allocation, class);
        let bytes = section_writer
            .slice(offset, section.size)
            .ok_or_else(|| pass.internal(section.name))?;
        pass.relocate_section(index, section, bytes, stubs_base, &mut props_cache)?;
    }
    pass.check_unwind_tables(allocation)
}

/// What patching one section's fixups reads besides the pass.
struct SectionRun<'r, 'data> {
    section: &'r Section<'data>,
    section_addr: u64,
    /// Fixups of AArch64 GOT-load pairs relaxed in advance: their new kind.
    relaxed_pairs: &'r HashMap<usize, arch::RelocKind>,
    stubs_base: u64,
}

/// One object's pass: what every step reads.
struct Pass<'p, 'data> {
    object: &'p ObjectFile<'data>,
    layout: &'p ObjectLayout,
    addrs: &'p ObjectAddresses,
    tls: &'p ThreadLocals,
    got_base: u64,
}

impl Pass<'_, '_> {
    fn internal(&self, what: &str) -> Error {
        Error::MalformedObject {
            object: self.object.name.clone(),
            reason: format!("internal layout error: {what}"),
        }
    }

    /// Section bytes. Zero-fill sections need nothing: fresh memory is zero.
    fn copy_sections(&self, allocation: &Allocation) -> Result<()> {
        let mut writers: Vec<SegmentWriter> = SegmentClass::ALL
            .iter()
            .map(|&c| SegmentWriter::new(allocation, c))
            .collect();
        for (section, place) in self.object.sections.iter().zip(&self.layout.placement) {
            let Some((class, offset)) = *place else {
                continue;
            };
            if section.data.is_empty() {
                continue;
            }
            if (section.data.len() as u64) > section.size {
                return Err(self.internal(section.name));
            }
            let dest = writers[class as usize]
                .slice(offset, section.data.len() as u64)
                .ok_or_else(|| self.internal(section.name))?;
            dest.copy_from_slice(section.data);
        }
        Ok(())
    }

    /// Whether a target lives in a thread-local section.
    fn is_tls(&self, target: Target) -> bool {
        let object = self.object;
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
    }

    /// GOT slots hold their targets' addresses; a thread-local's slot (an
    /// initial-exec load) holds its offset from the thread pointer.
    fn fill_got(&self, got: &mut SegmentWriter) -> Result<()> {
        for (slot, &(target, offset)) in self.layout.got_targets.iter().enumerate() {
            let field = got
                .slice(slot as u64 * 8, 8)
                .ok_or_else(|| self.internal("GOT"))?;
            let value = self
                .addrs
                .got_overrides
                .iter()
                .find(|(s, _)| *s as usize == slot)
                .map_or_else(
                    || self.addrs.of(target).wrapping_add(offset as u64),
                    |&(_, v)| v,
                );
            let value = match self.tls.tp_offset {
                Some(tp) if self.is_tls(target) => value.wrapping_add(tp as u64),
                _ => value,
            };
            field.copy_from_slice(&value.to_le_bytes());
        }
        Ok(())
    }

    /// Every stub, each jumping through its GOT slot (filled by
    /// [`Pass::fill_got`]). They are written whether or not a branch ends
    /// up needing them, so that each is whole code.
    fn write_stubs(&self, writer: &mut SegmentWriter, base: u64) -> Result<()> {
        let layout = self.layout;
        for (k, (&(symbol, offset), &slot)) in layout
            .stub_targets
            .iter()
            .zip(&layout.stub_slots)
            .enumerate()
        {
            let at = k as u64 * layout.stub_size;
            let field = writer
                .slice(at, layout.stub_size)
                .ok_or_else(|| self.internal("stub"))?;
            let (stub, slot) = (base + at, self.got_base + u64::from(slot) * 8);
            arch::write_stub(self.object.arch, field, stub, slot).map_err(|e| {
                let name = self.object.target_name(Target::Symbol(symbol));
                Error::UnsupportedObject {
                    object: self.object.name.clone(),
                    reason: format!(
                        "the stub for `{name}`{} at {stub:#x} cannot reach its GOT slot at \
                         {slot:#x} ({e:?}): the memory manager placed the module's stubs \
                         and GOT too far apart",
                        if offset == 0 {
                            String::new()
                        } else {
                            format!(" {offset:+#x}")
                        }
                    ),
                }
            })?;
        }
        Ok(())
    }

    /// TLS pairs: (module key, offset) as `__tls_get_addr` reads them.
    /// TLS descriptors: (resolver, the target's thread-pointer offset).
    fn fill_tls_pairs(&self, got: &mut SegmentWriter) -> Result<()> {
        let (addrs, tls) = (self.addrs, self.tls);
        for &(slot, what) in &self.layout.tls_pairs {
            let (first, second) = match what {
                TlsPairTarget::Symbol(i) => (tls.key, addrs.of(Target::Symbol(i))),
                TlsPairTarget::Module => (tls.key, 0),
                TlsPairTarget::Descriptor(i) => match tls.tp_offset {
                    Some(tp) => (
                        tls.tlsdesc_resolver,
                        addrs.of(Target::Symbol(i)).wrapping_add(tp as u64),
                    ),
                    // No static TLS: the dynamic resolver, with the module
                    // key and the offset in its block packed in one word.
                    None => {
                        let offset = addrs.of(Target::Symbol(i));
                        if tls.key >> 32 != 0 || offset >> 32 != 0 {
                            return Err(self.internal("TLS descriptor key or offset too large"));
                        }
                        (tls.dynamic_tlsdesc_resolver, tls.key << 32 | offset)
                    }
                },
            };
            let field = got
                .slice(slot as u64 * 8, 16)
                .ok_or_else(|| self.internal("TLS GOT pair"))?;
            field[..8].copy_from_slice(&first.to_le_bytes());
            field[8..].copy_from_slice(&second.to_le_bytes());
        }
        Ok(())
    }

    /// Patches every fixup of section `index`, whose bytes are `bytes`.
    /// GOT accesses of targets the link defines are relaxed into direct
    /// references where the final addresses are in reach.
    fn relocate_section(
        &self,
        index: usize,
        section: &Section<'_>,
        bytes: &mut [u8],
        stubs_base: u64,
        props_cache: &mut PropsCache,
    ) -> Result<()> {
        let section_addr = self.addrs.sections[index];
        let relaxed_pairs = self.relax_got_load_pairs(section, section_addr, bytes);
        let run = SectionRun {
            section,
            section_addr,
            relaxed_pairs: &relaxed_pairs,
            stubs_base,
        };
        let x86_64 = self.object.arch == arch::Arch::X86_64;
        for (ri, reloc) in section.relocations.iter().enumerate() {
            if x86_64 && self.relocate_direct_x86_64(section_addr, &reloc, bytes) {
                continue;
            }
            self.relocate_one(&run, ri, &reloc, bytes, props_cache)?;
        }
        Ok(())
    }

    /// Patches an x86-64 fixup made of P, S and A alone (PC-relative,
    /// branches that reach, absolute words, GOT loads of what the link
    /// defines, relaxed), the bulk of compiled code, without gathering what
    /// rarer kinds read. False, nothing written, for anything else:
    /// [`Pass::relocate_one`] then patches it or names its error.
    #[inline]
    fn relocate_direct_x86_64(
        &self,
        section_addr: u64,
        reloc: &Relocation,
        bytes: &mut [u8],
    ) -> bool {
        use arch::x86_64::{self as x86, Reloc as X};
        let (arch::RelocKind::X86_64(kind), None, Ok(at)) =
            (reloc.kind, reloc.subtrahend, usize::try_from(reloc.offset))
        else {
            return false;
        };
        let p = section_addr.wrapping_add(reloc.offset);
        let (s, a) = (self.addrs.of(reloc.target), reloc.addend);
        match kind {
            X::GotPcRelX => {
                self.defined_in_link(reloc.target) && x86::relax_and_patch(bytes, at, p, s, a)
            }
            _ => x86::patch_direct(kind, bytes, at, p, s, a),
        }
    }

    /// Patches fixup `ri` of `run`'s section into `bytes`, the section's.
    fn relocate_one(
        &self,
        run: &SectionRun<'_, '_>,
        ri: usize,
        reloc: &Relocation,
        bytes: &mut [u8],
        props_cache: &mut PropsCache,
    ) -> Result<()> {
        let section = run.section;
        let mut kind = reloc.kind;
        let props = props_cache.get(kind);
        let mut values = self.fixup_values(section, run.section_addr, reloc, props)?;
        let mut offset = reloc.offset;
        if let Some(&pair_kind) = run.relaxed_pairs.get(&ri) {
            kind = pair_kind;
        } else if props.got_slot && self.defined_in_link(reloc.target) {
            let relaxed = usize::try_from(offset)
                .ok()
                .and_then(|at| kind.relax_got_load(bytes, at, &values));
            if let Some(relaxed) = relaxed {
                kind = relaxed.kind;
                let shift = relaxed.field_shift as i64;
                offset = offset.wrapping_add_signed(shift);
                values.p = values.p.wrapping_add_signed(shift);
            }
        }
        if kind == reloc.kind && props.got_slot && values.got_slot == 0 {
            // The layout left the load without a slot, counting on a
            // relaxation that the final addresses must allow.
            return Err(self.internal("GOT slot missing"));
        }
        let place = usize::try_from(offset)
            .ok()
            .and_then(|o| bytes.get_mut(o..))
            .ok_or_else(|| place_error(self.object, section, reloc))?;
        if props.branch && !kind.branch_reaches(values.p, values.s, values.a) {
            if let Some(stub) = self.stub_for(reloc, run.stubs_base) {
                values.stub = stub;
            }
        }
        kind.apply(place, &values)
            .map_err(|e| fixup_error(self.object, section, reloc, e))
    }

    /// Whether `target` is defined by a module of this link (not a
    /// thread-local): a GOT access of it may be relaxed into a direct
    /// reference, its address being final and no later binding able to
    /// change it.
    fn defined_in_link(&self, target: Target) -> bool {
        match target {
            Target::Section(i) => {
                self.addrs.sections.get(i as usize).is_some_and(|&a| a != 0)
                    && !self
                        .object
                        .sections
                        .get(i as usize)
                        .is_some_and(|s| s.kind.is_tls())
            }
            // Thread-locals of this object are never marked.
            Target::Symbol(i) => self
                .addrs
                .defined_in_link
                .get(i as usize)
                .copied()
                .unwrap_or(false),
        }
    }

    /// AArch64 GOT loads `adrp xN, :got:S; ldr xN, [xN, :got_lo12:S]` of
    /// targets the link defines, rewritten into `adrp xN, S; add xN, xN,
    /// :lo12:S` where S is within the `adrp`'s reach: the kind that now
    /// applies to each of the pair's relocations, by index.
    fn relax_got_load_pairs(
        &self,
        section: &Section<'_>,
        section_addr: u64,
        bytes: &mut [u8],
    ) -> HashMap<usize, arch::RelocKind> {
        use arch::aarch64::Reloc as A;
        use arch::RelocKind::Aarch64;
        let mut relaxed = HashMap::new();
        let relocations = &section.relocations;
        if self.object.arch != arch::Arch::Aarch64 {
            return relaxed;
        }
        // The `ldr` halves by offset (built only if there are any).
        let ldrs: HashMap<u64, usize> = relocations
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == Aarch64(A::Ld64GotLo12Nc) && r.subtrahend.is_none())
            .map(|(i, r)| (r.offset, i))
            .collect();
        if ldrs.is_empty() {
            return relaxed;
        }
        for (ai, adrp) in relocations.iter().enumerate() {
            if adrp.kind != Aarch64(A::AdrGotPage)
                || adrp.subtrahend.is_some()
                || !self.defined_in_link(adrp.target)
            {
                continue;
            }
            let ldr = ldrs
                .get(&adrp.offset.wrapping_add(4))
                .copied()
                .filter(|&li| {
                    relocations
                        .get(li)
                        .is_some_and(|r| r.target == adrp.target && r.addend == adrp.addend)
                });
            let (Some(li), Ok(at)) = (ldr, usize::try_from(adrp.offset)) else {
                continue;
            };
            let values = FixupValues {
                p: section_addr.wrapping_add(adrp.offset),
                s: self.addrs.of(adrp.target),
                a: adrp.addend,
                ..FixupValues::default()
            };
            if arch::aarch64::relax_got_load_pair(bytes, at, &values) {
                relaxed.insert(ai, Aarch64(A::AdrPrelPgHi21));
                relaxed.insert(li, Aarch64(A::AddAbsLo12Nc));
            }
        }
        relaxed
    }

    /// P, S, A and what else the fixup of `reloc` reads. `got_slot` is 0
    /// when the layout made no slot (a GOT load it found it can relax).
    fn fixup_values(
        &self,
        section: &Section<'_>,
        section_addr: u64,
        reloc: &Relocation,
        props: KindProps,
    ) -> Result<FixupValues> {
        let (object, addrs) = (self.object, self.addrs);
        let s = addrs.of(reloc.target);
        // A difference S - T + A folds T into the addend, so range checks
        // see the true (possibly negative) value; addresses are below 2^63.
        let a = match reloc.subtrahend {
            Some(t) => reloc.addend.wrapping_sub(addrs.of(t) as i64),
            None => reloc.addend,
        };
        let mut values = FixupValues {
            p: section_addr.wrapping_add(reloc.offset),
            s,
            a,
            got_base: self.got_base,
            image_base: addrs.image_base,
            ..FixupValues::default()
        };
        if props.section_relative {
            (values.section_base, values.section_index) = self.section_of(section, reloc)?;
        }
        if props.got_slot {
            let slot = match reloc.target {
                Target::Symbol(i) => self.layout.got_of_symbol[i as usize],
                Target::Section(i) => self.layout.got_of_section[i as usize],
            };
            let elsewhere = match reloc.target {
                Target::Symbol(i) => addrs.got_slots_elsewhere.iter().find(|e| e.0 == i),
                Target::Section(_) => None,
            };
            if let Some(&(_, word)) = elsewhere {
                values.got_slot = word;
            } else if slot != NONE {
                values.got_slot = self.got_base + slot as u64 * 8;
            }
        }
        if let (true, Target::Symbol(i)) = (props.size, reloc.target) {
            values.size = object.symbols.get(i as usize).map_or(0, |s| s.size);
        }
        // Descriptors without static TLS need no offset here.
        let dynamic_descriptor =
            props.tls == Some(arch::TlsPair::Descriptor) && self.tls.tp_offset.is_none();
        if props.tp_relative && !dynamic_descriptor {
            let defined_here = self.is_tls(reloc.target);
            let Some(tp) = self.tls.tp_offset.filter(|_| defined_here) else {
                return Err(not_defined_here(object, section, reloc));
            };
            if !props.got_slot {
                values.s = s.wrapping_add(tp as u64);
            }
        }
        if let Some(pair) = props.tls {
            values.got_slot = self.got_base + self.tls_pair_slot(section, reloc, pair)? as u64 * 8;
        }
        Ok(values)
    }

    /// The section (address, number) a section-relative fixup's target
    /// lives in.
    fn section_of(&self, section: &Section<'_>, reloc: &Relocation) -> Result<(u64, u16)> {
        let addrs = self.addrs;
        let home = match reloc.target {
            Target::Section(i) => addrs.sections.get(i as usize).map(|&b| (b, i as u16)),
            Target::Symbol(i) => addrs.symbol_sections.get(i as usize).copied().flatten(),
        };
        home.ok_or_else(|| Error::BadRelocation {
            site: site(self.object, section, reloc),
            reason: "section-relative fixup against a symbol defined outside \
                     the modules linked with it"
                .to_string(),
        })
    }

    /// The first GOT slot of the TLS pair a dynamic-TLS fixup points at.
    fn tls_pair_slot(
        &self,
        section: &Section<'_>,
        reloc: &Relocation,
        pair: arch::TlsPair,
    ) -> Result<u32> {
        let (object, layout) = (self.object, self.layout);
        let slot = match (pair, reloc.target) {
            (arch::TlsPair::Symbol, Target::Symbol(i)) => layout
                .tls_pair_of_symbol
                .get(i as usize)
                .copied()
                .unwrap_or(NONE),
            (arch::TlsPair::Descriptor, Target::Symbol(i)) => layout
                .tls_desc_of_symbol
                .get(i as usize)
                .copied()
                .unwrap_or(NONE),
            (arch::TlsPair::Descriptor, Target::Section(_)) => {
                return Err(Error::BadRelocation {
                    site: site(object, section, reloc),
                    reason: "a TLS descriptor of a section rather than a symbol".to_string(),
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
        if self.tls.key == 0 || !defined_here {
            return Err(not_defined_here(object, section, reloc));
        }
        if slot == NONE {
            return Err(self.internal("TLS pair missing"));
        }
        Ok(slot)
    }

    /// The address of the stub for a branch that cannot reach S + A;
    /// `None` when the layout made none.
    fn stub_for(&self, reloc: &Relocation, stubs_base: u64) -> Option<u64> {
        let Target::Symbol(i) = reloc.target else {
            return None;
        };
        // The stub jumps to the branch's real target itself.
        let offset = reloc.addend.wrapping_sub(reloc.kind.branch_bias());
        let stub = self.layout.stub_for(i, offset);
        (stub != NONE).then(|| stubs_base + u64::from(stub) * self.layout.stub_size)
    }

    /// Unwind tables go to the process unwinder, which trusts them: check
    /// their structure as relocated (a fixup may land anywhere in them).
    fn check_unwind_tables(&self, allocation: &Allocation) -> Result<()> {
        for (section, place) in self.object.sections.iter().zip(&self.layout.placement) {
            let (SectionKind::Unwind, Some((class, offset))) = (section.kind, *place) else {
                continue;
            };
            let mut writer = SegmentWriter::new(allocation, class);
            let bytes = writer
                .slice(offset, section.size)
                .ok_or_else(|| self.internal(section.name))?;
            super::runtime_info::check_eh_frame(bytes).map_err(|why| Error::MalformedObject {
                object: self.object.name.clone(),
                reason: format!("unwind table `{}`: {why}", section.name),
            })?;
        }
        Ok(())
    }
}

fn not_defined_here(object: &ObjectFile<'_>, section: &Section<'_>, reloc: &Relocation) -> Error {
    Error::BadRelocation {
        site: site(object, section, reloc),
        reason: "the thread-local variable is not defined in this module; \
                 rivet resolves thread-locals within one module only"
            .to_string(),
    }
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
