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

use super::sys::{self, Mapping};
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
                        sys::final_protection(class)
                    } else {
                        libc::PROT_READ | libc::PROT_WRITE
                    };
                    Some((start - mapping.start(), run.len, prot))
                })
                .collect();
            pieces.sort_unstable_by_key(|piece| piece.0);
            count += sys::count_areas(mapping.len, libc::PROT_NONE, pieces);
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
        let page = sys::page_size() as u64;
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
            let len = sys::round_up(request.size, page).filter(|&len| len <= LIMIT);
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
        let mut group_align = sys::page_size();
        for class in TEXT_GROUP {
            let Some(request) = checked[class as usize] else {
                continue;
            };
            let start = sys::round_up_usize(cursor, request.align);
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
            let mapping = sys::map_aligned(None, cursor, group_align, 0)
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
                _ => sys::map_aligned(None, request.len, request.align, 0).map_err(|source| {
                    out_of_memory(
                        &format!("{} bytes for {}", request.len, class.name()),
                        source,
                    )
                })?,
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
            sys::unmap(mapping);
        }
    }
}

/// Makes one segment's pages `PROT_READ|PROT_WRITE`.
fn commit(pointer: *mut u8, request: Checked, total: u64) -> Result<Run> {
    // SAFETY: `pointer` is the page-aligned start of `request.len` bytes inside
    // a mapping this manager has just made and not handed out yet.
    unsafe { sys::protect(pointer, request.len, libc::PROT_READ | libc::PROT_WRITE) }.map_err(
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
            .and_then(|start| sys::round_up_usize(start, align));
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
            let Some(mapping) = sys::map_near(hint, len, 0) else {
                continue;
            };
            if gap(&mapping, text) as u64 >= distance && mapping.start() % align == 0 {
                return Ok(mapping);
            }
            sys::unmap(&mapping);
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
                    sys::protect(run.pointer.as_ptr(), run.len, sys::final_protection(class))?
                };
            }
        }
        for class in SegmentClass::ALL
            .into_iter()
            .filter(|class| class.is_executable())
        {
            if let Some(run) = memory.runs[class as usize] {
                // SAFETY: the run is mapped and now PROT_READ|PROT_EXEC.
                unsafe { sys::publish_code(run.pointer.as_ptr(), run.len) };
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
mod tests;
