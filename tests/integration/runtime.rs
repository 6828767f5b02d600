//! Run-time integration: constructors and destructors, exit handlers scoped
//! to their module, and unwinding through JIT frames.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel};
use rivet::ExecutionEngine;

/// llvmlite's `TestGlobalConstructors`: a module's `llvm.global_ctors` and
/// `llvm.global_dtors` run, in priority order.
#[test]
fn global_constructors_and_destructors_run_in_priority_order() {
    let ir = r#"
        @log = global i64 0
        @llvm.global_ctors = appending global [2 x { i32, ptr, ptr }] [
          { i32, ptr, ptr } { i32 200, ptr @ctor_b, ptr null },
          { i32, ptr, ptr } { i32 100, ptr @ctor_a, ptr null }]
        @llvm.global_dtors = appending global [2 x { i32, ptr, ptr }] [
          { i32, ptr, ptr } { i32 100, ptr @dtor_a, ptr null },
          { i32, ptr, ptr } { i32 200, ptr @dtor_b, ptr null }]
        define internal void @push(i64 %d) {
          %v = load i64, ptr @log
          %m = mul i64 %v, 10
          %n = add i64 %m, %d
          store i64 %n, ptr @log
          ret void
        }
        define internal void @ctor_a() { call void @push(i64 1)
          ret void }
        define internal void @ctor_b() { call void @push(i64 2)
          ret void }
        define internal void @dtor_a() { call void @push(i64 3)
          ret void }
        define internal void @dtor_b() { call void @push(i64 4)
          ret void }
    "#;
    for lmm in BOTH {
        let engine = engine(&[ir], lmm);
        let log = engine.get_global_value_address("log").unwrap() as *const i64;
        // SAFETY: `log` is an i64 global of a linked module.
        unsafe {
            assert_eq!(*log, 0, "nothing runs before asked");
            engine.run_static_constructors().unwrap();
            assert_eq!(*log, 12, "priority 100 before 200");
            engine.run_static_constructors().unwrap();
            assert_eq!(*log, 12, "constructors run once");
            engine.run_static_destructors().unwrap();
            assert_eq!(*log, 1243, "destructors: priority 200 before 100");
        }
    }
}

static INIT_ARRAY_RUNS: AtomicU64 = AtomicU64::new(0);
extern "C" fn note_init(x: u64) {
    INIT_ARRAY_RUNS.fetch_add(x, Ordering::SeqCst);
}

#[test]
fn init_array_of_an_added_object_runs() {
    let asm = "
        .text
        init_one:
          movl $1, %edi
          jmp note_init@PLT
        init_two:
          movl $100, %edi
          jmp note_init@PLT
        .section .init_array,\"aw\"
        .p2align 3
        .quad init_one
        .quad init_two
    ";
    let obj = machine(RelocModel::Pic, CodeModel::Small)
        .assemble(asm)
        .unwrap();
    let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
    engine.add_global_mapping("note_init", note_init as *const () as u64);
    engine.add_object_bytes(obj, "init.o").unwrap();
    let before = INIT_ARRAY_RUNS.load(Ordering::SeqCst);
    engine.run_static_constructors().unwrap();
    assert_eq!(INIT_ARRAY_RUNS.load(Ordering::SeqCst) - before, 101);
}

static EXIT_LOG: AtomicU64 = AtomicU64::new(0);
extern "C" fn record_exit(x: u64) {
    EXIT_LOG.fetch_add(x, Ordering::SeqCst);
}

