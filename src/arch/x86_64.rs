//! x86-64 relocation math for ELF, Mach-O and COFF.
//!
//! The loaders map each format's raw relocation type to one [`Reloc`]; this
//! file computes and range-checks the value and writes it.

use super::{check_range, displacement, modulo_2_64, write_le, FixupError, FixupValues};

/// The fixup kinds of x86-64, format-neutral. Names follow the ELF psABI where
/// one exists; the doc of each says which raw types of each format map to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reloc {
    /// S + A, 64 bits. ELF `R_X86_64_64`, Mach-O `UNSIGNED` (length 3), COFF `ADDR64`.
    Abs64,
    /// S + A, zero-extended 32 bits. ELF `R_X86_64_32`, COFF `ADDR32`, Mach-O `UNSIGNED` (length 2).
    Abs32,
    /// S + A, sign-extended 32 bits. ELF `R_X86_64_32S`.
    Abs32S,
    /// S + A, 16 bits (zero- or sign-extended). ELF `R_X86_64_16`.
    Abs16,
    /// S + A, 8 bits. ELF `R_X86_64_8`.
    Abs8,
    /// S + A - P, signed 32 bits. ELF `R_X86_64_PC32`, Mach-O `SIGNED*`, COFF `REL32*`.
    Pc32,
    /// S + A - P, 64 bits. ELF `R_X86_64_PC64`.
    Pc64,
    /// S + A - P, 16 bits. ELF `R_X86_64_PC16`.
    Pc16,
    /// S + A - P, 8 bits. ELF `R_X86_64_PC8`.
    Pc8,
    /// A call or jump: S + A - P, signed 32 bits, or L + A - P through a stub
    /// when S is out of reach. ELF `R_X86_64_PLT32`, Mach-O `BRANCH`.
    Branch32,
    /// GOT slot + A - P, signed 32 bits. ELF `R_X86_64_GOTPCREL`, Mach-O
    /// `GOT_LOAD`, `GOT`.
    GotPcRel32,
    /// As `GotPcRel32`, on an instruction the linker may rewrite to reach S
    /// directly. ELF `R_X86_64_GOTPCRELX`, `R_X86_64_REX_GOTPCRELX`. Once
    /// `relax_got_load` rewrote the instruction, the fixup is a `Pc32`
    /// (S + A - P) at the field it says.
    GotPcRelX,
    /// GOT base + A - P, signed 32 bits. ELF `R_X86_64_GOTPC32`.
    GotPc32,
    /// GOT base + A - P, 64 bits. ELF `R_X86_64_GOTPC64`.
    GotPc64,
    /// G + A (slot offset from the GOT base), 64 bits. ELF `R_X86_64_GOT64`.
    Got64,
    /// G + A, signed 32 bits. ELF `R_X86_64_GOT32`.
    Got32,
    /// S + A - GOT base, 64 bits. ELF `R_X86_64_GOTOFF64`.
    GotOff64,
    /// L + A - GOT base, 64 bits, L being S (no PLT is needed with a 64-bit
    /// field). ELF `R_X86_64_PLTOFF64`.
    PltOff64,
    /// Z + A, 32 bits. ELF `R_X86_64_SIZE32`.
    Size32,
    /// Z + A, 64 bits. ELF `R_X86_64_SIZE64`.
    Size64,
    /// S + A - image base, unsigned 32 bits. COFF `ADDR32NB`.
    ImageRel32,
    /// S + A - the target section's base, 32 bits. COFF `SECREL`.
    SecRel32,
    /// The target's section number, 16 bits. COFF `SECTION`.
    SectionIndex,
    /// General-dynamic TLS: the address of a GOT pair (module, offset of S
    /// in its TLS block) + A - P, signed 32 bits; the linker passes the
    /// pair's address as `got_slot`. ELF `R_X86_64_TLSGD`.
    TlsGd,
    /// Local-dynamic TLS: the address of the module's GOT pair (module, 0)
    /// + A - P, signed 32 bits (`got_slot`). ELF `R_X86_64_TLSLD`.
    TlsLd,
    /// S + A where S is the target's offset in its module's TLS block,
    /// signed 32 bits. ELF `R_X86_64_DTPOFF32`.
    DtpOff32,
    /// As `DtpOff32`, 64 bits. ELF `R_X86_64_DTPOFF64`.
    DtpOff64,
    /// Local-exec TLS: S + A where S is the target's offset from the thread
    /// pointer (negative: x86-64 puts static TLS below `%fs:0`), signed 32
    /// bits. ELF `R_X86_64_TPOFF32`.
    TpOff32,
    /// As `TpOff32`, 64 bits. ELF `R_X86_64_TPOFF64`.
    TpOff64,
    /// Initial-exec TLS: the address of a GOT slot holding the target's
    /// thread-pointer offset + A - P, signed 32 bits (`got_slot`). ELF
    /// `R_X86_64_GOTTPOFF`.
    GotTpOff,
    /// TLS descriptor: the address of the target's descriptor (two GOT
    /// slots: resolver, argument) + A - P, signed 32 bits (`got_slot`). ELF
    /// `R_X86_64_GOTPC32_TLSDESC`.
    GotPc32TlsDesc,
    /// Marks the call through a TLS descriptor; writes nothing. ELF
    /// `R_X86_64_TLSDESC_CALL`.
    TlsDescCall,
}

