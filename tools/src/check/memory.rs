//! A memory manager for images that are inspected, never run: each segment
//! is a heap buffer, and its address is one the caller chooses (phony-address
//! linking, as `llvm-rtdyld -verify` does it).
//!
//! Segments are laid out from a start address upwards, each aligned as the
//! linker asks and followed by a gap of `separation` bytes, in allocation
//! order (module by module, and within a module in [`SegmentClass::ALL`]
//! order). A segment of a given module and class can instead be pinned at a
//! fixed address; the automatic layout skips over pinned segments already
//! placed. Every segment stays writable; `finalize` does nothing.

use std::collections::BTreeMap;

use rivet::memory::{
    heap_segment_refused, try_zeroed_bytes, Allocation, MemoryManager, MemoryStats, ModuleLayout,
    Segment, SegmentClass, HEAP_IMAGE_LIMIT,
};
use rivet::{Error, Result};

/// Where [`PhonyMemory`] puts segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhonyLayout {
    /// The address of the first automatically placed segment.
    pub start: u64,
    /// Bytes left free after each automatically placed segment.
    pub separation: u64,
    /// Segments pinned at an address: (module number, class) → address. The
    /// module number counts allocations: the first `allocate` is module 0.
    pub pinned: BTreeMap<(usize, SegmentClass), u64>,
}

/// One segment's bytes and where it is.
#[derive(Debug)]
struct PhonySegment {
    allocation: u64,
    module: usize,
    class: SegmentClass,
    addr: u64,
    /// Never resized after allocation: the linker writes through a pointer
    /// into this buffer (a `Vec`, which asserts no uniqueness when moved).
    bytes: Vec<u8>,
}

/// A [`MemoryManager`] whose segments live in heap buffers at addresses of
/// the caller's choosing. Nothing in it can be executed; it is read back
/// with [`PhonyMemory::read`].
#[derive(Debug)]
pub struct PhonyMemory {
    layout: PhonyLayout,
    /// Where the next automatically placed segment may start.
    next: u64,
    /// Allocations made so far (the module number of the next one).
    modules: usize,
    segments: Vec<PhonySegment>,
    next_id: u64,
}

/// One placed segment, as [`PhonyMemory::segments`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacedSegment {
    pub module: usize,
    pub class: SegmentClass,
    pub addr: u64,
    pub size: u64,
}

fn align_up(value: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    Some(value.checked_add(mask)? & !mask)
}

impl PhonyMemory {
    /// A manager that lays segments out as `layout` says.
    pub fn new(layout: PhonyLayout) -> PhonyMemory {
        PhonyMemory {
            next: layout.start,
            layout,
            modules: 0,
            segments: Vec::new(),
            next_id: 1,
        }
    }

    /// `len` bytes at `addr`, if they lie inside one segment.
    pub fn read(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let segment = self
            .segments
            .iter()
            .find(|s| addr >= s.addr && addr - s.addr < s.bytes.len() as u64)?;
        let start = usize::try_from(addr - segment.addr).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        segment.bytes.get(start..end)
    }

    /// The bytes from `addr` to the end of the segment holding it.
    pub fn read_to_end(&self, addr: u64) -> Option<&[u8]> {
        let segment = self
            .segments
            .iter()
            .find(|s| addr >= s.addr && addr - s.addr < s.bytes.len() as u64)?;
        segment
            .bytes
            .get(usize::try_from(addr - segment.addr).ok()?..)
    }

    /// Every live segment, in allocation order.
    pub fn segments(&self) -> Vec<PlacedSegment> {
        self.segments
            .iter()
            .map(|s| PlacedSegment {
                module: s.module,
                class: s.class,
                addr: s.addr,
                size: s.bytes.len() as u64,
            })
            .collect()
    }

    /// Two live segments whose address ranges overlap, if any.
    pub fn overlap(&self) -> Option<(PlacedSegment, PlacedSegment)> {
        let mut placed = self.segments();
        placed.sort_by_key(|s| s.addr);
        placed
            .windows(2)
            .find(|w| w[0].addr.saturating_add(w[0].size) > w[1].addr)
            .map(|w| (w[0], w[1]))
    }

    fn exhausted(requested: u64, what: String) -> Error {
        Error::OutOfMemory {
            requested,
            reason: what,
        }
    }

