//! The arena (the "llmm" path): reserved regions sub-allocated per module,
//! so that each module's code and data are within ±2 GiB of each other and,
//! by default, of every other module.
//!
//! # Modes
//!
//! - [`ArenaMode::DualMapped`] (the default, [`DEFAULT_MODE`]; Linux):
//!   many small modules share pages. Code lives in a memory file mapped
//!   read + execute where it runs and never mapped writable: the linker
//!   writes into staging buffers that finalize copies into the file, so new
//!   code is placed beside running code and no page is ever writable and
//!   executable, nor has a writable alias. Finalize changes no protection.
//!   See `dual.rs` for the details.
//! - [`ArenaMode::Pages`]: each module gets its own pages, one run per
//!   class, made writable while linking and given their final protection
//!   with `mprotect` at finalize (see `pages.rs`). Where the system refuses
//!   to make anonymous memory executable (SELinux `execmem`, PaX
//!   `MPROTECT`), an arena asked for this mode finds out when it is created
//!   and falls back to the dual-mapped mode ([`Arena::fallback_reason`]
//!   says why).
//!
//! Both kinds of region answer to the private `Region` trait, so the arena keeps
//! one list of regions and never asks which kind it holds except when it
//! reserves one.
//!
//! [`ArenaConfig::default`] leaves the choice to the `RIVET_ARENA_MODE`
//! environment variable (`pages` or `dual`), else [`DEFAULT_MODE`], so a
//! whole test suite can be run in either mode.
//!
//! # Regions and growth
//!
//! Each region is a reservation of address space (`PROT_NONE`,
//! `MAP_NORESERVE`) committed lazily. A module's memory always lies inside
//! one region. When no region can hold a module, the arena reserves another
//! one (placed like the first: on x86-64 in the low 2 GiB when there is room,
//! next to the last region when it can), unless [`ArenaConfig::max_regions`]
//! says not to (at most [`DEFAULT_MAX_REGIONS`] by default). References
//! between modules in different regions go through the GOT and stubs as the
//! linker decides, like references into the process.
//!
//! A region beyond the first that holds no module any more is given back:
//! its address space unmapped and, dual-mapped, its memory file closed. One
//! empty region is kept as a spare while any module is live, so a module
//! added and removed over and over at a region's edge does not map a region
//! each time; when no module is live the arena is back to its first region.
//! Dual-mapped regions each hold a file descriptor: a new one is refused
//! with [`Error::OutOfMemory`] while it would leave the process less than a
//! quarter of its `RLIMIT_NOFILE` (up to 256 descriptors) free.
//!
//! # Limits
//!
//! [`ArenaConfig::max_committed`] caps the committed bytes: a module that
//! would pass the cap fails with [`Error::OutOfMemory`] (naming the cap, the
//! committed bytes and the request), nothing of it stays allocated, and the
//! arena stays usable.

mod dual;
mod free_list;
mod pages;

use std::collections::HashSet;
use std::io;

use self::dual::DualRegion;
use self::free_list::FreeList;
use self::pages::PagesRegion;
use super::sys::{self, Mapping, HAS_MEMFD};
use super::{
    next_allocation_id, Allocation, AllocationStats, MemoryManager, MemoryStats, ModuleLayout,
    Segment, SegmentClass,
};
use crate::{Error, Result};

/// How an [`Arena`] places and protects modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArenaMode {
    /// Pages per module and class, protected with `mprotect` at finalize.
    Pages,
    /// Modules packed into shared pages of a memory file, mapped read +
    /// execute (or read-only) to run and written only through the file
    /// (`pwrite`) at finalize. Linux only.
    DualMapped,
}

/// The mode an arena uses when neither its configuration nor
/// `RIVET_ARENA_MODE` picks one: dual-mapped, which packs many small modules
/// into shared pages (code is never writable at any address: the linker
/// writes into staging buffers that finalize copies into the memory file
/// the code runs from). Removing a
/// small module frees its bytes; a page goes back to the system when its
/// last user goes.
pub const DEFAULT_MODE: ArenaMode = ArenaMode::DualMapped;

impl ArenaMode {
    /// The environment variable [`ArenaConfig::default`] leaves the mode to:
    /// `pages` or `dual`.
    pub const ENV: &'static str = "RIVET_ARENA_MODE";

