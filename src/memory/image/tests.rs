use super::super::tests::layout;
use super::*;

#[test]
fn segments_are_placed_from_the_base_with_separation() {
    let mut image = Image::new(ImageConfig {
        base: 0x4000_0000,
        separation: 0x100,
        end: u64::MAX,
        ..ImageConfig::default()
    });
    let allocation = image
        .allocate(&layout([(10, 16), (0, 1), (8, 8), (5, 64), (3, 1)]))
        .unwrap();
    let addrs: Vec<u64> = allocation.segments.iter().map(|s| s.addr).collect();
    // text at the base; GOT after 10 + 0x100 rounded to 8; rodata to 64.
    assert_eq!(
        addrs,
        [0x4000_0000, 0, 0x4000_0110, 0x4000_0240, 0x4000_0345]
    );
    for segment in allocation.segments.iter().filter(|s| s.size > 0) {
        // SAFETY: (test) a heap buffer of `size` bytes.
        unsafe { std::ptr::write_bytes(segment.write_ptr, 0xAB, segment.size as usize) };
    }
    image.finalize(&allocation).unwrap();
    assert_eq!(image.read(0x4000_0000, 10), Some(&[0xAB; 10][..]));
    assert_eq!(image.read(0x4000_0000, 11), None, "past the segment");
    assert_eq!(image.read(0x4000_000A, 1), None);
    assert_eq!(image.read(0x3FFF_FFFF, 1), None);
    assert_eq!(image.read_uint(0x4000_0110, 8), Some(0xABAB_ABAB_ABAB_ABAB));
    assert_eq!(image.read_uint(0x4000_0110, 3), None);
    let stats = image.stats();
    assert_eq!(stats.committed_bytes, 26);
    assert_eq!(stats.allocations, 1);
    assert_eq!(
        image.allocation_stats(&allocation).map(|s| s.bytes()),
        Some(26)
    );
    // The next module follows.
    let next = image
        .allocate(&layout([(4, 4), (0, 1), (0, 1), (0, 1), (0, 1)]))
        .unwrap();
    assert_eq!(next.segments[0].addr, 0x4000_0348 + 0x100);
    image.release(allocation);
    assert_eq!(image.read(0x4000_0000, 1), None, "released");
    assert_eq!(image.stats().allocations, 1);
    image.release(next);
    assert_eq!(image.stats().committed_bytes, 0);
}

#[test]
fn the_end_is_respected_and_failures_change_nothing() {
    let mut image = Image::new(ImageConfig {
        base: 0x1000,
        separation: 0,
        end: 0x2000,
        ..ImageConfig::default()
    });
    let too_big = layout([(0x800, 1), (0, 1), (0, 1), (0x900, 1), (0, 1)]);
    assert!(matches!(
        image.allocate(&too_big),
        Err(Error::OutOfMemory { .. })
    ));
    assert_eq!(image.stats().allocations, 0);
    let fits = image
        .allocate(&layout([(0x1000, 1), (0, 1), (0, 1), (0, 1), (0, 1)]))
        .unwrap();
    assert_eq!(fits.segments[0].addr, 0x1000);
    assert!(image
        .allocate(&layout([(1, 3), (0, 1), (0, 1), (0, 1), (0, 1)]))
        .is_err());
    let huge = layout([(u64::MAX, 1), (0, 1), (0, 1), (0, 1), (0, 1)]);
    assert!(image.allocate(&huge).is_err());
    let mut other = Image::new(ImageConfig::default());
    let foreign = other
        .allocate(&layout([(1, 1), (0, 1), (0, 1), (0, 1), (0, 1)]))
        .unwrap();
    assert!(image.finalize(&foreign).is_err());
    image.release(foreign);
    assert_eq!(other.stats().allocations, 1);
    image.release(fits);
}

/// A module layout of the given classes' (size, alignment), the rest empty.
fn request(sizes: &[(SegmentClass, u64, u64)]) -> ModuleLayout {
    let mut layout = ModuleLayout::default();
    for &(class, size, align) in sizes {
        *layout.get_mut(class) = crate::memory::SegmentRequest { size, align };
    }
    layout
}

/// An image from `base` with no separation, and these pins.
fn pinned_image(base: u64, pins: &[((usize, SegmentClass), u64)]) -> Image {
    Image::new(ImageConfig {
        base,
        separation: 0,
        pinned: pins.iter().copied().collect(),
        ..ImageConfig::default()
    })
}

#[test]
fn segments_follow_each_other_aligned_and_separated_in_allocation_order() {
    let mut image = Image::new(ImageConfig {
        base: 0x1001,
        separation: 0x100,
        ..ImageConfig::default()
    });
    let a = image
        .allocate(&request(&[
            (SegmentClass::Text, 0x20, 16),
            (SegmentClass::Data, 8, 8),
        ]))
        .unwrap();
    assert_eq!(a.segment(SegmentClass::Text).addr, 0x1010);
    // 0x1010 + 0x20 + 0x100 = 0x1130, already 8-aligned.
    assert_eq!(a.segment(SegmentClass::Data).addr, 0x1130);
    assert_eq!(a.segment(SegmentClass::Got).size, 0);
    let b = image
        .allocate(&request(&[(SegmentClass::ReadOnly, 4, 4096)]))
        .unwrap();
    assert_eq!(b.segment(SegmentClass::ReadOnly).addr, 0x2000);
    let listed: Vec<(usize, SegmentClass, u64, u64)> = image
        .segments()
        .iter()
        .map(|s| (s.module, s.class, s.addr, s.size))
        .collect();
    assert_eq!(
        listed,
        [
            (0, SegmentClass::Text, 0x1010, 0x20),
            (0, SegmentClass::Data, 0x1130, 8),
            (1, SegmentClass::ReadOnly, 0x2000, 4),
        ]
    );
    assert_eq!(image.stats().committed_bytes, 0x20 + 8 + 4);
    assert!(image.overlap().is_none());
}

