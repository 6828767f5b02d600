//! Mach-O `nlist_64` entries → model symbols, one for one.
//!
//! - `N_STAB` debugging entries become unnamed local placeholders
//!   ([`Definition::Absolute`]`(0)`), so that symbol numbers in relocations
//!   keep indexing the table; a relocation against one is refused.
//! - Names lose one leading underscore (`_sum` → `sum`, `__ZN3foo` →
//!   `_ZN3foo`), the C-level name ELF and COFF x86-64 objects use. This
//!   applies to local symbols too (an `internal` global `_counter` is
//!   `counter`, as in ELF); assembler-local names (`ltmp0`, `l_...`,
//!   `L...`) have no underscore and stay as they are.
//! - `N_EXT` is [`Binding::Global`] (`N_PEXT` private externs too: one JIT
//!   link is one linkage unit), or [`Binding::Weak`] for a definition with
//!   `N_WEAK_DEF` and an undefined reference with `N_WEAK_REF`.
//! - `N_UNDF | N_EXT` with a non-zero `n_value` is a common block of that
//!   many bytes, aligned to 2^`GET_COMM_ALIGN(n_desc)` (0 means natural
//!   alignment: the size rounded up to a power of two, at most 16).
//! - `N_SECT` symbols are at `n_value` minus their section's address.

use object::macho;
use object::read::macho::{Nlist as _, SymbolTable};
use object::Endianness;

use super::{str_of, RawSection};
use crate::load::{
    malformed, unsupported, Binding, Definition, Section, SectionKind, Symbol, SymbolKind,
};
use crate::Result;

type Header = macho::MachHeader64<Endianness>;

/// The alignment of a common block whose `n_desc` gives none.
fn natural_alignment(size: u64) -> u64 {
    size.checked_next_power_of_two().unwrap_or(16).clamp(1, 16)
}

/// Strips the underscore Darwin's C compilers put in front of every name.
pub(super) fn c_name(name: &str) -> &str {
    name.strip_prefix('_').unwrap_or(name)
}

pub(super) fn parse<'data>(
    object: &str,
    endian: Endianness,
    table: &SymbolTable<'data, Header>,
    sections: &[Section<'data>],
    raw: &[RawSection<'data>],
) -> Result<Vec<Symbol<'data>>> {
    let mut symbols = Vec::with_capacity(table.len());
    for (index, nlist) in table.iter().enumerate() {
        let n_type = nlist.n_type();
        if n_type.is_stab() {
            symbols.push(Symbol::placeholder());
            continue;
        }
        let raw_name = nlist.name(endian, table.strings()).map_err(|_| {
            malformed(
                object,
                format!("symbol {index} has a name outside the string table"),
            )
        })?;
        let full_name = str_of(object, raw_name, "a symbol name")?;
        let name = c_name(full_name);
        let n_desc = nlist.n_desc(endian);
        let n_value = nlist.n_value(endian);
        let external = n_type.is_ext();
        let (definition, kind) = match n_type.typ() {
            macho::N_UNDF if n_value == 0 => (Definition::Undefined, SymbolKind::Other),
            macho::N_UNDF => {
                if !external {
                    return Err(malformed(
                        object,
                        format!("common symbol `{full_name}` is not external"),
                    ));
                }
                let align = match n_desc.common_alignment() {
                    0 => natural_alignment(n_value),
                    log2 => 1u64 << log2,
                };
                (
                    Definition::Common {
                        size: n_value,
                        align,
                    },
                    SymbolKind::Data,
                )
            }
            macho::N_ABS => (Definition::Absolute(n_value), SymbolKind::Other),
            macho::N_SECT => {
                let ordinal = usize::from(nlist.n_sect());
                let (Some(section), Some(raw)) = (sections.get(ordinal), raw.get(ordinal)) else {
                    return Err(malformed(
                        object,
                        format!("symbol `{full_name}` names missing section {ordinal}"),
                    ));
                };
                if ordinal == 0 {
                    return Err(malformed(
                        object,
                        format!("symbol `{full_name}` is N_SECT without a section (NO_SECT)"),
                    ));
                }
                let offset = n_value
                    .checked_sub(raw.addr)
                    .filter(|&offset| offset <= section.size)
                    .ok_or_else(|| {
                        malformed(
                            object,
                            format!(
                                "symbol `{full_name}` at {n_value:#x} lies outside its section `{}`",
                                section.name
                            ),
                        )
                    })?;
                if section.kind == SectionKind::Ignored && external {
                    return Err(malformed(
                        object,
                        format!(
                            "symbol `{full_name}` is defined in section `{}`, which is not loaded",
                            section.name
                        ),
                    ));
                }
                if n_desc.contains(macho::N_SYMBOL_RESOLVER) {
                    return Err(unsupported(
                        object,
                        &format!("symbol `{full_name}` is a resolver function (N_SYMBOL_RESOLVER)"),
                    ));
                }
                let kind = if section.kind == SectionKind::Text {
                    SymbolKind::Function
                } else {
                    SymbolKind::Data
                };
                (
                    Definition::Section {
                        section: ordinal as u32,
                        offset,
                    },
                    kind,
                )
            }
            macho::N_INDR => {
                return Err(unsupported(
                    object,
                    &format!("symbol `{full_name}` is an indirect alias (N_INDR)"),
                ))
            }
            macho::N_PBUD => {
                return Err(unsupported(
                    object,
                    &format!("symbol `{full_name}` is prebound to a library (N_PBUD)"),
                ))
            }
            other => {
                return Err(malformed(
                    object,
                    format!("symbol `{full_name}` has unknown type {:#x}", other.0),
                ))
            }
        };
        let binding = if !external {
            Binding::Local
        } else {
            let weak = match definition {
                Definition::Undefined => n_desc.contains(macho::N_WEAK_REF),
                Definition::Section { .. } => n_desc.contains(macho::N_WEAK_DEF),
                _ => false,
            };
            if weak {
                Binding::Weak
            } else {
                Binding::Global
            }
        };
        symbols.push(Symbol {
            name,
            binding,
            kind,
            definition,
            size: 0,
        });
    }
    Ok(symbols)
}
