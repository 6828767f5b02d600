//! ELF relocatable objects (`ET_REL`, 64-bit, little-endian).

use object::elf;
use object::read::elf::{FileHeader, Rela as _, SectionHeader, Sym as _};
use object::{LittleEndian, SectionIndex};
use std::sync::Arc;

use super::{
    malformed, unsupported, Arch, Binding, Definition, Format, ObjectFile, RelocKind, Relocation,
    Relocations, Section, SectionKind, Symbol, SymbolKind, Target,
};
use crate::arch::aarch64::Reloc as A64;
use crate::arch::riscv64::Reloc as RV;
use crate::arch::x86_64::Reloc as X;
use crate::{Error, Result};

pub(super) fn parse<'data>(data: &'data [u8], name: &str) -> Result<ObjectFile<'data>> {
    let bad = |e: object::read::Error| malformed(name, e.to_string());
    // Every target rivet links is little-endian; fixing the byte order at
    // compile time keeps the per-relocation reads branch-free.
    let header = elf::FileHeader64::<LittleEndian>::parse(data).map_err(bad)?;
    if !header.is_little_endian() {
        return Err(unsupported(name, "big-endian ELF"));
    }
    let endian = LittleEndian;
    if header.e_type(endian) != elf::ET_REL {
        return Err(unsupported(
            name,
            "not a relocatable object (ET_REL); executables and shared objects are loaded with load_library_permanently",
        ));
    }
    let arch = match header.e_machine(endian) {
        elf::EM_X86_64 => Arch::X86_64,
        elf::EM_AARCH64 => Arch::Aarch64,
        elf::EM_RISCV => Arch::Riscv64,
        other => return Err(unsupported(name, &format!("ELF machine {}", other.0))),
    };
    let table = header.sections(endian, data).map_err(bad)?;

    let mut sections = Vec::with_capacity(table.len());
    for (index, sh) in table.enumerate() {
        let sec_name = str_of(name, table.section_name(endian, sh).map_err(bad)?)?;
        let kind = section_kind(index, sec_name, sh, endian)?;
        let align = sh.sh_addralign(endian).max(1);
        if !align.is_power_of_two() {
            return Err(malformed(
                name,
                format!("section `{sec_name}` has alignment {align}, not a power of two"),
            ));
        }
        let (kind, bytes) = match kind {
            SectionKind::Ignored | SectionKind::ZeroFill => (kind, &[][..]),
            // Debug information is best effort: unreadable, it is left out.
            SectionKind::Debug => match sh.data(endian, data) {
                Ok(bytes) => (kind, bytes),
                Err(_) => (SectionKind::Ignored, &[][..]),
            },
            _ => (kind, sh.data(endian, data).map_err(bad)?),
        };
        sections.push(Section {
            name: sec_name,
            segment: "",
            kind,
            data: bytes,
            size: sh.sh_size(endian),
            align,
            relocations: Default::default(),
            comdat: None,
        });
    }

    let symtab = table.symbols(endian, data, elf::SHT_SYMTAB).map_err(bad)?;
    // Names are read straight from the string table: most are short, and
    // scanning for the terminator by hand beats a general search there.
    let strtab = if symtab.is_empty() {
        &[][..]
    } else {
        table
            .section(symtab.string_section())
            .and_then(|s| s.data(endian, data))
            .map_err(bad)?
    };
    let mut symbols = Vec::with_capacity(symtab.len());
    for (index, sym) in symtab.enumerate() {
        let sym_name = name_at(name, strtab, sym.st_name(endian))?;
        let binding = match sym.st_bind() {
            elf::STB_LOCAL => Binding::Local,
            elf::STB_WEAK => Binding::Weak,
            _ => Binding::Global,
        };
        let kind = match sym.st_type() {
            elf::STT_FUNC => SymbolKind::Function,
            // An undefined reference is to a function like any other.
            elf::STT_GNU_IFUNC if sym.is_undefined(endian) => SymbolKind::Function,
            elf::STT_GNU_IFUNC => SymbolKind::IndirectFunction,
            elf::STT_OBJECT | elf::STT_COMMON => SymbolKind::Data,
            elf::STT_SECTION => SymbolKind::Section,
            _ => SymbolKind::Other,
        };
        let shndx = sym.st_shndx(endian);
        let value = sym.st_value(endian);
        let definition = if shndx == elf::SHN_UNDEF {
            Definition::Undefined
        } else if shndx == elf::SHN_ABS {
            Definition::Absolute(value)
        } else if shndx == elf::SHN_COMMON {
            Definition::Common {
                size: sym.st_size(endian),
                align: value.max(1),
            }
        } else {
            match symtab.symbol_section(endian, sym, index).map_err(bad)? {
                Some(SectionIndex(s)) if s < sections.len() => Definition::Section {
                    section: s as u32,
                    offset: value,
                },
                _ => {
                    return Err(malformed(
                        name,
                        format!("symbol `{sym_name}` has an invalid section index"),
                    ))
                }
            }
        };
        if let Definition::Section { section, .. } = definition {
            if !sections[section as usize].kind.is_loaded() && binding != Binding::Local {
                // A global defined in a section rivet does not load.
                return Err(malformed(
                    name,
                    format!("symbol `{sym_name}` is defined in a section that is not loaded"),
                ));
            }
        }
        symbols.push(Symbol {
            name: sym_name,
            binding,
            kind,
            definition,
            size: sym.st_size(endian),
        });
    }

    let targets = relocation_targets(&symbols);
    for (index, sh) in table.enumerate() {
        let sh_type = sh.sh_type(endian);
        let target_index = sh.sh_info(endian) as usize;
        if matches!(sh_type, elf::SHT_RELA | elf::SHT_REL | elf::SHT_CREL)
            && sections
                .get(target_index)
                .is_some_and(|s| s.kind == SectionKind::Debug)
        {
            // A debug section whose fixups rivet cannot read (REL, an
            // unknown type, a bad symbol) is left out, as if the object had
            // none: debug information never fails an object.
            let parsed = match sh.rela(endian, data) {
                Ok(Some((relas, _link))) => relocations_of(
                    name,
                    arch,
                    target_index,
                    sections[target_index].name,
                    relas,
                    &symbols,
                    &targets,
                )
                .ok(),
                _ => None,
            };
            let section = &mut sections[target_index];
            match parsed {
                Some(relocations) => section.relocations = relocations,
                None => {
                    section.kind = SectionKind::Ignored;
                    section.data = &[];
                }
            }
            continue;
        }
        let (relas, _link) = match sh.rela(endian, data).map_err(bad)? {
            Some(r) => r,
            None => {
                if sh.sh_type(endian) == elf::SHT_REL || sh.sh_type(endian) == elf::SHT_CREL {
                    let target = sh.sh_info(endian) as usize;
                    if sections.get(target).is_some_and(|s| s.kind.is_loaded()) {
                        return Err(unsupported(
                            name,
                            &format!(
                                "section {} holds REL/CREL relocations; only RELA is supported",
                                index.0
                            ),
                        ));
                    }
                }
                continue;
            }
        };
        let target_index = sh.sh_info(endian) as usize;
        let Some(target) = sections.get(target_index) else {
            return Err(malformed(
                name,
                format!(
                    "relocation section {} applies to missing section {target_index}",
                    index.0
                ),
            ));
        };
        if !target.kind.is_loaded() {
            continue;
        }
        let relocations = relocations_of(
            name,
            arch,
            target_index,
            target.name,
            relas,
            &symbols,
            &targets,
        )?;
        sections[target_index].relocations = relocations;
    }

    Ok(ObjectFile {
        name: name.to_string(),
        format: Format::Elf,
        arch,
        sections,
        symbols,
    })
}

