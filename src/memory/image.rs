//! The image manager: links objects at addresses the caller chooses,
//! into heap buffers, without ever executing them — objects of other
//! targets, or of this one laid out for somewhere else (like llvm-rtdyld's
//! `--target-addr-start`, `--target-section-sep` and `--map-section`).
//!
//! Each segment of each module gets the next free address at or above the
//! configured base, aligned as asked, and `separation` bytes are left after
//! it, so segments (and the modules they belong to) never touch. A segment
//! may instead be pinned at an address of the caller's ([`ImageConfig::pinned`]);
//! the automatic layout steps over pinned segments, and [`Image::overlap`]
//! finds a pinned segment placed over another. The bytes live in a
//! zero-filled heap buffer the linker writes through (`write_ptr`); `addr`
//! is only a number. Finalize changes nothing. A checker reads the linked
//! bytes back by address with [`Image::read`] (for an expression such as
//! `*{8}addr`).
//!
//! Sizes, alignments and pinned addresses come from the objects and the
//! command line: a bad one is an error ([`Error::Memory`] with
//! `InvalidInput` for an alignment, [`Error::OutOfMemory`] for room), never
//! a panic, and a failed allocation changes nothing.
//!
//! Never call an address an image hands out: nothing is mapped there.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::ptr::NonNull;

use super::{
    heap_segment_refused, next_allocation_id, try_zeroed_bytes, Allocation, AllocationStats,
    MemoryManager, MemoryStats, ModuleLayout, Segment, SegmentClass, HEAP_IMAGE_LIMIT,
};
use crate::{Error, Result};

/// How an [`Image`] lays segments out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// Address of the first segment (rounded up to its alignment).
    pub base: u64,
    /// Bytes left free after every segment the image places itself.
    pub separation: u64,
    /// Addresses at or above this are never handed out (an allocation that
    /// would need them fails with [`Error::OutOfMemory`]).
    pub end: u64,
    /// Segments pinned at an address: (module number, class) → address.
    /// The module number counts the image's allocations from 0 (the first
    /// successful `allocate` is module 0). A pinned segment must be aligned
    /// as the linker asks (else `allocate` fails with an invalid-input
    /// [`Error::Memory`]) and end at or below `end`.
    pub pinned: BTreeMap<(usize, SegmentClass), u64>,
}

impl Default for ImageConfig {
    /// Base 0x10000, 4 KiB between segments, up to the end of the 64-bit
    /// space, nothing pinned.
    fn default() -> Self {
        ImageConfig {
            base: 0x1_0000,
            separation: 0x1000,
            end: u64::MAX,
            pinned: BTreeMap::new(),
        }
    }
}

/// One live segment, as [`Image::segments`] and [`Image::overlap`] list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacedSegment {
    /// The module number of its allocation (see [`ImageConfig::pinned`]).
    pub module: usize,
    /// What it holds.
    pub class: SegmentClass,
    /// Its first address.
    pub addr: u64,
    /// Its bytes.
    pub size: u64,
}

impl PlacedSegment {
    /// One past its last address (saturated at the top of the address
    /// space, which a segment never reaches).
    pub fn end(&self) -> u64 {
        self.addr.saturating_add(self.size)
    }
}

/// A zero-filled heap buffer, owned through a raw pointer so that writes
/// through the pointers handed out and reads through [`Image::read`] share
/// one provenance.
struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
}

impl Buffer {
    /// `None` when the allocator refuses `len` bytes.
    fn zeroed(len: usize) -> Option<Buffer> {
        let boxed: Box<[u8]> = try_zeroed_bytes(len)?.into_boxed_slice();
        let raw = Box::into_raw(boxed);
        // A Box's pointer is never null.
        let ptr = NonNull::new(raw.cast::<u8>()).unwrap_or(NonNull::dangling());
        Some(Buffer { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` holds `len` initialized bytes owned by this buffer
        // (from `zeroed`); writes through the `write_ptr` the image handed
        // out happen only while the linker holds the image mutably, so none
        // overlaps this shared borrow of the image.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` come from `Box::into_raw` of a boxed slice
        // of exactly `len` bytes in `zeroed`, and are dropped once.
        drop(unsafe {
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            ))
        });
    }
}

