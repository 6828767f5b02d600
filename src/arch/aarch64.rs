//! AArch64 relocation math for ELF, Mach-O and COFF (Windows on Arm).
//!
//! The loaders map each format's raw relocation type to one [`Reloc`]; this
//! file computes the value, checks its range and alignment, and encodes it
//! into the instruction or data at the place (little-endian).
//!
//! COFF arm64 reuses the ELF kinds where the field and its meaning are the
//! same (`BRANCH26` is `CALL26`, `PAGEBASE_REL21` is `ADR_PREL_PG_HI21`, ...)
//! and has kinds of its own where COFF's meaning differs: image-relative
//! (`ADDR32NB`), section-relative (`SECREL*`), the section number
//! (`SECTION`), an unsigned 32-bit address (`ADDR32`) and a signed 32-bit
//! displacement from the end of the field (`REL32`). COFF addends are
//! implicit, held in the field at the place: `coff_implicit_addend` reads
//! them out per instruction form.

use super::{check_range, displacement, modulo_2_64, read_le, write_le, FixupError, FixupValues};

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
    /// `movz/movk`: bits `[15:0]` of S + A, checked to fit 16 bits unsigned. ELF `MOVW_UABS_G0`.
    MovwUabsG0,
    /// bits `[15:0]`, not checked. ELF `MOVW_UABS_G0_NC`.
    MovwUabsG0Nc,
    /// bits `[31:16]`, checked to fit 32 bits. ELF `MOVW_UABS_G1`.
    MovwUabsG1,
    /// bits `[31:16]`, not checked. ELF `MOVW_UABS_G1_NC`.
    MovwUabsG1Nc,
    /// bits `[47:32]`, checked to fit 48 bits. ELF `MOVW_UABS_G2`.
    MovwUabsG2,
    /// bits `[47:32]`, not checked. ELF `MOVW_UABS_G2_NC`.
    MovwUabsG2Nc,
    /// bits `[63:48]`. ELF `MOVW_UABS_G3`.
    MovwUabsG3,
    /// `movn/movz`: S + A - P bits `[15:0]`, signed check; sets movn/movz by sign
    /// (a `movk` at the place keeps its opcode and takes the raw bits). ELF `MOVW_PREL_G0`.
    MovwPrelG0,
    /// `movk`: bits `[15:0]`, not checked. ELF `MOVW_PREL_G0_NC`.
    MovwPrelG0Nc,
    /// bits `[31:16]`, signed check. ELF `MOVW_PREL_G1`.
    MovwPrelG1,
    /// bits `[31:16]`, not checked. ELF `MOVW_PREL_G1_NC`.
    MovwPrelG1Nc,
    /// bits `[47:32]`, signed check. ELF `MOVW_PREL_G2`.
    MovwPrelG2,
    /// bits `[47:32]`, not checked. ELF `MOVW_PREL_G2_NC`.
    MovwPrelG2Nc,
    /// bits `[63:48]`, no check needed; sets movn/movz by sign as G0-G2 do. ELF `MOVW_PREL_G3`.
    MovwPrelG3,
    /// `adrp` to the GOT slot: Page(G + A) - Page(P), checked as `AdrPrelPgHi21`.
    /// ELF `ADR_GOT_PAGE`, Mach-O `GOT_LOAD_PAGE21`.
    AdrGotPage,
    /// `ldr x` from the GOT slot: ((G + A) & 0xfff) >> 3, 8-aligned. ELF `LD64_GOT_LO12_NC`,
    /// Mach-O `GOT_LOAD_PAGEOFF12`.
    Ld64GotLo12Nc,
    /// G + A - P, 32 bits signed. Mach-O `POINTER_TO_GOT` (pc-relative, length 2),
    /// ELF `GOTPCREL32`.
    GotPrel32,
    /// G + A, 64 bits (the slot's address). Mach-O `POINTER_TO_GOT` (absolute, length 3).
    GotAbs64,
    /// Local exec, `add` (with `lsl #12`): bits `[23:12]` of TPREL(S + A),
    /// checked to lie in [0, 2^24). S is the target's offset from the thread
    /// pointer (`tpidr_el0`). ELF `TLSLE_ADD_TPREL_HI12`.
    TlsLeAddTprelHi12,
    /// `add`: bits `[11:0]` of TPREL(S + A), checked to lie in [0, 2^12).
    /// ELF `TLSLE_ADD_TPREL_LO12`.
    TlsLeAddTprelLo12,
    /// As `TlsLeAddTprelLo12`, not checked. ELF `TLSLE_ADD_TPREL_LO12_NC`.
    TlsLeAddTprelLo12Nc,
    /// `movz/movn`: bits `[47:32]` of TPREL(S + A), signed 49-bit check.
    /// ELF `TLSLE_MOVW_TPREL_G2`.
    TlsLeMovwTprelG2,
    /// bits `[31:16]`, signed 33-bit check. ELF `TLSLE_MOVW_TPREL_G1`.
    TlsLeMovwTprelG1,
    /// `movk`: bits `[31:16]`, not checked. ELF `TLSLE_MOVW_TPREL_G1_NC`.
    TlsLeMovwTprelG1Nc,
    /// bits `[15:0]`, signed 17-bit check. ELF `TLSLE_MOVW_TPREL_G0`.
    TlsLeMovwTprelG0,
    /// `movk`: bits `[15:0]`, not checked. ELF `TLSLE_MOVW_TPREL_G0_NC`.
    TlsLeMovwTprelG0Nc,
    /// Initial exec, `adrp` to the GOT slot holding TPREL(S): as
    /// `AdrGotPage`. ELF `TLSIE_ADR_GOTTPREL_PAGE21`.
    TlsIeAdrGottprelPage21,
    /// `ldr x` from that slot: as `Ld64GotLo12Nc`. ELF
    /// `TLSIE_LD64_GOTTPREL_LO12_NC`.
    TlsIeLd64GottprelLo12Nc,
    /// TLS descriptor, `adrp`: Page(G + A) - Page(P), G the descriptor's
    /// address (two GOT slots: resolver, argument), checked as
    /// `AdrPrelPgHi21`. ELF `TLSDESC_ADR_PAGE21`.
    TlsDescAdrPage21,
    /// `ldr x` of the descriptor's resolver: ((G + A) & 0xfff) >> 3,
    /// 8-aligned. ELF `TLSDESC_LD64_LO12`.
    TlsDescLd64Lo12,
    /// `add`: (G + A) & 0xfff. ELF `TLSDESC_ADD_LO12`.
    TlsDescAddLo12,
    /// Marks the `blr` through the descriptor; writes nothing. ELF
    /// `TLSDESC_CALL`.
    TlsDescCall,
    /// COFF `ADDR32`: S + A, a 32-bit address, in [0, 2^32).
    Addr32,
    /// COFF `ADDR32NB`: S + A - ImageBase, in [0, 2^32).
    ImageRel32,
    /// COFF `SECREL`: S + A - the base of S's section, in [0, 2^32).
    SecRel32,
    /// COFF `SECREL_LOW12A`: `add` immediate, (S + A - section base) & 0xfff,
    /// not checked.
    SecRelLo12A,
    /// COFF `SECREL_HIGH12A`: `add` immediate, (S + A - section base) >> 12,
    /// the offset checked in [0, 2^24).
    SecRelHi12A,
    /// COFF `SECREL_LOW12L`: load/store unsigned offset, (S + A - section
    /// base) & 0xfff scaled by the access size, not checked.
    SecRelLo12L,
    /// COFF `SECTION`: the target's section number + A, 16 bits unsigned.
    SectionIndex,
    /// COFF `REL32`: S + A - P, 32 bits signed. COFF measures from the end of
    /// the field (P + 4); the loader folds the 4 into A.
    Rel32,
    /// COFF `PAGEOFFSET_12A` on the `add x, x, #lo12` of an `adrp`+`add`
    /// pair that takes the address of a symbol defined outside the object
    /// (the loader turns its `adrp` into `AdrGotPage`): the `add` becomes
    /// `ldr x, [x, #lo12(G + A)]`, loading the address from the target's GOT
    /// slot, so the target may lie anywhere (COFF arm64 has no GOT
    /// relocations; a host or DLL symbol is usually beyond `adrp`'s ±4 GiB).
    AddToGotLoad,
}

