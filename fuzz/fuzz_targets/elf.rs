//! Arbitrary bytes through rivet's ELF loader and the linker.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rivet_fuzz::{run, Format};

fuzz_target!(|data: &[u8]| run(Format::Elf, data));
