//! RISC-V 64 (RV64GC) relocation math for ELF.
//!
//! The ELF loader maps each `R_RISCV_*` type to one [`Reloc`]; this file
//! computes the value, checks its range and alignment, and encodes it into
//! the instruction or data at the place (little-endian). Names follow the
//! RISC-V ELF psABI.
//!
//! Two kinds of the psABI are not self-contained, and the loader turns them
//! into ones that are, so that this file stays pure:
//!
//! - `PCREL_LO12_I`/`_S` name a *label* at the `auipc` that carries the
//!   matching `PCREL_HI20` (or `GOT_HI20`), and their value is that high
//!   part's S + A - P, P being the `auipc`'s address. The loader finds the
//!   high part by the label's section and offset (never by its name) and
//!   gives the low part the high part's target and the addend
//!   `A_hi + (P_lo - P_hi)`, so that S + A - P at the low part's place is
//!   the high part's value. [`Reloc::PcrelLo12I`], [`Reloc::PcrelLo12S`]
//!   and [`Reloc::GotPcrelLo12I`] compute exactly that.
//! - `SET_ULEB128` followed by `SUB_ULEB128` at the same place is one
//!   difference S1 + A1 - (S2 + A2); the loader makes it one
//!   [`Reloc::SetUleb128`] with a subtrahend.
//!
//! `RELAX` and `ALIGN` are not fixups: rivet does not relax, so the code
//! stays as emitted, with the `ALIGN` padding the assembler wrote.

use super::{check_range, displacement, read_le, write_le, FixupError, FixupValues};

/// The fixup kinds of RISC-V 64, named as in the psABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reloc {
    /// S + A, 32 bits, in [-2^31, 2^32). `R_RISCV_32`.
    Abs32,
    /// S + A, 64 bits. `R_RISCV_64`.
    Abs64,
    /// S + A - P, 32 bits signed. `R_RISCV_32_PCREL`.
    Pcrel32,
    /// B-type conditional branch: S + A - P, 13 bits signed, even (±4 KiB).
    /// `R_RISCV_BRANCH`.
    Branch,
    /// J-type `jal`: S + A - P, 21 bits signed, even (±1 MiB), or through a
    /// stub. `R_RISCV_JAL`.
    Jal,
    /// `auipc` + `jalr` pair: S + A - P split into hi20/lo12 (±2 GiB), or
    /// through a stub. `R_RISCV_CALL`, `R_RISCV_CALL_PLT`.
    Call,
    /// `auipc`: the high 20 bits of S + A - P, rounded. `R_RISCV_PCREL_HI20`.
    PcrelHi20,
    /// I-type low 12 bits of S + A - P (the loader sets S and A from the
    /// paired high part). `R_RISCV_PCREL_LO12_I`.
    PcrelLo12I,
    /// S-type low 12 bits of S + A - P, as `PcrelLo12I`. `R_RISCV_PCREL_LO12_S`.
    PcrelLo12S,
    /// `auipc`: the high 20 bits of G + A - P. `R_RISCV_GOT_HI20`.
    GotHi20,
    /// I-type low 12 bits of G + A - P: a `PCREL_LO12_I` whose high part is
    /// a `GOT_HI20`.
    GotPcrelLo12I,
    /// `lui`: the high 20 bits of S + A, rounded. `R_RISCV_HI20`.
    Hi20,
    /// I-type low 12 bits of S + A. `R_RISCV_LO12_I`.
    Lo12I,
    /// S-type low 12 bits of S + A. `R_RISCV_LO12_S`.
    Lo12S,
    /// `c.beqz`/`c.bnez`: S + A - P, 9 bits signed, even (±256 B).
    /// `R_RISCV_RVC_BRANCH`.
    RvcBranch,
    /// `c.j`: S + A - P, 12 bits signed, even (±2 KiB). `R_RISCV_RVC_JUMP`.
    RvcJump,
    /// V + S + A, modulo 2^8 (V: the byte at the place). `R_RISCV_ADD8`.
    Add8,
    /// V + S + A, modulo 2^16. `R_RISCV_ADD16`.
    Add16,
    /// V + S + A, modulo 2^32. `R_RISCV_ADD32`.
    Add32,
    /// V + S + A, modulo 2^64. `R_RISCV_ADD64`.
    Add64,
    /// V - (S + A) in the low 6 bits of the byte. `R_RISCV_SUB6`.
    Sub6,
    /// V - (S + A), modulo 2^8. `R_RISCV_SUB8`.
    Sub8,
    /// V - (S + A), modulo 2^16. `R_RISCV_SUB16`.
    Sub16,
    /// V - (S + A), modulo 2^32. `R_RISCV_SUB32`.
    Sub32,
    /// V - (S + A), modulo 2^64. `R_RISCV_SUB64`.
    Sub64,
    /// S + A in the low 6 bits of the byte. `R_RISCV_SET6`.
    Set6,
    /// S + A, modulo 2^8. `R_RISCV_SET8`.
    Set8,
    /// S + A, modulo 2^16. `R_RISCV_SET16`.
    Set16,
    /// S + A, modulo 2^32. `R_RISCV_SET32`.
    Set32,
    /// S + A (with a `SUB_ULEB128` folded in: S1 + A1 - S2 - A2) as an
    /// unsigned LEB128 of the length already at the place.
    /// `R_RISCV_SET_ULEB128` (+ `R_RISCV_SUB_ULEB128`).
    SetUleb128,
    /// `auipc` to the general-dynamic GOT pair (module, offset) of a
    /// thread-local: the high 20 bits of G + A - P, G being the pair's
    /// address. `R_RISCV_TLS_GD_HI20`.
    TlsGdHi20,
    /// I-type low 12 bits of G + A - P: a `PCREL_LO12_I` whose high part is
    /// a `TLS_GD_HI20`.
    TlsGdPcrelLo12I,
    /// S + A, 32 bits signed: a thread-local's offset in its module's TLS
    /// block (rivet's `__tls_get_addr` adds no bias). `R_RISCV_TLS_DTPREL32`.
    DtpRel32,
    /// As `DtpRel32`, 64 bits. `R_RISCV_TLS_DTPREL64`.
    DtpRel64,
}

