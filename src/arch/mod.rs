//! Relocation math, one file per instruction set.
//!
//! Arch code is pure: a function takes the bytes at the place and the values
//! P (place address), S (target address), A (addend) and the GOT/stub
//! addresses the linker chose, and patches the bytes or returns a
//! `FixupError`. It knows nothing about files, symbols or memory managers,
//! which is what lets it be tested exhaustively in isolation.

pub mod aarch64;
pub mod riscv64;
pub mod x86_64;

/// The instruction set an object is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86-64 (AMD64).
    X86_64,
    /// AArch64 (arm64).
    Aarch64,
    /// RV64GC, lp64d.
    Riscv64,
}

impl Arch {
    /// The instruction set this process runs (`None` if rivet links none
    /// of its kind).
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else if cfg!(target_arch = "riscv64") {
            Some(Arch::Riscv64)
        } else {
            None
        }
    }
}

/// A pair of GOT slots a dynamic-TLS fixup points at: (module key, offset),
/// the argument `__tls_get_addr` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TlsPair {
    /// (module, offset of the target): general dynamic.
    Symbol,
    /// (module, 0): local dynamic, one per module.
    Module,
    /// (resolver, argument): a TLS descriptor of the target, whose
    /// resolver returns the target's offset from the thread pointer.
    Descriptor,
}

/// A fixup kind, by instruction set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// An x86-64 relocation.
    X86_64(x86_64::Reloc),
    /// An AArch64 relocation.
    Aarch64(aarch64::Reloc),
    /// A RISC-V 64 relocation.
    Riscv64(riscv64::Reloc),
}

/// What the linker must provide for one fixup kind, gathered in one place so
/// the relocation pass asks once per kind rather than once per relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KindProps {
    pub got_slot: bool,
    pub got_base: bool,
    pub branch: bool,
    pub section_relative: bool,
    pub size: bool,
    pub tls: Option<TlsPair>,
    /// S is a thread-pointer offset (static TLS: local and initial exec).
    pub tp_relative: bool,
}

/// [`RelocKind::props`] remembered per kind: a pass over many relocations
/// asks once per kind. Slots are numbered by [`RelocKind::index`], which
/// no two kinds share.
pub(crate) struct PropsCache {
    entries: [Option<KindProps>; RelocKind::INDEX_COUNT],
}

impl Default for PropsCache {
    fn default() -> Self {
        PropsCache {
            entries: [None; RelocKind::INDEX_COUNT],
        }
    }
}

impl PropsCache {
    /// The properties of `kind`.
    #[inline]
    pub fn get(&mut self, kind: RelocKind) -> KindProps {
        match self.entries.get_mut(kind.index()) {
            Some(Some(props)) => *props,
            Some(entry) => *entry.insert(kind.props()),
            None => kind.props(),
        }
    }
}

impl RelocKind {
    /// Number of distinct [`RelocKind::index`] values.
    pub(crate) const INDEX_COUNT: usize = 176;

