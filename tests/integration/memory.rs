//! The memory an embedder controls: the arena's modes, its cap, growth,
//! page sizes, per-module figures, managers supplied by the embedder, and
//! the image manager — each through the engine (or the linker) with real
//! objects, asserting on what the JIT code computes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel, TargetMachine, TargetOptions};
use rivet::memory::{
    Allocation, AllocationStats, Arena, ArenaConfig, ArenaMode, Image, ImageConfig, MemoryManager,
    MemoryStats, ModuleLayout, Segment, SegmentClass, DEFAULT_MODE,
};
use rivet::{Error, ExecutionEngine};

/// Both arena modes.
pub const MODES: [ArenaMode; 2] = [ArenaMode::Pages, ArenaMode::DualMapped];

/// An arena that the engine owns and the test can still look at: a
/// [`MemoryManager`] supplied by the test, delegating to a shared [`Arena`]
/// and counting the calls the engine makes.
#[derive(Clone)]
pub struct SharedArena {
    arena: Arc<Mutex<Arena>>,
    calls: Arc<[AtomicUsize; 4]>,
}

impl SharedArena {
    pub fn new(config: ArenaConfig) -> SharedArena {
        SharedArena {
            arena: Arc::new(Mutex::new(Arena::new(config).expect("arena"))),
            calls: Arc::new(Default::default()),
        }
    }

    pub fn arena(&self) -> MutexGuard<'_, Arena> {
        self.arena.lock().unwrap()
    }

    /// Calls of allocate, finalize, release and allocation_stats so far.
    pub fn calls(&self) -> [usize; 4] {
        [0, 1, 2, 3].map(|i| self.calls[i].load(Ordering::SeqCst))
    }

    /// Entries of `/proc/self/maps` that overlap the arena's regions or map
    /// one of its memory files elsewhere (there should be none).
    pub fn areas_in_maps(&self) -> u64 {
        let regions = self.arena().regions();
        let files: Vec<u64> = regions.iter().filter_map(|r| r.memory_file).collect();
        let ranges: Vec<(u64, u64)> = regions
            .iter()
            .map(|region| (region.start, region.start + region.len))
            .collect();
        file_maps()
            .iter()
            .filter(|m| {
                ranges.iter().any(|&(a, b)| m.start < b && a < m.end)
                    || (m.inode != 0 && files.contains(&m.inode))
            })
            .count() as u64
    }
}

impl MemoryManager for SharedArena {
    fn allocate(&mut self, layout: &ModuleLayout) -> rivet::Result<Allocation> {
        self.calls[0].fetch_add(1, Ordering::SeqCst);
        self.arena().allocate(layout)
    }
    fn finalize(&mut self, allocation: &Allocation) -> rivet::Result<()> {
        self.calls[1].fetch_add(1, Ordering::SeqCst);
        self.arena().finalize(allocation)
    }
    fn release(&mut self, allocation: Allocation) {
        self.calls[2].fetch_add(1, Ordering::SeqCst);
        self.arena().release(allocation)
    }
    fn stats(&self) -> MemoryStats {
        self.arena().stats()
    }
    fn allocation_stats(&self, allocation: &Allocation) -> Option<AllocationStats> {
        self.calls[3].fetch_add(1, Ordering::SeqCst);
        self.arena().allocation_stats(allocation)
    }
}

fn host_machine() -> TargetMachine {
    machine(RelocModel::Pic, CodeModel::Small)
}

/// An engine over `memory` that compiles IR for the host.
pub fn engine_over(memory: Box<dyn MemoryManager>) -> ExecutionEngine {
    let mut engine = ExecutionEngine::new(memory);
    engine.set_target_machine(host_machine());
    engine
}

fn arena_config(mode: ArenaMode) -> ArenaConfig {
    ArenaConfig {
        mode: Some(mode),
        ..ArenaConfig::default()
    }
}