#[test]
fn exit_handlers_run_when_the_engine_is_dropped_not_at_process_exit() {
    // One handler through `atexit`, one through `__cxa_atexit` with an argument.
    let ir = r#"
        @__dso_handle = external hidden global i8
        declare i32 @atexit(ptr)
        declare i32 @__cxa_atexit(ptr, ptr, ptr)
        declare void @record_exit(i64)
        @arg = global i64 1000
        define internal void @on_exit() { call void @record_exit(i64 7)
          ret void }
        define internal void @on_cxa_exit(ptr %p) {
          %v = load i64, ptr %p
          call void @record_exit(i64 %v)
          ret void }
        define void @register() {
          call i32 @atexit(ptr @on_exit)
          call i32 @__cxa_atexit(ptr @on_cxa_exit, ptr @arg, ptr @__dso_handle)
          ret void
        }
    "#;
    for lmm in BOTH {
        let engine = engine(&[ir], lmm);
        engine.add_global_mapping("record_exit", record_exit as *const () as u64);
        let register = engine.get_function_address("register").unwrap();
        let before = EXIT_LOG.load(Ordering::SeqCst);
        // SAFETY: finalized `void ()`.
        unsafe { call0::<()>(register) };
        assert_eq!(EXIT_LOG.load(Ordering::SeqCst), before, "not run yet");
        drop(engine);
        assert_eq!(EXIT_LOG.load(Ordering::SeqCst) - before, 1007, "lmm={lmm}");
    }
}

#[test]
fn removing_a_module_runs_its_exit_handlers_and_destructors() {
    let ir = r#"
        declare i32 @atexit(ptr)
        declare void @record_exit(i64)
        @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [
          { i32, ptr, ptr } { i32 65535, ptr @ctor, ptr null }]
        @llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [
          { i32, ptr, ptr } { i32 65535, ptr @dtor, ptr null }]
        define internal void @on_exit() { call void @record_exit(i64 20000)
          ret void }
        define internal void @ctor() { call i32 @atexit(ptr @on_exit)
          ret void }
        define internal void @dtor() { call void @record_exit(i64 300000)
          ret void }
    "#;
    let engine = engine(&[crate::engine_api::SUM], true);
    engine.add_global_mapping("record_exit", record_exit as *const () as u64);
    let id = engine.add_module(module(ir, "with_exit"));
    let before = EXIT_LOG.load(Ordering::SeqCst);
    engine.run_static_constructors().unwrap();
    engine.remove_module(id).unwrap();
    assert_eq!(EXIT_LOG.load(Ordering::SeqCst) - before, 320000);
    // The engine goes on; nothing runs twice at drop.
    assert!(engine.get_function_address("sum").is_ok());
    drop(engine);
    assert_eq!(EXIT_LOG.load(Ordering::SeqCst) - before, 320000);
}

const CALLS_BACK: &str = r#"
    define void @jit_outer(ptr %cb) uwtable {
      call void @jit_middle(ptr %cb)
      ret void
    }
    define void @jit_middle(ptr %cb) uwtable noinline {
      call void %cb()
      call void @after()
      ret void
    }
    define void @after() noinline { ret void }
"#;

extern "C-unwind" fn panicking_callback() {
    panic!("boom from Rust, through JIT frames");
}

#[test]
fn a_panic_crosses_jit_frames_and_is_caught_on_the_other_side() {
    for lmm in BOTH {
        for cm in [CodeModel::Small, CodeModel::Large] {
            let engine = engine_with(&[CALLS_BACK], lmm, RelocModel::Pic, cm);
            let outer = engine.get_function_address("jit_outer").unwrap();
            // SAFETY: `jit_outer` is `void (ptr)` and calls the pointer; it has
            // unwind tables, registered by the engine.
            let f: extern "C-unwind" fn(extern "C-unwind" fn()) =
                unsafe { std::mem::transmute(outer as usize) };
            let caught = std::panic::catch_unwind(|| f(panicking_callback));
            let payload = caught.expect_err("the panic must come out of the JIT code");
            assert_eq!(
                payload.downcast_ref::<&str>().copied(),
                Some("boom from Rust, through JIT frames")
            );
        }
    }
}

