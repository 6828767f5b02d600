//! Target machines, object emission and target data.

use super::Module;
use crate::Result;

pub(crate) fn initialize() {
    todo!()
}

pub(crate) fn host_triple() -> String {
    todo!()
}

/// Relocation model of emitted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelocModel {
    /// Position-independent code: rivet's default.
    #[default]
    Pic,
    /// Static (absolute) code.
    Static,
    /// LLVM's default for the target.
    Default,
}

/// Code model of emitted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeModel {
    /// Code and data within 2 GiB of each other: rivet's default, since the arena keeps them close.
    #[default]
    Small,
    Medium,
    /// What llvmlite's `jitdefault` chooses on 64-bit: any distance.
    Large,
    /// LLVM's JIT default for the target.
    JitDefault,
}

/// Code generation optimization level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    None,
    Less,
    #[default]
    Default,
    Aggressive,
}

/// How to build a [`TargetMachine`]. Every field has a host default.
#[derive(Debug, Clone, Default)]
pub struct TargetOptions {
    /// Target triple; `None` is the host's.
    pub triple: Option<String>,
    /// CPU name; `None` is the host CPU when the triple is the host's, else "generic".
    pub cpu: Option<String>,
    /// Feature string (`+avx2,-sse4a`); `None` is the host's when the triple is the host's, else "".
    pub features: Option<String>,
    pub opt_level: OptLevel,
    pub reloc: RelocModel,
    pub code_model: CodeModel,
}

/// An LLVM target machine. `Send`; not `Sync` (LLVM does not promise that two
/// threads may emit with one machine at once).
pub struct TargetMachine {}

impl TargetMachine {
    /// A machine for the host with rivet's defaults (PIC, small code model).
    pub fn host() -> Result<TargetMachine> {
        todo!()
    }

    /// A machine built from `options`.
    pub fn new(options: &TargetOptions) -> Result<TargetMachine> {
        let _ = options;
        todo!()
    }

    /// The triple this machine emits for.
    pub fn triple(&self) -> &str {
        todo!()
    }

    /// The options this machine was built from, with defaults filled in.
    pub fn options(&self) -> &TargetOptions {
        todo!()
    }

    /// This machine's data layout.
    pub fn target_data(&self) -> TargetData {
        todo!()
    }

    /// Compiles `module` to a relocatable object. A module with no triple or
    /// data layout gets this machine's first. Code generation may change the
    /// module (as with llvmlite's `emit_object`).
    pub fn emit_object(&self, module: &mut Module) -> Result<Vec<u8>> {
        let _ = module;
        todo!()
    }

    /// Assembles `asm` (assembly text for this machine's triple) into a
    /// relocatable object in-process, with no external assembler.
    pub fn assemble(&self, asm: &str) -> Result<Vec<u8>> {
        let _ = asm;
        todo!()
    }

    /// Runs LLVM's optimization pipeline `passes` (e.g. `default<O2>`) over `module`.
    pub fn optimize(&self, module: &mut Module, passes: &str) -> Result<()> {
        let _ = (module, passes);
        todo!()
    }
}

/// Sizes and alignments of types under one data layout, as llvmlite's
/// `target_data` offers. Types are written as IR type text (`i64`,
/// `{ i32, double }`, `[4 x float]`, `ptr`).
pub struct TargetData {}

impl TargetData {
    /// Target data for a data-layout string.
    pub fn from_layout(layout: &str) -> Result<TargetData> {
        let _ = layout;
        todo!()
    }

    /// The data-layout string.
    pub fn layout(&self) -> &str {
        todo!()
    }

    /// Pointer size in bytes (address space 0).
    pub fn pointer_size(&self) -> u64 {
        todo!()
    }

    /// Whether the layout is little-endian.
    pub fn is_little_endian(&self) -> bool {
        todo!()
    }

    /// ABI size in bytes of the type written as IR text.
    pub fn abi_size(&self, ty: &str) -> Result<u64> {
        let _ = ty;
        todo!()
    }

    /// ABI alignment in bytes of the type written as IR text.
    pub fn abi_alignment(&self, ty: &str) -> Result<u64> {
        let _ = ty;
        todo!()
    }

    /// Byte offset of field `index` of the struct type written as IR text.
    pub fn element_offset(&self, ty: &str, index: u32) -> Result<u64> {
        let _ = (ty, index);
        todo!()
    }
}
