//! Where `rivet check` puts each module's segments: as rivet's image does,
//! as JITLink's slab allocator does, or as `llvm-rtdyld -verify` does.
//!
//! rivet's linker keeps each module's sections of one class together in one
//! segment (text, stubs, GOT, read-only data, data); the layouts here move
//! whole segments. The segments that a linker keeps side by side form a
//! [`Block`]: a block starts on a page, its segments follow each other at
//! their alignment, and the next block starts at least a page-rounded block
//! size later.
//!
//! - **jitlink**: each module is a graph, laid out as JITLink's
//!   `BasicLayout` and in-process/slab allocators do: one page-aligned block
//!   per memory protection, in the order read-only, read-write, executable.
//!   Read-only holds read-only data and then the GOT (JITLink's GOT section
//!   is read-only); read-write holds data (for Mach-O also `__const` and the
//!   like, which JITLink maps read-write); executable holds the text and then
//!   the stubs. Modules follow each other in input order.
//! - **rtdyld**: as `llvm-rtdyld` maps sections for `-verify`: first the code
//!   of every module (text with its stubs right after it; for Mach-O and COFF
//!   also the GOT, which RuntimeDyld keeps among the stubs), then the data of
//!   every module (read-only data and data in the order of their first
//!   sections, then an ELF module's `.got`, which RuntimeDyld allocates
//!   last). Each block takes whole pages (RuntimeDyld's memory manager maps
//!   every section separately), and an object's empty text or data section
//!   still takes one page, as RuntimeDyld allocates one byte for it.
//!
//! Under jitlink a block starts on a page; under rtdyld where the pages of
//! the one before end, plus `--target-section-sep`, aligned as its
//! segments need (`llvm-rtdyld` itself does not align, but its default start
//! and sizes are whole pages).
//!
//! A block placed with `--map-section` stays where it is put; the others are
//! placed first-fit from the start address around it, `separation` bytes
//! after each block, as `llvm-rtdyld` does.

use std::collections::BTreeMap;

use rivet::load::{Format, ObjectFile, SectionKind};
use rivet::memory::{ModuleLayout, SegmentClass};

/// Which linker's layout `rivet check` reproduces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// rivet's image: each module's segments in class order (text, stubs,
    /// GOT, read-only data, data), `--target-section-sep` apart.
    #[default]
    Rivet,
    /// JITLink (`llvm-jitlink -noexec`): read-only, read-write, executable,
    /// each page-aligned; stubs after the text.
    Jitlink,
    /// RuntimeDyld (`llvm-rtdyld -verify`): all code, then all data, each
    /// section on its own pages; stubs right after their section.
    Rtdyld,
}

impl Layout {
    /// The layout files written for a check prefix expect, if it is one
    /// of LLVM's.
    pub fn of_prefix(prefix: &str) -> Option<Layout> {
        match prefix {
            "jitlink-check" => Some(Layout::Jitlink),
            "rtdyld-check" => Some(Layout::Rtdyld),
            _ => None,
        }
    }
}

/// The default page size of the jitlink and rtdyld layouts: that of the
/// x86-64 and AArch64 Linux hosts LLVM's linkers are mostly run on.
pub const DEFAULT_PAGE_SIZE: u64 = 0x1000;

/// Segments of one module that move together.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    module: usize,
    /// Each segment: its class, offset from the block's start, and size.
    members: Vec<(SegmentClass, u64, u64)>,
    /// Bytes from the start of the first segment to the end of the last
    /// (at least 1: an empty section still takes a page under rtdyld).
    size: u64,
    /// The alignment of the block's start.
    align: u64,
}

