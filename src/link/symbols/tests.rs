use super::{Export, Exports, StoredExport, Strength, SymbolTable, MAX_COMMON_SIZE};
use crate::load::SymbolKind;
use crate::Error;

fn export(module: u64, address: u64) -> Export {
    Export {
        address,
        module,
        strength: Strength::Strong,
        kind: SymbolKind::Function,
    }
}

fn exports(module: u64, names: &[(&str, u64)]) -> Exports {
    let bytes = names.iter().map(|(n, _)| n.len()).sum();
    let mut exports = Exports::with_capacity(names.len(), bytes).unwrap();
    for &(name, address) in names {
        exports.push(name, export(module, address)).unwrap();
    }
    exports
}

fn address(table: &SymbolTable, name: &str) -> Option<u64> {
    table.get(name).map(|e| e.address)
}

#[test]
fn a_module_s_names_are_found_and_leave_with_it() {
    let mut table = SymbolTable::default();
    table.insert_module(1, "m", exports(1, &[("f", 0x10), ("g", 0x20), ("", 0x30)]));
    table.insert_module(2, "m", exports(2, &[("h", 0x40)]));
    assert_eq!(table.len(), 4);
    assert_eq!(address(&table, "f"), Some(0x10));
    assert_eq!(address(&table, "g"), Some(0x20));
    assert_eq!(address(&table, ""), Some(0x30));
    assert_eq!(address(&table, "fg"), None);
    table.remove_module(1);
    assert_eq!(table.len(), 1);
    assert_eq!(address(&table, "f"), None);
    assert_eq!(address(&table, "h"), Some(0x40));
    let mut names: Vec<&str> = table.iter().map(|(n, _)| n).collect();
    names.sort_unstable();
    assert_eq!(names, ["h"]);
}

#[test]
fn a_redefinition_outlives_the_module_it_replaced_and_goes_with_its_own() {
    let mut table = SymbolTable::default();
    table.insert_module(1, "m", exports(1, &[("f", 0x10), ("g", 0x20)]));
    table.insert_module(2, "m", exports(2, &[("f", 0x99)]));
    assert_eq!(
        table.get("f").map(|e| (e.module, e.address)),
        Some((2, 0x99))
    );
    table.remove_module(1);
    assert_eq!(
        table.get("f").map(|e| (e.module, e.address)),
        Some((2, 0x99))
    );
    assert_eq!(address(&table, "g"), None);
    table.remove_module(2);
    assert!(table.is_empty());
}

#[test]
fn freed_name_blocks_are_reused_and_names_never_mix() {
    let mut table = SymbolTable::default();
    for round in 0..50u64 {
        let module = 100 + round;
        let name = format!("function_{round}");
        table.insert_module(module, "m", exports(module, &[(&name, round)]));
        assert_eq!(address(&table, &name), Some(round));
        if round > 0 {
            let previous = format!("function_{}", round - 1);
            table.remove_module(module - 1);
            assert_eq!(address(&table, &previous), None);
        }
        assert_eq!(table.len(), 1);
    }
    assert!(
        table.blocks.len() <= 2,
        "{} blocks for one live module",
        table.blocks.len()
    );
}

#[test]
fn single_names_and_a_module_s_names_share_the_module_and_go_together() {
    let mut table = SymbolTable::default();
    table.insert("import", export(7, 0x1)).unwrap();
    table.insert("import", export(7, 0x2)).unwrap();
    table.insert_module(7, "m", exports(7, &[("f", 0x3)]));
    table.insert("other", export(8, 0x4)).unwrap();
    assert_eq!(address(&table, "import"), Some(0x2));
    assert_eq!(table.len(), 3);
    table.remove_module(7);
    assert_eq!(table.len(), 1);
    assert_eq!(address(&table, "other"), Some(0x4));
}

#[test]
fn an_indirect_function_s_export_is_rebound_by_name() {
    let mut list = exports(1, &[("a", 1), ("ab", 2), ("b", 3)]);
    list.set_address("ab", 0x77);
    let got: Vec<(&str, u64)> = list.iter().map(|(n, e)| (n, e.address)).collect();
    assert_eq!(got, [("a", 1), ("ab", 0x77), ("b", 3)]);
}

#[test]
fn a_module_s_name_rides_with_its_names_and_is_never_one_of_them() {
    let mut table = SymbolTable::default();
    table.insert_module(3, "three.o", exports(3, &[("f", 0x10), ("g", 0x20)]));
    // Names added later to the same module land before the module's name.
    table.insert("h", export(3, 0x30)).unwrap();
    {
        let block = &mut table.blocks[0].exports;
        block.push("late", export(3, 0x40)).unwrap();
        assert_eq!(block.module_name(), "three.o");
        let names: Vec<&str> = block.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["f", "g", "h", "late"]);
    }
    assert_eq!(table.module_name(3), "three.o");
    assert_eq!(table.module_name(4), "<unknown module>");
    assert_eq!(address(&table, "h"), Some(0x30));
    assert_eq!(address(&table, "gthree.o"), None);
    assert_eq!(address(&table, "three.o"), None);
    table.insert_module(4, "four.o", exports(4, &[]));
    assert_eq!(table.module_name(4), "four.o");
    table.remove_module(3);
    assert_eq!(table.module_name(3), "<unknown module>");
}

#[test]
fn a_stored_definition_gives_back_every_kind_and_strength() {
    let kinds = [
        SymbolKind::Function,
        SymbolKind::IndirectFunction,
        SymbolKind::Data,
        SymbolKind::Section,
        SymbolKind::Other,
    ];
    let strengths = [
        Strength::Strong,
        Strength::Weak,
        Strength::Common { size: 0 },
        Strength::Common { size: 24 },
        Strength::Common {
            size: MAX_COMMON_SIZE,
        },
    ];
    for kind in kinds {
        for strength in strengths {
            let export = Export {
                address: u64::MAX - 7,
                module: 42,
                strength,
                kind,
            };
            let stored = StoredExport::pack(&export).unwrap();
            assert_eq!(stored.unpack(42), export);
        }
    }
    let too_big = Export {
        address: 0,
        module: 1,
        strength: Strength::Common {
            size: MAX_COMMON_SIZE + 1,
        },
        kind: SymbolKind::Data,
    };
    assert!(matches!(
        StoredExport::pack(&too_big),
        Err(Error::OutOfMemory { .. })
    ));
    // Through a table: the module comes from the block.
    let mut table = SymbolTable::default();
    table.insert_module(9, "nine.o", exports(9, &[("c", 0x90)]));
    assert_eq!(table.get("c").map(|e| e.module), Some(9));
}