    /// The address of a new segment of `size` bytes aligned to `align`.
    fn place(&mut self, module: usize, class: SegmentClass, size: u64, align: u64) -> Result<u64> {
        if let Some(&addr) = self.layout.pinned.get(&(module, class)) {
            if addr % align != 0 {
                return Err(Self::exhausted(
                    size,
                    format!(
                        "the {} segment of module {module} is pinned at {addr:#x}, which is not \
                         aligned to the {align} bytes it needs",
                        class.name()
                    ),
                ));
            }
            if addr.checked_add(size).is_none() {
                return Err(Self::exhausted(
                    size,
                    format!("a segment at {addr:#x} runs past the end of the address space"),
                ));
            }
            return Ok(addr);
        }
        let mut addr = align_up(self.next, align)
            .ok_or_else(|| Self::exhausted(size, "the phony address space is exhausted".into()))?;
        // Skip over pinned segments already placed, so that none overlaps.
        loop {
            let end = addr.checked_add(size).ok_or_else(|| {
                Self::exhausted(size, "the phony address space is exhausted".into())
            })?;
            let clash = self
                .segments
                .iter()
                .filter(|s| self.layout.pinned.contains_key(&(s.module, s.class)))
                .find(|s| s.addr < end && addr < s.addr + s.bytes.len() as u64);
            match clash {
                Some(s) => {
                    let past = s.addr + s.bytes.len() as u64;
                    addr = align_up(past, align).ok_or_else(|| {
                        Self::exhausted(size, "the phony address space is exhausted".into())
                    })?;
                }
                None => break,
            }
        }
        self.next = addr
            .checked_add(size)
            .and_then(|end| end.checked_add(self.layout.separation))
            .ok_or_else(|| Self::exhausted(size, "the phony address space is exhausted".into()))?;
        Ok(addr)
    }
}

impl MemoryManager for PhonyMemory {
    /// The image is laid out at the target's addresses; nothing runs here.
    fn runs_code(&self) -> bool {
        false
    }

    fn allocate(&mut self, layout: &ModuleLayout) -> Result<Allocation> {
        let module = self.modules;
        self.modules += 1;
        let id = self.next_id;
        self.next_id += 1;
        let mut segments = [Segment::EMPTY; SegmentClass::COUNT];
        for class in SegmentClass::ALL {
            let request = layout.get(class);
            if request.size == 0 {
                continue;
            }
            // The same checks, and the same errors, as the image manager.
            let placed = request.checked_align(class).and_then(|align| {
                let held: u64 = self.segments.iter().map(|s| s.bytes.len() as u64).sum();
                let bytes = held
                    .checked_add(request.size)
                    .filter(|&total| total <= HEAP_IMAGE_LIMIT)
                    .and_then(|_| usize::try_from(request.size).ok())
                    .and_then(try_zeroed_bytes)
                    .ok_or_else(|| {
                        heap_segment_refused("the checker's image", class, request.size, held)
                    })?;
                let addr = self.place(module, class, request.size, align)?;
                Ok((addr, bytes))
            });
            let (addr, mut bytes) = match placed {
                Ok(placed) => placed,
                Err(e) => {
                    self.segments.retain(|s| s.allocation != id);
                    return Err(e);
                }
            };
            let write_ptr = bytes.as_mut_ptr();
            self.segments.push(PhonySegment {
                allocation: id,
                module,
                class,
                addr,
                bytes,
            });
            segments[class as usize] = Segment {
                addr,
                write_ptr,
                size: request.size,
            };
        }
        Ok(Allocation { id, segments })
    }

    fn finalize(&mut self, _allocation: &Allocation) -> Result<()> {
        // Nothing runs from these buffers: no protection to apply.
        Ok(())
    }

    fn release(&mut self, allocation: Allocation) {
        self.segments.retain(|s| s.allocation != allocation.id);
    }

