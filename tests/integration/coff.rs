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
        check_program(&engine, &format!("lmm={lmm}"));
    }
}

#[test]
fn coff_program_runs_in_every_relocation_and_code_model() {
    use rivet::llvm::{CodeModel, RelocModel};
    // Static small-model code holds 32-bit absolute addresses (ADDR32): only
    // the arena, which lives in the low 2 GiB, can take it.
    let cases = [
        (RelocModel::Pic, CodeModel::Large, &BOTH[..]),
        (RelocModel::Static, CodeModel::Large, &BOTH[..]),
        (RelocModel::Static, CodeModel::Small, &[true][..]),
        (RelocModel::Default, CodeModel::JitDefault, &BOTH[..]),
    ];
    for (reloc, code_model, managers) in cases {
        let tm = TargetMachine::new(&TargetOptions {
            triple: Some(WIN.into()),
            reloc,
            code_model,
            ..TargetOptions::default()
        })
        .unwrap();
        let mut objects = Vec::new();
        for (ir, n) in [(MODULE_A, "a"), (MODULE_B, "b")] {
            let mut m = Module::parse_ir(ir, n).unwrap();
            objects.push(tm.emit_object(&mut m).unwrap());
        }
        for &lmm in managers {
            let engine = coff_engine(lmm);
            engine
                .add_object_bytes(objects[0].clone(), "a.obj")
                .unwrap();
            engine
                .add_object_bytes(objects[1].clone(), "b.obj")
                .unwrap();
            match engine.finalize_object() {
                Ok(()) => {}
                // The arena's low placement is a hint: when the low 2 GiB
                // is taken (by other tests' arenas) it lands higher, and
                // 32-bit absolute addresses cannot reach it.
                Err(Error::RelocationOverflow { site, value, .. })
                    if code_model == CodeModel::Small && reloc == RelocModel::Static =>
                {
                    assert_eq!(site.kind, "ABS32", "{site}");
                    assert!(value > i128::from(u32::MAX), "{site}: {value:#x}");
                    continue;
                }
                Err(e) => panic!("{reloc:?}/{code_model:?} lmm={lmm}: {e}"),
            }
            check_program(&engine, &format!("{reloc:?}/{code_model:?} lmm={lmm}"));
        }
    }
}