impl Reloc {
    /// Every kind, in declaration order.
    pub const ALL: [Reloc; 62] = [
        Reloc::Abs64,
        Reloc::Abs32,
        Reloc::Abs16,
        Reloc::Prel64,
        Reloc::Prel32,
        Reloc::Prel16,
        Reloc::Call26,
        Reloc::Jump26,
        Reloc::CondBr19,
        Reloc::TstBr14,
        Reloc::AdrPrelPgHi21,
        Reloc::AdrPrelPgHi21Nc,
        Reloc::AdrPrelLo21,
        Reloc::AddAbsLo12Nc,
        Reloc::Ldst8AbsLo12Nc,
        Reloc::Ldst16AbsLo12Nc,
        Reloc::Ldst32AbsLo12Nc,
        Reloc::Ldst64AbsLo12Nc,
        Reloc::Ldst128AbsLo12Nc,
        Reloc::PageOff12,
        Reloc::LdPrelLo19,
        Reloc::MovwUabsG0,
        Reloc::MovwUabsG0Nc,
        Reloc::MovwUabsG1,
        Reloc::MovwUabsG1Nc,
        Reloc::MovwUabsG2,
        Reloc::MovwUabsG2Nc,
        Reloc::MovwUabsG3,
        Reloc::MovwPrelG0,
        Reloc::MovwPrelG0Nc,
        Reloc::MovwPrelG1,
        Reloc::MovwPrelG1Nc,
        Reloc::MovwPrelG2,
        Reloc::MovwPrelG2Nc,
        Reloc::MovwPrelG3,
        Reloc::AdrGotPage,
        Reloc::Ld64GotLo12Nc,
        Reloc::GotPrel32,
        Reloc::GotAbs64,
        Reloc::TlsLeAddTprelHi12,
        Reloc::TlsLeAddTprelLo12,
        Reloc::TlsLeAddTprelLo12Nc,
        Reloc::TlsLeMovwTprelG2,
        Reloc::TlsLeMovwTprelG1,
        Reloc::TlsLeMovwTprelG1Nc,
        Reloc::TlsLeMovwTprelG0,
        Reloc::TlsLeMovwTprelG0Nc,
        Reloc::TlsIeAdrGottprelPage21,
        Reloc::TlsIeLd64GottprelLo12Nc,
        Reloc::TlsDescAdrPage21,
        Reloc::TlsDescLd64Lo12,
        Reloc::TlsDescAddLo12,
        Reloc::TlsDescCall,
        Reloc::Addr32,
        Reloc::ImageRel32,
        Reloc::SecRel32,
        Reloc::SecRelLo12A,
        Reloc::SecRelHi12A,
        Reloc::SecRelLo12L,
        Reloc::SectionIndex,
        Reloc::Rel32,
        Reloc::AddToGotLoad,
    ];

    /// Whether the fixup reads a GOT slot holding S (the linker must make one).
    pub(crate) fn needs_got_slot(self) -> bool {
        matches!(
            self,
            Reloc::AdrGotPage
                | Reloc::Ld64GotLo12Nc
                | Reloc::GotPrel32
                | Reloc::GotAbs64
                | Reloc::TlsIeAdrGottprelPage21
                | Reloc::TlsIeLd64GottprelLo12Nc
                | Reloc::AddToGotLoad
        )
    }

    /// Whether S is the target's offset from the thread pointer (the
    /// static TLS models and descriptors): the linker must give the module
    /// a piece of static TLS. For the initial-exec kinds the GOT slot holds
    /// that offset; for descriptors, the descriptor's second word.
    pub fn is_tp_relative(self) -> bool {
        matches!(
            self,
            Reloc::TlsLeAddTprelHi12
                | Reloc::TlsLeAddTprelLo12
                | Reloc::TlsLeAddTprelLo12Nc
                | Reloc::TlsLeMovwTprelG2
                | Reloc::TlsLeMovwTprelG1
                | Reloc::TlsLeMovwTprelG1Nc
                | Reloc::TlsLeMovwTprelG0
                | Reloc::TlsLeMovwTprelG0Nc
                | Reloc::TlsIeAdrGottprelPage21
                | Reloc::TlsIeLd64GottprelLo12Nc
                | Reloc::TlsDescAdrPage21
                | Reloc::TlsDescLd64Lo12
                | Reloc::TlsDescAddLo12
        )
    }

    /// The TLS pair (here: descriptor) the fixup needs the linker to make.
    pub(crate) fn tls_pair(self) -> Option<crate::arch::TlsPair> {
        matches!(
            self,
            Reloc::TlsDescAdrPage21 | Reloc::TlsDescLd64Lo12 | Reloc::TlsDescAddLo12
        )
        .then_some(crate::arch::TlsPair::Descriptor)
    }

    /// Whether the fixup refers to the GOT base.
    ///
    /// No AArch64 kind uses the GOT base alone; every kind that needs a slot
    /// needs a GOT, so this is the same set as [`Reloc::needs_got_slot`].
    pub(crate) fn needs_got_base(self) -> bool {
        self.needs_got_slot()
    }