/// The classes of one module in the order of their first loaded section in
/// the object: read-only data and data, the order RuntimeDyld emits them
/// in (and JITLink sorts Mach-O's read-write sections in).
fn data_classes_in_file_order(object: &ObjectFile<'_>) -> Vec<SegmentClass> {
    let mut order = Vec::new();
    for section in &object.sections {
        let class = match section.kind {
            SectionKind::ReadOnly | SectionKind::Unwind => SegmentClass::ReadOnly,
            SectionKind::Data | SectionKind::ZeroFill => SegmentClass::Data,
            _ => continue,
        };
        if !order.contains(&class) {
            order.push(class);
        }
    }
    for class in [SegmentClass::ReadOnly, SegmentClass::Data] {
        if !order.contains(&class) {
            order.push(class);
        }
    }
    order
}

/// Whether the object has a loaded section whose segment is of `class`,
/// empty or not.
fn has_section_of(object: &ObjectFile<'_>, class: SegmentClass) -> bool {
    object.sections.iter().any(|s| match class {
        SegmentClass::Text => s.kind == SectionKind::Text,
        SegmentClass::ReadOnly => matches!(s.kind, SectionKind::ReadOnly | SectionKind::Unwind),
        SegmentClass::Data => matches!(s.kind, SectionKind::Data | SectionKind::ZeroFill),
        _ => false,
    })
}

/// A block of `classes` of `module`, each at its alignment after the one
/// before; `None` when none of them is requested and `keep_empty` is false.
fn block(
    module: usize,
    request: &ModuleLayout,
    classes: &[SegmentClass],
    base_align: u64,
    keep_empty: bool,
) -> Option<Block> {
    let mut members = Vec::new();
    let mut size = 0u64;
    let mut align = base_align.max(1);
    for &class in classes {
        let wanted = request.get(class);
        if wanted.size == 0 {
            continue;
        }
        let member_align = wanted.align.max(1);
        let offset = size.next_multiple_of(member_align);
        members.push((class, offset, wanted.size));
        size = offset + wanted.size;
        align = align.max(member_align);
    }
    if members.is_empty() && !keep_empty {
        return None;
    }
    Some(Block {
        module,
        members,
        size: size.max(1),
        align,
    })
}

