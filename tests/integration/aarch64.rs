//! ELF AArch64 end to end. An assembled fixture with one `.reloc` per
//! relocation type, linked by rivet into a normal arena on this host, whose
//! patched words are compared with words assembled by hand; and programs
//! compiled for `aarch64-unknown-linux-gnu`, linked the same way and
//! executed over the arena's own bytes in the emulator (feature `emulator`).

use std::collections::BTreeSet;

use rivet::arch::aarch64::Reloc;
use rivet::llvm::{Module, TargetMachine, TargetOptions};
use rivet::load::{Arch, ObjectFile, RelocKind};
use rivet::{Error, ExecutionEngine};

const TRIPLE: &str = "aarch64-unknown-linux-gnu";

/// An AArch64 Linux machine with rivet's defaults (PIC, small code model).
fn machine() -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        triple: Some(TRIPLE.into()),
        ..TargetOptions::default()
    })
    .expect("aarch64 target machine")
}

/// An arena engine compiling for AArch64, keeping link maps.
fn engine() -> ExecutionEngine {
    let mut engine = ExecutionEngine::with_lmm(Some(true)).expect("engine");
    engine.set_target_machine(machine());
    engine.keep_link_maps(true);
    engine
}

/// The relocation kinds of an object, parsed by rivet's loader.
fn kinds_of(bytes: &[u8]) -> BTreeSet<String> {
    let object = ObjectFile::parse(bytes, "object").expect("parse");
    assert_eq!(object.arch, Arch::Aarch64);
    object
        .sections
        .iter()
        .flat_map(|s| s.relocations.iter())
        .map(|r| match r.kind {
            RelocKind::Aarch64(k) => k.name().to_string(),
            other => panic!("not an AArch64 kind: {other}"),
        })
        .collect()
}

/// The little-endian word at `addr` (finalized memory is readable).
fn word(addr: u64) -> u32 {
    // SAFETY: callers pass addresses inside finalized, readable sections of
    // a live engine; the read may be unaligned.
    unsafe { std::ptr::read_unaligned(addr as *const u32) }
}

fn bytes_at(addr: u64, len: usize) -> Vec<u8> {
    // SAFETY: as in `word`.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len).to_vec() }
}

/// The GOT slot a veneer at `stub` jumps through, checking that it is
/// `adrp x16, slot; ldr x16, [x16, :lo12:slot]; br x16`.
fn veneer_slot(stub: u64) -> u64 {
    let (adrp, ldr) = (word(stub), word(stub + 4));
    assert_eq!(adrp & 0x9f00_001f, 0x9000_0010, "adrp x16 at {stub:#x}");
    assert_eq!(
        ldr & 0xffc0_03ff,
        0xf940_0210,
        "ldr x16, [x16, #imm] at {stub:#x}"
    );
    assert_eq!(word(stub + 8), 0xd61f_0200, "br x16 at {stub:#x}");
    let pages = ((((adrp >> 5) & 0x7_ffff) << 2 | (adrp >> 29) & 3) as i64) << 43 >> 31;
    let page = (stub & !0xfff).wrapping_add_signed(pages);
    page + u64::from((ldr >> 10) & 0xfff) * 8
}

/// The address a veneer at `stub` jumps to: what its GOT slot holds.
fn veneer_target(stub: u64) -> u64 {
    u64::from_le_bytes(bytes_at(veneer_slot(stub), 8).try_into().unwrap())
}

// ---- the relocation fixture ------------------------------------------------

/// One `.reloc` per ELF AArch64 type rivet implements, each on a placeholder
/// instruction (`.inst`) or data field. Local targets sit at fixed offsets
/// in `.text` (near_data at 0x2ff0, near_fn at 0x3000), so those fields
/// have fixed values; external targets are global mappings of known values.
const FIXTURE: &str = r#"
    .text
    .globl fixups
    .p2align 12
