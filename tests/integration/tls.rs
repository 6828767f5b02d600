//! The static TLS models (local exec, initial exec) on x86-64 ELF: code
//! that reaches thread-locals at fixed offsets from `%fs:0`, run from
//! threads created before and after the module is linked.

use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel};
use rivet::ExecutionEngine;

/// Local exec (`dso_local`: `TPOFF32`) and initial exec (preemptible:
/// `GOTTPOFF`) side by side.
const STATIC_TLS: &str = r#"
    @le_counter = dso_local thread_local(localexec) global i64 100, align 8
    @le_zeroed = dso_local thread_local(localexec) global [4 x i64] zeroinitializer, align 16
    @ie_value = thread_local(initialexec) global i32 7, align 4
    define i64 @bump(i64 %by) {
      %v = load i64, ptr @le_counter
      %n = add i64 %v, %by
      store i64 %n, ptr @le_counter
      %p = getelementptr [4 x i64], ptr @le_zeroed, i64 0, i64 2
      %z = load i64, ptr %p
      %z1 = add i64 %z, 1
      store i64 %z1, ptr %p
      ret i64 %n
    }
    define i64 @zeroed_slot() {
      %p = getelementptr [4 x i64], ptr @le_zeroed, i64 0, i64 2
      %z = load i64, ptr %p
      ret i64 %z
    }
    define i32 @bump_ie(i32 %by) {
      %v = load i32, ptr @ie_value
      %n = add i32 %v, %by
      store i32 %n, ptr @ie_value
      ret i32 %n
    }
    define ptr @counter_addr() { ret ptr @le_counter }
"#;

#[derive(Clone, Copy)]
struct Functions {
    bump: u64,
    zeroed_slot: u64,
    bump_ie: u64,
    counter_addr: u64,
}

/// What a thread sees: initial values, then its own values after `t`
/// rounds of updates, and its copy's address.
fn exercise(f: Functions, t: i64) -> (i64, i64, i32, i64, i64, i32, u64) {
    // SAFETY: finalized functions of the signatures used.
    unsafe {
        let initial = (
            call1::<i64, i64>(f.bump, 0),
            call0::<i64>(f.zeroed_slot) - 1,
            call1::<i32, i32>(f.bump_ie, 0),
        );
        for _ in 0..10 {
            call1::<i64, i64>(f.bump, t);
            call1::<i32, i32>(f.bump_ie, 2 * t as i32);
            std::thread::yield_now();
        }
        (
            initial.0,
            initial.1,
            initial.2,
            call1::<i64, i64>(f.bump, 0),
            call0::<i64>(f.zeroed_slot),
            call1::<i32, i32>(f.bump_ie, 0),
            call0::<u64>(f.counter_addr),
        )
    }
}

