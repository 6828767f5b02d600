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
