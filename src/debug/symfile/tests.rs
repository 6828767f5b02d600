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

/// `n` executable sections of 16 bytes, named `.text.f<i>`, one after the
/// other from 0x1000_0000.
fn text_sections(names: &[String]) -> Vec<DebugSection<'_>> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| DebugSection {
            name,
            addr: 0x1000_0000 + 16 * i as u64,
            size: 16,
            executable: true,
            writable: false,
        })
        .collect()
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!(".text.f{i}")).collect()
}

/// A symbol at the start of the module's section of ELF index `index`.
fn symbol_in(
    sections: &[DebugSection<'_>],
    index: usize,
    name: &'static str,
) -> DebugSymbol<'static> {
    DebugSymbol {
        name,
        addr: sections[index - 1].addr,
        size: 16,
        is_function: true,
    }
}

#[test]
fn small_images_use_plain_numbering_and_no_shndx_table() {
    let names = names(3);
    let sections = text_sections(&names);
    let symbols = [symbol_in(&sections, 3, "f")];
    let image = ModuleImage {
        name: "m",
        arch: Arch::X86_64,
        sections: &sections,
        symbols: &symbols,
        dwarf: &[],
    };
    let bytes = build(&image).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    // null, three sections, .symtab, .strtab, .shstrtab
    assert_eq!(elf.header.e_shnum, 7);
    assert_eq!(elf.header.e_shstrndx, 6);
    assert_eq!(elf.section_headers[0].sh_size, 0);
    assert_eq!(elf.section_headers[0].sh_link, 0);
    let section_names: Vec<&str> = elf
        .section_headers
        .iter()
        .map(|s| elf.shdr_strtab.get_at(s.sh_name).unwrap())
        .collect();
    assert_eq!(
        section_names,
        [
            "",
            ".text.f0",
            ".text.f1",
            ".text.f2",
            ".symtab",
            ".strtab",
            ".shstrtab"
        ]
    );
    let symtab = &elf.section_headers[4];
    assert_eq!(symtab.sh_type, goblin::elf::section_header::SHT_SYMTAB);
    assert_eq!(symtab.sh_link, 5, ".symtab links .strtab");
    assert_eq!(symtab.sh_info, 1, "every symbol is global");
    assert_eq!(elf.header.e_type, goblin::elf::header::ET_EXEC);
    assert_eq!(elf.header.e_machine, goblin::elf::header::EM_X86_64);
    let f = elf.syms.get(1).unwrap();
    assert_eq!(elf.strtab.get_at(f.st_name), Some("f"));
    assert_eq!(f.st_shndx, 3);
    assert_eq!(f.st_value, sections[2].addr);
    assert_eq!(f.st_bind(), goblin::elf::sym::STB_GLOBAL);
    assert_eq!(f.st_type(), goblin::elf::sym::STT_FUNC);
}

#[test]
fn extended_numbering_read_back_by_goblin() {
    // 0xff10 sections put .shstrtab at 0xff14 and the count at 0xff15:
    // both escape, and the symbol in section 0xff10 needs SHN_XINDEX.
    let names = names(0xff10);
    let sections = text_sections(&names);
    let symbols = [
        symbol_in(&sections, 1, "first"),
        symbol_in(&sections, 0xfeff, "below"),
        symbol_in(&sections, 0xff00, "at"),
        symbol_in(&sections, 0xff10, "last"),
    ];
    let image = ModuleImage {
        name: "big",
        arch: Arch::X86_64,
        sections: &sections,
        symbols: &symbols,
        dwarf: &[],
    };
    let bytes = build(&image).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let count = 0xff10 + 5;
    let symtab_index = 0xff11;
    let shndx_index = 0xff12;
    let shstrtab_index = 0xff14;
    assert_eq!(elf.header.e_shnum, 0);
    assert_eq!(elf.header.e_shstrndx, elf::SHN_XINDEX.0);
    assert_eq!(elf.section_headers[0].sh_size, count as u64);
    assert_eq!(elf.section_headers[0].sh_link, shstrtab_index as u32);
    assert_eq!(elf.section_headers.len(), count);
    let name = |i: usize| {
        elf.shdr_strtab
            .get_at(elf.section_headers[i].sh_name)
            .unwrap()
    };
    assert_eq!(name(0xff10), ".text.f65295");
    assert_eq!(name(symtab_index), ".symtab");
    assert_eq!(name(shndx_index), ".symtab_shndx");
    assert_eq!(name(0xff13), ".strtab");
    assert_eq!(name(shstrtab_index), ".shstrtab");

    let shndx = &elf.section_headers[shndx_index];
    assert_eq!(shndx.sh_type, goblin::elf::section_header::SHT_SYMTAB_SHNDX);
    assert_eq!(shndx.sh_link, symtab_index as u32);
    assert_eq!(shndx.sh_entsize, 4);
    let table: Vec<u32> = bytes[shndx.sh_offset as usize..][..shndx.sh_size as usize]
        .chunks_exact(4)
        .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    // One entry per symbol, the null one included; zero where st_shndx
    // holds the index itself.
    assert_eq!(table, [0, 0, 0, 0xff00, 0xff10]);

    let shndx_of: Vec<(&str, usize)> = elf
        .syms
        .iter()
        .skip(1)
        .map(|s| (elf.strtab.get_at(s.st_name).unwrap(), s.st_shndx))
        .collect();
    assert_eq!(
        shndx_of,
        [
            ("first", 1),
            ("below", 0xfeff),
            ("at", 0xffff),
            ("last", 0xffff)
        ]
    );

    // object resolves the escapes to the same sections.
    let file = object::File::parse(&*bytes).unwrap();
    for (name, index) in [("below", 0xfeff), ("at", 0xff00), ("last", 0xff10)] {
        let sym = file.symbols().find(|s| s.name() == Ok(name)).unwrap();
        assert_eq!(sym.section(), SymbolSection::Section(SectionIndex(index)));
        assert_eq!(sym.address(), sections[index - 1].addr);
    }
}