    /// Whether the fixup is computed from the target's section (COFF
    /// `SECREL*`, `SECTION`): the linker provides the section's base and number.
    pub(crate) fn is_section_relative(self) -> bool {
        matches!(
            self,
            Reloc::SecRel32
                | Reloc::SecRelLo12A
                | Reloc::SecRelHi12A
                | Reloc::SecRelLo12L
                | Reloc::SectionIndex
        )
    }

    /// Whether the fixup is a branch that may go through a stub (veneer).
    pub(crate) fn is_branch(self) -> bool {
        self.branch_range().is_some()
    }

    /// Whether the branch at `p` reaches `s + a` directly (false for non-branches).
    ///
    /// Only the range is considered; a target that is not 4-aligned is an
    /// error of [`apply`] whether or not it is in range.
    pub(crate) fn branch_reaches(self, p: u64, s: u64, a: i64) -> bool {
        match self.branch_range() {
            Some((min, max)) => {
                let value = displacement(s, a, p);
                (min..=max).contains(&value)
            }
            None => false,
        }
    }

    /// The byte displacements a branch kind encodes, `[min, max]` (`max` is
    /// the last multiple of 4 that fits); `None` for the other kinds.
    pub(crate) fn branch_range(self) -> Option<(i128, i128)> {
        let bits = match self {
            Reloc::Call26 | Reloc::Jump26 => 28,
            Reloc::CondBr19 => 21,
            Reloc::TstBr14 => 16,
            _ => return None,
        };
        Some((-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 4))
    }

    /// A short stable name for messages, e.g. `CALL26`: the AAELF64 name
    /// without `R_AARCH64_`, the Mach-O name for the Mach-O-only kinds
    /// (`PAGEOFF12`, `GOT_PREL32`, `GOT_ABS64`), the COFF name without
    /// `IMAGE_REL_ARM64_` for the COFF-only kinds (`ADDR32NB`, `SECREL`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Reloc::Abs64 => "ABS64",
            Reloc::Abs32 => "ABS32",
            Reloc::Abs16 => "ABS16",
            Reloc::Prel64 => "PREL64",
            Reloc::Prel32 => "PREL32",
            Reloc::Prel16 => "PREL16",
            Reloc::Call26 => "CALL26",
            Reloc::Jump26 => "JUMP26",
            Reloc::CondBr19 => "CONDBR19",
            Reloc::TstBr14 => "TSTBR14",
            Reloc::AdrPrelPgHi21 => "ADR_PREL_PG_HI21",
            Reloc::AdrPrelPgHi21Nc => "ADR_PREL_PG_HI21_NC",
            Reloc::AdrPrelLo21 => "ADR_PREL_LO21",
            Reloc::AddAbsLo12Nc => "ADD_ABS_LO12_NC",
            Reloc::Ldst8AbsLo12Nc => "LDST8_ABS_LO12_NC",
            Reloc::Ldst16AbsLo12Nc => "LDST16_ABS_LO12_NC",
            Reloc::Ldst32AbsLo12Nc => "LDST32_ABS_LO12_NC",
            Reloc::Ldst64AbsLo12Nc => "LDST64_ABS_LO12_NC",
            Reloc::Ldst128AbsLo12Nc => "LDST128_ABS_LO12_NC",
            Reloc::PageOff12 => "PAGEOFF12",
            Reloc::LdPrelLo19 => "LD_PREL_LO19",
            Reloc::MovwUabsG0 => "MOVW_UABS_G0",
            Reloc::MovwUabsG0Nc => "MOVW_UABS_G0_NC",
            Reloc::MovwUabsG1 => "MOVW_UABS_G1",
            Reloc::MovwUabsG1Nc => "MOVW_UABS_G1_NC",
            Reloc::MovwUabsG2 => "MOVW_UABS_G2",
            Reloc::MovwUabsG2Nc => "MOVW_UABS_G2_NC",
            Reloc::MovwUabsG3 => "MOVW_UABS_G3",
            Reloc::MovwPrelG0 => "MOVW_PREL_G0",
            Reloc::MovwPrelG0Nc => "MOVW_PREL_G0_NC",
            Reloc::MovwPrelG1 => "MOVW_PREL_G1",
            Reloc::MovwPrelG1Nc => "MOVW_PREL_G1_NC",
            Reloc::MovwPrelG2 => "MOVW_PREL_G2",
            Reloc::MovwPrelG2Nc => "MOVW_PREL_G2_NC",
            Reloc::MovwPrelG3 => "MOVW_PREL_G3",
            Reloc::AdrGotPage => "ADR_GOT_PAGE",
            Reloc::Ld64GotLo12Nc => "LD64_GOT_LO12_NC",
            Reloc::GotPrel32 => "GOT_PREL32",
            Reloc::GotAbs64 => "GOT_ABS64",
            Reloc::TlsLeAddTprelHi12 => "TLSLE_ADD_TPREL_HI12",
            Reloc::TlsLeAddTprelLo12 => "TLSLE_ADD_TPREL_LO12",
            Reloc::TlsLeAddTprelLo12Nc => "TLSLE_ADD_TPREL_LO12_NC",
            Reloc::TlsLeMovwTprelG2 => "TLSLE_MOVW_TPREL_G2",
            Reloc::TlsLeMovwTprelG1 => "TLSLE_MOVW_TPREL_G1",
            Reloc::TlsLeMovwTprelG1Nc => "TLSLE_MOVW_TPREL_G1_NC",
            Reloc::TlsLeMovwTprelG0 => "TLSLE_MOVW_TPREL_G0",
            Reloc::TlsLeMovwTprelG0Nc => "TLSLE_MOVW_TPREL_G0_NC",
            Reloc::TlsIeAdrGottprelPage21 => "TLSIE_ADR_GOTTPREL_PAGE21",
            Reloc::TlsIeLd64GottprelLo12Nc => "TLSIE_LD64_GOTTPREL_LO12_NC",
            Reloc::TlsDescAdrPage21 => "TLSDESC_ADR_PAGE21",
            Reloc::TlsDescLd64Lo12 => "TLSDESC_LD64_LO12",
            Reloc::TlsDescAddLo12 => "TLSDESC_ADD_LO12",
            Reloc::TlsDescCall => "TLSDESC_CALL",
            Reloc::Addr32 => "ADDR32",
            Reloc::ImageRel32 => "ADDR32NB",
            Reloc::SecRel32 => "SECREL",
            Reloc::SecRelLo12A => "SECREL_LOW12A",
            Reloc::SecRelHi12A => "SECREL_HIGH12A",
            Reloc::SecRelLo12L => "SECREL_LOW12L",
            Reloc::SectionIndex => "SECTION",
            Reloc::Rel32 => "REL32",
            Reloc::AddToGotLoad => "PAGEOFFSET_12A_GOT",
        }
    }

    /// The bytes the fixup writes at the start of the place: 4 for every
    /// instruction kind, the data width for the data kinds.
    pub fn field_size(self) -> usize {
        match self {
            Reloc::Abs16 | Reloc::Prel16 | Reloc::SectionIndex => 2,
            Reloc::Abs64 | Reloc::Prel64 | Reloc::GotAbs64 => 8,
            Reloc::TlsDescCall => 0,
            _ => 4,
        }
    }
}

