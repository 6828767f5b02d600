//! Safe unloading and concurrency: look-ups that link only what they need,
//! removal while other threads run code (guards, constructors), modules
//! bound to by live modules, and every public call from many threads at
//! once — each in the arena's two modes and the per-section manager, with
//! a watchdog that fails a test that hangs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel};
use rivet::memory::{
    Arena, ArenaConfig, ArenaMode, MemoryManager, SectionsConfig, SectionsManager,
};
use rivet::{Error, ExecutionEngine, UnloadPolicy};

/// The three memory managers, by name.
const MANAGERS: [&str; 3] = ["arena-dual", "arena-pages", "sections"];

fn manager(name: &str) -> Box<dyn MemoryManager> {
    let mode = match name {
        "arena-dual" => ArenaMode::DualMapped,
        "arena-pages" => ArenaMode::Pages,
        _ => return Box::new(SectionsManager::new(SectionsConfig::default())),
    };
    Box::new(
        Arena::new(ArenaConfig {
            mode: Some(mode),
            ..ArenaConfig::default()
        })
        .expect("arena"),
    )
}

/// An engine over manager `name`, compiling PIC small-model code for the host.
fn engine_on(name: &str) -> ExecutionEngine {
    let mut engine = ExecutionEngine::new(manager(name));
    engine.set_target_machine(machine(RelocModel::Pic, CodeModel::Small));
    engine
}

fn value_module(name: &str, value: i64) -> String {
    format!("define i64 @{name}() {{ ret i64 {value} }}\n")
}

#[test]
fn a_look_up_links_only_the_modules_it_needs_as_mcjit_does() {
    // numba's recursion sequence: a module referring to a global that is
    // mapped only after a look-up of an unrelated, already linked name.
    static SLOT: u64 = 0xfeed_beef;
    for name in MANAGERS {
        let engine = engine_on(name);
        engine.add_module(module(&value_module("abort_fn", 7), "a"));
        engine.finalize_object().unwrap();
        engine.add_module(module(
            r#"@".numba.unresolved$f" = external global ptr
               define ptr @get_b() {
                 %p = load ptr, ptr @".numba.unresolved$f"
                 ret ptr %p
               }"#,
            "b",
        ));
        let abort_fn = engine.get_function_address("abort_fn").unwrap();
        // SAFETY: finalized `i64 ()`.
        assert_eq!(unsafe { call0::<i64>(abort_fn) }, 7, "{name}");
        engine.add_global_mapping(".numba.unresolved$f", &SLOT as *const u64 as u64);
        engine.finalize_object().unwrap();
        let get_b = engine.get_function_address("get_b").unwrap();
        // SAFETY: finalized `ptr ()` returning the mapped global's contents.
        assert_eq!(unsafe { call0::<u64>(get_b) }, 0xfeed_beef, "{name}");
    }
}

#[test]
fn a_pending_module_that_cannot_link_fails_only_look_ups_that_need_it() {
    for name in MANAGERS {
        let engine = Arc::new(engine_on(name));
        engine.add_module(module(&value_module("linked", 11), "linked"));
        engine.finalize_object().unwrap();
        let broken = engine.add_module(module(
            "declare i64 @nowhere_to_be_found()\n\
             define i64 @broken() { %v = call i64 @nowhere_to_be_found()\n ret i64 %v }",
            "broken",
        ));
        // Two pending modules, one needing the other; neither needs `broken`.
        engine.add_module(module(
            "declare i64 @helper()\n\
             define i64 @user() { %v = call i64 @helper()\n %r = add i64 %v, 1\n ret i64 %r }",
            "user",
        ));
        engine.add_module(module(&value_module("helper", 41), "helper"));
        let user = engine.get_function_address("user").unwrap();
        // SAFETY: finalized `i64 ()`.
        assert_eq!(unsafe { call0::<i64>(user) }, 42, "{name}");
        assert!(
            engine.module_memory_stats(broken).is_none(),
            "{name}: the broken module stays pending"
        );
        // Its own look-up reports its error, every time.
        for _ in 0..3 {
            match engine.get_function_address("broken") {
                Err(Error::UnresolvedSymbols { symbols }) => {
                    assert_eq!(symbols[0].0, "nowhere_to_be_found", "{name}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        // Linked names answer on many threads while it is pending.
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let engine = engine.clone();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        let linked = engine.get_function_address("linked").unwrap();
                        // SAFETY: finalized `i64 ()`.
                        assert_eq!(unsafe { call0::<i64>(linked) }, 11);
                    }
                })
            })
            .collect();
        for reader in readers {
            reader.join().unwrap();
        }
        assert!(engine.finalize_object().is_err(), "{name}");
        engine.add_symbol("nowhere_to_be_found", rivet_test_five as *const () as u64);
        engine.finalize_object().unwrap();
        let broken = engine.get_function_address("broken").unwrap();
        // SAFETY: finalized `i64 ()`.
        assert_eq!(unsafe { call0::<i64>(broken) }, 5, "{name}");
    }
}

