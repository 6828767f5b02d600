//! Arbitrary bytes (and placements) through the image memory manager.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rivet_fuzz::image(data));
