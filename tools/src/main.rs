//! The `rivet` command: run IR like `lli`, or link objects and print a map.

use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, CString};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rivet::bridge::{
    host_address, libcall_signature, FunctionSignature, HostFunction, Win64Thunks, CALLBACK_TAKERS,
};
use rivet::llvm::{Module, OptLevel, TargetMachine, TargetOptions};
use rivet::load::{Arch, Definition, Format, ObjectFile};
use rivet::memory::SegmentClass;
use rivet::ExecutionEngine;

#[derive(Parser)]
#[command(
    name = "rivet",
    version,
    about = "A JIT object linker and memory manager"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile IR, link it with rivet and call its entry point, like `lli`.
    Run {
        /// IR text (.ll) or bitcode (.bc).
        file: PathBuf,
        /// Arguments passed to the program as argv[1..].
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        /// Function to call as `int f(int argc, char **argv)`.
        #[arg(long, default_value = "main")]
        entry: String,
        /// A relocatable object to link in as well (repeatable).
        #[arg(long = "object", value_name = "FILE.o")]
        objects: Vec<PathBuf>,
        /// Use the per-section memory manager instead of the arena.
        #[arg(long)]
        no_lmm: bool,
        /// Optimization level of the IR pipeline and code generator (0-3).
        #[arg(short = 'O', default_value_t = 2)]
        opt: u8,
        /// Compile for this target and run the code in its convention:
        /// x86-64 ELF, Mach-O (System V) and COFF (Windows x64, through
        /// thunks) natively; AArch64 and RISC-V 64 in the emulator (feature
        /// `emulator`).
        #[arg(long, value_name = "TRIPLE")]
        triple: Option<String>,
        /// Do not register the program with gdb (the GDB JIT interface);
        /// `RIVET_GDB=0` does the same. Registered by default, as lli does.
        #[arg(long)]
        no_gdb: bool,
    },
    /// Link relocatable objects and print where everything went.
    Link {
        /// Objects to link.
        #[arg(required = true)]
        objects: Vec<PathBuf>,
        /// Print the linker map.
        #[arg(long)]
        map: bool,
        /// Use the per-section memory manager instead of the arena.
        #[arg(long)]
        no_lmm: bool,
    },
    /// Link for any target at chosen addresses, without running, and verify
    /// the bytes with RuntimeDyldChecker expressions.
    Check(rivet_tools::check::CheckOptions),
    /// Internal: assemble standard input for a target, write the object to
    /// standard output (`rivet check` assembles each input this way, so
    /// that an input LLVM crashes on ends this process, not the check).
    #[command(hide = true)]
    Assemble {
        #[arg(long)]
        triple: Option<String>,
        #[arg(long)]
        cpu: Option<String>,
        #[arg(long)]
        features: Option<String>,
    },
    /// Benchmark rivet against LLVM's JIT linkers on the same objects; print one table.
    Bench {
        /// Smaller cases and fewer runs.
        #[arg(long)]
        quick: bool,
        /// Run only this case (repeatable); see BENCHMARKS.md for the names.
        #[arg(long = "case", value_name = "NAME")]
        cases: Vec<String>,
        /// Measured runs per case and linker.
        #[arg(long)]
        runs: Option<usize>,
        /// Link these objects (yours) with every linker, as one case named
        /// `objects` (repeatable; alone unless --case names cases too).
        #[arg(long = "object", value_name = "FILE.o")]
        objects: Vec<PathBuf>,
        /// Internal: run one (case, linker) pair in this process.
        #[arg(long, hide = true)]
        child: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            file,
            args,
            entry,
            objects,
            no_lmm,
            opt,
            triple,
            no_gdb,
        } => run(
            &file,
            &args,
            &entry,
            &objects,
            RunOptions {
                no_lmm,
                opt,
                triple: triple.as_deref(),
                gdb: !no_gdb && !gdb_switched_off(std::env::var_os("RIVET_GDB")),
            },
        ),
        Command::Link {
            objects,
            map,
            no_lmm,
        } => link(&objects, map, no_lmm).map(|()| 0),
        Command::Check(mut options) => {
            options.assembler = std::env::current_exe().ok();
            Ok(rivet_tools::check::cli(&options))
        }
        Command::Assemble {
            triple,
            cpu,
            features,
        } => assemble(TargetOptions {
            triple,
            cpu,
            features,
            ..TargetOptions::default()
        })
        .map(|()| 0)
        .map_err(Into::into),
        Command::Bench {
            quick,
            cases,
            runs,
            objects,
            child,
        } => rivet_tools::bench::command(&rivet_tools::bench::Options {
            quick,
            cases,
            runs,
            objects,
            child,
        })
        .map(|()| 0)
        .map_err(Into::into),
    };
    match result {
        Ok(status) => {
            // Flush C stdio the JIT code wrote to, then exit with its status.
            // SAFETY: fflush(NULL) flushes every open C stream; nothing else
            // is using them at this point.
            unsafe { libc::fflush(std::ptr::null_mut()) };
            ExitCode::from(status as u8)
        }
        Err(e) => {
            eprintln!("rivet: {e}");
            ExitCode::from(1)
        }
    }
}

