//! Unit tests of the COFF loader on objects assembled or compiled by LLVM for
//! `x86_64-pc-windows-msvc`, and on copies of them patched by hand.

use crate::arch::x86_64::Reloc as X;
use crate::arch::FixupValues;
use crate::llvm::{Module, TargetMachine, TargetOptions};
use crate::load::{
    Binding, ComdatSelection, Definition, Format, ObjectFile, RelocKind, Relocation, SectionKind,
    SymbolKind, Target,
};
use crate::Error;

const WIN: &str = "x86_64-pc-windows-msvc";

fn machine(triple: &str) -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        triple: Some(triple.into()),
        ..TargetOptions::default()
    })
    .unwrap()
}

fn assemble(asm: &str) -> Vec<u8> {
    machine(WIN).assemble(asm).unwrap()
}

fn compile(ir: &str) -> Vec<u8> {
    let mut m = Module::parse_ir(ir, "unit").unwrap();
    machine(WIN).emit_object(&mut m).unwrap()
}

/// Every relocation type LLVM's assembler emits for x86-64 COFF, with
/// implicit addends that are not zero.
const EVERY_RELOC: &str = r#"
.text
.globl f
.def f; .scl 2; .type 32; .endef
f:
  movl sym(%rip), %eax
  leaq sym+1(%rip), %rax
  movl $5, sym(%rip)
  movabsq $sym, %rax
  movl $sym+2, %eax
  leaq local(%rip), %rcx
  callq ext
  ret
.data
.p2align 3
local: .quad 0
.globl sym
sym: .quad 0
.secrel32 sym+3
.secidx sym
.rva sym+4
.quad sym-5
.long sym+6
.quad local+2
.long ext-8
.section .rdata,"dr"
.p2align 4
ro: .quad 1
.bss
.globl zz
.p2align 5
zz: .zero 64
"#;

// Symbol indices of EVERY_RELOC as LLVM assembles it in-process (each
// section symbol has one aux record; `.file` comes last).
const SYM_TEXT: u32 = 0;
const SYM_FEAT: u32 = 8;
const SYM_F: u32 = 9;
const SYM_SYM: u32 = 10;
const SYM_LOCAL: u32 = 11;
const SYM_EXT: u32 = 12;
const SYM_RO: u32 = 13;
const SYM_ZZ: u32 = 14;

fn x(kind: X) -> RelocKind {
    RelocKind::X86_64(kind)
}

fn reloc_at(object: &ObjectFile<'_>, section: usize, offset: u64) -> Relocation {
    object.sections[section]
        .relocations
        .iter()
        .find(|r| r.offset == offset)
        .unwrap_or_else(|| panic!("no relocation at {section}:{offset:#x}"))
}

// ---- byte surgery on regular COFF objects ----

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// File offset of the header of 1-based section `n`.
fn section_header(b: &[u8], n: usize) -> usize {
    20 + usize::from(u16_at(b, 16)) + (n - 1) * 40
}

/// File offset of relocation `k` of section `n`.
fn reloc_entry(b: &[u8], n: usize, k: usize) -> usize {
    let sh = section_header(b, n);
    assert!(k < usize::from(u16_at(b, sh + 32)));
    u32_at(b, sh + 24) as usize + 10 * k
}

/// File offset of byte `offset` of section `n`'s data.
fn section_byte(b: &[u8], n: usize, offset: usize) -> usize {
    u32_at(b, section_header(b, n) + 20) as usize + offset
}

/// File offset of symbol record `i`.
fn symbol_record(b: &[u8], i: usize) -> usize {
    u32_at(b, 8) as usize + 18 * i
}

fn set_reloc_type(b: &mut [u8], n: usize, k: usize, typ: u16) {
    let at = reloc_entry(b, n, k) + 8;
    b[at..at + 2].copy_from_slice(&typ.to_le_bytes());
}

fn set_reloc_symbol(b: &mut [u8], n: usize, k: usize, sym: u32) {
    let at = reloc_entry(b, n, k) + 4;
    b[at..at + 4].copy_from_slice(&sym.to_le_bytes());
}

fn set_reloc_offset(b: &mut [u8], n: usize, k: usize, offset: u32) {
    let at = reloc_entry(b, n, k);
    b[at..at + 4].copy_from_slice(&offset.to_le_bytes());
}

