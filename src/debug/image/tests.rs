use super::*;

fn map() -> LinkMap {
    LinkMap {
        sections: vec![
            (".text".into(), 0x1000, 0x40, 16, SegmentClass::Text),
            (".rodata".into(), 0x2000, 0x10, 8, SegmentClass::ReadOnly),
            (".bss".into(), 0x3000, 0x8, 8, SegmentClass::Data),
            (".empty".into(), 0x4000, 0, 1, SegmentClass::ReadOnly),
        ],
        symbols: [
            ("g", 0x1020),
            ("f", 0x1000),
            ("f_alias", 0x1000),
            ("k", 0x2008),
            ("v", 0x3000),
            ("file.c", 0),
            ("at_empty", 0x4000),
        ]
        .into_iter()
        .map(|(n, a)| (n.to_string(), a))
        .collect(),
        got: Vec::new(),
        stubs: Vec::new(),
        dwarf: Vec::new(),
    }
}

#[test]
fn sizes_run_to_the_next_symbol_or_section_end() {
    let map = map();
    let parts = ImageParts::from_link_map(&map);
    let got: Vec<(&str, u64, u64, bool)> = parts
        .symbols
        .iter()
        .map(|s| (s.name, s.addr, s.size, s.is_function))
        .collect();
    assert_eq!(
        got,
        vec![
            ("g", 0x1020, 0x20, true),
            ("f", 0x1000, 0x20, true),
            ("f_alias", 0x1000, 0x20, true),
            ("k", 0x2008, 0x8, false),
            ("v", 0x3000, 0x8, false),
        ]
    );
    let flags: Vec<(&str, bool, bool)> = parts
        .sections
        .iter()
        .map(|s| (s.name, s.executable, s.writable))
        .collect();
    assert_eq!(
        flags,
        vec![
            (".text", true, false),
            (".rodata", false, false),
            (".bss", false, true),
            (".empty", false, false),
        ]
    );
}