/// `rivet assemble`: standard input in, object bytes out.
fn assemble(target: TargetOptions) -> rivet::Result<()> {
    use std::io::{Read, Write};
    let io = |source| rivet::Error::Io {
        path: PathBuf::from("<stdio>"),
        source,
    };
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(io)?;
    let object = TargetMachine::new(&target)?.assemble(&text)?;
    std::io::stdout().write_all(&object).map_err(io)
}

/// Whether `RIVET_GDB` turns gdb registration off for `rivet run`: only
/// `0` does (unset or any other value leaves the default, on).
fn gdb_switched_off(value: Option<std::ffi::OsString>) -> bool {
    value.is_some_and(|v| v == "0")
}

/// How `rivet run` links and runs.
struct RunOptions<'a> {
    no_lmm: bool,
    opt: u8,
    triple: Option<&'a str>,
    /// Register the program with gdb (on unless `--no-gdb` or `RIVET_GDB=0`).
    gdb: bool,
}

fn run(
    file: &PathBuf,
    args: &[String],
    entry: &str,
    objects: &[PathBuf],
    options: RunOptions<'_>,
) -> Result<i32, Box<dyn std::error::Error>> {
    let RunOptions {
        no_lmm,
        opt,
        triple,
        gdb,
    } = options;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let program = file.display().to_string();
    let mut module = Module::parse(&bytes, &program)?;
    if let Some(triple) = triple {
        let own = module.triple();
        if !own.is_empty() && !rivet::llvm::same_target(&own, triple) {
            return Err(format!(
                "{program} names target triple `{own}`; --triple {triple} needs a module \
                 without one (or with the same)"
            )
            .into());
        }
    }
    let opt_level = match opt {
        0 => OptLevel::None,
        1 => OptLevel::Less,
        2 => OptLevel::Default,
        _ => OptLevel::Aggressive,
    };
    let tm = TargetMachine::new(&TargetOptions {
        triple: triple.map(str::to_owned),
        opt_level,
        ..TargetOptions::default()
    })?;
    if opt > 0 {
        tm.optimize(&mut module, &format!("default<O{}>", opt.min(3)))?;
    }
    // The IR's own declarations give the signatures that calls into the
    // host are bridged with when the target's convention is not the host's.
    let declared = module.declared_functions();
    let declared_globals = module.declared_globals();
    let mut inputs = vec![(program.clone(), tm.emit_object(&mut module)?)];
    drop(module);
    for object in objects {
        let bytes = std::fs::read(object).map_err(|source| rivet::Error::Io {
            path: object.clone(),
            source,
        })?;
        inputs.push((object.display().to_string(), bytes));
    }
    let (convention, host_functions) = {
        let parsed = inputs
            .iter()
            .map(|(name, bytes)| ObjectFile::parse(bytes, name))
            .collect::<rivet::Result<Vec<_>>>()?;
        let convention = Convention::of(&parsed, tm.triple())?;
        let host_functions = match convention {
            Convention::SystemV => Vec::new(),
            _ => host_functions(
                &program,
                &parsed,
                &declared,
                &declared_globals,
                convention.emulated(),
            )?,
        };
        (convention, host_functions)
    };
    // Thunks are dropped after the engine (locals drop in reverse order).
    let thunks = match convention {
        Convention::Win64 => Some(Win64Thunks::new(&program, &host_functions)?),
        _ => None,
    };
    let engine = ExecutionEngine::with_lmm(Some(!no_lmm))?;
    // As lli: JIT code is visible to gdb unless switched off. The library
    // keeps this opt-in (`enable_gdb`); see README "Debugging with gdb".
    engine.enable_gdb(gdb);
    if let Some(thunks) = &thunks {
        thunks.add_global_mappings(&engine);
    }
    for (name, bytes) in inputs {
        engine.add_object_bytes(bytes, &name)?;
    }

    let mut argv_owned = vec![CString::new(program.as_str())?];
    for a in args {
        argv_owned.push(CString::new(a.as_str())?);
    }
    match convention {
        Convention::SystemV | Convention::Win64 => {
            engine.finalize_object()?;
            let native = matches!(convention, Convention::SystemV);
            if native {
                // As lli does: static constructors before the entry point.
                // (Windows-convention initializers would need a thunk of
                // their own; they are not run.)
                engine.run_static_constructors()?;
            }
            let address = engine.get_function_address(entry)?;
            let mut argv: Vec<*const c_char> = argv_owned.iter().map(|a| a.as_ptr()).collect();
            argv.push(std::ptr::null());
            let argc = (argv.len() - 1) as c_int;
            // SAFETY: `address` is the finalized, executable entry point the
            // engine linked, native code of this machine in the convention
            // `convention` names (COFF code calls the host through `thunks`,
            // alive until after the call); the program's contract (like
            // lli's) is that it has the C signature `int(int, char **)`.
            // argv lives until the call returns.
            let status = unsafe {
                if matches!(convention, Convention::Win64) {
                    let f: extern "win64" fn(c_int, *const *const c_char) -> c_int =
                        std::mem::transmute(address as usize);
                    f(argc, argv.as_ptr())
                } else {
                    let f: extern "C" fn(c_int, *const *const c_char) -> c_int =
                        std::mem::transmute(address as usize);
                    f(argc, argv.as_ptr())
                }
            };
            if native {
                engine.run_static_destructors()?;
            }
            Ok(status)
        }
        #[cfg(feature = "emulator")]
        Convention::Emulated(isa, variadic) => emulated::run(
            &engine,
            isa,
            &program,
            &host_functions,
            variadic,
            entry,
            &argv_owned,
        ),
    }
}