/// Runs MODULE_A and MODULE_B, freshly linked into `engine`, and checks
/// every result.
fn check_program(engine: &ExecutionEngine, what: &str) {
    // SAFETY: (every call below) each address is a finalized win64
    // function with the signature used, compiled from the IR above.
    unsafe {
        // A global read and written, and read from the other module.
        let bump = addr(engine, "bump");
        assert_eq!(win1::<i32, i32>(bump, 5), 12, "{what}");
        assert_eq!(win1::<i32, i32>(bump, 30), 42, "{what}");
        assert_eq!(win0::<i32>(addr(engine, "b_counter")), 42, "{what}");
        let counter = engine.get_global_value_address("counter").unwrap();
        assert_eq!(*(counter as *const i32), 42, "{what}");

        // Read-only data and zero-fill data.
        let table_at = addr(engine, "table_at");
        for (i, v) in [11i64, 22, 33, 44].into_iter().enumerate() {
            assert_eq!(win1::<i64, i64>(table_at, i as i64), v, "{what}");
        }
        let f: extern "win64" fn(i64, i32) -> i32 =
            std::mem::transmute(addr(engine, "zeros_sum_after_set") as usize);
        assert_eq!(f(3, 9), 0, "{what}: bss starts zeroed");
        assert_eq!(f(15, 40), 40, "{what}");
        assert_eq!(f(0, 2), 42, "{what}");

        // A 16-case switch through a jump table.
        let sw = addr(engine, "sw");
        let expect = [
            10, 21, 32, 43, 54, 65, 76, 87, 98, 109, 1110, 1211, 1312, 1413, 1514, 1615,
        ];
        for (i, v) in expect.into_iter().enumerate() {
            assert_eq!(win1::<i32, i32>(sw, i as i32), v, "{what}: case {i}");
        }
        assert_eq!(win1::<i32, i32>(sw, 16), -1, "{what}");
        assert_eq!(win1::<i32, i32>(sw, -3), -1, "{what}");

        // Float constants (COMDAT `__real@...` pool entries).
        let poly = addr(engine, "poly");
        let x = 1.75f64;
        assert_eq!(
            win1::<f64, f64>(poly, x),
            (x * 3.25 + 1.5) * x - 0.125,
            "{what}"
        );
        let b_poly = addr(engine, "b_poly_twice");
        assert_eq!(
            win1::<f64, f64>(b_poly, x),
            ((x * 3.25 + 1.5) * x - 0.125) * 2.0,
            "{what}"
        );
        // The fifth argument is on the stack above the shadow space.
        let fsum: extern "win64" fn(f32, f32, f32, f32, f32) -> f32 =
            std::mem::transmute(addr(engine, "fsum") as usize);
        assert_eq!(fsum(1.0, 2.0, 3.5, 0.5, 2.0), 14.75, "{what}");
        let many: extern "win64" fn(i64, i64, i64, i64, i64, i64) -> i64 =
            std::mem::transmute(addr(engine, "many_args") as usize);
        assert_eq!(many(1, 2, 3, 4, 5, 6), 654321, "{what}");

        // Calls and data across the two modules; `dup` is A's copy.
        assert_eq!(
            win1::<i32, i32>(addr(engine, "cross"), 5),
            10 + 1000 + 105,
            "{what}"
        );
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

// ---------------------------------------------------------------------------
// The loader against goblin's PE/COFF parser.

/// COFF objects of every shape the tests link: both modules in each
/// relocation and code model, unwind tables, COMDAT selections, the
/// relocation-kind fixture.
fn objects() -> Vec<(String, Vec<u8>)> {
    use rivet::llvm::{CodeModel, RelocModel};
    let mut out = Vec::new();
    for reloc in [RelocModel::Pic, RelocModel::Static] {
        for cm in [CodeModel::Small, CodeModel::Large] {
            let tm = TargetMachine::new(&TargetOptions {
                triple: Some(WIN.into()),
                reloc,
                code_model: cm,
                ..TargetOptions::default()
            })
            .unwrap();
            for (ir, n) in [(MODULE_A, "a"), (MODULE_B, "b"), (UNWIND, "unwind")] {
                let mut m = Module::parse_ir(ir, n).unwrap();
                out.push((
                    format!("{n} {reloc:?}/{cm:?}"),
                    tm.emit_object(&mut m).unwrap(),
                ));
            }
        }
    }
    let tm = win_machine();
    out.push(("data relocations".into(), tm.assemble(DATA_RELOCS).unwrap()));
    out.push(("rel32".into(), tm.assemble(REL32_STORES).unwrap()));
    out.push(("comdats".into(), tm.assemble(COMDATS).unwrap()));
    out
}

/// Functions with unwind tables: `.pdata` (ADDR32NB) and `.xdata`, some in
/// COMDAT groups with associative unwind sections.
const UNWIND: &str = r#"
declare i32 @ext(i32)
define i32 @outer(i32 %x) uwtable {
  %a = call i32 @ext(i32 %x)
  %b = add i32 %a, 1
  ret i32 %b
}
$inl = comdat any
define linkonce_odr i32 @inl(i32 %x) uwtable comdat {
  %a = call i32 @ext(i32 %x)
  %b = mul i32 %a, 3
  ret i32 %b
}
define i32 @use_inl(i32 %x) uwtable {
  %a = call i32 @inl(i32 %x)
  ret i32 %a
}
"#;

/// Every selection LLVM's assembler can write.
const COMDATS: &str = r#"
.section .text$any,"xr",discard,kany
.globl kany
kany: ret
.section .text$one,"xr",one_only,kone
.globl kone
kone: ret
.section .text$ss,"xr",same_size,kss
.globl kss
kss: ret
.section .text$sc,"xr",same_contents,ksc
.globl ksc
ksc: ret
.section .text$lg,"xr",largest,klg
.globl klg
klg: ret
.section .rdata$assoc,"dr",associative,kany
.globl inassoc
inassoc: .quad kany
"#;

/// What goblin says the binding of an external defined in section
/// `section` is, from the COMDAT selection of the section's definition.
fn goblin_comdat_weak(coff: &goblin::pe::Coff<'_>, section: i16, depth: u32) -> bool {
    let Some(table) = coff.symbols.as_ref() else {
        return false;
    };
    for (i, _, sym) in table.iter() {
        if sym.is_section_definition() && sym.section_number == section && sym.typ == 0 {
            // goblin indexes auxiliary records by their own position.
            let aux = table.aux_section_definition(i + 1).unwrap();
            let comdat = coff.sections[section as usize - 1].characteristics
                & goblin::pe::section_table::IMAGE_SCN_LNK_COMDAT
                != 0;
            return comdat
                && match aux.selection {
                    // any, same size, exact match, largest
                    2 | 3 | 4 | 6 => true,
                    // associative: the parent's
                    5 if depth < 16 => goblin_comdat_weak(coff, aux.number as i16, depth + 1),
                    _ => false,
                };
        }
    }
    false
}

#[test]
fn symbols_and_relocations_agree_with_goblin() {
    use goblin::pe::symbol::{
        IMAGE_SYM_ABSOLUTE, IMAGE_SYM_CLASS_EXTERNAL, IMAGE_SYM_CLASS_WEAK_EXTERNAL,
        IMAGE_SYM_DEBUG, IMAGE_SYM_UNDEFINED,
    };
    use rivet::arch::x86_64::Reloc as X;
    use rivet::load::{Binding, RelocKind, SymbolKind, Target};
    let mut compared_symbols = 0;
    let mut compared_relocations = 0;
    let mut weak_externals = 0;
    for (what, bytes) in objects() {
        let ours = ObjectFile::parse(&bytes, &what).unwrap();
        let theirs = goblin::pe::Coff::parse(&bytes).unwrap();
        let strtab = theirs.strings.as_ref().unwrap();
        let table = theirs.symbols.as_ref().unwrap();
        assert_eq!(ours.sections.len(), theirs.sections.len() + 1, "{what}");
        for (i, s) in theirs.sections.iter().enumerate() {
            let mine = &ours.sections[i + 1];
            assert_eq!(mine.name, s.name().unwrap(), "{what}: section {}", i + 1);
            assert_eq!(
                mine.size,
                u64::from(s.size_of_raw_data),
                "{what}: {}",
                mine.name
            );
        }
        let mut covered = vec![false; ours.symbols.len()];
        for (i, inline, sym) in table.iter() {
            let name = match inline {
                Some(n) => n,
                None => sym.name(strtab).unwrap(),
            };
            let mine = &ours.symbols[i];
            covered[i] = true;
            for k in 1..=usize::from(sym.number_of_aux_symbols) {
                assert_eq!(ours.symbols[i + k].name, "", "{what}: aux record {}", i + k);
                assert_eq!(ours.symbols[i + k].binding, Binding::Local);
                covered[i + k] = true;
            }
            assert_eq!(mine.name, name, "{what}: symbol {i}");
            let value = u64::from(sym.value);
            let context = format!("{what}: {name}");
            match sym.section_number {
                n if n > 0 => {
                    assert_eq!(
                        mine.definition,
                        Definition::Section {
                            section: n as u32,
                            offset: value
                        },
                        "{context}"
                    );
                    let section_symbol = sym.is_section_definition() && sym.typ == 0 && value == 0;
                    assert_eq!(
                        mine.kind == SymbolKind::Section,
                        section_symbol,
                        "{context}"
                    );
                    let binding = if sym.storage_class != IMAGE_SYM_CLASS_EXTERNAL
                        || name.starts_with(".weak.")
                    {
                        Binding::Local
                    } else if goblin_comdat_weak(&theirs, n, 0) {
                        Binding::Weak
                    } else {
                        Binding::Global
                    };
                    assert_eq!(mine.binding, binding, "{context}");
                }
                IMAGE_SYM_UNDEFINED if sym.storage_class == IMAGE_SYM_CLASS_WEAK_EXTERNAL => {
                    weak_externals += 1;
                    assert_eq!(mine.binding, Binding::Weak, "{context}");
                    let aux = table.aux_weak_external(i + 1).unwrap();
                    let (_, default) = table.get(aux.tag_index as usize).unwrap();
                    match default.section_number {
                        n if n > 0 => assert_eq!(
                            mine.definition,
                            Definition::Section {
                                section: n as u32,
                                offset: u64::from(default.value)
                            },
                            "{context}"
                        ),
                        _ => assert_eq!(mine.definition, Definition::Undefined, "{context}"),
                    }
                }
                IMAGE_SYM_UNDEFINED => {
                    assert_eq!(sym.storage_class, IMAGE_SYM_CLASS_EXTERNAL);
                    assert_eq!(mine.binding, Binding::Global, "{context}");
                    if value == 0 {
                        assert_eq!(mine.definition, Definition::Undefined, "{context}");
                    } else {
                        assert!(
                            matches!(mine.definition, Definition::Common { size, .. } if size == value),
                            "{context}"
                        );
                    }
                }
                IMAGE_SYM_ABSOLUTE => {
                    assert_eq!(mine.definition, Definition::Absolute(value), "{context}")
                }
                IMAGE_SYM_DEBUG => {
                    assert_eq!(mine.binding, Binding::Local, "{context}");
                    assert_eq!(mine.definition, Definition::Absolute(0), "{context}");
                }
                other => panic!("{context}: section number {other}"),
            }
            compared_symbols += 1;
        }
        assert!(
            covered.iter().all(|&c| c),
            "{what}: every record is accounted for"
        );

        for (i, s) in theirs.sections.iter().enumerate() {
            let mine = &ours.sections[i + 1];
            let relocs: Vec<_> = s
                .relocations(&bytes)
                .unwrap()
                .filter(|r| r.typ != 0)
                .collect();
            if !mine.kind.is_loaded() {
                assert!(mine.relocations.is_empty());
                continue;
            }
            assert_eq!(
                mine.relocations.len(),
                relocs.len(),
                "{what}: {}",
                mine.name
            );
            for (r, theirs_r) in mine.relocations.iter().zip(relocs) {
                let context = format!("{what}: {}+{:#x}", mine.name, theirs_r.virtual_address);
                assert_eq!(r.offset, u64::from(theirs_r.virtual_address), "{context}");
                let (kind, width, bias) = match theirs_r.typ {
                    1 => (X::Abs64, 8, 0),
                    2 => (X::Abs32, 4, 0),
                    3 => (X::ImageRel32, 4, 0),
                    n @ 4..=9 => (X::Pc32, 4, i64::from(n)),
                    10 => (X::SectionIndex, 2, 0),
                    11 => (X::SecRel32, 4, 0),
                    other => panic!("{context}: type {other}"),
                };
                let at = (s.pointer_to_raw_data + theirs_r.virtual_address) as usize;
                // A plain REL32 after call/jmp/jcc rel32 opcodes in code is a branch.
                let code = s.characteristics & goblin::pe::section_table::IMAGE_SCN_CNT_CODE != 0;
                let branch = theirs_r.typ == 4
                    && code
                    && theirs_r.virtual_address >= 1
                    && (matches!(bytes[at - 1], 0xE8 | 0xE9)
                        || (0x80..=0x8F).contains(&bytes[at - 1])
                            && theirs_r.virtual_address >= 2
                            && bytes[at - 2] == 0x0F);
                let kind = if branch { X::Branch32 } else { kind };
                assert_eq!(r.kind, RelocKind::X86_64(kind), "{context}");
                let implicit = match width {
                    2 => i64::from(i16::from_le_bytes(bytes[at..at + 2].try_into().unwrap())),
                    4 => i64::from(i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())),
                    _ => i64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()),
                };
                assert_eq!(r.addend, implicit - bias, "{context}");
                let index = theirs_r.symbol_table_index as usize;
                let (_, target) = table.get(index).unwrap();
                let expected = if target.is_section_definition()
                    && target.typ == 0
                    && target.value == 0
                    && target.section_number > 0
                {
                    Target::Section(target.section_number as u32)
                } else {
                    Target::Symbol(index as u32)
                };
                assert_eq!(r.target, expected, "{context}");
                compared_relocations += 1;
            }
        }
    }
    assert!(compared_symbols > 300, "{compared_symbols}");
    assert!(compared_relocations > 100, "{compared_relocations}");
    assert!(weak_externals >= 4, "{weak_externals}");
}