extern "C" fn rivet_test_five() -> i64 {
    5
}

/// A callee, and a caller finalized later that binds to it.
const CALLEE: &str = "@callee_data = global i64 101\n\
    define i64 @callee_value() { %v = load i64, ptr @callee_data\n ret i64 %v }";
const CALLER: &str = "declare i64 @callee_value()\n\
    define i64 @caller() { %v = call i64 @callee_value()\n %r = mul i64 %v, 2\n ret i64 %r }";

#[test]
fn a_module_bound_to_by_a_live_module_keeps_its_memory_until_that_module_goes() {
    for name in MANAGERS {
        let engine = engine_on(name);
        let callee = engine.add_module(module(CALLEE, "callee"));
        engine.finalize_object().unwrap();
        let caller_id = engine.add_module(module(CALLER, "caller"));
        let caller = engine.get_function_address("caller").unwrap();
        let before = engine.memory_stats();
        engine.remove_module(callee).unwrap();
        assert!(
            matches!(
                engine.get_function_address("callee_value"),
                Err(Error::SymbolNotFound(_))
            ),
            "{name}: the names go at once"
        );
        assert_eq!(engine.quiesce(), 1, "{name}: the callee is kept");
        assert_eq!(engine.memory_stats().allocations, before.allocations);
        // Modules come and go; the callee's memory is not reused.
        for k in 0..64 {
            let id = engine.add_module(module(
                &format!(
                    "@d{k} = global i64 {k}\n{}",
                    value_module(&format!("v{k}"), k)
                ),
                "churn",
            ));
            let v = engine.get_function_address(&format!("v{k}")).unwrap();
            // SAFETY: finalized `i64 ()`.
            assert_eq!(unsafe { call0::<i64>(v) }, k);
            engine.remove_module(id).unwrap();
            // SAFETY: the caller is live and binds to the kept callee.
            assert_eq!(unsafe { call0::<i64>(caller) }, 202, "{name}: after {k}");
        }
        engine.remove_module(caller_id).unwrap();
        assert_eq!(engine.quiesce(), 0, "{name}: both go with the caller");
        assert_eq!(engine.memory_stats().allocations, 0, "{name}");
    }
}

