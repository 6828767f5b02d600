//! The arena (the "llmm" path): one reserved region per engine, sub-allocated
//! per module, so that everything rivet places is within ±2 GiB.

use super::{Allocation, MemoryManager, MemoryStats, ModuleLayout};
use crate::Result;

/// How an [`Arena`] is set up.
#[derive(Debug, Clone)]
pub struct ArenaConfig {
    /// Bytes of address space reserved (committed lazily). At most 2 GiB so
    /// that any two places in it reach each other with a 32-bit displacement.
    pub reservation: u64,
    /// Page size to lay out with; `None` uses the system's. A larger multiple
    /// of the system page size simulates 16 KiB or 64 KiB page systems.
    pub page_size: Option<usize>,
    /// Optional address to place the reservation near (a hint).
    pub hint: Option<u64>,
}

impl Default for ArenaConfig {
    fn default() -> Self {
        ArenaConfig {
            reservation: 1 << 30,
            page_size: None,
            hint: None,
        }
    }
}

/// The arena memory manager.
pub struct Arena {}

impl Arena {
    /// Reserves the region.
    pub fn new(config: ArenaConfig) -> Result<Arena> {
        let _ = config;
        todo!()
    }
}

impl MemoryManager for Arena {
    fn allocate(&mut self, layout: &ModuleLayout) -> Result<Allocation> {
        let _ = layout;
        todo!()
    }
    fn finalize(&mut self, allocation: &Allocation) -> Result<()> {
        let _ = allocation;
        todo!()
    }
    fn release(&mut self, allocation: Allocation) {
        let _ = allocation;
        todo!()
    }
    fn stats(&self) -> MemoryStats {
        todo!()
    }
}
