//! The GDB JIT interface: an in-memory ELF image per module, registered
//! through `__jit_debug_register_code` / `__jit_debug_descriptor`.

use super::ModuleImage;
use crate::Result;

/// One module registered with the debugger; unregistered on drop.
#[derive(Debug)]
pub struct GdbRegistration {}

impl GdbRegistration {
    /// Builds an ELF image describing `image` and registers it. Returns
    /// `Ok(None)` when the process has no JIT interface to register with.
    pub fn register(image: &ModuleImage<'_>) -> Result<Option<GdbRegistration>> {
        let _ = image;
        todo!()
    }
}