fixups:
    .reloc ., R_AARCH64_CALL26, near_fn
    .inst 0x94000000
    .reloc ., R_AARCH64_JUMP26, near_fn
    .inst 0x14000000
    .reloc ., R_AARCH64_CONDBR19, near_fn
    .inst 0x54000001
    .reloc ., R_AARCH64_TSTBR14, fixups
    .inst 0x36180002
    .reloc ., R_AARCH64_ADR_PREL_PG_HI21, near_data
    .inst 0x90000000
    .reloc ., R_AARCH64_ADR_PREL_PG_HI21_NC, near_data+0x10
    .inst 0x90000001
    .reloc ., R_AARCH64_ADR_PREL_LO21, near_data
    .inst 0x10000002
    .reloc ., R_AARCH64_ADD_ABS_LO12_NC, near_data
    .inst 0x91000020
    .reloc ., R_AARCH64_LDST8_ABS_LO12_NC, near_data+3
    .inst 0x39400020
    .reloc ., R_AARCH64_LDST16_ABS_LO12_NC, near_data+6
    .inst 0x79400020
    .reloc ., R_AARCH64_LDST32_ABS_LO12_NC, near_data+4
    .inst 0xb9400020
    .reloc ., R_AARCH64_LDST64_ABS_LO12_NC, near_data+8
    .inst 0xf9400020
    .reloc ., R_AARCH64_LDST128_ABS_LO12_NC, near_data
    .inst 0x3dc00020
    .reloc ., R_AARCH64_LD_PREL_LO19, near_data+8
    .inst 0x58000000
    .reloc ., R_AARCH64_MOVW_UABS_G0, small_abs
    .inst 0xd2800000
    .reloc ., R_AARCH64_MOVW_UABS_G0_NC, big_abs
    .inst 0xf2800000
    .reloc ., R_AARCH64_MOVW_UABS_G1, mid_abs
    .inst 0xd2a00000
    .reloc ., R_AARCH64_MOVW_UABS_G1_NC, big_abs
    .inst 0xf2a00000
    .reloc ., R_AARCH64_MOVW_UABS_G2, wide_abs
    .inst 0xd2c00000
    .reloc ., R_AARCH64_MOVW_UABS_G2_NC, big_abs
    .inst 0xf2c00000
    .reloc ., R_AARCH64_MOVW_UABS_G3, big_abs
    .inst 0xf2e00000
    .reloc ., R_AARCH64_MOVW_PREL_G0, near_fn
    .inst 0xd2800000
    .reloc ., R_AARCH64_MOVW_PREL_G0_NC, fixups
    .inst 0xf2800000
    .reloc ., R_AARCH64_MOVW_PREL_G1, fixups
    .inst 0xd2a00000
    .reloc ., R_AARCH64_MOVW_PREL_G1_NC, fixups
    .inst 0xf2a00000
    .reloc ., R_AARCH64_MOVW_PREL_G2, fixups
    .inst 0xd2c00000
    .reloc ., R_AARCH64_MOVW_PREL_G2_NC, fixups
    .inst 0xf2c00000
    .reloc ., R_AARCH64_MOVW_PREL_G3, fixups
    .inst 0xd2e00000
    .reloc ., R_AARCH64_ADR_GOT_PAGE, got_target
    .inst 0x90000003
    .reloc ., R_AARCH64_LD64_GOT_LO12_NC, got_target
    .inst 0xf9400063
    .reloc ., R_AARCH64_CALL26, far_fn
    .inst 0x94000000
    .reloc ., R_AARCH64_CONDBR19, far_fn
    .inst 0x54000000
    .reloc ., R_AARCH64_TSTBR14, far_fn
    .inst 0x36000000
    .reloc ., R_AARCH64_JUMP26, far_fn
    .inst 0x14000000
    .reloc ., R_AARCH64_NONE, near_fn
    .inst 0xd503201f
    .p2align 12
    .space 0x1ff0
near_data:
    .quad 0x1111, 0x2222
near_fn:
    ret

    .data
    .globl fixup_data
    .p2align 3
fixup_data:
    .reloc ., R_AARCH64_ABS64, big_abs
    .quad 0
    .reloc ., R_AARCH64_PREL64, near_fn
    .quad 0
    .reloc ., R_AARCH64_ABS32, mid_abs+1
    .word 0
    .reloc ., R_AARCH64_PREL32, fixup_data
    .word 0
    .reloc ., R_AARCH64_ABS16, small_abs
    .hword 0
    .reloc ., R_AARCH64_PREL16, fixup_data+0x40
    .hword 0
    .reloc ., R_AARCH64_GOTPCREL32, got_target
    .word 0
    .space 0x20
"#;

const BIG_ABS: u64 = 0x1234_5678_9abc_def0;
const MID_ABS: u64 = 0x1234_5678;
const WIDE_ABS: u64 = 0x1234_5678_9abc;
const SMALL_ABS: u64 = 0xbeef;
const GOT_TARGET: u64 = 0x5555_0000_1238;
const FAR_FN: u64 = 0x7f00_0000_1000;

fn assemble(asm: &str) -> Vec<u8> {
    machine().assemble(asm).expect("assemble")
}

/// `adrp xd, <page of target>` at `p`, encoded independently of rivet.
fn adrp(rd: u32, p: u64, target: u64) -> u32 {
    let pages = ((target & !0xfff) as i64 - (p & !0xfff) as i64) >> 12;
    let imm = pages as u32;
    0x9000_0000 | ((imm & 3) << 29) | (((imm >> 2) & 0x7ffff) << 5) | rd
}

/// A branch at `p` to `target` with the immediate of `bits` bits at `shift`.
fn branch(base: u32, p: u64, target: u64, bits: u32, shift: u32) -> u32 {
    let words = ((target as i64 - p as i64) >> 2) as u32;
    base | ((words & ((1 << bits) - 1)) << shift)
}