/// The model's relocations of one RELA section, which applies to section
/// `target_name`.
#[inline]
fn relocations_of<'data>(
    name: &str,
    arch: Arch,
    section_index: usize,
    target_name: &str,
    relas: &'data [elf::Rela64<LittleEndian>],
    symbols: &[Symbol<'data>],
    targets: &Arc<[Target]>,
) -> Result<Relocations<'data>> {
    if let Some(table) = RelaTable::new(arch, relas, targets) {
        return Ok(Relocations::from_rela(table));
    }
    let endian = LittleEndian;
    let mut relocations = Vec::with_capacity(relas.len());
    for rela in relas {
        let offset = rela.r_offset(endian);
        let r_type = rela.r_type(endian, false);
        let mapped = match arch {
            Arch::X86_64 => x86_64_kind(r_type),
            Arch::Aarch64 => aarch64_kind(r_type),
            Arch::Riscv64 => riscv64_kind(r_type),
        };
        let kind = match mapped {
            Mapped::Kind(kind) => kind,
            Mapped::Skip => continue,
            Mapped::SubUleb128 => {
                // S1 + A1 - (S2 + A2): the SET_ULEB128 just before, at this offset.
                let sub_target = elf_target(name, target_name, offset, rela, targets)?;
                match relocations.last_mut() {
                    Some(
                        set @ Relocation {
                            kind: RelocKind::Riscv64(RV::SetUleb128),
                            subtrahend: None,
                            ..
                        },
                    ) if set.offset == offset => {
                        set.subtrahend = Some(sub_target);
                        set.addend = set.addend.wrapping_sub(rela.r_addend(endian));
                    }
                    _ => {
                        return Err(malformed(
                            name,
                            format!(
                                "R_RISCV_SUB_ULEB128 at {target_name}+{offset:#x} does not follow \
                                 an R_RISCV_SET_ULEB128 at the same offset"
                            ),
                        ))
                    }
                }
                continue;
            }
            Mapped::Unsupported => {
                return Err(Error::UnsupportedRelocation {
                    object: name.to_string(),
                    section: target_name.to_string(),
                    offset,
                    kind: unsupported_name(arch, r_type),
                })
            }
        };
        let target = elf_target(name, target_name, offset, rela, targets)?;
        relocations.push(Relocation {
            offset,
            kind,
            target,
            addend: rela.r_addend(endian),
            subtrahend: None,
        });
    }
    if arch == Arch::Riscv64 {
        relocations = riscv64_pairs(name, section_index, target_name, relocations, symbols)?;
    }
    Ok(relocations.into())
}

