//! The hasher of symbol names: rustc-hash's `FxHasher`.
//!
//! Linking hashes every external name a few times, so the hash function
//! shows in profiles. Names come from objects the caller chose to link, so
//! the flooding resistance of the standard hasher buys nothing here, and a
//! fixed (unseeded) hash keeps runs reproducible.
//!
//! rustc-hash 2 replaced a hand-written FxHash (a word at a time, rotate,
//! xor, multiply, no finalization) because it measured faster. On the
//! link's own maps (the 15,001 external names of the bench's 5k object: a
//! winners-map entry and look-up and a symbol-table miss, insert and
//! look-up per name) it took about 0.6 of the old time (medians 5.7-6.4 ms
//! against 9.9-10.3 ms), and hashing alone about a fifth. The old hash
//! ended on a multiply, so the low bits hashbrown takes a bucket from
//! depended on few input bits: 14,617 of those names shared their low 15
//! bits with another, against 3,026 with rustc-hash. `rivet bench --case 5k`
//! (ten alternating runs of 15, at load 5-7 on 2 cores): rivet's median of
//! medians 8.7 ms against 9.4 ms before, best 3.9 against 4.7 ms. foldhash
//! measured the same as rustc-hash within noise; rustc-hash was already in
//! Cargo.lock (bindgen uses it).

use std::collections::HashMap;

/// The hasher of [`NameMap`].
pub type NameHasher = rustc_hash::FxHasher;

/// A map keyed by names (or anything small), hashed with [`NameHasher`].
pub type NameMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

#[cfg(test)]
mod tests;
