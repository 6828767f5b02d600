//! Mach-O relocation entries → model relocations with explicit addends.
//!
//! Dispatch is on the raw fields (`r_type`, `r_pcrel`, `r_length`,
//! `r_extern`); a combination outside the ones below is refused with
//! [`Error::UnsupportedRelocation`] naming it. In what follows P is the
//! address of the field being patched (the model's P), `field` is the value
//! the object holds there (sign-extended when 32 bits), and `addr(t)` is
//! the address section t has in the object.
//!
//! # Targets
//!
//! `r_extern = 1`: `r_symbolnum` is a symbol number ([`Target::Symbol`]).
//! `r_extern = 0`: it is a 1-based section ordinal ([`Target::Section`]) and
//! the bytes hold a target *address* in the object's address space, which
//! becomes an offset from that section's start. Ordinal 0 (`R_ABS`) on an
//! `UNSIGNED` is an absolute value that needs no fixup and is dropped.
//!
//! # x86-64
//!
//! | raw type | fields | kind | addend |
//! |---|---|---|---|
//! | `UNSIGNED` | length 3 / 2 | `Abs64` / `Abs32` | `field` (minus `addr(t)` when non-extern) |
//! | `SIGNED`, `SIGNED_1/2/4` | pc-rel, length 2 | `Pc32` | see below |
//! | `BRANCH` | pc-rel, length 2 | `Branch32` | see below |
//! | `GOT_LOAD` | pc-rel, length 2, extern | `GotPcRelX` (a `movq` the linker may make a `leaq`, as ld64 and JITLink do) | `field - 4` |
//! | `GOT` | pc-rel, length 2, extern | `GotPcRel32` | `field - 4` |
//! | `SUBTRACTOR` + `UNSIGNED` | length 3 / 2 | `Abs64` / `Abs32S`, with a subtrahend | see below |
//! | `TLV` | pc-rel, length 2, extern | `GotPcRelX` (as `GOT_LOAD`) | `field - 4` |
//!
//! A pc-relative x86-64 displacement is relative to the end of the
//! instruction, which is the end of the 4-byte field plus n bytes of
//! immediate for `SIGNED_n` (n = 0 for `SIGNED`, `BRANCH` and the GOT
//! kinds). The assembler has already folded the -n into the field for an
//! extern target (`movb $1, _x(%rip)` holds -1 with `SIGNED_1`): the
//! displacement is `S + field - (P + 4)`, so A = `field - 4` whatever n is
//! (as JITLink computes it). For a non-extern target the field holds
//! `target - (P + 4 + n)` in object addresses, so the target address is
//! `P + 4 + n + field`, and A = `target - addr(t) - 4 - n`.
//!
//! `TLV` (and arm64's `TLVP_LOAD_*`) loads the address of a thread-local
//! variable's descriptor (in `__thread_vars`), which code then calls
//! through: a load of a pointer to the target, which is what a GOT load
//! is (`ld64` gives it a slot in `__thread_ptrs`, or relaxes it to an
//! address computation, as it does GOT loads).
//!
//! `GOT` with length 3 (LLVM writes it for `.quad _x@GOTPCREL`) has no
//! model kind and is refused, as `ld64` refuses it.
//!
//! # arm64
//!
//! | raw type | fields | kind | addend |
//! |---|---|---|---|
//! | `UNSIGNED` | length 3 / 2 | `Abs64` / `Abs32` | `field` (minus `addr(t)` when non-extern) |
//! | `SUBTRACTOR` + `UNSIGNED` | length 3 / 2 | `Abs64` / `Abs32`, with a subtrahend | see below |
//! | `BRANCH26` | pc-rel, extern | `Call26` | from a preceding `ADDEND`, else 0 |
//! | `PAGE21` | pc-rel, extern | `AdrPrelPgHi21` | from a preceding `ADDEND`, else 0 |
//! | `PAGEOFF12` | extern | `PageOff12` | from a preceding `ADDEND`, else 0 |
//! | `GOT_LOAD_PAGE21` | pc-rel, extern | `AdrGotPage` | 0 |
//! | `GOT_LOAD_PAGEOFF12` | extern | `Ld64GotLo12Nc` | 0 |
//! | `POINTER_TO_GOT` | pc-rel length 2 / absolute length 3, extern | `GotPrel32` / `GotAbs64` | 0 |
//! | `ADDEND` | | merged into the next entry | |
//! | `TLVP_LOAD_PAGE21` | pc-rel, extern | `AdrGotPage` | 0 |
//! | `TLVP_LOAD_PAGEOFF12` | extern | `Ld64GotLo12Nc` | 0 |
//! | `AUTHENTICATED_POINTER` | | refused | |
//!
//! Instruction immediates at the place are not addends on arm64 (the
//! assembler leaves them 0); `ARM64_RELOC_ADDEND`, which must come right
//! before a `BRANCH26`, `PAGE21` or `PAGEOFF12` at the same place, carries
//! the addend as a sign-extended 24-bit `r_symbolnum`. `POINTER_TO_GOT`
//! ignores the bytes at the place, as `ld64` and JITLink do (LLVM's
//! assembler leaves a bias there for `.long _x@GOT - .`).
//!
//! LLVM's assembler writes a negative `ADDEND` without masking it to 24
//! bits, so its sign bits fill the whole word (type 15, which arm64 does not
//! define, pc-rel, length 3, extern); an arm64 entry whose second word has
//! the top byte `0xff` is read as that `ADDEND`.
//!
//! # Differences
//!
//! A `SUBTRACTOR` entry (the subtrahend T) is followed by an `UNSIGNED` at
//! the same place and of the same length (the minuend S); together they are
//! one model relocation with `target` S and `subtrahend` T, whose value is
//! S - T + A. The field holds A, plus `addr(s)` when the `UNSIGNED` is
//! non-extern and minus `addr(t)` when the `SUBTRACTOR` is, so A = `field
//! - [addr(s)] + [addr(t)]`.

