//! The GDB JIT interface: an in-memory ELF image per module, registered
//! through `__jit_debug_register_code` / `__jit_debug_descriptor`.
//!
//! The protocol (gdb manual, "JIT Compilation Interface"): the process
//! defines a descriptor holding a doubly linked list of code entries, each
//! pointing at an object file in memory, and an empty function the debugger
//! puts a breakpoint on. To (un)register, a JIT links (unlinks) its entry,
//! names it in `relevant_entry`, sets `action_flag` and calls the function.
//!
//! Where the descriptor lives depends on how rivet is built:
//!
//! - With the `llvm` feature rivet links libLLVM 22, which defines (and
//!   exports) both symbols; LLVM's own JITs register through them. rivet
//!   then defines neither (a second strong definition would clash) and
//!   finds libLLVM's at run time in the process's global symbol scope.
//! - Without it (the Python extension, or the core embedded elsewhere)
//!   rivet defines its own exported `__jit_debug_descriptor` and
//!   `__jit_debug_register_code`, and uses them whenever the process's
//!   global scope has no descriptor of its own. A process may hold several
//!   descriptors, one per object file that defines them: in Python,
//!   llvmlite's library keeps LLVM's as local symbols, and rivet's
//!   extension module, loaded `RTLD_LOCAL`, keeps its own. gdb looks the
//!   two names up in every object file it loads (static symbols included),
//!   breaks on every `__jit_debug_register_code` it finds and reads every
//!   descriptor's list, so each JIT registers through the one it can reach.
//!
//! When a build with the `llvm` feature finds no descriptor (a libLLVM
//! loaded with `RTLD_LOCAL`), [`GdbRegistration::register`] returns
//! `Ok(None)` and the module is simply not visible to debuggers.
//!
//! Every change rivet makes to the descriptor is made under one process-wide
//! lock, so registrations from several engines and threads do not race each
//! other; entries of other JITs are left in place and in order. Other JITs
//! in the process use their own locks, which rivet cannot take: that is a
//! limit of the protocol itself.

use std::ffi::c_void;
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use super::{symfile, ModuleImage};
use crate::Result;

const JIT_NOACTION: u32 = 0;
const JIT_REGISTER_FN: u32 = 1;
const JIT_UNREGISTER_FN: u32 = 2;

/// `struct jit_code_entry` of the protocol.
#[repr(C)]
struct JitCodeEntry {
    next: *mut JitCodeEntry,
    prev: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// `struct jit_descriptor` of the protocol.
#[repr(C)]
struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

/// The process's descriptor and notification function.
#[derive(Clone, Copy)]
struct Interface {
    descriptor: *mut JitDescriptor,
    register_code: unsafe extern "C" fn(),
}

/// Serializes every access rivet makes to the descriptor and its list.
static DESCRIPTOR_LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    // The guarded state is the descriptor, which every holder leaves
    // consistent before anything that could panic; ignore poisoning.
    DESCRIPTOR_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The interface this process registers through: the process's global
/// one if it has one, else (without the `llvm` feature) rivet's own.
fn interface() -> Option<Interface> {
    process_interface().or_else(own::interface)
}

/// Looks the interface up in the process's global scope.
fn process_interface() -> Option<Interface> {
    let process = libloading::os::unix::Library::this();
    // SAFETY: the symbols are looked up as untyped addresses (`*mut c_void`),
    // which is what dlsym returns; their types are given below, from the
    // protocol both names belong to.
    let (descriptor, register_code) = unsafe {
        let d = process.get::<*mut c_void>(c"__jit_debug_descriptor").ok()?;
        let f = process
            .get::<*mut c_void>(c"__jit_debug_register_code")
            .ok()?;
        (d.into_raw(), f.into_raw())
    };
    if descriptor.is_null() || register_code.is_null() {
        return None;
    }
    // SAFETY: `__jit_debug_register_code` is, by the protocol, a function
    // `void (void)` with the C calling convention, and dlsym gave its
    // non-null address; data and function pointers have one size here.
    let register_code =
        unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn()>(register_code) };
    let interface = Interface {
        descriptor: descriptor.cast(),
        register_code,
    };
    // SAFETY: `descriptor` is the non-null address of the process's
    // `struct jit_descriptor` (the protocol's type, mirrored by
    // `JitDescriptor`); reading its first field is a plain load of memory
    // that lives as long as the defining library, which is never unloaded.
    let version = unsafe { ptr::addr_of!((*interface.descriptor).version).read_volatile() };
    // Only version 1 of the protocol exists; anything else is not a
    // descriptor rivet knows how to use.
    (version == 1).then_some(interface)
}

