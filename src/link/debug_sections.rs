//! A linked module's debug information: the object's DWARF sections
//! (`.debug_*`), copied to the heap and relocated against the run-time
//! addresses of the module's sections and symbols, for the image a debugger
//! is given ([`crate::debug::symfile`]).
//!
//! DWARF is never loaded: it takes no memory in the module and never enters
//! the arena. Each section is copied into a heap buffer of its own and
//! patched through the same range-checked fixup arithmetic as code
//! ([`RelocKind::apply`](crate::arch::RelocKind::apply)). In the debugger's image the sections are
//! non-allocated (address 0), so a reference from one debug section into
//! another (`R_X86_64_32` against `.debug_str` + 0x1c) becomes the offset it
//! names, and a reference to code or data (`R_X86_64_64` against `.ltext` +
//! 0x40, the `DW_AT_low_pc` of a function) the run-time address. A
//! thread-local's `R_X86_64_DTPOFF32/64` becomes its offset in the module's
//! thread-local block.
//!
//! Debug information is best effort. A section with a fixup rivet cannot
//! apply (a kind DWARF does not use, a value out of range, a place outside
//! the section) is left out and the others stay; gdb reads what is there.
//! The work is done only when the link asks for it
//! ([`LinkOptions::debug_info`](super::LinkOptions::debug_info)), which the
//! engine does when it registers modules with gdb.

use crate::arch::FixupValues;
use crate::error::RelocationSite;
use crate::load::{ObjectFile, Relocation, Section, SectionKind, Target};
use crate::{Error, Result};

/// One relocated DWARF section of a linked module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DwarfSection {
    /// Its name in the object (`.debug_info`, `.debug_line`, ...).
    pub name: String,
    /// Its bytes, relocated.
    pub data: Vec<u8>,
}

/// The relocated DWARF sections of `object`, in the object's order.
/// `section_targets[i]` is what a reference to section `i` resolves to (its
/// run-time address, its offset in the thread-local block, or 0 for a
/// section that is not loaded, such as another debug section);
/// `symbols[i]` is symbol `i`'s resolved address. Sections that cannot be
/// relocated are left out (see the module docs).
pub(crate) fn relocate(
    object: &ObjectFile<'_>,
    section_targets: &[u64],
    symbols: &[u64],
) -> Vec<DwarfSection> {
    object
        .sections
        .iter()
        .filter(|s| s.kind == SectionKind::Debug)
        .filter_map(|section| {
            let data = relocate_section(object, section, section_targets, symbols).ok()?;
            Some(DwarfSection {
                name: section.name.to_string(),
                data,
            })
        })
        .collect()
}

/// One debug section's bytes, relocated; an error names the first fixup
/// that cannot be applied.
pub(crate) fn relocate_section(
    object: &ObjectFile<'_>,
    section: &Section<'_>,
    section_targets: &[u64],
    symbols: &[u64],
) -> Result<Vec<u8>> {
    let mut data = section.data.to_vec();
    for reloc in &section.relocations {
        if !reloc.kind.is_debug_info_fixup() {
            return Err(bad(object, section, reloc, "not a fixup DWARF uses"));
        }
        let target = match reloc.target {
            Target::Symbol(i) => symbols.get(i as usize),
            Target::Section(i) => section_targets.get(i as usize),
        };
        let Some(&s) = target else {
            return Err(bad(object, section, reloc, "names a missing target"));
        };
        let values = FixupValues {
            // The section sits at address 0 in the debugger's image.
            p: reloc.offset,
            s,
            a: reloc.addend,
            ..FixupValues::default()
        };
        let place = usize::try_from(reloc.offset)
            .ok()
            .and_then(|at| data.get_mut(at..))
            .ok_or_else(|| bad(object, section, reloc, "lies outside the section"))?;
        reloc.kind.apply(place, &values).map_err(|e| {
            let reason = match e {
                crate::arch::FixupError::Overflow { value, .. } => {
                    format!("value {value:#x} does not fit the field")
                }
                crate::arch::FixupError::PlaceOutOfBounds { .. } => {
                    "field runs past the section's end".to_string()
                }
                crate::arch::FixupError::Invalid(why) => why.to_string(),
            };
            bad(object, section, reloc, &reason)
        })?;
    }
    Ok(data)
}