impl Reloc {
    /// Every kind, in declaration order.
    pub const ALL: [Reloc; 34] = [
        Reloc::Abs32,
        Reloc::Abs64,
        Reloc::Pcrel32,
        Reloc::Branch,
        Reloc::Jal,
        Reloc::Call,
        Reloc::PcrelHi20,
        Reloc::PcrelLo12I,
        Reloc::PcrelLo12S,
        Reloc::GotHi20,
        Reloc::GotPcrelLo12I,
        Reloc::Hi20,
        Reloc::Lo12I,
        Reloc::Lo12S,
        Reloc::RvcBranch,
        Reloc::RvcJump,
        Reloc::Add8,
        Reloc::Add16,
        Reloc::Add32,
        Reloc::Add64,
        Reloc::Sub6,
        Reloc::Sub8,
        Reloc::Sub16,
        Reloc::Sub32,
        Reloc::Sub64,
        Reloc::Set6,
        Reloc::Set8,
        Reloc::Set16,
        Reloc::Set32,
        Reloc::SetUleb128,
        Reloc::TlsGdHi20,
        Reloc::TlsGdPcrelLo12I,
        Reloc::DtpRel32,
        Reloc::DtpRel64,
    ];

    /// Whether the fixup reads a GOT slot holding S.
    pub(crate) fn needs_got_slot(self) -> bool {
        matches!(self, Reloc::GotHi20 | Reloc::GotPcrelLo12I)
    }

    /// Whether the fixup refers to the GOT base (the same set as
    /// [`Reloc::needs_got_slot`]: no RISC-V kind uses the base alone).
    pub(crate) fn needs_got_base(self) -> bool {
        self.needs_got_slot()
    }

