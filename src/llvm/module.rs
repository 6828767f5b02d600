//! An LLVM module that owns its context.

use std::ffi::{c_char, CString};

use llvm_sys::analysis::{LLVMVerifierFailureAction, LLVMVerifyModule};
use llvm_sys::bit_reader::LLVMParseBitcodeInContext2;
use llvm_sys::bit_writer::LLVMWriteBitcodeToMemoryBuffer;
use llvm_sys::core::{
    LLVMCountParamTypes, LLVMDisposeModule, LLVMGetDataLayoutStr, LLVMGetFirstFunction,
    LLVMGetFirstGlobal, LLVMGetIntTypeWidth, LLVMGetIntrinsicID, LLVMGetModuleIdentifier,
    LLVMGetNextFunction, LLVMGetNextGlobal, LLVMGetParamTypes, LLVMGetReturnType, LLVMGetTarget,
    LLVMGetTypeKind, LLVMGetValueName2, LLVMGlobalGetValueType, LLVMIsDeclaration,
    LLVMIsFunctionVarArg, LLVMModuleCreateWithNameInContext, LLVMPrintModuleToString,
    LLVMSetModuleIdentifier,
};
use llvm_sys::ir_reader::LLVMParseIRInContext2;
use llvm_sys::prelude::{LLVMModuleRef, LLVMTypeRef, LLVMValueRef};
use llvm_sys::LLVMTypeKind;

use super::ffi::{borrowed_string, take_message, Context, MemoryBuffer};
use crate::bridge::{FunctionSignature, ValueKind};
use crate::{Error, Result};

/// Raw bitcode starts with `BC` 0xC0DE.
const BITCODE_MAGIC: [u8; 4] = *b"BC\xC0\xDE";
/// The bitcode wrapper header (Darwin) starts with 0x0B17C0DE, little-endian.
const BITCODE_WRAPPER_MAGIC: [u8; 4] = 0x0B17_C0DEu32.to_le_bytes();

/// An LLVM IR module. Owns its own LLVM context; dropping it disposes both.
/// `Send` (it may move between threads), not `Sync`.
pub struct Module {
    raw: LLVMModuleRef,
    // Dropped after `raw` is disposed (see `Drop`), as LLVM requires.
    context: Context,
}

// SAFETY: the module and its context are owned exclusively by this value and
// no reference into them escapes it, so every LLVM call on them goes through
// `&self`/`&mut self`. An LLVM context has no thread affinity: it only must
// not be used by two threads at once, which the lack of `Sync` guarantees.
// The diagnostic sink is a `Mutex`, itself `Send`.
unsafe impl Send for Module {}

impl Module {
    /// Parses IR text. `name` names the module in errors. Errors carry LLVM's
    /// message, which includes the line and column.
    pub fn parse_ir(text: &str, name: &str) -> Result<Module> {
        Self::parse_ir_bytes(text.as_bytes(), name)
    }

    /// Parses bitcode.
    pub(crate) fn parse_bitcode(bytes: &[u8], name: &str) -> Result<Module> {
        super::initialize();
        let parse_error = |message: String| Error::IrParse {
            module: name.to_owned(),
            message,
        };
        let buffer_name = buffer_name(name).map_err(parse_error)?;
        let context = Context::new();
        let buffer = MemoryBuffer::copy_of(bytes, &buffer_name);
        let mut raw: LLVMModuleRef = std::ptr::null_mut();
        // SAFETY: the context and buffer are live; this function does not
        // take ownership of the buffer (it is disposed by `buffer`'s drop) and
        // writes a module owned by us, or null, to `raw`. Errors go to the
        // context's diagnostic handler instead of exiting the process.
        let failed = unsafe { LLVMParseBitcodeInContext2(context.raw(), buffer.raw(), &mut raw) };
        drop(buffer);
        let errors = context.take_errors();
        if failed != 0 || raw.is_null() {
            if !raw.is_null() {
                // SAFETY: `raw` is a module we own in `context`; disposed once, before the context.
                unsafe { LLVMDisposeModule(raw) };
            }
            let message = if errors.is_empty() {
                "invalid bitcode".to_owned()
            } else {
                errors.join("; ")
            };
            return Err(parse_error(message));
        }
        let module = Module { raw, context };
        module.set_name(name);
        Ok(module)
    }

    /// Parses bitcode or IR text, whichever `bytes` hold.
    pub fn parse(bytes: &[u8], name: &str) -> Result<Module> {
        if is_bitcode(bytes) {
            Self::parse_bitcode(bytes, name)
        } else {
            Self::parse_ir_bytes(bytes, name)
        }
    }

    /// A module with no code.
    pub fn empty(name: &str) -> Module {
        super::initialize();
        let context = Context::new();
        // SAFETY: the context is live and the name is a NUL-terminated empty
        // string; the returned module is owned by us.
        let raw = unsafe { LLVMModuleCreateWithNameInContext(c"".as_ptr(), context.raw()) };
        let module = Module { raw, context };
        module.set_name(name);
        module
    }

