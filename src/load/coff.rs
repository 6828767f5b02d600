//! COFF relocatable objects for x86-64 (what LLVM emits for
//! `x86_64-pc-windows-msvc` and `x86_64-w64-windows-gnu`) and arm64 (Windows
//! on Arm, `aarch64-pc-windows-msvc`), regular and `/bigobj`. Everything but
//! the relocation types is shared by the two machines.
//!
//! # Indices
//!
//! Model section indices are the file's own 1-based section numbers; index 0
//! is an [`SectionKind::Ignored`] placeholder. Model symbol indices are the
//! COFF symbol-table indices *including* auxiliary records: every auxiliary
//! record becomes a nameless local placeholder (defined absolute 0) so that
//! relocation symbol indices stay valid. A relocation that names a
//! placeholder is a malformed object.
//!
//! # Addends
//!
//! COFF addends are implicit: the loader reads the field at the place
//! (sign-extended) and turns it into the model's explicit addend. `REL32_n`
//! (n = 0..=5) is relative to the end of the instruction, n bytes after the
//! 4-byte field, so its model addend is `A - 4 - n` for a `Pc32` fixup.
//!
//! COFF arm64 keeps the addend in the instruction's immediate field (or the
//! data at the place); [`aarch64::coff_implicit_addend`] reads it per
//! instruction form, and `REL32`, relative to the end of its 4-byte field,
//! has the model addend `A - 4`. `PAGEBASE_REL21` and `REL21` keep a byte
//! addend (not a page count), `PAGEOFFSET_12L` a scaled one.
//!
//! # Branches
//!
//! COFF has a single REL32 for calls, jumps and RIP-relative data. A plain
//! REL32 in code whose field follows a `call rel32` (E8), `jmp rel32` (E9)
//! or `jcc rel32` (0F 8x) opcode becomes a [`X::Branch32`] fixup, so that the
//! linker can route it through a stub when the target is out of reach (a
//! host function far from the arena); every other REL32 is `Pc32`, which is
//! an error when out of reach. RuntimeDyld stubs every REL32 against an
//! external symbol, which is wrong for data; JITLink's fix promotes branch
//! sites only, as here. On arm64 `BRANCH26` (`b`, `bl`) may go through a
//! veneer; `BRANCH19` and `BRANCH14` are checked against their reach.
//!
//! # Symbols
//!
//! - Section symbols (static, value 0, with a section-definition record) are
//!   [`SymbolKind::Section`]; relocations against them target the section.
//! - An external with section 0 and a non-zero value is a common block of
//!   that size. COFF does not record its alignment; it is
//!   `min(32, next_power_of_two(size))` (what lld does; LLVM's MSVC target
//!   rounds a common's size up to its alignment to rely on exactly that),
//!   raised by an `-aligncomm:name,log2` directive in `.drectve` (the GNU
//!   targets emit those).
//! - A weak external (`IMAGE_SYM_CLASS_WEAK_EXTERNAL`) whose default symbol
//!   is defined in a section of this object is a [`Binding::Weak`]
//!   *definition* at the default's place: a strong definition elsewhere wins,
//!   as in COFF. One whose default is absolute 0 (LLVM's `extern_weak`) or
//!   undefined is an undefined weak symbol (0 when found nowhere); an
//!   absolute non-zero default makes a weak absolute definition. The model
//!   has no aliases, so an undefined default is not followed.
//! - The default symbols LLVM makes for weak definitions are named
//!   `.weak.<name>.default[.<other>]` and are external in the file; they are
//!   made local here, since two objects with the same weak name may carry the
//!   same default name and they are never referenced from outside.
//! - Symbols defined in a COMDAT section with selection any, same-size,
//!   exact-match or largest are weak (the first definition wins); with
//!   no-duplicates they are global (a second copy is a duplicate-symbol
//!   error); an associative section follows its parent's selection. The
//!   exact selection is kept in [`Section::comdat`] for the linker.
//! - `_fltused`, which objects with floating point reference, is left
//!   undefined for the engine to resolve (until the engine defines it, a
//!   caller registers it with `add_symbol`).
//!
//! # Sections
//!
//! `IMAGE_SCN_LNK_REMOVE`, `IMAGE_SCN_LNK_INFO`, `IMAGE_SCN_MEM_DISCARDABLE`,
//! `.debug*`, `.drectve` and `.llvm_addrsig` are not loaded. `.pdata` and
//! `.xdata` (Windows unwind tables) are loaded read-only and relocated, but
//! nothing registers them: on Linux no unwinder reads them. Thread-local
//! sections (`.tls`, `.tls$*`) are refused, as for ELF.

