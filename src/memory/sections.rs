//! The per-section manager (the non-llmm path): each segment its own mapping,
//! like LLVM's SectionMemoryManager. Far targets are reached through the GOT
//! and stubs, which it keeps in the text mapping so they stay within reach.
//!
//! Each allocation makes up to three mappings: one holding Text, Stubs and
//! Got one after the other (each starting on its own page so they can be
//! protected separately), one for ReadOnly and one for Data. Mappings are
//! created `PROT_NONE` and only the segments' pages are committed
//! `PROT_READ|PROT_WRITE`, so alignment gaps are never accessible.

use std::collections::HashMap;
use std::io;
use std::ptr::NonNull;

use super::sys::{self as protect, Mapping};
use super::{
    next_allocation_id, Allocation, AllocationStats, MemoryManager, MemoryStats, ModuleLayout,
    Segment, SegmentClass,
};
use crate::{Error, Result};

/// How a [`SectionsManager`] is set up.
#[derive(Debug, Clone, Default)]
pub struct SectionsConfig {
    /// Place read-only and writable data at least this many bytes away from
    /// the text mapping (0: wherever the system puts them). Tests use it to
    /// force out-of-range fixups.
    ///
    /// The gap between the text mapping and each data mapping (above or
    /// below it) is checked after mapping; when no place that far can be
    /// found, `allocate` fails with [`Error::OutOfMemory`].
    pub data_distance: u64,
}

/// One class's memory inside an allocation.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Start (page-aligned, with the mapping's provenance).
    pointer: NonNull<u8>,
    /// Committed bytes (whole pages).
    len: usize,
    /// Bytes requested.
    size: u64,
}

/// The mappings and segments of one allocation.
#[derive(Debug)]
struct ModuleMemory {
    mappings: Vec<Mapping>,
    runs: [Option<Run>; SegmentClass::COUNT],
    /// Whether the runs have their final protections (else read + write).
    finalized: bool,
}

impl ModuleMemory {
    /// Entries of `/proc/self/maps` the module's mappings make: per mapping,
    /// one per stretch of pages with the same protection.
    fn areas(&self) -> u64 {
        let mut count = 0;
        for mapping in &self.mappings {
            let mut pieces: Vec<(usize, usize, libc::c_int)> = SegmentClass::ALL
                .iter()
                .filter_map(|&class| {
                    let run = self.runs[class as usize]?;
                    let start = run.pointer.as_ptr() as usize;
                    if start < mapping.start() || start >= mapping.end() {
                        return None;
                    }
                    let prot = if self.finalized {
                        protect::final_protection(class)
                    } else {
                        libc::PROT_READ | libc::PROT_WRITE
                    };
                    Some((start - mapping.start(), run.len, prot))
                })
                .collect();
            pieces.sort_unstable_by_key(|piece| piece.0);
            count += protect::count_areas(mapping.len, libc::PROT_NONE, pieces);
        }
        count
    }
}

/// The per-section memory manager.
pub struct SectionsManager {
    config: SectionsConfig,
    live: HashMap<u64, ModuleMemory>,
    committed_by_class: [u64; SegmentClass::COUNT],
}

// SAFETY: the manager exclusively owns every mapping it records; the raw
// pointers are addresses into those private mappings that nothing else frees.
// Mutation needs `&mut self`, and the system calls it makes are valid from any
// thread, so moving the manager between threads is sound.
unsafe impl Send for SectionsManager {}
// SAFETY: `&SectionsManager` only reads bookkeeping (`stats`); nothing is
// written through the recorded pointers without `&mut self`.
unsafe impl Sync for SectionsManager {}

/// The classes kept together in the text mapping, within reach of each other.
const TEXT_GROUP: [SegmentClass; 3] = [SegmentClass::Text, SegmentClass::Stubs, SegmentClass::Got];

/// Extra distances tried beyond `data_distance` when the first places are taken.
const EXTRA_DISTANCES: [u64; 6] = [0, 1 << 28, 1 << 30, 1 << 32, 1 << 34, 1 << 36];

/// Bytes between two mappings (0 when they overlap).
fn gap(a: &Mapping, b: &Mapping) -> usize {
    if a.start() >= b.end() {
        a.start() - b.end()
    } else if b.start() >= a.end() {
        b.start() - a.end()
    } else {
        0
    }
}