#[test]
fn the_refuse_policy_names_the_modules_that_bind() {
    let engine = engine_on("arena-dual");
    engine.set_unload_policy(UnloadPolicy::Refuse);
    let callee = engine.add_module(module(CALLEE, "callee"));
    engine.finalize_object().unwrap();
    let caller = engine.add_module(module(CALLER, "caller"));
    engine.finalize_object().unwrap();
    match engine.remove_module(callee) {
        Err(Error::ModuleInUse { module, dependents }) => {
            assert_eq!(module, "callee");
            assert_eq!(dependents, ["caller"]);
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // Nothing changed: the callee is still there.
    let value = engine.get_function_address("callee_value").unwrap();
    // SAFETY: finalized `i64 ()`.
    assert_eq!(unsafe { call0::<i64>(value) }, 101);
    engine.remove_module(caller).unwrap();
    engine.remove_module(callee).unwrap();
    assert_eq!(engine.memory_stats().allocations, 0);
}

#[test]
fn modules_that_bind_to_each_other_go_together() {
    for name in MANAGERS {
        let engine = engine_on(name);
        let even = engine.add_module(module(
            "declare i64 @odd(i64)\n\
             define i64 @even(i64 %n) {\n\
               %z = icmp eq i64 %n, 0\n br i1 %z, label %yes, label %no\n\
             yes:\n ret i64 1\n\
             no:\n %m = sub i64 %n, 1\n %r = call i64 @odd(i64 %m)\n ret i64 %r\n}",
            "even",
        ));
        let odd = engine.add_module(module(
            "declare i64 @even(i64)\n\
             define i64 @odd(i64 %n) {\n\
               %z = icmp eq i64 %n, 0\n br i1 %z, label %yes, label %no\n\
             yes:\n ret i64 0\n\
             no:\n %m = sub i64 %n, 1\n %r = call i64 @even(i64 %m)\n ret i64 %r\n}",
            "odd",
        ));
        let even_fn = engine.get_function_address("even").unwrap();
        // SAFETY: finalized `i64 (i64)`.
        assert_eq!(unsafe { call1::<i64, i64>(even_fn, 10) }, 1, "{name}");
        engine.remove_module(even).unwrap();
        assert_eq!(engine.quiesce(), 1, "{name}: odd binds to even");
        engine.remove_module(odd).unwrap();
        assert_eq!(engine.quiesce(), 0, "{name}: the cycle goes");
        assert_eq!(engine.memory_stats().allocations, 0, "{name}");
    }
}

#[test]
fn a_guard_keeps_removed_code_callable_until_it_is_dropped() {
    for name in MANAGERS {
        let engine = Arc::new(engine_on(name));
        let id = engine.add_module(module(&value_module("guarded", 1234), "guarded"));
        engine.finalize_object().unwrap();
        let guard = engine.guard();
        let f = engine.get_function_address("guarded").unwrap();
        // Another thread removes the module and adds others.
        let remover = {
            let engine = engine.clone();
            std::thread::spawn(move || {
                engine.remove_module(id).unwrap();
                for k in 0..16 {
                    engine.add_module(module(&value_module(&format!("other{k}"), k), "other"));
                    engine.finalize_object().unwrap();
                }
            })
        };
        remover.join().unwrap();
        assert!(engine.get_function_address("guarded").is_err());
        // SAFETY: the guard was taken before the look-up, so the removed
        // module is still mapped and holds its own code.
        assert_eq!(unsafe { call0::<i64>(f) }, 1234, "{name}");
        assert_eq!(engine.quiesce(), 1, "{name}: kept while the guard is held");
        drop(guard);
        assert_eq!(engine.quiesce(), 0, "{name}: torn down when it goes");
        assert_eq!(engine.memory_stats().allocations, 16, "{name}");
    }
}

static CTOR_STAGE: AtomicU32 = AtomicU32::new(0);
static CTOR_RESULT: AtomicI64 = AtomicI64::new(0);

extern "C" fn ctor_wait() {
    CTOR_STAGE.store(1, Ordering::SeqCst);
    while CTOR_STAGE.load(Ordering::SeqCst) != 2 {
        std::thread::yield_now();
    }
}

extern "C" fn ctor_record(value: i64) {
    CTOR_RESULT.store(value, Ordering::SeqCst);
}

#[test]
fn a_constructor_running_while_its_module_is_removed_finishes_in_its_own_code() {
    // One test runs at a time through the statics above.
    for name in MANAGERS {
        CTOR_STAGE.store(0, Ordering::SeqCst);
        CTOR_RESULT.store(0, Ordering::SeqCst);
        let engine = Arc::new(engine_on(name));
        engine.add_global_mapping("ctor_wait", ctor_wait as *const () as u64);
        engine.add_global_mapping("ctor_record", ctor_record as *const () as u64);
        let id = engine.add_module(module(
            r#"declare void @ctor_wait()
               declare void @ctor_record(i64)
               define i64 @times_seven(i64 %x) { %r = mul i64 %x, 7
                 ret i64 %r }
               define internal void @init() {
                 call void @ctor_wait()
                 %v = call i64 @times_seven(i64 6)
                 call void @ctor_record(i64 %v)
                 ret void
               }
               @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }]
                 [{ i32, ptr, ptr } { i32 65535, ptr @init, ptr null }]"#,
            "with_ctor",
        ));
        engine.finalize_object().unwrap();
        let runner = {
            let engine = engine.clone();
            std::thread::spawn(move || engine.run_static_constructors().unwrap())
        };
        let start = Instant::now();
        while CTOR_STAGE.load(Ordering::SeqCst) != 1 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "constructor never ran"
            );
            std::thread::yield_now();
        }
        // The constructor is inside `ctor_wait`: remove its module and
        // fill memory with other modules, as a racing thread would.
        engine.remove_module(id).unwrap();
        for k in 0..16 {
            engine.add_module(module(&value_module(&format!("filler{k}"), k), "filler"));
            engine.finalize_object().unwrap();
        }
        assert_eq!(
            engine.quiesce(),
            1,
            "{name}: kept while its constructor runs"
        );
        CTOR_STAGE.store(2, Ordering::SeqCst);
        runner.join().unwrap();
        assert_eq!(CTOR_RESULT.load(Ordering::SeqCst), 42, "{name}");
        assert_eq!(
            engine.quiesce(),
            0,
            "{name}: gone once the constructor returned"
        );
    }
}