use object::pe;
use object::read::coff::{CoffHeader, Symbol as CoffSymbol};
use object::{LittleEndian as LE, SymbolIndex};

use super::{
    malformed, unsupported, Arch, Binding, Comdat, ComdatSelection, Definition, Format, ObjectFile,
    RelocKind, Relocation, Section, SectionKind, Symbol, SymbolKind, Target,
};
use crate::arch::aarch64::{self, Reloc as A};
use crate::arch::x86_64::Reloc as X;
use crate::arch::{read_le, FixupError};
use crate::{Error, Result};

/// Parses a regular COFF object.
pub(super) fn parse<'data>(data: &'data [u8], name: &str) -> Result<ObjectFile<'data>> {
    parse_with::<pe::ImageFileHeader>(data, name)
}

/// Parses a `/bigobj` COFF object (32-bit section numbers, 20-byte symbols).
pub(super) fn parse_bigobj<'data>(data: &'data [u8], name: &str) -> Result<ObjectFile<'data>> {
    parse_with::<pe::AnonObjectHeaderBigobj>(data, name)
}

/// The most COMDAT parents followed from one associative section.
const MAX_ASSOCIATION_DEPTH: usize = 16;

/// Name prefix of the default symbols LLVM makes for weak definitions.
const WEAK_DEFAULT_PREFIX: &str = ".weak.";

/// What the loader learned about one COMDAT section.
#[derive(Debug, Clone, Copy)]
struct RawComdat<'data> {
    selection: ComdatSelection,
    /// The key symbol's name (non-associative sections only).
    key: Option<&'data str>,
}

