//! The relocations a Mach-O `__eh_frame` leaves implicit.
//!
//! LLVM's x86-64 Mach-O assembler resolves an FDE's `pc_begin` and LSDA
//! pointers (pc-relative differences to `__text` and `__gcc_except_tab`) at
//! assembly time and writes no relocation for them: `ld64` decodes
//! `__eh_frame` and finds the targets by address, as do RuntimeDyld
//! (`processFDE`) and JITLink (`EHFrameEdgeFixer`). Copied as is, those
//! values would be wrong as soon as rivet places `__text` and `__eh_frame`
//! at another distance than the object's, so the loader walks the CIEs and
//! FDEs and adds a relocation for every encoded pointer that has none: the
//! CIE's personality pointer, the FDE's `pc_begin` and its LSDA pointer.
//! arm64 objects carry explicit relocations for these (SUBTRACTOR pairs)
//! and get nothing added; the same walk checks them.
//!
//! A pointer that is pc-relative (`DW_EH_PE_pcrel`) becomes `Pc64`/`Pc32`
//! (x86-64) or `Prel64`/`Prel32` (arm64) against the section holding the
//! address it points to; an absolute one (`DW_EH_PE_absptr` application)
//! becomes `Abs64`/`Abs32`, a null absolute one (an FDE without LSDA)
//! nothing. Other applications (`datarel`, `textrel`, `funcrel`) and
//! variable-length formats without a relocation are refused.

use std::collections::{HashMap, HashSet};

use super::RawSection;
use crate::arch::{aarch64::Reloc as A64, riscv64::Reloc as RiscvReloc, x86_64::Reloc as X};
use crate::load::{malformed, unsupported, Arch, RelocKind, Relocation, Section, Target};
use crate::{Error, Result};

const DW_EH_PE_OMIT: u8 = 0xff;
const DW_EH_PE_PCREL: u8 = 0x10;

/// What an FDE needs from its CIE.
#[derive(Debug, Clone, Copy)]
struct Cie {
    /// The encoding of `pc_begin` and `pc_range` (`R`).
    fde: u8,
    /// The encoding of the LSDA pointer (`L`), or omit.
    lsda: u8,
    /// Whether FDEs carry augmentation data (`z`).
    z: bool,
}

struct Walker<'a, 'data> {
    object: &'a str,
    arch: Arch,
    section: usize,
    sections: &'a [Section<'data>],
    raw: &'a [RawSection<'data>],
    data: &'data [u8],
    /// Offsets that already have an explicit relocation.
    covered: HashSet<u64>,
    added: Vec<Relocation>,
}

