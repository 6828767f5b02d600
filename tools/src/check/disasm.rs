//! LLVM's disassembler, through the C++ shim in `shim/disasm.cpp`: decodes
//! one instruction into its `MCInst` operands, numbered as LLVM numbers them.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr::NonNull;

use super::expr::{Decoded, Operand};
use rivet::{Error, Result};

/// The shim's disassembler state (opaque).
#[repr(C)]
struct RawDisassembler {
    _private: [u8; 0],
}

extern "C" {
    fn rivet_disasm_create(
        triple: *const c_char,
        cpu: *const c_char,
        features: *const c_char,
        err: *mut c_char,
        err_len: usize,
    ) -> *mut RawDisassembler;
    fn rivet_disasm_dispose(d: *mut RawDisassembler);
    fn rivet_disasm_decode(
        d: *mut RawDisassembler,
        bytes: *const u8,
        len: usize,
        address: u64,
        size_out: *mut u64,
        kinds: *mut u8,
        values: *mut i64,
        max_ops: usize,
        n_ops_out: *mut usize,
        text: *mut c_char,
        text_len: usize,
    ) -> c_int;
    fn rivet_disasm_register_name(
        d: *mut RawDisassembler,
        reg: u32,
        out: *mut c_char,
        out_len: usize,
    );
}

// Operand kinds of the shim.
const OP_IMM: u8 = 1;
const OP_REG: u8 = 2;
const OP_SFPIMM: u8 = 3;
const OP_DFPIMM: u8 = 4;

/// A disassembler for one target.
pub struct Disassembler {
    raw: NonNull<RawDisassembler>,
}

fn c_string(value: &str, what: &str) -> Result<CString> {
    CString::new(value).map_err(|_| Error::Llvm(format!("the {what} `{value}` holds a NUL byte")))
}

/// The NUL-terminated text LLVM wrote into `buffer`.
fn text_of(buffer: &[u8]) -> String {
    CStr::from_bytes_until_nul(buffer)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Disassembler {
    /// A disassembler for `triple`, with `cpu` and `features` (empty for the
    /// target's defaults).
    pub fn new(triple: &str, cpu: &str, features: &str) -> Result<Disassembler> {
        rivet::llvm::initialize();
        let c_triple = c_string(triple, "triple")?;
        let c_cpu = c_string(cpu, "CPU name")?;
        let c_features = c_string(features, "feature string")?;
        let mut message = [0u8; 512];
        // SAFETY: the strings are NUL-terminated and live for the call;
        // `message` has the length passed; targets are registered
        // (`initialize` above). The result is null or ours to dispose.
        let raw = unsafe {
            rivet_disasm_create(
                c_triple.as_ptr(),
                c_cpu.as_ptr(),
                c_features.as_ptr(),
                message.as_mut_ptr().cast::<c_char>(),
                message.len(),
            )
        };
        NonNull::new(raw)
            .map(|raw| Disassembler { raw })
            .ok_or_else(|| Error::Llvm(format!("no disassembler: {}", text_of(&message))))
    }

    /// The instruction at the start of `bytes`, which sits at `address`, or
    /// `None` when the bytes are not a valid instruction.
    pub fn decode(&self, bytes: &[u8], address: u64) -> Option<Decoded> {
        let mut capacity = 16;
        loop {
            let mut kinds = vec![0u8; capacity];
            let mut values = vec![0i64; capacity];
            let mut text = [0u8; 256];
            let (mut size, mut count) = (0u64, 0usize);
            // SAFETY: `self.raw` is live; `bytes` is readable for its length;
            // `kinds` and `values` hold `capacity` elements and `text` its
            // length; the out-pointers point at locals.
            let ok = unsafe {
                rivet_disasm_decode(
                    self.raw.as_ptr(),
                    bytes.as_ptr(),
                    bytes.len(),
                    address,
                    &mut size,
                    kinds.as_mut_ptr(),
                    values.as_mut_ptr(),
                    capacity,
                    &mut count,
                    text.as_mut_ptr().cast::<c_char>(),
                    text.len(),
                )
            };
            if ok == 0 {
                return None;
            }
            if count > capacity {
                capacity = count;
                continue;
            }
            let operands = kinds[..count]
                .iter()
                .zip(&values[..count])
                .map(|(&kind, &value)| match kind {
                    OP_IMM => Operand::Imm(value),
                    OP_REG => Operand::Reg(value as u32),
                    OP_SFPIMM => Operand::SfpImm(value as u32),
                    OP_DFPIMM => Operand::DfpImm(value as u64),
                    _ => Operand::Other,
                })
                .collect();
            return Some(Decoded {
                size,
                operands,
                text: text_of(&text),
            });
        }
    }

    /// LLVM's name of register number `reg` ("" when there is none).
    pub fn register_name(&self, reg: u32) -> String {
        let mut name = [0u8; 64];
        // SAFETY: `self.raw` is live and `name` has the length passed.
        unsafe {
            rivet_disasm_register_name(
                self.raw.as_ptr(),
                reg,
                name.as_mut_ptr().cast::<c_char>(),
                name.len(),
            )
        };
        text_of(&name)
    }
}

impl Drop for Disassembler {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from rivet_disasm_create and is disposed once.
        unsafe { rivet_disasm_dispose(self.raw.as_ptr()) };
    }
}

impl std::fmt::Debug for Disassembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disassembler").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