#[test]
fn the_count_escapes_at_0xff00_sections_and_not_before() {
    // With n module sections and no symbol past 0xff00 the file has n + 4
    // sections; .shstrtab is the last of them.
    for (n, escaped) in [(0xfefb, false), (0xfefc, true)] {
        let names = names(n);
        let sections = text_sections(&names);
        let symbols = [symbol_in(&sections, n, "last")];
        let image = ModuleImage {
            name: "edge",
            arch: Arch::Aarch64,
            sections: &sections,
            symbols: &symbols,
            dwarf: &[],
        };
        let bytes = build(&image).unwrap();
        let elf = goblin::elf::Elf::parse(&bytes).unwrap();
        let count = n + 4;
        assert_eq!(elf.section_headers.len(), count);
        let zero = &elf.section_headers[0];
        if escaped {
            assert_eq!(count, 0xff00);
            assert_eq!(elf.header.e_shnum, 0);
            assert_eq!(zero.sh_size, count as u64);
        } else {
            assert_eq!(elf.header.e_shnum as usize, count);
            assert_eq!(zero.sh_size, 0);
        }
        // The string-table index (count - 1) still fits in both.
        assert_eq!(elf.header.e_shstrndx as usize, count - 1);
        assert_eq!(zero.sh_link, 0);
        assert!(elf
            .section_headers
            .iter()
            .all(|s| s.sh_type != goblin::elf::section_header::SHT_SYMTAB_SHNDX));
        assert_eq!(elf.syms.get(1).unwrap().st_shndx, n);
        let file = object::File::parse(&*bytes).unwrap();
        assert_eq!(file.sections().count(), count - 1);
    }
}

#[test]
fn dwarf_is_carried_as_unallocated_sections() {
    let names = names(1);
    let sections = text_sections(&names);
    let dwarf = [
        crate::link::DwarfSection {
            name: ".debug_info".into(),
            data: vec![1, 2, 3, 4, 5],
        },
        crate::link::DwarfSection {
            name: ".debug_line".into(),
            data: vec![9; 17],
        },
    ];
    // A NUL ends a name early, as it would in any ELF string table.
    let symbols = [DebugSymbol {
        name: "f\0junk",
        addr: sections[0].addr,
        size: 16,
        is_function: true,
    }];
    let image = ModuleImage {
        name: "m",
        arch: Arch::Riscv64,
        sections: &sections,
        symbols: &symbols,
        dwarf: &dwarf,
    };
    let bytes = build(&image).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    assert_eq!(file.architecture(), object::Architecture::Riscv64);
    for d in &dwarf {
        let s = file.section_by_name(&d.name).unwrap();
        assert_eq!(s.address(), 0);
        assert_eq!(s.data().unwrap(), d.data.as_slice());
    }
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    for i in [2, 3] {
        let h = &elf.section_headers[i];
        assert_eq!(h.sh_type, goblin::elf::section_header::SHT_PROGBITS);
        assert_eq!(h.sh_flags, 0);
    }
    let text = &elf.section_headers[1];
    assert_eq!(text.sh_type, goblin::elf::section_header::SHT_NOBITS);
    assert_eq!(
        text.sh_flags,
        u64::from(
            goblin::elf::section_header::SHF_ALLOC | goblin::elf::section_header::SHF_EXECINSTR
        )
    );
    let names: Vec<&str> = file.symbols().map(|s| s.name().unwrap()).collect();
    assert_eq!(names, ["f"]);
}
