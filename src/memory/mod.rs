//! Where linked code and data live.
//!
//! The linker asks a [`MemoryManager`] for a whole module's memory at once,
//! as one [`ModuleLayout`] of sizes and alignments per [`SegmentClass`]. It
//! writes through each [`Segment`]'s `write_ptr` and computes addresses from
//! its `addr` (the two differ under dual mapping, and in phony-address mode
//! where nothing runs). Then it calls [`MemoryManager::finalize`], which
//! applies the final protections: no page is ever writable and executable at
//! the same address.
//!
//! Built in: the [`Arena`] (regions sub-allocated per module, dual-mapped
//! and packed or page mode, see [`ArenaMode`]; `arena/`), the per-section
//! [`SectionsManager`], and the [`Image`] manager, which places modules at
//! addresses the caller chooses in heap buffers, for linking without
//! running. An embedder may supply its own [`MemoryManager`].
//!
//! Every call into the operating system (mapping, protection, memory
//! files, barriers, cache maintenance) is in `sys.rs`. [`HostPages`]
//! (`standalone_pages.rs`) are pages outside every manager, for thunks and
//! an emulator's stack.

mod arena;
mod image;
mod sections;
mod standalone_pages;
mod sys;

pub use arena::{
    Arena, ArenaConfig, ArenaMode, RegionInfo, DEFAULT_HINT, DEFAULT_MAX_REGIONS, DEFAULT_MODE,
    DEFAULT_RESERVATION,
};
pub use image::{Image, ImageConfig, PlacedSegment};
pub use sections::{SectionsConfig, SectionsManager};
pub use standalone_pages::HostPages;
pub use sys::{check_jit_execution, page_size};

use crate::Result;

/// A fresh allocation id, unique in the process, so that an [`Allocation`]
/// handed to the wrong manager (or released twice) is recognised as foreign.
fn next_allocation_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The most bytes an [`Image`] (the manager `rivet check` links into) holds
/// in heap buffers at once. Segment sizes come from
/// the objects being linked, which may ask for terabytes of zero-fill; past
/// this a request is [`Error::OutOfMemory`](crate::Error::OutOfMemory), and
/// below it the buffer is allocated fallibly, so a refusal of the system is
/// the same error, never an abort.
pub const HEAP_IMAGE_LIMIT: u64 = 1 << 30;

/// A zero-filled heap buffer of exactly `len` bytes (capacity `len`), or
/// `None` when the allocator refuses. Zeroed memory comes from the
/// allocator (`calloc`), so large buffers are not written here.
pub(crate) fn try_zeroed_bytes(len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout
    // of `len` bytes of alignment 1 (what `Vec<u8>` uses for capacity
    // `len`), and all `len` bytes are initialized (zero).
    Some(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

/// The error for a heap-backed segment of `class` that the limit or the
/// allocator refuses: `held` bytes are already in use.
pub(crate) fn heap_segment_refused(
    manager: &str,
    class: SegmentClass,
    size: u64,
    held: u64,
) -> crate::Error {
    let reason = if held.saturating_add(size) > HEAP_IMAGE_LIMIT {
        format!(
            "the {} segment of {size} bytes would take {manager} past its limit of \
             {HEAP_IMAGE_LIMIT} bytes of heap buffers ({held} bytes already held)",
            class.name()
        )
    } else {
        format!(
            "the system refused a heap buffer of {size} bytes for the {} segment of {manager}",
            class.name()
        )
    };
    crate::Error::OutOfMemory {
        requested: size,
        reason,
    }
}

/// What a segment holds, which decides its final protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentClass {
    /// Machine code: read + execute.
    Text = 0,
    /// Stubs (branch islands) that reach far targets: read + execute.
    Stubs = 1,
    /// The GOT: read-only after finalize.
    Got = 2,
    /// Constants, `.eh_frame`: read-only after finalize.
    ReadOnly = 3,
    /// Writable data and zero-fill (bss, commons): read + write.
    Data = 4,
}

impl SegmentClass {
    /// Every class, in the order segments are laid out.
    pub const ALL: [SegmentClass; 5] = [
        SegmentClass::Text,
        SegmentClass::Stubs,
        SegmentClass::Got,
        SegmentClass::ReadOnly,
        SegmentClass::Data,
    ];
    /// Number of classes.
    pub const COUNT: usize = 5;

    /// Whether code runs from this class.
    pub(crate) fn is_executable(self) -> bool {
        matches!(self, SegmentClass::Text | SegmentClass::Stubs)
    }

    /// Whether the class stays writable after finalize.
    pub fn is_writable(self) -> bool {
        matches!(self, SegmentClass::Data)
    }

    /// Short name for maps and statistics.
    pub fn name(self) -> &'static str {
        match self {
            SegmentClass::Text => "text",
            SegmentClass::Stubs => "stubs",
            SegmentClass::Got => "got",
            SegmentClass::ReadOnly => "rodata",
            SegmentClass::Data => "data",
        }
    }
}

