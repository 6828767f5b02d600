//! Profiler output: the perf map (`/tmp/perf-<pid>.map`) and jitdump
//! (`jit-<pid>.dump`, for `perf inject --jit`).

use super::ModuleImage;
use crate::Result;

/// Which profiler outputs to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProfilerOptions {
    pub perf_map: bool,
    pub jitdump: bool,
}

impl ProfilerOptions {
    /// From the environment: `RIVET_PERF_MAP=1`, `RIVET_JITDUMP=1`.
    pub fn from_env() -> ProfilerOptions {
        todo!()
    }
}

/// The process-wide profiler outputs; records every function rivet places.
pub struct Profiler {}

impl Profiler {
    /// Opens (creating or appending) the outputs `options` asks for.
    pub fn open(options: ProfilerOptions) -> Result<Profiler> {
        let _ = options;
        todo!()
    }

    /// Records the functions of a newly linked module.
    pub fn module_loaded(&mut self, image: &ModuleImage<'_>) -> Result<()> {
        let _ = image;
        todo!()
    }

    /// Records that a module's code went away (jitdump only; the perf map
    /// format has no removal).
    pub fn module_unloaded(&mut self, image: &ModuleImage<'_>) -> Result<()> {
        let _ = image;
        todo!()
    }
}
