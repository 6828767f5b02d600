//! One region of the arena in dual-mapped mode ([`ArenaMode::DualMapped`]):
//! many small modules share pages, and no page is ever writable and
//! executable at the same address.
//!
//! # A memory file, written without a writable mapping
//!
//! The region's bytes live in a memory file (`memfd_create`, sized to the
//! region, all holes until written). The file is mapped once:
//!
//! - the *run-time view*, at the region's reserved addresses: what code
//!   runs from and what relocations are computed from ([`Segment::addr`]).
//!   Its pages are private, never-writable mappings of the file:
//!   `PROT_READ|PROT_EXEC` for text and stubs, `PROT_READ` for the GOT and
//!   read-only data. A private mapping that is never written never copies a
//!   page, so it always shows the file's current bytes.
//!
//! The file is never mapped writable. The linker writes a module's text,
//! stubs, GOT and read-only data into zero-filled heap buffers of their own
//! (*staging buffers*, [`Segment::write_ptr`]), and finalize copies each
//! into the file at its offset with `pwrite`, which changes only the
//! module's own bytes of pages it may share with others. So no writable
//! alias of code, GOT or read-only data exists at any time, finalized or
//! not (measured cost in BENCHMARKS.md). Bytes freed on a page still in
//! use are overwritten with `pwrite` too: code with trapping instructions
//! (`int3` on x86-64, zero elsewhere), the rest with zeros. Code pages no
//! segment uses any more are made inaccessible until they are handed out
//! again. So a late call into a removed module's code faults, whichever
//! page it lands on, until its addresses are reused.
//!
//! Writable data does not need the trick: its pages in the run-time view
//! are plain private anonymous memory, read + write, and `write_ptr` equals
//! `addr`.
//!
//! So new code is placed beside code that is already running, and
//! finalize changes no protection: it writes the staged bytes into the
//! file and publishes the code (instruction cache maintenance through the
//! executable address on AArch64, and a serializing barrier on every core).
//! Until then the module's run-time addresses read as zero.
//!
//! # Class pools
//!
//! The region is cut into *chunks* (a power of two, at least the page
//! size). Each class has a pool of *spans*, runs of whole chunks mapped
//! with the class's protection, and sub-allocates segments from them
//! first-fit, at the segment's alignment, in multiples of [`QUANTUM`]
//! bytes. Keeping a class's pages together keeps the number of kernel
//! memory areas small: one per run of spans, not one per module.
//!
//! Each span counts the live segments on each of its pages. A page is
//! committed while the count is non-zero; when its last segment goes, the
//! page is given back to the system (a hole punched in the file, or
//! `MADV_DONTNEED` for data) and reads as zero again. Bytes freed on a page
//! that other segments still use are zeroed by hand, so every segment
//! handed out starts zero-filled. A span left with no segment goes back to
//! the region (its addresses reserved and inaccessible again), except that
//! each class keeps one empty one-chunk span warm so a steady add/remove
//! cycle does not remap.
//!
//! [`ArenaMode::DualMapped`]: super::ArenaMode::DualMapped

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use super::free_list::FreeList;
use super::{Placed, Region};
use crate::memory::sys::{self, Mapping};
use crate::memory::{try_zeroed_bytes, AllocationStats, ModuleLayout, Segment, SegmentClass};
use crate::{Error, Result};

/// Sub-allocation unit: segment sizes are rounded up to it and segments
/// start at least this aligned.
pub(super) const QUANTUM: usize = 16;

/// The largest chunk.
pub(super) const MAX_CHUNK: usize = 256 << 10;

/// One class's segment of a live allocation; `len` 0 when not requested.
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    /// Offset from the region's base.
    offset: usize,
    /// Bytes taken (the size rounded up to [`QUANTUM`]).
    len: usize,
    /// Bytes requested.
    size: u64,
}

/// A live allocation's parts as the region keeps them: offsets and sizes
/// inside one region (at most [`Arena::MAX_RESERVATION`], 2 GiB) fit 32
/// bits, and a part's length is its size rounded up to [`QUANTUM`] (as
/// `take` hands it out), except for stubs that live in the text's part,
/// which have none of their own: the top bit of the offset marks those.
/// Eight bytes a class, not 24, for every live module.
///
/// [`Arena::MAX_RESERVATION`]: super::Arena::MAX_RESERVATION
#[derive(Debug, Clone, Copy, Default)]
struct PackedParts([(u32, u32); SegmentClass::COUNT]);

/// Marks a part of no length of its own in [`PackedParts`].
const NO_LENGTH: u32 = 1 << 31;