fn parse_with<'data, H: CoffHeader>(data: &'data [u8], name: &str) -> Result<ObjectFile<'data>> {
    let bad = |e: object::read::Error| malformed(name, e.to_string());
    let mut offset = 0;
    let header = H::parse(data, &mut offset).map_err(bad)?;
    let arch = match header.machine() {
        pe::IMAGE_FILE_MACHINE_AMD64 => Arch::X86_64,
        pe::IMAGE_FILE_MACHINE_ARM64 => Arch::Aarch64,
        pe::IMAGE_FILE_MACHINE_ARM64EC => {
            return Err(unsupported(
                name,
                "COFF ARM64EC objects (arm64 code with the x64 convention)",
            ))
        }
        pe::IMAGE_FILE_MACHINE_I386 => {
            return Err(unsupported(name, "32-bit COFF (i386) objects"));
        }
        other => return Err(unsupported(name, &format!("COFF machine {:#06x}", other.0))),
    };
    let table = header.sections(data, offset).map_err(bad)?;
    let symtab = header.symbols(data).map_err(bad)?;
    let strings = symtab.strings();

    // Sections, 1-based, behind a placeholder.
    let mut sections = Vec::with_capacity(table.len() + 1);
    sections.push(Section::placeholder());
    let mut is_comdat = vec![false];
    let mut drectve: Vec<&'data [u8]> = Vec::new();
    for sh in table.iter() {
        let sec_name = str_of(name, sh.name(strings).map_err(bad)?)?;
        let flags = sh.characteristics.get(LE);
        let kind = section_kind(name, sec_name, flags)?;
        let size = u64::from(sh.size_of_raw_data.get(LE));
        let bytes = match kind {
            SectionKind::Ignored | SectionKind::ZeroFill => &[][..],
            _ => section_bytes(name, sec_name, sh, data)?,
        };
        if sec_name == ".drectve" {
            drectve.push(section_bytes(name, sec_name, sh, data)?);
        }
        sections.push(Section {
            name: sec_name,
            segment: "",
            kind,
            data: bytes,
            size,
            align: sh.coff_alignment(),
            relocations: Default::default(),
            comdat: None,
        });
        is_comdat.push(flags.contains(pe::IMAGE_SCN_LNK_COMDAT));
    }

    // The raw symbol table: one entry per record, `None` for auxiliary records.
    let count = symtab.len();
    let mut raw: Vec<Option<&'data H::Symbol>> = Vec::with_capacity(count);
    while raw.len() < count {
        let index = raw.len();
        let sym = symtab.symbol(SymbolIndex(index)).map_err(bad)?;
        let aux = usize::from(sym.number_of_aux_symbols());
        if index + aux >= count {
            return Err(malformed(
                name,
                format!("symbol {index} has {aux} auxiliary records past the end of the table"),
            ));
        }
        raw.push(Some(sym));
        raw.extend(std::iter::repeat_n(None, aux));
    }
    let symbol_name = |index: usize, sym: &'data H::Symbol| -> Result<&'data str> {
        let bytes = sym
            .name(strings)
            .map_err(|e| malformed(name, format!("symbol {index}: {e}")))?;
        str_of(name, bytes)
    };

    // COMDAT selections, from the section-definition records of section symbols.
    let mut comdats: Vec<Option<RawComdat<'data>>> = vec![None; sections.len()];
    for (index, sym) in raw.iter().enumerate() {
        let Some(sym) = *sym else { continue };
        let Some(n) = section_symbol_of(sym) else {
            continue;
        };
        // Sections that are not loaded (COMDAT debug info) need no group.
        if !is_comdat.get(n).copied().unwrap_or(false)
            || comdats[n].is_some()
            || !sections[n].kind.is_loaded()
        {
            continue;
        }
        let aux = symtab.aux_section(SymbolIndex(index)).map_err(bad)?;
        let selection = match aux.selection {
            pe::IMAGE_COMDAT_SELECT_NODUPLICATES => ComdatSelection::NoDuplicates,
            pe::IMAGE_COMDAT_SELECT_ANY => ComdatSelection::Any,
            pe::IMAGE_COMDAT_SELECT_SAME_SIZE => ComdatSelection::SameSize,
            pe::IMAGE_COMDAT_SELECT_EXACT_MATCH => ComdatSelection::ExactMatch,
            pe::IMAGE_COMDAT_SELECT_LARGEST => ComdatSelection::Largest,
            pe::IMAGE_COMDAT_SELECT_ASSOCIATIVE => {
                let mut parent = u32::from(aux.number.get(LE));
                if H::is_type_bigobj() {
                    parent |= u32::from(aux.high_number.get(LE)) << 16;
                }
                if parent == 0 || parent as usize >= sections.len() || parent as usize == n {
                    return Err(malformed(
                        name,
                        format!(
                            "COMDAT section {n} (`{}`) is associative to invalid section {parent}",
                            sections[n].name
                        ),
                    ));
                }
                ComdatSelection::Associative { parent }
            }
            pe::IMAGE_COMDAT_SELECT_NEWEST => {
                return Err(unsupported(
                    name,
                    &format!(
                        "COMDAT section {n} (`{}`) uses selection NEWEST",
                        sections[n].name
                    ),
                ))
            }
            other => {
                return Err(malformed(
                    name,
                    format!(
                        "COMDAT section {n} (`{}`) has invalid selection {}",
                        sections[n].name, other.0
                    ),
                ))
            }
        };
        let key = if matches!(selection, ComdatSelection::Associative { .. }) {
            None
        } else {
            // The key is the first symbol after the section symbol defined in
            // the same section.
            let found = raw
                .iter()
                .enumerate()
                .skip(index + 1)
                .find_map(|(i, s)| match s {
                    Some(s) if s.section_number().index() == Some(n as u32) => Some((i, *s)),
                    _ => None,
                });
            match found {
                Some((i, s)) => Some(symbol_name(i, s)?),
                None => {
                    return Err(malformed(
                        name,
                        format!(
                            "COMDAT section {n} (`{}`) has no key symbol",
                            sections[n].name
                        ),
                    ))
                }
            }
        };
        comdats[n] = Some(RawComdat { selection, key });
    }
    for n in 1..sections.len() {
        if is_comdat[n] && comdats[n].is_none() && sections[n].kind.is_loaded() {
            return Err(malformed(
                name,
                format!(
                    "COMDAT section {n} (`{}`) has no section symbol with a selection",
                    sections[n].name
                ),
            ));
        }
    }
    // The effective (non-associative) selection and group name of each section.
    let effective: Vec<Option<(ComdatSelection, &'data str)>> = (0..sections.len())
        .map(|n| effective_comdat(&comdats, n))
        .collect();
    for (n, raw_comdat) in comdats.iter().enumerate() {
        if let Some(c) = raw_comdat {
            // An associative section is named by its group's key when its
            // parent chain leads to one, else by its own section name.
            let group = match (c.key, effective[n]) {
                (Some(key), _) | (None, Some((_, key))) => key,
                (None, None) => sections[n].name,
            };
            sections[n].comdat = Some(Comdat {
                name: group,
                selection: c.selection,
            });
        }
    }

    // Default symbols of weak externals named `.weak.*` become local.
    let mut weak_default = vec![false; count];
    for (index, sym) in raw.iter().enumerate() {
        let Some(sym) = *sym else { continue };
        if sym.storage_class() == pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL && sym.has_aux_weak_external() {
            let d = symtab
                .aux_weak_external(SymbolIndex(index))
                .map_err(bad)?
                .default_symbol()
                .0;
            if let Some(flag) = weak_default.get_mut(d) {
                *flag = true;
            }
        }
    }

    let aligncomm = parse_aligncomm(&drectve);

    let mut symbols: Vec<Symbol<'data>> = Vec::with_capacity(count);
    for (index, sym) in raw.iter().enumerate() {
        let Some(sym) = *sym else {
            symbols.push(Symbol::placeholder());
            continue;
        };
        let sym_name = symbol_name(index, sym)?;
        let class = sym.storage_class();
        let value = u64::from(sym.value());
        let function = sym.derived_type() == pe::IMAGE_SYM_DTYPE_FUNCTION;
        let in_section = |n: usize, offset: u64| -> Result<Definition> {
            match sections.get(n) {
                Some(s) if n > 0 && offset <= s.size => Ok(Definition::Section {
                    section: n as u32,
                    offset,
                }),
                Some(s) if n > 0 => Err(malformed(
                    name,
                    format!(
                        "symbol `{sym_name}` lies at offset {offset:#x} past the end of section {n} (`{}`)",
                        s.name
                    ),
                )),
                _ => Err(malformed(
                    name,
                    format!("symbol `{sym_name}` has invalid section number {n}"),
                )),
            }
        };
        let kind_in = |n: usize| match sections.get(n).map(|s| s.kind) {
            _ if function => SymbolKind::Function,
            Some(SectionKind::Text) => SymbolKind::Function,
            Some(SectionKind::Ignored) | None => SymbolKind::Other,
            Some(_) => SymbolKind::Data,
        };
        let section_number = sym.section_number();
        let symbol = if let Some(n) = section_number.index() {
            let n = n as usize;
            let definition = in_section(n, value)?;
            if section_symbol_of(sym) == Some(n) && value == 0 {
                Symbol {
                    name: sym_name,
                    binding: Binding::Local,
                    kind: SymbolKind::Section,
                    definition,
                    size: 0,
                }
            } else {
                let binding = match class {
                    pe::IMAGE_SYM_CLASS_EXTERNAL
                        if weak_default[index] && sym_name.starts_with(WEAK_DEFAULT_PREFIX) =>
                    {
                        Binding::Local
                    }
                    pe::IMAGE_SYM_CLASS_EXTERNAL => comdat_binding(effective[n]),
                    pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL => Binding::Weak,
                    _ => Binding::Local,
                };
                if binding != Binding::Local && !sections[n].kind.is_loaded() {
                    return Err(malformed(
                        name,
                        format!(
                            "symbol `{sym_name}` is defined in section {n} (`{}`), which is not loaded",
                            sections[n].name
                        ),
                    ));
                }
                Symbol {
                    name: sym_name,
                    binding,
                    kind: kind_in(n),
                    definition,
                    size: 0,
                }
            }
        } else if section_number == pe::IMAGE_SYM_UNDEFINED {
            match class {
                pe::IMAGE_SYM_CLASS_EXTERNAL if value == 0 => Symbol {
                    name: sym_name,
                    binding: Binding::Global,
                    kind: if function {
                        SymbolKind::Function
                    } else {
                        SymbolKind::Other
                    },
                    definition: Definition::Undefined,
                    size: 0,
                },
                pe::IMAGE_SYM_CLASS_EXTERNAL => {
                    let natural = value.checked_next_power_of_two().unwrap_or(32).min(32);
                    let align = aligncomm
                        .iter()
                        .filter(|(n, _)| *n == sym_name)
                        .map(|&(_, a)| a)
                        .fold(natural, u64::max);
                    Symbol {
                        name: sym_name,
                        binding: Binding::Global,
                        kind: SymbolKind::Data,
                        definition: Definition::Common { size: value, align },
                        size: value,
                    }
                }
                pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL => {
                    weak_external(name, &symtab, &raw, &sections, index, sym_name, value)?
                }
                other => {
                    return Err(malformed(
                        name,
                        format!(
                            "symbol `{sym_name}` is undefined but has storage class {:#x}, not external",
                            other.0
                        ),
                    ))
                }
            }
        } else if section_number == pe::IMAGE_SYM_ABSOLUTE {
            let binding = match class {
                pe::IMAGE_SYM_CLASS_EXTERNAL
                    if weak_default[index] && sym_name.starts_with(WEAK_DEFAULT_PREFIX) =>
                {
                    Binding::Local
                }
                pe::IMAGE_SYM_CLASS_EXTERNAL => Binding::Global,
                pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL => Binding::Weak,
                _ => Binding::Local,
            };
            Symbol {
                name: sym_name,
                binding,
                kind: SymbolKind::Other,
                definition: Definition::Absolute(value),
                size: 0,
            }
        } else if section_number == pe::IMAGE_SYM_DEBUG {
            // `.file` and other debugging entries: nothing to place.
            Symbol {
                name: sym_name,
                binding: Binding::Local,
                kind: SymbolKind::Other,
                definition: Definition::Absolute(0),
                size: 0,
            }
        } else {
            return Err(malformed(
                name,
                format!(
                    "symbol `{sym_name}` has invalid section number {}",
                    section_number.0
                ),
            ));
        };
        symbols.push(symbol);
    }

    // Relocations of loaded sections.
    for (index, sh) in table.enumerate() {
        let n = index.0;
        if !sections[n].kind.is_loaded() {
            continue;
        }
        let relocs = sh.coff_relocations(data).map_err(bad)?;
        if relocs.is_empty() {
            continue;
        }
        let section = &sections[n];
        let mut relocations = Vec::with_capacity(relocs.len());
        for r in relocs {
            let offset = u64::from(r.virtual_address.get(LE));
            let typ = r.typ.get(LE);
            let unsupported_type = |what| Error::UnsupportedRelocation {
                object: name.to_string(),
                section: section.name.to_string(),
                offset,
                kind: what,
            };
            let mapped = match arch {
                Arch::Aarch64 => arm64_kind(typ)
                    .map(|k| k.map(|(k, bias)| (RelocKind::Aarch64(k), 0, bias)))
                    .map_err(unsupported_type)?,
                _ => x86_64_kind(typ)
                    .map(|k| k.map(|(k, width, bias)| (RelocKind::X86_64(k), width, bias)))
                    .map_err(unsupported_type)?,
            };
            let Some((kind, width, bias)) = mapped else {
                continue;
            };
            let sym_index = r.symbol().0;
            let target_symbol = match (raw.get(sym_index), symbols.get(sym_index)) {
                (Some(Some(_)), Some(s)) => s,
                _ => {
                    return Err(malformed(
                        name,
                        format!(
                            "relocation at {}+{offset:#x} names symbol {sym_index}, which is not a symbol of the table",
                            section.name
                        ),
                    ))
                }
            };
            if let Definition::Section { section: t, .. } = target_symbol.definition {
                if !sections[t as usize].kind.is_loaded() {
                    return Err(malformed(
                        name,
                        format!(
                            "relocation at {}+{offset:#x} refers to `{}` in section {t} (`{}`), which is not loaded",
                            section.name,
                            target_symbol.name,
                            sections[t as usize].name
                        ),
                    ));
                }
            }
            let place = usize::try_from(offset)
                .ok()
                .and_then(|o| section.data.get(o..))
                .unwrap_or(&[]);
            let implicit = match kind {
                RelocKind::Aarch64(k) => aarch64::coff_implicit_addend(k, place),
                _ => read_implicit(place, width),
            }
            .map_err(|_| {
                malformed(
                    name,
                    format!(
                        "relocation {} at {}+{offset:#x} lies outside the section's {} bytes",
                        type_name(arch, typ),
                        section.name,
                        section.data.len()
                    ),
                )
            })?;
            let target = match (target_symbol.kind, target_symbol.definition) {
                (SymbolKind::Section, Definition::Section { section, .. }) => {
                    Target::Section(section)
                }
                _ => Target::Symbol(sym_index as u32),
            };
            let kind = if arch == Arch::X86_64
                && typ == pe::IMAGE_REL_AMD64_REL32
                && section.kind == SectionKind::Text
                && is_branch_site(section.data, offset)
            {
                RelocKind::X86_64(X::Branch32)
            } else {
                kind
            };
            relocations.push(Relocation {
                offset,
                kind,
                target,
                addend: implicit - bias,
                subtrahend: None,
            });
        }
        if arch == Arch::Aarch64 {
            route_external_addresses_through_the_got(section.data, &symbols, &mut relocations);
        }
        sections[n].relocations = relocations.into();
    }

    Ok(ObjectFile {
        name: name.to_string(),
        format: Format::Coff,
        arch,
        sections,
        symbols,
    })
}