impl std::fmt::Display for Reloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes of one stub (veneer): `adrp x16, slot; ldr x16, [x16, :lo12:slot];
/// br x16`.
pub(crate) const STUB_SIZE: usize = 12;
/// Alignment of stubs (instructions).
pub(crate) const STUB_ALIGN: usize = 4;
/// Bytes of one GOT slot.
pub(crate) const GOT_SLOT_SIZE: usize = 8;

/// Computes the fixup `kind` from `v` and writes it into the instruction or
/// data at the start of `place`. Branch kinds use `v.stub` when S + A - P is
/// out of reach and `v.stub` is non-zero.
///
/// Values are computed in `i128`, so nothing wraps before the range check.
/// The ranges are AAELF64's; a checked kind outside its range gives
/// [`FixupError::Overflow`] with the computed value (for `adrp` kinds the
/// byte distance between the pages, for branches the byte displacement).
/// The `_NC` kinds and the 64-bit data kinds take the value's low bits.
///
/// Instruction kinds first check that the word at the place is the
/// instruction the kind applies to (`b`/`bl` for `CALL26`/`JUMP26`, `adrp`,
/// `add` immediate, a load or store with an unsigned 12-bit offset, a move
/// wide, ...) and rewrite only its immediate field (and, for the signed MOVW
/// kinds, the `movz`/`movn` opcode bit). Notes per kind:
///
/// - Branches and `LD_PREL_LO19`: a target that is not 4-aligned is
///   [`FixupError::Invalid`]; the `max` of an overflow is the last multiple of 4
///   that fits.
///   Through a stub the value is L + A - P, the stub standing in for S.
/// - `LDSTn_ABS_LO12_NC`, `LD64_GOT_LO12_NC` and `PAGEOFF12`: the low 12
///   bits are scaled by the access size; low bits that the scaling would
///   drop are [`FixupError::Invalid`]. `PAGEOFF12` reads the scale from the
///   instruction: `add`/`sub` immediate 1, loads and stores (general and
///   SIMD&FP, 8 to 128 bits, and `prfm`) their access size.
/// - `MOVW_PREL_G0`..`G3`: for X >= 0 the instruction becomes `movz` with the
///   group of X, else `movn` with the group of !X (AAELF64's `MOV[NZ]`), so
///   that the instruction alone or followed by `movk`s builds X. A `movk` at
///   the place keeps its opcode and takes the group of X. The `_NC` kinds
///   and the `UABS` kinds keep the opcode.
/// - GOT kinds use G + A, G being `v.got_slot` (the slot's address); a
///   missing slot (`v.got_slot == 0`) is [`FixupError::Invalid`].
///
/// # Errors
///
/// A place shorter than the field gives [`FixupError::PlaceOutOfBounds`], a
/// value out of range [`FixupError::Overflow`], a misaligned value, a
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
    if kind == Reloc::TlsDescCall {
        // The `blr` through the descriptor stays as it is.
        return Ok(());
    }
    if (kind.needs_got_slot() || kind.tls_pair().is_some()) && v.got_slot == 0 {
        return Err(FixupError::Invalid(
            "the fixup reads a GOT slot but no GOT slot was given",
        ));
    }
    let p = i128::from(v.p);
    let s = i128::from(v.s);
    let a = i128::from(v.a);
    let g = i128::from(v.got_slot);
    // Truncation to the low bits (`as u64`) is the intent below: each
    // checked value has been range-checked first.
    match kind {
        Reloc::Abs64 => write_le::<8>(place, (s + a) as u64),
        Reloc::Prel64 => write_le::<8>(place, (s + a - p) as u64),
        Reloc::GotAbs64 => write_le::<8>(place, (g + a) as u64),
        Reloc::Abs32 => write_le::<4>(place, check_range(s + a, -(1 << 31), U32_MAX)? as u64),
        Reloc::Prel32 => write_le::<4>(place, check_range(s + a - p, -(1 << 31), U32_MAX)? as u64),
        Reloc::GotPrel32 => write_le::<4>(place, check_range(g + a - p, I32_MIN, I32_MAX)? as u64),
        Reloc::Abs16 => write_le::<2>(place, check_range(s + a, -(1 << 15), U16_MAX)? as u64),
        Reloc::Prel16 => write_le::<2>(place, check_range(s + a - p, -(1 << 15), U16_MAX)? as u64),
        Reloc::Addr32 => write_le::<4>(place, check_range(s + a, 0, U32_MAX)? as u64),
        Reloc::ImageRel32 => {
            let x = s + a - i128::from(v.image_base);
            write_le::<4>(place, check_range(x, 0, U32_MAX)? as u64)
        }
        Reloc::SecRel32 => {
            let x = s + a - i128::from(v.section_base);
            write_le::<4>(place, check_range(x, 0, U32_MAX)? as u64)
        }
        Reloc::Rel32 => write_le::<4>(place, check_range(s + a - p, I32_MIN, I32_MAX)? as u64),
        Reloc::SectionIndex => {
            let x = i128::from(v.section_index) + a;
            write_le::<2>(place, check_range(x, 0, U16_MAX)? as u64)
        }
        _ => {
            let insn = read_le::<4>(place)? as u32;
            let patched = patch_instruction(kind, insn, v)?;
            write_le::<4>(place, u64::from(patched))
        }
    }
}

const I32_MIN: i128 = i32::MIN as i128;
const I32_MAX: i128 = i32::MAX as i128;
const U32_MAX: i128 = u32::MAX as i128;
const U16_MAX: i128 = u16::MAX as i128;
/// `add x, x, #imm` (64-bit, no shift), without its registers and immediate.
const ADD_X_IMM: u32 = 0x9100_0000;
/// `ldr x, [x, #imm]` (unsigned offset), without its registers and immediate.
const LDR_X_UIMM: u32 = 0xf940_0000;