// ---------------------------------------------------------------------------
// Relocation kinds end to end, on assembled and hand-patched objects.

/// REL32 fixups followed by immediates; the tests rewrite them as MSVC does
/// (REL32_n with the implicit addend of the plain field).
const REL32_STORES: &str = r#"
.text
.globl store5
store5:
  movl $5, slot(%rip)
  ret
.globl store7b
store7b:
  movb $7, slot+4(%rip)
  ret
.globl store_w
store_w:
  movw $0x1234, slot+6(%rip)
  ret
.globl load_n
load_n:
  movl slot(%rip), %eax
  ret
.globl load_m
load_m:
  movl slot+4(%rip), %eax
  ret
.data
.p2align 3
.quad 0
.globl slot
slot: .quad 0
.quad 0
"#;

/// Absolute data fixups (ADDR64, ADDR32) and code that reads through them.
const DATA_RELOCS: &str = r#"
.text
.globl read_target
read_target:
  movq ptrs(%rip), %rax
  movq -5(%rax), %rax
  ret
.globl abs_target
abs_target:
  movabsq $target, %rax
  ret
.data
.p2align 3
.globl pad
pad: .quad 0
.globl target
target: .quad 0x1122334455667788
.globl ptrs
ptrs:
  .quad target+5
  .quad pad-3
  .long far+6
  .long 0
