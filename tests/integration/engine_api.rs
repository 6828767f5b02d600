//! The execution-engine API: laziness, the object cache, objects, removal,
//! errors that leave the engine usable, and threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel};
use rivet::{Error, ExecutionEngine};

pub const SUM: &str = r#"
@glob = global i32 0, align 4
define i32 @sum(i32 %a, i32 %b) {
  %r = add i32 %a, %b
  ret i32 %r
}
"#;

pub const MUL: &str = r#"
define i32 @sum(i32 %a, i32 %b) {
  %r = mul i32 %a, %b
  ret i32 %r
}
"#;

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ExecutionEngine>();
}

#[test]
fn code_generation_is_lazy_and_notify_sees_every_module() {
    let engine = engine(&[SUM], true);
    type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    engine.set_object_cache(
        Some(Box::new(move |m, bytes| {
            sink.lock().unwrap().push((m.name(), bytes.to_vec()));
        })),
        None,
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing compiled before use"
    );
    let sum = engine.get_function_address("sum").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 2, 3) }, 5);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "m0");
    assert_eq!(&seen[0].1[..4], b"\x7fELF", "notify gets the object bytes");
}

#[test]
fn getbuffer_replaces_compilation() {
    // Cache the object of MUL under the module name, then give an engine the
    // SUM module: the cached (multiplying) code must be what runs, and
    // notify must not be called for it.
    let cached = object(MUL, "m0");
    let engine = engine(&[SUM], true);
    let notified = Arc::new(AtomicUsize::new(0));
    let asked = Arc::new(AtomicUsize::new(0));
    let (n, a) = (notified.clone(), asked.clone());
    engine.set_object_cache(
        Some(Box::new(move |_, _| {
            n.fetch_add(1, Ordering::SeqCst);
        })),
        Some(Box::new(move |m| {
            a.fetch_add(1, Ordering::SeqCst);
            (m.name() == "m0").then(|| cached.clone())
        })),
    );
    let sum = engine.get_function_address("sum").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 6, 7) }, 42);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(notified.load(Ordering::SeqCst), 0);
}

#[test]
fn add_object_file_from_path_and_from_bytes() {
    let bytes = object(SUM, "sum_module");
    let dir = std::env::temp_dir().join(format!("rivet-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sum.o");
    std::fs::write(&path, &bytes).unwrap();
    for lmm in BOTH {
        let from_path = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
        from_path.add_object_file(&path).unwrap();
        let from_bytes = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
        from_bytes.add_object_bytes(bytes.clone(), "sum.o").unwrap();
        for engine in [&from_path, &from_bytes] {
            let sum = engine.get_function_address("sum").unwrap();
            // SAFETY: finalized `i32 (i32, i32)`.
            assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 40, 2) }, 42);
            assert!(engine.get_global_value_address("glob").is_ok());
        }
    }
    let missing = ExecutionEngine::with_lmm(None)
        .unwrap()
        .add_object_file(dir.join("absent.o"))
        .unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn remove_really_removes_and_the_module_can_come_back() {
    for lmm in BOTH {
        let engine = engine(&[SUM], lmm);
        let extra = engine.add_module(module(
            r#"define i32 @triple(i32 %x) { %r = mul i32 %x, 3
               ret i32 %r }"#,
            "extra",
        ));
        let triple = engine.get_function_address("triple").unwrap();
        // SAFETY: finalized `i32 (i32)`.
        assert_eq!(unsafe { call1::<i32, i32>(triple, 5) }, 15);
        let before = engine.memory_stats();
        let module = engine.remove_module(extra).unwrap().into_module().unwrap();
        assert_eq!(module.name(), "extra");
        let after = engine.memory_stats();
        assert_eq!(
            after.allocations,
            before.allocations - 1,
            "memory went back"
        );
        // Pages the module shared with others (the packed, dual-mapped
        // arena) stay committed; the bytes it used are freed either way.
        assert!(after.committed_bytes <= before.committed_bytes);
        assert!(after.live_bytes < before.live_bytes);
        assert!(matches!(
            engine.get_function_address("triple"),
            Err(Error::SymbolNotFound(ref n)) if n == "triple"
        ));
        assert!(matches!(
            engine.remove_module(extra),
            Err(Error::ModuleNotFound(_))
        ));
        // Re-adding links it again (codegen runs again on the same module).
        engine.add_module(module);
        let again = engine.get_function_address("triple").unwrap();
        // SAFETY: finalized `i32 (i32)`.
        assert_eq!(unsafe { call1::<i32, i32>(again, 7) }, 21);
        // The other module was untouched throughout.
        let sum = engine.get_function_address("sum").unwrap();
        // SAFETY: finalized `i32 (i32, i32)`.
        assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 1, 2) }, 3);
    }
}