/// Runs a part of `programs::PROGRAM` and checks what it computes.
fn check_program(engine: &ExecutionEngine, what: &str) {
    let bump = engine.get_function_address("bump").unwrap();
    let counter = engine.get_global_value_address("counter").unwrap();
    let classify = engine.get_function_address("classify").unwrap();
    let poly = engine.get_function_address("poly").unwrap();
    let trig = engine.get_function_address("trig").unwrap();
    let dispatch = engine.get_function_address("dispatch").unwrap();
    // SAFETY: finalized functions of the signatures used, an i64 global.
    unsafe {
        assert_eq!(call1::<i64, i64>(bump, 40), 40, "{what}");
        assert_eq!(call1::<i64, i64>(bump, 2), 42, "{what}");
        assert_eq!(*(counter as *const i64), 42, "{what}: global written");
        assert_eq!(call1::<i32, i32>(classify, 7), 809, "{what}: jump table");
        assert_eq!(call1::<i32, i32>(classify, 15), 1601, "{what}: jump table");
        assert_eq!(call1::<i32, i32>(classify, 99), -1, "{what}: jump table");
        let x = 0.625f64;
        let want = (x * std::f64::consts::PI + 1.234567e-3) * std::f64::consts::E;
        assert_eq!(call1::<f64, f64>(poly, x), want, "{what}: constant pool");
        assert_eq!(
            call1::<f64, f64>(trig, x),
            x.sin() + x.cos(),
            "{what}: libm"
        );
        assert_eq!(call2::<i64, i64, i64>(dispatch, 1, 5), 15, "{what}: table");
    }
}

/// W^X over the whole process.
/// One line of `/proc/self/maps` with the backing file's inode.
#[derive(Debug)]
pub struct FileMapping {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub inode: u64,
}

/// Every mapping of the process, with inodes.
pub fn file_maps() -> Vec<FileMapping> {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (start, end) = fields.first()?.split_once('-')?;
            Some(FileMapping {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                perms: fields.get(1)?.to_string(),
                inode: fields.get(4)?.parse().ok()?,
            })
        })
        .collect()
}

fn assert_no_writable_executable_mapping(what: &str) {
    let wx: Vec<_> = maps()
        .into_iter()
        .filter(|(_, _, p)| p.contains('w') && p.contains('x'))
        .collect();
    assert!(wx.is_empty(), "{what}: writable and executable: {wx:x?}");
}

/// A module with `bytes` of zero-filled data and a function returning its address.
fn big_data_module(index: usize, bytes: usize) -> String {
    format!(
        "@buf{index} = global [{n} x i64] zeroinitializer\n\
         define ptr @get{index}() {{ ret ptr @buf{index} }}\n",
        n = bytes / 8
    )
}

#[test]
fn arena_mode_follows_the_environment() {
    let arena = Arena::new(ArenaConfig::default()).unwrap();
    let wanted = ArenaMode::from_env().unwrap().unwrap_or(DEFAULT_MODE);
    assert_eq!(arena.mode(), wanted);
    let mut engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
    assert_eq!(
        engine.memory_stats().reserved_bytes,
        rivet::memory::DEFAULT_RESERVATION
    );
    // The engine's default arena is in that mode too: its code is a view
    // of a memory file when dual-mapped, anonymous memory in page mode.
    engine.set_target_machine(host_machine());
    engine.add_module(module("define i32 @seven() { ret i32 7 }", "seven"));
    let seven = engine.get_function_address("seven").unwrap();
    let backing = file_maps()
        .into_iter()
        .find(|m| m.start <= seven && seven < m.end)
        .expect("mapped");
    assert_eq!(
        backing.inode != 0,
        wanted == ArenaMode::DualMapped,
        "the engine's default arena is in that mode too: {backing:x?}"
    );
}

