//! Tests of the x86-64 relocation math: every kind, the exact boundaries of
//! every range-checked kind, short places, stubs, and stubs executed.

use crate::arch::x86_64::{
    apply, can_relax_got_load, got_access, patch_direct, relax_and_patch, relax_got_load,
    stub_bytes, write_stub, GotAccess, Reloc, GOT_SLOT_SIZE, STUB_ALIGN, STUB_SIZE,
    STUB_SLOT_FIELD,
};
use crate::arch::{read_le, FixupError, FixupValues};

/// What the bytes of a place hold before a fixup, so a test can see which
/// bytes were written.
const FILL: u8 = 0xAA;
/// Bytes past the field in each place, which no fixup may touch.
const SLACK: usize = 4;

const I32_MIN: i128 = i32::MIN as i128;
const I32_MAX: i128 = i32::MAX as i128;
const U32_MAX: i128 = u32::MAX as i128;

/// Realistic, distinct, non-zero values for every input.
fn base() -> FixupValues {
    FixupValues {
        p: 0x7f3a_1000_0100,
        s: 0x7f3a_1000_8000,
        a: 0,
        got_base: 0x7f3a_2000_0000,
        got_slot: 0x7f3a_2000_0040,
        stub: 0,
        image_base: 0x7f3a_0fff_0000,
        section_base: 0x7f3a_1000_4000,
        section_index: 3,
        size: 0x40,
    }
}

/// The value of each kind with A = 0, written out independently of the code
/// under test (the psABI formulas, G being `got_slot - got_base`).
fn without_addend(kind: Reloc, v: &FixupValues) -> i128 {
    let p = i128::from(v.p);
    let s = i128::from(v.s);
    let got = i128::from(v.got_base);
    let slot = i128::from(v.got_slot);
    match kind {
        Reloc::Abs64 | Reloc::Abs32 | Reloc::Abs32S | Reloc::Abs16 | Reloc::Abs8 => s,
        Reloc::Pc32 | Reloc::Pc64 | Reloc::Pc16 | Reloc::Pc8 | Reloc::Branch32 => s - p,
        Reloc::GotPcRel32
        | Reloc::GotPcRelX
        | Reloc::TlsGd
        | Reloc::TlsLd
        | Reloc::GotTpOff
        | Reloc::GotPc32TlsDesc => slot - p,
        Reloc::TlsDescCall => 0,
        // S is a thread-pointer offset, a signed 64-bit number.
        Reloc::TpOff32 | Reloc::TpOff64 => i128::from(v.s as i64),
        Reloc::DtpOff32 | Reloc::DtpOff64 => s,
        Reloc::GotPc32 | Reloc::GotPc64 => got - p,
        Reloc::Got64 | Reloc::Got32 => slot - got,
        Reloc::GotOff64 | Reloc::PltOff64 => s - got,
        Reloc::Size32 | Reloc::Size64 => i128::from(v.size),
        Reloc::ImageRel32 => s - i128::from(v.image_base),
        Reloc::SecRel32 => s - i128::from(v.section_base),
        Reloc::SectionIndex => i128::from(v.section_index),
    }
}

/// The base values with the addend chosen so that `kind` computes `value`.
fn with_value(kind: Reloc, value: i128) -> FixupValues {
    let mut v = base();
    let a = value - without_addend(kind, &v);
    v.a = i64::try_from(a).expect("test value reachable through the addend");
    v
}

/// The expected field: the low `size` bytes of `value`, little-endian.
fn field_bytes(value: i128, size: usize) -> Vec<u8> {
    (value as u64).to_le_bytes()[..size].to_vec()
}

/// Applies `kind` to a place of FILL bytes one field plus SLACK long.
fn run(kind: Reloc, v: &FixupValues) -> (Result<(), FixupError>, Vec<u8>) {
    let mut place = vec![FILL; kind.field_size() + SLACK];
    let result = apply(kind, &mut place, v);
    (result, place)
}

/// Asserts that `kind` writes exactly `expected` and nothing past it.
#[track_caller]
fn assert_writes(kind: Reloc, v: &FixupValues, expected: &[u8]) {
    let (result, place) = run(kind, v);
    assert_eq!(result, Ok(()), "{kind} with {v:x?}");
    assert_eq!(
        expected.len(),
        kind.field_size(),
        "{kind}: test expects a wrong width"
    );
    assert_eq!(&place[..expected.len()], expected, "{kind} with {v:x?}");
    assert!(
        place[expected.len()..].iter().all(|&b| b == FILL),
        "{kind} wrote past its field: {place:x?}"
    );
}

/// Asserts that `kind` fails with `error` and leaves the place untouched.
#[track_caller]
fn assert_fails(kind: Reloc, v: &FixupValues, error: FixupError) {
    let (result, place) = run(kind, v);
    assert_eq!(result, Err(error), "{kind} with {v:x?}");
    assert!(
        place.iter().all(|&b| b == FILL),
        "{kind} wrote on error: {place:x?}"
    );
}

/// The position of each kind in the declaration; a new kind fails to compile
/// here until the tests learn about it.
fn declared_position(kind: Reloc) -> usize {
    match kind {
        Reloc::Abs64 => 0,
        Reloc::Abs32 => 1,
        Reloc::Abs32S => 2,
        Reloc::Abs16 => 3,
        Reloc::Abs8 => 4,
        Reloc::Pc32 => 5,
        Reloc::Pc64 => 6,
        Reloc::Pc16 => 7,
        Reloc::Pc8 => 8,
        Reloc::Branch32 => 9,
        Reloc::GotPcRel32 => 10,
        Reloc::GotPcRelX => 11,
        Reloc::GotPc32 => 12,
        Reloc::GotPc64 => 13,
        Reloc::Got64 => 14,
        Reloc::Got32 => 15,
        Reloc::GotOff64 => 16,
        Reloc::PltOff64 => 17,
        Reloc::Size32 => 18,
        Reloc::Size64 => 19,
        Reloc::ImageRel32 => 20,
        Reloc::SecRel32 => 21,
        Reloc::SectionIndex => 22,
        Reloc::TlsGd => 23,
        Reloc::TlsLd => 24,
        Reloc::DtpOff32 => 25,
        Reloc::DtpOff64 => 26,
        Reloc::TpOff32 => 27,
        Reloc::TpOff64 => 28,
        Reloc::GotTpOff => 29,
        Reloc::GotPc32TlsDesc => 30,
        Reloc::TlsDescCall => 31,
    }
}

#[test]
fn all_lists_every_kind_once_in_order() {
    for (i, kind) in Reloc::ALL.iter().enumerate() {
        assert_eq!(declared_position(*kind), i, "{kind:?}");
    }
}

#[test]
fn names_are_short_stable_and_unique() {
    let expected = [
        (Reloc::Abs64, "ABS64"),
        (Reloc::Abs32, "ABS32"),
        (Reloc::Abs32S, "ABS32S"),
        (Reloc::Abs16, "ABS16"),
        (Reloc::Abs8, "ABS8"),
        (Reloc::Pc32, "PC32"),
        (Reloc::Pc64, "PC64"),
        (Reloc::Pc16, "PC16"),
        (Reloc::Pc8, "PC8"),
        (Reloc::Branch32, "BRANCH32"),
        (Reloc::GotPcRel32, "GOTPCREL32"),
        (Reloc::GotPcRelX, "GOTPCRELX"),
        (Reloc::GotPc32, "GOTPC32"),
        (Reloc::GotPc64, "GOTPC64"),
        (Reloc::Got64, "GOT64"),
        (Reloc::Got32, "GOT32"),
        (Reloc::GotOff64, "GOTOFF64"),
        (Reloc::PltOff64, "PLTOFF64"),
        (Reloc::Size32, "SIZE32"),
        (Reloc::Size64, "SIZE64"),
        (Reloc::ImageRel32, "IMAGEREL32"),
        (Reloc::SecRel32, "SECREL32"),
        (Reloc::SectionIndex, "SECIDX16"),
        (Reloc::TlsGd, "TLSGD"),
        (Reloc::TlsLd, "TLSLD"),
        (Reloc::DtpOff32, "DTPOFF32"),
        (Reloc::DtpOff64, "DTPOFF64"),
        (Reloc::TpOff32, "TPOFF32"),
        (Reloc::TpOff64, "TPOFF64"),
        (Reloc::GotTpOff, "GOTTPOFF"),
        (Reloc::GotPc32TlsDesc, "GOTPC32_TLSDESC"),
        (Reloc::TlsDescCall, "TLSDESC_CALL"),
    ];
    assert_eq!(expected.len(), Reloc::ALL.len());
    for (kind, name) in expected {
        assert_eq!(kind.name(), name);
        assert_eq!(kind.to_string(), name);
    }
    let mut names: Vec<_> = Reloc::ALL.iter().map(|k| k.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Reloc::ALL.len(), "names are not unique");
}