    /// The module's identifier.
    pub fn name(&self) -> String {
        let mut len = 0usize;
        // SAFETY: `self.raw` is a live module; the returned pointer (with its
        // length in `len`) points into the module and is copied before any
        // other call on it.
        let ptr = unsafe { LLVMGetModuleIdentifier(self.raw, &mut len) };
        if ptr.is_null() || len == 0 {
            return String::new();
        }
        // SAFETY: LLVM reports `len` readable bytes at `ptr`, owned by the
        // live module and not changed while `self` is borrowed.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// The module's target triple ("" when unset).
    pub fn triple(&self) -> String {
        // SAFETY: `self.raw` is live; the result is a NUL-terminated string
        // owned by the module, copied immediately.
        unsafe { borrowed_string(LLVMGetTarget(self.raw)) }
    }

    /// The module's data-layout string ("" when unset).
    pub(crate) fn data_layout(&self) -> String {
        // SAFETY: as in `triple`.
        unsafe { borrowed_string(LLVMGetDataLayoutStr(self.raw)) }
    }

    /// The module printed as IR text.
    pub fn to_ir_string(&self) -> String {
        // SAFETY: `self.raw` is live; the result is ours to dispose, which
        // take_message does.
        unsafe { take_message(LLVMPrintModuleToString(self.raw)) }
    }

    /// The module as bitcode.
    pub fn to_bitcode(&self) -> Vec<u8> {
        // SAFETY: `self.raw` is live; the returned buffer (never null in
        // practice) is ours and is disposed by the MemoryBuffer guard.
        let buffer = unsafe { MemoryBuffer::from_raw(LLVMWriteBitcodeToMemoryBuffer(self.raw)) };
        buffer.map(|b| b.to_vec()).unwrap_or_default()
    }

    /// The functions the module declares but does not define (the ones the
    /// linker resolves elsewhere), with their IR signatures, in module
    /// order. LLVM intrinsics (`llvm.*`) are left out: code generation
    /// expands them or turns them into calls of its own.
    ///
    /// Only what the IR says is reported: calls that code generation adds
    /// (`memcpy`, `memset` for large copies) have no declaration here.
    pub fn declared_functions(&self) -> Vec<FunctionSignature> {
        let mut out = Vec::new();
        // SAFETY: `self.raw` is live; the iteration returns functions owned
        // by the module, or null after the last one.
        let mut function = unsafe { LLVMGetFirstFunction(self.raw) };
        while !function.is_null() {
            // SAFETY: `function` is a live function of this module; its
            // value type is its function type, owned by the context.
            unsafe {
                if LLVMIsDeclaration(function) != 0 && LLVMGetIntrinsicID(function) == 0 {
                    let ty = LLVMGlobalGetValueType(function);
                    let count = LLVMCountParamTypes(ty) as usize;
                    let mut params: Vec<LLVMTypeRef> = vec![std::ptr::null_mut(); count];
                    if count > 0 {
                        // Writes exactly `count` type references.
                        LLVMGetParamTypes(ty, params.as_mut_ptr());
                    }
                    out.push(FunctionSignature {
                        name: value_name(function),
                        params: params.into_iter().map(|t| value_kind(t)).collect(),
                        ret: value_kind(LLVMGetReturnType(ty)),
                        variadic: LLVMIsFunctionVarArg(ty) != 0,
                    });
                }
                function = LLVMGetNextFunction(function);
            }
        }
        out
    }

    /// The names of the global variables the module declares but does not
    /// define (`@x = external global ...`), in module order.
    pub fn declared_globals(&self) -> Vec<String> {
        let mut out = Vec::new();
        // SAFETY: `self.raw` is live; the iteration returns globals owned by
        // the module, or null after the last one.
        let mut global = unsafe { LLVMGetFirstGlobal(self.raw) };
        while !global.is_null() {
            // SAFETY: `global` is a live global variable of this module.
            unsafe {
                if LLVMIsDeclaration(global) != 0 {
                    out.push(value_name(global));
                }
                global = LLVMGetNextGlobal(global);
            }
        }
        out
    }

    /// The LLVM module, for a caller that goes to llvm-sys directly (the
    /// tools crate clones it for MCJIT). Valid while `self` lives; `self`
    /// keeps owning it and its context.
    pub fn as_raw(&self) -> LLVMModuleRef {
        self.raw
    }

    /// Error diagnostics the module's context recorded since the last call.
    pub(crate) fn take_diagnostics(&self) -> Vec<String> {
        self.context.take_errors()
    }

    /// Runs LLVM's verifier; a broken module is an [`Error::Llvm`] with
    /// the verifier's findings. Code generation and the optimizer assume a
    /// valid module and may crash on an invalid one, so both check first.
    pub(crate) fn verify(&self) -> Result<()> {
        let mut message: *mut c_char = std::ptr::null_mut();
        // SAFETY: `self.raw` is live; ReturnStatusAction only reports. The
        // message LLVM allocates is ours and disposed by take_message.
        let broken = unsafe {
            LLVMVerifyModule(
                self.raw,
                LLVMVerifierFailureAction::LLVMReturnStatusAction,
                &mut message,
            )
        };
        // SAFETY: `message` is null or allocated by LLVM for us.
        let text = unsafe { take_message(message) };
        if broken != 0 {
            return Err(Error::Llvm(format!(
                "module `{}` is invalid: {}",
                self.name(),
                text.trim_end()
            )));
        }
        Ok(())
    }

    fn parse_ir_bytes(bytes: &[u8], name: &str) -> Result<Module> {
        super::initialize();
        let parse_error = |message: String| Error::IrParse {
            module: name.to_owned(),
            message,
        };
        let buffer_name = buffer_name(name).map_err(parse_error)?;
        let context = Context::new();
        let buffer = MemoryBuffer::copy_of(bytes, &buffer_name);
        let mut raw: LLVMModuleRef = std::ptr::null_mut();
        let mut message: *mut c_char = std::ptr::null_mut();
        // SAFETY: the context and buffer are live; LLVMParseIRInContext2 does
        // not take the buffer (disposed by `buffer`'s drop), writes a module
        // owned by us or null to `raw`, and on failure an LLVM-allocated
        // message to `message`.
        let failed =
            unsafe { LLVMParseIRInContext2(context.raw(), buffer.raw(), &mut raw, &mut message) };
        drop(buffer);
        // SAFETY: `message` is null or allocated by LLVM for us.
        let text = unsafe { take_message(message) };
        if failed != 0 || raw.is_null() {
            if !raw.is_null() {
                // SAFETY: `raw` is a module we own in `context`; disposed once, before the context.
                unsafe { LLVMDisposeModule(raw) };
            }
            let mut message = text.trim_end().to_owned();
            let errors = context.take_errors();
            if !errors.is_empty() {
                if !message.is_empty() {
                    message.push_str("; ");
                }
                message.push_str(&errors.join("; "));
            }
            if message.is_empty() {
                message = "invalid IR".to_owned();
            }
            return Err(parse_error(message));
        }
        let module = Module { raw, context };
        module.set_name(name);
        Ok(module)
    }

    fn set_name(&self, name: &str) {
        // SAFETY: `self.raw` is live; LLVM copies `name.len()` bytes from
        // `name` (which need not be NUL-terminated) before returning.
        unsafe { LLVMSetModuleIdentifier(self.raw, name.as_ptr().cast::<c_char>(), name.len()) };
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        // SAFETY: `self.raw` is a live module owned only by `self`, disposed
        // once, before its context (the `context` field drops after this).
        unsafe { LLVMDisposeModule(self.raw) };
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name())
            .field("triple", &self.triple())
            .finish_non_exhaustive()
    }
}

