use super::*;

const SMAPS: &str = "\
00400000-00401000 r-xp 00000000 08:01 1234 /usr/bin/x
Size:                  4 kB
Pss:                   4 kB
01000000-01021000 rw-p 00000000 00:00 0 [heap]
Size:                132 kB
Pss:                 100 kB
7f0000000000-7f0000010000 rw-p 00000000 00:00 0
Size:                 64 kB
Pss:                   8 kB
7f0000010000-7f0000020000 ---p 00000000 00:00 0
Size:                 64 kB
Pss:                   0 kB
7f0000020000-7f0000021000 r-xs 00000000 00:01 77 /memfd:rivet (deleted)
Size:                  4 kB
Pss:                   2 kB
VmFlags: rd ex sh
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
Size:                132 kB
Pss:                  12 kB
";

#[test]
fn smaps_footprint_counts_jit_memory_heap_and_mappings() {
    let f = Footprint::from_smaps(SMAPS);
    assert_eq!(f.mappings, 6);
    assert_eq!(f.reserved, 0x10000 + 0x10000 + 0x1000);
    assert_eq!(f.committed, 0x10000 + 2 * 1024);
    assert_eq!(f.resident, (8 + 2) * 1024);
    assert_eq!(f.heap, 0);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    assert!(Footprint::now().heap > 0);
    assert_eq!(f.since(f), Footprint::default());
}

#[test]
fn figures_round_trip_through_their_line() {
    let f = MemoryFigures {
        modules: 10,
        load_seconds: 0.25,
        remove_seconds: 0.125,
        readd_seconds: 0.5,
        loaded: Footprint {
            mappings: 3,
            reserved: 1 << 28,
            committed: 4096,
            resident: 8192,
            heap: -4096,
        },
        half_removed: Footprint::default(),
        readded: Footprint {
            mappings: -1,
            ..Footprint::default()
        },
        own: Some(OwnStats {
            reserved: 1,
            committed: 2,
            mappings: 3,
            live: 4,
        }),
    };
    assert_eq!(MemoryFigures::from_output(&f.to_line()), Some(f));
    assert_eq!(MemoryFigures::from_output("nothing"), None);
}

#[test]
fn managers_are_named_uniquely() {
    for m in Manager::ALL {
        assert_eq!(Manager::from_name(m.name()), Some(m));
    }
}
