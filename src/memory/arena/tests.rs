use super::super::page_size;
use super::super::tests::layout;
use super::super::tests::{assert_no_writable_executable_mapping, mapping_containing};
use super::*;

const BOTH: [ArenaMode; 2] = [ArenaMode::Pages, ArenaMode::DualMapped];

/// Empty regions beyond the first go back to the system, one kept as a
/// spare while any module is live; with none live only the first stays.
#[test]
fn empty_regions_beyond_the_first_are_given_back() {
    let big = text_only(600 << 10);
    for mode in BOTH {
        let mut arena = Arena::new(config(mode, 1 << 20, None)).unwrap();
        let first = arena.regions()[0];
        let empty = arena.stats();
        let mut live: Vec<Allocation> = (0..4).map(|_| arena.allocate(&big).unwrap()).collect();
        assert_eq!(arena.regions().len(), 4, "{mode:?}");
        // The last region empties: kept as the spare.
        arena.release(live.pop().unwrap());
        assert_eq!(arena.regions().len(), 4, "{mode:?}: a spare stays");
        // Another empties: the spare is enough, one goes.
        arena.release(live.pop().unwrap());
        assert_eq!(arena.regions().len(), 3, "{mode:?}");
        // A module lands in the spare instead of a new region.
        live.push(arena.allocate(&big).unwrap());
        assert_eq!(arena.regions().len(), 3, "{mode:?}");
        for allocation in live.drain(..) {
            arena.release(allocation);
        }
        assert_eq!(arena.regions(), [first], "{mode:?}: only the first");
        let stats = arena.stats();
        assert_eq!(stats.reserved_bytes, empty.reserved_bytes, "{mode:?}");
        assert_eq!(stats.committed_bytes, 0, "{mode:?}");
        assert_eq!(stats.regions, 1, "{mode:?}");
        // Owners were renumbered: everything still works.
        let again = arena.allocate(&big).unwrap();
        let other = arena.allocate(&big).unwrap();
        arena.finalize(&other).unwrap();
        arena.release(again);
        arena.finalize(&other).unwrap();
        arena.release(other);
        assert_eq!(arena.stats().allocations, 0, "{mode:?}");
    }
}

/// Publishing code runs the kernel's core-serializing barrier on every
/// thread (x86-64's cross-modifying-code rule, AArch64's context
/// synchronization) whenever the kernel has it: in page mode always; in the
/// dual-mapped mode on x86-64 only for code written where code was before
/// (the first module's bytes never held any, the next one placed in its
/// freed space does), on AArch64 always.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn finalize_serializes_every_core_where_the_kernel_can() {
    use crate::memory::sys::{core_sync_state, CoreSync};
    // The kernel's own answer: which membarrier commands it has.
    // SAFETY: MEMBARRIER_CMD_QUERY only returns a bit mask.
    let supported = unsafe { libc::syscall(libc::SYS_membarrier, 0, 0, 0) };
    let sync_core = supported > 0 && supported & (1 << 5) != 0;
    for mode in BOTH {
        let mut arena = Arena::new(config(mode, 1 << 20, None)).unwrap();
        let barrier_for_fresh = mode == ArenaMode::Pages || !cfg!(target_arch = "x86_64");
        let first = arena.allocate(&text_only(64)).unwrap();
        let (_, before) = core_sync_state();
        arena.finalize(&first).unwrap();
        let (state, after) = core_sync_state();
        if !sync_core {
            assert_eq!(state, Some(CoreSync::Unavailable), "{mode:?}");
            arena.release(first);
            continue;
        }
        if barrier_for_fresh {
            assert_eq!(state, Some(CoreSync::Registered), "{mode:?}");
            assert!(after > before, "{mode:?}: no barrier at finalize");
        } else {
            assert_eq!(after, before, "{mode:?}: a barrier for fresh code");
        }
        let first_addr = first.segment(SegmentClass::Text).addr;
        arena.release(first);
        let again = arena.allocate(&text_only(64)).unwrap();
        assert_eq!(
            again.segment(SegmentClass::Text).addr,
            first_addr,
            "{mode:?}: the freed space is reused"
        );
        let (_, before) = core_sync_state();
        arena.finalize(&again).unwrap();
        let (state, after) = core_sync_state();
        assert_eq!(state, Some(CoreSync::Registered), "{mode:?}");
        assert!(after > before, "{mode:?}: no barrier over reused code");
        // Fresh bytes after the reused ones: no barrier on x86-64 again.
        let next = arena.allocate(&text_only(64)).unwrap();
        let (_, before) = core_sync_state();
        arena.finalize(&next).unwrap();
        let (_, after) = core_sync_state();
        assert_eq!(after > before, barrier_for_fresh, "{mode:?}");
        arena.release(again);
        arena.release(next);
    }
}

fn all_classes() -> ModuleLayout {
    layout([(100, 16), (32, 16), (64, 8), (200, 32), (300, 8)])
}

fn text_only(size: u64) -> ModuleLayout {
    layout([(size, 16), (0, 1), (0, 1), (0, 1), (0, 1)])
}

fn config(mode: ArenaMode, reservation: u64, page_size: Option<usize>) -> ArenaConfig {
    ArenaConfig {
        reservation,
        page_size,
        hint: None,
        below: None,
        mode: Some(mode),
        ..ArenaConfig::default()
    }
}

fn arena(mode: ArenaMode, reservation: u64) -> Arena {
    Arena::new(config(mode, reservation, None)).expect("reserve")
}

/// Fills every requested segment with a byte pattern.
fn fill(allocation: &Allocation, byte: u8) {
    for segment in &allocation.segments {
        if segment.size > 0 {
            // SAFETY: (test) the segment is writable through write_ptr until finalize.
            unsafe { std::ptr::write_bytes(segment.write_ptr, byte, segment.size as usize) };
        }
    }
}

