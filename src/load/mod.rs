//! Object files → one format-neutral model of sections, symbols and relocations.
//!
//! Format code only parses: it turns a file into an [`ObjectFile`] and reads
//! implicit addends out of the bytes, so that every relocation in the model
//! carries an explicit addend. It allocates no executable memory and resolves
//! nothing.

mod coff;
mod elf;
mod macho;

pub use crate::arch::{Arch, RelocKind};
use crate::{Error, Result};

/// The container format of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ELF (Linux and most Unixes).
    Elf,
    /// Mach-O (Apple).
    MachO,
    /// COFF (Windows).
    Coff,
}

/// What a section holds, which decides where the linker places it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// Machine code.
    Text,
    /// Constants and string literals (including merged constant pools).
    ReadOnly,
    /// Unwind tables (`.eh_frame`): read-only once relocated.
    Unwind,
    /// Initialized writable data.
    Data,
    /// Zero-initialized writable data (bss): no bytes in the file.
    ZeroFill,
    /// Initialized thread-local data (`.tdata`): the template of each
    /// thread's copy.
    TlsData,
    /// Zero-initialized thread-local data (`.tbss`).
    TlsZeroFill,
    /// Mach-O thread-local variable descriptors (`__DATA,__thread_vars`,
    /// `S_THREAD_LOCAL_VARIABLES`): three words each, the getter (a fixup
    /// against `__tlv_bootstrap`), the module's key (which the linker
    /// writes) and the variable's offset in the thread-local block (a
    /// fixup against its initial value in `__thread_data`/`__thread_bss`).
    /// Writable data otherwise.
    TlvDescriptors,
    /// Debug information (an ELF `.debug_*` section: DWARF). Not loaded and
    /// takes no memory in a module; kept in the model, with its bytes and
    /// relocations, so that the linker can relocate a heap copy for
    /// debuggers when debugging is on.
    Debug,
    /// Not loaded: notes, symbol and string tables, relocation tables.
    Ignored,
}

impl SectionKind {
    /// Whether the section is placed in memory.
    pub fn is_loaded(self) -> bool {
        !matches!(self, SectionKind::Ignored | SectionKind::Debug)
    }

    /// Whether the section is thread-local (each thread has its own copy).
    pub(crate) fn is_tls(self) -> bool {
        matches!(self, SectionKind::TlsData | SectionKind::TlsZeroFill)
    }
}

/// A section of an object. Indices into [`ObjectFile::sections`] are the
/// file's own section numbers, so that symbols and relocations can use them.
#[derive(Debug, Clone)]
pub struct Section<'data> {
    /// The section's name.
    pub name: &'data str,
    /// Mach-O's segment name (`__DATA` of `__DATA,__const`); empty for ELF
    /// and COFF, whose sections have none.
    pub segment: &'data str,
    /// What the section holds.
    pub kind: SectionKind,
    /// The file's bytes; empty for zero-fill and ignored sections.
    pub data: &'data [u8],
    /// Size in memory.
    pub size: u64,
    /// Alignment, a power of two (at least 1).
    pub align: u64,
    /// Fixups to apply to this section, sorted by nothing in particular.
    pub relocations: Relocations<'data>,
    /// The COMDAT group the section belongs to, if any.
    pub comdat: Option<Comdat<'data>>,
}

impl Section<'_> {
    /// A section that holds nothing and is not loaded: what formats that
    /// number sections from 1 put at index 0, so model indices stay the
    /// file's own.
    pub fn placeholder() -> Self {
        Section {
            name: "",
            segment: "",
            kind: SectionKind::Ignored,
            data: &[],
            size: 0,
            align: 1,
            relocations: Relocations::default(),
            comdat: None,
        }
    }
}

/// How the linker picks among sections of one COMDAT group (COFF's
/// selections; an ELF group is `Any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComdatSelection {
    /// Keep the first; drop the others.
    Any,
    /// A second copy is a duplicate-symbol error.
    NoDuplicates,
    /// Keep the first; copies of another size are an error.
    SameSize,
    /// Keep the first; copies with other contents are an error.
    ExactMatch,
    /// Keep the largest copy.
    Largest,
    /// Kept or dropped with section `parent` of the same object.
    Associative {
        /// The index of the section this one goes with.
        parent: u32,
    },
}

/// A section's COMDAT group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comdat<'data> {
    /// The group's name (its key symbol).
    pub name: &'data str,
    /// Which copy the link keeps.
    pub selection: ComdatSelection,
}

