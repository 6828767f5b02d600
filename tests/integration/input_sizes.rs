//! Sizes, alignments and symbol values that come from an object are
//! untrusted: crafted objects (assembled, then with one header field
//! patched) must end in a typed error naming the thing, in the image
//! manager (which `rivet check` links into) and in the loader, and leave
//! them usable.

use rivet::link::{Externals, LinkOptions, LinkUnit, LinkedModule, SymbolTable};
use rivet::load::{Definition, ObjectFile};
use rivet::memory::{Image, ImageConfig, MemoryManager, ModuleLayout, SegmentClass};
use rivet::Error;

use crate::common::{assemble_x86_64 as assemble, HUGE_ZERO_FILL, SMALL};

fn u16_at(bytes: &[u8], at: usize) -> usize {
    u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()) as usize
}

fn u32_at(bytes: &[u8], at: usize) -> usize {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn c_string(bytes: &[u8], at: usize) -> &str {
    let end = bytes[at..].iter().position(|&b| b == 0).unwrap() + at;
    std::str::from_utf8(&bytes[at..end]).unwrap()
}

/// ELF64 section headers: (name, offset of the header in the file).
fn elf_section_headers(bytes: &[u8]) -> Vec<(String, usize)> {
    let shoff = u64_at(bytes, 0x28) as usize;
    let count = u16_at(bytes, 0x3c);
    let names = u64_at(bytes, shoff + u16_at(bytes, 0x3e) * 64 + 24) as usize;
    (0..count)
        .map(|i| {
            let header = shoff + i * 64;
            (
                c_string(bytes, names + u32_at(bytes, header)).to_string(),
                header,
            )
        })
        .collect()
}

/// Sets the alignment (`sh_addralign`) of ELF section `name`.
fn set_section_align(bytes: &mut [u8], name: &str, align: u64) {
    let (_, header) = elf_section_headers(bytes)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no section {name}"));
    bytes[header + 48..header + 56].copy_from_slice(&align.to_le_bytes());
}

/// Sets the value (`st_value`) of ELF symbol `name`.
fn set_symbol_value(bytes: &mut [u8], name: &str, value: u64) {
    let headers = elf_section_headers(bytes);
    let (_, symtab) = headers.iter().find(|(n, _)| n == ".symtab").unwrap();
    let (_, strtab) = headers.iter().find(|(n, _)| n == ".strtab").unwrap();
    let (start, size) = (u64_at(bytes, symtab + 24), u64_at(bytes, symtab + 32));
    let strings = u64_at(bytes, strtab + 24) as usize;
    for entry in (start..start + size).step_by(24).map(|at| at as usize) {
        if c_string(bytes, strings + u32_at(bytes, entry)) == name {
            bytes[entry + 8..entry + 16].copy_from_slice(&value.to_le_bytes());
            return;
        }
    }
    panic!("no symbol {name}");
}

/// Links one object into `memory` with nothing external.
fn link_into(bytes: &[u8], memory: &mut dyn MemoryManager) -> rivet::Result<Vec<LinkedModule>> {
    let object = ObjectFile::parse(bytes, "crafted.o")?;
    rivet::link::link(
        &[LinkUnit {
            module: 1,
            key: rivet::link::next_module_key(),
            object: &object,
        }],
        &SymbolTable::default(),
        &Externals::default(),
        memory,
        LinkOptions::default(),
    )
}

fn expect_out_of_memory(result: rivet::Result<Vec<LinkedModule>>, what: &str) {
    match result {
        Err(Error::OutOfMemory { reason, .. }) => {
            assert!(reason.contains(what), "{what} not named in: {reason}")
        }
        Err(other) => panic!("expected out of memory naming {what}, got {other}"),
        Ok(_) => panic!("expected out of memory naming {what}, linked"),
    }
}

/// The image manager refuses 16 TiB of zero-fill and a 1 TiB alignment
/// with an error (before: `memory allocation failed`, an abort), and links
/// the next object as if nothing happened.
#[test]
fn the_image_refuses_untrusted_sizes_and_stays_usable() {
    let mut image = Image::new(ImageConfig::default());
    expect_out_of_memory(
        link_into(&assemble(HUGE_ZERO_FILL), &mut image),
        "data segment",
    );
    let mut aligned = assemble(SMALL);
    set_section_align(&mut aligned, ".text.g", 1 << 40);
    expect_out_of_memory(link_into(&aligned, &mut image), "text segment");
    assert_eq!(image.stats().allocations, 0, "nothing stays allocated");

    let linked = link_into(&assemble(SMALL), &mut image).expect("a sound object links");
    let f = linked[0]
        .exports
        .iter()
        .find(|(name, _)| &**name == "f")
        .map(|(_, export)| export.address)
        .unwrap();
    assert_eq!(image.read(f, 1), Some(&[0xC3][..]), "ret at f");
}

/// An ELF symbol whose value is past its section's end is refused when
/// the object is loaded, naming symbol, section and object (before: it was
/// exported as is); one exactly at the end is fine.
#[test]
fn elf_symbols_past_their_section_are_refused() {
    let sound = assemble(SMALL);
    let object = ObjectFile::parse(&sound, "sound.o").unwrap();
    let text_size = object
        .sections
        .iter()
        .find(|s| s.name == ".text")
        .unwrap()
        .size;
    assert_eq!(text_size, 1, "one ret");

    let mut at_end = sound.clone();
    set_symbol_value(&mut at_end, "f", text_size);
    let object = ObjectFile::parse(&at_end, "at-end.o").expect("a symbol at the end is fine");
    let f = object.symbols.iter().find(|s| s.name == "f").unwrap();
    assert!(matches!(
        f.definition,
        Definition::Section { offset: 1, .. }
    ));

    for value in [text_size + 1, 0x1000, u64::MAX] {
        let mut past = sound.clone();
        set_symbol_value(&mut past, "f", value);
        match ObjectFile::parse(&past, "past.o") {
            Err(Error::SymbolOutsideSection {
                object,
                symbol,
                section,
                offset,
                size,
            }) => {
                assert_eq!(
                    (object.as_str(), symbol.as_str(), section.as_str()),
                    ("past.o", "f", ".text")
                );
                assert_eq!((offset, size), (value, text_size));
            }
            other => panic!("value {value:#x}: expected SymbolOutsideSection, got {other:?}"),
        }
    }

    // Through the engine: refused when added, and the engine goes on.
    let mut past = sound.clone();
    set_symbol_value(&mut past, "d", 0x10_0000);
    let engine = rivet::ExecutionEngine::with_lmm(Some(true)).unwrap();
    let err = engine.add_object_bytes(past, "past.o").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`d`") && message.contains("`.data`") && message.contains("past.o"),
        "{message}"
    );
    engine.add_object_bytes(sound, "sound.o").unwrap();
    engine.finalize_object().unwrap();
    assert_ne!(engine.get_function_address("f").unwrap(), 0);
}

