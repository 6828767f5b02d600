//! Mach-O objects: the loader against goblin, x86-64 programs executed on
//! this host (Mach-O x86-64 code uses the System V convention), every
//! x86-64 and arm64 relocation type linked and its patched bytes checked.

use crate::common::*;
use goblin::mach::{Mach, MachO};
use rivet::llvm::{CodeModel, RelocModel, TargetMachine, TargetOptions};
use rivet::load::{Arch, Binding, Definition, ObjectFile, RelocKind, SectionKind, Target};
use rivet::{Error, ExecutionEngine};

const X86_64: &str = "x86_64-apple-macosx10.15";
const ARM64: &str = "arm64-apple-macosx11.0";

fn mach_machine(triple: &str, reloc: RelocModel, code_model: CodeModel) -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        triple: Some(triple.into()),
        reloc,
        code_model,
        ..TargetOptions::default()
    })
    .unwrap_or_else(|e| panic!("{triple}: {e}"))
}

/// Compiles IR text for `triple` (PIC, small code model).
fn compile(triple: &str, ir: &str, name: &str) -> Vec<u8> {
    compile_with(triple, ir, name, RelocModel::Pic, CodeModel::Small)
}

fn compile_with(
    triple: &str,
    ir: &str,
    name: &str,
    reloc: RelocModel,
    code_model: CodeModel,
) -> Vec<u8> {
    let mut m = module(ir, name);
    mach_machine(triple, reloc, code_model)
        .emit_object(&mut m)
        .unwrap_or_else(|e| panic!("{name} for {triple}: {e}"))
}

fn assemble(triple: &str, asm: &str) -> Vec<u8> {
    mach_machine(triple, RelocModel::Pic, CodeModel::Small)
        .assemble(asm)
        .unwrap_or_else(|e| panic!("{triple}: {e}"))
}

/// An engine for objects only.
fn object_engine(lmm: bool) -> ExecutionEngine {
    ExecutionEngine::with_lmm(Some(lmm)).unwrap()
}

// ---------------------------------------------------------------------------
// Programs.

/// Calls and data across modules, weak definitions and weak references.
const PROVIDER: &str = r#"
@b_global = global i64 100
@b_table = global [2 x ptr] [ptr @b_global, ptr @helper_b]

define i64 @helper_b(i64 %x) {
  %r = mul i64 %x, 3
  ret i64 %r
}

; The strong definition of a name the user module defines weakly.
define i64 @which() {
  ret i64 2
}
"#;

const USER: &str = r#"
@b_global = external global i64
@b_table = external global [2 x ptr]
declare i64 @helper_b(i64)
declare extern_weak i64 @missing(i64)
declare double @sin(double)

define weak i64 @which() {
  ret i64 1
}

define weak i64 @only_weak() {
  ret i64 77
}

define i64 @call_which() {
  %r = call i64 @which()
  ret i64 %r
}

define i64 @call_only_weak() {
  %r = call i64 @only_weak()
  ret i64 %r
}

define i64 @cross(i64 %x) {
  %a = call i64 @helper_b(i64 %x)
  %g = load i64, ptr @b_global
  %n = add i64 %g, 1
  store i64 %n, ptr @b_global
  %r = add i64 %a, %g
  ret i64 %r
}

define i64 @cross_table(i64 %x) {
  %p = getelementptr [2 x ptr], ptr @b_table, i64 0, i64 1
  %f = load ptr, ptr %p
  %r = call i64 %f(i64 %x)
  ret i64 %r
}

define i1 @missing_is_null() {
  %c = icmp eq ptr @missing, null
  ret i1 %c
}

define double @wave(double %x) {
  %s = call double @sin(double %x)
  %r = fmul double %s, 2.5
  ret double %r
}
"#;

const CLASSIFY: [i32; 16] = [
    101, 203, 307, 401, 509, 601, 701, 809, 907, 1009, 1103, 1201, 1301, 1409, 1511, 1601,
];