impl Reloc {
    /// Every kind, in declaration order.
    pub const ALL: [Reloc; 32] = [
        Reloc::Abs64,
        Reloc::Abs32,
        Reloc::Abs32S,
        Reloc::Abs16,
        Reloc::Abs8,
        Reloc::Pc32,
        Reloc::Pc64,
        Reloc::Pc16,
        Reloc::Pc8,
        Reloc::Branch32,
        Reloc::GotPcRel32,
        Reloc::GotPcRelX,
        Reloc::GotPc32,
        Reloc::GotPc64,
        Reloc::Got64,
        Reloc::Got32,
        Reloc::GotOff64,
        Reloc::PltOff64,
        Reloc::Size32,
        Reloc::Size64,
        Reloc::ImageRel32,
        Reloc::SecRel32,
        Reloc::SectionIndex,
        Reloc::TlsGd,
        Reloc::TlsLd,
        Reloc::DtpOff32,
        Reloc::DtpOff64,
        Reloc::TpOff32,
        Reloc::TpOff64,
        Reloc::GotTpOff,
        Reloc::GotPc32TlsDesc,
        Reloc::TlsDescCall,
    ];

    /// Whether the fixup reads a GOT slot holding S (the linker must make one).
    pub(crate) fn needs_got_slot(self) -> bool {
        matches!(
            self,
            Reloc::GotPcRel32 | Reloc::GotPcRelX | Reloc::Got64 | Reloc::Got32 | Reloc::GotTpOff
        )
    }

    /// Whether S is the target's offset from the thread pointer (the static
    /// TLS models): the linker must give the module a piece of static TLS.
    /// For `GotTpOff` the GOT slot holds that offset.
    pub fn is_tp_relative(self) -> bool {
        matches!(
            self,
            Reloc::TpOff32 | Reloc::TpOff64 | Reloc::GotTpOff | Reloc::GotPc32TlsDesc
        )
    }

    /// Whether the fixup refers to the GOT base (the linker must give the
    /// module a GOT, even an empty one).
    ///
    /// Every kind that needs a slot needs a GOT too, so this is a superset of
    /// [`Reloc::needs_got_slot`].
    pub(crate) fn needs_got_base(self) -> bool {
        self.needs_got_slot()
            || matches!(
                self,
                Reloc::GotPc32 | Reloc::GotPc64 | Reloc::GotOff64 | Reloc::PltOff64
            )
    }

    /// Whether the fixup's value is computed from `got_slot` (a GOT slot or
    /// a TLS pair), which must then be a real address.
    pub(crate) fn reads_got_slot(self) -> bool {
        self.needs_got_slot() || self.tls_pair().is_some()
    }

    /// The TLS pair the fixup needs the linker to make, if any.
    pub(crate) fn tls_pair(self) -> Option<crate::arch::TlsPair> {
        match self {
            Reloc::TlsGd => Some(crate::arch::TlsPair::Symbol),
            Reloc::TlsLd => Some(crate::arch::TlsPair::Module),
            Reloc::GotPc32TlsDesc => Some(crate::arch::TlsPair::Descriptor),
            _ => None,
        }
    }

    /// Whether the fixup is a branch that may go through a stub when S is out of reach.
    pub(crate) fn is_branch(self) -> bool {
        matches!(self, Reloc::Branch32)
    }