/// A RELA section whose every entry is a fixup of its own (a kind rivet
/// implements, against a symbol of the object, no pairs): walked straight
/// from the object's bytes. Each entry's kind is kept (two bytes, mapped
/// once), its target read through the object's symbol → target table.
#[derive(Debug, Clone)]
pub(crate) struct RelaTable<'data> {
    entries: &'data [elf::Rela64<LittleEndian>],
    kinds: Box<[RelocKind]>,
    targets: Arc<[Target]>,
}

impl<'data> RelaTable<'data> {
    /// The table of `entries`, or `None` when one of them needs the
    /// decoding path (a `NONE` entry, a pair, an unknown type or symbol,
    /// RISC-V's paired fixups): that path reports or handles it.
    fn new(
        arch: Arch,
        entries: &'data [elf::Rela64<LittleEndian>],
        targets: &Arc<[Target]>,
    ) -> Option<RelaTable<'data>> {
        if arch == Arch::Riscv64 {
            return None;
        }
        let endian = LittleEndian;
        let mut kinds = Vec::with_capacity(entries.len());
        for rela in entries {
            let r_type = rela.r_type(endian, false);
            let mapped = match arch {
                Arch::Aarch64 => aarch64_kind(r_type),
                _ => x86_64_kind(r_type),
            };
            let (Mapped::Kind(kind), true) =
                (mapped, (rela.r_sym(endian, false) as usize) < targets.len())
            else {
                return None;
            };
            kinds.push(kind);
        }
        Some(RelaTable {
            entries,
            kinds: kinds.into_boxed_slice(),
            targets: Arc::clone(targets),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Entry `index` as the model's fixup (`None` past the end).
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<Relocation> {
        let endian = LittleEndian;
        let rela = self.entries.get(index)?;
        Some(Relocation {
            offset: rela.r_offset(endian),
            kind: *self.kinds.get(index)?,
            target: *self.targets.get(rela.r_sym(endian, false) as usize)?,
            addend: rela.r_addend(endian),
            subtrahend: None,
        })
    }
}

/// What a RELA entry refers to: the entry of [`relocation_targets`] for
/// its symbol.
#[inline]
fn elf_target(
    name: &str,
    target_name: &str,
    offset: u64,
    rela: &elf::Rela64<LittleEndian>,
    targets: &[Target],
) -> Result<Target> {
    let sym_index = rela.r_sym(LittleEndian, false) as usize;
    targets.get(sym_index).copied().ok_or_else(|| {
        malformed(
            name,
            format!("relocation at {target_name}+{offset:#x} names missing symbol {sym_index}"),
        )
    })
}

/// What a relocation against each symbol refers to: a section symbol is
/// its section. Made once per object and shared by its sections' fixups.
fn relocation_targets(symbols: &[Symbol<'_>]) -> Arc<[Target]> {
    symbols
        .iter()
        .enumerate()
        .map(|(index, sym)| match (sym.kind, sym.definition) {
            (SymbolKind::Section, Definition::Section { section, .. }) => Target::Section(section),
            _ => Target::Symbol(index as u32),
        })
        .collect()
}

/// A relocation target's name for messages.
fn label_name<'a>(target: Target, symbols: &'a [Symbol<'_>]) -> &'a str {
    match target {
        Target::Symbol(i) => symbols.get(i as usize).map_or("<bad symbol>", |s| s.name),
        Target::Section(_) => "<section>",
    }
}

fn str_of<'data>(object: &str, bytes: &'data [u8]) -> Result<&'data str> {
    std::str::from_utf8(bytes).map_err(|_| malformed(object, "a name is not valid UTF-8"))
}

/// The NUL-terminated name at `offset` in the string table `strtab`.
#[inline]
fn name_at<'data>(object: &str, strtab: &'data [u8], offset: u32) -> Result<&'data str> {
    let rest = strtab.get(offset as usize..).ok_or_else(|| {
        malformed(
            object,
            format!("name offset {offset} is past the string table"),
        )
    })?;
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| malformed(object, "a name is not terminated"))?;
    let bytes = &rest[..len];
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        str_of(object, bytes)
    }
}