std::thread_local! {
    static FRAMES: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

extern "C" fn tracing_callback() {
    let mut ips = Vec::new();
    backtrace::trace(|frame| {
        ips.push(frame.ip() as u64);
        true
    });
    FRAMES.with(|f| *f.borrow_mut() = ips);
}

#[inline(never)]
fn run_traced(f: extern "C" fn(extern "C" fn())) {
    f(tracing_callback);
}

#[test]
fn a_backtrace_inside_a_callback_walks_through_and_names_jit_frames() {
    let engine = engine(&[CALLS_BACK], true);
    let outer = engine.get_function_address("jit_outer").unwrap();
    // SAFETY: `jit_outer` is `void (ptr)`.
    let f: extern "C" fn(extern "C" fn()) = unsafe { std::mem::transmute(outer as usize) };
    run_traced(f);
    let ips = FRAMES.with(|f| f.borrow().clone());
    let names: Vec<Option<String>> = ips
        .iter()
        .map(|&ip| engine.symbolize(ip.saturating_sub(1)).map(|(n, _)| n))
        .collect();
    let middle = names
        .iter()
        .position(|n| n.as_deref() == Some("jit_middle"))
        .unwrap_or_else(|| panic!("no jit_middle frame in {names:?}"));
    assert_eq!(
        names.get(middle + 1).cloned().flatten().as_deref(),
        Some("jit_outer")
    );
    // The walk went on past the JIT frames into the Rust caller.
    let mut found_caller = false;
    for &ip in &ips[middle + 1..] {
        backtrace::resolve(ip as *mut std::ffi::c_void, |sym| {
            if sym
                .name()
                .is_some_and(|n| n.to_string().contains("run_traced"))
            {
                found_caller = true;
            }
        });
    }
    assert!(found_caller, "the unwinder did not get past the JIT frames");
}

const THREAD_LOCALS: &str = r#"
    @counter = thread_local global i64 100
    @hidden = internal thread_local global i64 7
    @zeroed = thread_local global [4 x i64] zeroinitializer
    define i64 @bump(i64 %by) {
      %v = load i64, ptr @counter
      %n = add i64 %v, %by
      store i64 %n, ptr @counter
      ret i64 %n
    }
    define i64 @bump_hidden(i64 %by) {
      %v = load i64, ptr @hidden
      %n = add i64 %v, %by
      store i64 %n, ptr @hidden
      %p = getelementptr [4 x i64], ptr @zeroed, i64 0, i64 2
      %z = load i64, ptr %p
      %z1 = add i64 %z, 1
      store i64 %z1, ptr %p
      ret i64 %n
    }
    define i64 @zeroed_slot() {
      %p = getelementptr [4 x i64], ptr @zeroed, i64 0, i64 2
      %z = load i64, ptr %p
      ret i64 %z
    }
    define ptr @counter_addr() { ret ptr @counter }
"#;

#[test]
fn thread_locals_have_one_copy_per_thread_with_its_initial_value() {
    for lmm in BOTH {
        let engine = std::sync::Arc::new(engine(&[THREAD_LOCALS], lmm));
        let bump = engine.get_function_address("bump").unwrap();
        let bump_hidden = engine.get_function_address("bump_hidden").unwrap();
        let zeroed_slot = engine.get_function_address("zeroed_slot").unwrap();
        let counter_addr = engine.get_function_address("counter_addr").unwrap();
        // All four threads live until each has its copy, so addresses are
        // comparable (a finished thread's block is freed and may be reused).
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let workers: Vec<_> = (1..=4u64)
            .map(|t| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    // SAFETY: finalized functions of the signatures used.
                    unsafe {
                        assert_eq!(call1::<i64, i64>(bump, 0), 100, "initial value");
                        assert_eq!(call0::<i64>(zeroed_slot), 0, "tbss starts zeroed");
                        for _ in 0..10 {
                            call1::<i64, i64>(bump, t as i64);
                            call1::<i64, i64>(bump_hidden, 2 * t as i64);
                            std::thread::yield_now();
                        }
                        let result = (
                            call1::<i64, i64>(bump, 0),
                            call1::<i64, i64>(bump_hidden, 0),
                            call0::<i64>(zeroed_slot),
                            call0::<u64>(counter_addr),
                        );
                        barrier.wait();
                        result
                    }
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        for (t, &(counter, hidden, zeroed, _)) in (1..=4i64).zip(&results) {
            assert_eq!(counter, 100 + 10 * t, "thread {t}: general dynamic");
            assert_eq!(hidden, 7 + 20 * t, "thread {t}: local dynamic");
            assert_eq!(zeroed, 11, "thread {t}: tbss");
        }
        let mut addrs: Vec<u64> = results.iter().map(|r| r.3).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), 4, "each thread has its own copy");
        // SAFETY: finalized `i64 (i64)`; this thread's copy is untouched.
        assert_eq!(unsafe { call1::<i64, i64>(bump, 0) }, 100);
    }
}
