//! LLVM's own JIT linkers, wrapped for comparison with rivet: LLJIT (ORC v2)
//! with RuntimeDyld or JITLink as its object linking layer, and MCJIT.
//!
//! rivet does not link with these; the benchmarks (`rivet bench`,
//! `benches/`) and the tests that check the benchmarks are wired up use them
//! to link the same object bytes rivet links and compare. Everything here is
//! owned: an [`Lljit`] disposes its LLJIT instance on drop (or through
//! [`Lljit::dispose`], which reports LLVM's error), an [`Mcjit`] its
//! execution engine.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::sync::mpsc;

use llvm_sys::core::{
    LLVMCloneModule, LLVMDisposeModule, LLVMGetNamedFunction, LLVMGetNamedGlobal,
};
use llvm_sys::error::LLVMErrorRef;
use llvm_sys::execution_engine::{
    LLVMAddGlobalMapping, LLVMAddModule, LLVMCreateMCJITCompilerForModule,
    LLVMDisposeExecutionEngine, LLVMExecutionEngineGetErrMsg, LLVMExecutionEngineRef,
    LLVMGetFunctionAddress, LLVMInitializeMCJITCompilerOptions, LLVMLinkInMCJIT,
    LLVMMCJITCompilerOptions,
};
use llvm_sys::orc2::ee::LLVMOrcCreateRTDyldObjectLinkingLayerWithSectionMemoryManager;
use llvm_sys::orc2::lljit::{
    LLVMOrcCreateLLJIT, LLVMOrcCreateLLJITBuilder, LLVMOrcDisposeLLJIT, LLVMOrcLLJITAddObjectFile,
    LLVMOrcLLJITAddObjectFileWithRT, LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator,
    LLVMOrcLLJITGetExecutionSession, LLVMOrcLLJITGetMainJITDylib, LLVMOrcLLJITLookup,
    LLVMOrcLLJITMangleAndIntern, LLVMOrcLLJITRef,
};
use llvm_sys::orc2::{
    LLVMJITEvaluatedSymbol, LLVMJITSymbolFlags, LLVMJITSymbolGenericFlags, LLVMOrcAbsoluteSymbols,
    LLVMOrcCJITDylibSearchOrderElement, LLVMOrcCLookupSetElement, LLVMOrcCSymbolMapPair,
    LLVMOrcCSymbolMapPairs, LLVMOrcDisposeMaterializationUnit, LLVMOrcExecutionSessionLookup,
    LLVMOrcExecutionSessionRef, LLVMOrcJITDylibCreateResourceTracker, LLVMOrcJITDylibDefine,
    LLVMOrcJITDylibLookupFlags, LLVMOrcLookupKind, LLVMOrcObjectLayerRef,
    LLVMOrcReleaseResourceTracker, LLVMOrcReleaseSymbolStringPoolEntry, LLVMOrcResourceTrackerRef,
    LLVMOrcResourceTrackerRemove, LLVMOrcSymbolLookupFlags, LLVMOrcSymbolStringPoolEntryStr,
};
use llvm_sys::prelude::{LLVMModuleRef, LLVMValueRef};
use llvm_sys::target_machine::LLVMCodeModel;

use rivet::llvm::ffi::{borrowed_string, c_string, take_error, take_message, MemoryBuffer};
use rivet::llvm::{CodeModel, Module};
use rivet::{Error, Result};

/// Which object linking layer an [`Lljit`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrcLinker {
    /// `RTDyldObjectLinkingLayer` with a `SectionMemoryManager` per object
    /// (RuntimeDyld, MCJIT's linker), set through the builder's
    /// object-linking-layer creator.
    RuntimeDyld,
    /// The layer LLJIT picks by itself. On x86-64 ELF (and every non-COFF
    /// x86-64 or AArch64 target) LLVM 22's `LLJITBuilder` picks JITLink's
    /// `ObjectLinkingLayer` with the in-process memory manager and the
    /// `.eh_frame` registration plugin.
    JitLink,
}

impl OrcLinker {
    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            OrcLinker::RuntimeDyld => "lljit-rtdyld",
            OrcLinker::JitLink => "lljit-jitlink",
        }
    }
}

/// Object bytes in an LLVM memory buffer, ready to hand to
/// [`Lljit::add_object`] (which takes ownership). Making the copy is kept
/// apart from adding it so that a benchmark can leave the copy out of the
/// time it measures.
pub struct ObjectBuffer {
    buffer: MemoryBuffer,
}

