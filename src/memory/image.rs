//! The image manager: links objects at addresses the caller chooses,
//! into heap buffers, without ever executing them — objects of other
//! targets, or of this one laid out for somewhere else (like llvm-rtdyld's
//! `--target-addr-start` and `--target-section-sep`).
//!
//! Each segment of each module gets the next free address at or above the
//! configured base, aligned as asked, and `separation` bytes are left after
//! it, so segments (and the modules they belong to) never touch. The bytes
//! live in a zero-filled heap buffer the linker writes through
//! (`write_ptr`); `addr` is only a number. Finalize changes nothing. A
//! checker reads the linked bytes back by address with [`Image::read`]
//! (for an expression such as `*{8}addr`).
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageConfig {
    /// Address of the first segment (rounded up to its alignment).
    pub base: u64,
    /// Bytes left free after every segment.
    pub separation: u64,
    /// Addresses at or above this are never handed out (an allocation that
    /// would need them fails with [`Error::OutOfMemory`]).
    pub end: u64,
}

impl Default for ImageConfig {
    /// Base 0x10000, 4 KiB between segments, up to the end of the 64-bit space.
    fn default() -> Self {
        ImageConfig {
            base: 0x1_0000,
            separation: 0x1000,
            end: u64::MAX,
        }
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
    class: SegmentClass,
    allocation: u64,
    buffer: Buffer,
}

/// The image memory manager.
pub struct Image {
    config: ImageConfig,
    /// The next free address.
    cursor: u64,
    /// Placed segments by address.
    segments: BTreeMap<u64, Placed>,
    /// Live allocations: the addresses of their segments.
    live: HashMap<u64, Vec<u64>>,
}

// SAFETY: the image owns its buffers outright (raw pointers from
// `Box::into_raw`); moving it moves their only owner.
unsafe impl Send for Image {}
// SAFETY: `&Image` only reads the buffers (`read`, `stats`); writes go
// through pointers handed out by `allocate`, which needs `&mut Image`, and
// the contract is that the linker writes them before finalize only.
unsafe impl Sync for Image {}

impl Image {
    /// An empty image.
    pub fn new(config: ImageConfig) -> Image {
        Image {
            cursor: config.base,
            config,
            segments: BTreeMap::new(),
            live: HashMap::new(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ImageConfig {
        &self.config
    }

    /// The linked bytes at `[addr, addr + len)`, when they lie inside one
    /// live segment.
    pub fn read(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let (&start, placed) = self.segments.range(..=addr).next_back()?;
        let from = usize::try_from(addr - start).ok()?;
        let to = from.checked_add(usize::try_from(len).ok()?)?;
        placed.buffer.bytes().get(from..to)
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

    /// Every live segment: (address, class, size), in address order.
    pub fn segments(&self) -> Vec<(u64, SegmentClass, u64)> {
        self.segments
            .iter()
            .map(|(&addr, placed)| (addr, placed.class, placed.buffer.len as u64))
            .collect()
    }

    /// Bytes of all live buffers.
    fn held_bytes(&self) -> u64 {
        self.segments
            .values()
            .map(|placed| placed.buffer.len as u64)
            .sum()
    }

    /// Whether `allocation` is a live allocation of this image.
    fn owns(&self, allocation: &Allocation) -> bool {
        self.live.get(&allocation.id).is_some_and(|addresses| {
            allocation
                .segments
                .iter()
                .filter(|segment| segment.size > 0)
                .all(|segment| {
                    addresses.contains(&segment.addr)
                        && self
                            .segments
                            .get(&segment.addr)
                            .is_some_and(|placed| placed.buffer.len as u64 == segment.size)
                })
        })
    }
}

impl MemoryManager for Image {
    /// An image is laid out for inspection at addresses of its own; nothing
    /// in it runs in this process.
    fn runs_code(&self) -> bool {
        false
    }

    fn allocate(&mut self, layout: &ModuleLayout) -> Result<Allocation> {
        // Lay everything out first, so a failure changes nothing.
        let mut cursor = self.cursor;
        let mut places = [None; SegmentClass::COUNT];
        for class in SegmentClass::ALL {
            let request = layout.get(class);
            if request.size == 0 {
                continue;
            }
            let align = request.checked_align(class)?;
            let start = cursor.checked_next_multiple_of(align);
            let end = start.and_then(|start| start.checked_add(request.size));
            let fits = end.filter(|&end| end <= self.config.end);
            let len = usize::try_from(request.size).ok();
            let (Some(start), Some(end), Some(_)) = (start, fits, len) else {
                return Err(Error::OutOfMemory {
                    requested: request.size,
                    reason: format!(
                        "the {} segment of {} bytes aligned to {align} does not fit below the \
                         image's end {:#x} (next free address {cursor:#x})",
                        class.name(),
                        request.size,
                        self.config.end
                    ),
                });
            };
            places[class as usize] = Some(start);
            cursor = end.saturating_add(self.config.separation);
        }
        // The buffers, all before anything is recorded; sizes come from
        // the object, so both the limit and the allocator may refuse.
        let mut held = self.held_bytes();
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
        let mut addresses = Vec::new();
        for class in SegmentClass::ALL {
            let (Some(addr), Some(buffer)) =
                (places[class as usize], buffers[class as usize].take())
            else {
                continue;
            };
            let size = layout.get(class).size;
            segments[class as usize] = Segment {
                addr,
                write_ptr: buffer.ptr.as_ptr(),
                size,
            };
            self.segments.insert(
                addr,
                Placed {
                    class,
                    allocation: id,
                    buffer,
                },
            );
            addresses.push(addr);
        }
        self.cursor = cursor;
        self.live.insert(id, addresses);
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
        if let Some(addresses) = self.live.remove(&allocation.id) {
            for addr in addresses {
                self.segments.remove(&addr);
            }
        }
    }

    fn stats(&self) -> MemoryStats {
        let mut stats = MemoryStats {
            reserved_bytes: self.cursor - self.config.base,
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
