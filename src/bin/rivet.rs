//! The `rivet` command: run IR like `lli`, or link objects and print a map.

use std::ffi::{c_char, c_int, CString};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rivet::llvm::{Module, OptLevel, TargetMachine, TargetOptions};
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
        } => run(&file, &args, &entry, &objects, no_lmm, opt),
        Command::Link {
            objects,
            map,
            no_lmm,
        } => link(&objects, map, no_lmm).map(|()| 0),
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

fn run(
    file: &PathBuf,
    args: &[String],
    entry: &str,
    objects: &[PathBuf],
    no_lmm: bool,
    opt: u8,
) -> Result<i32, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut module = Module::parse(&bytes, &file.display().to_string())?;
    let opt_level = match opt {
        0 => OptLevel::None,
        1 => OptLevel::Less,
        2 => OptLevel::Default,
        _ => OptLevel::Aggressive,
    };
    let tm = TargetMachine::new(&TargetOptions {
        opt_level,
        ..TargetOptions::default()
    })?;
    if opt > 0 {
        tm.optimize(&mut module, &format!("default<O{}>", opt.min(3)))?;
    }
    let engine = rivet::create_mcjit_compiler(module, tm, Some(!no_lmm))?;
    for object in objects {
        engine.add_object_file(object)?;
    }
    engine.finalize_object()?;
    let address = engine.get_function_address(entry)?;

    let mut argv_owned = vec![CString::new(file.display().to_string())?];
    for a in args {
        argv_owned.push(CString::new(a.as_str())?);
    }
    let mut argv: Vec<*const c_char> = argv_owned.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: `address` is the finalized, executable entry point the engine
    // linked; the program's contract (like lli's) is that it has the C
    // signature `int(int, char **)`. argv lives until the call returns.
    let status = unsafe {
        let f: extern "C" fn(c_int, *const *const c_char) -> c_int = std::mem::transmute(address);
        f((argv.len() - 1) as c_int, argv.as_ptr())
    };
    Ok(status)
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