/// Whether an `adrp` and the instruction after it are the `adrp xd, sym;
/// add xd, xd, #lo12` pair that takes a symbol's address (what LLVM expands
/// its `MOVaddr` into): the add reads and writes the adrp's register, so
/// no other instruction sees the page. Such a pair may load the address
/// from a GOT slot instead ([`Reloc::AddToGotLoad`]).
pub(crate) fn is_address_pair(adrp: u32, add: u32) -> bool {
    let rd = adrp & 0x1f;
    is_adrp(adrp) && add & 0xffc0_0000 == ADD_X_IMM && add & 0x1f == rd && (add >> 5) & 0x1f == rd
}

/// The largest section offset `SECREL_HIGH12A` encodes: 12 bits of 4 KiB pages.
const SECREL_HIGH12A_MAX: i128 = (1 << 24) - 1;

/// `x & !0xfff`, the 4 KiB page of an address (also for negative values).
fn page(x: i128) -> i128 {
    x & !0xfff
}

/// `b` or `bl` (imm26).
fn is_b_or_bl(insn: u32) -> bool {
    insn & 0x7c00_0000 == 0x1400_0000
}

/// `b.cond`/`bc.cond`, `cbz` or `cbnz` (imm19 at `[23:5]`).
fn is_cond_branch(insn: u32) -> bool {
    insn & 0xff00_0000 == 0x5400_0000 || insn & 0x7e00_0000 == 0x3400_0000
}

/// `tbz` or `tbnz` (imm14 at `[18:5]`).
fn is_test_branch(insn: u32) -> bool {
    insn & 0x7e00_0000 == 0x3600_0000
}

/// `adrp`.
fn is_adrp(insn: u32) -> bool {
    insn & 0x9f00_0000 == 0x9000_0000
}

/// `adr`.
fn is_adr(insn: u32) -> bool {
    insn & 0x9f00_0000 == 0x1000_0000
}

/// `add`/`adds`/`sub`/`subs` (immediate): imm12 at `[21:10]`, unscaled.
fn is_add_sub_imm(insn: u32) -> bool {
    insn & 0x1f80_0000 == 0x1100_0000
}

/// A load or store with an unsigned 12-bit scaled offset (general or
/// SIMD&FP registers, and `prfm`): imm12 at `[21:10]`.
fn is_load_store_uimm(insn: u32) -> bool {
    insn & 0x3b00_0000 == 0x3900_0000
}

/// `ldr`/`ldrsw`/`prfm` (literal): imm19 at `[23:5]`.
fn is_load_literal(insn: u32) -> bool {
    insn & 0x3b00_0000 == 0x1800_0000
}

/// `movn`, `movz` or `movk` (opc 01 is unallocated): imm16 at `[20:5]`.
fn is_move_wide(insn: u32) -> bool {
    insn & 0x1f80_0000 == 0x1280_0000 && insn & 0x6000_0000 != 0x2000_0000
}

/// `movk` (opc 11).
fn is_movk(insn: u32) -> bool {
    insn & 0x6000_0000 == 0x6000_0000
}

/// log2 of the access size of a load/store with an unsigned offset.
fn load_store_scale(insn: u32) -> u32 {
    let size = insn >> 30;
    let simd = insn & (1 << 26) != 0;
    let opc_high = insn & (1 << 23) != 0;
    if simd && size == 0 && opc_high {
        4 // 128-bit q register
    } else {
        size
    }
}

fn expect(ok: bool, what: &'static str) -> Result<(), FixupError> {
    if ok {
        Ok(())
    } else {
        Err(FixupError::Invalid(what))
    }
}

/// Replaces bits `[shift + width - 1 : shift]` of `insn` with the low
/// `width` bits of `value`.
fn with_field(insn: u32, value: i128, shift: u32, width: u32) -> u32 {
    let mask = ((1u64 << width) - 1) as u32;
    (insn & !(mask << shift)) | (((value as u64 as u32) & mask) << shift)
}

/// Writes a 21-bit `adr`/`adrp` immediate: immlo at `[30:29]`, immhi at `[23:5]`.
fn with_adr_imm(insn: u32, imm: i128) -> u32 {
    with_field(with_field(insn, imm, 29, 2), imm >> 2, 5, 19)
}

/// The displacement of a branch: S + A - P when it is in range, else
/// L + A - P through the stub when there is one.
fn branch_value(kind: Reloc, v: &FixupValues) -> Result<i128, FixupError> {
    let Some((min, max)) = kind.branch_range() else {
        return Err(FixupError::Invalid("not a branch kind"));
    };
    let direct = displacement(v.s, v.a, v.p);
    let aligned = direct & 3 == 0;
    if (aligned && (min..=max).contains(&direct)) || v.stub == 0 {
        if !aligned {
            return Err(FixupError::Invalid(
                "the branch target is not 4-byte aligned",
            ));
        }
        return check_range(direct, min, max);
    }
    // The stub jumps to S + A itself (the linker writes it so); the branch
    // only has to reach the stub, and S + A may be any address.
    let via_stub = displacement(v.stub, 0, v.p);
    if via_stub & 3 != 0 {
        return Err(FixupError::Invalid("the stub is not 4-byte aligned"));
    }
    check_range(via_stub, min, max)
}

/// The low 12 bits of `x` scaled by `scale`, or an error when the dropped
/// bits are not zero.
fn scaled_lo12(x: i128, scale: u32) -> Result<i128, FixupError> {
    let lo = x & 0xfff;
    if lo & ((1 << scale) - 1) != 0 {
        return Err(FixupError::Invalid(
            "the address is not aligned to the access size of the load or store",
        ));
    }
    Ok(lo >> scale)
}

/// How a MOVW kind computes and encodes its 16-bit group.
struct MovwGroup {
    /// The group's lowest bit: 0, 16, 32 or 48.
    shift: u32,
    /// The checked range of the whole value, if any.
    range: Option<(i128, i128)>,
    /// S + A - P (else S + A).
    pc_relative: bool,
    /// `MOVN`/`MOVZ`: the opcode follows the sign of the value.
    sets_opcode: bool,
}

