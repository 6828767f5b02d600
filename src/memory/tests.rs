//! Helpers for the managers' tests: layouts, and reading `/proc/self/maps`.

use super::{ModuleLayout, SegmentClass, SegmentRequest};

/// A module layout of (size, alignment) per class, in class order.
pub(crate) fn layout(sizes: [(u64, u64); SegmentClass::COUNT]) -> ModuleLayout {
    let mut layout = ModuleLayout::default();
    for (request, (size, align)) in layout.segments.iter_mut().zip(sizes) {
        *request = SegmentRequest { size, align };
    }
    layout
}

/// Every mapping of the process: (start, end, permissions).
pub(crate) fn process_mappings() -> Vec<(u64, u64, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?.to_string();
            let (start, end) = range.split_once('-')?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            Some((start, end, perms))
        })
        .collect()
}

/// The mapping that contains `addr`, if any.
pub(crate) fn mapping_containing(addr: u64) -> Option<(u64, u64, String)> {
    process_mappings()
        .into_iter()
        .find(|(start, end, _)| *start <= addr && addr < *end)
}

/// W^X: no mapping of the whole process is writable and executable.
pub(crate) fn assert_no_writable_executable_mapping() {
    let mappings = process_mappings();
    assert!(!mappings.is_empty(), "/proc/self/maps lists mappings");
    for (start, end, perms) in mappings {
        let bytes = perms.as_bytes();
        assert!(
            !(bytes.get(1) == Some(&b'w') && bytes.get(2) == Some(&b'x')),
            "writable and executable mapping {start:#x}-{end:#x} {perms}"
        );
    }
}