    /// Whether S + A - P fits this branch's field (false for non-branches).
    pub(crate) fn branch_reaches(self, p: u64, s: u64, a: i64) -> bool {
        match self {
            Reloc::Branch32 => {
                let value = displacement(s, a, p);
                (I32_MIN..=I32_MAX).contains(&value)
            }
            _ => false,
        }
    }

    /// A short stable name for messages, e.g. `PC32`.
    ///
    /// ELF-style where ELF has the kind (`ABS64` is `R_X86_64_64`, `BRANCH32`
    /// is `R_X86_64_PLT32`, `GOTPCREL32` is `R_X86_64_GOTPCREL`); the COFF-only
    /// kinds are `IMAGEREL32`, `SECREL32` and `SECIDX16`.
    pub fn name(self) -> &'static str {
        match self {
            Reloc::Abs64 => "ABS64",
            Reloc::Abs32 => "ABS32",
            Reloc::Abs32S => "ABS32S",
            Reloc::Abs16 => "ABS16",
            Reloc::Abs8 => "ABS8",
            Reloc::Pc32 => "PC32",
            Reloc::Pc64 => "PC64",
            Reloc::Pc16 => "PC16",
            Reloc::Pc8 => "PC8",
            Reloc::Branch32 => "BRANCH32",
            Reloc::GotPcRel32 => "GOTPCREL32",
            Reloc::GotPcRelX => "GOTPCRELX",
            Reloc::GotPc32 => "GOTPC32",
            Reloc::GotPc64 => "GOTPC64",
            Reloc::Got64 => "GOT64",
            Reloc::Got32 => "GOT32",
            Reloc::GotOff64 => "GOTOFF64",
            Reloc::PltOff64 => "PLTOFF64",
            Reloc::Size32 => "SIZE32",
            Reloc::Size64 => "SIZE64",
            Reloc::ImageRel32 => "IMAGEREL32",
            Reloc::SecRel32 => "SECREL32",
            Reloc::SectionIndex => "SECIDX16",
            Reloc::TlsGd => "TLSGD",
            Reloc::TlsLd => "TLSLD",
            Reloc::DtpOff32 => "DTPOFF32",
            Reloc::DtpOff64 => "DTPOFF64",
            Reloc::TpOff32 => "TPOFF32",
            Reloc::TpOff64 => "TPOFF64",
            Reloc::GotTpOff => "GOTTPOFF",
            Reloc::GotPc32TlsDesc => "GOTPC32_TLSDESC",
            Reloc::TlsDescCall => "TLSDESC_CALL",
        }
    }

    /// The bytes the fixup writes at the start of the place.
    pub fn field_size(self) -> usize {
        match self {
            Reloc::Abs8 | Reloc::Pc8 => 1,
            Reloc::Abs16 | Reloc::Pc16 | Reloc::SectionIndex => 2,
            Reloc::Abs32
            | Reloc::Abs32S
            | Reloc::Pc32
            | Reloc::Branch32
            | Reloc::GotPcRel32
            | Reloc::GotPcRelX
            | Reloc::GotPc32
            | Reloc::Got32
            | Reloc::Size32
            | Reloc::ImageRel32
            | Reloc::SecRel32
            | Reloc::TlsGd
            | Reloc::TlsLd
            | Reloc::DtpOff32
            | Reloc::TpOff32
            | Reloc::GotTpOff
            | Reloc::GotPc32TlsDesc => 4,
            Reloc::TlsDescCall => 0,
            Reloc::DtpOff64
            | Reloc::TpOff64
            | Reloc::Abs64
            | Reloc::Pc64
            | Reloc::GotPc64
            | Reloc::Got64
            | Reloc::GotOff64
            | Reloc::PltOff64
            | Reloc::Size64 => 8,
        }
    }

    /// The values the field accepts, `[min, max]`, before truncation to
    /// [`Reloc::field_size`] bytes; `None` for the 64-bit kinds, which take
    /// any value modulo 2^64.
    pub(crate) fn field_range(self) -> Option<(i128, i128)> {
        match self {
            // Zero-extended 32-bit fields.
            Reloc::Abs32 | Reloc::Size32 | Reloc::ImageRel32 | Reloc::SecRel32 => {
                Some((0, U32_MAX))
            }
            // Sign-extended 32-bit fields.
            Reloc::Abs32S
            | Reloc::Pc32
            | Reloc::Branch32
            | Reloc::GotPcRel32
            | Reloc::GotPcRelX
            | Reloc::GotPc32
            | Reloc::Got32
            | Reloc::TlsGd
            | Reloc::TlsLd
            | Reloc::DtpOff32
            | Reloc::TpOff32
            | Reloc::GotTpOff
            | Reloc::GotPc32TlsDesc => Some((I32_MIN, I32_MAX)),
            // Writes nothing: any value.
            Reloc::TlsDescCall => None,
            // R_X86_64_16 / _8: the psABI leaves the extension to the reader,
            // so accept anything that fits either way (as lld does).
            Reloc::Abs16 => Some((-0x8000, 0xFFFF)),
            Reloc::Abs8 => Some((-0x80, 0xFF)),
            Reloc::Pc16 => Some((-0x8000, 0x7FFF)),
            Reloc::Pc8 => Some((-0x80, 0x7F)),
            // A COFF section number is an unsigned 16-bit field.
            Reloc::SectionIndex => Some((0, 0xFFFF)),
            Reloc::DtpOff64
            | Reloc::TpOff64
            | Reloc::Abs64
            | Reloc::Pc64
            | Reloc::GotPc64
            | Reloc::Got64
            | Reloc::GotOff64
            | Reloc::PltOff64
            | Reloc::Size64 => None,
        }
    }
}

