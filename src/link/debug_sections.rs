//! A linked module's debug information: the object's DWARF sections
//! (`.debug_*`), copied to the heap and relocated against the run-time
//! addresses of the module's sections and symbols, for the image a debugger
//! is given (`debug::symfile`, a floor above, builds it from these).
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
            return Err(bad(object, section, &reloc, "not a fixup DWARF uses"));
        }
        let target = match reloc.target {
            Target::Symbol(i) => symbols.get(i as usize),
            Target::Section(i) => section_targets.get(i as usize),
        };
        let Some(&s) = target else {
            return Err(bad(object, section, &reloc, "names a missing target"));
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
            .ok_or_else(|| bad(object, section, &reloc, "lies outside the section"))?;
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
            bad(object, section, &reloc, &reason)
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
mod tests;