    /// The mode a word names: `pages`, or `dual` (also `dual-mapped`),
    /// ignoring case and surrounding blanks.
    pub fn parse(word: &str) -> Option<ArenaMode> {
        match word.trim().to_ascii_lowercase().as_str() {
            "pages" => Some(ArenaMode::Pages),
            "dual" | "dual-mapped" | "dualmapped" => Some(ArenaMode::DualMapped),
            _ => None,
        }
    }

    /// The mode `RIVET_ARENA_MODE` asks for: `Ok(None)` when it is unset or
    /// empty, an error naming the variable and its value when it names no mode.
    pub fn from_env() -> Result<Option<ArenaMode>> {
        let Some(value) = std::env::var_os(Self::ENV) else {
            return Ok(None);
        };
        let text = value.to_string_lossy();
        if text.trim().is_empty() {
            return Ok(None);
        }
        ArenaMode::parse(&text).map(Some).ok_or_else(|| {
            invalid_input(
                "Arena::new",
                format!(
                    "{}={text:?} names no arena mode; use `pages` or `dual`",
                    Self::ENV
                ),
            )
        })
    }

    /// The word for the mode (`pages`, `dual`).
    pub fn name(self) -> &'static str {
        match self {
            ArenaMode::Pages => "pages",
            ArenaMode::DualMapped => "dual",
        }
    }
}

/// How an [`Arena`] is set up.
#[derive(Debug, Clone)]
pub struct ArenaConfig {
    /// Bytes of address space each region reserves (committed lazily). At
    /// most 2 GiB so that any two places in a region reach each other with a
    /// 32-bit displacement; a larger value (or 0) is refused with
    /// [`Error::OutOfMemory`], it is never clamped silently. Rounded up to
    /// the page size in use (dual-mapped: to the chunk size, a power of two
    /// of at most 256 KiB). A module larger than this gets a region of its
    /// own sized to fit it.
    pub reservation: u64,
    /// Page size to lay out with; `None` uses the system's. A larger multiple
    /// of the system page size simulates 16 KiB or 64 KiB page systems. Must
    /// be a power of two no smaller than the system page size.
    pub page_size: Option<usize>,
    /// Optional address to place regions near (a hint: the kernel may put
    /// them elsewhere, and nothing already mapped is ever replaced).
    pub hint: Option<u64>,
    /// With `hint`: look for a free range from `hint` up that ends at or
    /// below this address before settling for wherever the kernel puts the
    /// region.
    pub below: Option<u64>,
    /// The mode; `None` takes it from `RIVET_ARENA_MODE` (`pages` or `dual`;
    /// any other value makes [`Arena::new`] fail), else [`DEFAULT_MODE`].
    pub mode: Option<ArenaMode>,
    /// A cap on committed bytes (as [`MemoryStats::committed_bytes`]
    /// counts them). An allocation that would pass it fails with
    /// [`Error::OutOfMemory`]; `None`: no cap.
    pub max_committed: Option<u64>,
    /// The most regions the arena may reserve at once (default
    /// [`DEFAULT_MAX_REGIONS`]); `None`: as many as the system gives. With
    /// `Some(1)` a full region is an error, not growth. Empty regions
    /// beyond the first are given back (one is kept as a spare while
    /// modules are live), and in dual-mapped mode a region is refused
    /// while it would leave the process short of file descriptors.
    pub max_regions: Option<usize>,
    /// Testing hook: behave as if the system refused to make anonymous
    /// memory executable (`mprotect` failing with `EACCES`, as under
    /// SELinux `deny_execmem`). An arena asked for [`ArenaMode::Pages`] then
    /// falls back to [`ArenaMode::DualMapped`].
    #[doc(hidden)]
    pub simulate_exec_refusal: bool,
}

/// Bytes each region reserves by default (address space only; committed lazily).
pub const DEFAULT_RESERVATION: u64 = 256 << 20;

/// Where the arena asks to be placed by default. On x86-64, the low 2 GiB
/// (256 MiB up), so that static small-code-model objects, which hold 32-bit
/// absolute addresses (`R_X86_64_32`, `R_X86_64_32S`), link and run; calls
/// from there into the process's libraries go through stubs. Several engines
/// each find their own free range there. Elsewhere, no preference. A hint
/// only: when the low range is full the region goes wherever the kernel
/// puts it, and such objects fail with a range error.
pub const DEFAULT_HINT: Option<u64> = if cfg!(target_arch = "x86_64") {
    Some(0x1000_0000)
} else {
    None
};