#[test]
fn symbolize_while_other_threads_add_finalize_and_remove_does_not_deadlock() {
    for name in MANAGERS {
        let engine = Arc::new(engine_on(name));
        engine.add_module(module(&value_module("anchor", 3), "anchor"));
        let anchor = engine.get_function_address("anchor").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        with_watchdog(
            &format!("{name}: symbolize against add/finalize/remove"),
            Duration::from_secs(120),
            move || {
                let symbolizers: Vec<_> = (0..4)
                    .map(|_| {
                        let (engine, stop) = (engine.clone(), stop.clone());
                        std::thread::spawn(move || {
                            while !stop.load(Ordering::Relaxed) {
                                let (symbol, offset) = engine.symbolize(anchor).unwrap();
                                assert_eq!((symbol.as_str(), offset), ("anchor", 0));
                            }
                        })
                    })
                    .collect();
                for k in 0..200 {
                    let id = engine.add_module(module(&value_module(&format!("s{k}"), k), "churn"));
                    engine.finalize_object().unwrap();
                    engine.remove_module(id).unwrap();
                }
                stop.store(true, Ordering::Relaxed);
                for s in symbolizers {
                    s.join().unwrap();
                }
            },
        );
    }
}

/// What the stress test's writers have linked and not removed yet.
struct LiveSet {
    /// (function name, the value it returns, module id).
    entries: Mutex<VecDeque<(String, i64, rivet::ModuleId)>>,
}