/// The move-wide group of `kind`, `None` for other kinds.
fn movw_group(kind: Reloc) -> Option<MovwGroup> {
    let unsigned = |bits: u32| Some((0, (1i128 << bits) - 1));
    let signed = |bits: u32| Some((-(1i128 << bits), (1i128 << bits) - 1));
    let (shift, range, pc_relative, sets_opcode) = match kind {
        Reloc::MovwUabsG0 => (0, unsigned(16), false, false),
        Reloc::MovwUabsG0Nc => (0, None, false, false),
        Reloc::MovwUabsG1 => (16, unsigned(32), false, false),
        Reloc::MovwUabsG1Nc => (16, None, false, false),
        Reloc::MovwUabsG2 => (32, unsigned(48), false, false),
        Reloc::MovwUabsG2Nc => (32, None, false, false),
        Reloc::MovwUabsG3 => (48, None, false, false),
        Reloc::MovwPrelG0 => (0, signed(16), true, true),
        Reloc::MovwPrelG0Nc => (0, None, true, false),
        Reloc::MovwPrelG1 => (16, signed(32), true, true),
        Reloc::MovwPrelG1Nc => (16, None, true, false),
        Reloc::MovwPrelG2 => (32, signed(48), true, true),
        Reloc::MovwPrelG2Nc => (32, None, true, false),
        Reloc::MovwPrelG3 => (48, None, true, true),
        // TPREL(S + A): S is already the thread-pointer offset.
        Reloc::TlsLeMovwTprelG2 => (32, signed(48), false, true),
        Reloc::TlsLeMovwTprelG1 => (16, signed(32), false, true),
        Reloc::TlsLeMovwTprelG1Nc => (16, None, false, false),
        Reloc::TlsLeMovwTprelG0 => (0, signed(16), false, true),
        Reloc::TlsLeMovwTprelG0Nc => (0, None, false, false),
        _ => return None,
    };
    Some(MovwGroup {
        shift,
        range,
        pc_relative,
        sets_opcode,
    })
}

/// The instruction word with the fixup `kind` encoded into it.
fn patch_instruction(kind: Reloc, insn: u32, v: &FixupValues) -> Result<u32, FixupError> {
    let p = i128::from(v.p);
    let s = i128::from(v.s);
    let a = i128::from(v.a);
    let g = i128::from(v.got_slot);
    const PAGE_RANGE: (i128, i128) = (-(1 << 32), (1 << 32) - 1);
    match kind {
        Reloc::Call26 | Reloc::Jump26 => {
            expect(
                is_b_or_bl(insn),
                "CALL26/JUMP26 applies to a b or bl instruction",
            )?;
            Ok(with_field(insn, branch_value(kind, v)? >> 2, 0, 26))
        }
        Reloc::CondBr19 => {
            expect(
                is_cond_branch(insn),
                "CONDBR19 applies to a b.cond, cbz or cbnz instruction",
            )?;
            Ok(with_field(insn, branch_value(kind, v)? >> 2, 5, 19))
        }
        Reloc::TstBr14 => {
            expect(
                is_test_branch(insn),
                "TSTBR14 applies to a tbz or tbnz instruction",
            )?;
            Ok(with_field(insn, branch_value(kind, v)? >> 2, 5, 14))
        }
        Reloc::AdrPrelPgHi21
        | Reloc::AdrPrelPgHi21Nc
        | Reloc::AdrGotPage
        | Reloc::TlsIeAdrGottprelPage21
        | Reloc::TlsDescAdrPage21 => {
            expect(
                is_adrp(insn),
                "an ADRP fixup applies to an adrp instruction",
            )?;
            let target = match kind {
                Reloc::AdrPrelPgHi21 | Reloc::AdrPrelPgHi21Nc => s + a,
                _ => g + a,
            };
            let x = page(target) - page(p);
            if kind != Reloc::AdrPrelPgHi21Nc {
                check_range(x, PAGE_RANGE.0, PAGE_RANGE.1)?;
            }
            Ok(with_adr_imm(insn, x >> 12))
        }
        Reloc::AdrPrelLo21 => {
            expect(is_adr(insn), "ADR_PREL_LO21 applies to an adr instruction")?;
            let x = check_range(s + a - p, -(1 << 20), (1 << 20) - 1)?;
            Ok(with_adr_imm(insn, x))
        }
        Reloc::AddAbsLo12Nc => {
            expect(
                is_add_sub_imm(insn),
                "ADD_ABS_LO12_NC applies to an add (immediate) instruction",
            )?;
            Ok(with_field(insn, (s + a) & 0xfff, 10, 12))
        }
        Reloc::TlsDescAddLo12 => {
            expect(
                is_add_sub_imm(insn),
                "TLSDESC_ADD_LO12 applies to an add (immediate) instruction",
            )?;
            Ok(with_field(insn, (g + a) & 0xfff, 10, 12))
        }
        Reloc::TlsLeAddTprelHi12 | Reloc::TlsLeAddTprelLo12 | Reloc::TlsLeAddTprelLo12Nc => {
            expect(
                is_add_sub_imm(insn),
                "a TLSLE_ADD fixup applies to an add (immediate) instruction",
            )?;
            // S is a signed thread-pointer offset.
            let x = i128::from(v.s as i64) + a;
            let imm = match kind {
                Reloc::TlsLeAddTprelHi12 => check_range(x, 0, (1 << 24) - 1)? >> 12,
                Reloc::TlsLeAddTprelLo12 => check_range(x, 0, 0xfff)?,
                _ => x & 0xfff,
            };
            Ok(with_field(insn, imm, 10, 12))
        }
        Reloc::Ldst8AbsLo12Nc
        | Reloc::Ldst16AbsLo12Nc
        | Reloc::Ldst32AbsLo12Nc
        | Reloc::Ldst64AbsLo12Nc
        | Reloc::Ldst128AbsLo12Nc
        | Reloc::Ld64GotLo12Nc
        | Reloc::TlsIeLd64GottprelLo12Nc
        | Reloc::TlsDescLd64Lo12 => {
            expect(
                is_load_store_uimm(insn),
                "an LDST fixup applies to a load or store with an unsigned offset",
            )?;
            let (x, scale) = match kind {
                Reloc::Ldst8AbsLo12Nc => (s + a, 0),
                Reloc::Ldst16AbsLo12Nc => (s + a, 1),
                Reloc::Ldst32AbsLo12Nc => (s + a, 2),
                Reloc::Ldst64AbsLo12Nc => (s + a, 3),
                Reloc::Ldst128AbsLo12Nc => (s + a, 4),
                _ => (g + a, 3),
            };
            Ok(with_field(insn, scaled_lo12(x, scale)?, 10, 12))
        }
        Reloc::PageOff12 => {
            let scale = if is_add_sub_imm(insn) {
                0
            } else if is_load_store_uimm(insn) {
                load_store_scale(insn)
            } else {
                return Err(FixupError::Invalid(
                    "PAGEOFF12 applies to an add (immediate) or a load or store with an unsigned offset",
                ));
            };
            Ok(with_field(insn, scaled_lo12(s + a, scale)?, 10, 12))
        }
        Reloc::SecRelLo12A | Reloc::SecRelHi12A => {
            expect(
                is_add_sub_imm(insn),
                "SECREL_LOW12A/SECREL_HIGH12A applies to an add (immediate) instruction",
            )?;
            let x = s + a - i128::from(v.section_base);
            let imm = if kind == Reloc::SecRelLo12A {
                x & 0xfff
            } else {
                check_range(x, 0, SECREL_HIGH12A_MAX)? >> 12
            };
            Ok(with_field(insn, imm, 10, 12))
        }
        Reloc::SecRelLo12L => {
            expect(
                is_load_store_uimm(insn),
                "SECREL_LOW12L applies to a load or store with an unsigned offset",
            )?;
            let x = s + a - i128::from(v.section_base);
            Ok(with_field(
                insn,
                scaled_lo12(x, load_store_scale(insn))?,
                10,
                12,
            ))
        }
        Reloc::AddToGotLoad => {
            // `add xd, xn, #imm` (64-bit, unshifted) or the load it became.
            expect(
                insn & 0xffc0_0000 == ADD_X_IMM || insn & 0xffc0_0000 == LDR_X_UIMM,
                "PAGEOFFSET_12A_GOT applies to a 64-bit add (immediate) without shift",
            )?;
            let registers = insn & 0x3ff;
            Ok(with_field(
                LDR_X_UIMM | registers,
                scaled_lo12(g + a, 3)?,
                10,
                12,
            ))
        }
        Reloc::LdPrelLo19 => {
            expect(
                is_load_literal(insn),
                "LD_PREL_LO19 applies to an ldr (literal) instruction",
            )?;
            let x = s + a - p;
            if x & 3 != 0 {
                return Err(FixupError::Invalid("the literal is not 4-byte aligned"));
            }
            check_range(x, -(1 << 20), (1 << 20) - 4)?;
            Ok(with_field(insn, x >> 2, 5, 19))
        }
        _ => {
            let Some(group) = movw_group(kind) else {
                return Err(FixupError::Invalid("not an instruction fixup"));
            };
            expect(
                is_move_wide(insn),
                "a MOVW fixup applies to a movz, movn or movk instruction",
            )?;
            let x = if group.pc_relative {
                s + a - p
            } else if kind.is_tp_relative() {
                // A thread-pointer offset: signed.
                i128::from(v.s as i64) + a
            } else {
                s + a
            };
            if let Some((min, max)) = group.range {
                check_range(x, min, max)?;
            }
            let shift = group.shift;
            if !group.sets_opcode || is_movk(insn) {
                return Ok(with_field(insn, x >> shift, 5, 16));
            }
            // MOV[NZ]: movz (opc 10) with X, or movn (opc 00) with !X.
            let opcode_cleared = insn & !(0b11 << 29);
            Ok(if x >= 0 {
                with_field(opcode_cleared | (0b10 << 29), x >> shift, 5, 16)
            } else {
                with_field(opcode_cleared, !x >> shift, 5, 16)
            })
        }
    }
}

