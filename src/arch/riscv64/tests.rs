//! Tests of the RISC-V 64 relocation math: every kind, the exact boundaries
//! of every checked kind (last accepted and first rejected value), the
//! instruction words each fixup writes (compared with words assembled with
//! `llvm-mc -triple riscv64 -mattr=+c,+d -show-encoding`; the assembly is in
//! the comment next to each word), stubs, and short places.

use crate::arch::riscv64::{
    apply, stub_bytes, write_stub, Reloc, GOT_SLOT_SIZE, HI20_RANGE, STUB_ALIGN, STUB_SIZE,
};
use crate::arch::Arch;
use crate::arch::{geometry, FixupError, FixupValues, RelocKind};

const G_SLOT: u64 = 0x4000_0010;
const P: u64 = 1 << 40;

fn at(p: u64, s: u64, a: i64) -> FixupValues {
    FixupValues {
        p,
        s,
        a,
        got_base: 0x4000_0000,
        got_slot: G_SLOT,
        ..FixupValues::default()
    }
}

/// The values that make S + A - P equal `x` at [`P`].
fn disp(x: i128) -> FixupValues {
    at(P, (i128::from(P) + x) as u64, 0)
}

fn overflow(value: i128, (min, max): (i128, i128)) -> FixupError {
    FixupError::Overflow { value, min, max }
}

/// Applies a 4-byte instruction kind to `insn`; checks that nothing past the
/// word changes and that an error leaves the word as it was.
#[track_caller]
fn patch(kind: Reloc, insn: u32, v: &FixupValues) -> Result<u32, FixupError> {
    let mut place = insn.to_le_bytes().to_vec();
    place.extend([0xAA; 4]);
    let result = apply(kind, &mut place, v);
    assert!(
        place[4..].iter().all(|&b| b == 0xAA),
        "{kind} wrote past its word"
    );
    let word = u32::from_le_bytes([place[0], place[1], place[2], place[3]]);
    if result.is_err() {
        assert_eq!(word, insn, "{kind} changed the word on error");
    }
    result.map(|()| word)
}

/// As [`patch`] for a 2-byte compressed instruction.
#[track_caller]
fn patch16(kind: Reloc, insn: u16, v: &FixupValues) -> Result<u16, FixupError> {
    let mut place = insn.to_le_bytes().to_vec();
    place.extend([0xAA; 2]);
    let result = apply(kind, &mut place, v);
    assert!(
        place[2..].iter().all(|&b| b == 0xAA),
        "{kind} wrote past its halfword"
    );
    let half = u16::from_le_bytes([place[0], place[1]]);
    if result.is_err() {
        assert_eq!(half, insn, "{kind} changed the halfword on error");
    }
    result.map(|()| half)
}

fn word(bytes: [u8; 4]) -> u32 {
    u32::from_le_bytes(bytes)
}

const BEQ_A0_A1_0: u32 = 0x00b5_0063; // beq a0, a1, 0
const JAL_RA_0: u32 = 0x0000_00ef; // jal ra, 0
const AUIPC_RA_0: u32 = 0x0000_0097; // auipc ra, 0
const JALR_RA_0: u32 = 0x0000_80e7; // jalr ra, 0(ra)
const AUIPC_A0_0: u32 = 0x0000_0517; // auipc a0, 0
const LUI_A0_0: u32 = 0x0000_0537; // lui a0, 0
const ADDI_A0_A0_0: u32 = 0x0005_0513; // addi a0, a0, 0
const LD_A0_0: u32 = 0x0005_3503; // ld a0, 0(a0)
const FLD_FA0_0: u32 = 0x0005_3507; // fld fa0, 0(a0)
const SD_A1_0: u32 = 0x00b5_3023; // sd a1, 0(a0)
const FSD_FA0_0: u32 = 0x00a5_3027; // fsd fa0, 0(a0)
const C_BEQZ_A0_0: u16 = 0xc101; // c.beqz a0, 0
const C_J_0: u16 = 0xa001; // c.j 0

