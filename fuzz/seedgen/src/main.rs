//! Writes the seed objects of rivet's fuzz targets: small relocatable
//! objects of each format, compiled from the IR programs and assembled from
//! the assembly below for every target rivet links, in a few relocation and
//! code models. libFuzzer mutates these, so each shape here (jump tables,
//! thread-locals, constructors, unwind tables, COMDATs, weak and common
//! symbols, debug info, every relocation kind the assembly spells out) is a
//! path the fuzzer starts inside of.
//!
//! Usage: `rivet-fuzz-seedgen [OUT_DIR]` (default: `fuzz/seeds` of this
//! repository). Replaces the `*.o` files of `OUT_DIR/{elf,macho,coff}`.

use std::collections::HashSet;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use rivet::llvm::{CodeModel, Module, RelocModel, TargetMachine, TargetOptions};

/// Globals read and written, a jump table, constants, a string literal,
/// calls to external functions, external data, function pointers in data,
/// and a zero-filled block. External names are the C library's, so that
/// the seeds link in the fuzzing process (the fuzz targets resolve the
/// every-relocation fixture's own external names themselves).
const PROGRAM: &str = r#"
@counter = global i64 0
@weights = constant [4 x double] [double 1.5, double -2.25, double 3.125, double 0.5]
@fnptrs = global [2 x ptr] [ptr @bump, ptr @pick]
@msg = private unnamed_addr constant [6 x i8] c"hello\00"
@block = global [4096 x i8] zeroinitializer
@environ = external global i64
declare double @sin(double)
declare i64 @labs(i64)

define i64 @bump(i64 %by) {
  %c = load i64, ptr @counter
  %n = add i64 %c, %by
  store i64 %n, ptr @counter
  ret i64 %n
}

define i64 @pick(i64 %k) {
entry:
  switch i64 %k, label %other [
    i64 0, label %c0  i64 1, label %c1  i64 2, label %c2  i64 3, label %c3
    i64 4, label %c4  i64 5, label %c5  i64 6, label %c6  i64 7, label %c7
  ]
c0: ret i64 11
c1: ret i64 23
c2: ret i64 37
c3: ret i64 41
c4: ret i64 59
c5: ret i64 61
c6: ret i64 71
c7: ret i64 89
other: ret i64 -1
}

define double @poly(double %x) {
  %a = fmul double %x, 0x400921FB54442D18
  %p = getelementptr [4 x double], ptr @weights, i64 0, i64 2
  %w = load double, ptr %p
  %b = fadd double %a, %w
  %s = call double @sin(double %b)
  ret double %s
}

define i64 @use_external(i64 %x) {
  %r = call i64 @labs(i64 %x)
  %d = load i64, ptr @environ
  %s = add i64 %r, %d
  ret i64 %s
}

define ptr @message() {
  ret ptr @msg
}

define ptr @block_end() {
  %p = getelementptr [4096 x i8], ptr @block, i64 0, i64 4095
  ret ptr %p
}
"#;

/// Thread-local data, initialized and zero-filled.
const TLS: &str = r#"
@tls_counter = thread_local global i64 5
@tls_zero = thread_local global [16 x i64] zeroinitializer

define i64 @tls_bump() {
  %c = load i64, ptr @tls_counter
  %n = add i64 %c, 1
  store i64 %n, ptr @tls_counter
  ret i64 %n
}

define ptr @tls_block() {
  ret ptr @tls_zero
}
"#;

/// Constructors and destructors with priorities.
const CTORS: &str = r#"
@state = global i32 0
@llvm.global_ctors = appending global [2 x { i32, ptr, ptr }] [
  { i32, ptr, ptr } { i32 65535, ptr @init, ptr null },
  { i32, ptr, ptr } { i32 101, ptr @early, ptr null }
]
@llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [
  { i32, ptr, ptr } { i32 65535, ptr @fini, ptr null }
]

define void @init() {
  store i32 1, ptr @state
  ret void
}

define void @early() {
  store i32 2, ptr @state
  ret void
}

define void @fini() {
  store i32 3, ptr @state
  ret void
}

define i32 @read_state() {
  %s = load i32, ptr @state
  ret i32 %s
}
"#;

/// A C++-style catch: unwind tables with a personality and an LSDA.
const EXCEPTIONS: &str = r#"
@_ZTIi = external constant ptr
declare void @free(i32)
declare i32 @__gxx_personality_v0(...)
declare ptr @__cxa_begin_catch(ptr)
declare void @__cxa_end_catch()