/// A request checked and converted: pages to commit and alignment.
#[derive(Debug, Clone, Copy)]
struct Checked {
    len: usize,
    align: usize,
    size: u64,
}

impl SectionsManager {
    /// A manager with the given configuration.
    pub fn new(config: SectionsConfig) -> SectionsManager {
        SectionsManager {
            config,
            live: HashMap::new(),
            committed_by_class: [0; SegmentClass::COUNT],
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &SectionsConfig {
        &self.config
    }

    /// Validates every request of `layout`.
    fn check(layout: &ModuleLayout) -> Result<[Option<Checked>; SegmentClass::COUNT]> {
        let page = protect::page_size() as u64;
        let total = layout
            .segments
            .iter()
            .fold(0u64, |sum, request| sum.saturating_add(request.size));
        let mut checked = [None; SegmentClass::COUNT];
        for class in SegmentClass::ALL {
            let request = layout.get(class);
            if request.size == 0 {
                continue;
            }
            let align = request.checked_align(class)?;
            // Anything beyond the user address space (47 bits on x86-64 and
            // most AArch64 systems, 52 at most) cannot be mapped anyway.
            const LIMIT: u64 = 1 << 52;
            let len = protect::round_up(request.size, page).filter(|&len| len <= LIMIT);
            let align = Some(align.max(page)).filter(|&align| align <= LIMIT);
            let (Some(len), Some(align)) = (
                len.and_then(|len| usize::try_from(len).ok()),
                align.and_then(|align| usize::try_from(align).ok()),
            ) else {
                return Err(Error::OutOfMemory {
                    requested: total,
                    reason: format!(
                        "the {} segment of {} bytes aligned to {} is larger than any address space",
                        class.name(),
                        request.size,
                        request.align
                    ),
                });
            };
            checked[class as usize] = Some(Checked {
                len,
                align,
                size: request.size,
            });
        }
        Ok(checked)
    }

    /// Maps the memory for `checked`, recording what was mapped in `memory`
    /// (so the caller can undo it on failure).
    fn map_module(
        &self,
        checked: &[Option<Checked>; SegmentClass::COUNT],
        total: u64,
        memory: &mut ModuleMemory,
    ) -> Result<()> {
        let out_of_memory = |what: &str, source: io::Error| -> Error {
            if source.raw_os_error() == Some(libc::ENOMEM) {
                Error::OutOfMemory {
                    requested: total,
                    reason: format!("the system refused to map {what}: {source}"),
                }
            } else {
                Error::Memory { op: "mmap", source }
            }
        };

        // (a) Text, Stubs and Got, consecutive in one mapping.
        let mut offsets = [0usize; SegmentClass::COUNT];
        let mut cursor = 0usize;
        let mut group_align = protect::page_size();
        for class in TEXT_GROUP {
            let Some(request) = checked[class as usize] else {
                continue;
            };
            let start = protect::round_up_usize(cursor, request.align);
            let Some(end) = start.and_then(|start| start.checked_add(request.len)) else {
                return Err(Error::OutOfMemory {
                    requested: total,
                    reason: "the text, stubs and GOT segments together exceed the address space"
                        .into(),
                });
            };
            offsets[class as usize] = end - request.len;
            cursor = end;
            group_align = group_align.max(request.align);
        }
        let text_mapping = if cursor > 0 {
            let mapping = protect::map_aligned(None, cursor, group_align, 0)
                .map_err(|source| out_of_memory(&format!("{cursor} bytes for text"), source))?;
            memory.mappings.push(mapping);
            for class in TEXT_GROUP {
                if let Some(request) = checked[class as usize] {
                    let pointer = mapping.base.as_ptr().wrapping_add(offsets[class as usize]);
                    memory.runs[class as usize] = Some(commit(pointer, request, total)?);
                }
            }
            Some(mapping)
        } else {
            None
        };

        // (b) ReadOnly and (c) Data, each its own mapping.
        for class in [SegmentClass::ReadOnly, SegmentClass::Data] {
            let Some(request) = checked[class as usize] else {
                continue;
            };
            let mapping = match text_mapping {
                Some(text) if self.config.data_distance > 0 => place_far(
                    request.len,
                    request.align,
                    &text,
                    self.config.data_distance,
                    total,
                )?,
                _ => {
                    protect::map_aligned(None, request.len, request.align, 0).map_err(|source| {
                        out_of_memory(
                            &format!("{} bytes for {}", request.len, class.name()),
                            source,
                        )
                    })?
                }
            };
            memory.mappings.push(mapping);
            memory.runs[class as usize] = Some(commit(mapping.base.as_ptr(), request, total)?);
        }
        Ok(())
    }

    /// The live memory `allocation` describes, if it is one of ours.
    fn live_memory(&self, allocation: &Allocation) -> Option<&ModuleMemory> {
        let memory = self.live.get(&allocation.id)?;
        let matches = SegmentClass::ALL.iter().all(|&class| {
            let segment = allocation.segment(class);
            match memory.runs[class as usize] {
                None => segment.size == 0,
                Some(run) => {
                    segment.addr == run.pointer.as_ptr() as u64 && segment.size == run.size
                }
            }
        });
        matches.then_some(memory)
    }

    fn unmap_all(memory: &ModuleMemory) {
        for mapping in &memory.mappings {
            protect::unmap(mapping);
        }
    }
}

/// Makes one segment's pages `PROT_READ|PROT_WRITE`.
fn commit(pointer: *mut u8, request: Checked, total: u64) -> Result<Run> {
    // SAFETY: `pointer` is the page-aligned start of `request.len` bytes inside
    // a mapping this manager has just made and not handed out yet.
    unsafe { protect::protect(pointer, request.len, libc::PROT_READ | libc::PROT_WRITE) }.map_err(
        |error| match error {
            Error::Memory { source, .. } if source.raw_os_error() == Some(libc::ENOMEM) => {
                Error::OutOfMemory {
                    requested: total,
                    reason: format!(
                        "the system refused to commit {} bytes: {source}",
                        request.len
                    ),
                }
            }
            other => other,
        },
    )?;
    let pointer = NonNull::new(pointer).ok_or_else(|| Error::Memory {
        op: "mmap",
        source: io::Error::from_raw_os_error(libc::EFAULT),
    })?;
    Ok(Run {
        pointer,
        len: request.len,
        size: request.size,
    })
}

/// Maps `len` bytes aligned to `align` whose gap to `text` is at least `distance`.
fn place_far(
    len: usize,
    align: usize,
    text: &Mapping,
    distance: u64,
    total: u64,
) -> Result<Mapping> {
    let mut tried = 0usize;
    for extra in EXTRA_DISTANCES {
        let Some(away) = distance
            .checked_add(extra)
            .and_then(|away| usize::try_from(away).ok())
        else {
            continue;
        };
        let above = text
            .end()
            .checked_add(away)
            .and_then(|start| protect::round_up_usize(start, align));
        let below = text
            .start()
            .checked_sub(away)
            .and_then(|end| end.checked_sub(len))
            .map(|start| start & !(align - 1));
        for hint in [above, below].into_iter().flatten() {
            if hint == 0 {
                continue;
            }
            tried += 1;
            let Some(mapping) = protect::map_near(hint, len, 0) else {
                continue;
            };
            if gap(&mapping, text) as u64 >= distance && mapping.start() % align == 0 {
                return Ok(mapping);
            }
            protect::unmap(&mapping);
        }
    }
    Err(Error::OutOfMemory {
        requested: total,
        reason: format!(
            "no free place for {len} bytes at least {distance} bytes away from the text mapping at \
             {:#x}..{:#x} ({tried} addresses tried)",
            text.start(),
            text.end()
        ),
    })
}

impl MemoryManager for SectionsManager {
    fn allocate(&mut self, layout: &ModuleLayout) -> Result<Allocation> {
        let checked = Self::check(layout)?;
        let total = layout
            .segments
            .iter()
            .fold(0u64, |sum, request| sum.saturating_add(request.size));
        let mut memory = ModuleMemory {
            mappings: Vec::with_capacity(3),
            runs: [None; SegmentClass::COUNT],
            finalized: false,
        };
        if let Err(error) = self.map_module(&checked, total, &mut memory) {
            Self::unmap_all(&memory);
            return Err(error);
        }
        let mut segments = [Segment::EMPTY; SegmentClass::COUNT];
        for class in SegmentClass::ALL {
            if let Some(run) = memory.runs[class as usize] {
                segments[class as usize] = Segment {
                    addr: run.pointer.as_ptr() as u64,
                    write_ptr: run.pointer.as_ptr(),
                    size: run.size,
                };
                self.committed_by_class[class as usize] += run.len as u64;
            }
        }
        let id = next_allocation_id();
        self.live.insert(id, memory);
        Ok(Allocation { id, segments })
    }

    fn finalize(&mut self, allocation: &Allocation) -> Result<()> {
        let Some(memory) = self.live_memory(allocation) else {
            return Err(Error::Memory {
                op: "finalize",
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "allocation {} is not a live allocation of this manager",
                        allocation.id
                    ),
                ),
            });
        };
        for class in SegmentClass::ALL {
            if let Some(run) = memory.runs[class as usize] {
                // SAFETY: the run is committed memory of a live allocation of
                // ours, and the linker is done writing it (that is finalize).
                unsafe {
                    protect::protect(
                        run.pointer.as_ptr(),
                        run.len,
                        protect::final_protection(class),
                    )?
                };
            }
        }
        for class in SegmentClass::ALL
            .into_iter()
            .filter(|class| class.is_executable())
        {
            if let Some(run) = memory.runs[class as usize] {
                // SAFETY: the run is mapped and now PROT_READ|PROT_EXEC.
                unsafe { protect::publish_code(run.pointer.as_ptr(), run.len) };
            }
        }
        if let Some(memory) = self.live.get_mut(&allocation.id) {
            memory.finalized = true;
        }
        Ok(())
    }