fn section_kind(
    index: SectionIndex,
    name: &str,
    sh: &elf::SectionHeader64<LittleEndian>,
    endian: LittleEndian,
) -> Result<SectionKind> {
    let flags = sh.sh_flags(endian).0;
    let sh_type = sh.sh_type(endian);
    if index.0 == 0 {
        return Ok(SectionKind::Ignored);
    }
    if flags & elf::SHF_ALLOC.0 == 0 {
        // DWARF, uncompressed (relocations of a compressed section apply to
        // its inflated bytes, which rivet does not produce).
        let dwarf = name.starts_with(".debug_")
            && sh_type == elf::SHT_PROGBITS
            && flags & elf::SHF_COMPRESSED.0 == 0;
        return Ok(if dwarf {
            SectionKind::Debug
        } else {
            SectionKind::Ignored
        });
    }
    if flags & elf::SHF_TLS.0 != 0 {
        return Ok(if sh_type == elf::SHT_NOBITS {
            SectionKind::TlsZeroFill
        } else {
            SectionKind::TlsData
        });
    }
    Ok(if sh_type == elf::SHT_NOBITS {
        SectionKind::ZeroFill
    } else if flags & elf::SHF_EXECINSTR.0 != 0 {
        SectionKind::Text
    } else if sh_type == elf::SHT_X86_64_UNWIND || name == ".eh_frame" {
        SectionKind::Unwind
    } else if flags & elf::SHF_WRITE.0 != 0 {
        SectionKind::Data
    } else {
        SectionKind::ReadOnly
    })
}

/// What an ELF relocation type means to rivet.
#[derive(Clone, Copy)]
enum Mapped {
    /// Nothing to do (`R_*_NONE`).
    Skip,
    Kind(RelocKind),
    /// RISC-V `SUB_ULEB128`: folded into the `SET_ULEB128` before it.
    SubUleb128,
    /// A type rivet does not implement.
    Unsupported,
}

