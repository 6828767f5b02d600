//! The arena (the "llmm" path): one reserved region per engine, sub-allocated
//! per module, so that everything rivet places is within ±2 GiB.
//!
//! The reservation is address space only (`PROT_NONE`, `MAP_NORESERVE`).
//! Each module gets one contiguous block of it, taken first-fit from a free
//! list of granule-aligned ranges kept in address order (the untouched end of
//! the reservation is simply the last free range, so an arena that never
//! releases behaves like a bump allocator). Inside the block every requested
//! class gets its own granule-aligned run, in [`SegmentClass::ALL`] order, so
//! per-class protections never share a page. Only the runs are committed
//! (`mprotect(PROT_READ|PROT_WRITE)`); alignment gaps stay `PROT_NONE`.
//!
//! Releasing a block discards its pages (`madvise(MADV_DONTNEED)`, after which
//! private anonymous pages read as zero), makes it `PROT_NONE` again and puts
//! it back on the free list, merged with free neighbours. A reused block is
//! therefore zero-filled like fresh memory.

use std::collections::{BTreeMap, HashMap};
use std::io;

use super::protect::{self, Mapping};
use super::{
    next_allocation_id, Allocation, MemoryManager, MemoryStats, ModuleLayout, Segment, SegmentClass,
};
use crate::{Error, Result};

/// The largest reservation (2 GiB): any two places in it are within reach of
/// a 32-bit PC-relative displacement.
const MAX_RESERVATION: u64 = Arena::MAX_RESERVATION;

/// How an [`Arena`] is set up.
#[derive(Debug, Clone)]
pub struct ArenaConfig {
    /// Bytes of address space reserved (committed lazily). At most 2 GiB so
    /// that any two places in it reach each other with a 32-bit displacement;
    /// a larger value (or 0) is refused with [`Error::OutOfMemory`], it is
    /// never clamped silently. Rounded up to the page size in use.
    pub reservation: u64,
    /// Page size to lay out with; `None` uses the system's. A larger multiple
    /// of the system page size simulates 16 KiB or 64 KiB page systems. Must
    /// be a power of two no smaller than the system page size.
    pub page_size: Option<usize>,
    /// Optional address to place the reservation near (a hint: the kernel may
    /// put it elsewhere, and nothing already mapped is ever replaced).
    pub hint: Option<u64>,
    /// With `hint`: look for a free range from `hint` up that ends at or
    /// below this address before settling for wherever the kernel puts the
    /// reservation.
    pub below: Option<u64>,
}

/// Bytes an arena reserves by default (address space only; committed lazily).
pub const DEFAULT_RESERVATION: u64 = 256 << 20;

/// Where the arena asks to be placed by default. On x86-64, the low 2 GiB
/// (256 MiB up), so that static small-code-model objects, which hold 32-bit
/// absolute addresses (`R_X86_64_32`, `R_X86_64_32S`), link and run; calls
/// from there into the process's libraries go through stubs. Several engines
/// each find their own free range there. Elsewhere, no preference. A hint
/// only: when the low range is full the reservation goes wherever the kernel
/// puts it, and such objects fail with a range error.
pub const DEFAULT_HINT: Option<u64> = if cfg!(target_arch = "x86_64") {
    Some(0x1000_0000)
} else {
    None
};

impl Default for ArenaConfig {
    fn default() -> Self {
        ArenaConfig {
            reservation: DEFAULT_RESERVATION,
            page_size: None,
            hint: DEFAULT_HINT,
            below: DEFAULT_HINT.map(|_| 1 << 31),
        }
    }
}

/// One class's run inside a block: offsets are from the arena's base.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    /// Offset of the run from the arena's base.
    offset: usize,
    /// Committed bytes (a multiple of the granule); 0 when not requested.
    len: usize,
    /// Bytes requested.
    size: u64,
}

/// A module's block.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Offset of the block from the arena's base.
    offset: usize,
    /// Length of the block, gaps included (a multiple of the granule).
    len: usize,
    /// The runs, indexed by `SegmentClass as usize`.
    runs: [Run; SegmentClass::COUNT],
}

/// Where each class goes relative to a block's start, before a place is found.
struct BlockPlan {
    /// The alignment the block's start needs (granule or more).
    align: usize,
    /// The block's length.
    len: usize,
    /// Runs with offsets relative to the block.
    runs: [Run; SegmentClass::COUNT],
}