#[test]
fn field_sizes() {
    for kind in Reloc::ALL {
        let expected = match kind {
            Reloc::Abs8 | Reloc::Pc8 => 1,
            Reloc::Abs16 | Reloc::Pc16 | Reloc::SectionIndex => 2,
            Reloc::Abs64
            | Reloc::Pc64
            | Reloc::GotPc64
            | Reloc::Got64
            | Reloc::GotOff64
            | Reloc::PltOff64
            | Reloc::Size64
            | Reloc::DtpOff64
            | Reloc::TpOff64 => 8,
            Reloc::TlsDescCall => 0,
            _ => 4,
        };
        assert_eq!(kind.field_size(), expected, "{kind}");
    }
}

#[test]
fn got_and_branch_flags() {
    for kind in Reloc::ALL {
        let slot = matches!(
            kind,
            Reloc::GotPcRel32 | Reloc::GotPcRelX | Reloc::Got64 | Reloc::Got32 | Reloc::GotTpOff
        );
        let base = slot
            || matches!(
                kind,
                Reloc::GotPc32 | Reloc::GotPc64 | Reloc::GotOff64 | Reloc::PltOff64
            );
        assert_eq!(kind.needs_got_slot(), slot, "{kind} needs_got_slot");
        assert_eq!(kind.needs_got_base(), base, "{kind} needs_got_base");
        assert_eq!(
            kind.is_branch(),
            kind == Reloc::Branch32,
            "{kind} is_branch"
        );
    }
    assert_eq!(GOT_SLOT_SIZE, 8);
    assert_eq!(STUB_SIZE, 8);
    assert_eq!(STUB_ALIGN, 8);
}

#[test]
fn branch_reaches_exact_boundaries() {
    let p = 0x7f00_0000_0000u64;
    let reaches = |s: i128, a: i64| Reloc::Branch32.branch_reaches(p, s as u64, a);
    let p128 = i128::from(p);
    // Through S, with A = -4 as in a call.
    assert!(reaches(p128 + I32_MAX + 4, -4));
    assert!(!reaches(p128 + I32_MAX + 5, -4));
    assert!(reaches(p128 + I32_MIN + 4, -4));
    assert!(!reaches(p128 + I32_MIN + 3, -4));
    // Through A alone.
    assert!(Reloc::Branch32.branch_reaches(p, p, i64::from(i32::MAX)));
    assert!(!Reloc::Branch32.branch_reaches(p, p, i64::from(i32::MAX) + 1));
    assert!(Reloc::Branch32.branch_reaches(p, p, i64::from(i32::MIN)));
    assert!(!Reloc::Branch32.branch_reaches(p, p, i64::from(i32::MIN) - 1));
    // Addresses add modulo 2^64 (as the CPU computes RIP + disp32): the
    // top of the address space is just behind address 0.
    assert!(Reloc::Branch32.branch_reaches(0, u64::MAX, 0));
    assert!(Reloc::Branch32.branch_reaches(u64::MAX, 0, 0));
    assert!(Reloc::Branch32.branch_reaches(u64::MAX, u64::MAX, -4));
    assert!(!Reloc::Branch32.branch_reaches(0, 0, i64::MIN));
    assert!(!Reloc::Branch32.branch_reaches(0, 1 << 63, 0));
    // Never true for a non-branch, even at distance zero.
    for kind in Reloc::ALL {
        if kind != Reloc::Branch32 {
            assert!(!kind.branch_reaches(p, p, 0), "{kind}");
        }
    }
}

/// The range of every range-checked kind, written out from the psABI and
/// the COFF spec rather than read from the code.
const RANGES: [(Reloc, i128, i128); 22] = [
    (Reloc::Abs32, 0, U32_MAX),
    (Reloc::Abs32S, I32_MIN, I32_MAX),
    (Reloc::Abs16, -0x8000, 0xFFFF),
    (Reloc::Abs8, -0x80, 0xFF),
    (Reloc::Pc32, I32_MIN, I32_MAX),
    (Reloc::Pc16, -0x8000, 0x7FFF),
    (Reloc::Pc8, -0x80, 0x7F),
    (Reloc::Branch32, I32_MIN, I32_MAX),
    (Reloc::GotPcRel32, I32_MIN, I32_MAX),
    (Reloc::GotPcRelX, I32_MIN, I32_MAX),
    (Reloc::GotPc32, I32_MIN, I32_MAX),
    (Reloc::Got32, I32_MIN, I32_MAX),
    (Reloc::Size32, 0, U32_MAX),
    (Reloc::ImageRel32, 0, U32_MAX),
    (Reloc::SecRel32, 0, U32_MAX),
    (Reloc::SectionIndex, 0, 0xFFFF),
    (Reloc::TlsGd, I32_MIN, I32_MAX),
    (Reloc::TlsLd, I32_MIN, I32_MAX),
    (Reloc::DtpOff32, I32_MIN, I32_MAX),
    (Reloc::TpOff32, I32_MIN, I32_MAX),
    (Reloc::GotTpOff, I32_MIN, I32_MAX),
    (Reloc::GotPc32TlsDesc, I32_MIN, I32_MAX),
];

const WRAPPING: [Reloc; 9] = [
    Reloc::Abs64,
    Reloc::Pc64,
    Reloc::GotPc64,
    Reloc::Got64,
    Reloc::GotOff64,
    Reloc::PltOff64,
    Reloc::Size64,
    Reloc::DtpOff64,
    Reloc::TpOff64,
];

#[test]
fn ranges_cover_every_kind() {
    // Plus TLSDESC_CALL, which writes nothing.
    assert_eq!(RANGES.len() + WRAPPING.len() + 1, Reloc::ALL.len());
    assert_eq!(Reloc::TlsDescCall.field_range(), None);
    for (kind, min, max) in RANGES {
        assert_eq!(kind.field_range(), Some((min, max)), "{kind}");
    }
    for kind in WRAPPING {
        assert_eq!(kind.field_range(), None, "{kind}");
        assert_eq!(kind.field_size(), 8, "{kind}");
    }
}

#[test]
fn every_range_checked_kind_at_its_exact_boundaries() {
    for (kind, min, max) in RANGES {
        let size = kind.field_size();
        // The last values accepted on both ends, plus zero and one.
        for value in [min, max, 0, 1, min + 1, max - 1] {
            let v = with_value(kind, value);
            assert_writes(kind, &v, &field_bytes(value, size));
        }
        // The first values rejected on both ends, and far outside.
        for value in [min - 1, max + 1, min - 0x1_0000_0000, max + 0x1_0000_0000] {
            let v = with_value(kind, value);
            assert_fails(kind, &v, FixupError::Overflow { value, min, max });
        }
    }
}

#[test]
fn boundary_bytes_written_out() {
    // A few of the boundaries above with the bytes spelled out.
    assert_writes(Reloc::Abs32, &with_value(Reloc::Abs32, U32_MAX), &[0xFF; 4]);
    assert_writes(
        Reloc::Abs32S,
        &with_value(Reloc::Abs32S, I32_MIN),
        &[0, 0, 0, 0x80],
    );
    assert_writes(
        Reloc::Abs32S,
        &with_value(Reloc::Abs32S, I32_MAX),
        &[0xFF, 0xFF, 0xFF, 0x7F],
    );
    assert_writes(
        Reloc::Abs16,
        &with_value(Reloc::Abs16, -0x8000),
        &[0x00, 0x80],
    );
    assert_writes(
        Reloc::Abs16,
        &with_value(Reloc::Abs16, 0xFFFF),
        &[0xFF, 0xFF],
    );
    assert_writes(Reloc::Abs8, &with_value(Reloc::Abs8, -0x80), &[0x80]);
    assert_writes(Reloc::Abs8, &with_value(Reloc::Abs8, 0xFF), &[0xFF]);
    assert_writes(Reloc::Pc16, &with_value(Reloc::Pc16, 0x7FFF), &[0xFF, 0x7F]);
    assert_writes(Reloc::Pc8, &with_value(Reloc::Pc8, -0x80), &[0x80]);
    assert_writes(Reloc::Pc32, &with_value(Reloc::Pc32, -1), &[0xFF; 4]);
    assert_writes(
        Reloc::SectionIndex,
        &with_value(Reloc::SectionIndex, 0xFFFF),
        &[0xFF, 0xFF],
    );
}

