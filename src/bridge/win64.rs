//! Windows x64 → System V thunks: how COFF x86-64 code calls host functions.
//!
//! The two x86-64 conventions differ in three ways that matter here:
//!
//! - arguments: Windows gives each of the first four arguments a slot by
//!   position (`rcx`, `rdx`, `r8`, `r9`, or `xmm0`-`xmm3` for a float in
//!   that position); System V counts integer and float arguments separately
//!   (`rdi`, `rsi`, `rdx`, `rcx`, `r8`, `r9`, and `xmm0`-`xmm7`);
//! - registers a callee must keep: Windows also counts `rsi`, `rdi` and
//!   `xmm6`-`xmm15` as callee-saved, which a System V function may clobber;
//! - the stack: a Windows caller leaves 32 bytes of "home" space above the
//!   return address for the callee (System V has none; it is simply unused).
//!
//! A thunk, for a signature with at most four arguments:
//!
//! ```text
//! push rsi; push rdi; sub rsp, 168       ; rsp is 16-byte aligned again
//! movaps [rsp + 16*i], xmm(6+i)  (i = 0..9)
//! mov rdi, rcx ... / movaps xmm0, xmm1 ... ; positional → counted, in order
//! mov r11, host; call r11
//! movaps xmm(6+i), [rsp + 16*i]; add rsp, 168; pop rdi; pop rsi; ret
//! ```
//!
//! Moving arguments in order is safe: the k-th integer argument sits at a
//! position p ≥ k, so its System V register is never the Windows register
//! of an argument still to be moved (the same holds for floats). Results
//! come back in `rax` or `xmm0` in both conventions.
//!
//! `printf` gets a thunk of another shape: it stores `rcx`, `rdx`, `r8` and
//! `r9` into the home space, which makes every argument an 8-byte slot in
//! order (the Windows variadic layout), and passes a pointer to the slots to
//! a handler that reads them as the format string says.
//!
//! Thunks live in memory written once and then made read+execute (never
//! writable and executable at once); it is unmapped when [`Win64Thunks`] is
//! dropped, so keep it alive as long as the code that calls through it.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::printf::{self, VarArgs};
use super::{HostFunction, RegClass, CALLBACK_TAKERS, VARIADIC_SUPPORTED};
use crate::memory::HostPages;
use crate::{Error, Result};

/// Integer argument registers by position (Windows x64): rcx, rdx, r8, r9.
const WIN64_INT_ARGS: [u8; 4] = [1, 2, 8, 9];
/// Integer argument registers in order (System V): rdi, rsi, rdx, rcx.
const SYSV_INT_ARGS: [u8; 4] = [7, 6, 2, 1];
/// Bytes below the two pushes: xmm6-xmm15 (10 × 16) plus 8 that realign
/// the stack to 16 bytes at the call.
const FRAME: u32 = 168;
/// Where each thunk starts: a multiple of this.
const THUNK_ALIGN: usize = 16;

/// Generated Windows x64 → System V thunks, one per host function, in
/// read+execute memory (see the module docs).
pub struct Win64Thunks {
    /// The thunks' code, read + execute; `None` when there are none.
    pages: Option<HostPages>,
    addresses: BTreeMap<String, u64>,
}

