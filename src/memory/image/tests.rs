use super::super::tests::layout;
use super::*;

#[test]
fn segments_are_placed_from_the_base_with_separation() {
    let mut image = Image::new(ImageConfig {
        base: 0x4000_0000,
        separation: 0x100,
        end: u64::MAX,
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