/// Sign-extends the low `bits` bits of `x`.
fn sign_extend(x: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((x << shift) as i64) >> shift
}

/// The implicit addend a COFF arm64 fixup of `kind` keeps in the field at
/// the start of `place`, in the units the kind's value is computed in
/// (bytes), as link.exe and lld read it:
///
/// - branches: the signed word displacement (`b`/`bl` imm26, `b.cond`/`cbz`
///   imm19 at `[23:5]`, `tbz` imm14 at `[18:5]`) times 4;
/// - `adrp` and `adr`: the signed 21-bit immediate, in bytes (for `adrp`
///   too: COFF keeps the byte addend there, not a page count);
/// - `add` immediate (`PAGEOFFSET_12A`, `SECREL_LOW12A`,
///   `SECREL_HIGH12A`): imm12, in bytes. For `SECREL_HIGH12A` that is what
///   LLVM's assembler writes (the addend of `:secrel_hi12:x+8`, which must
///   be below 4096); lld adds the field after the shift instead, which
///   agrees with this whenever the addend is 0, as compilers emit it;
/// - loads and stores (`PAGEOFFSET_12L`, `SECREL_LOW12L`): imm12 times the
///   access size (an `add` there counts 1);
/// - data: the field, sign-extended; `SECTION`'s 16 bits zero-extended.
///
/// Kinds COFF does not use give 0.
///
/// # Errors
///
/// A place shorter than the field gives [`FixupError::PlaceOutOfBounds`].
pub(crate) fn coff_implicit_addend(kind: Reloc, place: &[u8]) -> Result<i64, FixupError> {
    match kind.field_size() {
        8 => return Ok(read_le::<8>(place)? as i64),
        2 => return Ok(read_le::<2>(place)? as i64),
        _ => {}
    }
    let word = read_le::<4>(place)?;
    let insn = word as u32;
    let imm12 = i64::from((insn >> 10) & 0xfff);
    Ok(match kind {
        Reloc::Addr32 | Reloc::ImageRel32 | Reloc::SecRel32 | Reloc::Rel32 | Reloc::Abs32 => {
            sign_extend(word, 32)
        }
        Reloc::Call26 | Reloc::Jump26 => sign_extend(word & 0x03ff_ffff, 26) << 2,
        Reloc::CondBr19 => sign_extend((word >> 5) & 0x7_ffff, 19) << 2,
        Reloc::TstBr14 => sign_extend((word >> 5) & 0x3fff, 14) << 2,
        Reloc::AdrPrelPgHi21 | Reloc::AdrPrelLo21 => {
            let imm = ((word >> 29) & 0x3) | (((word >> 5) & 0x7_ffff) << 2);
            sign_extend(imm, 21)
        }
        Reloc::AddAbsLo12Nc | Reloc::SecRelLo12A | Reloc::SecRelHi12A => imm12,
        Reloc::PageOff12 | Reloc::SecRelLo12L => {
            if is_load_store_uimm(insn) {
                imm12 << load_store_scale(insn)
            } else {
                imm12
            }
        }
        _ => 0,
    })
}

/// The instructions of a stub, immediates zero: `adrp x16, 0`,
/// `ldr x16, [x16]`, `br x16`.
const STUB_CODE: [u32; 3] = [0x9000_0010, 0xf940_0210, 0xd61f_0200];