use object::macho;
use object::Endianness;

use super::RawSection;
use crate::arch::{aarch64::Reloc as A64, read_le, x86_64::Reloc as X};
use crate::load::{
    malformed, Arch, Definition, RelocKind, Relocation, Section, SectionKind, Symbol, Target,
};
use crate::{Error, Result};

/// Everything relocation parsing reads.
pub(super) struct Context<'a, 'data> {
    pub object: &'a str,
    pub arch: Arch,
    pub endian: Endianness,
    pub sections: &'a [Section<'data>],
    pub raw: &'a [RawSection<'data>],
    pub symbols: &'a [Symbol<'data>],
    /// Which symbols are debugging (`N_STAB`) entries.
    pub stabs: &'a [bool],
}

/// One decoded relocation entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: u64,
    symbolnum: u32,
    pcrel: bool,
    length: u8,
    external: bool,
    typ: u8,
}

impl Entry {
    /// The field width in bytes.
    fn width(self) -> usize {
        1 << self.length
    }
}

/// A target with the object address its non-extern field values are
/// relative to (0 for a symbol).
#[derive(Debug, Clone, Copy)]
struct Resolved {
    target: Target,
    base: u64,
}

impl Context<'_, '_> {
    /// The relocations of model section `index` (none for the placeholder
    /// and for sections that are not loaded).
    pub(super) fn section(&self, index: usize) -> Result<Vec<Relocation>> {
        let Some(raw) = self.raw.get(index) else {
            return Ok(Vec::new());
        };
        if !self.sections[index].kind.is_loaded() {
            return Ok(Vec::new());
        }
        let mut entries = Vec::with_capacity(raw.relocations.len());
        for r in raw.relocations {
            if self.arch == Arch::Aarch64 && r.r_scattered(self.endian, macho::CPU_TYPE_ARM64) {
                return Err(self.malformed(index, None, "a scattered relocation entry"));
            }
            let info = r.info(self.endian);
            if self.arch == Arch::Aarch64 && r.r_word1.get(self.endian) >> 24 == 0xff {
                // LLVM's assembler (through LLVM 22 at least) writes a
                // negative ARM64_RELOC_ADDEND without masking it to 24 bits,
                // so the sign bits spill into r_pcrel, r_length, r_extern
                // and r_type (which reads 15, a type arm64 does not define).
                // That word can only mean that addend.
                entries.push(Entry {
                    offset: u64::from(info.r_address),
                    symbolnum: info.r_symbolnum,
                    pcrel: false,
                    length: 2,
                    external: false,
                    typ: macho::ARM64_RELOC_ADDEND.0,
                });
                continue;
            }
            entries.push(Entry {
                offset: u64::from(info.r_address),
                symbolnum: info.r_symbolnum,
                pcrel: info.r_pcrel,
                length: info.r_length,
                external: info.r_extern,
                typ: info.r_type.0,
            });
        }
        match self.arch {
            Arch::X86_64 => self.x86_64(index, &entries),
            Arch::Aarch64 => self.aarch64(index, &entries),
            // Mach-O has no RISC-V CPU type: the parser never gets here.
            Arch::Riscv64 => Err(malformed(
                self.object,
                "RISC-V Mach-O has no relocation types",
            )),
        }
    }