#[test]
fn wrapping_kinds_write_any_value_modulo_2_pow_64() {
    for kind in WRAPPING {
        for value in [
            0,
            1,
            -1,
            I32_MIN - 1,
            U32_MAX + 1,
            // Far enough from i64's ends that the addend can reach them
            // from the base addresses.
            i128::from(i64::MIN) + (1 << 48),
            i128::from(i64::MAX) - (1 << 48),
        ] {
            let v = with_value(kind, value);
            assert_writes(kind, &v, &field_bytes(value, 8));
        }
    }
    // Values beyond 64 bits, reached through the addresses themselves.
    let mut v = base();
    v.s = u64::MAX;
    v.a = 1;
    assert_writes(Reloc::Abs64, &v, &[0; 8]);
    v.a = i64::MAX;
    assert_writes(Reloc::Abs64, &v, &(i64::MAX as u64 - 1).to_le_bytes());
    let mut v = base();
    v.s = 0;
    v.a = i64::MIN;
    v.p = u64::MAX;
    // 0 + i64::MIN - (2^64 - 1) = -(2^63) - 2^64 + 1 ≡ 2^63 + 1 (mod 2^64).
    assert_writes(Reloc::Pc64, &v, &((1u64 << 63) + 1).to_le_bytes());
    let mut v = base();
    v.size = u64::MAX;
    v.a = i64::MAX;
    assert_writes(Reloc::Size64, &v, &(i64::MAX as u64 - 1).to_le_bytes());
    let mut v = base();
    v.got_base = u64::MAX;
    v.got_slot = 8;
    v.a = 0;
    // G = 8 - (2^64 - 1) ≡ 9.
    assert_writes(Reloc::Got64, &v, &9u64.to_le_bytes());
}

fn le32(value: i64) -> Vec<u8> {
    field_bytes(i128::from(value), 4)
}

fn le64(value: i64) -> Vec<u8> {
    field_bytes(i128::from(value), 8)
}