/// The blocks of every module, in the order the layout places them.
fn blocks(
    layout: Layout,
    requests: &[ModuleLayout],
    objects: &[ObjectFile<'_>],
    page: u64,
) -> Vec<Block> {
    use SegmentClass::{Data, Got, ReadOnly, Stubs, Text};
    let mut blocks = Vec::new();
    match layout {
        Layout::Rivet => {}
        Layout::Jitlink => {
            for (module, (request, object)) in requests.iter().zip(objects).enumerate() {
                // Mach-O sections that are not code are read-write to JITLink.
                let (read_only, read_write): (&[SegmentClass], Vec<SegmentClass>) =
                    match object.format {
                        Format::MachO => (&[Got], data_classes_in_file_order(object)),
                        _ => (&[ReadOnly, Got], vec![Data]),
                    };
                for classes in [read_only, &read_write, &[Text, Stubs]] {
                    blocks.extend(block(module, request, classes, page, false));
                }
            }
        }
        // RuntimeDyld's sections start where the last one's pages end, plus
        // the separation: aligned only as the segments need.
        Layout::Rtdyld => {
            for (module, (request, object)) in requests.iter().zip(objects).enumerate() {
                let code: &[SegmentClass] = match object.format {
                    Format::Elf => &[Text, Stubs],
                    // Mach-O and COFF GOT entries are stubs to RuntimeDyld.
                    Format::MachO | Format::Coff => &[Text, Stubs, Got],
                };
                // An empty text section still takes a page.
                let has_text = has_section_of(object, Text);
                blocks.extend(block(module, request, code, 1, has_text));
            }
            for (module, (request, object)) in requests.iter().zip(objects).enumerate() {
                for class in data_classes_in_file_order(object) {
                    let keep = has_section_of(object, class);
                    blocks.extend(block(module, request, &[class], 1, keep));
                }
                if object.format == Format::Elf {
                    blocks.extend(block(module, request, &[Got], 1, false));
                }
            }
        }
    }
    blocks
}

/// Where the layout puts every requested segment: (module, class) → address.
///
/// `requests` are the modules' segment requests in module order, `objects`
/// the objects they were planned from, `pinned` the segments
/// `--map-section` placed. Every segment of the result is at an address
/// aligned as requested.
///
/// A pinned segment takes the segments the layout keeps with it along; a
/// second pinned segment of such a group that is not where the first puts
/// it is placed on its own.
///
/// # Errors
///
/// A layout that does not fit below the top of the address space.
pub fn place(
    layout: Layout,
    requests: &[ModuleLayout],
    objects: &[ObjectFile<'_>],
    pinned: &BTreeMap<(usize, SegmentClass), u64>,
    start: u64,
    separation: u64,
    page: u64,
) -> Result<BTreeMap<(usize, SegmentClass), u64>, String> {
    let mut blocks = blocks(layout, requests, objects, page);
    // Each block's start, and the bytes it keeps for itself (whole pages).
    let mut starts: Vec<Option<u64>> = vec![None; blocks.len()];
    let mut taken: Vec<(u64, u64)> = Vec::new();
    let mut placed = BTreeMap::new();
    let span = |block: &Block| block.size.div_ceil(page).saturating_mul(page);
    for (i, block) in blocks.iter_mut().enumerate() {
        // The first pinned segment anchors its block (the others follow
        // it as the layout keeps them); a pinned segment that is not where
        // the anchor puts it leaves the block and stays where it is put.
        let mut on_their_own = Vec::new();
        for &(class, offset, size) in &block.members {
            let Some(&addr) = pinned.get(&(block.module, class)) else {
                continue;
            };
            match starts[i] {
                Some(at) if at.checked_add(offset) == Some(addr) => {}
                Some(_) => on_their_own.push((class, addr, size)),
                None => match addr.checked_sub(offset) {
                    Some(at) => starts[i] = Some(at),
                    None => on_their_own.push((class, addr, size)),
                },
            }
        }
        for &(class, addr, size) in &on_their_own {
            block.members.retain(|member| member.0 != class);
            placed.insert((block.module, class), addr);
            taken.push((addr, addr.saturating_add(size)));
        }
        if let Some(at) = starts[i] {
            taken.push((at, at.saturating_add(span(block))));
        }
    }
    for (i, block) in blocks.iter().enumerate() {
        if starts[i].is_some() {
            continue;
        }
        let at =
            first_fit(&taken, start, span(block), block.align, separation).ok_or_else(|| {
                format!(
                    "the {} layout does not fit below the top of the address space (module {})",
                    layout_name(layout),
                    block.module + 1
                )
            })?;
        starts[i] = Some(at);
        taken.push((at, at + span(block)));
    }
    for (block, at) in blocks.iter().zip(starts) {
        let at = at.unwrap_or(start);
        for &(class, offset, _) in &block.members {
            placed.insert((block.module, class), at.saturating_add(offset));
        }
    }
    Ok(placed)
}

/// The lowest address at or above `start`, aligned to `align`, where `span`
/// bytes and `separation` after them do not meet a taken range.
fn first_fit(
    taken: &[(u64, u64)],
    start: u64,
    span: u64,
    align: u64,
    separation: u64,
) -> Option<u64> {
    let mut ranges = taken.to_vec();
    ranges.sort_unstable();
    let mut at = start.checked_next_multiple_of(align)?;
    for &(from, to) in &ranges {
        let end = at.checked_add(span)?.checked_add(separation)?;
        if end <= from {
            break;
        }
        if to.checked_add(separation)? > at {
            at = to
                .checked_add(separation)?
                .checked_next_multiple_of(align)?;
        }
    }
    at.checked_add(span)?;
    Some(at)
}

/// The option value naming a layout.
pub fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Rivet => "rivet",
        Layout::Jitlink => "jitlink",
        Layout::Rtdyld => "rtdyld",
    }
}

#[cfg(test)]
mod tests;