#[test]
fn removing_a_pending_module_drops_it_before_compilation() {
    let engine = engine(&[SUM], true);
    let pending = engine.add_module(module(MUL, "pending_mul"));
    // Both define `sum`: linking them together would be a duplicate.
    engine.remove_module(pending).unwrap();
    let sum = engine.get_function_address("sum").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 2, 2) }, 4);
}

#[test]
fn malformed_objects_are_rejected_with_the_engine_still_usable() {
    let engine = engine(&[SUM], true);
    let good = object(MUL, "mul");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("garbage", b"definitely not an object file".to_vec()),
        ("truncated", good[..good.len() / 3].to_vec()),
        ("header only", good[..64].to_vec()),
    ];
    for (what, bytes) in cases {
        let err = engine.add_object_bytes(bytes, what).unwrap_err();
        assert!(
            matches!(err, Error::MalformedObject { ref object, .. } | Error::UnsupportedObject { ref object, .. } if object == what),
            "{what}: {err}"
        );
    }
    let sum = engine.get_function_address("sum").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 20, 22) }, 42);
}

#[test]
fn ir_parse_errors_name_the_line() {
    let err = rivet::llvm::Module::parse_ir("define i32 @f() {\n  ret i64 0\n}\n", "bad.ll")
        .expect_err("parse error");
    let message = err.to_string();
    assert!(message.contains("bad.ll:2:"), "{message}");
}

#[test]
fn look_ups_on_many_threads_while_another_thread_adds_modules() {
    let engine = Arc::new(engine(&[SUM], true));
    engine.finalize_object().unwrap();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let sum = engine.get_function_address("sum").unwrap();
                    // SAFETY: finalized `i32 (i32, i32)`.
                    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, i, 1) }, i + 1);
                }
            })
        })
        .collect();
    for k in 0..20 {
        engine.add_module(module(
            &format!("define i32 @f{k}() {{ ret i32 {k} }}"),
            &format!("f{k}"),
        ));
        let f = engine.get_function_address(&format!("f{k}")).unwrap();
        // SAFETY: finalized `i32 ()`.
        assert_eq!(unsafe { call0::<i32>(f) }, k);
    }
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn code_published_on_one_thread_runs_on_another() {
    let engine = Arc::new(engine(&[SUM], true));
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let runner = std::thread::spawn(move || {
        let mut total = 0;
        for addr in rx {
            // SAFETY: each address is a finalized `i32 ()`.
            total += unsafe { call0::<i32>(addr) };
        }
        total
    });
    for k in 1..=10 {
        engine.add_module(module(
            &format!("define i32 @g{k}() {{ ret i32 {k} }}"),
            &format!("g{k}"),
        ));
        tx.send(engine.get_function_address(&format!("g{k}")).unwrap())
            .unwrap();
    }
    drop(tx);
    assert_eq!(runner.join().unwrap(), 55);
}

#[test]
fn an_engine_without_a_target_machine_cannot_compile_ir() {
    let engine = ExecutionEngine::with_lmm(None).unwrap();
    engine.add_module(module(SUM, "no_tm"));
    let err = engine.finalize_object().unwrap_err();
    assert!(err.to_string().contains("no target machine"), "{err}");
    let _ = (RelocModel::Pic, CodeModel::Small);
}
