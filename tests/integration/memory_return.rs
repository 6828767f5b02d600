//! Memory that comes back: after every module is removed, the arena's
//! regions beyond the first, their memory files and descriptors, and the
//! thread-local blocks of removed modules are gone, in both arena modes.
//! Each figure is this engine's own (its regions, its memory files' inodes,
//! its module's TLS), so tests running beside it do not disturb it.

use std::os::unix::fs::MetadataExt;

use crate::common::*;
use crate::memory::{engine_over, SharedArena, MODES};
use rivet::memory::{ArenaConfig, ArenaMode};

/// Regions of 1 MiB: a module with 600 KiB of data needs one of its own.
fn small_regions(mode: ArenaMode) -> ArenaConfig {
    ArenaConfig {
        reservation: 1 << 20,
        hint: None,
        below: None,
        mode: Some(mode),
        ..ArenaConfig::default()
    }
}

/// A module with 600 KiB of zero-filled data and a function returning `index`.
fn region_sized_module(index: usize) -> String {
    format!(
        "@fill{index} = global [76800 x i64] zeroinitializer\n\
         define i64 @which{index}() {{\n\
           store i64 1, ptr @fill{index}\n\
           ret i64 {index} }}\n"
    )
}

/// Open descriptors of this process whose file is one of `inodes`.
fn descriptors_of(inodes: &[u64]) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::metadata(entry.ok()?.path()).ok())
        .filter(|meta| inodes.contains(&meta.ino()))
        .count()
}

/// Mappings of this process backed by one of `inodes`.
fn mappings_of(inodes: &[u64]) -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .nth(4)
                .and_then(|inode| inode.parse::<u64>().ok())
                .is_some_and(|inode| inode != 0 && inodes.contains(&inode))
        })
        .count()
}

/// After removing every module of eight regions, the arena is back to the
/// empty engine's figures: one region, the same reserved address space,
/// nothing committed, and (dual-mapped) no descriptor or mapping of the
/// other regions' memory files. Before, every region stayed reserved and
/// its memory file open.
#[test]
fn removing_every_module_gives_regions_and_descriptors_back() {
    const MODULES: usize = 8;
    for mode in MODES {
        let shared = SharedArena::new(small_regions(mode));
        let engine = engine_over(Box::new(shared.clone()));
        let empty = engine.memory_stats();
        let first = shared.arena().regions();
        assert_eq!(first.len(), 1, "{mode:?}");

        let ids: Vec<_> = (0..MODULES)
            .map(|i| {
                let id = engine.add_module(module(&region_sized_module(i), &format!("r{i}")));
                engine.finalize_object().unwrap();
                id
            })
            .collect();
        for i in 0..MODULES {
            let address = engine.get_function_address(&format!("which{i}")).unwrap();
            // SAFETY: a finalized `i64 ()` function.
            assert_eq!(unsafe { call0::<i64>(address) }, i as i64, "{mode:?}");
        }
        let regions = shared.arena().regions();
        assert!(
            regions.len() >= MODULES,
            "{mode:?}: {} regions",
            regions.len()
        );
        let inodes: Vec<u64> = regions[1..].iter().filter_map(|r| r.memory_file).collect();
        if mode == ArenaMode::DualMapped {
            assert_eq!(inodes.len(), regions.len() - 1);
            assert_eq!(descriptors_of(&inodes), inodes.len(), "one file each");
        }

        for id in ids {
            engine.remove_module(id).unwrap();
        }
        let after = engine.memory_stats();
        assert_eq!(after.regions, empty.regions, "{mode:?}: regions");
        assert_eq!(
            after.reserved_bytes, empty.reserved_bytes,
            "{mode:?}: reserved address space"
        );
        assert_eq!(
            after.committed_bytes, empty.committed_bytes,
            "{mode:?}: committed"
        );
        assert_eq!(after.allocations, 0, "{mode:?}");
        assert_eq!(shared.arena().regions(), first, "{mode:?}: the first stays");
        assert_eq!(descriptors_of(&inodes), 0, "{mode:?}: descriptors closed");
        assert_eq!(mappings_of(&inodes), 0, "{mode:?}: views unmapped");

        // The arena grows again as before.
        engine.add_module(module(&region_sized_module(100), "again0"));
        engine.add_module(module(&region_sized_module(101), "again1"));
        engine.finalize_object().unwrap();
        let address = engine.get_function_address("which101").unwrap();
        // SAFETY: a finalized `i64 ()` function.
        assert_eq!(unsafe { call0::<i64>(address) }, 101, "{mode:?}");
        assert!(shared.arena().regions().len() >= 2, "{mode:?}");
    }
}

/// 256 KiB of thread-local zero-fill, one word of each 4 KiB page
/// incremented by `touch`, which returns the first word.
const TLS_PAGES: &str = r#"
    @block = thread_local global [32768 x i64] zeroinitializer
    define i64 @touch() {
    entry:
      br label %loop
    loop:
      %i = phi i64 [ 0, %entry ], [ %next, %loop ]
      %p = getelementptr [32768 x i64], ptr @block, i64 0, i64 %i
      %v = load i64, ptr %p
      %w = add i64 %v, 1
      store i64 %w, ptr %p
      %next = add i64 %i, 512
      %done = icmp uge i64 %next, 32768
      br i1 %done, label %exit, label %loop
    exit:
      %first = load i64, ptr @block
      ret i64 %first
    }
"#;

/// Set in the child process that measures its own memory.
const TLS_CHILD: &str = "RIVET_TLS_RSS_CHILD";

