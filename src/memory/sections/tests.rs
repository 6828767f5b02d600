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
