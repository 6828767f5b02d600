//! Inputs that the fuzz targets (`fuzz/`, run by `scripts/fuzz.sh`) found
//! to break rivet, kept in `fuzz/regressions/<target>/`. Each must end in
//! `Ok` or a typed error when it goes through what its fuzz target does
//! with an input. The format targets (`elf`, `macho`, `coff`): parse it,
//! link it in an engine of its own, look symbols up, ask the process
//! unwinder about a linked address (as the next panic, exception or
//! backtrace in the process would), remove the module and drop the engine.
//! The heap-manager targets (`check`, `image`): link it alone into `rivet
//! check`'s memory or the image manager at the placement its first bytes
//! choose, read every segment back and release it, leaving nothing
//! allocated. Nothing linked is called.
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
const TARGETS: [&str; 5] = ["elf", "macho", "coff", "check", "image"];

fn regression_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut files = Vec::new();
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
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
        let target = Path::new(&path)
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let outcome = match target.as_str() {
            "check" | "image" => replay_heap(&target, &bytes),
            _ => replay(&bytes),
        };
        println!("{DONE} {outcome}");
        return;
    }
    let files = regression_files();
    assert!(
        !files.is_empty(),
        "no inputs under fuzz/regressions/{{elf,macho,coff,check,image}}"
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
    let (names, runs_code) = match ObjectFile::parse(bytes, NAME) {
        Ok(object) => (lookup_names(&object), !defines_indirect_functions(&object)),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(NAME),
                "a parse error names the object: {message}"
            );
            return format!("parse error: {message}");
        }
    };
    // As the fuzz targets do: an object with indirect functions (whose
    // resolvers the linker calls) links into an image that runs nothing.
    let engine = if runs_code {
        ExecutionEngine::with_lmm(Some(true)).unwrap()
    } else {
        ExecutionEngine::new(Box::new(rivet::memory::Image::new(
            rivet::memory::ImageConfig::default(),
        )))
    };
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

/// Whether `object` defines an indirect function (fuzz/src/lib.rs,
/// `defines_indirect_functions`).
fn defines_indirect_functions(object: &ObjectFile<'_>) -> bool {
    object.symbols.iter().any(|s| {
        s.kind == rivet::load::SymbolKind::IndirectFunction
            && s.definition != rivet::load::Definition::Undefined
    })
}

/// The placement of the `check` and `image` targets (fuzz/src/lib.rs,
/// `Placement`): the default for an input that is an object as it stands,
/// else read from its first 20 bytes.
fn split_placement(data: &[u8]) -> ((u64, u64, Option<usize>, u64), &[u8]) {
    let is_object = data.starts_with(b"\x7fELF")
        || matches!(
            data.get(..4),
            Some([0xce | 0xcf, 0xfa, 0xed, 0xfe] | [0xfe, 0xed, 0xfa, 0xce | 0xcf])
        )
        || [
            [0x4c, 0x01],
            [0x64, 0x86],
            [0x64, 0xaa],
            [0xc4, 0x01],
            [0x41, 0xa6],
            [0x4e, 0xa6],
        ]
        .iter()
        .any(|m| data.starts_with(m))
        || data.starts_with(&[0x00, 0x00, 0xff, 0xff]);
    if is_object || data.len() < 20 {
        return ((0x1000, 0, None, 0), data);
    }
    let word = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().unwrap());
    let separation = u64::from(u16::from_le_bytes([data[8], data[9]])) << (data[10] % 64);
    let pinned = usize::from(data[11] % 6);
    (
        (
            word(0),
            separation,
            (pinned < 5).then_some(pinned),
            word(12),
        ),
        &data[20..],
    )
}

/// The `check` and `image` targets' steps for one input.
fn replay_heap(target: &str, data: &[u8]) -> String {
    use rivet::link::{Externals, LinkOptions, LinkUnit, SymbolTable};
    use rivet::memory::{Image, ImageConfig, MemoryManager, SegmentClass};

    let ((base, separation, pinned, at), bytes) = split_placement(data);
    let object = match ObjectFile::parse(bytes, NAME) {
        Ok(object) => object,
        Err(e) => return format!("parse error: {e}"),
    };
    let mut externals = Externals::default();
    externals.resolver = Some(Box::new(|_| Some(0)));
    // `check` inputs pin one segment of the module, as `--map-section`
    // does; `image` inputs end the image there instead.
    let mut config = ImageConfig {
        base,
        separation,
        ..ImageConfig::default()
    };
    match (target, pinned) {
        ("check", Some(class)) => {
            config.pinned.insert((0, SegmentClass::ALL[class]), at);
        }
        (_, Some(_)) => config.end = at,
        (_, None) => {}
    }
    let mut image = Image::new(config);
    let memory: &mut dyn MemoryManager = &mut image;
    let linked = rivet::link::link(
        &[LinkUnit {
            module: 1,
            key: rivet::link::next_module_key(),
            object: &object,
        }],
        &SymbolTable::default(),
        &externals,
        memory,
        LinkOptions {
            map: true,
            ..LinkOptions::default()
        },
    );
    let outcome = match linked {
        Ok(linked) => {
            let count = linked.len();
            for module in linked {
                memory.release(module.allocation);
            }
            format!("linked {count} module(s) into the {target} manager")
        }
        Err(e) => format!("link error: {e}"),
    };
    assert_eq!(memory.stats().allocations, 0, "{target}: allocations left");
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
