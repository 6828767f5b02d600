//! Target machines, object emission and target data.

use std::ffi::{c_char, CString};
use std::sync::{Mutex, Once};

use llvm_sys::core::{
    LLVMCountStructElementTypes, LLVMDisposeModule, LLVMGetElementType, LLVMGetFirstGlobal,
    LLVMGetNextGlobal, LLVMGetTypeKind, LLVMGlobalGetValueType, LLVMSetModuleInlineAsm2,
    LLVMSetTarget, LLVMStructGetTypeAtIndex, LLVMTypeIsSized,
};
use llvm_sys::ir_reader::LLVMParseIRInContext2;
use llvm_sys::prelude::{LLVMModuleRef, LLVMTypeRef};
use llvm_sys::target::{
    LLVMABIAlignmentOfType, LLVMABISizeOfType, LLVMByteOrder, LLVMByteOrdering,
    LLVMCopyStringRepOfTargetData, LLVMCreateTargetData, LLVMDisposeTargetData,
    LLVMOffsetOfElement, LLVMPointerSize, LLVMSetModuleDataLayout, LLVMTargetDataRef,
    LLVM_InitializeAllAsmParsers, LLVM_InitializeAllAsmPrinters, LLVM_InitializeAllDisassemblers,
    LLVM_InitializeAllTargetInfos, LLVM_InitializeAllTargetMCs, LLVM_InitializeAllTargets,
};
use llvm_sys::target_machine::{
    LLVMCodeGenFileType, LLVMCodeGenOptLevel, LLVMCodeModel, LLVMCreateTargetDataLayout,
    LLVMCreateTargetMachine, LLVMCreateTargetMachineOptions, LLVMCreateTargetMachineWithOptions,
    LLVMDisposeTargetMachine, LLVMDisposeTargetMachineOptions, LLVMGetDefaultTargetTriple,
    LLVMGetHostCPUFeatures, LLVMGetHostCPUName, LLVMGetTargetFromTriple, LLVMNormalizeTargetTriple,
    LLVMRelocMode, LLVMTargetHasTargetMachine, LLVMTargetMachineEmitToMemoryBuffer,
    LLVMTargetMachineOptionsSetABI, LLVMTargetMachineOptionsSetCPU,
    LLVMTargetMachineOptionsSetCodeGenOptLevel, LLVMTargetMachineOptionsSetCodeModel,
    LLVMTargetMachineOptionsSetFeatures, LLVMTargetMachineOptionsSetRelocMode,
    LLVMTargetMachineRef, LLVMTargetRef,
};
use llvm_sys::transforms::pass_builder::{
    LLVMCreatePassBuilderOptions, LLVMDisposePassBuilderOptions, LLVMRunPasses,
};
use llvm_sys::LLVMTypeKind;

use super::ffi::{c_string, take_error, take_message, Context, MemoryBuffer};
use super::Module;
use crate::{Error, Result};

pub(crate) fn initialize() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: these register LLVM's targets in process-wide registries;
        // they have no preconditions, and `Once` runs them exactly once
        // before any other rivet call into LLVM needs a target.
        unsafe {
            LLVM_InitializeAllTargetInfos();
            LLVM_InitializeAllTargets();
            LLVM_InitializeAllTargetMCs();
            LLVM_InitializeAllAsmPrinters();
            LLVM_InitializeAllAsmParsers();
            LLVM_InitializeAllDisassemblers();
        }
    });
}

pub fn host_triple() -> String {
    // SAFETY: no preconditions; the result is ours to dispose (take_message does).
    let triple = unsafe { take_message(LLVMGetDefaultTargetTriple()) };
    let Ok(c_triple) = CString::new(triple.as_str()) else {
        return triple;
    };
    // SAFETY: `c_triple` is NUL-terminated; the result is ours to dispose.
    let normalized = unsafe { take_message(LLVMNormalizeTargetTriple(c_triple.as_ptr())) };
    if normalized.is_empty() {
        triple
    } else {
        normalized
    }
}