#[test]
fn eight_readers_against_two_writers_in_every_memory_manager() {
    for name in MANAGERS {
        let engine = Arc::new(engine_on(name));
        engine.add_module(module(&value_module("stable", 99), "stable"));
        engine.finalize_object().unwrap();
        let live = Arc::new(LiveSet {
            entries: Mutex::new(VecDeque::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let body = {
            let calls = calls.clone();
            move || stress(engine, live, stop, calls)
        };
        with_watchdog(
            &format!("{name}: 8 readers against 2 writers"),
            Duration::from_secs(120),
            body,
        );
        assert!(
            calls.load(Ordering::Relaxed) > 0,
            "{name}: readers called removed-or-live code"
        );
    }
}

fn stress(
    engine: Arc<ExecutionEngine>,
    live: Arc<LiveSet>,
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
) {
    let readers: Vec<_> = (0..8)
        .map(|r| {
            let (engine, live, stop, calls) =
                (engine.clone(), live.clone(), stop.clone(), calls.clone());
            std::thread::spawn(move || {
                let mut turn = r;
                while !stop.load(Ordering::Relaxed) {
                    turn += 1;
                    let stable = engine.get_function_address("stable").unwrap();
                    // SAFETY: finalized `i64 ()`, never removed.
                    assert_eq!(unsafe { call0::<i64>(stable) }, 99);
                    let picked = {
                        let entries = live.entries.lock().unwrap();
                        entries.get(turn % entries.len().max(1)).cloned()
                    };
                    let Some((function, value, _)) = picked else {
                        continue;
                    };
                    let guard = engine.guard();
                    match engine.get_function_address(&function) {
                        Ok(address) => {
                            // SAFETY: looked up under a guard, so its module
                            // stays mapped until the guard goes.
                            assert_eq!(unsafe { call0::<i64>(address) }, value, "{function}");
                            calls.fetch_add(1, Ordering::Relaxed);
                            if let Some((symbol, offset)) = engine.symbolize(address) {
                                assert_eq!((symbol.as_str(), offset), (function.as_str(), 0));
                            }
                        }
                        Err(Error::SymbolNotFound(missing)) => assert_eq!(missing, function),
                        Err(other) => panic!("{function}: {other}"),
                    }
                    drop(guard);
                    if turn % 64 == 0 {
                        let stats = engine.memory_stats();
                        assert!(stats.live_bytes <= stats.committed_bytes);
                        let _ = engine.module_ids();
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    let writers: Vec<_> = (0..2i64)
        .map(|w| {
            let (engine, live) = (engine.clone(), live.clone());
            std::thread::spawn(move || {
                let mut k = 0i64;
                while k < 400 && (k < 20 || Instant::now() < deadline) {
                    let function = format!("w{w}_{k}");
                    let value = w * 1_000_000 + k;
                    let id = engine.add_module(module(
                        &format!(
                            "@ran = internal global i64 0\n\
                             define internal void @init() {{ store i64 1, ptr @ran\n ret void }}\n\
                             define i64 @ctor_ran_{function}() {{ %v = load i64, ptr @ran\n ret i64 %v }}\n\
                             @llvm.global_ctors = appending global [1 x {{ i32, ptr, ptr }}] \
                               [{{ i32, ptr, ptr }} {{ i32 65535, ptr @init, ptr null }}]\n{}",
                            value_module(&function, value)
                        ),
                        &function,
                    ));
                    engine.finalize_object().unwrap();
                    engine.run_static_constructors().unwrap();
                    let ran = engine
                        .get_function_address(&format!("ctor_ran_{function}"))
                        .unwrap();
                    // SAFETY: finalized `i64 ()` of a module only this thread removes.
                    assert_eq!(unsafe { call0::<i64>(ran) }, 1, "{function}");
                    let evicted = {
                        let mut entries = live.entries.lock().unwrap();
                        entries.push_back((function, value, id));
                        (entries.len() > 12).then(|| entries.pop_front()).flatten()
                    };
                    if let Some((_, _, old)) = evicted {
                        // The other writer may have evicted it first.
                        match engine.remove_module(old) {
                            Ok(_) | Err(Error::ModuleNotFound(_)) => {}
                            Err(other) => panic!("{other}"),
                        }
                    }
                    k += 1;
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    for (_, _, id) in live.entries.lock().unwrap().drain(..) {
        engine.remove_module(id).unwrap();
    }
    assert_eq!(
        engine.quiesce(),
        0,
        "nothing is held once every thread is done"
    );
    assert_eq!(
        engine.memory_stats().allocations,
        1,
        "only the stable module is left"
    );
}

const LATE_CALL_CHILD: &str = "RIVET_TEST_LATE_CALL";

/// A call into a removed module's code, made without a guard, before its
/// addresses are reused: it faults (each manager makes freed code trap or
/// inaccessible) instead of running what is there. Run in a child process
/// per manager, which must die by a signal, not exit.
#[test]
fn a_late_call_into_removed_code_faults_in_every_memory_manager() {
    if let Some(name) = std::env::var_os(LATE_CALL_CHILD) {
        let name = name.to_string_lossy().into_owned();
        let engine = engine_on(&name);
        // A neighbour keeps the arena's shared pages in use.
        engine.add_module(module(&value_module("neighbour", 1), "neighbour"));
        engine.finalize_object().unwrap();
        let id = engine.add_module(module(&value_module("late", 7), "late"));
        let late = engine.get_function_address("late").unwrap();
        // SAFETY: finalized `i64 ()`.
        assert_eq!(unsafe { call0::<i64>(late) }, 7);
        engine.remove_module(id).unwrap();
        assert_eq!(engine.quiesce(), 0, "nothing holds it");
        if name == "arena-dual" && cfg!(target_arch = "x86_64") {
            // The page is still in use (by the neighbour), so it stays
            // readable: the freed code became `int3`s.
            // SAFETY: a read-only view of a mapped, readable code page.
            let bytes = unsafe { std::slice::from_raw_parts(late as *const u8, 8) };
            assert_eq!(bytes, [0xcc; 8]);
        }
        println!("late-call: calling");
        // SAFETY: deliberately not: the module is gone. The child must die
        // by a signal here; returning (with any value) fails the test.
        let value = unsafe { call0::<i64>(late) };
        println!("late-call: returned {value}");
        return;
    }
    use std::os::unix::process::ExitStatusExt;
    for name in MANAGERS {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "unloading::a_late_call_into_removed_code_faults_in_every_memory_manager",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(LATE_CALL_CHILD, name)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("late-call: calling"), "{name}: {stdout}");
        assert!(!stdout.contains("late-call: returned"), "{name}: {stdout}");
        let signal = output.status.signal();
        let expected: &[i32] = if name == "arena-dual" && cfg!(target_arch = "x86_64") {
            &[libc::SIGTRAP]
        } else {
            &[libc::SIGTRAP, libc::SIGSEGV, libc::SIGILL, libc::SIGBUS]
        };
        assert!(
            signal.is_some_and(|s| expected.contains(&s)),
            "{name}: {:?}",
            output.status
        );
    }
}

#[test]
fn removed_code_is_reused_once_no_guard_holds_it() {
    for name in ["arena-dual", "arena-pages"] {
        let engine = engine_on(name);
        let id = engine.add_module(module(&value_module("first", 1), "first"));
        let first = engine.get_function_address("first").unwrap();
        let guard = engine.guard();
        engine.remove_module(id).unwrap();
        engine.add_module(module(&value_module("second", 2), "second"));
        let second = engine.get_function_address("second").unwrap();
        assert_ne!(first, second, "{name}: not reused while a guard holds it");
        drop(guard);
        assert_eq!(engine.quiesce(), 0);
        engine.add_module(module(&value_module("third", 3), "third"));
        let third = engine.get_function_address("third").unwrap();
        assert_eq!(first, third, "{name}: reused after quiescence");
        // SAFETY: finalized `i64 ()`.
        assert_eq!(unsafe { call0::<i64>(third) }, 3, "{name}");
    }
}