#[test]
fn cap_reached_is_out_of_memory_and_the_engine_stays_usable() {
    const CAP: u64 = 1 << 20;
    const DATA: usize = 256 << 10;
    for mode in MODES {
        let engine = engine_over(Box::new(
            Arena::new(ArenaConfig {
                max_committed: Some(CAP),
                ..arena_config(mode)
            })
            .unwrap(),
        ));
        let mut ids = Vec::new();
        for index in 0..3 {
            ids.push(engine.add_module(module(&big_data_module(index, DATA), "big")));
            engine.finalize_object().unwrap();
        }
        let get0 = engine.get_function_address("get0").unwrap();
        let buf0 = engine.get_global_value_address("buf0").unwrap();
        let before = engine.memory_stats();
        assert!(before.committed_bytes >= 3 * DATA as u64);
        assert!(before.committed_bytes <= CAP);
        let fourth = engine.add_module(module(&big_data_module(3, DATA), "fourth"));
        let error = engine.finalize_object().expect_err("the cap is reached");
        let Error::OutOfMemory { requested, reason } = &error else {
            panic!("{mode:?}: unexpected {error}");
        };
        assert!(*requested >= DATA as u64, "{mode:?}: {error}");
        assert!(reason.contains(&format!("cap of {CAP}")), "{reason}");
        assert!(
            reason.contains(&format!("{} bytes are committed", before.committed_bytes)),
            "{reason}"
        );
        assert!(reason.contains("needs"), "{reason}");
        let after = engine.memory_stats();
        assert_eq!(
            after.committed_bytes, before.committed_bytes,
            "{mode:?}: nothing stays allocated"
        );
        assert_eq!(after.allocations, before.allocations);
        // A look-up of the pending module's name links it, and fails the
        // same way; names already linked still answer.
        assert!(matches!(
            engine.get_function_address("get3"),
            Err(Error::OutOfMemory { .. })
        ));
        assert_eq!(engine.get_function_address("get0").unwrap(), get0);
        // The first three still run.
        // SAFETY: finalized `ptr ()`.
        assert_eq!(unsafe { call0::<u64>(get0) }, buf0);
        // Make room: the pending module links at the next finalize.
        engine.remove_module(ids.remove(0)).unwrap();
        assert!(engine.memory_stats().committed_bytes < before.committed_bytes);
        engine.finalize_object().expect("fits after a removal");
        let get3 = engine.get_function_address("get3").unwrap();
        // SAFETY: finalized `ptr ()` returning a 256 KiB writable array.
        unsafe {
            let buf3 = call0::<u64>(get3) as *mut i64;
            assert_eq!(
                buf3 as u64,
                engine.get_global_value_address("buf3").unwrap()
            );
            *buf3.add(DATA / 8 - 1) = 7;
            assert_eq!(*buf3.add(DATA / 8 - 1), 7);
            assert_eq!(*buf3, 0, "fresh memory is zero");
        }
        assert!(engine.memory_stats().committed_bytes <= CAP);
        engine.remove_module(fourth).unwrap();
    }
}

#[test]
fn growth_into_a_second_region_with_a_cross_region_call() {
    const FILLER: usize = 192 << 10;
    for mode in MODES {
        for hint in [true, false] {
            let shared = SharedArena::new(ArenaConfig {
                reservation: 1 << 20,
                ..if hint {
                    arena_config(mode)
                } else {
                    ArenaConfig {
                        hint: None,
                        below: None,
                        ..arena_config(mode)
                    }
                }
            });
            let engine = engine_over(Box::new(shared.clone()));
            engine.add_module(module(
                r#"@calls = global i64 0
                   define i64 @base(i64 %x) {
                     %c = load i64, ptr @calls
                     %n = add i64 %c, 1
                     store i64 %n, ptr @calls
                     %r = add i64 %x, 100
                     ret i64 %r }"#,
                "callee",
            ));
            engine.finalize_object().unwrap();
            let base = engine.get_function_address("base").unwrap();
            let mut index = 0;
            while engine.memory_stats().regions == 1 {
                engine.add_module(module(&big_data_module(index, FILLER), "filler"));
                engine.finalize_object().unwrap();
                index += 1;
                assert!(index < 10, "{mode:?}: never grew");
            }
            engine.add_module(module(
                &format!(
                    "@pad = global [{} x i64] zeroinitializer\n{}",
                    FILLER / 8,
                    r#"@calls = external global i64
                       declare i64 @base(i64)
                       define i64 @far(i64 %x) {
                         %a = call i64 @base(i64 %x)
                         %c = load i64, ptr @calls
                         %r = add i64 %a, %c
                         ret i64 %r }
                       define ptr @pad_addr() { ret ptr @pad }"#
                ),
                "caller",
            ));
            let far = engine.get_function_address("far").unwrap();
            let regions = shared.arena().regions();
            assert_eq!(regions.len(), 2, "{mode:?}");
            assert!(
                regions[0].contains(base),
                "{mode:?}: callee in the first region"
            );
            assert!(
                regions[1].contains(far),
                "{mode:?}: caller in the second region"
            );
            // SAFETY: finalized `i64 (i64)` functions.
            unsafe {
                assert_eq!(
                    call1::<i64, i64>(far, 1),
                    101 + 1,
                    "{mode:?}: call across regions"
                );
                assert_eq!(
                    call1::<i64, i64>(far, 2),
                    102 + 2,
                    "{mode:?}: data across regions"
                );
                assert_eq!(call1::<i64, i64>(base, 0), 100);
                assert_eq!(
                    *(engine.get_global_value_address("calls").unwrap() as *const i64),
                    3
                );
            }
            assert_no_writable_executable_mapping(&format!("{mode:?} growth"));
        }
    }
}

