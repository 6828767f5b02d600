//! The linkers compared, each behind one function that links the same
//! inputs once and reports the time of the link alone.
//!
//! What the clock covers, for every linker alike: from handing over the
//! first object to having the address of every look-up name. Creating the
//! linker instance, giving it the external symbols, and copying the input
//! bytes into the buffer the linker takes ownership of happen before the
//! clock starts; tearing the instance down happens after it stops.

use std::time::{Duration, Instant};

use super::floor::FloorPlan;
use super::gen;
use crate::orc::{Lljit, Mcjit, ModuleCopy, ObjectBuffer, OrcLinker};
use rivet::llvm::{CodeModel, Module, TargetMachine, TargetOptions};
use rivet::load::ObjectFile;
use rivet::memory::MemoryStats;
use rivet::{ExecutionEngine, Result};

/// A linker that takes object bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Linker {
    /// rivet: `add_object_bytes`, `finalize_object`, `get_function_address`
    /// (the arena memory manager).
    Rivet,
    /// LLJIT with the given object linking layer: `LLVMOrcLLJITAddObjectFile`
    /// and one session look-up of every name.
    Orc(OrcLinker),
    /// Copying the sections and writing each relocation site once (see
    /// [`super::floor`]).
    Floor,
}

impl Linker {
    /// Every linker, in table order.
    pub const ALL: [Linker; 4] = [
        Linker::Rivet,
        Linker::Orc(OrcLinker::RuntimeDyld),
        Linker::Orc(OrcLinker::JitLink),
        Linker::Floor,
    ];

    /// The name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Linker::Rivet => "rivet",
            Linker::Orc(o) => o.name(),
            Linker::Floor => "floor",
        }
    }

    /// The linker called `name`.
    pub fn from_name(name: &str) -> Option<Linker> {
        Linker::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// An engine that compiles IR itself, for the `add_module` → address comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compiler {
    /// rivet: `create_mcjit_compiler` with a host target machine (PIC,
    /// small code model, the host's CPU and features), `add_module`,
    /// `get_function_address`.
    Rivet,
    /// The same with a target machine for the generic x86-64 CPU (no host
    /// features), which is what MCJIT's C API compiles for: it separates
    /// the code generator's cost of tuning for the host from the engines'.
    RivetGenericCpu,
    /// MCJIT through the C API, with the large code model llvmlite uses on
    /// 64-bit hosts, at the same code generation level (2).
    Mcjit,
}

impl Compiler {
    /// Every engine, in table order.
    pub const ALL: [Compiler; 3] = [Compiler::Rivet, Compiler::RivetGenericCpu, Compiler::Mcjit];

    /// The name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Compiler::Rivet => "rivet-e2e",
            Compiler::RivetGenericCpu => "rivet-e2e-generic",
            Compiler::Mcjit => "mcjit",
        }
    }

    /// The engine called `name`.
    pub fn from_name(name: &str) -> Option<Compiler> {
        Compiler::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What a linker hands to the caller's check while its result is alive.
pub struct Linked<'a> {
    /// The address of each look-up name, in order (empty for the floor).
    pub addresses: &'a [u64],
    /// rivet's memory manager figures, for rivet.
    pub rivet_stats: Option<MemoryStats>,
}