impl Default for ArenaConfig {
    /// 256 MiB regions at the default placement, the system's page size,
    /// the mode from `RIVET_ARENA_MODE` (else [`DEFAULT_MODE`]), no cap on
    /// committed bytes and at most [`DEFAULT_MAX_REGIONS`] regions.
    fn default() -> Self {
        ArenaConfig {
            reservation: DEFAULT_RESERVATION,
            page_size: None,
            hint: DEFAULT_HINT,
            below: DEFAULT_HINT.map(|_| 1 << 31),
            mode: None,
            max_committed: None,
            max_regions: Some(DEFAULT_MAX_REGIONS),
            simulate_exec_refusal: false,
        }
    }
}

/// The most regions an arena reserves by default ([`ArenaConfig::max_regions`]):
/// 64 GiB of address space at the default reservation, and as many memory
/// files in dual-mapped mode.
pub const DEFAULT_MAX_REGIONS: usize = 256;

/// Where one region of an arena is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionInfo {
    /// First address of the region (what segments' `addr` point into).
    pub start: u64,
    /// Bytes of address space the region spans.
    pub len: u64,
    /// Dual-mapped: the inode of the region's memory file (as
    /// `/proc/self/maps` and `fstat` show it), which the region's run-time
    /// addresses map (never writable); `None` in page mode.
    pub memory_file: Option<u64>,
}

impl RegionInfo {
    /// Whether `addr` lies in the region (its run-time addresses).
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr - self.start < self.len
    }
}

/// Bytes of a fresh region of `mode` that holds `layout` wherever its
/// pieces fall.
fn region_len_for(mode: ArenaMode, layout: &ModuleLayout, granule: usize, chunk: usize) -> u64 {
    match mode {
        ArenaMode::Pages => PagesRegion::region_len(layout, granule),
        ArenaMode::DualMapped => DualRegion::region_len(layout, chunk),
    }
}

/// The result of trying to place a module in a region.
enum Placed {
    /// Placed; the segments to hand out.
    Segments([Segment; SegmentClass::COUNT]),
    /// The region has no room for it.
    NoRoom,
    /// It would fit but commit `needed` bytes, more than the room under the cap.
    OverCap { needed: u64 },
}

/// One reservation of the arena: what the two kinds of region
/// ([`PagesRegion`], [`DualRegion`]) answer, so that the arena handles
/// either the same way.
///
/// Allocations are named by the arena's id; a region knows only its own.
trait Region {
    /// The region's address space: where its segments' `addr` point.
    fn reservation(&self) -> &Mapping;

    /// The inode of the memory file the region's addresses map, if any.
    fn memory_file(&self) -> Option<u64>;

    /// Places `layout` for allocation `id`, committing at most `room` more
    /// bytes (no limit when `None`). The caller has checked sizes and
    /// alignments (powers of two, at most the largest region).
    fn allocate(&mut self, id: u64, layout: &ModuleLayout, room: Option<u64>) -> Result<Placed>;

    /// Whether `segments` are exactly those of live allocation `id`.
    fn owns(&self, id: u64, segments: &[Segment; SegmentClass::COUNT]) -> bool;

    /// Gives live allocation `id` its final protections and publishes its
    /// code to instruction fetch on every thread.
    fn finalize(&mut self, id: u64) -> Result<()>;

    /// [`Region::finalize`] for each of `ids` (live allocations), in one
    /// go where the region can.
    fn finalize_all(&mut self, ids: &[u64]) -> Result<()> {
        for &id in ids {
            self.finalize(id)?;
        }
        Ok(())
    }

    /// Gives back live allocation `id`.
    fn release(&mut self, id: u64);

    /// Figures of live allocation `id`.
    fn allocation_stats(&self, id: u64) -> Option<AllocationStats>;

    /// Live allocations.
    fn allocations(&self) -> usize;

    /// Committed bytes per class.
    fn committed_by_class(&self) -> [u64; SegmentClass::COUNT];

    /// Address space given to each class.
    fn reserved_by_class(&self) -> [u64; SegmentClass::COUNT];

    /// Bytes of live segments.
    fn live_bytes(&self) -> u64;

    /// Address space given to no allocation or class yet.
    fn free(&self) -> &FreeList;

    /// Bytes kept out of use because they could not be scrubbed.
    fn quarantined(&self) -> usize;

    /// Entries of `/proc/self/maps` the region occupies.
    fn areas(&self) -> u64;
}

/// Where a region is, as [`Arena::regions`] reports it.
fn region_info(region: &dyn Region) -> RegionInfo {
    let reservation = region.reservation();
    RegionInfo {
        start: reservation.start() as u64,
        len: reservation.len as u64,
        memory_file: region.memory_file(),
    }
}