    fn x86_64(&self, section: usize, entries: &[Entry]) -> Result<Vec<Relocation>> {
        const UNSIGNED: u8 = macho::X86_64_RELOC_UNSIGNED.0;
        const SIGNED: u8 = macho::X86_64_RELOC_SIGNED.0;
        const BRANCH: u8 = macho::X86_64_RELOC_BRANCH.0;
        const GOT_LOAD: u8 = macho::X86_64_RELOC_GOT_LOAD.0;
        const GOT: u8 = macho::X86_64_RELOC_GOT.0;
        const SUBTRACTOR: u8 = macho::X86_64_RELOC_SUBTRACTOR.0;
        const SIGNED_1: u8 = macho::X86_64_RELOC_SIGNED_1.0;
        const SIGNED_2: u8 = macho::X86_64_RELOC_SIGNED_2.0;
        const SIGNED_4: u8 = macho::X86_64_RELOC_SIGNED_4.0;
        const TLV: u8 = macho::X86_64_RELOC_TLV.0;

        let mut out = Vec::with_capacity(entries.len());
        let mut iter = entries.iter().copied();
        while let Some(e) = iter.next() {
            let relocation = match e.typ {
                UNSIGNED => {
                    let kind = match (e.pcrel, e.length) {
                        (false, 3) => X::Abs64,
                        (false, 2) => X::Abs32,
                        _ => return Err(self.unsupported(section, e)),
                    };
                    match self.unsigned(section, e, RelocKind::X86_64(kind))? {
                        Some(r) => r,
                        None => continue,
                    }
                }
                SUBTRACTOR => {
                    let kind = match (e.pcrel, e.length) {
                        (false, 3) => X::Abs64,
                        (false, 2) => X::Abs32S,
                        _ => return Err(self.unsupported(section, e)),
                    };
                    self.difference(section, e, iter.next(), RelocKind::X86_64(kind), UNSIGNED)?
                }
                SIGNED | SIGNED_1 | SIGNED_2 | SIGNED_4 | BRANCH | GOT_LOAD | GOT | TLV => {
                    if !e.pcrel || e.length != 2 {
                        return Err(self.unsupported(section, e));
                    }
                    let (kind, n) = match e.typ {
                        SIGNED => (X::Pc32, 0),
                        SIGNED_1 => (X::Pc32, 1),
                        SIGNED_2 => (X::Pc32, 2),
                        SIGNED_4 => (X::Pc32, 4),
                        BRANCH => (X::Branch32, 0),
                        // ld64 makes a TLV `movq` of a descriptor in the
                        // image a `leaq` too.
                        GOT_LOAD | TLV => (X::GotPcRelX, 0),
                        _ => (X::GotPcRel32, 0),
                    };
                    if matches!(kind, X::GotPcRel32 | X::GotPcRelX) && !e.external {
                        return Err(self.unsupported(section, e));
                    }
                    let field = self.field(section, e)?;
                    let to = self.target(section, e)?;
                    let addend = if e.external {
                        field.wrapping_sub(4)
                    } else {
                        let place = self.raw[section].addr.wrapping_add(e.offset);
                        let address = place.wrapping_add(4 + n).wrapping_add(field as u64);
                        address.wrapping_sub(to.base).wrapping_sub(4 + n) as i64
                    };
                    Relocation {
                        offset: e.offset,
                        kind: RelocKind::X86_64(kind),
                        target: to.target,
                        addend,
                        subtrahend: None,
                    }
                }
                _ => return Err(self.unsupported(section, e)),
            };
            out.push(relocation);
        }
        Ok(out)
    }

