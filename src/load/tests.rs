use super::*;

/// The model's own check, whatever format filled it in: a symbol at its
/// section's end is fine, one past it (or wrapped below it) is an error
/// naming object, symbol and section; a missing section is malformed.
#[test]
fn symbols_must_lie_inside_their_section() {
    let object = |offset: u64, section: u32| ObjectFile {
        name: "model.o".into(),
        format: Format::MachO,
        arch: Arch::X86_64,
        sections: vec![
            Section::placeholder(),
            Section {
                name: "__text",
                segment: "__TEXT",
                kind: SectionKind::Text,
                data: &[0xC3; 4],
                size: 4,
                align: 1,
                relocations: Default::default(),
                comdat: None,
            },
        ],
        symbols: vec![Symbol {
            name: "_f",
            binding: Binding::Global,
            kind: SymbolKind::Function,
            definition: Definition::Section { section, offset },
            size: 0,
        }],
    };
    assert!(object(0, 1).check_symbol_offsets().is_ok());
    assert!(object(4, 1).check_symbol_offsets().is_ok(), "at the end");
    for offset in [5, u64::MAX] {
        match object(offset, 1).check_symbol_offsets() {
            Err(Error::SymbolOutsideSection {
                object,
                symbol,
                section,
                offset: at,
                size,
            }) => {
                assert_eq!((object.as_str(), symbol.as_str()), ("model.o", "_f"));
                assert_eq!((section.as_str(), at, size), ("__text", offset, 4));
            }
            other => panic!("offset {offset}: {other:?}"),
        }
    }
    assert!(matches!(
        object(0, 7).check_symbol_offsets(),
        Err(Error::MalformedObject { .. })
    ));
}