/// The section a section symbol defines: static, type 0, with a
/// section-definition record, in a real section.
fn section_symbol_of<S: CoffSymbol>(sym: &S) -> Option<usize> {
    if sym.has_aux_section() {
        sym.section_number().index().map(|n| n as usize)
    } else {
        None
    }
}

/// The selection and key of the group section `n` belongs to, following
/// associative sections to their parents (at most [`MAX_ASSOCIATION_DEPTH`]
/// steps; a longer or circular chain is no group).
fn effective_comdat<'data>(
    comdats: &[Option<RawComdat<'data>>],
    n: usize,
) -> Option<(ComdatSelection, &'data str)> {
    let mut at = n;
    for _ in 0..MAX_ASSOCIATION_DEPTH {
        match comdats.get(at).copied().flatten()? {
            RawComdat {
                selection: ComdatSelection::Associative { parent },
                ..
            } => at = parent as usize,
            RawComdat {
                selection,
                key: Some(key),
            } => return Some((selection, key)),
            RawComdat { key: None, .. } => return None,
        }
    }
    None
}

/// The binding of an external defined in a section with this effective COMDAT
/// selection.
fn comdat_binding(comdat: Option<(ComdatSelection, &str)>) -> Binding {
    match comdat {
        Some((
            ComdatSelection::Any
            | ComdatSelection::SameSize
            | ComdatSelection::ExactMatch
            | ComdatSelection::Largest,
            _,
        )) => Binding::Weak,
        _ => Binding::Global,
    }
}