impl Win64Thunks {
    /// Builds one thunk per function. `object` names the program that calls
    /// them, for errors.
    ///
    /// A function is refused when it has more than four arguments, an
    /// argument or result that is not an integer of at most 64 bits, a
    /// pointer, a `float` or a `double`, when it is variadic (except
    /// `printf`, see `super::VARIADIC_SUPPORTED`) or when it calls a
    /// function pointer back later (`atexit`).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedObject`] naming the function and why;
    /// [`Error::Memory`] when the thunks' memory cannot be mapped or protected.
    pub fn new(object: &str, functions: &[HostFunction]) -> Result<Win64Thunks> {
        let refuse = |name: &str, why: String| Error::UnsupportedObject {
            object: object.to_owned(),
            reason: format!(
                "it calls host function `{name}`, which Windows x64 code cannot reach: {why}"
            ),
        };
        let mut code = Vec::new();
        let mut offsets = Vec::new();
        for function in functions {
            let sig = &function.signature;
            if CALLBACK_TAKERS.contains(&sig.name.as_str()) {
                return Err(refuse(
                    &sig.name,
                    "the host would call the function it is given in the System V convention"
                        .into(),
                ));
            }
            while code.len() % THUNK_ALIGN != 0 {
                code.push(0xCC); // int3 between thunks
            }
            offsets.push((sig.name.clone(), code.len()));
            if sig.variadic {
                if !VARIADIC_SUPPORTED.contains(&sig.name.as_str()) {
                    return Err(refuse(
                        &sig.name,
                        format!(
                            "it is variadic ({sig}); of variadic functions only {} can be forwarded",
                            VARIADIC_SUPPORTED.join(", ")
                        ),
                    ));
                }
                emit_slots_thunk(&mut code, win64_printf as *const () as u64);
                continue;
            }
            let classes = sig
                .param_classes()
                .and_then(|c| sig.check_result().map(|()| c))
                .map_err(|why| refuse(&sig.name, format!("{why} ({sig})")))?;
            if classes.len() > 4 {
                return Err(refuse(
                    &sig.name,
                    format!(
                        "it has {} arguments ({sig}); thunks pass the four that Windows x64 passes in registers",
                        classes.len()
                    ),
                ));
            }
            emit_fixed_thunk(&mut code, &classes, function.address);
        }
        // Written once, then read + execute: W^X holds throughout.
        let pages = (!code.is_empty())
            .then(|| HostPages::with_code(&code, "win64 thunks"))
            .transpose()?;
        let base = pages.as_ref().map_or(0, HostPages::addr);
        let addresses = offsets
            .into_iter()
            .map(|(name, offset)| (name, base + offset as u64))
            .collect();
        Ok(Win64Thunks { pages, addresses })
    }

    /// The thunk of `name`.
    pub fn address(&self, name: &str) -> Option<u64> {
        self.addresses.get(name).copied()
    }

    /// Every function's name and thunk address, in name order.
    pub fn thunks(&self) -> Vec<(String, u64)> {
        self.addresses
            .iter()
            .map(|(n, &a)| (n.clone(), a))
            .collect()
    }

    /// Maps every function's name to its thunk in `engine`
    /// (`add_global_mapping`, which wins over every other definition), so
    /// that code linked from now on calls the host through the thunks.
    pub fn add_global_mappings(&self, engine: &crate::ExecutionEngine) {
        for (name, &addr) in &self.addresses {
            engine.add_global_mapping(name, addr);
        }
    }
}

impl std::fmt::Debug for Win64Thunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Win64Thunks")
            .field("pages", &self.pages)
            .field("thunks", &self.addresses)
            .finish()
    }
}

/// `push rsi; push rdi; sub rsp, FRAME; movaps [rsp+16i], xmm(6+i)`.
fn emit_prologue(code: &mut Vec<u8>) {
    code.extend_from_slice(&[0x56, 0x57]);
    code.extend_from_slice(&[0x48, 0x81, 0xEC]);
    code.extend_from_slice(&FRAME.to_le_bytes());
    for i in 0..10u8 {
        emit_movaps_rsp(code, 0x29, 6 + i, u32::from(i) * 16);
    }
}

/// `movaps xmm(6+i), [rsp+16i]; add rsp, FRAME; pop rdi; pop rsi; ret`.
fn emit_epilogue(code: &mut Vec<u8>) {
    for i in 0..10u8 {
        emit_movaps_rsp(code, 0x28, 6 + i, u32::from(i) * 16);
    }
    code.extend_from_slice(&[0x48, 0x81, 0xC4]);
    code.extend_from_slice(&FRAME.to_le_bytes());
    code.extend_from_slice(&[0x5F, 0x5E, 0xC3]);
}

/// `movaps [rsp+disp32], xmmN` (opcode 0x29) or `movaps xmmN, [rsp+disp32]` (0x28).
fn emit_movaps_rsp(code: &mut Vec<u8>, opcode: u8, xmm: u8, disp: u32) {
    if xmm >= 8 {
        code.push(0x44); // REX.R
    }
    code.extend_from_slice(&[0x0F, opcode, 0x84 | ((xmm & 7) << 3), 0x24]);
    code.extend_from_slice(&disp.to_le_bytes());
}