impl PackedParts {
    fn pack(parts: &[Part; SegmentClass::COUNT]) -> PackedParts {
        let mut packed = [(0, 0); SegmentClass::COUNT];
        for (out, part) in packed.iter_mut().zip(parts) {
            // Each is inside the region (at most 2 GiB): `take` places
            // parts inside the region only, a part's length is its size
            // rounded up to the quantum or (stubs in the text's part) none.
            debug_assert!(part.offset < 1 << 31 && part.size <= 1 << 31);
            debug_assert!(
                part.len == 0 || part.len == (part.size as usize).next_multiple_of(QUANTUM)
            );
            let flag = if part.len == 0 && part.size > 0 {
                NO_LENGTH
            } else {
                0
            };
            *out = (part.offset as u32 | flag, part.size as u32);
        }
        PackedParts(packed)
    }

    fn unpack(&self) -> [Part; SegmentClass::COUNT] {
        self.0.map(|(offset, size)| Part {
            offset: (offset & !NO_LENGTH) as usize,
            len: if offset & NO_LENGTH != 0 {
                0
            } else {
                (size as usize).next_multiple_of(QUANTUM)
            },
            size: u64::from(size),
        })
    }
}

/// A run of chunks given to one class.
#[derive(Debug)]
struct Span {
    /// Bytes (a multiple of the chunk size).
    len: usize,
    /// Free ranges inside the span (offsets from the region's base).
    free: FreeList,
    /// Bytes taken by live segments.
    used: usize,
    /// Live segments touching each page of the span.
    pages: Vec<u32>,
}

/// Bytes the linker writes for one in-file part of a module not finalized
/// yet; copied into the file at finalize.
struct Staged {
    /// Offset of the part in the file (and the region).
    offset: usize,
    /// Zero-filled, the part's length; never resized (the linker holds a
    /// pointer into it).
    bytes: Vec<u8>,
}

/// A dual-mapped region.
pub(super) struct DualRegion {
    /// The run-time view: reserved address space with spans mapped over it.
    runtime: Mapping,
    /// The staging buffers of allocations not finalized yet.
    staged: HashMap<u64, Vec<Staged>>,
    /// Allocations not finalized yet whose code lies (in part) where code
    /// was before: their publication needs a barrier on every core.
    code_reused: HashSet<u64>,
    /// Per page of the region, from the start: how far into the page code
    /// has ever been handed out (first fit hands it out upwards, so bytes
    /// at or past the mark have never held code). Grows to the highest
    /// page that held code. A region made where an unmapped one held code
    /// starts with none: unmapping it interrupted every core running the
    /// process (the TLB shootdown), which serializes them.
    code_marks: Vec<u32>,
    /// The memory file.
    file: OwnedFd,
    /// The memory file's inode.
    inode: u64,
    /// Page (granule) size.
    granule: usize,
    /// Chunk size: spans are whole chunks.
    chunk: usize,
    /// Chunk runs of the region given to no class.
    free: FreeList,
    /// Each class's spans, by offset.
    spans: [BTreeMap<usize, Span>; SegmentClass::COUNT],
    /// Live allocations.
    live: HashMap<u64, PackedParts>,
    /// Committed bytes per class (pages with live segments).
    committed_by_class: [u64; SegmentClass::COUNT],
    /// Bytes of live segments.
    live_bytes: u64,
    /// Bytes of chunks that could not be made inaccessible again after use
    /// and are kept out of use (never expected).
    quarantined: usize,
}

/// Where code is published: over code handed out before, or over bytes
/// that never held any.
fn code_place(reused: bool) -> sys::CodePlace {
    if reused {
        sys::CodePlace::Reused
    } else {
        sys::CodePlace::Fresh
    }
}

/// Whether a class lives in the memory file (else in anonymous memory).
fn in_file(class: SegmentClass) -> bool {
    class != SegmentClass::Data
}

/// Turns a failed `mmap`/`mprotect` of a span into the crate's error.
fn map_error(class: SegmentClass, len: usize, source: io::Error) -> Error {
    match source.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) if class.is_executable() => {
            Error::JitExecutionRefused {
                reason: format!(
                    "mapping a memory file PROT_READ|PROT_EXEC for {} failed with {} ({source}); \
                     the system forbids executable file mappings too",
                    class.name(),
                    sys::errno_name(source.raw_os_error().unwrap_or(0)),
                ),
            }
        }
        Some(libc::ENOMEM) => Error::OutOfMemory {
            requested: len as u64,
            reason: format!(
                "the system refused to map {len} bytes for {}: {source}",
                class.name()
            ),
        },
        _ => Error::Memory { op: "mmap", source },
    }
}