    fn aarch64(&self, section: usize, entries: &[Entry]) -> Result<Vec<Relocation>> {
        const UNSIGNED: u8 = macho::ARM64_RELOC_UNSIGNED.0;
        const SUBTRACTOR: u8 = macho::ARM64_RELOC_SUBTRACTOR.0;
        const BRANCH26: u8 = macho::ARM64_RELOC_BRANCH26.0;
        const PAGE21: u8 = macho::ARM64_RELOC_PAGE21.0;
        const PAGEOFF12: u8 = macho::ARM64_RELOC_PAGEOFF12.0;
        const GOT_LOAD_PAGE21: u8 = macho::ARM64_RELOC_GOT_LOAD_PAGE21.0;
        const GOT_LOAD_PAGEOFF12: u8 = macho::ARM64_RELOC_GOT_LOAD_PAGEOFF12.0;
        const POINTER_TO_GOT: u8 = macho::ARM64_RELOC_POINTER_TO_GOT.0;
        const ADDEND: u8 = macho::ARM64_RELOC_ADDEND.0;
        const TLVP_LOAD_PAGE21: u8 = macho::ARM64_RELOC_TLVP_LOAD_PAGE21.0;
        const TLVP_LOAD_PAGEOFF12: u8 = macho::ARM64_RELOC_TLVP_LOAD_PAGEOFF12.0;

        let mut out = Vec::with_capacity(entries.len());
        let mut iter = entries.iter().copied().peekable();
        // The addend an ARM64_RELOC_ADDEND gave the entry that follows it.
        let mut pending: Option<i64> = None;
        while let Some(e) = iter.next() {
            let addend = pending.take();
            let relocation = match e.typ {
                ADDEND => {
                    let next = iter.peek().copied();
                    let paired = next.is_some_and(|n| {
                        n.offset == e.offset && matches!(n.typ, BRANCH26 | PAGE21 | PAGEOFF12)
                    });
                    if !paired || addend.is_some() {
                        return Err(self.malformed(
                            section,
                            Some(e),
                            "ARM64_RELOC_ADDEND is not followed by a BRANCH26, PAGE21 or PAGEOFF12 at the same place",
                        ));
                    }
                    // r_symbolnum is a signed 24-bit value.
                    pending = Some(i64::from(((e.symbolnum << 8) as i32) >> 8));
                    continue;
                }
                UNSIGNED => {
                    let kind = match (e.pcrel, e.length) {
                        (false, 3) => A64::Abs64,
                        (false, 2) => A64::Abs32,
                        _ => return Err(self.unsupported(section, e)),
                    };
                    match self.unsigned(section, e, RelocKind::Aarch64(kind))? {
                        Some(r) => r,
                        None => continue,
                    }
                }
                SUBTRACTOR => {
                    let kind = match (e.pcrel, e.length) {
                        (false, 3) => A64::Abs64,
                        (false, 2) => A64::Abs32,
                        _ => return Err(self.unsupported(section, e)),
                    };
                    self.difference(section, e, iter.next(), RelocKind::Aarch64(kind), UNSIGNED)?
                }
                BRANCH26 | PAGE21 | PAGEOFF12 | GOT_LOAD_PAGE21 | GOT_LOAD_PAGEOFF12
                | POINTER_TO_GOT | TLVP_LOAD_PAGE21 | TLVP_LOAD_PAGEOFF12 => {
                    let kind = match (e.typ, e.pcrel, e.length) {
                        (BRANCH26, true, 2) => A64::Call26,
                        (PAGE21, true, 2) => A64::AdrPrelPgHi21,
                        (PAGEOFF12, false, 2) => A64::PageOff12,
                        (GOT_LOAD_PAGE21, true, 2) => A64::AdrGotPage,
                        (GOT_LOAD_PAGEOFF12, false, 2) => A64::Ld64GotLo12Nc,
                        // A pointer to the variable's descriptor, as GOT loads.
                        (TLVP_LOAD_PAGE21, true, 2) => A64::AdrGotPage,
                        (TLVP_LOAD_PAGEOFF12, false, 2) => A64::Ld64GotLo12Nc,
                        (POINTER_TO_GOT, true, 2) => A64::GotPrel32,
                        (POINTER_TO_GOT, false, 3) => A64::GotAbs64,
                        _ => return Err(self.unsupported(section, e)),
                    };
                    if !e.external {
                        return Err(self.unsupported(section, e));
                    }
                    // The field must lie inside the section even though its
                    // bytes are not an addend.
                    self.place(section, e)?;
                    let to = self.target(section, e)?;
                    Relocation {
                        offset: e.offset,
                        kind: RelocKind::Aarch64(kind),
                        target: to.target,
                        addend: addend.unwrap_or(0),
                        subtrahend: None,
                    }
                }
                _ => return Err(self.unsupported(section, e)),
            };
            out.push(relocation);
        }
        Ok(out)
    }