/// Appends to `relocations` (those of `__eh_frame`, model section
/// `section`) a relocation for every encoded pointer that has none.
pub(super) fn add_implicit(
    object: &str,
    arch: Arch,
    section: usize,
    sections: &[Section<'_>],
    raw: &[RawSection<'_>],
    relocations: &mut Vec<Relocation>,
) -> Result<()> {
    let mut walker = Walker {
        object,
        arch,
        section,
        sections,
        raw,
        data: sections[section].data,
        covered: relocations.iter().map(|r| r.offset).collect(),
        added: Vec::new(),
    };
    walker.walk()?;
    relocations.append(&mut walker.added);
    Ok(())
}

impl Walker<'_, '_> {
    fn walk(&mut self) -> Result<()> {
        // CIEs first (an FDE names its CIE by offset), then FDEs.
        let records = self.records()?;
        let mut cies = HashMap::new();
        for &(start, _, end) in records.iter().filter(|r| r.1 == 0) {
            cies.insert(start, self.cie(start, end)?);
        }
        for &(start, id, end) in records.iter().filter(|r| r.1 != 0) {
            let cie_at = (start + 4).checked_sub(id as usize);
            let Some(cie) = cie_at.and_then(|at| cies.get(&at)) else {
                return Err(self.bad(start, "an FDE whose CIE pointer names no CIE"));
            };
            self.fde(start, end, *cie)?;
        }
        Ok(())
    }

    /// (start of the record's CIE-id field, that id, end) for every record.
    fn records(&self) -> Result<Vec<(usize, u32, usize)>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < self.data.len() {
            let length = self.u32_at(pos)?;
            if length == 0 {
                break; // terminator
            }
            if length == u32::MAX {
                return Err(unsupported(
                    self.object,
                    "__eh_frame uses the 64-bit DWARF format",
                ));
            }
            let start = pos + 4;
            let end = start
                .checked_add(length as usize)
                .filter(|&end| end <= self.data.len())
                .ok_or_else(|| self.bad(pos, "a record longer than the section"))?;
            out.push((start, self.u32_at(start)?, end));
            pos = end;
        }
        Ok(out)
    }

    /// Parses the CIE whose id field is at `start`, handling its personality pointer.
    fn cie(&mut self, start: usize, end: usize) -> Result<Cie> {
        let mut at = start + 4;
        let version = self.u8_at(at, end)?;
        at += 1;
        let aug_start = at;
        while self.u8_at(at, end)? != 0 {
            at += 1;
        }
        let augmentation = &self.data[aug_start..at];
        at += 1;
        if augmentation.starts_with(b"eh") {
            return Err(unsupported(
                self.object,
                "__eh_frame CIE with `eh` augmentation",
            ));
        }
        at = self.skip_leb(at, end)?; // code alignment
        at = self.skip_leb(at, end)?; // data alignment
        at = if version == 1 {
            at + 1
        } else {
            self.skip_leb(at, end)?
        }; // return address register
        let mut cie = Cie {
            fde: 0,
            lsda: DW_EH_PE_OMIT,
            z: false,
        };
        if augmentation.first() != Some(&b'z') {
            return Ok(cie);
        }
        cie.z = true;
        let (length, next) = self.uleb(at, end)?;
        at = next;
        let data_end = usize::try_from(length)
            .ok()
            .and_then(|l| at.checked_add(l))
            .filter(|&e| e <= end)
            .ok_or_else(|| self.bad(start, "CIE augmentation data longer than the CIE"))?;
        for &c in &augmentation[1..] {
            match c {
                b'P' => {
                    let encoding = self.u8_at(at, data_end)?;
                    at = self.pointer(at + 1, data_end, encoding)?;
                }
                b'L' => {
                    cie.lsda = self.u8_at(at, data_end)?;
                    at += 1;
                }
                b'R' => {
                    cie.fde = self.u8_at(at, data_end)?;
                    at += 1;
                }
                b'S' | b'B' | b'G' => {}
                // Unknown: the rest of the data cannot be interpreted, and
                // `z` lets readers skip it.
                _ => break,
            }
        }
        Ok(cie)
    }

    fn fde(&mut self, start: usize, end: usize, cie: Cie) -> Result<()> {
        let at = self.pointer(start + 4, end, cie.fde)?;
        // pc_range: a length in the same format, never relocated.
        let mut at = self.skip_value(at, end, cie.fde & 0x0f)?;
        if cie.z {
            at = self.uleb(at, end)?.1;
            if cie.lsda != DW_EH_PE_OMIT {
                self.pointer(at, end, cie.lsda)?;
            }
        }
        Ok(())
    }

    /// Handles the pointer encoded with `encoding` at `at` and returns the
    /// offset after it.
    fn pointer(&mut self, at: usize, end: usize, encoding: u8) -> Result<usize> {
        if encoding == DW_EH_PE_OMIT {
            return Ok(at);
        }
        let format = encoding & 0x0f;
        let application = encoding & 0x70;
        let after = self.skip_value(at, end, format)?;
        let offset = at as u64;
        if self.covered.contains(&offset) {
            return Ok(after);
        }
        let width = after - at;
        let (value, signed) = match (format, width) {
            (0x00 | 0x04 | 0x0c, 8) => (self.u64_at(at)?, self.u64_at(at)? as i64),
            (0x03, 4) => {
                let v = self.u32_at(at)?;
                (u64::from(v), i64::from(v))
            }
            (0x0b, 4) => {
                let v = self.u32_at(at)?;
                (u64::from(v), i64::from(v as i32))
            }
            _ => {
                return Err(unsupported(
                    self.object,
                    &format!(
                        "__eh_frame pointer encoding {encoding:#04x} at offset {at:#x} without a relocation"
                    ),
                ))
            }
        };
        let place = self.raw[self.section].addr.wrapping_add(offset);
        let (address, kind) = match application {
            DW_EH_PE_PCREL => {
                let kind = match (self.arch, width) {
                    (Arch::X86_64, 8) => RelocKind::X86_64(X::Pc64),
                    (Arch::X86_64, _) => RelocKind::X86_64(X::Pc32),
                    (Arch::Aarch64, 8) => RelocKind::Aarch64(A64::Prel64),
                    (Arch::Aarch64, _) => RelocKind::Aarch64(A64::Prel32),
                    // Mach-O has no RISC-V; the arms keep the match total.
                    (Arch::Riscv64, _) => RelocKind::Riscv64(RiscvReloc::Pcrel32),
                };
                (place.wrapping_add(signed as u64), kind)
            }
            0x00 => {
                if value == 0 {
                    return Ok(after); // a null pointer (no LSDA)
                }
                let kind = match (self.arch, width) {
                    (Arch::X86_64, 8) => RelocKind::X86_64(X::Abs64),
                    (Arch::X86_64, _) => RelocKind::X86_64(X::Abs32),
                    (Arch::Aarch64, 8) => RelocKind::Aarch64(A64::Abs64),
                    (Arch::Aarch64, _) => RelocKind::Aarch64(A64::Abs32),
                    (Arch::Riscv64, 8) => RelocKind::Riscv64(RiscvReloc::Abs64),
                    (Arch::Riscv64, _) => RelocKind::Riscv64(RiscvReloc::Abs32),
                };
                (value, kind)
            }
            _ => {
                return Err(unsupported(
                    self.object,
                    &format!(
                        "__eh_frame pointer encoding {encoding:#04x} at offset {at:#x} without a relocation"
                    ),
                ))
            }
        };
        let (target, base) = self.section_at(address).ok_or_else(|| {
            self.bad(
                at,
                &format!("a pointer to {address:#x}, which lies in no loaded section"),
            )
        })?;
        self.added.push(Relocation {
            offset,
            kind,
            target: Target::Section(target),
            addend: address.wrapping_sub(base) as i64,
            subtrahend: None,
        });
        self.covered.insert(offset);
        Ok(after)
    }

    /// The loaded section holding object address `address`, and its address.
    fn section_at(&self, address: u64) -> Option<(u32, u64)> {
        self.sections
            .iter()
            .zip(self.raw)
            .enumerate()
            .skip(1)
            .find(|(_, (s, r))| {
                s.kind.is_loaded() && address >= r.addr && address - r.addr < s.size
            })
            .map(|(i, (_, r))| (i as u32, r.addr))
    }

    /// The offset after a value of `format` at `at`.
    fn skip_value(&self, at: usize, end: usize, format: u8) -> Result<usize> {
        let width = match format {
            0x00 | 0x04 | 0x0c => 8,
            0x02 | 0x0a => 2,
            0x03 | 0x0b => 4,
            0x01 | 0x09 => return self.skip_leb(at, end),
            _ => {
                return Err(self.bad(at, &format!("an unknown pointer format {format:#x}")));
            }
        };
        at.checked_add(width)
            .filter(|&after| after <= end)
            .ok_or_else(|| self.bad(at, "a value past the end of its record"))
    }

    fn uleb(&self, mut at: usize, end: usize) -> Result<(u64, usize)> {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.u8_at(at, end)?;
            at += 1;
            if shift < 64 {
                value |= u64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                return Ok((value, at));
            }
        }
    }

    fn skip_leb(&self, at: usize, end: usize) -> Result<usize> {
        Ok(self.uleb(at, end)?.1)
    }

    fn u8_at(&self, at: usize, end: usize) -> Result<u8> {
        if at >= end {
            return Err(self.bad(at, "a record that ends too early"));
        }
        self.data
            .get(at)
            .copied()
            .ok_or_else(|| self.bad(at, "a record past the end of the section"))
    }

    fn u32_at(&self, at: usize) -> Result<u32> {
        self.data
            .get(at..)
            .and_then(|b| b.get(..4))
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| self.bad(at, "a record past the end of the section"))
    }

    fn u64_at(&self, at: usize) -> Result<u64> {
        let low = self.u32_at(at)?;
        let high = self.u32_at(at + 4)?;
        Ok(u64::from(low) | u64::from(high) << 32)
    }

    fn bad(&self, at: usize, what: &str) -> Error {
        malformed(
            self.object,
            format!(
                "`{}`+{at:#x} holds {what}",
                self.sections[self.section].name
            ),
        )
    }
}