    /// A small dense number for the kind, for per-kind tables.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            RelocKind::X86_64(r) => r as usize,
            RelocKind::Aarch64(r) => 64 + r as usize,
            RelocKind::Riscv64(r) => 128 + r as usize,
        }
    }

    /// Everything the linker must provide for this kind.
    pub(crate) fn props(self) -> KindProps {
        KindProps {
            got_slot: self.needs_got_slot(),
            got_base: self.needs_got_base(),
            branch: self.is_branch(),
            section_relative: self.is_section_relative(),
            size: self.is_size(),
            tls: self.tls_pair(),
            tp_relative: self.is_tp_relative(),
        }
    }

    /// Whether the fixup reads a GOT slot that holds the target's address.
    #[inline]
    pub(crate) fn needs_got_slot(self) -> bool {
        match self {
            RelocKind::X86_64(r) => r.needs_got_slot(),
            RelocKind::Aarch64(r) => r.needs_got_slot(),
            RelocKind::Riscv64(r) => r.needs_got_slot(),
        }
    }

    /// Whether the fixup refers to the GOT base.
    #[inline]
    pub(crate) fn needs_got_base(self) -> bool {
        match self {
            RelocKind::X86_64(r) => r.needs_got_base(),
            RelocKind::Aarch64(r) => r.needs_got_base(),
            RelocKind::Riscv64(r) => r.needs_got_base(),
        }
    }

    /// Whether the fixup is computed from the target's section (COFF
    /// `SECREL`, `SECTION`).
    #[inline]
    pub(crate) fn is_section_relative(self) -> bool {
        match self {
            RelocKind::X86_64(r) => {
                matches!(r, x86_64::Reloc::SecRel32 | x86_64::Reloc::SectionIndex)
            }
            RelocKind::Aarch64(r) => r.is_section_relative(),
            RelocKind::Riscv64(_) => false,
        }
    }

    /// Whether the fixup is computed from the target's size (ELF `SIZE*`).
    #[inline]
    pub(crate) fn is_size(self) -> bool {
        matches!(
            self,
            RelocKind::X86_64(x86_64::Reloc::Size32 | x86_64::Reloc::Size64)
        )
    }

    /// Whether the fixup uses the target's thread-pointer offset (the
    /// static TLS models), so its module needs a piece of static TLS.
    #[inline]
    pub fn is_tp_relative(self) -> bool {
        match self {
            RelocKind::X86_64(r) => r.is_tp_relative(),
            RelocKind::Aarch64(r) => r.is_tp_relative(),
            RelocKind::Riscv64(_) => false,
        }
    }

    /// The TLS GOT pair the fixup points at, if any.
    #[inline]
    pub(crate) fn tls_pair(self) -> Option<TlsPair> {
        match self {
            RelocKind::X86_64(r) => r.tls_pair(),
            RelocKind::Aarch64(r) => r.tls_pair(),
            RelocKind::Riscv64(r) => r.tls_pair(),
        }
    }

    /// Whether the fixup is a branch that may be routed through a stub.
    #[inline]
    pub(crate) fn is_branch(self) -> bool {
        match self {
            RelocKind::X86_64(r) => r.is_branch(),
            RelocKind::Aarch64(r) => r.is_branch(),
            RelocKind::Riscv64(r) => r.is_branch(),
        }
    }

    /// Whether a branch at `p` reaches `s + a` directly.
    #[inline]
    pub(crate) fn branch_reaches(self, p: u64, s: u64, a: i64) -> bool {
        match self {
            RelocKind::X86_64(r) => r.branch_reaches(p, s, a),
            RelocKind::Aarch64(r) => r.branch_reaches(p, s, a),
            RelocKind::Riscv64(r) => r.branch_reaches(p, s, a),
        }
    }

    /// The addend a branch of this kind has when it targets S itself: a
    /// stub for a branch with addend A jumps to S + A - bias.
    #[inline]
    pub(crate) fn branch_bias(self) -> i64 {
        match self {
            RelocKind::X86_64(_) => x86_64::BRANCH32_BIAS,
            RelocKind::Aarch64(_) | RelocKind::Riscv64(_) => 0,
        }
    }

    /// Whether DWARF uses fixups of this kind: absolute addresses, section
    /// offsets and thread-local offsets. Anything else in a debug section
    /// (PC-relative, GOT, branch) has no meaning there.
    pub(crate) fn is_debug_info_fixup(self) -> bool {
        use aarch64::Reloc as A;
        use riscv64::Reloc as R;
        use x86_64::Reloc as X;
        matches!(
            self,
            RelocKind::X86_64(X::Abs64 | X::Abs32 | X::Abs32S | X::DtpOff32 | X::DtpOff64)
                | RelocKind::Aarch64(A::Abs64 | A::Abs32)
                // RISC-V DWARF also measures code with ADD/SUB/SET pairs,
                // since relaxation may change its lengths.
                | RelocKind::Riscv64(
                    R::Abs32
                        | R::Abs64
                        | R::Add8
                        | R::Add16
                        | R::Add32
                        | R::Add64
                        | R::Sub6
                        | R::Sub8
                        | R::Sub16
                        | R::Sub32
                        | R::Sub64
                        | R::Set6
                        | R::Set8
                        | R::Set16
                        | R::Set32
                        | R::SetUleb128
                        | R::DtpRel32
                        | R::DtpRel64
                )
        )
    }

    /// Whether this fixup, at byte `field` of `code`, is a GOT access the
    /// linker may turn into a direct reference to its target (no GOT slot)
    /// on its own: x86-64 `GOTPCRELX` on a RIP-relative `mov`, `call` or
    /// `jmp`. False for every other kind (AArch64 GOT loads relax in pairs:
    /// [`aarch64::relax_got_load_pair`]).
    #[inline]
    pub(crate) fn can_relax_got_load(self, code: &[u8], field: usize) -> bool {
        match self {
            RelocKind::X86_64(x86_64::Reloc::GotPcRelX) => x86_64::can_relax_got_load(code, field),
            _ => false,
        }
    }

    /// Rewrites the instruction of a GOT access that
    /// [`can_relax_got_load`](Self::can_relax_got_load) accepts so that it
    /// addresses S + A directly, when that is in reach from the place
    /// (`v.p`). Returns the fixup that then applies instead: its kind and
    /// how many bytes its field moved. Returns `None`, changing nothing,
    /// for anything else.
    #[inline]
    pub(crate) fn relax_got_load(
        self,
        code: &mut [u8],
        field: usize,
        v: &FixupValues,
    ) -> Option<Relaxed> {
        match self {
            RelocKind::X86_64(x86_64::Reloc::GotPcRelX) => x86_64::relax_got_load(code, field, v)
                .map(|field_shift| Relaxed {
                    kind: RelocKind::X86_64(x86_64::Reloc::Pc32),
                    field_shift,
                }),
            _ => None,
        }
    }

    /// Computes the fixup and writes it at the start of `place`.
    #[inline]
    pub(crate) fn apply(self, place: &mut [u8], v: &FixupValues) -> Result<(), FixupError> {
        match self {
            RelocKind::X86_64(r) => x86_64::apply(r, place, v),
            RelocKind::Aarch64(r) => aarch64::apply(r, place, v),
            RelocKind::Riscv64(r) => riscv64::apply(r, place, v),
        }
    }
}