/// The arena memory manager.
pub struct Arena {
    /// The mode in use (after any fallback).
    mode: ArenaMode,
    /// Why the arena is not in the mode it was asked for.
    fallback_reason: Option<String>,
    /// The allocation granule (the system page size or the configured one).
    granule: usize,
    /// Dual-mapped: the chunk size.
    chunk: usize,
    /// Bytes each region reserves unless a module needs more.
    region_len: usize,
    /// Placement preference.
    hint: Option<usize>,
    below: Option<usize>,
    max_committed: Option<u64>,
    max_regions: Option<usize>,
    simulate_exec_refusal: bool,
    /// The regions, in the order they were reserved.
    regions: Vec<Box<dyn Region>>,
    /// Live allocations of no bytes, which live in no region. Every other
    /// allocation is found by address: the region holding its segments
    /// knows it by id (no per-module record here).
    empty: HashSet<u64>,
}

// SAFETY: the arena owns its regions outright; the raw pointers inside them
// are addresses into private mappings that no other object refers to. All
// mutation goes through `&mut self`, so moving the arena to another thread
// moves the sole owner of the mappings, and the kernel calls it makes
// (mmap/mprotect/madvise/fallocate/munmap) are valid from any thread.
unsafe impl Send for Arena {}
// SAFETY: `&Arena` only allows reading the arena's own bookkeeping (`stats`,
// `regions`); nothing is written through the mappings without `&mut self`.
unsafe impl Sync for Arena {}

fn invalid_input(op: &'static str, message: String) -> Error {
    Error::Memory {
        op,
        source: io::Error::new(io::ErrorKind::InvalidInput, message),
    }
}

/// The largest power of two at most `value` (which is at least 1).
fn power_of_two_at_most(value: usize) -> usize {
    1 << (usize::BITS - 1 - value.max(1).leading_zeros())
}

impl Arena {
    /// The largest region (2 GiB): any two places in it are within reach of
    /// a 32-bit PC-relative displacement.
    pub(crate) const MAX_RESERVATION: u64 = 1 << 31;