/// Symbol visibility to other objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// Visible inside its object only.
    Local,
    /// Visible to every object; one strong definition allowed.
    Global,
    /// Visible to every object; yields to a strong definition; undefined weak is 0.
    Weak,
}

/// What a symbol names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    /// Code.
    Function,
    /// ELF's `STT_GNU_IFUNC`: the symbol's definition is a resolver, which
    /// the linker runs; the name stands for the function it returns.
    IndirectFunction,
    /// Data.
    Data,
    /// A section itself.
    Section,
    /// Anything else (file names, TLS, ...).
    Other,
}

/// Where a symbol is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Definition {
    /// Not defined here: resolved by the linker.
    Undefined,
    /// At `offset` inside section `section`.
    Section {
        /// The index of the defining section.
        section: u32,
        /// The symbol's offset in it.
        offset: u64,
    },
    /// A common block: storage the linker allocates, shared by all objects.
    Common {
        /// Bytes of the block.
        size: u64,
        /// Its alignment.
        align: u64,
    },
    /// An absolute value.
    Absolute(u64),
}

/// A symbol of an object.
#[derive(Debug, Clone)]
pub struct Symbol<'data> {
    /// The symbol's name.
    pub name: &'data str,
    /// Who sees the symbol.
    pub binding: Binding,
    /// What the symbol names.
    pub kind: SymbolKind,
    /// Where it is defined (or that it is not).
    pub definition: Definition,
    /// Size in bytes, as the object gives it (0 when unknown).
    pub size: u64,
}

impl Symbol<'_> {
    /// A nameless local symbol of no use, standing in for a table entry
    /// that is not a symbol (COFF auxiliary records, Mach-O debug stabs), so
    /// model indices stay the file's own.
    pub fn placeholder() -> Self {
        Symbol {
            name: "",
            binding: Binding::Local,
            kind: SymbolKind::Other,
            definition: Definition::Absolute(0),
            size: 0,
        }
    }

    /// Whether other objects can see the symbol.
    pub fn is_external(&self) -> bool {
        self.binding != Binding::Local
    }
}

/// What a relocation refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A symbol, by index into [`ObjectFile::symbols`].
    Symbol(u32),
    /// The start of a section, by index into [`ObjectFile::sections`].
    Section(u32),
}

/// One fixup: patch `offset` bytes into its section with `kind` computed
/// against `target` + `addend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relocation {
    /// Offset of the patched field in its section.
    pub offset: u64,
    /// How the field is computed and written.
    pub kind: RelocKind,
    /// What the fixup refers to.
    pub target: Target,
    /// Explicit addend (implicit addends are read by the loader).
    pub addend: i64,
    /// For a difference (Mach-O `SUBTRACTOR` pairs): the value is
    /// S - (this target's address) + A.
    pub subtrahend: Option<Target>,
}

/// A section's fixups: decoded into [`Relocation`]s, or read from the
/// object's own RELA table as they are walked (ELF objects whose every
/// entry is a fixup of its own, checked when the object was parsed), so
/// that a large object's relocations cost no copy.
#[derive(Debug, Clone, Default)]
pub struct Relocations<'data> {
    repr: RelocationsRepr<'data>,
}

#[derive(Debug, Clone)]
enum RelocationsRepr<'data> {
    Decoded(Vec<Relocation>),
    Rela(elf::RelaTable<'data>),
}

impl Default for RelocationsRepr<'_> {
    fn default() -> Self {
        RelocationsRepr::Decoded(Vec::new())
    }
}

impl<'data> Relocations<'data> {
    /// Number of fixups.
    pub fn len(&self) -> usize {
        match &self.repr {
            RelocationsRepr::Decoded(v) => v.len(),
            RelocationsRepr::Rela(t) => t.len(),
        }
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fixup `index`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<Relocation> {
        match &self.repr {
            RelocationsRepr::Decoded(v) => v.get(index).copied(),
            RelocationsRepr::Rela(t) => t.get(index),
        }
    }

    /// Every fixup, in the object's order.
    pub fn iter(&self) -> RelocationIter<'_, 'data> {
        RelocationIter {
            relocations: self,
            next: 0,
        }
    }

    /// Every fixup, decoded.
    pub fn to_vec(&self) -> Vec<Relocation> {
        self.iter().collect()
    }

    fn from_rela(table: elf::RelaTable<'data>) -> Self {
        Relocations {
            repr: RelocationsRepr::Rela(table),
        }
    }
}

impl PartialEq for Relocations<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl From<Vec<Relocation>> for Relocations<'_> {
    fn from(relocations: Vec<Relocation>) -> Self {
        Relocations {
            repr: RelocationsRepr::Decoded(relocations),
        }
    }
}