#[test]
fn every_elf_type_patches_the_expected_words() {
    let object = assemble(FIXTURE);
    // The loader maps every type of the fixture to its kind.
    let kinds = kinds_of(&object);
    let expected: BTreeSet<String> = Reloc::ALL
        .iter()
        // Mach-O only.
        .filter(|k| !matches!(k, Reloc::PageOff12 | Reloc::GotAbs64))
        // Thread-local kinds: asm-tests/elf-aarch64/tls.s maps and checks each.
        .filter(|k| !k.is_tp_relative() && **k != Reloc::TlsDescCall)
        // COFF only.
        .filter(|k| {
            !matches!(
                k,
                Reloc::Addr32
                    | Reloc::ImageRel32
                    | Reloc::SecRel32
                    | Reloc::SecRelLo12A
                    | Reloc::SecRelHi12A
                    | Reloc::SecRelLo12L
                    | Reloc::SectionIndex
                    | Reloc::Rel32
                    | Reloc::AddToGotLoad
            )
        })
        .map(|k| k.name().to_string())
        .collect();
    assert_eq!(kinds, expected);

    let engine = engine();
    for (name, value) in [
        ("big_abs", BIG_ABS),
        ("mid_abs", MID_ABS),
        ("wide_abs", WIDE_ABS),
        ("small_abs", SMALL_ABS),
        ("got_target", GOT_TARGET),
        ("far_fn", FAR_FN),
    ] {
        engine.add_global_mapping(name, value);
    }
    engine.add_object_bytes(object, "fixture.o").unwrap();
    let text = engine.get_function_address("fixups").unwrap();
    let data = engine.get_global_value_address("fixup_data").unwrap();
    assert_eq!(text % 0x1000, 0, "the fixture's .text is page-aligned");
    let maps = engine.link_maps();
    let map = &maps[0].1;
    let (_, slot, slot_value) = map.got.iter().find(|(n, ..)| n == "got_target").unwrap();
    assert_eq!(*slot_value, GOT_TARGET);
    let (_, stub) = map.stubs.iter().find(|(n, _)| n == "far_fn").unwrap();
    assert_eq!(map.stubs.len(), 1, "one stub for far_fn's four branches");

    // (offset, word, the instruction as assembled by hand)
    let fixed: [(u64, u32, &str); 29] = [
        (0x00, 0x9400_0c00, "bl #0x3000"),
        (0x04, 0x1400_0bff, "b #0x2ffc"),
        (0x08, 0x5401_7fc1, "b.ne #0x2ff8"),
        (0x0c, 0x361f_ffa2, "tbz w2, #3, #-12"),
        (0x10, 0xd000_0000, "adrp x0, #0x2000"),
        (0x14, 0xf000_0001, "adrp x1, #0x3000"),
        (0x18, 0x1001_7ec2, "adr x2, #0x2fd8"),
        (0x1c, 0x913f_c020, "add x0, x1, #0xff0"),
        (0x20, 0x397f_cc20, "ldrb w0, [x1, #0xff3]"),
        (0x24, 0x795f_ec20, "ldrh w0, [x1, #0xff6]"),
        (0x28, 0xb94f_f420, "ldr w0, [x1, #0xff4]"),
        (0x2c, 0xf947_fc20, "ldr x0, [x1, #0xff8]"),
        (0x30, 0x3dc3_fc20, "ldr q0, [x1, #0xff0]"),
        (0x34, 0x5801_7e20, "ldr x0, #0x2fc4"),
        (0x38, 0xd297_dde0, "movz x0, #0xbeef"),
        (0x3c, 0xf29b_de00, "movk x0, #0xdef0"),
        (0x40, 0xd2a2_4680, "movz x0, #0x1234, lsl #16"),
        (0x44, 0xf2b3_5780, "movk x0, #0x9abc, lsl #16"),
        (0x48, 0xd2c2_4680, "movz x0, #0x1234, lsl #32"),
        (0x4c, 0xf2ca_cf00, "movk x0, #0x5678, lsl #32"),
        (0x50, 0xf2e2_4680, "movk x0, #0x1234, lsl #48"),
        (0x54, 0xd285_f580, "movz x0, #0x2fac"),
        (0x58, 0xf29f_f500, "movk x0, #0xffa8"),
        (0x5c, 0x92a0_0000, "movn x0, #0, lsl #16"),
        (0x60, 0xf2bf_ffe0, "movk x0, #0xffff, lsl #16"),
        (0x64, 0x92c0_0000, "movn x0, #0, lsl #32"),
        (0x68, 0xf2df_ffe0, "movk x0, #0xffff, lsl #32"),
        (0x6c, 0x92e0_0000, "movn x0, #0, lsl #48"),
        (0x88, 0xd503_201f, "nop (R_AARCH64_NONE)"),
    ];
    for (offset, expected, asm) in fixed {
        assert_eq!(
            word(text + offset),
            expected,
            "at .text+{offset:#x}: expected `{asm}`"
        );
    }
    // The GOT pair reaches the slot; the far branches reach the stub.
    assert_eq!(word(text + 0x70), adrp(3, text + 0x70, *slot));
    let lo12 = ((*slot & 0xfff) >> 3) as u32;
    assert_eq!(word(text + 0x74), 0xf940_0063 | (lo12 << 10));
    assert_eq!(
        word(text + 0x78),
        branch(0x9400_0000, text + 0x78, *stub, 26, 0)
    );
    assert_eq!(
        word(text + 0x7c),
        branch(0x5400_0000, text + 0x7c, *stub, 19, 5)
    );
    assert_eq!(
        word(text + 0x80),
        branch(0x3600_0000, text + 0x80, *stub, 14, 5)
    );
    assert_eq!(
        word(text + 0x84),
        branch(0x1400_0000, text + 0x84, *stub, 26, 0)
    );
    // The stub: adrp x16 + ldr x16 of far_fn's GOT slot, br x16.
    assert_eq!(veneer_target(*stub), FAR_FN);

    // Data fields.
    let near_fn = text + 0x3000;
    assert_eq!(bytes_at(data, 8), BIG_ABS.to_le_bytes());
    assert_eq!(
        bytes_at(data + 8, 8),
        near_fn.wrapping_sub(data + 8).to_le_bytes()
    );
    assert_eq!(bytes_at(data + 0x10, 4), (MID_ABS as u32 + 1).to_le_bytes());
    assert_eq!(bytes_at(data + 0x14, 4), (-0x14i32).to_le_bytes());
    assert_eq!(bytes_at(data + 0x18, 2), (SMALL_ABS as u16).to_le_bytes());
    assert_eq!(bytes_at(data + 0x1a, 2), 0x26u16.to_le_bytes());
    assert_eq!(
        bytes_at(data + 0x1c, 4),
        (*slot as i64 - (data + 0x1c) as i64)
            .to_le_bytes()
            .get(..4)
            .unwrap()
    );
}