    fn stats(&self) -> MemoryStats {
        let mut stats = MemoryStats::default();
        let mut allocations: Vec<u64> = Vec::new();
        for s in &self.segments {
            let size = s.bytes.len() as u64;
            stats.reserved_bytes += size;
            stats.committed_bytes += size;
            stats.committed_by_class[s.class as usize] += size;
            if !allocations.contains(&s.allocation) {
                allocations.push(s.allocation);
            }
        }
        stats.allocations = allocations.len() as u64;
        stats.mappings = 0;
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivet::memory::SegmentRequest;

    fn request(sizes: &[(SegmentClass, u64, u64)]) -> ModuleLayout {
        let mut layout = ModuleLayout::default();
        for &(class, size, align) in sizes {
            *layout.get_mut(class) = SegmentRequest { size, align };
        }
        layout
    }

    #[test]
    fn segments_follow_each_other_aligned_and_separated() {
        let mut memory = PhonyMemory::new(PhonyLayout {
            start: 0x1001,
            separation: 0x100,
            pinned: BTreeMap::new(),
        });
        let a = memory
            .allocate(&request(&[
                (SegmentClass::Text, 0x20, 16),
                (SegmentClass::Data, 8, 8),
            ]))
            .unwrap();
        assert_eq!(a.segment(SegmentClass::Text).addr, 0x1010);
        assert_eq!(a.segment(SegmentClass::Text).size, 0x20);
        // 0x1010 + 0x20 + 0x100 = 0x1130, already 8-aligned.
        assert_eq!(a.segment(SegmentClass::Data).addr, 0x1130);
        assert_eq!(a.segment(SegmentClass::Got).size, 0);
        let b = memory
            .allocate(&request(&[(SegmentClass::ReadOnly, 4, 4096)]))
            .unwrap();
        assert_eq!(b.segment(SegmentClass::ReadOnly).addr, 0x2000);
        assert_eq!(memory.stats().allocations, 2);
        assert_eq!(memory.stats().committed_bytes, 0x20 + 8 + 4);
        assert!(memory.overlap().is_none());
    }

    #[test]
    fn written_bytes_read_back_by_address() {
        let mut memory = PhonyMemory::new(PhonyLayout {
            start: 0x4000,
            ..PhonyLayout::default()
        });
        let a = memory
            .allocate(&request(&[(SegmentClass::Text, 8, 4)]))
            .unwrap();
        let text = a.segment(SegmentClass::Text);
        // SAFETY: the manager handed out 8 writable bytes at write_ptr.
        unsafe { std::ptr::copy_nonoverlapping([1u8, 2, 3, 4].as_ptr(), text.write_ptr.add(2), 4) };
        assert_eq!(memory.read(0x4002, 4), Some(&[1u8, 2, 3, 4][..]));
        assert_eq!(memory.read(0x4006, 2), Some(&[0u8, 0][..]));
        assert_eq!(memory.read(0x4006, 3), None, "runs past the segment");
        assert_eq!(memory.read(0x3fff, 1), None);
        assert_eq!(memory.read_to_end(0x4004).map(<[u8]>::len), Some(4));
        memory.release(a);
        assert_eq!(memory.read(0x4002, 1), None, "released memory is gone");
        assert_eq!(memory.stats().allocations, 0);
    }

    #[test]
    fn pinned_segments_are_where_asked_and_skipped_by_the_rest() {
        let mut pinned = BTreeMap::new();
        pinned.insert((0, SegmentClass::Data), 0x1008);
        pinned.insert((1, SegmentClass::Text), 0x9000_0000);
        let mut memory = PhonyMemory::new(PhonyLayout {
            start: 0x1000,
            separation: 0,
            pinned,
        });
        let a = memory
            .allocate(&request(&[
                (SegmentClass::Text, 0x10, 16),
                (SegmentClass::Data, 0x10, 8),
            ]))
            .unwrap();
        assert_eq!(a.segment(SegmentClass::Text).addr, 0x1000);
        assert_eq!(a.segment(SegmentClass::Data).addr, 0x1008);
        assert_eq!(
            memory.overlap().map(|(x, y)| (x.addr, y.addr)),
            Some((0x1000, 0x1008))
        );
        let b = memory
            .allocate(&request(&[
                (SegmentClass::Text, 4, 4),
                (SegmentClass::ReadOnly, 4, 4),
            ]))
            .unwrap();
        assert_eq!(b.segment(SegmentClass::Text).addr, 0x9000_0000);
        // The automatic layout goes on after module 0's text and steps over
        // the pinned data segment.
        assert_eq!(b.segment(SegmentClass::ReadOnly).addr, 0x1018);
    }

    #[test]
    fn bad_requests_are_errors_that_leave_nothing_allocated() {
        let mut pinned = BTreeMap::new();
        pinned.insert((0, SegmentClass::Data), 0x1004);
        let mut memory = PhonyMemory::new(PhonyLayout {
            start: 0x1000,
            separation: 0,
            pinned,
        });
        let err = memory
            .allocate(&request(&[
                (SegmentClass::Text, 4, 4),
                (SegmentClass::Data, 8, 8),
            ]))
            .unwrap_err();
        assert!(err.to_string().contains("not aligned"), "{err}");
        assert!(memory.segments().is_empty());
        let mut memory = PhonyMemory::new(PhonyLayout {
            start: u64::MAX - 8,
            ..PhonyLayout::default()
        });
        let err = memory
            .allocate(&request(&[(SegmentClass::Text, 16, 1)]))
            .unwrap_err();
        assert!(err.to_string().contains("exhausted"), "{err}");
    }
}