impl<'a, 'data> IntoIterator for &'a Relocations<'data> {
    type Item = Relocation;
    type IntoIter = RelocationIter<'a, 'data>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The fixups of a section, in order ([`Relocations::iter`]).
#[derive(Debug, Clone)]
pub struct RelocationIter<'a, 'data> {
    relocations: &'a Relocations<'data>,
    next: usize,
}

impl Iterator for RelocationIter<'_, '_> {
    type Item = Relocation;

    #[inline]
    fn next(&mut self) -> Option<Relocation> {
        let reloc = self.relocations.get(self.next)?;
        self.next += 1;
        Some(reloc)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.relocations.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for RelocationIter<'_, '_> {}

/// A parsed relocatable object, borrowing from its bytes.
#[derive(Debug, Clone)]
pub struct ObjectFile<'data> {
    /// Names the object in errors.
    pub name: String,
    /// Its container format.
    pub format: Format,
    /// The instruction set of its code.
    pub arch: Arch,
    /// Every section, in the object's order.
    pub sections: Vec<Section<'data>>,
    /// Every symbol, in the object's order.
    pub symbols: Vec<Symbol<'data>>,
}

impl<'data> ObjectFile<'data> {
    /// Parses a relocatable object of any supported format.
    pub fn parse(data: &'data [u8], name: &str) -> Result<ObjectFile<'data>> {
        let object = Self::parse_format(data, name)?;
        object.check_symbol_offsets()?;
        Ok(object)
    }

    fn parse_format(data: &'data [u8], name: &str) -> Result<ObjectFile<'data>> {
        match object::FileKind::parse(data) {
            Ok(object::FileKind::Elf64) => elf::parse(data, name),
            Ok(object::FileKind::Elf32) => Err(unsupported(name, "32-bit ELF")),
            Ok(object::FileKind::MachO64) => macho::parse(data, name),
            Ok(object::FileKind::MachO32) => Err(unsupported(name, "32-bit Mach-O")),
            Ok(object::FileKind::Coff) => coff::parse(data, name),
            Ok(object::FileKind::CoffBig) => coff::parse_bigobj(data, name),
            Ok(kind) => Err(unsupported(name, &format!("{kind:?} files"))),
            Err(e) => Err(malformed(name, e.to_string())),
        }
    }

    /// Every symbol defined in a section lies inside it: at most at its
    /// end (a symbol may mark the end, as `__stop_` and end labels do),
    /// never past it. Checked once here for every format, so the linker
    /// never exports an address outside the memory it placed.
    fn check_symbol_offsets(&self) -> Result<()> {
        for symbol in &self.symbols {
            let Definition::Section { section, offset } = symbol.definition else {
                continue;
            };
            let Some(placed) = self.sections.get(section as usize) else {
                return Err(malformed(
                    &self.name,
                    format!(
                        "symbol `{}` is defined in section {section}, which the object does not have",
                        symbol.name
                    ),
                ));
            };
            if offset > placed.size {
                return Err(Error::SymbolOutsideSection {
                    object: self.name.clone(),
                    symbol: symbol.name.to_string(),
                    section: placed.name.to_string(),
                    offset,
                    size: placed.size,
                });
            }
        }
        Ok(())
    }

    /// The name of the thing a relocation targets, for messages.
    pub fn target_name(&self, target: Target) -> &str {
        match target {
            Target::Symbol(i) => match self.symbols.get(i as usize) {
                Some(s) if !s.name.is_empty() => s.name,
                Some(Symbol {
                    definition: Definition::Section { section, .. },
                    ..
                }) => self.section_name(*section),
                _ => "<unnamed>",
            },
            Target::Section(i) => self.section_name(i),
        }
    }

    /// A section's name, for messages.
    pub fn section_name(&self, index: u32) -> &str {
        self.sections
            .get(index as usize)
            .map_or("<bad section>", |s| s.name)
    }
}

pub(crate) fn malformed(object: &str, reason: impl Into<String>) -> Error {
    Error::MalformedObject {
        object: object.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn unsupported(object: &str, reason: &str) -> Error {
    Error::UnsupportedObject {
        object: object.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests;