/// Size and alignment wanted for one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentRequest {
    /// Bytes; 0 means the class is not needed.
    pub size: u64,
    /// Power of two, at least 1.
    pub align: u64,
}

impl SegmentRequest {
    /// The alignment (0 read as 1), or an error naming `class` when it is
    /// not a power of two.
    pub(crate) fn checked_align(&self, class: SegmentClass) -> Result<u64> {
        let align = self.align.max(1);
        if align.is_power_of_two() {
            Ok(align)
        } else {
            Err(crate::Error::Memory {
                op: "allocate",
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "alignment {align} of the {} segment is not a power of two",
                        class.name()
                    ),
                ),
            })
        }
    }
}

/// A whole module's memory needs, indexed by `SegmentClass as usize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModuleLayout {
    /// Size and alignment per class, indexed by `SegmentClass as usize`.
    pub segments: [SegmentRequest; SegmentClass::COUNT],
}

impl ModuleLayout {
    /// The request for one class.
    pub fn get(&self, class: SegmentClass) -> SegmentRequest {
        self.segments[class as usize]
    }
    /// Mutable access to the request for one class.
    pub fn get_mut(&mut self, class: SegmentClass) -> &mut SegmentRequest {
        &mut self.segments[class as usize]
    }
}

/// One class's memory in an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The address code sees at run time (what relocations are computed from).
    pub addr: u64,
    /// Where the linker writes the bytes; equal to `addr` unless dual-mapped.
    /// Null when `size` is 0.
    pub write_ptr: *mut u8,
    /// Bytes, at least the size requested (0 when the class was not requested).
    pub size: u64,
}

impl Segment {
    /// A segment of no bytes.
    pub const EMPTY: Segment = Segment {
        addr: 0,
        write_ptr: std::ptr::null_mut(),
        size: 0,
    };
}

/// A module's memory, handed out by [`MemoryManager::allocate`] and given back
/// with [`MemoryManager::release`].
#[derive(Debug)]
pub struct Allocation {
    /// The manager's own handle for this allocation.
    pub id: u64,
    /// Indexed by `SegmentClass as usize`.
    pub segments: [Segment; SegmentClass::COUNT],
}

// SAFETY: an Allocation is a description of memory (addresses and a pointer the
// manager handed out for writing). It is only written through by the linker
// while the engine's lock is held, so moving it between threads is sound.
unsafe impl Send for Allocation {}
// SAFETY: shared references expose only the addresses, never write through them.
unsafe impl Sync for Allocation {}

impl Allocation {
    /// The segment of one class.
    pub fn segment(&self, class: SegmentClass) -> &Segment {
        &self.segments[class as usize]
    }
}

/// Figures a manager reports about itself.
///
/// Fragmentation shows in three of them: `free_bytes_in_committed` (memory
/// paid for but holding nothing: page rounding, alignment padding, holes
/// left by removed modules in pages still in use), and
/// `free_reserved_bytes` against `largest_free_run` (address space left for
/// new modules, and how much of it is in one piece).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Address space reserved (a dual-mapped arena maps its memory files
    /// once, at the run-time addresses).
    pub reserved_bytes: u64,
    /// Bytes backed by memory (committed) now: whole pages that hold at
    /// least one live segment.
    pub committed_bytes: u64,
    /// Committed bytes by class, indexed by `SegmentClass as usize`.
    pub committed_by_class: [u64; SegmentClass::COUNT],
    /// Address space set aside for each class, indexed by
    /// `SegmentClass as usize`: a dual-mapped arena's class pools (committed
    /// or not); elsewhere the committed pages themselves.
    pub reserved_by_class: [u64; SegmentClass::COUNT],
    /// Live allocations.
    pub allocations: u64,
    /// Entries the manager's memory makes in `/proc/self/maps` (kernel
    /// memory areas, after protections split them and merges join them):
    /// what `vm.max_map_count` limits. The kernel may merge an area with a
    /// neighbour that is not the manager's, so the process can show fewer.
    pub mappings: u64,
    /// Reservations (arena regions) held; 0 for managers that map memory
    /// per module.
    pub regions: u64,
    /// Bytes of live segments (the sizes the linker asked for).
    pub live_bytes: u64,
    /// Bytes of committed pages that hold no live segment:
    /// `committed_bytes - live_bytes`.
    pub free_bytes_in_committed: u64,
    /// Reserved address space given to no module or class pool yet, where
    /// new modules go without reserving more.
    pub free_reserved_bytes: u64,
    /// The largest contiguous piece of `free_reserved_bytes`: the largest
    /// block a new module can get without reserving a new region.
    pub largest_free_run: u64,
}