define i32 @catcher(i32 %x) #0 personality ptr @__gxx_personality_v0 {
entry:
  invoke void @free(i32 %x) to label %ok unwind label %lpad
ok:
  ret i32 0
lpad:
  %lp = landingpad { ptr, i32 } catch ptr @_ZTIi
  %exn = extractvalue { ptr, i32 } %lp, 0
  %p = call ptr @__cxa_begin_catch(ptr %exn)
  %v = load i32, ptr %p
  call void @__cxa_end_catch()
  ret i32 %v
}

attributes #0 = { uwtable }
"#;

/// Unwind tables without exceptions: a frame with a large stack area and
/// calls (on COFF, `.pdata` and `.xdata`).
const UNWIND: &str = r#"
declare void @free(ptr)

define i32 @framed(i32 %n) #0 {
  %buf = alloca [512 x i8], align 16
  call void @free(ptr %buf)
  %r = add i32 %n, 1
  ret i32 %r
}

define i32 @leaf(i32 %n) #0 {
  %r = mul i32 %n, 3
  ret i32 %r
}

attributes #0 = { uwtable noinline }
"#;

/// Weak, link-once, common, hidden, local and alias definitions and an
/// `extern_weak` reference.
const LINKAGE: &str = r#"
@weak_data = weak global i32 3
@common_data = common global i64 0, align 8
@hidden_data = hidden global i32 9
@shared_data = linkonce_odr global i32 5
@alias_fn = alias i32 (), ptr @weak_fn
declare extern_weak i32 @maybe()

define linkonce_odr i32 @shared_fn(i32 %x) {
  %r = add i32 %x, 1
  ret i32 %r
}

define weak i32 @weak_fn() {
  %w = load i32, ptr @weak_data
  ret i32 %w
}

define internal i32 @local_fn(i32 %x) noinline {
  %h = load i32, ptr @hidden_data
  %r = add i32 %x, %h
  ret i32 %r
}

define i32 @uses_all(i32 %x) {
entry:
  %a = call i32 @shared_fn(i32 %x)
  %b = call i32 @local_fn(i32 %a)
  %s = load i32, ptr @shared_data
  %c = add i32 %b, %s
  %present = icmp ne ptr @maybe, null
  br i1 %present, label %call, label %done
call:
  %m = call i32 @maybe()
  %d = add i32 %c, %m
  ret i32 %d
done:
  store i64 1, ptr @common_data
  ret i32 %c
}
"#;

/// COMDAT groups of the two kinds ELF has (Mach-O has none).
const ELF_COMDATS: &str = r#"
$any_fn = comdat any
$nodup_fn = comdat nodeduplicate
$any_data = comdat any

@any_data = linkonce_odr global i64 7, comdat
@grouped = linkonce_odr global ptr @any_fn, comdat($any_fn)

define linkonce_odr i32 @any_fn(i32 %x) comdat {
  %r = mul i32 %x, 5
  ret i32 %r
}

define i32 @nodup_fn(i32 %x) comdat {
  %a = call i32 @any_fn(i32 %x)
  %b = load i64, ptr @any_data
  %t = trunc i64 %b to i32
  %r = add i32 %a, %t
  ret i32 %r
}
"#;

/// COMDAT groups of each COFF selection kind.
const COFF_COMDATS: &str = r#"
$any_fn = comdat any
$largest_data = comdat largest
$same_data = comdat samesize
$exact_data = comdat exactmatch
$nodup_fn = comdat nodeduplicate

@largest_data = linkonce_odr global [4 x i32] [i32 1, i32 2, i32 3, i32 4], comdat
@same_data = linkonce_odr global i64 7, comdat
@exact_data = linkonce_odr constant [3 x i8] c"abc", comdat
@grouped = linkonce_odr global ptr @any_fn, comdat($any_fn)

define linkonce_odr i32 @any_fn(i32 %x) comdat {
  %r = mul i32 %x, 5
  ret i32 %r
}

define i32 @nodup_fn(i32 %x) comdat {
  %a = call i32 @any_fn(i32 %x)
  %b = load i64, ptr @same_data
  %t = trunc i64 %b to i32
  %r = add i32 %a, %t
  ret i32 %r
}
"#;

