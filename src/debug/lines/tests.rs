use super::*;

fn table() -> LineTable {
    let row = |addr, file, line| Row {
        addr,
        file,
        line,
        column: 0,
    };
    LineTable {
        files: vec!["./a.c".into(), "./b.h".into()],
        rows: vec![
            row(0x1000, 0, 3),
            row(0x1008, 0, 4),
            row(0x1010, 1, 9),
            row(0x1020, END, 0),
            row(0x1040, 0, 11),
            row(0x1050, END, 0),
        ],
    }
}

#[test]
fn lookup_finds_the_range_holding_an_address() {
    let t = table();
    let at = |addr| t.lookup(addr).map(|l| format!("{l}"));
    assert_eq!(at(0xfff), None);
    assert_eq!(at(0x1000).as_deref(), Some("./a.c:3"));
    assert_eq!(at(0x100f).as_deref(), Some("./a.c:4"));
    assert_eq!(at(0x1010).as_deref(), Some("./b.h:9"));
    assert_eq!(at(0x1020), None, "between sequences");
    assert_eq!(at(0x1045).as_deref(), Some("./a.c:11"));
    assert_eq!(at(0x1050), None);
    assert_eq!(t.len(), 4);
}

#[test]
fn rows_in_a_range_start_at_its_start() {
    let t = table();
    let lines: Vec<(u64, u32)> = t
        .rows_in(0x100c, 0x1048)
        .map(|r| (r.addr, r.line))
        .collect();
    assert_eq!(lines, vec![(0x100c, 4), (0x1010, 9), (0x1040, 11)]);
    assert_eq!(t.rows_in(0x1020, 0x1040).count(), 0);
    assert_eq!(t.rows_in(0, 0x1000).count(), 0);
}

#[test]
fn no_or_malformed_dwarf_gives_no_table() {
    assert_eq!(LineTable::from_dwarf(&[]), None);
    let junk = |name: &str| DwarfSection {
        name: name.into(),
        data: vec![0xff; 40],
    };
    assert_eq!(
        LineTable::from_dwarf(&[junk(".debug_info"), junk(".debug_line")]),
        None
    );
    // A unit header claiming more bytes than there are.
    let mut info = vec![0x30, 0, 0, 0, 5, 0, 1, 8, 0, 0, 0, 0];
    info.resize(20, 0);
    let short = DwarfSection {
        name: ".debug_info".into(),
        data: info,
    };
    assert_eq!(LineTable::from_dwarf(&[short]), None);
}