"#;

/// Image-relative (ADDR32NB), section-relative (SECREL) and section-number
/// (SECTION) fixups against this object's symbols and another's.
const IMAGE_RELOCS: &str = r#"
.text
.globl rofn
.def rofn; .scl 2; .type 32; .endef
rofn:
  movl $1, %eax
  ret
.data
.p2align 3
.globl pad
pad: .quad 0
.globl target
target: .quad 0
.globl rvas
rvas:
  .rva target+4
  .rva rofn
  .rva ro_const
.globl secrels
secrels:
  .secrel32 target+3
  .secrel32 ro_const
  .secrel32 rofn+2
  .secrel32 other_sym
.globl secidx
secidx:
  .secidx target
  .secidx rofn
  .secidx ro_const
  .secidx other_sym
.section .rdata,"dr"
.p2align 3
.quad 0
.globl ro_const
ro_const: .quad 42
"#;

/// Defines `other_sym` at offset 16 of its `.data`.
const OTHER_SYM: &str = r#"
.data
.p2align 3
.quad 0
.quad 0
.globl other_sym
other_sym: .long 0x5151
"#;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// File offset of the header of 1-based section `n` of a COFF object.
fn section_header(b: &[u8], n: usize) -> usize {
    20 + usize::from(u16_at(b, 16)) + (n - 1) * 40
}

/// Rewrites relocation `k` of section `n` as type `typ` with implicit addend `implicit`.
fn patch_rel32(b: &mut [u8], n: usize, k: usize, typ: u16, implicit: i32) {
    let sh = section_header(b, n);
    assert!(
        k < usize::from(u16_at(b, sh + 32)),
        "relocation {k} of section {n}"
    );
    let entry = u32_at(b, sh + 24) as usize + 10 * k;
    assert_eq!(u16_at(b, entry + 8), 4, "relocation {k} is REL32");
    b[entry + 8..entry + 10].copy_from_slice(&typ.to_le_bytes());
    let field = u32_at(b, sh + 20) as usize + u32_at(b, entry) as usize;
    b[field..field + 4].copy_from_slice(&implicit.to_le_bytes());
}

#[test]
fn rel32_n_fixups_patch_the_displacement_to_the_end_of_the_instruction() {
    let plain = win_machine().assemble(REL32_STORES).unwrap();
    let mut msvc = plain.clone();
    // IMAGE_REL_AMD64_REL32_4 / _1 / _2 for the stores (4, 1 and 2 bytes of
    // immediate after the field); REL32_3 and REL32_5 on the loads, with
    // implicit addends that make them land where the plain REL32 does.
    patch_rel32(&mut msvc, 1, 0, 8, 0);
    patch_rel32(&mut msvc, 1, 1, 5, 4);
    patch_rel32(&mut msvc, 1, 2, 6, 6);
    patch_rel32(&mut msvc, 1, 3, 7, 3);
    patch_rel32(&mut msvc, 1, 4, 9, 4 + 5);
    let parsed = ObjectFile::parse(&msvc, "msvc.obj").unwrap();
    let addends: Vec<i64> = parsed.sections[1]
        .relocations
        .iter()
        .map(|r| r.addend)
        .collect();
    assert_eq!(addends, [-8, -1, 0, -4, 0]);
    for (bytes, name) in [(plain, "plain.obj"), (msvc, "msvc.obj")] {
        for lmm in BOTH {
            let engine = coff_engine(lmm);
            engine.add_object_bytes(bytes.clone(), name).unwrap();
            let slot = engine.get_global_value_address("slot").unwrap();
            // SAFETY: the functions take nothing, store to `slot` or return an i32 from it.
            unsafe {
                win0::<()>(addr(&engine, "store5"));
                win0::<()>(addr(&engine, "store7b"));
                win0::<()>(addr(&engine, "store_w"));
                let bytes = std::slice::from_raw_parts(slot as *const u8, 8);
                assert_eq!(bytes, [5, 0, 0, 0, 7, 0, 0x34, 0x12], "{name} lmm={lmm}");
                // The 8 bytes around `slot` are untouched.
                assert_eq!(*((slot - 8) as *const u64), 0, "{name}");
                assert_eq!(*((slot + 8) as *const u64), 0, "{name}");
                assert_eq!(win0::<i32>(addr(&engine, "load_n")), 5, "{name}");
                assert_eq!(win0::<u32>(addr(&engine, "load_m")), 0x1234_0007, "{name}");
            }
        }
    }
}