#[test]
fn read_to_end_reads_up_to_the_segment_end() {
    let mut image = pinned_image(0x4000, &[]);
    let a = image
        .allocate(&request(&[(SegmentClass::Text, 8, 4)]))
        .unwrap();
    let text = a.segment(SegmentClass::Text);
    // SAFETY: (test) the image handed out 8 writable bytes at write_ptr.
    unsafe { std::ptr::copy_nonoverlapping([1u8, 2, 3, 4].as_ptr(), text.write_ptr.add(2), 4) };
    assert_eq!(image.read(0x4002, 4), Some(&[1u8, 2, 3, 4][..]));
    assert_eq!(image.read(0x4006, 3), None, "runs past the segment");
    assert_eq!(image.read_to_end(0x4004), Some(&[3u8, 4, 0, 0][..]));
    assert_eq!(image.read_to_end(0x4008), None);
    assert_eq!(image.read_to_end(0x3fff), None);
    image.release(a);
    assert_eq!(image.read_to_end(0x4004), None, "released");
}

#[test]
fn pinned_segments_are_where_asked_and_stepped_over_by_the_rest() {
    let mut image = pinned_image(
        0x1000,
        &[
            ((0, SegmentClass::Data), 0x1008),
            ((1, SegmentClass::Text), 0x9000_0000),
        ],
    );
    let a = image
        .allocate(&request(&[
            (SegmentClass::Text, 0x10, 16),
            (SegmentClass::Data, 0x10, 8),
        ]))
        .unwrap();
    assert_eq!(a.segment(SegmentClass::Text).addr, 0x1000);
    assert_eq!(a.segment(SegmentClass::Data).addr, 0x1008);
    // The pin put data over the text: reported, not refused.
    let (first, second) = image.overlap().unwrap();
    assert_eq!(
        (first.addr, first.class, second.addr, second.class),
        (0x1000, SegmentClass::Text, 0x1008, SegmentClass::Data)
    );
    let b = image
        .allocate(&request(&[
            (SegmentClass::Text, 4, 4),
            (SegmentClass::ReadOnly, 4, 4),
        ]))
        .unwrap();
    assert_eq!(b.segment(SegmentClass::Text).addr, 0x9000_0000);
    // The automatic layout goes on after module 0's text and steps over
    // the pinned data segment.
    assert_eq!(b.segment(SegmentClass::ReadOnly).addr, 0x1018);
    image.release(a);
    assert!(image.overlap().is_none());
    // Module 2 is pinned nowhere: after module 1's rodata.
    let c = image
        .allocate(&request(&[(SegmentClass::Text, 4, 4)]))
        .unwrap();
    assert_eq!(c.segment(SegmentClass::Text).addr, 0x101c);
}

#[test]
fn a_pin_earlier_in_the_same_module_is_stepped_over() {
    // The GOT is pinned where the automatic layout would put data; data
    // (after the GOT in class order) goes past it.
    let mut image = pinned_image(0x1000, &[((0, SegmentClass::Got), 0x1010)]);
    let a = image
        .allocate(&request(&[
            (SegmentClass::Text, 0x10, 16),
            (SegmentClass::Got, 0x10, 8),
            (SegmentClass::Data, 8, 8),
        ]))
        .unwrap();
    assert_eq!(a.segment(SegmentClass::Text).addr, 0x1000);
    assert_eq!(a.segment(SegmentClass::Got).addr, 0x1010);
    assert_eq!(a.segment(SegmentClass::Data).addr, 0x1020);
    assert!(image.overlap().is_none());
}

/// A bad alignment, a misaligned pin and no room are errors (the same
/// checked error for both alignments), and leave nothing allocated.
#[test]
fn bad_requests_are_errors_that_leave_nothing_allocated() {
    let mut image = pinned_image(0x1000, &[((0, SegmentClass::Data), 0x1004)]);
    for layout in [
        request(&[(SegmentClass::Text, 4, 4), (SegmentClass::Data, 8, 8)]),
        request(&[(SegmentClass::Text, 4, 4), (SegmentClass::Data, 8, 24)]),
    ] {
        match image.allocate(&layout) {
            Err(Error::Memory { op, source }) => {
                assert_eq!(op, "allocate");
                assert_eq!(source.kind(), io::ErrorKind::InvalidInput);
                assert!(source.to_string().contains("data"), "{source}");
            }
            other => panic!("expected an invalid-input error, got {other:?}"),
        }
    }
    assert!(image.segments().is_empty());
    assert_eq!(image.stats().allocations, 0);
    // No module number was used up: module 0 is still the pinned one.
    let fits = image
        .allocate(&request(&[(SegmentClass::Data, 4, 4)]))
        .unwrap();
    assert_eq!(fits.segment(SegmentClass::Data).addr, 0x1004);

    let mut image = pinned_image(u64::MAX - 8, &[]);
    let error = image
        .allocate(&request(&[(SegmentClass::Text, 16, 1)]))
        .unwrap_err();
    assert!(matches!(error, Error::OutOfMemory { .. }), "{error}");
    let mut image = pinned_image(0x1000, &[((0, SegmentClass::Text), u64::MAX - 8)]);
    let error = image
        .allocate(&request(&[(SegmentClass::Text, 16, 1)]))
        .unwrap_err();
    assert!(
        matches!(error, Error::OutOfMemory { .. }) && error.to_string().contains("pinned"),
        "{error}"
    );
    assert!(image.segments().is_empty());
}