#[test]
fn worked_example_of_every_kind() {
    let zero = FixupValues {
        got_slot: 0x60_0018,
        ..FixupValues::default()
    };
    let v = |f: fn(&mut FixupValues)| {
        let mut v = zero;
        f(&mut v);
        v
    };

    // Absolute.
    assert_writes(
        Reloc::Abs64,
        &v(|v| {
            v.s = 0x1122_3344_5566_7788;
            v.a = 0x10;
        }),
        &[0x98, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
    );
    assert_writes(
        Reloc::Abs32,
        &v(|v| {
            v.s = 0x40_0000;
            v.a = 8;
        }),
        &[0x08, 0x00, 0x40, 0x00],
    );
    assert_fails(
        Reloc::Abs32,
        &v(|v| {
            v.s = 0x10;
            v.a = -0x11;
        }),
        FixupError::Overflow {
            value: -1,
            min: 0,
            max: U32_MAX,
        },
    );
    assert_writes(Reloc::Abs32S, &v(|v| v.a = -8), &le32(-8));
    assert_fails(
        Reloc::Abs32S,
        &v(|v| v.s = 0x8000_0000),
        FixupError::Overflow {
            value: 0x8000_0000,
            min: I32_MIN,
            max: I32_MAX,
        },
    );
    assert_writes(
        Reloc::Abs16,
        &v(|v| {
            v.s = 0x1234;
            v.a = 1;
        }),
        &[0x35, 0x12],
    );
    assert_writes(Reloc::Abs16, &v(|v| v.a = -2), &[0xFE, 0xFF]);
    assert_writes(
        Reloc::Abs8,
        &v(|v| {
            v.s = 0xF0;
            v.a = 0xF;
        }),
        &[0xFF],
    );

    // PC-relative.
    assert_writes(
        Reloc::Pc32,
        &v(|v| {
            v.p = 0x1000;
            v.s = 0x2000;
            v.a = -4;
        }),
        &[0xFC, 0x0F, 0, 0],
    );
    assert_writes(
        Reloc::Pc32,
        &v(|v| {
            v.p = 0x2000;
            v.s = 0x1000;
            v.a = -4;
        }),
        &le32(-0x1004),
    );
    assert_writes(Reloc::Pc64, &v(|v| v.p = 0x10), &le64(-0x10));
    assert_writes(
        Reloc::Pc64,
        &v(|v| {
            v.p = 0x10;
            v.s = 0x7fff_0000_0000;
        }),
        &le64(0x7ffe_ffff_fff0),
    );
    assert_writes(
        Reloc::Pc16,
        &v(|v| {
            v.p = 0x100;
            v.s = 0x80;
        }),
        &[0x80, 0xFF],
    );
    assert_writes(
        Reloc::Pc8,
        &v(|v| {
            v.p = 0x100;
            v.s = 0x110;
            v.a = -1;
        }),
        &[0x0F],
    );
    assert_writes(
        Reloc::Branch32,
        &v(|v| {
            v.p = 0x40_1001;
            v.s = 0x40_2000;
            v.a = -4;
        }),
        &le32(0x2000 - 0x1001 - 4),
    );

    // GOT.
    assert_writes(
        Reloc::GotPcRel32,
        &v(|v| {
            v.p = 0x40_0000;
            v.s = 0xdead_0000; // not read: the slot holds S
            v.a = -4;
        }),
        &le32(0x20_0014),
    );
    assert_writes(
        Reloc::GotPc32,
        &v(|v| {
            v.got_base = 0x60_0000;
            v.p = 0x40_0000;
            v.a = 3;
        }),
        &le32(0x20_0003),
    );
    assert_writes(
        Reloc::GotPc64,
        &v(|v| {
            v.got_base = 0x40_0000;
            v.p = 0x60_0000;
            v.a = 3;
        }),
        &le64(-0x1f_fffd),
    );
    assert_writes(Reloc::Got64, &v(|v| v.got_base = 0x60_0000), &le64(0x18));
    assert_writes(Reloc::Got64, &v(|v| v.got_base = 0x60_0020), &le64(-0x8));
    assert_writes(
        Reloc::Got32,
        &v(|v| {
            v.got_base = 0x60_0000;
            v.a = 4;
        }),
        &le32(0x1C),
    );
    assert_writes(
        Reloc::GotOff64,
        &v(|v| {
            v.s = 0x40_0000;
            v.got_base = 0x60_0000;
        }),
        &[0x00, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
    );
    assert_writes(
        Reloc::PltOff64,
        &v(|v| {
            v.s = 0x70_0000;
            v.a = 0x10;
            v.got_base = 0x60_0000;
            v.stub = 0x50_0000; // not read: L is S with a 64-bit field
        }),
        &le64(0x10_0010),
    );

    // Sizes.
    assert_writes(Reloc::Size32, &v(|v| v.size = 0x40), &[0x40, 0, 0, 0]);
    assert_fails(
        Reloc::Size32,
        &v(|v| {
            v.size = 0x40;
            v.a = -0x41;
        }),
        FixupError::Overflow {
            value: -1,
            min: 0,
            max: U32_MAX,
        },
    );
    assert_writes(
        Reloc::Size64,
        &v(|v| {
            v.size = 0x40;
            v.a = -0x41;
        }),
        &[0xFF; 8],
    );

    // COFF.
    assert_writes(
        Reloc::ImageRel32,
        &v(|v| {
            v.image_base = 0x1_4000_0000;
            v.s = 0x1_4000_1234;
            v.a = 2;
        }),
        &le32(0x1236),
    );
    assert_fails(
        Reloc::ImageRel32,
        &v(|v| {
            v.image_base = 0x1_4000_0000;
            v.s = 0x1_3fff_ffff;
        }),
        FixupError::Overflow {
            value: -1,
            min: 0,
            max: U32_MAX,
        },
    );
    assert_writes(
        Reloc::SecRel32,
        &v(|v| {
            v.section_base = 0x1000;
            v.s = 0x1010;
            v.a = 4;
        }),
        &le32(0x14),
    );
    assert_writes(Reloc::SectionIndex, &v(|v| v.section_index = 3), &[3, 0]);
    // The implicit addend in the field is added to the section number.
    assert_writes(
        Reloc::SectionIndex,
        &v(|v| {
            v.section_index = 3;
            v.a = 2;
        }),
        &[5, 0],
    );
}

/// The inputs each kind reads; every other input must not change its result.
fn reads(kind: Reloc) -> &'static [&'static str] {
    match kind {
        Reloc::Abs64 | Reloc::Abs32 | Reloc::Abs32S | Reloc::Abs16 | Reloc::Abs8 => &["s", "a"],
        Reloc::Pc32 | Reloc::Pc64 | Reloc::Pc16 | Reloc::Pc8 | Reloc::Branch32 => &["p", "s", "a"],
        Reloc::GotPcRel32
        | Reloc::GotPcRelX
        | Reloc::TlsGd
        | Reloc::TlsLd
        | Reloc::GotTpOff
        | Reloc::GotPc32TlsDesc => &["p", "got_slot", "a"],
        Reloc::TlsDescCall => &[],
        Reloc::DtpOff32 | Reloc::DtpOff64 | Reloc::TpOff32 | Reloc::TpOff64 => &["s", "a"],
        Reloc::GotPc32 | Reloc::GotPc64 => &["p", "got_base", "a"],
        Reloc::Got64 | Reloc::Got32 => &["got_slot", "got_base", "a"],
        Reloc::GotOff64 | Reloc::PltOff64 => &["s", "got_base", "a"],
        Reloc::Size32 | Reloc::Size64 => &["size", "a"],
        Reloc::ImageRel32 => &["s", "image_base", "a"],
        Reloc::SecRel32 => &["s", "section_base", "a"],
        Reloc::SectionIndex => &["section_index", "a"],
    }
}

#[test]
fn every_kind_ignores_the_inputs_it_does_not_read() {
    type Perturb = (&'static str, fn(&mut FixupValues));
    let perturbations: [Perturb; 10] = [
        ("p", |v| v.p += 0x10),
        ("s", |v| v.s += 0x10),
        ("a", |v| v.a += 0x10),
        ("got_base", |v| v.got_base += 0x10),
        ("got_slot", |v| v.got_slot += 0x10),
        // In reach, a branch ignores its stub.
        ("stub", |v| v.stub = 0x1234_5678_0000),
        ("image_base", |v| v.image_base += 0x10),
        ("section_base", |v| v.section_base += 0x10),
        ("section_index", |v| v.section_index += 1),
        ("size", |v| v.size += 0x10),
    ];
    for kind in Reloc::ALL {
        let v = with_value(kind, 0x20);
        let (result, before) = run(kind, &v);
        assert_eq!(result, Ok(()), "{kind}");
        for (field, perturb) in perturbations {
            let mut changed = v;
            perturb(&mut changed);
            let (result, after) = run(kind, &changed);
            assert_eq!(result, Ok(()), "{kind} with {field} changed");
            let read = reads(kind).contains(&field);
            assert_eq!(
                before != after,
                read,
                "{kind}: changing {field} {} the result",
                if read {
                    "should change"
                } else {
                    "should not change"
                }
            );
        }
    }
}

#[test]
fn branch32_falls_back_to_the_stub() {
    let p = 0x7f00_0000_1001u64;
    let far = 0x5555_0000_0000u64; // ~42 TB away
    let stub = p + 0xfff;
    let v = FixupValues {
        p,
        s: far,
        a: -4,
        stub,
        ..FixupValues::default()
    };
    assert!(!Reloc::Branch32.branch_reaches(p, far, -4));
    assert_writes(Reloc::Branch32, &v, &le32(0xfff - 4));

    // Just out of reach on either side: the stub is taken.
    for direct in [I32_MAX + 1, I32_MIN - 1] {
        let mut v = base();
        v.a = -4;
        v.s = (i128::from(v.p) + direct + 4) as u64;
        v.stub = v.p + 0x100;
        assert_fails(
            Reloc::Branch32,
            &FixupValues { stub: 0, ..v },
            FixupError::Overflow {
                value: direct,
                min: I32_MIN,
                max: I32_MAX,
            },
        );
        assert_writes(Reloc::Branch32, &v, &le32(0x100 - 4));
    }

    // Just in reach: the stub is not taken even though there is one.
    for direct in [I32_MAX, I32_MIN] {
        let mut v = with_value(Reloc::Branch32, direct);
        v.stub = v.p + 0x100;
        assert_writes(Reloc::Branch32, &v, &field_bytes(direct, 4));
    }

    // The stub's own boundaries: L + A - P exactly at i32's ends.
    let mut v = base();
    v.a = -4;
    v.s = v.p + (1 << 40);
    v.stub = (i128::from(v.p) + I32_MAX + 4) as u64;
    assert_writes(Reloc::Branch32, &v, &field_bytes(I32_MAX, 4));
    v.stub += 1;
    assert_fails(
        Reloc::Branch32,
        &v,
        FixupError::Overflow {
            value: I32_MAX + 1,
            min: I32_MIN,
            max: I32_MAX,
        },
    );
    v.stub = (i128::from(v.p) + I32_MIN + 4) as u64;
    assert_writes(Reloc::Branch32, &v, &field_bytes(I32_MIN, 4));
    v.stub -= 1;
    assert_fails(
        Reloc::Branch32,
        &v,
        FixupError::Overflow {
            value: I32_MIN - 1,
            min: I32_MIN,
            max: I32_MAX,
        },
    );
}

#[test]
fn branch32_through_a_stub_reaches_the_stub_whatever_the_addend() {
    // `call far+4` has A = 0: the stub (written for far+4) is where the call
    // must land, so the displacement is L - 4 - P, not L + A - P.
    let p = 0x7f00_0000_1001u64;
    let stub = p + 0x800;
    for a in [0, 12, -4, -100] {
        let v = FixupValues {
            p,
            s: 0x5555_0000_0000,
            a,
            stub,
            ..FixupValues::default()
        };
        assert_writes(Reloc::Branch32, &v, &le32(0x800 - 4));
    }
}

#[test]
fn branch32_out_of_reach_without_a_stub_reports_the_direct_value() {
    let p = 0x7f00_0000_1001u64;
    let far = 0x5555_0000_0000u64;
    let v = FixupValues {
        p,
        s: far,
        a: -4,
        ..FixupValues::default()
    };
    assert_fails(
        Reloc::Branch32,
        &v,
        FixupError::Overflow {
            value: i128::from(far) - 4 - i128::from(p),
            min: I32_MIN,
            max: I32_MAX,
        },
    );
    // A stub as far as the target reports the stub's value, not the target's.
    let v = FixupValues {
        stub: far + 0x40,
        ..v
    };
    assert_fails(
        Reloc::Branch32,
        &v,
        FixupError::Overflow {
            value: i128::from(far) + 0x40 - 4 - i128::from(p),
            min: I32_MIN,
            max: I32_MAX,
        },
    );
}

#[test]
fn other_kinds_never_use_the_stub() {
    // A Pc32 out of reach stays an overflow even when a stub is given.
    let mut v = with_value(Reloc::Pc32, I32_MAX + 1);
    v.stub = v.p + 0x100;
    assert_fails(
        Reloc::Pc32,
        &v,
        FixupError::Overflow {
            value: I32_MAX + 1,
            min: I32_MIN,
            max: I32_MAX,
        },
    );
}

#[test]
fn every_kind_with_a_short_place_fails_without_writing() {
    for kind in Reloc::ALL {
        let size = kind.field_size();
        let v = with_value(kind, 0x20);
        for len in 0..size {
            let mut place = vec![FILL; len];
            assert_eq!(
                apply(kind, &mut place, &v),
                Err(FixupError::PlaceOutOfBounds {
                    needed: size,
                    available: len,
                }),
                "{kind} into {len} bytes"
            );
            assert!(
                place.iter().all(|&b| b == FILL),
                "{kind} wrote into {len} bytes"
            );
        }
        // Exactly the field's size is enough.
        let mut place = vec![FILL; size];
        assert_eq!(apply(kind, &mut place, &v), Ok(()), "{kind}");
        assert_eq!(place, field_bytes(0x20, size), "{kind}");
    }
    // Short and overflowing: the place is reported first.
    let v = with_value(Reloc::Pc32, I32_MAX + 1);
    assert_eq!(
        apply(Reloc::Pc32, &mut [0u8; 3], &v),
        Err(FixupError::PlaceOutOfBounds {
            needed: 4,
            available: 3
        })
    );
}

#[test]
fn got_slot_kinds_without_a_slot_are_invalid() {
    for kind in Reloc::ALL {
        let mut v = with_value(kind, 0x20);
        v.got_slot = 0;
        let (result, place) = run(kind, &v);
        if kind.reads_got_slot() {
            assert!(
                matches!(result, Err(FixupError::Invalid(_))),
                "{kind}: {result:?}"
            );
            assert!(place.iter().all(|&b| b == FILL), "{kind} wrote on error");
        } else {
            assert_eq!(result, Ok(()), "{kind} does not read the slot");
        }
    }
}

/// A small deterministic generator (SplitMix64) for the sweep below.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Mostly edge values, sometimes anything.
    fn value(&mut self) -> u64 {
        const EDGES: [u64; 14] = [
            0,
            1,
            4,
            0x7F,
            0x80,
            0xFFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            0xFFFF_FFFF,
            0x1_0000_0000,
            0x7FFF_FFFF_FFFF_FFFF,
            0x8000_0000_0000_0000,
            0xFFFF_FFFF_FFFF_FFFC,
            0xFFFF_FFFF_FFFF_FFFF,
        ];
        let pick = self.next();
        let edge = EDGES[(pick % EDGES.len() as u64) as usize];
        match (pick >> 8) % 4 {
            0 => edge,
            1 => edge.wrapping_neg(),
            2 => edge.wrapping_add(self.next() % 8).wrapping_sub(4),
            _ => self.next(),
        }
    }
}

/// The psABI's reading of a fixup value: its residue modulo 2^64, as a
/// signed 64-bit number (computed here by arithmetic, not by a cast).
fn signed_64(value: i128) -> i128 {
    let modulus = 1i128 << 64;
    let residue = value.rem_euclid(modulus);
    if residue >= 1 << 63 {
        residue - modulus
    } else {
        residue
    }
}

#[test]
fn sweep_of_edge_values_against_a_reference_model() {
    let mut rng = SplitMix(0x5EED);
    for _ in 0..20_000 {
        let v = FixupValues {
            p: rng.value(),
            s: rng.value(),
            a: rng.value() as i64,
            got_base: rng.value(),
            got_slot: rng.value(),
            stub: rng.value(),
            image_base: rng.value(),
            section_base: rng.value(),
            section_index: rng.value() as u16,
            size: rng.value(),
        };
        // TLSDESC_CALL writes nothing: `tls_descriptor_kinds` covers it.
        for kind in Reloc::ALL.into_iter().filter(|&k| k != Reloc::TlsDescCall) {
            let size = kind.field_size();
            let (result, place) = run(kind, &v);
            if kind.reads_got_slot() && v.got_slot == 0 {
                assert!(matches!(result, Err(FixupError::Invalid(_))));
                continue;
            }
            let direct = signed_64(without_addend(kind, &v) + i128::from(v.a));
            let range = RANGES.iter().find(|r| r.0 == kind).map(|r| (r.1, r.2));
            let expected = match range {
                None => Ok(direct),
                Some((min, max)) if (min..=max).contains(&direct) => Ok(direct),
                Some((min, max)) if kind == Reloc::Branch32 && v.stub != 0 => {
                    // Through a stub the branch reaches the stub itself (the
                    // stub jumps to S + A + 4): L - 4 - P.
                    let via = signed_64(i128::from(v.stub) - 4 - i128::from(v.p));
                    if (min..=max).contains(&via) {
                        Ok(via)
                    } else {
                        Err(FixupError::Overflow {
                            value: via,
                            min,
                            max,
                        })
                    }
                }
                Some((min, max)) => Err(FixupError::Overflow {
                    value: direct,
                    min,
                    max,
                }),
            };
            match expected {
                Ok(value) => {
                    assert_eq!(result, Ok(()), "{kind} {v:x?}");
                    assert_eq!(place[..size], field_bytes(value, size), "{kind} {v:x?}");
                    // Read back through the crate's own reader.
                    let back = match size {
                        1 => read_le::<1>(&place),
                        2 => read_le::<2>(&place),
                        4 => read_le::<4>(&place),
                        _ => read_le::<8>(&place),
                    };
                    let mask = if size == 8 {
                        u64::MAX
                    } else {
                        (1u64 << (8 * size)) - 1
                    };
                    assert_eq!(back, Ok(value as u64 & mask), "{kind} {v:x?}");
                }
                Err(error) => {
                    assert_eq!(result, Err(error), "{kind} {v:x?}");
                    assert!(place.iter().all(|&b| b == FILL));
                }
            }
            assert!(place[size..].iter().all(|&b| b == FILL), "{kind} {v:x?}");
        }
    }
}

#[test]
fn le_helpers_at_every_width() {
    let mut place = [FILL; 9];
    assert_eq!(
        crate::arch::write_le::<3>(&mut place, 0x11_2233_4455),
        Ok(())
    );
    assert_eq!(place[..4], [0x55, 0x44, 0x33, FILL]);
    assert_eq!(read_le::<3>(&place), Ok(0x33_4455));
    assert_eq!(
        crate::arch::write_le::<8>(&mut place[1..], u64::MAX),
        Ok(())
    );
    assert_eq!(read_le::<8>(&place[1..]), Ok(u64::MAX));
    assert_eq!(crate::arch::write_le::<0>(&mut [], 1), Ok(()));
    assert_eq!(read_le::<0>(&[]), Ok(0));
    assert_eq!(
        crate::arch::write_le::<2>(&mut place[8..], 0),
        Err(FixupError::PlaceOutOfBounds {
            needed: 2,
            available: 1
        })
    );
    assert_eq!(place[8], 0xFF, "a failed write leaves the place as it was");
    assert_eq!(
        read_le::<4>(&place[7..]),
        Err(FixupError::PlaceOutOfBounds {
            needed: 4,
            available: 2
        })
    );
    assert_eq!(crate::arch::check_range(5, 5, 5), Ok(5));
    assert_eq!(
        crate::arch::check_range(6, 5, 5),
        Err(FixupError::Overflow {
            value: 6,
            min: 5,
            max: 5
        })
    );
}

#[test]
fn stub_bytes_are_exactly_jmp_through_the_slot_and_int3() {
    // A slot 0x100 bytes after the stub: disp32 = 0x100 - 6.
    let expected = [0xFF, 0x25, 0xFA, 0x00, 0x00, 0x00, 0xCC, 0xCC];
    assert_eq!(stub_bytes(0x4000, 0x4100), Ok(expected));
    assert_eq!(STUB_SIZE, 8);
    assert_eq!(STUB_ALIGN, 8);
    // The reach: slot - (stub + 6) in i32.
    let stub = 0x1_0000_0000u64;
    let last = stub + 6 + i32::MAX as u64;
    let bytes = stub_bytes(stub, last).expect("last slot in reach");
    assert_eq!(
        bytes[STUB_SLOT_FIELD..STUB_SLOT_FIELD + 4],
        i32::MAX.to_le_bytes()
    );
    assert!(matches!(
        stub_bytes(stub, last + 1),
        Err(FixupError::Overflow { .. })
    ));
    let first = stub + 6 - (1u64 << 31);
    let bytes = stub_bytes(stub, first).expect("first slot in reach");
    assert_eq!(
        bytes[STUB_SLOT_FIELD..STUB_SLOT_FIELD + 4],
        i32::MIN.to_le_bytes()
    );
    assert!(matches!(
        stub_bytes(stub, first - 1),
        Err(FixupError::Overflow { .. })
    ));

    let mut place = [FILL; STUB_SIZE + SLACK];
    assert_eq!(write_stub(&mut place, 0x4000, 0x4100), Ok(()));
    assert_eq!(place[..STUB_SIZE], expected);
    assert!(place[STUB_SIZE..].iter().all(|&b| b == FILL));
    // Out of reach: the place is left alone.
    let mut place = [FILL; STUB_SIZE];
    assert!(write_stub(&mut place, stub, last + 1).is_err());
    assert!(place.iter().all(|&b| b == FILL));

    for len in 0..STUB_SIZE {
        let mut place = vec![FILL; len];
        assert_eq!(
            write_stub(&mut place, 0x4000, 0x4100),
            Err(FixupError::PlaceOutOfBounds {
                needed: STUB_SIZE,
                available: len,
            })
        );
        assert!(place.iter().all(|&b| b == FILL));
    }
}

/// Stubs and branches executed on the host, in pages that are never writable
/// and executable at once.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod execution {
    use crate::arch::x86_64::{apply, write_stub, Reloc, STUB_SIZE};
    use crate::arch::FixupValues;

    /// An anonymous private mapping, unmapped on drop.
    struct Mapping {
        addr: *mut libc::c_void,
        len: usize,
    }

    impl Mapping {
        /// Maps `len` bytes with `prot`.
        fn new(len: usize, prot: libc::c_int) -> Mapping {
            // SAFETY: an anonymous private mapping at an address of the
            // kernel's choosing touches no existing memory.
            let addr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            assert_ne!(addr, libc::MAP_FAILED, "mmap failed");
            Mapping { addr, len }
        }

        fn address(&self, offset: usize) -> u64 {
            self.addr as u64 + offset as u64
        }

        /// Changes the protection of `len` bytes at `offset` (page-aligned).
        fn protect(&self, offset: usize, len: usize, prot: libc::c_int) {
            assert!(offset + len <= self.len);
            // SAFETY: the range lies inside this mapping, which no Rust
            // reference points into while its protection changes.
            let rc =
                unsafe { libc::mprotect(self.addr.cast::<u8>().add(offset).cast(), len, prot) };
            assert_eq!(rc, 0, "mprotect failed");
        }

        /// The bytes at `offset`, which must be mapped readable and writable.
        fn bytes_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
            assert!(offset + len <= self.len);
            // SAFETY: the range lies inside this mapping, the caller made it
            // PROT_READ | PROT_WRITE, and `&mut self` makes the slice unique.
            unsafe { std::slice::from_raw_parts_mut(self.addr.cast::<u8>().add(offset), len) }
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: `addr`/`len` are exactly what mmap returned, and no
            // slice into the mapping outlives `self`.
            unsafe { libc::munmap(self.addr, self.len) };
        }
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).expect("page size")
    }

    const RW: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;
    const RX: libc::c_int = libc::PROT_READ | libc::PROT_EXEC;

    extern "C" fn answer() -> u64 {
        0x0123_4567_89AB_CDEF
    }

    /// Eight arguments: six in registers, two on the stack (SysV).
    #[allow(clippy::too_many_arguments)]
    extern "C" fn weigh_sysv(
        a: u64,
        b: u64,
        c: u64,
        d: u64,
        e: u64,
        f: u64,
        g: u64,
        h: u64,
    ) -> u64 {
        a + 10 * b + 100 * c + 1_000 * d + 10_000 * e + 100_000 * f + 1_000_000 * g + 10_000_000 * h
    }

    /// Six arguments: four in registers (rcx, rdx, r8, r9), two on the stack (Win64).
    extern "win64" fn weigh_win64(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
        a + 10 * b + 100 * c + 1_000 * d + 10_000 * e + 100_000 * f
    }

    #[test]
    fn stub_jumps_to_its_target() {
        let page = page_size();
        let stubs = [
            answer as *const () as u64,
            weigh_sysv as *const () as u64,
            weigh_win64 as *const () as u64,
        ];
        // The stubs in the first page, their GOT slots in the second.
        let mut map = Mapping::new(2 * page, RW);
        for (i, target) in stubs.iter().enumerate() {
            let slot = page + 8 * i;
            map.bytes_mut(slot, 8)
                .copy_from_slice(&target.to_le_bytes());
            let (stub, slot) = (map.address(i * STUB_SIZE), map.address(slot));
            write_stub(map.bytes_mut(i * STUB_SIZE, STUB_SIZE), stub, slot).expect("stub");
        }
        map.protect(0, page, RX);
        map.protect(page, page, libc::PROT_READ);

        // SAFETY: each stub is complete, in an executable page, and jumps
        // through its readable slot to a function of exactly the type it is
        // called as; a jump through memory leaves the argument registers and
        // the stack as the caller set them.
        unsafe {
            let f = std::mem::transmute::<usize, extern "C" fn() -> u64>(map.address(0) as usize);
            assert_eq!(f(), 0x0123_4567_89AB_CDEF);
            type Sysv = extern "C" fn(u64, u64, u64, u64, u64, u64, u64, u64) -> u64;
            let f = std::mem::transmute::<usize, Sysv>(map.address(STUB_SIZE) as usize);
            assert_eq!(f(1, 2, 3, 4, 5, 6, 7, 8), 87_654_321);
            type Win64 = extern "win64" fn(u64, u64, u64, u64, u64, u64) -> u64;
            let f = std::mem::transmute::<usize, Win64>(map.address(2 * STUB_SIZE) as usize);
            assert_eq!(f(1, 2, 3, 4, 5, 6), 654_321);
        }
    }

    #[test]
    fn branch_out_of_reach_goes_through_the_stub() {
        // Two pages more than 4 GiB apart, carved out of one reservation so
        // the distance is certain: a `jmp rel32` and a stub in the first, the
        // target code in the last.
        let page = page_size();
        let span = (5usize << 30) + page;
        let mut map = Mapping::new(span, libc::PROT_NONE);
        let far = span - page;
        map.protect(0, page, RW);
        map.protect(far, page, RW);

        // Target: movabs $value, %rax ; ret
        let value = 0xFEED_FACE_CAFE_BEEFu64;
        let code = map.bytes_mut(far, 11);
        code[..2].copy_from_slice(&[0x48, 0xB8]);
        code[2..10].copy_from_slice(&value.to_le_bytes());
        code[10] = 0xC3;

        // Caller: jmp rel32 (E9) at 0, its stub at 16, the stub's GOT slot
        // at 64 (near the stub; the target is what is far).
        let (stub_offset, slot_offset) = (16, 64);
        let target = map.address(far);
        map.bytes_mut(slot_offset, 8)
            .copy_from_slice(&target.to_le_bytes());
        let (stub, slot) = (map.address(stub_offset), map.address(slot_offset));
        write_stub(map.bytes_mut(stub_offset, STUB_SIZE), stub, slot).expect("stub");
        map.bytes_mut(0, 1)[0] = 0xE9;
        let v = FixupValues {
            p: map.address(1),
            s: target,
            a: -4,
            stub: map.address(stub_offset),
            ..FixupValues::default()
        };
        assert!(!Reloc::Branch32.branch_reaches(v.p, v.s, v.a));
        apply(Reloc::Branch32, map.bytes_mut(1, 4), &v).expect("branch through stub");
        assert_eq!(map.bytes_mut(1, 4), &(16i32 - 5).to_le_bytes());

        map.protect(0, page, RX);
        map.protect(far, page, RX);
        // SAFETY: the jmp, the stub and the target code are complete and in
        // executable pages; the target returns a u64 in rax like the type says.
        let got = unsafe {
            let f = std::mem::transmute::<usize, extern "C" fn() -> u64>(map.address(0) as usize);
            f()
        };
        assert_eq!(got, value);
    }

    #[test]
    fn branch_in_reach_goes_direct() {
        // A `call rel32` to code in the same page, then ret.
        let page = page_size();
        let mut map = Mapping::new(page, RW);
        let callee = 64;
        let value = 0x1234_5678_u64;
        // Caller: call rel32 ; ret
        let caller = map.bytes_mut(0, 6);
        caller[0] = 0xE8;
        caller[5] = 0xC3;
        // Callee: mov $value, %eax ; ret
        let code = map.bytes_mut(callee, 6);
        code[0] = 0xB8;
        code[1..5].copy_from_slice(&(value as u32).to_le_bytes());
        code[5] = 0xC3;
        let v = FixupValues {
            p: map.address(1),
            s: map.address(callee),
            a: -4,
            stub: 0,
            ..FixupValues::default()
        };
        apply(Reloc::Branch32, map.bytes_mut(1, 4), &v).expect("direct call");
        map.protect(0, page, RX);
        // SAFETY: complete code in an executable page, returning in rax.
        let got = unsafe {
            let f = std::mem::transmute::<usize, extern "C" fn() -> u64>(map.address(0) as usize);
            f()
        };
        assert_eq!(got, value);
    }
}