#[test]
fn addr64_and_addr32_fixups_hold_absolute_addresses() {
    let obj = win_machine().assemble(DATA_RELOCS).unwrap();
    for lmm in BOTH {
        let engine = coff_engine(lmm);
        engine.add_global_mapping("far", 0x1234);
        engine.add_object_bytes(obj.clone(), "data.obj").unwrap();
        let target = engine.get_global_value_address("target").unwrap();
        let pad = engine.get_global_value_address("pad").unwrap();
        let ptrs = engine.get_global_value_address("ptrs").unwrap();
        // SAFETY: `ptrs` is 24 bytes of finalized data; the functions take
        // nothing and return a u64.
        unsafe {
            assert_eq!(*(ptrs as *const u64), target + 5, "lmm={lmm}");
            assert_eq!(*((ptrs + 8) as *const u64), pad - 3);
            assert_eq!(*((ptrs + 16) as *const u32), 0x1234 + 6);
            assert_eq!(
                win0::<u64>(addr(&engine, "read_target")),
                0x1122_3344_5566_7788
            );
            assert_eq!(win0::<u64>(addr(&engine, "abs_target")), target);
        }
    }
    // ADDR32 against an address above 4 GiB is a typed error.
    let engine = coff_engine(true);
    engine.add_global_mapping("far", 0x1_0000_0000);
    engine.add_object_bytes(obj, "data.obj").unwrap();
    match engine.finalize_object() {
        Err(Error::RelocationOverflow { site, value, .. }) => {
            assert_eq!(site.symbol, "far");
            assert_eq!(site.kind, "ABS32");
            assert_eq!(site.section, ".data");
            assert_eq!(value, 0x1_0000_0006);
        }
        other => panic!("expected RelocationOverflow, got {other:?}"),
    }
}

/// An engine holding IMAGE_RELOCS and OTHER_SYM, with link maps.
fn image_engine(lmm: bool) -> ExecutionEngine {
    let tm = win_machine();
    let engine = coff_engine(lmm);
    engine.keep_link_maps(true);
    engine
        .add_object_bytes(tm.assemble(IMAGE_RELOCS).unwrap(), "image.obj")
        .unwrap();
    engine
        .add_object_bytes(tm.assemble(OTHER_SYM).unwrap(), "other.obj")
        .unwrap();
    engine.finalize_object().unwrap();
    engine
}

/// (lowest section address, highest section end) of module `name`.
fn module_span(engine: &ExecutionEngine, name: &str) -> (u64, u64) {
    let maps = engine.link_maps();
    let map = &maps.iter().find(|(n, _)| n == name).unwrap().1;
    let low = map.sections.iter().map(|s| s.1).min().unwrap();
    let high = map.sections.iter().map(|s| s.1 + s.2).max().unwrap();
    (low, high)
}

#[test]
fn addr32nb_fixups_are_offsets_from_the_image_base() {
    for lmm in BOTH {
        let engine = image_engine(lmm);
        let rvas = engine.get_global_value_address("rvas").unwrap();
        // SAFETY: `rvas` is three finalized u32s.
        let r: [u32; 3] = unsafe { *(rvas as *const [u32; 3]) };
        let target = engine.get_global_value_address("target").unwrap();
        let base = (target + 4).wrapping_sub(u64::from(r[0]));
        assert_eq!(u64::from(r[1]) + base, addr(&engine, "rofn"), "lmm={lmm}");
        assert_eq!(
            u64::from(r[2]) + base,
            engine.get_global_value_address("ro_const").unwrap()
        );
        // The image base is the lowest address of the module's allocation;
        // this module makes no calls and reads nothing through a GOT, so it
        // has no GOT and no stubs and that is its lowest section. Every
        // section lies within 4 GiB above it.
        let (low, high) = module_span(&engine, "image.obj");
        assert_eq!(base, low, "lmm={lmm}");
        assert!(high - base <= u64::from(u32::MAX));
    }
}