#[test]
fn dynamic_tls_relocations_are_refused_by_name() {
    // General dynamic (not emitted by LLVM for Linux, which uses
    // descriptors) stays unsupported.
    let object = assemble(
        "    .text\n    .globl f\nf:\n    .reloc ., R_AARCH64_TLSGD_ADR_PAGE21, v\n    .inst 0x90000000\n    ret\n",
    );
    match ExecutionEngine::with_lmm(Some(true))
        .unwrap()
        .add_object_bytes(object, "tls.o")
    {
        Err(Error::UnsupportedRelocation {
            object,
            section,
            offset,
            kind,
        }) => {
            assert_eq!(object, "tls.o");
            assert_eq!(section, ".text");
            assert_eq!(offset, 0);
            assert_eq!(kind, "R_AARCH64_TLSGD_ADR_PAGE21");
        }
        other => panic!("expected an unsupported relocation, got {other:?}"),
    }
}

#[test]
fn out_of_range_and_misaligned_fixups_are_errors() {
    // adr reaches 1 MiB; far_fn is far away.
    let object = assemble(
        "    .text\n    .globl f\nf:\n    .reloc ., R_AARCH64_ADR_PREL_LO21, far_fn\n    .inst 0x10000000\n    ret\n",
    );
    let linker = engine();
    linker.add_global_mapping("far_fn", FAR_FN);
    linker.add_object_bytes(object, "far.o").unwrap();
    match linker.finalize_object() {
        Err(Error::RelocationOverflow { site, value, .. }) => {
            assert_eq!(site.kind, "ADR_PREL_LO21");
            assert_eq!(site.symbol, "far_fn");
            assert_eq!(site.object, "far.o");
            assert!(value > 1 << 20, "{value:#x}");
        }
        other => panic!("expected an overflow, got {other:?}"),
    }

    // An 8-byte load from an address that is 4 mod 8.
    let object = assemble(
        "    .text\n    .globl g\ng:\n    .reloc ., R_AARCH64_LDST64_ABS_LO12_NC, d+4\n    .inst 0xf9400000\n    ret\n    .data\n    .p2align 3\nd:\n    .quad 1, 2\n",
    );
    let linker = engine();
    linker.add_object_bytes(object, "misaligned.o").unwrap();
    match linker.finalize_object() {
        Err(Error::BadRelocation { site, reason }) => {
            assert_eq!(site.kind, "LDST64_ABS_LO12_NC");
            assert!(reason.contains("aligned"), "{reason}");
        }
        other => panic!("expected a bad relocation, got {other:?}"),
    }

    // CALL26 on something that is not a branch.
    let object = assemble(
        "    .text\n    .globl h\nh:\n    .reloc ., R_AARCH64_CALL26, h\n    .inst 0xd503201f\n    ret\n",
    );
    let linker = engine();
    linker.add_object_bytes(object, "nop.o").unwrap();
    match linker.finalize_object() {
        Err(Error::BadRelocation { site, reason }) => {
            assert_eq!(site.kind, "CALL26");
            assert!(reason.contains("b or bl"), "{reason}");
        }
        other => panic!("expected a bad relocation, got {other:?}"),
    }
}

#[test]
fn compiled_programs_use_the_expected_kinds() {
    let mut module = Module::parse_ir(GLOBALS, "globals").unwrap();
    let kinds = kinds_of(&machine().emit_object(&mut module).unwrap());
    for k in [
        "ADR_GOT_PAGE",
        "LD64_GOT_LO12_NC",
        "ADR_PREL_PG_HI21",
        "ADD_ABS_LO12_NC",
        "LDST8_ABS_LO12_NC",
        "LDST16_ABS_LO12_NC",
        "LDST32_ABS_LO12_NC",
        "LDST64_ABS_LO12_NC",
        "LDST128_ABS_LO12_NC",
        "PREL32",
    ] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    let mut module = Module::parse_ir(FLOATS, "floats").unwrap();
    let kinds = kinds_of(&machine().emit_object(&mut module).unwrap());
    for k in ["LDST64_ABS_LO12_NC", "LDST128_ABS_LO12_NC", "CALL26"] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
}

