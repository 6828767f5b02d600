//! Planning: where each section of an object goes inside its module's
//! segments, and which GOT slots and stubs the module needs.

use super::bounds;
use crate::arch::{self, PropsCache};
use crate::load::{Definition, ObjectFile, Section, SectionKind, Target};
use crate::memory::{ModuleLayout, SegmentClass, SegmentRequest};
use crate::{Error, Result};

/// "No slot" in the per-symbol and per-section slot tables.
pub(crate) const NONE: u32 = u32::MAX;

/// One object's plan.
#[derive(Debug, Default)]
pub(crate) struct ObjectLayout {
    /// Sizes and alignments to ask the memory manager for.
    pub request: ModuleLayout,
    /// For each section of the object: its class and offset in that class's
    /// segment; `None` for sections that are not loaded.
    pub placement: Vec<Option<(SegmentClass, u64)>>,
    /// Common blocks this object provides storage for: (symbol, offset in Data).
    pub commons: Vec<(u32, u64)>,
    /// GOT slot per symbol / per section (`NONE`: no slot).
    pub got_of_symbol: Vec<u32>,
    pub got_of_section: Vec<u32>,
    /// What each GOT slot holds, in slot order: the target's address plus
    /// an offset (0 but for the slots of stubs to a symbol plus an offset).
    pub got_targets: Vec<(Target, i64)>,
    /// Stub per symbol, for branches to the symbol itself (`NONE`: no stub).
    pub stub_of_symbol: Vec<u32>,
    /// Stubs for branches to a symbol plus an offset: (symbol, offset, stub).
    /// Rare, so searched in order.
    pub stub_of_offset: Vec<(u32, i64, u32)>,
    /// What each stub jumps to, in stub order: (symbol, offset from it).
    pub stub_targets: Vec<(u32, i64)>,
    /// The GOT slot each stub jumps through, in stub order: the symbol's own
    /// slot (shared with its GOT loads) for offset 0, else a slot holding
    /// the symbol's address plus the offset.
    pub stub_slots: Vec<u32>,
    pub stub_size: u64,
    /// The module's thread-local block, if it has TLS sections.
    pub tls: Option<TlsBlock>,
    /// TLS GOT pairs: (first slot, what the pair describes); the slots come
    /// after `got_targets`' slots.
    pub tls_pairs: Vec<(u32, TlsPairTarget)>,
    /// The general-dynamic pair of each symbol (`NONE`: none).
    pub tls_pair_of_symbol: Vec<u32>,
    /// The local-dynamic pair of the module (`NONE`: none).
    pub tls_module_pair: u32,
    /// The TLS descriptor of each symbol (`NONE`: none).
    pub tls_desc_of_symbol: Vec<u32>,
    /// Whether a loaded section has a section-relative fixup (COFF
    /// `SECREL`, `SECTION`): only then are symbols' sections recorded.
    pub section_relative: bool,
}

/// What a TLS GOT pair describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsPairTarget {
    /// (module, offset of this symbol in the block).
    Symbol(u32),
    /// (module, 0).
    Module,
    /// (resolver, thread-pointer offset of this symbol): a TLS descriptor.
    Descriptor(u32),
}

/// The layout of a module's thread-local block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsBlock {
    /// Offset of the initial image in the ReadOnly segment.
    pub image_offset: u64,
    /// Bytes of initialized data (the image); the rest of the block is zero.
    pub image_size: u64,
    /// Bytes of the whole block.
    pub size: u64,
    pub align: u64,
    /// Offset of each section in the block (`u64::MAX` for non-TLS sections).
    pub section_offsets: Vec<u64>,
}

impl ObjectLayout {
    /// The stub for a branch to symbol `symbol` plus `offset` (`NONE`: none).
    pub(crate) fn stub_for(&self, symbol: u32, offset: i64) -> u32 {
        if offset == 0 {
            return self
                .stub_of_symbol
                .get(symbol as usize)
                .copied()
                .unwrap_or(NONE);
        }
        self.stub_of_offset
            .iter()
            .find(|&&(s, o, _)| s == symbol && o == offset)
            .map_or(NONE, |&(_, _, stub)| stub)
    }
}

