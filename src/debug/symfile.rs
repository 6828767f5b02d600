//! The in-memory ELF file handed to a debugger for one module.
//!
//! It is an `ET_EXEC` image that describes memory rather than holding it:
//! one section header per [`DebugSection`](super::DebugSection) with
//! `sh_addr` set to the section's run-time address, and a symbol table whose
//! values are absolute run-time addresses (which is what `ET_EXEC` means to
//! BFD, the reader gdb uses). Code and data sections are `SHT_NOBITS`: a
//! debugger attached to the process reads their bytes from the process.
//! The unwind table (`.eh_frame`) is the exception: gdb reads unwind rules
//! only from the file, so its relocated bytes are copied in, which lets gdb
//! unwind through JIT frames that keep no frame pointer.
//!
//! The module's DWARF, when it has any, follows as non-allocated sections
//! (`sh_addr` 0, `SHF_ALLOC` clear) holding its relocated bytes: its
//! addresses are already the run-time ones, as in any `ET_EXEC` file, so
//! the debugger uses them as they are.
//!
//! The file is written with `object`'s two-phase ELF writer. Section counts
//! past the ELF limit of 0xff00 use the gABI's extended numbering, which the
//! writer applies on its own: `e_shnum = 0` with the count in section 0's
//! `sh_size`, `e_shstrndx = SHN_XINDEX` with the index in its `sh_link`
//! (each only when its own value overflows), and `SHN_XINDEX` symbols with
//! a `.symtab_shndx` table when some symbol lies in a section at or past
//! 0xff00.
//!
//! Layout: file header, the copied unwind tables, the DWARF, `.symtab`,
//! `.symtab_shndx` (if needed), `.strtab`, `.shstrtab`, then the section
//! headers in index order: null, the module's sections, its DWARF,
//! `.symtab`, `.symtab_shndx`, `.strtab`, `.shstrtab`.

use object::elf;
use object::write::elf::{FileHeader, SectionHeader, SectionIndex, Sym, Writer};
use object::write::StringId;
use object::Endianness;

use super::{process_memory, ModuleImage};
use crate::load::Arch;
use crate::Result;

/// The ELF `e_machine` of `arch`.
pub(crate) fn elf_machine(arch: Arch) -> elf::Machine {
    match arch {
        Arch::X86_64 => elf::EM_X86_64,
        Arch::Aarch64 => elf::EM_AARCH64,
        Arch::Riscv64 => elf::EM_RISCV,
    }
}

/// Whether a section of this name is an unwind table in `.eh_frame` format
/// (ELF and Mach-O spellings).
fn is_eh_frame(name: &str) -> bool {
    name == ".eh_frame" || name == "__eh_frame"
}

/// A name as an ELF string: the part before any NUL (a NUL would end it
/// early in the file anyway, and `object`'s string tables refuse one).
fn elf_name(name: &str) -> &[u8] {
    let bytes = name.as_bytes();
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// The writer fails only on string tables past 4 GiB or a buffer it cannot
/// grow; either is the image not fitting.
fn write_error(e: object::write::Error) -> crate::Error {
    crate::Error::Memory {
        op: "write the debugger's ELF image",
        source: std::io::Error::other(e),
    }
}

/// One of the module's sections as reserved in the file.
struct Placed<'a> {
    name: Option<StringId>,
    kind: elf::SectionType,
    flags: elf::SectionFlags,
    addr: u64,
    offset: u64,
    size: u64,
    /// Bytes copied into the file (unwind tables and DWARF); none for
    /// `SHT_NOBITS`.
    data: Option<&'a [u8]>,
    /// Alignment of `data` in the file.
    file_align: u64,
}

