//! Mach-O relocatable objects (`MH_OBJECT`, 64-bit, little-endian) for
//! x86-64 and arm64.
//!
//! The file's own numbering is kept: model section 0 is a placeholder and
//! Mach-O section ordinals 1..n (every section of every segment, in
//! load-command order) are model sections 1..n; model symbol i is `nlist`
//! entry i (debugging `N_STAB` entries become unnamed placeholders so that
//! relocation symbol numbers still index correctly).
//!
//! Names lose the leading underscore the C compiler adds on Darwin (`_sum`
//! becomes `sum`, a reference to `_sin` resolves to the host's `sin`).
//!
//! Sections have addresses in a Mach-O object, so a symbol's offset is its
//! `n_value` minus its section's address, and the loader turns the target
//! addresses that non-extern relocations keep in the bytes at the place into
//! section-relative addends. See [`relocation`] for every implicit addend,
//! and [`eh_frame`] for the relocations x86-64 `__eh_frame` leaves out.

mod eh_frame;
mod relocation;
mod section;
mod symbol;

use object::macho;
use object::read::macho::{MachHeader, Nlist as _, Segment};
use object::Endianness;

use super::{malformed, unsupported, Arch, Format, ObjectFile, SectionKind};
use crate::Result;

/// What the rest of the loader needs to know about one Mach-O section, by
/// model index (index 0 is the placeholder).
#[derive(Debug, Clone, Copy, Default)]
struct RawSection<'data> {
    /// The section's address in the object's address space.
    addr: u64,
    /// The section's relocation entries (empty for the placeholder).
    relocations: &'data [macho::Relocation<Endianness>],
}

pub(super) fn parse<'data>(data: &'data [u8], name: &str) -> Result<ObjectFile<'data>> {
    let bad = |e: object::read::Error| malformed(name, e.to_string());
    let header = macho::MachHeader64::<Endianness>::parse(data, 0).map_err(bad)?;
    if !header.is_little_endian() {
        return Err(unsupported(name, "big-endian Mach-O"));
    }
    let endian = header.endian().map_err(bad)?;
    if header.filetype(endian) != macho::MH_OBJECT {
        return Err(unsupported(
            name,
            "not a relocatable object (MH_OBJECT); executables and dynamic libraries are loaded with load_library_permanently",
        ));
    }
    let arch = match header.cputype(endian) {
        macho::CPU_TYPE_X86_64 => Arch::X86_64,
        macho::CPU_TYPE_ARM64 => Arch::Aarch64,
        other => {
            return Err(unsupported(
                name,
                &format!("Mach-O CPU type {:#x}", other.0),
            ))
        }
    };

    let mut headers: Vec<&'data macho::Section64<Endianness>> = Vec::new();
    let mut symtab = None;
    let mut commands = header.load_commands(endian, data, 0).map_err(bad)?;
    while let Some(command) = commands.next().map_err(bad)? {
        if let Some((segment, section_data)) = command.segment_64().map_err(bad)? {
            headers.extend(segment.sections(endian, section_data).map_err(bad)?);
        } else if command.cmd() == macho::LC_SEGMENT {
            return Err(malformed(
                name,
                "a 32-bit segment command (LC_SEGMENT) in a 64-bit file",
            ));
        } else if let Some(command) = command.symtab().map_err(bad)? {
            if symtab.is_some() {
                return Err(malformed(name, "more than one symbol table (LC_SYMTAB)"));
            }
            symtab = Some(command);
        }
    }
    if headers.len() > 0x00ff_ffff {
        // r_symbolnum holds a section ordinal in 24 bits.
        return Err(malformed(name, "more sections than Mach-O can number"));
    }

    let (mut sections, raw) = section::parse(name, endian, data, &headers)?;
    let (symbols, stabs) = match symtab {
        Some(symtab) => {
            let table = symtab
                .symbols::<macho::MachHeader64<Endianness>, _>(endian, data)
                .map_err(bad)?;
            let stabs: Vec<bool> = table.iter().map(|n| n.n_type().is_stab()).collect();
            (symbol::parse(name, endian, &table, &sections, &raw)?, stabs)
        }
        None => (Vec::new(), Vec::new()),
    };
    let relocations = {
        let context = relocation::Context {
            object: name,
            arch,
            endian,
            sections: &sections,
            raw: &raw,
            symbols: &symbols,
            stabs: &stabs,
        };
        let mut all = Vec::with_capacity(sections.len());
        for index in 0..sections.len() {
            let mut relocations = context.section(index)?;
            if sections[index].kind == SectionKind::Unwind {
                eh_frame::add_implicit(name, arch, index, &sections, &raw, &mut relocations)?;
            }
            all.push(relocations);
        }
        all
    };
    for (section, relocations) in sections.iter_mut().zip(relocations) {
        section.relocations = relocations.into();
    }

    Ok(ObjectFile {
        name: name.to_string(),
        format: Format::MachO,
        arch,
        sections,
        symbols,
    })
}

/// A name from the file as UTF-8.
fn str_of<'data>(object: &str, bytes: &'data [u8], what: &str) -> Result<&'data str> {
    std::str::from_utf8(bytes).map_err(|_| malformed(object, format!("{what} is not valid UTF-8")))
}

#[cfg(test)]
mod tests;