/// Links `objects` (name, bytes) once with `linker`, looking up `lookups`,
/// and returns the time the link took. `on_linked` runs after the clock
/// stops and before the linker is torn down: it can call the code and read
/// the process's figures.
pub fn link(
    linker: Linker,
    objects: &[(String, Vec<u8>)],
    lookups: &[String],
    on_linked: &mut dyn FnMut(&Linked<'_>) -> Result<()>,
) -> Result<Duration> {
    match linker {
        Linker::Rivet => {
            let engine = ExecutionEngine::with_lmm(Some(true))?;
            for (name, address) in gen::externals() {
                engine.add_symbol(name, address);
            }
            let inputs: Vec<(Vec<u8>, &str)> = objects
                .iter()
                .map(|(name, bytes)| (bytes.clone(), name.as_str()))
                .collect();
            let start = Instant::now();
            for (bytes, name) in inputs {
                engine.add_object_bytes(bytes, name)?;
            }
            engine.finalize_object()?;
            let addresses = lookups
                .iter()
                .map(|name| engine.get_function_address(name))
                .collect::<Result<Vec<u64>>>()?;
            let elapsed = start.elapsed();
            on_linked(&Linked {
                addresses: &addresses,
                rivet_stats: Some(engine.memory_stats()),
            })?;
            drop(engine);
            Ok(elapsed)
        }
        Linker::Orc(kind) => {
            let jit = Lljit::new(kind)?;
            jit.define_absolute(&gen::externals())?;
            let buffers = objects
                .iter()
                .map(|(name, bytes)| ObjectBuffer::copy_of(bytes, name))
                .collect::<Result<Vec<_>>>()?;
            let names: Vec<&str> = lookups.iter().map(String::as_str).collect();
            let start = Instant::now();
            for buffer in buffers {
                jit.add_object(buffer)?;
            }
            let addresses = jit.lookup_all(&names)?;
            let elapsed = start.elapsed();
            on_linked(&Linked {
                addresses: &addresses,
                rivet_stats: None,
            })?;
            jit.dispose()?;
            Ok(elapsed)
        }
        Linker::Floor => {
            let parsed = objects
                .iter()
                .map(|(name, bytes)| ObjectFile::parse(bytes, name))
                .collect::<Result<Vec<_>>>()?;
            let plan = FloorPlan::new(&parsed)?;
            let (image, elapsed) = plan.run();
            on_linked(&Linked {
                addresses: &[],
                rivet_stats: None,
            })?;
            drop(image);
            Ok(elapsed)
        }
    }
}

/// Compiles and links the IR `modules` (name, text) once with `compiler`,
/// from parsed modules to the address of every look-up name, and returns
/// the time that took. Parsing the IR (and, for MCJIT, copying the parsed
/// modules, which the engine takes over) happens before the clock starts.
pub fn compile_and_link(
    compiler: Compiler,
    modules: &[(String, String)],
    lookups: &[String],
    on_linked: &mut dyn FnMut(&Linked<'_>) -> Result<()>,
) -> Result<Duration> {
    let parsed = modules
        .iter()
        .map(|(name, ir)| Module::parse_ir(ir, name))
        .collect::<Result<Vec<Module>>>()?;
    match compiler {
        Compiler::Rivet | Compiler::RivetGenericCpu => {
            let mut parsed = parsed.into_iter();
            let Some(first) = parsed.next() else {
                return Ok(Duration::ZERO);
            };
            let options = if compiler == Compiler::RivetGenericCpu {
                TargetOptions {
                    cpu: Some("generic".to_string()),
                    features: Some(String::new()),
                    ..TargetOptions::default()
                }
            } else {
                TargetOptions::default()
            };
            let start = Instant::now();
            let engine =
                rivet::create_mcjit_compiler(first, TargetMachine::new(&options)?, Some(true))?;
            for (name, address) in gen::externals() {
                engine.add_symbol(name, address);
            }
            for module in parsed {
                engine.add_module(module);
            }
            let addresses = lookups
                .iter()
                .map(|name| engine.get_function_address(name))
                .collect::<Result<Vec<u64>>>()?;
            let elapsed = start.elapsed();
            on_linked(&Linked {
                addresses: &addresses,
                rivet_stats: Some(engine.memory_stats()),
            })?;
            drop(engine);
            Ok(elapsed)
        }
        Compiler::Mcjit => {
            let mut copies = parsed
                .iter()
                .map(ModuleCopy::of)
                .collect::<Result<Vec<_>>>()?
                .into_iter();
            let Some(first) = copies.next() else {
                return Ok(Duration::ZERO);
            };
            let start = Instant::now();
            let mut jit = Mcjit::new(first, 2, CodeModel::Large)?;
            for copy in copies {
                jit.add_module(copy);
            }
            for (name, address) in gen::externals() {
                jit.add_global_mapping(name, address)?;
            }
            let addresses = lookups
                .iter()
                .map(|name| jit.function_address(name))
                .collect::<Result<Vec<u64>>>()?;
            let elapsed = start.elapsed();
            on_linked(&Linked {
                addresses: &addresses,
                rivet_stats: None,
            })?;
            drop(jit);
            Ok(elapsed)
        }
    }
}