/// `triple` in LLVM's normal form, `arch-vendor-os[-environment]`, as users
/// write it for any tool: `x86_64-windows-msvc` becomes
/// `x86_64-unknown-windows-msvc`, `x86_64-w64-mingw32`
/// `x86_64-w64-windows-gnu`. Without it LLVM reads a three-part triple
/// whose middle part is not a vendor as an unknown OS, and emits ELF.
/// An empty triple stays empty (the host's, to [`TargetMachine::new`]).
pub fn normalize_triple(triple: &str) -> String {
    let Ok(c_triple) = CString::new(triple) else {
        return triple.to_owned();
    };
    if triple.is_empty() {
        return String::new();
    }
    initialize();
    // SAFETY: `c_triple` is NUL-terminated; the result is ours to dispose.
    let normalized = unsafe { take_message(LLVMNormalizeTargetTriple(c_triple.as_ptr())) };
    if normalized.is_empty() {
        triple.to_owned()
    } else {
        normalized
    }
}

/// Whether two triples name the same target for code: the same
/// architecture, operating system and environment once normalized
/// ([`normalize_triple`]), ignoring the vendor and versions. clang's
/// `x86_64-pc-windows-msvc19.33.0` is `x86_64-windows-msvc`,
/// `arm64-apple-macosx14.0.0` is `arm64-apple-macos` and
/// `aarch64-apple-darwin`; `x86_64-pc-windows-gnu` is not
/// `x86_64-pc-windows-msvc`.
pub fn same_target(a: &str, b: &str) -> bool {
    fn parts(triple: &str) -> (String, String, String) {
        let normalized = normalize_triple(triple);
        let mut parts = normalized.split('-');
        let arch = arch_of(parts.next().unwrap_or("")).to_owned();
        let _vendor = parts.next();
        let unversioned = |part: Option<&str>| {
            part.unwrap_or("")
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')
                .to_owned()
        };
        let os = match unversioned(parts.next()).as_str() {
            "macos" | "darwin" => "macosx".to_owned(),
            "win32" => "windows".to_owned(),
            os => os.to_owned(),
        };
        let environment = unversioned(parts.next());
        (arch, os, environment)
    }
    a == b || parts(a) == parts(b)
}

/// The architecture component of `triple`, with common aliases folded.
fn arch_of(triple: &str) -> &str {
    match triple.split('-').next().unwrap_or("") {
        "amd64" | "x86_64h" => "x86_64",
        "arm64" | "arm64e" => "aarch64",
        arch => arch,
    }
}

/// The feature string of a triple that is not the host's: RISC-V 64 is
/// RV64GC (what clang targets for `riscv64-unknown-linux-gnu`), every other
/// architecture LLVM's baseline.
fn default_features(triple: &str) -> &'static str {
    match arch_of(triple) {
        "riscv64" => "+m,+a,+f,+d,+c",
        _ => "",
    }
}

/// The ABI a target machine needs named, from its features: RISC-V 64 uses
/// the hard-float `lp64d` when the D extension is on (as clang does), `lp64f`
/// with F alone, else `lp64`. `None` for the architectures that have one ABI.
fn default_abi(triple: &str, features: &str) -> Option<&'static str> {
    if arch_of(triple) != "riscv64" {
        return None;
    }
    let has = |ext: &str| features.split(',').any(|f| f == ext);
    Some(if has("+d") {
        "lp64d"
    } else if has("+f") {
        "lp64f"
    } else {
        "lp64"
    })
}

fn host_cpu_name() -> String {
    // SAFETY: no preconditions; the result is ours to dispose (take_message does).
    unsafe { take_message(LLVMGetHostCPUName()) }
}