/// A weak external (section 0): a weak definition at its default when the
/// default is defined here, else an undefined weak symbol.
fn weak_external<'data, H: CoffHeader>(
    object: &str,
    symtab: &object::read::coff::SymbolTable<'data, &'data [u8], H>,
    raw: &[Option<&'data H::Symbol>],
    sections: &[Section<'data>],
    index: usize,
    sym_name: &'data str,
    value: u64,
) -> Result<Symbol<'data>> {
    let sym = raw.get(index).copied().flatten();
    if value != 0 || !sym.is_some_and(|s| s.has_aux_weak_external()) {
        return Err(malformed(
            object,
            format!("weak external `{sym_name}` has no weak-external record"),
        ));
    }
    let default = symtab
        .aux_weak_external(SymbolIndex(index))
        .map_err(|e| malformed(object, e.to_string()))?
        .default_symbol()
        .0;
    let Some(Some(d)) = raw.get(default).filter(|_| default != index) else {
        return Err(malformed(
            object,
            format!("weak external `{sym_name}` names invalid default symbol {default}"),
        ));
    };
    let undefined_weak = Symbol {
        name: sym_name,
        binding: Binding::Weak,
        kind: SymbolKind::Other,
        definition: Definition::Undefined,
        size: 0,
    };
    let d_value = u64::from(d.value());
    let section_number = d.section_number();
    if let Some(n) = section_number.index() {
        let n = n as usize;
        let Some(section) = sections.get(n).filter(|s| n > 0 && d_value <= s.size) else {
            return Err(malformed(
                object,
                format!("the default of weak external `{sym_name}` lies outside its section {n}"),
            ));
        };
        if !section.kind.is_loaded() {
            return Err(malformed(
                object,
                format!(
                    "the default of weak external `{sym_name}` is in section {n} (`{}`), which is not loaded",
                    section.name
                ),
            ));
        }
        let kind = if d.derived_type() == pe::IMAGE_SYM_DTYPE_FUNCTION
            || section.kind == SectionKind::Text
        {
            SymbolKind::Function
        } else {
            SymbolKind::Data
        };
        Ok(Symbol {
            name: sym_name,
            binding: Binding::Weak,
            kind,
            definition: Definition::Section {
                section: n as u32,
                offset: d_value,
            },
            size: 0,
        })
    } else if section_number == pe::IMAGE_SYM_ABSOLUTE && d_value != 0 {
        Ok(Symbol {
            definition: Definition::Absolute(d_value),
            ..undefined_weak
        })
    } else {
        Ok(undefined_weak)
    }
}