/// DWARF debug information (relocations in non-loaded sections).
const DEBUG_INFO: &str = r#"
define i32 @dbg_add(i32 %a, i32 %b) !dbg !6 {
  %r = add i32 %a, %b, !dbg !9
  ret i32 %r, !dbg !9
}

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!3, !4}
!0 = distinct !DICompileUnit(language: DW_LANG_C99, file: !1, producer: "seedgen", isOptimized: false, runtimeVersion: 0, emissionKind: FullDebug)
!1 = !DIFile(filename: "seed.c", directory: "src")
!3 = !{i32 7, !"Dwarf Version", i32 4}
!4 = !{i32 2, !"Debug Info Version", i32 3}
!6 = distinct !DISubprogram(name: "dbg_add", scope: !1, file: !1, line: 1, type: !7, scopeLine: 1, spFlags: DISPFlagDefinition, unit: !0)
!7 = !DISubroutineType(types: !8)
!8 = !{null}
!9 = !DILocation(line: 2, column: 3, scope: !6)
"#;

/// ELF AArch64 relocations: pages and page offsets, GOT, branches, the
/// MOVW group, literal loads, conditional and test branches, data.
const ELF_AARCH64_ASM: &str = r#"
.text
.globl a64_func
.p2align 2
a64_func:
  adrp x0, a64_data
  add x0, x0, :lo12:a64_data
  ldr x1, [x0, :lo12:a64_data]
  ldr w1, [x0, :lo12:a64_data]
  ldrh w1, [x0, :lo12:a64_data]
  ldrb w1, [x0, :lo12:a64_data]
  adrp x2, :got:environ
  ldr x2, [x2, :got_lo12:environ]
  bl labs
  b a64_local
a64_local:
  movz x3, #:abs_g3:a64_data
  movk x3, #:abs_g2_nc:a64_data
  movk x3, #:abs_g1_nc:a64_data
  movk x3, #:abs_g0_nc:a64_data
  adr x4, a64_local
  ldr x5, a64_lit
  cbz x0, a64_local
  tbz x0, #3, a64_local
  b.eq a64_local
  ret
a64_lit:
  .quad 0
.data
.globl a64_data
.p2align 3
a64_data:
  .quad a64_func
  .word a64_func - .
  .xword environ + 8
  .hword 0
"#;

/// Mach-O x86-64 relocations: GOT loads, signed displacements, branches,
/// subtractor pairs, pointers.
const MACHO_X86_64_ASM: &str = r#"
.text
.globl _mx_func
_mx_func:
  movq _environ@GOTPCREL(%rip), %rax
  leaq _mx_data(%rip), %rcx
  movl $1, _mx_data+4(%rip)
  movb $1, _mx_data(%rip)
  movw $1, _mx_data+2(%rip)
  callq _labs
  jmp _mx_func
  retq
.data
.globl _mx_data
.p2align 3
_mx_data:
  .quad _mx_func
  .quad _mx_func - _mx_data2
  .long _mx_data2 - _mx_func
_mx_data2:
  .quad _environ
.subsections_via_symbols
"#;

/// Mach-O arm64 relocations: pages, page offsets, GOT pages, branches,
/// pointers, subtractor pairs, pointer-to-GOT.
const MACHO_ARM64_ASM: &str = r#"
.text
.globl _ma_func
.p2align 2
_ma_func:
  adrp x0, _ma_data@PAGE
  add x0, x0, _ma_data@PAGEOFF
  ldr x1, [x0, _ma_data@PAGEOFF]
  adrp x2, _environ@GOTPAGE
  ldr x2, [x2, _environ@GOTPAGEOFF]
  bl _labs
  b _ma_func
  ret
.data
.globl _ma_data
.p2align 3
_ma_data:
  .quad _ma_func
  .quad _ma_func - _ma_data
  .long _environ@GOT - .
.subsections_via_symbols
"#;

/// COFF x86-64 relocations: REL32 with each displacement, ADDR64, ADDR32,
/// ADDR32NB, SECREL, SECTION.
const COFF_X86_64_ASM: &str = r#"
.text
.globl cf_func
cf_func:
  movq cf_data(%rip), %rax
  movl $1, cf_data+4(%rip)
  movb $1, cf_data(%rip)
  movw $1, cf_data+2(%rip)
  callq labs
  retq
.data
.globl cf_data
.p2align 3
cf_data:
  .quad cf_func
  .long cf_func
  .rva cf_func
  .secrel32 cf_func
  .secidx cf_func
  .quad labs
"#;