/// `value` rounded up to `align` (a power of two); `None` on overflow.
fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

/// Places `size` bytes aligned to `align` after `end`: (offset, new end).
fn place(end: u64, align: u64, size: u64) -> Option<(u64, u64)> {
    let offset = align_up(end, align)?;
    Some((offset, offset.checked_add(size)?))
}

fn too_big(object: &ObjectFile<'_>) -> Error {
    Error::MalformedObject {
        object: object.name.clone(),
        reason: "its sections' sizes and alignments overflow the address space".to_string(),
    }
}

fn class_of(kind: SectionKind) -> Option<SegmentClass> {
    match kind {
        SectionKind::Text => Some(SegmentClass::Text),
        SectionKind::ReadOnly | SectionKind::Unwind => Some(SegmentClass::ReadOnly),
        SectionKind::Data | SectionKind::ZeroFill | SectionKind::TlvDescriptors => {
            Some(SegmentClass::Data)
        }
        // Thread-local sections are laid out in the TLS block; the image of
        // `.tdata` is placed in ReadOnly by `plan` itself.
        SectionKind::Ignored
        | SectionKind::Debug
        | SectionKind::TlsData
        | SectionKind::TlsZeroFill => None,
    }
}

/// Lays out the thread-local block: initialized sections first (they form
/// the image copied into each thread's block), then zero-filled ones. The
/// image's place in ReadOnly (`image_offset`) is left to the caller.
fn plan_tls(object: &ObjectFile<'_>) -> Result<Option<TlsBlock>> {
    if !object.sections.iter().any(|s| s.kind.is_tls()) {
        return Ok(None);
    }
    let mut offsets = vec![u64::MAX; object.sections.len()];
    let (mut size, mut align, mut image_size) = (0u64, 1u64, 0u64);
    for kind in [SectionKind::TlsData, SectionKind::TlsZeroFill] {
        for (i, section) in object.sections.iter().enumerate() {
            if section.kind == kind {
                let (offset, end) =
                    place(size, section.align, section.size).ok_or_else(|| too_big(object))?;
                offsets[i] = offset;
                size = end;
                align = align.max(section.align);
            }
        }
        if kind == SectionKind::TlsData {
            image_size = size;
        }
    }
    Ok(Some(TlsBlock {
        image_offset: 0,
        image_size,
        size,
        align,
        section_offsets: offsets,
    }))
}

/// See [`plan`]: the most bytes a module and its memory manager's span may
/// each have for GOT loads to be relaxed (half of the ±2 GiB reach).
const RELAX_SPAN: u64 = 1 << 30;

/// Plans `object`. `commons` lists the common blocks whose storage this
/// object provides, with the size and alignment agreed across the link:
/// (symbol, size, alignment).
/// `owns_symbol(i)` says whether the object's own definition of symbol `i`
/// is the one its references bind to (else the target may be anywhere, and a
/// branch to it gets a stub reserved).
/// `imports` lists the symbols that are pointer slots (COFF `__imp_`): each
/// gets a GOT slot, which the symbol's address is.
/// `module_span` is the memory manager's [`MemoryManager::module_span`]:
/// with one of at most [`RELAX_SPAN`], x86-64 GOT accesses (`mov`, `call`,
/// `jmp` through a `GOTPCRELX` slot) of the object's own symbols get no
/// slot: the relocation pass is sure to rewrite them into direct
/// references. Every other GOT access keeps its slot here; the relocation
/// pass may still relax it once the final addresses are known.
/// A branch's stub jumps through a GOT slot, which it reserves: the
/// target's own slot (shared with its GOT loads), or one holding the target
/// plus the branch's offset.
///
/// [`MemoryManager::module_span`]: crate::memory::MemoryManager::module_span
pub(crate) fn plan(
    object: &ObjectFile<'_>,
    commons: &[(u32, u64, u64)],
    imports: &[u32],
    owns_symbol: impl Fn(usize) -> bool,
    module_span: Option<u64>,
) -> Result<ObjectLayout> {
    let geometry = arch::geometry(object.arch);
    let mut layout = ObjectLayout::empty(object, geometry.stub_size);
    layout.place_sections(object)?;
    layout.place_tls(object)?;
    layout.place_commons(object, commons)?;
    let relax = layout.may_relax_got_loads(module_span);
    for &i in imports {
        layout.reserve_got_slot(Target::Symbol(i));
    }
    let needs_got_base = layout.reserve_for_relocations(object, relax, owns_symbol);
    layout.number_tls_pairs();
    layout.request_got_and_stubs(needs_got_base, geometry);
    Ok(layout)
}