/// Thread-locals in each model LLVM emits for AArch64 Linux: local exec,
/// initial exec and (the general-dynamic default) TLS descriptors.
const THREAD_LOCALS: &str = r#"
    @le = dso_local thread_local(localexec) global i64 5, align 8
    @ie = thread_local(initialexec) global i64 6, align 8
    @desc = thread_local global [2 x i64] zeroinitializer, align 8
    define i64 @sum() {
      %a = load i64, ptr @le
      %b = load i64, ptr @ie
      %p = getelementptr [2 x i64], ptr @desc, i64 0, i64 1
      %c = load i64, ptr %p
      %s = add i64 %a, %b
      %t = add i64 %s, %c
      ret i64 %t
    }
"#;

#[test]
fn compiled_thread_locals_of_every_model_link() {
    let mut module = Module::parse_ir(THREAD_LOCALS, "tls").unwrap();
    let object = machine().emit_object(&mut module).unwrap();
    let kinds = kinds_of(&object);
    for k in [
        "TLSLE_ADD_TPREL_HI12",
        "TLSLE_ADD_TPREL_LO12_NC",
        "TLSIE_ADR_GOTTPREL_PAGE21",
        "TLSIE_LD64_GOTTPREL_LO12_NC",
        "TLSDESC_ADR_PAGE21",
        "TLSDESC_LD64_LO12",
        "TLSDESC_ADD_LO12",
        "TLSDESC_CALL",
    ] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    let engine = engine();
    engine.add_object_bytes(object, "tls.o").unwrap();
    engine.finalize_object().unwrap();
    assert_ne!(engine.get_function_address("sum").unwrap(), 0);
}

// ---- programs ---------------------------------------------------------------

/// Globals of every access width, read and written; `counter` is
/// preemptible, so PIC code reaches it through the GOT.
const GLOBALS: &str = r#"
@counter = global i64 5
@lb = internal global [4 x i8] c"\01\02\03\04"
@lh = internal global [4 x i16] [i16 10, i16 20, i16 30, i16 40]
@lw = internal global [4 x i32] [i32 100, i32 200, i32 300, i32 400]
@ld = internal global [4 x i64] [i64 1000, i64 2000, i64 3000, i64 4000]
@lq = internal global <2 x i64> <i64 7, i64 9>

define i64 @bump(i64 %by) {
  %v = load i64, ptr @counter
  %n = add i64 %v, %by
  store i64 %n, ptr @counter
  ret i64 %n
}

define i64 @read_all() {
  %b = load i8, ptr getelementptr ([4 x i8], ptr @lb, i64 0, i64 2)
  %h = load i16, ptr getelementptr ([4 x i16], ptr @lh, i64 0, i64 1)
  %w = load i32, ptr getelementptr ([4 x i32], ptr @lw, i64 0, i64 3)
  %d = load i64, ptr getelementptr ([4 x i64], ptr @ld, i64 0, i64 1)
  %q = load <2 x i64>, ptr @lq
  %q0 = extractelement <2 x i64> %q, i32 0
  %q1 = extractelement <2 x i64> %q, i32 1
  %b64 = zext i8 %b to i64
  %h64 = zext i16 %h to i64
  %w64 = zext i32 %w to i64
  %s1 = add i64 %b64, %h64
  %s2 = add i64 %s1, %w64
  %s3 = add i64 %s2, %d
  %q0s = mul i64 %q0, 10000
  %q1s = mul i64 %q1, 100000
  %s4 = add i64 %s3, %q0s
  %s5 = add i64 %s4, %q1s
  ret i64 %s5
}

define void @write_all(i64 %x) {
  %b = trunc i64 %x to i8
  %h = trunc i64 %x to i16
  %w = trunc i64 %x to i32
  store i8 %b, ptr getelementptr ([4 x i8], ptr @lb, i64 0, i64 2)
  store i16 %h, ptr getelementptr ([4 x i16], ptr @lh, i64 0, i64 1)
  store i32 %w, ptr getelementptr ([4 x i32], ptr @lw, i64 0, i64 3)
  store i64 %x, ptr getelementptr ([4 x i64], ptr @ld, i64 0, i64 1)
  %v0 = insertelement <2 x i64> undef, i64 %x, i32 0
  %v = insertelement <2 x i64> %v0, i64 %x, i32 1
  store <2 x i64> %v, ptr @lq
  ret void
}
"#;

/// Constants that need constant pools (8- and 16-byte), and a libm call.
const FLOATS: &str = r#"
define double @poly(double %x) {
  %a = fmul double %x, 1.234567891234
  %b = fadd double %a, 0.987654321987
  %c = fmul double %b, %x
  %d = fadd double %c, 0.001
  ret double %d
}

