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
//! Section counts past the ELF limit of 0xff00 use the gABI's extended
//! numbering (`e_shnum = 0`, `SHN_XINDEX`, `SHT_SYMTAB_SHNDX`).

use super::{process_memory, ModuleImage};
use crate::load::Arch;
use crate::Result;

// ELF constants from the System V gABI.
const ET_EXEC: u16 = 2;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHT_SYMTAB_SHNDX: u32 = 18;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;
const SHN_LORESERVE: u32 = 0xff00;
const SHN_ABS: u16 = 0xfff1;
const SHN_XINDEX: u16 = 0xffff;
const STB_GLOBAL: u8 = 1;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
/// `EM_RISCV`.
const EM_RISCV: u16 = 243;
const EHDR_SIZE: usize = 64;
const SHDR_SIZE: usize = 64;
const SYM_SIZE: usize = 24;

/// The ELF `e_machine` of `arch`.
pub fn elf_machine(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => EM_X86_64,
        Arch::Aarch64 => EM_AARCH64,
        Arch::Riscv64 => EM_RISCV,
    }
}

/// Whether a section of this name is an unwind table in `.eh_frame` format
/// (ELF and Mach-O spellings).
fn is_eh_frame(name: &str) -> bool {
    name == ".eh_frame" || name == "__eh_frame"
}

/// Section header fields.
struct Shdr {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

/// Byte sink in the host's byte order (the image describes this process).
#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_ne_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_ne_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_ne_bytes());
    }
    fn align(&mut self, to: usize) {
        while self.0.len() % to != 0 {
            self.0.push(0);
        }
    }
    fn pos(&self) -> u64 {
        self.0.len() as u64
    }
}

/// A string table under construction.
struct Strings(Vec<u8>);

impl Strings {
    fn new() -> Strings {
        Strings(vec![0])
    }
    fn add(&mut self, s: &str) -> u32 {
        let at = self.0.len() as u32;
        // A NUL inside a name would end it early; keep the part before it.
        self.0.extend(s.bytes().take_while(|&b| b != 0));
        self.0.push(0);
        at
    }
}