/// The segment's bytes read at its run-time address.
fn bytes(segment: &Segment) -> Vec<u8> {
    // SAFETY: (test) every segment is readable at `addr`.
    unsafe { std::slice::from_raw_parts(segment.addr as *const u8, segment.size as usize) }.to_vec()
}

fn is_zero(segment: &Segment) -> bool {
    bytes(segment).iter().all(|&b| b == 0)
}

/// Whether a segment handed out again is clean: zero where the linker
/// writes it, and at run time zero or, for code, the trapping fill that
/// freed code becomes (dual-mapped mode).
fn is_clean(class: SegmentClass, segment: &Segment) -> bool {
    // SAFETY: (test) the segment is writable, so readable, through
    // write_ptr until finalize.
    let staged = unsafe {
        std::slice::from_raw_parts(segment.write_ptr as *const u8, segment.size as usize)
    };
    let run_time = bytes(segment);
    staged.iter().all(|&b| b == 0)
        && (run_time.iter().all(|&b| b == 0)
            || (class.is_executable() && run_time.iter().all(|&b| b == sys::TRAP_FILL)))
}

/// Entries of `/proc/self/maps` overlapping the arena's regions, or
/// mapping one of its memory files elsewhere (there should be none).
fn areas_in_maps(arena: &Arena) -> u64 {
    let regions = arena.regions();
    let files: Vec<u64> = regions.iter().filter_map(|r| r.memory_file).collect();
    let ranges: Vec<(u64, u64)> = regions
        .iter()
        .map(|region| (region.start, region.start + region.len))
        .collect();
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some((start, end)) = fields.first().and_then(|r| r.split_once('-')) else {
                return false;
            };
            let start = u64::from_str_radix(start, 16).unwrap_or(0);
            let end = u64::from_str_radix(end, 16).unwrap_or(0);
            let inode: u64 = fields.get(4).and_then(|i| i.parse().ok()).unwrap_or(0);
            ranges.iter().any(|&(a, b)| start < b && a < end)
                || (inode != 0 && files.contains(&inode))
        })
        .count() as u64
}

/// Mappings of the process backed by memory file `inode`: (start, end,
/// permissions).
fn mappings_of_file(inode: u64) -> Vec<(u64, u64, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (start, end) = fields.first()?.split_once('-')?;
            (fields.get(4)?.parse::<u64>().ok()? == inode).then(|| {
                (
                    u64::from_str_radix(start, 16).unwrap_or(0),
                    u64::from_str_radix(end, 16).unwrap_or(0),
                    fields.get(1).map_or(String::new(), |p| p.to_string()),
                )
            })
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
const RETURN_7: [u8; 6] = [0xB8, 0x07, 0x00, 0x00, 0x00, 0xC3]; // mov eax, 7 ; ret

#[cfg(target_arch = "x86_64")]
fn returning(value: u8) -> [u8; 6] {
    let mut code = RETURN_7;
    code[1] = value;
    code
}

#[cfg(target_arch = "x86_64")]
fn call(segment: &Segment) -> u32 {
    // SAFETY: (test) the segment holds `mov eax, imm; ret` and is finalized.
    let function: extern "C" fn() -> u32 =
        unsafe { std::mem::transmute(segment.addr as usize as *const u8) };
    function()
}

#[cfg(target_arch = "x86_64")]
fn write_code(segment: &Segment, code: &[u8]) {
    // SAFETY: (test) the segment is writable through write_ptr until
    // finalize and at least `code.len()` bytes long.
    unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), segment.write_ptr, code.len()) };
}

#[test]
fn arena_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Arena>();
}

#[test]
fn modes_parse() {
    assert_eq!(ArenaMode::parse("pages"), Some(ArenaMode::Pages));
    assert_eq!(ArenaMode::parse(" Dual\n"), Some(ArenaMode::DualMapped));
    assert_eq!(ArenaMode::parse("dual-mapped"), Some(ArenaMode::DualMapped));
    assert_eq!(ArenaMode::parse("paged"), None);
    for mode in BOTH {
        assert_eq!(ArenaMode::parse(mode.name()), Some(mode));
        assert_eq!(arena(mode, 1 << 20).mode(), mode);
    }
}

#[test]
fn default_arenas_find_their_own_low_ranges() {
    // Several engines each get a reservation in the low 2 GiB on x86-64.
    for mode in BOTH {
        let arenas: Vec<Arena> = (0..3)
            .map(|_| {
                Arena::new(ArenaConfig {
                    mode: Some(mode),
                    ..ArenaConfig::default()
                })
                .expect("reserve")
            })
            .collect();
        if cfg!(target_arch = "x86_64") {
            for a in &arenas {
                assert!(
                    a.base() + a.reservation_len() <= 1 << 31,
                    "{mode:?} arena at {:#x} not below 2 GiB",
                    a.base()
                );
            }
        }
    }
}