/// Maps an ELF x86-64 relocation type to a fixup kind.
#[inline]
fn x86_64_kind(r_type: elf::RelocationType) -> Mapped {
    let kind = match r_type {
        elf::R_X86_64_NONE => return Mapped::Skip,
        elf::R_X86_64_64 => X::Abs64,
        elf::R_X86_64_32 => X::Abs32,
        elf::R_X86_64_32S => X::Abs32S,
        elf::R_X86_64_16 => X::Abs16,
        elf::R_X86_64_8 => X::Abs8,
        elf::R_X86_64_PC32 => X::Pc32,
        elf::R_X86_64_PC64 => X::Pc64,
        elf::R_X86_64_PC16 => X::Pc16,
        elf::R_X86_64_PC8 => X::Pc8,
        elf::R_X86_64_PLT32 => X::Branch32,
        elf::R_X86_64_GOTPCREL => X::GotPcRel32,
        elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => X::GotPcRelX,
        elf::R_X86_64_GOTPC32 => X::GotPc32,
        elf::R_X86_64_GOTPC64 => X::GotPc64,
        elf::R_X86_64_GOT64 | elf::R_X86_64_GOTPLT64 => X::Got64,
        elf::R_X86_64_GOT32 => X::Got32,
        elf::R_X86_64_GOTOFF64 => X::GotOff64,
        elf::R_X86_64_PLTOFF64 => X::PltOff64,
        elf::R_X86_64_SIZE32 => X::Size32,
        elf::R_X86_64_SIZE64 => X::Size64,
        elf::R_X86_64_TLSGD => X::TlsGd,
        elf::R_X86_64_TLSLD => X::TlsLd,
        elf::R_X86_64_DTPOFF32 => X::DtpOff32,
        elf::R_X86_64_DTPOFF64 => X::DtpOff64,
        elf::R_X86_64_TPOFF32 => X::TpOff32,
        elf::R_X86_64_TPOFF64 => X::TpOff64,
        elf::R_X86_64_GOTTPOFF => X::GotTpOff,
        elf::R_X86_64_GOTPC32_TLSDESC => X::GotPc32TlsDesc,
        elf::R_X86_64_TLSDESC_CALL => X::TlsDescCall,
        _ => return Mapped::Unsupported,
    };
    Mapped::Kind(RelocKind::X86_64(kind))
}

/// Why a relocation type is not supported, for the error.
#[cold]
fn unsupported_name(arch: Arch, r_type: elf::RelocationType) -> String {
    let (machine, prefix) = match arch {
        Arch::X86_64 => (elf::EM_X86_64, "R_X86_64"),
        Arch::Aarch64 => (elf::EM_AARCH64, "R_AARCH64"),
        Arch::Riscv64 => (elf::EM_RISCV, "R_RISCV"),
    };
    let name = elf::machine_names(machine)
        .r
        .name(r_type)
        .map_or_else(|| format!("{prefix} type {}", r_type.0), str::to_string);
    match (arch, r_type) {
        (Arch::Riscv64, r) if RISCV_TLS.contains(&r) => format!(
            "{name} (the initial- and local-exec TLS models and TLS descriptors need the \
             process's static TLS block or a descriptor resolver; compile PIC so LLVM uses \
             the general-dynamic model)"
        ),
        _ => name,
    }
}