impl DualRegion {
    /// A region over `runtime` (reserved, `PROT_NONE`, chunk-aligned, a
    /// whole number of chunks). Takes ownership of `runtime`: it is unmapped
    /// on failure too.
    pub(super) fn new(runtime: Mapping, granule: usize, chunk: usize) -> io::Result<DualRegion> {
        let file = match sys::memfd(runtime.len) {
            Ok(file) => file,
            Err(error) => {
                sys::unmap(&runtime);
                return Err(error);
            }
        };
        Ok(DualRegion {
            free: FreeList::with_range(0, runtime.len),
            runtime,
            staged: HashMap::new(),
            code_reused: HashSet::new(),
            code_marks: Vec::new(),
            inode: sys::inode(file.as_fd()),
            file,
            granule,
            chunk,
            spans: Default::default(),
            live: HashMap::new(),
            committed_by_class: [0; SegmentClass::COUNT],
            live_bytes: 0,
            quarantined: 0,
        })
    }

    /// The run-time address of `offset`, with the view's provenance.
    fn runtime_ptr(&self, offset: usize) -> *mut u8 {
        self.runtime.base.as_ptr().wrapping_add(offset)
    }

    /// A zero-filled staging buffer for each in-file part of `parts`.
    fn stage(parts: &[Part; SegmentClass::COUNT]) -> Result<Vec<Staged>> {
        let mut staged = Vec::new();
        for class in SegmentClass::ALL.into_iter().filter(|&c| in_file(c)) {
            let part = parts[class as usize];
            if part.len == 0 {
                continue;
            }
            let bytes = try_zeroed_bytes(part.len).ok_or_else(|| Error::OutOfMemory {
                requested: part.len as u64,
                reason: format!(
                    "no heap buffer of {} bytes to link the {} segment into",
                    part.len,
                    class.name()
                ),
            })?;
            staged.push(Staged {
                offset: part.offset,
                bytes,
            });
        }
        Ok(staged)
    }

    /// Where bytes of `class` at `offset` are written: the staging buffer
    /// holding it, or in place for data.
    fn write_ptr(&self, staged: &mut [Staged], class: SegmentClass, offset: usize) -> *mut u8 {
        if !in_file(class) {
            return self.runtime_ptr(offset);
        }
        staged
            .iter_mut()
            .find(|s| s.offset <= offset && offset < s.offset + s.bytes.len())
            .map_or(std::ptr::null_mut(), |s| {
                s.bytes.as_mut_ptr().wrapping_add(offset - s.offset)
            })
    }

    /// Zeroes freed bytes of `class` at `offset`: in the file for classes
    /// that live in it, in place for data.
    fn zero(&self, class: SegmentClass, offset: usize, len: usize) {
        if !in_file(class) {
            // SAFETY: read + write data pages of a mapped span; no live
            // segment uses the bytes (they were just freed).
            unsafe { std::ptr::write_bytes(self.runtime_ptr(offset), 0, len) };
            return;
        }
        // Freed code becomes trapping instructions, so that a late call
        // into it faults instead of running what is there; the staging
        // buffers, not these bytes, are what a new segment starts from.
        let fill = if class.is_executable() {
            sys::TRAP_FILL
        } else {
            0
        };
        // Never expected to fail (a memory file takes writes inside its
        // size). If it does, the bytes keep their old contents until they
        // are handed out again (new segments start from their staging
        // buffers, so nothing stale reaches them): a writable view of the
        // file, which could do the same, would break the rule that the
        // file is never mapped writable.
        let _ = sys::write_fill(self.file.as_fd(), offset, len, fill);
    }

    /// Committed bytes in all.
    fn committed(&self) -> u64 {
        self.committed_by_class.iter().sum()
    }

    /// Bytes a fresh region needs to hold `layout` wherever its spans fall.
    pub(super) fn region_len(layout: &ModuleLayout, chunk: usize) -> u64 {
        let chunk = chunk as u64;
        layout
            .segments
            .iter()
            .filter(|request| request.size > 0)
            .map(|request| {
                let len = request.size.next_multiple_of(QUANTUM as u64);
                let align = request.align.max(1);
                len.next_multiple_of(chunk) + align.saturating_sub(chunk)
            })
            .sum()
    }