#[test]
fn static_tls_threads_created_before_and_after_linking_each_have_their_initial_values() {
    with_watchdog("static TLS threads", Duration::from_secs(120), || {
        for lmm in BOTH {
            // Two threads exist before the module is linked; rivet knows them.
            let (send_a, recv_a) = mpsc::channel::<Functions>();
            let (send_b, recv_b) = mpsc::channel::<Functions>();
            let registered = Arc::new(Barrier::new(3));
            // Every thread lives until all have their copy, so addresses compare.
            let all = Arc::new(Barrier::new(5));
            let early: Vec<_> = [(recv_a, 1i64), (recv_b, 2)]
                .into_iter()
                .map(|(recv, t)| {
                    let (registered, all) = (registered.clone(), all.clone());
                    std::thread::spawn(move || {
                        rivet::register_tls_thread();
                        registered.wait();
                        let f = recv.recv().expect("functions");
                        let result = exercise(f, t);
                        all.wait();
                        result
                    })
                })
                .collect();
            registered.wait();
            let engine = Arc::new(engine(&[STATIC_TLS], lmm));
            let f = Functions {
                bump: engine.get_function_address("bump").unwrap(),
                zeroed_slot: engine.get_function_address("zeroed_slot").unwrap(),
                bump_ie: engine.get_function_address("bump_ie").unwrap(),
                counter_addr: engine.get_function_address("counter_addr").unwrap(),
            };
            send_a.send(f).unwrap();
            send_b.send(f).unwrap();
            let late: Vec<_> = [3i64, 4]
                .into_iter()
                .map(|t| {
                    let all = all.clone();
                    std::thread::spawn(move || {
                        let result = exercise(f, t);
                        all.wait();
                        result
                    })
                })
                .collect();
            all.wait();
            let results: Vec<_> = early
                .into_iter()
                .chain(late)
                .map(|w| w.join().unwrap())
                .collect();
            for (t, r) in (1..=4i64).zip(&results) {
                assert_eq!((r.0, r.1, r.2), (100, 0, 7), "thread {t}: initial values");
                assert_eq!(r.3, 100 + 10 * t, "thread {t}: local exec");
                assert_eq!(r.4, 12, "thread {t}: tbss");
                assert_eq!(r.5, 7 + 20 * t as i32, "thread {t}: initial exec");
            }
            let mut addrs: Vec<u64> = results.iter().map(|r| r.6).collect();
            addrs.sort();
            addrs.dedup();
            assert_eq!(addrs.len(), 4, "each thread has its own copy");
            // SAFETY: finalized functions; this (linking) thread's copy is untouched.
            unsafe {
                assert_eq!(call1::<i64, i64>(f.bump, 0), 100);
                assert_eq!(call1::<i32, i32>(f.bump_ie, 0), 7);
            }
        }
    });
}

/// A TLS descriptor call (`-mtls-dialect=gnu2` form) in module assembly.
const DESCRIPTOR: &str = r#"
    module asm ".text"
    module asm ".globl desc_bump"
    module asm ".type desc_bump,@function"
    module asm "desc_bump:"
    module asm "  leaq desc_var@tlsdesc(%rip), %rax"
    module asm "  callq *desc_var@tlscall(%rax)"
    module asm "  movq %fs:(%rax), %rcx"
    module asm "  addq %rdi, %rcx"
    module asm "  movq %rcx, %fs:(%rax)"
    module asm "  movq %rcx, %rax"
    module asm "  retq"
    @desc_var = thread_local global i64 42, align 8
    declare i64 @desc_bump(i64)
    define ptr @desc_addr() { ret ptr @desc_var }
"#;

#[test]
fn tls_descriptors_resolve_for_threads_created_before_and_after_linking() {
    with_watchdog("TLS descriptor threads", Duration::from_secs(120), || {
        let (send, recv) = mpsc::channel::<u64>();
        let registered = Arc::new(Barrier::new(2));
        let early = {
            let registered = registered.clone();
            std::thread::spawn(move || {
                rivet::register_tls_thread();
                registered.wait();
                let bump = recv.recv().expect("address");
                // SAFETY: finalized `i64 (i64)`.
                (0..10).fold(0, |_, _| unsafe { call1::<i64, i64>(bump, 1) })
            })
        };
        registered.wait();
        let engine = engine(&[DESCRIPTOR], true);
        let bump = engine.get_function_address("desc_bump").unwrap();
        send.send(bump).unwrap();
        let late = std::thread::spawn(move || {
            // SAFETY: finalized `i64 (i64)`.
            (0..10).fold(0, |_, _| unsafe { call1::<i64, i64>(bump, 2) })
        });
        assert_eq!(early.join().unwrap(), 52, "thread created before linking");
        assert_eq!(late.join().unwrap(), 62, "thread created after linking");
        // SAFETY: as above; the linking thread's copy is its own.
        assert_eq!(unsafe { call1::<i64, i64>(bump, 5) }, 47);
        // The module's own code reaches the variable through
        // `__tls_get_addr` (general dynamic): the same copy the descriptor
        // reaches, both in static TLS.
        let addr = engine.get_function_address("desc_addr").unwrap();
        // SAFETY: finalized `ptr ()`; the pointer is this thread's copy.
        let value = unsafe { *call0::<*const i64>(addr) };
        assert_eq!(value, 47);
    });
}