#[test]
fn pdata_entries_are_image_relative() {
    let tm = win_machine();
    let mut m = Module::parse_ir(UNWIND, "unwind").unwrap();
    let unwind = tm.emit_object(&mut m).unwrap();
    let ext = coff(
        "define i32 @ext(i32 %x) nounwind { %r = add i32 %x, 4\n ret i32 %r }",
        "ext",
    );
    let parsed = ObjectFile::parse(&unwind, "unwind.obj").unwrap();
    let pdata_count = parsed
        .sections
        .iter()
        .filter(|s| s.name == ".pdata")
        .count();
    assert_eq!(
        pdata_count, 2,
        "one .pdata for the plain functions, one for the COMDAT"
    );
    for lmm in BOTH {
        let engine = coff_engine(lmm);
        engine.keep_link_maps(true);
        engine
            .add_object_bytes(unwind.clone(), "unwind.obj")
            .unwrap();
        engine.add_object_bytes(ext.clone(), "ext.obj").unwrap();
        // SAFETY: win64 `i32 -> i32` functions.
        unsafe {
            assert_eq!(win1::<i32, i32>(addr(&engine, "outer"), 1), 6);
            assert_eq!(win1::<i32, i32>(addr(&engine, "use_inl"), 1), 15);
        }
        let (low, high) = module_span(&engine, "unwind.obj");
        let maps = engine.link_maps();
        let map = &maps.iter().find(|(n, _)| n == "unwind.obj").unwrap().1;
        let functions: Vec<u64> = ["outer", "inl", "use_inl"]
            .iter()
            .map(|f| map.symbols.iter().find(|(n, _)| n == f).unwrap().1)
            .collect();
        let xdata: Vec<(u64, u64)> = map
            .sections
            .iter()
            .filter(|s| s.0 == ".xdata")
            .map(|s| (s.1, s.2))
            .collect();
        let mut entries = Vec::new();
        for s in map.sections.iter().filter(|s| s.0 == ".pdata") {
            // SAFETY: a finalized .pdata section of `s.2` bytes.
            let words = unsafe { std::slice::from_raw_parts(s.1 as *const u32, s.2 as usize / 4) };
            entries.extend(words.chunks(3).map(|e| (e[0], e[1], e[2])));
        }
        // The module calls `ext` in another module, so it may have stubs,
        // which may lie below its sections: take the base the entries imply
        // (the lowest function is the lowest begin) and check that every
        // entry agrees with it.
        let lowest_begin = entries.iter().map(|e| e.0).min().unwrap();
        let base = functions.iter().min().unwrap() - u64::from(lowest_begin);
        assert!(
            base <= low,
            "lmm={lmm}: the image base lies below the module"
        );
        assert!(high - base <= u64::from(u32::MAX));
        let mut begins = Vec::new();
        for (b, e, i) in entries {
            let (begin, end, info) = (
                base + u64::from(b),
                base + u64::from(e),
                base + u64::from(i),
            );
            assert!(functions.contains(&begin), "lmm={lmm}: {begin:#x}");
            assert!(end > begin);
            assert!(xdata.iter().any(|&(x, size)| (x..x + size).contains(&info)));
            begins.push(begin);
        }
        begins.sort_unstable();
        let mut expect = functions.clone();
        expect.sort_unstable();
        assert_eq!(begins, expect);
    }
}

#[test]
fn secrel_fixups_are_offsets_in_the_target_section() {
    for lmm in BOTH {
        let engine = image_engine(lmm);
        let secrels = engine.get_global_value_address("secrels").unwrap();
        // SAFETY: `secrels` is four finalized u32s.
        let v: [u32; 4] = unsafe { *(secrels as *const [u32; 4]) };
        // target is at 8 in .data, ro_const at 8 in .rdata, rofn at 0 in
        // .text, other_sym at 16 in the other object's .data.
        assert_eq!(v, [8 + 3, 8, 2, 16], "lmm={lmm}");
    }
}

#[test]
fn section_fixups_hold_the_target_section_number() {
    let obj = win_machine().assemble(IMAGE_RELOCS).unwrap();
    let parsed = ObjectFile::parse(&obj, "image.obj").unwrap();
    let number = |name: &str| parsed.sections.iter().position(|s| s.name == name).unwrap() as u16;
    let other = win_machine().assemble(OTHER_SYM).unwrap();
    let other_parsed = ObjectFile::parse(&other, "other.obj").unwrap();
    let other_data = other_parsed
        .sections
        .iter()
        .position(|s| s.name == ".data")
        .unwrap() as u16;
    for lmm in BOTH {
        let engine = image_engine(lmm);
        let secidx = engine.get_global_value_address("secidx").unwrap();
        // SAFETY: `secidx` is four finalized u16s.
        let v: [u16; 4] = unsafe { *(secidx as *const [u16; 4]) };
        assert_eq!(
            v,
            [
                number(".data"),
                number(".text"),
                number(".rdata"),
                other_data
            ],
            "lmm={lmm}"
        );
    }
}

// ---------------------------------------------------------------------------
// Calls into the host.

/// libm's `sin` (System V) behind the win64 convention COFF code calls with.
/// The Rust compiler writes the bridge: arguments from rcx/xmm0.., rsi, rdi
/// and xmm6-15 preserved, the shadow space left alone.
extern "win64" fn sin_win64(x: f64) -> f64 {
    x.sin()
}

/// More arguments than registers, mixed integer and floating point.
extern "win64" fn host_mix(a: i32, b: f64, c: i64, d: f32, e: i64, f: f64) -> f64 {
    f64::from(a)
        + b * 10.0
        + (c as f64) * 100.0
        + f64::from(d) * 1000.0
        + (e as f64) * 1e4
        + f * 1e5
}

const HOST_CALLS: &str = r#"
declare double @sin(double)
declare double @host_mix(i32, double, i64, float, i64, double)
define double @sin_plus(double %x) nounwind {
  %s = call double @sin(double %x)
  %r = fadd double %s, 1.0
  ret double %r
}
define double @mix() nounwind {
  %r = call double @host_mix(i32 1, double 2.0, i64 3, float 4.0, i64 5, double 6.0)
  ret double %r
}
; A tail call: `jmp rel32` to the host.
define double @sin_tail(double %x) nounwind {
  %s = tail call double @sin(double %x)
  ret double %s
}
"#;