define double @vpoly(double %x) {
  %v0 = insertelement <2 x double> undef, double %x, i32 0
  %v = insertelement <2 x double> %v0, double %x, i32 1
  %m = fmul <2 x double> %v, <double 1.1, double 4.56789>
  %e0 = extractelement <2 x double> %m, i32 0
  %e1 = extractelement <2 x double> %m, i32 1
  %s = fsub double %e0, %e1
  ret double %s
}

declare double @sin(double)

define double @use_sin(double %x) {
  %s = call double @sin(double %x)
  %t = fmul double %s, 2.0
  ret double %t
}
"#;

#[cfg(feature = "emulator")]
mod executed {
    use super::*;
    use rivet::emulator::{Aarch64Emulator, HostReturn, Perms};

    /// An engine with its modules linked and its arena mapped into an
    /// emulator. Field order: the emulator goes before the memory it maps.
    struct Run {
        emu: Aarch64Emulator,
        engine: ExecutionEngine,
    }

    impl Run {
        /// Links `modules` (after `prepare` has set bridges and mappings)
        /// and maps every byte rivet placed into the emulator.
        fn new(
            modules: &[&str],
            prepare: impl FnOnce(&mut Aarch64Emulator, &ExecutionEngine),
        ) -> Run {
            let mut emu = Aarch64Emulator::new().expect("emulator");
            let engine = engine();
            prepare(&mut emu, &engine);
            for (i, ir) in modules.iter().enumerate() {
                engine.add_module(Module::parse_ir(ir, &format!("a64_m{i}")).unwrap());
            }
            engine.finalize_object().expect("link");
            let (mut lo, mut hi) = (u64::MAX, 0);
            let mut cover = |a: u64, len: u64| {
                if len > 0 && a != 0 {
                    lo = lo.min(a);
                    hi = hi.max(a + len);
                }
            };
            for (_, map) in engine.link_maps() {
                for (_, addr, size, _, _) in &map.sections {
                    cover(*addr, *size);
                }
                for (_, slot, _) in &map.got {
                    cover(*slot, 8);
                }
                for (_, stub) in &map.stubs {
                    cover(*stub, 16);
                }
            }
            assert!(lo < hi, "nothing linked");
            // SAFETY: the range is the engine's arena, finalized; the engine
            // lives in `Run` after the emulator and links nothing more.
            let pieces = unsafe { emu.map_host_range(lo, hi - lo) }.expect("map the arena");
            assert!(pieces > 0);
            Run { emu, engine }
        }

        fn call(&mut self, name: &str, ints: &[u64], floats: &[f64]) -> (u64, f64) {
            let addr = self.engine.get_function_address(name).unwrap();
            self.emu
                .call(addr, ints, floats)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        }

        fn stub_of(&self, target: &str) -> Option<u64> {
            self.engine
                .link_maps()
                .iter()
                .find_map(|(_, m)| m.stubs.iter().find(|(n, _)| n == target).map(|(_, a)| *a))
        }
    }

    #[test]
    fn globals_are_read_and_written() {
        let mut run = Run::new(&[GLOBALS], |_, _| {});
        assert_eq!(
            run.call("read_all", &[], &[]).0,
            3 + 20 + 400 + 2000 + 70_000 + 900_000
        );
        run.call("write_all", &[5], &[]);
        assert_eq!(run.call("read_all", &[], &[]).0, 5 * 4 + 50_000 + 500_000);
        // Truncating stores: 0x1_0203 is 0x03 as a byte, 0x0203 as a half.
        run.call("write_all", &[0x1_0203], &[]);
        assert_eq!(
            run.call("read_all", &[], &[]).0,
            0x03 + 0x0203 + 0x1_0203 + 0x1_0203 + 0x1_0203 * 10_000 + 0x1_0203 * 100_000
        );

        // counter, through the GOT; the host sees the guest's writes and back.
        assert_eq!(run.call("bump", &[10], &[]).0, 15);
        let counter = run.engine.get_global_value_address("counter").unwrap();
        // SAFETY: `counter` is an 8-aligned i64 in the engine's writable data.
        unsafe {
            assert_eq!(std::ptr::read(counter as *const u64), 15);
            std::ptr::write(counter as *mut u64, 1000);
        }
        assert_eq!(run.call("bump", &[1], &[]).0, 1001);
    }

    /// A 16-case switch, lowered to a jump table in `.rodata`.
    fn switch_ir() -> String {
        let mut ir = String::from(
            "define i64 @pick(i64 %x, i64 %y) {\nentry:\n  switch i64 %x, label %other [\n",
        );
        for k in 0..16 {
            ir += &format!("    i64 {k}, label %c{k}\n");
        }
        ir += "  ]\n";
        for k in 0..16 {
            let (op, c) = switch_case(k);
            ir += &format!("c{k}:\n  %r{k} = {op} i64 %y, {c}\n  br label %done\n");
        }
        ir += "other:\n  ret i64 -1\ndone:\n  %r = phi i64 ";
        ir += &(0..16)
            .map(|k| format!("[%r{k}, %c{k}]"))
            .collect::<Vec<_>>()
            .join(", ");
        ir += "\n  ret i64 %r\n}\n";
        ir
    }

