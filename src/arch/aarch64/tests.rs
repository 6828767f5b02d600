//! Tests of the AArch64 relocation math: every kind, the exact boundaries of
//! every checked kind, the instruction words each fixup writes (compared with
//! words assembled by hand with `llvm-mc -triple aarch64 -show-encoding`; the
//! assembly is in the comment next to each word), stubs, and short places.

use crate::arch::aarch64::{
    apply, coff_implicit_addend, is_address_pair, is_got_load_pair, relax_got_load_pair,
    stub_bytes, write_stub, Reloc, GOT_SLOT_SIZE, STUB_ALIGN, STUB_SIZE,
};
use crate::arch::Arch;
use crate::arch::{geometry, FixupError, FixupValues};

/// What the bytes past a field hold, so a test can see what was written.
const FILL: u8 = 0xAA;
/// Bytes past the field in each place, which no fixup may touch.
const SLACK: usize = 4;

const G_SLOT: u64 = 0x4000_0010;

/// P, S and A, with a GOT slot at [`G_SLOT`].
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

fn overflow(value: i128, min: i128, max: i128) -> FixupError {
    FixupError::Overflow { value, min, max }
}

/// Applies an instruction kind to `insn`; checks that nothing past the word
/// is written, and that an error leaves the word untouched.
#[track_caller]
fn patch(kind: Reloc, insn: u32, v: &FixupValues) -> Result<u32, FixupError> {
    let mut place = insn.to_le_bytes().to_vec();
    place.extend([FILL; SLACK]);
    let result = apply(kind, &mut place, v);
    assert!(
        place[4..].iter().all(|&b| b == FILL),
        "{kind} wrote past its word: {place:x?}"
    );
    let word = u32::from_le_bytes([place[0], place[1], place[2], place[3]]);
    match result {
        Ok(()) => Ok(word),
        Err(e) => {
            assert_eq!(word, insn, "{kind} changed the word on error {e:?}");
            Err(e)
        }
    }
}

/// Applies a data kind to a place of FILL bytes; returns the field.
#[track_caller]
fn data(kind: Reloc, v: &FixupValues) -> Result<Vec<u8>, FixupError> {
    let size = kind.field_size();
    let mut place = vec![FILL; size + SLACK];
    let result = apply(kind, &mut place, v);
    assert!(
        place[size..].iter().all(|&b| b == FILL),
        "{kind} wrote past its field: {place:x?}"
    );
    match result {
        Ok(()) => Ok(place[..size].to_vec()),
        Err(e) => {
            assert!(place.iter().all(|&b| b == FILL), "{kind} wrote on error");
            Err(e)
        }
    }
}

fn le(value: i128, size: usize) -> Vec<u8> {
    (value as u64).to_le_bytes()[..size].to_vec()
}

/// The position of each kind in the declaration; a new kind fails to compile
/// here until the tests learn about it.
fn declared_position(kind: Reloc) -> usize {
    match kind {
        Reloc::Abs64 => 0,
        Reloc::Abs32 => 1,
        Reloc::Abs16 => 2,
        Reloc::Prel64 => 3,
        Reloc::Prel32 => 4,
        Reloc::Prel16 => 5,
        Reloc::Call26 => 6,
        Reloc::Jump26 => 7,
        Reloc::CondBr19 => 8,
        Reloc::TstBr14 => 9,
        Reloc::AdrPrelPgHi21 => 10,
        Reloc::AdrPrelPgHi21Nc => 11,
        Reloc::AdrPrelLo21 => 12,
        Reloc::AddAbsLo12Nc => 13,
        Reloc::Ldst8AbsLo12Nc => 14,
        Reloc::Ldst16AbsLo12Nc => 15,
        Reloc::Ldst32AbsLo12Nc => 16,
        Reloc::Ldst64AbsLo12Nc => 17,
        Reloc::Ldst128AbsLo12Nc => 18,
        Reloc::PageOff12 => 19,
        Reloc::LdPrelLo19 => 20,
        Reloc::MovwUabsG0 => 21,
        Reloc::MovwUabsG0Nc => 22,
        Reloc::MovwUabsG1 => 23,
        Reloc::MovwUabsG1Nc => 24,
        Reloc::MovwUabsG2 => 25,
        Reloc::MovwUabsG2Nc => 26,
        Reloc::MovwUabsG3 => 27,
        Reloc::MovwPrelG0 => 28,
        Reloc::MovwPrelG0Nc => 29,
        Reloc::MovwPrelG1 => 30,
        Reloc::MovwPrelG1Nc => 31,
        Reloc::MovwPrelG2 => 32,
        Reloc::MovwPrelG2Nc => 33,
        Reloc::MovwPrelG3 => 34,
        Reloc::AdrGotPage => 35,
        Reloc::Ld64GotLo12Nc => 36,
        Reloc::GotPrel32 => 37,
        Reloc::GotAbs64 => 38,
        Reloc::TlsLeAddTprelHi12 => 39,
        Reloc::TlsLeAddTprelLo12 => 40,
        Reloc::TlsLeAddTprelLo12Nc => 41,
        Reloc::TlsLeMovwTprelG2 => 42,
        Reloc::TlsLeMovwTprelG1 => 43,
        Reloc::TlsLeMovwTprelG1Nc => 44,
        Reloc::TlsLeMovwTprelG0 => 45,
        Reloc::TlsLeMovwTprelG0Nc => 46,
        Reloc::TlsIeAdrGottprelPage21 => 47,
        Reloc::TlsIeLd64GottprelLo12Nc => 48,
        Reloc::TlsDescAdrPage21 => 49,
        Reloc::TlsDescLd64Lo12 => 50,
        Reloc::TlsDescAddLo12 => 51,
        Reloc::TlsDescCall => 52,
        Reloc::Addr32 => 53,
        Reloc::ImageRel32 => 54,
        Reloc::SecRel32 => 55,
        Reloc::SecRelLo12A => 56,
        Reloc::SecRelHi12A => 57,
        Reloc::SecRelLo12L => 58,
        Reloc::SectionIndex => 59,
        Reloc::Rel32 => 60,
        Reloc::AddToGotLoad => 61,
    }
}

#[test]
fn all_lists_every_kind_once_in_declaration_order() {
    for (i, &kind) in Reloc::ALL.iter().enumerate() {
        assert_eq!(declared_position(kind), i, "{kind:?}");
    }
}

#[test]
fn names_are_aaelf_style_and_unique() {
    let expected = [
        "ABS64",
        "ABS32",
        "ABS16",
        "PREL64",
        "PREL32",
        "PREL16",
        "CALL26",
        "JUMP26",
        "CONDBR19",
        "TSTBR14",
        "ADR_PREL_PG_HI21",
        "ADR_PREL_PG_HI21_NC",
        "ADR_PREL_LO21",
        "ADD_ABS_LO12_NC",
        "LDST8_ABS_LO12_NC",
        "LDST16_ABS_LO12_NC",
        "LDST32_ABS_LO12_NC",
        "LDST64_ABS_LO12_NC",
        "LDST128_ABS_LO12_NC",
        "PAGEOFF12",
        "LD_PREL_LO19",
        "MOVW_UABS_G0",
        "MOVW_UABS_G0_NC",
        "MOVW_UABS_G1",
        "MOVW_UABS_G1_NC",
        "MOVW_UABS_G2",
        "MOVW_UABS_G2_NC",
        "MOVW_UABS_G3",
        "MOVW_PREL_G0",
        "MOVW_PREL_G0_NC",
        "MOVW_PREL_G1",
        "MOVW_PREL_G1_NC",
        "MOVW_PREL_G2",
        "MOVW_PREL_G2_NC",
        "MOVW_PREL_G3",
        "ADR_GOT_PAGE",
        "LD64_GOT_LO12_NC",
        "GOT_PREL32",
        "GOT_ABS64",
        "TLSLE_ADD_TPREL_HI12",
        "TLSLE_ADD_TPREL_LO12",
        "TLSLE_ADD_TPREL_LO12_NC",
        "TLSLE_MOVW_TPREL_G2",
        "TLSLE_MOVW_TPREL_G1",
        "TLSLE_MOVW_TPREL_G1_NC",
        "TLSLE_MOVW_TPREL_G0",
        "TLSLE_MOVW_TPREL_G0_NC",
        "TLSIE_ADR_GOTTPREL_PAGE21",
        "TLSIE_LD64_GOTTPREL_LO12_NC",
        "TLSDESC_ADR_PAGE21",
        "TLSDESC_LD64_LO12",
        "TLSDESC_ADD_LO12",
        "TLSDESC_CALL",
        "ADDR32",
        "ADDR32NB",
        "SECREL",
        "SECREL_LOW12A",
        "SECREL_HIGH12A",
        "SECREL_LOW12L",
        "SECTION",
        "REL32",
        "PAGEOFFSET_12A_GOT",
    ];
    assert_eq!(expected.len(), Reloc::ALL.len());
    for (kind, name) in Reloc::ALL.iter().zip(expected) {
        assert_eq!(kind.name(), name);
        assert_eq!(kind.to_string(), name);
        assert_eq!(
            crate::arch::RelocKind::Aarch64(*kind).to_string(),
            name,
            "dispatch"
        );
    }
}

#[test]
fn got_and_branch_classification() {
    for kind in Reloc::ALL {
        let got = matches!(
            kind,
            Reloc::AdrGotPage
                | Reloc::Ld64GotLo12Nc
                | Reloc::GotPrel32
                | Reloc::GotAbs64
                | Reloc::TlsIeAdrGottprelPage21
                | Reloc::TlsIeLd64GottprelLo12Nc
                | Reloc::AddToGotLoad
        );
        let branch = matches!(
            kind,
            Reloc::Call26 | Reloc::Jump26 | Reloc::CondBr19 | Reloc::TstBr14
        );
        assert_eq!(kind.needs_got_slot(), got, "{kind}");
        assert_eq!(kind.needs_got_base(), got, "{kind}");
        assert_eq!(kind.is_branch(), branch, "{kind}");
        let rk = crate::arch::RelocKind::Aarch64(kind);
        assert_eq!(rk.needs_got_slot(), got, "{kind}");
        assert_eq!(rk.is_branch(), branch, "{kind}");
    }
}

#[test]
fn geometry_matches_the_stub() {
    let g = geometry(Arch::Aarch64);
    assert_eq!(g.stub_size, STUB_SIZE as u64);
    assert_eq!(g.stub_align, STUB_ALIGN as u64);
    assert_eq!(g.got_slot_size, GOT_SLOT_SIZE as u64);
    assert_eq!((STUB_SIZE, STUB_ALIGN, GOT_SLOT_SIZE), (12, 4, 8));
}

