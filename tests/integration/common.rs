//! Shared helpers: compile IR, build engines, call JIT code.

use rivet::llvm::{CodeModel, Module, RelocModel, TargetMachine, TargetOptions};
use rivet::ExecutionEngine;

/// A host target machine with the given relocation and code model.
pub fn machine(reloc: RelocModel, code_model: CodeModel) -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        reloc,
        code_model,
        ..TargetOptions::default()
    })
    .expect("host target machine")
}

/// Parses IR text.
pub fn module(ir: &str, name: &str) -> Module {
    Module::parse_ir(ir, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compiles IR to an object with rivet's defaults (PIC, small code model).
pub fn object(ir: &str, name: &str) -> Vec<u8> {
    let mut m = module(ir, name);
    machine(RelocModel::Pic, CodeModel::Small)
        .emit_object(&mut m)
        .expect("emit object")
}

/// An engine (arena when `lmm`, else per-section) holding the given IR modules.
pub fn engine(modules: &[&str], lmm: bool) -> ExecutionEngine {
    engine_with(modules, lmm, RelocModel::Pic, CodeModel::Small)
}

/// Like [`engine`], with the code compiled for `reloc` and `code_model`.
pub fn engine_with(
    modules: &[&str],
    lmm: bool,
    reloc: RelocModel,
    code_model: CodeModel,
) -> ExecutionEngine {
    let mut iter = modules.iter().enumerate();
    let (_, first) = iter.next().expect("at least one module");
    let engine =
        rivet::create_mcjit_compiler(module(first, "m0"), machine(reloc, code_model), Some(lmm))
            .expect("engine");
    for (i, ir) in iter {
        engine.add_module(module(ir, &format!("m{i}")));
    }
    engine
}

/// Both memory managers, for tests that must pass on each.
pub const BOTH: [bool; 2] = [true, false];

/// Calls `extern "C" fn() -> R` at `addr`.
///
/// # Safety
/// `addr` must be a finalized function of that signature.
pub unsafe fn call0<R>(addr: u64) -> R {
    let f: extern "C" fn() -> R = std::mem::transmute(addr as usize);
    f()
}

/// Calls `extern "C" fn(A) -> R` at `addr`.
///
/// # Safety
/// `addr` must be a finalized function of that signature.
pub unsafe fn call1<A, R>(addr: u64, a: A) -> R {
    let f: extern "C" fn(A) -> R = std::mem::transmute(addr as usize);
    f(a)
}

/// Calls `extern "C" fn(A, B) -> R` at `addr`.
///
/// # Safety
/// `addr` must be a finalized function of that signature.
pub unsafe fn call2<A, B, R>(addr: u64, a: A, b: B) -> R {
    let f: extern "C" fn(A, B) -> R = std::mem::transmute(addr as usize);
    f(a, b)
}

/// The address ranges of `/proc/self/maps` with their permission strings.
pub fn maps() -> Vec<(u64, u64, String)> {
    let text = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let range = parts.next()?;
            let perms = parts.next()?.to_string();
            let (a, b) = range.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
                perms,
            ))
        })
        .collect()
}

/// The permission string of the mapping holding `addr`.
pub fn perms_at(addr: u64) -> Option<String> {
    maps()
        .into_iter()
        .find(|(a, b, _)| (*a..*b).contains(&addr))
        .map(|(_, _, p)| p)
}

/// Runs `body` on a thread and fails the test if it takes longer than
/// `limit` (a hang), or panics.
pub fn with_watchdog(what: &str, limit: std::time::Duration, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().expect("the test body"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: report its panic.
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no progress within {limit:?} (a deadlock or a hang)")
        }
    }
}

// Processes, debuggers and DWARF, for the tests that drive gdb, perf or
// the `rivet` binary (the tools crate's tests include this file too).

/// Runs `command`, killing it after `limit`; returns its combined output.
pub fn output_within(
    mut command: std::process::Command,
    limit: std::time::Duration,
) -> (Option<i32>, String) {
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let text = format!("{}\n{}", out.join().unwrap(), err.join().unwrap());
    (status, text)
}

/// `tool` (a bare name) where PATH finds it.
pub fn tool_on_path(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    })
}

/// The lines of gdb's output that are backtrace frames (`#N ...`), grouped
/// by backtrace.
pub fn backtraces(output: &str) -> Vec<Vec<&str>> {
    let mut all: Vec<Vec<&str>> = Vec::new();
    for line in output.lines().map(str::trim_start) {
        if line.starts_with("#0 ") {
            all.push(vec![line]);
        } else if line.starts_with('#') {
            if let Some(last) = all.last_mut() {
                last.push(line);
            }
        }
    }
    all
}

/// A fresh directory for one test's output files.
pub fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rivet-test-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The line rows of the `-g` fixture's functions, read from the image
/// registered with gdb (its relocated `.debug_line`) by gimli directly,
/// not through rivet: (address, file, line) of each row, end markers left
/// out, with the end address of each sequence.
pub fn dwarf_line_rows(symfile: &[u8]) -> (Vec<(u64, String, u64)>, Vec<u64>) {
    let elf = goblin::elf::Elf::parse(symfile).unwrap();
    let section = |id: gimli::SectionId| -> Result<gimli::EndianSlice<'_, gimli::LittleEndian>, gimli::Error> {
        let data = elf
            .section_headers
            .iter()
            .find(|h| elf.shdr_strtab.get_at(h.sh_name) == Some(id.name()))
            .map_or(&[][..], |h| {
                &symfile[h.sh_offset as usize..(h.sh_offset + h.sh_size) as usize]
            });
        Ok(gimli::EndianSlice::new(data, gimli::LittleEndian))
    };
    let dwarf = gimli::Dwarf::load(section).unwrap();
    let mut rows = Vec::new();
    let mut ends = Vec::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().unwrap() {
        let unit = dwarf.unit(header).unwrap();
        let program = unit.line_program.clone().unwrap();
        let mut program_rows = program.rows();
        while let Some((header, row)) = program_rows.next_row().unwrap() {
            if row.end_sequence() {
                ends.push(row.address());
                continue;
            }
            let file = row.file(header).unwrap();
            let name = dwarf.attr_string(&unit, file.path_name()).unwrap();
            let name = String::from_utf8_lossy(name.slice()).into_owned();
            rows.push((row.address(), name, row.line().map_or(0, |l| l.get())));
        }
    }
    (rows, ends)
}

// Objects whose sizes and alignments are untrusted (input_sizes.rs, and
// the tools' test of rivet check on them).

/// A function in `.text`, another in `.text.g`, and 8 bytes of data.
pub const SMALL: &str = r#"
    .text
    .globl f
f:
    ret
    .section .text.g,"ax",@progbits
    .p2align 4
    .globl g
g:
    ret
    .data
    .p2align 3
    .globl d
d:
    .quad 1
"#;

/// A function and 16 TiB of zero-fill.
pub const HUGE_ZERO_FILL: &str = r#"
    .text
    .globl f
f:
    ret
    .bss
    .globl big
big:
    .zero 0x100000000000
"#;

/// Assembles x86-64 ELF assembly into an object.
pub fn assemble_x86_64(asm: &str) -> Vec<u8> {
    rivet::llvm::TargetMachine::new(&rivet::llvm::TargetOptions {
        triple: Some("x86_64-unknown-linux-gnu".into()),
        ..rivet::llvm::TargetOptions::default()
    })
    .expect("x86-64 target")
    .assemble(asm)
    .expect("assemble")
}
