#![doc = include_str!("../README.md")]
//!
//! # Crate layout
//!
//! LLVM turns IR into object bytes ([`llvm`], behind the default `llvm`
//! feature); everything after that is rivet's: parsing the object
//! ([`load`]), laying it out and relocating it ([`link`], [`arch`]), placing
//! it in memory it controls ([`memory`]), and answering address look-ups
//! ([`ExecutionEngine`]).

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
