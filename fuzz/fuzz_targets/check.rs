//! Arbitrary bytes (and placements) through `rivet check`'s linking path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rivet_fuzz::check(data));
