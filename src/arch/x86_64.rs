//! x86-64 relocation math for ELF, Mach-O and COFF.
//!
//! The loaders map each format's raw relocation type to one [`Reloc`]; this
//! file computes and range-checks the value and writes it.

use super::{FixupError, FixupValues};

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
    /// GOT slot + A - P, signed 32 bits. ELF `R_X86_64_GOTPCREL`, `GOTPCRELX`,
    /// `REX_GOTPCRELX`, Mach-O `GOT_LOAD`, `GOT`.
    GotPcRel32,
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
}

impl Reloc {
    /// Whether the fixup reads a GOT slot holding S (the linker must make one).
    pub fn needs_got_slot(self) -> bool {
        todo!()
    }

    /// Whether the fixup refers to the GOT base (the linker must give the
    /// module a GOT, even an empty one).
    pub fn needs_got_base(self) -> bool {
        todo!()
    }

    /// Whether the fixup is a branch that may go through a stub when S is out of reach.
    pub fn is_branch(self) -> bool {
        todo!()
    }

    /// Whether S + A - P fits this branch's field (false for non-branches).
    pub fn branch_reaches(self, p: u64, s: u64, a: i64) -> bool {
        todo!()
    }

    /// A short stable name for messages, e.g. `PC32`.
    pub fn name(self) -> &'static str {
        todo!()
    }
}

impl std::fmt::Display for Reloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes of one stub. A stub jumps to an absolute 64-bit address.
pub const STUB_SIZE: usize = 16;
/// Alignment of stubs.
pub const STUB_ALIGN: usize = 16;
/// Bytes of one GOT slot.
pub const GOT_SLOT_SIZE: usize = 8;

/// Computes the fixup `kind` from `v` and writes it at the start of `place`.
/// Branch32 uses `v.stub` when S + A - P does not fit and `v.stub` is non-zero.
pub fn apply(kind: Reloc, place: &mut [u8], v: &FixupValues) -> Result<(), FixupError> {
    todo!()
}

/// Writes a stub at the start of `place` that jumps to `target` without
/// clobbering any register an ABI passes arguments in (x86-64 SysV or Win64).
pub fn write_stub(place: &mut [u8], target: u64) -> Result<(), FixupError> {
    todo!()
}
