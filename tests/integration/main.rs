//! rivet's integration tests: one binary, one module per area.

mod aarch64;
mod coff;
mod coff_aarch64;
mod common;
mod debuggers;
mod engine_api;
mod fuzz_regressions;
mod ifunc;
mod input_sizes;
mod libraries;
mod llvmlite_parity;
mod loader;
mod macho;
mod memory;
mod memory_protection;
mod memory_return;
mod programs;
mod relocations;
mod riscv64;
mod runtime;
mod section_bounds;
mod soak;
mod symbols;
mod targets;
mod tls;
mod unloading;