#[test]
fn all_lists_every_kind_once_with_unique_names_and_indices() {
    let mut names: Vec<_> = Reloc::ALL.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Reloc::ALL.len());
    let mut indices: Vec<_> = Reloc::ALL
        .iter()
        .map(|&r| RelocKind::Riscv64(r).index())
        .collect();
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), Reloc::ALL.len());
    assert!(indices.iter().all(|&i| i < RelocKind::INDEX_COUNT));
    assert_eq!(RelocKind::Riscv64(Reloc::Call).to_string(), "CALL");
}

#[test]
fn got_and_branch_classification() {
    for kind in Reloc::ALL {
        assert_eq!(
            kind.needs_got_slot(),
            matches!(kind, Reloc::GotHi20 | Reloc::GotPcrelLo12I),
            "{kind}"
        );
        assert_eq!(
            kind.is_branch(),
            matches!(kind, Reloc::Jal | Reloc::Call),
            "{kind}"
        );
    }
    assert!(Reloc::Jal.branch_reaches(P, P + (1 << 20) - 2, 0));
    assert!(!Reloc::Jal.branch_reaches(P, P + (1 << 20), 0));
    assert!(!Reloc::Branch.branch_reaches(P, P, 0));
}

#[test]
fn geometry_matches_the_stub() {
    let g = geometry(Arch::Riscv64);
    assert_eq!(g.stub_size, STUB_SIZE as u64);
    assert_eq!(g.stub_align, STUB_ALIGN as u64);
    assert_eq!(g.got_slot_size, GOT_SLOT_SIZE as u64);
}

#[test]
fn stub_is_auipc_ld_jr_through_the_slot() {
    // slot - stub = 0x1234_5ff8: hi20 = (x + 0x800) >> 12 = 0x12346,
    // lo12 = x - (hi20 << 12) = -8.
    let (stub, slot) = (0x10_0000u64, 0x10_0000 + 0x1234_5ff8u64);
    let bytes = stub_bytes(stub, slot).expect("stub");
    assert_eq!(STUB_SIZE, 12);
    assert_eq!(word(bytes[0..4].try_into().unwrap()), 0x1234_6e17); // auipc t3, 0x12346
    assert_eq!(word(bytes[4..8].try_into().unwrap()), 0xff8e_3e03); // ld t3, -8(t3)
    assert_eq!(word(bytes[8..12].try_into().unwrap()), 0x000e_0067); // jr t3
                                                                     // The reach is HI20_RANGE, both ends.
    for (x, ok) in [
        (HI20_RANGE.1, true),
        (HI20_RANGE.1 + 1, false),
        (HI20_RANGE.0, true),
        (HI20_RANGE.0 - 1, false),
    ] {
        let stub = 0x1_0000_0000u64;
        let slot = (i128::from(stub) + x) as u64;
        assert_eq!(stub_bytes(stub, slot).is_ok(), ok, "{x:#x}");
    }
    let mut short = [0u8; STUB_SIZE - 1];
    assert_eq!(
        write_stub(&mut short, 0x1000, 0x2000),
        Err(FixupError::PlaceOutOfBounds {
            needed: STUB_SIZE,
            available: STUB_SIZE - 1
        })
    );
    assert!(short.iter().all(|&b| b == 0));
}

