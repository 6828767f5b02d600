//! Whole programs compiled from IR, linked by rivet and called: each test
//! asserts on values the JIT code computed.

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel};

/// Globals read and written, a 16-case switch (jump table), float constants
/// (constant pools), a call into libm, and a function pointer table.
pub const PROGRAM: &str = r#"
@counter = global i64 0
@values = global [4 x double] [double 1.5, double -2.25, double 3.125, double 0.0]
@table = global [2 x ptr] [ptr @twice, ptr @thrice]

declare double @sin(double)
declare double @cos(double)

define i64 @bump(i64 %by) {
  %c = load i64, ptr @counter
  %n = add i64 %c, %by
  store i64 %n, ptr @counter
  ret i64 %n
}

define i32 @classify(i32 %k) {
entry:
  switch i32 %k, label %other [
    i32 0, label %c0  i32 1, label %c1  i32 2, label %c2  i32 3, label %c3
    i32 4, label %c4  i32 5, label %c5  i32 6, label %c6  i32 7, label %c7
    i32 8, label %c8  i32 9, label %c9  i32 10, label %c10  i32 11, label %c11
    i32 12, label %c12  i32 13, label %c13  i32 14, label %c14  i32 15, label %c15
  ]
c0: ret i32 101
c1: ret i32 203
c2: ret i32 307
c3: ret i32 401
c4: ret i32 509
c5: ret i32 601
c6: ret i32 701
c7: ret i32 809
c8: ret i32 907
c9: ret i32 1009
c10: ret i32 1103
c11: ret i32 1201
c12: ret i32 1301
c13: ret i32 1409
c14: ret i32 1511
c15: ret i32 1601
other: ret i32 -1
}

define double @poly(double %x) {
  %a = fmul double %x, 0x400921FB54442D18
  %b = fadd double %a, 1.234567e-3
  %c = fmul double %b, 2.718281828459045
  ret double %c
}

define double @trig(double %x) {
  %s = call double @sin(double %x)
  %c = call double @cos(double %x)
  %r = fadd double %s, %c
  ret double %r
}

define double @sum_values() {
  %p0 = getelementptr [4 x double], ptr @values, i64 0, i64 0
  %p1 = getelementptr [4 x double], ptr @values, i64 0, i64 1
  %p2 = getelementptr [4 x double], ptr @values, i64 0, i64 2
  %v0 = load double, ptr %p0
  %v1 = load double, ptr %p1
  %v2 = load double, ptr %p2
  %s1 = fadd double %v0, %v1
  %s2 = fadd double %s1, %v2
  store double %s2, ptr getelementptr ([4 x double], ptr @values, i64 0, i64 3)
  ret double %s2
}

define i64 @twice(i64 %x) {
  %r = mul i64 %x, 2
  ret i64 %r
}

define i64 @thrice(i64 %x) {
  %r = mul i64 %x, 3
  ret i64 %r
}

define i64 @dispatch(i64 %which, i64 %x) {
  %p = getelementptr [2 x ptr], ptr @table, i64 0, i64 %which
  %f = load ptr, ptr %p
  %r = call i64 %f(i64 %x)
  ret i64 %r
}
"#;

const CLASSIFY: [i32; 16] = [
    101, 203, 307, 401, 509, 601, 701, 809, 907, 1009, 1103, 1201, 1301, 1409, 1511, 1601,
];

fn check_program(engine: &rivet::ExecutionEngine, what: &str) {
    let bump = engine.get_function_address("bump").unwrap();
    let counter = engine.get_global_value_address("counter").unwrap();
    let classify = engine.get_function_address("classify").unwrap();
    let poly = engine.get_function_address("poly").unwrap();
    let trig = engine.get_function_address("trig").unwrap();
    let sum_values = engine.get_function_address("sum_values").unwrap();
    let values = engine.get_global_value_address("values").unwrap();
    let dispatch = engine.get_function_address("dispatch").unwrap();
    // SAFETY: each address is a finalized function of the signature used, or
    // a global of the type read.
    unsafe {
        assert_eq!(call1::<i64, i64>(bump, 5), 5, "{what}");
        assert_eq!(call1::<i64, i64>(bump, 37), 42, "{what}");
        assert_eq!(*(counter as *const i64), 42, "{what}: global written");
        *(counter as *mut i64) = 1000;
        assert_eq!(call1::<i64, i64>(bump, 1), 1001, "{what}: global read");
        for (k, want) in CLASSIFY.iter().enumerate() {
            assert_eq!(
                call1::<i32, i32>(classify, k as i32),
                *want,
                "{what}: case {k}"
            );
        }
        assert_eq!(call1::<i32, i32>(classify, 16), -1, "{what}");
        assert_eq!(call1::<i32, i32>(classify, -3), -1, "{what}");
        let x = 0.75f64;
        let want = (x * std::f64::consts::PI + 1.234567e-3) * std::f64::consts::E;
        assert_eq!(call1::<f64, f64>(poly, x), want, "{what}: constant pool");
        assert_eq!(
            call1::<f64, f64>(trig, x),
            x.sin() + x.cos(),
            "{what}: libm"
        );
        assert_eq!(call0::<f64>(sum_values), 1.5 - 2.25 + 3.125, "{what}");
        assert_eq!(
            *(values as *const f64).add(3),
            2.375,
            "{what}: store to array"
        );
        assert_eq!(call2::<i64, i64, i64>(dispatch, 0, 21), 42, "{what}: table");
        assert_eq!(call2::<i64, i64, i64>(dispatch, 1, 14), 42, "{what}: table");
    }
}