    /// The TLS GOT pair the fixup points at, if any (general dynamic; LLVM
    /// uses it for the local-dynamic model too on RISC-V).
    pub(crate) fn tls_pair(self) -> Option<super::TlsPair> {
        match self {
            Reloc::TlsGdHi20 | Reloc::TlsGdPcrelLo12I => Some(super::TlsPair::Symbol),
            _ => None,
        }
    }

    /// Whether the fixup is a call or jump that may go through a stub.
    pub(crate) fn is_branch(self) -> bool {
        matches!(self, Reloc::Jal | Reloc::Call)
    }

    /// Whether the branch at `p` reaches `s + a` directly (false for the
    /// kinds that are not [`Reloc::is_branch`]).
    pub(crate) fn branch_reaches(self, p: u64, s: u64, a: i64) -> bool {
        if !self.is_branch() {
            return false;
        }
        match self.range() {
            Some((min, max)) => {
                let value = displacement(s, a, p);
                (min..=max).contains(&value)
            }
            None => false,
        }
    }

    /// The values a range-checked kind accepts, `[min, max]` (for the
    /// branches `max` is the last even value that fits); `None` for the
    /// kinds that take the value's low bits.
    pub fn range(self) -> Option<(i128, i128)> {
        let signed_even = |bits: u32| Some((-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 2));
        match self {
            Reloc::Abs32 => Some((-(1 << 31), (1 << 32) - 1)),
            Reloc::Pcrel32 => Some((-(1 << 31), (1 << 31) - 1)),
            Reloc::Branch => signed_even(13),
            Reloc::Jal => signed_even(21),
            Reloc::RvcBranch => signed_even(9),
            Reloc::RvcJump => signed_even(12),
            Reloc::Call | Reloc::PcrelHi20 | Reloc::GotHi20 | Reloc::Hi20 | Reloc::TlsGdHi20 => {
                Some(HI20_RANGE)
            }
            Reloc::DtpRel32 => Some((-(1 << 31), (1 << 31) - 1)),
            _ => None,
        }
    }

    /// A short stable name for messages: the psABI name without `R_RISCV_`
    /// (`GOT_PCREL_LO12_I` for a `PCREL_LO12_I` paired with a `GOT_HI20`).
    pub fn name(self) -> &'static str {
        match self {
            Reloc::Abs32 => "32",
            Reloc::Abs64 => "64",
            Reloc::Pcrel32 => "32_PCREL",
            Reloc::Branch => "BRANCH",
            Reloc::Jal => "JAL",
            Reloc::Call => "CALL",
            Reloc::PcrelHi20 => "PCREL_HI20",
            Reloc::PcrelLo12I => "PCREL_LO12_I",
            Reloc::PcrelLo12S => "PCREL_LO12_S",
            Reloc::GotHi20 => "GOT_HI20",
            Reloc::GotPcrelLo12I => "GOT_PCREL_LO12_I",
            Reloc::Hi20 => "HI20",
            Reloc::Lo12I => "LO12_I",
            Reloc::Lo12S => "LO12_S",
            Reloc::RvcBranch => "RVC_BRANCH",
            Reloc::RvcJump => "RVC_JUMP",
            Reloc::Add8 => "ADD8",
            Reloc::Add16 => "ADD16",
            Reloc::Add32 => "ADD32",
            Reloc::Add64 => "ADD64",
            Reloc::Sub6 => "SUB6",
            Reloc::Sub8 => "SUB8",
            Reloc::Sub16 => "SUB16",
            Reloc::Sub32 => "SUB32",
            Reloc::Sub64 => "SUB64",
            Reloc::Set6 => "SET6",
            Reloc::Set8 => "SET8",
            Reloc::Set16 => "SET16",
            Reloc::Set32 => "SET32",
            Reloc::SetUleb128 => "SET_ULEB128",
            Reloc::TlsGdHi20 => "TLS_GD_HI20",
            Reloc::TlsGdPcrelLo12I => "TLS_GD_PCREL_LO12_I",
            Reloc::DtpRel32 => "TLS_DTPREL32",
            Reloc::DtpRel64 => "TLS_DTPREL64",
        }
    }

    /// The bytes the fixup needs at the start of the place (for
    /// `SET_ULEB128`, at least one; its length is read from the place).
    pub fn field_size(self) -> usize {
        match self {
            Reloc::Add8
            | Reloc::Sub6
            | Reloc::Sub8
            | Reloc::Set6
            | Reloc::Set8
            | Reloc::SetUleb128 => 1,
            Reloc::Add16 | Reloc::Sub16 | Reloc::Set16 | Reloc::RvcBranch | Reloc::RvcJump => 2,
            Reloc::Abs64 | Reloc::Add64 | Reloc::Sub64 | Reloc::Call | Reloc::DtpRel64 => 8,
            _ => 4,
        }
    }
}