#[test]
fn branch_boundaries_and_encoding() {
    // beq a0, a1, 4094 / -4096
    assert_eq!(
        patch(Reloc::Branch, BEQ_A0_A1_0, &disp(4094)),
        Ok(0x7eb5_0fe3)
    );
    assert_eq!(
        patch(Reloc::Branch, BEQ_A0_A1_0, &disp(-4096)),
        Ok(0x80b5_0063)
    );
    let range = Reloc::Branch.range().unwrap();
    assert_eq!(range, (-4096, 4094));
    assert_eq!(
        patch(Reloc::Branch, BEQ_A0_A1_0, &disp(4096)),
        Err(overflow(4096, range))
    );
    assert_eq!(
        patch(Reloc::Branch, BEQ_A0_A1_0, &disp(-4098)),
        Err(overflow(-4098, range))
    );
    assert!(matches!(
        patch(Reloc::Branch, BEQ_A0_A1_0, &disp(3)),
        Err(FixupError::Invalid(_))
    ));
    // Only conditional branches.
    assert!(matches!(
        patch(Reloc::Branch, JAL_RA_0, &disp(8)),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn jal_boundaries_encoding_and_stub() {
    // jal ra, 1048574 / -1048576
    assert_eq!(
        patch(Reloc::Jal, JAL_RA_0, &disp((1 << 20) - 2)),
        Ok(0x7fff_f0ef)
    );
    assert_eq!(
        patch(Reloc::Jal, JAL_RA_0, &disp(-(1 << 20))),
        Ok(0x8000_00ef)
    );
    let range = Reloc::Jal.range().unwrap();
    assert_eq!(
        patch(Reloc::Jal, JAL_RA_0, &disp(1 << 20)),
        Err(overflow(1 << 20, range))
    );
    assert_eq!(
        patch(Reloc::Jal, JAL_RA_0, &disp(-(1 << 20) - 2)),
        Err(overflow(-(1 << 20) - 2, range))
    );
    // Out of reach with a stub: the jal goes to the stub.
    let mut v = disp(1 << 30);
    v.stub = P + 4094;
    assert_eq!(patch(Reloc::Jal, JAL_RA_0, &v), Ok(0x7ff0_00ef)); // jal ra, 4094
    assert!(matches!(
        patch(Reloc::Jal, BEQ_A0_A1_0, &disp(8)),
        Err(FixupError::Invalid(_))
    ));
}

/// The value an auipc/lui + I-type pair builds, from the words written.
fn hi_lo_value(hi: u32, lo: u32) -> i128 {
    let upper = i128::from((hi & 0xffff_f000) as i32);
    let lower = i128::from((lo as i32) >> 20);
    upper + lower
}

#[test]
fn call_boundaries_and_stub() {
    let call = |v: &FixupValues| -> Result<(u32, u32), FixupError> {
        let mut place = [0u8; 10];
        place[..4].copy_from_slice(&AUIPC_RA_0.to_le_bytes());
        place[4..8].copy_from_slice(&JALR_RA_0.to_le_bytes());
        apply(Reloc::Call, &mut place, v)?;
        assert_eq!(place[8..], [0, 0]);
        Ok((
            word(place[..4].try_into().unwrap()),
            word(place[4..8].try_into().unwrap()),
        ))
    };
    for x in [
        0,
        2,
        -2,
        0x7ff,
        0x800,
        -0x800,
        -0x802,
        HI20_RANGE.0,
        HI20_RANGE.1 - 1,
    ] {
        let (hi, lo) = call(&disp(x)).unwrap();
        assert_eq!(hi_lo_value(hi, lo), x, "{x:#x}");
        assert_eq!(hi & 0xfff, AUIPC_RA_0 & 0xfff);
        assert_eq!(lo & 0xfffff, JALR_RA_0 & 0xfffff);
    }
    // jalr ra, -2048(ra) after an auipc of 0x800 pages... checked exactly:
    assert_eq!(call(&disp(-2048)), Ok((AUIPC_RA_0, 0x8000_80e7)));
    assert_eq!(
        call(&disp(HI20_RANGE.1 + 1)),
        Err(overflow(HI20_RANGE.1 + 1, HI20_RANGE))
    );
    assert_eq!(
        call(&disp(HI20_RANGE.0 - 1)),
        Err(overflow(HI20_RANGE.0 - 1, HI20_RANGE))
    );
    // Out of reach with a stub.
    let mut v = disp(1 << 40);
    v.stub = P + 0x1234;
    let (hi, lo) = call(&v).unwrap();
    assert_eq!(hi_lo_value(hi, lo), 0x1234);
    // The second word must be a jalr.
    let mut place = [0u8; 8];
    place[..4].copy_from_slice(&AUIPC_RA_0.to_le_bytes());
    place[4..].copy_from_slice(&JAL_RA_0.to_le_bytes());
    assert!(matches!(
        apply(Reloc::Call, &mut place, &disp(8)),
        Err(FixupError::Invalid(_))
    ));
    assert_eq!(&place[4..], &JAL_RA_0.to_le_bytes());
}

#[test]
fn pcrel_hi20_and_lo12_pairs_build_the_value() {
    // The loader gives the low part A_hi + (P_lo - P_hi): at P + 4 the low
    // part's S + A - P equals the high part's S + A - P at P.
    for x in [
        0i128,
        1,
        0x7ff,
        0x800,
        0xfff,
        -1,
        -0x800,
        -0x801,
        0x1234_5678,
        HI20_RANGE.0,
        HI20_RANGE.1,
    ] {
        let hi = patch(Reloc::PcrelHi20, AUIPC_A0_0, &disp(x)).unwrap();
        let lo_values = at(P + 4, (i128::from(P) + x) as u64, 4);
        let lo = patch(Reloc::PcrelLo12I, ADDI_A0_A0_0, &lo_values).unwrap();
        assert_eq!(hi_lo_value(hi, lo), x, "{x:#x}");
        let lo_fp = patch(Reloc::PcrelLo12I, FLD_FA0_0, &lo_values).unwrap();
        assert_eq!(lo_fp >> 20, lo >> 20);
        let store = patch(Reloc::PcrelLo12S, SD_A1_0, &lo_values).unwrap();
        let s_imm = ((store >> 25) << 5) | ((store >> 7) & 0x1f);
        assert_eq!(s_imm, lo >> 20, "{x:#x}");
        assert_eq!(store & 0x01ff_f07f, SD_A1_0);
    }
    assert_eq!(
        patch(Reloc::PcrelHi20, AUIPC_A0_0, &disp(HI20_RANGE.1 + 1)),
        Err(overflow(HI20_RANGE.1 + 1, HI20_RANGE))
    );
    assert_eq!(
        patch(Reloc::PcrelHi20, AUIPC_A0_0, &disp(HI20_RANGE.0 - 1)),
        Err(overflow(HI20_RANGE.0 - 1, HI20_RANGE))
    );
    // auipc a0, 0xfffff
    assert_eq!(
        patch(Reloc::PcrelHi20, AUIPC_A0_0, &disp(-0x1000)),
        Ok(0xffff_f517)
    );
    // A low part on the wrong instruction.
    assert!(matches!(
        patch(Reloc::PcrelLo12S, ADDI_A0_A0_0, &disp(0)),
        Err(FixupError::Invalid(_))
    ));
    assert!(matches!(
        patch(Reloc::PcrelLo12I, SD_A1_0, &disp(0)),
        Err(FixupError::Invalid(_))
    ));
    assert!(matches!(
        patch(Reloc::PcrelHi20, LUI_A0_0, &disp(0)),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn got_hi20_and_its_low_part_use_the_slot() {
    let p = 0x3000_0000;
    let v = at(p, 0xdead_0000, 0);
    let hi = patch(Reloc::GotHi20, AUIPC_A0_0, &v).unwrap();
    let lo = patch(Reloc::GotPcrelLo12I, LD_A0_0, &at(p + 4, 0xdead_0000, 4)).unwrap();
    assert_eq!(hi_lo_value(hi, lo), i128::from(G_SLOT) - i128::from(p));
    let mut none = v;
    none.got_slot = 0;
    assert!(matches!(
        patch(Reloc::GotHi20, AUIPC_A0_0, &none),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn absolute_hi20_lo12_boundaries() {
    for x in [0i128, 0x7ff, 0x800, -0x800, HI20_RANGE.0, HI20_RANGE.1] {
        let v = at(P, 0, x as i64);
        let hi = patch(Reloc::Hi20, LUI_A0_0, &v).unwrap();
        let lo = patch(Reloc::Lo12I, ADDI_A0_A0_0, &v).unwrap();
        assert_eq!(hi_lo_value(hi, lo), x, "{x:#x}");
        let st = patch(Reloc::Lo12S, FSD_FA0_0, &v).unwrap();
        assert_eq!(((st >> 25) << 5) | ((st >> 7) & 0x1f), lo >> 20);
    }
    // lui a0, 0x7ffff (last accepted: 2^31 - 0x800 - 1 rounds to 0x7ffff)
    assert_eq!(
        patch(Reloc::Hi20, LUI_A0_0, &at(P, 0x7fff_f7ff, 0)),
        Ok(0x7fff_f537)
    );
    assert_eq!(
        patch(Reloc::Hi20, LUI_A0_0, &at(P, 0x7fff_f800, 0)),
        Err(overflow(0x7fff_f800, HI20_RANGE))
    );
    // 0x7fff_ffff_f000 is far above what lui reaches on RV64.
    assert!(matches!(
        patch(Reloc::Hi20, LUI_A0_0, &at(P, 0x7fff_ffff_f000, 0)),
        Err(FixupError::Overflow { .. })
    ));
    // addi a0, a0, 2047; sd a1, -2048(a0); sd a1, 2047(a0)
    assert_eq!(
        patch(Reloc::Lo12I, ADDI_A0_A0_0, &at(P, 2047, 0)),
        Ok(0x7ff5_0513)
    );
    assert_eq!(
        patch(Reloc::Lo12S, SD_A1_0, &at(P, 0x800, 0)),
        Ok(0x80b5_3023)
    );
    assert_eq!(
        patch(Reloc::Lo12S, SD_A1_0, &at(P, 2047, 0)),
        Ok(0x7eb5_3fa3)
    );
}

#[test]
fn compressed_branch_and_jump_boundaries() {
    // c.beqz a0, 254 / c.bnez a0, -256 (the bnez keeps its funct3)
    assert_eq!(
        patch16(Reloc::RvcBranch, C_BEQZ_A0_0, &disp(254)),
        Ok(0xcd7d)
    );
    assert_eq!(patch16(Reloc::RvcBranch, 0xe101, &disp(-256)), Ok(0xf101));
    let range = Reloc::RvcBranch.range().unwrap();
    assert_eq!(range, (-256, 254));
    assert_eq!(
        patch16(Reloc::RvcBranch, C_BEQZ_A0_0, &disp(256)),
        Err(overflow(256, range))
    );
    assert_eq!(
        patch16(Reloc::RvcBranch, C_BEQZ_A0_0, &disp(-258)),
        Err(overflow(-258, range))
    );
    // c.j 2046 / -2048
    assert_eq!(patch16(Reloc::RvcJump, C_J_0, &disp(2046)), Ok(0xaffd));
    assert_eq!(patch16(Reloc::RvcJump, C_J_0, &disp(-2048)), Ok(0xb001));
    let range = Reloc::RvcJump.range().unwrap();
    assert_eq!(
        patch16(Reloc::RvcJump, C_J_0, &disp(2048)),
        Err(overflow(2048, range))
    );
    assert_eq!(
        patch16(Reloc::RvcJump, C_J_0, &disp(-2050)),
        Err(overflow(-2050, range))
    );
    assert!(matches!(
        patch16(Reloc::RvcJump, C_BEQZ_A0_0, &disp(2)),
        Err(FixupError::Invalid(_))
    ));
    assert!(matches!(
        patch16(Reloc::RvcBranch, C_J_0, &disp(2)),
        Err(FixupError::Invalid(_))
    ));
    assert!(matches!(
        patch16(Reloc::RvcJump, C_J_0, &disp(1)),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn checked_data_kinds_boundaries() {
    let mut place = [0u8; 4];
    let abs = Reloc::Abs32.range().unwrap();
    assert_eq!(
        apply(Reloc::Abs32, &mut place, &at(0, u32::MAX as u64, 0)),
        Ok(())
    );
    assert_eq!(place, [0xff; 4]);
    assert_eq!(
        apply(Reloc::Abs32, &mut place, &at(0, 1 << 32, 0)),
        Err(overflow(1 << 32, abs))
    );
    assert_eq!(
        apply(Reloc::Abs32, &mut place, &at(0, 0, -(1 << 31))),
        Ok(())
    );
    assert_eq!(place, [0, 0, 0, 0x80]);
    assert_eq!(
        apply(Reloc::Abs32, &mut place, &at(0, 0, -(1 << 31) - 1)),
        Err(overflow(-(1 << 31) - 1, abs))
    );
    let pc = Reloc::Pcrel32.range().unwrap();
    assert_eq!(
        apply(Reloc::Pcrel32, &mut place, &disp((1 << 31) - 1)),
        Ok(())
    );
    assert_eq!(place, [0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(
        apply(Reloc::Pcrel32, &mut place, &disp(1 << 31)),
        Err(overflow(1 << 31, pc))
    );
    assert_eq!(apply(Reloc::Pcrel32, &mut place, &disp(-(1 << 31))), Ok(()));
    assert_eq!(
        apply(Reloc::Pcrel32, &mut place, &disp(-(1 << 31) - 1)),
        Err(overflow(-(1 << 31) - 1, pc))
    );
    let mut place = [0u8; 8];
    apply(Reloc::Abs64, &mut place, &at(0, 0x8877_6655_4433_2211, 0)).unwrap();
    assert_eq!(u64::from_le_bytes(place), 0x8877_6655_4433_2211);
}

#[test]
fn add_sub_set_read_modify_write_modulo_the_field() {
    let run = |kind: Reloc, old: u64, value: u64| -> u64 {
        let mut place = old.to_le_bytes();
        apply(kind, &mut place, &at(0, value, 0)).unwrap();
        let n = kind.field_size();
        assert!(place[n..]
            .iter()
            .zip(&old.to_le_bytes()[n..])
            .all(|(a, b)| a == b));
        u64::from_le_bytes(place)
    };
    assert_eq!(run(Reloc::Add8, 0xf0, 0x20), 0x10);
    assert_eq!(run(Reloc::Add16, 0x1234, 0x1), 0x1235);
    assert_eq!(run(Reloc::Add32, 0xffff_ffff, 2), 1);
    assert_eq!(run(Reloc::Add64, u64::MAX, 2), 1);
    assert_eq!(run(Reloc::Sub8, 0x10, 0x20), 0xf0);
    assert_eq!(run(Reloc::Sub16, 0, 1), 0xffff);
    assert_eq!(run(Reloc::Sub32, 5, 3), 2);
    assert_eq!(run(Reloc::Sub64, 0, 1), u64::MAX);
    assert_eq!(run(Reloc::Set8, 0x55, 0x1ff), 0xff);
    assert_eq!(run(Reloc::Set16, 0x55, 0x1_2345), 0x2345);
    assert_eq!(run(Reloc::Set32, 0, 0x1_0000_0001), 1);
    // The 6-bit kinds keep the byte's two high bits (DWARF opcodes).
    assert_eq!(run(Reloc::Set6, 0xc0, 0x7f), 0xff);
    assert_eq!(run(Reloc::Set6, 0x40, 0x01), 0x41);
    assert_eq!(run(Reloc::Sub6, 0x41, 0x02), 0x7f);
    // An ADD then a SUB at one place is a difference.
    let mut place = [0u8; 4];
    apply(Reloc::Add32, &mut place, &at(0, 0x7fff_0100, 0)).unwrap();
    apply(Reloc::Sub32, &mut place, &at(0, 0x7fff_0000, 0)).unwrap();
    assert_eq!(u32::from_le_bytes(place), 0x100);
}

#[test]
fn uleb128_keeps_its_length_and_checks_it() {
    let mut one = [0x00u8, 0xAA];
    apply(Reloc::SetUleb128, &mut one, &at(0, 127, 0)).unwrap();
    assert_eq!(one, [0x7f, 0xAA]);
    assert_eq!(
        apply(Reloc::SetUleb128, &mut one, &at(0, 128, 0)),
        Err(overflow(128, (0, 127)))
    );
    // A difference (the loader folds SUB_ULEB128 in): 0x3fff in two bytes.
    let mut two = [0x80u8, 0x00, 0xAA];
    apply(Reloc::SetUleb128, &mut two, &at(0, 0x1_3fff, -0x1_0000)).unwrap();
    assert_eq!(two, [0xff, 0x7f, 0xAA]);
    assert_eq!(
        apply(Reloc::SetUleb128, &mut two, &at(0, 0x4000, 0)),
        Err(overflow(0x4000, (0, 0x3fff)))
    );
    assert_eq!(
        apply(Reloc::SetUleb128, &mut two, &at(0, 0, -1)),
        Err(overflow(-1, (0, 0x3fff)))
    );
    // Padded: a small value keeps the continuation bytes.
    apply(Reloc::SetUleb128, &mut two, &at(0, 1, 0)).unwrap();
    assert_eq!(two, [0x81, 0x00, 0xAA]);
    let mut open = [0x80u8, 0x80];
    assert!(matches!(
        apply(Reloc::SetUleb128, &mut open, &at(0, 1, 0)),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn short_places_are_refused_untouched() {
    for kind in Reloc::ALL {
        let n = kind.field_size();
        let mut place = vec![0x5Au8; n - 1];
        assert_eq!(
            apply(kind, &mut place, &at(P, P, 0)),
            Err(FixupError::PlaceOutOfBounds {
                needed: n,
                available: n - 1
            }),
            "{kind}"
        );
        assert!(place.iter().all(|&b| b == 0x5A), "{kind}");
    }
}

#[test]
fn tls_gd_pair_and_dtprel() {
    for kind in Reloc::ALL {
        assert_eq!(
            kind.tls_pair().is_some(),
            matches!(kind, Reloc::TlsGdHi20 | Reloc::TlsGdPcrelLo12I),
            "{kind}"
        );
    }
    // The pair's address arrives as the slot: G + A - P, as GOT_HI20.
    let p = 0x3000_0000;
    let hi = patch(Reloc::TlsGdHi20, AUIPC_A0_0, &at(p, 0x10, 0)).unwrap();
    let lo = patch(Reloc::TlsGdPcrelLo12I, ADDI_A0_A0_0, &at(p + 4, 0x10, 4)).unwrap();
    assert_eq!(hi_lo_value(hi, lo), i128::from(G_SLOT) - i128::from(p));
    let mut none = at(p, 0x10, 0);
    none.got_slot = 0;
    assert!(matches!(
        patch(Reloc::TlsGdHi20, AUIPC_A0_0, &none),
        Err(FixupError::Invalid(_))
    ));
    // DTPREL: the offset in the block, S + A.
    let mut place = [0u8; 8];
    apply(Reloc::DtpRel64, &mut place, &at(0, 0x18, 4)).unwrap();
    assert_eq!(u64::from_le_bytes(place), 0x1c);
    let range = Reloc::DtpRel32.range().unwrap();
    let mut place = [0u8; 4];
    apply(Reloc::DtpRel32, &mut place, &at(0, 0x7fff_ffff, 0)).unwrap();
    assert_eq!(u32::from_le_bytes(place), 0x7fff_ffff);
    assert_eq!(
        apply(Reloc::DtpRel32, &mut place, &at(0, 0x8000_0000, 0)),
        Err(overflow(0x8000_0000, range))
    );
}

/// Values are taken modulo 2^64: `lui` of an absolute symbol in the upper
/// half builds it by sign extension (RV64), `R_RISCV_32` takes it as the
/// negative value it is, and a `jal` across address 0 reaches as far as
/// any other.
#[test]
fn values_are_taken_modulo_2_64() {
    // lui a0, 0x80000 (a0 = 0xffffffff80000000 on RV64).
    assert_eq!(
        patch(Reloc::Hi20, LUI_A0_0, &at(P, 0xffff_ffff_8000_0000, 0)),
        Ok(0x8000_0537)
    );
    assert!(matches!(
        patch(Reloc::Hi20, LUI_A0_0, &at(P, 0xffff_ffff_7fff_f7ff, 0)),
        Err(FixupError::Overflow { .. })
    ));
    let mut field = [0u8; 4];
    assert_eq!(
        apply(Reloc::Abs32, &mut field, &at(P, 0xffff_ffff_8000_0000, 0)),
        Ok(())
    );
    assert_eq!(field, [0, 0, 0, 0x80]);
    let range = Reloc::Abs32.range().unwrap();
    assert_eq!(
        apply(Reloc::Abs32, &mut field, &at(P, 0xffff_ffff_7fff_ffff, 0)),
        Err(overflow(-(1 << 31) - 1, range))
    );
    // jal ra, -1048576 from 0x1000, to just below the top of memory.
    let below_zero = 0x1000u64.wrapping_sub(1 << 20);
    assert_eq!(
        patch(Reloc::Jal, JAL_RA_0, &at(0x1000, below_zero, 0)),
        Ok(0x8000_00ef)
    );
    let range = Reloc::Jal.range().unwrap();
    assert_eq!(
        patch(Reloc::Jal, JAL_RA_0, &at(0x1000, below_zero - 2, 0)),
        Err(overflow(-(1 << 20) - 2, range))
    );
}