/// COFF arm64: every relocation kind LLVM's assembler writes for Windows
/// on Arm, with addends in the fields.
const COFF_AARCH64_ASM: &str = r#"
.text
.globl ca_func
.p2align 2
ca_func:
  bl labs
  b.ne ca_func
  cbz x0, ca_func+4
  tbz x0, #3, ca_func
  adrp x0, ca_data+8
  add x0, x0, :lo12:ca_data+8
  ldr x1, [x0, :lo12:ca_data]
  adr x2, ca_func
  add x3, x3, :secrel_hi12:ca_data
  add x3, x3, :secrel_lo12:ca_data
  ldr x3, [x3, :secrel_lo12:ca_data]
  adrp x4, __imp_labs
  ldr x4, [x4, :lo12:__imp_labs]
  ret
.data
.globl ca_data
.p2align 3
ca_data:
  .quad ca_func
  .long ca_func
  .rva ca_func
  .secrel32 ca_func
  .long ca_func - .
  .secidx ca_func
"#;

/// rivet's own every-relocation-kind ELF x86-64 fixture.
const ELF_X86_64_ASM: &str = include_str!("../../../fixtures/x86_64-every-reloc.s");

/// One target: where its seeds go, the triple, and what is built for it.
struct Target {
    dir: &'static str,
    short: &'static str,
    triple: &'static str,
    programs: &'static [(&'static str, &'static str)],
    /// (relocation model, code model) variants every program is built in.
    models: &'static [(RelocModel, CodeModel)],
    asm: Option<&'static str>,
}

const X86_MODELS: &[(RelocModel, CodeModel)] = &[
    (RelocModel::Pic, CodeModel::Small),
    (RelocModel::Static, CodeModel::Small),
    (RelocModel::Pic, CodeModel::Large),
];
/// ELF RISC-V 64: every relocation kind rivet reads, with relaxation on
/// (RELAX, ALIGN, ADD/SUB and ULEB128 pairs); `ext` is the fuzz targets'.
const ELF_RISCV64_ASM: &str = r#"
        .option relax
        .text
        .globl  main
        .p2align 2
main:
pcrel_hi:
        auipc   a0, %pcrel_hi(words)
        addi    a0, a0, %pcrel_lo(pcrel_hi)
        sd      a1, %pcrel_lo(pcrel_hi)(a0)
got_hi:
        auipc   a0, %got_pcrel_hi(ext)
        ld      a0, %pcrel_lo(got_hi)(a0)
        lui     a0, %hi(words)
        addi    a0, a0, %lo(words)
        sw      a1, %lo(words+8)(a0)
        call    ext
        call    func
local:
        jal     ra, local
        bne     a0, a1, local
        c.beqz  a0, local
        c.j     local
        .p2align 4
func:
        ret
end_of_code:

        .data
        .p2align 3
words:
        .quad   ext
        .word   ext
        .reloc  ., R_RISCV_32_PCREL, words
        .word   0
        .quad   end_of_code - main
        .word   end_of_code - main
        .half   end_of_code - main
        .byte   end_of_code - main
        .uleb128 end_of_code - main
        .reloc  ., R_RISCV_SET6, func
        .byte   0x40
        .reloc  ., R_RISCV_SUB6, func
        .byte   0x40
        .reloc  ., R_RISCV_SET8, func
        .byte   0
        .reloc  ., R_RISCV_SET16, func
        .half   0
        .reloc  ., R_RISCV_SET32, func
        .word   0
"#;

const ARM_MODELS: &[(RelocModel, CodeModel)] = &[(RelocModel::Pic, CodeModel::Small)];

/// Mach-O: everything but COMDAT groups.
const ALL_PROGRAMS: &[(&str, &str)] = &[
    ("program", PROGRAM),
    ("tls", TLS),
    ("ctors", CTORS),
    ("eh", EXCEPTIONS),
    ("linkage", LINKAGE),
    ("debug", DEBUG_INFO),
];
/// ELF: all of them and COMDAT groups.
const ELF_PROGRAMS: &[(&str, &str)] = &[
    ("program", PROGRAM),
    ("tls", TLS),
    ("ctors", CTORS),
    ("eh", EXCEPTIONS),
    ("linkage", LINKAGE),
    ("comdat", ELF_COMDATS),
    ("debug", DEBUG_INFO),
];
/// COFF: LLVM's Windows targets take no Itanium landing pads.
const COFF_PROGRAMS: &[(&str, &str)] = &[
    ("program", PROGRAM),
    ("tls", TLS),
    ("ctors", CTORS),
    ("unwind", UNWIND),
    ("linkage", LINKAGE),
    ("comdat", COFF_COMDATS),
    ("debug", DEBUG_INFO),
];