#[test]
fn page_sizes_of_16_and_64_kib_link_and_run_programs() {
    for mode in MODES {
        for granule in [16usize << 10, 64 << 10] {
            let what = format!("{mode:?} {} KiB pages", granule >> 10);
            let engine = engine_over(Box::new(
                Arena::new(ArenaConfig {
                    page_size: Some(granule),
                    ..arena_config(mode)
                })
                .unwrap(),
            ));
            let program = engine.add_module(module(crate::programs::PROGRAM, "program"));
            engine.add_module(module(
                "@konst = constant [2 x i64] [i64 5, i64 6]\n\
                 define i64 @second() { %p = getelementptr [2 x i64], ptr @konst, i64 0, i64 1\n\
                 %v = load i64, ptr %p\n ret i64 %v }",
                "second",
            ));
            check_program(&engine, &what);
            assert_eq!(
                // SAFETY: finalized `i64 ()`.
                unsafe { call0::<i64>(engine.get_function_address("second").unwrap()) },
                6
            );
            let stats = engine.memory_stats();
            assert_eq!(stats.committed_bytes % granule as u64, 0, "{what}");
            let figures = engine.module_memory_stats(program).expect("figures");
            for class in SegmentClass::ALL {
                assert_eq!(
                    figures.pages_by_class[class as usize] % granule as u64,
                    0,
                    "{what}"
                );
            }
            // Text is read + execute over whole granules.
            let bump = engine.get_function_address("bump").unwrap();
            let page = bump - bump % granule as u64;
            let (start, end, perms) = maps()
                .into_iter()
                .find(|(a, b, _)| (*a..*b).contains(&bump))
                .unwrap();
            assert_eq!(perms, "r-xp", "{what}");
            assert!(start <= page && page + granule as u64 <= end, "{what}");
            assert_no_writable_executable_mapping(&what);
        }
    }
}

#[test]
fn forced_refusal_of_executable_memory_falls_back_to_dual_mapping() {
    let shared = SharedArena::new(ArenaConfig {
        simulate_exec_refusal: true,
        ..arena_config(ArenaMode::Pages)
    });
    assert_eq!(shared.arena().mode(), ArenaMode::DualMapped);
    let reason = shared.arena().fallback_reason().unwrap().to_string();
    assert!(reason.contains("EACCES"), "{reason}");
    let engine = engine_over(Box::new(shared.clone()));
    engine.add_module(module(crate::programs::PROGRAM, "program"));
    check_program(&engine, "fallback");
    let bump = engine.get_function_address("bump").unwrap();
    let region = shared.arena().regions()[0];
    assert!(region.contains(bump));
    assert!(region.memory_file.is_some(), "dual-mapped");
    assert_eq!(perms_at(bump).as_deref(), Some("r-xp"));
    assert_no_writable_executable_mapping("fallback");
}

