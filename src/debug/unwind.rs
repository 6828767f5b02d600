//! Registering `.eh_frame` tables with the process unwinder, so that
//! exceptions and panics pass through JIT frames and backtraces walk them.
//!
//! libgcc's `__register_frame` takes a whole `.eh_frame` section ending in a
//! zero terminator (rivet reserves one after every unwind section);
//! LLVM's libunwind takes one FDE per call. Which one is present is decided
//! once, by looking for libunwind's own entry points.

use std::sync::OnceLock;

extern "C" {
    fn __register_frame(begin: *const u8);
    fn __deregister_frame(begin: *const u8);
}

/// Whether the process unwinder is LLVM's libunwind (FDE at a time).
fn unwinder_is_libunwind() -> bool {
    static IS: OnceLock<bool> = OnceLock::new();
    *IS.get_or_init(|| {
        let this = libloading::os::unix::Library::this();
        // SAFETY: only the presence of the symbol is checked; it is not called.
        unsafe { this.get::<*const u8>(b"__unw_add_dynamic_fde\0") }.is_ok()
    })
}

/// One module's unwind tables, registered until dropped.
#[derive(Debug)]
pub(crate) struct UnwindRegistration {
    registered: Registered,
}

/// What was passed to `__register_frame`, in order: most modules have one
/// table, kept without an allocation; else boxed, without spare room (the
/// record lives as long as the module).
#[derive(Debug)]
enum Registered {
    One(u64),
    Many(Box<[u64]>),
}

impl Registered {
    fn as_slice(&self) -> &[u64] {
        match self {
            Registered::One(addr) => std::slice::from_ref(addr),
            Registered::Many(addrs) => addrs,
        }
    }
}

impl UnwindRegistration {
    /// Registers each `(address, size)` table. Each table must be followed
    /// in memory by a 4-byte zero terminator and stay mapped until the
    /// registration is dropped.
    ///
    /// # Safety
    /// The tables must be complete, relocated `.eh_frame` data at those
    /// addresses, valid until drop.
    pub unsafe fn register(tables: &[(u64, u64)]) -> UnwindRegistration {
        let mut registered = Vec::new();
        for &(addr, size) in tables {
            if unwinder_is_libunwind() {
                for fde in fdes(addr, size) {
                    // SAFETY: `fde` points at an FDE inside the caller's table.
                    unsafe { __register_frame(fde as *const u8) };
                    registered.push(fde);
                }
            } else {
                // SAFETY: a whole, terminated `.eh_frame`, as libgcc expects.
                unsafe { __register_frame(addr as *const u8) };
                registered.push(addr);
            }
        }
        let registered = match registered[..] {
            [one] => Registered::One(one),
            _ => Registered::Many(registered.into_boxed_slice()),
        };
        UnwindRegistration { registered }
    }
}

impl Drop for UnwindRegistration {
    fn drop(&mut self) {
        for &addr in self.registered.as_slice().iter().rev() {
            // SAFETY: each address was registered by `register` and its table
            // is still mapped (the engine drops this before freeing memory).
            unsafe { __deregister_frame(addr as *const u8) };
        }
    }
}

/// The addresses of the FDEs (not CIEs) in the table at `addr`.
fn fdes(addr: u64, size: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut at = 0u64;
    while at + 8 <= size {
        // SAFETY: the caller guarantees `size` readable bytes at `addr`.
        let len = unsafe { std::ptr::read_unaligned((addr + at) as *const u32) } as u64;
        if len == 0 {
            break;
        }
        let (header, len) = if len == 0xffff_ffff {
            if at + 12 > size {
                break;
            }
            // SAFETY: within the table, checked above.
            let long = unsafe { std::ptr::read_unaligned((addr + at + 4) as *const u64) };
            (12u64, long)
        } else {
            (4u64, len)
        };
        // SAFETY: the id word follows the length, inside the table.
        let id = unsafe { std::ptr::read_unaligned((addr + at + header) as *const u32) };
        if id != 0 {
            out.push(addr + at);
        }
        at = match at.checked_add(header + len) {
            Some(next) => next,
            None => break,
        };
    }
    out
}