/// Maps an ELF AArch64 relocation type to a fixup kind (of the TLS types,
/// the local- and initial-exec ones and descriptors; not the general- and
/// local-dynamic ones, which LLVM does not emit for Linux).
#[inline]
fn aarch64_kind(r_type: elf::RelocationType) -> Mapped {
    let kind = match r_type {
        elf::R_AARCH64_NONE | R_AARCH64_NONE_ALIAS => return Mapped::Skip,
        elf::R_AARCH64_ABS64 => A64::Abs64,
        elf::R_AARCH64_ABS32 => A64::Abs32,
        elf::R_AARCH64_ABS16 => A64::Abs16,
        elf::R_AARCH64_PREL64 => A64::Prel64,
        elf::R_AARCH64_PREL32 => A64::Prel32,
        elf::R_AARCH64_PREL16 => A64::Prel16,
        elf::R_AARCH64_CALL26 => A64::Call26,
        elf::R_AARCH64_JUMP26 => A64::Jump26,
        elf::R_AARCH64_CONDBR19 => A64::CondBr19,
        elf::R_AARCH64_TSTBR14 => A64::TstBr14,
        elf::R_AARCH64_ADR_PREL_PG_HI21 => A64::AdrPrelPgHi21,
        elf::R_AARCH64_ADR_PREL_PG_HI21_NC => A64::AdrPrelPgHi21Nc,
        elf::R_AARCH64_ADR_PREL_LO21 => A64::AdrPrelLo21,
        elf::R_AARCH64_ADD_ABS_LO12_NC => A64::AddAbsLo12Nc,
        elf::R_AARCH64_LDST8_ABS_LO12_NC => A64::Ldst8AbsLo12Nc,
        elf::R_AARCH64_LDST16_ABS_LO12_NC => A64::Ldst16AbsLo12Nc,
        elf::R_AARCH64_LDST32_ABS_LO12_NC => A64::Ldst32AbsLo12Nc,
        elf::R_AARCH64_LDST64_ABS_LO12_NC => A64::Ldst64AbsLo12Nc,
        elf::R_AARCH64_LDST128_ABS_LO12_NC => A64::Ldst128AbsLo12Nc,
        elf::R_AARCH64_LD_PREL_LO19 => A64::LdPrelLo19,
        elf::R_AARCH64_MOVW_UABS_G0 => A64::MovwUabsG0,
        elf::R_AARCH64_MOVW_UABS_G0_NC => A64::MovwUabsG0Nc,
        elf::R_AARCH64_MOVW_UABS_G1 => A64::MovwUabsG1,
        elf::R_AARCH64_MOVW_UABS_G1_NC => A64::MovwUabsG1Nc,
        elf::R_AARCH64_MOVW_UABS_G2 => A64::MovwUabsG2,
        elf::R_AARCH64_MOVW_UABS_G2_NC => A64::MovwUabsG2Nc,
        elf::R_AARCH64_MOVW_UABS_G3 => A64::MovwUabsG3,
        elf::R_AARCH64_MOVW_PREL_G0 => A64::MovwPrelG0,
        elf::R_AARCH64_MOVW_PREL_G0_NC => A64::MovwPrelG0Nc,
        elf::R_AARCH64_MOVW_PREL_G1 => A64::MovwPrelG1,
        elf::R_AARCH64_MOVW_PREL_G1_NC => A64::MovwPrelG1Nc,
        elf::R_AARCH64_MOVW_PREL_G2 => A64::MovwPrelG2,
        elf::R_AARCH64_MOVW_PREL_G2_NC => A64::MovwPrelG2Nc,
        elf::R_AARCH64_MOVW_PREL_G3 => A64::MovwPrelG3,
        elf::R_AARCH64_ADR_GOT_PAGE => A64::AdrGotPage,
        elf::R_AARCH64_LD64_GOT_LO12_NC => A64::Ld64GotLo12Nc,
        elf::R_AARCH64_GOTPCREL32 => A64::GotPrel32,
        elf::R_AARCH64_TLSLE_ADD_TPREL_HI12 => A64::TlsLeAddTprelHi12,
        elf::R_AARCH64_TLSLE_ADD_TPREL_LO12 => A64::TlsLeAddTprelLo12,
        elf::R_AARCH64_TLSLE_ADD_TPREL_LO12_NC => A64::TlsLeAddTprelLo12Nc,
        elf::R_AARCH64_TLSLE_MOVW_TPREL_G2 => A64::TlsLeMovwTprelG2,
        elf::R_AARCH64_TLSLE_MOVW_TPREL_G1 => A64::TlsLeMovwTprelG1,
        elf::R_AARCH64_TLSLE_MOVW_TPREL_G1_NC => A64::TlsLeMovwTprelG1Nc,
        elf::R_AARCH64_TLSLE_MOVW_TPREL_G0 => A64::TlsLeMovwTprelG0,
        elf::R_AARCH64_TLSLE_MOVW_TPREL_G0_NC => A64::TlsLeMovwTprelG0Nc,
        elf::R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21 => A64::TlsIeAdrGottprelPage21,
        elf::R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC => A64::TlsIeLd64GottprelLo12Nc,
        elf::R_AARCH64_TLSDESC_ADR_PAGE21 => A64::TlsDescAdrPage21,
        elf::R_AARCH64_TLSDESC_LD64_LO12 => A64::TlsDescLd64Lo12,
        elf::R_AARCH64_TLSDESC_ADD_LO12 => A64::TlsDescAddLo12,
        elf::R_AARCH64_TLSDESC_CALL => A64::TlsDescCall,
        _ => return Mapped::Unsupported,
    };
    Mapped::Kind(RelocKind::Aarch64(kind))
}

/// AAELF64's withdrawn code 256, which it says to treat as `R_AARCH64_NONE`.
const R_AARCH64_NONE_ALIAS: elf::RelocationType = elf::RelocationType(256);