impl ObjectLayout {
    /// A layout of `object` with nothing placed or reserved yet.
    fn empty(object: &ObjectFile<'_>, stub_size: u64) -> ObjectLayout {
        let mut request = ModuleLayout::default();
        for seg in &mut request.segments {
            seg.align = 1;
        }
        let symbols = object.symbols.len();
        ObjectLayout {
            request,
            placement: Vec::with_capacity(object.sections.len()),
            commons: Vec::new(),
            got_of_symbol: vec![NONE; symbols],
            got_of_section: vec![NONE; object.sections.len()],
            got_targets: Vec::new(),
            stub_of_symbol: vec![NONE; symbols],
            stub_of_offset: Vec::new(),
            stub_targets: Vec::new(),
            stub_slots: Vec::new(),
            stub_size,
            tls: None,
            tls_pairs: Vec::new(),
            // Sized on the first pair: most objects have none.
            tls_pair_of_symbol: Vec::new(),
            tls_module_pair: NONE,
            tls_desc_of_symbol: Vec::new(),
            section_relative: false,
        }
    }

    /// Places each loaded section in its class's segment, in object order
    /// but for sections of one name that bound symbols can span, which are
    /// kept together ([`bounds::placement_order`]).
    fn place_sections(&mut self, object: &ObjectFile<'_>) -> Result<()> {
        self.placement = vec![None; object.sections.len()];
        for i in bounds::placement_order(object) {
            let section = &object.sections[i];
            let Some(class) = class_of(section.kind) else {
                continue;
            };
            let seg = self.request.get_mut(class);
            // Unwind tables get a zero terminator after them, as a static
            // linker's crtend would add, so the unwinder can walk them.
            let terminator = if section.kind == SectionKind::Unwind {
                4
            } else {
                0
            };
            let (offset, end) = section
                .size
                .checked_add(terminator)
                .and_then(|len| place(seg.size, section.align, len))
                .ok_or_else(|| too_big(object))?;
            seg.size = end;
            seg.align = seg.align.max(section.align);
            self.placement[i] = Some((class, offset));
        }
        Ok(())
    }

    /// Lays out the thread-local block, and places its initial image in
    /// ReadOnly (where `.tdata` sections are then found).
    fn place_tls(&mut self, object: &ObjectFile<'_>) -> Result<()> {
        let Some(mut block) = plan_tls(object)? else {
            return Ok(());
        };
        let seg = self.request.get_mut(SegmentClass::ReadOnly);
        let (image_offset, end) =
            place(seg.size, block.align, block.image_size).ok_or_else(|| too_big(object))?;
        seg.size = end;
        seg.align = seg.align.max(block.align);
        for (i, section) in object.sections.iter().enumerate() {
            if section.kind == SectionKind::TlsData {
                self.placement[i] = Some((
                    SegmentClass::ReadOnly,
                    image_offset + block.section_offsets[i],
                ));
            }
        }
        block.image_offset = image_offset;
        self.tls = Some(block);
        Ok(())
    }