    /// Records that `[offset, offset + len)` is handed out for code;
    /// returns whether any of it has held code before.
    fn mark_code(&mut self, offset: usize, len: usize) -> bool {
        if len == 0 {
            return false;
        }
        let granule = self.granule;
        let (first, last) = (offset / granule, (offset + len - 1) / granule);
        if self.code_marks.len() <= last {
            self.code_marks.resize(last + 1, 0);
        }
        let mut reused = false;
        for page in first..=last {
            let page_start = page * granule;
            let start = offset.max(page_start) - page_start;
            let end = (offset + len).min(page_start + granule) - page_start;
            let mark = &mut self.code_marks[page];
            reused |= start < *mark as usize;
            // At most the granule (a page size, far below 4 GiB).
            *mark = (*mark).max(end as u32);
        }
        reused
    }

    fn try_allocate(
        &mut self,
        id: u64,
        layout: &ModuleLayout,
        room: Option<u64>,
    ) -> Result<Placed> {
        let before = self.committed();
        let mut parts = [Part::default(); SegmentClass::COUNT];
        // Stubs (AArch64 veneers) must stay within reach of the branches that
        // use them, as close as ±32 KiB: they share the text's part, right
        // after the text, instead of coming from a pool of their own.
        let text = layout.get(SegmentClass::Text);
        let stubs = layout.get(SegmentClass::Stubs);
        let stub_offset = (text.size > 0 && stubs.size > 0)
            .then(|| text.size.next_multiple_of(stubs.align.max(1)));
        for class in SegmentClass::ALL {
            let mut request = layout.get(class);
            if request.size == 0 || (class == SegmentClass::Stubs && stub_offset.is_some()) {
                continue;
            }
            if let (SegmentClass::Text, Some(at)) = (class, stub_offset) {
                request.size = at + stubs.size;
                request.align = request.align.max(stubs.align);
            }
            match self.take(class, request.size, request.align.max(1) as usize) {
                Ok(Some(part)) => parts[class as usize] = part,
                Ok(None) => {
                    self.give_parts(&parts);
                    return Ok(Placed::NoRoom);
                }
                Err(error) => {
                    self.give_parts(&parts);
                    return Err(error);
                }
            }
        }
        if let Some(at) = stub_offset {
            // A part of no length of its own: the stubs live in the text's.
            let text = parts[SegmentClass::Text as usize];
            parts[SegmentClass::Stubs as usize] = Part {
                offset: text.offset + at as usize,
                len: 0,
                size: stubs.size,
            };
        }
        let needed = self.committed() - before;
        if room.is_some_and(|room| needed > room) {
            self.give_parts(&parts);
            return Ok(Placed::OverCap { needed });
        }
        let mut staged = match Self::stage(&parts) {
            Ok(staged) => staged,
            Err(error) => {
                self.give_parts(&parts);
                return Err(error);
            }
        };
        let mut segments = [Segment::EMPTY; SegmentClass::COUNT];
        for class in SegmentClass::ALL {
            let part = parts[class as usize];
            if part.size == 0 {
                continue;
            }
            segments[class as usize] = Segment {
                addr: self.runtime_ptr(part.offset) as u64,
                write_ptr: self.write_ptr(&mut staged, class, part.offset),
                size: segment_size(&parts, class),
            };
            if part.len > 0 {
                self.live_bytes += part.size;
            }
        }
        let mut reused = false;
        for class in SegmentClass::ALL.into_iter().filter(|c| c.is_executable()) {
            let part = parts[class as usize];
            reused |= self.mark_code(part.offset, part.len);
        }
        if reused {
            self.code_reused.insert(id);
        }
        self.live.insert(id, PackedParts::pack(&parts));
        self.staged.insert(id, staged);
        Ok(Placed::Segments(segments))
    }