// ---- data ----------------------------------------------------------------

#[test]
fn sixty_four_bit_data_kinds_write_every_bit() {
    let v = at(0x1000_0000, 0x7f12_3456_789a_bcde, -0x1e);
    assert_eq!(
        data(Reloc::Abs64, &v),
        Ok(0x7f12_3456_789a_bcc0u64.to_le_bytes().to_vec())
    );
    // S + A - P may be negative: two's complement of 64 bits.
    let v = at(0x7000_0000_0000, 0x1000, 8);
    assert_eq!(
        data(Reloc::Prel64, &v),
        Ok(le(0x1008 - 0x7000_0000_0000, 8))
    );
    // G + A: the slot's address (S does not matter).
    let v = at(0x1000_0000, 0xdead_beef, 8);
    assert_eq!(
        data(Reloc::GotAbs64, &v),
        Ok((G_SLOT + 8).to_le_bytes().to_vec())
    );
}

/// The checked data kinds and their AAELF64 ranges.
const DATA_RANGES: [(Reloc, i128, i128); 5] = [
    (Reloc::Abs32, -(1 << 31), (1 << 32) - 1),
    (Reloc::Abs16, -(1 << 15), (1 << 16) - 1),
    (Reloc::Prel32, -(1 << 31), (1 << 32) - 1),
    (Reloc::Prel16, -(1 << 15), (1 << 16) - 1),
    (Reloc::GotPrel32, -(1 << 31), (1 << 31) - 1),
];

/// Values for `kind` whose result is `value`, reached through the addend
/// from a realistic P, S and G.
fn data_values(kind: Reloc, value: i128) -> FixupValues {
    let mut v = at(0x2000_0000, 0x2000_8000, 0);
    let without = match kind {
        Reloc::Abs32 | Reloc::Abs16 => i128::from(v.s),
        Reloc::Prel32 | Reloc::Prel16 => i128::from(v.s) - i128::from(v.p),
        Reloc::GotPrel32 => i128::from(v.got_slot) - i128::from(v.p),
        _ => unreachable!("not a checked data kind"),
    };
    v.a = i64::try_from(value - without).unwrap();
    v
}

#[test]
fn checked_data_kinds_accept_exactly_their_range() {
    for (kind, min, max) in DATA_RANGES {
        let size = kind.field_size();
        for value in [min, max, 0, -1, 1] {
            assert_eq!(
                data(kind, &data_values(kind, value)),
                Ok(le(value, size)),
                "{kind} {value:#x}"
            );
        }
        for value in [min - 1, max + 1] {
            assert_eq!(
                data(kind, &data_values(kind, value)),
                Err(overflow(value, min, max)),
                "{kind} {value:#x}"
            );
        }
    }
}

#[test]
fn prel_uses_the_place() {
    // S - P with no addend, and a negative result.
    let v = at(0x3000_0100, 0x3000_0000, 0);
    assert_eq!(
        data(Reloc::Prel32, &v),
        Ok((-0x100i32).to_le_bytes().to_vec())
    );
    assert_eq!(
        data(Reloc::Prel16, &v),
        Ok((-0x100i16).to_le_bytes().to_vec())
    );
}

// ---- branches -----------------------------------------------------------

const BL_0: u32 = 0x9400_0000; // bl #0
const B_0: u32 = 0x1400_0000; // b #0
const BNE_0: u32 = 0x5400_0001; // b.ne #0
const BEQ_0: u32 = 0x5400_0000; // b.eq #0
const CBZ_X3_0: u32 = 0xb400_0003; // cbz x3, #0
const CBNZ_W5_0: u32 = 0x3500_0005; // cbnz w5, #0
const TBNZ_W2_3_0: u32 = 0x3718_0002; // tbnz w2, #3, #0
const TBZ_W2_3_0: u32 = 0x3618_0002; // tbz w2, #3, #0
const TBZ_X7_40_0: u32 = 0xb640_0007; // tbz x7, #40, #0
const NOP: u32 = 0xd503_201f; // nop

const P: u64 = 0x1000_0000;

#[test]
fn call26_and_jump26_boundaries() {
    for kind in [Reloc::Call26, Reloc::Jump26] {
        let (min, max) = (-(1i128 << 27), (1i128 << 27) - 4);
        // bl #134217724
        assert_eq!(
            patch(kind, BL_0, &at(P, P + 0x7ff_fffc, 0)),
            Ok(0x95ff_ffff)
        );
        // bl #-134217728
        assert_eq!(
            patch(kind, BL_0, &at(P, P - 0x800_0000, 0)),
            Ok(0x9600_0000)
        );
        assert_eq!(
            patch(kind, BL_0, &at(P, P + 0x800_0000, 0)),
            Err(overflow(1 << 27, min, max))
        );
        assert_eq!(
            patch(kind, BL_0, &at(P, P - 0x800_0004, 0)),
            Err(overflow(-(1 << 27) - 4, min, max))
        );
        // b #4096, through the addend
        assert_eq!(patch(kind, B_0, &at(P, P, 0x1000)), Ok(0x1400_0400));
        // b #-4
        assert_eq!(patch(kind, B_0, &at(P, P - 4, 0)), Ok(0x17ff_ffff));
    }
}

#[test]
fn call26_keeps_b_and_bl_apart() {
    // Mach-O BRANCH26 covers tail calls (b) too: the opcode bit is kept.
    assert_eq!(
        patch(Reloc::Call26, B_0, &at(P, P + 0x1000, 0)),
        Ok(0x1400_0400)
    );
    assert_eq!(
        patch(Reloc::Jump26, BL_0, &at(P, P + 0x1000, 0)),
        Ok(0x9400_0400)
    );
}