const I32_MIN: i128 = i32::MIN as i128;
const I32_MAX: i128 = i32::MAX as i128;
const U32_MAX: i128 = u32::MAX as i128;

impl std::fmt::Display for Reloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes of one stub: `jmp *slot(%rip)` (6 bytes) and two `int3`.
pub(crate) const STUB_SIZE: usize = 8;
/// Alignment of stubs.
pub(crate) const STUB_ALIGN: usize = 8;
/// Bytes of one GOT slot.
pub(crate) const GOT_SLOT_SIZE: usize = 8;

/// Offset of the 32-bit displacement to the GOT slot inside a stub.
pub(crate) const STUB_SLOT_FIELD: usize = 2;
/// Bytes of the stub's `jmp *disp32(%rip)`, which the displacement counts from.
const STUB_JUMP_LEN: usize = 6;

/// Computes the fixup `kind` from `v` and writes it at the start of `place`.
/// Branch32 uses `v.stub` when S + A - P does not fit and `v.stub` is non-zero.
///
/// The value is computed in `i128`, so no intermediate wraps; a range-checked
/// kind whose value falls outside [`Reloc::field_range`] gives
/// [`FixupError::Overflow`] with that value, and a 64-bit kind is written
/// modulo 2^64. Notes per kind:
///
/// - `Size32` is Z + A in `[0, u32::MAX]`: the psABI's SIZE32 is a size, which
///   zero-extends; a negative size is an error.
/// - `ImageRel32` and `SecRel32` are offsets from a base that must not lie
///   above the target: `[0, u32::MAX]`.
/// - `SectionIndex` writes `section_index + A` (A being the implicit addend
///   COFF keeps in the field), an unsigned 16-bit value. This is what
///   JITLink's COFF x86-64 backend (as `Pointer16`), lld and link.exe do.
///   RuntimeDyldCOFFX86_64 ignores the field's contents and writes its own
///   section id; with the usual A = 0 the two agree on the section number.
/// - Kinds that read a GOT slot ([`Reloc::needs_got_slot`]) give
///   [`FixupError::Invalid`] when `v.got_slot` is 0, which means the linker
///   made no slot. A `GotPcRelX` the linker relaxed ([`relax_got_load`]) is
///   applied as `Pc32` instead.
///
/// Branch32 through a stub writes L + A - P: the stub stands in for S, which
/// is right for the usual call or jump to S (A = -4). A branch to S + k with
/// k not 0 needs its own stub that jumps to S + k, applied here with A = -4.
///
/// # Errors
///
/// A place shorter than the field gives [`FixupError::PlaceOutOfBounds`], a
/// value out of range [`FixupError::Overflow`], a missing GOT slot
/// [`FixupError::Invalid`]. On any error the place is left untouched.
pub(crate) fn apply(kind: Reloc, place: &mut [u8], v: &FixupValues) -> Result<(), FixupError> {
    let size = kind.field_size();
    if place.len() < size {
        return Err(FixupError::PlaceOutOfBounds {
            needed: size,
            available: place.len(),
        });
    }
    if kind == Reloc::TlsDescCall {
        // The call through the descriptor stays as it is.
        return Ok(());
    }
    if kind.reads_got_slot() && v.got_slot == 0 {
        return Err(FixupError::Invalid(
            "the fixup reads a GOT slot but no GOT slot was given",
        ));
    }
    let value = match kind {
        Reloc::Branch32 => branch32_value(v)?,
        _ => {
            let value = compute(kind, v);
            if let Some((min, max)) = kind.field_range() {
                check_range(value, min, max)?;
            }
            value
        }
    };
    // Truncation to the low bits is the intent: the range check above has
    // already rejected every value that the field cannot represent.
    let bits = value as u64;
    match size {
        1 => write_le::<1>(place, bits),
        2 => write_le::<2>(place, bits),
        4 => write_le::<4>(place, bits),
        _ => write_le::<8>(place, bits),
    }
}