    /// Takes `size` bytes aligned to `align` from the pool of `class`.
    fn take(&mut self, class: SegmentClass, size: u64, align: usize) -> Result<Option<Part>> {
        // Both fit a usize: the caller checked they are at most 2 GiB.
        let len = (size as usize).next_multiple_of(QUANTUM);
        let align = align.max(QUANTUM);
        let base = self.runtime.start();
        let mut found = None;
        for (&span_offset, span) in self.spans[class as usize].iter_mut() {
            if let Some(offset) = span.free.take_first_fit(base, len, align) {
                found = Some((span_offset, offset));
                break;
            }
        }
        let (span_offset, offset) = match found {
            Some(found) => found,
            None => {
                let Some(span_offset) = self.add_span(class, len, align)? else {
                    return Ok(None);
                };
                let offset = self.spans[class as usize]
                    .get_mut(&span_offset)
                    .and_then(|span| span.free.take_first_fit(base, len, align));
                match offset {
                    Some(offset) => (span_offset, offset),
                    // Cannot happen: the span was made to hold it.
                    None => return Ok(None),
                }
            }
        };
        let granule = self.granule;
        let Some(span) = self.spans[class as usize].get_mut(&span_offset) else {
            return Ok(None);
        };
        span.used += len;
        let first = (offset - span_offset) / granule;
        let last = (offset + len - 1 - span_offset) / granule;
        let mut fresh = 0;
        let mut reopen: Vec<(usize, usize)> = Vec::new();
        for (page, count) in span.pages[first..=last].iter_mut().enumerate() {
            if *count == 0 {
                fresh += 1;
                let page_start = span_offset + (first + page) * granule;
                match reopen.last_mut() {
                    Some((start, len)) if *start + *len == page_start => *len += granule,
                    _ => reopen.push((page_start, granule)),
                }
            }
            *count += 1;
        }
        self.committed_by_class[class as usize] += (fresh * granule) as u64;
        if class.is_executable() {
            // Code pages that held no segment were made inaccessible
            // (`give`); they become code pages again.
            for (page_offset, page_len) in reopen {
                // SAFETY: pages of a mapped span of this class, used by no
                // live segment until this one; read + execute is the
                // class's protection.
                let reopened = unsafe {
                    sys::protect(
                        self.runtime_ptr(page_offset),
                        page_len,
                        sys::final_protection(class),
                    )
                };
                if let Err(error) = reopened {
                    // Undo the take: the bytes go back to the span.
                    if let Some(span) = self.spans[class as usize].get_mut(&span_offset) {
                        span.free.give_back(offset, len);
                        span.used -= len;
                        for count in &mut span.pages[first..=last] {
                            *count -= 1;
                        }
                    }
                    self.committed_by_class[class as usize] -= (fresh * granule) as u64;
                    return Err(error);
                }
            }
        }
        Ok(Some(Part { offset, len, size }))
    }

    /// Gives `class` a new span that can hold `len` bytes at `align`;
    /// `Ok(None)` when the region has no chunks left for it.
    fn add_span(&mut self, class: SegmentClass, len: usize, align: usize) -> Result<Option<usize>> {
        let span_len = len.next_multiple_of(self.chunk);
        let Some(offset) =
            self.free
                .take_first_fit(self.runtime.start(), span_len, align.max(self.chunk))
        else {
            return Ok(None);
        };
        let address = self.runtime_ptr(offset);
        let prot = sys::final_protection(class);
        let mapped = if in_file(class) {
            // SAFETY: the chunks were just taken off the region's free list:
            // reserved address space of ours that nothing uses. The file's
            // range at the same offset is all holes (every page of a span
            // is punched when its last segment goes).
            unsafe { sys::map_file_fixed(address, span_len, prot, self.file.as_fd(), offset) }
        } else {
            // SAFETY: as above; data pages are anonymous, made read + write.
            unsafe { sys::protect(address, span_len, prot) }.map_err(|error| match error {
                Error::Memory { source, .. } => source,
                other => io::Error::other(other.to_string()),
            })
        };
        if let Err(source) = mapped {
            self.unmap_chunks(offset, span_len);
            return Err(map_error(class, span_len, source));
        }
        self.spans[class as usize].insert(
            offset,
            Span {
                len: span_len,
                free: FreeList::with_range(offset, span_len),
                used: 0,
                pages: vec![0; span_len / self.granule],
            },
        );
        Ok(Some(offset))
    }

    /// Makes chunks reserved and inaccessible again and frees them (or
    /// quarantines them when that fails).
    fn unmap_chunks(&mut self, offset: usize, len: usize) {
        // SAFETY: the chunks belong to this region and no live segment uses
        // them; replacing them by a fresh PROT_NONE anonymous mapping only
        // affects our own address space.
        match unsafe { sys::map_none_fixed(self.runtime_ptr(offset), len) } {
            Ok(()) => self.free.give_back(offset, len),
            Err(_) => self.quarantined += len,
        }
    }

    /// Gives back every non-empty part of `parts`.
    fn give_parts(&mut self, parts: &[Part; SegmentClass::COUNT]) {
        for class in SegmentClass::ALL {
            let part = parts[class as usize];
            if part.len > 0 {
                self.give(class, part);
            }
        }
    }

