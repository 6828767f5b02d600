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
    /// `printf`, see [`super::VARIADIC_SUPPORTED`]) or when it calls a
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
mod tests {
    use super::*;
    use crate::bridge::{FunctionSignature, ValueKind};
    use std::sync::Mutex;

    fn host(name: &str, params: &[ValueKind], ret: ValueKind, address: u64) -> HostFunction {
        HostFunction {
            signature: FunctionSignature {
                name: name.into(),
                params: params.to_vec(),
                ret,
                variadic: false,
            },
            address,
        }
    }

    static SEEN: Mutex<Option<(i64, f64, i64, f64)>> = Mutex::new(None);

    /// The host side: records its arguments, clobbers every register System
    /// V lets it clobber that Windows expects kept, and returns a value
    /// computed from all four arguments.
    extern "C" fn mixed(a: i64, b: f64, c: i64, d: f64) -> f64 {
        *SEEN.lock().unwrap() = Some((a, b, c, d));
        // SAFETY: writes registers that are caller-saved in this function's
        // (System V) convention, declared as clobbered.
        unsafe {
            std::arch::asm!(
                "mov rsi, -1",
                "mov rdi, -1",
                "pcmpeqd xmm6, xmm6",
                "pcmpeqd xmm7, xmm7",
                "pcmpeqd xmm11, xmm11",
                "pcmpeqd xmm15, xmm15",
                out("rsi") _, out("rdi") _, out("xmm6") _, out("xmm7") _,
                out("xmm11") _, out("xmm15") _,
            );
        }
        a as f64 * b + c as f64 - d
    }

    /// Calls `thunk` as Windows code would, with (i64, f64, i64, f64) in
    /// rcx, xmm1, r8, xmm3, and known values in rsi, rdi, xmm6, xmm15; gives
    /// the result and those four registers after the call.
    fn call_as_windows(thunk: u64, a: i64, b: f64, c: i64, d: f64) -> (f64, [u64; 4]) {
        let (ret, rsi, rdi, x6, x15): (f64, u64, u64, f64, f64);
        // SAFETY: calls the thunk with a 16-byte aligned stack and 32 bytes
        // of home space, as Windows x64 requires; every register the call
        // may change is an output or clobbered (the System V set, which
        // includes Windows' volatile ones), and rsp is restored from r12.
        unsafe {
            std::arch::asm!(
                "mov r12, rsp",
                "and rsp, -16",
                "sub rsp, 32",
                "call r10",
                "mov rsp, r12",
                in("r10") thunk,
                in("rcx") a,
                in("xmm1") b,
                in("r8") c,
                in("xmm3") d,
                inout("rsi") 0x5151_5151_5151_5151u64 => rsi,
                inout("rdi") 0xD1D1_D1D1_D1D1_D1D1u64 => rdi,
                inout("xmm6") f64::from_bits(0x6666_0000_6666_0006) => x6,
                inout("xmm15") f64::from_bits(0x1515_0000_1515_0015) => x15,
                lateout("xmm0") ret,
                out("r12") _,
                clobber_abi("C"),
            );
        }
        (ret, [rsi, rdi, x6.to_bits(), x15.to_bits()])
    }

    #[test]
    fn thunk_moves_mixed_arguments_and_keeps_windows_callee_saved_registers() {
        use ValueKind::{Int, F64};
        let thunks = Win64Thunks::new(
            "test",
            &[host(
                "mixed",
                &[Int(64), F64, Int(64), F64],
                F64,
                mixed as *const () as u64,
            )],
        )
        .unwrap();
        let thunk = thunks.address("mixed").unwrap();
        let (ret, kept) = call_as_windows(thunk, -7, 2.5, 1_000_000_000_000, 0.125);
        assert_eq!(
            *SEEN.lock().unwrap(),
            Some((-7, 2.5, 1_000_000_000_000, 0.125))
        );
        assert_eq!(ret, -7.0 * 2.5 + 1e12 - 0.125);
        assert_eq!(
            kept,
            [
                0x5151_5151_5151_5151,
                0xD1D1_D1D1_D1D1_D1D1,
                0x6666_0000_6666_0006,
                0x1515_0000_1515_0015
            ],
            "rsi, rdi, xmm6, xmm15 after the call"
        );
    }