#[test]
fn pages_allocate_write_finalize_release() {
    let mut arena = arena(ArenaMode::Pages, DEFAULT_RESERVATION);
    assert_eq!(arena.stats().reserved_bytes, DEFAULT_RESERVATION);
    let allocation = arena.allocate(&all_classes()).expect("allocate");
    let page = page_size();
    let base = arena.base();
    let mut previous_end = base;
    for class in SegmentClass::ALL {
        let segment = allocation.segment(class);
        assert_eq!(segment.size, all_classes().get(class).size);
        assert_eq!(segment.write_ptr as u64, segment.addr);
        assert_eq!(segment.addr % page as u64, 0, "{class:?} page-aligned");
        // Laid out in class order, adjacent, inside the reservation.
        assert!(segment.addr >= previous_end);
        assert!(segment.addr < base + (1 << 30));
        previous_end = segment.addr + segment.size;
        assert!(is_zero(segment), "{class:?} zeroed");
    }
    // One contiguous block: the module spans 5 pages.
    let text = allocation.segment(SegmentClass::Text).addr;
    let data = allocation.segment(SegmentClass::Data).addr;
    assert_eq!(data - text, 4 * page as u64);
    fill(&allocation, 0xAB);
    arena.finalize(&allocation).expect("finalize");
    assert_eq!(bytes(allocation.segment(SegmentClass::ReadOnly))[0], 0xAB);
    // SAFETY: (test) data is read + write after finalize.
    unsafe { *allocation.segment(SegmentClass::Data).write_ptr = 1 };
    assert_eq!(arena.stats().allocations, 1);
    arena.release(allocation);
    assert_eq!(arena.stats().allocations, 0);
    assert_eq!(arena.stats().committed_bytes, 0);
}

/// The memory file is never mapped writable: the linker writes into
/// staging buffers, and finalize puts the bytes in the file, where the
/// run-time view shows them.
#[test]
fn dual_mapped_code_is_never_writable_anywhere() {
    let mut arena = arena(ArenaMode::DualMapped, 16 << 20);
    let region = arena.regions()[0];
    let file = region.memory_file.expect("a memory file");
    let writable = |file: u64| {
        mappings_of_file(file)
            .into_iter()
            .filter(|(_, _, perms)| perms.contains('w'))
            .collect::<Vec<_>>()
    };
    let allocation = arena.allocate(&all_classes()).expect("allocate");
    for class in SegmentClass::ALL {
        let segment = allocation.segment(class);
        assert!(region.contains(segment.addr), "{class:?} in the region");
        let write = segment.write_ptr as u64;
        if class == SegmentClass::Data {
            assert_eq!(write, segment.addr, "data is written in place");
        } else {
            assert!(!region.contains(write), "{class:?} staged elsewhere");
            assert!(
                mapping_containing(write).is_none_or(|(_, _, p)| !p.ends_with('s')),
                "{class:?}: staged in a view of the file"
            );
        }
        assert!(is_zero(segment));
    }
    assert_eq!(writable(file), [], "no writable view while linking");
    fill(&allocation, 0x5A);
    assert!(
        is_zero(allocation.segment(SegmentClass::Text)),
        "staged bytes are not in the file before finalize"
    );
    arena.finalize(&allocation).expect("finalize");
    assert_eq!(writable(file), [], "no writable view after finalize");
    for class in SegmentClass::ALL {
        assert!(
            bytes(allocation.segment(class)).iter().all(|&b| b == 0x5A),
            "{class:?} after finalize"
        );
    }
    // Released unfinalized: its staged bytes never reach the file.
    let unfinished = arena.allocate(&all_classes()).expect("allocate");
    fill(&unfinished, 0x77);
    let text = *unfinished.segment(SegmentClass::Text);
    arena.release(unfinished);
    let again = arena.allocate(&all_classes()).expect("allocate");
    assert_eq!(again.segment(SegmentClass::Text).addr, text.addr, "reused");
    assert!(is_clean(
        SegmentClass::Text,
        again.segment(SegmentClass::Text)
    ));
    arena.release(again);
    arena.release(allocation);
    assert_eq!(arena.stats().committed_bytes, 0);
}

#[test]
fn empty_classes_are_empty_segments() {
    for mode in BOTH {
        let mut arena = arena(mode, 1 << 20);
        let only_text = text_only(10);
        let allocation = arena.allocate(&only_text).expect("allocate");
        for class in &SegmentClass::ALL[1..] {
            assert_eq!(*allocation.segment(*class), Segment::EMPTY);
        }
        assert_eq!(arena.stats().committed_bytes, page_size() as u64);
        arena.finalize(&allocation).expect("finalize");
        arena.release(allocation);

        let nothing = arena
            .allocate(&ModuleLayout::default())
            .expect("empty layout");
        assert!(nothing.segments.iter().all(|s| *s == Segment::EMPTY));
        assert_eq!(arena.stats().allocations, 1);
        arena.finalize(&nothing).expect("finalize nothing");
        assert_eq!(
            arena.allocation_stats(&nothing),
            Some(AllocationStats::default())
        );
        arena.release(nothing);
        assert_eq!(arena.stats().allocations, 0, "{mode:?}");
    }
}

#[test]
fn alignment_is_honoured() {
    for mode in BOTH {
        let mut arena = arena(mode, 64 << 20);
        // A small block first so the next one does not start aligned by luck.
        let filler = arena.allocate(&text_only(1)).expect("filler");
        let aligns = [4096u64, 16384, 1 << 20, 64, 65536];
        let wanted = layout([
            (10, aligns[0]),
            (10, aligns[1]),
            (10, aligns[2]),
            (10, aligns[3]),
            (10, aligns[4]),
        ]);
        let allocation = arena.allocate(&wanted).expect("allocate");
        for (class, align) in SegmentClass::ALL.into_iter().zip(aligns) {
            let addr = allocation.segment(class).addr;
            assert_eq!(
                addr % align,
                0,
                "{mode:?} {class:?} at {addr:#x} aligned to {align}"
            );
        }
        arena.finalize(&allocation).expect("finalize");
        arena.release(allocation);
        arena.release(filler);
        assert_eq!(arena.stats().committed_bytes, 0);
    }
}