#[test]
fn calls_into_the_host_go_through_stubs_and_win64_bridges() {
    use rivet::arch::x86_64::Reloc as X;
    use rivet::load::RelocKind;
    let obj = coff(HOST_CALLS, "host");
    let parsed = ObjectFile::parse(&obj, "host.obj").unwrap();
    let kinds: Vec<_> = parsed.sections[1]
        .relocations
        .iter()
        .map(|r| r.kind)
        .collect();
    assert!(kinds.contains(&RelocKind::X86_64(X::Branch32)), "{kinds:?}");
    type Mix = extern "win64" fn(i32, f64, i64, f32, i64, f64) -> f64;
    let sin_addr = sin_win64 as extern "win64" fn(f64) -> f64 as usize as u64;
    let mix_addr = host_mix as Mix as usize as u64;
    for lmm in BOTH {
        let engine = coff_engine(lmm);
        engine.keep_link_maps(true);
        engine.add_symbol("sin", sin_addr);
        engine.add_symbol("host_mix", mix_addr);
        engine.add_object_bytes(obj.clone(), "host.obj").unwrap();
        // SAFETY: win64 functions of the signatures used.
        unsafe {
            let x = 0.5f64;
            assert_eq!(
                win1::<f64, f64>(addr(&engine, "sin_plus"), x),
                x.sin() + 1.0,
                "lmm={lmm}"
            );
            assert_eq!(win1::<f64, f64>(addr(&engine, "sin_tail"), x), x.sin());
            assert_eq!(win0::<f64>(addr(&engine, "mix")), 654_321.0);
        }
        // The host is out of a 32-bit reach of the module: its calls use stubs.
        let maps = engine.link_maps();
        let stubs: Vec<&str> = maps[0].1.stubs.iter().map(|(n, _)| n.as_str()).collect();
        let far = |f: u64| {
            let text = maps[0]
                .1
                .sections
                .iter()
                .find(|s| s.0 == ".text")
                .unwrap()
                .1;
            (f as i64 - text as i64).unsigned_abs() > (1 << 31)
        };
        if far(sin_addr) {
            assert!(stubs.contains(&"sin"), "lmm={lmm}: {stubs:?}");
        }
        if far(mix_addr) {
            assert!(stubs.contains(&"host_mix"), "lmm={lmm}: {stubs:?}");
        }
    }
}

static HOST_VALUE: i32 = 77;

#[test]
fn far_data_references_are_errors_not_stubs() {
    let obj = coff(
        "@host_value = external global i32\n\
         define i32 @read() nounwind { %v = load i32, ptr @host_value\n ret i32 %v }",
        "data",
    );
    let host = std::ptr::addr_of!(HOST_VALUE) as u64;
    for lmm in BOTH {
        let engine = coff_engine(lmm);
        engine.keep_link_maps(true);
        engine.add_symbol("host_value", host);
        engine.add_object_bytes(obj.clone(), "data.obj").unwrap();
        match engine.finalize_object() {
            // The module happened to land within reach: the load is direct.
            Ok(()) => {
                // SAFETY: `read` is a win64 `() -> i32` function.
                assert_eq!(unsafe { win0::<i32>(addr(&engine, "read")) }, 77);
                assert!(engine.link_maps()[0].1.stubs.is_empty());
            }
            Err(Error::RelocationOverflow { site, .. }) => {
                assert_eq!(
                    (site.kind.as_str(), site.symbol.as_str()),
                    ("PC32", "host_value")
                );
            }
            Err(other) => panic!("lmm={lmm}: {other}"),
        }
    }
}

/// A function with debug info, one in a COMDAT: CodeView (`.debug$S`,
/// `.debug$T`, one associative to the COMDAT) and DWARF sections.
const DEBUG_INFO: &str = r#"
define i32 @dbgf(i32 %x) nounwind !dbg !6 {
  %r = add i32 %x, 1, !dbg !9
  ret i32 %r, !dbg !9
}
$cf = comdat any
define linkonce_odr i32 @cf(i32 %x) nounwind comdat !dbg !10 {
  %r = mul i32 %x, 5, !dbg !11
  ret i32 %r, !dbg !11
}
!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!3, !4, !5}
!0 = distinct !DICompileUnit(language: DW_LANG_C99, file: !1, producer: "t", isOptimized: false, runtimeVersion: 0, emissionKind: FullDebug)
!1 = !DIFile(filename: "t.c", directory: "/")
!3 = !{i32 2, !"CodeView", i32 1}
!4 = !{i32 2, !"Debug Info Version", i32 3}
!5 = !{i32 2, !"Dwarf Version", i32 4}
!6 = distinct !DISubprogram(name: "dbgf", scope: !1, file: !1, line: 1, type: !7, scopeLine: 1, spFlags: DISPFlagDefinition, unit: !0)
!7 = !DISubroutineType(types: !8)
!8 = !{null}
!9 = !DILocation(line: 2, column: 3, scope: !6)
!10 = distinct !DISubprogram(name: "cf", scope: !1, file: !1, line: 5, type: !7, scopeLine: 5, spFlags: DISPFlagDefinition, unit: !0)
!11 = !DILocation(line: 6, column: 3, scope: !10)
"#;

#[test]
fn objects_with_debug_info_link_without_loading_it() {
    for triple in [WIN, "x86_64-w64-windows-gnu"] {
        let tm = TargetMachine::new(&TargetOptions {
            triple: Some(triple.into()),
            ..TargetOptions::default()
        })
        .unwrap();
        let mut m = Module::parse_ir(DEBUG_INFO, "dbg").unwrap();
        let obj = tm.emit_object(&mut m).unwrap();
        let parsed = ObjectFile::parse(&obj, "dbg.obj").unwrap();
        let debug: Vec<_> = parsed
            .sections
            .iter()
            .filter(|s| s.name.starts_with(".debug"))
            .collect();
        assert!(debug.len() >= 3, "{triple}: {} debug sections", debug.len());
        for s in debug {
            assert_eq!(
                s.kind,
                rivet::load::SectionKind::Ignored,
                "{triple}: {}",
                s.name
            );
            assert!(s.relocations.is_empty());
        }
        for lmm in BOTH {
            let engine = coff_engine(lmm);
            engine.add_object_bytes(obj.clone(), "dbg.obj").unwrap();
            // SAFETY: win64 `i32 -> i32` functions.
            unsafe {
                assert_eq!(win1::<i32, i32>(addr(&engine, "dbgf"), 41), 42, "{triple}");
                assert_eq!(win1::<i32, i32>(addr(&engine, "cf"), 3), 15, "{triple}");
            }
        }
    }
}