fn set_i32(b: &mut [u8], n: usize, offset: usize, value: i32) {
    let at = section_byte(b, n, offset);
    b[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn every_relocation_type_maps_to_its_kind_and_explicit_addend() {
    let bytes = assemble(EVERY_RELOC);
    let o = ObjectFile::parse(&bytes, "every.obj").unwrap();
    assert_eq!(o.format, Format::Coff);
    let sym = Target::Symbol(SYM_SYM);
    // .text: REL32 addends are the implicit value minus 4.
    let text = [
        (0x2, X::Pc32, sym, -4),  // movl sym(%rip): implicit 0
        (0x9, X::Pc32, sym, -3),  // leaq sym+1(%rip): implicit 1
        (0xF, X::Pc32, sym, -8),  // movl $5, sym(%rip): implicit -4 (imm32 after the field)
        (0x19, X::Abs64, sym, 0), // movabsq $sym
        (0x22, X::Abs32, sym, 2), // movl $sym+2
        (0x29, X::Pc32, Target::Symbol(SYM_LOCAL), -4),
        // `callq ext`: a REL32 after a call opcode is a branch.
        (0x2E, X::Branch32, Target::Symbol(SYM_EXT), -4),
    ];
    assert_eq!(o.sections[1].relocations.len(), text.len());
    for (offset, kind, target, addend) in text {
        let r = reloc_at(&o, 1, offset);
        assert_eq!(
            (r.kind, r.target, r.addend),
            (x(kind), target, addend),
            "{offset:#x}"
        );
        assert_eq!(r.subtrahend, None);
    }
    // .data: absolute and section-relative kinds keep the implicit value.
    let data = [
        (0x10, X::SecRel32, sym, 3),
        (0x14, X::SectionIndex, sym, 0),
        (0x16, X::ImageRel32, sym, 4),
        (0x1A, X::Abs64, sym, -5),
        (0x22, X::Abs32, sym, 6),
        (0x26, X::Abs64, Target::Symbol(SYM_LOCAL), 2),
        (0x2E, X::Abs32, Target::Symbol(SYM_EXT), -8),
    ];
    assert_eq!(o.sections[2].relocations.len(), data.len());
    for (offset, kind, target, addend) in data {
        let r = reloc_at(&o, 2, offset);
        assert_eq!(
            (r.kind, r.target, r.addend),
            (x(kind), target, addend),
            "{offset:#x}"
        );
    }
}

#[test]
fn rel32_n_is_relative_to_the_end_of_the_instruction() {
    // `movl $5, sym(%rip)` is relative to 4 bytes past its field: as MSVC
    // writes it, REL32_4 with an implicit 0.
    let mut bytes = assemble(EVERY_RELOC);
    set_reloc_type(&mut bytes, 1, 2, 8); // IMAGE_REL_AMD64_REL32_4
    set_i32(&mut bytes, 1, 0xF, 0);
    let o = ObjectFile::parse(&bytes, "rel32_4.obj").unwrap();
    let r = reloc_at(&o, 1, 0xF);
    assert_eq!((r.kind, r.addend), (x(X::Pc32), -8));

    // REL32_n, n = 0..=5, with implicit addend 100: A = 100 - 4 - n.
    for n in 0..=5u16 {
        let mut bytes = assemble(EVERY_RELOC);
        set_reloc_type(&mut bytes, 1, 0, 4 + n);
        set_i32(&mut bytes, 1, 0x2, 100);
        let o = ObjectFile::parse(&bytes, "rel32_n.obj").unwrap();
        let r = reloc_at(&o, 1, 0x2);
        assert_eq!(r.kind, x(X::Pc32));
        assert_eq!(r.addend, 100 - 4 - i64::from(n), "REL32_{n}");
        assert_eq!(r.target, Target::Symbol(SYM_SYM));
    }
}

#[test]
fn absolute_relocations_are_skipped() {
    let mut bytes = assemble(EVERY_RELOC);
    set_reloc_type(&mut bytes, 1, 0, 0); // IMAGE_REL_AMD64_ABSOLUTE
    let o = ObjectFile::parse(&bytes, "abs.obj").unwrap();
    assert_eq!(o.sections[1].relocations.len(), 6);
    assert!(o.sections[1].relocations.iter().all(|r| r.offset != 0x2));
}

#[test]
fn unsupported_relocation_types_are_named() {
    for (typ, expected) in [
        (0x0E_u16, "IMAGE_REL_AMD64_SREL32"),
        (0x0C, "IMAGE_REL_AMD64_SECREL7"),
        (0x0D, "IMAGE_REL_AMD64_TOKEN"),
        (0x7777, "IMAGE_REL_AMD64 type 0x7777"),
    ] {
        let mut bytes = assemble(EVERY_RELOC);
        set_reloc_type(&mut bytes, 1, 1, typ);
        match ObjectFile::parse(&bytes, "bad.obj") {
            Err(Error::UnsupportedRelocation {
                object,
                section,
                offset,
                kind,
            }) => {
                assert_eq!(object, "bad.obj");
                assert_eq!(section, ".text");
                assert_eq!(offset, 0x9);
                assert_eq!(kind, expected);
            }
            other => panic!("type {typ:#x}: expected UnsupportedRelocation, got {other:?}"),
        }
    }
}

fn expect_malformed(bytes: &[u8], needle: &str) {
    match ObjectFile::parse(bytes, "bad.obj") {
        Err(Error::MalformedObject { object, reason }) => {
            assert_eq!(object, "bad.obj");
            assert!(reason.contains(needle), "{reason}");
        }
        other => panic!("expected MalformedObject ({needle}), got {other:?}"),
    }
}

#[test]
fn relocation_symbol_indices_are_checked() {
    // An index past the table, and the index of an auxiliary record.
    for (index, needle) in [(9999, "symbol 9999"), (SYM_TEXT + 1, "symbol 1")] {
        let mut bytes = assemble(EVERY_RELOC);
        set_reloc_symbol(&mut bytes, 1, 0, index);
        expect_malformed(&bytes, needle);
    }
}

#[test]
fn relocation_fields_must_lie_inside_their_section() {
    let mut bytes = assemble(EVERY_RELOC);
    // .text is 0x33 bytes: a 4-byte field at 0x31 runs past it.
    set_reloc_offset(&mut bytes, 1, 0, 0x31);
    expect_malformed(&bytes, "outside the section's 51 bytes");
    let mut bytes = assemble(EVERY_RELOC);
    set_reloc_offset(&mut bytes, 1, 0, u32::MAX);
    expect_malformed(&bytes, "IMAGE_REL_AMD64_REL32 at .text+0xffffffff");
}

#[test]
fn sections_keep_their_coff_numbers_kinds_and_alignment() {
    let bytes = assemble(EVERY_RELOC);
    let o = ObjectFile::parse(&bytes, "every.obj").unwrap();
    let got: Vec<_> = o
        .sections
        .iter()
        .map(|s| (s.name, s.kind, s.size, s.align, s.data.len()))
        .collect();
    assert_eq!(
        got,
        [
            ("", SectionKind::Ignored, 0, 1, 0),
            (".text", SectionKind::Text, 0x33, 4, 0x33),
            (".data", SectionKind::Data, 0x32, 8, 0x32),
            (".bss", SectionKind::ZeroFill, 64, 32, 0),
            (".rdata", SectionKind::ReadOnly, 8, 16, 8),
        ]
    );
    assert!(o.sections.iter().all(|s| s.comdat.is_none()));
    assert_eq!(o.sections[4].data, 1u64.to_le_bytes());
}

#[test]
fn symbols_keep_coff_indices_with_aux_placeholders() {
    let bytes = assemble(EVERY_RELOC);
    let o = ObjectFile::parse(&bytes, "every.obj").unwrap();
    assert_eq!(o.symbols.len(), 16);
    let feat = &o.symbols[SYM_FEAT as usize];
    assert_eq!(
        (feat.name, feat.binding, feat.definition),
        ("@feat.00", Binding::Local, Definition::Absolute(0))
    );
    let file = &o.symbols[15];
    assert_eq!((file.name, file.binding), (".file", Binding::Local));
    for (i, section) in [(0, 1), (2, 2), (4, 3), (6, 4)] {
        let s = &o.symbols[i];
        assert_eq!(s.kind, SymbolKind::Section, "{i}");
        assert_eq!(s.binding, Binding::Local);
        assert_eq!(s.definition, Definition::Section { section, offset: 0 });
        assert_eq!(s.name, o.sections[section as usize].name);
        // The aux record after it is a nameless placeholder.
        let aux = &o.symbols[i + 1];
        assert_eq!(
            (aux.name, aux.binding, aux.definition),
            ("", Binding::Local, Definition::Absolute(0))
        );
    }
    let expect = [
        (
            SYM_F,
            "f",
            Binding::Global,
            SymbolKind::Function,
            Definition::Section {
                section: 1,
                offset: 0,
            },
        ),
        (
            SYM_SYM,
            "sym",
            Binding::Global,
            SymbolKind::Data,
            Definition::Section {
                section: 2,
                offset: 8,
            },
        ),
        (
            SYM_LOCAL,
            "local",
            Binding::Local,
            SymbolKind::Data,
            Definition::Section {
                section: 2,
                offset: 0,
            },
        ),
        (
            SYM_EXT,
            "ext",
            Binding::Global,
            SymbolKind::Other,
            Definition::Undefined,
        ),
        (
            SYM_RO,
            "ro",
            Binding::Local,
            SymbolKind::Data,
            Definition::Section {
                section: 4,
                offset: 0,
            },
        ),
        (
            SYM_ZZ,
            "zz",
            Binding::Global,
            SymbolKind::Data,
            Definition::Section {
                section: 3,
                offset: 0,
            },
        ),
    ];
    for (i, name, binding, kind, definition) in expect {
        let s = &o.symbols[i as usize];
        assert_eq!(
            (s.name, s.binding, s.kind, s.definition),
            (name, binding, kind, definition)
        );
    }
    // A relocation against a section symbol targets the section: .pdata
    // refers to .text through its section symbol.
    let bytes =
        compile("declare void @g()\ndefine void @p() uwtable { call void @g()\n ret void }");
    let o = ObjectFile::parse(&bytes, "p.obj").unwrap();
    let pdata = o.sections.iter().find(|s| s.name == ".pdata").unwrap();
    let targets: Vec<_> = pdata
        .relocations
        .iter()
        .map(|r| (r.offset, r.target, r.addend))
        .collect();
    let xdata = o.sections.iter().position(|s| s.name == ".xdata").unwrap() as u32;
    // Begin, end (the function's size as the implicit addend) and unwind info.
    let size = o.sections[1].size as i64;
    assert_eq!(
        targets,
        [
            (0, Target::Section(1), 0),
            (4, Target::Section(1), size),
            (8, Target::Section(xdata), 0)
        ]
    );
}

#[test]
fn comdat_selections_are_recorded_and_set_bindings() {
    let asm = r#"
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
    let bytes = assemble(asm);
    let o = ObjectFile::parse(&bytes, "comdat.obj").unwrap();
    let expect = [
        (".text$any", "kany", ComdatSelection::Any, Binding::Weak),
        (
            ".text$one",
            "kone",
            ComdatSelection::NoDuplicates,
            Binding::Global,
        ),
        (".text$ss", "kss", ComdatSelection::SameSize, Binding::Weak),
        (
            ".text$sc",
            "ksc",
            ComdatSelection::ExactMatch,
            Binding::Weak,
        ),
        (".text$lg", "klg", ComdatSelection::Largest, Binding::Weak),
    ];
    for (section, key, selection, binding) in expect {
        let n = o.sections.iter().position(|s| s.name == section).unwrap();
        let comdat = o.sections[n].comdat.unwrap();
        assert_eq!(
            (comdat.name, comdat.selection),
            (key, selection),
            "{section}"
        );
        let s = o.symbols.iter().find(|s| s.name == key).unwrap();
        assert_eq!(s.binding, binding, "{key}");
        assert_eq!(
            s.definition,
            Definition::Section {
                section: n as u32,
                offset: 0
            }
        );
    }
    let any = o
        .sections
        .iter()
        .position(|s| s.name == ".text$any")
        .unwrap() as u32;
    let assoc = o
        .sections
        .iter()
        .find(|s| s.name == ".rdata$assoc")
        .unwrap();
    let comdat = assoc.comdat.unwrap();
    assert_eq!(
        comdat.name, "kany",
        "an associative section is named by its group"
    );
    assert_eq!(
        comdat.selection,
        ComdatSelection::Associative { parent: any }
    );
    // A symbol in it follows the parent's selection.
    let inassoc = o.symbols.iter().find(|s| s.name == "inassoc").unwrap();
    assert_eq!(inassoc.binding, Binding::Weak);

    // NEWEST is refused by name.
    let bytes = assemble(".section .text$n,\"xr\",newest,kn\n.globl kn\nkn: ret\n");
    match ObjectFile::parse(&bytes, "newest.obj") {
        Err(Error::UnsupportedObject { reason, .. }) => {
            assert!(reason.contains("NEWEST"), "{reason}")
        }
        other => panic!("expected UnsupportedObject, got {other:?}"),
    }
}

/// What LLVM emits for linkonce_odr, weak, extern_weak, common, float
/// constants and unwind tables.
const IR: &str = r#"
@counter = global i32 7
@cm = common global i64 0, align 8
@cm3 = common global [3 x i8] zeroinitializer, align 1
$dup = comdat any
define linkonce_odr i32 @dup(i32 %x) uwtable comdat { %r = call i32 @ext(i32 %x)
  ret i32 %r }
declare i32 @ext(i32)
declare extern_weak i32 @maybe(i32)
define weak i32 @weakf() { ret i32 1 }
define double @fp(double %x) { %y = fmul double %x, 3.25
  ret double %y }
define i32 @usemaybe() { %p = icmp eq ptr @maybe, null
  br i1 %p, label %a, label %b
a: ret i32 0
b: %r = call i32 @maybe(i32 1)
  ret i32 %r }
"#;

#[test]
fn compiled_object_symbols_weak_externals_commons_and_comdats() {
    let bytes = compile(IR);
    let o = ObjectFile::parse(&bytes, "ir.obj").unwrap();
    let by_name = |n: &str| {
        o.symbols
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("no symbol {n}"))
    };
    // linkonce_odr in a COMDAT-any section: weak, first definition wins.
    let dup = by_name("dup");
    assert_eq!(
        (dup.binding, dup.kind),
        (Binding::Weak, SymbolKind::Function)
    );
    let Definition::Section {
        section: dup_sec,
        offset: 0,
    } = dup.definition
    else {
        panic!("{:?}", dup.definition)
    };
    let comdat = o.sections[dup_sec as usize].comdat.unwrap();
    assert_eq!(
        (comdat.name, comdat.selection),
        ("dup", ComdatSelection::Any)
    );
    // Its .pdata and .xdata are associative to it and loaded read-only.
    let assoc: Vec<_> = o
        .sections
        .iter()
        .filter(|s| {
            s.comdat
                .is_some_and(|c| c.selection == ComdatSelection::Associative { parent: dup_sec })
        })
        .map(|s| (s.name, s.kind, s.comdat.unwrap().name))
        .collect();
    assert_eq!(
        assoc,
        [
            (".xdata", SectionKind::ReadOnly, "dup"),
            (".pdata", SectionKind::ReadOnly, "dup")
        ]
    );
    let pdata = o.sections.iter().find(|s| s.name == ".pdata").unwrap();
    assert!(pdata.relocations.iter().all(|r| r.kind == x(X::ImageRel32)));
    assert_eq!(pdata.relocations.len(), 3);

    // weak definition: a weak external whose default is defined here.
    let weakf = by_name("weakf");
    assert_eq!(weakf.binding, Binding::Weak);
    let default = o
        .symbols
        .iter()
        .find(|s| s.name.starts_with(".weak.weakf.default"))
        .unwrap();
    assert_eq!(default.binding, Binding::Local);
    assert_eq!(weakf.definition, default.definition);
    assert!(matches!(
        weakf.definition,
        Definition::Section { section: 1, .. }
    ));
    // extern_weak: a weak external whose default is absolute 0.
    let maybe = by_name("maybe");
    assert_eq!(
        (maybe.binding, maybe.definition),
        (Binding::Weak, Definition::Undefined)
    );
    // Commons: the size is the value; the alignment min(32, next power of two).
    assert_eq!(
        by_name("cm").definition,
        Definition::Common { size: 8, align: 8 }
    );
    assert_eq!(
        by_name("cm3").definition,
        Definition::Common { size: 3, align: 4 }
    );
    // Floating point: `_fltused` stays undefined, constants are COMDAT-any.
    assert_eq!(by_name("_fltused").definition, Definition::Undefined);
    let real = o
        .symbols
        .iter()
        .find(|s| s.name.starts_with("__real@"))
        .unwrap();
    assert_eq!(real.binding, Binding::Weak);
    // Debug and absolute entries.
    assert_eq!(by_name("@feat.00").definition, Definition::Absolute(0x0));
    assert_eq!(by_name("@feat.00").binding, Binding::Local);
    assert_eq!(by_name(".file").binding, Binding::Local);
    // Not loaded.
    for s in &o.sections {
        if s.name == ".drectve" || s.name.starts_with(".debug") || s.name == ".llvm_addrsig" {
            assert_eq!(s.kind, SectionKind::Ignored, "{}", s.name);
        }
    }
}

#[test]
fn aligncomm_directives_raise_common_alignment() {
    let obj = machine("x86_64-w64-windows-gnu")
        .assemble(".comm big,24,5\n.comm small,3\n.comm mid,40\n")
        .unwrap();
    let o = ObjectFile::parse(&obj, "gnu.obj").unwrap();
    let def = |n: &str| o.symbols.iter().find(|s| s.name == n).unwrap().definition;
    assert_eq!(
        def("big"),
        Definition::Common {
            size: 24,
            align: 32
        }
    );
    assert_eq!(def("small"), Definition::Common { size: 3, align: 4 });
    assert_eq!(
        def("mid"),
        Definition::Common {
            size: 40,
            align: 32
        }
    );
    let drectve = o.sections.iter().find(|s| s.name == ".drectve").unwrap();
    assert_eq!(drectve.kind, SectionKind::Ignored);
}

#[test]
fn thread_locals_are_refused() {
    let bytes = compile(
        "@t = thread_local global i32 3\ndefine i32 @r() { %v = load i32, ptr @t\n ret i32 %v }",
    );
    match ObjectFile::parse(&bytes, "tls.obj") {
        Err(Error::UnsupportedObject { object, reason }) => {
            assert_eq!(object, "tls.obj");
            assert!(
                reason.contains(".tls$") && reason.contains("thread-local"),
                "{reason}"
            );
        }
        other => panic!("expected UnsupportedObject, got {other:?}"),
    }
}

#[test]
fn other_machines_are_refused() {
    let mut bytes = assemble(EVERY_RELOC);
    bytes[0..2].copy_from_slice(&0x014c_u16.to_le_bytes()); // i386
    assert!(matches!(
        ObjectFile::parse(&bytes, "x86.obj"),
        Err(Error::UnsupportedObject { reason, .. }) if reason.contains("i386")
    ));
    // arm64 loads; ARM64EC (arm64 code with the x64 convention) does not.
    let mut obj = machine("aarch64-pc-windows-msvc")
        .assemble(".text\nf: ret\n")
        .unwrap();
    let parsed = ObjectFile::parse(&obj, "arm.obj").unwrap();
    assert_eq!(parsed.arch, crate::arch::Arch::Aarch64);
    obj[0..2].copy_from_slice(&0xa641_u16.to_le_bytes());
    assert!(matches!(
        ObjectFile::parse(&obj, "arm64ec.obj"),
        Err(Error::UnsupportedObject { reason, .. }) if reason.contains("ARM64EC")
    ));
}

#[test]
fn malformed_symbol_tables_are_errors() {
    // A symbol in a section that does not exist.
    let mut bytes = assemble(EVERY_RELOC);
    let at = symbol_record(&bytes, SYM_F as usize) + 12;
    bytes[at..at + 2].copy_from_slice(&40u16.to_le_bytes());
    expect_malformed(&bytes, "`f` has invalid section number 40");
    // A symbol past the end of its section.
    let mut bytes = assemble(EVERY_RELOC);
    let at = symbol_record(&bytes, SYM_F as usize) + 8;
    bytes[at..at + 4].copy_from_slice(&0x1000u32.to_le_bytes());
    expect_malformed(&bytes, "past the end of section 1");
    // Aux records that run past the end of the table.
    let mut bytes = assemble(EVERY_RELOC);
    let at = symbol_record(&bytes, 15) + 17;
    bytes[at] = 3;
    expect_malformed(&bytes, "auxiliary records past the end");
    // A non-external undefined symbol.
    let mut bytes = assemble(EVERY_RELOC);
    let at = symbol_record(&bytes, SYM_EXT as usize) + 16;
    bytes[at] = 3; // IMAGE_SYM_CLASS_STATIC
    expect_malformed(&bytes, "`ext` is undefined");
}

#[test]
fn weak_external_defaults_are_checked() {
    let bytes = compile(IR);
    let o = ObjectFile::parse(&bytes, "ir.obj").unwrap();
    let weakf = o.symbols.iter().position(|s| s.name == "weakf").unwrap();
    // Point the weak-external record at itself, then past the table.
    for (target, needle) in [
        (weakf as u32, "invalid default symbol"),
        (100_000, "invalid default symbol"),
    ] {
        let mut bytes = bytes.clone();
        let at = symbol_record(&bytes, weakf + 1);
        bytes[at..at + 4].copy_from_slice(&target.to_le_bytes());
        expect_malformed(&bytes, needle);
    }
}

#[test]
fn truncated_and_corrupted_objects_never_panic() {
    let bytes = compile(IR);
    let mut ok = 0;
    for len in 0..bytes.len() {
        if ObjectFile::parse(&bytes[..len], "cut.obj").is_ok() {
            ok += 1;
        }
    }
    // Cutting off the string table or the symbol table is always noticed.
    assert!(
        ok < bytes.len() / 2,
        "{ok} of {} prefixes parsed",
        bytes.len()
    );
    // Deterministic byte flips all over the file: Ok or Err, never a panic.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut copy = bytes.clone();
        let at = (state % copy.len() as u64) as usize;
        copy[at] ^= (state >> 32) as u8 | 1;
        let _ = ObjectFile::parse(&copy, "flip.obj");
    }
}

