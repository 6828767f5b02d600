//! The cores of LLVM's JIT linkers, without ORC's session around them,
//! through the C++ shim in `shim/cores.cpp`: RuntimeDyld (`loadObject`,
//! `resolveRelocations`, `finalizeMemory`) and JITLink (`jitlink::link` per
//! object, an in-process memory manager). These are what rivet's
//! `add_object_bytes` → `finalize_object` → look-ups does, so the table can
//! compare linker with linker, beside the LLJIT rows that add a session,
//! materialization and look-up machinery.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr::NonNull;
use std::time::Duration;

use rivet::{Error, Result};

/// Which core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Core {
    /// `RuntimeDyld` with a `SectionMemoryManager`.
    RuntimeDyld,
    /// `jitlink::link` with an `InProcessMemoryManager`.
    JitLink,
}

impl Core {
    /// The name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Core::RuntimeDyld => "rtdyld-core",
            Core::JitLink => "jitlink-core",
        }
    }

    fn id(self) -> c_int {
        match self {
            Core::RuntimeDyld => 0,
            Core::JitLink => 1,
        }
    }
}

/// The shim's linker state (opaque).
#[repr(C)]
struct RawCore {
    _private: [u8; 0],
}

extern "C" {
    fn rivet_core_create(
        kind: c_int,
        names: *const *const c_char,
        addrs: *const u64,
        count: usize,
        err: *mut c_char,
        err_len: usize,
    ) -> *mut RawCore;
    fn rivet_core_dispose(core: *mut RawCore);
    #[allow(clippy::too_many_arguments)] // mirrors the C signature
    fn rivet_core_link(
        core: *mut RawCore,
        objects: *const *const u8,
        lengths: *const usize,
        object_names: *const *const c_char,
        count: usize,
        lookups: *const *const c_char,
        lookup_count: usize,
        addresses: *mut u64,
        nanos: *mut u64,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
}

const ERROR_LEN: usize = 4096;

fn c_strings<'a>(names: impl Iterator<Item = &'a str>) -> Result<Vec<CString>> {
    names
        .map(|n| {
            CString::new(n).map_err(|_| Error::Llvm(format!("the name `{n}` holds a NUL byte")))
        })
        .collect()
}

fn shim_error(core: Core, buffer: &[u8]) -> Error {
    let text = CStr::from_bytes_until_nul(buffer)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    Error::Llvm(format!("{}: {text}", core.name()))
}

/// One instance of a core, given the external symbols' addresses (other
/// names are looked up in the process).
pub struct CoreLinker {
    core: Core,
    raw: NonNull<RawCore>,
}

impl CoreLinker {
    /// A fresh instance of `core`.
    pub fn new(core: Core, externals: &[(&str, u64)]) -> Result<CoreLinker> {
        let names = c_strings(externals.iter().map(|(n, _)| *n))?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let addrs: Vec<u64> = externals.iter().map(|(_, a)| *a).collect();
        let mut err = vec![0u8; ERROR_LEN];
        // SAFETY: `name_ptrs` and `addrs` each hold `externals.len()` valid
        // entries (NUL-terminated strings owned by `names`) that outlive the
        // call, which copies them; `err` is writable for ERROR_LEN bytes.
        let raw = unsafe {
            rivet_core_create(
                core.id(),
                name_ptrs.as_ptr(),
                addrs.as_ptr(),
                externals.len(),
                err.as_mut_ptr().cast::<c_char>(),
                err.len(),
            )
        };
        NonNull::new(raw)
            .map(|raw| CoreLinker { core, raw })
            .ok_or_else(|| shim_error(core, &err))
    }

    /// Links `objects` (name, bytes) and looks up `lookups`; returns their
    /// addresses and the time from handing over the first object to having
    /// the last address (measured inside the shim). The objects' bytes must
    /// stay alive as long as `self` (LLVM may keep referring to them).
    pub fn link(
        &mut self,
        objects: &[(String, Vec<u8>)],
        lookups: &[String],
    ) -> Result<(Vec<u64>, Duration)> {
        let names = c_strings(objects.iter().map(|(n, _)| n.as_str()))?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let object_ptrs: Vec<*const u8> = objects.iter().map(|(_, b)| b.as_ptr()).collect();
        let lengths: Vec<usize> = objects.iter().map(|(_, b)| b.len()).collect();
        let lookup_names = c_strings(lookups.iter().map(String::as_str))?;
        let lookup_ptrs: Vec<*const c_char> = lookup_names.iter().map(|n| n.as_ptr()).collect();
        let mut addresses = vec![0u64; lookups.len()];
        let mut nanos = 0u64;
        let mut err = vec![0u8; ERROR_LEN];
        // SAFETY: `self.raw` is a live core owned by `self`; every array
        // holds as many valid entries as the count passed beside it (object
        // bytes borrowed from `objects`, which the caller keeps alive as
        // long as `self`; NUL-terminated names owned by the vectors above);
        // `addresses` is writable for `lookups.len()` entries, `nanos` for
        // one, `err` for ERROR_LEN bytes.
        let status = unsafe {
            rivet_core_link(
                self.raw.as_ptr(),
                object_ptrs.as_ptr(),
                lengths.as_ptr(),
                name_ptrs.as_ptr(),
                objects.len(),
                lookup_ptrs.as_ptr(),
                lookups.len(),
                addresses.as_mut_ptr(),
                &mut nanos,
                err.as_mut_ptr().cast::<c_char>(),
                err.len(),
            )
        };
        if status != 0 {
            return Err(shim_error(self.core, &err));
        }
        Ok((addresses, Duration::from_nanos(nanos)))
    }
}

impl Drop for CoreLinker {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from rivet_core_create and is disposed
        // exactly once, here; its linked code is not used afterwards.
        unsafe { rivet_core_dispose(self.raw.as_ptr()) };
    }
}
