//! Exit handlers of JIT code, run when the module that registered them is
//! removed or its engine dropped.
//!
//! JIT code calling `atexit` or `__cxa_atexit` reaches rivet's versions.
//! A handler is owned by the module whose code range holds the handler's
//! address; handlers outside any JIT module are passed on to the C library.

use std::collections::BTreeMap;
use std::ffi::{c_int, c_void};
use std::sync::Mutex;

type CxaHandler = unsafe extern "C" fn(*mut c_void);
type PlainHandler = unsafe extern "C" fn();

#[derive(Clone, Copy)]
enum Handler {
    Cxa(CxaHandler, usize),
    Plain(PlainHandler),
}

struct Registry {
    /// Code ranges of live modules: start → (end, module key).
    ranges: BTreeMap<u64, (u64, u64)>,
    /// Handlers in registration order, with the owning module key.
    handlers: Vec<(u64, Handler)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    ranges: BTreeMap::new(),
    handlers: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records that `[start, end)` holds code of module `key`.
pub(crate) fn add_code_range(start: u64, end: u64, key: u64) {
    if start < end {
        let mut reg = registry();
        reg.ranges.insert(start, (end, key));
    }
}

fn owner_of(registry: &Registry, addr: u64) -> Option<u64> {
    let (_, &(end, key)) = registry.ranges.range(..=addr).next_back()?;
    (addr < end).then_some(key)
}

/// Runs (when `run`), last registered first, the exit handlers module
/// `key` registered, and forgets them and its code ranges, which start at
/// `starts` (the caller knows its own segments; the registry keeps no list
/// per module).
pub(crate) fn module_removed(key: u64, starts: &[u64], run: bool) {
    let handlers: Vec<Handler> = {
        let mut reg = registry();
        for start in starts {
            if reg.ranges.get(start).is_some_and(|&(_, k)| k == key) {
                reg.ranges.remove(start);
            }
        }
        let mut mine = Vec::new();
        reg.handlers.retain(|&(k, h)| {
            if k == key {
                mine.push(h);
                false
            } else {
                true
            }
        });
        mine
    };
    if !run {
        return;
    }
    // Run without the lock: a handler may register or remove others.
    for handler in handlers.into_iter().rev() {
        // SAFETY: JIT code registered this handler with this signature, and
        // its module's code is still mapped: the engine calls this before
        // giving the module's memory back.
        unsafe {
            match handler {
                Handler::Cxa(f, arg) => f(arg as *mut c_void),
                Handler::Plain(f) => f(),
            }
        }
    }
}

extern "C" {
    #[link_name = "__cxa_atexit"]
    fn libc_cxa_atexit(f: CxaHandler, arg: *mut c_void, dso: *mut c_void) -> c_int;
}

/// rivet's `__cxa_atexit` for JIT code.
///
/// # Safety
/// Called by JIT code with a valid handler, as the C ABI specifies.
pub(crate) unsafe extern "C" fn rivet_cxa_atexit(
    f: CxaHandler,
    arg: *mut c_void,
    dso: *mut c_void,
) -> c_int {
    let mut reg = registry();
    match owner_of(&reg, f as usize as u64) {
        Some(key) => {
            reg.handlers.push((key, Handler::Cxa(f, arg as usize)));
            0
        }
        None => {
            drop(reg);
            // SAFETY: a handler outside JIT code lives as long as the process;
            // the C library takes it as the caller meant.
            unsafe { libc_cxa_atexit(f, arg, dso) }
        }
    }
}

/// rivet's `atexit` for JIT code.
///
/// # Safety
/// Called by JIT code with a valid handler, as the C ABI specifies.
pub(crate) unsafe extern "C" fn rivet_atexit(f: PlainHandler) -> c_int {
    let mut reg = registry();
    match owner_of(&reg, f as usize as u64) {
        Some(key) => {
            reg.handlers.push((key, Handler::Plain(f)));
            0
        }
        None => {
            drop(reg);
            // SAFETY: as in `rivet_cxa_atexit`.
            unsafe { libc::atexit(std::mem::transmute::<PlainHandler, extern "C" fn()>(f)) }
        }
    }
}