#[test]
fn bad_coff_objects_are_typed_errors_at_add_time() {
    let obj = win_machine().assemble(REL32_STORES).unwrap();
    // IMAGE_REL_AMD64_SREL32 in place of the first REL32.
    let mut srel = obj.clone();
    let sh = section_header(&srel, 1);
    let entry = u32_at(&srel, sh + 24) as usize;
    srel[entry + 8..entry + 10].copy_from_slice(&0x0Eu16.to_le_bytes());
    // A relocation naming a symbol past the table.
    let mut bad_symbol = obj.clone();
    bad_symbol[entry + 4..entry + 8].copy_from_slice(&5000u32.to_le_bytes());
    for lmm in BOTH {
        let engine = coff_engine(lmm);
        match engine.add_object_bytes(srel.clone(), "srel.obj") {
            Err(Error::UnsupportedRelocation {
                object,
                section,
                kind,
                ..
            }) => {
                assert_eq!(
                    (object.as_str(), section.as_str(), kind.as_str()),
                    ("srel.obj", ".text", "IMAGE_REL_AMD64_SREL32")
                );
            }
            other => panic!("expected UnsupportedRelocation, got {other:?}"),
        }
        match engine.add_object_bytes(bad_symbol.clone(), "sym.obj") {
            Err(Error::MalformedObject { object, reason }) => {
                assert_eq!(object, "sym.obj");
                assert!(reason.contains("symbol 5000"), "{reason}");
            }
            other => panic!("expected MalformedObject, got {other:?}"),
        }
        match engine.add_object_bytes(obj[..obj.len() / 3].to_vec(), "cut.obj") {
            Err(Error::MalformedObject { object, .. }) => assert_eq!(object, "cut.obj"),
            other => panic!("expected MalformedObject, got {other:?}"),
        }
        assert_eq!(engine.memory_stats().allocations, 0);
        // The engine still links good objects.
        engine.add_object_bytes(obj.clone(), "good.obj").unwrap();
        // SAFETY: `store5` takes nothing and stores to `slot`; `load_n` returns it.
        unsafe {
            win0::<()>(addr(&engine, "store5"));
            assert_eq!(win0::<i32>(addr(&engine, "load_n")), 5);
        }
    }
}

/// A group `kx` with selection `sel` whose function returns `value`, padded
/// with `pad` bytes of int3 after the `ret`.
fn comdat_copy(sel: &str, value: u32, pad: usize) -> Vec<u8> {
    let asm = format!(
        ".section .text$kx,\"xr\",{sel},kx\n.globl kx\nkx:\n  movl ${value}, %eax\n  ret\n  .fill {pad}, 1, 0xcc\n"
    );
    win_machine().assemble(&asm).unwrap()
}

#[test]
fn comdat_selections_are_enforced_across_objects() {
    let link = |a: Vec<u8>, b: Vec<u8>| {
        let engine = coff_engine(true);
        engine.add_object_bytes(a, "a.obj").unwrap();
        engine.add_object_bytes(b, "b.obj").unwrap();
        let result = engine.finalize_object();
        (engine, result)
    };
    // SAME_SIZE: equal sizes link (first copy kept); different sizes fail.
    let (engine, result) = link(
        comdat_copy("same_size", 1, 0),
        comdat_copy("same_size", 2, 0),
    );
    result.unwrap();
    // SAFETY: `kx` is a finalized win64 `u32 ()`.
    assert_eq!(unsafe { win0::<u32>(addr(&engine, "kx")) }, 1);
    let (_, result) = link(
        comdat_copy("same_size", 1, 0),
        comdat_copy("same_size", 1, 4),
    );
    match result {
        Err(Error::ComdatMismatch {
            name,
            first,
            second,
            reason,
        }) => {
            assert_eq!(
                (name.as_str(), first.as_str(), second.as_str()),
                ("kx", "a.obj", "b.obj")
            );
            assert!(reason.contains("SAME_SIZE"), "{reason}");
        }
        other => panic!("expected ComdatMismatch, got {other:?}"),
    }
    // EXACT_MATCH: identical copies link; different contents fail.
    let (_, result) = link(
        comdat_copy("same_contents", 3, 0),
        comdat_copy("same_contents", 3, 0),
    );
    result.unwrap();
    let (_, result) = link(
        comdat_copy("same_contents", 3, 0),
        comdat_copy("same_contents", 4, 0),
    );
    assert!(
        matches!(&result, Err(Error::ComdatMismatch { reason, .. }) if reason.contains("EXACT_MATCH")),
        "{result:?}"
    );
    // LARGEST: the larger copy is kept, in whichever order they come.
    for (a, b) in [(0, 8), (8, 0)] {
        let (engine, result) = link(
            comdat_copy("largest", 10 + a as u32, a),
            comdat_copy("largest", 10 + b as u32, b),
        );
        result.unwrap();
        assert_eq!(
            // SAFETY: `kx` is a finalized win64 `u32 ()`.
            unsafe { win0::<u32>(addr(&engine, "kx")) },
            18,
            "order {a},{b}"
        );
    }
}