fn host_cpu_features() -> String {
    // SAFETY: as in host_cpu_name.
    unsafe { take_message(LLVMGetHostCPUFeatures()) }
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

impl RelocModel {
    fn to_llvm(self) -> LLVMRelocMode {
        match self {
            RelocModel::Pic => LLVMRelocMode::LLVMRelocPIC,
            RelocModel::Static => LLVMRelocMode::LLVMRelocStatic,
            RelocModel::Default => LLVMRelocMode::LLVMRelocDefault,
        }
    }
}

/// Code model of emitted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeModel {
    /// Code and data within 2 GiB of each other: rivet's default, since the arena keeps them close.
    #[default]
    Small,
    /// Medium: code within 2 GiB, data anywhere.
    Medium,
    /// What llvmlite's `jitdefault` chooses on 64-bit: any distance.
    Large,
    /// LLVM's JIT default for the target.
    JitDefault,
}

impl CodeModel {
    fn to_llvm(self) -> LLVMCodeModel {
        match self {
            CodeModel::Small => LLVMCodeModel::LLVMCodeModelSmall,
            CodeModel::Medium => LLVMCodeModel::LLVMCodeModelMedium,
            CodeModel::Large => LLVMCodeModel::LLVMCodeModelLarge,
            CodeModel::JitDefault => LLVMCodeModel::LLVMCodeModelJITDefault,
        }
    }
}

/// Code generation optimization level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No optimization (`-O0`).
    None,
    /// `-O1`.
    Less,
    #[default]
    /// `-O2`.
    Default,
    /// `-O3`.
    Aggressive,
}

impl OptLevel {
    fn to_llvm(self) -> LLVMCodeGenOptLevel {
        match self {
            OptLevel::None => LLVMCodeGenOptLevel::LLVMCodeGenLevelNone,
            OptLevel::Less => LLVMCodeGenOptLevel::LLVMCodeGenLevelLess,
            OptLevel::Default => LLVMCodeGenOptLevel::LLVMCodeGenLevelDefault,
            OptLevel::Aggressive => LLVMCodeGenOptLevel::LLVMCodeGenLevelAggressive,
        }
    }
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
    /// Code generation optimization level.
    pub opt_level: OptLevel,
    /// Relocation model of emitted code.
    pub reloc: RelocModel,
    /// Code model of emitted code.
    pub code_model: CodeModel,
}

/// An LLVM target machine. `Send`; not `Sync` (LLVM does not promise that two
/// threads may emit with one machine at once).
pub struct TargetMachine {
    raw: LLVMTargetMachineRef,
    triple: String,
    /// With every `Option` filled in.
    options: TargetOptions,
}

// SAFETY: the LLVM target machine is owned exclusively by this value and is
// not tied to a thread or context; it may be used from any thread as long as
// only one uses it at a time. Not being `Sync` (raw pointer field) keeps
// `&TargetMachine` on one thread, since code generation mutates state inside it.
unsafe impl Send for TargetMachine {}

impl TargetMachine {
    /// A machine for the host with rivet's defaults (PIC, small code model).
    pub fn host() -> Result<TargetMachine> {
        Self::new(&TargetOptions::default())
    }

