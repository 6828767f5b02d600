//! RISC-V 64 code in the emulator calling host functions (feature
//! `emulator`): the bridges of [`super::aarch64`], with the two places where
//! the lp64d convention differs from AAPCS64.
//!
//! - Named arguments travel as on AArch64, counted per kind: integers and
//!   pointers in `a0`-`a7`, floating-point values in `fa0`-`fa7` (the
//!   emulator reads those into [`HostArgs::x`] and [`HostArgs::d`]). A
//!   `float` in a 64-bit floating-point register is *NaN-boxed* (its upper
//!   32 bits all ones), so a `float` result is boxed on its way back
//!   (`to_guest`); a `float` argument is its register's low half, which is
//!   what the host reads. An integer result of 32 bits or fewer is
//!   sign-extended from bit 31, as lp64 keeps every 32-bit value in a
//!   64-bit register (the host leaves the upper half undefined).
//! - Variadic arguments go in the integer registers, doubles included (as
//!   their bits), after the named ones: `printf`'s conversions read `a1`-`a7`
//!   in order whatever their kind (`printf_from_integer_registers`).

use std::ffi::{c_char, CStr};

use super::printf::{self, VarArgs};
use super::ValueKind;
use crate::emulator::{HostArgs, HostReturn};

/// The upper half of a NaN-boxed `float` in a 64-bit FP register.
const NAN_BOX: u64 = 0xffff_ffff_0000_0000;

/// `result` as the guest's convention returns it: a `float` (the low 32
/// bits of a [`HostReturn::Float`]) NaN-boxed, an integer of at most 32 bits
/// sign-extended from bit 31 (lp64 widens every 32-bit value so, whatever
/// its sign; the host's `int` is its register's low half); everything else
/// unchanged.
pub(crate) fn to_guest(ret: ValueKind, result: HostReturn) -> HostReturn {
    match (ret, result) {
        (ValueKind::F32, HostReturn::Float(v)) => {
            HostReturn::Float(f64::from_bits(NAN_BOX | (v.to_bits() & 0xffff_ffff)))
        }
        (ValueKind::Int(bits), HostReturn::Int(v)) if bits <= 32 => {
            HostReturn::Int(i64::from(v as u32 as i32) as u64)
        }
        (_, other) => other,
    }
}

/// lp64d variadic arguments: after the format in `a0`, every argument from
/// `a1`-`a7` in turn, a `double` as its bits.
struct IntegerRegisters<'a> {
    args: &'a HostArgs,
    next: usize,
}

impl VarArgs for IntegerRegisters<'_> {
    fn int(&mut self) -> Option<u64> {
        let v = self.args.x.get(self.next).copied();
        self.next += 1;
        v
    }

    fn double(&mut self) -> Option<f64> {
        self.int().map(f64::from_bits)
    }
}

/// `printf` called from RISC-V code: the format in `a0`, the arguments in
/// `a1`-`a7` (no more: those on the stack are not read). Windows arm64
/// passes variadic arguments the same way (`x0`, then `x1`-`x7`).
pub(crate) fn printf_from_integer_registers(args: &HostArgs) -> HostReturn {
    let format = args.x[0] as usize as *const c_char;
    if format.is_null() {
        return HostReturn::Int(-1i64 as u64);
    }
    // SAFETY: the guest passes its format string, a NUL-terminated string in
    // guest memory, which is host memory at the same address.
    let format = unsafe { CStr::from_ptr(format) };
    let mut regs = IntegerRegisters { args, next: 1 };
    let written = printf::print("printf from emulated code", format, &mut regs);
    HostReturn::Int(i64::from(written) as u64)
}

#[cfg(test)]
mod tests;