/// The arena memory manager.
pub struct Arena {
    /// The reservation, granule-aligned at both ends.
    reservation: Mapping,
    /// The allocation granule (the system page size or the configured one).
    granule: usize,
    /// Free ranges: offset → length, in address order, never adjacent (they
    /// are merged), each a multiple of the granule.
    free: BTreeMap<usize, usize>,
    /// Live blocks by allocation id.
    blocks: HashMap<u64, Block>,
    /// Committed bytes per class.
    committed_by_class: [u64; SegmentClass::COUNT],
    /// Bytes that could not be scrubbed on release and are kept out of use
    /// (only after a failed `madvise` *and* a failed re-map; never expected).
    quarantined: usize,
}

// SAFETY: the arena owns its reservation outright; the raw base pointer is
// only an address into that private mapping, which no other object refers to.
// All mutation goes through `&mut self`, so moving the arena to another thread
// moves the sole owner of the mapping, and the kernel calls it makes
// (mmap/mprotect/madvise/munmap) are valid from any thread.
unsafe impl Send for Arena {}
// SAFETY: `&Arena` only allows reading the arena's own bookkeeping (`stats`);
// nothing is written through the base pointer without `&mut self`.
unsafe impl Sync for Arena {}

fn invalid_input(op: &'static str, message: String) -> Error {
    Error::Memory {
        op,
        source: io::Error::new(io::ErrorKind::InvalidInput, message),
    }
}

impl Arena {
    /// The largest reservation (2 GiB): any two places in it are within reach
    /// of a 32-bit PC-relative displacement.
    pub const MAX_RESERVATION: u64 = 1 << 31;

    /// Reserves the region.
    ///
    /// Fails with [`Error::OutOfMemory`] when `reservation` is 0 or above
    /// [`Arena::MAX_RESERVATION`] or the system refuses the address space, and with
    /// [`Error::Memory`] (`InvalidInput`) when `page_size` is not a power of
    /// two at least as large as the system page.
    pub fn new(config: ArenaConfig) -> Result<Arena> {
        let system_page = protect::page_size();
        let granule = match config.page_size {
            None => system_page,
            Some(size) => {
                if !size.is_power_of_two() || size < system_page {
                    return Err(invalid_input(
                        "Arena::new",
                        format!(
                            "page size {size} is not a power-of-two multiple of the system page size {system_page}"
                        ),
                    ));
                }
                if size as u64 > MAX_RESERVATION {
                    return Err(invalid_input(
                        "Arena::new",
                        format!("page size {size} is larger than the largest reservation ({MAX_RESERVATION} bytes)"),
                    ));
                }
                size
            }
        };
        let requested = config.reservation;
        if requested == 0 || requested > MAX_RESERVATION {
            return Err(Error::OutOfMemory {
                requested,
                reason: format!(
                    "an arena reserves between 1 byte and {MAX_RESERVATION} bytes (2 GiB, the reach of a \
                     32-bit displacement); {requested} bytes were asked for"
                ),
            });
        }
        // Cannot overflow or exceed MAX_RESERVATION: both are multiples of the granule.
        let len = protect::round_up(requested, granule as u64).unwrap_or(MAX_RESERVATION) as usize;
        let hint = config
            .hint
            .and_then(|hint| usize::try_from(hint).ok())
            .map(|hint| hint & !(system_page - 1));
        let below = config.below.and_then(|b| usize::try_from(b).ok());
        let low = match (hint, below) {
            (Some(hint), Some(below)) => probe_below(hint, below, len, granule),
            _ => None,
        };
        let reservation = match low {
            Some(mapping) => Ok(mapping),
            None => protect::map_aligned(hint, len, granule, libc::MAP_NORESERVE),
        }
        .map_err(|source| Error::OutOfMemory {
            requested,
            reason: format!(
                "the system refused to reserve {len} bytes of address space: {} ({source})",
                protect::errno_name(source.raw_os_error().unwrap_or(0))
            ),
        })?;
        let mut free = BTreeMap::new();
        free.insert(0, len);
        Ok(Arena {
            reservation,
            granule,
            free,
            blocks: HashMap::new(),
            committed_by_class: [0; SegmentClass::COUNT],
            quarantined: 0,
        })
    }

    /// The first address of the reservation.
    pub fn base(&self) -> u64 {
        self.reservation.start() as u64
    }

    /// Bytes of address space reserved.
    pub fn reservation_len(&self) -> u64 {
        self.reservation.len as u64
    }

    /// The allocation granule: every segment starts on it and protections are
    /// applied in multiples of it.
    pub fn granule(&self) -> usize {
        self.granule
    }

    /// A pointer to `offset` bytes into the reservation, with its provenance.
    fn pointer(&self, offset: usize) -> *mut u8 {
        self.reservation.base.as_ptr().wrapping_add(offset)
    }

