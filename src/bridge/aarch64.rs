//! AArch64 code in the emulator calling host functions (feature `emulator`);
//! RISC-V 64 code uses the same bridges, with the differences of its
//! convention in [`super::riscv64`].
//!
//! Each host function gets a bridge of [`Aarch64Emulator`]: when emulated
//! code calls it, the host function runs with the guest's argument
//! registers — the k-th integer or pointer argument from `x<k>`, the k-th
//! floating-point one from `d<k>` (AAPCS64 counts the two kinds apart, as
//! System V does) — and its result goes back to `x0` or `d0`.
//!
//! Limits: at most six integer/pointer arguments (the host passes no more in
//! registers) and eight floating-point ones. Pointers cross unchanged, since
//! guest memory is host memory at the same addresses; but a pointer a host
//! function *returns* (from `malloc`, `getenv`) points at memory the
//! emulator has not mapped, so emulated code cannot read through it.
//!
//! Variadic functions: `printf` only (see `super::VARIADIC_SUPPORTED`),
//! and only where variadic arguments travel in registers, as on ELF
//! (AAPCS64), where the arguments are read from `x1`-`x7` and `d0`-`d7` as
//! the format string says. Windows arm64 (COFF) passes named arguments as
//! AAPCS64 does but every variadic one in `x0`-`x7` as an integer, doubles
//! included; its `printf` reads `x1`-`x7` in order as RISC-V's does
//! ([`VariadicArgs::IntegerRegisters`]). Apple's arm64 convention passes
//! them on the stack, which a bridge does not see: there `printf` is refused.

use std::ffi::{c_char, CStr};

use super::printf::{self, VarArgs};
use super::{HostFunction, RegClass, ValueKind, CALLBACK_TAKERS, VARIADIC_SUPPORTED};
use crate::emulator::{Aarch64Emulator, HostArgs, HostReturn, Isa};
use crate::{Error, Result};

/// Where a target's convention passes variadic arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariadicArgs {
    /// In registers, like named arguments (AAPCS64: ELF AArch64).
    InRegisters,
    /// On the stack (Apple arm64: Mach-O).
    OnStack,
    /// In the integer registers, doubles included, after the named ones
    /// (RISC-V lp64d and Windows arm64: variadic floating-point arguments go
    /// as integers).
    IntegerRegisters,
}

/// Integer arguments the host takes in registers (System V: rdi, rsi,
/// rdx, rcx, r8, r9; AArch64 hosts take more, but six is what both give).
const HOST_INT_ARGS: usize = 6;
/// Floating-point arguments both sides pass in registers.
const FLOAT_ARGS: usize = 8;

/// The host function at `address`, called as if it took six integer and
/// eight floating-point arguments.
type WideIntFn =
    extern "C" fn(u64, u64, u64, u64, u64, u64, f64, f64, f64, f64, f64, f64, f64, f64) -> u64;
type WideF64Fn =
    extern "C" fn(u64, u64, u64, u64, u64, u64, f64, f64, f64, f64, f64, f64, f64, f64) -> f64;
type WideF32Fn =
    extern "C" fn(u64, u64, u64, u64, u64, u64, f64, f64, f64, f64, f64, f64, f64, f64) -> f32;