impl std::fmt::Display for RelocKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelocKind::X86_64(r) => r.fmt(f),
            RelocKind::Aarch64(r) => r.fmt(f),
            RelocKind::Riscv64(r) => r.fmt(f),
        }
    }
}

/// A GOT access rewritten to address its target directly: the fixup that
/// applies in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relaxed {
    /// The kind to apply (S + A - P in the rewritten instruction).
    pub kind: RelocKind,
    /// Bytes the field moved: it now starts at the old field plus this.
    pub field_shift: isize,
}

/// Stub and GOT geometry of one instruction set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StubGeometry {
    /// Bytes of one stub.
    pub stub_size: u64,
    /// Alignment of a stub.
    pub stub_align: u64,
    /// Bytes of one GOT slot.
    pub got_slot_size: u64,
}

/// The stub and GOT geometry of `arch`.
pub fn geometry(arch: Arch) -> StubGeometry {
    match arch {
        Arch::X86_64 => StubGeometry {
            stub_size: x86_64::STUB_SIZE as u64,
            stub_align: x86_64::STUB_ALIGN as u64,
            got_slot_size: x86_64::GOT_SLOT_SIZE as u64,
        },
        Arch::Aarch64 => StubGeometry {
            stub_size: aarch64::STUB_SIZE as u64,
            stub_align: aarch64::STUB_ALIGN as u64,
            got_slot_size: aarch64::GOT_SLOT_SIZE as u64,
        },
        Arch::Riscv64 => StubGeometry {
            stub_size: riscv64::STUB_SIZE as u64,
            stub_align: riscv64::STUB_ALIGN as u64,
            got_slot_size: riscv64::GOT_SLOT_SIZE as u64,
        },
    }
}

/// Writes a stub for `arch` at the start of `place`, whose address is
/// `stub`, that jumps to the address held in the GOT slot at `slot`: the
/// slot is the one place that holds the target (the GOT loads of the
/// same target read it too).
pub(crate) fn write_stub(
    arch: Arch,
    place: &mut [u8],
    stub: u64,
    slot: u64,
) -> Result<(), FixupError> {
    match arch {
        Arch::X86_64 => x86_64::write_stub(place, stub, slot),
        Arch::Aarch64 => aarch64::write_stub(place, stub, slot),
        Arch::Riscv64 => riscv64::write_stub(place, stub, slot),
    }
}

