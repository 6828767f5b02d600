//! Indirect functions (ELF `STT_GNU_IFUNC`) executed: the resolver runs
//! once at link time, after the module is finalized, and calls, GOT loads,
//! other modules and the engine's look-ups all get its result.

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel, TargetMachine, TargetOptions};
use rivet::{Error, ExecutionEngine};

/// `add` is an indirect function whose resolver picks one of two
/// implementations by a global (set to "fast"), calling a function of the
/// module to do so, and counts its runs.
const PROVIDER: &str = r#"
@use_fast = global i32 1
@resolver_runs = global i32 0

define internal i64 @add_slow(i64 %a, i64 %b) {
  %s = add i64 %a, %b
  ret i64 %s
}
define internal i64 @add_fast(i64 %a, i64 %b) {
  %s = add i64 %a, %b
  %t = add i64 %s, 1000
  ret i64 %t
}
define internal i1 @wants_fast() noinline {
  %f = load i32, ptr @use_fast
  %w = icmp ne i32 %f, 0
  ret i1 %w
}
define internal ptr @resolve_add() {
  %n = load i32, ptr @resolver_runs
  %n1 = add i32 %n, 1
  store i32 %n1, ptr @resolver_runs
  %w = call i1 @wants_fast()
  %p = select i1 %w, ptr @add_fast, ptr @add_slow
  ret ptr %p
}
@add = ifunc i64 (i64, i64), ptr @resolve_add

define i64 @call_add(i64 %a, i64 %b) {
  %r = call i64 @add(i64 %a, i64 %b)
  ret i64 %r
}
define ptr @address_of_add() {
  ret ptr @add
}
define ptr @address_of_add_fast() {
  ret ptr @add_fast
}
"#;

/// Another module, calling `add` and taking its address.
const CLIENT: &str = r#"
declare i64 @add(i64, i64)
define i64 @client_calls_add(i64 %a) {
  %r = call i64 @add(i64 %a, i64 1)
  ret i64 %r
}
define ptr @client_address_of_add() {
  ret ptr @add
}
"#;

#[test]
fn resolver_runs_once_at_link_time_and_every_reference_binds_to_its_result() {
    for lmm in BOTH {
        let engine = engine(&[PROVIDER, CLIENT], lmm);
        let what = format!("lmm={lmm}");
        let address = |name: &str| engine.get_function_address(name).unwrap();
        // SAFETY: each is a finalized function of the signature called.
        unsafe {
            let fast = call0::<u64>(address("address_of_add_fast"));
            assert_eq!(
                call2::<i64, i64, i64>(address("call_add"), 2, 3),
                1005,
                "{what}"
            );
            assert_eq!(
                call1::<i64, i64>(address("client_calls_add"), 4),
                1005,
                "{what}"
            );
            // The engine's name, GOT loads in both modules: the result.
            assert_eq!(address("add"), fast, "{what}");
            assert_eq!(call0::<u64>(address("address_of_add")), fast, "{what}");
            assert_eq!(
                call0::<u64>(address("client_address_of_add")),
                fast,
                "{what}"
            );
            assert_eq!(call2::<i64, i64, i64>(fast, 20, 22), 1042, "{what}");
        }
        let runs = engine.get_global_value_address("resolver_runs").unwrap();
        // SAFETY: `resolver_runs` is an i32 global of the finalized module.
        assert_eq!(unsafe { *(runs as *const i32) }, 1, "{what}");
    }
}

#[test]
fn objects_linked_together_load_the_result_through_the_got() {
    // One link of both objects: the client's GOT load of `add` reads the
    // provider's slot, so it loads the chosen function, not the thunk.
    for lmm in BOTH {
        let engine = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
        engine
            .add_object_bytes(object(PROVIDER, "provider"), "provider.o")
            .unwrap();
        engine
            .add_object_bytes(object(CLIENT, "client"), "client.o")
            .unwrap();
        engine.finalize_object().unwrap();
        let address = |name: &str| engine.get_function_address(name).unwrap();
        // SAFETY: finalized functions of the signatures called.
        unsafe {
            let fast = call0::<u64>(address("address_of_add_fast"));
            assert_eq!(
                call0::<u64>(address("client_address_of_add")),
                fast,
                "lmm={lmm}"
            );
            assert_eq!(call0::<u64>(address("address_of_add")), fast, "lmm={lmm}");
            assert_eq!(call1::<i64, i64>(address("client_calls_add"), 4), 1005);
        }
    }
}

#[test]
fn direct_references_reach_the_result_through_the_thunk() {
    // Static code takes `add`'s address without the GOT: that address (a
    // thunk of the module) must call the chosen implementation.
    let engine = engine_with(&[PROVIDER], true, RelocModel::Static, CodeModel::Small);
    let address = |name: &str| engine.get_function_address(name).unwrap();
    // SAFETY: finalized functions of the signatures called.
    unsafe {
        let direct = call0::<u64>(address("address_of_add"));
        assert_ne!(direct, 0);
        assert_eq!(call2::<i64, i64, i64>(direct, 1, 1), 1002);
        assert_eq!(call2::<i64, i64, i64>(address("call_add"), 1, 2), 1003);
    }
}

#[test]
fn aarch64_indirect_function_is_a_typed_error_naming_it() {
    // AArch64 code runs here only in the emulator, which the linker does
    // not call into: the resolver cannot run at link time.
    let machine = TargetMachine::new(&TargetOptions {
        triple: Some("aarch64-unknown-linux-gnu".into()),
        ..TargetOptions::default()
    })
    .unwrap();
    let mut m = module(PROVIDER, "provider");
    let bytes = machine.emit_object(&mut m).unwrap();
    let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
    engine.add_object_bytes(bytes, "provider.o").unwrap();
    match engine.finalize_object() {
        Err(Error::IndirectFunction { symbol, object, .. }) => {
            assert_eq!(symbol, "add");
            assert_eq!(object, "provider.o");
        }
        other => panic!("expected an indirect-function error, got {other:?}"),
    }
}
