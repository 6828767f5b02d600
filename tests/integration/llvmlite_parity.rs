//! Rust counterparts of llvmlite's own engine tests (`TestMCJit`,
//! `TestObjectFile`, `TestMisc.test_check_jit_execution`, `TestDylib`), one
//! test each, named after the llvmlite test it mirrors.

use crate::common::*;
use crate::engine_api::{MUL, SUM};
use rivet::llvm::{Module, TargetMachine};
use rivet::load::{ObjectFile, SectionKind};
use rivet::{Error, ExecutionEngine};

fn jit(ir: &str) -> ExecutionEngine {
    rivet::create_mcjit_compiler(module(ir, "sum_mod"), TargetMachine::host().unwrap(), None)
        .unwrap()
}

// --- TestMCJit (JITTestMixin) ---

#[test]
fn mcjit_test_run_code() {
    let engine = jit(SUM);
    engine.finalize_object().unwrap();
    let sum = engine.get_function_address("sum").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 2, 42) }, 44);
}

#[test]
fn mcjit_test_close() {
    // Dropping the engine releases its memory and modules; a new engine works.
    let engine = jit(SUM);
    let before = engine.memory_stats();
    engine.finalize_object().unwrap();
    assert!(engine.memory_stats().committed_bytes > before.committed_bytes);
    drop(engine);
    let engine = jit(SUM);
    assert!(engine.get_function_address("sum").is_ok());
}

#[test]
fn mcjit_test_add_module() {
    let engine = jit(SUM);
    engine.add_module(module(&MUL.replace("@sum", "@mul"), "mul_mod"));
    let mul = engine.get_function_address("mul").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(mul, 6, 7) }, 42);
}

#[test]
fn mcjit_test_remove_module() {
    let engine = jit(SUM);
    let id = engine.add_module(module(&MUL.replace("@sum", "@mul"), "mul_mod"));
    engine.finalize_object().unwrap();
    let m = engine.remove_module(id).unwrap().into_module().unwrap();
    // Ownership came back: the module can go to another engine.
    let other = jit(SUM);
    other.add_module(m);
    assert!(other.get_function_address("mul").is_ok());
    assert!(engine.get_function_address("mul").is_err());
}

#[test]
fn mcjit_test_target_data() {
    let engine = jit(SUM);
    let td = engine.target_data().unwrap();
    assert_eq!(td.pointer_size(), 8);
    assert_eq!(td.abi_size("i32").unwrap(), 4);
    assert_eq!(td.abi_size("{ i8, i64 }").unwrap(), 16);
    assert!(td.layout().starts_with("e-"), "{}", td.layout());
}

#[test]
fn mcjit_test_get_function_address() {
    let engine = jit(SUM);
    let addr = engine.get_function_address("sum").unwrap();
    assert_ne!(addr, 0);
    assert!(matches!(
        engine.get_function_address("nonexistent"),
        Err(Error::SymbolNotFound(ref n)) if n == "nonexistent"
    ));
}

#[test]
fn mcjit_test_get_global_value_address() {
    let engine = jit(SUM);
    let glob = engine.get_global_value_address("glob").unwrap();
    // SAFETY: `glob` is an i32 global, zero-initialized.
    unsafe {
        assert_eq!(*(glob as *const i32), 0);
        *(glob as *mut i32) = 5;
        assert_eq!(*(glob as *const i32), 5);
    }
}

#[test]
fn mcjit_test_object_cache_notify_and_getbuffer() {
    // notify receives the module and its object; feeding that object back
    // through getbuffer in a new engine gives working code without compiling.
    let engine = jit(SUM);
    let stash = std::sync::Arc::new(std::sync::Mutex::new(None::<Vec<u8>>));
    let s = stash.clone();
    engine.set_object_cache(
        Some(Box::new(move |m: &Module, bytes: &[u8]| {
            assert_eq!(m.name(), "sum_mod");
            *s.lock().unwrap() = Some(bytes.to_vec());
        })),
        None,
    );
    engine.finalize_object().unwrap();
    let cached = stash.lock().unwrap().clone().expect("notified");
    let engine2 = jit(SUM);
    engine2.set_object_cache(
        Some(Box::new(|_: &Module, _: &[u8]| {
            panic!("compiled despite cache")
        })),
        Some(Box::new(move |_: &Module| Some(cached.clone()))),
    );
    let sum = engine2.get_function_address("sum").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 1, 1) }, 2);
}

// --- TestObjectFile ---

#[test]
fn object_file_test_object_file() {
    let bytes = object(SUM, "sum_mod");
    let obj = ObjectFile::parse(&bytes, "sum.o").unwrap();
    let text = obj
        .sections
        .iter()
        .find(|s| s.name == ".text")
        .expect(".text");
    assert_eq!(text.kind, SectionKind::Text);
    assert!(text.size > 0);
    assert!(obj.symbols.iter().any(|s| s.name == "sum"));
    assert!(obj.symbols.iter().any(|s| s.name == "glob"));
}

#[test]
fn object_file_test_add_object_file() {
    let engine = jit("");
    engine
        .add_object_bytes(object(SUM, "sum_mod"), "sum.o")
        .unwrap();
    let sum = engine.get_function_address("sum").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 2, 3) }, 5);
}

#[test]
fn object_file_test_add_object_file_from_filesystem() {
    let path = std::env::temp_dir().join(format!("rivet-parity-{}.o", std::process::id()));
    std::fs::write(&path, object(SUM, "sum_mod")).unwrap();
    let engine = jit("");
    engine.add_object_file(&path).unwrap();
    let sum = engine.get_function_address("sum").unwrap();
    // SAFETY: finalized `i32 (i32, i32)`.
    assert_eq!(unsafe { call2::<i32, i32, i32>(sum, 2, 3) }, 5);
    std::fs::remove_file(&path).ok();
}

// --- TestMisc ---

#[test]
fn misc_test_check_jit_execution() {
    rivet::check_jit_execution().unwrap();
}

// --- TestDylib ---

#[test]
fn dylib_test_bad_library() {
    let engine = jit("");
    let err = engine
        .load_library_permanently("zzzasdkf;jasd;l")
        .unwrap_err();
    assert!(matches!(err, Error::Library { .. }), "{err}");
}

#[test]
fn dylib_test_libm() {
    let engine = jit(r#"declare double @sin(double)
           define double @f(double %x) { %r = call double @sin(double %x)
           ret double %r }"#);
    engine.load_library_permanently("libm.so.6").unwrap();
    let f = engine.get_function_address("f").unwrap();
    // SAFETY: finalized `double (double)`.
    assert_eq!(unsafe { call1::<f64, f64>(f, 0.5) }, 0.5f64.sin());
}