fn str_of<'data>(object: &str, bytes: &'data [u8]) -> Result<&'data str> {
    std::str::from_utf8(bytes).map_err(|_| malformed(object, "a name is not valid UTF-8"))
}

fn section_bytes<'data>(
    object: &str,
    name: &str,
    sh: &pe::ImageSectionHeader,
    data: &'data [u8],
) -> Result<&'data [u8]> {
    sh.coff_data(data).map_err(|()| {
        malformed(
            object,
            format!("the bytes of section `{name}` lie outside the file"),
        )
    })
}

fn section_kind(object: &str, name: &str, flags: pe::SectionFlags) -> Result<SectionKind> {
    let has = |f: pe::SectionFlags| flags.contains(f);
    if has(pe::IMAGE_SCN_LNK_REMOVE)
        || has(pe::IMAGE_SCN_LNK_INFO)
        || has(pe::IMAGE_SCN_MEM_DISCARDABLE)
        || name.starts_with(".debug")
        || name == ".drectve"
        || name == ".llvm_addrsig"
    {
        return Ok(SectionKind::Ignored);
    }
    if name == ".tls" || name.starts_with(".tls$") {
        return Err(unsupported(
            object,
            &format!(
                "section `{name}` holds thread-local storage, which rivet does not support yet"
            ),
        ));
    }
    Ok(
        if has(pe::IMAGE_SCN_CNT_CODE) || has(pe::IMAGE_SCN_MEM_EXECUTE) {
            SectionKind::Text
        } else if has(pe::IMAGE_SCN_CNT_UNINITIALIZED_DATA) {
            SectionKind::ZeroFill
        } else if has(pe::IMAGE_SCN_MEM_WRITE) {
            SectionKind::Data
        } else if has(pe::IMAGE_SCN_MEM_READ) || has(pe::IMAGE_SCN_CNT_INITIALIZED_DATA) {
            SectionKind::ReadOnly
        } else {
            SectionKind::Ignored
        },
    )
}