    /// An `UNSIGNED` pointer: the field holds the addend (and, when
    /// non-extern, the target's object address). `None` for an absolute
    /// (`R_ABS`) value, which needs no fixup.
    fn unsigned(&self, section: usize, e: Entry, kind: RelocKind) -> Result<Option<Relocation>> {
        if !e.external && e.symbolnum == macho::R_ABS {
            self.place(section, e)?;
            return Ok(None);
        }
        let field = self.field(section, e)?;
        let to = self.target(section, e)?;
        Ok(Some(Relocation {
            offset: e.offset,
            kind,
            target: to.target,
            addend: field.wrapping_sub(to.base as i64),
            subtrahend: None,
        }))
    }

    /// A `SUBTRACTOR` entry `sub` and the `UNSIGNED` entry `next` that must
    /// follow it: one relocation computing S - T + A.
    fn difference(
        &self,
        section: usize,
        sub: Entry,
        next: Option<Entry>,
        kind: RelocKind,
        unsigned_type: u8,
    ) -> Result<Relocation> {
        let Some(min) = next.filter(|n| {
            n.typ == unsigned_type && n.offset == sub.offset && n.length == sub.length && !n.pcrel
        }) else {
            return Err(self.malformed(
                section,
                Some(sub),
                "SUBTRACTOR is not followed by an UNSIGNED of the same length at the same place",
            ));
        };
        let field = self.field(section, sub)?;
        let from = self.target(section, sub)?;
        let to = self.target(section, min)?;
        Ok(Relocation {
            offset: sub.offset,
            kind,
            target: to.target,
            addend: field
                .wrapping_sub(to.base as i64)
                .wrapping_add(from.base as i64),
            subtrahend: Some(from.target),
        })
    }

    /// The bytes of the field at the place, checked to lie in the section.
    fn place(&self, section: usize, e: Entry) -> Result<&[u8]> {
        let bytes = self.sections[section].data;
        usize::try_from(e.offset)
            .ok()
            .and_then(|start| bytes.get(start..)?.get(..e.width()))
            .ok_or_else(|| {
                self.malformed(
                    section,
                    Some(e),
                    &format!(
                        "the {}-byte field lies outside the section's {} bytes",
                        e.width(),
                        bytes.len()
                    ),
                )
            })
    }

    /// The value at the place: 8 bytes as is, 4 bytes sign-extended.
    fn field(&self, section: usize, e: Entry) -> Result<i64> {
        let place = self.place(section, e)?;
        let value = match e.length {
            3 => read_le::<8>(place).map(|v| v as i64),
            2 => read_le::<4>(place).map(|v| i64::from(v as u32 as i32)),
            _ => return Err(self.unsupported(section, e)),
        };
        value.map_err(|_| self.malformed(section, Some(e), "the field lies outside the section"))
    }