    extern "C" fn four_ints(a: u64, b: u64, c: u64, d: u64) -> u64 {
        a * 1000 + b * 100 + c * 10 + d
    }
    extern "C" fn float_first(a: f64, b: u64, c: f32, d: u64) -> f64 {
        a * 3.0 + b as f64 + f64::from(c) * 10.0 + d as f64 * 100.0
    }
    extern "C" fn int_then_floats(a: u64, b: f32, c: f64, d: f64) -> f32 {
        (a as f64 + f64::from(b) * 2.0 + c * 4.0 + d * 8.0) as f32
    }
    extern "C" fn no_args() -> u64 {
        77
    }

    #[test]
    fn thunks_cover_every_argument_order() {
        use ValueKind::{Int, Ptr, F32, F64};
        let thunks = Win64Thunks::new(
            "test",
            &[
                host(
                    "four_ints",
                    &[Int(64), Ptr, Int(32), Int(64)],
                    Int(64),
                    four_ints as *const () as u64,
                ),
                host(
                    "float_first",
                    &[F64, Int(64), F32, Int(64)],
                    F64,
                    float_first as *const () as u64,
                ),
                host(
                    "int_then_floats",
                    &[Int(64), F32, F64, F64],
                    F32,
                    int_then_floats as *const () as u64,
                ),
                host("no_args", &[], Int(64), no_args as *const () as u64),
            ],
        )
        .unwrap();
        assert_eq!(thunks.thunks().len(), 4);
        // SAFETY: each thunk bridges a function of exactly this signature.
        unsafe {
            let f: extern "win64" fn(u64, u64, u64, u64) -> u64 =
                std::mem::transmute(thunks.address("four_ints").unwrap() as usize);
            assert_eq!(f(1, 2, 3, 4), 1234);
            let f: extern "win64" fn(f64, u64, f32, u64) -> f64 =
                std::mem::transmute(thunks.address("float_first").unwrap() as usize);
            assert_eq!(f(0.5, 7, 0.25, 3), 1.5 + 7.0 + 2.5 + 300.0);
            let f: extern "win64" fn(u64, f32, f64, f64) -> f32 =
                std::mem::transmute(thunks.address("int_then_floats").unwrap() as usize);
            assert_eq!(f(1, 0.5, 0.25, 0.125), 4.0);
            let f: extern "win64" fn() -> u64 =
                std::mem::transmute(thunks.address("no_args").unwrap() as usize);
            assert_eq!(f(), 77);
        }
    }

    #[test]
    fn thunks_are_read_execute_and_never_writable() {
        let thunks = Win64Thunks::new(
            "test",
            &[host(
                "no_args",
                &[],
                ValueKind::Int(64),
                no_args as *const () as u64,
            )],
        )
        .unwrap();
        let addr = thunks.address("no_args").unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let perms = maps
            .lines()
            .find_map(|line| {
                let (range, rest) = line.split_once(' ')?;
                let (a, b) = range.split_once('-')?;
                let (a, b) = (
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                );
                (a <= addr && addr < b).then(|| rest[..4].to_owned())
            })
            .unwrap();
        assert_eq!(perms, "r-xp");
    }

    #[test]
    fn unsupported_signatures_are_refused_by_name() {
        use ValueKind::{Int, Other, Ptr, Void, F64};
        let refused = |f: HostFunction| Win64Thunks::new("prog.ll", &[f]).unwrap_err().to_string();
        let five = refused(host("five", &[Int(64); 5], Int(64), 0));
        assert!(
            five.contains("`five`") && five.contains("5 arguments") && five.contains("prog.ll"),
            "{five}"
        );
        let agg = refused(host("agg", &[Ptr, Other], Void, 0));
        assert!(
            agg.contains("`agg`") && agg.contains("parameter 2"),
            "{agg}"
        );
        let wide = refused(host("wide", &[F64], Int(128), 0));
        assert!(wide.contains("returns i128"), "{wide}");
        let mut fprintf = host("fprintf", &[Ptr, Ptr], Int(32), 0);
        fprintf.signature.variadic = true;
        let message = refused(fprintf);
        assert!(
            message.contains("`fprintf`") && message.contains("variadic"),
            "{message}"
        );
        let cb = refused(host("atexit", &[Ptr], Int(32), 0));
        assert!(cb.contains("`atexit`"), "{cb}");
    }
}
