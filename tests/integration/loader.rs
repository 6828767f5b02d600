//! rivet's loader against an independent parser (goblin): both must agree
//! on the symbols and relocations of every object the tests link.

use crate::common::*;
use goblin::elf::Elf;
use rivet::llvm::{CodeModel, RelocModel};
use rivet::load::{Binding, Definition, ObjectFile, Target};

fn objects() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for reloc in [RelocModel::Pic, RelocModel::Static] {
        for cm in [CodeModel::Small, CodeModel::Medium, CodeModel::Large] {
            let mut m = module(crate::programs::PROGRAM, "program");
            let bytes = machine(reloc, cm).emit_object(&mut m).unwrap();
            out.push((format!("{reloc:?}/{cm:?}"), bytes));
        }
    }
    let asm = include_str!("../../fixtures/x86_64-every-reloc.s");
    out.push((
        "every-reloc".into(),
        machine(RelocModel::Pic, CodeModel::Small)
            .assemble(asm)
            .unwrap(),
    ));
    out
}

#[test]
fn symbols_and_relocations_agree_with_goblin() {
    for (what, bytes) in objects() {
        let ours = ObjectFile::parse(&bytes, &what).unwrap();
        let theirs = Elf::parse(&bytes).unwrap();
        assert_eq!(
            ours.symbols.len(),
            theirs.syms.len(),
            "{what}: symbol count"
        );
        for (i, sym) in theirs.syms.iter().enumerate() {
            let mine = &ours.symbols[i];
            let name = theirs.strtab.get_at(sym.st_name).unwrap_or("");
            assert_eq!(mine.name, name, "{what}: symbol {i}");
            let binding = match sym.st_bind() {
                goblin::elf::sym::STB_LOCAL => Binding::Local,
                goblin::elf::sym::STB_WEAK => Binding::Weak,
                _ => Binding::Global,
            };
            assert_eq!(mine.binding, binding, "{what}: {name}");
            match mine.definition {
                Definition::Undefined => assert_eq!(sym.st_shndx, 0, "{what}: {name}"),
                Definition::Section { section, offset } => {
                    assert_eq!(section as usize, sym.st_shndx, "{what}: {name}");
                    assert_eq!(offset, sym.st_value, "{what}: {name}");
                }
                Definition::Common { size, .. } => assert_eq!(size, sym.st_size),
                Definition::Absolute(v) => assert_eq!(v, sym.st_value),
            }
        }
        let mut compared = 0;
        for (target_index, relocs) in &theirs.shdr_relocs {
            let applies_to = theirs.section_headers[*target_index].sh_info as usize;
            let section = &ours.sections[applies_to];
            if !section.kind.is_loaded() {
                assert!(section.relocations.is_empty());
                continue;
            }
            let theirs: Vec<_> = relocs.iter().filter(|r| r.r_type != 0).collect();
            assert_eq!(
                section.relocations.len(),
                theirs.len(),
                "{what}: {}",
                section.name
            );
            for (mine, r) in section.relocations.iter().zip(theirs) {
                assert_eq!(mine.offset, r.r_offset, "{what}");
                assert_eq!(mine.addend, r.r_addend.unwrap_or(0), "{what}");
                let sym = &ours.symbols[r.r_sym];
                match mine.target {
                    Target::Symbol(s) => assert_eq!(s as usize, r.r_sym),
                    Target::Section(s) => match sym.definition {
                        Definition::Section { section, .. } => assert_eq!(s, section),
                        _ => panic!("{what}: section target without a section symbol"),
                    },
                }
                compared += 1;
            }
        }
        assert!(compared > 0, "{what}: no relocations compared");
    }
}