    /// A machine built from `options`.
    ///
    /// An empty triple means the host's, as `None` does. The CPU and feature
    /// defaults are the host's when the triple's architecture is the host's
    /// (so a Mach-O or COFF x86-64 object built on an x86-64 host runs here).
    pub fn new(options: &TargetOptions) -> Result<TargetMachine> {
        initialize();
        let host = host_triple();
        let triple = match options.triple.as_deref() {
            Some(t) if !t.is_empty() => normalize_triple(t),
            _ => host.clone(),
        };
        let native_arch = arch_of(&triple) == arch_of(&host);
        let cpu = match &options.cpu {
            Some(cpu) => cpu.clone(),
            None if native_arch => host_cpu_name(),
            None => "generic".to_owned(),
        };
        let features = match &options.features {
            Some(features) => features.clone(),
            None if native_arch => host_cpu_features(),
            None => default_features(&triple).to_owned(),
        };
        let abi = default_abi(&triple, &features);
        let c_triple = c_string(&triple, "target triple")?;
        let c_cpu = c_string(&cpu, "CPU name")?;
        let c_features = c_string(&features, "feature string")?;

        let mut target: LLVMTargetRef = std::ptr::null_mut();
        let mut message: *mut c_char = std::ptr::null_mut();
        // SAFETY: `c_triple` is NUL-terminated; LLVM writes a registry-owned
        // target or, on failure, a message we own to the out-pointers.
        let failed =
            unsafe { LLVMGetTargetFromTriple(c_triple.as_ptr(), &mut target, &mut message) };
        // SAFETY: `message` is null or allocated by LLVM for us.
        let message = unsafe { take_message(message) };
        if failed != 0 || target.is_null() {
            return Err(Error::Llvm(format!(
                "no target for triple `{triple}`: {}",
                message.trim_end()
            )));
        }
        // SAFETY: `target` is a live entry of LLVM's (static) target registry.
        if unsafe { LLVMTargetHasTargetMachine(target) } == 0 {
            return Err(Error::Llvm(format!(
                "target for triple `{triple}` cannot generate code"
            )));
        }
        let raw = match abi {
            // SAFETY: `target` is valid; the strings are NUL-terminated and
            // copied by LLVM; the returned machine (or null) is owned by us.
            None => unsafe {
                LLVMCreateTargetMachine(
                    target,
                    c_triple.as_ptr(),
                    c_cpu.as_ptr(),
                    c_features.as_ptr(),
                    options.opt_level.to_llvm(),
                    options.reloc.to_llvm(),
                    options.code_model.to_llvm(),
                )
            },
            Some(abi) => {
                let c_abi = c_string(abi, "ABI name")?;
                // SAFETY: the options object is created, filled (LLVM copies
                // the strings) and disposed here; `target` and the strings
                // are valid; the machine (or null) is ours.
                unsafe {
                    let tm_options = LLVMCreateTargetMachineOptions();
                    LLVMTargetMachineOptionsSetCPU(tm_options, c_cpu.as_ptr());
                    LLVMTargetMachineOptionsSetFeatures(tm_options, c_features.as_ptr());
                    LLVMTargetMachineOptionsSetABI(tm_options, c_abi.as_ptr());
                    LLVMTargetMachineOptionsSetCodeGenOptLevel(
                        tm_options,
                        options.opt_level.to_llvm(),
                    );
                    LLVMTargetMachineOptionsSetRelocMode(tm_options, options.reloc.to_llvm());
                    LLVMTargetMachineOptionsSetCodeModel(tm_options, options.code_model.to_llvm());
                    let raw =
                        LLVMCreateTargetMachineWithOptions(target, c_triple.as_ptr(), tm_options);
                    LLVMDisposeTargetMachineOptions(tm_options);
                    raw
                }
            }
        };
        if raw.is_null() {
            return Err(Error::Llvm(format!(
                "cannot create a target machine for `{triple}` (cpu `{cpu}`, features `{features}`)"
            )));
        }
        let options = TargetOptions {
            triple: Some(triple.clone()),
            cpu: Some(cpu),
            features: Some(features),
            ..options.clone()
        };
        Ok(TargetMachine {
            raw,
            triple,
            options,
        })
    }

    /// The triple this machine emits for.
    pub fn triple(&self) -> &str {
        &self.triple
    }

    /// The options this machine was built from, with defaults filled in.
    pub fn options(&self) -> &TargetOptions {
        &self.options
    }

    /// This machine's data layout.
    pub fn target_data(&self) -> TargetData {
        // SAFETY: `self.raw` is live; the new target data is owned by the
        // TargetData we build from it, which disposes it.
        let raw = unsafe { LLVMCreateTargetDataLayout(self.raw) };
        TargetData::from_raw(raw)
    }

