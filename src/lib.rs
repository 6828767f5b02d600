//! rivet: a JIT object linker and memory manager.
//!
//! # From object bytes to an address
//!
//! 1. **Object bytes.** LLVM turns IR into a relocatable object ([`llvm`],
//!    behind the default `llvm` feature; the only code that calls LLVM), or
//!    the caller brings one ([`ExecutionEngine::add_object_bytes`]).
//! 2. **One model.** [`load::ObjectFile::parse`] reads ELF, Mach-O or COFF
//!    for x86-64, AArch64 or RISC-V 64 into one neutral model: sections,
//!    symbols, and relocations whose kinds ([`arch`]) carry their psABI
//!    names.
//! 3. **Resolve and lay out.** [`link::link`] resolves every symbol (the
//!    module's own, earlier modules', the process's, or the caller's
//!    resolver; a missing or duplicate one is an error naming it), plans
//!    each module's segments by class (text, stubs, GOT, read-only data,
//!    data), with GOT slots and stubs where fixups need them.
//! 4. **Memory.** A [`memory::MemoryManager`] places the segments: the
//!    arena ([`memory::Arena`]: one reservation, pages given back when
//!    modules go), one mapping per section ([`memory::SectionsManager`]),
//!    or a heap image at chosen addresses ([`memory::Image`]).
//! 5. **Relocate.** Each fixup's value is computed by its ISA's pure math
//!    and range-checked before one bounds-checked write; an out-of-range
//!    fixup is an error naming relocation, section and symbol, never a
//!    truncation.
//! 6. **Protect and publish.** Pages become read-execute or read-only
//!    (never writable and executable at once), the instruction cache is
//!    synchronized, unwind tables and debuggers are told, and the module's
//!    exports enter the engine's table.
//! 7. **An address.** [`ExecutionEngine::get_function_address`] answers from
//!    that table, linking a pending module first when the look-up needs it,
//!    as llvmlite's MCJIT engine does.
//!
//! # Where to start
//!
//! - [`ExecutionEngine`] and [`create_mcjit_compiler`]: llvmlite's
//!   execution-engine API, safe to call from any thread, with module
//!   removal that gives memory back ([`UnloadPolicy`], [`CodeGuard`]) and
//!   JIT libraries ([`LibraryBuilder`]).
//! - [`Error`]: every failure, typed, naming the thing.
//! - [`memory::MemoryManager`] and its managers, to control where code lives.
//! - [`load::ObjectFile`] and [`link::link`]: the linker without an engine,
//!   for linking at chosen addresses (the tools crate's `rivet check` does).
//!
//! ```
//! use rivet::llvm::{Module, TargetMachine};
//!
//! let ir = "define i32 @sum(i32 %a, i32 %b) { %r = add i32 %a, %b\n ret i32 %r }";
//! let module = Module::parse_ir(ir, "example")?;
//! let engine = rivet::create_mcjit_compiler(module, TargetMachine::host()?, None)?;
//! let address = engine.get_function_address("sum")?; // compiles and links here
//! // SAFETY: `sum` was just linked with this signature.
//! let sum: extern "C" fn(i32, i32) -> i32 = unsafe { std::mem::transmute(address) };
//! assert_eq!(sum(2, 40), 42);
//! # Ok::<(), rivet::Error>(())
//! ```
//!
//! # Features
//!
//! - `llvm` (default): IR → object bytes through LLVM 22 (`llvm-sys`).
//!   Without it the linker core builds alone (the Python extension, whose
//!   objects come from llvmlite, uses it so).
//! - `emulator`: runs AArch64 and RISC-V 64 code on any host (the
//!   `emulator` module, through unicorn, GPL-2.0, so never a default).

#![deny(missing_docs)]

pub mod arch;
pub mod bridge;
pub mod debug;
#[cfg(feature = "emulator")]
pub mod emulator;
mod error;
pub mod link;
#[cfg(feature = "llvm")]
pub mod llvm;
pub mod load;
pub mod memory;
mod runtime;

pub use error::{Error, RelocationSite, Result};
pub use runtime::static_tls::BUDGET as STATIC_TLS_BUDGET;
pub use runtime::tls::register_thread as register_tls_thread;
mod engine;

pub use engine::{
    check_jit_execution, CodeGuard, ExecutionEngine, LibraryBuilder, LibraryId, LinkedLibrary,
    ModuleId, Removed, UnloadPolicy, DEFAULT_USE_LMM,
};
#[cfg(feature = "llvm")]
pub use engine::{create_mcjit_compiler, GetBufferFn, NotifyFn};