/// The name of a global value (copied).
///
/// # Safety
///
/// `value` must be a live global value.
unsafe fn value_name(value: LLVMValueRef) -> String {
    let mut len = 0usize;
    // SAFETY: `value` is live (the caller's contract); the returned pointer
    // and length describe the name, owned by the value, copied at once.
    let ptr = unsafe { LLVMGetValueName2(value, &mut len) };
    if ptr.is_null() || len == 0 {
        return String::new();
    }
    // SAFETY: LLVM reports `len` readable bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// How a value of IR type `ty` is passed, as far as calls across
/// conventions care.
///
/// # Safety
///
/// `ty` must be a live type.
unsafe fn value_kind(ty: LLVMTypeRef) -> ValueKind {
    // SAFETY: `ty` is live (the caller's contract).
    match unsafe { LLVMGetTypeKind(ty) } {
        // SAFETY: as above; `ty` is an integer type here.
        LLVMTypeKind::LLVMIntegerTypeKind => ValueKind::Int(unsafe { LLVMGetIntTypeWidth(ty) }),
        LLVMTypeKind::LLVMPointerTypeKind => ValueKind::Ptr,
        LLVMTypeKind::LLVMFloatTypeKind => ValueKind::F32,
        LLVMTypeKind::LLVMDoubleTypeKind => ValueKind::F64,
        LLVMTypeKind::LLVMVoidTypeKind => ValueKind::Void,
        _ => ValueKind::Other,
    }
}

/// Whether `bytes` start with raw bitcode or the bitcode wrapper header.
pub(crate) fn is_bitcode(bytes: &[u8]) -> bool {
    bytes.starts_with(&BITCODE_MAGIC) || bytes.starts_with(&BITCODE_WRAPPER_MAGIC)
}

/// The memory-buffer name LLVM prints in parse errors (`name:line:col: ...`).
fn buffer_name(name: &str) -> std::result::Result<CString, String> {
    CString::new(name).map_err(|_| "module name contains a NUL byte".to_owned())
}

#[cfg(test)]
mod tests;