#[test]
fn released_memory_is_reused_and_zeroed() {
    for mode in BOTH {
        let mut arena = arena(mode, 16 << 20);
        let wanted = all_classes();
        let first = arena.allocate(&wanted).expect("allocate");
        let addresses: Vec<u64> = first.segments.iter().map(|s| s.addr).collect();
        fill(&first, 0x5A);
        arena.finalize(&first).expect("finalize");
        arena.release(first);

        let second = arena.allocate(&wanted).expect("allocate again");
        let again: Vec<u64> = second.segments.iter().map(|s| s.addr).collect();
        assert_eq!(addresses, again, "{mode:?}: the released memory comes back");
        for segment in &second.segments {
            assert!(is_zero(segment), "{mode:?}: reused memory is zeroed");
        }
        // Writable again before finalize, including former text.
        fill(&second, 1);
        arena.release(second);
    }
}

#[test]
fn pages_free_ranges_coalesce() {
    let page = page_size() as u64;
    let one_page = text_only(page);
    let mut arena = Arena::new(ArenaConfig {
        max_regions: Some(1),
        ..config(ArenaMode::Pages, 8 * page, None)
    })
    .expect("reserve");
    let allocations: Vec<Allocation> = (0..8)
        .map(|_| arena.allocate(&one_page).expect("page"))
        .collect();
    let first = allocations[0].segment(SegmentClass::Text).addr;
    assert!(arena.allocate(&one_page).is_err(), "full");
    assert_eq!(arena.stats().largest_free_run, 0);
    // Release pages 1..7 in an order that needs merging on both sides.
    let mut allocations = allocations.into_iter();
    let kept = allocations.next().expect("first");
    let mut rest: Vec<Allocation> = allocations.collect();
    let last = rest.pop().expect("last");
    let middle = rest.remove(2);
    for allocation in rest {
        arena.release(allocation);
    }
    arena.release(last);
    arena.release(middle);
    let stats = arena.stats();
    assert_eq!(stats.free_reserved_bytes, 7 * page);
    assert_eq!(stats.largest_free_run, 7 * page, "one merged free range");
    let big = text_only(7 * page);
    let allocation = arena.allocate(&big).expect("seven pages fit after merging");
    assert_eq!(allocation.segment(SegmentClass::Text).addr, first + page);
    arena.release(allocation);
    arena.release(kept);
    assert_eq!(arena.stats().largest_free_run, 8 * page);
}

#[test]
fn protections_after_finalize() {
    for mode in BOTH {
        let mut arena = arena(mode, 16 << 20);
        let allocation = arena.allocate(&all_classes()).expect("allocate");
        fill(&allocation, 0xC3);
        arena.finalize(&allocation).expect("finalize");
        let expected = [
            (SegmentClass::Text, "r-xp"),
            (SegmentClass::Stubs, "r-xp"),
            (SegmentClass::Got, "r--p"),
            (SegmentClass::ReadOnly, "r--p"),
            (SegmentClass::Data, "rw-p"),
        ];
        for (class, perms) in expected {
            let segment = allocation.segment(class);
            let (start, end, actual) = mapping_containing(segment.addr).expect("mapped");
            assert_eq!(actual, perms, "{mode:?} {class:?} at {:#x}", segment.addr);
            assert!(start <= segment.addr && segment.addr + segment.size <= end);
        }
        if let Some(file) = arena.regions()[0].memory_file {
            let writable: Vec<_> = mappings_of_file(file)
                .into_iter()
                .filter(|(_, _, perms)| perms.contains('w'))
                .collect();
            assert_eq!(writable, [], "no writable mapping of the memory file");
        }
        assert_no_writable_executable_mapping();
        arena.release(allocation);
        assert_eq!(arena.stats().committed_bytes, 0);
        // Page mode gives everything back; the dual-mapped mode keeps one
        // empty span per class warm, and gives back the others (here, a
        // span of several chunks).
        let probe = match mode {
            ArenaMode::Pages => arena.base(),
            ArenaMode::DualMapped => {
                let big = text_only(3 * arena.chunk_size() as u64);
                let big = arena.allocate(&big).expect("big");
                let text = big.segment(SegmentClass::Text).addr;
                arena.finalize(&big).expect("finalize");
                arena.release(big);
                text
            }
        };
        let (_, _, perms) = mapping_containing(probe).expect("region still mapped");
        assert_eq!(perms, "---p", "{mode:?}: released memory is inaccessible");
    }
}

#[test]
fn larger_page_sizes_align_segments() {
    for mode in BOTH {
        for granule in [16384usize, 65536] {
            let mut arena = Arena::new(config(mode, 16 << 20, Some(granule))).expect("reserve");
            assert_eq!(arena.granule(), granule);
            assert_eq!(arena.base() % granule as u64, 0);
            let allocation = arena.allocate(&all_classes()).expect("allocate");
            for segment in &allocation.segments {
                assert_eq!(segment.addr % 16, 0);
            }
            let mut classes_on_pages = std::collections::HashSet::new();
            // Dual-mapped stubs sit right after the text, on its pages.
            for class in SegmentClass::ALL
                .into_iter()
                .filter(|&c| mode == ArenaMode::Pages || c != SegmentClass::Stubs)
            {
                let page = allocation.segment(class).addr / granule as u64;
                assert!(
                    classes_on_pages.insert(page),
                    "{mode:?}: {class:?} shares a page"
                );
            }
            let stats = arena.stats();
            let pages = if mode == ArenaMode::Pages { 5 } else { 4 };
            assert_eq!(stats.committed_bytes, pages * granule as u64);
            for class in SegmentClass::ALL {
                let shared = mode == ArenaMode::DualMapped && class == SegmentClass::Stubs;
                let want = if shared { 0 } else { granule as u64 };
                assert_eq!(stats.committed_by_class[class as usize], want, "{class:?}");
            }
            fill(&allocation, 0xC3);
            arena.finalize(&allocation).expect("finalize");
            let text = allocation.segment(SegmentClass::Text).addr;
            let (start, end, perms) = mapping_containing(text).expect("mapped");
            assert_eq!(perms, "r-xp");
            // The whole granule is one protection.
            let page_start = text - text % granule as u64;
            assert!(start <= page_start && end >= page_start + granule as u64);
            #[cfg(target_arch = "x86_64")]
            {
                let second = arena.allocate(&text_only(6)).expect("second");
                write_code(second.segment(SegmentClass::Text), &RETURN_7);
                arena.finalize(&second).expect("finalize");
                assert_eq!(call(second.segment(SegmentClass::Text)), 7);
                arena.release(second);
            }
            arena.release(allocation);
            assert_eq!(arena.stats().committed_bytes, 0);
        }
    }
}

