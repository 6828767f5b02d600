//! Calls from code of another calling convention to host functions.
//!
//! rivet links code for targets whose calling convention is not the host's:
//! COFF x86-64 code uses the Windows x64 convention, and AArch64 (ELF,
//! Mach-O and COFF arm64) and RISC-V code runs in the emulator (feature
//! `emulator`). When such code calls a function of
//! this process (`puts`, `sin`), the call has to be translated. This module
//! does that from the function's signature (as the IR declares it, see
//! `rivet::llvm::Module::declared_functions`):
//!
//! - [`Win64Thunks`]: generated machine code, one thunk a function, that
//!   takes a Windows x64 call, makes the System V call and returns.
//! - `aarch64` (feature `emulator`), with `riscv64` for what RISC-V's
//!   convention does differently: bridges of the emulator that call
//!   the host function with the guest's argument registers.
//! - `printf` is variadic: a fixed thunk cannot forward it, so both bridges
//!   read its arguments as the format string says and print each conversion
//!   with the host's `printf` (see `VARIADIC_SUPPORTED`).
//!
//! What can cross: up to four (Windows x64) or six integer/pointer and
//! eight floating-point (AArch64, RISC-V) arguments of kinds [`ValueKind::Int`] (at
//! most 64 bits), [`ValueKind::Ptr`], [`ValueKind::F32`] and
//! [`ValueKind::F64`], and a result of one of those kinds or
//! [`ValueKind::Void`]. Integers narrower than 64 bits cross as the caller
//! left their register (neither convention promises the upper bits).
//! Pointers cross unchanged: rivet's memory, the emulator's guest memory
//! included, is host memory at the same addresses. A host function that
//! calls back into foreign code (a function pointer given to `atexit` or
//! `qsort`) cannot be bridged: the host would call it in its own convention.

mod printf;
mod win64;

#[cfg(feature = "emulator")]
pub mod aarch64;
#[cfg(feature = "emulator")]
pub mod riscv64;

pub use win64::Win64Thunks;

use std::ffi::CString;

/// How a parameter or result of a function is passed, as far as calls
/// across conventions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// An integer of this many bits (`i1` to `i128`).
    Int(u32),
    /// A pointer.
    Ptr,
    /// `float`.
    F32,
    /// `double`.
    F64,
    /// No value (a result only).
    Void,
    /// Anything else: aggregates, vectors, `x86_fp80`, ...
    Other,
}

/// Which registers a value travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegClass {
    /// General-purpose registers.
    Int,
    /// Floating-point / vector registers.
    Float,
}

impl ValueKind {
    /// The register class of a value of this kind, for the kinds that can
    /// cross a bridge (`None` for the others and for `Void`).
    pub(crate) fn class(self) -> Option<RegClass> {
        match self {
            ValueKind::Int(bits) if (1..=64).contains(&bits) => Some(RegClass::Int),
            ValueKind::Ptr => Some(RegClass::Int),
            ValueKind::F32 | ValueKind::F64 => Some(RegClass::Float),
            _ => None,
        }
    }
}

impl std::fmt::Display for ValueKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueKind::Int(bits) => write!(f, "i{bits}"),
            ValueKind::Ptr => f.write_str("ptr"),
            ValueKind::F32 => f.write_str("float"),
            ValueKind::F64 => f.write_str("double"),
            ValueKind::Void => f.write_str("void"),
            ValueKind::Other => f.write_str("<aggregate or other type>"),
        }
    }
}

/// The signature of a function, as an IR declaration gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSignature {
    /// The function's name.
    pub name: String,
    /// Its parameters, in order.
    pub params: Vec<ValueKind>,
    /// Its result ([`ValueKind::Void`] for none).
    pub ret: ValueKind,
    /// Declared with `...`.
    pub variadic: bool,
}

impl FunctionSignature {
    /// The register class of every parameter, or why one cannot cross.
    pub(crate) fn param_classes(&self) -> Result<Vec<RegClass>, String> {
        self.params
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                kind.class()
                    .ok_or_else(|| format!("parameter {} has type {kind}", i + 1))
            })
            .collect()
    }

    /// Whether the result can cross (any class, or none).
    pub(crate) fn check_result(&self) -> Result<(), String> {
        match self.ret {
            ValueKind::Void => Ok(()),
            kind if kind.class().is_some() => Ok(()),
            kind => Err(format!("it returns {kind}")),
        }
    }
}

impl std::fmt::Display for FunctionSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}(", self.ret, self.name)?;
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        if self.variadic {
            f.write_str(if self.params.is_empty() {
                "..."
            } else {
                ", ..."
            })?;
        }
        f.write_str(")")
    }
}

/// A host function that foreign code calls: its signature and its address
/// in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFunction {
    /// What the function takes and returns.
    pub signature: FunctionSignature,
    /// The function's address in this process.
    pub address: u64,
}

/// The variadic host functions the bridges forward (by reading the format
/// string); every other variadic function is refused.
pub(crate) const VARIADIC_SUPPORTED: &[&str] = &["printf"];