#[test]
fn gotpcrelx_reads_its_slot_and_without_one_is_an_error() {
    // With a slot: as GOTPCREL.
    let with_slot = FixupValues {
        p: 0x40_0000,
        s: 0xdead_0000,
        got_slot: 0x60_0018,
        a: -4,
        ..FixupValues::default()
    };
    assert_writes(Reloc::GotPcRelX, &with_slot, &le32(0x20_0014));
    // Without one: the linker relaxes the instruction and applies a PC32
    // instead; GOTPCRELX itself never guesses.
    let mut place = [0u8; 4];
    for kind in [Reloc::GotPcRelX, Reloc::GotPcRel32] {
        let v = FixupValues {
            got_slot: 0,
            ..with_slot
        };
        assert!(matches!(
            apply(kind, &mut place, &v),
            Err(FixupError::Invalid(_))
        ));
        assert_eq!(place, [0; 4]);
    }
}

/// The values of a GOT access at P = 0x1000 (its field) of S with A = -4.
fn got_access_at(s: u64) -> FixupValues {
    FixupValues {
        p: 0x1000,
        s,
        a: -4,
        ..FixupValues::default()
    }
}

#[test]
fn rip_relative_movs_become_leas_in_reach_only() {
    // movq foo@GOTPCREL(%rip), %rax: 48 8b 05 <field>
    let mov = [0x48, 0x8B, 0x05, 0xAA, 0xBB, 0xCC, 0xDD];
    assert_eq!(got_access(&mov, 3), Some(GotAccess::Mov));
    // The last S in reach: S - 4 - 0x1000 = i32::MAX.
    let last = 0x1000 + 4 + i32::MAX as u64;
    let mut code = mov;
    assert_eq!(relax_got_load(&mut code, 3, &got_access_at(last)), Some(0));
    assert_eq!(code, [0x48, 0x8D, 0x05, 0xAA, 0xBB, 0xCC, 0xDD]);
    // One further: out of reach, nothing changes.
    let mut code = mov;
    assert_eq!(relax_got_load(&mut code, 3, &got_access_at(last + 1)), None);
    assert_eq!(code, mov);
    // Backwards: S + A - P = i32::MIN is the last in reach.
    let first = 0x1000u64
        .wrapping_add(4)
        .wrapping_add(i32::MIN as i64 as u64);
    let mut code = mov;
    assert_eq!(relax_got_load(&mut code, 3, &got_access_at(first)), Some(0));
    let mut code = mov;
    assert_eq!(
        relax_got_load(&mut code, 3, &got_access_at(first - 1)),
        None
    );
    assert_eq!(code, mov);
    // movq foo@GOTPCREL(%rip), %r12: 4c 8b 25 <field>
    let mut code = [0x4C, 0x8B, 0x25, 0, 0, 0, 0];
    assert_eq!(
        relax_got_load(&mut code, 3, &got_access_at(0x2000)),
        Some(0)
    );
    assert_eq!(code[..3], [0x4C, 0x8D, 0x25]);
    // A mov that is not RIP-relative (ModRM mod 01) is not a GOT access.
    let mut other = [0x48, 0x8B, 0x45, 0, 0, 0, 0];
    assert_eq!(relax_got_load(&mut other, 3, &got_access_at(0x2000)), None);
    assert_eq!(other, [0x48, 0x8B, 0x45, 0, 0, 0, 0]);
    // No room before or after the field.
    assert!(!can_relax_got_load(&[0x8B, 0, 0, 0, 0], 1));
    assert!(!can_relax_got_load(&[0x8B, 0x05, 0, 0, 0], 2));
    assert!(!can_relax_got_load(&[], 0));
}