/// The managers that run code refuse the same inputs through the engine
/// (the arena: larger than a region; the per-section manager: the system
/// refuses the mapping), and the engine links the next object.
#[test]
fn the_engine_refuses_untrusted_sizes_in_both_managers() {
    let mut aligned = assemble(SMALL);
    set_section_align(&mut aligned, ".text.g", 1 << 40);
    for lmm in [true, false] {
        let engine = rivet::ExecutionEngine::with_lmm(Some(lmm)).unwrap();
        for (name, bytes) in [
            ("zero-fill.o", assemble(HUGE_ZERO_FILL)),
            ("aligned.o", aligned.clone()),
        ] {
            let id = engine.add_object_bytes(bytes, name).unwrap();
            let error = engine.finalize_object().unwrap_err();
            assert!(
                matches!(error, Error::OutOfMemory { .. } | Error::Memory { .. }),
                "lmm {lmm}, {name}: {error}"
            );
            engine.remove_module(id).unwrap();
        }
        engine.add_object_bytes(assemble(SMALL), "sound.o").unwrap();
        engine.finalize_object().unwrap();
        let f = engine.get_function_address("f").unwrap();
        // SAFETY: `f` is a finalized `void ()` that only returns.
        unsafe { crate::common::call0::<()>(f) };
    }
}

/// The image calls an alignment that is not a power of two and a segment
/// pinned at an address that is not aligned as it needs (`rivet check
/// --map-section`) the same thing: an invalid-input memory error naming
/// the segment, with nothing left allocated.
#[test]
fn the_image_calls_every_bad_alignment_an_invalid_input() {
    let mut layout = ModuleLayout::default();
    layout.get_mut(SegmentClass::ReadOnly).size = 8;
    layout.get_mut(SegmentClass::ReadOnly).align = 24;
    let mut misaligned = layout;
    misaligned.get_mut(SegmentClass::ReadOnly).align = 8;
    let mut plain = Image::new(ImageConfig::default());
    let mut pinned = Image::new(ImageConfig {
        pinned: [((0, SegmentClass::ReadOnly), 0x4004)]
            .into_iter()
            .collect(),
        ..ImageConfig::default()
    });
    for (case, result, number) in [
        ("bad alignment", plain.allocate(&layout), "24"),
        ("misaligned pin", pinned.allocate(&misaligned), "0x4004"),
    ] {
        match result {
            Err(Error::Memory { op, source }) => {
                assert_eq!(op, "allocate", "{case}");
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput, "{case}");
                let message = source.to_string();
                assert!(
                    message.contains(number) && message.contains("rodata"),
                    "{case}: {message}"
                );
            }
            other => panic!("{case}: expected an invalid-input error, got {other:?}"),
        }
    }
    assert_eq!(plain.stats().allocations, 0);
    assert_eq!(pinned.stats().allocations, 0);
}
