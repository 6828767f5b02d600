//! The only code that calls llvm-sys: IR in, object bytes out.
//!
//! Ownership is kept simple so that no use-after-free or double free can be
//! written from safe Rust: a [`Module`] owns its own LLVM context (LLVM
//! contexts are not thread-safe, and one per module lets a module move to
//! another thread on its own), a [`TargetMachine`] owns its LLVM target
//! machine, and [`TargetData`] owns its layout. Nothing hands out a raw
//! reference that outlives its owner.

pub mod ffi;
mod module;
mod target;

pub use module::Module;
pub use target::{CodeModel, OptLevel, RelocModel, TargetData, TargetMachine, TargetOptions};

/// Registers every target LLVM was built with (once per process).
pub fn initialize() {
    target::initialize();
}

/// The triple of the machine this process runs on, e.g. `x86_64-pc-linux-gnu`.
pub fn host_triple() -> String {
    target::host_triple()
}

#[cfg(test)]
mod tests;