    /// Compiles `module` to a relocatable object. A module with no triple or
    /// data layout gets this machine's first. Code generation may change the
    /// module (as with llvmlite's `emit_object`).
    ///
    /// The module is verified first, so invalid IR is an error rather than a
    /// crash inside LLVM; errors LLVM reports while generating code (an
    /// invalid inline-asm instruction, say) are errors too.
    pub fn emit_object(&self, module: &mut Module) -> Result<Vec<u8>> {
        self.adopt_defaults(module)?;
        module.verify()?;
        let _stale = module.take_diagnostics();
        let mut message: *mut c_char = std::ptr::null_mut();
        let mut buffer = std::ptr::null_mut();
        // SAFETY: the machine and module are live and exclusively borrowed;
        // LLVM writes an owned message or an owned buffer (or null) to the
        // out-pointers. Error diagnostics go to the module context's handler.
        let failed = unsafe {
            LLVMTargetMachineEmitToMemoryBuffer(
                self.raw,
                module.as_raw(),
                LLVMCodeGenFileType::LLVMObjectFile,
                &mut message,
                &mut buffer,
            )
        };
        // SAFETY: `buffer` is null or a buffer owned by us from here on.
        let buffer = unsafe { MemoryBuffer::from_raw(buffer) };
        // SAFETY: `message` is null or allocated by LLVM for us.
        let message = unsafe { take_message(message) };
        let mut errors = module.take_diagnostics();
        if failed != 0 {
            let message = message.trim_end();
            errors.insert(
                0,
                if message.is_empty() {
                    "code generation failed".to_owned()
                } else {
                    message.to_owned()
                },
            );
        }
        if !errors.is_empty() {
            return Err(Error::Llvm(format!(
                "cannot emit `{}` for {}: {}",
                module.name(),
                self.triple,
                errors.join("\n")
            )));
        }
        match buffer {
            Some(buffer) => Ok(buffer.to_vec()),
            None => Err(Error::Llvm(format!(
                "cannot emit `{}` for {}: LLVM returned no object",
                module.name(),
                self.triple
            ))),
        }
    }

    /// Assembles `asm` (assembly text for this machine's triple) into a
    /// relocatable object in-process, with no external assembler.
    ///
    /// The text is module-level inline assembly of an otherwise empty module;
    /// syntax errors come back as [`Error::Llvm`] with LLVM's line and column.
    ///
    /// Two things to know about LLVM's assembler here: `.include` and
    /// `.incbin` read files of this process's file system, so do not
    /// assemble untrusted text; and in LLVM 22 a `.fill` whose count is a
    /// negative constant crashes LLVM itself (it prints a warning through a
    /// source manager that code generation never sets; `llc` crashes the
    /// same way), which no diagnostic handler can catch.
    pub fn assemble(&self, asm: &str) -> Result<Vec<u8>> {
        let mut module = Module::empty("<assembly>");
        self.adopt_defaults(&mut module)?;
        // SAFETY: the module is live; LLVM copies `asm.len()` bytes from `asm`.
        unsafe {
            LLVMSetModuleInlineAsm2(module.as_raw(), asm.as_ptr().cast::<c_char>(), asm.len())
        };
        self.emit_object(&mut module)
    }