/// `-aligncomm:name,log2` directives of `.drectve` sections: (name, alignment).
fn parse_aligncomm<'data>(drectve: &[&'data [u8]]) -> Vec<(&'data str, u64)> {
    let mut out = Vec::new();
    for bytes in drectve {
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        for token in text.split_ascii_whitespace() {
            let Some(arg) = token
                .strip_prefix("-aligncomm:")
                .or_else(|| token.strip_prefix("/aligncomm:"))
            else {
                continue;
            };
            let Some((sym, log2)) = arg.rsplit_once(',') else {
                continue;
            };
            let sym = sym.trim_matches('"');
            if let Ok(log2) = log2.parse::<u32>() {
                if let Some(align) = 1u64.checked_shl(log2).filter(|_| log2 < 32) {
                    out.push((sym, align));
                }
            }
        }
    }
    out
}

/// Whether the 4-byte field at `offset` of code `text` is the displacement
/// of a `call rel32` (E8), `jmp rel32` (E9) or `jcc rel32` (0F 80..8F).
///
/// COFF has one REL32 type for branches and RIP-relative data; only a branch
/// may go through a stub, so the opcode before the field decides. A
/// RIP-relative memory operand has its ModRM byte (mod 00, r/m 101: 05, 0D,
/// .., 3D) right before the field, which none of these opcodes can be.
fn is_branch_site(text: &[u8], offset: u64) -> bool {
    let Some(at) = usize::try_from(offset).ok().filter(|&o| o >= 1) else {
        return false;
    };
    match text.get(at - 1) {
        Some(0xE8 | 0xE9) => true,
        Some(0x80..=0x8F) => at >= 2 && text.get(at - 2) == Some(&0x0F),
        _ => false,
    }
}

/// Reads the implicit addend: `width` bytes at the start of `place`; the
/// 16-bit field (a section number) zero-extended as link.exe and lld read
/// it, the others sign-extended.
fn read_implicit(place: &[u8], width: usize) -> Result<i64, FixupError> {
    Ok(match width {
        2 => i64::from(read_le::<2>(place)? as u16),
        4 => i64::from(read_le::<4>(place)? as u32 as i32),
        _ => read_le::<8>(place)? as i64,
    })
}

/// The name of a raw relocation type of `arch`, for messages.
fn type_name(arch: Arch, typ: pe::RelocationType) -> String {
    let (names, prefix) = match arch {
        Arch::Aarch64 => (&pe::NAMES_IMAGE_REL_ARM64, "IMAGE_REL_ARM64"),
        _ => (&pe::NAMES_IMAGE_REL_AMD64, "IMAGE_REL_AMD64"),
    };
    names
        .name(typ)
        .map_or_else(|| format!("{prefix} type {:#x}", typ.0), str::to_string)
}

/// Maps a COFF x86-64 relocation type to (fixup kind, width of the implicit
/// addend in bytes, bias subtracted from it). `Ok(None)`: nothing to do.
/// `Err(name)`: a type rivet does not implement.
fn x86_64_kind(typ: pe::RelocationType) -> Result<Option<(X, usize, i64)>, String> {
    Ok(Some(match typ {
        pe::IMAGE_REL_AMD64_ABSOLUTE => return Ok(None),
        pe::IMAGE_REL_AMD64_ADDR64 => (X::Abs64, 8, 0),
        pe::IMAGE_REL_AMD64_ADDR32 => (X::Abs32, 4, 0),
        pe::IMAGE_REL_AMD64_ADDR32NB => (X::ImageRel32, 4, 0),
        // Relative to the end of the instruction, n bytes after the field.
        pe::IMAGE_REL_AMD64_REL32 => (X::Pc32, 4, 4),
        pe::IMAGE_REL_AMD64_REL32_1 => (X::Pc32, 4, 5),
        pe::IMAGE_REL_AMD64_REL32_2 => (X::Pc32, 4, 6),
        pe::IMAGE_REL_AMD64_REL32_3 => (X::Pc32, 4, 7),
        pe::IMAGE_REL_AMD64_REL32_4 => (X::Pc32, 4, 8),
        pe::IMAGE_REL_AMD64_REL32_5 => (X::Pc32, 4, 9),
        pe::IMAGE_REL_AMD64_SECTION => (X::SectionIndex, 2, 0),
        pe::IMAGE_REL_AMD64_SECREL => (X::SecRel32, 4, 0),
        other => return Err(type_name(Arch::X86_64, other)),
    }))
}

