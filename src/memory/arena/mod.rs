//! The arena (the "llmm" path): reserved regions sub-allocated per module,
//! so that each module's code and data are within ±2 GiB of each other and,
//! by default, of every other module.
//!
//! # Modes
//!
//! - [`ArenaMode::DualMapped`] (Linux): many small modules
//!   share pages. Code lives in a memory file mapped read + execute where
//!   it runs and never mapped writable: the linker writes into staging
//!   buffers that finalize copies into the file, so new code is placed
//!   beside running code and no page is ever writable and executable, nor
//!   has a writable alias. Finalize changes no protection. See `dual.rs`
//!   for the details.
//! - [`ArenaMode::Pages`] (the default, [`DEFAULT_MODE`]): each module gets its own pages, one run per
//!   class, made writable while linking and given their final protection
//!   with `mprotect` at finalize. Where the system refuses to make anonymous
//!   memory executable (SELinux `execmem`, PaX `MPROTECT`), an arena asked
//!   for this mode finds out when it is created and falls back to the
//!   dual-mapped mode ([`Arena::fallback_reason`] says why).
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

#[cfg(any(target_os = "linux", target_os = "android"))]
mod dual;
mod free_list;
mod pages;

use std::collections::HashMap;
use std::io;

#[cfg(any(target_os = "linux", target_os = "android"))]
use self::dual::{DualRegion, Placed};
use self::free_list::FreeList;
use self::pages::{BlockPlan, PagesRegion};
use super::sys::{self as protect, Mapping};
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

/// Whether this system has the memory files the dual-mapped mode needs.
const HAS_MEMFD: bool = cfg!(any(target_os = "linux", target_os = "android"));

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

/// One reservation of the arena.
enum Region {
    Pages(PagesRegion),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Dual(DualRegion),
}