    /// Reserves the first region.
    ///
    /// Fails with [`Error::OutOfMemory`] when `reservation` is 0 or above
    /// `Arena::MAX_RESERVATION` or the system refuses the address space,
    /// with [`Error::Memory`] (`InvalidInput`) when `page_size` is not a
    /// power of two at least as large as the system page or
    /// `RIVET_ARENA_MODE` names no mode, and with
    /// [`Error::JitExecutionRefused`] when page mode is refused and the
    /// dual-mapped mode is not available.
    pub fn new(config: ArenaConfig) -> Result<Arena> {
        let system_page = sys::page_size();
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
                if size as u64 > Self::MAX_RESERVATION {
                    return Err(invalid_input(
                        "Arena::new",
                        format!(
                            "page size {size} is larger than the largest region ({} bytes)",
                            Self::MAX_RESERVATION
                        ),
                    ));
                }
                size
            }
        };
        let requested = config.reservation;
        if requested == 0 || requested > Self::MAX_RESERVATION {
            return Err(Error::OutOfMemory {
                requested,
                reason: format!(
                    "an arena region reserves between 1 byte and {} bytes (2 GiB, the reach of a \
                     32-bit displacement); {requested} bytes were asked for",
                    Self::MAX_RESERVATION
                ),
            });
        }
        let mode = match config.mode {
            Some(mode) => mode,
            None => ArenaMode::from_env()?.unwrap_or(DEFAULT_MODE),
        };
        if mode == ArenaMode::DualMapped && !HAS_MEMFD {
            return Err(invalid_input(
                "Arena::new",
                "the dual-mapped arena needs memory files (memfd_create), which this system lacks"
                    .into(),
            ));
        }
        let chunk = power_of_two_at_most(requested as usize / 16)
            .clamp(granule, dual::MAX_CHUNK.max(granule));
        let mut arena = Arena {
            mode,
            fallback_reason: None,
            granule,
            chunk,
            region_len: 0,
            hint: config
                .hint
                .and_then(|hint| usize::try_from(hint).ok())
                .map(|hint| hint & !(system_page - 1)),
            below: config.below.and_then(|b| usize::try_from(b).ok()),
            max_committed: config.max_committed,
            max_regions: config.max_regions,
            simulate_exec_refusal: config.simulate_exec_refusal,
            regions: Vec::new(),
            empty: HashSet::new(),
        };
        // Both are powers of two no larger than MAX_RESERVATION, so this
        // neither overflows nor passes it.
        arena.region_len = (requested as usize).next_multiple_of(arena.unit());
        let first = arena.reserve_region(arena.region_len)?;
        arena.regions.push(first);
        if mode == ArenaMode::Pages {
            arena.probe_exec()?;
        }
        // The first finalize needs the process registered for barriers;
        // the kernel takes an RCU grace period for that, done meanwhile.
        sys::start_core_sync_registration();
        Ok(arena)
    }

    /// Learns whether page mode may make anonymous memory executable, and
    /// falls back to the dual-mapped mode when the system refuses.
    fn probe_exec(&mut self) -> Result<()> {
        let outcome = match self.regions.first() {
            _ if self.simulate_exec_refusal => Err(io::Error::from_raw_os_error(libc::EACCES)),
            // The region is new: its first granule is unused.
            Some(region) => pages::probe_exec(region.reservation(), self.granule),
            None => Ok(()),
        };
        let Err(source) = outcome else {
            return Ok(());
        };
        let errno = source.raw_os_error().unwrap_or(0);
        if errno != libc::EACCES && errno != libc::EPERM {
            return Err(Error::Memory {
                op: "mprotect",
                source,
            });
        }
        let mut reason = sys::refusal_reason(&source);
        if self.simulate_exec_refusal {
            reason.push_str(" (simulated by ArenaConfig::simulate_exec_refusal)");
        }
        if !HAS_MEMFD {
            return Err(Error::JitExecutionRefused { reason });
        }
        self.regions.clear();
        self.mode = ArenaMode::DualMapped;
        self.region_len = self.region_len.next_multiple_of(self.unit());
        let first = self.reserve_region(self.region_len)?;
        self.regions.push(first);
        self.fallback_reason = Some(format!(
            "page mode was asked for, but {reason}; using the dual-mapped mode (code in a memory \
             file mapped read + execute, written with pwrite, never mapped writable)"
        ));
        Ok(())
    }

    /// What regions are reserved and aligned to: the page (page mode) or the chunk.
    fn unit(&self) -> usize {
        match self.mode {
            ArenaMode::Pages => self.granule,
            ArenaMode::DualMapped => self.chunk,
        }
    }

    /// Reserves a region of `len` bytes (a multiple of [`Self::unit`]): next
    /// to the last region, else in the preferred range, else anywhere.
    fn reserve_region(&self, len: usize) -> Result<Box<dyn Region>> {
        let align = self.unit();
        let after_last = self.regions.last().map(|region| region.reservation().end());
        let adjacent = after_last
            .filter(|&end| {
                self.below
                    .is_none_or(|below| end.checked_add(len).is_some_and(|e| e <= below))
            })
            .and_then(|end| {
                let mapping = sys::map_near(end, len, libc::MAP_NORESERVE)?;
                if mapping.start() == end {
                    Some(mapping)
                } else {
                    sys::unmap(&mapping);
                    None
                }
            });
        let low = match (adjacent, self.hint, self.below) {
            (Some(mapping), _, _) => Some(mapping),
            (None, Some(hint), Some(below)) => probe_below(hint, below, len, align),
            _ => None,
        };
        let reservation = match low {
            Some(mapping) => Ok(mapping),
            None => sys::map_aligned(after_last.or(self.hint), len, align, libc::MAP_NORESERVE),
        }
        .map_err(|source| Error::OutOfMemory {
            requested: len as u64,
            reason: format!(
                "the system refused to reserve {len} bytes of address space: {} ({source})",
                sys::errno_name(source.raw_os_error().unwrap_or(0))
            ),
        })?;
        match self.mode {
            ArenaMode::Pages => Ok(Box::new(PagesRegion::new(
                reservation,
                self.granule,
                self.simulate_exec_refusal,
            ))),
            ArenaMode::DualMapped => {
                if let Err(error) = dual::descriptor_room(len as u64) {
                    sys::unmap(&reservation);
                    return Err(error);
                }
                match DualRegion::new(reservation, self.granule, self.chunk) {
                    Ok(region) => Ok(Box::new(region)),
                    Err(source) => Err(match source.raw_os_error() {
                        Some(libc::ENOMEM) | Some(libc::EMFILE) | Some(libc::ENFILE) => {
                            Error::OutOfMemory {
                                requested: len as u64,
                                reason: format!(
                                    "the system refused a memory file of {len} bytes: {source}"
                                ),
                            }
                        }
                        _ => Error::Memory {
                            op: "memfd_create",
                            source,
                        },
                    }),
                }
            }
        }
    }

    /// The mode in use (after any fallback).
    pub fn mode(&self) -> ArenaMode {
        self.mode
    }

    /// Why the arena does not use the mode it was asked for, if it does not
    /// (page mode refused by the system: see [`ArenaMode::Pages`]).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The first address of the first region.
    pub fn base(&self) -> u64 {
        self.regions
            .first()
            .map_or(0, |region| region.reservation().start() as u64)
    }

    /// Bytes of address space the first region spans.
    pub fn reservation_len(&self) -> u64 {
        self.regions
            .first()
            .map_or(0, |region| region.reservation().len as u64)
    }

    /// Every region, in the order they were reserved.
    pub fn regions(&self) -> Vec<RegionInfo> {
        self.regions
            .iter()
            .map(|region| region_info(region.as_ref()))
            .collect()
    }

    /// The allocation granule: the page size segments are laid out and
    /// committed with.
    pub fn granule(&self) -> usize {
        self.granule
    }

    /// Dual-mapped: the chunk size class pools grow by (page mode: the granule).
    pub fn chunk_size(&self) -> usize {
        self.unit()
    }

    /// Committed bytes now.
    fn committed(&self) -> u64 {
        self.regions
            .iter()
            .map(|region| region.committed_by_class().iter().sum::<u64>())
            .sum()
    }

    /// The error for an allocation that would pass the cap.
    fn over_cap(&self, cap: u64, needed: u64) -> Error {
        Error::OutOfMemory {
            requested: needed,
            reason: format!(
                "the arena's cap of {cap} committed bytes (ArenaConfig::max_committed) would be \
                 exceeded: {} bytes are committed and this module needs {needed} more",
                self.committed()
            ),
        }
    }

    /// Checks every request of `layout`; returns the bytes it would commit
    /// in fresh pages.
    fn check(&self, layout: &ModuleLayout) -> Result<u64> {
        let mut fresh = 0u64;
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
            if request.size > Self::MAX_RESERVATION || align > Self::MAX_RESERVATION {
                return Err(self.too_big(
                    layout,
                    format!(
                        "the {} segment of {} bytes aligned to {align} does not fit a region",
                        class.name(),
                        request.size
                    ),
                ));
            }
            fresh += request.size.next_multiple_of(self.granule as u64);
        }
        Ok(fresh)
    }

    /// The error for a module no region can ever hold.
    fn too_big(&self, layout: &ModuleLayout, what: String) -> Error {
        let total = layout
            .segments
            .iter()
            .fold(0u64, |sum, request| sum.saturating_add(request.size));
        Error::OutOfMemory {
            requested: total,
            reason: format!(
                "{what}; a region spans at most {} bytes (2 GiB, the reach of a 32-bit displacement)",
                Self::MAX_RESERVATION
            ),
        }
    }

    /// Places `layout` in an existing region (only region `only` when
    /// given): `Ok(None)` when none has room.
    fn place_in_regions(
        &mut self,
        id: u64,
        layout: &ModuleLayout,
        only: Option<usize>,
    ) -> Result<Option<(usize, [Segment; SegmentClass::COUNT])>> {
        let room = self
            .max_committed
            .map(|cap| cap.saturating_sub(self.committed()));
        let mut over_cap: Option<u64> = None;
        for (index, region) in self.regions.iter_mut().enumerate() {
            if only.is_some_and(|only| only != index) {
                continue;
            }
            match region.allocate(id, layout, room)? {
                Placed::Segments(segments) => return Ok(Some((index, segments))),
                Placed::NoRoom => {}
                Placed::OverCap { needed } => {
                    over_cap = Some(over_cap.map_or(needed, |n| n.min(needed)))
                }
            }
        }
        match (over_cap, self.max_committed) {
            (Some(needed), Some(cap)) => Err(self.over_cap(cap, needed)),
            _ => Ok(None),
        }
    }

    /// The error for a module that fits no region when no region may be added.
    fn no_room(&self, needed: u64, why: &str) -> Error {
        let (free, largest) = self.regions.iter().fold((0, 0), |(free, largest), region| {
            (
                free + region.free().total(),
                largest.max(region.free().largest()),
            )
        });
        let quarantined: usize = self.regions.iter().map(|region| region.quarantined()).sum();
        Error::OutOfMemory {
            requested: needed,
            reason: format!(
                "no region of the arena can hold a module needing {needed} bytes of address space \
                 and {why}: {} region(s) of {} bytes, {free} bytes free, the largest free range is \
                 {largest} bytes{}",
                self.regions.len(),
                self.region_len,
                if quarantined > 0 {
                    format!(", {quarantined} bytes are quarantined")
                } else {
                    String::new()
                }
            ),
        }
    }
}