#[test]
fn calls_through_the_got_become_addr32_calls() {
    // call *foo@GOTPCREL(%rip): ff 15 <field>
    let call = [0xFF, 0x15, 0xAA, 0xBB, 0xCC, 0xDD];
    assert_eq!(got_access(&call, 2), Some(GotAccess::Call));
    let last = 0x1000 + 4 + i32::MAX as u64;
    let mut code = call;
    assert_eq!(relax_got_load(&mut code, 2, &got_access_at(last)), Some(0));
    // addr32 call rel32: same length, same field.
    assert_eq!(code, [0x67, 0xE8, 0xAA, 0xBB, 0xCC, 0xDD]);
    let mut code = call;
    assert_eq!(relax_got_load(&mut code, 2, &got_access_at(last + 1)), None);
    assert_eq!(code, call);
    // The relaxed fixup is a PC32 at the same field: S - next instruction.
    let mut code = call;
    let v = got_access_at(0x1800);
    assert_eq!(relax_got_load(&mut code, 2, &v), Some(0));
    apply(Reloc::Pc32, &mut code[2..], &v).expect("pc32");
    assert_eq!(code, [0x67, 0xE8, 0xFC, 0x07, 0, 0]);
}

#[test]
fn jumps_through_the_got_become_jmp_and_nop() {
    // jmp *foo@GOTPCREL(%rip): ff 25 <field>
    let jmp = [0xFF, 0x25, 0xAA, 0xBB, 0xCC, 0xDD];
    assert_eq!(got_access(&jmp, 2), Some(GotAccess::Jmp));
    // The field moves one byte back (P' = P - 1), so the last S in reach
    // is one byte nearer: S - 4 - (0x1000 - 1) = i32::MAX.
    let last = 0x1000 - 1 + 4 + i32::MAX as u64;
    let mut code = jmp;
    assert_eq!(relax_got_load(&mut code, 2, &got_access_at(last)), Some(-1));
    assert_eq!(code, [0xE9, 0x25, 0xAA, 0xBB, 0xCC, 0x90]);
    let mut code = jmp;
    assert_eq!(relax_got_load(&mut code, 2, &got_access_at(last + 1)), None);
    assert_eq!(code, jmp);
    // Backwards: S - 4 - (P - 1) = i32::MIN is in reach, one below is not.
    let first = (0x1000u64 - 1 + 4).wrapping_add(i32::MIN as i64 as u64);
    let mut code = jmp;
    assert_eq!(
        relax_got_load(&mut code, 2, &got_access_at(first)),
        Some(-1)
    );
    let mut code = jmp;
    assert_eq!(
        relax_got_load(&mut code, 2, &got_access_at(first - 1)),
        None
    );
    // The relaxed fixup: a PC32 at the shifted field, counting from the
    // end of the 5-byte jmp (P - 1 + 4).
    let mut code = jmp;
    let v = got_access_at(0x1800);
    assert_eq!(relax_got_load(&mut code, 2, &v), Some(-1));
    let shifted = FixupValues { p: v.p - 1, ..v };
    apply(Reloc::Pc32, &mut code[1..], &shifted).expect("pc32");
    // jmp +0x7fd (to 0x1800 from 0x1003); nop.
    assert_eq!(code, [0xE9, 0xFD, 0x07, 0, 0, 0x90]);
    // Other ModRMs of FF (e.g. push, call through a register) are not GOT
    // accesses.
    assert_eq!(got_access(&[0xFF, 0x35, 0, 0, 0, 0], 2), None);
    assert_eq!(got_access(&[0xFF, 0xD0, 0, 0, 0, 0], 2), None);
}