    /// Gives back one segment: its pages' counts go down, pages left unused
    /// are returned to the system, the other bytes are zeroed, and an empty
    /// span goes back to the region unless it is its class's warm span.
    fn give(&mut self, class: SegmentClass, part: Part) {
        let granule = self.granule;
        let Some((&span_offset, _)) = self.spans[class as usize].range(..=part.offset).next_back()
        else {
            return;
        };
        let end = part.offset + part.len;
        let mut to_zero: Vec<(usize, usize)> = Vec::new();
        let mut to_discard: Vec<(usize, usize)> = Vec::new();
        {
            let Some(span) = self.spans[class as usize].get_mut(&span_offset) else {
                return;
            };
            span.free.give_back(part.offset, part.len);
            span.used -= part.len;
            let first = (part.offset - span_offset) / granule;
            let last = (end - 1 - span_offset) / granule;
            for (page, count) in span.pages[first..=last].iter_mut().enumerate() {
                *count -= 1;
                let page_start = span_offset + (first + page) * granule;
                if *count == 0 {
                    match to_discard.last_mut() {
                        Some((start, len)) if *start + *len == page_start => *len += granule,
                        _ => to_discard.push((page_start, granule)),
                    }
                } else {
                    let from = part.offset.max(page_start);
                    let to = end.min(page_start + granule);
                    to_zero.push((from, to - from));
                }
            }
        }
        for &(offset, len) in &to_discard {
            self.committed_by_class[class as usize] -= len as u64;
            let discarded = if in_file(class) {
                sys::punch_hole(self.file.as_fd(), offset, len)
            } else {
                // SAFETY: whole pages of a data span whose last segment was
                // just given back: anonymous memory of ours nobody uses.
                unsafe { sys::discard(self.runtime_ptr(offset), len) }
            };
            if discarded.is_err() {
                // The pages keep their memory; zero them so reuse is clean.
                to_zero.push((offset, len));
            } else if class.is_executable() {
                // A late call into code pages no segment uses faults: they
                // become inaccessible until `take` hands them out again.
                // Best effort: if this fails they read as zero.
                // SAFETY: whole pages of a code span that no live segment
                // uses (their count just reached zero).
                let _ = unsafe { sys::protect(self.runtime_ptr(offset), len, libc::PROT_NONE) };
            }
        }
        for (offset, len) in to_zero {
            self.zero(class, offset, len);
        }
        let spans = &self.spans[class as usize];
        if spans
            .get(&span_offset)
            .is_some_and(|span| span.used == 0 && (span.len > self.chunk || spans.len() > 1))
        {
            self.drop_span(class, span_offset);
        }
    }

    /// Returns an empty span's chunks to the region.
    fn drop_span(&mut self, class: SegmentClass, span_offset: usize) {
        if let Some(span) = self.spans[class as usize].remove(&span_offset) {
            debug_assert_eq!(span.used, 0);
            self.unmap_chunks(span_offset, span.len);
        }
    }

    /// Returns every empty span to the region; whether there was any.
    fn trim_empty_spans(&mut self) -> bool {
        let mut any = false;
        for class in SegmentClass::ALL {
            let empty: Vec<usize> = self.spans[class as usize]
                .iter()
                .filter(|(_, span)| span.used == 0)
                .map(|(&offset, _)| offset)
                .collect();
            for offset in empty {
                self.drop_span(class, offset);
                any = true;
            }
        }
        any
    }
}

impl Region for DualRegion {
    /// The run-time view.
    fn reservation(&self) -> &Mapping {
        &self.runtime
    }

    fn memory_file(&self) -> Option<u64> {
        Some(self.inode)
    }

    /// Places `layout` for allocation `id`, committing at most `room` more
    /// bytes (no limit when `None`). The caller has checked sizes and
    /// alignments (powers of two, at most the largest region).
    fn allocate(&mut self, id: u64, layout: &ModuleLayout, room: Option<u64>) -> Result<Placed> {
        let placed = self.try_allocate(id, layout, room)?;
        if matches!(placed, Placed::NoRoom) && self.trim_empty_spans() {
            // Warm spans of other classes may have been in the way.
            return self.try_allocate(id, layout, room);
        }
        Ok(placed)
    }

    /// Whether `segments` are exactly those of live allocation `id`.
    fn owns(&self, id: u64, segments: &[Segment; SegmentClass::COUNT]) -> bool {
        self.live
            .get(&id)
            .map(PackedParts::unpack)
            .is_some_and(|parts| {
                SegmentClass::ALL.iter().all(|&class| {
                    let part = parts[class as usize];
                    let segment = segments[class as usize];
                    if part.size == 0 {
                        segment.size == 0
                    } else {
                        segment.addr == self.runtime_ptr(part.offset) as u64
                            && segment.size == segment_size(&parts, class)
                    }
                })
            })
    }