/// Patches, at `code[at..]`, the fixups most x86-64 code is made of, whose
/// value is S + A or S + A - P alone: `Pc32`, a `Branch32` that reaches S + A
/// directly, `Abs64`, `Abs32` and `Abs32S`. The value is the one [`apply`]
/// computes (modulo 2^64, then range-checked), written the same way.
///
/// Returns false, having written nothing, for every other kind, a value
/// out of the field's range or a field past the end of `code`: the caller
/// then takes [`apply`]'s path, which picks a branch's stub or reports the
/// error naming the fixup. A relocation pass calls this first and pays the
/// general path only for what it declines.
#[inline]
pub(crate) fn patch_direct(
    kind: Reloc,
    code: &mut [u8],
    at: usize,
    p: u64,
    s: u64,
    a: i64,
) -> bool {
    let sum = s.wrapping_add_signed(a);
    let (value, fits) = match kind {
        Reloc::Pc32 | Reloc::Branch32 | Reloc::Abs32S => {
            let value = if kind == Reloc::Abs32S {
                sum
            } else {
                sum.wrapping_sub(p)
            };
            (value, i32::try_from(value as i64).is_ok())
        }
        Reloc::Abs32 => (sum, u32::try_from(sum).is_ok()),
        Reloc::Abs64 => {
            return match code.get_mut(at..).and_then(|c| c.first_chunk_mut::<8>()) {
                Some(field) => {
                    *field = sum.to_le_bytes();
                    true
                }
                None => false,
            };
        }
        _ => return false,
    };
    match code.get_mut(at..).and_then(|c| c.first_chunk_mut::<4>()) {
        Some(field) if fits => {
            // The low 32 bits: the range check above kept only values the
            // field represents.
            *field = (value as u32).to_le_bytes();
            true
        }
        _ => false,
    }
}

/// A `GotPcRelX` whose target the link defines, relaxed ([`relax_got_load`])
/// and patched as the `Pc32` it becomes, at `code[at..]` (P is `p`).
/// Returns false, changing nothing, when the instruction cannot be relaxed
/// or S + A is out of its reach: the GOT access then stays and reads its
/// slot, through [`apply`].
#[inline]
pub(crate) fn relax_and_patch(code: &mut [u8], at: usize, p: u64, s: u64, a: i64) -> bool {
    let values = FixupValues {
        p,
        s,
        a,
        ..FixupValues::default()
    };
    let Some(shift) = relax_got_load(code, at, &values) else {
        return false;
    };
    // The relaxation checked that S + A - P' fits, P' being the moved
    // field's address, and that the field lies inside `code`.
    let (at, p) = (
        at.wrapping_add_signed(shift),
        p.wrapping_add_signed(shift as i64),
    );
    let patched = patch_direct(Reloc::Pc32, code, at, p, s, a);
    debug_assert!(patched, "a relaxed GOT access reaches its target");
    patched
}

