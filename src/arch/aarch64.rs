//! AArch64 relocation math for ELF and Mach-O.
//!
//! The loaders map each format's raw relocation type to one [`Reloc`]; this
//! file computes the value, checks its range and alignment, and encodes it
//! into the instruction or data at the place (little-endian).

use super::{FixupError, FixupValues};

/// The fixup kinds of AArch64, format-neutral. Names follow AAELF64; the doc
/// of each says which raw types map to it. `Page(x)` is `x & !0xfff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reloc {
    /// S + A, 64 bits. ELF `ABS64`, Mach-O `UNSIGNED` (length 3).
    Abs64,
    /// S + A, 32 bits, in [-2^31, 2^32). ELF `ABS32`, Mach-O `UNSIGNED` (length 2).
    Abs32,
    /// S + A, 16 bits, in [-2^15, 2^16). ELF `ABS16`.
    Abs16,
    /// S + A - P, 64 bits. ELF `PREL64`.
    Prel64,
    /// S + A - P, 32 bits, in [-2^31, 2^32). ELF `PREL32`.
    Prel32,
    /// S + A - P, 16 bits, in [-2^15, 2^16). ELF `PREL16`.
    Prel16,
    /// `bl`: S + A - P, imm26 words (±128 MiB), or through a stub (veneer).
    /// ELF `CALL26`, Mach-O `BRANCH26`.
    Call26,
    /// `b`: as `Call26`. ELF `JUMP26`.
    Jump26,
    /// `b.cond`/`cbz`/`cbnz`: S + A - P, imm19 words (±1 MiB). ELF `CONDBR19`.
    CondBr19,
    /// `tbz`/`tbnz`: S + A - P, imm14 words (±32 KiB). ELF `TSTBR14`.
    TstBr14,
    /// `adrp`: Page(S + A) - Page(P), imm21 pages (±4 GiB), checked.
    /// ELF `ADR_PREL_PG_HI21`, Mach-O `PAGE21`.
    AdrPrelPgHi21,
    /// As `AdrPrelPgHi21`, not checked. ELF `ADR_PREL_PG_HI21_NC`.
    AdrPrelPgHi21Nc,
    /// `adr`: S + A - P, imm21 bytes (±1 MiB). ELF `ADR_PREL_LO21`.
    AdrPrelLo21,
    /// `add`: (S + A) & 0xfff, not checked. ELF `ADD_ABS_LO12_NC`.
    AddAbsLo12Nc,
    /// `ldr/str` 8-bit: (S + A) & 0xfff. ELF `LDST8_ABS_LO12_NC`.
    Ldst8AbsLo12Nc,
    /// 16-bit: ((S + A) & 0xfff) >> 1, must be 2-aligned. ELF `LDST16_ABS_LO12_NC`.
    Ldst16AbsLo12Nc,
    /// 32-bit: >> 2, 4-aligned. ELF `LDST32_ABS_LO12_NC`.
    Ldst32AbsLo12Nc,
    /// 64-bit: >> 3, 8-aligned. ELF `LDST64_ABS_LO12_NC`.
    Ldst64AbsLo12Nc,
    /// 128-bit: >> 4, 16-aligned. ELF `LDST128_ABS_LO12_NC`.
    Ldst128AbsLo12Nc,
    /// Mach-O `PAGEOFF12`: (S + A) & 0xfff, scaled by the access size of the
    /// instruction at the place (add: 1; ldr/str: decoded from the opcode).
    PageOff12,
    /// `ldr` literal: S + A - P, imm19 words (±1 MiB). ELF `LD_PREL_LO19`.
    LdPrelLo19,
    /// `movz/movk`: bits [15:0] of S + A, checked to fit 16 bits unsigned. ELF `MOVW_UABS_G0`.
    MovwUabsG0,
    /// bits [15:0], not checked. ELF `MOVW_UABS_G0_NC`.
    MovwUabsG0Nc,
    /// bits [31:16], checked to fit 32 bits. ELF `MOVW_UABS_G1`.
    MovwUabsG1,
    /// bits [31:16], not checked. ELF `MOVW_UABS_G1_NC`.
    MovwUabsG1Nc,
    /// bits [47:32], checked to fit 48 bits. ELF `MOVW_UABS_G2`.
    MovwUabsG2,
    /// bits [47:32], not checked. ELF `MOVW_UABS_G2_NC`.
    MovwUabsG2Nc,
    /// bits [63:48]. ELF `MOVW_UABS_G3`.
    MovwUabsG3,
    /// `movn/movz`: S + A - P bits [15:0], signed check; sets movn/movz by sign. ELF `MOVW_PREL_G0`.
    MovwPrelG0,
    /// `movk`: bits [15:0], not checked. ELF `MOVW_PREL_G0_NC`.
    MovwPrelG0Nc,
    /// bits [31:16], signed check. ELF `MOVW_PREL_G1`.
    MovwPrelG1,
    /// bits [31:16], not checked. ELF `MOVW_PREL_G1_NC`.
    MovwPrelG1Nc,
    /// bits [47:32], signed check. ELF `MOVW_PREL_G2`.
    MovwPrelG2,
    /// bits [47:32], not checked. ELF `MOVW_PREL_G2_NC`.
    MovwPrelG2Nc,
    /// bits [63:48]. ELF `MOVW_PREL_G3`.
    MovwPrelG3,
    /// `adrp` to the GOT slot: Page(G) - Page(P). ELF `ADR_GOT_PAGE`, Mach-O `GOT_LOAD_PAGE21`.
    AdrGotPage,
    /// `ldr x` from the GOT slot: G & 0xfff >> 3, 8-aligned. ELF `LD64_GOT_LO12_NC`,
    /// Mach-O `GOT_LOAD_PAGEOFF12`.
    Ld64GotLo12Nc,
    /// G + A - P, 32 bits signed. Mach-O `POINTER_TO_GOT` (pc-relative, length 2).
    GotPrel32,
    /// G, 64 bits (the slot's address). Mach-O `POINTER_TO_GOT` (absolute, length 3).
    GotAbs64,
}