/// How the linked code is called, and how it calls the host.
#[derive(Debug, Clone, Copy)]
enum Convention {
    /// Native System V code (ELF and Mach-O x86-64 on an x86-64 host).
    SystemV,
    /// Native Windows x64 code (COFF x86-64): called as `extern "win64"`,
    /// calling the host through thunks.
    Win64,
    /// AArch64 or RISC-V code run in the emulator; host functions are bridges.
    #[cfg(feature = "emulator")]
    Emulated(rivet::emulator::Isa, rivet::bridge::aarch64::VariadicArgs),
}

impl Convention {
    /// The convention of the objects to link (all of one format and
    /// instruction set) on this host.
    fn of(objects: &[ObjectFile<'_>], triple: &str) -> Result<Convention, String> {
        let first = objects.first().ok_or("nothing to run")?;
        let (format, arch) = (first.format, first.arch);
        if let Some(other) = objects
            .iter()
            .find(|o| o.format != format || o.arch != arch)
        {
            return Err(format!(
                "`{}` is {:?} {:?} but the program is compiled for {triple} ({format:?} {arch:?}): \
                 objects of one run share a convention",
                other.name, other.format, other.arch
            ));
        }
        let host = Arch::host();
        match (format, arch) {
            (Format::Coff, Arch::X86_64) if host == Some(Arch::X86_64) => Ok(Convention::Win64),
            (Format::Elf | Format::MachO, _) if host == Some(arch) => Ok(Convention::SystemV),
            (_, Arch::Aarch64) => Self::emulator(format, arch, triple),
            (Format::Elf, Arch::Riscv64) => Self::emulator(format, arch, triple),
            _ => Err(format!(
                "cannot run {format:?} {arch:?} code ({triple}) on this host"
            )),
        }
    }

    #[cfg(feature = "emulator")]
    fn emulator(format: Format, arch: Arch, _triple: &str) -> Result<Convention, String> {
        use rivet::bridge::aarch64::VariadicArgs;
        use rivet::emulator::Isa;
        Ok(match (format, arch) {
            (_, Arch::Riscv64) => {
                Convention::Emulated(Isa::Riscv64, VariadicArgs::IntegerRegisters)
            }
            (Format::MachO, _) => Convention::Emulated(Isa::Aarch64, VariadicArgs::OnStack),
            // Windows arm64 passes named arguments as AAPCS64 does, and every
            // variadic argument (doubles too) in x0-x7 as integers.
            (Format::Coff, _) => Convention::Emulated(Isa::Aarch64, VariadicArgs::IntegerRegisters),
            _ => Convention::Emulated(Isa::Aarch64, VariadicArgs::InRegisters),
        })
    }

    #[cfg(not(feature = "emulator"))]
    fn emulator(_format: Format, arch: Arch, triple: &str) -> Result<Convention, String> {
        let isa = if arch == Arch::Riscv64 {
            "RISC-V"
        } else {
            "AArch64"
        };
        Err(format!(
            "{triple} is {isa} code, which this host runs only in rivet's emulator, and this \
             rivet was built without the emulator (rebuild with `--features emulator`)"
        ))
    }

    /// Whether the code runs in the emulator.
    fn emulated(self) -> bool {
        match self {
            Convention::SystemV | Convention::Win64 => false,
            #[cfg(feature = "emulator")]
            Convention::Emulated(..) => true,
        }
    }
}

/// Names the linker defines itself (see `rivet::link`), never host functions.
const LINKER_NAMES: &[&str] = &[
    "_GLOBAL_OFFSET_TABLE_",
    "__ImageBase",
    "__dso_handle",
    "_fltused",
    "__stack_chk_guard",
];

/// Whether `name` has the shape of a section bound the linker defines
/// (`__start_S`, `__stop_S`, `section$start$SEG$S`, `section$end$SEG$S`);
/// one the module has no section for is left to the link to report.
fn is_section_bound(name: &str) -> bool {
    ["__start_", "__stop_", "section$start$", "section$end$"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The host functions that code in a foreign convention calls: every name
/// the objects leave undefined (COFF's `__imp_X` counts as X) that the
/// process defines, with its signature from the IR declarations or, for
/// calls code generation adds, from [`libcall_signature`]. Names the
/// process does not define are left to the link, which reports them.
fn host_functions(
    program: &str,
    objects: &[ObjectFile<'_>],
    declared: &[FunctionSignature],
    declared_globals: &[String],
    emulated: bool,
) -> rivet::Result<Vec<HostFunction>> {
    let refuse = |reason: String| rivet::Error::UnsupportedObject {
        object: program.to_owned(),
        reason,
    };
    let mut defined = BTreeSet::new();
    let mut wanted = BTreeSet::new();
    for object in objects {
        for symbol in object.symbols.iter().filter(|s| s.is_external()) {
            if symbol.definition == Definition::Undefined {
                let name = symbol.name.strip_prefix("__imp_").unwrap_or(symbol.name);
                wanted.insert(name);
            } else {
                defined.insert(symbol.name);
            }
        }
    }
    let mut out = Vec::new();
    for name in wanted.difference(&defined) {
        if name.is_empty() || LINKER_NAMES.contains(name) || is_section_bound(name) {
            continue;
        }
        let signature = declared
            .iter()
            .find(|s| s.name == *name)
            .cloned()
            .or_else(|| libcall_signature(name));
        if CALLBACK_TAKERS.contains(name) {
            return Err(refuse(format!(
                "it calls `{name}`, which would call foreign code back in the host's convention"
            )));
        }
        let Some(address) = host_address(name) else {
            continue;
        };
        match signature {
            Some(signature) => out.push(HostFunction { signature, address }),
            // Data is reached at its address: natively that is all there is.
            None if declared_globals.iter().any(|g| g == name) && !emulated => {}
            None if declared_globals.iter().any(|g| g == name) => {
                return Err(refuse(format!(
                    "it uses host variable `{name}`, which the emulator does not map"
                )))
            }
            None => {
                return Err(refuse(format!(
                    "it refers to host symbol `{name}`, which the IR does not declare: \
                     without its signature rivet cannot bridge the call"
                )))
            }
        }
    }
    Ok(out)
}

#[cfg(feature = "emulator")]
mod emulated {
    //! Running AArch64 and RISC-V code in the emulator, over rivet's own memory.

    use std::ffi::CString;

    use rivet::arch::geometry;
    use rivet::bridge::aarch64::{bridge_host_functions, VariadicArgs};
    use rivet::bridge::HostFunction;
    use rivet::emulator::{Emulator, Isa, Perms};
    use rivet::load::Arch;
    use rivet::memory::HostPages;
    use rivet::ExecutionEngine;

    /// The emulator's page size.
    const PAGE: u64 = 0x1000;

    /// Links what `engine` holds with the host functions bridged, maps its
    /// memory and argv into an emulator and calls `entry(argc, argv)` there.
    pub(super) fn run(
        engine: &ExecutionEngine,
        isa: Isa,
        program: &str,
        functions: &[HostFunction],
        variadic: VariadicArgs,
        entry: &str,
        argv: &[CString],
    ) -> Result<i32, Box<dyn std::error::Error>> {
        // Dropped after the emulator that maps it (reverse order).
        let block = argv_block(argv)?;
        let mut emu = Emulator::with_isa(isa)?;
        bridge_host_functions(&mut emu, program, functions, variadic)?;
        emu.add_global_mappings(engine);
        engine.keep_link_maps(true);
        engine.finalize_object()?;
        let address = engine.get_function_address(entry)?;
        let arch = match isa {
            Isa::Aarch64 => Arch::Aarch64,
            Isa::Riscv64 => Arch::Riscv64,
        };
        for (start, end) in linked_pages(engine, arch) {
            // SAFETY: pages of the engine's finalized modules, which stay
            // mapped with these permissions while `engine` lives, which is
            // longer than `emu` (a local of this call).
            unsafe { emu.map_host_range(start, end - start)? };
        }
        // SAFETY: `block` is a read-write mapping of ours that outlives `emu`.
        unsafe { emu.map_host(block.addr(), block.len() as u64, Perms::RW)? };
        let (x0, _) = emu.call(address, &[argv.len() as u64, block.addr()], &[])?;
        Ok(x0 as u32 as i32)
    }

    /// The pages of every section, GOT slot and stub the engine linked,
    /// merged into disjoint ranges.
    fn linked_pages(engine: &ExecutionEngine, arch: Arch) -> Vec<(u64, u64)> {
        let sizes = geometry(arch);
        let mut spans = Vec::new();
        for (_, map) in engine.link_maps() {
            spans.extend(map.sections.iter().map(|s| (s.1, s.2)));
            spans.extend(map.got.iter().map(|g| (g.1, sizes.got_slot_size)));
            spans.extend(map.stubs.iter().map(|s| (s.1, sizes.stub_size)));
        }
        let mut pages: Vec<(u64, u64)> = spans
            .into_iter()
            .filter(|&(_, len)| len > 0)
            .map(|(a, len)| {
                let end = a.saturating_add(len).saturating_add(PAGE - 1) & !(PAGE - 1);
                (a & !(PAGE - 1), end)
            })
            .collect();
        pages.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (a, b) in pages {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
    }

    /// argv for emulated code: the pointer array then the strings, in pages
    /// of their own that the emulator maps at the same address.
    fn argv_block(argv: &[CString]) -> Result<HostPages, Box<dyn std::error::Error>> {
        let table = (argv.len() + 1) * 8;
        let strings: usize = argv.iter().map(|a| a.as_bytes_with_nul().len()).sum();
        let mut block = HostPages::new(table + strings, "mmap (argv for the emulator)")?;
        let base = block.addr();
        let bytes = block.as_mut_slice();
        let mut at = table;
        for (i, arg) in argv.iter().enumerate() {
            let arg = arg.as_bytes_with_nul();
            bytes[8 * i..8 * i + 8].copy_from_slice(&(base + at as u64).to_le_bytes());
            bytes[at..at + arg.len()].copy_from_slice(arg);
            at += arg.len();
        }
        // The table's last slot stays null (fresh pages are zeroed).
        Ok(block)
    }
}

fn link(objects: &[PathBuf], map: bool, no_lmm: bool) -> Result<(), Box<dyn std::error::Error>> {
    let engine = ExecutionEngine::with_lmm(Some(!no_lmm))?;
    engine.keep_link_maps(map);
    let mut ids = Vec::new();
    for object in objects {
        ids.push(engine.add_object_file(object)?);
    }
    engine.finalize_object()?;
    if !map {
        println!("linked {} object(s)", objects.len());
        return Ok(());
    }
    for ((name, m), id) in engine.link_maps().into_iter().zip(&ids) {
        println!("module {name}");
        if let Some(stats) = engine.module_memory_stats(*id) {
            println!(
                "  memory: {} bytes in {} bytes of pages ({} bytes of pages its own)",
                stats.bytes(),
                stats.pages(),
                stats.exclusive()
            );
        }
        println!("  sections:");
        for (sec, addr, size, align, class) in &m.sections {
            let prot = match class {
                SegmentClass::Text | SegmentClass::Stubs => "r-x",
                SegmentClass::Got | SegmentClass::ReadOnly => "r--",
                SegmentClass::Data => "rw-",
            };
            println!(
                "    {addr:#018x} {size:>10} align {align:<5} {prot} {:<7} {sec}",
                class.name()
            );
        }
        println!("  symbols:");
        let mut syms = m.symbols.clone();
        syms.sort_by_key(|s| s.1);
        for (sym, addr) in syms {
            println!("    {addr:#018x} {sym}");
        }
        if !m.got.is_empty() {
            println!("  got:");
            for (target, slot, value) in &m.got {
                println!("    {slot:#018x} -> {value:#018x} {target}");
            }
        }
        if !m.stubs.is_empty() {
            println!("  stubs:");
            for (target, addr) in &m.stubs {
                println!("    {addr:#018x} {target}");
            }
        }
    }
    let stats = engine.memory_stats();
    println!(
        "memory: reserved {} bytes, committed {} bytes, {} allocation(s), {} mapping(s), {} region(s)",
        stats.reserved_bytes, stats.committed_bytes, stats.allocations, stats.mappings, stats.regions
    );
    println!(
        "  live {} bytes; free in committed pages {} bytes; largest free run {} bytes",
        stats.live_bytes, stats.free_bytes_in_committed, stats.largest_free_run
    );
    for class in SegmentClass::ALL {
        println!(
            "  {:<7} committed {} bytes",
            class.name(),
            stats.committed_by_class[class as usize]
        );
    }
    Ok(())
}