/// Functions that take a function pointer and call it later from the host,
/// in the host's convention: never bridged, since foreign code cannot be
/// called that way.
pub const CALLBACK_TAKERS: &[&str] = &["atexit", "__cxa_atexit", "at_quick_exit", "on_exit"];

/// The signature of a C library function that code generation calls
/// without any IR declaration, so that bridges know it: block copies and
/// fills of large or unknown size, the libm functions LLVM lowers its math
/// intrinsics and builtins to (`llvm.sin.f64` is a call to `sin`,
/// `llvm.pow.f32` to `powf`; on Mach-O the same names with `_`), the
/// `sincos` pair LLVM may merge a `sin` and a `cos` of one value into, and
/// the stack protector's failure call.
pub fn libcall_signature(name: &str) -> Option<FunctionSignature> {
    let sig = |params: &[ValueKind], ret| FunctionSignature {
        name: name.to_owned(),
        params: params.to_vec(),
        ret,
        variadic: false,
    };
    use ValueKind::{Int, Ptr, Void, F32, F64};
    if let Some(float) = libm_signature(name) {
        return Some(float);
    }
    Some(match name {
        "memcpy" | "memmove" => sig(&[Ptr, Ptr, Int(64)], Ptr),
        "memset" => sig(&[Ptr, Int(32), Int(64)], Ptr),
        "memcmp" | "bcmp" => sig(&[Ptr, Ptr, Int(64)], Int(32)),
        "bzero" => sig(&[Ptr, Int(64)], Void),
        "sincos" => sig(&[F64, Ptr, Ptr], Void),
        "sincosf" => sig(&[F32, Ptr, Ptr], Void),
        // compiler-rt / libgcc: `llvm.powi`.
        "__powidf2" => sig(&[F64, Int(32)], F64),
        "__powisf2" => sig(&[F32, Int(32)], F32),
        "__stack_chk_fail" => sig(&[], Void),
        _ => return None,
    })
}

/// The libm functions of one `double` or `float` shape: `double f(double)`,
/// `double f(double, double)`, `double f(double, int)`, `double f(double,
/// double *)`... and their `float` twins (the same name with `f`).
fn libm_signature(name: &str) -> Option<FunctionSignature> {
    use ValueKind::{Int, Ptr, F32, F64};
    // One argument, one result.
    const UNARY: &[&str] = &[
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "tanh",
        "asinh",
        "acosh",
        "atanh",
        "exp",
        "exp2",
        "exp10",
        "expm1",
        "log",
        "log2",
        "log10",
        "log1p",
        "sqrt",
        "cbrt",
        "floor",
        "ceil",
        "trunc",
        "round",
        "roundeven",
        "rint",
        "nearbyint",
        "fabs",
        "erf",
        "erfc",
        "tgamma",
        "lgamma",
    ];
    // Two arguments of the same type.
    const BINARY: &[&str] = &[
        "pow",
        "fmod",
        "atan2",
        "fmin",
        "fmax",
        "fminimum",
        "fmaximum",
        "copysign",
        "hypot",
        "remainder",
        "fdim",
        "nextafter",
    ];
    let (base, float) = match name.strip_suffix('f') {
        // `erf` is itself a name ending in f.
        Some(base) if name != "erf" && libm_base(base, UNARY, BINARY) => (base, F32),
        _ => (name, F64),
    };
    let (params, ret) = if UNARY.contains(&base) {
        (vec![float], float)
    } else if BINARY.contains(&base) {
        (vec![float, float], float)
    } else {
        match base {
            "fma" => (vec![float, float, float], float),
            "ldexp" | "scalbn" => (vec![float, Int(32)], float),
            "frexp" => (vec![float, Ptr], float),
            "modf" => (vec![float, Ptr], float),
            // `long` is 64 bits on the host; LLP64 callers read the low half.
            "lround" | "lrint" | "llround" | "llrint" => (vec![float], Int(64)),
            _ => return None,
        }
    };
    Some(FunctionSignature {
        name: name.to_owned(),
        params,
        ret,
        variadic: false,
    })
}

/// Whether `base` is a libm name of [`libm_signature`]'s shapes.
fn libm_base(base: &str, unary: &[&str], binary: &[&str]) -> bool {
    unary.contains(&base)
        || binary.contains(&base)
        || matches!(
            base,
            "fma"
                | "ldexp"
                | "scalbn"
                | "frexp"
                | "modf"
                | "lround"
                | "lrint"
                | "llround"
                | "llrint"
        )
}

/// The address of `name` in this process (the executable and every library
/// it loaded), as `dlsym(RTLD_DEFAULT, name)` finds it.
pub fn host_address(name: &str) -> Option<u64> {
    let c_name = CString::new(name).ok()?;
    // SAFETY: dlsym only reads the NUL-terminated name; RTLD_DEFAULT searches
    // the global scope. The result is an address or null.
    let addr = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c_name.as_ptr()) };
    (!addr.is_null()).then_some(addr as u64)
}

#[cfg(test)]
mod tests;
