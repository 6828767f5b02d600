//! Making JIT code visible to the rest of the process: the unwinder
//! (`.eh_frame` registration), debuggers (the GDB JIT interface) and
//! profilers (perf map, jitdump).
//!
//! The engine describes each linked module once as a [`ModuleImage`]; each
//! consumer keeps what it needs and is told again when the module goes.

pub mod gdb;
pub mod image;
pub mod lines;
pub mod perf;
mod process_memory;
pub mod symfile;
pub mod unwind;

use crate::link::DwarfSection;
use crate::load::Arch;

pub use lines::{LineTable, SourceLocation};

/// A linked module as debuggers and profilers see it: where its sections
/// and functions are at run time.
#[derive(Debug, Clone, Copy)]
pub struct ModuleImage<'a> {
    /// The module's name (IR module identifier or object path).
    pub name: &'a str,
    /// The instruction set of the module's code.
    pub arch: Arch,
    /// The module's placed sections.
    pub sections: &'a [DebugSection<'a>],
    /// The module's symbols, at their run-time addresses.
    pub symbols: &'a [DebugSymbol<'a>],
    /// The module's DWARF, relocated (empty when the object has none or
    /// debug information was not asked for): carried in the debugger's
    /// image, not in memory.
    pub dwarf: &'a [DwarfSection],
}

/// A loaded section at its run-time address.
#[derive(Debug, Clone, Copy)]
pub struct DebugSection<'a> {
    /// The section's name.
    pub name: &'a str,
    /// Run-time address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Whether it holds code.
    pub executable: bool,
    /// Whether it is writable data.
    pub writable: bool,
}

/// A defined symbol at its run-time address. Sizes are exact where the
/// object gives them and otherwise run to the next symbol or section end.
#[derive(Debug, Clone, Copy)]
pub struct DebugSymbol<'a> {
    /// The symbol's name.
    pub name: &'a str,
    /// Run-time address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Whether it names a function (else data).
    pub is_function: bool,
}