/// One placed segment.
struct Placed {
    module: usize,
    class: SegmentClass,
    allocation: u64,
    pinned: bool,
    buffer: Buffer,
}

/// Where a segment is kept: its address first (for reading by address),
/// then its allocation and class, since pinned segments may share an
/// address.
type SegmentKey = (u64, u64, SegmentClass);

/// The image memory manager.
pub struct Image {
    config: ImageConfig,
    /// The next free address of the automatic layout.
    cursor: u64,
    /// The module number of the next allocation.
    modules: usize,
    /// Live segments.
    segments: BTreeMap<SegmentKey, Placed>,
    /// Live allocations: the keys of their segments.
    live: HashMap<u64, Vec<SegmentKey>>,
    /// Bytes of all live buffers.
    held: u64,
}

// SAFETY: the image owns its buffers outright (raw pointers from
// `Box::into_raw`); moving it moves their only owner.
unsafe impl Send for Image {}
// SAFETY: `&Image` only reads the buffers (`read`, `stats`); writes go
// through pointers handed out by `allocate`, which needs `&mut Image`, and
// the contract is that the linker writes them before finalize only.
unsafe impl Sync for Image {}

/// The invalid-input error of `allocate`.
fn invalid_request(message: String) -> Error {
    Error::Memory {
        op: "allocate",
        source: io::Error::new(io::ErrorKind::InvalidInput, message),
    }
}

impl Image {
    /// An empty image.
    pub fn new(config: ImageConfig) -> Image {
        Image {
            cursor: config.base,
            config,
            modules: 0,
            segments: BTreeMap::new(),
            live: HashMap::new(),
            held: 0,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ImageConfig {
        &self.config
    }

    /// The live segment holding `addr`. Where pinned segments overlap, the
    /// one starting last at or below `addr`.
    fn segment_at(&self, addr: u64) -> Option<(u64, &Placed)> {
        let (&(start, _, _), placed) = self
            .segments
            .range(..=(addr, u64::MAX, SegmentClass::Data))
            .next_back()?;
        (addr - start < placed.buffer.len as u64).then_some((start, placed))
    }

    /// The linked bytes at `[addr, addr + len)`, when they lie inside one
    /// live segment.
    pub fn read(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let (start, placed) = self.segment_at(addr)?;
        let from = usize::try_from(addr - start).ok()?;
        let to = from.checked_add(usize::try_from(len).ok()?)?;
        placed.buffer.bytes().get(from..to)
    }

    /// The linked bytes from `addr` to the end of the live segment holding
    /// it: what a disassembler may decode from there.
    pub fn read_to_end(&self, addr: u64) -> Option<&[u8]> {
        let (start, placed) = self.segment_at(addr)?;
        placed
            .buffer
            .bytes()
            .get(usize::try_from(addr - start).ok()?..)
    }

    /// A little-endian value of `size` bytes (1, 2, 4 or 8) at `addr`: what
    /// a checker's `*{size}addr` reads.
    pub fn read_uint(&self, addr: u64, size: u64) -> Option<u64> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return None;
        }
        let bytes = self.read(addr, size)?;
        let mut value = [0u8; 8];
        value[..bytes.len()].copy_from_slice(bytes);
        Some(u64::from_le_bytes(value))
    }

    /// Every live segment in allocation order: module by module, and in a
    /// module in [`SegmentClass::ALL`] order.
    pub fn segments(&self) -> Vec<PlacedSegment> {
        let mut placed: Vec<PlacedSegment> = self
            .segments
            .iter()
            .map(|(&(addr, _, _), placed)| PlacedSegment {
                module: placed.module,
                class: placed.class,
                addr,
                size: placed.buffer.len as u64,
            })
            .collect();
        placed.sort_by_key(|segment| (segment.module, segment.class));
        placed
    }

    /// Two live segments whose address ranges overlap, in address order,
    /// if any: only a pinned segment can overlap another.
    pub fn overlap(&self) -> Option<(PlacedSegment, PlacedSegment)> {
        let in_address_order: Vec<PlacedSegment> = self
            .segments
            .iter()
            .map(|(&(addr, _, _), placed)| PlacedSegment {
                module: placed.module,
                class: placed.class,
                addr,
                size: placed.buffer.len as u64,
            })
            .collect();
        // If any two overlap, some segment overlaps the one after it.
        in_address_order
            .windows(2)
            .find(|pair| pair[0].end() > pair[1].addr)
            .map(|pair| (pair[0], pair[1]))
    }