    /// What entry `e` refers to.
    fn target(&self, section: usize, e: Entry) -> Result<Resolved> {
        let index = e.symbolnum as usize;
        if e.external {
            let Some(symbol) = self.symbols.get(index) else {
                return Err(self.malformed(
                    section,
                    Some(e),
                    &format!("refers to missing symbol {index}"),
                ));
            };
            if self.stabs.get(index).copied().unwrap_or(false) {
                return Err(self.malformed(
                    section,
                    Some(e),
                    &format!("refers to debugging symbol {index}"),
                ));
            }
            if let Definition::Section { section: s, .. } = symbol.definition {
                if self.sections[s as usize].kind == SectionKind::Ignored {
                    return Err(self.malformed(
                        section,
                        Some(e),
                        &format!(
                            "refers to `{}` in section `{}`, which is not loaded",
                            symbol.name, self.sections[s as usize].name
                        ),
                    ));
                }
            }
            Ok(Resolved {
                target: Target::Symbol(e.symbolnum),
                base: 0,
            })
        } else {
            let (Some(target), Some(raw)) = (self.sections.get(index), self.raw.get(index)) else {
                return Err(self.malformed(
                    section,
                    Some(e),
                    &format!("refers to missing section {index}"),
                ));
            };
            if index == 0 || !target.kind.is_loaded() {
                return Err(self.malformed(
                    section,
                    Some(e),
                    &format!("refers to section {index}, which is not loaded"),
                ));
            }
            Ok(Resolved {
                target: Target::Section(e.symbolnum),
                base: raw.addr,
            })
        }
    }

    fn malformed(&self, section: usize, e: Option<Entry>, what: &str) -> Error {
        let name = self.sections[section].name;
        match e {
            Some(e) => malformed(
                self.object,
                format!(
                    "relocation {} at {name}+{:#x}: {what}",
                    type_name(self.arch, e.typ),
                    e.offset
                ),
            ),
            None => malformed(self.object, format!("section `{name}` has {what}")),
        }
    }

    fn unsupported(&self, section: usize, e: Entry) -> Error {
        let mut kind = type_name(self.arch, e.typ);
        let note = match (self.arch, e.typ) {
            (Arch::X86_64, 9) | (Arch::Aarch64, 8 | 9) => " (thread-local variable access)",
            (Arch::Aarch64, 11) => " (arm64e pointer authentication)",
            _ => "",
        };
        if note.is_empty() {
            kind.push_str(&format!(
                " (r_pcrel={} r_length={} r_extern={})",
                u8::from(e.pcrel),
                e.length,
                u8::from(e.external)
            ));
        } else {
            kind.push_str(note);
        }
        Error::UnsupportedRelocation {
            object: self.object.to_string(),
            section: self.sections[section].name.to_string(),
            offset: e.offset,
            kind,
        }
    }
}

/// The `<mach-o/*/reloc.h>` name of a raw relocation type.
fn type_name(arch: Arch, typ: u8) -> String {
    let names: &[&str] = match arch {
        Arch::X86_64 => &[
            "X86_64_RELOC_UNSIGNED",
            "X86_64_RELOC_SIGNED",
            "X86_64_RELOC_BRANCH",
            "X86_64_RELOC_GOT_LOAD",
            "X86_64_RELOC_GOT",
            "X86_64_RELOC_SUBTRACTOR",
            "X86_64_RELOC_SIGNED_1",
            "X86_64_RELOC_SIGNED_2",
            "X86_64_RELOC_SIGNED_4",
            "X86_64_RELOC_TLV",
        ],
        Arch::Aarch64 => &[
            "ARM64_RELOC_UNSIGNED",
            "ARM64_RELOC_SUBTRACTOR",
            "ARM64_RELOC_BRANCH26",
            "ARM64_RELOC_PAGE21",
            "ARM64_RELOC_PAGEOFF12",
            "ARM64_RELOC_GOT_LOAD_PAGE21",
            "ARM64_RELOC_GOT_LOAD_PAGEOFF12",
            "ARM64_RELOC_POINTER_TO_GOT",
            "ARM64_RELOC_TLVP_LOAD_PAGE21",
            "ARM64_RELOC_TLVP_LOAD_PAGEOFF12",
            "ARM64_RELOC_ADDEND",
            "ARM64_RELOC_AUTHENTICATED_POINTER",
        ],
        Arch::Riscv64 => &[],
    };
    match names.get(usize::from(typ)) {
        Some(name) => (*name).to_string(),
        None => {
            let arch = match arch {
                Arch::X86_64 => "x86-64",
                Arch::Aarch64 => "arm64",
                Arch::Riscv64 => "riscv64",
            };
            format!("{arch} Mach-O relocation type {typ}")
        }
    }
}
