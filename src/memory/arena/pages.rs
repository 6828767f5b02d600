//! One region of the arena in page mode ([`ArenaMode::Pages`]): each module
//! gets one contiguous block of the region, and inside it every requested
//! class its own granule-aligned run, so per-class protections never share
//! a page.
//!
//! The region is address space only (`PROT_NONE`, `MAP_NORESERVE`). Blocks
//! are taken first-fit from a free list in address order (the untouched end
//! of the region is the last free range, so a region that never releases is
//! a bump allocator). Only the runs are committed
//! (`mprotect(PROT_READ|PROT_WRITE)`); alignment gaps stay `PROT_NONE`. At
//! finalize each run gets its class's final protection with `mprotect`.
//!
//! Releasing a block replaces it by fresh reserved address space (a new
//! `PROT_NONE` mapping over it, which frees its pages) and puts it back on
//! the free list, merged with free neighbours, so a reused block is
//! zero-filled like fresh memory.
//!
//! [`ArenaMode::Pages`]: super::ArenaMode::Pages

use std::collections::HashMap;

use super::free_list::FreeList;
use super::{Placed, Region};
use crate::memory::sys::{self, Mapping};
use crate::memory::{AllocationStats, ModuleLayout, Segment, SegmentClass};
use crate::{Error, Result};

/// One class's run inside a block: offsets are from the region's base.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    /// Offset of the run from the region's base (from the block's start
    /// while planning).
    offset: usize,
    /// Committed bytes (a multiple of the granule); 0 when not requested.
    len: usize,
    /// Bytes requested.
    size: u64,
}

/// Where each class goes relative to a block's start, before a place is found.
#[derive(Debug, Clone, Copy)]
struct BlockPlan {
    /// The alignment the block's start needs (granule or more).
    align: usize,
    /// The block's length, gaps included.
    len: usize,
    /// Bytes the block commits (the runs' lengths).
    committed: usize,
    /// Runs with offsets relative to the block.
    runs: [Run; SegmentClass::COUNT],
}

impl BlockPlan {
    /// Lays out the classes of `layout` one after the other, each on its own
    /// granules. The caller has checked sizes and alignments (powers of two,
    /// each at most the largest region), so nothing here overflows a `u64`.
    fn new(layout: &ModuleLayout, granule: usize) -> BlockPlan {
        let granule = granule as u64;
        let mut runs = [Run::default(); SegmentClass::COUNT];
        let mut cursor: u64 = 0;
        let mut block_align = granule;
        let mut committed = 0;
        for class in SegmentClass::ALL {
            let request = layout.get(class);
            if request.size == 0 {
                continue;
            }
            let align = request.align.max(granule);
            block_align = block_align.max(align);
            let start = cursor.next_multiple_of(align);
            let len = request.size.next_multiple_of(granule);
            runs[class as usize] = Run {
                offset: start as usize,
                len: len as usize,
                size: request.size,
            };
            committed += len;
            cursor = start + len;
        }
        BlockPlan {
            align: block_align as usize,
            len: cursor as usize,
            committed: committed as usize,
            runs,
        }
    }

    /// Bytes a fresh region needs to hold this block wherever its start falls.
    fn region_len(&self, granule: usize) -> u64 {
        (self.len as u64) + (self.align - granule.min(self.align)) as u64
    }
}

/// A module's block.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Offset of the block from the region's base.
    offset: usize,
    /// Length of the block, gaps included (a multiple of the granule).
    len: usize,
    /// The runs, indexed by `SegmentClass as usize`.
    runs: [Run; SegmentClass::COUNT],
    /// Whether the runs have their final protections (else read + write).
    finalized: bool,
}

/// A page-mode region.
pub(super) struct PagesRegion {
    /// The reservation, granule-aligned at both ends.
    reservation: Mapping,
    /// The allocation granule.
    granule: usize,
    /// Unused ranges of the reservation.
    free: FreeList,
    /// Live blocks by allocation id.
    blocks: HashMap<u64, Block>,
    /// Committed bytes per class.
    committed_by_class: [u64; SegmentClass::COUNT],
    /// Bytes of live segments.
    live_bytes: u64,
    /// Bytes that could not be scrubbed on release and are kept out of use
    /// (only after a failed `madvise` *and* a failed re-map; never expected).
    quarantined: usize,
    /// Test hook ([`ArenaConfig::simulate_exec_refusal`]): finalize fails
    /// as a system that forbids executable anonymous memory would.
    ///
    /// [`ArenaConfig::simulate_exec_refusal`]: super::ArenaConfig::simulate_exec_refusal
    refuse_exec: bool,
}