/// The value of every kind but Branch32, before range checking.
fn compute(kind: Reloc, v: &FixupValues) -> i128 {
    let p = i128::from(v.p);
    let s = i128::from(v.s);
    let a = i128::from(v.a);
    let got = i128::from(v.got_base);
    let slot = i128::from(v.got_slot);
    match kind {
        Reloc::Abs64 | Reloc::Abs32 | Reloc::Abs32S | Reloc::Abs16 | Reloc::Abs8 => s + a,
        Reloc::Pc32 | Reloc::Pc64 | Reloc::Pc16 | Reloc::Pc8 | Reloc::Branch32 => s + a - p,
        Reloc::GotPcRel32
        | Reloc::GotPcRelX
        | Reloc::TlsGd
        | Reloc::TlsLd
        | Reloc::GotTpOff
        | Reloc::GotPc32TlsDesc => slot + a - p,
        Reloc::TlsDescCall => 0,
        Reloc::DtpOff32 | Reloc::DtpOff64 => s + a,
        // S is already thread-pointer relative (the linker adds the module's
        // static TLS offset), and may be negative.
        Reloc::TpOff32 | Reloc::TpOff64 => i128::from(v.s as i64) + a,
        Reloc::GotPc32 | Reloc::GotPc64 => got + a - p,
        Reloc::Got64 | Reloc::Got32 => slot - got + a,
        // PLTOFF64: L + A - GOT with L = S, a 64-bit field reaches anything.
        Reloc::GotOff64 | Reloc::PltOff64 => s + a - got,
        Reloc::Size32 | Reloc::Size64 => i128::from(v.size) + a,
        Reloc::ImageRel32 => s + a - i128::from(v.image_base),
        Reloc::SecRel32 => s + a - i128::from(v.section_base),
        Reloc::SectionIndex => i128::from(v.section_index) + a,
    }
}

/// S + A - P when it fits, else L + A - P through the stub when there is one.
fn branch32_value(v: &FixupValues) -> Result<i128, FixupError> {
    let direct = modulo_2_64(compute(Reloc::Branch32, v));
    if (I32_MIN..=I32_MAX).contains(&direct) {
        return Ok(direct);
    }
    if v.stub == 0 {
        return check_range(direct, I32_MIN, I32_MAX);
    }
    // The stub jumps to S + A + 4 itself (the linker writes it so), so the
    // branch only has to reach the stub: L - 4 - P.
    let via_stub = displacement(v.stub, BRANCH32_BIAS, v.p);
    check_range(via_stub, I32_MIN, I32_MAX)
}

/// A GOT access through a RIP-relative memory operand that the psABI lets
/// the linker rewrite for `R_X86_64_(REX_)GOTPCRELX`, by the opcode and
/// ModRM byte before the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GotAccess {
    /// `mov foo@GOTPCREL(%rip), %reg` (`8B /r`, any REX prefix) becomes
    /// `lea foo(%rip), %reg` (`8D /r`); the field stays.
    Mov,
    /// `call *foo@GOTPCREL(%rip)` (`FF 15`) becomes `addr32 call foo`
    /// (`67 E8`): one instruction of the same length; the field stays.
    Call,
    /// `jmp *foo@GOTPCREL(%rip)` (`FF 25`) becomes `jmp foo; nop`
    /// (`E9 <rel32> 90`): the field starts one byte earlier.
    Jmp,
}

impl GotAccess {
    /// How many bytes the 4-byte field moves when the instruction is
    /// rewritten (its new start is `field + shift`).
    pub(crate) fn field_shift(self) -> isize {
        match self {
            GotAccess::Mov | GotAccess::Call => 0,
            GotAccess::Jmp => -1,
        }
    }
}

/// The rewritable GOT access whose 4-byte field is at `field` in `code`,
/// if the two bytes before it are one of [`GotAccess`]'s forms (ModRM mod
/// 00, r/m 101: RIP-relative). Anything else (`test`, `cmp`, arithmetic
/// through the GOT) is left alone.
pub(crate) fn got_access(code: &[u8], field: usize) -> Option<GotAccess> {
    let opcode = *code.get(field.checked_sub(2)?)?;
    let modrm = *code.get(field - 1)?;
    code.get(field..field.checked_add(4)?)?;
    match (opcode, modrm) {
        (0x8B, m) if m & 0xC7 == 0x05 => Some(GotAccess::Mov),
        (0xFF, 0x15) => Some(GotAccess::Call),
        (0xFF, 0x25) => Some(GotAccess::Jmp),
        _ => None,
    }
}