impl Reloc {
    /// Whether the fixup reads a GOT slot holding S (the linker must make one).
    pub fn needs_got_slot(self) -> bool {
        todo!()
    }

    /// Whether the fixup refers to the GOT base.
    pub fn needs_got_base(self) -> bool {
        todo!()
    }

    /// Whether the fixup is a branch that may go through a stub (veneer).
    pub fn is_branch(self) -> bool {
        todo!()
    }

    /// Whether the branch at `p` reaches `s + a` directly (false for non-branches).
    pub fn branch_reaches(self, p: u64, s: u64, a: i64) -> bool {
        let _ = (p, s, a);
        todo!()
    }

    /// A short stable name for messages, e.g. `CALL26`.
    pub fn name(self) -> &'static str {
        todo!()
    }
}

impl std::fmt::Display for Reloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes of one stub (veneer): `ldr x16, #8; br x16; .quad target`.
pub const STUB_SIZE: usize = 16;
/// Alignment of stubs (the literal must be 8-aligned).
pub const STUB_ALIGN: usize = 8;
/// Bytes of one GOT slot.
pub const GOT_SLOT_SIZE: usize = 8;

/// Computes the fixup `kind` from `v` and writes it into the instruction or
/// data at the start of `place`. Branch kinds use `v.stub` when S + A - P is
/// out of reach and `v.stub` is non-zero.
pub fn apply(kind: Reloc, place: &mut [u8], v: &FixupValues) -> Result<(), FixupError> {
    let _ = (kind, place, v);
    todo!()
}

/// Writes a veneer at the start of `place` that jumps to `target` using only
/// x16 (IP0), which the procedure-call standard leaves free for veneers.
pub fn write_stub(place: &mut [u8], target: u64) -> Result<(), FixupError> {
    let _ = (place, target);
    todo!()
}