/// Bridges every function of `functions` in `emu` (call
/// [`Aarch64Emulator::add_global_mappings`] afterwards, before linking).
/// `object` names the calling program in errors; `variadic` is the target's
/// convention for variadic arguments.
///
/// # Errors
///
/// [`Error::UnsupportedObject`] naming a function that cannot be bridged and
/// why; [`Error::Emulator`] when the emulator runs out of bridge addresses.
pub fn bridge_host_functions(
    emu: &mut Aarch64Emulator,
    object: &str,
    functions: &[HostFunction],
    variadic: VariadicArgs,
) -> Result<()> {
    let isa = emu.isa();
    let isa_name = match isa {
        Isa::Aarch64 => "AArch64",
        Isa::Riscv64 => "RISC-V",
    };
    let refuse = |name: &str, why: String| Error::UnsupportedObject {
        object: object.to_owned(),
        reason: format!(
            "it calls host function `{name}`, which emulated {isa_name} code cannot reach: {why}"
        ),
    };
    for function in functions {
        let sig = &function.signature;
        let name = sig.name.as_str();
        if CALLBACK_TAKERS.contains(&name) {
            return Err(refuse(
                name,
                "the host would call the function it is given as host code, outside the emulator"
                    .into(),
            ));
        }
        if sig.variadic {
            if !VARIADIC_SUPPORTED.contains(&name) {
                return Err(refuse(
                    name,
                    format!(
                        "it is variadic ({sig}); of variadic functions only {} can be forwarded",
                        VARIADIC_SUPPORTED.join(", ")
                    ),
                ));
            }
            if variadic == VariadicArgs::OnStack {
                return Err(refuse(
                    name,
                    "it is variadic, and Apple's arm64 convention passes variadic arguments on \
                     the stack, which the emulator's bridges do not read (use puts or another \
                     fixed-argument function)"
                        .into(),
                ));
            }
            if variadic == VariadicArgs::IntegerRegisters {
                emu.bridge(
                    name,
                    Box::new(super::riscv64::printf_from_integer_registers),
                )?;
            } else {
                emu.bridge(name, Box::new(printf_from_registers))?;
            }
            continue;
        }
        let classes = sig
            .param_classes()
            .and_then(|c| sig.check_result().map(|()| c))
            .map_err(|why| refuse(name, format!("{why} ({sig})")))?;
        let ints = classes.iter().filter(|c| **c == RegClass::Int).count();
        let floats = classes.len() - ints;
        if ints > HOST_INT_ARGS || floats > FLOAT_ARGS {
            return Err(refuse(
                name,
                format!(
                    "it takes {ints} integer and {floats} floating-point arguments ({sig}); \
                     bridges pass at most {HOST_INT_ARGS} and {FLOAT_ARGS}"
                ),
            ));
        }
        let (address, ret) = (function.address, sig.ret);
        if isa == Isa::Riscv64 {
            emu.bridge(
                name,
                Box::new(move |args| super::riscv64::to_guest(ret, call_host(address, ret, args))),
            )?;
        } else {
            emu.bridge(name, Box::new(move |args| call_host(address, ret, args)))?;
        }
    }
    Ok(())
}

/// Calls the host function at `address` with the guest's registers.
pub(super) fn call_host(address: u64, ret: ValueKind, args: &HostArgs) -> HostReturn {
    let [x0, x1, x2, x3, x4, x5, ..] = args.x;
    let [d0, d1, d2, d3, d4, d5, d6, d7] = args.d;
    // SAFETY: `address` is a host function of signature `ret (params)`, whose
    // parameters are at most six integers/pointers and eight floating-point
    // values (checked in `bridge_host_functions`). On the host conventions
    // (System V x86-64, AAPCS64) those travel in registers counted per kind,
    // so the k-th integer parameter is the k-th integer argument here, the
    // same for floats (a `float` is the low half of its register), and the
    // registers the function does not declare are ignored by it. The result
    // is read from the register its kind returns in.
    unsafe {
        match ret {
            ValueKind::F64 => {
                let f: WideF64Fn = std::mem::transmute(address as usize);
                HostReturn::Float(f(x0, x1, x2, x3, x4, x5, d0, d1, d2, d3, d4, d5, d6, d7))
            }
            ValueKind::F32 => {
                let f: WideF32Fn = std::mem::transmute(address as usize);
                let v = f(x0, x1, x2, x3, x4, x5, d0, d1, d2, d3, d4, d5, d6, d7);
                HostReturn::Float(f64::from_bits(u64::from(v.to_bits())))
            }
            ValueKind::Void => {
                let f: WideIntFn = std::mem::transmute(address as usize);
                f(x0, x1, x2, x3, x4, x5, d0, d1, d2, d3, d4, d5, d6, d7);
                HostReturn::Void
            }
            _ => {
                let f: WideIntFn = std::mem::transmute(address as usize);
                HostReturn::Int(f(x0, x1, x2, x3, x4, x5, d0, d1, d2, d3, d4, d5, d6, d7))
            }
        }
    }
}

/// AAPCS64 variadic arguments: after the format in `x0`, integers and
/// pointers from `x1`-`x7`, doubles from `d0`-`d7`.
struct Registers<'a> {
    args: &'a HostArgs,
    next_int: usize,
    next_float: usize,
}

impl VarArgs for Registers<'_> {
    fn int(&mut self) -> Option<u64> {
        let v = self.args.x.get(self.next_int).copied();
        self.next_int += 1;
        v
    }

    fn double(&mut self) -> Option<f64> {
        let v = self.args.d.get(self.next_float).copied();
        self.next_float += 1;
        v
    }
}

fn printf_from_registers(args: &HostArgs) -> HostReturn {
    let format = args.x[0] as usize as *const c_char;
    if format.is_null() {
        return HostReturn::Int(-1i64 as u64);
    }
    // SAFETY: the guest passes its format string, a NUL-terminated string in
    // guest memory, which is host memory at the same address.
    let format = unsafe { CStr::from_ptr(format) };
    let mut regs = Registers {
        args,
        next_int: 1,
        next_float: 0,
    };
    let written = printf::print("printf from emulated AArch64 code", format, &mut regs);
    HostReturn::Int(i64::from(written) as u64)
}

#[cfg(test)]
mod tests;