#[test]
fn program_runs_with_the_arena_and_the_section_manager() {
    for lmm in BOTH {
        let engine = engine(&[PROGRAM], lmm);
        check_program(&engine, &format!("lmm={lmm}"));
    }
}

#[test]
fn program_runs_in_every_relocation_and_code_model() {
    let models = [
        (RelocModel::Pic, CodeModel::Small),
        (RelocModel::Pic, CodeModel::Large),
        (RelocModel::Static, CodeModel::Small),
        (RelocModel::Static, CodeModel::Large),
        (RelocModel::Pic, CodeModel::Medium),
        (RelocModel::Static, CodeModel::Medium),
    ];
    for (reloc, cm) in models {
        let engine = engine_with(&[PROGRAM], true, reloc, cm);
        check_program(&engine, &format!("{reloc:?}/{cm:?} arena"));
    }
    // The per-section manager places sections anywhere: models that can
    // reach any address must work there too.
    for (reloc, cm) in [
        (RelocModel::Pic, CodeModel::Small),
        (RelocModel::Pic, CodeModel::Large),
        (RelocModel::Static, CodeModel::Large),
    ] {
        let engine = engine_with(&[PROGRAM], false, reloc, cm);
        check_program(&engine, &format!("{reloc:?}/{cm:?} sections"));
    }
}

#[test]
fn calls_and_globals_across_two_modules() {
    let provider = r#"
        @shared = global i32 7
        define i32 @provide(i32 %x) {
          %s = load i32, ptr @shared
          %r = mul i32 %x, %s
          ret i32 %r
        }
    "#;
    let user = r#"
        @shared = external global i32
        declare i32 @provide(i32)
        define i32 @use(i32 %x) {
          %a = call i32 @provide(i32 %x)
          %s = load i32, ptr @shared
          %n = add i32 %s, 1
          store i32 %n, ptr @shared
          %r = add i32 %a, %s
          ret i32 %r
        }
    "#;
    for lmm in BOTH {
        for (reloc, cm) in [
            (RelocModel::Pic, CodeModel::Small),
            (RelocModel::Static, CodeModel::Large),
        ] {
            let engine = engine_with(&[user, provider], lmm, reloc, cm);
            let f = engine.get_function_address("use").unwrap();
            let shared = engine.get_global_value_address("shared").unwrap();
            // SAFETY: finalized function `i32 (i32)` and an i32 global.
            unsafe {
                assert_eq!(call1::<i32, i32>(f, 3), 3 * 7 + 7);
                assert_eq!(
                    *(shared as *const i32),
                    8,
                    "store went to the provider's global"
                );
                assert_eq!(call1::<i32, i32>(f, 2), 2 * 8 + 8);
            }
        }
    }
}

#[test]
fn modules_added_after_a_finalize_link_against_earlier_ones() {
    let engine = engine(
        &[r#"define i64 @base(i64 %x) { %r = add i64 %x, 100
 ret i64 %r }"#],
        true,
    );
    let base = engine.get_function_address("base").unwrap();
    engine.add_module(module(
        r#"declare i64 @base(i64)
           define i64 @later(i64 %x) { %r = call i64 @base(i64 %x)
           %s = mul i64 %r, 2
           ret i64 %s }"#,
        "later",
    ));
    let later = engine.get_function_address("later").unwrap();
    // SAFETY: finalized functions `i64 (i64)`.
    unsafe {
        assert_eq!(call1::<i64, i64>(base, 1), 101);
        assert_eq!(call1::<i64, i64>(later, 1), 202);
    }
}