/// Rewrites a regular COFF object as a `/bigobj` one: a 56-byte header,
/// 20-byte symbol records with 32-bit section numbers, and every file
/// offset moved by the longer header and symbols.
fn to_bigobj(b: &[u8]) -> Vec<u8> {
    const CLASS_ID: [u8; 16] = [
        0xC7, 0xA1, 0xBA, 0xD1, 0xEE, 0xBA, 0xA9, 0x4B, 0xAF, 0x20, 0xFA, 0xF6, 0x6A, 0xA4, 0xDC,
        0xB8,
    ];
    assert_eq!(u16_at(b, 16), 0, "no optional header in objects");
    let nsec = usize::from(u16_at(b, 2));
    let symtab = u32_at(b, 8) as usize;
    let nsym = u32_at(b, 12) as usize;
    let shift = 56 - 20;
    let sym_end = symtab + 18 * nsym;
    // Offsets past the symbol table also move by 2 bytes a symbol.
    let moved = |off: u32| -> u32 {
        if off == 0 {
            0
        } else if (off as usize) >= sym_end {
            off + shift as u32 + 2 * nsym as u32
        } else {
            off + shift as u32
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&0u16.to_le_bytes()); // sig1
    out.extend_from_slice(&0xFFFFu16.to_le_bytes()); // sig2
    out.extend_from_slice(&2u16.to_le_bytes()); // version
    out.extend_from_slice(&b[0..2]); // machine
    out.extend_from_slice(&b[4..8]); // time stamp
    out.extend_from_slice(&CLASS_ID);
    out.extend_from_slice(&[0; 16]); // size of data, flags, metadata size and offset
    out.extend_from_slice(&(nsec as u32).to_le_bytes());
    out.extend_from_slice(&moved(symtab as u32).to_le_bytes());
    out.extend_from_slice(&(nsym as u32).to_le_bytes());
    assert_eq!(out.len(), 56);
    for n in 0..nsec {
        let mut sh = b[20 + 40 * n..60 + 40 * n].to_vec();
        for field in [20, 24, 28] {
            let v = moved(u32_at(&sh, field));
            sh[field..field + 4].copy_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&sh);
    }
    out.extend_from_slice(&b[20 + 40 * nsec..symtab]);
    let mut i = 0;
    while i < nsym {
        let rec = &b[symtab + 18 * i..symtab + 18 * i + 18];
        out.extend_from_slice(&rec[0..12]);
        let section = i32::from(u16_at(rec, 12) as i16);
        out.extend_from_slice(&section.to_le_bytes());
        out.extend_from_slice(&rec[14..18]);
        let aux = usize::from(rec[17]);
        for k in 1..=aux {
            let a = &b[symtab + 18 * (i + k)..symtab + 18 * (i + k) + 18];
            out.extend_from_slice(a);
            out.extend_from_slice(&[0, 0]);
        }
        i += 1 + aux;
    }
    out.extend_from_slice(&b[sym_end..]);
    out
}

#[test]
fn bigobj_objects_parse_like_regular_ones() {
    for bytes in [assemble(EVERY_RELOC), compile(IR)] {
        let big = to_bigobj(&bytes);
        assert_eq!(
            object::FileKind::parse(&big[..]).unwrap(),
            object::FileKind::CoffBig
        );
        let a = ObjectFile::parse(&bytes, "o").unwrap();
        let b = ObjectFile::parse(&big, "o").unwrap();
        assert_eq!(a.sections.len(), b.sections.len());
        for (x, y) in a.sections.iter().zip(&b.sections) {
            assert_eq!(
                (
                    x.name,
                    x.kind,
                    x.size,
                    x.align,
                    x.data,
                    &x.relocations,
                    x.comdat
                ),
                (
                    y.name,
                    y.kind,
                    y.size,
                    y.align,
                    y.data,
                    &y.relocations,
                    y.comdat
                )
            );
        }
        assert_eq!(a.symbols.len(), b.symbols.len());
        for (x, y) in a.symbols.iter().zip(&b.symbols) {
            assert_eq!(
                (x.name, x.binding, x.kind, x.definition, x.size),
                (y.name, y.binding, y.kind, y.definition, y.size)
            );
        }
    }
}

#[test]
fn rel32_at_call_jump_and_jcc_sites_is_a_branch() {
    let asm = r#"
.text
f:
  callq ext
  jmp ext
  jne ext
  movl ext(%rip), %eax
  leaq ext(%rip), %rax
  cmpl $0, ext(%rip)
.data
.byte 0xE8
.long ext-.
"#;
    let bytes = assemble(asm);
    let o = ObjectFile::parse(&bytes, "branches.obj").unwrap();
    let kinds: Vec<_> = o.sections[1]
        .relocations
        .iter()
        .map(|r| (r.kind, r.addend))
        .collect();
    assert_eq!(
        kinds,
        [
            (x(X::Branch32), -4),
            (x(X::Branch32), -4),
            (x(X::Branch32), -4),
            (x(X::Pc32), -4),
            (x(X::Pc32), -4),
            // The immediate byte after the field makes the implicit addend -1.
            (x(X::Pc32), -5),
        ]
    );
    // In data, the byte before the field is not an opcode.
    let data: Vec<_> = o.sections[2].relocations.iter().map(|r| r.kind).collect();
    assert_eq!(data, [x(X::Pc32)]);
    // REL32_n is never a branch: nothing follows a branch's displacement.
    let mut bytes = bytes.clone();
    set_reloc_type(&mut bytes, 1, 0, 5);
    let o = ObjectFile::parse(&bytes, "branches.obj").unwrap();
    assert_eq!(o.sections[1].relocations.get(0).unwrap().kind, x(X::Pc32));
}

/// The field each fixup of EVERY_RELOC writes when the arch code applies the
/// loader's kind and addend, with `.text` at 0x10000, `.data` at 0x20000,
/// the image base at 0x8000 and `ext` at 0x30000: the values the COFF
/// definitions give (`S + A - image base`, `S + A - section base`, the
/// section number plus A, `S + A - (end of instruction)`).
#[test]
fn loader_addends_with_the_arch_math_give_the_coff_values() {
    let mut bytes = assemble(EVERY_RELOC);
    // REL32_4 for `movl $5, sym(%rip)`, as MSVC writes it.
    set_reloc_type(&mut bytes, 1, 2, 8);
    set_i32(&mut bytes, 1, 0xF, 0);
    let o = ObjectFile::parse(&bytes, "every.obj").unwrap();
    let (text, data, image_base, ext) = (0x10000u64, 0x20000u64, 0x8000u64, 0x30000u64);
    let sym = data + 8;
    let local = data;
    let apply = |section: usize, offset: u64| -> Vec<u8> {
        let r = reloc_at(&o, section, offset);
        let s = match r.target {
            Target::Symbol(SYM_SYM) => sym,
            Target::Symbol(SYM_LOCAL) => local,
            Target::Symbol(SYM_EXT) => ext,
            other => panic!("{other:?}"),
        };
        let p = [0, text, data][section] + offset;
        let v = FixupValues {
            p,
            s,
            a: r.addend,
            image_base,
            section_base: if s == ext { 0 } else { data },
            section_index: 2,
            ..FixupValues::default()
        };
        let mut field = vec![0u8; 8];
        r.kind.apply(&mut field, &v).unwrap();
        field.truncate(match r.kind {
            RelocKind::X86_64(k) => k.field_size(),
            _ => unreachable!(),
        });
        field
    };
    let le32 = |v: i64| (v as i32).to_le_bytes().to_vec();
    // .text: displacements from the end of each instruction.
    assert_eq!(apply(1, 0x2), le32((sym - (text + 0x6)) as i64));
    assert_eq!(apply(1, 0x9), le32((sym + 1 - (text + 0xD)) as i64));
    // `movl $5, sym(%rip)` ends 4 bytes after its field.
    assert_eq!(apply(1, 0xF), le32((sym - (text + 0xF + 4 + 4)) as i64));
    assert_eq!(apply(1, 0x19), sym.to_le_bytes());
    assert_eq!(apply(1, 0x22), le32((sym + 2) as i64));
    assert_eq!(apply(1, 0x2E), le32((ext - (text + 0x32)) as i64));
    // .data
    assert_eq!(apply(2, 0x10), le32(8 + 3), "SECREL: offset in .data");
    assert_eq!(apply(2, 0x14), 2u16.to_le_bytes(), "SECTION: .data is 2");
    assert_eq!(
        apply(2, 0x16),
        le32((sym + 4 - image_base) as i64),
        "ADDR32NB"
    );
    assert_eq!(apply(2, 0x1A), (sym - 5).to_le_bytes());
    assert_eq!(apply(2, 0x22), le32((sym + 6) as i64));
    assert_eq!(apply(2, 0x26), (local + 2).to_le_bytes());
    assert_eq!(apply(2, 0x2E), le32((ext - 8) as i64));
}