    /// Runs LLVM's optimization pipeline `passes` (e.g. `default<O2>`) over `module`.
    ///
    /// Like [`emit_object`](Self::emit_object), a module with no triple or
    /// data layout gets this machine's first, and the module is verified first.
    pub fn optimize(&self, module: &mut Module, passes: &str) -> Result<()> {
        let c_passes = c_string(passes, "pass pipeline")?;
        self.adopt_defaults(module)?;
        module.verify()?;
        let _stale = module.take_diagnostics();
        // SAFETY: no preconditions; the options are disposed below.
        let options = unsafe { LLVMCreatePassBuilderOptions() };
        // SAFETY: module, machine and options are live; `c_passes` is
        // NUL-terminated; the returned error (or null) is ours.
        let error = unsafe { LLVMRunPasses(module.as_raw(), c_passes.as_ptr(), self.raw, options) };
        // SAFETY: `options` was created above and is disposed exactly once.
        unsafe { LLVMDisposePassBuilderOptions(options) };
        // SAFETY: `error` is null or an unconsumed error owned by us.
        let mut errors: Vec<String> = unsafe { take_error(error) }.into_iter().collect();
        errors.extend(module.take_diagnostics());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Llvm(format!(
                "cannot run passes `{passes}` on `{}`: {}",
                module.name(),
                errors.join("\n")
            )))
        }
    }

    /// Gives `module` this machine's triple and data layout where it has none.
    fn adopt_defaults(&self, module: &mut Module) -> Result<()> {
        if module.triple().is_empty() {
            let c_triple = c_string(&self.triple, "target triple")?;
            // SAFETY: the module is live and exclusively borrowed; LLVM copies the string.
            unsafe { LLVMSetTarget(module.as_raw(), c_triple.as_ptr()) };
        }
        if module.data_layout().is_empty() {
            // SAFETY: the machine is live; the layout is ours, copied into
            // the module by LLVMSetModuleDataLayout, then disposed once.
            unsafe {
                let layout = LLVMCreateTargetDataLayout(self.raw);
                LLVMSetModuleDataLayout(module.as_raw(), layout);
                LLVMDisposeTargetData(layout);
            }
        }
        Ok(())
    }
}

impl Drop for TargetMachine {
    fn drop(&mut self) {
        // SAFETY: `self.raw` is a live machine owned only by `self`; disposed once.
        unsafe { LLVMDisposeTargetMachine(self.raw) };
    }
}

impl std::fmt::Debug for TargetMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetMachine")
            .field("triple", &self.triple)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Sizes and alignments of types under one data layout, as llvmlite's
/// `target_data` offers. Types are written as IR type text (`i64`,
/// `{ i32, double }`, `[4 x float]`, `ptr`).
///
/// `Send + Sync`: queries are serialised by an internal lock, because LLVM's
/// data layout caches struct layouts without synchronisation.
pub struct TargetData {
    layout: String,
    pointer_size: u64,
    little_endian: bool,
    queries: Mutex<TypeQueries>,
}

/// The LLVM objects behind type queries: the data layout and a private
/// context in which type text is parsed.
///
/// The context lives exactly as long as the data layout because LLVM's data
/// layout caches struct layouts by type address: were the context (and its
/// types) freed while the cache lived, a new type could reuse an old address
/// and get a stale layout.
struct TypeQueries {
    raw: LLVMTargetDataRef,
    // Dropped after `raw` is disposed (see Drop).
    context: Context,
}

// SAFETY: the data layout and context are owned exclusively by this value
// and have no thread affinity. `TargetData` only reaches them through a
// `Mutex`, so at most one thread uses them at a time.
unsafe impl Send for TypeQueries {}

impl Drop for TypeQueries {
    fn drop(&mut self) {
        // SAFETY: `self.raw` is live and owned only by `self`; disposed once,
        // before the context whose types its cache refers to.
        unsafe { LLVMDisposeTargetData(self.raw) };
    }
}

impl TargetData {
    /// Target data for a data-layout string.
    ///
    /// The string is checked with LLVM's parser first: LLVM's constructor
    /// would end the process on a malformed layout.
    pub fn from_layout(layout: &str) -> Result<TargetData> {
        initialize();
        let c_layout = c_string(layout, "data layout")?;
        let context = Context::new();
        let ir = format!("target datalayout = \"{}\"\n", escape_ir_string(layout));
        let module = parse_private(&context, &ir, "<datalayout>")
            .map_err(|message| Error::Llvm(format!("invalid data layout `{layout}`: {message}")))?;
        // SAFETY: `module` is live; it is disposed exactly once, before `context`.
        unsafe { LLVMDisposeModule(module) };
        drop(context);
        // SAFETY: `c_layout` is NUL-terminated and was just accepted by
        // LLVM's layout parser, so LLVMCreateTargetData cannot hit its fatal
        // error path; the result is owned by the TargetData.
        let raw = unsafe { LLVMCreateTargetData(c_layout.as_ptr()) };
        Ok(Self::from_raw(raw))
    }

