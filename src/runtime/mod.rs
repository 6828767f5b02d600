//! What JIT code needs from the process at run time, scoped to the engine
//! that placed it: exit handlers registered with `atexit`/`__cxa_atexit`
//! run when their module goes, not at process exit after the code is gone.

pub mod atexit;
pub mod static_tls;
pub mod tls;

use std::sync::atomic::{AtomicU64, Ordering};

/// A process-wide key for a linked module (unique across engines), used
/// by the run-time registries.
pub(crate) fn next_module_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The TLS descriptor resolver for code of `arch`: it returns the
/// descriptor's second word, the target's offset from the thread pointer
/// (rivet gives every module with descriptors a piece of static TLS).
/// 0 when this host cannot run code of `arch` (the emulator's tests read
/// the descriptor's second word themselves).
pub(crate) fn tlsdesc_resolver(arch: crate::load::Arch) -> u64 {
    if Some(arch) == crate::load::Arch::host() {
        static_tls::tlsdesc_static()
    } else {
        0
    }
}

/// The TLS descriptor resolver for modules without static TLS, for code of
/// `arch`: its descriptor's second word packs the module key (high 32
/// bits) and the offset in the block (low 32 bits), and it finds the
/// calling thread's dynamic block as `__tls_get_addr` does. 0 where there
/// is none (AArch64, or an x86-64 processor without `xsave`).
pub(crate) fn dynamic_tlsdesc_resolver(arch: crate::load::Arch) -> u64 {
    if Some(arch) == crate::load::Arch::host() {
        static_tls::tlsdesc_dynamic()
    } else {
        0
    }
}

/// Names rivet defines for JIT code itself (exit handlers, `__tls_get_addr`), consulted after the user's
/// symbols and before libraries and the process.
pub(crate) fn lookup(name: &str) -> Option<u64> {
    Some(match name {
        "atexit" => atexit::rivet_atexit as *const () as u64,
        "__cxa_atexit" => atexit::rivet_cxa_atexit as *const () as u64,
        "__tls_get_addr" => tls::rivet_tls_get_addr as *const () as u64,
        _ => return None,
    })
}