#[test]
fn bad_page_sizes_are_refused() {
    let page = page_size();
    for mode in BOTH {
        for bad in [page / 2, page * 3, 1000, 0] {
            let result = Arena::new(config(mode, 1 << 20, Some(bad)));
            assert!(
                matches!(result, Err(Error::Memory { .. })),
                "page size {bad}"
            );
        }
    }
}

#[test]
fn bad_reservations_are_refused() {
    for bad in [0, Arena::MAX_RESERVATION + 1, u64::MAX] {
        let result = Arena::new(ArenaConfig {
            reservation: bad,
            ..ArenaConfig::default()
        });
        assert!(
            matches!(result, Err(Error::OutOfMemory { .. })),
            "reservation {bad}"
        );
    }
    for mode in BOTH {
        let full = Arena::new(ArenaConfig {
            reservation: Arena::MAX_RESERVATION,
            mode: Some(mode),
            ..ArenaConfig::default()
        })
        .expect("2 GiB is allowed");
        assert_eq!(full.reservation_len(), Arena::MAX_RESERVATION);
    }
}

#[test]
fn hint_is_used_when_free() {
    // Find a free spot, give it back, ask for it as a hint. Other tests
    // map memory concurrently and may take the spot in between, so try
    // a few times.
    for mode in BOTH {
        let placed = (0..8).any(|_| {
            let probe = arena(mode, 1 << 20);
            let spot = probe.base();
            drop(probe);
            let arena = Arena::new(ArenaConfig {
                hint: Some(spot),
                ..config(mode, 1 << 20, None)
            })
            .expect("reserve");
            arena.base() == spot
        });
        assert!(placed, "{mode:?}: the hint was never honoured");
    }
}