/// `mov r11, target; call r11`.
fn emit_call(code: &mut Vec<u8>, target: u64) {
    code.extend_from_slice(&[0x49, 0xBB]);
    code.extend_from_slice(&target.to_le_bytes());
    code.extend_from_slice(&[0x41, 0xFF, 0xD3]);
}

/// `mov dst, src` between 64-bit general registers (numbered as in ModRM).
fn emit_mov_gpr(code: &mut Vec<u8>, dst: u8, src: u8) {
    let rex = 0x48 | ((src >> 3) << 2) | (dst >> 3);
    code.extend_from_slice(&[rex, 0x89, 0xC0 | ((src & 7) << 3) | (dst & 7)]);
}

/// `movaps xmm(dst), xmm(src)` for registers 0-7.
fn emit_movaps_xmm(code: &mut Vec<u8>, dst: u8, src: u8) {
    code.extend_from_slice(&[0x0F, 0x28, 0xC0 | (dst << 3) | src]);
}

/// A thunk for a fixed signature of at most four arguments.
fn emit_fixed_thunk(code: &mut Vec<u8>, classes: &[RegClass], target: u64) {
    emit_prologue(code);
    let (mut ints, mut floats) = (0usize, 0u8);
    for (position, class) in classes.iter().enumerate() {
        match class {
            RegClass::Int => {
                let (dst, src) = (SYSV_INT_ARGS[ints], WIN64_INT_ARGS[position]);
                if dst != src {
                    emit_mov_gpr(code, dst, src);
                }
                ints += 1;
            }
            RegClass::Float => {
                let src = position as u8;
                if floats != src {
                    emit_movaps_xmm(code, floats, src);
                }
                floats += 1;
            }
        }
    }
    emit_call(code, target);
    emit_epilogue(code);
}

/// A thunk that stores the register arguments into the home space and calls
/// `handler(slots)` (System V) with `slots` pointing at the first argument.
fn emit_slots_thunk(code: &mut Vec<u8>, handler: u64) {
    // mov [rsp+8], rcx; mov [rsp+16], rdx; mov [rsp+24], r8; mov [rsp+32], r9
    code.extend_from_slice(&[0x48, 0x89, 0x4C, 0x24, 0x08]);
    code.extend_from_slice(&[0x48, 0x89, 0x54, 0x24, 0x10]);
    code.extend_from_slice(&[0x4C, 0x89, 0x44, 0x24, 0x18]);
    code.extend_from_slice(&[0x4C, 0x89, 0x4C, 0x24, 0x20]);
    emit_prologue(code);
    // lea rdi, [rsp + FRAME + 16 + 8]: past the frame, the two pushes and
    // the return address, to the first home slot.
    code.extend_from_slice(&[0x48, 0x8D, 0xBC, 0x24]);
    code.extend_from_slice(&(FRAME + 24).to_le_bytes());
    emit_call(code, handler);
    emit_epilogue(code);
}

/// Windows variadic arguments: 8-byte slots in order, a `double` as its bits.
struct Slots {
    next: *const u64,
}

impl VarArgs for Slots {
    fn int(&mut self) -> Option<u64> {
        // SAFETY: `next` walks the caller's argument slots upwards on its
        // stack; a format that asks for more arguments than were passed reads
        // the caller's frame above them, as C's printf would.
        let value = unsafe { self.next.read_unaligned() };
        self.next = self.next.wrapping_add(1);
        Some(value)
    }

    fn double(&mut self) -> Option<f64> {
        self.int().map(f64::from_bits)
    }
}

/// The handler of the `printf` thunk: `slots[0]` is the format, the
/// arguments follow.
extern "C" fn win64_printf(slots: *const u64) -> c_int {
    // A panic must not unwind out of an `extern "C"` function (it aborts).
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the thunk passes the address of the first home slot, which
        // holds the format pointer the caller passed in rcx.
        let format = unsafe { slots.read() } as *const c_char;
        if format.is_null() {
            return -1;
        }
        // SAFETY: the caller's format is a NUL-terminated C string, as
        // printf requires.
        let format = unsafe { CStr::from_ptr(format) };
        let mut args = Slots {
            next: slots.wrapping_add(1),
        };
        printf::print("printf from Windows x64 code", format, &mut args)
    }))
    .unwrap_or(-1)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests;