    /// Whether `allocation` is a live allocation of this image.
    fn owns(&self, allocation: &Allocation) -> bool {
        self.live.get(&allocation.id).is_some_and(|keys| {
            SegmentClass::ALL.iter().all(|&class| {
                let segment = allocation.segment(class);
                let key = (segment.addr, allocation.id, class);
                segment.size == 0
                    || keys.contains(&key)
                        && self
                            .segments
                            .get(&key)
                            .is_some_and(|placed| placed.buffer.len as u64 == segment.size)
            })
        })
    }

    /// The error for a segment that does not fit below the image's end.
    fn does_not_fit(&self, class: SegmentClass, size: u64, align: u64, from: u64) -> Error {
        Error::OutOfMemory {
            requested: size,
            reason: format!(
                "the {} segment of {size} bytes aligned to {align} does not fit below the \
                 image's end {:#x} (next free address {from:#x})",
                class.name(),
                self.config.end
            ),
        }
    }

    /// Checks a segment of `module` pinned at `addr`.
    fn check_pinned(
        &self,
        module: usize,
        class: SegmentClass,
        addr: u64,
        size: u64,
        align: u64,
    ) -> Result<()> {
        if addr % align != 0 {
            return Err(invalid_request(format!(
                "the {} segment of module {module} is pinned at {addr:#x}, which is not \
                 aligned to the {align} bytes it needs",
                class.name()
            )));
        }
        if addr
            .checked_add(size)
            .is_none_or(|end| end > self.config.end)
        {
            return Err(Error::OutOfMemory {
                requested: size,
                reason: format!(
                    "the {} segment of module {module} ({size} bytes) is pinned at {addr:#x}, \
                     past the image's end {:#x}",
                    class.name(),
                    self.config.end
                ),
            });
        }
        Ok(())
    }

    /// The first address at or above `from`, aligned to `align`, where
    /// `size` bytes fit below the end without touching a live pinned
    /// segment or one of `pinned_here` (pinned ranges of the layout being
    /// placed).
    fn next_free(
        &self,
        class: SegmentClass,
        from: u64,
        size: u64,
        align: u64,
        pinned_here: &[(u64, u64)],
    ) -> Result<u64> {
        let live_pinned = self
            .segments
            .iter()
            .filter(|(_, placed)| placed.pinned)
            .map(|(&(addr, _, _), placed)| (addr, addr.saturating_add(placed.buffer.len as u64)));
        let pinned: Vec<(u64, u64)> = live_pinned.chain(pinned_here.iter().copied()).collect();
        let mut start = from.checked_next_multiple_of(align);
        loop {
            let Some((at, end)) = start
                .and_then(|at| Some((at, at.checked_add(size)?)))
                .filter(|&(_, end)| end <= self.config.end)
            else {
                return Err(self.does_not_fit(class, size, align, from));
            };
            // Step past a pinned segment in the way; each step moves past
            // one, so this ends.
            match pinned.iter().find(|&&(a, b)| a < end && at < b) {
                Some(&(_, past)) => start = past.checked_next_multiple_of(align),
                None => return Ok(at),
            }
        }
    }
}

impl MemoryManager for Image {
    /// An image is laid out for inspection at addresses of its own; nothing
    /// in it runs in this process.
    fn runs_code(&self) -> bool {
        false
    }