impl MemoryManager for Arena {
    /// A module lives in one region: a region's length apart at most.
    fn module_span(&self) -> Option<u64> {
        Some(self.region_len as u64)
    }

    fn allocate(&mut self, layout: &ModuleLayout) -> Result<Allocation> {
        let fresh = self.check(layout)?;
        let id = next_allocation_id();
        if fresh == 0 {
            self.empty.insert(id);
            return Ok(Allocation {
                id,
                segments: [Segment::EMPTY; SegmentClass::COUNT],
            });
        }
        let room = self
            .max_committed
            .map(|cap| (cap, cap.saturating_sub(self.committed())));
        if let (ArenaMode::Pages, Some((cap, room))) = (self.mode, room) {
            // In page mode every page of a module is fresh: past the cap
            // whichever region it would go to.
            if fresh > room {
                return Err(self.over_cap(cap, fresh));
            }
        }
        let region_len = region_len_for(self.mode, layout, self.granule, self.chunk);
        if region_len > Self::MAX_RESERVATION {
            return Err(self.too_big(
                layout,
                format!("the module's segments together need {region_len} bytes of one region"),
            ));
        }
        if let Some((_, segments)) = self.place_in_regions(id, layout, None)? {
            return Ok(Allocation { id, segments });
        }
        // Growth. A new region commits the module's pages in full.
        if let Some((cap, room)) = room {
            if fresh > room {
                return Err(self.over_cap(cap, fresh));
            }
        }
        if self
            .max_regions
            .is_some_and(|max| self.regions.len() >= max)
        {
            return Err(self.no_room(
                region_len,
                &format!(
                    "no region may be added (ArenaConfig::max_regions is {})",
                    self.regions.len()
                ),
            ));
        }
        // At most MAX_RESERVATION, a multiple of the unit: no overflow.
        let len = self
            .region_len
            .max((region_len as usize).next_multiple_of(self.unit()));
        let region = self.reserve_region(len)?;
        self.regions.push(region);
        let index = self.regions.len() - 1;
        match self.place_in_regions(id, layout, Some(index))? {
            Some((_, segments)) => Ok(Allocation { id, segments }),
            None => Err(self.no_room(region_len, "a new region could not hold it either")),
        }
    }

