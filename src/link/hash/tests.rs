use super::*;
use std::hash::BuildHasher;

#[test]
fn distinct_names_hash_apart_and_equal_names_alike() {
    let b = rustc_hash::FxBuildHasher;
    let names: Vec<String> = (0..20_000).map(|i| format!("f{i}")).collect();
    let mut hashes: Vec<u64> = names.iter().map(|n| b.hash_one(n.as_str())).collect();
    assert_eq!(b.hash_one("f17"), b.hash_one(String::from("f17").as_str()));
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(
        hashes.len(),
        names.len(),
        "no collisions among 20,000 names"
    );
    // Names differing only in trailing NULs still differ.
    assert_ne!(b.hash_one("a"), b.hash_one("a\0"));
}

#[test]
fn the_bucket_bits_spread_over_the_names_of_a_link() {
    // hashbrown picks a bucket from the low bits: names that share them
    // probe longer. 15,000 names in 2^15 buckets leave about 3,000 sharing
    // by chance (the hand-written FxHash before it left 14,617).
    let names: Vec<String> = (0..5000)
        .flat_map(|i| [format!("f{i}"), format!("g{i}"), format!("w{i}")])
        .collect();
    let b = rustc_hash::FxBuildHasher;
    let mut low: Vec<u64> = names
        .iter()
        .map(|n| b.hash_one(n.as_str()) & 0x7fff)
        .collect();
    low.sort_unstable();
    low.dedup();
    let sharing = names.len() - low.len();
    assert!(sharing < 4000, "{sharing} names share their bucket bits");
}

#[test]
fn a_name_map_finds_what_it_holds() {
    let mut map: NameMap<&str, usize> = NameMap::default();
    for (i, name) in ["f", "g", "printf", ""].into_iter().enumerate() {
        map.insert(name, i);
    }
    assert_eq!(map.get("printf"), Some(&2));
    assert_eq!(map.get(""), Some(&3));
    assert_eq!(map.get("h"), None);
}