    fn allocate(&mut self, layout: &ModuleLayout) -> Result<Allocation> {
        let module = self.modules;
        // Lay everything out first, so a failure changes nothing.
        let mut cursor = self.cursor;
        let mut places: [Option<(u64, bool)>; SegmentClass::COUNT] = [None; SegmentClass::COUNT];
        let mut pinned_here: Vec<(u64, u64)> = Vec::new();
        for class in SegmentClass::ALL {
            let request = layout.get(class);
            if request.size == 0 {
                continue;
            }
            let align = request.checked_align(class)?;
            if usize::try_from(request.size).is_err() {
                return Err(self.does_not_fit(class, request.size, align, cursor));
            }
            let place = match self.config.pinned.get(&(module, class)) {
                Some(&addr) => {
                    self.check_pinned(module, class, addr, request.size, align)?;
                    // Checked not to overflow just above.
                    pinned_here.push((addr, addr + request.size));
                    (addr, true)
                }
                None => {
                    let addr = self.next_free(class, cursor, request.size, align, &pinned_here)?;
                    // `next_free` checked that the segment ends below `end`.
                    cursor = (addr + request.size).saturating_add(self.config.separation);
                    (addr, false)
                }
            };
            places[class as usize] = Some(place);
        }
        // The buffers, all before anything is recorded; sizes come from
        // the object, so both the limit and the allocator may refuse.
        let mut held = self.held;
        let mut buffers: [Option<Buffer>; SegmentClass::COUNT] = Default::default();
        for class in SegmentClass::ALL {
            if places[class as usize].is_none() {
                continue;
            }
            let size = layout.get(class).size;
            let buffer = held
                .checked_add(size)
                .filter(|&total| total <= HEAP_IMAGE_LIMIT)
                // Checked to fit a usize above.
                .and_then(|_| Buffer::zeroed(size as usize))
                .ok_or_else(|| heap_segment_refused("the image", class, size, held))?;
            held += size;
            buffers[class as usize] = Some(buffer);
        }
        let id = next_allocation_id();
        let mut segments = [Segment::EMPTY; SegmentClass::COUNT];
        let mut keys = Vec::new();
        for class in SegmentClass::ALL {
            let (Some((addr, pinned)), Some(buffer)) =
                (places[class as usize], buffers[class as usize].take())
            else {
                continue;
            };
            segments[class as usize] = Segment {
                addr,
                write_ptr: buffer.ptr.as_ptr(),
                size: layout.get(class).size,
            };
            let key = (addr, id, class);
            self.segments.insert(
                key,
                Placed {
                    module,
                    class,
                    allocation: id,
                    pinned,
                    buffer,
                },
            );
            keys.push(key);
        }
        self.cursor = cursor;
        self.modules += 1;
        self.held = held;
        self.live.insert(id, keys);
        Ok(Allocation { id, segments })
    }

    fn finalize(&mut self, allocation: &Allocation) -> Result<()> {
        if self.owns(allocation) {
            Ok(())
        } else {
            Err(Error::Memory {
                op: "finalize",
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "allocation {} is not a live allocation of this image",
                        allocation.id
                    ),
                ),
            })
        }
    }

    fn release(&mut self, allocation: Allocation) {
        if !self.owns(&allocation) {
            return;
        }
        if let Some(keys) = self.live.remove(&allocation.id) {
            for key in keys {
                if let Some(placed) = self.segments.remove(&key) {
                    self.held -= placed.buffer.len as u64;
                }
            }
        }
    }

    fn stats(&self) -> MemoryStats {
        let pinned: u64 = self
            .segments
            .values()
            .filter(|placed| placed.pinned)
            .map(|placed| placed.buffer.len as u64)
            .sum();
        let mut stats = MemoryStats {
            // The automatic layout's range, and the pinned segments.
            reserved_bytes: (self.cursor - self.config.base).saturating_add(pinned),
            allocations: self.live.len() as u64,
            ..MemoryStats::default()
        };
        for placed in self.segments.values() {
            stats.committed_by_class[placed.class as usize] += placed.buffer.len as u64;
        }
        stats.reserved_by_class = stats.committed_by_class;
        stats.committed_bytes = stats.committed_by_class.iter().sum();
        stats.live_bytes = stats.committed_bytes;
        stats
    }

    fn allocation_stats(&self, allocation: &Allocation) -> Option<AllocationStats> {
        if !self.owns(allocation) {
            return None;
        }
        let mut stats = AllocationStats::default();
        for placed in self
            .segments
            .values()
            .filter(|placed| placed.allocation == allocation.id)
        {
            let i = placed.class as usize;
            let len = placed.buffer.len as u64;
            stats.bytes_by_class[i] = len;
            stats.pages_by_class[i] = len;
            stats.exclusive_by_class[i] = len;
        }
        Some(stats)
    }
}

#[cfg(test)]
mod tests;