/// Whether the field at `field` in `code` belongs to a GOT access the
/// linker may rewrite to address its target directly ([`got_access`]).
pub(crate) fn can_relax_got_load(code: &[u8], field: usize) -> bool {
    got_access(code, field).is_some()
}

/// Rewrites the GOT access whose field is at `field` (P = `v.p`) so that it
/// addresses S + A directly, when the rewritten displacement S + A - P'
/// fits its signed 32 bits (P' being the field's new address). Returns the
/// field's shift ([`GotAccess::field_shift`]); the caller then applies a
/// `Pc32` with A at the shifted field. Returns `None`, changing nothing,
/// when the instruction is none of [`GotAccess`]'s forms or S + A is out
/// of reach.
pub(crate) fn relax_got_load(code: &mut [u8], field: usize, v: &FixupValues) -> Option<isize> {
    let access = got_access(code, field)?;
    let shift = access.field_shift();
    let p = v.p.wrapping_add_signed(shift as i64);
    if !(I32_MIN..=I32_MAX).contains(&displacement(v.s, v.a, p)) {
        return None;
    }
    match access {
        GotAccess::Mov => code[field - 2] = 0x8D,
        GotAccess::Call => {
            code[field - 2] = 0x67;
            code[field - 1] = 0xE8;
        }
        GotAccess::Jmp => {
            code[field - 2] = 0xE9;
            // The old displacement's last byte becomes the `nop` after the
            // 5-byte `jmp`; the new field (from `field - 1`) is written by
            // the caller's fixup.
            code[field + 3] = 0x90;
        }
    }
    Some(shift)
}

/// The addend a Branch32 has when it means "S itself": the field is 4 bytes
/// before the next instruction, which the displacement counts from.
pub(crate) const BRANCH32_BIAS: i64 = -4;

/// The 8 bytes of a stub at `stub` that jumps through the GOT slot at
/// `slot`:
///
/// ```text
/// FF 25 <disp32>   jmp *disp32(%rip)   ; disp32 = slot - (stub + 6)
/// CC CC            int3 padding
/// ```
///
/// It reads the target from the slot, so the slot is the one place that
/// holds it, and it clobbers no register (nor flags): it is right for
/// every calling convention, SysV and Win64 alike.
///
/// # Errors
///
/// [`FixupError::Overflow`] when the slot is not within ±2 GiB of the stub.
pub(crate) fn stub_bytes(stub: u64, slot: u64) -> Result<[u8; STUB_SIZE], FixupError> {
    let disp = check_range(
        displacement(slot, 0, stub.wrapping_add(STUB_JUMP_LEN as u64)),
        I32_MIN,
        I32_MAX,
    )?;
    let mut bytes = [0xCC; STUB_SIZE];
    bytes[0] = 0xFF;
    bytes[1] = 0x25;
    bytes[STUB_SLOT_FIELD..STUB_SLOT_FIELD + 4].copy_from_slice(&(disp as i32).to_le_bytes());
    Ok(bytes)
}

/// Writes at the start of `place` (whose address is `stub`) a stub that
/// jumps through the GOT slot at `slot` ([`stub_bytes`]).
///
/// # Errors
///
/// A place shorter than [`STUB_SIZE`] gives [`FixupError::PlaceOutOfBounds`],
/// a slot out of reach [`FixupError::Overflow`]; either way the place is
/// left untouched.
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

/// Bytes of an indirect function's thunk ([`ifunc_thunk_bytes`]).
pub(crate) const IFUNC_THUNK_SIZE: usize = 16;

/// The thunk that stands for an indirect function (`STT_GNU_IFUNC`): it
/// jumps to the address the word at `slot` holds (the resolver's result,
/// written there after the module is finalized), reaching it wherever it is:
///
/// ```text
/// 49 BB <imm64>   movabs $slot, %r11
/// 41 FF 23        jmp    *(%r11)
/// CC CC CC        int3 padding
/// ```
pub(crate) fn ifunc_thunk_bytes(slot: u64) -> [u8; IFUNC_THUNK_SIZE] {
    let mut thunk = [0xCC; IFUNC_THUNK_SIZE];
    thunk[0] = 0x49;
    thunk[1] = 0xBB;
    thunk[2..10].copy_from_slice(&slot.to_le_bytes());
    thunk[10..13].copy_from_slice(&[0x41, 0xFF, 0x23]);
    thunk
}

#[cfg(test)]
mod tests;