/// COFF arm64 has no GOT relocations: code takes a symbol's address with
/// `adrp x, sym` + `add x, x, :lo12:sym`, which cannot reach a symbol
/// defined outside the object (a host or DLL function or variable) beyond
/// ±4 GiB. For such a pair — the `add` right after the `adrp`, on its
/// register, both against the same undefined symbol with addend 0, their
/// relocations adjacent in the table — the
/// `adrp` takes the page of the symbol's GOT slot and the `add` becomes a
/// load from the slot (as RuntimeDyld's COFF arm64 fix does). Loads and
/// stores of the symbol itself (`PAGEOFFSET_12L`) keep their direct form.
fn route_external_addresses_through_the_got(
    text: &[u8],
    symbols: &[Symbol<'_>],
    relocations: &mut [Relocation],
) {
    let word = |offset: u64| -> Option<u32> {
        let at = usize::try_from(offset).ok()?;
        let bytes = text.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let external = |target: Target| match target {
        Target::Symbol(i) => symbols
            .get(i as usize)
            .is_some_and(|s| s.definition == Definition::Undefined),
        Target::Section(_) => false,
    };
    for i in 0..relocations.len() {
        let r = &relocations[i];
        if r.kind != RelocKind::Aarch64(A::AdrPrelPgHi21) || r.addend != 0 || !external(r.target) {
            continue;
        }
        let (offset, target) = (r.offset, r.target);
        let Some(next) = offset.checked_add(4) else {
            continue;
        };
        // LLVM writes relocations in the order of their places: the add's
        // is the next entry (looking no further keeps this linear).
        let partner = Some(i + 1).filter(|&j| {
            relocations.get(j).is_some_and(|q| {
                q.offset == next
                    && q.kind == RelocKind::Aarch64(A::AddAbsLo12Nc)
                    && q.target == target
                    && q.addend == 0
            })
        });
        let (Some(j), Some(adrp), Some(add)) = (partner, word(offset), word(next)) else {
            continue;
        };
        if aarch64::is_address_pair(adrp, add) {
            relocations[i].kind = RelocKind::Aarch64(A::AdrGotPage);
            relocations[j].kind = RelocKind::Aarch64(A::AddToGotLoad);
        }
    }
}

/// Maps a COFF arm64 relocation type to (fixup kind, bias subtracted from
/// its implicit addend). `Ok(None)`: nothing to do. `Err(name)`: a type
/// rivet does not implement (`TOKEN`, which only the image loader uses).
fn arm64_kind(typ: pe::RelocationType) -> Result<Option<(A, i64)>, String> {
    Ok(Some(match typ {
        pe::IMAGE_REL_ARM64_ABSOLUTE => return Ok(None),
        pe::IMAGE_REL_ARM64_ADDR32 => (A::Addr32, 0),
        pe::IMAGE_REL_ARM64_ADDR32NB => (A::ImageRel32, 0),
        pe::IMAGE_REL_ARM64_ADDR64 => (A::Abs64, 0),
        pe::IMAGE_REL_ARM64_BRANCH26 => (A::Call26, 0),
        pe::IMAGE_REL_ARM64_BRANCH19 => (A::CondBr19, 0),
        pe::IMAGE_REL_ARM64_BRANCH14 => (A::TstBr14, 0),
        pe::IMAGE_REL_ARM64_PAGEBASE_REL21 => (A::AdrPrelPgHi21, 0),
        pe::IMAGE_REL_ARM64_REL21 => (A::AdrPrelLo21, 0),
        pe::IMAGE_REL_ARM64_PAGEOFFSET_12A => (A::AddAbsLo12Nc, 0),
        pe::IMAGE_REL_ARM64_PAGEOFFSET_12L => (A::PageOff12, 0),
        pe::IMAGE_REL_ARM64_SECREL => (A::SecRel32, 0),
        pe::IMAGE_REL_ARM64_SECREL_LOW12A => (A::SecRelLo12A, 0),
        pe::IMAGE_REL_ARM64_SECREL_HIGH12A => (A::SecRelHi12A, 0),
        pe::IMAGE_REL_ARM64_SECREL_LOW12L => (A::SecRelLo12L, 0),
        pe::IMAGE_REL_ARM64_SECTION => (A::SectionIndex, 0),
        // Relative to the end of the 4-byte field.
        pe::IMAGE_REL_ARM64_REL32 => (A::Rel32, 4),
        other => return Err(type_name(Arch::Aarch64, other)),
    }))
}

#[cfg(all(test, feature = "llvm"))]
mod tests;