/// RISC-V TLS relocation types rivet does not implement: the static models
/// (initial and local exec) and TLS descriptors.
const RISCV_TLS: [elf::RelocationType; 8] = [
    elf::R_RISCV_TLS_DTPMOD64,
    elf::R_RISCV_TLS_TPREL64,
    elf::R_RISCV_TLS_GOT_HI20,
    elf::R_RISCV_TPREL_HI20,
    elf::R_RISCV_TPREL_LO12_I,
    elf::R_RISCV_TPREL_LO12_S,
    elf::R_RISCV_TPREL_ADD,
    R_RISCV_TLSDESC_HI20,
];

/// `R_RISCV_TLSDESC_HI20` (not in `object`'s table).
const R_RISCV_TLSDESC_HI20: elf::RelocationType = elf::RelocationType(62);

/// Stand-ins for the RISC-V types that the loader pairs before the model
/// sees them (`PCREL_LO12_*`, `SUB_ULEB128`): kinds that never leave
/// [`riscv64_pairs`] under these meanings.
const PENDING_LO12_I: RV = RV::PcrelLo12I;
const PENDING_LO12_S: RV = RV::PcrelLo12S;

/// Maps an ELF RISC-V relocation type to a fixup kind. `RELAX` and `ALIGN`
/// are skipped: rivet does not relax, so code and its `ALIGN` padding stay
/// as the assembler wrote them. `SUB_ULEB128` maps to a marker that
/// [`riscv64_pairs`] folds into the `SET_ULEB128` before it.
#[inline]
fn riscv64_kind(r_type: elf::RelocationType) -> Mapped {
    let kind = match r_type {
        elf::R_RISCV_NONE | elf::R_RISCV_RELAX | elf::R_RISCV_ALIGN => return Mapped::Skip,
        elf::R_RISCV_32 => RV::Abs32,
        elf::R_RISCV_64 => RV::Abs64,
        elf::R_RISCV_32_PCREL => RV::Pcrel32,
        elf::R_RISCV_BRANCH => RV::Branch,
        elf::R_RISCV_JAL => RV::Jal,
        elf::R_RISCV_CALL | elf::R_RISCV_CALL_PLT => RV::Call,
        elf::R_RISCV_PCREL_HI20 => RV::PcrelHi20,
        elf::R_RISCV_PCREL_LO12_I => PENDING_LO12_I,
        elf::R_RISCV_PCREL_LO12_S => PENDING_LO12_S,
        elf::R_RISCV_GOT_HI20 => RV::GotHi20,
        elf::R_RISCV_HI20 => RV::Hi20,
        elf::R_RISCV_LO12_I => RV::Lo12I,
        elf::R_RISCV_LO12_S => RV::Lo12S,
        elf::R_RISCV_RVC_BRANCH => RV::RvcBranch,
        elf::R_RISCV_RVC_JUMP => RV::RvcJump,
        elf::R_RISCV_ADD8 => RV::Add8,
        elf::R_RISCV_ADD16 => RV::Add16,
        elf::R_RISCV_ADD32 => RV::Add32,
        elf::R_RISCV_ADD64 => RV::Add64,
        elf::R_RISCV_SUB6 => RV::Sub6,
        elf::R_RISCV_SUB8 => RV::Sub8,
        elf::R_RISCV_SUB16 => RV::Sub16,
        elf::R_RISCV_SUB32 => RV::Sub32,
        elf::R_RISCV_SUB64 => RV::Sub64,
        elf::R_RISCV_SET6 => RV::Set6,
        elf::R_RISCV_SET8 => RV::Set8,
        elf::R_RISCV_SET16 => RV::Set16,
        elf::R_RISCV_SET32 => RV::Set32,
        elf::R_RISCV_SET_ULEB128 => RV::SetUleb128,
        elf::R_RISCV_TLS_GD_HI20 => RV::TlsGdHi20,
        elf::R_RISCV_TLS_DTPREL32 => RV::DtpRel32,
        elf::R_RISCV_TLS_DTPREL64 => RV::DtpRel64,
        elf::R_RISCV_SUB_ULEB128 => return Mapped::SubUleb128,
        _ => return Mapped::Unsupported,
    };
    Mapped::Kind(RelocKind::Riscv64(kind))
}