    fn switch_case(k: u64) -> (&'static str, u64) {
        let ops = ["add", "mul", "xor", "sub", "shl", "or", "and", "lshr"];
        let op = ops[k as usize % 8];
        let c = if matches!(op, "shl" | "lshr") {
            k % 13 + 1
        } else {
            k * 37 + 5
        };
        (op, c)
    }

    fn switch_expected(x: u64, y: u64) -> u64 {
        if x >= 16 {
            return u64::MAX;
        }
        let (op, c) = switch_case(x);
        match op {
            "add" => y.wrapping_add(c),
            "mul" => y.wrapping_mul(c),
            "xor" => y ^ c,
            "sub" => y.wrapping_sub(c),
            "shl" => y << c,
            "or" => y | c,
            "and" => y & c,
            _ => y >> c,
        }
    }

    #[test]
    fn switch_with_a_jump_table() {
        let ir = switch_ir();
        let mut module = Module::parse_ir(&ir, "switch").unwrap();
        let object = machine().emit_object(&mut module).unwrap();
        let parsed = ObjectFile::parse(&object, "switch").unwrap();
        let rodata = parsed
            .sections
            .iter()
            .position(|s| s.name == ".rodata")
            .expect("a jump table in .rodata") as u32;
        assert!(
            parsed
                .sections
                .iter()
                .flat_map(|s| &s.relocations)
                .any(|r| {
                    r.kind == RelocKind::Aarch64(Reloc::AdrPrelPgHi21)
                        && parsed.target_name(r.target) == parsed.section_name(rodata)
                }),
            "adrp to the jump table"
        );

        let mut run = Run::new(&[&ir], |_, _| {});
        let y = 0x0123_4567_89ab_cdef;
        for x in 0..18 {
            assert_eq!(
                run.call("pick", &[x, y], &[]).0,
                switch_expected(x, y),
                "case {x}"
            );
        }
    }

    #[test]
    fn float_constant_pools_and_libm_through_the_bridge() {
        let mut run = Run::new(&[FLOATS], |emu, engine| {
            emu.bridge("sin", Box::new(|a| HostReturn::Float(a.d[0].sin())))
                .unwrap();
            emu.add_global_mappings(engine);
        });
        for x in [0.0, 1.5, -2.25, 1e3] {
            let expected = (x * 1.234567891234 + 0.987654321987) * x + 0.001;
            assert_eq!(
                run.call("poly", &[], &[x]).1.to_bits(),
                expected.to_bits(),
                "poly({x})"
            );
            let expected = x * 1.1 - x * 4.56789;
            assert_eq!(
                run.call("vpoly", &[], &[x]).1.to_bits(),
                expected.to_bits(),
                "vpoly({x})"
            );
            let expected = x.sin() * 2.0;
            assert_eq!(
                run.call("use_sin", &[], &[x]).1.to_bits(),
                expected.to_bits(),
                "use_sin({x})"
            );
        }
        // sin is the trap address, out of a bl's reach: it went through a stub.
        let trap = run.emu.trap_address("sin").unwrap();
        let stub = run.stub_of("sin").expect("a stub for sin");
        assert_eq!(veneer_target(stub), trap);
    }

    const MODULE_A: &str = r#"
@shared = global i64 100
@names = global [2 x ptr] [ptr @shared, ptr @helper_a]

define i64 @helper_a(i64 %x) {
  %s = load i64, ptr @shared
  %r = add i64 %x, %s
  ret i64 %r
}
"#;

    const MODULE_B: &str = r#"
@shared = external global i64
@names = external global [2 x ptr]
@fnptr = global ptr @helper_a
declare i64 @helper_a(i64)

define i64 @entry_b(i64 %x) {
  %a = call i64 @helper_a(i64 %x)
  store i64 %a, ptr @shared
  %p = load ptr, ptr @fnptr
  %b = call i64 %p(i64 1)
  %q = load ptr, ptr @names
  %v = load i64, ptr %q
  %r = add i64 %b, %v
  ret i64 %r
}

define i64 @tail_b(i64 %x) {
  %r = tail call i64 @helper_a(i64 %x)
  ret i64 %r
}

define ptr @second_name() {
  %p = load ptr, ptr getelementptr ([2 x ptr], ptr @names, i64 0, i64 1)
  ret ptr %p
}

define i64 @read_shared() {
  %v = load i64, ptr @shared
  ret i64 %v
}
"#;