    /// Takes ownership of `raw`, an LLVM target data owned by the caller.
    fn from_raw(raw: LLVMTargetDataRef) -> TargetData {
        // SAFETY: `raw` is a live target data (callers pass one they own);
        // the copied string is ours to dispose, which take_message does.
        let layout = unsafe { take_message(LLVMCopyStringRepOfTargetData(raw)) };
        // SAFETY: `raw` is live; these only read the layout.
        let (pointer_size, order) = unsafe { (LLVMPointerSize(raw), LLVMByteOrder(raw)) };
        TargetData {
            layout,
            pointer_size: u64::from(pointer_size),
            little_endian: order == LLVMByteOrdering::LLVMLittleEndian,
            queries: Mutex::new(TypeQueries {
                raw,
                context: Context::new(),
            }),
        }
    }

    /// The data-layout string.
    pub fn layout(&self) -> &str {
        &self.layout
    }

    /// Pointer size in bytes (address space 0).
    pub fn pointer_size(&self) -> u64 {
        self.pointer_size
    }

    /// Whether the layout is little-endian.
    pub fn is_little_endian(&self) -> bool {
        self.little_endian
    }

    /// ABI size in bytes of the type written as IR text.
    pub fn abi_size(&self, ty: &str) -> Result<u64> {
        self.with_type(ty, |td, t| {
            // SAFETY: `td` and `t` are live (see with_type) and `t` is sized.
            Ok(unsafe { LLVMABISizeOfType(td, t) })
        })
    }

    /// ABI alignment in bytes of the type written as IR text.
    pub fn abi_alignment(&self, ty: &str) -> Result<u64> {
        self.with_type(ty, |td, t| {
            // SAFETY: `td` and `t` are live (see with_type) and `t` is sized.
            Ok(u64::from(unsafe { LLVMABIAlignmentOfType(td, t) }))
        })
    }

    /// Byte offset of field `index` of the struct type written as IR text.
    pub fn element_offset(&self, ty: &str, index: u32) -> Result<u64> {
        self.with_type(ty, |td, t| {
            // SAFETY: `t` is a live type.
            if unsafe { LLVMGetTypeKind(t) } != LLVMTypeKind::LLVMStructTypeKind {
                return Err(Error::Llvm(format!("type `{ty}` is not a struct")));
            }
            // SAFETY: `t` is a live struct type.
            let count = unsafe { LLVMCountStructElementTypes(t) };
            if index >= count {
                return Err(Error::Llvm(format!(
                    "struct `{ty}` has {count} fields; there is no field {index}"
                )));
            }
            // SAFETY: `td` and `t` are live, `t` is a sized struct and `index` is in range.
            Ok(unsafe { LLVMOffsetOfElement(td, t, index) })
        })
    }

    /// Parses `ty` into the private context and runs `query` on it with the
    /// data layout, holding the lock throughout.
    fn with_type<T>(
        &self,
        ty: &str,
        query: impl FnOnce(LLVMTargetDataRef, LLVMTypeRef) -> Result<T>,
    ) -> Result<T> {
        if ty.contains(['\n', '\r', '\0']) {
            return Err(Error::Llvm(format!(
                "type text {ty:?} must be one line with no NUL"
            )));
        }
        if ty.contains('%') {
            // No named type is defined where the text is parsed; refusing
            // here also keeps failed look-ups from leaving opaque named
            // types behind in the private context.
            return Err(Error::Llvm(format!(
                "type `{ty}` names a type; write the type itself (e.g. a struct body)"
            )));
        }
        let queries = match self.queries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let ir = format!("@g = external global {ty}\n");
        let module = parse_private(&queries.context, &ir, "<type>")
            .map_err(|message| Error::Llvm(format!("invalid type `{ty}`: {message}")))?;
        // SAFETY: `module` is live until disposed below. The global's value
        // type belongs to the context, which outlives this call.
        let result = unsafe {
            let global = LLVMGetFirstGlobal(module);
            if global.is_null() || !LLVMGetNextGlobal(global).is_null() {
                Err(Error::Llvm(format!("invalid type `{ty}`")))
            } else {
                let t = LLVMGlobalGetValueType(global);
                check_layout_type(t, ty).and_then(|()| query(queries.raw, t))
            }
        };
        // SAFETY: `module` is live, owned by us, and disposed once; the types
        // it used stay in the context.
        unsafe { LLVMDisposeModule(module) };
        result
    }
}