/// Resolves the RISC-V `PCREL_LO12` pairs of one section's relocations, as
/// mapped by [`riscv64_kind`]. (`SUB_ULEB128` is folded into the
/// `SET_ULEB128` before it, at the same offset, as the relocations are read:
/// S1 + A1 - (S2 + A2), the second symbol as the subtrahend.)
///
/// A `PCREL_LO12_I`/`_S` names the label of the `auipc` that carries its
/// high part. The label is found by its section and offset, never by its
/// name (two objects, or two functions, may both have a `.Lpcrel_hi0`); the
/// high part is the `PCREL_HI20`, `GOT_HI20` or `TLS_GD_HI20` at that offset
/// of this section. The low part takes the high part's target and the
/// addend `A_hi + (offset_lo - offset_hi)`, so that its S + A - P is the
/// high part's value; after a `GOT_HI20` it becomes `GOT_PCREL_LO12_I`,
/// after a `TLS_GD_HI20` `TLS_GD_PCREL_LO12_I`.
///
/// # Errors
///
/// A low part whose label is not in this section or has no high part at
/// its offset, and a store-form low part of a GOT or TLS load, are
/// [`Error::MalformedObject`] errors naming the object, section, offset and
/// label.
fn riscv64_pairs(
    name: &str,
    section_index: usize,
    target_name: &str,
    relocations: Vec<Relocation>,
    symbols: &[Symbol<'_>],
) -> Result<Vec<Relocation>> {
    // High parts by offset (a section has at most one at an offset).
    let mut highs: Vec<(u64, usize)> = relocations
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            matches!(
                r.kind,
                RelocKind::Riscv64(RV::PcrelHi20 | RV::GotHi20 | RV::TlsGdHi20)
            )
        })
        .map(|(i, r)| (r.offset, i))
        .collect();
    highs.sort_unstable();
    let mut out: Vec<Relocation> = Vec::with_capacity(relocations.len());
    for reloc in &relocations {
        match reloc.kind {
            RelocKind::Riscv64(kind @ (PENDING_LO12_I | PENDING_LO12_S)) => {
                let bad = |why: String| {
                    malformed(
                        name,
                        format!(
                            "R_RISCV_PCREL_LO12 at {target_name}+{:#x} (label `{}`): {why}",
                            reloc.offset,
                            label_name(reloc.target, symbols)
                        ),
                    )
                };
                let (section, label) = match reloc.target {
                    Target::Section(s) => (Some(s), reloc.addend as u64),
                    Target::Symbol(i) => match symbols.get(i as usize).map(|s| s.definition) {
                        Some(Definition::Section { section, offset }) => {
                            (Some(section), offset.wrapping_add(reloc.addend as u64))
                        }
                        _ => (None, 0),
                    },
                };
                let Some(section) = section else {
                    return Err(bad("the label is not defined in a section".into()));
                };
                if section as usize != section_index {
                    return Err(bad(
                        "the label is in another section than the low part".into()
                    ));
                }
                let Ok(at) = highs.binary_search_by_key(&label, |&(o, _)| o) else {
                    return Err(bad(format!(
                        "no R_RISCV_PCREL_HI20, GOT_HI20 or TLS_GD_HI20 at the label's offset {label:#x}"
                    )));
                };
                let high = relocations[highs[at].1];
                let kind = match (high.kind, kind) {
                    (RelocKind::Riscv64(RV::PcrelHi20), k) => k,
                    (RelocKind::Riscv64(RV::GotHi20), PENDING_LO12_I) => RV::GotPcrelLo12I,
                    (RelocKind::Riscv64(RV::TlsGdHi20), PENDING_LO12_I) => RV::TlsGdPcrelLo12I,
                    _ => {
                        return Err(bad(
                            "a store cannot take its address from a GOT_HI20 or TLS_GD_HI20".into(),
                        ))
                    }
                };
                let distance = reloc.offset.wrapping_sub(high.offset) as i64;
                out.push(Relocation {
                    offset: reloc.offset,
                    kind: RelocKind::Riscv64(kind),
                    target: high.target,
                    addend: high.addend.wrapping_add(distance),
                    subtrahend: None,
                });
            }
            _ => out.push(*reloc),
        }
    }
    Ok(out)
}
