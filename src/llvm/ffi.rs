//! Small owners and converters for code that calls llvm-sys: C strings,
//! LLVM messages and errors, memory buffers, and a context that records its
//! diagnostics. rivet's own wrappers use them, and so can a program that
//! goes to llvm-sys beside rivet (the tools crate's LLJIT and MCJIT
//! wrappers do).

use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::Mutex;

use llvm_sys::core::{
    LLVMContextCreate, LLVMContextDispose, LLVMContextSetDiagnosticHandler,
    LLVMCreateMemoryBufferWithMemoryRangeCopy, LLVMDisposeMemoryBuffer, LLVMDisposeMessage,
    LLVMGetBufferSize, LLVMGetBufferStart, LLVMGetDiagInfoDescription, LLVMGetDiagInfoSeverity,
};
use llvm_sys::error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage};
use llvm_sys::prelude::{LLVMContextRef, LLVMDiagnosticInfoRef, LLVMMemoryBufferRef};
use llvm_sys::LLVMDiagnosticSeverity;

use crate::{Error, Result};

/// `s` as a C string; an interior NUL byte is an [`Error::Llvm`] naming `what`.
pub fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Llvm(format!("{what} contains a NUL byte")))
}

/// Copies a NUL-terminated string that LLVM still owns. Null gives "".
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that stays valid for
/// the duration of the call.
pub unsafe fn borrowed_string(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated, per this function's contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// Copies a string that LLVM allocated for the caller (to be released with
/// `LLVMDisposeMessage`) and releases it. Null gives "".
///
/// # Safety
/// `ptr` is null or a string allocated by LLVM for the caller with the
/// contract "dispose with `LLVMDisposeMessage`"; it is not used afterwards.
pub unsafe fn take_message(ptr: *mut c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: `ptr` is a valid NUL-terminated string (contract above).
    let text = unsafe { borrowed_string(ptr) };
    // SAFETY: `ptr` was allocated by LLVM for us and is released exactly once here.
    unsafe { LLVMDisposeMessage(ptr) };
    text
}

/// Turns an `LLVMErrorRef` into its message, consuming the error. Null
/// (success) gives `None`.
///
/// # Safety
/// `err` is null or an unconsumed `LLVMErrorRef` owned by the caller; it is
/// not used afterwards.
pub unsafe fn take_error(err: LLVMErrorRef) -> Option<String> {
    if err.is_null() {
        return None;
    }
    // SAFETY: `err` is an unconsumed error; LLVMGetErrorMessage consumes it
    // and returns a string that we own.
    let msg = unsafe { LLVMGetErrorMessage(err) };
    // SAFETY: `msg` is null or a NUL-terminated string owned by us until disposed below.
    let text = unsafe { borrowed_string(msg) };
    if !msg.is_null() {
        // SAFETY: `msg` came from LLVMGetErrorMessage and is released exactly once.
        unsafe { LLVMDisposeErrorMessage(msg) };
    }
    Some(text)
}

/// An LLVM memory buffer that this process owns; disposed on drop.
pub struct MemoryBuffer {
    raw: LLVMMemoryBufferRef,
}

impl MemoryBuffer {
    /// A buffer holding a copy of `bytes` (LLVM appends a NUL terminator,
    /// which the IR parser relies on). `name` identifies it in messages.
    pub fn copy_of(bytes: &[u8], name: &CStr) -> MemoryBuffer {
        // SAFETY: `bytes` is valid for `bytes.len()` bytes and LLVM copies it
        // before returning; `name` is NUL-terminated and only read during the call.
        let raw = unsafe {
            LLVMCreateMemoryBufferWithMemoryRangeCopy(
                bytes.as_ptr().cast::<c_char>(),
                bytes.len(),
                name.as_ptr(),
            )
        };
        MemoryBuffer { raw }
    }

    /// Takes ownership of a buffer LLVM handed to the caller. Null gives `None`.
    ///
    /// # Safety
    /// `raw` is null or a memory buffer that the caller owns and no one else disposes.
    pub unsafe fn from_raw(raw: LLVMMemoryBufferRef) -> Option<MemoryBuffer> {
        (!raw.is_null()).then_some(MemoryBuffer { raw })
    }

    /// The buffer itself, for an LLVM call; it stays owned by `self`
    /// unless that call takes it.
    pub fn raw(&self) -> LLVMMemoryBufferRef {
        self.raw
    }

    /// A copy of the buffer's bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        // SAFETY: `self.raw` is a live buffer owned by `self`.
        let (start, len) = unsafe { (LLVMGetBufferStart(self.raw), LLVMGetBufferSize(self.raw)) };
        if start.is_null() || len == 0 {
            return Vec::new();
        }
        // SAFETY: a live buffer's start points to `len` readable bytes, which
        // stay valid while `self` is borrowed.
        unsafe { std::slice::from_raw_parts(start.cast::<u8>(), len) }.to_vec()
    }
}