/// Builds the ELF image describing `image`. Reads the bytes of its
/// `.eh_frame` sections from memory, so fails when one of them is not
/// readable at the address the image gives.
pub fn build(image: &ModuleImage<'_>) -> Result<Vec<u8>> {
    // Unwind tables are read before anything is reserved: the file holds
    // a copy, and a table that cannot be read fails the build.
    let mut eh_frames: Vec<Option<Vec<u8>>> = Vec::with_capacity(image.sections.len());
    for section in image.sections {
        eh_frames.push(if is_eh_frame(section.name) && section.size != 0 {
            let len = usize::try_from(section.size).map_err(|_| crate::Error::Memory {
                op: "read .eh_frame",
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })?;
            Some(process_memory::read(section.addr, len)?)
        } else {
            None
        });
    }

    let mut buffer = Vec::new();
    // The image describes this process, so it is in the host's byte order.
    let mut w = Writer::new(Endianness::default(), true, &mut buffer);

    // Phase one: reserve every index, string and file range, in file order.
    w.reserve_file_header();
    let mut placed = Vec::with_capacity(image.sections.len() + image.dwarf.len());
    let mut section_index = Vec::with_capacity(image.sections.len());
    for (section, copy) in image.sections.iter().zip(&eh_frames) {
        section_index.push(w.reserve_section_index());
        let mut flags = elf::SHF_ALLOC;
        if section.executable {
            flags |= elf::SHF_EXECINSTR;
        }
        if section.writable {
            flags |= elf::SHF_WRITE;
        }
        // An unwind table starts 8-aligned in the file, as it does in memory.
        let (name, kind, offset) = match copy {
            Some(bytes) => (
                &b".eh_frame"[..],
                elf::SHT_PROGBITS,
                w.reserve(bytes.len() as u64, 8),
            ),
            None => (elf_name(section.name), elf::SHT_NOBITS, w.reserved_len()),
        };
        placed.push(Placed {
            name: (!name.is_empty()).then(|| w.add_section_name(name)),
            kind,
            flags,
            addr: section.addr,
            offset,
            size: section.size,
            data: copy.as_deref(),
            file_align: 8,
        });
    }
    for dwarf in image.dwarf {
        w.reserve_section_index();
        let name = elf_name(&dwarf.name);
        placed.push(Placed {
            name: (!name.is_empty()).then(|| w.add_section_name(name)),
            kind: elf::SHT_PROGBITS,
            flags: elf::SectionFlags(0),
            addr: 0,
            offset: w.reserve(dwarf.data.len() as u64, 1),
            size: dwarf.data.len() as u64,
            data: Some(&dwarf.data),
            file_align: 1,
        });
    }
    w.reserve_symtab_section_index();

    // The section index of each symbol: the section holding its address
    // (only loaded sections hold addresses).
    let mut order: Vec<usize> = (0..image.sections.len())
        .filter(|&i| image.sections[i].size != 0)
        .collect();
    order.sort_by_key(|&i| image.sections[i].addr);
    let holder = |addr: u64| -> Option<SectionIndex> {
        let after = order.partition_point(|&i| image.sections[i].addr <= addr);
        let &i = order[..after].last()?;
        let s = &image.sections[i];
        (addr - s.addr < s.size).then_some(section_index[i])
    };
    let mut symbols = Vec::with_capacity(image.symbols.len());
    for symbol in image.symbols {
        let name = elf_name(symbol.name);
        let section = holder(symbol.addr);
        // Tells the writer whether `.symtab_shndx` is needed.
        w.reserve_symbol_index(section);
        symbols.push(((!name.is_empty()).then(|| w.add_string(name)), section));
    }
    if w.symtab_shndx_needed() {
        w.reserve_symtab_shndx_section_index();
    }
    w.reserve_strtab_section_index();
    w.reserve_shstrtab_section_index();
    w.reserve_symtab();
    w.reserve_symtab_shndx();
    w.reserve_strtab().map_err(write_error)?;
    w.reserve_shstrtab().map_err(write_error)?;
    w.reserve_section_headers();

    // Phase two: write in the order reserved.
    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_EXEC,
        e_machine: elf_machine(image.arch),
        e_entry: 0,
        e_flags: elf::FileFlags(0),
    })
    .map_err(write_error)?;
    for p in &placed {
        if let Some(data) = p.data {
            w.write_align(p.file_align);
            w.write(data);
        }
    }
    w.write_null_symbol();
    for (symbol, (name, section)) in image.symbols.iter().zip(&symbols) {
        let kind = if symbol.is_function {
            elf::STT_FUNC
        } else {
            elf::STT_OBJECT
        };
        w.write_symbol(&Sym {
            st_name: w.string_offset(*name),
            section: section.map(|s| s.0),
            st_info: elf::STB_GLOBAL | kind,
            st_other: elf::STV_DEFAULT.into(),
            // Used only without a section: the symbol names no place in
            // the module, so its value is absolute.
            st_shndx: elf::SHN_ABS,
            st_value: symbol.addr,
            st_size: symbol.size,
        });
    }
    w.write_symtab_shndx();
    w.write_strtab();
    w.write_shstrtab();

    w.write_null_section_header();
    for p in &placed {
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(p.name),
            sh_type: p.kind,
            sh_flags: p.flags,
            sh_addr: p.addr,
            sh_offset: p.offset,
            sh_size: p.size,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: 1,
            sh_entsize: 0,
        });
    }
    // Every symbol is global: the first non-local one is index 1.
    w.write_symtab_section_header(1);
    w.write_symtab_shndx_section_header();
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
    debug_assert_eq!(w.reserved_len(), w.len());
    drop(w);
    Ok(buffer)
}

#[cfg(test)]
mod tests;