#[test]
fn out_of_memory_without_growth_then_recovers() {
    let page = page_size() as u64;
    for mode in BOTH {
        let mut arena = Arena::new(ArenaConfig {
            max_regions: Some(1),
            ..config(mode, 1 << 20, None)
        })
        .expect("reserve");
        let half = text_only(600 << 10);
        let first = arena.allocate(&half).expect("first fits");
        let error = arena.allocate(&half).expect_err("second does not fit");
        match &error {
            Error::OutOfMemory { requested, reason } => {
                assert!(*requested >= 600 << 10, "{requested}");
                assert!(reason.contains("max_regions"), "{reason}");
                assert!(reason.contains("free"), "{reason}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert_eq!(arena.stats().allocations, 1);
        assert_eq!(arena.stats().regions, 1);
        assert_eq!(
            arena.stats().committed_bytes,
            (600u64 << 10).next_multiple_of(page)
        );
        arena.release(first);
        let again = arena.allocate(&half).expect("fits after release");
        arena.release(again);

        // Absurd requests are errors, never panics.
        for absurd in [
            layout([(u64::MAX, 1), (0, 1), (0, 1), (0, 1), (0, 1)]),
            layout([(1, 1), (u64::MAX - 4096, 1), (0, 1), (0, 1), (0, 1)]),
            layout([(1, 1 << 63), (0, 1), (0, 1), (0, 1), (0, 1)]),
            layout([
                (u64::MAX / 2, 1),
                (u64::MAX / 2, 1),
                (u64::MAX / 2, 1),
                (0, 1),
                (0, 1),
            ]),
            layout([(1 << 31, 1), (1 << 31, 1), (0, 1), (0, 1), (0, 1)]),
            layout([(2 << 20, 1), (0, 1), (0, 1), (0, 1), (0, 1)]),
        ] {
            let result = arena.allocate(&absurd);
            assert!(
                matches!(result, Err(Error::OutOfMemory { .. })),
                "{mode:?} {absurd:?}: {result:?}"
            );
        }
        let odd = arena.allocate(&layout([(1, 3), (0, 1), (0, 1), (0, 1), (0, 1)]));
        assert!(matches!(odd, Err(Error::Memory { .. })));
        assert_eq!(arena.stats().allocations, 0);
        assert_eq!(arena.stats().committed_bytes, 0);
        assert_eq!(arena.stats().regions, 1);
        let fine = arena.allocate(&all_classes()).expect("still works");
        arena.release(fine);
    }
}

#[test]
fn committed_bytes_cap_is_an_error_and_recoverable() {
    let page = page_size() as u64;
    for mode in BOTH {
        let cap = 10 * page;
        let mut arena = Arena::new(ArenaConfig {
            max_committed: Some(cap),
            ..config(mode, 16 << 20, None)
        })
        .expect("reserve");
        let four_pages = layout([(0, 1), (0, 1), (0, 1), (0, 1), (4 * page, 8)]);
        let a = arena.allocate(&four_pages).expect("4 of 10 pages");
        let b = arena.allocate(&four_pages).expect("8 of 10 pages");
        let error = arena.allocate(&four_pages).expect_err("12 > 10 pages");
        match &error {
            Error::OutOfMemory { requested, reason } => {
                assert_eq!(*requested, 4 * page, "{mode:?}");
                assert!(reason.contains(&format!("cap of {cap}")), "{reason}");
                assert!(
                    reason.contains(&format!("{} bytes are committed", 8 * page)),
                    "{reason}"
                );
                assert!(
                    reason.contains(&format!("needs {} more", 4 * page)),
                    "{reason}"
                );
            }
            other => panic!("unexpected error {other:?}"),
        }
        let stats = arena.stats();
        assert_eq!(
            stats.committed_bytes,
            8 * page,
            "{mode:?}: nothing stays allocated"
        );
        assert_eq!(stats.allocations, 2);
        assert_eq!(
            stats.regions, 1,
            "{mode:?}: the cap does not grow the arena"
        );
        // Small things still fit under the cap.
        let small = arena.allocate(&text_only(64)).expect("one more page");
        arena.release(small);
        arena.release(a);
        let c = arena.allocate(&four_pages).expect("fits after a release");
        assert_eq!(arena.stats().committed_bytes, 8 * page);
        arena.release(b);
        arena.release(c);
        assert_eq!(arena.stats().committed_bytes, 0);
    }
}

#[test]
fn a_full_region_grows_the_arena() {
    for mode in BOTH {
        let mut arena = arena(mode, 1 << 20);
        let empty = arena.stats();
        let mut allocations = Vec::new();
        while arena.stats().regions == 1 {
            allocations.push(arena.allocate(&all_classes()).expect("allocate"));
            // Big data so that dual-mapped modules do not all share pages.
            allocations.push(
                arena
                    .allocate(&layout([(0, 1), (0, 1), (0, 1), (0, 1), (200 << 10, 16)]))
                    .expect("allocate"),
            );
            assert!(allocations.len() < 100, "{mode:?}: never grew");
        }
        let regions = arena.regions();
        assert_eq!(regions.len(), 2);
        assert!(
            regions[1].start >= regions[0].start + regions[0].len
                || regions[1].start + regions[1].len <= regions[0].start
        );
        for allocation in &allocations {
            let owner: Vec<&RegionInfo> = regions
                .iter()
                .filter(|r| {
                    allocation
                        .segments
                        .iter()
                        .any(|s| s.size > 0 && r.contains(s.addr))
                })
                .collect();
            assert_eq!(owner.len(), 1, "{mode:?}: one module, one region");
            for segment in allocation.segments.iter().filter(|s| s.size > 0) {
                assert!(owner[0].contains(segment.addr + segment.size - 1));
            }
        }
        // A module larger than a region gets a region of its own.
        let big = arena.allocate(&text_only(3 << 20)).expect("3 MiB module");
        let regions = arena.regions();
        assert_eq!(regions.len(), 3);
        assert!(regions[2].len >= 3 << 20);
        assert!(regions[2].contains(big.segment(SegmentClass::Text).addr));
        if cfg!(target_arch = "x86_64") {
            // The default placement keeps growing regions low.
            let low = Arena::new(ArenaConfig {
                reservation: 1 << 20,
                mode: Some(mode),
                ..ArenaConfig::default()
            })
            .expect("reserve");
            assert!(low.base() < 1 << 31);
        }
        arena.release(big);
        for allocation in allocations {
            arena.release(allocation);
        }
        let stats = arena.stats();
        assert_eq!(stats.committed_bytes, 0);
        assert_eq!(stats.allocations, 0);
        // The grown regions went back: the first alone remains.
        assert_eq!(stats.regions, 1);
        assert_eq!(stats.reserved_bytes, empty.reserved_bytes);
    }
}

#[test]
fn refused_exec_falls_back_to_dual_mapping() {
    let mut arena = Arena::new(ArenaConfig {
        simulate_exec_refusal: true,
        ..config(ArenaMode::Pages, 1 << 20, None)
    })
    .expect("falls back instead of failing");
    assert_eq!(arena.mode(), ArenaMode::DualMapped);
    let reason = arena.fallback_reason().expect("a reason").to_string();
    assert!(
        reason.contains("EACCES") && reason.contains("simulated"),
        "{reason}"
    );
    assert!(arena.regions()[0].memory_file.is_some());
    let allocation = arena.allocate(&all_classes()).expect("allocate");
    #[cfg(target_arch = "x86_64")]
    write_code(allocation.segment(SegmentClass::Text), &RETURN_7);
    arena.finalize(&allocation).expect("finalize");
    #[cfg(target_arch = "x86_64")]
    assert_eq!(call(allocation.segment(SegmentClass::Text)), 7);
    assert_no_writable_executable_mapping();
    arena.release(allocation);
    // Without the hook the same configuration stays in page mode here.
    let plain = arena_with_pages();
    assert_eq!(plain.mode(), ArenaMode::Pages);
    assert_eq!(plain.fallback_reason(), None);
}

fn arena_with_pages() -> Arena {
    arena(ArenaMode::Pages, 1 << 20)
}

#[cfg(target_arch = "x86_64")]
#[test]
fn dual_writes_new_code_beside_running_code() {
    let mut arena = arena(ArenaMode::DualMapped, 16 << 20);
    let first = arena.allocate(&text_only(6)).expect("first");
    write_code(first.segment(SegmentClass::Text), &returning(1));
    arena.finalize(&first).expect("finalize");
    assert_eq!(call(first.segment(SegmentClass::Text)), 1);
    let mut later = Vec::new();
    for value in 2..40u8 {
        let allocation = arena.allocate(&text_only(6)).expect("allocate");
        let text = allocation.segment(SegmentClass::Text);
        assert_eq!(
            text.addr / page_size() as u64,
            first.segment(SegmentClass::Text).addr / page_size() as u64,
            "packed into the running code's page"
        );
        write_code(text, &returning(value));
        // The first function keeps running while its page gets new code.
        assert_eq!(call(first.segment(SegmentClass::Text)), 1);
        arena.finalize(&allocation).expect("finalize");
        assert_eq!(call(text), u32::from(value));
        later.push(allocation);
    }
    let stats = arena.stats();
    assert_eq!(
        stats.committed_bytes,
        page_size() as u64,
        "39 modules, one page"
    );
    assert_eq!(stats.live_bytes, 39 * 6);
    assert_eq!(stats.free_bytes_in_committed, page_size() as u64 - 39 * 6);
    assert_no_writable_executable_mapping();
    for allocation in later {
        arena.release(allocation);
    }
    assert_eq!(
        call(first.segment(SegmentClass::Text)),
        1,
        "survives its neighbours"
    );
    arena.release(first);
}

#[test]
fn dual_pages_are_shared_counted_and_given_back() {
    let page = page_size() as u64;
    let mut arena = arena(ArenaMode::DualMapped, 16 << 20);
    let a = arena.allocate(&all_classes()).expect("a");
    let b = arena.allocate(&all_classes()).expect("b");
    let stats = arena.stats();
    // Stubs share the text's pages (they stay within branch reach), so
    // four classes of pages serve both modules.
    assert_eq!(
        stats.committed_bytes,
        4 * page,
        "two modules share every page"
    );
    assert_eq!(stats.committed_by_class, [page, 0, page, page, page]);
    for class in SegmentClass::ALL {
        let (x, y) = (a.segment(class), b.segment(class));
        assert_eq!(x.addr / page, y.addr / page, "{class:?} on one page");
        assert!(x.addr + x.size <= y.addr, "{class:?} does not overlap");
    }
    let (text, stubs) = (
        a.segment(SegmentClass::Text),
        a.segment(SegmentClass::Stubs),
    );
    assert_eq!(
        stubs.addr,
        text.addr + text.size.next_multiple_of(16),
        "stubs follow text"
    );
    let a_stats = arena.allocation_stats(&a).expect("a's figures");
    // The bytes handed out: as asked, the text rounded up to where the
    // stubs begin.
    let handed_out: u64 = a.segments.iter().map(|s| s.size).sum();
    assert_eq!(a_stats.bytes(), handed_out);
    assert_eq!(
        handed_out,
        100_u64.next_multiple_of(16) + 32 + 64 + 200 + 300
    );
    assert_eq!(a_stats.pages(), 4 * page);
    assert_eq!(a_stats.exclusive(), 0, "every page is shared with b");
    fill(&a, 0xEE);
    fill(&b, 0x11);
    arena.finalize(&a).expect("finalize a");
    arena.finalize(&b).expect("finalize b");
    arena.release(a);
    // b's bytes are intact; a's are zero again and b owns the pages alone.
    for segment in &b.segments {
        assert!(bytes(segment).iter().all(|&x| x == 0x11));
    }
    assert_eq!(arena.allocation_stats(&b).expect("b").exclusive(), 4 * page);
    assert_eq!(arena.stats().committed_bytes, 4 * page);
    let c = arena.allocate(&all_classes()).expect("c takes a's place");
    for class in SegmentClass::ALL {
        assert!(
            is_clean(class, c.segment(class)),
            "{class:?}: freed bytes in a shared page were scrubbed"
        );
    }
    arena.release(c);
    let text = b.segment(SegmentClass::Text).addr;
    arena.release(b);
    let stats = arena.stats();
    assert_eq!(
        stats.committed_bytes, 0,
        "last user gone: pages decommitted"
    );
    assert_eq!(stats.live_bytes, 0);
    // The warm span stays reserved; its code page, used by no segment,
    // is inaccessible, so a late call into it faults.
    let (_, _, perms) =
        super::super::tests::mapping_containing(text).expect("the warm span is mapped");
    assert!(perms.starts_with("---"), "{perms}");
}

#[test]
fn stats_follow_allocations() {
    let page = page_size() as u64;
    let wanted = layout([(page + 1, 16), (0, 1), (10, 8), (0, 1), (3 * page, 8)]);
    for mode in BOTH {
        let mut arena = arena(mode, 16 << 20);
        let a = arena.allocate(&wanted).expect("a");
        let b = arena.allocate(&wanted).expect("b");
        let stats = arena.stats();
        assert_eq!(stats.allocations, 2);
        assert_eq!(stats.regions, 1);
        assert_eq!(stats.live_bytes, 2 * (page + 1 + 10 + 3 * page));
        assert_eq!(
            stats.free_bytes_in_committed,
            stats.committed_bytes - stats.live_bytes
        );
        match mode {
            ArenaMode::Pages => {
                assert_eq!(stats.reserved_bytes, 16 << 20);
                assert_eq!(
                    stats.committed_by_class,
                    [4 * page, 0, 2 * page, 0, 6 * page]
                );
                assert_eq!(stats.committed_bytes, 12 * page);
                assert_eq!(stats.reserved_by_class, stats.committed_by_class);
            }
            ArenaMode::DualMapped => {
                // One view: the run-time addresses.
                assert_eq!(stats.reserved_bytes, 16 << 20);
                // Text: 2 × (page + 16) bytes packed: 3 pages; GOT: 1
                // page; data: 2 × 3 pages back to back.
                assert_eq!(stats.committed_by_class, [3 * page, 0, page, 0, 6 * page]);
                for class in SegmentClass::ALL {
                    let i = class as usize;
                    assert!(stats.reserved_by_class[i] >= stats.committed_by_class[i]);
                    assert_eq!(stats.reserved_by_class[i] % arena.chunk_size() as u64, 0);
                }
            }
        }
        assert_eq!(stats.mappings, areas_in_maps(&arena), "{mode:?}");
        arena.finalize(&a).expect("finalize a");
        arena.finalize(&b).expect("finalize b");
        let finalized = arena.stats();
        assert_eq!(finalized.reserved_bytes, 16 << 20, "{mode:?}: no views");
        assert_eq!(finalized.mappings, areas_in_maps(&arena), "{mode:?}");
        let a_stats = arena.allocation_stats(&a).expect("a");
        assert_eq!(a_stats.bytes_by_class, [page + 1, 0, 10, 0, 3 * page]);
        arena.release(a);
        let stats = arena.stats();
        assert_eq!(stats.allocations, 1);
        assert_eq!(
            arena.allocation_stats(&b).expect("b").exclusive(),
            stats.committed_bytes
        );
        arena.release(b);
        assert_eq!(arena.stats().committed_bytes, 0);
        assert_eq!(arena.stats().allocations, 0);
    }
}

#[test]
fn mappings_match_proc_maps_and_stay_flat() {
    for mode in BOTH {
        let mut arena = arena(mode, 64 << 20);
        let layouts = [
            all_classes(),
            text_only(5000),
            layout([(0, 1), (0, 1), (0, 1), (300 << 10, 64), (40, 8)]),
            layout([(10, 1 << 16), (16, 16), (0, 1), (0, 1), (0, 1)]),
        ];
        let mut live = Vec::new();
        let mut flat = None;
        for round in 0..6 {
            for wanted in &layouts {
                let allocation = arena.allocate(wanted).expect("allocate");
                assert_eq!(
                    arena.stats().mappings,
                    areas_in_maps(&arena),
                    "{mode:?} allocated"
                );
                arena.finalize(&allocation).expect("finalize");
                assert_eq!(
                    arena.stats().mappings,
                    areas_in_maps(&arena),
                    "{mode:?} finalized"
                );
                live.push(allocation);
            }
            // Release every other one, oldest first.
            let mut index = 0;
            live.retain(|_| {
                index += 1;
                index % 2 == 0
            });
            while live.len() > 4 {
                arena.release(live.remove(0));
                assert_eq!(
                    arena.stats().mappings,
                    areas_in_maps(&arena),
                    "{mode:?} released"
                );
            }
            if round == 2 {
                flat = Some(arena.stats().mappings);
            }
        }
        for allocation in live {
            arena.release(allocation);
        }
        assert_eq!(
            arena.stats().mappings,
            areas_in_maps(&arena),
            "{mode:?} empty"
        );
        assert!(flat.is_some());
    }
}

#[test]
fn foreign_or_stale_allocations_are_refused() {
    for mode in BOTH {
        let mut arena = arena(mode, 1 << 20);
        let mut other = self::arena(mode, 1 << 20);
        let mine = arena.allocate(&all_classes()).expect("mine");
        let theirs = other.allocate(&all_classes()).expect("theirs");
        assert!(arena.finalize(&theirs).is_err());
        assert_eq!(arena.allocation_stats(&theirs), None);
        arena.release(theirs);
        assert_eq!(other.stats().allocations, 1);
        assert_eq!(arena.stats().allocations, 1);
        let copy = Allocation {
            id: mine.id,
            segments: mine.segments,
        };
        arena.release(mine);
        assert!(arena.finalize(&copy).is_err(), "released already");
        arena.release(copy);
        assert_eq!(arena.stats().allocations, 0);
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn code_runs_after_finalize() {
    for mode in BOTH {
        let mut arena = arena(mode, 16 << 20);
        let allocation = arena.allocate(&text_only(6)).expect("allocate");
        let text = allocation.segment(SegmentClass::Text);
        write_code(text, &RETURN_7);
        arena.finalize(&allocation).expect("finalize");
        assert_eq!(call(text), 7);
        assert_no_writable_executable_mapping();
        arena.release(allocation);
    }
}

/// Finalizing several modules at once leaves each as its own finalize
/// would: every byte written (neighbours in one `pwritev` in dual-mapped
/// mode), code readable and executable, data writable; a foreign
/// allocation among them is refused.
#[test]
fn finalize_all_publishes_every_module() {
    let data = layout([(40, 16), (0, 1), (8, 8), (24, 8), (16, 8)]);
    for mode in BOTH {
        let mut arena = Arena::new(config(mode, 1 << 20, None)).unwrap();
        let nothing = arena.allocate(&layout([(0, 1); 5])).unwrap();
        let modules: Vec<Allocation> = (0..40u8)
            .map(|i| {
                let allocation = arena.allocate(&data).unwrap();
                for segment in allocation.segments.iter().filter(|s| s.size > 0) {
                    // SAFETY: (test) the segment is writable through
                    // write_ptr until finalize.
                    unsafe {
                        std::ptr::write_bytes(segment.write_ptr, i + 1, segment.size as usize)
                    };
                }
                allocation
            })
            .collect();
        let mut all: Vec<&Allocation> = modules.iter().collect();
        all.push(&nothing);
        arena.finalize_all(&all).unwrap();
        for (i, allocation) in modules.iter().enumerate() {
            for segment in allocation.segments.iter().filter(|s| s.size > 0) {
                // SAFETY: (test) finalized segments are readable at `addr`.
                let bytes = unsafe {
                    std::slice::from_raw_parts(segment.addr as *const u8, segment.size as usize)
                };
                assert!(
                    bytes.iter().all(|&b| b == i as u8 + 1),
                    "{mode:?}: module {i}"
                );
            }
        }
        assert_no_writable_executable_mapping();
        let foreign = Allocation {
            id: u64::MAX,
            segments: modules[0].segments,
        };
        assert!(
            arena.finalize_all(&[&modules[1], &foreign]).is_err(),
            "{mode:?}"
        );
        for allocation in modules {
            arena.release(allocation);
        }
        arena.release(nothing);
        assert_eq!(arena.stats().allocations, 0, "{mode:?}");
    }
}