const TARGETS: &[Target] = &[
    Target {
        dir: "elf",
        short: "x86_64",
        triple: "x86_64-unknown-linux-gnu",
        programs: ELF_PROGRAMS,
        models: X86_MODELS,
        asm: Some(ELF_X86_64_ASM),
    },
    Target {
        dir: "elf",
        short: "aarch64",
        triple: "aarch64-unknown-linux-gnu",
        programs: ELF_PROGRAMS,
        models: ARM_MODELS,
        asm: Some(ELF_AARCH64_ASM),
    },
    Target {
        dir: "elf",
        short: "riscv64",
        triple: "riscv64-unknown-linux-gnu",
        programs: ELF_PROGRAMS,
        models: ARM_MODELS,
        asm: Some(ELF_RISCV64_ASM),
    },
    Target {
        dir: "macho",
        short: "x86_64",
        triple: "x86_64-apple-macosx10.15",
        programs: ALL_PROGRAMS,
        models: X86_MODELS,
        asm: Some(MACHO_X86_64_ASM),
    },
    Target {
        dir: "macho",
        short: "arm64",
        triple: "arm64-apple-macosx11.0",
        programs: ALL_PROGRAMS,
        models: ARM_MODELS,
        asm: Some(MACHO_ARM64_ASM),
    },
    Target {
        dir: "coff",
        short: "msvc",
        triple: "x86_64-pc-windows-msvc",
        programs: COFF_PROGRAMS,
        models: X86_MODELS,
        asm: Some(COFF_X86_64_ASM),
    },
    Target {
        dir: "coff",
        short: "arm64",
        triple: "aarch64-pc-windows-msvc",
        programs: COFF_PROGRAMS,
        models: ARM_MODELS,
        asm: Some(COFF_AARCH64_ASM),
    },
    Target {
        dir: "coff",
        short: "mingw",
        triple: "x86_64-pc-windows-gnu",
        programs: &[("ctors", CTORS), ("unwind", UNWIND)],
        models: &[(RelocModel::Pic, CodeModel::Small)],
        asm: None,
    },
];

fn machine(
    triple: &str,
    reloc: RelocModel,
    code_model: CodeModel,
) -> Result<TargetMachine, String> {
    TargetMachine::new(&TargetOptions {
        triple: Some(triple.into()),
        reloc,
        code_model,
        ..TargetOptions::default()
    })
    .map_err(|e| format!("{triple}: {e}"))
}

fn model_name(reloc: RelocModel, code_model: CodeModel) -> String {
    format!("{reloc:?}-{code_model:?}").to_lowercase()
}

fn main() -> Result<(), Box<dyn Error>> {
    let out: PathBuf = match std::env::args_os().nth(1) {
        Some(dir) => dir.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds"),
    };
    for dir in ["elf", "macho", "coff"] {
        let dir = out.join(dir);
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "o") {
                fs::remove_file(path)?;
            }
        }
    }
    let mut written = 0usize;
    let mut bytes = 0usize;
    // Variants that came out byte-identical are written once.
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    for target in TARGETS {
        let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
        for &(reloc, code_model) in target.models {
            let tm = machine(target.triple, reloc, code_model)?;
            for (name, ir) in target.programs {
                let mut module = Module::parse_ir(ir, name).map_err(|e| format!("{name}: {e}"))?;
                let object = tm
                    .emit_object(&mut module)
                    .map_err(|e| format!("{name} for {}: {e}", target.triple))?;
                objects.push((format!("{name}-{}", model_name(reloc, code_model)), object));
            }
        }
        if let Some(asm) = target.asm {
            let tm = machine(target.triple, RelocModel::Pic, CodeModel::Small)?;
            let object = tm
                .assemble(asm)
                .map_err(|e| format!("assembly for {}: {e}", target.triple))?;
            objects.push(("relocs-asm".to_string(), object));
        }
        for (name, object) in objects {
            if !seen.insert(object.clone()) {
                continue;
            }
            let path = out
                .join(target.dir)
                .join(format!("{}-{name}.o", target.short));
            fs::write(&path, &object)?;
            written += 1;
            bytes += object.len();
        }
    }
    println!(
        "seedgen: wrote {written} objects, {bytes} bytes, under {}",
        out.display()
    );
    Ok(())
}