#[test]
fn static_tls_kinds_take_negative_thread_pointer_offsets() {
    // x86-64 static TLS lies below the thread pointer: S is negative.
    let v = |s: i64, a: i64| FixupValues {
        s: s as u64,
        a,
        ..FixupValues::default()
    };
    assert_writes(Reloc::TpOff32, &v(-0x1000, 8), &field_bytes(-0xff8, 4));
    assert_writes(Reloc::TpOff64, &v(-0x1000, 8), &field_bytes(-0xff8, 8));
    // The last offsets a 32-bit field takes, and the first it refuses.
    assert_writes(
        Reloc::TpOff32,
        &v(i64::from(i32::MIN) - 4, 4),
        &[0, 0, 0, 0x80],
    );
    assert_fails(
        Reloc::TpOff32,
        &v(i64::from(i32::MIN) - 4, 3),
        FixupError::Overflow {
            value: I32_MIN - 1,
            min: I32_MIN,
            max: I32_MAX,
        },
    );
    // GOTTPOFF: the slot (which holds the offset) relative to the place.
    let got = FixupValues {
        p: 0x1000,
        got_slot: 0x2000,
        a: -4,
        ..FixupValues::default()
    };
    assert_writes(Reloc::GotTpOff, &got, &field_bytes(0xffc, 4));
    assert!(Reloc::GotTpOff.needs_got_slot() && Reloc::GotTpOff.is_tp_relative());
    assert!(Reloc::TpOff32.is_tp_relative() && !Reloc::TpOff32.needs_got_slot());
    assert!(!Reloc::DtpOff32.is_tp_relative() && !Reloc::TlsGd.is_tp_relative());
}

