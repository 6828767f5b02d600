//! Inputs that the fuzz targets (`fuzz/`, run by `scripts/fuzz.sh`) found
//! to break rivet, kept in `fuzz/regressions/<format>/`. Each must end in
//! `Ok` or a typed error when it goes through what a fuzz target does with
//! an input: parse it, link it in an engine of its own, look symbols up,
//! ask the process unwinder about a linked address (as the next panic,
//! exception or backtrace in the process would), remove the module and drop
//! the engine. Nothing linked is called.
//!
//! An abort or a segmentation fault would take the whole test binary down,
//! so each input is replayed in a child process: this test binary, running
//! only this test, with `RIVET_FUZZ_REPLAY` naming the file.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::Command;

use rivet::load::{Binding, Definition, ObjectFile};
use rivet::ExecutionEngine;

/// Set in a child process: the one file it replays.
const REPLAY: &str = "RIVET_FUZZ_REPLAY";
/// What a replay prints last when it got through every step.
const DONE: &str = "fuzz-replay-done:";
/// The name the fuzz targets give every object.
const NAME: &str = "fuzz";
const FORMATS: [&str; 3] = ["elf", "macho", "coff"];

fn regression_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut files = Vec::new();
    for format in FORMATS {
        let Ok(entries) = std::fs::read_dir(root.join(format)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn fuzz_regressions_end_in_ok_or_a_typed_error() {
    if let Some(path) = std::env::var_os(REPLAY) {
        let bytes = std::fs::read(&path).unwrap();
        let outcome = replay(&bytes);
        println!("{DONE} {outcome}");
        return;
    }
    let files = regression_files();
    assert!(
        !files.is_empty(),
        "no inputs under fuzz/regressions/{{elf,macho,coff}}"
    );
    let exe = std::env::current_exe().unwrap();
    let mut failures = Vec::new();
    for file in &files {
        let output = Command::new(&exe)
            .args([
                "--exact",
                "fuzz_regressions::fuzz_regressions_end_in_ok_or_a_typed_error",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(REPLAY, file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let outcome = stdout
            .lines()
            .find_map(|l| l.split_once(DONE).map(|(_, rest)| rest));
        match (output.status.success(), outcome) {
            (true, Some(outcome)) => eprintln!("{}:{outcome}", shown(file)),
            _ => failures.push(format!(
                "{}: {} (a crash or panic, not an error)\n{}",
                shown(file),
                output.status,
                what_happened(&stderr)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A regression file's path from the repository's root.
fn shown(file: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// The panic message of a child's stderr, or its last lines.
fn what_happened(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    match lines.iter().position(|l| l.contains("panicked at")) {
        Some(i) => lines[i..lines.len().min(i + 2)].join("\n"),
        None => lines[lines.len().saturating_sub(5)..].join("\n"),
    }
}

/// The fuzz targets' steps for one input; returns how it ended.
fn replay(bytes: &[u8]) -> String {
    let names = match ObjectFile::parse(bytes, NAME) {
        Ok(object) => lookup_names(&object),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(NAME),
                "a parse error names the object: {message}"
            );
            return format!("parse error: {message}");
        }
    };
    let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
    engine.keep_link_maps(true);
    static EXT: u64 = 0;
    engine.add_global_mapping("ext", &EXT as *const u64 as u64);
    engine.add_global_mapping("low32", 0x7fff_0000);
    engine.add_global_mapping("low16", 0xfffe);
    engine.add_global_mapping("low8", 0x7e);
    let id = match engine.add_object_bytes(bytes.to_vec(), NAME) {
        Ok(id) => id,
        Err(e) => return format!("add error: {e}"),
    };
    let outcome = match engine.finalize_object() {
        Ok(()) => {
            let mut found = 0;
            for name in &names {
                if let Ok(address) = engine.get_global_value_address(name) {
                    found += 1;
                    let _ = engine.symbolize(address);
                    probe_unwinder(address);
                }
            }
            let _ = engine.link_maps();
            format!("linked, {found} of {} names found", names.len())
        }
        Err(e) => {
            if let Some(name) = names.first() {
                let _ = engine.get_function_address(name);
            }
            format!("link error: {e}")
        }
    };
    engine.remove_module(id).unwrap();
    drop(engine);
    outcome
}

/// Defined external names (up to three) and one undefined name.
fn lookup_names(object: &ObjectFile<'_>) -> Vec<String> {
    let mut names: Vec<String> = object
        .symbols
        .iter()
        .filter(|s| s.binding != Binding::Local && !s.name.is_empty())
        .filter(|s| s.definition != Definition::Undefined)
        .take(3)
        .map(|s| s.name.to_string())
        .collect();
    if let Some(s) = object
        .symbols
        .iter()
        .find(|s| s.definition == Definition::Undefined && !s.name.is_empty())
    {
        names.push(s.name.to_string());
    }
    names
}

/// libgcc's `struct dwarf_eh_bases`.
#[repr(C)]
struct DwarfEhBases {
    tbase: *mut c_void,
    dbase: *mut c_void,
    func: *mut c_void,
}

extern "C" {
    fn _Unwind_Find_FDE(pc: *mut c_void, bases: *mut DwarfEhBases) -> *const c_void;
}

/// Looks `address` up in the process unwinder, which makes libgcc read the
/// unwind tables registered since its last look-up.
fn probe_unwinder(address: u64) {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) || address == 0 {
        return;
    }
    let mut bases = DwarfEhBases {
        tbase: std::ptr::null_mut(),
        dbase: std::ptr::null_mut(),
        func: std::ptr::null_mut(),
    };
    // SAFETY: `_Unwind_Find_FDE` only reads the registered tables (mapped
    // until the engine is dropped, after this returns) and the process's
    // images; `address` is compared, never dereferenced; `bases` is a valid
    // out-parameter.
    let _ = unsafe { _Unwind_Find_FDE(address as *mut c_void, &mut bases) };
}