impl Region {
    fn runtime(&self) -> &Mapping {
        match self {
            Region::Pages(region) => region.reservation(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.runtime(),
        }
    }

    fn info(&self) -> RegionInfo {
        let runtime = self.runtime();
        RegionInfo {
            start: runtime.start() as u64,
            len: runtime.len as u64,
            memory_file: match self {
                Region::Pages(_) => None,
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Region::Dual(region) => Some(region.inode()),
            },
        }
    }

    fn owns(&self, id: u64, segments: &[Segment; SegmentClass::COUNT]) -> bool {
        match self {
            Region::Pages(region) => region.owns(id, segments),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.owns(id, segments),
        }
    }

    fn release(&mut self, id: u64) {
        match self {
            Region::Pages(region) => region.release(id),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.release(id),
        }
    }

    fn allocation_stats(&self, id: u64) -> Option<AllocationStats> {
        match self {
            Region::Pages(region) => region.allocation_stats(id),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.allocation_stats(id),
        }
    }

    fn committed_by_class(&self) -> [u64; SegmentClass::COUNT] {
        match self {
            Region::Pages(region) => region.committed_by_class(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.committed_by_class(),
        }
    }

    /// Address space given to each class (page mode: the runs, which are
    /// exactly what is committed).
    fn reserved_by_class(&self) -> [u64; SegmentClass::COUNT] {
        match self {
            Region::Pages(region) => region.committed_by_class(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.reserved_by_class(),
        }
    }

    /// Bytes of address space (both views when dual-mapped).
    fn reserved(&self) -> u64 {
        match self {
            Region::Pages(region) => region.reservation().len as u64,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.runtime().len as u64,
        }
    }

    fn allocations(&self) -> usize {
        match self {
            Region::Pages(region) => region.allocations(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.allocations(),
        }
    }

    fn live_bytes(&self) -> u64 {
        match self {
            Region::Pages(region) => region.live_bytes(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.live_bytes(),
        }
    }

    fn free(&self) -> &FreeList {
        match self {
            Region::Pages(region) => region.free(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.free(),
        }
    }

    fn quarantined(&self) -> usize {
        match self {
            Region::Pages(region) => region.quarantined(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.quarantined(),
        }
    }

    fn areas(&self) -> u64 {
        match self {
            Region::Pages(region) => region.areas(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Region::Dual(region) => region.areas(),
        }
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
    regions: Vec<Region>,
    /// Live allocations: their region (`None` for allocations of nothing).
    owners: HashMap<u64, Option<usize>>,
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
    pub const MAX_RESERVATION: u64 = 1 << 31;

    /// Reserves the first region.
    ///
    /// Fails with [`Error::OutOfMemory`] when `reservation` is 0 or above
    /// [`Arena::MAX_RESERVATION`] or the system refuses the address space,
    /// with [`Error::Memory`] (`InvalidInput`) when `page_size` is not a
    /// power of two at least as large as the system page or
    /// `RIVET_ARENA_MODE` names no mode, and with
    /// [`Error::JitExecutionRefused`] when page mode is refused and the
    /// dual-mapped mode is not available.
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
            .clamp(granule, dual_max_chunk().max(granule));
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
            owners: HashMap::new(),
        };
        // Both are powers of two no larger than MAX_RESERVATION, so this
        // neither overflows nor passes it.
        arena.region_len = (requested as usize).next_multiple_of(arena.unit());
        let first = arena.reserve_region(arena.region_len)?;
        arena.regions.push(first);
        if mode == ArenaMode::Pages {
            arena.probe_exec()?;
        }
        Ok(arena)
    }

    /// Learns whether page mode may make anonymous memory executable, and
    /// falls back to the dual-mapped mode when the system refuses.
    fn probe_exec(&mut self) -> Result<()> {
        let outcome = match self.regions.first() {
            _ if self.simulate_exec_refusal => Err(io::Error::from_raw_os_error(libc::EACCES)),
            Some(Region::Pages(region)) => region.probe_exec(),
            _ => Ok(()),
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
        let mut reason = protect::refusal_reason(&source);
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
            "page mode was asked for, but {reason}; using the dual-mapped mode (a memory file \
             mapped read + execute and, elsewhere, read + write)"
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
    fn reserve_region(&self, len: usize) -> Result<Region> {
        let align = self.unit();
        let after_last = self.regions.last().map(|region| region.runtime().end());
        let adjacent = after_last
            .filter(|&end| {
                self.below
                    .is_none_or(|below| end.checked_add(len).is_some_and(|e| e <= below))
            })
            .and_then(|end| {
                let mapping = protect::map_near(end, len, libc::MAP_NORESERVE)?;
                if mapping.start() == end {
                    Some(mapping)
                } else {
                    protect::unmap(&mapping);
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
            None => protect::map_aligned(after_last.or(self.hint), len, align, libc::MAP_NORESERVE),
        }
        .map_err(|source| Error::OutOfMemory {
            requested: len as u64,
            reason: format!(
                "the system refused to reserve {len} bytes of address space: {} ({source})",
                protect::errno_name(source.raw_os_error().unwrap_or(0))
            ),
        })?;
        match self.mode {
            ArenaMode::Pages => Ok(Region::Pages(PagesRegion::new(reservation, self.granule))),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            ArenaMode::DualMapped => {
                if let Err(error) = descriptor_room(len as u64) {
                    protect::unmap(&reservation);
                    return Err(error);
                }
                DualRegion::new(reservation, self.granule, self.chunk)
                    .map(Region::Dual)
                    .map_err(|source| match source.raw_os_error() {
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
                    })
            }
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            ArenaMode::DualMapped => {
                protect::unmap(&reservation);
                Err(invalid_input(
                    "Arena::new",
                    "the dual-mapped arena needs memory files".into(),
                ))
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
            .map_or(0, |region| region.runtime().start() as u64)
    }

    /// Bytes of address space the first region spans.
    pub fn reservation_len(&self) -> u64 {
        self.regions
            .first()
            .map_or(0, |region| region.runtime().len as u64)
    }

    /// Every region, in the order they were reserved.
    pub fn regions(&self) -> Vec<RegionInfo> {
        self.regions.iter().map(Region::info).collect()
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

    /// Places `layout` in an existing region: `Ok(None)` when none has room.
    fn place_in_regions(
        &mut self,
        id: u64,
        layout: &ModuleLayout,
        plan: Option<&BlockPlan>,
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
            match region {
                Region::Pages(region) => {
                    if let Some(plan) = plan {
                        if let Some(segments) = region.allocate(id, plan)? {
                            return Ok(Some((index, segments)));
                        }
                    }
                }
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Region::Dual(region) => match region.allocate(id, layout, room)? {
                    Placed::Segments(segments) => return Ok(Some((index, segments))),
                    Placed::NoRoom => {}
                    Placed::OverCap { needed } => {
                        over_cap = Some(over_cap.map_or(needed, |n| n.min(needed)))
                    }
                },
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
        let quarantined: usize = self.regions.iter().map(Region::quarantined).sum();
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

/// The largest chunk of the dual-mapped mode.
fn dual_max_chunk() -> usize {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        dual::MAX_CHUNK
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        256 << 10
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
            self.owners.insert(id, None);
            return Ok(Allocation {
                id,
                segments: [Segment::EMPTY; SegmentClass::COUNT],
            });
        }
        let room = self
            .max_committed
            .map(|cap| (cap, cap.saturating_sub(self.committed())));
        let (plan, region_len) = match self.mode {
            ArenaMode::Pages => {
                let plan = BlockPlan::new(layout, self.granule);
                if let Some((cap, room)) = room {
                    if plan.committed as u64 > room {
                        return Err(self.over_cap(cap, plan.committed as u64));
                    }
                }
                let len = plan.region_len(self.granule);
                (Some(plan), len)
            }
            ArenaMode::DualMapped => {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                let len = DualRegion::region_len(layout, self.chunk);
                #[cfg(not(any(target_os = "linux", target_os = "android")))]
                let len = 0;
                (None, len)
            }
        };
        if region_len > Self::MAX_RESERVATION {
            return Err(self.too_big(
                layout,
                format!("the module's segments together need {region_len} bytes of one region"),
            ));
        }
        if let Some((index, segments)) = self.place_in_regions(id, layout, plan.as_ref(), None)? {
            self.owners.insert(id, Some(index));
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
        match self.place_in_regions(id, layout, plan.as_ref(), Some(index))? {
            Some((index, segments)) => {
                self.owners.insert(id, Some(index));
                Ok(Allocation { id, segments })
            }
            None => Err(self.no_room(region_len, "a new region could not hold it either")),
        }
    }

    fn finalize(&mut self, allocation: &Allocation) -> Result<()> {
        let region = match self.owners.get(&allocation.id) {
            Some(None) if allocation.segments.iter().all(|s| s.size == 0) => return Ok(()),
            Some(Some(index)) => *index,
            _ => return Err(self.foreign(allocation)),
        };
        let refuse_exec = self.simulate_exec_refusal;
        match self.regions.get_mut(region) {
            Some(Region::Pages(region)) if region.owns(allocation.id, &allocation.segments) => {
                region.finalize(allocation.id, refuse_exec)
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Some(Region::Dual(region)) if region.owns(allocation.id, &allocation.segments) => {
                region.finalize(allocation.id)
            }
            _ => Err(self.foreign(allocation)),
        }
    }

    fn release(&mut self, allocation: Allocation) {
        let Some(&owner) = self.owners.get(&allocation.id) else {
            // Not ours (or released already): nothing to give back.
            return;
        };
        match owner {
            None => {
                if allocation.segments.iter().all(|s| s.size == 0) {
                    self.owners.remove(&allocation.id);
                }
            }
            Some(index) => {
                if let Some(region) = self.regions.get_mut(index) {
                    if region.owns(allocation.id, &allocation.segments) {
                        region.release(allocation.id);
                        self.owners.remove(&allocation.id);
                        if region.allocations() == 0 {
                            self.trim_regions();
                        }
                    }
                }
            }
        }
    }

    fn stats(&self) -> MemoryStats {
        let mut stats = MemoryStats {
            allocations: self.owners.len() as u64,
            regions: self.regions.len() as u64,
            ..MemoryStats::default()
        };
        for region in &self.regions {
            stats.reserved_bytes += region.reserved();
            let committed = region.committed_by_class();
            let reserved = region.reserved_by_class();
            for class in SegmentClass::ALL {
                stats.committed_by_class[class as usize] += committed[class as usize];
                stats.reserved_by_class[class as usize] += reserved[class as usize];
            }
            stats.live_bytes += region.live_bytes();
            stats.mappings += region.areas();
            stats.free_reserved_bytes += region.free().total() as u64;
            stats.largest_free_run = stats.largest_free_run.max(region.free().largest() as u64);
        }
        stats.committed_bytes = stats.committed_by_class.iter().sum();
        stats.free_bytes_in_committed = stats.committed_bytes.saturating_sub(stats.live_bytes);
        debug_assert_eq!(
            stats.allocations as usize,
            self.owners.values().filter(|o| o.is_none()).count()
                + self.regions.iter().map(Region::allocations).sum::<usize>()
        );
        stats
    }

    fn allocation_stats(&self, allocation: &Allocation) -> Option<AllocationStats> {
        match self.owners.get(&allocation.id)? {
            None => Some(AllocationStats::default()),
            Some(index) => {
                let region = self.regions.get(*index)?;
                if !region.owns(allocation.id, &allocation.segments) {
                    return None;
                }
                region.allocation_stats(allocation.id)
            }
        }
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
            for owner in self.owners.values_mut().flatten() {
                if *owner > index {
                    *owner -= 1;
                }
            }
        }
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

/// Refuses a new memory file (one descriptor per dual-mapped region) when
/// the process would be left with less than a quarter of its descriptor
/// limit (`RLIMIT_NOFILE`, at most [`DESCRIPTORS_LEFT`] of it) free: the
/// arena must not take the descriptors the rest of the process needs to
/// open files. An error naming the limit, before the system's `EMFILE`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn descriptor_room(requested: u64) -> Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        // No way to count (no /proc): leave it to the system.
        return Ok(());
    };
    // The directory's own descriptor is listed too.
    let open = (entries.count() as u64).saturating_sub(1);
    check_descriptors(open, limit.rlim_cur, requested)
}

/// [`descriptor_room`] once the open descriptors and the limit are known.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn check_descriptors(open: u64, limit: u64, requested: u64) -> Result<()> {
    let left = (limit / 4).min(DESCRIPTORS_LEFT);
    if open.saturating_add(1 + left) > limit {
        return Err(Error::OutOfMemory {
            requested,
            reason: format!(
                "a new arena region needs a memory file descriptor, but {open} of the process's \
                 {limit} (RLIMIT_NOFILE) are open and the arena leaves {left} free for the rest \
                 of the process; remove modules, raise the limit, or use larger regions \
                 (ArenaConfig::reservation)"
            ),
        });
    }
    Ok(())
}

/// At most this many descriptors [`descriptor_room`] keeps free.
#[cfg(any(target_os = "linux", target_os = "android"))]
const DESCRIPTORS_LEFT: u64 = 256;

/// Step between the addresses [`probe_below`] tries.
const PROBE_STEP: usize = 64 << 20;

/// Finds a free range of `len` bytes between `hint` and `below`, trying
/// addresses `PROBE_STEP` apart. Never replaces existing memory. The range
/// is reserved `PROT_NONE`, `MAP_NORESERVE`, like every reservation of the
/// arena, so that the kernel merges its pieces back when they are released.
fn probe_below(hint: usize, below: usize, len: usize, align: usize) -> Option<Mapping> {
    let step = PROBE_STEP.max(align);
    let mut at = protect::round_up_usize(hint, step)?;
    while at.checked_add(len)? <= below {
        if let Some(mapping) = protect::map_near(at, len, libc::MAP_NORESERVE) {
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
    use super::super::page_size;
    use super::super::tests::layout;
    use super::super::tests::{assert_no_writable_executable_mapping, mapping_containing};
    use super::*;

    const BOTH: [ArenaMode; 2] = [ArenaMode::Pages, ArenaMode::DualMapped];

    /// Empty regions beyond the first go back to the system, one kept as a
    /// spare while any module is live; with none live only the first stays.
    #[test]
    fn empty_regions_beyond_the_first_are_given_back() {
        let big = text_only(600 << 10);
        for mode in BOTH {
            let mut arena = Arena::new(config(mode, 1 << 20, None)).unwrap();
            let first = arena.regions()[0];
            let empty = arena.stats();
            let mut live: Vec<Allocation> = (0..4).map(|_| arena.allocate(&big).unwrap()).collect();
            assert_eq!(arena.regions().len(), 4, "{mode:?}");
            // The last region empties: kept as the spare.
            arena.release(live.pop().unwrap());
            assert_eq!(arena.regions().len(), 4, "{mode:?}: a spare stays");
            // Another empties: the spare is enough, one goes.
            arena.release(live.pop().unwrap());
            assert_eq!(arena.regions().len(), 3, "{mode:?}");
            // A module lands in the spare instead of a new region.
            live.push(arena.allocate(&big).unwrap());
            assert_eq!(arena.regions().len(), 3, "{mode:?}");
            for allocation in live.drain(..) {
                arena.release(allocation);
            }
            assert_eq!(arena.regions(), [first], "{mode:?}: only the first");
            let stats = arena.stats();
            assert_eq!(stats.reserved_bytes, empty.reserved_bytes, "{mode:?}");
            assert_eq!(stats.committed_bytes, 0, "{mode:?}");
            assert_eq!(stats.regions, 1, "{mode:?}");
            // Owners were renumbered: everything still works.
            let again = arena.allocate(&big).unwrap();
            let other = arena.allocate(&big).unwrap();
            arena.finalize(&other).unwrap();
            arena.release(again);
            arena.finalize(&other).unwrap();
            arena.release(other);
            assert_eq!(arena.stats().allocations, 0, "{mode:?}");
        }
    }

    /// A new memory file is refused while it would leave the process less
    /// than a quarter of its descriptor limit (at most 256), naming it.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn memory_files_leave_descriptors_for_the_process() {
        assert!(check_descriptors(10, 1024, 1).is_ok());
        assert!(check_descriptors(767, 1024, 1).is_ok());
        let error = check_descriptors(768, 1024, 1).unwrap_err().to_string();
        assert!(
            error.contains("RLIMIT_NOFILE") && error.contains("768 of the process's 1024"),
            "{error}"
        );
        assert!(check_descriptors(40, 64, 1).is_ok());
        assert!(check_descriptors(48, 64, 1).is_err());
        assert!(check_descriptors(1 << 20, 1 << 20, 1).is_err());
        assert!(check_descriptors(1000, 1 << 20, 1).is_ok());
    }

    /// Publishing code runs the kernel's core-serializing barrier on every
    /// thread (x86-64's cross-modifying-code rule, AArch64's context
    /// synchronization) in both modes, whenever the kernel has it.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn finalize_serializes_every_core_where_the_kernel_can() {
        use super::super::sys::{core_sync_state, CoreSync};
        // The kernel's own answer: which membarrier commands it has.
        // SAFETY: MEMBARRIER_CMD_QUERY only returns a bit mask.
        let supported = unsafe { libc::syscall(libc::SYS_membarrier, 0, 0, 0) };
        let sync_core = supported > 0 && supported & (1 << 5) != 0;
        for mode in BOTH {
            let mut arena = Arena::new(config(mode, 1 << 20, None)).unwrap();
            let allocation = arena.allocate(&text_only(64)).unwrap();
            let (_, before) = core_sync_state();
            arena.finalize(&allocation).unwrap();
            let (state, after) = core_sync_state();
            if sync_core {
                assert_eq!(state, Some(CoreSync::Registered), "{mode:?}");
                assert!(after > before, "{mode:?}: no barrier at finalize");
            } else {
                assert_eq!(state, Some(CoreSync::Unavailable), "{mode:?}");
            }
            arena.release(allocation);
        }
    }

    fn all_classes() -> ModuleLayout {
        layout([(100, 16), (32, 16), (64, 8), (200, 32), (300, 8)])
    }

    fn text_only(size: u64) -> ModuleLayout {
        layout([(size, 16), (0, 1), (0, 1), (0, 1), (0, 1)])
    }

    fn config(mode: ArenaMode, reservation: u64, page_size: Option<usize>) -> ArenaConfig {
        ArenaConfig {
            reservation,
            page_size,
            hint: None,
            below: None,
            mode: Some(mode),
            ..ArenaConfig::default()
        }
    }

    fn arena(mode: ArenaMode, reservation: u64) -> Arena {
        Arena::new(config(mode, reservation, None)).expect("reserve")
    }

    /// Fills every requested segment with a byte pattern.
    fn fill(allocation: &Allocation, byte: u8) {
        for segment in &allocation.segments {
            if segment.size > 0 {
                // SAFETY: (test) the segment is writable through write_ptr until finalize.
                unsafe { std::ptr::write_bytes(segment.write_ptr, byte, segment.size as usize) };
            }
        }
    }

    /// The segment's bytes read at its run-time address.
    fn bytes(segment: &Segment) -> Vec<u8> {
        // SAFETY: (test) every segment is readable at `addr`.
        unsafe { std::slice::from_raw_parts(segment.addr as *const u8, segment.size as usize) }
            .to_vec()
    }

    fn is_zero(segment: &Segment) -> bool {
        bytes(segment).iter().all(|&b| b == 0)
    }

    /// Whether a segment handed out again is clean: zero where the linker
    /// writes it, and at run time zero or, for code, the trapping fill that
    /// freed code becomes (dual-mapped mode).
    fn is_clean(class: SegmentClass, segment: &Segment) -> bool {
        // SAFETY: (test) the segment is writable, so readable, through
        // write_ptr until finalize.
        let staged = unsafe {
            std::slice::from_raw_parts(segment.write_ptr as *const u8, segment.size as usize)
        };
        let run_time = bytes(segment);
        staged.iter().all(|&b| b == 0)
            && (run_time.iter().all(|&b| b == 0)
                || (class.is_executable() && run_time.iter().all(|&b| b == protect::TRAP_FILL)))
    }

    /// Entries of `/proc/self/maps` overlapping the arena's regions, or
    /// mapping one of its memory files elsewhere (there should be none).
    fn areas_in_maps(arena: &Arena) -> u64 {
        let regions = arena.regions();
        let files: Vec<u64> = regions.iter().filter_map(|r| r.memory_file).collect();
        let ranges: Vec<(u64, u64)> = regions
            .iter()
            .map(|region| (region.start, region.start + region.len))
            .collect();
        let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
        maps.lines()
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let Some((start, end)) = fields.first().and_then(|r| r.split_once('-')) else {
                    return false;
                };
                let start = u64::from_str_radix(start, 16).unwrap_or(0);
                let end = u64::from_str_radix(end, 16).unwrap_or(0);
                let inode: u64 = fields.get(4).and_then(|i| i.parse().ok()).unwrap_or(0);
                ranges.iter().any(|&(a, b)| start < b && a < end)
                    || (inode != 0 && files.contains(&inode))
            })
            .count() as u64
    }

    /// Mappings of the process backed by memory file `inode`: (start, end,
    /// permissions).
    fn mappings_of_file(inode: u64) -> Vec<(u64, u64, String)> {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
        maps.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (start, end) = fields.first()?.split_once('-')?;
                (fields.get(4)?.parse::<u64>().ok()? == inode).then(|| {
                    (
                        u64::from_str_radix(start, 16).unwrap_or(0),
                        u64::from_str_radix(end, 16).unwrap_or(0),
                        fields.get(1).map_or(String::new(), |p| p.to_string()),
                    )
                })
            })
            .collect()
    }

    #[cfg(target_arch = "x86_64")]
    const RETURN_7: [u8; 6] = [0xB8, 0x07, 0x00, 0x00, 0x00, 0xC3]; // mov eax, 7 ; ret

    #[cfg(target_arch = "x86_64")]
    fn returning(value: u8) -> [u8; 6] {
        let mut code = RETURN_7;
        code[1] = value;
        code
    }

    #[cfg(target_arch = "x86_64")]
    fn call(segment: &Segment) -> u32 {
        // SAFETY: (test) the segment holds `mov eax, imm; ret` and is finalized.
        let function: extern "C" fn() -> u32 =
            unsafe { std::mem::transmute(segment.addr as usize as *const u8) };
        function()
    }

    #[cfg(target_arch = "x86_64")]
    fn write_code(segment: &Segment, code: &[u8]) {
        // SAFETY: (test) the segment is writable through write_ptr until
        // finalize and at least `code.len()` bytes long.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), segment.write_ptr, code.len()) };
    }

    #[test]
    fn arena_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Arena>();
    }

    #[test]
    fn modes_parse() {
        assert_eq!(ArenaMode::parse("pages"), Some(ArenaMode::Pages));
        assert_eq!(ArenaMode::parse(" Dual\n"), Some(ArenaMode::DualMapped));
        assert_eq!(ArenaMode::parse("dual-mapped"), Some(ArenaMode::DualMapped));
        assert_eq!(ArenaMode::parse("paged"), None);
        for mode in BOTH {
            assert_eq!(ArenaMode::parse(mode.name()), Some(mode));
            assert_eq!(arena(mode, 1 << 20).mode(), mode);
        }
    }

    #[test]
    fn default_arenas_find_their_own_low_ranges() {
        // Several engines each get a reservation in the low 2 GiB on x86-64.
        for mode in BOTH {
            let arenas: Vec<Arena> = (0..3)
                .map(|_| {
                    Arena::new(ArenaConfig {
                        mode: Some(mode),
                        ..ArenaConfig::default()
                    })
                    .expect("reserve")
                })
                .collect();
            if cfg!(target_arch = "x86_64") {
                for a in &arenas {
                    assert!(
                        a.base() + a.reservation_len() <= 1 << 31,
                        "{mode:?} arena at {:#x} not below 2 GiB",
                        a.base()
                    );
                }
            }
        }
    }

    #[test]
    fn pages_allocate_write_finalize_release() {
        let mut arena = arena(ArenaMode::Pages, DEFAULT_RESERVATION);
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
        assert_eq!(bytes(allocation.segment(SegmentClass::ReadOnly))[0], 0xAB);
        // SAFETY: (test) data is read + write after finalize.
        unsafe { *allocation.segment(SegmentClass::Data).write_ptr = 1 };
        assert_eq!(arena.stats().allocations, 1);
        arena.release(allocation);
        assert_eq!(arena.stats().allocations, 0);
        assert_eq!(arena.stats().committed_bytes, 0);
    }

    /// The memory file is never mapped writable: the linker writes into
    /// staging buffers, and finalize puts the bytes in the file, where the
    /// run-time view shows them.
    #[test]
    fn dual_mapped_code_is_never_writable_anywhere() {
        let mut arena = arena(ArenaMode::DualMapped, 16 << 20);
        let region = arena.regions()[0];
        let file = region.memory_file.expect("a memory file");
        let writable = |file: u64| {
            mappings_of_file(file)
                .into_iter()
                .filter(|(_, _, perms)| perms.contains('w'))
                .collect::<Vec<_>>()
        };
        let allocation = arena.allocate(&all_classes()).expect("allocate");
        for class in SegmentClass::ALL {
            let segment = allocation.segment(class);
            assert!(region.contains(segment.addr), "{class:?} in the region");
            let write = segment.write_ptr as u64;
            if class == SegmentClass::Data {
                assert_eq!(write, segment.addr, "data is written in place");
            } else {
                assert!(!region.contains(write), "{class:?} staged elsewhere");
                assert!(
                    mapping_containing(write).is_none_or(|(_, _, p)| !p.ends_with('s')),
                    "{class:?}: staged in a view of the file"
                );
            }
            assert!(is_zero(segment));
        }
        assert_eq!(writable(file), [], "no writable view while linking");
        fill(&allocation, 0x5A);
        assert!(
            is_zero(allocation.segment(SegmentClass::Text)),
            "staged bytes are not in the file before finalize"
        );
        arena.finalize(&allocation).expect("finalize");
        assert_eq!(writable(file), [], "no writable view after finalize");
        for class in SegmentClass::ALL {
            assert!(
                bytes(allocation.segment(class)).iter().all(|&b| b == 0x5A),
                "{class:?} after finalize"
            );
        }
        // Released unfinalized: its staged bytes never reach the file.
        let unfinished = arena.allocate(&all_classes()).expect("allocate");
        fill(&unfinished, 0x77);
        let text = *unfinished.segment(SegmentClass::Text);
        arena.release(unfinished);
        let again = arena.allocate(&all_classes()).expect("allocate");
        assert_eq!(again.segment(SegmentClass::Text).addr, text.addr, "reused");
        assert!(is_clean(
            SegmentClass::Text,
            again.segment(SegmentClass::Text)
        ));
        arena.release(again);
        arena.release(allocation);
        assert_eq!(arena.stats().committed_bytes, 0);
    }

    #[test]
    fn empty_classes_are_empty_segments() {
        for mode in BOTH {
            let mut arena = arena(mode, 1 << 20);
            let only_text = text_only(10);
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
            assert_eq!(
                arena.allocation_stats(&nothing),
                Some(AllocationStats::default())
            );
            arena.release(nothing);
            assert_eq!(arena.stats().allocations, 0, "{mode:?}");
        }
    }

    #[test]
    fn alignment_is_honoured() {
        for mode in BOTH {
            let mut arena = arena(mode, 64 << 20);
            // A small block first so the next one does not start aligned by luck.
            let filler = arena.allocate(&text_only(1)).expect("filler");
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
                assert_eq!(
                    addr % align,
                    0,
                    "{mode:?} {class:?} at {addr:#x} aligned to {align}"
                );
            }
            arena.finalize(&allocation).expect("finalize");
            arena.release(allocation);
            arena.release(filler);
            assert_eq!(arena.stats().committed_bytes, 0);
        }
    }

    #[test]
    fn released_memory_is_reused_and_zeroed() {
        for mode in BOTH {
            let mut arena = arena(mode, 16 << 20);
            let wanted = all_classes();
            let first = arena.allocate(&wanted).expect("allocate");
            let addresses: Vec<u64> = first.segments.iter().map(|s| s.addr).collect();
            fill(&first, 0x5A);
            arena.finalize(&first).expect("finalize");
            arena.release(first);

            let second = arena.allocate(&wanted).expect("allocate again");
            let again: Vec<u64> = second.segments.iter().map(|s| s.addr).collect();
            assert_eq!(addresses, again, "{mode:?}: the released memory comes back");
            for segment in &second.segments {
                assert!(is_zero(segment), "{mode:?}: reused memory is zeroed");
            }
            // Writable again before finalize, including former text.
            fill(&second, 1);
            arena.release(second);
        }
    }

    #[test]
    fn pages_free_ranges_coalesce() {
        let page = page_size() as u64;
        let one_page = text_only(page);
        let mut arena = Arena::new(ArenaConfig {
            max_regions: Some(1),
            ..config(ArenaMode::Pages, 8 * page, None)
        })
        .expect("reserve");
        let allocations: Vec<Allocation> = (0..8)
            .map(|_| arena.allocate(&one_page).expect("page"))
            .collect();
        let first = allocations[0].segment(SegmentClass::Text).addr;
        assert!(arena.allocate(&one_page).is_err(), "full");
        assert_eq!(arena.stats().largest_free_run, 0);
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
        let stats = arena.stats();
        assert_eq!(stats.free_reserved_bytes, 7 * page);
        assert_eq!(stats.largest_free_run, 7 * page, "one merged free range");
        let big = text_only(7 * page);
        let allocation = arena.allocate(&big).expect("seven pages fit after merging");
        assert_eq!(allocation.segment(SegmentClass::Text).addr, first + page);
        arena.release(allocation);
        arena.release(kept);
        assert_eq!(arena.stats().largest_free_run, 8 * page);
    }

    #[test]
    fn protections_after_finalize() {
        for mode in BOTH {
            let mut arena = arena(mode, 16 << 20);
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
                assert_eq!(actual, perms, "{mode:?} {class:?} at {:#x}", segment.addr);
                assert!(start <= segment.addr && segment.addr + segment.size <= end);
            }
            if let Some(file) = arena.regions()[0].memory_file {
                let writable: Vec<_> = mappings_of_file(file)
                    .into_iter()
                    .filter(|(_, _, perms)| perms.contains('w'))
                    .collect();
                assert_eq!(writable, [], "no writable mapping of the memory file");
            }
            assert_no_writable_executable_mapping();
            arena.release(allocation);
            assert_eq!(arena.stats().committed_bytes, 0);
            // Page mode gives everything back; the dual-mapped mode keeps one
            // empty span per class warm, and gives back the others (here, a
            // span of several chunks).
            let probe = match mode {
                ArenaMode::Pages => arena.base(),
                ArenaMode::DualMapped => {
                    let big = text_only(3 * arena.chunk_size() as u64);
                    let big = arena.allocate(&big).expect("big");
                    let text = big.segment(SegmentClass::Text).addr;
                    arena.finalize(&big).expect("finalize");
                    arena.release(big);
                    text
                }
            };
            let (_, _, perms) = mapping_containing(probe).expect("region still mapped");
            assert_eq!(perms, "---p", "{mode:?}: released memory is inaccessible");
        }
    }

    #[test]
    fn larger_page_sizes_align_segments() {
        for mode in BOTH {
            for granule in [16384usize, 65536] {
                let mut arena = Arena::new(config(mode, 16 << 20, Some(granule))).expect("reserve");
                assert_eq!(arena.granule(), granule);
                assert_eq!(arena.base() % granule as u64, 0);
                let allocation = arena.allocate(&all_classes()).expect("allocate");
                for segment in &allocation.segments {
                    assert_eq!(segment.addr % 16, 0);
                }
                let mut classes_on_pages = std::collections::HashSet::new();
                // Dual-mapped stubs sit right after the text, on its pages.
                for class in SegmentClass::ALL
                    .into_iter()
                    .filter(|&c| mode == ArenaMode::Pages || c != SegmentClass::Stubs)
                {
                    let page = allocation.segment(class).addr / granule as u64;
                    assert!(
                        classes_on_pages.insert(page),
                        "{mode:?}: {class:?} shares a page"
                    );
                }
                let stats = arena.stats();
                let pages = if mode == ArenaMode::Pages { 5 } else { 4 };
                assert_eq!(stats.committed_bytes, pages * granule as u64);
                for class in SegmentClass::ALL {
                    let shared = mode == ArenaMode::DualMapped && class == SegmentClass::Stubs;
                    let want = if shared { 0 } else { granule as u64 };
                    assert_eq!(stats.committed_by_class[class as usize], want, "{class:?}");
                }
                fill(&allocation, 0xC3);
                arena.finalize(&allocation).expect("finalize");
                let text = allocation.segment(SegmentClass::Text).addr;
                let (start, end, perms) = mapping_containing(text).expect("mapped");
                assert_eq!(perms, "r-xp");
                // The whole granule is one protection.
                let page_start = text - text % granule as u64;
                assert!(start <= page_start && end >= page_start + granule as u64);
                #[cfg(target_arch = "x86_64")]
                {
                    let second = arena.allocate(&text_only(6)).expect("second");
                    write_code(second.segment(SegmentClass::Text), &RETURN_7);
                    arena.finalize(&second).expect("finalize");
                    assert_eq!(call(second.segment(SegmentClass::Text)), 7);
                    arena.release(second);
                }
                arena.release(allocation);
                assert_eq!(arena.stats().committed_bytes, 0);
            }
        }
    }

    #[test]
    fn bad_page_sizes_are_refused() {
        let page = page_size();
        for mode in BOTH {
            for bad in [page / 2, page * 3, 1000, 0] {
                let result = Arena::new(config(mode, 1 << 20, Some(bad)));
                assert!(
                    matches!(result, Err(Error::Memory { .. })),
                    "page size {bad}"
                );
            }
        }
    }

    #[test]
    fn bad_reservations_are_refused() {
        for bad in [0, Arena::MAX_RESERVATION + 1, u64::MAX] {
            let result = Arena::new(ArenaConfig {
                reservation: bad,
                ..ArenaConfig::default()
            });
            assert!(
                matches!(result, Err(Error::OutOfMemory { .. })),
                "reservation {bad}"
            );
        }
        for mode in BOTH {
            let full = Arena::new(ArenaConfig {
                reservation: Arena::MAX_RESERVATION,
                mode: Some(mode),
                ..ArenaConfig::default()
            })
            .expect("2 GiB is allowed");
            assert_eq!(full.reservation_len(), Arena::MAX_RESERVATION);
        }
    }

    #[test]
    fn hint_is_used_when_free() {
        // Find a free spot, give it back, ask for it as a hint. Other tests
        // map memory concurrently and may take the spot in between, so try
        // a few times.
        for mode in BOTH {
            let placed = (0..8).any(|_| {
                let probe = arena(mode, 1 << 20);
                let spot = probe.base();
                drop(probe);
                let arena = Arena::new(ArenaConfig {
                    hint: Some(spot),
                    ..config(mode, 1 << 20, None)
                })
                .expect("reserve");
                arena.base() == spot
            });
            assert!(placed, "{mode:?}: the hint was never honoured");
        }
    }

    #[test]
    fn out_of_memory_without_growth_then_recovers() {
        let page = page_size() as u64;
        for mode in BOTH {
            let mut arena = Arena::new(ArenaConfig {
                max_regions: Some(1),
                ..config(mode, 1 << 20, None)
            })
            .expect("reserve");
            let half = text_only(600 << 10);
            let first = arena.allocate(&half).expect("first fits");
            let error = arena.allocate(&half).expect_err("second does not fit");
            match &error {
                Error::OutOfMemory { requested, reason } => {
                    assert!(*requested >= 600 << 10, "{requested}");
                    assert!(reason.contains("max_regions"), "{reason}");
                    assert!(reason.contains("free"), "{reason}");
                }
                other => panic!("unexpected error {other:?}"),
            }
            assert_eq!(arena.stats().allocations, 1);
            assert_eq!(arena.stats().regions, 1);
            assert_eq!(
                arena.stats().committed_bytes,
                (600u64 << 10).next_multiple_of(page)
            );
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
                layout([(1 << 31, 1), (1 << 31, 1), (0, 1), (0, 1), (0, 1)]),
                layout([(2 << 20, 1), (0, 1), (0, 1), (0, 1), (0, 1)]),
            ] {
                let result = arena.allocate(&absurd);
                assert!(
                    matches!(result, Err(Error::OutOfMemory { .. })),
                    "{mode:?} {absurd:?}: {result:?}"
                );
            }
            let odd = arena.allocate(&layout([(1, 3), (0, 1), (0, 1), (0, 1), (0, 1)]));
            assert!(matches!(odd, Err(Error::Memory { .. })));
            assert_eq!(arena.stats().allocations, 0);
            assert_eq!(arena.stats().committed_bytes, 0);
            assert_eq!(arena.stats().regions, 1);
            let fine = arena.allocate(&all_classes()).expect("still works");
            arena.release(fine);
        }
    }

    #[test]
    fn committed_bytes_cap_is_an_error_and_recoverable() {
        let page = page_size() as u64;
        for mode in BOTH {
            let cap = 10 * page;
            let mut arena = Arena::new(ArenaConfig {
                max_committed: Some(cap),
                ..config(mode, 16 << 20, None)
            })
            .expect("reserve");
            let four_pages = layout([(0, 1), (0, 1), (0, 1), (0, 1), (4 * page, 8)]);
            let a = arena.allocate(&four_pages).expect("4 of 10 pages");
            let b = arena.allocate(&four_pages).expect("8 of 10 pages");
            let error = arena.allocate(&four_pages).expect_err("12 > 10 pages");
            match &error {
                Error::OutOfMemory { requested, reason } => {
                    assert_eq!(*requested, 4 * page, "{mode:?}");
                    assert!(reason.contains(&format!("cap of {cap}")), "{reason}");
                    assert!(
                        reason.contains(&format!("{} bytes are committed", 8 * page)),
                        "{reason}"
                    );
                    assert!(
                        reason.contains(&format!("needs {} more", 4 * page)),
                        "{reason}"
                    );
                }
                other => panic!("unexpected error {other:?}"),
            }
            let stats = arena.stats();
            assert_eq!(
                stats.committed_bytes,
                8 * page,
                "{mode:?}: nothing stays allocated"
            );
            assert_eq!(stats.allocations, 2);
            assert_eq!(
                stats.regions, 1,
                "{mode:?}: the cap does not grow the arena"
            );
            // Small things still fit under the cap.
            let small = arena.allocate(&text_only(64)).expect("one more page");
            arena.release(small);
            arena.release(a);
            let c = arena.allocate(&four_pages).expect("fits after a release");
            assert_eq!(arena.stats().committed_bytes, 8 * page);
            arena.release(b);
            arena.release(c);
            assert_eq!(arena.stats().committed_bytes, 0);
        }
    }

    #[test]
    fn a_full_region_grows_the_arena() {
        for mode in BOTH {
            let mut arena = arena(mode, 1 << 20);
            let empty = arena.stats();
            let mut allocations = Vec::new();
            while arena.stats().regions == 1 {
                allocations.push(arena.allocate(&all_classes()).expect("allocate"));
                // Big data so that dual-mapped modules do not all share pages.
                allocations.push(
                    arena
                        .allocate(&layout([(0, 1), (0, 1), (0, 1), (0, 1), (200 << 10, 16)]))
                        .expect("allocate"),
                );
                assert!(allocations.len() < 100, "{mode:?}: never grew");
            }
            let regions = arena.regions();
            assert_eq!(regions.len(), 2);
            assert!(
                regions[1].start >= regions[0].start + regions[0].len
                    || regions[1].start + regions[1].len <= regions[0].start
            );
            for allocation in &allocations {
                let owner: Vec<&RegionInfo> = regions
                    .iter()
                    .filter(|r| {
                        allocation
                            .segments
                            .iter()
                            .any(|s| s.size > 0 && r.contains(s.addr))
                    })
                    .collect();
                assert_eq!(owner.len(), 1, "{mode:?}: one module, one region");
                for segment in allocation.segments.iter().filter(|s| s.size > 0) {
                    assert!(owner[0].contains(segment.addr + segment.size - 1));
                }
            }
            // A module larger than a region gets a region of its own.
            let big = arena.allocate(&text_only(3 << 20)).expect("3 MiB module");
            let regions = arena.regions();
            assert_eq!(regions.len(), 3);
            assert!(regions[2].len >= 3 << 20);
            assert!(regions[2].contains(big.segment(SegmentClass::Text).addr));
            if cfg!(target_arch = "x86_64") {
                // The default placement keeps growing regions low.
                let low = Arena::new(ArenaConfig {
                    reservation: 1 << 20,
                    mode: Some(mode),
                    ..ArenaConfig::default()
                })
                .expect("reserve");
                assert!(low.base() < 1 << 31);
            }
            arena.release(big);
            for allocation in allocations {
                arena.release(allocation);
            }
            let stats = arena.stats();
            assert_eq!(stats.committed_bytes, 0);
            assert_eq!(stats.allocations, 0);
            // The grown regions went back: the first alone remains.
            assert_eq!(stats.regions, 1);
            assert_eq!(stats.reserved_bytes, empty.reserved_bytes);
        }
    }

    #[test]
    fn refused_exec_falls_back_to_dual_mapping() {
        let mut arena = Arena::new(ArenaConfig {
            simulate_exec_refusal: true,
            ..config(ArenaMode::Pages, 1 << 20, None)
        })
        .expect("falls back instead of failing");
        assert_eq!(arena.mode(), ArenaMode::DualMapped);
        let reason = arena.fallback_reason().expect("a reason").to_string();
        assert!(
            reason.contains("EACCES") && reason.contains("simulated"),
            "{reason}"
        );
        assert!(arena.regions()[0].memory_file.is_some());
        let allocation = arena.allocate(&all_classes()).expect("allocate");
        #[cfg(target_arch = "x86_64")]
        write_code(allocation.segment(SegmentClass::Text), &RETURN_7);
        arena.finalize(&allocation).expect("finalize");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(call(allocation.segment(SegmentClass::Text)), 7);
        assert_no_writable_executable_mapping();
        arena.release(allocation);
        // Without the hook the same configuration stays in page mode here.
        let plain = arena_with_pages();
        assert_eq!(plain.mode(), ArenaMode::Pages);
        assert_eq!(plain.fallback_reason(), None);
    }

    fn arena_with_pages() -> Arena {
        arena(ArenaMode::Pages, 1 << 20)
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn dual_writes_new_code_beside_running_code() {
        let mut arena = arena(ArenaMode::DualMapped, 16 << 20);
        let first = arena.allocate(&text_only(6)).expect("first");
        write_code(first.segment(SegmentClass::Text), &returning(1));
        arena.finalize(&first).expect("finalize");
        assert_eq!(call(first.segment(SegmentClass::Text)), 1);
        let mut later = Vec::new();
        for value in 2..40u8 {
            let allocation = arena.allocate(&text_only(6)).expect("allocate");
            let text = allocation.segment(SegmentClass::Text);
            assert_eq!(
                text.addr / page_size() as u64,
                first.segment(SegmentClass::Text).addr / page_size() as u64,
                "packed into the running code's page"
            );
            write_code(text, &returning(value));
            // The first function keeps running while its page gets new code.
            assert_eq!(call(first.segment(SegmentClass::Text)), 1);
            arena.finalize(&allocation).expect("finalize");
            assert_eq!(call(text), u32::from(value));
            later.push(allocation);
        }
        let stats = arena.stats();
        assert_eq!(
            stats.committed_bytes,
            page_size() as u64,
            "39 modules, one page"
        );
        assert_eq!(stats.live_bytes, 39 * 6);
        assert_eq!(stats.free_bytes_in_committed, page_size() as u64 - 39 * 6);
        assert_no_writable_executable_mapping();
        for allocation in later {
            arena.release(allocation);
        }
        assert_eq!(
            call(first.segment(SegmentClass::Text)),
            1,
            "survives its neighbours"
        );
        arena.release(first);
    }

    #[test]
    fn dual_pages_are_shared_counted_and_given_back() {
        let page = page_size() as u64;
        let mut arena = arena(ArenaMode::DualMapped, 16 << 20);
        let a = arena.allocate(&all_classes()).expect("a");
        let b = arena.allocate(&all_classes()).expect("b");
        let stats = arena.stats();
        // Stubs share the text's pages (they stay within branch reach), so
        // four classes of pages serve both modules.
        assert_eq!(
            stats.committed_bytes,
            4 * page,
            "two modules share every page"
        );
        assert_eq!(stats.committed_by_class, [page, 0, page, page, page]);
        for class in SegmentClass::ALL {
            let (x, y) = (a.segment(class), b.segment(class));
            assert_eq!(x.addr / page, y.addr / page, "{class:?} on one page");
            assert!(x.addr + x.size <= y.addr, "{class:?} does not overlap");
        }
        let (text, stubs) = (
            a.segment(SegmentClass::Text),
            a.segment(SegmentClass::Stubs),
        );
        assert_eq!(
            stubs.addr,
            text.addr + text.size.next_multiple_of(16),
            "stubs follow text"
        );
        let a_stats = arena.allocation_stats(&a).expect("a's figures");
        // The bytes handed out: as asked, the text rounded up to where the
        // stubs begin.
        let handed_out: u64 = a.segments.iter().map(|s| s.size).sum();
        assert_eq!(a_stats.bytes(), handed_out);
        assert_eq!(
            handed_out,
            100_u64.next_multiple_of(16) + 32 + 64 + 200 + 300
        );
        assert_eq!(a_stats.pages(), 4 * page);
        assert_eq!(a_stats.exclusive(), 0, "every page is shared with b");
        fill(&a, 0xEE);
        fill(&b, 0x11);
        arena.finalize(&a).expect("finalize a");
        arena.finalize(&b).expect("finalize b");
        arena.release(a);
        // b's bytes are intact; a's are zero again and b owns the pages alone.
        for segment in &b.segments {
            assert!(bytes(segment).iter().all(|&x| x == 0x11));
        }
        assert_eq!(arena.allocation_stats(&b).expect("b").exclusive(), 4 * page);
        assert_eq!(arena.stats().committed_bytes, 4 * page);
        let c = arena.allocate(&all_classes()).expect("c takes a's place");
        for class in SegmentClass::ALL {
            assert!(
                is_clean(class, c.segment(class)),
                "{class:?}: freed bytes in a shared page were scrubbed"
            );
        }
        arena.release(c);
        let text = b.segment(SegmentClass::Text).addr;
        arena.release(b);
        let stats = arena.stats();
        assert_eq!(
            stats.committed_bytes, 0,
            "last user gone: pages decommitted"
        );
        assert_eq!(stats.live_bytes, 0);
        // The warm span stays reserved; its code page, used by no segment,
        // is inaccessible, so a late call into it faults.
        let (_, _, perms) =
            super::super::tests::mapping_containing(text).expect("the warm span is mapped");
        assert!(perms.starts_with("---"), "{perms}");
    }

    #[test]
    fn stats_follow_allocations() {
        let page = page_size() as u64;
        let wanted = layout([(page + 1, 16), (0, 1), (10, 8), (0, 1), (3 * page, 8)]);
        for mode in BOTH {
            let mut arena = arena(mode, 16 << 20);
            let a = arena.allocate(&wanted).expect("a");
            let b = arena.allocate(&wanted).expect("b");
            let stats = arena.stats();
            assert_eq!(stats.allocations, 2);
            assert_eq!(stats.regions, 1);
            assert_eq!(stats.live_bytes, 2 * (page + 1 + 10 + 3 * page));
            assert_eq!(
                stats.free_bytes_in_committed,
                stats.committed_bytes - stats.live_bytes
            );
            match mode {
                ArenaMode::Pages => {
                    assert_eq!(stats.reserved_bytes, 16 << 20);
                    assert_eq!(
                        stats.committed_by_class,
                        [4 * page, 0, 2 * page, 0, 6 * page]
                    );
                    assert_eq!(stats.committed_bytes, 12 * page);
                    assert_eq!(stats.reserved_by_class, stats.committed_by_class);
                }
                ArenaMode::DualMapped => {
                    // One view: the run-time addresses.
                    assert_eq!(stats.reserved_bytes, 16 << 20);
                    // Text: 2 × (page + 16) bytes packed: 3 pages; GOT: 1
                    // page; data: 2 × 3 pages back to back.
                    assert_eq!(stats.committed_by_class, [3 * page, 0, page, 0, 6 * page]);
                    for class in SegmentClass::ALL {
                        let i = class as usize;
                        assert!(stats.reserved_by_class[i] >= stats.committed_by_class[i]);
                        assert_eq!(stats.reserved_by_class[i] % arena.chunk_size() as u64, 0);
                    }
                }
            }
            assert_eq!(stats.mappings, areas_in_maps(&arena), "{mode:?}");
            arena.finalize(&a).expect("finalize a");
            arena.finalize(&b).expect("finalize b");
            let finalized = arena.stats();
            assert_eq!(finalized.reserved_bytes, 16 << 20, "{mode:?}: no views");
            assert_eq!(finalized.mappings, areas_in_maps(&arena), "{mode:?}");
            let a_stats = arena.allocation_stats(&a).expect("a");
            assert_eq!(a_stats.bytes_by_class, [page + 1, 0, 10, 0, 3 * page]);
            arena.release(a);
            let stats = arena.stats();
            assert_eq!(stats.allocations, 1);
            assert_eq!(
                arena.allocation_stats(&b).expect("b").exclusive(),
                stats.committed_bytes
            );
            arena.release(b);
            assert_eq!(arena.stats().committed_bytes, 0);
            assert_eq!(arena.stats().allocations, 0);
        }
    }

    #[test]
    fn mappings_match_proc_maps_and_stay_flat() {
        for mode in BOTH {
            let mut arena = arena(mode, 64 << 20);
            let layouts = [
                all_classes(),
                text_only(5000),
                layout([(0, 1), (0, 1), (0, 1), (300 << 10, 64), (40, 8)]),
                layout([(10, 1 << 16), (16, 16), (0, 1), (0, 1), (0, 1)]),
            ];
            let mut live = Vec::new();
            let mut flat = None;
            for round in 0..6 {
                for wanted in &layouts {
                    let allocation = arena.allocate(wanted).expect("allocate");
                    assert_eq!(
                        arena.stats().mappings,
                        areas_in_maps(&arena),
                        "{mode:?} allocated"
                    );
                    arena.finalize(&allocation).expect("finalize");
                    assert_eq!(
                        arena.stats().mappings,
                        areas_in_maps(&arena),
                        "{mode:?} finalized"
                    );
                    live.push(allocation);
                }
                // Release every other one, oldest first.
                let mut index = 0;
                live.retain(|_| {
                    index += 1;
                    index % 2 == 0
                });
                while live.len() > 4 {
                    arena.release(live.remove(0));
                    assert_eq!(
                        arena.stats().mappings,
                        areas_in_maps(&arena),
                        "{mode:?} released"
                    );
                }
                if round == 2 {
                    flat = Some(arena.stats().mappings);
                }
            }
            for allocation in live {
                arena.release(allocation);
            }
            assert_eq!(
                arena.stats().mappings,
                areas_in_maps(&arena),
                "{mode:?} empty"
            );
            assert!(flat.is_some());
        }
    }

    #[test]
    fn foreign_or_stale_allocations_are_refused() {
        for mode in BOTH {
            let mut arena = arena(mode, 1 << 20);
            let mut other = self::arena(mode, 1 << 20);
            let mine = arena.allocate(&all_classes()).expect("mine");
            let theirs = other.allocate(&all_classes()).expect("theirs");
            assert!(arena.finalize(&theirs).is_err());
            assert_eq!(arena.allocation_stats(&theirs), None);
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
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn code_runs_after_finalize() {
        for mode in BOTH {
            let mut arena = arena(mode, 16 << 20);
            let allocation = arena.allocate(&text_only(6)).expect("allocate");
            let text = allocation.segment(SegmentClass::Text);
            write_code(text, &RETURN_7);
            arena.finalize(&allocation).expect("finalize");
            assert_eq!(call(text), 7);
            assert_no_writable_executable_mapping();
            arena.release(allocation);
        }
    }
}