/// rivet's own descriptor and notification function, defined only when
/// rivet does not link libLLVM (which defines them: see the module docs).
#[cfg(not(feature = "llvm"))]
mod own {
    use super::{Interface, JitDescriptor};
    use std::ptr;

    /// The descriptor gdb reads. Its version is set statically, as the
    /// protocol asks, since gdb may read it before any code runs. Written
    /// only under [`super::DESCRIPTOR_LOCK`].
    #[no_mangle]
    #[used]
    #[allow(non_upper_case_globals)]
    pub static mut __jit_debug_descriptor: JitDescriptor = JitDescriptor {
        version: 1,
        action_flag: super::JIT_NOACTION,
        relevant_entry: ptr::null_mut(),
        first_entry: ptr::null_mut(),
    };

    /// The function gdb puts its breakpoint on. It must stay a real,
    /// out-of-line function: `black_box` keeps its body from being folded
    /// into another function's and the call to it from being removed.
    #[no_mangle]
    #[inline(never)]
    pub(crate) extern "C" fn __jit_debug_register_code() {
        std::hint::black_box(());
    }

    pub(super) fn interface() -> Option<Interface> {
        Some(Interface {
            descriptor: ptr::addr_of_mut!(__jit_debug_descriptor),
            register_code: __jit_debug_register_code,
        })
    }
}

/// With the `llvm` feature libLLVM's descriptor is the process's; rivet
/// defines none.
#[cfg(feature = "llvm")]
mod own {
    pub(super) fn interface() -> Option<super::Interface> {
        None
    }
}

/// One module registered with the debugger; unregistered on drop.
///
/// The engine keeps one per module and drops it when the module is removed
/// (before its memory is released) or when the engine is dropped.
pub struct GdbRegistration {
    interface: Interface,
    /// Our list node, leaked from a `Box` while registered; other entries and
    /// the descriptor point at it.
    entry: *mut JitCodeEntry,
    /// The ELF image, leaked from a `Box<[u8]>`; the entry points at it.
    symfile: *mut [u8],
}

// SAFETY: the entry and the image are heap allocations owned by this value;
// the list fields of the entry are only read or written under
// `DESCRIPTOR_LOCK` (and by the debugger while the process is stopped), and
// the image is immutable after registration. Nothing ties them to a thread.
unsafe impl Send for GdbRegistration {}
// SAFETY: `&self` gives read access to the immutable image only.
unsafe impl Sync for GdbRegistration {}

impl std::fmt::Debug for GdbRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GdbRegistration")
            .field("entry", &self.entry)
            .field("symfile_len", &self.symfile().len())
            .finish()
    }
}