impl ObjectBuffer {
    /// A buffer holding a copy of `bytes`; `name` identifies it in LLVM's messages.
    pub fn copy_of(bytes: &[u8], name: &str) -> Result<ObjectBuffer> {
        let name = c_string(name, "object name")?;
        Ok(ObjectBuffer {
            buffer: MemoryBuffer::copy_of(bytes, &name),
        })
    }
}

/// The object-linking-layer creator that gives LLJIT RuntimeDyld.
extern "C" fn create_rtdyld_layer(
    _ctx: *mut c_void,
    session: LLVMOrcExecutionSessionRef,
    _triple: *const c_char,
) -> LLVMOrcObjectLayerRef {
    // SAFETY: LLJIT calls this while it builds itself, with its live
    // execution session; the layer returned is owned by the LLJIT from then on.
    unsafe { LLVMOrcCreateRTDyldObjectLinkingLayerWithSectionMemoryManager(session) }
}

/// An LLJIT instance that links objects only (nothing is compiled through it).
/// Disposed on drop.
pub struct Lljit {
    raw: LLVMOrcLLJITRef,
    linker: OrcLinker,
}

/// Turns an `LLVMErrorRef` into `Err(Error::Llvm)` with `what` in front.
///
/// # Safety
/// `err` is null or an unconsumed error owned by the caller, not used afterwards.
unsafe fn check(err: LLVMErrorRef, what: impl FnOnce() -> String) -> Result<()> {
    // SAFETY: per this function's contract.
    match unsafe { take_error(err) } {
        None => Ok(()),
        Some(message) => Err(Error::Llvm(format!("{}: {message}", what()))),
    }
}

/// What a bulk look-up's result handler sends back.
type LookupOutcome = std::result::Result<HashMap<String, u64>, String>;

/// The result handler of [`Lljit::lookup_all`]: turns LLVM's answer into a
/// [`LookupOutcome`] and sends it to the waiting caller.
extern "C" fn lookup_done(
    err: LLVMErrorRef,
    pairs: LLVMOrcCSymbolMapPairs,
    count: usize,
    ctx: *mut c_void,
) {
    // SAFETY: `ctx` is the `Box<mpsc::Sender>` that `lookup_all` leaked for
    // this call; LLVM calls the handler exactly once, so the box is taken
    // back exactly once, here.
    let sender = unsafe { Box::from_raw(ctx.cast::<mpsc::Sender<LookupOutcome>>()) };
    // SAFETY: `err` is the unconsumed error LLVM hands to the handler.
    let outcome = match unsafe { take_error(err) } {
        Some(message) => Err(message),
        None => {
            let mut found = HashMap::with_capacity(count);
            if !pairs.is_null() {
                // SAFETY: on success LLVM passes `count` pairs at `pairs`,
                // valid for the duration of this call.
                let pairs = unsafe { std::slice::from_raw_parts(pairs, count) };
                for pair in pairs {
                    // SAFETY: each name is a live pool entry borrowed for the
                    // call; its string is NUL-terminated and copied at once.
                    let name =
                        unsafe { borrowed_string(LLVMOrcSymbolStringPoolEntryStr(pair.Name)) };
                    found.insert(name, pair.Sym.Address);
                }
            }
            Ok(found)
        }
    };
    // The receiver waits for this; if it is gone there is no one to tell.
    let _ = sender.send(outcome);
}

impl Lljit {
    /// A new LLJIT for the host with the given object linking layer.
    pub fn new(linker: OrcLinker) -> Result<Lljit> {
        rivet::llvm::initialize();
        // SAFETY: no preconditions; the builder is ours until
        // LLVMOrcCreateLLJIT, which takes it whether it succeeds or not.
        let builder = unsafe { LLVMOrcCreateLLJITBuilder() };
        if linker == OrcLinker::RuntimeDyld {
            // SAFETY: `builder` is live; the creator is a non-unwinding
            // `extern "C"` function that ignores its (null) context.
            unsafe {
                LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(
                    builder,
                    create_rtdyld_layer,
                    std::ptr::null_mut(),
                )
            };
        }
        let mut raw: LLVMOrcLLJITRef = std::ptr::null_mut();
        // SAFETY: `builder` is live and handed over; LLVM writes an LLJIT we
        // own to `raw` on success.
        let err = unsafe { LLVMOrcCreateLLJIT(&mut raw, builder) };
        // SAFETY: `err` is null or an unconsumed error we own.
        unsafe { check(err, || format!("cannot create LLJIT ({})", linker.name())) }?;
        if raw.is_null() {
            return Err(Error::Llvm("LLJIT creation returned no instance".into()));
        }
        Ok(Lljit { raw, linker })
    }