impl std::fmt::Display for Reloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The values whose rounded high 20 bits fit `auipc`/`lui` (sign-extended
/// on RV64): `(x + 0x800) >> 12` in [-2^19, 2^19).
pub(crate) const HI20_RANGE: (i128, i128) = (-(1 << 31) - 0x800, (1 << 31) - 0x800 - 1);

/// Bytes of one stub: `auipc t3, %pcrel_hi(slot); ld t3, %pcrel_lo(slot)(t3);
/// jr t3`.
pub(crate) const STUB_SIZE: usize = 12;
/// Alignment of stubs (instructions).
pub(crate) const STUB_ALIGN: usize = 4;
/// Bytes of one GOT slot.
pub(crate) const GOT_SLOT_SIZE: usize = 8;

/// Computes the fixup `kind` from `v` and writes it into the instruction or
/// data at the start of `place`.
///
/// Values are computed in `i128`, so nothing wraps before the range check.
/// Notes per kind:
///
/// - Branches (`BRANCH`, `JAL`, `RVC_BRANCH`, `RVC_JUMP`): an odd
///   displacement is [`FixupError::Invalid`]; out of range is
///   [`FixupError::Overflow`] with the byte displacement. `JAL` and `CALL`
///   use the stub (`v.stub`) when the target is out of reach and there is
///   one; the stub jumps to S + A itself.
/// - `HI20`, `PCREL_HI20`, `GOT_HI20`, `CALL`: the high part is
///   `(x + 0x800) >> 12`, so that adding the sign-extended low 12 bits gives
///   x back; x must lie in [`HI20_RANGE`].
/// - The `LO12` kinds take the low 12 bits of the value, unchecked (their
///   high part checks the range).
/// - `ADDn`/`SUBn` read the field at the place and add or subtract S + A,
///   modulo the field; `SET6`/`SUB6` keep the byte's two high bits.
/// - `SET_ULEB128` rewrites the LEB128 at the place keeping its length;
///   a value that needs more bytes, or a negative one, is an overflow.
/// - `GOT_HI20`, `TLS_GD_HI20` and their low parts use G + A - P, G being
///   `v.got_slot`: the GOT slot, or the first slot of the TLS pair; without
///   one the fixup is [`FixupError::Invalid`]. `TLS_DTPREL32/64` write
///   S + A, S being the variable's offset in its module's TLS block.
/// - Instruction kinds check the instruction at the place (`auipc`, `lui`,
///   `jal`, `jalr`, a conditional branch, a load or `addi`-form I-type, a
///   store) and rewrite only its immediate.
///
/// # Errors
///
/// A place shorter than the field gives [`FixupError::PlaceOutOfBounds`], a
/// value out of range [`FixupError::Overflow`], an odd branch target, a
/// missing GOT slot or a wrong instruction [`FixupError::Invalid`]. On any
/// error the place is left untouched.
pub(crate) fn apply(kind: Reloc, place: &mut [u8], v: &FixupValues) -> Result<(), FixupError> {
    let size = kind.field_size();
    if place.len() < size {
        return Err(FixupError::PlaceOutOfBounds {
            needed: size,
            available: place.len(),
        });
    }
    if kind.needs_got_slot() && v.got_slot == 0 {
        return Err(FixupError::Invalid(
            "the fixup reads a GOT slot but no GOT slot was given",
        ));
    }
    if kind.tls_pair().is_some() && v.got_slot == 0 {
        return Err(FixupError::Invalid(
            "the fixup reads a TLS GOT pair but none was given",
        ));
    }
    let p = i128::from(v.p);
    let s = i128::from(v.s);
    let a = i128::from(v.a);
    let g = i128::from(v.got_slot);
    let checked = |x: i128| match kind.range() {
        Some((min, max)) => check_range(x, min, max),
        None => Ok(x),
    };
    // Truncation to the low bits (`as u64`) is the intent below: each
    // checked value has been range-checked first.
    match kind {
        Reloc::Abs64 => write_le::<8>(place, (s + a) as u64),
        Reloc::Abs32 | Reloc::DtpRel32 => write_le::<4>(place, checked(s + a)? as u64),
        Reloc::DtpRel64 => write_le::<8>(place, (s + a) as u64),
        Reloc::Pcrel32 => write_le::<4>(place, checked(s + a - p)? as u64),
        Reloc::Add8 | Reloc::Sub8 | Reloc::Set8 => {
            let old = read_le::<1>(place)?;
            write_le::<1>(place, data_value(kind, old, s + a))
        }
        Reloc::Add16 | Reloc::Sub16 | Reloc::Set16 => {
            let old = read_le::<2>(place)?;
            write_le::<2>(place, data_value(kind, old, s + a))
        }
        Reloc::Add32 | Reloc::Sub32 | Reloc::Set32 => {
            let old = read_le::<4>(place)?;
            write_le::<4>(place, data_value(kind, old, s + a))
        }
        Reloc::Add64 | Reloc::Sub64 => {
            let old = read_le::<8>(place)?;
            write_le::<8>(place, data_value(kind, old, s + a))
        }
        Reloc::Sub6 | Reloc::Set6 => {
            let old = read_le::<1>(place)?;
            let new = data_value(kind, old, s + a);
            write_le::<1>(place, (old & 0xc0) | (new & 0x3f))
        }
        Reloc::SetUleb128 => write_uleb128(place, s + a),
        Reloc::Call => {
            let x = call_value(v)?;
            let auipc = read_le::<4>(place)? as u32;
            let jalr = read_le::<4>(&place[4..])? as u32;
            expect(is_auipc(auipc), "CALL applies to an auipc instruction")?;
            expect(
                is_jalr(jalr),
                "CALL applies to an auipc followed by a jalr instruction",
            )?;
            let (hi, lo) = (with_hi20(auipc, x), with_i_imm(jalr, x));
            write_le::<4>(place, u64::from(hi))?;
            write_le::<4>(&mut place[4..], u64::from(lo))
        }
        Reloc::RvcBranch | Reloc::RvcJump => {
            let insn = read_le::<2>(place)? as u16;
            let x = branch_value(kind, s + a - p)?;
            let patched = if kind == Reloc::RvcBranch {
                expect(
                    is_c_beqz_bnez(insn),
                    "RVC_BRANCH applies to a c.beqz or c.bnez instruction",
                )?;
                with_cb_imm(insn, x)
            } else {
                expect(
                    is_c_j(insn),
                    "RVC_JUMP applies to a c.j or c.jal instruction",
                )?;
                with_cj_imm(insn, x)
            };
            write_le::<2>(place, u64::from(patched))
        }
        _ => {
            let insn = read_le::<4>(place)? as u32;
            let patched = match kind {
                Reloc::Branch => {
                    expect(
                        is_cond_branch(insn),
                        "BRANCH applies to a conditional branch instruction",
                    )?;
                    with_b_imm(insn, branch_value(kind, s + a - p)?)
                }
                Reloc::Jal => {
                    expect(is_jal(insn), "JAL applies to a jal instruction")?;
                    with_j_imm(insn, jal_value(v)?)
                }
                Reloc::PcrelHi20 | Reloc::GotHi20 | Reloc::TlsGdHi20 => {
                    expect(is_auipc(insn), "a HI20 PC-relative fixup applies to auipc")?;
                    let target = if kind == Reloc::PcrelHi20 { s } else { g };
                    with_hi20(insn, checked(target + a - p)?)
                }
                Reloc::Hi20 => {
                    expect(is_lui(insn), "HI20 applies to a lui instruction")?;
                    with_hi20(insn, checked(s + a)?)
                }
                Reloc::PcrelLo12I
                | Reloc::GotPcrelLo12I
                | Reloc::TlsGdPcrelLo12I
                | Reloc::Lo12I => {
                    expect(
                        is_i_type_imm(insn),
                        "an LO12_I fixup applies to a load, addi-form or jalr instruction",
                    )?;
                    let x = match kind {
                        Reloc::PcrelLo12I => s + a - p,
                        Reloc::GotPcrelLo12I | Reloc::TlsGdPcrelLo12I => g + a - p,
                        _ => s + a,
                    };
                    with_i_imm(insn, x)
                }
                Reloc::PcrelLo12S | Reloc::Lo12S => {
                    expect(
                        is_store(insn),
                        "an LO12_S fixup applies to a store instruction",
                    )?;
                    let x = if kind == Reloc::PcrelLo12S {
                        s + a - p
                    } else {
                        s + a
                    };
                    with_s_imm(insn, x)
                }
                _ => return Err(FixupError::Invalid("not a RISC-V instruction fixup")),
            };
            write_le::<4>(place, u64::from(patched))
        }
    }
}

/// The new field of an `ADDn`/`SUBn`/`SETn` (and 6-bit) kind, from the
/// field's old value and S + A, modulo 2^64 (the writer keeps the low bits).
fn data_value(kind: Reloc, old: u64, value: i128) -> u64 {
    let value = value as u64;
    match kind {
        Reloc::Add8 | Reloc::Add16 | Reloc::Add32 | Reloc::Add64 => old.wrapping_add(value),
        Reloc::Sub6 | Reloc::Sub8 | Reloc::Sub16 | Reloc::Sub32 | Reloc::Sub64 => {
            old.wrapping_sub(value)
        }
        _ => value,
    }
}

/// Rewrites the unsigned LEB128 at the start of `place` to hold `value`,
/// keeping its length (padding with continuation bytes).
fn write_uleb128(place: &mut [u8], value: i128) -> Result<(), FixupError> {
    let Some(len) = place.iter().position(|b| b & 0x80 == 0).map(|i| i + 1) else {
        return Err(FixupError::Invalid(
            "the ULEB128 at the place is not terminated",
        ));
    };
    let bits = (7 * len).min(127) as u32;
    check_range(value, 0, (1i128 << bits) - 1)?;
    let mut rest = value as u128;
    for (i, byte) in place[..len].iter_mut().enumerate() {
        let more = if i + 1 < len { 0x80 } else { 0 };
        *byte = (rest & 0x7f) as u8 | more;
        rest >>= 7;
    }
    Ok(())
}

/// The displacement of a branch kind, checked for evenness and range.
fn branch_value(kind: Reloc, x: i128) -> Result<i128, FixupError> {
    if x & 1 != 0 {
        return Err(FixupError::Invalid(
            "the branch target is not 2-byte aligned",
        ));
    }
    let Some((min, max)) = kind.range() else {
        return Err(FixupError::Invalid("not a branch kind"));
    };
    check_range(x, min, max)
}

/// `jal`: S + A - P in range, else the stub's displacement when there is one.
fn jal_value(v: &FixupValues) -> Result<i128, FixupError> {
    let direct = displacement(v.s, v.a, v.p);
    let reaches = Reloc::Jal
        .range()
        .is_some_and(|(min, max)| (min..=max).contains(&direct));
    if reaches || v.stub == 0 {
        return branch_value(Reloc::Jal, direct);
    }
    branch_value(Reloc::Jal, displacement(v.stub, 0, v.p))
}

/// `auipc` + `jalr`: S + A - P in range, else the stub's displacement.
fn call_value(v: &FixupValues) -> Result<i128, FixupError> {
    let direct = displacement(v.s, v.a, v.p);
    let (min, max) = HI20_RANGE;
    let x = if (min..=max).contains(&direct) || v.stub == 0 {
        direct
    } else {
        displacement(v.stub, 0, v.p)
    };
    check_range(x, min, max)
}

fn expect(ok: bool, what: &'static str) -> Result<(), FixupError> {
    if ok {
        Ok(())
    } else {
        Err(FixupError::Invalid(what))
    }
}

const OP_LUI: u32 = 0x37;
const OP_AUIPC: u32 = 0x17;
const OP_JAL: u32 = 0x6f;
const OP_JALR: u32 = 0x67;
const OP_BRANCH: u32 = 0x63;
const OP_LOAD: u32 = 0x03;
const OP_LOAD_FP: u32 = 0x07;
const OP_IMM: u32 = 0x13;
const OP_IMM_32: u32 = 0x1b;
const OP_STORE: u32 = 0x23;
const OP_STORE_FP: u32 = 0x27;

fn opcode(insn: u32) -> u32 {
    insn & 0x7f
}

fn is_lui(insn: u32) -> bool {
    opcode(insn) == OP_LUI
}

fn is_auipc(insn: u32) -> bool {
    opcode(insn) == OP_AUIPC
}

fn is_jal(insn: u32) -> bool {
    opcode(insn) == OP_JAL
}

fn is_jalr(insn: u32) -> bool {
    opcode(insn) == OP_JALR && (insn >> 12) & 7 == 0
}

/// `beq`, `bne`, `blt`, `bge`, `bltu`, `bgeu` (funct3 2 and 3 are reserved).
fn is_cond_branch(insn: u32) -> bool {
    opcode(insn) == OP_BRANCH && !matches!((insn >> 12) & 7, 2 | 3)
}

/// An I-type instruction whose 12-bit immediate is an address offset or an
/// added constant: loads (integer and FP), `addi`-form and `jalr`.
fn is_i_type_imm(insn: u32) -> bool {
    matches!(opcode(insn), OP_LOAD | OP_LOAD_FP | OP_IMM | OP_IMM_32) || is_jalr(insn)
}

fn is_store(insn: u32) -> bool {
    matches!(opcode(insn), OP_STORE | OP_STORE_FP)
}

/// `c.beqz`/`c.bnez` (quadrant 1, funct3 110/111).
fn is_c_beqz_bnez(insn: u16) -> bool {
    insn & 0b11 == 0b01 && matches!(insn >> 13, 0b110 | 0b111)
}

/// `c.j` (quadrant 1, funct3 101; `c.jal`, 001, is RV32-only and is
/// `c.addiw` on RV64, so only `c.j` is accepted).
fn is_c_j(insn: u16) -> bool {
    insn & 0b11 == 0b01 && insn >> 13 == 0b101
}

/// Bit `i` of `x`, as a `u32` 0 or 1.
fn bit(x: i128, i: u32) -> u32 {
    ((x >> i) & 1) as u32
}

/// Bits `[hi:lo]` of `x`.
fn bits(x: i128, hi: u32, lo: u32) -> u32 {
    ((x >> lo) as u64 & ((1u64 << (hi - lo + 1)) - 1)) as u32
}

/// U-type: `(x + 0x800) >> 12` in bits `[31:12]`.
fn with_hi20(insn: u32, x: i128) -> u32 {
    (insn & 0xfff) | (bits(x + 0x800, 31, 12) << 12)
}

/// I-type: `x[11:0]` in bits `[31:20]`.
fn with_i_imm(insn: u32, x: i128) -> u32 {
    (insn & 0x000f_ffff) | (bits(x, 11, 0) << 20)
}

/// S-type: `x[11:5]` in `[31:25]`, `x[4:0]` in `[11:7]`.
fn with_s_imm(insn: u32, x: i128) -> u32 {
    (insn & 0x01ff_f07f) | (bits(x, 11, 5) << 25) | (bits(x, 4, 0) << 7)
}

/// B-type: `x[12|10:5]` in `[31:25]`, `x[4:1|11]` in `[11:7]`.
fn with_b_imm(insn: u32, x: i128) -> u32 {
    (insn & 0x01ff_f07f)
        | (bit(x, 12) << 31)
        | (bits(x, 10, 5) << 25)
        | (bits(x, 4, 1) << 8)
        | (bit(x, 11) << 7)
}

/// J-type: `x[20|10:1|11|19:12]` in `[31:12]`.
fn with_j_imm(insn: u32, x: i128) -> u32 {
    (insn & 0xfff)
        | (bit(x, 20) << 31)
        | (bits(x, 10, 1) << 21)
        | (bit(x, 11) << 20)
        | (bits(x, 19, 12) << 12)
}

/// CB format: `x[8|4:3]` in `[12:10]`, `x[7:6|2:1|5]` in `[6:2]`.
fn with_cb_imm(insn: u16, x: i128) -> u16 {
    let imm = (bit(x, 8) << 12)
        | (bits(x, 4, 3) << 10)
        | (bits(x, 7, 6) << 5)
        | (bits(x, 2, 1) << 3)
        | (bit(x, 5) << 2);
    (insn & 0xe383) | imm as u16
}

/// CJ format: `x[11|4|9:8|10|6|7|3:1|5]` in `[12:2]`.
fn with_cj_imm(insn: u16, x: i128) -> u16 {
    let imm = (bit(x, 11) << 12)
        | (bit(x, 4) << 11)
        | (bits(x, 9, 8) << 9)
        | (bit(x, 10) << 8)
        | (bit(x, 6) << 7)
        | (bit(x, 7) << 6)
        | (bits(x, 3, 1) << 3)
        | (bit(x, 5) << 2);
    (insn & 0xe003) | imm as u16
}

/// The instructions of a stub, immediates zero: `auipc t3, 0`,
/// `ld t3, 0(t3)`, `jr t3`.
const STUB_CODE: [u32; 3] = [0x0000_0e17, 0x000e_3e03, 0x000e_0067];

/// The 12 bytes of a stub at `stub` that jumps through the GOT slot at
/// `slot`, using only `t3` (x28), a temporary the calling convention does
/// not preserve across calls:
///
/// ```text
/// auipc t3, %pcrel_hi(slot)      ; (slot - stub + 0x800) >> 12
/// ld    t3, %pcrel_lo(slot)(t3)  ; the low 12 bits, sign-extended
/// jr    t3
/// ```
///
/// # Errors
///
/// [`FixupError::Overflow`] when `slot - stub` is outside [`HI20_RANGE`].
pub(crate) fn stub_bytes(stub: u64, slot: u64) -> Result<[u8; STUB_SIZE], FixupError> {
    let x = check_range(displacement(slot, 0, stub), HI20_RANGE.0, HI20_RANGE.1)?;
    let words = [
        with_hi20(STUB_CODE[0], x),
        with_i_imm(STUB_CODE[1], x),
        STUB_CODE[2],
    ];
    let mut bytes = [0u8; STUB_SIZE];
    for (i, word) in words.iter().enumerate() {
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    Ok(bytes)
}

/// Writes at the start of `place` (whose address is `stub`) a stub that
/// jumps through the GOT slot at `slot` ([`stub_bytes`]).
///
/// # Errors
///
/// A place shorter than [`STUB_SIZE`] gives [`FixupError::PlaceOutOfBounds`],
/// a slot out of reach [`FixupError::Overflow`]; the place is then left
/// untouched.
pub(crate) fn write_stub(place: &mut [u8], stub: u64, slot: u64) -> Result<(), FixupError> {
    let available = place.len();
    let field = place
        .get_mut(..STUB_SIZE)
        .ok_or(FixupError::PlaceOutOfBounds {
            needed: STUB_SIZE,
            available,
        })?;
    field.copy_from_slice(&stub_bytes(stub, slot)?);
    Ok(())
}

#[cfg(test)]
mod tests;
