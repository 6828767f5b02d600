//! Page protection, the system page size, and the JIT-execution probe.

use crate::Result;

/// The system's page size in bytes.
pub fn page_size() -> usize {
    todo!()
}

/// Maps a page, writes a one-instruction function into it, makes it
/// executable (never writable at the same time) and calls it. Returns an error
/// that names the refusal (errno, with SELinux/PaX hints) when the system
/// forbids it.
pub fn check_jit_execution() -> Result<()> {
    todo!()
}