/// A descriptor call to a thread-local too large for the static-TLS
/// budget (600 words), which every register but %rax must survive.
const BIG_DESCRIPTOR: &str = r#"
    module asm ".text"
    module asm ".globl desc_check"
    module asm "desc_check:"
    module asm "  pushq %rbx"
    module asm "  movq $0x1111, %rcx"
    module asm "  movq $0x2222, %rdx"
    module asm "  movq $0x3333, %rsi"
    module asm "  movq $0x4444, %r8"
    module asm "  movq $0x5555, %r9"
    module asm "  movq $0x6666, %r10"
    module asm "  movq $0x7777, %r11"
    module asm "  movq $0x8888, %rdi"
    module asm "  movq $0x9999, %rbx"
    module asm "  movq %rbx, %xmm0"
    module asm "  movq %rbx, %xmm15"
    module asm "  leaq big@tlsdesc(%rip), %rax"
    module asm "  callq *big@tlscall(%rax)"
    module asm "  movq %fs:(%rax), %rbx"
    module asm "  addq $1, %rbx"
    module asm "  movq %rbx, %fs:(%rax)"
    module asm "  cmpq $0x1111, %rcx"
    module asm "  jne 1f"
    module asm "  cmpq $0x2222, %rdx"
    module asm "  jne 1f"
    module asm "  cmpq $0x3333, %rsi"
    module asm "  jne 1f"
    module asm "  cmpq $0x4444, %r8"
    module asm "  jne 1f"
    module asm "  cmpq $0x5555, %r9"
    module asm "  jne 1f"
    module asm "  cmpq $0x6666, %r10"
    module asm "  jne 1f"
    module asm "  cmpq $0x7777, %r11"
    module asm "  jne 1f"
    module asm "  cmpq $0x8888, %rdi"
    module asm "  jne 1f"
    module asm "  movq %xmm0, %rcx"
    module asm "  cmpq $0x9999, %rcx"
    module asm "  jne 1f"
    module asm "  movq %xmm15, %rcx"
    module asm "  cmpq $0x9999, %rcx"
    module asm "  jne 1f"
    module asm "  movq %rbx, %rax"
    module asm "  popq %rbx"
    module asm "  retq"
    module asm "1:"
    module asm "  movq $-1, %rax"
    module asm "  popq %rbx"
    module asm "  retq"
    @big = thread_local global <{ i64, [599 x i64] }> <{ i64 40, [599 x i64] zeroinitializer }>, align 8
    declare i64 @desc_check()
"#;

#[test]
fn tls_descriptors_without_static_tls_use_the_dynamic_block_and_keep_registers() {
    with_watchdog("dynamic TLS descriptors", Duration::from_secs(120), || {
        let engine = engine(&[BIG_DESCRIPTOR], true);
        let check = engine.get_function_address("desc_check").unwrap();
        let worker = std::thread::spawn(move || {
            // SAFETY: finalized `i64 ()`.
            (0..5).fold(0, |_, _| unsafe { call0::<i64>(check) })
        });
        // SAFETY: as above, on this thread's own copy.
        let here = (0..3).fold(0, |_, _| unsafe { call0::<i64>(check) });
        assert_eq!(worker.join().unwrap(), 45, "registers kept, own copy");
        assert_eq!(here, 43, "registers kept, own copy");
    });
}