#[test]
fn branches_reject_misaligned_targets_and_other_instructions() {
    for (kind, insn) in [
        (Reloc::Call26, BL_0),
        (Reloc::Jump26, B_0),
        (Reloc::CondBr19, BNE_0),
        (Reloc::TstBr14, TBZ_W2_3_0),
    ] {
        for s in [P + 2, P + 1, P - 3] {
            assert!(
                matches!(patch(kind, insn, &at(P, s, 0)), Err(FixupError::Invalid(_))),
                "{kind} to {s:#x}"
            );
        }
        // A misaligned target far away goes through its stub like any other
        // (the stub jumps to it; the branch reaches the stub)...
        let mut v = at(P, P + (1 << 40) + 2, 0);
        v.stub = P + 0x40;
        assert!(patch(kind, insn, &v).is_ok(), "{kind} through a stub");
        // ...and without one it is a misaligned target.
        v.stub = 0;
        assert!(matches!(patch(kind, insn, &v), Err(FixupError::Invalid(_))));
        assert!(
            matches!(
                patch(kind, NOP, &at(P, P + 8, 0)),
                Err(FixupError::Invalid(_))
            ),
            "{kind} on a nop"
        );
    }
    // b.cond is not a tbz, nor a bl a b.cond.
    assert!(matches!(
        patch(Reloc::TstBr14, BNE_0, &at(P, P + 8, 0)),
        Err(FixupError::Invalid(_))
    ));
    assert!(matches!(
        patch(Reloc::CondBr19, BL_0, &at(P, P + 8, 0)),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn condbr19_boundaries() {
    let (min, max) = (-(1i128 << 20), (1i128 << 20) - 4);
    let k = Reloc::CondBr19;
    // b.ne #1048572
    assert_eq!(patch(k, BNE_0, &at(P, P + 1_048_572, 0)), Ok(0x547f_ffe1));
    // b.ne #-1048576
    assert_eq!(patch(k, BNE_0, &at(P, P - 1_048_576, 0)), Ok(0x5480_0001));
    assert_eq!(
        patch(k, BNE_0, &at(P, P + 1_048_576, 0)),
        Err(overflow(1 << 20, min, max))
    );
    assert_eq!(
        patch(k, BNE_0, &at(P, P - 1_048_580, 0)),
        Err(overflow(-(1 << 20) - 4, min, max))
    );
    // cbz x3, #1048572
    assert_eq!(
        patch(k, CBZ_X3_0, &at(P, P + 1_048_572, 0)),
        Ok(0xb47f_ffe3)
    );
    // cbnz w5, #-8
    assert_eq!(patch(k, CBNZ_W5_0, &at(P, P - 8, 0)), Ok(0x35ff_ffc5));
}

#[test]
fn tstbr14_boundaries() {
    let (min, max) = (-(1i128 << 15), (1i128 << 15) - 4);
    let k = Reloc::TstBr14;
    // tbnz w2, #3, #32764
    assert_eq!(
        patch(k, TBNZ_W2_3_0, &at(P, P + 32_764, 0)),
        Ok(0x371b_ffe2)
    );
    // tbz w2, #3, #-32768
    assert_eq!(patch(k, TBZ_W2_3_0, &at(P, P - 32_768, 0)), Ok(0x361c_0002));
    assert_eq!(
        patch(k, TBZ_W2_3_0, &at(P, P + 32_768, 0)),
        Err(overflow(1 << 15, min, max))
    );
    assert_eq!(
        patch(k, TBZ_W2_3_0, &at(P, P - 32_772, 0)),
        Err(overflow(-(1 << 15) - 4, min, max))
    );
    // tbz x7, #40, #-4: bit b5 (the 64-bit register's high bit number) is kept.
    assert_eq!(patch(k, TBZ_X7_40_0, &at(P, P - 4, 0)), Ok(0xb647_ffe7));
}

#[test]
fn branch_reaches_matches_each_range_exactly() {
    for (kind, half) in [
        (Reloc::Call26, 1i64 << 27),
        (Reloc::Jump26, 1 << 27),
        (Reloc::CondBr19, 1 << 20),
        (Reloc::TstBr14, 1 << 15),
    ] {
        let p = 0x4000_0000u64;
        assert!(kind.branch_reaches(p, p, half - 4), "{kind}");
        assert!(!kind.branch_reaches(p, p, half), "{kind}");
        assert!(kind.branch_reaches(p, p, -half), "{kind}");
        assert!(!kind.branch_reaches(p, p, -half - 4), "{kind}");
        // S matters as well as A.
        assert!(kind.branch_reaches(p, p + (half as u64) - 4, 0), "{kind}");
        assert!(!kind.branch_reaches(p, p + half as u64, 0), "{kind}");
        assert!(crate::arch::RelocKind::Aarch64(kind).branch_reaches(p, p, 0));
    }
    for kind in Reloc::ALL.iter().filter(|k| !k.is_branch()) {
        assert!(!kind.branch_reaches(P, P, 0), "{kind}");
    }
}

#[test]
fn far_branches_go_through_the_stub() {
    let far = 0x7f00_0000_0000u64;
    // (kind, instruction, stub address, expected word)
    let cases = [
        (Reloc::Call26, BL_0, P + 0x100, 0x9400_0040), // bl #0x100
        (Reloc::Jump26, B_0, P + 0x7ff_fffc, 0x15ff_ffff), // b #134217724
        (Reloc::CondBr19, BEQ_0, P - 8, 0x54ff_ffc0),  // b.eq #-8
        (Reloc::TstBr14, TBZ_X7_40_0, P - 4, 0xb647_ffe7), // tbz x7, #40, #-4
    ];
    for (kind, insn, stub, expected) in cases {
        let mut v = at(P, far, 0);
        // Without a stub: the direct value overflows.
        let (min, max) = kind.branch_range().unwrap();
        assert_eq!(
            patch(kind, insn, &v),
            Err(overflow(i128::from(far) - i128::from(P), min, max)),
            "{kind}"
        );
        v.stub = stub;
        assert_eq!(patch(kind, insn, &v), Ok(expected), "{kind}");
        // A stub out of reach overflows with the value through the stub.
        let half = -min;
        v.stub = (i128::from(P) + half) as u64;
        assert_eq!(
            patch(kind, insn, &v),
            Err(overflow(half, min, max)),
            "{kind}"
        );
        // A target in reach never uses the stub.
        let mut v = at(P, P + 8, 0);
        v.stub = stub;
        let direct = patch(kind, insn, &v).unwrap();
        let mut without = v;
        without.stub = 0;
        assert_eq!(Ok(direct), patch(kind, insn, &without), "{kind}");
        assert_ne!(direct, expected, "{kind}");
    }
    // A misaligned stub is refused.
    let mut v = at(P, far, 0);
    v.stub = P + 0x102;
    assert!(matches!(
        patch(Reloc::Call26, BL_0, &v),
        Err(FixupError::Invalid(_))
    ));
}

// ---- adrp / adr ---------------------------------------------------------

const ADRP_X0_0: u32 = 0x9000_0000; // adrp x0, #0
const ADRP_X1_0: u32 = 0x9000_0001; // adrp x1, #0
const ADRP_X3_0: u32 = 0x9000_0003; // adrp x3, #0
const ADR_X2_0: u32 = 0x1000_0002; // adr x2, #0

#[test]
fn adr_prel_pg_hi21_boundaries() {
    let k = Reloc::AdrPrelPgHi21;
    let (min, max) = (-(1i128 << 32), (1i128 << 32) - 1);
    let p = 0x2_0000_0ffc; // page 0x2_0000_0000
    let page = 0x2_0000_0000u64;
    // adrp x1, #4294963200 (the last page forward), from inside that page
    assert_eq!(
        patch(k, ADRP_X1_0, &at(p, page + 0xffff_f000 + 0xabc, 0)),
        Ok(0xf07f_ffe1)
    );
    // adrp x1, #-4294967296 (the last page back)
    assert_eq!(
        patch(k, ADRP_X1_0, &at(p, page - 0x1_0000_0000 + 0xfff, 0)),
        Ok(0x9080_0001)
    );
    assert_eq!(
        patch(k, ADRP_X1_0, &at(p, page + 0x1_0000_0000, 0)),
        Err(overflow(1 << 32, min, max))
    );
    assert_eq!(
        patch(k, ADRP_X1_0, &at(p, page - 0x1_0000_1000 + 0xfff, 0)),
        Err(overflow(-(1 << 32) - 0x1000, min, max))
    );
}

#[test]
fn adrp_counts_pages_not_bytes() {
    let k = Reloc::AdrPrelPgHi21;
    // Four bytes apart across a page boundary: adrp x0, #4096
    assert_eq!(
        patch(k, ADRP_X0_0, &at(0x1000_0ffc, 0x1000_1000, 0)),
        Ok(0xb000_0000)
    );
    // The addend moves S + A into the previous page: adrp x3, #-4096
    assert_eq!(
        patch(k, ADRP_X3_0, &at(0x1000_0000, 0x1000_0000, -1)),
        Ok(0xf0ff_ffe3)
    );
    // adrp x1, #0x12345000 with an addend inside the page
    assert_eq!(
        patch(k, ADRP_X1_0, &at(0x1000_0000, 0x1000_0000, 0x1234_5010)),
        Ok(0xb009_1a21)
    );
    // Same page: 0
    assert_eq!(
        patch(k, ADRP_X1_0, &at(0x1000_0004, 0x1000_0ff0, 0)),
        Ok(ADRP_X1_0)
    );
}

#[test]
fn adr_prel_pg_hi21_nc_takes_the_low_bits() {
    let k = Reloc::AdrPrelPgHi21Nc;
    let page = 0x2_0000_0000u64;
    // 2^32 forward is out of range for the checked kind; NC writes its low
    // 21 page bits, which are those of -2^32: adrp x1, #-4294967296
    assert_eq!(
        patch(k, ADRP_X1_0, &at(page, page + 0x1_0000_0000, 0)),
        Ok(0x9080_0001)
    );
    // In range it agrees with the checked kind: adrp x1, #4294963200
    assert_eq!(
        patch(k, ADRP_X1_0, &at(page, page + 0xffff_f000, 0)),
        Ok(0xf07f_ffe1)
    );
}

#[test]
fn adr_got_page_uses_the_slot() {
    let k = Reloc::AdrGotPage;
    let mut v = at(0x1000_0000, 0xdead_0000, 8);
    v.got_slot = 0x2000_0ff8; // G + A = 0x2000_1000
                              // adrp x0, #0x10001000
    assert_eq!(patch(k, ADRP_X0_0, &v), Ok(0xb008_0000));
    v.got_slot = 0x1_1000_0000;
    v.a = 0;
    assert_eq!(
        patch(k, ADRP_X0_0, &v),
        Err(overflow(1 << 32, -(1 << 32), (1 << 32) - 1))
    );
}

#[test]
fn adrp_kinds_need_an_adrp() {
    for k in [
        Reloc::AdrPrelPgHi21,
        Reloc::AdrPrelPgHi21Nc,
        Reloc::AdrGotPage,
    ] {
        assert!(
            matches!(
                patch(k, ADR_X2_0, &at(P, P, 0)),
                Err(FixupError::Invalid(_))
            ),
            "{k}"
        );
    }
}

#[test]
fn adr_prel_lo21_boundaries() {
    let k = Reloc::AdrPrelLo21;
    let (min, max) = (-(1i128 << 20), (1i128 << 20) - 1);
    // adr x2, #1048575 (any byte: adr is not scaled)
    assert_eq!(
        patch(k, ADR_X2_0, &at(P, P + 1_048_575, 0)),
        Ok(0x707f_ffe2)
    );
    // adr x2, #-1048576
    assert_eq!(
        patch(k, ADR_X2_0, &at(P, P - 1_048_576, 0)),
        Ok(0x1080_0002)
    );
    assert_eq!(
        patch(k, ADR_X2_0, &at(P, P + 1_048_576, 0)),
        Err(overflow(1 << 20, min, max))
    );
    assert_eq!(
        patch(k, ADR_X2_0, &at(P, P - 1_048_577, 0)),
        Err(overflow(-(1 << 20) - 1, min, max))
    );
    assert!(matches!(
        patch(k, ADRP_X0_0, &at(P, P, 0)),
        Err(FixupError::Invalid(_))
    ));
}

// ---- lo12 ----------------------------------------------------------------

const ADD_X0_X1_4095: u32 = 0x913f_fc20; // add x0, x1, #4095
const ADD_X0_X1_0: u32 = 0x9100_0020; // add x0, x1, #0
const ADD_W3_W4_0: u32 = 0x1100_0083; // add w3, w4, #0
const LDRB_W0_X1: u32 = 0x3940_0020; // ldrb w0, [x1]
const LDRB_W0_X1_4095: u32 = 0x397f_fc20; // ldrb w0, [x1, #4095]
const LDRH_W0_X1: u32 = 0x7940_0020; // ldrh w0, [x1]
const LDR_W0_X1: u32 = 0xb940_0020; // ldr w0, [x1]
const LDR_X0_X1: u32 = 0xf940_0020; // ldr x0, [x1]
const LDR_Q0_X1: u32 = 0x3dc0_0020; // ldr q0, [x1]
const STRB_W9_X10: u32 = 0x3900_0149; // strb w9, [x10]
const STR_X3_SP: u32 = 0xf900_03e3; // str x3, [sp]
const LDUR_X0_X1_1: u32 = 0xf840_1020; // ldur x0, [x1, #1]
const LDR_X0_LIT_0: u32 = 0x5800_0000; // ldr x0, #0
const LDR_W3_LIT_0: u32 = 0x1800_0003; // ldr w3, #0

#[test]
fn add_abs_lo12_nc_replaces_the_immediate() {
    let k = Reloc::AddAbsLo12Nc;
    // add x0, x1, #0xabc (the old #4095 is replaced, not or-ed)
    assert_eq!(
        patch(k, ADD_X0_X1_4095, &at(P, 0x1234_5abc, 0)),
        Ok(0x912a_f020)
    );
    // add w3, w4, #0x123
    assert_eq!(
        patch(k, ADD_W3_W4_0, &at(P, 0x7000_0123, 0)),
        Ok(0x1104_8c83)
    );
    // S + A below zero still gives its low 12 bits: -0xedd & 0xfff = 0x123
    assert_eq!(patch(k, ADD_W3_W4_0, &at(P, 0, -0xedd)), Ok(0x1104_8c83));
    assert!(matches!(
        patch(k, LDR_X0_X1, &at(P, 0x1000, 0)),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn ldst_lo12_scale_and_alignment() {
    let s = 0x1234_5000u64;
    // (kind, instruction, lo12 accepted, expected word, lo12 misaligned)
    let cases: [(Reloc, u32, u64, u32, u64); 6] = [
        // ldrb w0, [x1, #4095]
        (Reloc::Ldst8AbsLo12Nc, LDRB_W0_X1, 0xfff, 0x397f_fc20, 0),
        // ldrh w0, [x1, #4094]
        (
            Reloc::Ldst16AbsLo12Nc,
            LDRH_W0_X1,
            0xffe,
            0x795f_fc20,
            0xfff,
        ),
        // ldr w0, [x1, #4092]
        (Reloc::Ldst32AbsLo12Nc, LDR_W0_X1, 0xffc, 0xb94f_fc20, 0xffe),
        // ldr x0, [x1, #4088]
        (Reloc::Ldst64AbsLo12Nc, LDR_X0_X1, 0xff8, 0xf947_fc20, 0xffc),
        // ldr q0, [x1, #4080]
        (
            Reloc::Ldst128AbsLo12Nc,
            LDR_Q0_X1,
            0xff0,
            0x3dc3_fc20,
            0xff8,
        ),
        // str x3, [sp, #4080]
        (Reloc::Ldst64AbsLo12Nc, STR_X3_SP, 0xff0, 0xf907_fbe3, 0xff1),
    ];
    for (kind, insn, lo, expected, bad) in cases {
        assert_eq!(patch(kind, insn, &at(P, s + lo, 0)), Ok(expected), "{kind}");
        // Through the addend, too.
        assert_eq!(
            patch(kind, insn, &at(P, s, lo as i64)),
            Ok(expected),
            "{kind}"
        );
        if bad != 0 {
            assert!(
                matches!(
                    patch(kind, insn, &at(P, s + bad, 0)),
                    Err(FixupError::Invalid(_))
                ),
                "{kind} at {bad:#x}"
            );
        }
        assert!(
            matches!(
                patch(kind, ADD_X0_X1_0, &at(P, s, 0)),
                Err(FixupError::Invalid(_))
            ),
            "{kind} on add"
        );
        assert!(
            matches!(
                patch(kind, LDUR_X0_X1_1, &at(P, s, 0)),
                Err(FixupError::Invalid(_))
            ),
            "{kind} on ldur"
        );
    }
    // strb w9, [x10, #4080]; and a full immediate replaced by 0: ldrb w0, [x1]
    assert_eq!(
        patch(Reloc::Ldst8AbsLo12Nc, STRB_W9_X10, &at(P, s + 0xff0, 0)),
        Ok(0x393f_c149)
    );
    assert_eq!(
        patch(Reloc::Ldst8AbsLo12Nc, LDRB_W0_X1_4095, &at(P, s, 0)),
        Ok(LDRB_W0_X1)
    );
}

#[test]
fn ld64_got_lo12_nc_uses_the_slot() {
    let k = Reloc::Ld64GotLo12Nc;
    let mut v = at(P, 0xdead_0000, 0);
    v.got_slot = 0x2000_0ff8;
    // ldr x0, [x1, #4088]
    assert_eq!(patch(k, LDR_X0_X1, &v), Ok(0xf947_fc20));
    v.a = 8; // G + A = 0x2000_1000: ldr x0, [x1]
    assert_eq!(patch(k, LDR_X0_X1, &v), Ok(LDR_X0_X1));
    v.a = 4;
    assert!(matches!(
        patch(k, LDR_X0_X1, &v),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn pageoff12_scales_by_the_instruction() {
    let s = 0x5555_5000u64 + 0xff0;
    // (instruction, the instruction with #4080, as assembled)
    let cases = [
        (ADD_X0_X1_0, 0x913f_c020), // add x0, x1, #4080
        (LDRB_W0_X1, 0x397f_c020),  // ldrb w0, [x1, #4080]
        (LDRH_W0_X1, 0x795f_e020),  // ldrh w0, [x1, #4080]
        (LDR_W0_X1, 0xb94f_f020),   // ldr w0, [x1, #4080]
        (LDR_X0_X1, 0xf947_f820),   // ldr x0, [x1, #4080]
        (0x3d40_0020, 0x3d7f_c020), // ldr b0, [x1, #4080]
        (0x7d40_0020, 0x7d5f_e020), // ldr h0, [x1, #4080]
        (0xbd40_0020, 0xbd4f_f020), // ldr s0, [x1, #4080]
        (0xfd40_0020, 0xfd47_f820), // ldr d0, [x1, #4080]
        (LDR_Q0_X1, 0x3dc3_fc20),   // ldr q0, [x1, #4080]
        (0x3d80_0020, 0x3d83_fc20), // str q0, [x1, #4080]
        (0xb980_0020, 0xb98f_f020), // ldrsw x0, [x1, #4080]
        (0xf980_0020, 0xf987_f820), // prfm pldl1keep, [x1, #4080]
        (STRB_W9_X10, 0x393f_c149), // strb w9, [x10, #4080]
    ];
    for (insn, expected) in cases {
        assert_eq!(
            patch(Reloc::PageOff12, insn, &at(P, s, 0)),
            Ok(expected),
            "{insn:#010x}"
        );
    }
    // add x0, x1, #0xabc: add is never scaled
    assert_eq!(
        patch(Reloc::PageOff12, ADD_X0_X1_0, &at(P, 0x1234_5abc, 0)),
        Ok(0x912a_f020)
    );
    // Offsets the access size does not divide.
    for (insn, lo) in [
        (LDR_Q0_X1, 0xff8),
        (LDR_X0_X1, 0xff4),
        (0xbd40_0020, 0xff2), // ldr s0
        (LDRH_W0_X1, 0xff1),
    ] {
        assert!(
            matches!(
                patch(Reloc::PageOff12, insn, &at(P, 0x5555_5000 + lo, 0)),
                Err(FixupError::Invalid(_))
            ),
            "{insn:#010x} {lo:#x}"
        );
    }
    // Instructions PAGEOFF12 does not apply to.
    for insn in [LDUR_X0_X1_1, ADRP_X0_0, LDR_X0_LIT_0, NOP, 0xd280_0000] {
        assert!(
            matches!(
                patch(Reloc::PageOff12, insn, &at(P, s, 0)),
                Err(FixupError::Invalid(_))
            ),
            "{insn:#010x}"
        );
    }
}

#[test]
fn ld_prel_lo19_boundaries() {
    let k = Reloc::LdPrelLo19;
    let (min, max) = (-(1i128 << 20), (1i128 << 20) - 4);
    // ldr x0, #1048572
    assert_eq!(
        patch(k, LDR_X0_LIT_0, &at(P, P + 1_048_572, 0)),
        Ok(0x587f_ffe0)
    );
    // ldr x0, #-1048576
    assert_eq!(
        patch(k, LDR_X0_LIT_0, &at(P, P - 1_048_576, 0)),
        Ok(0x5880_0000)
    );
    // ldr w3, #256
    assert_eq!(patch(k, LDR_W3_LIT_0, &at(P, P, 0x100)), Ok(0x1800_0803));
    assert_eq!(
        patch(k, LDR_X0_LIT_0, &at(P, P + 1_048_576, 0)),
        Err(overflow(1 << 20, min, max))
    );
    assert_eq!(
        patch(k, LDR_X0_LIT_0, &at(P, P - 1_048_580, 0)),
        Err(overflow(-(1 << 20) - 4, min, max))
    );
    assert!(matches!(
        patch(k, LDR_X0_LIT_0, &at(P, P + 2, 0)),
        Err(FixupError::Invalid(_))
    ));
    assert!(matches!(
        patch(k, LDR_X0_X1, &at(P, P + 8, 0)),
        Err(FixupError::Invalid(_))
    ));
}

// ---- move wide -----------------------------------------------------------

const MOVZ_X0_0: u32 = 0xd280_0000; // movz x0, #0
const MOVZ_X0_0_16: u32 = 0xd2a0_0000; // movz x0, #0, lsl #16
const MOVZ_X0_0_32: u32 = 0xd2c0_0000; // movz x0, #0, lsl #32
const MOVZ_X0_0_48: u32 = 0xd2e0_0000; // movz x0, #0, lsl #48
const MOVZ_X7_0_32: u32 = 0xd2c0_0007; // movz x7, #0, lsl #32
const MOVK_X0_0: u32 = 0xf280_0000; // movk x0, #0
const MOVK_X0_0_16: u32 = 0xf2a0_0000; // movk x0, #0, lsl #16
const MOVK_X0_0_32: u32 = 0xf2c0_0000; // movk x0, #0, lsl #32
const MOVK_X0_0_48: u32 = 0xf2e0_0000; // movk x0, #0, lsl #48
const MOVK_X7_0_32: u32 = 0xf2c0_0007; // movk x7, #0, lsl #32
const MOVN_X0_0: u32 = 0x9280_0000; // movn x0, #0
const MOVZ_W7_0: u32 = 0x5280_0007; // movz w7, #0

#[test]
fn movw_uabs_groups_and_checks() {
    let x: u64 = 0x1234_5678_9abc_def0;
    // Unchecked groups of one value.
    assert_eq!(
        patch(Reloc::MovwUabsG0Nc, MOVK_X0_0, &at(P, x, 0)),
        Ok(0xf29b_de00)
    ); // movk x0, #0xdef0
    assert_eq!(
        patch(Reloc::MovwUabsG1Nc, MOVK_X0_0_16, &at(P, x, 0)),
        Ok(0xf2b3_5780)
    ); // movk x0, #0x9abc, lsl #16
    assert_eq!(
        patch(Reloc::MovwUabsG2Nc, MOVK_X0_0_32, &at(P, x, 0)),
        Ok(0xf2ca_cf00)
    ); // movk x0, #0x5678, lsl #32
    assert_eq!(
        patch(Reloc::MovwUabsG3, MOVK_X0_0_48, &at(P, x, 0)),
        Ok(0xf2e2_4680)
    ); // movk x0, #0x1234, lsl #48
    assert_eq!(
        patch(Reloc::MovwUabsG3, MOVZ_X0_0_48, &at(P, x, 0)),
        Ok(0xd2e2_4680)
    ); // movz x0, #0x1234, lsl #48
    assert_eq!(
        patch(Reloc::MovwUabsG2Nc, MOVK_X7_0_32, &at(P, x, 0)),
        Ok(0xf2ca_cf07)
    ); // movk x7, #0x5678, lsl #32
       // G3 of the largest address: movk x9, #0xffff, lsl #48
    assert_eq!(
        patch(Reloc::MovwUabsG3, 0xf2e0_0009, &at(P, u64::MAX, 0)),
        Ok(0xf2ff_ffe9)
    );

    // Checked groups: the largest value, then one more, then -1.
    // (kind, instruction, largest value, word with it)
    let checked = [
        (Reloc::MovwUabsG0, MOVZ_X0_0, 0xffffu64, 0xd29f_ffe0), // movz x0, #0xffff
        (Reloc::MovwUabsG1, MOVZ_X0_0_16, 0xffff_ffff, 0xd2bf_ffe0), // movz x0, #0xffff, lsl #16
        (
            Reloc::MovwUabsG2,
            MOVZ_X7_0_32,
            0xffff_ffff_ffff,
            0xd2df_ffe7,
        ), // movz x7, #0xffff, lsl #32
    ];
    for (kind, insn, largest, expected) in checked {
        assert_eq!(
            patch(kind, insn, &at(P, largest, 0)),
            Ok(expected),
            "{kind}"
        );
        let max = i128::from(largest);
        assert_eq!(
            patch(kind, insn, &at(P, largest + 1, 0)),
            Err(overflow(max + 1, 0, max)),
            "{kind}"
        );
        assert_eq!(
            patch(kind, insn, &at(P, 0, -1)),
            Err(overflow(-1, 0, max)),
            "{kind}"
        );
        assert_eq!(patch(kind, insn, &at(P, 0, 0)), Ok(insn), "{kind}");
    }
    // A UABS group keeps the opcode and the 32-bit form: movz w7, #0x1234
    assert_eq!(
        patch(Reloc::MovwUabsG0, MOVZ_W7_0, &at(P, 0x1234, 0)),
        Ok(0x5282_4687)
    );
}

#[test]
fn movw_prel_g0_switches_movz_and_movn() {
    let k = Reloc::MovwPrelG0;
    let (min, max) = (-(1i128 << 16), (1i128 << 16) - 1);
    // movz x0, #0xffff
    assert_eq!(patch(k, MOVZ_X0_0, &at(P, P + 0xffff, 0)), Ok(0xd29f_ffe0));
    // From a movn too: X >= 0 makes it movz. movz x0, #0xfffe
    assert_eq!(patch(k, MOVN_X0_0, &at(P, P + 0xfffe, 0)), Ok(0xd29f_ffc0));
    // X = -0x10000: movn x0, #0xffff
    assert_eq!(
        patch(k, MOVZ_X0_0, &at(P, P - 0x1_0000, 0)),
        Ok(0x929f_ffe0)
    );
    // X = -1: movn x0, #0
    assert_eq!(patch(k, MOVZ_X0_0, &at(P, P - 1, 0)), Ok(0x9280_0000));
    // movz w7, #0x1234 and movn w7, #0x1233 (= -0x1234)
    assert_eq!(patch(k, MOVZ_W7_0, &at(P, P, 0x1234)), Ok(0x5282_4687));
    assert_eq!(patch(k, MOVZ_W7_0, &at(P, P, -0x1234)), Ok(0x1282_4667));
    assert_eq!(
        patch(k, MOVZ_X0_0, &at(P, P + 0x1_0000, 0)),
        Err(overflow(0x1_0000, min, max))
    );
    assert_eq!(
        patch(k, MOVZ_X0_0, &at(P, P - 0x1_0001, 0)),
        Err(overflow(-0x1_0001, min, max))
    );
    // A movk keeps its opcode and takes X's bits: movk x0, #0xfffe
    assert_eq!(patch(k, MOVK_X0_0, &at(P, P - 2, 0)), Ok(0xf29f_ffc0));
}

#[test]
fn movw_prel_g1_g2_g3_switch_by_sign() {
    // (kind, movz of the group, value, expected word)
    let cases: [(Reloc, u32, i64, u32); 8] = [
        // movz x0, #0xffff, lsl #16
        (Reloc::MovwPrelG1, MOVZ_X0_0_16, 0xffff_ffff, 0xd2bf_ffe0),
        // movn x0, #0xffff, lsl #16 (= -2^32)
        (Reloc::MovwPrelG1, MOVZ_X0_0_16, -(1 << 32), 0x92bf_ffe0),
        // movn x0, #0x1234, lsl #16 (= -0x12340001)
        (Reloc::MovwPrelG1, MOVZ_X0_0_16, -0x1234_0001, 0x92a2_4680),
        // movz x0, #0xffff, lsl #32
        (
            Reloc::MovwPrelG2,
            MOVZ_X0_0_32,
            0xffff_ffff_ffff,
            0xd2df_ffe0,
        ),
        // movn x0, #0xffff, lsl #32 (= -2^48)
        (Reloc::MovwPrelG2, MOVZ_X0_0_32, -(1 << 48), 0x92df_ffe0),
        // movn x0, #0, lsl #32 (= -1)
        (Reloc::MovwPrelG2, MOVZ_X0_0_32, -1, 0x92c0_0000),
        // movz x0, #0x1234, lsl #48
        (
            Reloc::MovwPrelG3,
            MOVZ_X0_0_48,
            0x1234_5677_ffff_f000,
            0xd2e2_4680,
        ),
        // movn x0, #0, lsl #48 (= -2^48)
        (Reloc::MovwPrelG3, MOVZ_X0_0_48, -(1 << 48), 0x92e0_0000),
    ];
    for (kind, insn, x, expected) in cases {
        assert_eq!(
            patch(kind, insn, &at(P, P, x)),
            Ok(expected),
            "{kind} {x:#x}"
        );
    }
    // The place matters: S - P with A = 0. X = 0x1000_0000 - 0x2340_0001 =
    // -0x1340_0001: movn x0, #0x1340, lsl #16
    assert_eq!(
        patch(
            Reloc::MovwPrelG1,
            MOVZ_X0_0_16,
            &at(0x2340_0001, 0x1000_0000, 0)
        ),
        Ok(0x92a2_6800)
    );
    // Boundaries of the checked groups.
    for (kind, insn, bits) in [
        (Reloc::MovwPrelG1, MOVZ_X0_0_16, 32),
        (Reloc::MovwPrelG2, MOVZ_X0_0_32, 48),
    ] {
        let (min, max) = (-(1i128 << bits), (1i128 << bits) - 1);
        assert!(patch(kind, insn, &at(P, P, max as i64)).is_ok());
        assert!(patch(kind, insn, &at(P, P, min as i64)).is_ok());
        assert_eq!(
            patch(kind, insn, &at(P, P, (max + 1) as i64)),
            Err(overflow(max + 1, min, max)),
            "{kind}"
        );
        assert_eq!(
            patch(kind, insn, &at(P, P, (min - 1) as i64)),
            Err(overflow(min - 1, min, max)),
            "{kind}"
        );
    }
    // G3 is never out of range: P far above S gives X = 4 - 2^64, !X has
    // 0xffff in group 3: movn x0, #0xffff, lsl #48
    assert_eq!(
        patch(Reloc::MovwPrelG3, MOVZ_X0_0_48, &at(u64::MAX - 3, 0, 0)),
        Ok(0x92ff_ffe0)
    );
}

#[test]
fn movw_prel_nc_keeps_the_opcode() {
    let x: i64 = -0x1234_0001; // 0xffff_ffff_edcb_ffff
                               // movk x0, #0xffff
    assert_eq!(
        patch(Reloc::MovwPrelG0Nc, MOVK_X0_0, &at(P, P, x)),
        Ok(0xf29f_ffe0)
    );
    // movk x0, #0xedcb, lsl #16
    assert_eq!(
        patch(Reloc::MovwPrelG1Nc, MOVK_X0_0_16, &at(P, P, x)),
        Ok(0xf2bd_b960)
    );
    // movk x0, #0xffff, lsl #32
    assert_eq!(
        patch(Reloc::MovwPrelG2Nc, MOVK_X0_0_32, &at(P, P, x)),
        Ok(0xf2df_ffe0)
    );
    // Out of every signed range, still written: movk x0, #0x5678, lsl #32
    assert_eq!(
        patch(
            Reloc::MovwPrelG2Nc,
            MOVK_X0_0_32,
            &at(0x1000, 0x1234_5678_0000_1000, 0)
        ),
        Ok(0xf2ca_cf00)
    );
}

#[test]
fn movw_kinds_need_a_move_wide() {
    let movw = Reloc::ALL
        .iter()
        .filter(|k| k.name().starts_with("MOVW_"))
        .copied()
        .collect::<Vec<_>>();
    assert_eq!(movw.len(), 14);
    // add; and opc = 01 of the move-wide class, which is unallocated.
    for insn in [ADD_X0_X1_0, 0x3280_0000, NOP] {
        for &kind in &movw {
            assert!(
                matches!(patch(kind, insn, &at(P, P, 0)), Err(FixupError::Invalid(_))),
                "{kind} on {insn:#010x}"
            );
        }
    }
}

// ---- GOT -----------------------------------------------------------------

#[test]
fn got_prel32_boundaries_and_missing_slots() {
    // G + A - P = 0x10 + A with P = 0x4000_0000.
    let v = |a: i64| at(0x4000_0000, 0xdead_0000, a);
    let (min, max) = (-(1i128 << 31), (1i128 << 31) - 1);
    assert_eq!(data(Reloc::GotPrel32, &v(0)), Ok(le(0x10, 4)));
    assert_eq!(
        data(Reloc::GotPrel32, &v(0x7fff_ffff - 0x10)),
        Ok(le(max, 4))
    );
    assert_eq!(
        data(Reloc::GotPrel32, &v(0x8000_0000 - 0x10)),
        Err(overflow(max + 1, min, max))
    );

    for kind in Reloc::ALL.iter().filter(|k| k.needs_got_slot()) {
        let mut no_slot = at(P, 0x5000, 0);
        no_slot.got_slot = 0;
        let insn = match kind {
            Reloc::AdrGotPage => ADRP_X0_0,
            _ => LDR_X0_X1,
        };
        let result = if kind.field_size() == 4 && *kind != Reloc::GotPrel32 {
            patch(*kind, insn, &no_slot).map(|_| ())
        } else {
            data(*kind, &no_slot).map(|_| ())
        };
        assert!(
            matches!(result, Err(FixupError::Invalid(_))),
            "{kind} without a slot"
        );
    }
}

// ---- short places --------------------------------------------------------

#[test]
fn short_places_are_refused_untouched() {
    // TLSDESC_CALL writes nothing (see `tls_descriptor_kinds_use_the_descriptor`).
    for kind in Reloc::ALL.into_iter().filter(|&k| k != Reloc::TlsDescCall) {
        let needed = kind.field_size();
        let expected_size = match kind {
            Reloc::Abs16 | Reloc::Prel16 | Reloc::SectionIndex => 2,
            Reloc::Abs64 | Reloc::Prel64 | Reloc::GotAbs64 => 8,
            _ => 4,
        };
        assert_eq!(needed, expected_size, "{kind}");
        for available in [0, needed - 1] {
            let mut place = vec![0x5a; available];
            assert_eq!(
                apply(kind, &mut place, &at(P, P + 8, 0)),
                Err(FixupError::PlaceOutOfBounds { needed, available }),
                "{kind}"
            );
            assert!(place.iter().all(|&b| b == 0x5a));
        }
    }
}

// ---- stubs ---------------------------------------------------------------

/// The word at `i` of `bytes`, little-endian.
fn word_at(bytes: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]])
}

#[test]
fn stub_is_adrp_ldr_br_through_the_slot() {
    // Stub at 0x1_0000_0ffc, slot at 0x1_0002_3458: the adrp counts 0x23
    // pages from the stub's page, the ldr's offset is 0x458 / 8 = 0x8b.
    let (stub, slot) = (0x1_0000_0ffcu64, 0x1_0002_3458u64);
    let bytes = stub_bytes(stub, slot).expect("stub");
    assert_eq!(STUB_SIZE, 12);
    // adrp x16, #0x23000: immlo = 3 (bits 30:29), immhi = 8 (bits 23:5).
    assert_eq!(word_at(&bytes, 0), 0x9000_0010 | (3 << 29) | (8 << 5));
    // ldr x16, [x16, #0x458]
    assert_eq!(word_at(&bytes, 4), 0xf940_0210 | (0x8b << 10));
    // br x16
    assert_eq!(word_at(&bytes, 8), 0xd61f_0200);

    let mut place = vec![FILL; STUB_SIZE + SLACK];
    assert_eq!(write_stub(&mut place, stub, slot), Ok(()));
    assert_eq!(&place[..STUB_SIZE], &bytes[..]);
    assert!(place[STUB_SIZE..].iter().all(|&b| b == FILL));
    assert_eq!(
        crate::arch::write_stub(Arch::Aarch64, &mut place[..], stub, slot),
        Ok(())
    );
    assert_eq!(&place[..STUB_SIZE], &bytes[..]);

    // The reach: the slot's page within -4 GiB .. +4 GiB - 4 KiB of the stub's.
    let stub = 0x8_0000_0000u64;
    let last = stub + (1 << 32) - 0x1000 + 0xff8;
    let bytes = stub_bytes(stub, last).expect("last page in reach");
    // immhi:immlo = 0x0fffff (the largest positive 21-bit page count).
    assert_eq!(word_at(&bytes, 0), 0x9000_0010 | (3 << 29) | (0x3ffff << 5));
    assert!(matches!(
        stub_bytes(stub, last + 8),
        Err(FixupError::Overflow { .. })
    ));
    let first = stub - (1 << 32);
    let bytes = stub_bytes(stub, first).expect("first page in reach");
    // immhi:immlo = 0x100000 (the most negative page count).
    assert_eq!(word_at(&bytes, 0), 0x9000_0010 | (0x40000 << 5));
    assert!(matches!(
        stub_bytes(stub, first - 8),
        Err(FixupError::Overflow { .. })
    ));
    // A misaligned slot cannot be loaded with a scaled ldr.
    assert!(matches!(
        stub_bytes(0x4000, 0x5004),
        Err(FixupError::Invalid(_))
    ));

    let mut short = vec![FILL; STUB_SIZE - 1];
    assert_eq!(
        write_stub(&mut short, 0x4000, 0x5000),
        Err(FixupError::PlaceOutOfBounds {
            needed: STUB_SIZE,
            available: STUB_SIZE - 1
        })
    );
    assert!(short.iter().all(|&b| b == FILL));
}

/// `adrp x3, 0; ldr x3, [x3]`: a GOT load pair before relocation.
const GOT_PAIR: [u32; 2] = [0x9000_0003, 0xf940_0063];

fn pair_bytes(words: [u32; 2]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[test]
fn got_load_pairs_become_adrp_add_in_reach_only() {
    let p = 0x8_0000_0000u64;
    let v = |s: u64| FixupValues {
        p,
        s,
        ..FixupValues::default()
    };
    // In reach: the ldr becomes `add x3, x3, #0` (its immediate is the
    // fixup's); the adrp stays.
    let mut code = pair_bytes(GOT_PAIR);
    assert!(relax_got_load_pair(&mut code, 0, &v(p + 0x1234)));
    assert_eq!(word_at(&code, 0), GOT_PAIR[0]);
    assert_eq!(word_at(&code, 4), 0x9100_0063);
    // Then ADR_PREL_PG_HI21 and ADD_ABS_LO12_NC give S itself.
    apply(Reloc::AdrPrelPgHi21, &mut code[0..4], &v(p + 0x1234)).expect("adrp");
    let at_add = FixupValues {
        p: p + 4,
        ..v(p + 0x1234)
    };
    apply(Reloc::AddAbsLo12Nc, &mut code[4..8], &at_add).expect("add");
    assert_eq!(word_at(&code, 0), 0x9000_0003 | (1 << 29)); // adrp x3, #0x1000
    assert_eq!(word_at(&code, 4), 0x9100_0063 | (0x234 << 10)); // add x3, x3, #0x234

    // The boundaries of the adrp's reach, both ways.
    let last = p + (1 << 32) - 0x1000 + 0xfff;
    let first = p - (1 << 32);
    for (s, reaches) in [
        (last, true),
        (last + 1, false),
        (first, true),
        (first - 1, false),
    ] {
        let mut code = pair_bytes(GOT_PAIR);
        assert_eq!(relax_got_load_pair(&mut code, 0, &v(s)), reaches, "{s:#x}");
        if !reaches {
            assert_eq!(code, pair_bytes(GOT_PAIR));
        }
    }

    // Only the expected forms, with one register throughout.
    let refused = [
        [0x9000_0003, 0xf940_0064], // ldr x4, [x3]: another destination
        [0x9000_0003, 0xf940_0083], // ldr x3, [x4]: another base
        [0x9000_0003, 0xb940_0063], // ldr w3, [x3]: a 32-bit load
        [0x1000_0003, 0xf940_0063], // adr, not adrp
        [0x9000_001f, 0xf940_03ff], // x31 (sp as a base)
    ];
    for words in refused {
        let mut code = pair_bytes(words);
        assert!(
            !relax_got_load_pair(&mut code, 0, &v(p + 0x10)),
            "{words:x?}"
        );
        assert_eq!(code, pair_bytes(words));
    }
    // No room for the ldr.
    let mut short = pair_bytes(GOT_PAIR);
    short.truncate(7);
    assert!(!relax_got_load_pair(&mut short, 0, &v(p + 0x10)));
    assert!(!relax_got_load_pair(
        &mut pair_bytes(GOT_PAIR),
        usize::MAX,
        &v(p)
    ));
    assert!(is_got_load_pair(GOT_PAIR[0], GOT_PAIR[1]));
}

// ---- thread-local storage -------------------------------------------------

/// `add x0, x0, #0`, `add x0, x0, #0, lsl #12`, `movz x0, #0`, `movn x0, #0`,
/// `movk x0, #0`, `adrp x0, 0`, `ldr x1, [x0]`, `blr x1`.
const ADD: u32 = 0x9100_0000;
const ADD_LSL12: u32 = 0x9140_0000;
const MOVZ: u32 = 0xd280_0000;
const MOVN: u32 = 0x9280_0000;
const MOVK: u32 = 0xf280_0000;
const ADRP: u32 = 0x9000_0000;
const LDR_X: u32 = 0xf940_0001;
const BLR_X1: u32 = 0xd63f_0020;

/// A fixup whose S is the thread-pointer offset `tp` (A = 0).
fn tprel(tp: i64) -> FixupValues {
    at(0x1000, tp as u64, 0)
}

#[test]
fn tlsle_add_tprel_boundaries() {
    let hi = |tp| patch(Reloc::TlsLeAddTprelHi12, ADD_LSL12, &tprel(tp));
    assert_eq!(hi(0), Ok(ADD_LSL12));
    assert_eq!(hi(0x12_3456), Ok(ADD_LSL12 | (0x123 << 10)));
    assert_eq!(hi((1 << 24) - 1), Ok(ADD_LSL12 | (0xfff << 10)));
    assert_eq!(hi(1 << 24), Err(overflow(1 << 24, 0, (1 << 24) - 1)));
    // A negative offset (below the thread pointer) does not fit AArch64's
    // variant I layout.
    assert_eq!(hi(-1), Err(overflow(-1, 0, (1 << 24) - 1)));
    let lo = |tp| patch(Reloc::TlsLeAddTprelLo12, ADD, &tprel(tp));
    assert_eq!(lo(0xfff), Ok(ADD | (0xfff << 10)));
    assert_eq!(lo(0x1000), Err(overflow(0x1000, 0, 0xfff)));
    assert_eq!(lo(-1), Err(overflow(-1, 0, 0xfff)));
    let lo_nc = |tp| patch(Reloc::TlsLeAddTprelLo12Nc, ADD, &tprel(tp));
    assert_eq!(lo_nc(0x12_3456), Ok(ADD | (0x456 << 10)));
    // The addend counts: 0xff0 + 0x10 is one past the checked range.
    assert_eq!(
        patch(Reloc::TlsLeAddTprelLo12, ADD, &at(0, 0xff0, 0x10)),
        Err(overflow(0x1000, 0, 0xfff))
    );
    assert!(matches!(
        patch(Reloc::TlsLeAddTprelHi12, MOVZ, &tprel(0)),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn tlsle_movw_tprel_groups_switch_by_sign_and_check() {
    let g = |kind, insn, tp| patch(kind, insn, &tprel(tp));
    use Reloc::{TlsLeMovwTprelG0 as G0, TlsLeMovwTprelG1 as G1, TlsLeMovwTprelG2 as G2};
    // G0: [-2^16, 2^16).
    assert_eq!(g(G0, MOVZ, 0xffff), Ok(MOVZ | (0xffff << 5)));
    assert_eq!(
        g(G0, MOVZ, 0x1_0000),
        Err(overflow(0x1_0000, -0x1_0000, 0xffff))
    );
    assert_eq!(g(G0, MOVZ, -1), Ok(MOVN));
    assert_eq!(g(G0, MOVZ, -0x1_0000), Ok(MOVN | (0xffff << 5)));
    assert_eq!(
        g(G0, MOVZ, -0x1_0001),
        Err(overflow(-0x1_0001, -0x1_0000, 0xffff))
    );
    // G1: [-2^32, 2^32), bits [31:16].
    assert_eq!(g(G1, MOVZ, 0xffff_ffff), Ok(MOVZ | (0xffff << 5)));
    assert_eq!(
        g(G1, MOVZ, 1 << 32),
        Err(overflow(1 << 32, -(1 << 32), (1 << 32) - 1))
    );
    assert_eq!(g(G1, MOVN, -0x2_0000), Ok(MOVN | (1 << 5)));
    // G2: [-2^48, 2^48), bits [47:32].
    assert_eq!(g(G2, MOVZ, (1 << 48) - 1), Ok(MOVZ | (0xffff << 5)));
    assert_eq!(
        g(G2, MOVZ, 1 << 48),
        Err(overflow(1 << 48, -(1 << 48), (1 << 48) - 1))
    );
    // The _NC groups keep the movk and take the bits unchecked.
    assert_eq!(
        g(Reloc::TlsLeMovwTprelG1Nc, MOVK, 0x7_1234_0000),
        Ok(MOVK | (0x1234 << 5))
    );
    assert_eq!(
        g(Reloc::TlsLeMovwTprelG0Nc, MOVK, -2),
        Ok(MOVK | (0xfffe << 5))
    );
    // A movk at a checked group keeps its opcode.
    assert_eq!(g(G0, MOVK, 5), Ok(MOVK | (5 << 5)));
}

#[test]
fn tlsie_kinds_use_the_slot_holding_the_offset() {
    let v = at(0x10_0000, 0, 0);
    // The slot is at 0x4000_0010: 0x3ff00 pages up, offset 0x10 (>> 3 = 2).
    let pages = (G_SLOT as i128 >> 12) - (0x10_0000 >> 12);
    let adrp = patch(Reloc::TlsIeAdrGottprelPage21, ADRP, &v).unwrap();
    assert_eq!(
        adrp,
        ADRP | (((pages & 3) as u32) << 29) | (((pages >> 2) as u32) << 5)
    );
    assert_eq!(
        patch(Reloc::TlsIeLd64GottprelLo12Nc, LDR_X, &v),
        Ok(LDR_X | (2 << 10))
    );
    let no_slot = FixupValues { got_slot: 0, ..v };
    assert!(matches!(
        patch(Reloc::TlsIeLd64GottprelLo12Nc, LDR_X, &no_slot),
        Err(FixupError::Invalid(_))
    ));
    // Out of adrp's reach (4 GiB) is an overflow.
    let far = FixupValues {
        got_slot: 0x1_0000_1000 + 0x10_0000,
        ..v
    };
    assert_eq!(
        patch(Reloc::TlsIeAdrGottprelPage21, ADRP, &far),
        Err(overflow(0x1_0000_1000, -(1 << 32), (1 << 32) - 1))
    );
}

#[test]
fn tls_descriptor_kinds_use_the_descriptor() {
    let v = at(0x10_0000, 0, 0);
    let pages = (G_SLOT as i128 >> 12) - (0x10_0000 >> 12);
    assert_eq!(
        patch(Reloc::TlsDescAdrPage21, ADRP, &v),
        Ok(ADRP | (((pages & 3) as u32) << 29) | (((pages >> 2) as u32) << 5))
    );
    assert_eq!(
        patch(Reloc::TlsDescLd64Lo12, LDR_X, &v),
        Ok(LDR_X | (2 << 10))
    );
    assert_eq!(
        patch(Reloc::TlsDescAddLo12, ADD, &v),
        Ok(ADD | (0x10 << 10))
    );
    // A descriptor that is not 8-aligned cannot be loaded.
    let odd = FixupValues {
        got_slot: G_SLOT + 4,
        ..v
    };
    assert!(matches!(
        patch(Reloc::TlsDescLd64Lo12, LDR_X, &odd),
        Err(FixupError::Invalid(_))
    ));
    let no_slot = FixupValues { got_slot: 0, ..v };
    assert!(matches!(
        patch(Reloc::TlsDescAddLo12, ADD, &no_slot),
        Err(FixupError::Invalid(_))
    ));
    // TLSDESC_CALL marks the blr and writes nothing, even with no slot.
    assert_eq!(patch(Reloc::TlsDescCall, BLR_X1, &no_slot), Ok(BLR_X1));
    assert_eq!(Reloc::TlsDescCall.field_size(), 0);
    for kind in [
        Reloc::TlsDescAdrPage21,
        Reloc::TlsDescLd64Lo12,
        Reloc::TlsDescAddLo12,
    ] {
        assert_eq!(
            kind.tls_pair(),
            Some(crate::arch::TlsPair::Descriptor),
            "{kind}"
        );
        assert!(kind.is_tp_relative() && !kind.needs_got_slot(), "{kind}");
    }
    assert_eq!(Reloc::TlsDescCall.tls_pair(), None);
    assert!(!Reloc::TlsDescCall.is_tp_relative());
}

// ---- COFF arm64 -----------------------------------------------------------

const IMAGE_BASE: u64 = 0x4000_0000;
const SECTION_BASE: u64 = 0x4001_0000;

/// P, S and A with an image base, the target's section base and number.
fn coff_at(p: u64, s: u64, a: i64) -> FixupValues {
    FixupValues {
        image_base: IMAGE_BASE,
        section_base: SECTION_BASE,
        section_index: 3,
        ..at(p, s, a)
    }
}

#[test]
fn coff_section_relative_classification() {
    for kind in Reloc::ALL {
        let relative = matches!(
            kind,
            Reloc::SecRel32
                | Reloc::SecRelLo12A
                | Reloc::SecRelHi12A
                | Reloc::SecRelLo12L
                | Reloc::SectionIndex
        );
        assert_eq!(kind.is_section_relative(), relative, "{kind}");
        assert_eq!(
            crate::arch::RelocKind::Aarch64(kind).is_section_relative(),
            relative,
            "{kind}"
        );
    }
}

/// The checked COFF data kinds, their ranges, and what their value is
/// without the addend from [`coff_at`]`(0x4002_0000, 0x4003_0000, 0)`.
fn coff_data_ranges() -> [(Reloc, i128, i128, i128); 5] {
    let (p, s) = (0x4002_0000i128, 0x4003_0000i128);
    [
        (Reloc::Addr32, 0, (1 << 32) - 1, s),
        (
            Reloc::ImageRel32,
            0,
            (1 << 32) - 1,
            s - i128::from(IMAGE_BASE),
        ),
        (
            Reloc::SecRel32,
            0,
            (1 << 32) - 1,
            s - i128::from(SECTION_BASE),
        ),
        (Reloc::Rel32, -(1 << 31), (1 << 31) - 1, s - p),
        (Reloc::SectionIndex, 0, 0xffff, 3),
    ]
}

#[test]
fn coff_data_kinds_accept_exactly_their_range() {
    for (kind, min, max, without) in coff_data_ranges() {
        let size = kind.field_size();
        let values = |value: i128| {
            coff_at(
                0x4002_0000,
                0x4003_0000,
                i64::try_from(value - without).unwrap(),
            )
        };
        for value in [min, max, min + 1, max - 1] {
            assert_eq!(
                data(kind, &values(value)),
                Ok(le(value, size)),
                "{kind} {value:#x}"
            );
        }
        for value in [min - 1, max + 1] {
            assert_eq!(
                data(kind, &values(value)),
                Err(overflow(value, min, max)),
                "{kind} {value:#x}"
            );
        }
    }
}

#[test]
fn coff_image_and_section_relative_values() {
    let v = coff_at(0x4002_0000, 0x4001_0040, 8);
    assert_eq!(data(Reloc::ImageRel32, &v), Ok(le(0x1_0048, 4)));
    assert_eq!(data(Reloc::SecRel32, &v), Ok(le(0x48, 4)));
    assert_eq!(data(Reloc::SectionIndex, &coff_at(0, 0, 0)), Ok(le(3, 2)));
    // REL32: S + A - P, the loader's A already holding COFF's -4.
    assert_eq!(
        data(Reloc::Rel32, &coff_at(0x4002_0000, 0x4001_0000, -4)),
        Ok(le(-0x1_0004, 4))
    );
}

const ADD_X0_X0_0: u32 = 0x9100_0000; // add x0, x0, #0
const LDR_X0_X0_0: u32 = 0xf940_0000; // ldr x0, [x0]
const LDR_W0_X0_0: u32 = 0xb940_0000; // ldr w0, [x0]

#[test]
fn secrel_low12a_takes_the_low_bits_unchecked() {
    let v = coff_at(0, SECTION_BASE + 0x12_3456, 0);
    // add x0, x0, #0x456
    assert_eq!(patch(Reloc::SecRelLo12A, ADD_X0_X0_0, &v), Ok(0x9111_5800));
    assert_eq!(
        patch(Reloc::SecRelLo12A, LDR_X0_X0_0, &v),
        Err(FixupError::Invalid(
            "SECREL_LOW12A/SECREL_HIGH12A applies to an add (immediate) instruction"
        ))
    );
}

#[test]
fn secrel_high12a_boundaries() {
    let max = (1i128 << 24) - 1;
    let at_offset = |x: i128| coff_at(0, SECTION_BASE, i64::try_from(x).unwrap());
    // add x0, x0, #0xfff: the last offset that fits.
    assert_eq!(
        patch(Reloc::SecRelHi12A, ADD_X0_X0_0, &at_offset(max)),
        Ok(0x913f_fc00)
    );
    assert_eq!(
        patch(Reloc::SecRelHi12A, ADD_X0_X0_0, &at_offset(0x12_3456)),
        Ok(ADD_X0_X0_0 | (0x123 << 10))
    );
    assert_eq!(
        patch(Reloc::SecRelHi12A, ADD_X0_X0_0, &at_offset(0)),
        Ok(ADD_X0_X0_0)
    );
    assert_eq!(
        patch(Reloc::SecRelHi12A, ADD_X0_X0_0, &at_offset(max + 1)),
        Err(overflow(max + 1, 0, max))
    );
    assert_eq!(
        patch(Reloc::SecRelHi12A, ADD_X0_X0_0, &at_offset(-1)),
        Err(overflow(-1, 0, max))
    );
}

#[test]
fn secrel_low12l_scales_and_checks_alignment() {
    let v = coff_at(0, SECTION_BASE + 0x1_0018, 0);
    // ldr x0, [x0, #0x18]: imm12 = 3
    assert_eq!(
        patch(Reloc::SecRelLo12L, LDR_X0_X0_0, &v),
        Ok(LDR_X0_X0_0 | (3 << 10))
    );
    // ldr w0, [x0, #0x18]: imm12 = 6
    assert_eq!(
        patch(Reloc::SecRelLo12L, LDR_W0_X0_0, &v),
        Ok(LDR_W0_X0_0 | (6 << 10))
    );
    let odd = coff_at(0, SECTION_BASE + 0x1_001c, 0);
    assert!(matches!(
        patch(Reloc::SecRelLo12L, LDR_X0_X0_0, &odd),
        Err(FixupError::Invalid(_))
    ));
    assert!(matches!(
        patch(Reloc::SecRelLo12L, ADD_X0_X0_0, &v),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn coff_implicit_addends_per_instruction_form() {
    let read = |kind: Reloc, word: u32| coff_implicit_addend(kind, &word.to_le_bytes());
    // Branches: signed word displacements, in bytes.
    assert_eq!(read(Reloc::Call26, 0x97ff_fffe), Ok(-8)); // bl #-8
    assert_eq!(read(Reloc::Call26, 0x1400_0004), Ok(16)); // b #16
    assert_eq!(read(Reloc::Call26, 0x95ff_ffff), Ok((1 << 27) - 4)); // bl, max
    assert_eq!(read(Reloc::Call26, 0x9600_0000), Ok(-(1 << 27))); // bl, min
    assert_eq!(read(Reloc::CondBr19, 0x5400_0081), Ok(16)); // b.ne #16
    assert_eq!(read(Reloc::CondBr19, 0xb4ff_ffe3), Ok(-4)); // cbz x3, #-4
    assert_eq!(read(Reloc::TstBr14, 0x3600_0040), Ok(8)); // tbz w0, #0, #8
    assert_eq!(read(Reloc::TstBr14, 0x3607_ffe0), Ok(-4)); // tbz w0, #0, #-4
                                                           // adrp/adr: the 21-bit immediate in bytes.
    assert_eq!(read(Reloc::AdrPrelPgHi21, 0x9000_0080), Ok(16));
    assert_eq!(read(Reloc::AdrPrelPgHi21, 0xf0ff_ffe0), Ok(-1));
    assert_eq!(read(Reloc::AdrPrelLo21, 0x3000_0000), Ok(1)); // adr x0, #1
    assert_eq!(read(Reloc::AdrPrelLo21, 0x1080_0000), Ok(-(1 << 20))); // adr, min
                                                                       // add immediate: imm12, in bytes (HIGH12A too, as LLVM writes it).
    assert_eq!(read(Reloc::AddAbsLo12Nc, 0x9104_8c00), Ok(0x123));
    assert_eq!(read(Reloc::SecRelLo12A, 0x9104_8c00), Ok(0x123));
    assert_eq!(read(Reloc::SecRelHi12A, 0x9144_8c00), Ok(0x123)); // add x0, x0, #0x123, lsl #12
                                                                  // Loads and stores: imm12 times the access size.
    assert_eq!(read(Reloc::PageOff12, 0xf940_0400), Ok(8)); // ldr x0, [x0, #8]
    assert_eq!(read(Reloc::PageOff12, 0xb940_0800), Ok(8)); // ldr w0, [x0, #8]
    assert_eq!(read(Reloc::PageOff12, 0x3940_2000), Ok(8)); // ldrb w0, [x0, #8]
    assert_eq!(read(Reloc::PageOff12, 0x3dc0_0400), Ok(16)); // ldr q0, [x0, #16]
    assert_eq!(read(Reloc::SecRelLo12L, 0xf940_0400), Ok(8));
    assert_eq!(read(Reloc::PageOff12, 0x9104_8c00), Ok(0x123)); // an add
                                                                // Data: sign-extended; SECTION zero-extended.
    assert_eq!(read(Reloc::Addr32, 0xffff_fffc), Ok(-4));
    assert_eq!(read(Reloc::Rel32, 0x0000_0010), Ok(16));
    assert_eq!(read(Reloc::ImageRel32, 0x8000_0000), Ok(-(1 << 31)));
    assert_eq!(
        coff_implicit_addend(Reloc::SectionIndex, &[0xff, 0xff]),
        Ok(0xffff)
    );
    assert_eq!(
        coff_implicit_addend(Reloc::Abs64, &(-5i64).to_le_bytes()),
        Ok(-5)
    );
    // Short places.
    assert_eq!(
        coff_implicit_addend(Reloc::Call26, &[0, 0]),
        Err(FixupError::PlaceOutOfBounds {
            needed: 4,
            available: 2
        })
    );
    assert_eq!(
        coff_implicit_addend(Reloc::Abs64, &[0; 4]),
        Err(FixupError::PlaceOutOfBounds {
            needed: 8,
            available: 4
        })
    );
}

#[test]
fn coff_addends_read_then_applied_give_the_same_field() {
    // A field holding its addend, applied with that addend and S = P = 0
    // (branches) or an aligned S, comes back unchanged.
    for (kind, word) in [
        (Reloc::Call26, 0x97ff_fffeu32),
        (Reloc::CondBr19, 0x5400_0081),
        (Reloc::TstBr14, 0x3600_0040),
        (Reloc::AdrPrelLo21, 0x3000_0000),
    ] {
        let a = coff_implicit_addend(kind, &word.to_le_bytes()).unwrap();
        assert_eq!(
            patch(kind, word, &coff_at(0x1000, 0x1000, a)),
            Ok(word),
            "{kind}"
        );
    }
    let a = coff_implicit_addend(Reloc::PageOff12, &0xf940_0400u32.to_le_bytes()).unwrap();
    assert_eq!(
        patch(Reloc::PageOff12, 0xf940_0400, &coff_at(0, 0x5000, a)),
        Ok(0xf940_0400)
    );
}

#[test]
fn add_to_got_load_turns_the_add_into_a_load_of_the_slot() {
    // add x8, x8, #0 -> ldr x8, [x8, #lo12(G)]; G = 0x4000_0010 (imm12 = 2).
    let add_x8 = 0x9100_0108;
    assert_eq!(
        patch(Reloc::AddToGotLoad, add_x8, &at(0, 0x7f00_0000_0000, 0)),
        Ok(0xf940_0908)
    );
    // add x0, x1, #0 keeps its registers.
    assert_eq!(
        patch(Reloc::AddToGotLoad, 0x9100_0020, &at(0, 0, 0)),
        Ok(0xf940_0820)
    );
    // Applied again to the load it wrote, the same load.
    assert_eq!(
        patch(Reloc::AddToGotLoad, 0xf940_0908, &at(0, 0, 0)),
        Ok(0xf940_0908)
    );
    // A 32-bit add, a shifted add or a sub is not the pair's add.
    for insn in [0x1100_0108u32, 0x9140_0108, 0xd100_0108] {
        assert!(
            matches!(
                patch(Reloc::AddToGotLoad, insn, &at(0, 0, 0)),
                Err(FixupError::Invalid(_))
            ),
            "{insn:#x}"
        );
    }
    // No slot given.
    let mut v = at(0, 0, 0);
    v.got_slot = 0;
    assert!(matches!(
        patch(Reloc::AddToGotLoad, add_x8, &v),
        Err(FixupError::Invalid(_))
    ));
}

#[test]
fn address_pairs_are_adrp_then_add_on_the_same_register() {
    let adrp_x8 = 0x9000_0008; // adrp x8, 0
    assert!(is_address_pair(adrp_x8, 0x9100_0108)); // add x8, x8, #0
    assert!(!is_address_pair(adrp_x8, 0x9100_0109)); // add x9, x8: x8 lives on
    assert!(!is_address_pair(adrp_x8, 0x9100_0128)); // add x8, x9
    assert!(!is_address_pair(adrp_x8, 0xf940_0108)); // ldr x8, [x8]
    assert!(!is_address_pair(0x1000_0008, 0x9100_0108)); // adr, not adrp
}

/// Values are taken modulo 2^64, as AAELF64 computes them: an absolute
/// symbol in the upper half is a negative value to ABS32/ABS16, and places
/// and targets that wrap around the top or the bottom of the address space
/// reach exactly as far as those that do not.
#[test]
fn values_are_taken_modulo_2_64() {
    assert_eq!(
        data(Reloc::Abs32, &at(0x1000, 0xffff_ffff_8000_0000, 0)),
        Ok(le(-(1 << 31), 4))
    );
    assert_eq!(
        data(Reloc::Abs32, &at(0x1000, 0xffff_ffff_7fff_ffff, 0)),
        Err(overflow(-(1 << 31) - 1, -(1 << 31), (1 << 32) - 1))
    );
    for (kind, min, max) in DATA_RANGES {
        let size = kind.field_size();
        for (value, base, ok) in [
            (min, 0x1000u64, true),
            (min - 1, 0x1000, false),
            (max, u64::MAX - 0xfff, true),
            (max + 1, u64::MAX - 0xfff, false),
        ] {
            let term = base.wrapping_add(value as u64);
            let v = match kind {
                Reloc::Abs32 | Reloc::Abs16 => at(base, value as u64, 0),
                Reloc::Prel32 | Reloc::Prel16 => at(base, term, 0),
                _ => FixupValues {
                    got_slot: term,
                    ..at(base, 0, 0)
                },
            };
            let want = if ok {
                Ok(le(value, size))
            } else {
                Err(overflow(value, min, max))
            };
            assert_eq!(data(kind, &v), want, "{kind} {value:#x} from {base:#x}");
        }
    }
    // bl from 0x1000 to 128 MiB below it, across address 0.
    let (min, max) = (-(1i128 << 27), (1i128 << 27) - 4);
    assert_eq!(
        patch(
            Reloc::Call26,
            BL_0,
            &at(0x1000, 0x1000u64.wrapping_sub(1 << 27), 0)
        ),
        Ok(0x9600_0000)
    );
    assert_eq!(
        patch(
            Reloc::Call26,
            BL_0,
            &at(0x1000, 0x1000u64.wrapping_sub((1 << 27) + 4), 0)
        ),
        Err(overflow(min - 4, min, max))
    );
    // adrp 4 GiB down from page 0x1000, across address 0: accepted; one
    // page further is out of reach.
    let page = Reloc::AdrPrelPgHi21;
    assert!(patch(
        page,
        ADRP_X0_0,
        &at(0x1000, 0x1000u64.wrapping_sub(1 << 32), 0)
    )
    .is_ok());
    assert!(matches!(
        patch(
            page,
            ADRP_X0_0,
            &at(0x1000, 0x1000u64.wrapping_sub((1 << 32) + 0x1000), 0)
        ),
        Err(FixupError::Overflow { .. })
    ));
}