/// The 12 bytes of a stub at `stub` that jumps through the GOT slot at
/// `slot`, using only x16 (IP0), which the procedure-call standard leaves
/// free for veneers:
///
/// ```text
/// adrp x16, slot               ; ADR_PREL_PG_HI21
/// ldr  x16, [x16, :lo12:slot]  ; LDST64_ABS_LO12_NC
/// br   x16
/// ```
///
/// # Errors
///
/// [`FixupError::Overflow`] when the slot's page is not within ±4 GiB of
/// the stub's, [`FixupError::Invalid`] when the slot is not 8-aligned.
pub(crate) fn stub_bytes(stub: u64, slot: u64) -> Result<[u8; STUB_SIZE], FixupError> {
    let at = |p: u64| FixupValues {
        p,
        s: slot,
        ..FixupValues::default()
    };
    let adrp = patch_instruction(Reloc::AdrPrelPgHi21, STUB_CODE[0], &at(stub))?;
    let ldr = patch_instruction(
        Reloc::Ldst64AbsLo12Nc,
        STUB_CODE[1],
        &at(stub.wrapping_add(4)),
    )?;
    let mut bytes = [0u8; STUB_SIZE];
    for (i, word) in [adrp, ldr, STUB_CODE[2]].iter().enumerate() {
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    Ok(bytes)
}

/// Writes at the start of `place` (whose address is `stub`) a veneer that
/// jumps through the GOT slot at `slot` ([`stub_bytes`]).
///
/// # Errors
///
/// A place shorter than [`STUB_SIZE`] gives [`FixupError::PlaceOutOfBounds`];
/// a slot out of reach or misaligned the errors of [`stub_bytes`]. The place
/// is then left untouched.
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
pub(crate) const IFUNC_THUNK_SIZE: usize = 24;

/// The thunk that stands for an indirect function (`STT_GNU_IFUNC`): it
/// jumps to the address the word at `slot` holds (the resolver's result,
/// written there after the module is finalized), using only x16 (IP0):
///
/// ```text
/// 90 00 00 58   ldr x16, #16        the slot's address, below
/// 10 02 40 f9   ldr x16, [x16]      the function's address
/// 00 02 1f d6   br  x16
/// 1f 20 03 d5   nop                 (the literal stays 8-aligned)
/// <slot>        .quad slot
/// ```
pub(crate) fn ifunc_thunk_bytes(slot: u64) -> [u8; IFUNC_THUNK_SIZE] {
    const LDR_X16_LITERAL_16: u32 = 0x5800_0090;
    const LDR_X16_X16: u32 = 0xf940_0210;
    const BR_X16: u32 = 0xd61f_0200;
    const NOP: u32 = 0xd503_201f;
    let mut thunk = [0u8; IFUNC_THUNK_SIZE];
    for (i, word) in [LDR_X16_LITERAL_16, LDR_X16_X16, BR_X16, NOP]
        .into_iter()
        .enumerate()
    {
        thunk[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    thunk[16..24].copy_from_slice(&slot.to_le_bytes());
    thunk
}

/// Bytes of a module's own thread-local variable getter
/// ([`single_thread_tlv_getter_bytes`]).
pub(crate) const TLV_GETTER_SIZE: usize = 24;

/// A Mach-O thread-local variable getter for code that runs on one thread
/// (in the emulator), whose variables live in one block at `block`: called
/// with a descriptor (getter, key, offset) in x0, it returns `block +
/// offset` in x0, using only x16 (IP0) besides:
///
/// ```text
/// 10 08 40 f9   ldr x16, [x0, #16]  the variable's offset
/// 60 00 00 58   ldr x0, #12         the block's address, below
/// 00 00 10 8b   add x0, x0, x16
/// c0 03 5f d6   ret
/// <block>       .quad block
/// ```
pub(crate) fn single_thread_tlv_getter_bytes(block: u64) -> [u8; TLV_GETTER_SIZE] {
    const LDR_X16_X0_16: u32 = 0xf940_0810;
    const LDR_X0_LITERAL_12: u32 = 0x5800_0060;
    const ADD_X0_X0_X16: u32 = 0x8b10_0000;
    const RET: u32 = 0xd65f_03c0;
    let mut getter = [0u8; TLV_GETTER_SIZE];
    for (i, word) in [LDR_X16_X0_16, LDR_X0_LITERAL_12, ADD_X0_X0_X16, RET]
        .into_iter()
        .enumerate()
    {
        getter[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    getter[16..24].copy_from_slice(&block.to_le_bytes());
    getter
}

/// Whether `adrp` and the instruction after it are the GOT load
/// `adrp xN, :got:sym; ldr xN, [xN, :got_lo12:sym]` (64-bit `ldr`, unsigned
/// offset) with one register throughout, not x31: the form compilers emit,
/// in which no other instruction sees the GOT page.
pub(crate) fn is_got_load_pair(adrp: u32, ldr: u32) -> bool {
    let rd = adrp & 0x1f;
    is_adrp(adrp)
        && rd != 31
        && ldr & 0xffc0_0000 == LDR_X_UIMM
        && ldr & 0x1f == rd
        && (ldr >> 5) & 0x1f == rd
}

/// Rewrites the GOT load pair at `adrp_at` in `code` (`ADR_GOT_PAGE` at
/// `adrp_at`, `LD64_GOT_LO12_NC` at `adrp_at + 4`, both against S + A, the
/// `adrp` at P = `v.p`) into `adrp xN, S + A; add xN, xN, :lo12:S + A`, when
/// it is [`is_got_load_pair`]'s form and Page(S + A) - Page(P) is within
/// `adrp`'s ±4 GiB. The caller then applies `ADR_PREL_PG_HI21` at the
/// `adrp` and `ADD_ABS_LO12_NC` at the `add`. Returns false, changing
/// nothing, otherwise.
pub(crate) fn relax_got_load_pair(code: &mut [u8], adrp_at: usize, v: &FixupValues) -> bool {
    let Some(end) = adrp_at.checked_add(8) else {
        return false;
    };
    let Some(words) = code.get_mut(adrp_at..end) else {
        return false;
    };
    let word = |i: usize| u32::from_le_bytes([words[i], words[i + 1], words[i + 2], words[i + 3]]);
    let (adrp, ldr) = (word(0), word(4));
    if !is_got_load_pair(adrp, ldr) {
        return false;
    }
    let target = i128::from(v.s) + i128::from(v.a);
    let pages = modulo_2_64(page(target) - page(i128::from(v.p)));
    if !(ADRP_MIN..=ADRP_MAX).contains(&pages) {
        return false;
    }
    let rd = adrp & 0x1f;
    let add = ADD_X_IMM | (rd << 5) | rd;
    words[4..8].copy_from_slice(&add.to_le_bytes());
    true
}

/// The byte distances between pages that `adrp` reaches: ±4 GiB.
const ADRP_MIN: i128 = -(1 << 32);
const ADRP_MAX: i128 = (1 << 32) - 0x1000;

#[cfg(test)]
mod tests;