#[test]
fn no_mapping_is_writable_and_executable_in_any_mode() {
    let layout = r#"
        @data = global i64 1
        @konst = constant [4 x i64] [i64 1, i64 2, i64 3, i64 4]
        define i64 @code() { %v = load i64, ptr @data
          ret i64 %v }
    "#;
    for mode in MODES {
        let shared = SharedArena::new(arena_config(mode));
        let engine = engine_over(Box::new(shared.clone()));
        engine.add_module(module(layout, "layout"));
        engine.add_module(module(crate::programs::PROGRAM, "program"));
        engine.finalize_object().unwrap();
        let code = engine.get_function_address("code").unwrap();
        let data = engine.get_global_value_address("data").unwrap();
        let konst = engine.get_global_value_address("konst").unwrap();
        assert_eq!(perms_at(code).as_deref(), Some("r-xp"), "{mode:?} text");
        assert_eq!(perms_at(data).as_deref(), Some("rw-p"), "{mode:?} data");
        assert_eq!(perms_at(konst).as_deref(), Some("r--p"), "{mode:?} rodata");
        if mode == ArenaMode::DualMapped {
            // W^X without an alias: once finalized, no mapping of the
            // memory file is writable anywhere (before, a `rw-s` view of
            // the whole file stayed for the region's lifetime).
            let file = shared.arena().regions()[0].memory_file.unwrap();
            let views: Vec<FileMapping> = file_maps()
                .into_iter()
                .filter(|m| m.inode == file)
                .collect();
            assert!(
                views.iter().any(|m| m.start <= code && code < m.end),
                "the code is a view of the memory file"
            );
            let writable: Vec<&FileMapping> =
                views.iter().filter(|m| m.perms.contains('w')).collect();
            assert!(
                writable.is_empty(),
                "writable views of finalized code, GOT and rodata: {writable:x?}"
            );
        }
        assert_no_writable_executable_mapping(&format!("{mode:?}"));
        // SAFETY: finalized `i64 ()`.
        assert_eq!(unsafe { call0::<i64>(code) }, 1);
        let mappings = shared.arena().stats().mappings;
        assert_eq!(mappings, shared.areas_in_maps(), "{mode:?}");
    }
}

#[test]
fn per_module_figures_show_shared_pages() {
    let page = rivet::memory::page_size() as u64;
    for mode in MODES {
        let engine = engine_over(Box::new(Arena::new(arena_config(mode)).unwrap()));
        let one = engine.add_module(module("define i32 @one() { ret i32 1 }", "one"));
        let two = engine.add_module(module("define i32 @two() { ret i32 2 }", "two"));
        assert_eq!(engine.module_memory_stats(one), None, "not linked yet");
        engine.finalize_object().unwrap();
        let (a, b) = (
            engine.module_memory_stats(one).unwrap(),
            engine.module_memory_stats(two).unwrap(),
        );
        let text = SegmentClass::Text as usize;
        assert!(a.bytes_by_class[text] > 0 && a.bytes_by_class[text] < page);
        assert_eq!(a.pages_by_class[text], page, "{mode:?}");
        let stats = engine.memory_stats();
        match mode {
            ArenaMode::Pages => {
                assert_eq!(a.exclusive(), a.pages(), "page mode shares nothing");
                assert_eq!(stats.committed_bytes, a.pages() + b.pages());
            }
            ArenaMode::DualMapped => {
                assert_eq!(a.exclusive_by_class[text], 0, "text page shared with `two`");
                assert_eq!(
                    stats.committed_by_class[text], page,
                    "one text page for both"
                );
                assert!(stats.committed_bytes < a.pages() + b.pages());
            }
        }
        assert_eq!(stats.live_bytes, a.bytes() + b.bytes());
        assert_eq!(
            stats.free_bytes_in_committed,
            stats.committed_bytes - stats.live_bytes
        );
        engine.remove_module(two).unwrap();
        let a = engine.module_memory_stats(one).unwrap();
        assert_eq!(a.exclusive(), a.pages(), "{mode:?}: alone now");
        assert_eq!(engine.memory_stats().committed_bytes, a.pages());
        assert_eq!(
            // SAFETY: finalized `i32 ()`.
            unsafe { call0::<i32>(engine.get_function_address("one").unwrap()) },
            1
        );
    }
}

#[test]
fn a_custom_manager_wrapping_the_arena_sees_every_call() {
    let shared = SharedArena::new(ArenaConfig::default());
    let engine = engine_over(Box::new(shared.clone()));
    let program = engine.add_module(module(crate::programs::PROGRAM, "program"));
    engine.add_module(module("define i32 @other() { ret i32 -5 }", "other"));
    engine.finalize_object().unwrap();
    check_program(&engine, "custom manager");
    assert_eq!(
        shared.calls(),
        [2, 2, 0, 0],
        "allocate and finalize per module"
    );
    assert!(engine.module_memory_stats(program).is_some());
    assert_eq!(shared.calls()[3], 1);
    engine.remove_module(program).unwrap();
    assert_eq!(shared.calls()[2], 1, "released on remove_module");
    assert_eq!(shared.arena().stats().allocations, 1);
    assert_eq!(
        // SAFETY: finalized `i32 ()`.
        unsafe { call0::<i32>(engine.get_function_address("other").unwrap()) },
        -5
    );
}