impl PagesRegion {
    /// A region over `reservation` (granule-aligned, `PROT_NONE`);
    /// `refuse_exec` simulates a system that forbids executable anonymous
    /// memory (tests).
    pub(super) fn new(reservation: Mapping, granule: usize, refuse_exec: bool) -> PagesRegion {
        PagesRegion {
            free: FreeList::with_range(0, reservation.len),
            reservation,
            granule,
            blocks: HashMap::new(),
            committed_by_class: [0; SegmentClass::COUNT],
            live_bytes: 0,
            quarantined: 0,
            refuse_exec,
        }
    }

    /// Bytes a fresh region needs to hold `layout` wherever its block falls.
    pub(super) fn region_len(layout: &ModuleLayout, granule: usize) -> u64 {
        BlockPlan::new(layout, granule).region_len(granule)
    }

    /// A pointer to `offset` bytes into the reservation, with its provenance.
    fn pointer(&self, offset: usize) -> *mut u8 {
        self.reservation.base.as_ptr().wrapping_add(offset)
    }

    /// Places `plan` for allocation `id`: `Ok(None)` when the region has no
    /// room for it.
    fn place(
        &mut self,
        id: u64,
        plan: &BlockPlan,
    ) -> Result<Option<[Segment; SegmentClass::COUNT]>> {
        let Some(offset) = self
            .free
            .take_first_fit(self.reservation.start(), plan.len, plan.align)
        else {
            return Ok(None);
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
                unsafe { sys::protect(pointer, run.len, libc::PROT_READ | libc::PROT_WRITE) };
            if let Err(error) = committed {
                // Undo: the block goes back whole (scrubbed) to the free list.
                self.scrub_and_free(offset, plan.len);
                return Err(match error {
                    Error::Memory { source, .. } if source.raw_os_error() == Some(libc::ENOMEM) => {
                        Error::OutOfMemory {
                            requested: plan.committed as u64,
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
            let run = runs[class as usize];
            self.committed_by_class[class as usize] += run.len as u64;
            self.live_bytes += run.size;
        }
        self.blocks.insert(
            id,
            Block {
                offset,
                len: plan.len,
                runs,
                finalized: false,
            },
        );
        Ok(Some(segments))
    }

    /// Scrubs a block and puts it on the free list (or in quarantine when it
    /// could not be scrubbed).
    fn scrub_and_free(&mut self, offset: usize, len: usize) {
        if len == 0 {
            return;
        }
        if self.scrub(offset, len) {
            self.free.give_back(offset, len);
        } else {
            self.quarantined += len;
        }
    }

    /// Makes a block's memory inaccessible and zero again. Returns false when
    /// it could not be scrubbed (the block must then not be reused).
    ///
    /// The block is replaced by a fresh `PROT_NONE`, `MAP_NORESERVE` mapping:
    /// one system call that frees the pages, makes them read as zero when
    /// committed again, and leaves an area with the same flags as the rest
    /// of the reservation, which the kernel merges with its free neighbours.
    fn scrub(&self, offset: usize, len: usize) -> bool {
        let start = self.pointer(offset);
        // SAFETY: the block lies inside our reservation and its allocation is
        // being released, so nothing may use its addresses any more.
        if unsafe { sys::map_none_fixed(start, len) }.is_ok() {
            return true;
        }
        // Fallback: discard the pages (private anonymous pages then read as
        // zero) and make them inaccessible.
        // SAFETY: as above.
        let discarded = unsafe { sys::discard(start, len) }.is_ok();
        // SAFETY: as above; PROT_NONE only affects the released block.
        let protected = unsafe { sys::protect(start, len, libc::PROT_NONE) }.is_ok();
        discarded && protected
    }
}

impl Region for PagesRegion {
    fn reservation(&self) -> &Mapping {
        &self.reservation
    }

    fn memory_file(&self) -> Option<u64> {
        None
    }

    /// The block's runs are all fresh pages: over the cap when they are
    /// more than `room`.
    fn allocate(&mut self, id: u64, layout: &ModuleLayout, room: Option<u64>) -> Result<Placed> {
        let plan = BlockPlan::new(layout, self.granule);
        if room.is_some_and(|room| plan.committed as u64 > room) {
            return Ok(Placed::OverCap {
                needed: plan.committed as u64,
            });
        }
        Ok(match self.place(id, &plan)? {
            Some(segments) => Placed::Segments(segments),
            None => Placed::NoRoom,
        })
    }

    /// Whether `segments` are exactly those of live allocation `id`.
    fn owns(&self, id: u64, segments: &[Segment; SegmentClass::COUNT]) -> bool {
        self.blocks.get(&id).is_some_and(|block| {
            SegmentClass::ALL.iter().all(|&class| {
                let run = block.runs[class as usize];
                let segment = segments[class as usize];
                if run.len == 0 {
                    segment.size == 0
                } else {
                    segment.addr == self.pointer(run.offset) as u64 && segment.size == run.size
                }
            })
        })
    }

    /// Gives each run its class's final protection with `mprotect`, then
    /// publishes the code.
    fn finalize(&mut self, id: u64) -> Result<()> {
        let Some(block) = self.blocks.get(&id).copied() else {
            return Ok(());
        };
        for class in SegmentClass::ALL {
            let run = block.runs[class as usize];
            if run.len == 0 {
                continue;
            }
            let prot = sys::final_protection(class);
            if self.refuse_exec && prot & libc::PROT_EXEC != 0 {
                return Err(Error::JitExecutionRefused {
                    reason: "mprotect(PROT_EXEC) of anonymous memory refused (simulated)".into(),
                });
            }
            // SAFETY: the run belongs to a live block of this region; its
            // owner (the linker) is done writing, which is what finalize means.
            unsafe { sys::protect(self.pointer(run.offset), run.len, prot)? };
        }
        for class in SegmentClass::ALL
            .into_iter()
            .filter(|class| class.is_executable())
        {
            let run = block.runs[class as usize];
            // SAFETY: the run is mapped and now readable (PROT_READ|PROT_EXEC).
            unsafe { sys::publish_code(self.pointer(run.offset), run.len) };
        }
        if let Some(block) = self.blocks.get_mut(&id) {
            block.finalized = true;
        }
        Ok(())
    }

    /// Gives back live allocation `id`.
    fn release(&mut self, id: u64) {
        let Some(block) = self.blocks.remove(&id) else {
            return;
        };
        for class in SegmentClass::ALL {
            let run = block.runs[class as usize];
            self.committed_by_class[class as usize] -= run.len as u64;
            self.live_bytes -= run.size;
        }
        self.scrub_and_free(block.offset, block.len);
    }

    /// Figures of live allocation `id`.
    fn allocation_stats(&self, id: u64) -> Option<AllocationStats> {
        let block = self.blocks.get(&id)?;
        let mut stats = AllocationStats::default();
        for class in SegmentClass::ALL {
            let run = block.runs[class as usize];
            let i = class as usize;
            stats.bytes_by_class[i] = run.size;
            stats.pages_by_class[i] = run.len as u64;
            stats.exclusive_by_class[i] = run.len as u64;
        }
        Some(stats)
    }

    /// Live allocations.
    fn allocations(&self) -> usize {
        self.blocks.len()
    }

    /// Committed bytes per class.
    fn committed_by_class(&self) -> [u64; SegmentClass::COUNT] {
        self.committed_by_class
    }

    /// Bytes of live segments.
    fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// The free list (fragmentation figures).
    fn free(&self) -> &FreeList {
        &self.free
    }

    /// Bytes kept out of use after a failed scrub.
    fn quarantined(&self) -> usize {
        self.quarantined
    }

    /// Entries of `/proc/self/maps` the region occupies.
    fn areas(&self) -> u64 {
        let mut pieces: Vec<(usize, usize, libc::c_int)> = Vec::new();
        for block in self.blocks.values() {
            for class in SegmentClass::ALL {
                let run = block.runs[class as usize];
                if run.len == 0 {
                    continue;
                }
                let prot = if block.finalized {
                    sys::final_protection(class)
                } else {
                    libc::PROT_READ | libc::PROT_WRITE
                };
                pieces.push((run.offset, run.len, prot));
            }
        }
        pieces.sort_unstable_by_key(|piece| piece.0);
        sys::count_areas(self.reservation.len, libc::PROT_NONE, pieces)
    }

    /// Page mode gives each class exactly the runs it commits.
    fn reserved_by_class(&self) -> [u64; SegmentClass::COUNT] {
        self.committed_by_class
    }
}

impl Drop for PagesRegion {
    fn drop(&mut self) {
        // Every allocation's addresses die with the arena (the engine drops
        // modules, and the code pointers it handed out, before its memory).
        sys::unmap(&self.reservation);
    }
}

/// Makes the first granule of a new region's `reservation` executable and
/// back, to learn whether the system allows executable anonymous memory.
/// `Err` carries the refusal's `errno`.
pub(super) fn probe_exec(reservation: &Mapping, granule: usize) -> std::io::Result<()> {
    let start = reservation.base.as_ptr();
    // SAFETY: the first granule is part of the reservation and unused (the
    // region is new); PROT_READ|PROT_EXEC of untouched memory runs nothing,
    // and it is made PROT_NONE again right after.
    let outcome = unsafe { sys::protect(start, granule, libc::PROT_READ | libc::PROT_EXEC) };
    // SAFETY: as above.
    let _ = unsafe { sys::protect(start, granule, libc::PROT_NONE) };
    outcome.map_err(|error| match error {
        Error::Memory { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    })
}