    /// Writes live allocation `id`'s staged bytes into the file and
    /// publishes its code: nothing to protect, the run-time view is already
    /// read + execute. On failure the bytes stay staged (a later finalize
    /// tries again; release drops them).
    fn finalize(&mut self, id: u64) -> Result<()> {
        let Some(parts) = self.live.get(&id).map(PackedParts::unpack) else {
            return Ok(());
        };
        if let Some(staged) = self.staged.remove(&id) {
            let fd = self.file.as_fd();
            let failed = staged.iter().enumerate().find_map(|(i, part)| {
                sys::write_at(fd, part.offset, &part.bytes)
                    .err()
                    .map(|source| (i, part.bytes.len(), source))
            });
            if let Some((i, len, source)) = failed {
                // What was written is written again on a retry.
                let rest = staged.into_iter().skip(i).collect();
                self.staged.insert(id, rest);
                return Err(write_error(len, source));
            }
        }
        // Every byte is in the file before the code's address can be
        // handed out.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let place = code_place(self.code_reused.remove(&id));
        let code = SegmentClass::ALL
            .into_iter()
            .filter(|class| class.is_executable())
            .map(|class| parts[class as usize])
            .map(|part| (self.runtime_ptr(part.offset).cast_const(), part.len));
        // SAFETY: each range is inside a span of an executable class,
        // mapped PROT_READ|PROT_EXEC (so readable) in the run-time view.
        unsafe { sys::publish_code_ranges(code, place) };
        Ok(())
    }

    /// Writes the staged bytes of every allocation of `ids`, pieces that
    /// are neighbours in the file with one `pwritev`, then publishes all
    /// their code with one barrier on every core. On failure every
    /// allocation keeps its staged bytes (a retry writes them again, the
    /// same bytes where they were written already).
    fn finalize_all(&mut self, ids: &[u64]) -> Result<()> {
        let mut pieces: Vec<(usize, &[u8])> = ids
            .iter()
            .filter_map(|id| self.staged.get(id))
            .flatten()
            .map(|staged| (staged.offset, staged.bytes.as_slice()))
            .collect();
        pieces.sort_unstable_by_key(|&(offset, _)| offset);
        let fd = self.file.as_fd();
        let mut buffers: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        while start < pieces.len() {
            let mut end = start + 1;
            while end < pieces.len()
                && end - start < sys::MAX_IOVECS
                && pieces[end - 1].0 + pieces[end - 1].1.len() == pieces[end].0
            {
                end += 1;
            }
            buffers.clear();
            buffers.extend(pieces[start..end].iter().map(|&(_, bytes)| bytes));
            if let Err(source) = sys::write_vectored_at(fd, pieces[start].0, &buffers) {
                let len = buffers.iter().map(|b| b.len()).sum();
                return Err(write_error(len, source));
            }
            start = end;
        }
        drop(buffers);
        drop(pieces);
        let mut reused = false;
        for id in ids {
            self.staged.remove(id);
            reused |= self.code_reused.remove(id);
        }
        // Every byte is in the file before the code's address can be
        // handed out.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let code: Vec<(*const u8, usize)> = ids
            .iter()
            .filter_map(|id| self.live.get(id).map(PackedParts::unpack))
            .flat_map(|parts| {
                SegmentClass::ALL
                    .into_iter()
                    .filter(|class| class.is_executable())
                    .map(move |class| parts[class as usize])
            })
            .map(|part| (self.runtime_ptr(part.offset).cast_const(), part.len))
            .collect();
        // SAFETY: each range is inside a span of an executable class,
        // mapped PROT_READ|PROT_EXEC (so readable) in the run-time view.
        unsafe { sys::publish_code_ranges(code, code_place(reused)) };
        Ok(())
    }

    /// Gives back live allocation `id`.
    fn release(&mut self, id: u64) {
        let Some(parts) = self.live.remove(&id).as_ref().map(PackedParts::unpack) else {
            return;
        };
        self.code_reused.remove(&id);
        // Released before it was finalized: its staged bytes go unwritten.
        self.staged.remove(&id);
        for part in parts.iter().filter(|p| p.len > 0) {
            self.live_bytes -= part.size;
        }
        self.give_parts(&parts);
    }