/// A memory manager of the test's own: one mapping, bump-allocated a page
/// per segment, protected with `mprotect` at finalize, never reused.
struct BumpManager {
    base: *mut u8,
    len: usize,
    next: usize,
    page: usize,
    live: Vec<(u64, [Segment; SegmentClass::COUNT])>,
    next_id: u64,
}

// SAFETY: (test) the manager owns its mapping; the engine serializes calls.
unsafe impl Send for BumpManager {}

impl BumpManager {
    fn new(len: usize) -> BumpManager {
        // SAFETY: (test) a fresh private anonymous mapping.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        BumpManager {
            base: base.cast(),
            len,
            next: 0,
            page: rivet::memory::page_size(),
            live: Vec::new(),
            next_id: 1,
        }
    }
}

impl Drop for BumpManager {
    fn drop(&mut self) {
        // SAFETY: (test) our own mapping, no longer used.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

impl MemoryManager for BumpManager {
    fn allocate(&mut self, layout: &ModuleLayout) -> rivet::Result<Allocation> {
        let mut segments = [Segment::EMPTY; SegmentClass::COUNT];
        for class in SegmentClass::ALL {
            let request = layout.get(class);
            if request.size == 0 {
                continue;
            }
            let align = (request.align.max(1) as usize).max(self.page);
            let start = self.next.next_multiple_of(align);
            let len = (request.size as usize).next_multiple_of(self.page);
            if start + len > self.len {
                return Err(Error::OutOfMemory {
                    requested: request.size,
                    reason: "the bump manager is full".into(),
                });
            }
            let pointer = self.base.wrapping_add(start);
            // SAFETY: (test) pages of our mapping that nothing uses yet.
            let rc =
                unsafe { libc::mprotect(pointer.cast(), len, libc::PROT_READ | libc::PROT_WRITE) };
            assert_eq!(rc, 0);
            segments[class as usize] = Segment {
                addr: pointer as u64,
                write_ptr: pointer,
                size: request.size,
            };
            self.next = start + len;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.live.push((id, segments));
        Ok(Allocation { id, segments })
    }

    fn finalize(&mut self, allocation: &Allocation) -> rivet::Result<()> {
        for class in SegmentClass::ALL {
            let segment = allocation.segment(class);
            if segment.size == 0 {
                continue;
            }
            let prot = match class {
                SegmentClass::Text | SegmentClass::Stubs => libc::PROT_READ | libc::PROT_EXEC,
                SegmentClass::Got | SegmentClass::ReadOnly => libc::PROT_READ,
                SegmentClass::Data => libc::PROT_READ | libc::PROT_WRITE,
            };
            let len = (segment.size as usize).next_multiple_of(self.page);
            // SAFETY: (test) pages of a live allocation the linker is done with.
            let rc = unsafe { libc::mprotect(segment.write_ptr.cast(), len, prot) };
            assert_eq!(rc, 0);
        }
        Ok(())
    }

    fn release(&mut self, allocation: Allocation) {
        self.live.retain(|(id, _)| *id != allocation.id);
    }

    fn stats(&self) -> MemoryStats {
        MemoryStats {
            reserved_bytes: self.len as u64,
            committed_bytes: self.next as u64,
            allocations: self.live.len() as u64,
            mappings: 1,
            ..MemoryStats::default()
        }
    }
}

#[test]
fn a_bump_manager_of_the_tests_own_links_and_runs_a_program() {
    let engine = engine_over(Box::new(BumpManager::new(64 << 20)));
    engine.add_module(module(crate::programs::PROGRAM, "program"));
    check_program(&engine, "bump manager");
    let stats = engine.memory_stats();
    assert_eq!(stats.allocations, 1);
    assert!(stats.committed_bytes > 0);
    let bump = engine.get_function_address("bump").unwrap();
    assert_eq!(perms_at(bump).as_deref(), Some("r-xp"));
    assert_eq!(
        engine.module_memory_stats(engine.module_ids()[0]),
        None,
        "it does not say"
    );
    assert_no_writable_executable_mapping("bump manager");
}

#[test]
fn an_image_links_at_chosen_addresses_and_reads_back() {
    const BASE: u64 = 0x7e00_0000_0000;
    const SEPARATION: u64 = 0x1_0000;
    let asm = r#"
        .text
        .globl f
        .p2align 4
    f:
        call g
        lea rax, [rip + table]
        ret
        .section .text.g,"ax",@progbits
        .globl g
    g:
        ret
        .data
        .globl table
        .p2align 3
    table:
        .quad g
        .quad f + 16
        .long g - table
    "#;
    let machine = TargetMachine::new(&TargetOptions::default()).unwrap();
    let object = machine
        .assemble(&format!(".intel_syntax noprefix\n{asm}"))
        .expect("assemble");
    let parsed = rivet::load::ObjectFile::parse(&object, "image.o").unwrap();
    let mut image = Image::new(ImageConfig {
        base: BASE,
        separation: SEPARATION,
        end: u64::MAX,
        ..ImageConfig::default()
    });
    let units = [rivet::link::LinkUnit {
        module: 1,
        key: rivet::link::next_module_key(),
        object: &parsed,
    }];
    let linked = rivet::link::link(
        &units,
        &rivet::link::SymbolTable::default(),
        &rivet::link::Externals::default(),
        &mut image,
        rivet::link::LinkOptions::default(),
    )
    .expect("link");
    let address = |name: &str| {
        linked[0]
            .exports
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, e)| e.address)
            .unwrap()
    };
    let (f, g, table) = (address("f"), address("g"), address("table"));
    assert_eq!(f, BASE, "text starts at the chosen base");
    assert!(table >= f + SEPARATION, "segments are kept apart");
    // call rel32: E8 then g - (f + 5).
    let call = image.read(f, 5).unwrap();
    assert_eq!(call[0], 0xE8);
    let rel = i32::from_le_bytes(call[1..5].try_into().unwrap());
    assert_eq!(f as i64 + 5 + rel as i64, g as i64, "the call reaches g");
    // lea rax, [rip + disp32] at f + 5 (7 bytes): the displacement reaches table.
    let lea = image.read(f + 5, 7).unwrap();
    assert_eq!(&lea[..3], &[0x48, 0x8D, 0x05]);
    let disp = i32::from_le_bytes(lea[3..7].try_into().unwrap());
    assert_eq!(f as i64 + 12 + disp as i64, table as i64);
    // *{8}table == g, *{8}(table + 8) == f + 16, *{4}(table + 16) == g - table.
    assert_eq!(image.read_uint(table, 8), Some(g));
    assert_eq!(image.read_uint(table + 8, 8), Some(f + 16));
    assert_eq!(
        image.read_uint(table + 16, 4),
        Some((g.wrapping_sub(table)) & 0xffff_ffff)
    );
    assert_eq!(image.read(g, 1), Some(&[0xC3][..]));
    assert_eq!(image.read(BASE - 1, 1), None, "nothing below the base");
    let stats = image.stats();
    assert_eq!(stats.allocations, 1);
    assert!(stats.reserved_bytes >= SEPARATION);
    assert!(image.segments().iter().all(|segment| segment.addr >= BASE));
    image.release(linked.into_iter().next().unwrap().allocation);
    assert_eq!(image.read(f, 1), None);
}

/// Out-of-memory for a module bigger than any region, through the engine.
#[test]
fn a_module_larger_than_any_region_is_an_error() {
    let engine = engine_over(Box::new(
        Arena::new(ArenaConfig {
            reservation: 1 << 20,
            max_regions: Some(1),
            ..ArenaConfig::default()
        })
        .unwrap(),
    ));
    engine.add_module(module(&big_data_module(0, 2 << 20), "huge"));
    let error = engine
        .finalize_object()
        .expect_err("2 MiB in a 1 MiB arena");
    assert!(matches!(error, Error::OutOfMemory { .. }), "{error}");
    assert!(error.to_string().contains("max_regions"), "{error}");
    assert_eq!(engine.memory_stats().committed_bytes, 0);
}
