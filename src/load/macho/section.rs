//! Mach-O sections → model sections.
//!
//! Where each kind of section goes:
//!
//! - `__TEXT,__text` and every section with `S_ATTR_PURE_INSTRUCTIONS` or
//!   `S_ATTR_SOME_INSTRUCTIONS`: [`SectionKind::Text`].
//! - The rest of `__TEXT` (`__cstring`, `__const`, `__literal4/8/16`,
//!   `__gcc_except_tab`, ...): [`SectionKind::ReadOnly`].
//! - `__TEXT,__eh_frame`: [`SectionKind::Unwind`].
//! - `S_ZEROFILL`/`S_GB_ZEROFILL` and `__DATA,__bss`/`__DATA,__common`:
//!   [`SectionKind::ZeroFill`].
//! - Everything else that is loaded (`__DATA,__data`, `__DATA,__const`,
//!   `__DATA_CONST,__const`, `__DATA,__mod_init_func`, ...):
//!   [`SectionKind::Data`]. `__DATA,__const` holds constant pointers that are
//!   relocated; it is kept writable like ELF's `.data.rel.ro`, which the ELF
//!   loader also places with the data (the linker writes every section
//!   before finalize, so either class would link).
//! - `__LD,__compact_unwind`, `__DWARF,*` and any `S_ATTR_DEBUG` section:
//!   [`SectionKind::Ignored`]. Compact unwind is an input for a static
//!   linker's `__unwind_info`, which a JIT image does not have; rivet uses
//!   `__eh_frame` only. (LLVM emits `__eh_frame` entries for the functions
//!   compact unwind cannot describe; functions it can describe have no
//!   DWARF unwind info in the object.)
//! - Thread-local variables: `S_THREAD_LOCAL_REGULAR` (`__thread_data`) is
//!   [`SectionKind::TlsData`], `S_THREAD_LOCAL_ZEROFILL` (`__thread_bss`)
//!   [`SectionKind::TlsZeroFill`] (they form the module's thread-local
//!   block, as ELF's `.tdata`/`.tbss` do), and `S_THREAD_LOCAL_VARIABLES`
//!   (`__thread_vars`, the descriptors code calls through)
//!   [`SectionKind::TlvDescriptors`]. Thread-local initializer functions
//!   (`S_THREAD_LOCAL_INIT_FUNCTION_POINTERS`) are refused.
//! - Sections of indirect symbol pointers, thread-local variable pointers
//!   and stubs belong to linked images, not objects, and are refused.

use object::macho;
use object::read::macho::Section as _;
use object::Endianness;

use super::{str_of, RawSection};
use crate::load::{malformed, unsupported, Section, SectionKind};
use crate::Result;

/// The largest section alignment Mach-O linkers accept (`ld64`: 2^15).
const MAX_ALIGN_LOG2: u32 = 15;

/// Turns the section headers into model sections 1..n (0 is the
/// placeholder), with what relocation parsing needs on the side.
pub(super) fn parse<'data>(
    object: &str,
    endian: Endianness,
    data: &'data [u8],
    headers: &[&'data macho::Section64<Endianness>],
) -> Result<(Vec<Section<'data>>, Vec<RawSection<'data>>)> {
    let mut sections = Vec::with_capacity(headers.len() + 1);
    let mut raw = Vec::with_capacity(headers.len() + 1);
    sections.push(Section::placeholder());
    raw.push(RawSection::default());

    for (i, &header) in headers.iter().enumerate() {
        let ordinal = i + 1;
        let name = str_of(object, header.name(), "a section name")?;
        let segment = str_of(object, header.segment_name(), "a segment name")?;
        let kind = kind_of(object, segment, name, header.flags(endian))?;
        let addr = header.addr(endian);
        let size = header.size(endian);
        if addr.checked_add(size).is_none() {
            return Err(malformed(
                object,
                format!("section {ordinal} `{segment},{name}` wraps around the address space"),
            ));
        }
        let align_log2 = header.align(endian);
        if align_log2 > MAX_ALIGN_LOG2 {
            return Err(unsupported(
                object,
                &format!(
                    "section `{segment},{name}` asks for alignment 2^{align_log2}; Mach-O allows at most 2^{MAX_ALIGN_LOG2}"
                ),
            ));
        }
        let bytes = match kind {
            SectionKind::Ignored | SectionKind::ZeroFill | SectionKind::TlsZeroFill => &[][..],
            _ => header
                .data(endian, data, u64::from(header.offset(endian)))
                .map_err(|_| {
                    malformed(
                        object,
                        format!("the bytes of section `{segment},{name}` lie outside the file"),
                    )
                })?,
        };
        let relocations = if kind.is_loaded() {
            header.relocations(endian, data).map_err(|_| {
                malformed(
                    object,
                    format!("the relocations of section `{segment},{name}` lie outside the file"),
                )
            })?
        } else {
            &[][..]
        };
        sections.push(Section {
            name,
            segment,
            kind,
            data: bytes,
            size,
            align: 1u64 << align_log2,
            relocations: Default::default(),
            comdat: None,
        });
        raw.push(RawSection { addr, relocations });
    }
    Ok((sections, raw))
}