    /// The linking layer this instance uses.
    pub fn linker(&self) -> OrcLinker {
        self.linker
    }

    /// Defines `name` at an absolute `address` in the main JITDylib, for each
    /// pair (the LLJIT way to provide external functions and globals).
    pub fn define_absolute(&self, symbols: &[(&str, u64)]) -> Result<()> {
        if symbols.is_empty() {
            return Ok(());
        }
        let mut pairs = Vec::with_capacity(symbols.len());
        for (name, address) in symbols {
            let c_name = c_string(name, "symbol name")?;
            // SAFETY: `self.raw` is live and `c_name` NUL-terminated; the
            // returned pool entry is owned by us until handed over below.
            let entry = unsafe { LLVMOrcLLJITMangleAndIntern(self.raw, c_name.as_ptr()) };
            pairs.push(LLVMOrcCSymbolMapPair {
                Name: entry,
                Sym: LLVMJITEvaluatedSymbol {
                    Address: *address,
                    Flags: LLVMJITSymbolFlags {
                        GenericFlags: LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsExported
                            as u8,
                        TargetFlags: 0,
                    },
                },
            });
        }
        // SAFETY: `pairs` holds `pairs.len()` initialised pairs whose names
        // are owned entries; LLVMOrcAbsoluteSymbols takes those references
        // over and returns a materialization unit we own.
        let unit = unsafe { LLVMOrcAbsoluteSymbols(pairs.as_mut_ptr(), pairs.len()) };
        // SAFETY: `self.raw` is live; the main JITDylib lives as long as it.
        let dylib = unsafe { LLVMOrcLLJITGetMainJITDylib(self.raw) };
        // SAFETY: on success the JITDylib takes the unit; on failure it stays
        // ours and is disposed below.
        let err = unsafe { LLVMOrcJITDylibDefine(dylib, unit) };
        // SAFETY: `err` is null or an unconsumed error we own.
        let result = unsafe { check(err, || "cannot define absolute symbols".to_string()) };
        if result.is_err() {
            // SAFETY: the define failed, so the unit is still ours; disposed once.
            unsafe { LLVMOrcDisposeMaterializationUnit(unit) };
        }
        result
    }

    /// Adds an object to the main JITDylib. Nothing is linked until a symbol
    /// of it is looked up.
    pub fn add_object(&self, object: ObjectBuffer) -> Result<()> {
        let buffer = ManuallyDrop::new(object.buffer);
        // SAFETY: `self.raw` is live; LLJIT takes ownership of the buffer
        // (success or failure), which is why it is not dropped here.
        let err = unsafe {
            LLVMOrcLLJITAddObjectFile(
                self.raw,
                LLVMOrcLLJITGetMainJITDylib(self.raw),
                buffer.raw(),
            )
        };
        // SAFETY: `err` is null or an unconsumed error we own.
        unsafe { check(err, || format!("{}: cannot add object", self.linker.name())) }
    }