    fn release(&mut self, allocation: Allocation) {
        if self.live_memory(&allocation).is_none() {
            // Not ours (or released already): nothing to give back.
            return;
        }
        let Some(memory) = self.live.remove(&allocation.id) else {
            return;
        };
        for class in SegmentClass::ALL {
            if let Some(run) = memory.runs[class as usize] {
                self.committed_by_class[class as usize] -= run.len as u64;
            }
        }
        Self::unmap_all(&memory);
    }

    fn stats(&self) -> MemoryStats {
        let reserved = self
            .live
            .values()
            .flat_map(|memory| memory.mappings.iter())
            .map(|mapping| mapping.len as u64)
            .sum();
        let live_bytes = self
            .live
            .values()
            .flat_map(|memory| memory.runs.iter().flatten())
            .map(|run| run.size)
            .sum();
        let committed_bytes = self.committed_by_class.iter().sum();
        MemoryStats {
            reserved_bytes: reserved,
            committed_bytes,
            committed_by_class: self.committed_by_class,
            reserved_by_class: self.committed_by_class,
            allocations: self.live.len() as u64,
            mappings: self.live.values().map(ModuleMemory::areas).sum(),
            regions: 0,
            live_bytes,
            free_bytes_in_committed: committed_bytes - live_bytes,
            free_reserved_bytes: 0,
            largest_free_run: 0,
        }
    }