    /// Places the common blocks this object provides storage for in Data.
    fn place_commons(
        &mut self,
        object: &ObjectFile<'_>,
        commons: &[(u32, u64, u64)],
    ) -> Result<()> {
        self.commons.reserve(commons.len());
        for &(symbol, size, align) in commons {
            let seg = self.request.get_mut(SegmentClass::Data);
            let (offset, end) = align
                .max(1)
                .checked_next_power_of_two()
                .and_then(|align| place(seg.size, align, size).map(|p| (p, align)))
                .map(|((offset, end), align)| {
                    seg.align = seg.align.max(align);
                    (offset, end)
                })
                .ok_or_else(|| too_big(object))?;
            seg.size = end;
            self.commons.push((symbol, offset));
        }
        Ok(())
    }

    /// GOT loads of the module's own symbols can address them directly when
    /// the whole module is sure to lie within ±2 GiB of itself: its memory
    /// manager keeps a module within `module_span` bytes, and the module is
    /// not larger than that bound either. Half of the ±2 GiB each keeps the
    /// sum (with GOT and stubs) in reach.
    fn may_relax_got_loads(&self, module_span: Option<u64>) -> bool {
        let within = |bytes: u64| bytes <= RELAX_SPAN;
        let sections_bytes = self.request.segments.iter().fold(0u64, |sum, seg| {
            sum.saturating_add(seg.size).saturating_add(seg.align)
        });
        module_span.is_some_and(within) && within(sections_bytes)
    }

    /// A GOT slot for `target`, unless it has one; returns it (`NONE` for
    /// a target out of the tables' range).
    fn reserve_got_slot(&mut self, target: Target) -> u32 {
        let slot = match target {
            Target::Symbol(i) => self.got_of_symbol.get_mut(i as usize),
            Target::Section(i) => self.got_of_section.get_mut(i as usize),
        };
        match slot {
            Some(slot) => {
                if *slot == NONE {
                    *slot = self.got_targets.len() as u32;
                    self.got_targets.push((target, 0));
                }
                *slot
            }
            None => NONE,
        }
    }

    /// A TLS pair of kind `pair` for `target`, unless it has one. A
    /// descriptor of a section gets none: it is refused when applied.
    fn reserve_tls_pair(&mut self, pair: arch::TlsPair, target: Target, symbols: usize) {
        /// Symbol `i`'s entry in a per-symbol table, the table sized on
        /// first use.
        fn entry(table: &mut Vec<u32>, symbols: usize, i: u32) -> Option<&mut u32> {
            if table.is_empty() {
                *table = vec![NONE; symbols];
            }
            table.get_mut(i as usize)
        }
        let next = self.tls_pairs.len() as u32;
        let (index, what) = match (pair, target) {
            (arch::TlsPair::Symbol, Target::Symbol(i)) => (
                entry(&mut self.tls_pair_of_symbol, symbols, i),
                TlsPairTarget::Symbol(i),
            ),
            (arch::TlsPair::Descriptor, Target::Symbol(i)) => (
                entry(&mut self.tls_desc_of_symbol, symbols, i),
                TlsPairTarget::Descriptor(i),
            ),
            (arch::TlsPair::Descriptor, Target::Section(_)) => return,
            _ => (Some(&mut self.tls_module_pair), TlsPairTarget::Module),
        };
        if let Some(index) = index {
            if *index == NONE {
                *index = next;
                self.tls_pairs.push((0, what));
            }
        }
    }

    /// A stub for a branch to symbol `symbol` plus `offset`, unless it has
    /// one, with the GOT slot it jumps through: the symbol's own slot for
    /// offset 0, else a slot of its own holding the symbol's address plus
    /// the offset.
    fn reserve_stub(&mut self, symbol: u32, offset: i64) {
        let next = self.stub_targets.len() as u32;
        if offset == 0 {
            let Some(&NONE) = self.stub_of_symbol.get(symbol as usize) else {
                return;
            };
            let slot = self.reserve_got_slot(Target::Symbol(symbol));
            self.stub_of_symbol[symbol as usize] = next;
            self.stub_targets.push((symbol, 0));
            self.stub_slots.push(slot);
        } else if !self
            .stub_of_offset
            .iter()
            .any(|&(s, o, _)| s == symbol && o == offset)
        {
            let slot = self.got_targets.len() as u32;
            self.got_targets.push((Target::Symbol(symbol), offset));
            self.stub_of_offset.push((symbol, offset, next));
            self.stub_targets.push((symbol, offset));
            self.stub_slots.push(slot);
        }
    }

