//! A fast hasher for symbol names.
//!
//! Linking hashes every external name a few times, so the hash function
//! shows in profiles. This is the multiply-rotate scheme rustc uses
//! (FxHash): a word at a time, no finalization. Names come from objects the
//! caller chose to link, so the flooding resistance of the standard hasher
//! buys nothing here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes a word at a time with rotate, xor and multiply.
#[derive(Debug, Default, Clone, Copy)]
pub struct NameHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl NameHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A map keyed by names (or anything small), hashed with [`NameHasher`].
pub type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn distinct_names_hash_apart_and_equal_names_alike() {
        let b = BuildHasherDefault::<NameHasher>::default();
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
        // Names differing only in length-padding bytes still differ.
        assert_ne!(b.hash_one("a"), b.hash_one("a\0"));
    }
}