    fn allocation_stats(&self, allocation: &Allocation) -> Option<AllocationStats> {
        let memory = self.live_memory(allocation)?;
        let mut stats = AllocationStats::default();
        for class in SegmentClass::ALL {
            if let Some(run) = memory.runs[class as usize] {
                let i = class as usize;
                stats.bytes_by_class[i] = run.size;
                stats.pages_by_class[i] = run.len as u64;
                stats.exclusive_by_class[i] = run.len as u64;
            }
        }
        Some(stats)
    }
}

impl Drop for SectionsManager {
    fn drop(&mut self) {
        // Allocations still live die with their manager.
        for memory in self.live.values() {
            Self::unmap_all(memory);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::page_size;
    use super::super::tests::layout;
    use super::super::tests::{assert_no_writable_executable_mapping, mapping_containing};
    use super::*;

    fn all_classes() -> ModuleLayout {
        layout([(100, 16), (32, 16), (64, 8), (200, 32), (300, 8)])
    }

    #[test]
    fn manager_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SectionsManager>();
    }

    #[test]
    fn allocate_finalize_release() {
        let page = page_size() as u64;
        let mut manager = SectionsManager::new(SectionsConfig::default());
        let allocation = manager.allocate(&all_classes()).expect("allocate");
        let stats = manager.stats();
        assert_eq!(stats.mappings, 3);
        assert_eq!(stats.allocations, 1);
        assert_eq!(stats.committed_bytes, 5 * page);
        assert_eq!(stats.committed_by_class, [page; 5]);
        let text = allocation.segment(SegmentClass::Text).addr;
        assert_eq!(allocation.segment(SegmentClass::Stubs).addr, text + page);
        assert_eq!(allocation.segment(SegmentClass::Got).addr, text + 2 * page);
        for segment in &allocation.segments {
            assert_eq!(segment.addr % page, 0);
            assert_eq!(segment.write_ptr as u64, segment.addr);
            // SAFETY: (test) segments are RW until finalize.
            let bytes =
                unsafe { std::slice::from_raw_parts_mut(segment.write_ptr, segment.size as usize) };
            assert!(bytes.iter().all(|&b| b == 0), "zeroed");
            bytes.fill(0xC3);
        }
        manager.finalize(&allocation).expect("finalize");
        let expected = ["r-xp", "r-xp", "r--p", "r--p", "rw-p"];
        for (class, perms) in SegmentClass::ALL.into_iter().zip(expected) {
            let segment = allocation.segment(class);
            let (start, end, actual) = mapping_containing(segment.addr).expect("mapped");
            assert_eq!(actual, perms, "{class:?}");
            assert!(start <= segment.addr && segment.addr + segment.size <= end);
        }
        assert_no_writable_executable_mapping();
        manager.release(allocation);
        let stats = manager.stats();
        assert_eq!(
            (stats.mappings, stats.allocations, stats.committed_bytes),
            (0, 0, 0)
        );
    }

    #[test]
    fn only_requested_mappings_are_made() {
        let mut manager = SectionsManager::new(SectionsConfig::default());
        let text_only = manager
            .allocate(&layout([(10, 1), (0, 1), (0, 1), (0, 1), (0, 1)]))
            .expect("text only");
        assert_eq!(manager.stats().mappings, 1);
        let data_only = manager
            .allocate(&layout([(0, 1), (0, 1), (0, 1), (0, 1), (10, 1)]))
            .expect("data only");
        assert_eq!(manager.stats().mappings, 2);
        assert_eq!(*text_only.segment(SegmentClass::Data), Segment::EMPTY);
        assert_eq!(*data_only.segment(SegmentClass::Text), Segment::EMPTY);
        let nothing = manager.allocate(&ModuleLayout::default()).expect("nothing");
        assert_eq!(manager.stats().mappings, 2);
        manager.finalize(&nothing).expect("finalize nothing");
        for allocation in [text_only, data_only, nothing] {
            manager.release(allocation);
        }
        assert_eq!(manager.stats().mappings, 0);
        assert_eq!(manager.stats().allocations, 0);
    }

    #[test]
    fn alignment_is_honoured() {
        let mut manager = SectionsManager::new(SectionsConfig::default());
        let aligns = [1u64 << 20, 16384, 65536, 1 << 21, 4096];
        let wanted = layout([
            (10, aligns[0]),
            (10, aligns[1]),
            (10, aligns[2]),
            (10, aligns[3]),
            (10, aligns[4]),
        ]);
        let allocation = manager.allocate(&wanted).expect("allocate");
        for (class, align) in SegmentClass::ALL.into_iter().zip(aligns) {
            assert_eq!(allocation.segment(class).addr % align, 0, "{class:?}");
        }
        manager.finalize(&allocation).expect("finalize");
        manager.release(allocation);
    }

    #[test]
    fn data_is_placed_far_from_text() {
        const DISTANCE: u64 = 8 << 30;
        let mut manager = SectionsManager::new(SectionsConfig {
            data_distance: DISTANCE,
        });
        // Several times, so that a lucky first placement does not hide a bug.
        let mut allocations = Vec::new();
        for _ in 0..4 {
            let allocation = manager.allocate(&all_classes()).expect("allocate");
            let text = allocation.segment(SegmentClass::Text);
            for class in [SegmentClass::Text, SegmentClass::Stubs, SegmentClass::Got] {
                let near = allocation.segment(class);
                for far in [SegmentClass::ReadOnly, SegmentClass::Data] {
                    let far = allocation.segment(far);
                    let gap = if far.addr > near.addr {
                        far.addr - (near.addr + near.size)
                    } else {
                        near.addr - (far.addr + far.size)
                    };
                    assert!(gap >= DISTANCE, "{class:?} to data: {gap:#x}");
                    // Out of reach of any 32-bit displacement.
                    assert!(far.addr.abs_diff(text.addr) > i32::MAX as u64);
                }
            }
            manager.finalize(&allocation).expect("finalize");
            allocations.push(allocation);
        }
        // Per module: text + stubs (r-x) and the GOT (r--) in one mapping,
        // rodata and data in one each.
        assert_eq!(manager.stats().mappings, 16);
        for allocation in allocations {
            manager.release(allocation);
        }
        assert_eq!(manager.stats().mappings, 0);
    }

    #[test]
    fn impossible_distance_is_an_error() {
        let mut manager = SectionsManager::new(SectionsConfig {
            data_distance: u64::MAX,
        });
        let result = manager.allocate(&all_classes());
        assert!(
            matches!(result, Err(Error::OutOfMemory { .. })),
            "{result:?}"
        );
        assert_eq!(manager.stats().mappings, 0, "nothing left half-mapped");
        // Text alone needs no distance.
        let text_only = manager
            .allocate(&layout([(10, 1), (0, 1), (0, 1), (0, 1), (0, 1)]))
            .expect("text only");
        manager.release(text_only);
    }

    #[test]
    fn absurd_sizes_are_out_of_memory() {
        let mut manager = SectionsManager::new(SectionsConfig::default());
        for absurd in [
            layout([(u64::MAX, 1), (0, 1), (0, 1), (0, 1), (0, 1)]),
            layout([(1, 1), (0, 1), (0, 1), (0, 1), (u64::MAX - 10, 1)]),
            layout([(1, 1 << 63), (0, 1), (0, 1), (0, 1), (0, 1)]),
            layout([(1 << 51, 1), (1 << 51, 1), (1 << 51, 1), (0, 1), (0, 1)]),
            layout([(0, 1), (0, 1), (0, 1), (1 << 50, 1), (0, 1)]),
        ] {
            let result = manager.allocate(&absurd);
            assert!(
                matches!(result, Err(Error::OutOfMemory { .. })),
                "{absurd:?}: {result:?}"
            );
            assert_eq!(manager.stats().mappings, 0);
        }
        let odd = manager.allocate(&layout([(1, 1), (0, 1), (0, 1), (0, 1), (1, 12)]));
        assert!(matches!(odd, Err(Error::Memory { .. })));
        let fine = manager.allocate(&all_classes()).expect("still works");
        manager.release(fine);
    }

    #[test]
    fn foreign_allocations_are_refused() {
        let mut manager = SectionsManager::new(SectionsConfig::default());
        let mut other = SectionsManager::new(SectionsConfig::default());
        let theirs = other.allocate(&all_classes()).expect("theirs");
        assert!(manager.finalize(&theirs).is_err());
        manager.release(theirs);
        assert_eq!(other.stats().allocations, 1);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn code_runs_after_finalize() {
        let mut manager = SectionsManager::new(SectionsConfig::default());
        let allocation = manager
            .allocate(&layout([(6, 16), (0, 1), (0, 1), (0, 1), (0, 1)]))
            .expect("allocate");
        let text = allocation.segment(SegmentClass::Text);
        let code = [0xB8, 0x07, 0x00, 0x00, 0x00, 0xC3]; // mov eax, 7 ; ret
                                                         // SAFETY: (test) text is writable until finalize and 6 bytes long.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), text.write_ptr, code.len()) };
        manager.finalize(&allocation).expect("finalize");
        // SAFETY: (test) text now holds `mov eax, 7; ret` and is executable.
        let function: extern "C" fn() -> u32 =
            unsafe { std::mem::transmute(text.addr as usize as *const u8) };
        assert_eq!(function(), 7);
        manager.release(allocation);
    }
}