    fn finalize(&mut self, allocation: &Allocation) -> Result<()> {
        if is_empty(allocation) {
            return match self.empty.contains(&allocation.id) {
                true => Ok(()),
                false => Err(self.foreign(allocation)),
            };
        }
        match self
            .region_of(allocation)
            .and_then(|index| self.regions.get_mut(index))
        {
            Some(region) if region.owns(allocation.id, &allocation.segments) => {
                region.finalize(allocation.id)
            }
            _ => Err(self.foreign(allocation)),
        }
    }

    /// Checks every allocation, then finalizes each region's together.
    fn finalize_all(&mut self, allocations: &[&Allocation]) -> Result<()> {
        let mut by_region: Vec<(usize, u64)> = Vec::with_capacity(allocations.len());
        for allocation in allocations {
            if is_empty(allocation) {
                if !self.empty.contains(&allocation.id) {
                    return Err(self.foreign(allocation));
                }
                continue;
            }
            match self.region_of(allocation) {
                Some(index) if self.regions[index].owns(allocation.id, &allocation.segments) => {
                    by_region.push((index, allocation.id))
                }
                _ => return Err(self.foreign(allocation)),
            }
        }
        by_region.sort_unstable();
        for group in by_region.chunk_by(|a, b| a.0 == b.0) {
            let ids: Vec<u64> = group.iter().map(|&(_, id)| id).collect();
            self.regions[group[0].0].finalize_all(&ids)?;
        }
        Ok(())
    }

    fn release(&mut self, allocation: Allocation) {
        if is_empty(&allocation) {
            self.empty.remove(&allocation.id);
            return;
        }
        // Not ours (or released already): nothing to give back.
        let Some(index) = self.region_of(&allocation) else {
            return;
        };
        let region = &mut self.regions[index];
        if region.owns(allocation.id, &allocation.segments) {
            region.release(allocation.id);
            if region.allocations() == 0 {
                self.trim_regions();
            }
        }
    }