    #[test]
    fn calls_and_data_across_two_modules() {
        let mut run = Run::new(&[MODULE_A, MODULE_B], |_, _| {});
        // helper_a(5) = 105 is stored to shared; helper_a(1) = 106; + shared.
        assert_eq!(run.call("entry_b", &[5], &[]).0, 106 + 105);
        assert_eq!(run.call("tail_b", &[2], &[]).0, 2 + 105);
        let helper = run.engine.get_function_address("helper_a").unwrap();
        assert_eq!(run.call("second_name", &[], &[]).0, helper);
        let shared = run.engine.get_global_value_address("shared").unwrap();
        // SAFETY: `shared` is an i64 in the engine's data.
        assert_eq!(unsafe { std::ptr::read(shared as *const u64) }, 105);
        // PIC code reaches `shared` (defined by the other module of the
        // link) with `adrp x8, :got:shared; ldr x8, [x8, :got_lo12:shared]`;
        // the linker relaxed the pair into `adrp x8; add x8, x8` of
        // `shared` itself, which this run executes.
        assert_eq!(run.call("read_shared", &[], &[]).0, 105);
        let read = run.engine.get_function_address("read_shared").unwrap();
        let (adrp, add) = (word(read), word(read + 4));
        assert_eq!(adrp & 0x9f00_0000, 0x9000_0000, "adrp: {adrp:#x}");
        assert_eq!(add & 0xffc0_0000, 0x9100_0000, "add, not ldr: {add:#x}");
        let pages = ((((adrp >> 5) & 0x7_ffff) << 2 | (adrp >> 29) & 3) as i64) << 43 >> 31;
        let page = (read & !0xfff).wrapping_add_signed(pages);
        assert_eq!(page + u64::from((add >> 10) & 0xfff), shared);
    }

    #[test]
    fn far_call_goes_through_a_veneer() {
        // Code of our own far from the arena: far_mul_add(a, b) = a * b + 3.
        let code: [u32; 3] = [
            0x9b01_7c00, // mul x0, x0, x1
            0x9100_0c00, // add x0, x0, #3
            0xd65f_03c0, // ret
        ];
        // SAFETY: a fresh anonymous mapping; unmapped at the end of the test,
        // after the emulator that maps it is gone.
        let far = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(far, libc::MAP_FAILED);
        // SAFETY: the page is ours and writable; then read-only for good.
        unsafe {
            std::ptr::copy_nonoverlapping(code.as_ptr(), far.cast::<u32>(), code.len());
            assert_eq!(libc::mprotect(far, 4096, libc::PROT_READ), 0);
        }
        let far = far as u64;
        let ir = r#"
declare i64 @far_mul_add(i64, i64)
define i64 @call_far(i64 %a) {
  %r = call i64 @far_mul_add(i64 %a, i64 %a)
  %s = add i64 %r, 1
  ret i64 %s
}
"#;
        let mut run = Run::new(&[ir], |emu, engine| {
            // SAFETY: the page stays mapped (read-only) until after `run`.
            unsafe { emu.map_host(far, 4096, Perms::RX).unwrap() };
            engine.add_global_mapping("far_mul_add", far);
        });
        let call_far = run.engine.get_function_address("call_far").unwrap();
        assert!(
            far.abs_diff(call_far) > 128 << 20,
            "{far:#x} vs {call_far:#x}"
        );

        assert_eq!(run.call("call_far", &[7], &[]).0, 7 * 7 + 3 + 1);
        assert_eq!(run.call("call_far", &[1 << 20], &[]).0, (1u64 << 40) + 4);

        // The bl goes to the stub, and the stub holds far_mul_add.
        let stub = run.stub_of("far_mul_add").expect("a stub");
        let bl = (0..16)
            .map(|i| call_far + 4 * i)
            .find(|&p| word(p) >> 26 == 0b100101)
            .expect("a bl in call_far");
        let imm = (word(bl) & 0x03ff_ffff) as i64;
        let target = bl as i64 + ((imm << 38) >> 36);
        assert_eq!(target as u64, stub);
        assert_eq!(veneer_target(stub), far);
        drop(run);
        // SAFETY: the mapping made above; nothing refers to it any more.
        unsafe { libc::munmap(far as *mut libc::c_void, 4096) };
    }

    #[test]
    fn bridges_pass_integer_and_float_arguments() {
        let ir = r#"
declare i64 @combine(i64, i64, double, double)
define i64 @use_combine(i64 %a, double %d) {
  %r = call i64 @combine(i64 %a, i64 7, double %d, double 0.5)
  %s = mul i64 %r, 2
  ret i64 %s
}
"#;
        let mut run = Run::new(&[ir], |emu, engine| {
            emu.bridge(
                "combine",
                Box::new(|a| HostReturn::Int(a.x[0] * 1000 + a.x[1] + (a.d[0] * a.d[1]) as u64)),
            )
            .unwrap();
            emu.add_global_mappings(engine);
        });
        assert_eq!(
            run.call("use_combine", &[3], &[40.0]).0,
            (3000 + 7 + 20) * 2
        );
    }

    #[test]
    fn an_unbridged_host_function_is_an_emulator_error() {
        // `labs` resolves to the host's x86-64 code, which the emulator does
        // not map: the call faults cleanly instead of running foreign bytes.
        let ir = r#"
declare i64 @labs(i64)
define i64 @use_labs(i64 %x) {
  %r = call i64 @labs(i64 %x)
  ret i64 %r
}
"#;
        let mut run = Run::new(&[ir], |_, _| {});
        let addr = run.engine.get_function_address("use_labs").unwrap();
        match run.emu.call(addr, &[5], &[]) {
            Err(Error::Emulator(message)) => assert!(message.contains("pc"), "{message}"),
            other => panic!("expected an emulator error, got {other:?}"),
        }
    }
}