#[test]
fn tls_descriptor_kinds() {
    // GOTPC32_TLSDESC: the descriptor's address relative to the place.
    let v = FixupValues {
        p: 0x1000,
        got_slot: 0x3000,
        a: -4,
        ..FixupValues::default()
    };
    assert_writes(Reloc::GotPc32TlsDesc, &v, &field_bytes(0x1ffc, 4));
    assert_eq!(
        Reloc::GotPc32TlsDesc.tls_pair(),
        Some(crate::arch::TlsPair::Descriptor)
    );
    assert!(Reloc::GotPc32TlsDesc.is_tp_relative());
    // TLSDESC_CALL marks the call and writes nothing, whatever the values.
    let mut place = [FILL; 4];
    assert_eq!(apply(Reloc::TlsDescCall, &mut place, &v), Ok(()));
    assert_eq!(place, [FILL; 4]);
    assert_eq!(apply(Reloc::TlsDescCall, &mut [], &v), Ok(()));
}

/// Values that reach a field as `base + value` modulo 2^64, with the term
/// that carries the value (S, the GOT slot or the GOT base) near the top of
/// the address space or just past 0.
fn wrapped_values(kind: Reloc, value: i128, base: u64) -> FixupValues {
    let at = base.wrapping_add(value as u64);
    let mut v = FixupValues {
        p: base,
        got_base: base,
        got_slot: base,
        ..FixupValues::default()
    };
    match kind {
        // S + A (TPOFF32: S is already thread-pointer relative).
        Reloc::Abs32S | Reloc::Abs16 | Reloc::Abs8 | Reloc::DtpOff32 | Reloc::TpOff32 => {
            v.s = value as u64;
        }
        // S + A - P.
        Reloc::Pc32 | Reloc::Pc16 | Reloc::Pc8 | Reloc::Branch32 => v.s = at,
        // G + GOT + A - P.
        Reloc::GotPcRel32
        | Reloc::GotPcRelX
        | Reloc::TlsGd
        | Reloc::TlsLd
        | Reloc::GotTpOff
        | Reloc::GotPc32TlsDesc => v.got_slot = at,
        // GOT + A - P.
        Reloc::GotPc32 => v.got_base = at,
        // G + A.
        Reloc::Got32 => v.got_slot = at,
        other => panic!("{other} is not sign-extended"),
    }
    v
}

/// Every sign-extended kind reads its value modulo 2^64 (the psABI's
/// arithmetic): an absolute symbol at 0xffffffff80000000 is -2^31 to
/// R_X86_64_32S, 0xffffffff7fffffff is one too far; targets that wrap
/// around the top or the bottom of the address space reach as far as
/// those that do not.
#[test]
fn sign_extended_kinds_take_their_value_modulo_2_64() {
    assert_writes(
        Reloc::Abs32S,
        &FixupValues {
            s: 0xffff_ffff_8000_0000,
            ..FixupValues::default()
        },
        &[0x00, 0x00, 0x00, 0x80],
    );
    assert_writes(
        Reloc::Abs32S,
        &FixupValues {
            s: u64::MAX,
            ..FixupValues::default()
        },
        &[0xff; 4],
    );
    assert_eq!(
        run(
            Reloc::Abs32S,
            &FixupValues {
                s: 0xffff_ffff_7fff_ffff,
                ..FixupValues::default()
            }
        )
        .0,
        Err(FixupError::Overflow {
            value: -0x8000_0001,
            min: I32_MIN,
            max: I32_MAX
        })
    );
    let signed: Vec<Reloc> = Reloc::ALL
        .into_iter()
        .filter(|k| k.field_range().is_some_and(|(min, _)| min < 0))
        .collect();
    assert_eq!(signed.len(), 17, "{signed:?}");
    for kind in signed {
        let (min, max) = kind.field_range().unwrap();
        let size = kind.field_size();
        // The low end from just above 0 (S wraps to the top), the high end
        // from the top (S wraps past 0).
        for (value, base) in [(min, 0x1000), (max, u64::MAX - 0xfff)] {
            let v = wrapped_values(kind, value, base);
            assert_writes(kind, &v, &field_bytes(value, size));
        }
        for (value, base) in [(min - 1, 0x1000), (max + 1, u64::MAX - 0xfff)] {
            let v = wrapped_values(kind, value, base);
            assert_eq!(
                run(kind, &v).0,
                Err(FixupError::Overflow { value, min, max }),
                "{kind} {value:#x} from {base:#x}"
            );
        }
    }
}

/// The direct path ([`patch_direct`]) is [`apply`] without a stub, for the
/// kinds it takes: the same bytes where `apply` succeeds, nothing written
/// and `false` where `apply` fails (so the general path reports it), at
/// every width of place, including fields cut short.
#[test]
fn the_direct_path_writes_what_apply_writes_or_declines() {
    const DIRECT: [Reloc; 5] = [
        Reloc::Pc32,
        Reloc::Branch32,
        Reloc::Abs64,
        Reloc::Abs32,
        Reloc::Abs32S,
    ];
    let mut rng = SplitMix(0xD1EC7);
    let (mut taken, mut declined) = (0usize, 0usize);
    for round in 0..20_000 {
        let (p, s, a) = (rng.value(), rng.value(), rng.value() as i64);
        let v = FixupValues {
            p,
            s,
            a,
            ..FixupValues::default()
        };
        for kind in Reloc::ALL {
            // Places of 0 to 11 bytes, the field at 0 or 1.
            let len = round % 12;
            let at = round / 12 % 2;
            let mut general = vec![FILL; len];
            let applied = general
                .get_mut(at..)
                .map_or(Err(()), |place| apply(kind, place, &v).map_err(|_| ()));
            let mut direct = vec![FILL; len];
            let patched = patch_direct(kind, &mut direct, at, p, s, a);
            if !DIRECT.contains(&kind) {
                assert!(!patched, "{kind} is not a direct kind");
                assert!(direct.iter().all(|&b| b == FILL));
                continue;
            }
            if patched {
                taken += 1;
                assert_eq!(applied, Ok(()), "{kind} {v:x?} at {at} of {len}");
                assert_eq!(direct, general, "{kind} {v:x?} at {at} of {len}");
            } else {
                declined += 1;
                assert!(applied.is_err(), "{kind} {v:x?} at {at} of {len}: declined");
                assert!(
                    direct.iter().all(|&b| b == FILL),
                    "{kind}: wrote and declined"
                );
            }
        }
    }
    // The sweep reaches both outcomes often.
    assert!(
        taken > 10_000 && declined > 10_000,
        "{taken} taken, {declined} declined"
    );
}

/// [`relax_and_patch`] is [`relax_got_load`] then `Pc32` at the moved
/// field, for each rewritable form; where the access cannot be rewritten
/// (another instruction, a target out of reach) nothing changes.
#[test]
fn relax_and_patch_is_relaxation_then_pc32() {
    let forms: [&[u8]; 4] = [
        &[0x48, 0x8B, 0x05], // mov foo@GOTPCREL(%rip), %rax
        &[0xFF, 0x15],       // call *foo@GOTPCREL(%rip)
        &[0xFF, 0x25],       // jmp *foo@GOTPCREL(%rip)
        &[0x48, 0x85, 0x05], // test %rax, foo@GOTPCREL(%rip): not rewritten
    ];
    let p = 0x7f00_0000_1000u64;
    for form in forms {
        for (s, a) in [
            (p + 0x100, -4i64),
            (p + 0x7FFF_FFFF, 4),
            (p + 0x8000_0004, -4),
            (p - 0x8000_0000 + 3, -4),
            (p - 0x8000_0000 + 5, -4),
        ] {
            let at = form.len();
            let mut code: Vec<u8> = form.iter().copied().chain([0xAA; 8]).collect();
            let mut reference = code.clone();
            let v = FixupValues {
                p,
                s,
                a,
                ..FixupValues::default()
            };
            let expected = relax_got_load(&mut reference, at, &v).map(|shift| {
                let moved = at.wrapping_add_signed(shift);
                let pv = FixupValues {
                    p: p.wrapping_add_signed(shift as i64),
                    ..v
                };
                apply(Reloc::Pc32, &mut reference[moved..], &pv).expect("in reach");
            });
            let patched = relax_and_patch(&mut code, at, p, s, a);
            assert_eq!(patched, expected.is_some(), "{form:x?} S={s:#x} A={a}");
            assert_eq!(code, reference, "{form:x?} S={s:#x} A={a}");
            if !patched {
                let untouched: Vec<u8> = form.iter().copied().chain([0xAA; 8]).collect();
                assert_eq!(code, untouched);
            }
        }
    }
}