    /// Lays out the classes of `layout` relative to a block's start.
    fn plan(&self, layout: &ModuleLayout) -> Result<BlockPlan> {
        let granule = self.granule as u64;
        let mut runs = [Run::default(); SegmentClass::COUNT];
        let mut cursor: u64 = 0;
        let mut block_align = granule;
        let total_requested = layout
            .segments
            .iter()
            .fold(0u64, |sum, request| sum.saturating_add(request.size));
        let too_big = |what: String| Error::OutOfMemory {
            requested: total_requested,
            reason: format!(
                "{what}; the arena's reservation is {} bytes",
                self.reservation.len
            ),
        };
        for class in SegmentClass::ALL {
            let request = layout.get(class);
            if request.size == 0 {
                continue;
            }
            let align = request.align.max(1);
            if !align.is_power_of_two() {
                return Err(invalid_input(
                    "allocate",
                    format!(
                        "alignment {align} of the {} segment is not a power of two",
                        class.name()
                    ),
                ));
            }
            let align = align.max(granule);
            if align > self.reservation.len as u64 {
                return Err(too_big(format!(
                    "the {} segment asks for alignment {align}",
                    class.name()
                )));
            }
            block_align = block_align.max(align);
            let start = protect::round_up(cursor, align);
            let len = protect::round_up(request.size, granule);
            let end = start
                .zip(len)
                .and_then(|(start, len)| start.checked_add(len));
            let (start, len, end) = match (start, len, end) {
                (Some(start), Some(len), Some(end)) if end <= self.reservation.len as u64 => {
                    (start, len, end)
                }
                _ => {
                    return Err(too_big(format!(
                        "the {} segment of {} bytes does not fit",
                        class.name(),
                        request.size
                    )))
                }
            };
            // All three are at most the reservation's length, a usize.
            runs[class as usize] = Run {
                offset: start as usize,
                len: len as usize,
                size: request.size,
            };
            cursor = end;
        }
        Ok(BlockPlan {
            align: block_align as usize,
            len: cursor as usize,
            runs,
        })
    }

    /// Takes the first free range that fits `len` bytes aligned to `align`;
    /// returns the block's offset.
    fn take_first_fit(&mut self, len: usize, align: usize) -> Option<usize> {
        let base = self.reservation.start();
        let mut found = None;
        for (&offset, &range_len) in &self.free {
            // Alignment is of the absolute address; the base is granule-aligned.
            let Some(aligned) = protect::round_up_usize(base + offset, align) else {
                continue;
            };
            let start = aligned - base;
            let end = start.checked_add(len)?;
            if end <= offset + range_len {
                found = Some((offset, range_len, start, end));
                break;
            }
        }
        let (offset, range_len, start, end) = found?;
        self.free.remove(&offset);
        if start > offset {
            self.free.insert(offset, start - offset);
        }
        if end < offset + range_len {
            self.free.insert(end, offset + range_len - end);
        }
        Some(start)
    }

    /// Puts `[offset, offset + len)` back on the free list, merged with
    /// adjacent free ranges.
    fn give_back(&mut self, mut offset: usize, mut len: usize) {
        if len == 0 {
            return;
        }
        if let Some((&before, &before_len)) = self.free.range(..offset).next_back() {
            if before + before_len == offset {
                self.free.remove(&before);
                offset = before;
                len += before_len;
            }
        }
        if let Some(after_len) = self.free.remove(&(offset + len)) {
            len += after_len;
        }
        self.free.insert(offset, len);
    }

    /// Bytes on the free list, and the largest free range.
    fn free_figures(&self) -> (usize, usize) {
        self.free.values().fold((0, 0), |(total, largest), &len| {
            (total + len, largest.max(len))
        })
    }

