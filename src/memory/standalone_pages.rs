//! Standalone pages, outside every memory manager: [`HostPages`], pages of
//! host memory owned by one value, mapped read-write where the kernel
//! chooses, optionally turned read + execute (never both at once), unmapped
//! on drop. For the small code and data blocks that live beside the arena:
//! call thunks, an emulator's stack and trap page, argument blocks.

use crate::{Error, Result};

/// An anonymous private mapping of whole pages, unmapped on drop.
#[derive(Debug)]
pub struct HostPages {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone; moving it to another
// thread moves that ownership, and shared references only read addresses.
unsafe impl Send for HostPages {}
// SAFETY: as above; nothing mutates through `&HostPages`.
unsafe impl Sync for HostPages {}

impl HostPages {
    /// Maps at least `len` bytes (rounded up to pages), zeroed, read-write.
    /// `what` names the use in errors.
    pub fn new(len: usize, what: &'static str) -> Result<HostPages> {
        let page = super::page_size();
        let len = len
            .max(1)
            .checked_next_multiple_of(page)
            .ok_or_else(|| Error::OutOfMemory {
                requested: len as u64,
                reason: format!("{what}: size overflows"),
            })?;
        let mapping = super::sys::map_anonymous(None, len, libc::PROT_READ | libc::PROT_WRITE, 0)
            .map_err(|source| Error::Memory { op: what, source })?;
        Ok(HostPages {
            ptr: mapping.base,
            len: mapping.len,
        })
    }

    /// Maps pages holding `bytes` and makes them read + execute: code that
    /// is written once, then only run.
    pub(crate) fn with_code(bytes: &[u8], what: &'static str) -> Result<HostPages> {
        let mut pages = HostPages::new(bytes.len(), what)?;
        pages.as_mut_slice()[..bytes.len()].copy_from_slice(bytes);
        pages.make_executable(what)?;
        Ok(pages)
    }

    /// The first address.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are mapped (never: at least a page is).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes, for writing while the pages are read-write.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `len` bytes at `ptr` are mapped read-write (until
        // `make_executable`, which takes `&mut self` too and after which
        // writing would fault rather than be unsound) and owned by `self`;
        // the borrow of `self` keeps them alive and unaliased.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Turns the pages read + execute (no longer writable) and makes the
    /// code visible to instruction fetch.
    pub(crate) fn make_executable(&mut self, what: &'static str) -> Result<()> {
        // SAFETY: the pages are ours; no Rust reference into them outlives
        // this call (`as_mut_slice` borrows `self` mutably).
        unsafe {
            super::sys::protect(
                self.ptr.as_ptr(),
                self.len,
                libc::PROT_READ | libc::PROT_EXEC,
            )
        }
        .map_err(|e| match e {
            Error::Memory { source, .. } => Error::Memory { op: what, source },
            other => other,
        })?;
        // SAFETY: the range was just made readable and executable.
        unsafe { super::sys::publish_code(self.ptr.as_ptr(), self.len) };
        Ok(())
    }
}

impl Drop for HostPages {
    fn drop(&mut self) {
        // The mapping made in `new`, unmapped exactly once: whoever ran code
        // from it or mapped it elsewhere (an emulator) is done with it
        // before its owner drops it.
        super::sys::unmap(&super::sys::Mapping {
            base: self.ptr,
            len: self.len,
        });
    }
}

#[cfg(test)]
mod tests;
