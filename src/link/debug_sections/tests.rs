use super::*;
use crate::arch::Arch;
use crate::arch::{x86_64, RelocKind};
use crate::load::{Binding, Definition, Format, Symbol, SymbolKind};
use x86_64::Reloc as X;

fn section<'a>(name: &'a str, kind: SectionKind, data: &'a [u8]) -> Section<'a> {
    Section {
        name,
        segment: "",
        kind,
        data,
        size: data.len() as u64,
        align: 1,
        relocations: Default::default(),
        comdat: None,
    }
}

fn reloc(offset: u64, kind: X, target: Target, addend: i64) -> Relocation {
    Relocation {
        offset,
        kind: RelocKind::X86_64(kind),
        target,
        addend,
        subtrahend: None,
    }
}

/// `.text` (loaded), `.debug_str`, `.debug_info` and `.debug_line`
/// (debug), and an external symbol `g`.
fn object<'a>(info: &'a [u8], line: &'a [u8]) -> ObjectFile<'a> {
    let mut sections = vec![
        Section::placeholder(),
        section(".text", SectionKind::Text, &[0xc3; 16]),
        section(".debug_str", SectionKind::Debug, b"f\0x\0"),
        section(".debug_info", SectionKind::Debug, info),
        section(".debug_line", SectionKind::Debug, line),
    ];
    sections[3].relocations = vec![
        // DW_AT_name: an offset into .debug_str.
        reloc(0, X::Abs32, Target::Section(2), 2),
        // DW_AT_low_pc: the address of .text + 4.
        reloc(4, X::Abs64, Target::Section(1), 4),
        // DW_OP_addr of a global defined elsewhere.
        reloc(12, X::Abs64, Target::Symbol(0), 8),
    ]
    .into();
    ObjectFile {
        name: "m.o".into(),
        format: Format::Elf,
        arch: Arch::X86_64,
        sections,
        symbols: vec![Symbol {
            name: "g",
            binding: Binding::Global,
            kind: SymbolKind::Data,
            definition: Definition::Undefined,
            size: 0,
        }],
    }
}

#[test]
fn offsets_stay_offsets_and_addresses_become_run_time_ones() {
    let info = [0xaa; 20];
    let line = [0x11; 4];
    let object = object(&info, &line);
    let targets = [0, 0x7f00_1000_0000, 0, 0, 0];
    let symbols = [0x5555_0000_1000];
    let dwarf = relocate(&object, &targets, &symbols);
    let names: Vec<&str> = dwarf.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, [".debug_str", ".debug_info", ".debug_line"]);
    assert_eq!(dwarf[0].data, b"f\0x\0");
    let info = &dwarf[1].data;
    assert_eq!(u32::from_le_bytes(info[0..4].try_into().unwrap()), 2);
    assert_eq!(
        u64::from_le_bytes(info[4..12].try_into().unwrap()),
        0x7f00_1000_0004
    );
    assert_eq!(
        u64::from_le_bytes(info[12..20].try_into().unwrap()),
        0x5555_0000_1008
    );
    assert_eq!(dwarf[2].data, line, "no fixups: copied as is");
    // The object's bytes are untouched: the copy is what is patched.
    assert!(object.sections[3].data.iter().all(|&b| b == 0xaa));
}

#[test]
fn a_section_that_cannot_be_relocated_is_left_out_alone() {
    let info = [0; 20];
    let line = [0; 4];
    let mut object = object(&info, &line);
    // An address in a 32-bit field: out of range at run time.
    object.sections[4].relocations = vec![reloc(0, X::Abs32, Target::Section(1), 0)].into();
    let targets = [0, 0x7f00_1000_0000, 0, 0, 0];
    let err = relocate_section(&object, &object.sections[4], &targets, &[0x1000]).unwrap_err();
    assert!(
        matches!(&err, Error::BadRelocation { site, .. } if site.section == ".debug_line"),
        "{err}"
    );
    let names: Vec<String> = relocate(&object, &targets, &[0x1000])
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, [".debug_str", ".debug_info"]);

    // A PC-relative fixup, one past the end, one naming a missing symbol.
    for bad in [
        reloc(0, X::Pc32, Target::Section(1), 0),
        reloc(2, X::Abs32, Target::Section(2), 0),
        reloc(0, X::Abs32, Target::Symbol(9), 0),
    ] {
        object.sections[4].relocations = vec![bad].into();
        let err = relocate_section(&object, &object.sections[4], &targets, &[0x1000]).unwrap_err();
        assert!(matches!(err, Error::BadRelocation { .. }), "{err}");
    }
}