    /// Reserves the GOT slots, TLS pairs and stubs the object's fixups
    /// need; returns whether one of them needs the GOT's base.
    fn reserve_for_relocations(
        &mut self,
        object: &ObjectFile<'_>,
        relax: bool,
        owns_symbol: impl Fn(usize) -> bool,
    ) -> bool {
        let relaxable = |kind: arch::RelocKind, target: Target, section: &Section<'_>, at: u64| {
            let Target::Symbol(i) = target else {
                return false;
            };
            relax
                && usize::try_from(at).is_ok_and(|at| kind.can_relax_got_load(section.data, at))
                && owns_symbol(i as usize)
                && object.symbols.get(i as usize).is_some_and(|s| {
                    // Not a thread-local: the pass never relaxes those.
                    matches!(s.definition, Definition::Section { section, .. }
                        if object.sections.get(section as usize).is_some_and(|x| !x.kind.is_tls()))
                })
        };
        let mut needs_got_base = false;
        let mut props_cache = PropsCache::default();
        // Debug sections' fixups only ever name addresses (they are relocated
        // apart, in `debug_sections`): they need no GOT slot, stub or TLS pair.
        for section in object
            .sections
            .iter()
            .filter(|s| s.kind != SectionKind::Debug)
        {
            for reloc in &section.relocations {
                let kind = reloc.kind;
                let props = props_cache.get(kind);
                if let Some(pair) = props.tls {
                    self.reserve_tls_pair(pair, reloc.target, object.symbols.len());
                }
                self.section_relative |= props.section_relative;
                if props.got_slot && !relaxable(kind, reloc.target, section, reloc.offset) {
                    self.reserve_got_slot(reloc.target);
                }
                needs_got_base |= props.got_base;
                // Branches only: the symbol's record is a random access.
                let (true, Target::Symbol(i)) = (props.branch, reloc.target) else {
                    continue;
                };
                let far = object
                    .symbols
                    .get(i as usize)
                    .is_some_and(|s| s.is_external() && !owns_symbol(i as usize));
                if far {
                    // A stub jumps to the branch's real target, S + A - bias.
                    self.reserve_stub(i, reloc.addend.wrapping_sub(kind.branch_bias()));
                }
            }
        }
        needs_got_base
    }

    /// TLS pairs take two slots each, after the ordinary ones; the index
    /// tables then hold each pair's first slot.
    fn number_tls_pairs(&mut self) {
        let first_pair_slot = self.got_targets.len() as u32;
        for (k, pair) in self.tls_pairs.iter_mut().enumerate() {
            pair.0 = first_pair_slot + 2 * k as u32;
        }
        let tables = self
            .tls_pair_of_symbol
            .iter_mut()
            .chain(&mut self.tls_desc_of_symbol)
            .chain(std::iter::once(&mut self.tls_module_pair));
        for pair in tables.filter(|p| **p != NONE) {
            *pair = first_pair_slot + 2 * *pair;
        }
    }

    /// Asks for the GOT and stub segments the reservations need.
    fn request_got_and_stubs(&mut self, needs_got_base: bool, geometry: arch::StubGeometry) {
        let slot_size = geometry.got_slot_size;
        let slots = self.got_targets.len() as u64 + 2 * self.tls_pairs.len() as u64;
        if slots > 0 || needs_got_base {
            // A GOT base must be a real address even when no slot is used.
            *self.request.get_mut(SegmentClass::Got) = SegmentRequest {
                size: slots.max(1) * slot_size,
                align: slot_size,
            };
        }
        if !self.stub_targets.is_empty() {
            *self.request.get_mut(SegmentClass::Stubs) = SegmentRequest {
                size: self.stub_targets.len() as u64 * geometry.stub_size,
                align: geometry.stub_align,
            };
        }
    }
}