#[test]
fn code_compiled_static_links_and_runs_with_its_thread_locals() {
    let engine = engine_with(&[STATIC_TLS], true, RelocModel::Static, CodeModel::Small);
    let bump = engine.get_function_address("bump").unwrap();
    let worker = std::thread::spawn(move || {
        // SAFETY: finalized `i64 (i64)`.
        unsafe { (call1::<i64, i64>(bump, 5), call1::<i64, i64>(bump, 5)) }
    });
    assert_eq!(worker.join().unwrap(), (105, 110));
    // SAFETY: as above; this thread's copy is its own.
    assert_eq!(unsafe { call1::<i64, i64>(bump, 1) }, 101);
}

#[test]
fn an_exhausted_static_tls_budget_is_an_error_naming_the_module_and_sizes() {
    let too_big = rivet::STATIC_TLS_BUDGET + 64;
    let ir = format!(
        "@big = dso_local thread_local(localexec) global [{too_big} x i8] zeroinitializer, align 8\n\
         define i8 @first() {{ %v = load i8, ptr @big\n ret i8 %v }}\n"
    );
    let mut engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
    engine.set_target_machine(machine(RelocModel::Pic, CodeModel::Small));
    let result = engine
        .add_object_bytes(object(&ir, "big_tls"), "big_tls.o")
        .and_then(|_| engine.finalize_object());
    let err = result.expect_err("more than the budget");
    let message = err.to_string();
    match &err {
        rivet::Error::StaticTlsExhausted {
            module,
            needed,
            budget,
            ..
        } => {
            assert!(module.contains("big_tls"), "{message}");
            assert_eq!(*needed, too_big as u64, "{message}");
            assert_eq!(*budget, rivet::STATIC_TLS_BUDGET as u64, "{message}");
        }
        other => panic!("not a static TLS error: {other}"),
    }
    // The engine stays usable, static TLS included.
    engine
        .add_object_bytes(object(STATIC_TLS, "after"), "after.o")
        .unwrap();
    let bump = engine.get_function_address("bump").unwrap();
    // SAFETY: finalized `i64 (i64)`.
    assert_eq!(unsafe { call1::<i64, i64>(bump, 1) }, 101);
}

/// A module whose one thread-local, `@{name}_zero`, starts at zero: the
/// block has no initial image (only `.tbss`), and the module no read-only
/// bytes to hold one (no unwind tables either), so the image has no
/// address. `@bump_{name}_zero` adds to it. Initial exec (`model`
/// `(initialexec)`) puts the block in static TLS; general dynamic (`model`
/// empty) in the dynamic block `__tls_get_addr` creates.
fn zero_only_tls(name: &str, model: &str) -> String {
    format!(
        "@{name}_zero = thread_local{model} global i64 0, align 8\n\
         define i64 @bump_{name}_zero(i64 %by) nounwind {{\n\
           %v = load i64, ptr @{name}_zero\n\
           %n = add i64 %v, %by\n\
           store i64 %n, ptr @{name}_zero\n\
           ret i64 %n\n\
         }}\n"
    )
}

#[test]
fn thread_locals_without_an_initial_image_start_zeroed_in_every_thread() {
    with_watchdog("zero-only TLS", Duration::from_secs(120), || {
        for lmm in BOTH {
            let (ie, gd) = (
                zero_only_tls("ie", "(initialexec)"),
                zero_only_tls("gd", ""),
            );
            let engine = engine(&[&ie, &gd], lmm);
            let ie = engine.get_function_address("bump_ie_zero").unwrap();
            let gd = engine.get_function_address("bump_gd_zero").unwrap();
            let worker = std::thread::spawn(move || {
                // SAFETY: finalized `i64 (i64)` functions.
                unsafe { (call1::<i64, i64>(ie, 3), call1::<i64, i64>(gd, 4)) }
            });
            assert_eq!(worker.join().unwrap(), (3, 4), "a new thread's copies");
            // SAFETY: as above, on this thread's own copies.
            unsafe {
                assert_eq!(call1::<i64, i64>(ie, 5), 5);
                assert_eq!(call1::<i64, i64>(gd, 6), 6);
                assert_eq!(call1::<i64, i64>(gd, 1), 7);
            }
        }
    });
}
