use super::*;

#[test]
fn median_and_minimum() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert_eq!(median(&[]), 0.0);
    assert_eq!(minimum(&[3.0, 1.5, 2.0]), 1.5);
    assert_eq!(median_i64(&[-5, 7, 1]), 1);
}

#[test]
fn committed_counts_accessible_anonymous_mappings_only() {
    let maps = "\
00400000-00401000 r-xp 00000000 08:01 1234 /usr/bin/x
01000000-01021000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000010000 rw-p 00000000 00:00 0
7f0000010000-7f0000020000 ---p 00000000 00:00 0
7f0000020000-7f0000021000 r-xp 00000000 00:00 0
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
";
    let (mappings, committed) = count_maps(maps);
    assert_eq!(mappings, 6);
    assert_eq!(committed, 0x21000 + 0x10000 + 0x1000);
}

#[test]
fn snapshot_reads_this_process() {
    let snap = snapshot();
    assert!(snap.rss > 0 && snap.peak_rss >= snap.rss && snap.mappings > 0);
}
