//! COFF x86-64 objects (LLVM's `x86_64-pc-windows-msvc`) linked by rivet and
//! run on this host through `extern "win64"` calls; the loader against goblin.

use crate::common::*;
use rivet::llvm::{Module, TargetMachine, TargetOptions};
use rivet::load::{Definition, ObjectFile};
use rivet::{Error, ExecutionEngine};

const WIN: &str = "x86_64-pc-windows-msvc";

fn win_machine() -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        triple: Some(WIN.into()),
        ..TargetOptions::default()
    })
    .unwrap()
}

/// Compiles IR to a COFF object.
fn coff(ir: &str, name: &str) -> Vec<u8> {
    let mut m = Module::parse_ir(ir, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    win_machine().emit_object(&mut m).unwrap()
}

/// Storage for `_fltused`, which objects with floating point reference.
static FLTUSED: i32 = 0x9875;

/// An engine for objects only, with `_fltused` defined.
fn coff_engine(lmm: bool) -> ExecutionEngine {
    let engine = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
    engine.add_symbol("_fltused", std::ptr::addr_of!(FLTUSED) as u64);
    engine
}

/// The functions are `nounwind` without `uwtable`, so LLVM emits no
/// `.pdata`/`.xdata` (whose ADDR32NB fixups need the image base; see the
/// ignored tests below).
const MODULE_A: &str = r#"
@counter = global i32 7
@table = constant [4 x i64] [i64 11, i64 22, i64 33, i64 44]
@zeros = global [16 x i32] zeroinitializer
@shared = common global i64 0, align 8
@b_value = external global i32
declare i32 @b_twice(i32)

$dup = comdat any
define linkonce_odr i32 @dup(i32 %x) nounwind comdat {
  %r = add i32 %x, 100
  ret i32 %r
}

define i32 @bump(i32 %n) nounwind {
  %v = load i32, ptr @counter
  %w = add i32 %v, %n
  store i32 %w, ptr @counter
  ret i32 %w
}

define i64 @table_at(i64 %i) nounwind {
  %p = getelementptr [4 x i64], ptr @table, i64 0, i64 %i
  %v = load i64, ptr %p
  ret i64 %v
}

define i32 @zeros_sum_after_set(i64 %i, i32 %v) nounwind {
  %p = getelementptr [16 x i32], ptr @zeros, i64 0, i64 %i
  store i32 %v, ptr %p
  %a = load i32, ptr @zeros
  %q = getelementptr [16 x i32], ptr @zeros, i64 0, i64 15
  %b = load i32, ptr %q
  %s = add i32 %a, %b
  ret i32 %s
}

define i32 @sw(i32 %x) nounwind {
  switch i32 %x, label %d [ i32 0, label %c0 i32 1, label %c1 i32 2, label %c2
    i32 3, label %c3 i32 4, label %c4 i32 5, label %c5 i32 6, label %c6
    i32 7, label %c7 i32 8, label %c8 i32 9, label %c9 i32 10, label %c10
    i32 11, label %c11 i32 12, label %c12 i32 13, label %c13 i32 14, label %c14
    i32 15, label %c15 ]
c0: ret i32 10
c1: ret i32 21
c2: ret i32 32
c3: ret i32 43
c4: ret i32 54
c5: ret i32 65
c6: ret i32 76
c7: ret i32 87
c8: ret i32 98
c9: ret i32 109
c10: ret i32 1110
c11: ret i32 1211
c12: ret i32 1312
c13: ret i32 1413
c14: ret i32 1514
c15: ret i32 1615
d: ret i32 -1
}

define double @poly(double %x) nounwind {
  %a = fmul double %x, 3.25
  %b = fadd double %a, 1.5
  %c = fmul double %b, %x
  %d = fsub double %c, 0.125
  ret double %d
}

define float @fsum(float %a, float %b, float %c, float %d, float %e) nounwind {
  %s1 = fadd float %a, %b
  %s2 = fadd float %s1, %c
  %s3 = fadd float %s2, %d
  %s4 = fmul float %s3, %e
  %s5 = fadd float %s4, 0.75
  ret float %s5
}

define i32 @cross(i32 %x) nounwind {
  %t = call i32 @b_twice(i32 %x)
  %v = load i32, ptr @b_value
  %d = call i32 @dup(i32 %x)
  %s = add i32 %t, %v
  %r = add i32 %s, %d
  ret i32 %r
}

define weak i32 @wk() nounwind { ret i32 1 }
define i32 @call_wk() nounwind {
  %r = call i32 @wk()
  ret i32 %r
}

define weak i32 @wk_alone() nounwind { ret i32 11 }
define i32 @call_wk_alone() nounwind {
  %r = call i32 @wk_alone()
  ret i32 %r
}

declare extern_weak i32 @nowhere(i32)
define i32 @call_nowhere(i32 %x) nounwind {
  %p = icmp eq ptr @nowhere, null
  br i1 %p, label %none, label %some
none:
  ret i32 -7
some:
  %r = call i32 @nowhere(i32 %x)
  ret i32 %r
}

define i64 @shared_add(i64 %x) nounwind {
  %v = load i64, ptr @shared
  %w = add i64 %v, %x
  store i64 %w, ptr @shared
  ret i64 %w
}

define i64 @many_args(i64 %a, i64 %b, i64 %c, i64 %d, i64 %e, i64 %f) nounwind {
  %m = mul i64 %a, 1
  %n = mul i64 %b, 10
  %o = mul i64 %c, 100
  %p = mul i64 %d, 1000
  %q = mul i64 %e, 10000
  %r = mul i64 %f, 100000
  %s1 = add i64 %m, %n
  %s2 = add i64 %s1, %o
  %s3 = add i64 %s2, %p
  %s4 = add i64 %s3, %q
  %s5 = add i64 %s4, %r
  ret i64 %s5
}
"#;

const MODULE_B: &str = r#"
@b_value = global i32 1000
@counter = external global i32
@shared = common global i64 0, align 8

define i32 @b_twice(i32 %x) nounwind {
  %r = mul i32 %x, 2
  ret i32 %r
}

; The same COMDAT group as module A, with a body that differs on purpose, so
; that the tests can tell which copy runs.
$dup = comdat any
define linkonce_odr i32 @dup(i32 %x) nounwind comdat {
  %r = add i32 %x, 200
  ret i32 %r
}

define i32 @b_dup(i32 %x) nounwind {
  %r = call i32 @dup(i32 %x)
  ret i32 %r
}

define i32 @wk() nounwind { ret i32 2 }

define i32 @b_counter() nounwind {
  %v = load i32, ptr @counter
  ret i32 %v
}

define i64 @b_shared() nounwind {
  %v = load i64, ptr @shared
  ret i64 %v
}

define double @b_poly_twice(double %x) nounwind {
  %a = call double @poly(double %x)
  %b = fmul double %a, 2.0
  ret double %b
}
declare double @poly(double)
"#;

fn addr(engine: &ExecutionEngine, name: &str) -> u64 {
    engine
        .get_function_address(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Calls `extern "win64" fn(A) -> R` at `address`.
///
/// # Safety
/// `address` must be a finalized win64 function of that signature.
unsafe fn win1<A, R>(address: u64, a: A) -> R {
    let f: extern "win64" fn(A) -> R = std::mem::transmute(address as usize);
    f(a)
}

/// Calls `extern "win64" fn() -> R` at `address`.
///
/// # Safety
/// `address` must be a finalized win64 function of that signature.
unsafe fn win0<R>(address: u64) -> R {
    let f: extern "win64" fn() -> R = std::mem::transmute(address as usize);
    f()
}

#[test]
fn coff_program_runs_with_globals_switch_floats_and_two_modules() {
    let a = coff(MODULE_A, "a");
    let b = coff(MODULE_B, "b");
    for lmm in BOTH {
        let engine = coff_engine(lmm);
        engine.add_object_bytes(a.clone(), "a.obj").unwrap();
        engine.add_object_bytes(b.clone(), "b.obj").unwrap();
        engine.finalize_object().unwrap();

        // SAFETY (every call below): each address is a finalized win64
        // function with the signature used, compiled from the IR above.
        unsafe {
            // A global read and written, and read from the other module.
            let bump = addr(&engine, "bump");
            assert_eq!(win1::<i32, i32>(bump, 5), 12, "lmm={lmm}");
            assert_eq!(win1::<i32, i32>(bump, 30), 42);
            assert_eq!(win0::<i32>(addr(&engine, "b_counter")), 42);
            let counter = engine.get_global_value_address("counter").unwrap();
            assert_eq!(*(counter as *const i32), 42);

            // Read-only data and zero-fill data.
            let table_at = addr(&engine, "table_at");
            for (i, v) in [11i64, 22, 33, 44].into_iter().enumerate() {
                assert_eq!(win1::<i64, i64>(table_at, i as i64), v);
            }
            let f: extern "win64" fn(i64, i32) -> i32 =
                std::mem::transmute(addr(&engine, "zeros_sum_after_set") as usize);
            assert_eq!(f(3, 9), 0, "bss starts zeroed");
            assert_eq!(f(15, 40), 40);
            assert_eq!(f(0, 2), 42);

            // A 16-case switch through a jump table in .rdata.
            let sw = addr(&engine, "sw");
            let expect = [
                10, 21, 32, 43, 54, 65, 76, 87, 98, 109, 1110, 1211, 1312, 1413, 1514, 1615,
            ];
            for (i, v) in expect.into_iter().enumerate() {
                assert_eq!(win1::<i32, i32>(sw, i as i32), v, "case {i}");
            }
            assert_eq!(win1::<i32, i32>(sw, 16), -1);
            assert_eq!(win1::<i32, i32>(sw, -3), -1);

            // Float constants (COMDAT `__real@...` pool entries).
            let poly = addr(&engine, "poly");
            let x = 1.75f64;
            assert_eq!(win1::<f64, f64>(poly, x), (x * 3.25 + 1.5) * x - 0.125);
            let b_poly = addr(&engine, "b_poly_twice");
            assert_eq!(
                win1::<f64, f64>(b_poly, x),
                ((x * 3.25 + 1.5) * x - 0.125) * 2.0
            );
            // The fifth argument is on the stack above the shadow space.
            let fsum: extern "win64" fn(f32, f32, f32, f32, f32) -> f32 =
                std::mem::transmute(addr(&engine, "fsum") as usize);
            assert_eq!(fsum(1.0, 2.0, 3.5, 0.5, 2.0), 14.75);
            let many: extern "win64" fn(i64, i64, i64, i64, i64, i64) -> i64 =
                std::mem::transmute(addr(&engine, "many_args") as usize);
            assert_eq!(many(1, 2, 3, 4, 5, 6), 654321);

            // Calls and data across the two modules; `dup` is A's copy.
            assert_eq!(win1::<i32, i32>(addr(&engine, "cross"), 5), 10 + 1000 + 105);
        }
    }
}

#[test]
fn comdat_any_functions_defined_twice_link_and_one_copy_runs() {
    let a = coff(MODULE_A, "a");
    let b = coff(MODULE_B, "b");
    let c = coff(
        "$dup = comdat any\n\
         define linkonce_odr i32 @dup(i32 %x) nounwind comdat { %r = add i32 %x, 300\n ret i32 %r }\n\
         define i32 @c_dup(i32 %x) nounwind { %r = call i32 @dup(i32 %x)\n ret i32 %r }",
        "c",
    );
    for lmm in BOTH {
        // In one finalize: the first object's copy wins for both modules.
        let engine = coff_engine(lmm);
        engine.keep_link_maps(true);
        engine.add_object_bytes(a.clone(), "a.obj").unwrap();
        engine.add_object_bytes(b.clone(), "b.obj").unwrap();
        let dup = addr(&engine, "dup");
        // SAFETY: `dup` and `b_dup` are win64 `i32 -> i32` functions.
        unsafe {
            assert_eq!(win1::<i32, i32>(dup, 1), 101, "lmm={lmm}");
            assert_eq!(win1::<i32, i32>(addr(&engine, "b_dup"), 1), 101);
        }
        let maps = engine.link_maps();
        let a_map = &maps.iter().find(|(n, _)| n == "a.obj").unwrap().1;
        let a_dup = a_map.symbols.iter().find(|(n, _)| n == "dup").unwrap().1;
        assert_eq!(dup, a_dup, "the exported copy is a.obj's");

        // Other order: b.obj's copy wins.
        let engine = engine_with_order(lmm, [(&b, "b.obj"), (&a, "a.obj")]);
        // SAFETY: as above.
        unsafe {
            assert_eq!(win1::<i32, i32>(addr(&engine, "dup"), 1), 201);
            assert_eq!(win1::<i32, i32>(addr(&engine, "cross"), 1), 2 + 1000 + 201);
        }

        // In two finalizes: modules linked later bind to the earlier copy.
        let engine = coff_engine(lmm);
        engine.add_object_bytes(c.clone(), "c.obj").unwrap();
        engine.finalize_object().unwrap();
        let c_dup = addr(&engine, "dup");
        engine.add_object_bytes(a.clone(), "a.obj").unwrap();
        engine.add_object_bytes(b.clone(), "b.obj").unwrap();
        engine.finalize_object().unwrap();
        assert_eq!(addr(&engine, "dup"), c_dup);
        // SAFETY: as above.
        unsafe {
            assert_eq!(win1::<i32, i32>(addr(&engine, "b_dup"), 1), 301);
            assert_eq!(win1::<i32, i32>(addr(&engine, "cross"), 1), 2 + 1000 + 301);
            assert_eq!(win1::<i32, i32>(addr(&engine, "c_dup"), 1), 301);
        }
    }
}

fn engine_with_order(lmm: bool, objects: [(&Vec<u8>, &str); 2]) -> ExecutionEngine {
    let engine = coff_engine(lmm);
    for (bytes, name) in objects {
        engine.add_object_bytes(bytes.clone(), name).unwrap();
    }
    engine.finalize_object().unwrap();
    engine
}

#[test]
fn weak_definitions_yield_to_strong_ones_and_extern_weak_is_null() {
    let a = coff(MODULE_A, "a");
    let b = coff(MODULE_B, "b");
    for lmm in BOTH {
        let engine = coff_engine(lmm);
        engine.add_object_bytes(a.clone(), "a.obj").unwrap();
        engine.add_object_bytes(b.clone(), "b.obj").unwrap();
        // SAFETY: win64 functions of the signatures used, from MODULE_A/B.
        unsafe {
            // b.obj's strong `wk` beats a.obj's weak one, for a.obj's own call too.
            assert_eq!(win0::<i32>(addr(&engine, "call_wk")), 2, "lmm={lmm}");
            assert_eq!(win0::<i32>(addr(&engine, "wk")), 2);
            // Nobody else defines `wk_alone`: a.obj's weak definition runs.
            assert_eq!(win0::<i32>(addr(&engine, "call_wk_alone")), 11);
            assert_eq!(win0::<i32>(addr(&engine, "wk_alone")), 11);
            // `extern_weak` found nowhere is null.
            assert_eq!(win1::<i32, i32>(addr(&engine, "call_nowhere"), 4), -7);
        }
        // The weak default symbols LLVM names `.weak.<name>.default.*` stay
        // private to their object.
        assert!(matches!(
            engine.get_function_address(".weak.wk.default.bump"),
            Err(Error::SymbolNotFound(_))
        ));

        // An extern_weak found elsewhere is called.
        let engine = coff_engine(lmm);
        let provider = coff(
            "define i32 @nowhere(i32 %x) nounwind { %r = mul i32 %x, 3\n ret i32 %r }",
            "p",
        );
        engine.add_object_bytes(a.clone(), "a.obj").unwrap();
        engine.add_object_bytes(b.clone(), "b.obj").unwrap();
        engine.add_object_bytes(provider, "p.obj").unwrap();
        // SAFETY: as above.
        unsafe {
            assert_eq!(win1::<i32, i32>(addr(&engine, "call_nowhere"), 4), 12);
        }
    }
}

#[test]
fn common_blocks_are_shared_between_coff_objects() {
    let a = coff(MODULE_A, "a");
    let b = coff(MODULE_B, "b");
    for lmm in BOTH {
        let engine = coff_engine(lmm);
        engine.add_object_bytes(a.clone(), "a.obj").unwrap();
        engine.add_object_bytes(b.clone(), "b.obj").unwrap();
        // SAFETY: win64 functions of the signatures used.
        unsafe {
            assert_eq!(win1::<i64, i64>(addr(&engine, "shared_add"), 40), 40);
            assert_eq!(win1::<i64, i64>(addr(&engine, "shared_add"), 2), 42);
            assert_eq!(win0::<i64>(addr(&engine, "b_shared")), 42, "lmm={lmm}");
        }
        let shared = engine.get_global_value_address("shared").unwrap();
        assert_eq!(shared % 8, 0);
    }
}

#[test]
fn fltused_is_referenced_and_resolved_through_add_symbol() {
    let a = coff(MODULE_A, "a");
    let object = ObjectFile::parse(&a, "a.obj").unwrap();
    let fltused = object
        .symbols
        .iter()
        .find(|s| s.name == "_fltused")
        .expect("objects with floating point reference _fltused");
    assert_eq!(fltused.definition, Definition::Undefined);
    // With it registered (as `coff_engine()` does), the module links.
    let engine = coff_engine(true);
    engine
        .add_object_bytes(
            coff(
                "define double @h(double %x) nounwind { %y = fmul double %x, 0.5\n ret double %y }",
                "h",
            ),
            "h.obj",
        )
        .unwrap();
    let h = addr(&engine, "h");
    // SAFETY: `h` is a win64 `f64 -> f64` function.
    assert_eq!(unsafe { win1::<f64, f64>(h, 5.0) }, 2.5);
}

#[test]
#[ignore = "needs the engine to define _fltused by default"]
fn fltused_needs_no_registration() {
    let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
    engine
        .add_object_bytes(
            coff(
                "define double @h(double %x) nounwind { %y = fmul double %x, 0.5\n ret double %y }",
                "h",
            ),
            "h.obj",
        )
        .unwrap();
    let h = addr(&engine, "h");
    // SAFETY: `h` is a win64 `f64 -> f64` function.
    assert_eq!(unsafe { win1::<f64, f64>(h, 5.0) }, 2.5);
}
