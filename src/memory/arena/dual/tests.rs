use super::*;

/// A new memory file is refused while it would leave the process less
/// than a quarter of its descriptor limit (at most 256), naming it.
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

/// A live allocation's record gives back every part as `take` made it:
/// lengths are sizes rounded up to the quantum, stubs in the text's part
/// have none, unused classes are empty, and offsets reach the region's end.
#[test]
fn packed_parts_give_back_what_was_packed() {
    let part = |offset: usize, size: u64, own_length: bool| Part {
        offset,
        len: if own_length {
            (size as usize).next_multiple_of(QUANTUM)
        } else {
            0
        },
        size,
    };
    let last = (1usize << 31) - QUANTUM;
    let cases = [
        [
            part(0x1000, 123, true),
            part(0, 0, true),
            part(0x2000, 16, true),
            part(0x3000, 1, true),
            part(0x1080, 32, false),
        ],
        [
            part(last, QUANTUM as u64, true),
            part(0, 1 << 30, true),
            part(0, 0, true),
            part(0, 0, true),
            part(last - 64, 48, false),
        ],
    ];
    for parts in cases {
        let back = PackedParts::pack(&parts).unpack();
        for (a, b) in parts.iter().zip(&back) {
            assert_eq!((a.offset, a.len, a.size), (b.offset, b.len, b.size));
        }
    }
    assert_eq!(std::mem::size_of::<PackedParts>(), 8 * SegmentClass::COUNT);
}
