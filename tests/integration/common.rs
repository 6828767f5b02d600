//! Shared helpers: compile IR, build engines, call JIT code.

use rivet::llvm::{CodeModel, Module, RelocModel, TargetMachine, TargetOptions};
use rivet::ExecutionEngine;

/// A host target machine with the given relocation and code model.
pub fn machine(reloc: RelocModel, code_model: CodeModel) -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        reloc,
        code_model,
        ..TargetOptions::default()
    })
    .expect("host target machine")
}

/// Parses IR text.
pub fn module(ir: &str, name: &str) -> Module {
    Module::parse_ir(ir, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compiles IR to an object with rivet's defaults (PIC, small code model).
pub fn object(ir: &str, name: &str) -> Vec<u8> {
    let mut m = module(ir, name);
    machine(RelocModel::Pic, CodeModel::Small)
        .emit_object(&mut m)
        .expect("emit object")
}

/// An engine (arena when `lmm`, else per-section) holding the given IR modules.
pub fn engine(modules: &[&str], lmm: bool) -> ExecutionEngine {
    engine_with(modules, lmm, RelocModel::Pic, CodeModel::Small)
}

/// Like [`engine`], with the code compiled for `reloc` and `code_model`.
pub fn engine_with(
    modules: &[&str],
    lmm: bool,
    reloc: RelocModel,
    code_model: CodeModel,
) -> ExecutionEngine {
    let mut iter = modules.iter().enumerate();
    let (_, first) = iter.next().expect("at least one module");
    let engine =
        rivet::create_mcjit_compiler(module(first, "m0"), machine(reloc, code_model), Some(lmm))
            .expect("engine");
    for (i, ir) in iter {
        engine.add_module(module(ir, &format!("m{i}")));
    }
    engine
}

/// Both memory managers, for tests that must pass on each.
pub const BOTH: [bool; 2] = [true, false];

/// Calls `extern "C" fn() -> R` at `addr`.
///
/// # Safety
/// `addr` must be a finalized function of that signature.
pub unsafe fn call0<R>(addr: u64) -> R {
    let f: extern "C" fn() -> R = std::mem::transmute(addr as usize);
    f()
}

/// Calls `extern "C" fn(A) -> R` at `addr`.
///
/// # Safety
/// `addr` must be a finalized function of that signature.
pub unsafe fn call1<A, R>(addr: u64, a: A) -> R {
    let f: extern "C" fn(A) -> R = std::mem::transmute(addr as usize);
    f(a)
}

/// Calls `extern "C" fn(A, B) -> R` at `addr`.
///
/// # Safety
/// `addr` must be a finalized function of that signature.
pub unsafe fn call2<A, B, R>(addr: u64, a: A, b: B) -> R {
    let f: extern "C" fn(A, B) -> R = std::mem::transmute(addr as usize);
    f(a, b)
}

/// The address ranges of `/proc/self/maps` with their permission strings.
pub fn maps() -> Vec<(u64, u64, String)> {
    let text = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let range = parts.next()?;
            let perms = parts.next()?.to_string();
            let (a, b) = range.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
                perms,
            ))
        })
        .collect()
}

/// The permission string of the mapping holding `addr`.
pub fn perms_at(addr: u64) -> Option<String> {
    maps()
        .into_iter()
        .find(|(a, b, _)| (*a..*b).contains(&addr))
        .map(|(_, _, p)| p)
}

/// Runs `body` on a thread and fails the test if it takes longer than
/// `limit` (a hang), or panics.
pub fn with_watchdog(what: &str, limit: std::time::Duration, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().expect("the test body"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: report its panic.
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no progress within {limit:?} (a deadlock or a hang)")
        }
    }
}