    /// Figures of live allocation `id`.
    fn allocation_stats(&self, id: u64) -> Option<AllocationStats> {
        let parts = &self.live.get(&id)?.unpack();
        let mut stats = AllocationStats::default();
        for class in SegmentClass::ALL {
            let part = parts[class as usize];
            if part.len == 0 {
                // Stubs inside the text's part: bytes of their own, pages
                // counted with the text.
                stats.bytes_by_class[class as usize] = part.size;
                continue;
            }
            let Some((&span_offset, span)) =
                self.spans[class as usize].range(..=part.offset).next_back()
            else {
                continue;
            };
            let first = (part.offset - span_offset) / self.granule;
            let last = (part.offset + part.len - 1 - span_offset) / self.granule;
            let pages = &span.pages[first..=last];
            let i = class as usize;
            stats.bytes_by_class[i] = segment_size(parts, class);
            stats.pages_by_class[i] = (pages.len() * self.granule) as u64;
            stats.exclusive_by_class[i] =
                (pages.iter().filter(|&&count| count == 1).count() * self.granule) as u64;
        }
        Some(stats)
    }

    /// Live allocations.
    fn allocations(&self) -> usize {
        self.live.len()
    }

    /// Committed bytes per class.
    fn committed_by_class(&self) -> [u64; SegmentClass::COUNT] {
        self.committed_by_class
    }

    /// Address space given to each class's spans.
    fn reserved_by_class(&self) -> [u64; SegmentClass::COUNT] {
        let mut reserved = [0; SegmentClass::COUNT];
        for class in SegmentClass::ALL {
            reserved[class as usize] = self.spans[class as usize]
                .values()
                .map(|span| span.len as u64)
                .sum();
        }
        reserved
    }

    /// Bytes of live segments.
    fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// Chunks given to no class.
    fn free(&self) -> &FreeList {
        &self.free
    }

    /// Bytes kept out of use.
    fn quarantined(&self) -> usize {
        self.quarantined
    }

    /// Entries of `/proc/self/maps` the region occupies: in the run-time
    /// view, one per run of spans of the same backing and protection, plus
    /// the reserved stretches between them.
    fn areas(&self) -> u64 {
        let mut pieces: Vec<(usize, usize, (bool, libc::c_int))> = Vec::new();
        for class in SegmentClass::ALL {
            for (&offset, span) in &self.spans[class as usize] {
                pieces.push((
                    offset,
                    span.len,
                    (in_file(class), sys::final_protection(class)),
                ));
            }
        }
        pieces.sort_unstable_by_key(|piece| piece.0);
        sys::count_areas(self.runtime.len, (false, libc::PROT_NONE), pieces)
    }
}

/// The error for staged bytes (`len` of them) the memory file refused.
fn write_error(len: usize, source: io::Error) -> Error {
    match source.raw_os_error() {
        Some(libc::ENOMEM) | Some(libc::ENOSPC) => Error::OutOfMemory {
            requested: len as u64,
            reason: format!(
                "the system refused pages for {len} bytes of linked code or constants in the \
                 arena's memory file: {source}"
            ),
        },
        _ => Error::Memory {
            op: "pwrite (the arena's memory file)",
            source,
        },
    }
}

/// The size of `class`'s segment: its part's, except that text which shares
/// its part with the stubs ends where they begin.
fn segment_size(parts: &[Part; SegmentClass::COUNT], class: SegmentClass) -> u64 {
    let stubs = parts[SegmentClass::Stubs as usize];
    let part = parts[class as usize];
    if class == SegmentClass::Text && stubs.size > 0 && stubs.len == 0 {
        (stubs.offset - part.offset) as u64
    } else {
        part.size
    }
}

/// Refuses a new memory file (one descriptor per dual-mapped region) when
/// the process would be left with less than a quarter of its descriptor
/// limit (`RLIMIT_NOFILE`, at most [`DESCRIPTORS_LEFT`] of it) free: the
/// arena must not take the descriptors the rest of the process needs to
/// open files. An error naming the limit, before the system's `EMFILE`.
pub(super) fn descriptor_room(requested: u64) -> Result<()> {
    let Some(limit) = sys::open_file_limit() else {
        return Ok(());
    };
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        // No way to count (no /proc): leave it to the system.
        return Ok(());
    };
    // The directory's own descriptor is listed too.
    let open = (entries.count() as u64).saturating_sub(1);
    check_descriptors(open, limit, requested)
}

/// [`descriptor_room`] once the open descriptors and the limit are known.
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
const DESCRIPTORS_LEFT: u64 = 256;

impl Drop for DualRegion {
    fn drop(&mut self) {
        // The engine drops modules, and the code pointers it handed out,
        // before its memory. The file closes with `self.file`.
        sys::unmap(&self.runtime);
    }
}

#[cfg(test)]
mod tests;