/// Classifies a section by its segment, name, type and attributes.
fn kind_of(
    object: &str,
    segment: &str,
    name: &str,
    flags: macho::SectionFlags,
) -> Result<SectionKind> {
    let typ = flags.typ();
    match typ {
        macho::S_THREAD_LOCAL_REGULAR => return Ok(SectionKind::TlsData),
        macho::S_THREAD_LOCAL_ZEROFILL => return Ok(SectionKind::TlsZeroFill),
        macho::S_THREAD_LOCAL_VARIABLES => return Ok(SectionKind::TlvDescriptors),
        macho::S_THREAD_LOCAL_INIT_FUNCTION_POINTERS => {
            return Err(unsupported(
                object,
                &format!(
                    "section `{segment},{name}` holds thread-local initializers (S_THREAD_LOCAL_INIT_FUNCTION_POINTERS: C++ `thread_local` with dynamic initialization), which rivet does not support yet"
                ),
            ))
        }
        // Pointers to descriptors belong to linked images: an object's
        // code reaches its descriptors with TLVP fixups.
        macho::S_THREAD_LOCAL_VARIABLE_POINTERS => {
            return Err(unsupported(
                object,
                &format!(
                    "section `{segment},{name}` is of type S_THREAD_LOCAL_VARIABLE_POINTERS, which belongs in a linked image, not a relocatable object"
                ),
            ))
        }
        macho::S_NON_LAZY_SYMBOL_POINTERS
        | macho::S_LAZY_SYMBOL_POINTERS
        | macho::S_LAZY_DYLIB_SYMBOL_POINTERS
        | macho::S_SYMBOL_STUBS
        | macho::S_INTERPOSING
        | macho::S_INIT_FUNC_OFFSETS
        | macho::S_DTRACE_DOF => {
            return Err(unsupported(
                object,
                &format!(
                    "section `{segment},{name}` is of type {typ} (indirect symbols, stubs or image-only data), which does not belong in a relocatable object"
                ),
            ))
        }
        _ => {}
    }
    if flags.contains(macho::S_ATTR_DEBUG) || segment == "__DWARF" || segment == "__LD" {
        return Ok(SectionKind::Ignored);
    }
    if typ == macho::S_ZEROFILL
        || typ == macho::S_GB_ZEROFILL
        || segment == "__DATA" && (name == "__bss" || name == "__common")
    {
        return Ok(SectionKind::ZeroFill);
    }
    if name == "__eh_frame" {
        return Ok(SectionKind::Unwind);
    }
    if segment == "__TEXT" && name == "__text"
        || flags.contains(macho::S_ATTR_PURE_INSTRUCTIONS)
        || flags.contains(macho::S_ATTR_SOME_INSTRUCTIONS)
    {
        return Ok(SectionKind::Text);
    }
    if segment == "__TEXT" {
        return Ok(SectionKind::ReadOnly);
    }
    Ok(SectionKind::Data)
}