/// Refuses types that have no fixed ABI size (LLVM would only warn and
/// return a meaningless number for them, or worse).
///
/// # Safety
/// `t` is a live type.
unsafe fn check_layout_type(t: LLVMTypeRef, text: &str) -> Result<()> {
    // SAFETY: `t` is live (contract).
    if unsafe { LLVMTypeIsSized(t) } == 0 {
        return Err(Error::Llvm(format!("type `{text}` has no size")));
    }
    // SAFETY: as above.
    if unsafe { contains_unsupported(t) } {
        return Err(Error::Llvm(format!(
            "type `{text}` is scalable or a target extension type, which have no fixed size"
        )));
    }
    Ok(())
}

/// Whether `t` is or contains a scalable vector or a target extension type.
///
/// # Safety
/// `t` is a live type.
unsafe fn contains_unsupported(t: LLVMTypeRef) -> bool {
    // SAFETY: `t` is live, so are its element types, which these calls read.
    unsafe {
        match LLVMGetTypeKind(t) {
            LLVMTypeKind::LLVMScalableVectorTypeKind | LLVMTypeKind::LLVMTargetExtTypeKind => true,
            LLVMTypeKind::LLVMArrayTypeKind | LLVMTypeKind::LLVMVectorTypeKind => {
                contains_unsupported(LLVMGetElementType(t))
            }
            LLVMTypeKind::LLVMStructTypeKind => (0..LLVMCountStructElementTypes(t))
                .any(|i| contains_unsupported(LLVMStructGetTypeAtIndex(t, i))),
            _ => false,
        }
    }
}

impl std::fmt::Debug for TargetData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetData")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// Parses `ir` into a module in `context` (a caller-owned module, to be
/// disposed before the context), or returns LLVM's message.
fn parse_private(
    context: &Context,
    ir: &str,
    name: &str,
) -> std::result::Result<LLVMModuleRef, String> {
    let c_name = CString::new(name).map_err(|_| "name contains a NUL byte".to_owned())?;
    let buffer = MemoryBuffer::copy_of(ir.as_bytes(), &c_name);
    let mut module: LLVMModuleRef = std::ptr::null_mut();
    let mut message: *mut c_char = std::ptr::null_mut();
    // SAFETY: context and buffer are live; the buffer is not consumed (its
    // guard disposes it); LLVM writes an owned module or message.
    let failed =
        unsafe { LLVMParseIRInContext2(context.raw(), buffer.raw(), &mut module, &mut message) };
    // SAFETY: `message` is null or allocated by LLVM for us.
    let text = unsafe { take_message(message) };
    let diagnostics = context.take_errors();
    if failed != 0 || module.is_null() {
        if !module.is_null() {
            // SAFETY: an owned module, disposed once.
            unsafe { LLVMDisposeModule(module) };
        }
        let mut text = text.trim_end().to_owned();
        for d in diagnostics {
            text.push_str("; ");
            text.push_str(&d);
        }
        return Err(text);
    }
    Ok(module)
}

/// `s` as the body of an IR string literal: printable ASCII except `"` and
/// `\` stays, everything else becomes `\XX`.
fn escape_ir_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:02X}"));
        }
    }
    out
}