    /// Adds an object to the main JITDylib under a resource tracker of its
    /// own, so that it can be removed (its memory freed) on its own later.
    pub fn add_object_tracked(&self, object: ObjectBuffer) -> Result<TrackedObject<'_>> {
        // SAFETY: `self.raw` is live, and so is its main JITDylib; the
        // tracker returned is a reference we own (released by TrackedObject).
        let raw =
            unsafe { LLVMOrcJITDylibCreateResourceTracker(LLVMOrcLLJITGetMainJITDylib(self.raw)) };
        let tracker = TrackedObject {
            raw,
            jit: PhantomData,
        };
        let buffer = ManuallyDrop::new(object.buffer);
        // SAFETY: `self.raw` and the tracker are live; LLJIT takes ownership
        // of the buffer whether it succeeds or not.
        let err = unsafe { LLVMOrcLLJITAddObjectFileWithRT(self.raw, tracker.raw, buffer.raw()) };
        // SAFETY: `err` is null or an unconsumed error we own.
        unsafe { check(err, || format!("{}: cannot add object", self.linker.name())) }?;
        Ok(tracker)
    }

    /// The address of `name`, linking whatever defines it first.
    pub fn lookup(&self, name: &str) -> Result<u64> {
        let c_name = c_string(name, "symbol name")?;
        let mut address = 0u64;
        // SAFETY: `self.raw` is live, `c_name` NUL-terminated; LLVM writes the
        // address on success.
        let err = unsafe { LLVMOrcLLJITLookup(self.raw, &mut address, c_name.as_ptr()) };
        // SAFETY: `err` is null or an unconsumed error we own.
        unsafe {
            check(err, || {
                format!("{}: lookup of `{name}`", self.linker.name())
            })
        }?;
        Ok(address)
    }

    /// The addresses of `names` (in order), found with one session look-up,
    /// which links every object that defines one of them (and whatever
    /// those need) before it returns.
    pub fn lookup_all(&self, names: &[&str]) -> Result<Vec<u64>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut mangled = Vec::with_capacity(names.len());
        let mut set = Vec::with_capacity(names.len());
        for name in names {
            let c_name = match c_string(name, "symbol name") {
                Ok(c) => c,
                Err(e) => {
                    for element in &set {
                        release_entry(element);
                    }
                    return Err(e);
                }
            };
            // SAFETY: `self.raw` is live, `c_name` NUL-terminated; the entry
            // is owned by us until handed to the look-up.
            let entry = unsafe { LLVMOrcLLJITMangleAndIntern(self.raw, c_name.as_ptr()) };
            // SAFETY: a live entry's string stays valid while the entry lives.
            mangled.push(unsafe { borrowed_string(LLVMOrcSymbolStringPoolEntryStr(entry)) });
            set.push(LLVMOrcCLookupSetElement {
                Name: entry,
                LookupFlags: LLVMOrcSymbolLookupFlags::LLVMOrcSymbolLookupFlagsRequiredSymbol,
            });
        }
        let mut order = [LLVMOrcCJITDylibSearchOrderElement {
            // SAFETY: `self.raw` is live.
            JD: unsafe { LLVMOrcLLJITGetMainJITDylib(self.raw) },
            JDLookupFlags: LLVMOrcJITDylibLookupFlags::LLVMOrcJITDylibLookupFlagsMatchAllSymbols,
        }];
        let (sender, receiver) = mpsc::channel::<LookupOutcome>();
        let ctx = Box::into_raw(Box::new(sender)).cast::<c_void>();
        // SAFETY: `self.raw` is live and so is its session; `order` and `set`
        // are valid arrays of the given lengths for the duration of the call
        // (LLVM copies them); the set's names are handed over to LLVM. LLVM
        // calls `lookup_done` exactly once with `ctx`, which takes the boxed
        // sender back.
        unsafe {
            LLVMOrcExecutionSessionLookup(
                LLVMOrcLLJITGetExecutionSession(self.raw),
                LLVMOrcLookupKind::LLVMOrcLookupKindStatic,
                order.as_mut_ptr(),
                order.len(),
                set.as_mut_ptr(),
                set.len(),
                lookup_done,
                ctx,
            )
        };
        let found = receiver
            .recv()
            .map_err(|_| Error::Llvm("LLJIT look-up ended without an answer".into()))?
            .map_err(|message| {
                Error::Llvm(format!("{}: look-up failed: {message}", self.linker.name()))
            })?;
        names
            .iter()
            .zip(&mangled)
            .map(|(name, key)| {
                found
                    .get(key)
                    .copied()
                    .ok_or_else(|| Error::SymbolNotFound((*name).to_string()))
            })
            .collect()
    }

    /// Disposes the instance (unmapping everything it linked), reporting
    /// LLVM's error if tearing down fails.
    pub fn dispose(self) -> Result<()> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this.raw` is a live LLJIT owned only by us; it is disposed
        // once (ManuallyDrop keeps Drop from doing it again).
        let err = unsafe { LLVMOrcDisposeLLJIT(this.raw) };
        // SAFETY: `err` is null or an unconsumed error we own.
        unsafe { check(err, || "cannot dispose LLJIT".to_string()) }
    }
}

/// An object added by [`Lljit::add_object_tracked`]: the handle that
/// removes it. Dropping the handle keeps the object in the JIT.
pub struct TrackedObject<'j> {
    raw: LLVMOrcResourceTrackerRef,
    jit: PhantomData<&'j Lljit>,
}

impl TrackedObject<'_> {
    /// Removes the object: its symbols leave the JITDylib and the memory
    /// its linking layer allocated for it is freed.
    pub fn remove(self) -> Result<()> {
        // SAFETY: `self.raw` is a live tracker of a live LLJIT (the lifetime
        // ties the handle to it); Drop releases our reference afterwards.
        let err = unsafe { LLVMOrcResourceTrackerRemove(self.raw) };
        // SAFETY: `err` is null or an unconsumed error we own.
        unsafe { check(err, || "cannot remove an object".to_string()) }
    }
}

impl Drop for TrackedObject<'_> {
    fn drop(&mut self) {
        // SAFETY: we own one reference to the tracker, released once.
        unsafe { LLVMOrcReleaseResourceTracker(self.raw) };
    }
}

/// Releases the name of a look-up set element that was never handed to LLVM.
fn release_entry(element: &LLVMOrcCLookupSetElement) {
    // SAFETY: the entry was interned for us and not handed over; released once.
    unsafe { LLVMOrcReleaseSymbolStringPoolEntry(element.Name) };
}

impl Drop for Lljit {
    fn drop(&mut self) {
        // SAFETY: `self.raw` is a live LLJIT owned only by us, disposed once.
        let err = unsafe { LLVMOrcDisposeLLJIT(self.raw) };
        // SAFETY: `err` is null or an unconsumed error we own; a failure to
        // tear down has no one to report to here (use `dispose` for that).
        let _ = unsafe { take_error(err) };
    }
}

/// A copy of a [`Module`], made in the same LLVM context, that an [`Mcjit`]
/// takes over. Making the copy is kept apart from creating the engine so
/// that a benchmark can leave it out of the time it measures. The original
/// module (and its context) must outlive the copy and the engine, which the
/// lifetime enforces.
pub struct ModuleCopy<'m> {
    raw: LLVMModuleRef,
    _context: PhantomData<&'m Module>,
}

impl<'m> ModuleCopy<'m> {
    /// Copies `module`.
    pub fn of(module: &'m Module) -> Result<ModuleCopy<'m>> {
        // SAFETY: `module` is live; the clone is a new module in the same
        // context, owned by us.
        let raw = unsafe { LLVMCloneModule(module.as_raw()) };
        if raw.is_null() {
            return Err(Error::Llvm(format!(
                "cannot copy module `{}`",
                module.name()
            )));
        }
        Ok(ModuleCopy {
            raw,
            _context: PhantomData,
        })
    }

    /// Gives up ownership of the module (to an engine).
    fn into_raw(self) -> LLVMModuleRef {
        ManuallyDrop::new(self).raw
    }
}

impl Drop for ModuleCopy<'_> {
    fn drop(&mut self) {
        // SAFETY: the copy is owned by us and was not handed to an engine
        // (`into_raw` skips this); disposed once, before its context.
        unsafe { LLVMDisposeModule(self.raw) };
    }
}

/// An MCJIT execution engine (RuntimeDyld with its default memory manager),
/// compiling lazily at the first address look-up, as llvmlite's does.
pub struct Mcjit<'m> {
    raw: LLVMExecutionEngineRef,
    /// Modules the engine owns, to find values for global mappings.
    modules: Vec<LLVMModuleRef>,
    _context: PhantomData<&'m Module>,
}

fn code_model_to_llvm(model: CodeModel) -> LLVMCodeModel {
    match model {
        CodeModel::Small => LLVMCodeModel::LLVMCodeModelSmall,
        CodeModel::Medium => LLVMCodeModel::LLVMCodeModelMedium,
        CodeModel::Large => LLVMCodeModel::LLVMCodeModelLarge,
        CodeModel::JitDefault => LLVMCodeModel::LLVMCodeModelJITDefault,
    }
}

impl<'m> Mcjit<'m> {
    /// An engine owning `module`, generating code at `opt_level` (0-3) with
    /// `code_model` (llvmlite uses [`CodeModel::Large`] on 64-bit hosts).
    /// The CPU is MCJIT's default for the host triple.
    pub fn new(module: ModuleCopy<'m>, opt_level: u32, code_model: CodeModel) -> Result<Mcjit<'m>> {
        rivet::llvm::initialize();
        // SAFETY: no preconditions; this only keeps MCJIT linked in.
        unsafe { LLVMLinkInMCJIT() };
        // SAFETY: all-zero is a valid bit pattern for the options struct
        // (integers, an enum whose zero is a variant, a null pointer), and
        // LLVMInitializeMCJITCompilerOptions then fills in LLVM's defaults.
        let mut options: LLVMMCJITCompilerOptions = unsafe { std::mem::zeroed() };
        // SAFETY: `options` is a valid struct of the size passed.
        unsafe {
            LLVMInitializeMCJITCompilerOptions(
                &mut options,
                std::mem::size_of::<LLVMMCJITCompilerOptions>(),
            )
        };
        options.OptLevel = opt_level.min(3);
        options.CodeModel = code_model_to_llvm(code_model);
        let module_raw = module.into_raw();
        let mut raw: LLVMExecutionEngineRef = std::ptr::null_mut();
        let mut message: *mut c_char = std::ptr::null_mut();
        // SAFETY: the module is handed over: LLVM's engine builder owns it
        // from here on, whether creation succeeds or not. (The one failure
        // that returns before taking it, an options struct larger than
        // LLVM's, cannot happen: the size passed is llvm-sys's struct for
        // this LLVM; and a module left in its context would be freed with
        // the context, never twice.) `options` is initialised and of the
        // size passed; LLVM writes an engine we own or a message we own.
        let failed = unsafe {
            LLVMCreateMCJITCompilerForModule(
                &mut raw,
                module_raw,
                &mut options,
                std::mem::size_of::<LLVMMCJITCompilerOptions>(),
                &mut message,
            )
        };
        // SAFETY: `message` is null or allocated by LLVM for us.
        let message = unsafe { take_message(message) };
        if failed != 0 || raw.is_null() {
            return Err(Error::Llvm(format!(
                "cannot create MCJIT: {}",
                message.trim_end()
            )));
        }
        Ok(Mcjit {
            raw,
            modules: vec![module_raw],
            _context: PhantomData,
        })
    }

    /// Adds another module; compiled at the look-up that needs it.
    pub fn add_module(&mut self, module: ModuleCopy<'m>) {
        let raw = module.into_raw();
        // SAFETY: the engine is live and takes ownership of the module.
        unsafe { LLVMAddModule(self.raw, raw) };
        self.modules.push(raw);
    }

    /// Maps the global or function `name` (as some module of the engine
    /// declares it) to `address`.
    pub fn add_global_mapping(&self, name: &str, address: u64) -> Result<()> {
        let c_name = c_string(name, "symbol name")?;
        let value = self.find_value(&c_name);
        if value.is_null() {
            return Err(Error::SymbolNotFound(name.to_string()));
        }
        // SAFETY: the engine and the value (owned by one of its modules) are
        // live; the address is only recorded.
        unsafe { LLVMAddGlobalMapping(self.raw, value, address as usize as *mut c_void) };
        Ok(())
    }

    fn find_value(&self, name: &CString) -> LLVMValueRef {
        for &module in &self.modules {
            // SAFETY: each module is owned by the live engine; `name` is
            // NUL-terminated. Null means "not in this module".
            let function = unsafe { LLVMGetNamedFunction(module, name.as_ptr()) };
            if !function.is_null() {
                return function;
            }
            // SAFETY: as above.
            let global = unsafe { LLVMGetNamedGlobal(module, name.as_ptr()) };
            if !global.is_null() {
                return global;
            }
        }
        std::ptr::null_mut()
    }

    /// The address of function `name`, compiling and linking as needed.
    pub fn function_address(&self, name: &str) -> Result<u64> {
        let c_name = c_string(name, "symbol name")?;
        // SAFETY: the engine is live; `c_name` is NUL-terminated.
        let address = unsafe { LLVMGetFunctionAddress(self.raw, c_name.as_ptr()) };
        let mut message: *mut c_char = std::ptr::null_mut();
        // SAFETY: the engine is live; a message, if any, is ours to dispose.
        let has_error = unsafe { LLVMExecutionEngineGetErrMsg(self.raw, &mut message) };
        // SAFETY: `message` is null or allocated by LLVM for us.
        let message = unsafe { take_message(message) };
        if has_error != 0 {
            return Err(Error::Llvm(format!("MCJIT: {}", message.trim_end())));
        }
        if address == 0 {
            return Err(Error::SymbolNotFound(name.to_string()));
        }
        Ok(address)
    }
}

impl Drop for Mcjit<'_> {
    fn drop(&mut self) {
        // SAFETY: the engine is owned only by us and disposed once; it
        // disposes the modules it owns, whose context (owned by the
        // original `Module`s) outlives it by the `'m` lifetime.
        unsafe { LLVMDisposeExecutionEngine(self.raw) };
    }
}