/// Why a fixup could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FixupError {
    /// The computed value does not fit the field.
    Overflow { value: i128, min: i128, max: i128 },
    /// The place does not hold enough bytes for the field.
    PlaceOutOfBounds { needed: usize, available: usize },
    /// The value fits but breaks another rule of the field (alignment, instruction form).
    Invalid(&'static str),
}

/// The addresses a fixup is computed from, named as in the ELF psABIs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FixupValues {
    /// P: the address of the place being patched (its run-time address).
    pub p: u64,
    /// S: the address of the target symbol.
    pub s: u64,
    /// A: the addend.
    pub a: i64,
    /// GOT: the base address of the GOT that serves this place
    /// (`_GLOBAL_OFFSET_TABLE_`).
    pub got_base: u64,
    /// The address of the GOT slot that holds S, when the kind uses one (else 0).
    /// G, the psABI's slot offset, is `got_slot - got_base`.
    pub got_slot: u64,
    /// L: the address of a stub that jumps to S, when the linker made one (else 0).
    /// Branch kinds use it in place of S when S is out of reach.
    pub stub: u64,
    /// The image base for image-relative kinds (COFF ADDR32NB).
    pub image_base: u64,
    /// The base of the target's section, for section-relative kinds (COFF SECREL).
    pub section_base: u64,
    /// The target's section number, for COFF SECTION.
    pub section_index: u16,
    /// Z: the size of the target symbol, for SIZE kinds.
    pub size: u64,
}

/// `value` as the psABIs mean it: addresses and addends add modulo 2^64,
/// so a fixup's value is the 64-bit two's-complement number its low 64 bits
/// spell. An absolute symbol at `0xffffffff80000000` is -2^31 to a
/// sign-extended 32-bit field, and a branch from 0x1000 to
/// `0xfffffffffffff000` is a displacement of -0x2000.
#[inline]
pub(crate) fn modulo_2_64(value: i128) -> i128 {
    // Truncation to the low 64 bits is the point.
    i128::from(value as i64)
}

/// S + A - P, modulo 2^64 ([`modulo_2_64`]).
#[inline]
pub(crate) fn displacement(s: u64, a: i64, p: u64) -> i128 {
    modulo_2_64(i128::from(s) + i128::from(a) - i128::from(p))
}

/// Returns `value` (taken modulo 2^64, [`modulo_2_64`]) when it lies in
/// `[min, max]`, else the overflow error that reports it.
#[inline]
pub(crate) fn check_range(value: i128, min: i128, max: i128) -> Result<i128, FixupError> {
    let value = modulo_2_64(value);
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(FixupError::Overflow { value, min, max })
    }
}

/// Writes the low `N` bytes of `value`, little-endian, at the start of `place`.
/// `N` is at most 8 (checked at compile time). A short `place` gives
/// [`FixupError::PlaceOutOfBounds`] and is left untouched.
#[inline]
pub(crate) fn write_le<const N: usize>(place: &mut [u8], value: u64) -> Result<(), FixupError> {
    const { assert!(N <= 8, "a field is at most 8 bytes") };
    match place.get_mut(..N) {
        Some(field) => {
            field.copy_from_slice(&value.to_le_bytes()[..N]);
            Ok(())
        }
        None => Err(FixupError::PlaceOutOfBounds {
            needed: N,
            available: place.len(),
        }),
    }
}

/// Reads a little-endian field of `N` bytes at the start of `place`,
/// zero-extended. `N` is at most 8 (checked at compile time).
// For the loaders (implicit addends of COFF and Mach-O); until they use it,
// only the tests do.
#[allow(dead_code)]
#[inline]
pub(crate) fn read_le<const N: usize>(place: &[u8]) -> Result<u64, FixupError> {
    const { assert!(N <= 8, "a field is at most 8 bytes") };
    match place.get(..N) {
        Some(field) => {
            let mut bytes = [0u8; 8];
            bytes[..N].copy_from_slice(field);
            Ok(u64::from_le_bytes(bytes))
        }
        None => Err(FixupError::PlaceOutOfBounds {
            needed: N,
            available: place.len(),
        }),
    }
}

#[cfg(test)]
mod tests;