    fn stats(&self) -> MemoryStats {
        let mut stats = MemoryStats {
            allocations: self.empty.len() as u64,
            regions: self.regions.len() as u64,
            ..MemoryStats::default()
        };
        for region in &self.regions {
            stats.reserved_bytes += region.reservation().len as u64;
            let committed = region.committed_by_class();
            let reserved = region.reserved_by_class();
            for class in SegmentClass::ALL {
                stats.committed_by_class[class as usize] += committed[class as usize];
                stats.reserved_by_class[class as usize] += reserved[class as usize];
            }
            stats.allocations += region.allocations() as u64;
            stats.live_bytes += region.live_bytes();
            stats.mappings += region.areas();
            stats.free_reserved_bytes += region.free().total() as u64;
            stats.largest_free_run = stats.largest_free_run.max(region.free().largest() as u64);
        }
        stats.committed_bytes = stats.committed_by_class.iter().sum();
        stats.free_bytes_in_committed = stats.committed_bytes.saturating_sub(stats.live_bytes);
        stats
    }

    fn allocation_stats(&self, allocation: &Allocation) -> Option<AllocationStats> {
        if is_empty(allocation) {
            return self
                .empty
                .contains(&allocation.id)
                .then(AllocationStats::default);
        }
        let region = self.regions.get(self.region_of(allocation)?)?;
        if !region.owns(allocation.id, &allocation.segments) {
            return None;
        }
        region.allocation_stats(allocation.id)
    }
}

impl Arena {
    /// Gives empty regions beyond the first back to the system (their
    /// address space, and in dual-mapped mode their memory file and its
    /// descriptor). While any module is live one empty region is kept as a
    /// spare, so adding and removing a module at a region's edge does not
    /// map and unmap a region each time; once no module is live the arena
    /// is back to its first region alone, as when it was created.
    fn trim_regions(&mut self) {
        let spares = usize::from(self.regions.iter().any(|r| r.allocations() > 0));
        let mut kept = 0;
        for index in (1..self.regions.len()).rev() {
            if self.regions[index].allocations() > 0 {
                continue;
            }
            if kept < spares {
                kept += 1;
                continue;
            }
            // Dropping the region unmaps it and closes its file.
            self.regions.remove(index);
        }
    }

    /// The region whose address space holds `allocation`'s first segment
    /// (a module lies in one region); whether it is live there is the
    /// region's to say ([`Region::owns`]). Regions are few (at most
    /// [`DEFAULT_MAX_REGIONS`] by default, usually one).
    fn region_of(&self, allocation: &Allocation) -> Option<usize> {
        let addr = allocation.segments.iter().find(|s| s.size > 0)?.addr;
        let addr = usize::try_from(addr).ok()?;
        self.regions.iter().position(|region| {
            let reservation = region.reservation();
            reservation.start() <= addr && addr < reservation.end()
        })
    }

    fn foreign(&self, allocation: &Allocation) -> Error {
        invalid_input(
            "finalize",
            format!(
                "allocation {} is not a live allocation of this arena",
                allocation.id
            ),
        )
    }
}

/// Whether an allocation has no bytes (it then lives in no region).
fn is_empty(allocation: &Allocation) -> bool {
    allocation.segments.iter().all(|segment| segment.size == 0)
}

/// Step between the addresses [`probe_below`] tries.
const PROBE_STEP: usize = 64 << 20;

/// Finds a free range of `len` bytes between `hint` and `below`, trying
/// addresses `PROBE_STEP` apart. Never replaces existing memory. The range
/// is reserved `PROT_NONE`, `MAP_NORESERVE`, like every reservation of the
/// arena, so that the kernel merges its pieces back when they are released.
fn probe_below(hint: usize, below: usize, len: usize, align: usize) -> Option<Mapping> {
    let step = PROBE_STEP.max(align);
    let mut at = sys::round_up_usize(hint, step)?;
    while at.checked_add(len)? <= below {
        if let Some(mapping) = sys::map_near(at, len, libc::MAP_NORESERVE) {
            if mapping.start() == at {
                return Some(mapping);
            }
            // The kernel took the address as a plain hint and went elsewhere.
            sys::unmap(&mapping);
        }
        at += step;
    }
    None
}

#[cfg(test)]
mod tests;
