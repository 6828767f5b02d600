//! What JIT code needs from the process at run time, scoped to the engine
//! that placed it: exit handlers registered with `atexit`/`__cxa_atexit`
//! run when their module goes, not at process exit after the code is gone.
//!
//! The linker reaches it through [`RuntimeServices`], which
//! [`Process`] implements: `Externals::default()` carries it.

pub mod atexit;
pub mod static_tls;
pub mod tls;

use crate::arch::Arch;
use crate::link::{Externals, RuntimeServices};
use crate::Result;

/// The process's run time, as the linker sees it.
pub(crate) struct Process;

/// The one [`Process`] every engine's externals point at.
pub(crate) static PROCESS: Process = Process;

impl RuntimeServices for Process {
    /// Names rivet defines for JIT code itself (exit handlers,
    /// `__tls_get_addr`), consulted after the user's symbols and before
    /// libraries and the process.
    fn symbol(&self, name: &str) -> Option<u64> {
        Some(match name {
            "atexit" => atexit::rivet_atexit as *const () as u64,
            "__cxa_atexit" => atexit::rivet_cxa_atexit as *const () as u64,
            "__tls_get_addr" => tls::rivet_tls_get_addr as *const () as u64,
            _ => return None,
        })
    }

    /// It returns the descriptor's second word, the target's offset from
    /// the thread pointer. 0 when this host cannot run code of `arch` (the
    /// emulator's tests read the descriptor's second word themselves).
    fn tlsdesc_resolver(&self, arch: Arch) -> u64 {
        if Some(arch) == Arch::host() {
            static_tls::tlsdesc_static()
        } else {
            0
        }
    }

    /// Its descriptor's second word packs the module key (high 32 bits) and
    /// the offset in the block (low 32 bits), and it finds the calling
    /// thread's dynamic block as `__tls_get_addr` does. 0 where there is
    /// none (AArch64, or an x86-64 processor without `xsave`).
    fn dynamic_tlsdesc_resolver(&self, arch: Arch) -> u64 {
        if Some(arch) == Arch::host() {
            static_tls::tlsdesc_dynamic()
        } else {
            0
        }
    }

    /// rivet's `__tlv_bootstrap` for x86-64 Mach-O code (0 elsewhere).
    fn tlv_getter(&self, arch: Arch) -> u64 {
        if Some(arch) == Arch::host() {
            tls::tlv_getter()
        } else {
            0
        }
    }

    fn reserve_static_tls(&self, key: u64, size: u64, align: u64, object: &str) -> Result<i64> {
        static_tls::reserve(key, size, align, object)
    }

    fn release_static_tls(&self, key: u64) {
        static_tls::release(key);
    }

    fn write_static_tls_image(&self, key: u64, image: &[u8]) -> Result<()> {
        match static_tls::piece_of(key) {
            Some((offset, size)) => static_tls::write_init_image(offset, image, size),
            None => Ok(()),
        }
    }
}

/// Externals that reach the process and rivet's run time: what an engine
/// starts with.
impl Default for Externals {
    fn default() -> Self {
        let mut externals = Externals::without_runtime();
        externals.runtime = Some(&PROCESS);
        externals
    }
}