/// Resident bytes of this process.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

/// A worker thread calls into modules that the main thread adds and then
/// removes, one at a time: each gets a fresh 256 KiB thread-local block
/// (its first call returns 1), and the worker's resident memory stays
/// bounded by the one live module, not by the 400 it touched. Before, a
/// removed module's block stayed with the worker until it exited (+100 MiB
/// here). Measured in a child process, so other tests' memory is not in it.
#[test]
fn thread_local_blocks_of_removed_modules_are_freed_on_every_thread() {
    const WARM_UP: usize = 20;
    const CYCLES: usize = 400;
    const BOUND: u64 = 24 << 20;
    if std::env::var_os(TLS_CHILD).is_none() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "memory_return::thread_local_blocks_of_removed_modules_are_freed_on_every_thread",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(TLS_CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains("tls-rss:"),
            "child failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
        eprintln!(
            "{}",
            stdout.lines().find(|l| l.contains("tls-rss:")).unwrap()
        );
        return;
    }

    use std::sync::mpsc;
    use std::time::Duration;
    // Watchdog: no wait in this test is longer than this.
    const PATIENCE: Duration = Duration::from_secs(120);
    let object = object(TLS_PAGES, "tls_pages");
    let engine = rivet::ExecutionEngine::with_lmm(Some(true)).unwrap();
    let (to_worker, work) = mpsc::channel::<Option<u64>>();
    let (done, from_worker) = mpsc::channel::<i64>();
    let worker = std::thread::spawn(move || {
        while let Ok(Some(touch)) = work.recv_timeout(PATIENCE) {
            // SAFETY: a finalized `i64 ()` function of a live module (the
            // main thread removes it only after this answer).
            let first = unsafe { call0::<i64>(touch) };
            if done.send(first).is_err() {
                break;
            }
        }
    });
    let mut baseline = 0;
    for cycle in 0..WARM_UP + CYCLES {
        if cycle == WARM_UP {
            baseline = resident_bytes();
        }
        let id = engine
            .add_object_bytes(object.clone(), "tls_pages.o")
            .unwrap();
        engine.finalize_object().unwrap();
        let touch = engine.get_function_address("touch").unwrap();
        to_worker.send(Some(touch)).unwrap();
        let first = from_worker
            .recv_timeout(PATIENCE)
            .expect("watchdog: the worker did not answer");
        assert_eq!(first, 1, "cycle {cycle}: a fresh block for a new module");
        engine.remove_module(id).unwrap();
    }
    // The worker is still alive: what it holds is what is measured.
    let grown = resident_bytes().saturating_sub(baseline);
    to_worker.send(None).unwrap();
    worker.join().unwrap();
    println!("tls-rss: {CYCLES} modules of 256 KiB TLS, resident memory grew {grown} bytes");
    assert!(
        grown < BOUND,
        "resident memory grew {grown} bytes over {CYCLES} removed modules (bound {BOUND})"
    );
}

/// Set in the child process that lowers its own descriptor limit.
const FD_CHILD: &str = "RIVET_FD_LIMIT_CHILD";

/// With a low descriptor limit, dual-mapped regions (a memory file each)
/// stop with an error naming the limit while the process can still open
/// files; removing the modules gives the descriptors back and the arena
/// grows again. Before, regions took descriptors until `EMFILE`, and then
/// nothing in the process could open a file. In a child process, so the
/// lowered limit touches no other test.
#[test]
fn dual_mapped_regions_leave_descriptors_for_the_process() {
    if std::env::var_os(FD_CHILD).is_none() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "memory_return::dual_mapped_regions_leave_descriptors_for_the_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(FD_CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("fd-limit:"),
            "child failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }

    use rivet::memory::{Arena, MemoryManager, ModuleLayout, SegmentClass};
    let open = || std::fs::read_dir("/proc/self/fd").unwrap().count() as u64 - 1;
    let limit = open() + 64;
    let mut rlimit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct given;
    // this child process runs this test alone.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlimit), 0);
        rlimit.rlim_cur = limit;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit), 0);
    }
    let mut arena = Arena::new(small_regions(ArenaMode::DualMapped)).unwrap();
    let mut layout = ModuleLayout::default();
    *layout.get_mut(SegmentClass::ReadOnly) = rivet::memory::SegmentRequest {
        size: 600 << 10,
        align: 16,
    };
    let mut live = Vec::new();
    let error = loop {
        match arena.allocate(&layout) {
            Ok(allocation) => live.push(allocation),
            Err(error) => break error,
        }
        assert!(live.len() < 200, "never refused");
    };
    let message = error.to_string();
    assert!(
        matches!(error, rivet::Error::OutOfMemory { .. }) && message.contains("RLIMIT_NOFILE"),
        "{message}"
    );
    let left = limit - open();
    assert!(left >= 8, "{left} descriptors left");
    let files: Vec<std::fs::File> = (0..8)
        .map(|_| std::fs::File::open("/proc/self/status").expect("the process can open files"))
        .collect();
    drop(files);
    let regions = arena.regions().len();
    println!("fd-limit: {regions} regions under a limit of {limit}, {left} descriptors left");

    for allocation in live.drain(..) {
        arena.release(allocation);
    }
    assert_eq!(arena.regions().len(), 1, "regions given back");
    assert_eq!(
        open() + regions as u64 - 1,
        limit - left,
        "their files closed"
    );
    for _ in 0..regions {
        live.push(arena.allocate(&layout).expect("grows again"));
    }
    for allocation in live {
        arena.release(allocation);
    }
}