impl Drop for MemoryBuffer {
    fn drop(&mut self) {
        // SAFETY: `self.raw` is a live buffer that only `self` owns; disposed once.
        unsafe { LLVMDisposeMemoryBuffer(self.raw) };
    }
}

/// What a context's diagnostic handler has seen since it was last drained.
#[derive(Default)]
struct DiagnosticSink {
    errors: Mutex<Vec<String>>,
}

/// The diagnostic handler installed in every context rivet creates.
///
/// Without a handler, LLVM prints diagnostics to stderr and calls `exit(1)`
/// on the first error (bad bitcode, an invalid inline-asm instruction).
/// With it, error-severity messages are recorded and the caller turns them
/// into an `Err`; warnings, remarks and notes are dropped.
extern "C" fn record_diagnostic(info: LLVMDiagnosticInfoRef, sink: *mut c_void) {
    if info.is_null() || sink.is_null() {
        return;
    }
    // SAFETY: `info` is the live diagnostic LLVM passes for the duration of this call.
    let severity = unsafe { LLVMGetDiagInfoSeverity(info) };
    if severity != LLVMDiagnosticSeverity::LLVMDSError {
        return;
    }
    // SAFETY: as above; the description is allocated for us and disposed by take_message.
    let text = unsafe { take_message(LLVMGetDiagInfoDescription(info)) };
    // SAFETY: `sink` is the address of the `DiagnosticSink` boxed inside the
    // `Context` that owns this LLVM context; the box is freed only after the
    // LLVM context is disposed, so it is live whenever LLVM calls us. Only
    // shared access is taken, and the Mutex serialises it.
    let sink = unsafe { &*sink.cast::<DiagnosticSink>() };
    // A poisoned lock only means a panic elsewhere; the Vec is still usable,
    // and this function must not unwind into LLVM.
    let mut errors = match sink.errors.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    errors.push(text.trim_end().to_owned());
}

/// An LLVM context owned by rivet, with [`record_diagnostic`] installed.
/// Disposed on drop. Whatever lives in it (modules) must be disposed first.
pub(crate) struct Context {
    raw: LLVMContextRef,
    // Boxed so its address stays fixed for LLVM; dropped after `raw` is disposed.
    sink: Box<DiagnosticSink>,
}

impl Context {
    pub(crate) fn new() -> Context {
        // SAFETY: LLVMContextCreate has no preconditions and returns a new context we own.
        let raw = unsafe { LLVMContextCreate() };
        let sink = Box::<DiagnosticSink>::default();
        let sink_ptr: *const DiagnosticSink = &*sink;
        // SAFETY: `raw` is a live context; the handler is a non-unwinding
        // `extern "C"` function and `sink_ptr` stays valid until the context
        // is disposed (see the `sink` field and `Drop`).
        unsafe {
            LLVMContextSetDiagnosticHandler(
                raw,
                Some(record_diagnostic),
                sink_ptr.cast_mut().cast::<c_void>(),
            )
        };
        Context { raw, sink }
    }

    pub(crate) fn raw(&self) -> LLVMContextRef {
        self.raw
    }

    /// Error messages reported since the last call, oldest first.
    pub(crate) fn take_errors(&self) -> Vec<String> {
        let mut errors = match self.sink.errors.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        std::mem::take(&mut *errors)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: `self.raw` is a live context owned only by `self`, and the
        // owners of anything created in it have disposed those first. The
        // sink box is freed after this (field drop), so the handler never
        // sees a dangling pointer.
        unsafe { LLVMContextDispose(self.raw) };
    }
}