/// What one module's memory costs, as [`MemoryManager::allocation_stats`]
/// reports it. Arrays are indexed by `SegmentClass as usize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocationStats {
    /// Bytes of each segment, as handed out.
    pub bytes_by_class: [u64; SegmentClass::COUNT],
    /// Bytes of the whole pages each segment touches. A page shared with
    /// other modules counts in full for each of them.
    pub pages_by_class: [u64; SegmentClass::COUNT],
    /// Bytes of the pages only this module uses: what removing it gives
    /// back to the system.
    pub exclusive_by_class: [u64; SegmentClass::COUNT],
}

impl AllocationStats {
    /// Bytes of all segments.
    pub fn bytes(&self) -> u64 {
        self.bytes_by_class.iter().sum()
    }
    /// Bytes of all pages touched (shared pages in full).
    pub fn pages(&self) -> u64 {
        self.pages_by_class.iter().sum()
    }
    /// Bytes of pages only this module uses.
    pub fn exclusive(&self) -> u64 {
        self.exclusive_by_class.iter().sum()
    }
}

/// Supplies memory for linked modules.
///
/// Contract: `allocate` returns memory for every requested class, each
/// segment aligned as asked (at `addr`) and zero-filled, writable through
/// `write_ptr`. Until `finalize` the linker may write all of it through
/// `write_ptr`; addresses it computes use `addr`. `finalize` leaves Text and
/// Stubs read + execute, Got and ReadOnly read-only, Data read + write (at
/// `addr`), and makes the code visible to instruction fetch on every thread.
/// `release` returns the memory; the allocation's addresses must not be used
/// afterwards. A manager is given allocations of its own only, but must not
/// misbehave when handed a foreign or released one (an error from
/// `finalize`, nothing from `release`).
pub trait MemoryManager: Send {
    /// Reserves and commits memory for one module.
    fn allocate(&mut self, layout: &ModuleLayout) -> Result<Allocation>;
    /// Applies final protections and publishes the code.
    fn finalize(&mut self, allocation: &Allocation) -> Result<()>;

    /// Finalizes every allocation of `allocations` as [`finalize`] does
    /// each (the same contract, for all of them once it returns `Ok`), in
    /// one go where the manager can: the dual-mapped arena writes
    /// neighbouring modules with one system call and publishes them all
    /// with one barrier on every core, where one finalize each pays a
    /// barrier each. On error some may be finalized and others not; each
    /// may be finalized again. The default finalizes them one by one.
    ///
    /// [`finalize`]: MemoryManager::finalize
    fn finalize_all(&mut self, allocations: &[&Allocation]) -> Result<()> {
        for allocation in allocations {
            self.finalize(allocation)?;
        }
        Ok(())
    }
    /// Gives the memory back.
    fn release(&mut self, allocation: Allocation);
    /// Current figures.
    fn stats(&self) -> MemoryStats;

    /// Whether code placed here runs in this process. A manager that lays
    /// out an image at addresses of another address space (for inspection,
    /// or another machine) returns `false`, and the engine then registers
    /// nothing with the process (unwinder, debugger, exit handlers).
    fn runs_code(&self) -> bool {
        true
    }

    /// The most bytes that can separate two segments of one allocation
    /// (of a module that is not itself larger), when the manager keeps
    /// each module's segments that close; `None` (the default) when it
    /// does not promise it. The linker relaxes GOT loads of a module's own
    /// symbols into direct references when this is small enough.
    fn module_span(&self) -> Option<u64> {
        None
    }

    /// What one live allocation costs; `None` when the manager does not
    /// know (the default) or the allocation is not one of its live ones.
    fn allocation_stats(&self, allocation: &Allocation) -> Option<AllocationStats> {
        let _ = allocation;
        None
    }
}

#[cfg(test)]
pub(crate) mod tests;