fn bad(object: &ObjectFile<'_>, section: &Section<'_>, reloc: &Relocation, reason: &str) -> Error {
    Error::BadRelocation {
        site: Box::new(RelocationSite {
            object: object.name.clone(),
            section: section.name.to_string(),
            offset: reloc.offset,
            kind: reloc.kind.to_string(),
            symbol: object.target_name(reloc.target).to_string(),
        }),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{x86_64, RelocKind};
    use crate::load::{Arch, Binding, Definition, Format, Symbol, SymbolKind};
    use x86_64::Reloc as X;

    fn section<'a>(name: &'a str, kind: SectionKind, data: &'a [u8]) -> Section<'a> {
        Section {
            name,
            kind,
            data,
            size: data.len() as u64,
            align: 1,
            relocations: Vec::new(),
            comdat: None,
        }
    }

    fn reloc(offset: u64, kind: X, target: Target, addend: i64) -> Relocation {
        Relocation {
            offset,
            kind: RelocKind::X86_64(kind),
            target,
            addend,
            subtrahend: None,
        }
    }

    /// `.text` (loaded), `.debug_str`, `.debug_info` and `.debug_line`
    /// (debug), and an external symbol `g`.
    fn object<'a>(info: &'a [u8], line: &'a [u8]) -> ObjectFile<'a> {
        let mut sections = vec![
            Section::placeholder(),
            section(".text", SectionKind::Text, &[0xc3; 16]),
            section(".debug_str", SectionKind::Debug, b"f\0x\0"),
            section(".debug_info", SectionKind::Debug, info),
            section(".debug_line", SectionKind::Debug, line),
        ];
        sections[3].relocations = vec![
            // DW_AT_name: an offset into .debug_str.
            reloc(0, X::Abs32, Target::Section(2), 2),
            // DW_AT_low_pc: the address of .text + 4.
            reloc(4, X::Abs64, Target::Section(1), 4),
            // DW_OP_addr of a global defined elsewhere.
            reloc(12, X::Abs64, Target::Symbol(0), 8),
        ];
        ObjectFile {
            name: "m.o".into(),
            format: Format::Elf,
            arch: Arch::X86_64,
            sections,
            symbols: vec![Symbol {
                name: "g",
                binding: Binding::Global,
                kind: SymbolKind::Data,
                definition: Definition::Undefined,
                size: 0,
            }],
        }
    }

    #[test]
    fn offsets_stay_offsets_and_addresses_become_run_time_ones() {
        let info = [0xaa; 20];
        let line = [0x11; 4];
        let object = object(&info, &line);
        let targets = [0, 0x7f00_1000_0000, 0, 0, 0];
        let symbols = [0x5555_0000_1000];
        let dwarf = relocate(&object, &targets, &symbols);
        let names: Vec<&str> = dwarf.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, [".debug_str", ".debug_info", ".debug_line"]);
        assert_eq!(dwarf[0].data, b"f\0x\0");
        let info = &dwarf[1].data;
        assert_eq!(u32::from_le_bytes(info[0..4].try_into().unwrap()), 2);
        assert_eq!(
            u64::from_le_bytes(info[4..12].try_into().unwrap()),
            0x7f00_1000_0004
        );
        assert_eq!(
            u64::from_le_bytes(info[12..20].try_into().unwrap()),
            0x5555_0000_1008
        );
        assert_eq!(dwarf[2].data, line, "no fixups: copied as is");
        // The object's bytes are untouched: the copy is what is patched.
        assert!(object.sections[3].data.iter().all(|&b| b == 0xaa));
    }

    #[test]
    fn a_section_that_cannot_be_relocated_is_left_out_alone() {
        let info = [0; 20];
        let line = [0; 4];
        let mut object = object(&info, &line);
        // An address in a 32-bit field: out of range at run time.
        object.sections[4]
            .relocations
            .push(reloc(0, X::Abs32, Target::Section(1), 0));
        let targets = [0, 0x7f00_1000_0000, 0, 0, 0];
        let err = relocate_section(&object, &object.sections[4], &targets, &[0x1000]).unwrap_err();
        assert!(
            matches!(&err, Error::BadRelocation { site, .. } if site.section == ".debug_line"),
            "{err}"
        );
        let names: Vec<String> = relocate(&object, &targets, &[0x1000])
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, [".debug_str", ".debug_info"]);

        // A PC-relative fixup, one past the end, one naming a missing symbol.
        for bad in [
            reloc(0, X::Pc32, Target::Section(1), 0),
            reloc(2, X::Abs32, Target::Section(2), 0),
            reloc(0, X::Abs32, Target::Symbol(9), 0),
        ] {
            object.sections[4].relocations = vec![bad];
            let err =
                relocate_section(&object, &object.sections[4], &targets, &[0x1000]).unwrap_err();
            assert!(matches!(err, Error::BadRelocation { .. }), "{err}");
        }
    }
}