    /// Makes a block's memory inaccessible and zero again. Returns false when
    /// it could not be scrubbed (the block must then not be reused).
    fn scrub(&self, offset: usize, len: usize) -> bool {
        let start = self.pointer(offset);
        // SAFETY: the block lies inside our reservation and its allocation is
        // being released, so nothing may use its addresses any more;
        // discarding private anonymous pages makes them read as zero.
        let discarded = unsafe { libc::madvise(start.cast(), len, libc::MADV_DONTNEED) } == 0;
        // SAFETY: as above; PROT_NONE only affects the released block.
        let protected = unsafe { protect::protect(start, len, libc::PROT_NONE) }.is_ok();
        if discarded && protected {
            return true;
        }
        // Fallback: replace the block by a fresh PROT_NONE mapping, which is
        // both inaccessible and zero-filled.
        // SAFETY: MAP_FIXED replaces only [start, start + len), which is part
        // of our own reservation and no longer in use (see above).
        let raw = unsafe {
            libc::mmap(
                start.cast(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        raw == start.cast()
    }
}

impl MemoryManager for Arena {
    fn allocate(&mut self, layout: &ModuleLayout) -> Result<Allocation> {
        let plan = self.plan(layout)?;
        let id = next_allocation_id();
        if plan.len == 0 {
            self.blocks.insert(
                id,
                Block {
                    offset: 0,
                    len: 0,
                    runs: plan.runs,
                },
            );
            return Ok(Allocation {
                id,
                segments: [Segment::EMPTY; SegmentClass::COUNT],
            });
        }
        let Some(offset) = self.take_first_fit(plan.len, plan.align) else {
            let (free, largest) = self.free_figures();
            return Err(Error::OutOfMemory {
                requested: plan.len as u64,
                reason: format!(
                    "the arena's reservation of {} bytes cannot fit a block of {} bytes aligned to {}: \
                     {free} bytes are free, the largest free range is {largest} bytes{}",
                    self.reservation.len,
                    plan.len,
                    plan.align,
                    if self.quarantined > 0 {
                        format!(", {} bytes are quarantined", self.quarantined)
                    } else {
                        String::new()
                    }
                ),
            });
        };
        let mut runs = plan.runs;
        for run in runs.iter_mut().filter(|run| run.len > 0) {
            run.offset += offset;
        }
        let mut segments = [Segment::EMPTY; SegmentClass::COUNT];
        for class in SegmentClass::ALL {
            let run = runs[class as usize];
            if run.len == 0 {
                continue;
            }
            let pointer = self.pointer(run.offset);
            // SAFETY: the run is a granule-aligned range inside our
            // reservation that was just taken off the free list, so no other
            // allocation uses it.
            let committed =
                unsafe { protect::protect(pointer, run.len, libc::PROT_READ | libc::PROT_WRITE) };
            if let Err(error) = committed {
                // Undo: the block goes back whole (scrubbed) to the free list.
                if self.scrub(offset, plan.len) {
                    self.give_back(offset, plan.len);
                } else {
                    self.quarantined += plan.len;
                }
                return Err(match error {
                    Error::Memory { source, .. } if source.raw_os_error() == Some(libc::ENOMEM) => {
                        Error::OutOfMemory {
                            requested: plan.len as u64,
                            reason: format!(
                                "the system refused to commit {} bytes: {source}",
                                run.len
                            ),
                        }
                    }
                    other => other,
                });
            }
            segments[class as usize] = Segment {
                addr: pointer as u64,
                write_ptr: pointer,
                size: run.size,
            };
        }
        for class in SegmentClass::ALL {
            self.committed_by_class[class as usize] += runs[class as usize].len as u64;
        }
        self.blocks.insert(
            id,
            Block {
                offset,
                len: plan.len,
                runs,
            },
        );
        Ok(Allocation { id, segments })
    }

    fn finalize(&mut self, allocation: &Allocation) -> Result<()> {
        let block = self.live_block(allocation)?;
        for class in SegmentClass::ALL {
            let run = block.runs[class as usize];
            if run.len == 0 {
                continue;
            }
            // SAFETY: the run belongs to a live block of this arena; its
            // owner (the linker) is done writing, which is what finalize means.
            unsafe {
                protect::protect(
                    self.pointer(run.offset),
                    run.len,
                    protect::final_protection(class),
                )?
            };
        }
        for class in SegmentClass::ALL
            .into_iter()
            .filter(|class| class.is_executable())
        {
            let run = block.runs[class as usize];
            // SAFETY: the run is mapped and now readable (PROT_READ|PROT_EXEC).
            unsafe { protect::publish_code(self.pointer(run.offset), run.len) };
        }
        Ok(())
    }

    fn release(&mut self, allocation: Allocation) {
        let Ok(block) = self.live_block(&allocation) else {
            // Not ours (or released already): nothing to give back.
            return;
        };
        self.blocks.remove(&allocation.id);
        for class in SegmentClass::ALL {
            self.committed_by_class[class as usize] -= block.runs[class as usize].len as u64;
        }
        if block.len == 0 {
            return;
        }
        if self.scrub(block.offset, block.len) {
            self.give_back(block.offset, block.len);
        } else {
            self.quarantined += block.len;
        }
    }

    fn stats(&self) -> MemoryStats {
        MemoryStats {
            reserved_bytes: self.reservation.len as u64,
            committed_bytes: self.committed_by_class.iter().sum(),
            committed_by_class: self.committed_by_class,
            allocations: self.blocks.len() as u64,
            mappings: 1,
        }
    }
}

impl Arena {
    /// The live block `allocation` describes, if it is one of ours.
    fn live_block(&self, allocation: &Allocation) -> Result<Block> {
        let block = self.blocks.get(&allocation.id).copied();
        let matches = block.is_some_and(|block| {
            SegmentClass::ALL.iter().all(|&class| {
                let run = block.runs[class as usize];
                let segment = allocation.segment(class);
                if run.len == 0 {
                    segment.size == 0
                } else {
                    segment.addr == self.pointer(run.offset) as u64 && segment.size == run.size
                }
            })
        });
        match block {
            Some(block) if matches => Ok(block),
            _ => Err(invalid_input(
                "finalize",
                format!(
                    "allocation {} is not a live allocation of this arena",
                    allocation.id
                ),
            )),
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // Every allocation's addresses die with the arena (the engine drops
        // modules, and the code pointers it handed out, before its memory).
        protect::unmap(&self.reservation);
    }
}

/// Step between the addresses [`probe_below`] tries.
const PROBE_STEP: usize = 64 << 20;

/// Finds a free range of `len` bytes between `hint` and `below`, trying
/// addresses `PROBE_STEP` apart. Never replaces existing memory.
fn probe_below(hint: usize, below: usize, len: usize, granule: usize) -> Option<protect::Mapping> {
    let step = PROBE_STEP.max(granule);
    let mut at = protect::round_up_usize(hint, step)?;
    while at.checked_add(len)? <= below {
        if let Some(mapping) = protect::map_near(at, len) {
            if mapping.start() == at {
                return Some(mapping);
            }
            // The kernel took the address as a plain hint and went elsewhere.
            protect::unmap(&mapping);
        }
        at += step;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_no_writable_executable_mapping, mapping_containing};
    use super::super::{page_size, SegmentRequest};
    use super::*;

    fn layout(sizes: [(u64, u64); SegmentClass::COUNT]) -> ModuleLayout {
        let mut layout = ModuleLayout::default();
        for (request, (size, align)) in layout.segments.iter_mut().zip(sizes) {
            *request = SegmentRequest { size, align };
        }
        layout
    }

    #[test]
    fn default_arenas_find_their_own_low_ranges() {
        // Several engines each get a reservation in the low 2 GiB on x86-64.
        let arenas: Vec<Arena> = (0..3)
            .map(|_| Arena::new(ArenaConfig::default()).expect("reserve"))
            .collect();
        if cfg!(target_arch = "x86_64") {
            for a in &arenas {
                assert!(
                    a.base() + a.reservation_len() <= 1 << 31,
                    "arena at {:#x} not below 2 GiB",
                    a.base()
                );
            }
        }
    }

    fn all_classes() -> ModuleLayout {
        layout([(100, 16), (32, 16), (64, 8), (200, 32), (300, 8)])
    }

    fn small_arena(reservation: u64, page_size: Option<usize>) -> Arena {
        Arena::new(ArenaConfig {
            reservation,
            page_size,
            hint: None,
            below: None,
        })
        .expect("reserve")
    }

    /// Fills every requested segment with a byte pattern.
    fn fill(allocation: &Allocation, byte: u8) {
        for segment in &allocation.segments {
            if segment.size > 0 {
                // SAFETY: (test) the segment is writable until finalize.
                unsafe { std::ptr::write_bytes(segment.write_ptr, byte, segment.size as usize) };
            }
        }
    }

    fn is_zero(segment: &Segment) -> bool {
        // SAFETY: (test) the segment is readable and `size` bytes long.
        let bytes = unsafe { std::slice::from_raw_parts(segment.write_ptr, segment.size as usize) };
        bytes.iter().all(|&b| b == 0)
    }

    #[test]
    fn arena_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Arena>();
    }

    #[test]
    fn allocate_write_finalize_release() {
        let mut arena = Arena::new(ArenaConfig::default()).expect("reserve");
        assert_eq!(arena.stats().reserved_bytes, DEFAULT_RESERVATION);
        let allocation = arena.allocate(&all_classes()).expect("allocate");
        let page = page_size();
        let base = arena.base();
        let mut previous_end = base;
        for class in SegmentClass::ALL {
            let segment = allocation.segment(class);
            assert_eq!(segment.size, all_classes().get(class).size);
            assert_eq!(segment.write_ptr as u64, segment.addr);
            assert_eq!(segment.addr % page as u64, 0, "{class:?} page-aligned");
            // Laid out in class order, adjacent, inside the reservation.
            assert!(segment.addr >= previous_end);
            assert!(segment.addr < base + (1 << 30));
            previous_end = segment.addr + segment.size;
            assert!(is_zero(segment), "{class:?} zeroed");
        }
        // One contiguous block: the module spans 5 pages.
        let text = allocation.segment(SegmentClass::Text).addr;
        let data = allocation.segment(SegmentClass::Data).addr;
        assert_eq!(data - text, 4 * page as u64);
        fill(&allocation, 0xAB);
        arena.finalize(&allocation).expect("finalize");
        // Still readable after finalize.
        // SAFETY: (test) rodata is readable after finalize.
        let first = unsafe { *allocation.segment(SegmentClass::ReadOnly).write_ptr };
        assert_eq!(first, 0xAB);
        // Data stays writable.
        // SAFETY: (test) data is read + write after finalize.
        unsafe { *allocation.segment(SegmentClass::Data).write_ptr = 1 };
        assert_eq!(arena.stats().allocations, 1);
        arena.release(allocation);
        assert_eq!(arena.stats().allocations, 0);
        assert_eq!(arena.stats().committed_bytes, 0);
    }

    #[test]
    fn empty_classes_are_empty_segments() {
        let mut arena = small_arena(1 << 20, None);
        let only_text = layout([(10, 1), (0, 1), (0, 1), (0, 1), (0, 0)]);
        let allocation = arena.allocate(&only_text).expect("allocate");
        for class in &SegmentClass::ALL[1..] {
            assert_eq!(*allocation.segment(*class), Segment::EMPTY);
        }
        assert_eq!(arena.stats().committed_bytes, page_size() as u64);
        arena.finalize(&allocation).expect("finalize");
        arena.release(allocation);

        let nothing = arena
            .allocate(&ModuleLayout::default())
            .expect("empty layout");
        assert!(nothing.segments.iter().all(|s| *s == Segment::EMPTY));
        assert_eq!(arena.stats().allocations, 1);
        arena.finalize(&nothing).expect("finalize nothing");
        arena.release(nothing);
        assert_eq!(arena.stats().allocations, 0);
    }

    #[test]
    fn alignment_is_honoured() {
        let mut arena = Arena::new(ArenaConfig::default()).expect("reserve");
        // A small block first so the next one does not start aligned by luck.
        let filler = arena
            .allocate(&layout([(1, 1), (0, 1), (0, 1), (0, 1), (0, 1)]))
            .expect("filler");
        let aligns = [4096u64, 16384, 1 << 20, 64, 65536];
        let wanted = layout([
            (10, aligns[0]),
            (10, aligns[1]),
            (10, aligns[2]),
            (10, aligns[3]),
            (10, aligns[4]),
        ]);
        let allocation = arena.allocate(&wanted).expect("allocate");
        for (class, align) in SegmentClass::ALL.into_iter().zip(aligns) {
            let addr = allocation.segment(class).addr;
            assert_eq!(addr % align, 0, "{class:?} at {addr:#x} aligned to {align}");
            assert_eq!(addr % page_size() as u64, 0);
        }
        arena.finalize(&allocation).expect("finalize");
        arena.release(allocation);
        arena.release(filler);
    }

    #[test]
    fn released_memory_is_reused_and_zeroed() {
        let mut arena = small_arena(16 << 20, None);
        let wanted = all_classes();
        let first = arena.allocate(&wanted).expect("allocate");
        let addresses: Vec<u64> = first.segments.iter().map(|s| s.addr).collect();
        fill(&first, 0x5A);
        arena.finalize(&first).expect("finalize");
        arena.release(first);

        let second = arena.allocate(&wanted).expect("allocate again");
        let again: Vec<u64> = second.segments.iter().map(|s| s.addr).collect();
        assert_eq!(addresses, again, "the released block comes back");
        for segment in &second.segments {
            assert!(is_zero(segment), "reused memory is zeroed");
            // Writable again before finalize, including former text.
            // SAFETY: (test) every segment is RW until finalize.
            unsafe { *segment.write_ptr = 1 };
        }
        arena.release(second);
    }

    #[test]
    fn free_ranges_coalesce() {
        let page = page_size() as u64;
        let one_page = layout([(page, 1), (0, 1), (0, 1), (0, 1), (0, 1)]);
        let mut arena = small_arena(8 * page, None);
        let allocations: Vec<Allocation> = (0..8)
            .map(|_| arena.allocate(&one_page).expect("page"))
            .collect();
        let first = allocations[0].segment(SegmentClass::Text).addr;
        assert!(arena.allocate(&one_page).is_err(), "full");
        // Release pages 1..7 in an order that needs merging on both sides.
        let mut allocations = allocations.into_iter();
        let kept = allocations.next().expect("first");
        let mut rest: Vec<Allocation> = allocations.collect();
        let last = rest.pop().expect("last");
        let middle = rest.remove(2);
        for allocation in rest {
            arena.release(allocation);
        }
        arena.release(last);
        arena.release(middle);
        assert_eq!(
            arena.free.len(),
            1,
            "one merged free range: {:?}",
            arena.free
        );
        let big = layout([(7 * page, 1), (0, 1), (0, 1), (0, 1), (0, 1)]);
        let allocation = arena.allocate(&big).expect("seven pages fit after merging");
        assert_eq!(allocation.segment(SegmentClass::Text).addr, first + page);
        arena.release(allocation);
        arena.release(kept);
        assert_eq!(arena.free.len(), 1);
        assert_eq!(arena.free.get(&0), Some(&(8 * page as usize)));
    }

    #[test]
    fn protections_after_finalize() {
        let mut arena = Arena::new(ArenaConfig::default()).expect("reserve");
        let allocation = arena.allocate(&all_classes()).expect("allocate");
        fill(&allocation, 0xC3);
        arena.finalize(&allocation).expect("finalize");
        let expected = [
            (SegmentClass::Text, "r-xp"),
            (SegmentClass::Stubs, "r-xp"),
            (SegmentClass::Got, "r--p"),
            (SegmentClass::ReadOnly, "r--p"),
            (SegmentClass::Data, "rw-p"),
        ];
        for (class, perms) in expected {
            let segment = allocation.segment(class);
            let (start, end, actual) = mapping_containing(segment.addr).expect("mapped");
            assert_eq!(actual, perms, "{class:?} at {:#x}", segment.addr);
            assert!(start <= segment.addr && segment.addr + segment.size <= end);
        }
        assert_no_writable_executable_mapping();
        arena.release(allocation);
        let (_, _, perms) = mapping_containing(arena.base()).expect("reservation still mapped");
        assert_eq!(perms, "---p", "released memory is inaccessible");
    }

    #[test]
    fn larger_page_sizes_align_segments() {
        for granule in [16384usize, 65536] {
            let mut arena = small_arena(16 << 20, Some(granule));
            assert_eq!(arena.granule(), granule);
            assert_eq!(arena.base() % granule as u64, 0);
            let allocation = arena.allocate(&all_classes()).expect("allocate");
            let mut previous: Option<u64> = None;
            for segment in &allocation.segments {
                assert_eq!(segment.addr % granule as u64, 0, "aligned to {granule}");
                if let Some(previous) = previous {
                    assert_eq!(
                        segment.addr - previous,
                        granule as u64,
                        "one granule per class"
                    );
                }
                previous = Some(segment.addr);
            }
            let stats = arena.stats();
            assert_eq!(stats.committed_bytes, 5 * granule as u64);
            assert!(stats
                .committed_by_class
                .iter()
                .all(|&c| c == granule as u64));
            fill(&allocation, 0xC3);
            arena.finalize(&allocation).expect("finalize");
            let (_, end, perms) =
                mapping_containing(allocation.segment(SegmentClass::Text).addr).expect("mapped");
            assert_eq!(perms, "r-xp");
            assert!(end >= allocation.segment(SegmentClass::Text).addr + granule as u64);
            arena.release(allocation);
        }
    }

    #[test]
    fn bad_page_sizes_are_refused() {
        let page = page_size();
        for bad in [page / 2, page * 3, 1000, 0] {
            let result = Arena::new(ArenaConfig {
                reservation: 1 << 20,
                page_size: Some(bad),
                hint: None,
                below: None,
            });
            assert!(
                matches!(result, Err(Error::Memory { .. })),
                "page size {bad}"
            );
        }
    }

    #[test]
    fn bad_reservations_are_refused() {
        for bad in [0, MAX_RESERVATION + 1, u64::MAX] {
            let result = Arena::new(ArenaConfig {
                reservation: bad,
                ..ArenaConfig::default()
            });
            assert!(
                matches!(result, Err(Error::OutOfMemory { .. })),
                "reservation {bad}"
            );
        }
        let full = Arena::new(ArenaConfig {
            reservation: MAX_RESERVATION,
            ..ArenaConfig::default()
        })
        .expect("2 GiB is allowed");
        assert_eq!(full.reservation_len(), MAX_RESERVATION);
    }

    #[test]
    fn hint_is_used_when_free() {
        // Find a free spot, give it back, ask for it as a hint. Other tests
        // map memory concurrently and may take the spot in between, so try
        // a few times.
        let placed = (0..8).any(|_| {
            let probe = small_arena(1 << 20, None);
            let spot = probe.base();
            drop(probe);
            let arena = Arena::new(ArenaConfig {
                reservation: 1 << 20,
                page_size: None,
                hint: Some(spot),
                below: None,
            })
            .expect("reserve");
            arena.base() == spot
        });
        assert!(placed, "the hint was never honoured");
    }

    #[test]
    fn out_of_memory_then_recovers() {
        let page = page_size() as u64;
        let mut arena = small_arena(1 << 20, None);
        let half = layout([(600 << 10, 16), (0, 1), (0, 1), (0, 1), (0, 1)]);
        let first = arena.allocate(&half).expect("first fits");
        let error = arena.allocate(&half).expect_err("second does not fit");
        match &error {
            Error::OutOfMemory { requested, reason } => {
                assert_eq!(*requested, round(600 << 10, page));
                assert!(reason.contains(&format!("{}", 1u64 << 20)), "{reason}");
                assert!(reason.contains("free"), "{reason}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert_eq!(arena.stats().allocations, 1);
        arena.release(first);
        let again = arena.allocate(&half).expect("fits after release");
        arena.release(again);

        // Absurd requests are errors, never panics.
        for absurd in [
            layout([(u64::MAX, 1), (0, 1), (0, 1), (0, 1), (0, 1)]),
            layout([(1, 1), (u64::MAX - 4096, 1), (0, 1), (0, 1), (0, 1)]),
            layout([(1, 1 << 63), (0, 1), (0, 1), (0, 1), (0, 1)]),
            layout([
                (u64::MAX / 2, 1),
                (u64::MAX / 2, 1),
                (u64::MAX / 2, 1),
                (0, 1),
                (0, 1),
            ]),
            layout([(2 << 20, 1), (0, 1), (0, 1), (0, 1), (0, 1)]),
        ] {
            let result = arena.allocate(&absurd);
            assert!(
                matches!(result, Err(Error::OutOfMemory { .. })),
                "{absurd:?}: {result:?}"
            );
        }
        let odd = arena.allocate(&layout([(1, 3), (0, 1), (0, 1), (0, 1), (0, 1)]));
        assert!(matches!(odd, Err(Error::Memory { .. })));
        assert_eq!(arena.stats().allocations, 0);
        assert_eq!(arena.stats().committed_bytes, 0);
        let fine = arena.allocate(&all_classes()).expect("still works");
        arena.release(fine);
    }

    fn round(value: u64, align: u64) -> u64 {
        value.div_ceil(align) * align
    }

    #[test]
    fn stats_follow_allocations() {
        let page = page_size() as u64;
        let mut arena = small_arena(16 << 20, None);
        let wanted = layout([(page + 1, 16), (0, 1), (10, 8), (0, 1), (3 * page, 8)]);
        let a = arena.allocate(&wanted).expect("a");
        let b = arena.allocate(&wanted).expect("b");
        let stats = arena.stats();
        assert_eq!(stats.allocations, 2);
        assert_eq!(stats.mappings, 1);
        assert_eq!(stats.reserved_bytes, 16 << 20);
        assert_eq!(
            stats.committed_by_class,
            [4 * page, 0, 2 * page, 0, 6 * page]
        );
        assert_eq!(stats.committed_bytes, 12 * page);
        arena.release(a);
        let stats = arena.stats();
        assert_eq!(stats.allocations, 1);
        assert_eq!(stats.committed_bytes, 6 * page);
        arena.release(b);
        assert_eq!(arena.stats().committed_bytes, 0);
        assert_eq!(arena.stats().allocations, 0);
    }

    #[test]
    fn foreign_or_stale_allocations_are_refused() {
        let mut arena = small_arena(1 << 20, None);
        let mut other = small_arena(1 << 20, None);
        let mine = arena.allocate(&all_classes()).expect("mine");
        let theirs = other.allocate(&all_classes()).expect("theirs");
        assert!(arena.finalize(&theirs).is_err());
        arena.release(theirs);
        assert_eq!(other.stats().allocations, 1);
        assert_eq!(arena.stats().allocations, 1);
        let copy = Allocation {
            id: mine.id,
            segments: mine.segments,
        };
        arena.release(mine);
        assert!(arena.finalize(&copy).is_err(), "released already");
        arena.release(copy);
        assert_eq!(arena.stats().allocations, 0);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn code_runs_after_finalize() {
        let mut arena = Arena::new(ArenaConfig::default()).expect("reserve");
        let wanted = layout([(6, 16), (0, 1), (0, 1), (0, 1), (0, 1)]);
        let allocation = arena.allocate(&wanted).expect("allocate");
        let code = [0xB8, 0x07, 0x00, 0x00, 0x00, 0xC3]; // mov eax, 7 ; ret
        let text = allocation.segment(SegmentClass::Text);
        // SAFETY: (test) text is writable until finalize and 6 bytes long.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), text.write_ptr, code.len()) };
        arena.finalize(&allocation).expect("finalize");
        // SAFETY: (test) text now holds `mov eax, 7; ret` and is executable.
        let function: extern "C" fn() -> u32 =
            unsafe { std::mem::transmute(text.addr as usize as *const u8) };
        assert_eq!(function(), 7);
        assert_no_writable_executable_mapping();
        arena.release(allocation);
    }
}