impl GdbRegistration {
    /// Builds an ELF image describing `image` and registers it. Returns
    /// `Ok(None)` when the process has no JIT interface to register with
    /// (only possible with the `llvm` feature: see the module docs).
    ///
    /// Fails (with [`Error::Memory`](crate::Error::Memory)) only when the
    /// image names an unwind section whose bytes cannot be read, or its
    /// string tables pass the 4 GiB an ELF file can address.
    pub fn register(image: &ModuleImage<'_>) -> Result<Option<GdbRegistration>> {
        let Some(interface) = interface() else {
            return Ok(None);
        };
        let symfile: Box<[u8]> = symfile::build(image)?.into_boxed_slice();
        let symfile_size = symfile.len() as u64;
        let symfile = Box::into_raw(symfile);
        let entry = Box::into_raw(Box::new(JitCodeEntry {
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
            symfile_addr: symfile.cast::<u8>(),
            symfile_size,
        }));
        let _guard = lock();
        // SAFETY: we hold the lock, so no other rivet registration touches
        // the list; `descriptor` is the process's live descriptor (see
        // `interface`), and `first`, if non-null, is a live entry by the
        // protocol's invariant. `entry` is our fresh allocation. Volatile
        // accesses keep the stores ordered before the debugger's breakpoint
        // in `register_code`, which reads them.
        unsafe {
            let d = interface.descriptor;
            let first = ptr::addr_of!((*d).first_entry).read_volatile();
            (*entry).next = first;
            if !first.is_null() {
                ptr::addr_of_mut!((*first).prev).write_volatile(entry);
            }
            ptr::addr_of_mut!((*d).first_entry).write_volatile(entry);
            ptr::addr_of_mut!((*d).relevant_entry).write_volatile(entry);
            ptr::addr_of_mut!((*d).action_flag).write_volatile(JIT_REGISTER_FN);
            (interface.register_code)();
            ptr::addr_of_mut!((*d).action_flag).write_volatile(JIT_NOACTION);
        }
        Ok(Some(GdbRegistration {
            interface,
            entry,
            symfile,
        }))
    }

    /// The ELF image the debugger was given.
    pub fn symfile(&self) -> &[u8] {
        // SAFETY: `symfile` came from `Box::into_raw` in `register`, is freed
        // only in `drop`, and is never written after registration.
        unsafe { &*self.symfile }
    }
}

impl Drop for GdbRegistration {
    fn drop(&mut self) {
        let _guard = lock();
        // SAFETY: under the lock, as in `register`. `self.entry` is in the
        // list (we linked it and only this drop unlinks it); its neighbours
        // are live entries by the protocol's invariant.
        unsafe {
            let d = self.interface.descriptor;
            let entry = self.entry;
            let next = (*entry).next;
            let prev = (*entry).prev;
            if prev.is_null() {
                ptr::addr_of_mut!((*d).first_entry).write_volatile(next);
            } else {
                ptr::addr_of_mut!((*prev).next).write_volatile(next);
            }
            if !next.is_null() {
                ptr::addr_of_mut!((*next).prev).write_volatile(prev);
            }
            ptr::addr_of_mut!((*d).relevant_entry).write_volatile(entry);
            ptr::addr_of_mut!((*d).action_flag).write_volatile(JIT_UNREGISTER_FN);
            (self.interface.register_code)();
            ptr::addr_of_mut!((*d).action_flag).write_volatile(JIT_NOACTION);
            ptr::addr_of_mut!((*d).relevant_entry).write_volatile(ptr::null_mut());
        }
        // SAFETY: both came from `Box::into_raw` in `register`; the entry is
        // out of the list and the debugger has been told, so nothing points
        // at either any more.
        unsafe {
            drop(Box::from_raw(self.entry));
            drop(Box::from_raw(self.symfile));
        }
    }
}

/// Whether the process has a GDB JIT interface rivet can register with.
pub fn interface_available() -> bool {
    interface().is_some()
}

/// Copies of the ELF images of every entry now on the process's list, in
/// list order (newest first), rivet's and other JITs' alike. Empty when the
/// process has no JIT interface. For diagnostics and tests.
pub fn registered_symfiles() -> Vec<Vec<u8>> {
    let Some(interface) = interface() else {
        return Vec::new();
    };
    let _guard = lock();
    let mut images = Vec::new();
    // SAFETY: under the lock no rivet registration changes the list; each
    // entry on it is live and points at `symfile_size` readable bytes, by
    // the protocol's invariant that every JIT keeps its entry and image
    // until it unlinks them.
    unsafe {
        let mut entry = ptr::addr_of!((*interface.descriptor).first_entry).read_volatile();
        while !entry.is_null() {
            let size = usize::try_from((*entry).symfile_size).unwrap_or(0);
            let addr = (*entry).symfile_addr;
            if !addr.is_null() && size != 0 {
                images.push(std::slice::from_raw_parts(addr, size).to_vec());
            }
            entry = (*entry).next;
        }
    }
    images
}

#[cfg(all(test, not(feature = "llvm")))]
mod tests;