/// Builds the ELF image describing `image`. Reads the bytes of its
/// `.eh_frame` sections from memory, so fails when one of them is not
/// readable at the address the image gives.
pub fn build(image: &ModuleImage<'_>) -> Result<Vec<u8>> {
    let n = (image.sections.len() + image.dwarf.len()) as u32;
    // Indices: 0 null, 1..=n the module's sections then its DWARF, then
    // the tables.
    let symtab_index = n + 1;
    // Without extended numbering the last index is n + 3 and e_shnum n + 4,
    // which must stay below SHN_LORESERVE.
    let extended = n + 4 >= SHN_LORESERVE;
    let shndx_index = extended.then_some(symtab_index + 1);
    let strtab_index = symtab_index + 1 + u32::from(extended);
    let shstrtab_index = strtab_index + 1;
    let count = shstrtab_index + 1;

    let mut out = Out::default();
    out.0.resize(EHDR_SIZE, 0);
    let mut shstr = Strings::new();
    let mut headers = Vec::with_capacity(count as usize);

    for section in image.sections {
        let mut flags = SHF_ALLOC;
        if section.executable {
            flags |= SHF_EXECINSTR;
        }
        if section.writable {
            flags |= SHF_WRITE;
        }
        let (name, kind, offset) = if is_eh_frame(section.name) && section.size != 0 {
            let len = usize::try_from(section.size).map_err(|_| crate::Error::Memory {
                op: "read .eh_frame",
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })?;
            let bytes = process_memory::read(section.addr, len)?;
            out.align(8);
            let offset = out.pos();
            out.0.extend_from_slice(&bytes);
            (".eh_frame", SHT_PROGBITS, offset)
        } else {
            (section.name, SHT_NOBITS, out.pos())
        };
        headers.push(Shdr {
            name: shstr.add(name),
            kind,
            flags,
            addr: section.addr,
            offset,
            size: section.size,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        });
    }

    for dwarf in image.dwarf {
        let offset = out.pos();
        out.0.extend_from_slice(&dwarf.data);
        headers.push(Shdr {
            name: shstr.add(&dwarf.name),
            kind: SHT_PROGBITS,
            flags: 0,
            addr: 0,
            offset,
            size: dwarf.data.len() as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        });
    }

    // The section index of each symbol: the section holding its address
    // (only loaded sections hold addresses).
    let mut order: Vec<usize> = (0..image.sections.len())
        .filter(|&i| image.sections[i].size != 0)
        .collect();
    order.sort_by_key(|&i| image.sections[i].addr);
    let holder = |addr: u64| -> Option<u32> {
        let after = order.partition_point(|&i| image.sections[i].addr <= addr);
        let &i = order[..after].last()?;
        let s = &image.sections[i];
        (addr - s.addr < s.size).then_some(i as u32 + 1)
    };

    let mut strtab = Strings::new();
    out.align(8);
    let symtab_offset = out.pos();
    out.0.resize(out.0.len() + SYM_SIZE, 0); // the null symbol
    let mut shndx_table = Vec::new();
    if extended {
        shndx_table.push(0u32);
    }
    for symbol in image.symbols {
        let kind = if symbol.is_function {
            STT_FUNC
        } else {
            STT_OBJECT
        };
        let (shndx, xindex) = match holder(symbol.addr) {
            Some(i) if i < SHN_LORESERVE => (i as u16, 0),
            Some(i) => (SHN_XINDEX, i),
            None => (SHN_ABS, 0),
        };
        out.u32(strtab.add(symbol.name));
        out.u8((STB_GLOBAL << 4) | kind);
        out.u8(0);
        out.u16(shndx);
        out.u64(symbol.addr);
        out.u64(symbol.size);
        if extended {
            shndx_table.push(xindex);
        }
    }
    let symtab_size = out.pos() - symtab_offset;
    headers.push(Shdr {
        name: shstr.add(".symtab"),
        kind: SHT_SYMTAB,
        flags: 0,
        addr: 0,
        offset: symtab_offset,
        size: symtab_size,
        link: strtab_index,
        // Every symbol is global: the first non-local one is index 1.
        info: 1,
        align: 8,
        entsize: SYM_SIZE as u64,
    });
    if let Some(index) = shndx_index {
        debug_assert_eq!(index as usize, headers.len() + 1);
        let offset = out.pos();
        for v in &shndx_table {
            out.u32(*v);
        }
        headers.push(Shdr {
            name: shstr.add(".symtab_shndx"),
            kind: SHT_SYMTAB_SHNDX,
            flags: 0,
            addr: 0,
            offset,
            size: out.pos() - offset,
            link: symtab_index,
            info: 0,
            align: 4,
            entsize: 4,
        });
    }
    let strtab_offset = out.pos();
    out.0.extend_from_slice(&strtab.0);
    headers.push(Shdr {
        name: shstr.add(".strtab"),
        kind: SHT_STRTAB,
        flags: 0,
        addr: 0,
        offset: strtab_offset,
        size: strtab.0.len() as u64,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    });
    let shstrtab_name = shstr.add(".shstrtab");
    let shstrtab_offset = out.pos();
    out.0.extend_from_slice(&shstr.0);
    headers.push(Shdr {
        name: shstrtab_name,
        kind: SHT_STRTAB,
        flags: 0,
        addr: 0,
        offset: shstrtab_offset,
        size: shstr.0.len() as u64,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    });

    out.align(8);
    let shoff = out.pos();
    // Section 0 carries the real count and string-table index when they
    // do not fit the header's 16-bit fields.
    let zero = Shdr {
        name: 0,
        kind: 0,
        flags: 0,
        addr: 0,
        offset: 0,
        size: if extended { u64::from(count) } else { 0 },
        link: if extended { shstrtab_index } else { 0 },
        info: 0,
        align: 0,
        entsize: 0,
    };
    for h in std::iter::once(&zero).chain(&headers) {
        out.u32(h.name);
        out.u32(h.kind);
        out.u64(h.flags);
        out.u64(h.addr);
        out.u64(h.offset);
        out.u64(h.size);
        out.u32(h.link);
        out.u32(h.info);
        out.u64(h.align);
        out.u64(h.entsize);
    }

    let mut ehdr = Out::default();
    ehdr.0.extend_from_slice(&[0x7f, b'E', b'L', b'F']);
    ehdr.u8(2); // ELFCLASS64
    ehdr.u8(if cfg!(target_endian = "little") { 1 } else { 2 });
    ehdr.u8(1); // EV_CURRENT
    ehdr.u8(0); // ELFOSABI_NONE
    ehdr.0.resize(16, 0);
    ehdr.u16(ET_EXEC);
    ehdr.u16(elf_machine(image.arch));
    ehdr.u32(1); // e_version
    ehdr.u64(0); // e_entry
    ehdr.u64(0); // e_phoff
    ehdr.u64(shoff);
    ehdr.u32(0); // e_flags
    ehdr.u16(EHDR_SIZE as u16);
    ehdr.u16(0); // e_phentsize
    ehdr.u16(0); // e_phnum
    ehdr.u16(SHDR_SIZE as u16);
    ehdr.u16(if extended { 0 } else { count as u16 });
    ehdr.u16(if extended {
        SHN_XINDEX
    } else {
        shstrtab_index as u16
    });
    out.0[..EHDR_SIZE].copy_from_slice(&ehdr.0);
    Ok(out.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debug::{DebugSection, DebugSymbol};
    use object::{Object, ObjectSection, ObjectSymbol, SectionIndex, SymbolKind, SymbolSection};

    #[test]
    fn sections_and_symbols_sit_at_their_run_time_addresses() {
        // A stand-in unwind table: any readable bytes are copied verbatim.
        let eh_frame: Vec<u8> = (1..=40u8).collect();
        let eh_addr = eh_frame.as_ptr() as u64;
        let sections = [
            DebugSection {
                name: ".text",
                addr: 0x7000_1000,
                size: 0x80,
                executable: true,
                writable: false,
            },
            DebugSection {
                name: ".data",
                addr: 0x7000_3000,
                size: 0x10,
                executable: false,
                writable: true,
            },
            DebugSection {
                name: ".eh_frame",
                addr: eh_addr,
                size: eh_frame.len() as u64,
                executable: false,
                writable: false,
            },
        ];
        let symbols = [
            DebugSymbol {
                name: "f",
                addr: 0x7000_1000,
                size: 0x30,
                is_function: true,
            },
            DebugSymbol {
                name: "g",
                addr: 0x7000_1030,
                size: 0x50,
                is_function: true,
            },
            DebugSymbol {
                name: "v",
                addr: 0x7000_3008,
                size: 8,
                is_function: false,
            },
            DebugSymbol {
                name: "nowhere",
                addr: 0x10,
                size: 0,
                is_function: false,
            },
        ];
        let image = ModuleImage {
            name: "m",
            arch: Arch::Aarch64,
            sections: &sections,
            symbols: &symbols,
            dwarf: &[],
        };
        let bytes = build(&image).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        assert_eq!(file.architecture(), object::Architecture::Aarch64);
        assert_eq!(file.kind(), object::ObjectKind::Executable);

        let got: Vec<(String, u64, u64)> = file
            .sections()
            .filter(|s| s.address() != 0)
            .map(|s| (s.name().unwrap().to_string(), s.address(), s.size()))
            .collect();
        let want: Vec<(String, u64, u64)> = sections
            .iter()
            .map(|s| (s.name.to_string(), s.addr, s.size))
            .collect();
        assert_eq!(got, want);
        let eh = file.section_by_name(".eh_frame").unwrap();
        assert_eq!(eh.data().unwrap(), eh_frame.as_slice());
        // Code and data are described, not copied.
        assert!(file
            .section_by_name(".text")
            .unwrap()
            .data()
            .unwrap()
            .is_empty());
        assert!(bytes.len() < 0x80 + 0x10 + 1024);

        let syms: Vec<(String, u64, u64, SymbolKind, SymbolSection)> = file
            .symbols()
            .map(|s| {
                (
                    s.name().unwrap().to_string(),
                    s.address(),
                    s.size(),
                    s.kind(),
                    s.section(),
                )
            })
            .collect();
        assert_eq!(
            syms,
            vec![
                (
                    "f".into(),
                    0x7000_1000,
                    0x30,
                    SymbolKind::Text,
                    SymbolSection::Section(SectionIndex(1))
                ),
                (
                    "g".into(),
                    0x7000_1030,
                    0x50,
                    SymbolKind::Text,
                    SymbolSection::Section(SectionIndex(1))
                ),
                (
                    "v".into(),
                    0x7000_3008,
                    8,
                    SymbolKind::Data,
                    SymbolSection::Section(SectionIndex(2))
                ),
                (
                    "nowhere".into(),
                    0x10,
                    0,
                    SymbolKind::Data,
                    SymbolSection::Absolute
                ),
            ]
        );
    }

    #[test]
    fn past_0xff00_sections_use_extended_numbering() {
        let names: Vec<String> = (0..0xff10).map(|i| format!(".text.f{i}")).collect();
        let sections: Vec<DebugSection<'_>> = names
            .iter()
            .enumerate()
            .map(|(i, name)| DebugSection {
                name,
                addr: 0x1000_0000 + 16 * i as u64,
                size: 16,
                executable: true,
                writable: false,
            })
            .collect();
        // One symbol in the first section, one in the last (index 0xff10,
        // which needs SHN_XINDEX).
        let last = sections.last().unwrap().addr;
        let symbols = [
            DebugSymbol {
                name: "first",
                addr: 0x1000_0000,
                size: 16,
                is_function: true,
            },
            DebugSymbol {
                name: "last",
                addr: last + 4,
                size: 12,
                is_function: true,
            },
        ];
        let image = ModuleImage {
            name: "big",
            arch: Arch::X86_64,
            sections: &sections,
            symbols: &symbols,
            dwarf: &[],
        };
        let bytes = build(&image).unwrap();
        assert_eq!(&bytes[60..62], &0u16.to_ne_bytes(), "e_shnum is 0");
        // Section 0 holds the count: null, the module's, and four tables.
        let shoff = u64::from_ne_bytes(bytes[40..48].try_into().unwrap()) as usize;
        let count = u64::from_ne_bytes(bytes[shoff + 32..shoff + 40].try_into().unwrap());
        assert_eq!(count, 0xff10 + 5);
        let file = object::File::parse(&*bytes).unwrap();
        // object lists every section but the null one.
        assert_eq!(file.sections().count(), 0xff10 + 4);
        let sym = |name: &str| file.symbols().find(|s| s.name() == Ok(name)).unwrap();
        assert_eq!(
            sym("first").section(),
            SymbolSection::Section(SectionIndex(1))
        );
        assert_eq!(
            sym("last").section(),
            SymbolSection::Section(SectionIndex(0xff10))
        );
        assert_eq!(sym("last").address(), last + 4);
        let holder = file.section_by_index(SectionIndex(0xff10)).unwrap();
        assert_eq!(holder.name().unwrap(), names.last().unwrap());
        assert_eq!(holder.address(), last);
    }

    #[test]
    fn an_unreadable_unwind_table_is_an_error() {
        let sections = [DebugSection {
            name: ".eh_frame",
            addr: 8,
            size: 64,
            executable: false,
            writable: false,
        }];
        let image = ModuleImage {
            name: "m",
            arch: Arch::X86_64,
            sections: &sections,
            symbols: &[],
            dwarf: &[],
        };
        let err = build(&image).unwrap_err();
        assert!(matches!(err, crate::Error::Memory { .. }), "{err}");
    }
}