/// Runs the shared test program (`programs::PROGRAM`) compiled to Mach-O.
fn check_program(engine: &ExecutionEngine, what: &str) {
    let bump = engine.get_function_address("bump").unwrap();
    let counter = engine.get_global_value_address("counter").unwrap();
    let classify = engine.get_function_address("classify").unwrap();
    let poly = engine.get_function_address("poly").unwrap();
    let trig = engine.get_function_address("trig").unwrap();
    let sum_values = engine.get_function_address("sum_values").unwrap();
    let values = engine.get_global_value_address("values").unwrap();
    let dispatch = engine.get_function_address("dispatch").unwrap();
    // SAFETY: each address is a finalized function of the signature used
    // (Mach-O x86-64 code follows the System V convention), or a global of
    // the type read.
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
fn x86_64_program_executes_natively() {
    let models = [
        (RelocModel::Pic, CodeModel::Small),
        (RelocModel::Pic, CodeModel::Large),
        (RelocModel::Static, CodeModel::Small),
        (RelocModel::Static, CodeModel::Large),
    ];
    for (reloc, cm) in models {
        let bytes = compile_with(X86_64, crate::programs::PROGRAM, "program", reloc, cm);
        let obj = ObjectFile::parse(&bytes, "program.o").unwrap();
        assert_eq!(
            (obj.arch, obj.format),
            (Arch::X86_64, rivet::load::Format::MachO)
        );
        for lmm in BOTH {
            if !lmm && cm == CodeModel::Small && reloc == RelocModel::Static {
                // Static small code takes 32-bit absolute addresses, which
                // the per-section manager cannot promise.
                continue;
            }
            let engine = object_engine(lmm);
            engine.add_object_bytes(bytes.clone(), "program.o").unwrap();
            check_program(&engine, &format!("Mach-O {reloc:?}/{cm:?} lmm={lmm}"));
        }
    }
}

#[test]
fn x86_64_modules_call_each_other_and_weak_definitions_yield() {
    let user = compile(X86_64, USER, "user");
    let provider = compile(X86_64, PROVIDER, "provider");
    for lmm in BOTH {
        let engine = object_engine(lmm);
        engine.add_object_bytes(user.clone(), "user.o").unwrap();
        engine
            .add_object_bytes(provider.clone(), "provider.o")
            .unwrap();
        let call_which = engine.get_function_address("call_which").unwrap();
        let call_only_weak = engine.get_function_address("call_only_weak").unwrap();
        let cross = engine.get_function_address("cross").unwrap();
        let cross_table = engine.get_function_address("cross_table").unwrap();
        let missing_is_null = engine.get_function_address("missing_is_null").unwrap();
        let wave = engine.get_function_address("wave").unwrap();
        let b_global = engine.get_global_value_address("b_global").unwrap();
        let which = engine.get_function_address("which").unwrap();
        let helper_b = engine.get_function_address("helper_b").unwrap();
        // SAFETY: finalized functions of the signatures used; b_global is an i64.
        unsafe {
            assert_eq!(
                call0::<i64>(call_which),
                2,
                "lmm={lmm}: the strong `which` wins"
            );
            assert_eq!(
                call0::<i64>(which),
                2,
                "lmm={lmm}: the engine names the strong one"
            );
            assert_eq!(call0::<i64>(call_only_weak), 77, "lmm={lmm}");
            assert_eq!(call1::<i64, i64>(cross, 4), 12 + 100, "lmm={lmm}");
            assert_eq!(
                *(b_global as *const i64),
                101,
                "lmm={lmm}: store across modules"
            );
            assert_eq!(call1::<i64, i64>(cross, 1), 3 + 101, "lmm={lmm}");
            assert_eq!(call1::<i64, i64>(cross_table, 5), 15, "lmm={lmm}");
            assert!(
                call0::<bool>(missing_is_null),
                "lmm={lmm}: undefined weak is null"
            );
            let x = 0.4f64;
            assert_eq!(
                call1::<f64, f64>(wave, x),
                x.sin() * 2.5,
                "lmm={lmm}: _sin is sin"
            );
            // The data pointer in b_table points at helper_b.
            let table = engine.get_global_value_address("b_table").unwrap();
            assert_eq!(*(table as *const u64), b_global, "lmm={lmm}");
            assert_eq!(*(table as *const u64).add(1), helper_b, "lmm={lmm}");
        }
    }
}

#[test]
fn x86_64_common_symbols_share_storage() {
    // Two Mach-O objects each declaring a common block `shared` (tentative
    // definitions in C): one storage, the larger size.
    let a = assemble(
        X86_64,
        ".comm _shared, 16, 3\n.text\n.globl _set_a\n_set_a:\n movq %rdi, _shared(%rip)\n ret\n",
    );
    let b = assemble(
        X86_64,
        ".comm _shared, 32, 4\n.text\n.globl _get_b\n_get_b:\n movq _shared(%rip), %rax\n ret\n",
    );
    let obj = ObjectFile::parse(&b, "b.o").unwrap();
    let shared = obj.symbols.iter().find(|s| s.name == "shared").unwrap();
    assert_eq!(
        shared.definition,
        Definition::Common {
            size: 32,
            align: 16
        }
    );
    for lmm in BOTH {
        let engine = object_engine(lmm);
        engine.add_object_bytes(a.clone(), "a.o").unwrap();
        engine.add_object_bytes(b.clone(), "b.o").unwrap();
        let set_a = engine.get_function_address("set_a").unwrap();
        let get_b = engine.get_function_address("get_b").unwrap();
        let addr = engine.get_global_value_address("shared").unwrap();
        assert_eq!(addr % 16, 0, "the larger alignment wins");
        // SAFETY: finalized `void (i64)` and `i64 ()`.
        unsafe {
            call1::<i64, ()>(set_a, 0x5eed);
            assert_eq!(call0::<i64>(get_b), 0x5eed, "lmm={lmm}");
            assert_eq!(*(addr as *const i64), 0x5eed);
        }
    }
}

/// The (address, size) of section `name` in the engine's only link map.
fn mapped_section(engine: &ExecutionEngine, name: &str) -> (u64, u64) {
    let maps = engine.link_maps();
    let (_, map) = &maps[0];
    let (_, addr, size, _, _) = map
        .sections
        .iter()
        .find(|(n, ..)| n == name)
        .unwrap_or_else(|| panic!("no `{name}` in {:?}", map.sections));
    (*addr, *size)
}

/// The records of an `__eh_frame` in memory: (address of the CIE-id
/// field, id, end address).
fn eh_records(addr: u64, size: u64) -> Vec<(u64, u32, u64)> {
    let mut out = Vec::new();
    let mut at = addr;
    while at < addr + size {
        let length = read::<u32>(at);
        if length == 0 {
            break;
        }
        out.push((at + 4, read::<u32>(at + 4), at + 4 + u64::from(length)));
        at += 4 + u64::from(length);
    }
    out
}

#[test]
fn x86_64_eh_frame_describes_the_linked_functions() {
    // LLVM resolves an x86-64 FDE's pc_begin at assembly time (no
    // relocation); the loader must add one, or the linked table would point
    // at the object's layout.
    let bytes = compile(X86_64, crate::programs::PROGRAM, "program");
    let functions = [
        "bump",
        "classify",
        "poly",
        "trig",
        "sum_values",
        "twice",
        "thrice",
        "dispatch",
    ];
    for lmm in BOTH {
        let engine = object_engine(lmm);
        engine.keep_link_maps(true);
        engine.add_object_bytes(bytes.clone(), "program.o").unwrap();
        engine.finalize_object().unwrap();
        let mut starts: Vec<u64> = functions
            .iter()
            .map(|f| engine.get_function_address(f).unwrap())
            .collect();
        starts.sort();
        let (eh, eh_size) = mapped_section(&engine, "__eh_frame");
        let (text, text_size) = mapped_section(&engine, "__text");
        let mut described = Vec::new();
        for (start, id, _) in eh_records(eh, eh_size) {
            if id == 0 {
                continue;
            }
            // The CIE says "zR" with encoding 0x10: pc-relative, 8 bytes.
            let field = start + 4;
            let begin = field.wrapping_add(read::<i64>(field) as u64);
            let range = read::<u64>(field + 8);
            assert!(
                begin >= text && begin + range <= text + text_size,
                "lmm={lmm}: FDE {begin:#x}"
            );
            described.push(begin);
        }
        described.sort();
        assert_eq!(
            described, starts,
            "lmm={lmm}: one FDE per function, at its start"
        );
    }
}

#[test]
fn x86_64_eh_frame_personality_and_lsda_are_linked() {
    let ir = r#"
        declare i32 @__gxx_personality_v0(...)
        declare void @may_throw()
        define i32 @catcher() personality ptr @__gxx_personality_v0 {
        entry:
          invoke void @may_throw() to label %ok unwind label %lp
        ok:
          ret i32 0
        lp:
          %l = landingpad { ptr, i32 } cleanup
          ret i32 1
        }
    "#;
    let bytes = compile(X86_64, ir, "eh");
    let personality = 0x0000_7777_0000_1000u64;
    let engine = object_engine(true);
    engine.keep_link_maps(true);
    engine.add_global_mapping("__gxx_personality_v0", personality);
    engine.add_global_mapping("may_throw", host_ext as *const () as u64);
    engine.add_object_bytes(bytes, "eh.o").unwrap();
    engine.finalize_object().unwrap();
    let catcher = engine.get_function_address("catcher").unwrap();
    let (eh, eh_size) = mapped_section(&engine, "__eh_frame");
    let (lsda, _) = mapped_section(&engine, "__gcc_except_tab");
    let records = eh_records(eh, eh_size);
    let cie = records.iter().find(|r| r.1 == 0).unwrap();
    // version 1, "zPLR\0", code align, data align, return register,
    // augmentation length, then 'P': encoding and pointer.
    assert_eq!(read::<[u8; 6]>(cie.0 + 5), *b"zPLR\0\x01");
    let mut at = cie.0 + 10;
    for _ in 0..3 {
        assert!(read::<u8>(at) < 0x80, "one-byte LEB128");
        at += 1;
    }
    assert_eq!(read::<u8>(at + 1), 0x9b, "indirect pc-relative sdata4");
    let field = at + 2;
    let slot = field.wrapping_add(read::<i32>(field) as i64 as u64);
    assert_eq!(read::<u64>(slot), personality, "the personality's GOT slot");
    assert_eq!(
        (read::<u8>(field + 4), read::<u8>(field + 5)),
        (0x10, 0x10),
        "L and R encodings"
    );
    let fde = records.iter().find(|r| r.1 != 0).unwrap();
    let pc_begin = fde.0 + 4;
    assert_eq!(pc_begin.wrapping_add(read::<i64>(pc_begin) as u64), catcher);
    assert_eq!(read::<u8>(pc_begin + 16), 8, "augmentation length");
    let lsda_field = pc_begin + 17;
    assert_eq!(
        lsda_field.wrapping_add(read::<i64>(lsda_field) as u64),
        lsda
    );
}

// ---------------------------------------------------------------------------
// (c) Every x86-64 relocation type, linked and checked.

const X86_EVERY: &str = r#"
    .text
    .globl _code
_code:
    movq _ext@GOTPCREL(%rip), %rax
    pushq _ext@GOTPCREL(%rip)
    movl _var(%rip), %eax
    movl _var+4(%rip), %eax
    movb $1, _var(%rip)
    movw $1, _var(%rip)
    movl $1, _var(%rip)
    call _ext
    call _code
    leaq Lloc(%rip), %rax
    addl $6, Lloc(%rip)
    movl $0x12345678, Lloc+8(%rip)
    ret
    .data
Lloc:
    .quad 5, 6
    .globl _var
_var:
    .quad 0
    .globl _tbl
_tbl:
    .quad _var + 8
    .quad _code - _tbl
    .long _code - _tbl + 8
    .quad Lloc + 2
    .long _ext@GOTPCREL
    .long _small
"#;

extern "C" fn host_ext() -> i64 {
    42
}

fn read<T: Copy>(addr: u64) -> T {
    // SAFETY: the tests read only linked, finalized (readable) memory of at
    // least size_of::<T>() bytes at `addr`; read_unaligned allows any address.
    unsafe { std::ptr::read_unaligned(addr as *const T) }
}

/// Where a rip-relative field at `field` (4 bytes) points from the end of
/// its instruction, `next`.
fn rip_target(field: u64, next: u64) -> u64 {
    next.wrapping_add(read::<i32>(field) as i64 as u64)
}

/// Whether `addr` is `target` itself or a stub that jumps to it.
fn reaches(addr: u64, target: u64) -> bool {
    if addr == target {
        return true;
    }
    // jmp *disp32(%rip) through a GOT slot holding the target.
    read::<[u8; 2]>(addr) == [0xFF, 0x25] && read::<u64>(rip_target(addr + 2, addr + 6)) == target
}

#[test]
fn x86_64_every_relocation_type_is_patched() {
    let bytes = assemble(X86_64, X86_EVERY);
    let ext = host_ext as *const () as u64;
    for lmm in BOTH {
        let engine = object_engine(lmm);
        engine.add_global_mapping("ext", ext);
        engine.add_global_mapping("small", 0x1234);
        engine.add_object_bytes(bytes.clone(), "every.o").unwrap();
        let c = engine.get_function_address("code").unwrap();
        let v = engine.get_global_value_address("var").unwrap();
        let t = engine.get_global_value_address("tbl").unwrap();
        // Lloc is the start of __data, 16 bytes before _var.
        let l = v - 16;
        // The instructions are where the assembly puts them.
        for (offset, opcode) in [
            (0x00, 0x48),
            (0x07, 0xff),
            (0x33, 0xe8),
            (0x38, 0xe8),
            (0x55, 0xc3),
        ] {
            assert_eq!(read::<u8>(c + offset), opcode, "code+{offset:#x}");
        }
        // GOT_LOAD and GOT: one slot holding ext.
        let slot = rip_target(c + 0x03, c + 0x07);
        assert_eq!(read::<u64>(slot), ext, "GOT_LOAD slot");
        assert_eq!(rip_target(c + 0x09, c + 0x0d), slot, "GOT shares the slot");
        // SIGNED, SIGNED_1/2/4: the end of each instruction is the base.
        assert_eq!(rip_target(c + 0x0f, c + 0x13), v, "SIGNED");
        assert_eq!(rip_target(c + 0x15, c + 0x19), v + 4, "SIGNED +4");
        assert_eq!(rip_target(c + 0x1b, c + 0x20), v, "SIGNED_1");
        assert_eq!(rip_target(c + 0x23, c + 0x29), v, "SIGNED_2");
        assert_eq!(rip_target(c + 0x2b, c + 0x33), v, "SIGNED_4");
        // BRANCH: to ext (directly or through a stub) and to itself.
        assert!(
            reaches(rip_target(c + 0x34, c + 0x38), ext),
            "BRANCH to ext"
        );
        assert_eq!(rip_target(c + 0x39, c + 0x3d), c, "BRANCH to code");
        // Section-relative SIGNED, SIGNED_1, SIGNED_4.
        assert_eq!(rip_target(c + 0x40, c + 0x44), l, "SIGNED to Lloc");
        assert_eq!(rip_target(c + 0x46, c + 0x4b), l, "SIGNED_1 to Lloc");
        assert_eq!(rip_target(c + 0x4d, c + 0x55), l + 8, "SIGNED_4 to Lloc+8");
        assert_eq!(
            read::<u32>(c + 0x51),
            0x1234_5678,
            "the immediate is intact"
        );
        // Data.
        assert_eq!(read::<u64>(t), v + 8, "UNSIGNED 64");
        assert_eq!(read::<i64>(t + 8), c as i64 - t as i64, "SUBTRACTOR 64");
        assert_eq!(
            read::<i32>(t + 16) as i64,
            c as i64 - t as i64 + 8,
            "SUBTRACTOR 32"
        );
        assert_eq!(read::<u64>(t + 20), l + 2, "UNSIGNED 64 section-relative");
        let data_slot = rip_target(t + 28, t + 32);
        assert_eq!(read::<u64>(data_slot), ext, "GOT in data");
        assert_eq!(read::<u32>(t + 32), 0x1234, "UNSIGNED 32");
    }
}

#[test]
fn x86_64_refused_relocations_are_typed_errors() {
    // A 64-bit GOT-relative quad has no meaning for ld64 either.
    let quad = assemble(X86_64, ".data\n.globl _d\n_d:\n .quad _x@GOTPCREL\n");
    let engine = object_engine(true);
    match engine.add_object_bytes(quad, "quad.o") {
        Err(Error::UnsupportedRelocation {
            object,
            section,
            offset,
            kind,
        }) => {
            assert_eq!(
                (object.as_str(), section.as_str(), offset),
                ("quad.o", "__data", 0)
            );
            assert!(kind.contains("X86_64_RELOC_GOT"), "{kind}");
        }
        other => panic!("expected UnsupportedRelocation, got {other:?}"),
    }
    // An out-of-range absolute 32-bit pointer is an overflow, not a truncation.
    let obj = assemble(X86_64, ".data\n.globl _p\n_p:\n .long _far\n");
    let engine = object_engine(true);
    engine.add_global_mapping("far", 0x1_0000_0000);
    engine.add_object_bytes(obj, "far.o").unwrap();
    match engine.finalize_object() {
        Err(Error::RelocationOverflow { site, value, .. }) => {
            assert_eq!(
                (site.section.as_str(), site.symbol.as_str()),
                ("__data", "far")
            );
            assert_eq!(value, 0x1_0000_0000);
        }
        other => panic!("expected RelocationOverflow, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// (d) arm64: parsed and linked, instruction words checked.

const ARM64_EVERY: &str = r#"
    .text
    .globl _code
    .p2align 2
_code:
    bl _fn
    bl _fn+8
    adrp x0, _var@PAGE
    add x0, x0, _var@PAGEOFF
    adrp x1, _var@PAGE+16
    ldr x1, [x1, _var@PAGEOFF+16]
    ldr w2, [x1, _var@PAGEOFF+4]
    ldrb w3, [x1, _var@PAGEOFF+1]
    adrp x3, _ext@GOTPAGE
    ldr x3, [x3, _ext@GOTPAGEOFF]
    adrp x4, _var@PAGE-16
    add x4, x4, _var@PAGEOFF-16
    ldr q0, [x1, _var@PAGEOFF+16]
    ret
    .globl _fn
    .p2align 2
_fn:
    nop
    nop
    ret
    .data
    .p2align 4
    .globl _var
_var:
    .quad 1, 2, 3, 4
    .globl _tbl
_tbl:
    .quad _var + 8
    .long _small
    .quad _fn - _tbl
    .long _fn - _tbl
    .long _ext@GOT - .
    .quad _ext@GOT
"#;

fn page(x: u64) -> u64 {
    x & !0xfff
}

fn bl(p: u64, target: u64) -> u32 {
    0x9400_0000 | ((target.wrapping_sub(p) >> 2) as u32 & 0x03ff_ffff)
}

fn adrp(rd: u32, p: u64, target: u64) -> u32 {
    let pages = (page(target).wrapping_sub(page(p)) as i64) >> 12;
    let immlo = (pages as u32) & 0x3;
    let immhi = ((pages >> 2) as u32) & 0x7_ffff;
    0x9000_0000 | immlo << 29 | immhi << 5 | rd
}

fn add_imm(rd: u32, rn: u32, imm12: u64) -> u32 {
    0x9100_0000 | (imm12 as u32) << 10 | rn << 5 | rd
}

/// `ldr`/`ldrb` (unsigned offset) with the opcode bits `base` and the
/// access size `scale` (log2 bytes).
fn ldst(base: u32, rt: u32, rn: u32, offset: u64, scale: u32) -> u32 {
    assert_eq!(offset % (1 << scale), 0, "misaligned offset in the test");
    base | ((offset >> scale) as u32) << 10 | rn << 5 | rt
}

#[test]
fn arm64_objects_parse_and_agree_on_every_type() {
    // The relocations rivet will link below, as the loader sees them.
    let bytes = assemble(ARM64, ARM64_EVERY);
    let obj = ObjectFile::parse(&bytes, "every-arm64.o").unwrap();
    assert_eq!(obj.arch, Arch::Aarch64);
    let names: Vec<String> = obj
        .sections
        .iter()
        .flat_map(|s| s.relocations.iter().map(|r| format!("{:?}", r.kind)))
        .collect();
    assert_eq!(names.len(), 13 + 6, "{names:?}");
    let has = |kind: rivet::arch::aarch64::Reloc| {
        obj.sections
            .iter()
            .flat_map(|s| &s.relocations)
            .any(|r| r.kind == RelocKind::Aarch64(kind))
    };
    use rivet::arch::aarch64::Reloc as A;
    for kind in [
        A::Call26,
        A::AdrPrelPgHi21,
        A::PageOff12,
        A::AdrGotPage,
        A::Ld64GotLo12Nc,
        A::Abs64,
        A::Abs32,
        A::GotPrel32,
        A::GotAbs64,
    ] {
        assert!(has(kind), "{kind:?} missing");
    }
}

#[test]
fn arm64_every_relocation_type_is_patched() {
    let bytes = assemble(ARM64, ARM64_EVERY);
    let ext = 0x0000_1122_3344_5566u64;
    let engine = object_engine(true);
    engine.add_global_mapping("ext", ext);
    engine.add_global_mapping("small", 0x1234);
    engine.add_object_bytes(bytes, "every-arm64.o").unwrap();
    let c = engine.get_function_address("code").unwrap();
    let f = engine.get_function_address("fn").unwrap();
    let v = engine.get_global_value_address("var").unwrap();
    let t = engine.get_global_value_address("tbl").unwrap();
    let word = |offset: u64| read::<u32>(c + offset);
    assert_eq!(word(0x00), bl(c, f), "BRANCH26");
    assert_eq!(word(0x04), bl(c + 4, f + 8), "BRANCH26 with ADDEND");
    assert_eq!(word(0x08), adrp(0, c + 8, v), "PAGE21");
    assert_eq!(word(0x0c), add_imm(0, 0, v & 0xfff), "PAGEOFF12 add");
    assert_eq!(word(0x10), adrp(1, c + 0x10, v + 16), "PAGE21 with ADDEND");
    assert_eq!(
        word(0x14),
        ldst(0xf940_0000, 1, 1, (v + 16) & 0xfff, 3),
        "PAGEOFF12 ldr x"
    );
    assert_eq!(
        word(0x18),
        ldst(0xb940_0000, 2, 1, (v + 4) & 0xfff, 2),
        "PAGEOFF12 ldr w"
    );
    assert_eq!(
        word(0x1c),
        ldst(0x3940_0000, 3, 1, (v + 1) & 0xfff, 0),
        "PAGEOFF12 ldrb"
    );
    // The GOT slot the adrp/ldr pair reaches holds ext.
    let adrp_word = word(0x20);
    let pages = (((adrp_word >> 29) & 3) | ((adrp_word >> 5) & 0x7_ffff) << 2) as i64;
    let pages = (pages << 43) >> 43; // sign-extend 21 bits
    let slot_page = page(c + 0x20).wrapping_add((pages << 12) as u64);
    let slot = slot_page + u64::from((word(0x24) >> 10) & 0xfff) * 8;
    assert_eq!(word(0x20), adrp(3, c + 0x20, slot), "GOT_LOAD_PAGE21");
    assert_eq!(
        word(0x24),
        ldst(0xf940_0000, 3, 3, slot & 0xfff, 3),
        "GOT_LOAD_PAGEOFF12"
    );
    assert_eq!(read::<u64>(slot), ext, "the GOT slot holds ext");
    // A negative ADDEND (written unmasked by LLVM's assembler).
    assert_eq!(word(0x28), adrp(4, c + 0x28, v - 16), "PAGE21 - 16");
    assert_eq!(
        word(0x2c),
        add_imm(4, 4, (v - 16) & 0xfff),
        "PAGEOFF12 - 16"
    );
    assert_eq!(
        word(0x30),
        ldst(0x3dc0_0000, 0, 1, (v + 16) & 0xfff, 4),
        "PAGEOFF12 ldr q"
    );
    // Data.
    assert_eq!(read::<u64>(t), v + 8, "UNSIGNED 64");
    assert_eq!(read::<u32>(t + 8), 0x1234, "UNSIGNED 32");
    assert_eq!(read::<i64>(t + 12), f as i64 - t as i64, "SUBTRACTOR 64");
    assert_eq!(
        read::<i32>(t + 20) as i64,
        f as i64 - t as i64,
        "SUBTRACTOR 32"
    );
    assert_eq!(
        read::<i32>(t + 24) as i64,
        slot as i64 - (t + 24) as i64,
        "POINTER_TO_GOT 32 (pc-relative)"
    );
    assert_eq!(read::<u64>(t + 28), slot, "POINTER_TO_GOT 64");
}

// ---------------------------------------------------------------------------
// (a) The loader against goblin.

/// The model kind a raw Mach-O entry must map to (an independent table).
fn expected_kind(arch: Arch, r_type: u8, pcrel: bool, length: u8) -> RelocKind {
    use rivet::arch::aarch64::Reloc as A;
    use rivet::arch::x86_64::Reloc as X;
    match arch {
        Arch::X86_64 => RelocKind::X86_64(match (r_type, pcrel, length) {
            (0, false, 3) | (5, false, 3) => X::Abs64,
            (0, false, 2) => X::Abs32,
            (5, false, 2) => X::Abs32S,
            (1 | 6 | 7 | 8, true, 2) => X::Pc32,
            (2, true, 2) => X::Branch32,
            // GOT_LOAD (a movq the linker may relax), GOT.
            (3, true, 2) => X::GotPcRelX,
            (4, true, 2) => X::GotPcRel32,
            other => panic!("no x86-64 kind for {other:?}"),
        }),
        Arch::Aarch64 => RelocKind::Aarch64(match (r_type, pcrel, length) {
            (0 | 1, false, 3) => A::Abs64,
            (0 | 1, false, 2) => A::Abs32,
            (2, true, 2) => A::Call26,
            (3, true, 2) => A::AdrPrelPgHi21,
            (4, false, 2) => A::PageOff12,
            (5, true, 2) => A::AdrGotPage,
            (6, false, 2) => A::Ld64GotLo12Nc,
            (7, true, 2) => A::GotPrel32,
            (7, false, 3) => A::GotAbs64,
            other => panic!("no arm64 kind for {other:?}"),
        }),
        Arch::Riscv64 => panic!("Mach-O has no RISC-V objects"),
    }
}

fn goblin_objects() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("x86-every".to_string(), assemble(X86_64, X86_EVERY)),
        ("arm64-every".to_string(), assemble(ARM64, ARM64_EVERY)),
    ];
    for triple in [X86_64, ARM64] {
        for (name, ir) in [
            ("program", crate::programs::PROGRAM),
            ("user", USER),
            ("provider", PROVIDER),
        ] {
            out.push((format!("{name}/{triple}"), compile(triple, ir, name)));
        }
        let large = compile_with(
            triple,
            crate::programs::PROGRAM,
            "program",
            RelocModel::Static,
            CodeModel::Large,
        );
        out.push((format!("program-static-large/{triple}"), large));
    }
    out
}

#[test]
fn symbols_and_relocations_agree_with_goblin() {
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    for (what, bytes) in goblin_objects() {
        let ours = ObjectFile::parse(&bytes, &what).unwrap();
        let Mach::Binary(theirs) = Mach::parse(&bytes).unwrap() else {
            panic!("{what}: not a single-architecture Mach-O");
        };
        let theirs: MachO<'_> = theirs;
        assert!(theirs.is_object_file(), "{what}");

        // Sections, numbered from 1 across segments.
        let mut addrs = vec![0u64];
        let mut headers = Vec::new();
        for segment in theirs.segments.iter() {
            for (section, _) in segment.sections().unwrap() {
                addrs.push(section.addr);
                headers.push(section);
            }
        }
        assert_eq!(
            ours.sections.len(),
            headers.len() + 1,
            "{what}: section count"
        );
        for (i, h) in headers.iter().enumerate() {
            assert_eq!(
                ours.sections[i + 1].name,
                h.name().unwrap(),
                "{what}: section {}",
                i + 1
            );
            assert_eq!(ours.sections[i + 1].size, h.size, "{what}");
        }

        // Symbols, one for one, names without the underscore.
        let symbols: Vec<_> = theirs.symbols().map(|s| s.unwrap()).collect();
        assert_eq!(ours.symbols.len(), symbols.len(), "{what}: symbol count");
        for (i, (name, nlist)) in symbols.iter().enumerate() {
            let mine = &ours.symbols[i];
            if nlist.is_stab() {
                assert_eq!(
                    (mine.name, mine.binding),
                    ("", Binding::Local),
                    "{what}: stab {i}"
                );
                continue;
            }
            assert_eq!(
                mine.name,
                name.strip_prefix('_').unwrap_or(name),
                "{what}: symbol {i}"
            );
            let binding = if !nlist.is_global() {
                Binding::Local
            } else if nlist.is_weak() {
                Binding::Weak
            } else {
                Binding::Global
            };
            assert_eq!(mine.binding, binding, "{what}: {name}");
            match mine.definition {
                Definition::Undefined => {
                    assert!(nlist.is_undefined() && nlist.n_value == 0, "{what}: {name}")
                }
                Definition::Common { size, .. } => {
                    assert!(nlist.is_undefined(), "{what}: {name}");
                    assert_eq!(size, nlist.n_value, "{what}: {name}");
                }
                Definition::Section { section, offset } => {
                    assert_eq!(section as usize, nlist.n_sect, "{what}: {name}");
                    assert_eq!(
                        offset,
                        nlist.n_value - addrs[nlist.n_sect],
                        "{what}: {name}"
                    );
                }
                Definition::Absolute(v) => assert_eq!(v, nlist.n_value, "{what}: {name}"),
            }
        }

        // Relocations: goblin's entries with SUBTRACTOR/UNSIGNED pairs and
        // arm64 ADDENDs folded, against the model's, in file order.
        let mut compared = 0;
        for (i, h) in headers.iter().enumerate() {
            let section = &ours.sections[i + 1];
            if !section.kind.is_loaded() {
                assert!(section.relocations.is_empty(), "{what}");
                continue;
            }
            let raw: Vec<_> = h
                .iter_relocations(&bytes, ctx)
                .map(|r| r.unwrap())
                .collect();
            let mut expected = Vec::new();
            let mut k = 0;
            let mut addend_pending = false;
            while k < raw.len() {
                let r = raw[k];
                k += 1;
                let arm_addend =
                    ours.arch == Arch::Aarch64 && (r.r_type() == 10 || r.r_info >> 24 == 0xff);
                if arm_addend {
                    addend_pending = true;
                    continue;
                }
                let target = |r: goblin::mach::relocation::RelocationInfo| {
                    if r.is_extern() {
                        Target::Symbol(r.r_symbolnum() as u32)
                    } else {
                        Target::Section(r.r_symbolnum() as u32)
                    }
                };
                let subtractor = if ours.arch == Arch::X86_64 { 5 } else { 1 };
                let (to, from) = if r.r_type() == subtractor {
                    let u = raw[k];
                    k += 1;
                    assert_eq!((u.r_type(), u.r_address), (0, r.r_address), "{what}: pair");
                    (target(u), Some(target(r)))
                } else {
                    (target(r), None)
                };
                let kind = expected_kind(ours.arch, r.r_type(), r.is_pic(), r.r_length());
                expected.push((r.r_address as u64, kind, to, from, addend_pending));
                addend_pending = false;
            }
            // The loader appends the relocations x86-64 __eh_frame leaves
            // implicit; every other section has exactly the file's.
            assert!(
                section.relocations.len() >= expected.len(),
                "{what}: {}",
                section.name
            );
            let all = section.relocations.to_vec();
            let (explicit, implicit) = all.split_at(expected.len());
            if section.kind != SectionKind::Unwind {
                assert!(
                    implicit.is_empty(),
                    "{what}: {}: {implicit:?}",
                    section.name
                );
            }
            for r in implicit {
                use rivet::arch::x86_64::Reloc as X;
                assert_eq!(ours.arch, Arch::X86_64, "{what}");
                assert!(matches!(r.target, Target::Section(_)), "{what}: {r:?}");
                assert!(
                    r.kind == RelocKind::X86_64(X::Pc64) || r.kind == RelocKind::X86_64(X::Pc32),
                    "{what}: {r:?}"
                );
                assert!(
                    !explicit.iter().any(|e| e.offset == r.offset),
                    "{what}: {r:?}"
                );
            }
            for (mine, (offset, kind, to, from, has_addend)) in explicit.iter().zip(expected) {
                assert_eq!(
                    (mine.offset, mine.kind, mine.target, mine.subtrahend),
                    (offset, kind, to, from),
                    "{what}: {}",
                    section.name
                );
                if has_addend {
                    assert_ne!(mine.addend, 0, "{what}: ADDEND at {offset:#x}");
                }
                compared += 1;
            }
        }
        assert!(compared > 0, "{what}: no relocations compared");
        if what.starts_with("program/") {
            // The program's functions are in a text section of the model.
            let bump = ours.symbols.iter().find(|s| s.name == "bump").unwrap();
            let Definition::Section { section, .. } = bump.definition else {
                panic!("{what}: bump undefined");
            };
            assert_eq!(ours.sections[section as usize].kind, SectionKind::Text);
        }
    }
}

#[test]
fn arm64_compiled_programs_link() {
    // Not executed here (that needs an emulator): linked, and the data the
    // linker wrote checked against the addresses it published.
    let engine = object_engine(true);
    engine
        .add_object_bytes(
            compile(ARM64, crate::programs::PROGRAM, "program"),
            "program.o",
        )
        .unwrap();
    engine
        .add_object_bytes(compile(ARM64, USER, "user"), "user.o")
        .unwrap();
    engine
        .add_object_bytes(compile(ARM64, PROVIDER, "provider"), "provider.o")
        .unwrap();
    engine.finalize_object().unwrap();
    let table = engine.get_global_value_address("table").unwrap();
    let twice = engine.get_function_address("twice").unwrap();
    let thrice = engine.get_function_address("thrice").unwrap();
    assert_eq!(
        (read::<u64>(table), read::<u64>(table + 8)),
        (twice, thrice)
    );
    let b_table = engine.get_global_value_address("b_table").unwrap();
    let b_global = engine.get_global_value_address("b_global").unwrap();
    let helper_b = engine.get_function_address("helper_b").unwrap();
    assert_eq!(read::<u64>(b_table), b_global);
    assert_eq!(read::<u64>(b_table + 8), helper_b);
    assert_eq!(read::<i64>(b_global), 100);
    // The strong `which` of the provider is the one the engine names, and
    // the user's `call_which` branches to it (bl is its second instruction
    // or later: find the first bl).
    let which = engine.get_function_address("which").unwrap();
    let call_which = engine.get_function_address("call_which").unwrap();
    let bl = (0..8)
        .map(|i| (call_which + 4 * i, read::<u32>(call_which + 4 * i)))
        .find(|(_, w)| w & 0xfc00_0000 == 0x9400_0000)
        .expect("a bl in call_which");
    assert_eq!(
        bl.1,
        self::bl(bl.0, which),
        "call_which calls the strong which"
    );
}
