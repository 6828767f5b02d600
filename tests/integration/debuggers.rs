//! Debuggers and profilers see JIT code: the GDB JIT interface (checked in
//! the descriptor and by running gdb itself), the perf map and jitdump.
//!
//! The program gdb runs is this test binary, filtered to one test
//! ([`gdb_descriptor_lists_module_until_drop`]), which links a module,
//! registers it and calls into it. So the debugged code is always the code
//! under test, built by the same `cargo test`, with no second binary to
//! build or to go stale.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use goblin::elf::Elf;
use rivet::debug::gdb::{self, GdbRegistration};
use rivet::debug::image::ImageParts;
use rivet::debug::perf::{Profiler, ProfilerOptions};
use rivet::debug::ModuleImage;
use rivet::link::LinkMap;
use rivet::llvm::{CodeModel, RelocModel};
use rivet::load::Arch;
use rivet::ExecutionEngine;

/// `rivet_gdb_target` calls `rivet_gdb_inner`, so a stop in the inner one
/// has a JIT frame above it to unwind through.
const GDB_TARGET: &str = r#"
define i64 @rivet_gdb_inner(i64 %x) noinline {
  %y = mul i64 %x, 3
  ret i64 %y
}

define i64 @rivet_gdb_target(i64 %x) noinline {
  %a = call i64 @rivet_gdb_inner(i64 %x)
  %b = add i64 %a, 1
  ret i64 %b
}
"#;

/// Functions of different sizes, a data object and a constant.
const PROFILED: &str = r#"
@counter = global i64 0, align 8
@table = constant [4 x i32] [i32 1, i32 2, i32 3, i32 4], align 4

define i64 @prof_small(i64 %x) {
  %y = add i64 %x, 1
  ret i64 %y
}

define i64 @prof_loop(i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi i64 [ 0, %entry ], [ %acc1, %loop ]
  %idx = and i64 %i, 3
  %p = getelementptr [4 x i32], ptr @table, i64 0, i64 %idx
  %v = load i32, ptr %p
  %v64 = sext i32 %v to i64
  %acc1 = add i64 %acc, %v64
  %i1 = add i64 %i, 1
  %done = icmp uge i64 %i1, %n
  br i1 %done, label %exit, label %loop
exit:
  %c = load i64, ptr @counter
  %c1 = add i64 %c, 1
  store i64 %c1, ptr @counter
  ret i64 %acc1
}

define i64 @prof_calls(i64 %x) {
  %a = call i64 @prof_small(i64 %x)
  %b = call i64 @prof_loop(i64 %a)
  ret i64 %b
}
"#;

fn host_arch() -> Arch {
    if cfg!(target_arch = "aarch64") {
        Arch::Aarch64
    } else {
        Arch::X86_64
    }
}

/// An engine holding `ir` (module `m0`), finalized, with its link map and
/// the object bytes it was linked from.
fn linked(ir: &str, lmm: bool) -> (ExecutionEngine, String, LinkMap, Vec<u8>) {
    let engine = engine(&[ir], lmm);
    let objects: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = objects.clone();
    engine.set_object_cache(
        Some(Box::new(move |_, bytes| {
            sink.lock().unwrap().push(bytes.to_vec())
        })),
        None,
    );
    engine.keep_link_maps(true);
    engine.finalize_object().unwrap();
    let mut maps = engine.link_maps();
    assert_eq!(maps.len(), 1);
    let (name, map) = maps.remove(0);
    let object = objects
        .lock()
        .unwrap()
        .pop()
        .expect("notify saw the object");
    (engine, name, map, object)
}

/// The symbol `name` of an ELF file: (value, size, section index, is a function).
fn elf_symbol(elf: &Elf<'_>, name: &str) -> Option<(u64, u64, usize, bool)> {
    elf.syms.iter().find_map(|s| {
        (elf.strtab.get_at(s.st_name) == Some(name))
            .then(|| (s.st_value, s.st_size, s.st_shndx, s.is_function()))
    })
}

/// Whether `symfile` is an image naming `name` at `addr`.
fn names_at(symfile: &[u8], name: &str, addr: u64) -> bool {
    Elf::parse(symfile)
        .ok()
        .and_then(|elf| elf_symbol(&elf, name))
        .is_some_and(|(value, ..)| value == addr)
}

#[test]
fn registrations_and_profilers_can_be_held_by_a_shared_engine() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<GdbRegistration>();
    assert_send_sync::<Profiler>();
}

/// Also the program gdb runs (see the module docs): registers a module,
/// checks the process's descriptor lists it, calls into it, unregisters and
/// checks the descriptor no longer does.
#[test]
fn gdb_descriptor_lists_module_until_drop() {
    assert!(
        gdb::interface_available(),
        "libLLVM defines the GDB JIT interface"
    );
    let (engine, name, map, _) = linked(GDB_TARGET, true);
    let target = engine.get_function_address("rivet_gdb_target").unwrap();
    let inner = engine.get_function_address("rivet_gdb_inner").unwrap();
    let parts = ImageParts::from_link_map(&map);
    let image = ModuleImage {
        name: &name,
        arch: host_arch(),
        sections: &parts.sections,
        symbols: &parts.symbols,
        dwarf: parts.dwarf,
    };
    let registration = GdbRegistration::register(&image)
        .unwrap()
        .expect("an interface to register with");

    // The descriptor's list holds an image naming our function at its
    // address, in a section at the address of the module's .text.
    let listed = gdb::registered_symfiles();
    let ours: Vec<&Vec<u8>> = listed
        .iter()
        .filter(|f| names_at(f, "rivet_gdb_target", target))
        .collect();
    assert_eq!(ours.len(), 1, "{} entries listed", listed.len());
    assert_eq!(ours[0].as_slice(), registration.symfile());
    let elf = Elf::parse(ours[0]).unwrap();
    let (_, size, shndx, is_function) = elf_symbol(&elf, "rivet_gdb_target").unwrap();
    assert!(is_function);
    let section = &elf.section_headers[shndx];
    let text = map
        .sections
        .iter()
        .find(|s| (s.1..s.1 + s.2).contains(&target))
        .expect("a section holds the function");
    assert_eq!(
        elf.shdr_strtab.get_at(section.sh_name),
        Some(text.0.as_str())
    );
    assert_eq!((section.sh_addr, section.sh_size), (text.1, text.2));
    assert!(size > 0 && target + size <= text.1 + text.2);
    assert_eq!(elf_symbol(&elf, "rivet_gdb_inner").unwrap().0, inner);

    // Under gdb this stops at both functions.
    // SAFETY: finalized `i64 (i64)`.
    assert_eq!(unsafe { call1::<i64, i64>(target, 5) }, 16);

    drop(registration);
    assert!(
        !gdb::registered_symfiles()
            .iter()
            .any(|f| names_at(f, "rivet_gdb_target", target)),
        "the entry is gone from the descriptor after drop"
    );
    // The code is still there; only the debugger's view went away.
    // SAFETY: as above; the engine still holds the module.
    assert_eq!(unsafe { call1::<i64, i64>(target, 1) }, 4);
}

#[test]
fn gdb_registrations_from_many_threads_keep_the_list_intact() {
    let (engine, name, map, _) = linked(GDB_TARGET, false);
    let target = engine.get_function_address("rivet_gdb_target").unwrap();
    let parts = ImageParts::from_link_map(&map);
    let image = ModuleImage {
        name: &name,
        arch: host_arch(),
        sections: &parts.sections,
        symbols: &parts.symbols,
        dwarf: parts.dwarf,
    };
    // Four threads register the module 25 times each and drop the
    // registrations in an order of their own, interleaving on the list.
    std::thread::scope(|scope| {
        for t in 0..4 {
            let image = &image;
            scope.spawn(move || {
                let mut held: Vec<GdbRegistration> = (0..25)
                    .map(|_| GdbRegistration::register(image).unwrap().unwrap())
                    .collect();
                while !held.is_empty() {
                    let i = (t * 7 + held.len() * 3) % held.len();
                    drop(held.swap_remove(i));
                }
            });
        }
    });
    let left = gdb::registered_symfiles()
        .iter()
        .filter(|f| names_at(f, "rivet_gdb_target", target))
        .count();
    assert_eq!(left, 0);
}

#[test]
fn gdb_breaks_in_jit_function_and_backtraces_through_it() {
    let Some(gdb) = tool_on_path("gdb") else {
        eprintln!(
            "SKIPPED gdb_breaks_in_jit_function_and_backtraces_through_it: \
             gdb is not on PATH (scripts/setup.sh installs it)"
        );
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(gdb);
    command
        .args(["-nx", "-batch"])
        .args(["-ex", "set debuginfod enabled off"])
        .args(["-ex", "set startup-with-shell off"])
        .args(["-ex", "set breakpoint pending on"])
        .args(["-ex", "break rivet_gdb_target"])
        .args(["-ex", "break rivet_gdb_inner"])
        .args(["-ex", "run"])
        .args(["-ex", "bt"])
        .args(["-ex", "continue"])
        .args(["-ex", "bt"])
        .args(["-ex", "kill"])
        .arg("--args")
        .arg(&exe)
        .args([
            "debuggers::gdb_descriptor_lists_module_until_drop",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ]);
    let (status, output) = output_within(command, Duration::from_secs(300));
    assert!(status.is_some(), "gdb did not finish in time:\n{output}");

    // Both breakpoints, set by name before the code existed, were hit.
    // `Thread 2 "name" hit Breakpoint 1, 0x... in rivet_gdb_target ()`, or
    // without the thread part when the program has one thread. (The
    // "Breakpoint 1 (rivet_gdb_target) pending." line does not match.)
    let hit = |name: &str| {
        output
            .lines()
            .any(|l| l.contains("Breakpoint ") && l.contains(&format!(" in {name} (")))
    };
    assert!(
        hit("rivet_gdb_target"),
        "no stop in rivet_gdb_target:\n{output}"
    );
    assert!(
        hit("rivet_gdb_inner"),
        "no stop in rivet_gdb_inner:\n{output}"
    );

    // First stop: the JIT function is frame 0, called from the test.
    // Second stop: inner is frame 0 and the backtrace unwinds through the
    // JIT frame of rivet_gdb_target into the Rust test function.
    let traces = backtraces(&output);
    assert_eq!(traces.len(), 2, "two backtraces:\n{output}");
    assert!(traces[0][0].contains(" in rivet_gdb_target ("), "{output}");
    assert!(traces[1][0].contains(" in rivet_gdb_inner ("), "{output}");
    assert!(
        traces[1].len() >= 3 && traces[1][1].contains(" in rivet_gdb_target ("),
        "frame 1 is the JIT caller:\n{output}"
    );
    // Frame 2 is Rust code again: with the module's .eh_frame in the image,
    // gdb unwinds rivet_gdb_target correctly (without it, gdb guesses a
    // bogus third JIT frame here).
    assert!(
        traces[1][2].contains(" in integration::"),
        "frame 2 is the Rust caller:\n{output}"
    );
    assert!(
        traces[1][2..]
            .iter()
            .any(|f| f.contains("gdb_descriptor_lists_module_until_drop")),
        "the Rust test that called into JIT code is further up:\n{output}"
    );
}

/// `debug_args.c` compiled to IR with `-g` (DWARF 5): see the fixture.
const DEBUG_ARGS: &str = include_str!("../../fixtures/debug/debug_args.ll");

/// Little-endian u64s of `bytes` at every offset that holds a whole one.
fn holds_u64(bytes: &[u8], value: u64) -> bool {
    bytes
        .windows(8)
        .any(|w| u64::from_le_bytes(w.try_into().unwrap()) == value)
}

/// Also the program gdb runs in [`gdb_breaks_by_file_and_line_and_shows_arguments`]:
/// an engine with gdb registration on links the `-g` fixture; the image it
/// registers carries the module's DWARF, relocated (the functions' run-time
/// addresses in `.debug_addr`), outside the module's memory; then the code
/// runs (under gdb, stopping at `debug_args.c:4`).
#[test]
fn gdb_image_carries_the_modules_dwarf() {
    for (model, code) in [
        (RelocModel::Pic, CodeModel::Small),
        // numba's objects: static, large code model.
        (RelocModel::Static, CodeModel::Large),
    ] {
        let engine = rivet::create_mcjit_compiler(
            module(DEBUG_ARGS, "debug_args"),
            machine(model, code),
            Some(true),
        )
        .unwrap();
        // Before the first look-up, which links the module.
        engine.enable_gdb(true);
        let entry = engine.get_function_address("rivet_dbg_entry").unwrap();
        let scale = engine.get_function_address("rivet_dbg_scale").unwrap();

        let listed = gdb::registered_symfiles();
        let ours = listed
            .iter()
            .find(|f| names_at(f, "rivet_dbg_entry", entry))
            .expect("the module is registered");
        let elf = Elf::parse(ours).unwrap();
        let section = |name: &str| {
            elf.section_headers
                .iter()
                .find(|h| elf.shdr_strtab.get_at(h.sh_name) == Some(name))
                .unwrap_or_else(|| panic!("{model:?}/{code:?}: no {name} in the image"))
        };
        for name in [
            ".debug_info",
            ".debug_abbrev",
            ".debug_line",
            ".debug_str",
            ".debug_addr",
        ] {
            let h = section(name);
            assert!(h.sh_size > 0, "{name}");
            assert_eq!(
                h.sh_flags & u64::from(goblin::elf::section_header::SHF_ALLOC),
                0
            );
            assert_eq!(h.sh_addr, 0, "{name} takes no memory");
        }
        let addr = section(".debug_addr");
        let bytes = &ours[addr.sh_offset as usize..(addr.sh_offset + addr.sh_size) as usize];
        assert!(
            holds_u64(bytes, scale) && holds_u64(bytes, entry),
            "{model:?}/{code:?}: .debug_addr holds the run-time addresses"
        );
        // SAFETY: finalized `i64 (i64)`: (7 * 3 + 1) - 1.
        assert_eq!(unsafe { call1::<i64, i64>(entry, 7) }, 21);
    }
}

/// On each ELF instruction set, the object's DWARF comes through the link
/// relocated, into the link map (only when asked for): `.debug_addr` holds
/// the functions' linked addresses and the rest of the bytes are the
/// object's.
#[test]
fn elf_dwarf_is_linked_on_x86_64_and_aarch64() {
    use rivet::link::{self, Externals, LinkOptions, LinkUnit, SymbolTable};
    use rivet::llvm::{TargetMachine, TargetOptions};
    use rivet::load::{ObjectFile, SectionKind};
    use rivet::memory::{Image, ImageConfig};

    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        let tm = TargetMachine::new(&TargetOptions {
            triple: Some(triple.to_string()),
            reloc: RelocModel::Pic,
            code_model: CodeModel::Small,
            ..TargetOptions::default()
        })
        .unwrap();
        let bytes = tm
            .emit_object(&mut module(DEBUG_ARGS, "debug_args"))
            .unwrap();
        let object = ObjectFile::parse(&bytes, "debug_args.o").unwrap();
        let info = object
            .sections
            .iter()
            .find(|s| s.name == ".debug_info")
            .unwrap();
        assert_eq!(info.kind, SectionKind::Debug, "{triple}");
        assert!(!info.kind.is_loaded() && !info.relocations.is_empty());

        let link_with = |debug_info: bool| {
            let mut memory = Image::new(ImageConfig {
                base: 0x5555_0000_0000,
                ..ImageConfig::default()
            });
            let mut linked = link::link(
                &[LinkUnit {
                    module: 1,
                    object: &object,
                }],
                &SymbolTable::default(),
                &Externals::default(),
                &mut memory,
                LinkOptions {
                    map: true,
                    skip_finalize: true,
                    debug_info,
                    ..LinkOptions::default()
                },
            )
            .unwrap();
            *linked.remove(0).map.unwrap()
        };
        assert!(link_with(false).dwarf.is_empty(), "{triple}: off, none");
        let map = link_with(true);
        let names: Vec<&str> = map.dwarf.iter().map(|d| d.name.as_str()).collect();
        for want in [
            ".debug_abbrev",
            ".debug_info",
            ".debug_str_offsets",
            ".debug_str",
            ".debug_addr",
            ".debug_line",
            ".debug_line_str",
        ] {
            assert!(names.contains(&want), "{triple}: {want} in {names:?}");
        }
        // Nothing of it was placed in the module's memory.
        assert!(map.sections.iter().all(|s| !s.0.starts_with(".debug")));
        let address = |name: &str| map.symbols.iter().find(|s| s.0 == name).unwrap().1;
        let dwarf = |name: &str| &map.dwarf.iter().find(|d| d.name == name).unwrap().data;
        let (scale, entry) = (address("rivet_dbg_scale"), address("rivet_dbg_entry"));
        assert!(scale >= 0x5555_0000_0000 && entry > scale);
        assert!(
            holds_u64(dwarf(".debug_addr"), scale) && holds_u64(dwarf(".debug_addr"), entry),
            "{triple}"
        );
        // Sections without fixups come through as they are.
        let original = |name: &str| {
            object
                .sections
                .iter()
                .find(|s| s.name == name)
                .unwrap()
                .data
        };
        assert_eq!(dwarf(".debug_str"), original(".debug_str"));
        assert_eq!(dwarf(".debug_abbrev"), original(".debug_abbrev"));
    }
}

/// Debug sections rivet cannot use never fail an object or a link: one
/// whose fixups have a type rivet does not know is dropped when the object
/// is read, one whose fixup lies outside it is left out of the link's DWARF,
/// and the rest of the DWARF and the code come through.
#[test]
fn unusable_debug_sections_are_left_out_not_fatal() {
    use rivet::link::{self, Externals, LinkOptions, LinkUnit, SymbolTable};
    use rivet::load::{ObjectFile, SectionKind};
    use rivet::memory::{Image, ImageConfig};

    let mut bytes = object(DEBUG_ARGS, "debug_args");
    let (info_relas, line_relas) = {
        let elf = Elf::parse(&bytes).unwrap();
        let at = |name: &str| {
            let h = elf
                .section_headers
                .iter()
                .find(|h| elf.shdr_strtab.get_at(h.sh_name) == Some(name))
                .unwrap_or_else(|| panic!("{name}"));
            assert!(h.sh_size >= 24, "{name} holds a relocation");
            h.sh_offset as usize
        };
        (at(".rela.debug_info"), at(".rela.debug_line"))
    };
    // Elf64_Rela: r_offset, r_info (symbol << 32 | type), r_addend.
    // An x86-64 relocation type that does not exist, in .debug_info's.
    bytes[info_relas + 8..info_relas + 12].copy_from_slice(&0xfeu32.to_le_bytes());
    // A place far past the end of .debug_line.
    bytes[line_relas..line_relas + 8].copy_from_slice(&0x7fff_fff0u64.to_le_bytes());

    let object = ObjectFile::parse(&bytes, "debug_args.o").unwrap();
    let kind = |name: &str| {
        object
            .sections
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .kind
    };
    assert_eq!(kind(".debug_info"), SectionKind::Ignored);
    assert_eq!(kind(".debug_line"), SectionKind::Debug);
    assert_eq!(kind(".debug_addr"), SectionKind::Debug);

    let mut memory = Image::new(ImageConfig::default());
    let linked = link::link(
        &[LinkUnit {
            module: 1,
            object: &object,
        }],
        &SymbolTable::default(),
        &Externals::default(),
        &mut memory,
        LinkOptions {
            map: true,
            skip_finalize: true,
            debug_info: true,
            ..LinkOptions::default()
        },
    )
    .unwrap();
    let map = linked[0].map.as_ref().unwrap();
    let names: Vec<&str> = map.dwarf.iter().map(|d| d.name.as_str()).collect();
    assert!(!names.contains(&".debug_info") && !names.contains(&".debug_line"));
    assert!(names.contains(&".debug_addr") && names.contains(&".debug_str"));
    assert!(map.symbols.iter().any(|s| s.0 == "rivet_dbg_entry"));
}

#[test]
fn gdb_breaks_by_file_and_line_and_shows_arguments() {
    let Some(gdb) = tool_on_path("gdb") else {
        eprintln!(
            "SKIPPED gdb_breaks_by_file_and_line_and_shows_arguments: \
             gdb is not on PATH (scripts/setup.sh installs it)"
        );
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(gdb);
    command
        .args(["-nx", "-batch"])
        .args(["-ex", "set debuginfod enabled off"])
        .args(["-ex", "set startup-with-shell off"])
        .args(["-ex", "set breakpoint pending on"])
        .args(["-ex", "break debug_args.c:4"])
        .args(["-ex", "run"])
        .args(["-ex", "info args"])
        .args(["-ex", "bt 2"])
        .args(["-ex", "next"])
        .args(["-ex", "info locals"])
        .args(["-ex", "kill"])
        .arg("--args")
        .arg(&exe)
        .args([
            "debuggers::gdb_image_carries_the_modules_dwarf",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ]);
    let (status, output) = output_within(command, Duration::from_secs(300));
    assert!(status.is_some(), "gdb did not finish in time:\n{output}");

    // The line breakpoint, pending until the module was registered, bound
    // and was hit, with the arguments in the stop line:
    // `Thread 2 "..." hit Breakpoint 1, rivet_dbg_scale (x=7, factor=3) at ./debug_args.c:4`.
    let stop = output
        .lines()
        .find(|l| l.contains("Breakpoint 1, "))
        .unwrap_or_else(|| panic!("the breakpoint was not hit:\n{output}"));
    assert!(
        stop.contains("rivet_dbg_scale (x=7, factor=3) at ") && stop.ends_with("debug_args.c:4"),
        "{stop}\n{output}"
    );
    // `info args`.
    assert!(
        output.lines().any(|l| l == "x = 7") && output.lines().any(|l| l == "factor = 3"),
        "{output}"
    );
    // The backtrace shows source positions in both JIT frames.
    let traces = backtraces(&output);
    assert_eq!(traces.len(), 1, "{output}");
    assert!(
        traces[0][0].contains("rivet_dbg_scale (x=7, factor=3) at ")
            && traces[0][0].ends_with("debug_args.c:4"),
        "{output}"
    );
    assert!(
        traces[0].len() >= 2
            && traces[0][1].contains(" in rivet_dbg_entry (x=7) at ")
            && traces[0][1].ends_with("debug_args.c:11"),
        "frame 1 is the JIT caller, with its line:\n{output}"
    );
    // `next` steps to line 5, after `product` was computed.
    assert!(
        output.lines().any(|l| l.starts_with("5\t")),
        "next stops at line 5:\n{output}"
    );
    assert!(output.lines().any(|l| l == "product = 21"), "{output}");
}

/// The functions the object defines, with their ELF sizes.
fn object_functions(object: &[u8]) -> BTreeMap<String, u64> {
    let elf = Elf::parse(object).unwrap();
    elf.syms
        .iter()
        .filter(|s| s.is_function() && s.st_shndx != 0)
        .map(|s| (elf.strtab.get_at(s.st_name).unwrap().to_string(), s.st_size))
        .collect()
}

#[test]
fn perf_map_lines_match_the_engines_addresses() {
    for lmm in BOTH {
        let (engine, name, map, object) = linked(PROFILED, lmm);
        let parts = ImageParts::from_link_map(&map);
        let image = ModuleImage {
            name: &name,
            arch: host_arch(),
            sections: &parts.sections,
            symbols: &parts.symbols,
            dwarf: parts.dwarf,
        };
        let dir = scratch(&format!("perf-map-{lmm}"));
        let mut profiler = Profiler::open(ProfilerOptions {
            perf_map: true,
            perf_map_dir: Some(dir.clone()),
            ..ProfilerOptions::default()
        })
        .unwrap();
        let path = dir.join(format!("perf-{}.map", std::process::id()));
        assert_eq!(profiler.perf_map_path(), Some(path.as_path()));
        profiler.module_loaded(&image).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for line in text.lines() {
            let mut fields = line.splitn(3, ' ');
            let start = fields.next().unwrap();
            let size = fields.next().unwrap();
            let sym = fields.next().unwrap();
            assert!(
                !start.starts_with("0x") && !size.starts_with("0x"),
                "{line}"
            );
            let start = u64::from_str_radix(start, 16).unwrap();
            let size = u64::from_str_radix(size, 16).unwrap();
            assert!(lines.insert(sym.to_string(), (start, size)).is_none());
        }

        // One line per function of the object, none for data.
        let functions = object_functions(&object);
        assert_eq!(
            lines.keys().collect::<Vec<_>>(),
            functions.keys().collect::<Vec<_>>()
        );
        for (sym, &(start, size)) in &lines {
            assert_eq!(start, engine.get_function_address(sym).unwrap(), "{sym}");
            // The size runs to the next function: the function's own bytes
            // plus alignment padding (functions are 16-byte aligned).
            let own = functions[sym];
            assert!(size >= own && size - own < 16, "{sym}: {size} vs {own}");
            assert!(size > 0);
        }
        // SAFETY: finalized `i64 (i64)`: 4 iterations over 1, 2, 3, 4.
        assert_eq!(unsafe { call1::<i64, i64>(lines["prof_calls"].0, 3) }, 10);

        // A second module appends; earlier lines stay.
        profiler.module_loaded(&image).unwrap();
        let again = std::fs::read_to_string(&path).unwrap();
        assert_eq!(again, format!("{text}{text}"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A parsed jitdump record: (id, timestamp, body).
type Record = (u32, u64, Vec<u8>);

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

/// Parses a jitdump file: header fields and records.
fn parse_jitdump(bytes: &[u8]) -> ([u32; 6], u64, Vec<Record>) {
    let header = [0, 4, 8, 12, 16, 20].map(|at| u32_at(bytes, at));
    let timestamp = u64_at(bytes, 24);
    let mut records = Vec::new();
    let mut at = header[2] as usize;
    while at < bytes.len() {
        let id = u32_at(bytes, at);
        let size = u32_at(bytes, at + 4) as usize;
        let stamp = u64_at(bytes, at + 8);
        assert!(size >= 16 && at + size <= bytes.len(), "record at {at}");
        records.push((id, stamp, bytes[at + 16..at + size].to_vec()));
        at += size;
    }
    (header, timestamp, records)
}

fn mapped_permissions(path: &Path) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let path = path.to_str().unwrap();
    maps.lines()
        .find(|l| l.ends_with(path))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
}

#[test]
fn jitdump_records_every_function_with_its_code() {
    let (engine, name, map, object) = linked(PROFILED, true);
    let parts = ImageParts::from_link_map(&map);
    let image = ModuleImage {
        name: &name,
        arch: host_arch(),
        sections: &parts.sections,
        symbols: &parts.symbols,
        dwarf: parts.dwarf,
    };
    let dir = scratch("jitdump");
    let options = ProfilerOptions {
        jitdump: true,
        jitdump_dir: Some(dir.clone()),
        ..ProfilerOptions::default()
    };
    let mut profiler = Profiler::open(options.clone()).unwrap();
    // A second profiler for the same directory shares the file.
    let mut second = Profiler::open(options).unwrap();
    let path = dir.join(format!("jit-{}.dump", std::process::id()));
    assert_eq!(profiler.jitdump_path(), Some(path.as_path()));
    assert_eq!(second.jitdump_path(), Some(path.as_path()));
    // perf record notices the file by its executable mapping, which is
    // never writable.
    assert_eq!(mapped_permissions(&path).as_deref(), Some("r-xp"));

    profiler.module_loaded(&image).unwrap();
    second.module_loaded(&image).unwrap();
    drop(profiler);
    let open = std::fs::read(&path).unwrap();
    assert!(
        parse_jitdump(&open).2.iter().all(|r| r.0 == 0),
        "no close record while an engine still has the file"
    );
    drop(second);
    assert_eq!(mapped_permissions(&path), None, "unmapped after the last");

    let bytes = std::fs::read(&path).unwrap();
    let (header, created, records) = parse_jitdump(&bytes);
    let em = if cfg!(target_arch = "aarch64") {
        183
    } else {
        62
    };
    assert_eq!(header, [0x4A69_5444, 1, 40, em, 0, std::process::id()]);
    assert_eq!(u64_at(&bytes, 32), 0, "flags");

    let functions = object_functions(&object);
    let (close, loads) = records.split_last().unwrap();
    assert_eq!(close.0, 3, "JIT_CODE_CLOSE ends the file");
    assert!(close.2.is_empty());
    assert_eq!(loads.len(), 2 * functions.len(), "each function, twice");
    let mut indices = Vec::new();
    let mut last_stamp = created;
    for (id, stamp, body) in loads {
        assert_eq!(*id, 0, "JIT_CODE_LOAD");
        assert!(*stamp >= last_stamp, "monotonic timestamps");
        last_stamp = *stamp;
        assert_eq!(u32_at(body, 0), std::process::id());
        let (vma, code_addr, size) = (u64_at(body, 8), u64_at(body, 16), u64_at(body, 24));
        indices.push(u64_at(body, 32));
        let name_end = 40 + body[40..].iter().position(|&b| b == 0).unwrap();
        let sym = std::str::from_utf8(&body[40..name_end]).unwrap();
        let code = &body[name_end + 1..];
        assert_eq!(vma, code_addr);
        assert_eq!(
            code_addr,
            engine.get_function_address(sym).unwrap(),
            "{sym}"
        );
        let own = functions[sym];
        assert!(size >= own && size - own < 16, "{sym}: {size} vs {own}");
        assert_eq!(code.len() as u64, size);
        // SAFETY: the engine holds the module, so its code is mapped
        // (read + execute) for `size` bytes from its address.
        let live = unsafe { std::slice::from_raw_parts(code_addr as *const u8, size as usize) };
        assert_eq!(code, live, "{sym}: the record holds the code in memory");
    }
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), loads.len(), "code indices are unique");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Through the engine: `enable_gdb` registers each linked module, and
/// `remove_module` takes it off the descriptor's list.
#[test]
fn the_engine_registers_modules_with_gdb_and_unregisters_on_removal() {
    let engine = rivet::ExecutionEngine::with_lmm(Some(true)).unwrap();
    let mut engine = engine;
    engine.set_target_machine(rivet::llvm::TargetMachine::host().unwrap());
    engine.enable_gdb(true);
    let id = engine.add_module(module(PROFILED, "engine_gdb"));
    let f = engine.get_function_address("prof_calls").unwrap();
    let listed = |addr: u64| {
        gdb::registered_symfiles()
            .iter()
            .any(|s| names_at(s, "prof_calls", addr))
    };
    assert!(listed(f), "registered at finalize");
    engine.remove_module(id).unwrap();
    assert!(!listed(f), "unregistered on removal");
}

/// Through the engine: `enable_profiling` writes a perf map line for each
/// function the engine places, at the engine's own addresses.
#[test]
fn the_engine_writes_its_functions_to_the_perf_map() {
    let dir = scratch("engine-perf-map");
    let mut engine = rivet::ExecutionEngine::with_lmm(Some(false)).unwrap();
    engine.set_target_machine(rivet::llvm::TargetMachine::host().unwrap());
    engine
        .enable_profiling(ProfilerOptions {
            perf_map: true,
            perf_map_dir: Some(dir.clone()),
            ..ProfilerOptions::default()
        })
        .unwrap();
    engine.add_module(module(PROFILED, "engine_perf"));
    let f = engine.get_function_address("prof_calls").unwrap();
    let text =
        std::fs::read_to_string(dir.join(format!("perf-{}.map", std::process::id()))).unwrap();
    let line = text
        .lines()
        .find(|l| l.ends_with(" prof_calls"))
        .unwrap_or_else(|| panic!("no line for prof_calls in {text}"));
    let start = u64::from_str_radix(line.split(' ').next().unwrap(), 16).unwrap();
    assert_eq!(start, f);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The registered image of the module defining `name` at `addr`.
fn registered_image(name: &str, addr: u64) -> Vec<u8> {
    gdb::registered_symfiles()
        .into_iter()
        .find(|f| names_at(f, name, addr))
        .expect("the module is registered")
}

/// `symbolize_line` gives file and line from the module's DWARF line
/// table: at each row's address, the row's line; none without debugging.
#[test]
fn symbolize_line_reads_the_modules_line_table() {
    let engine = rivet::create_mcjit_compiler(
        module(DEBUG_ARGS, "debug_args"),
        machine(RelocModel::Pic, CodeModel::Small),
        Some(true),
    )
    .unwrap();
    engine.enable_gdb(true);
    let scale = engine.get_function_address("rivet_dbg_scale").unwrap();
    let entry = engine.get_function_address("rivet_dbg_entry").unwrap();
    let (rows, ends) = dwarf_line_rows(&registered_image("rivet_dbg_entry", entry));
    assert!(rows.len() >= 6, "{rows:?}");
    for (i, (addr, file, line)) in rows.iter().enumerate() {
        // Of several rows at one address the last one holds.
        if rows.get(i + 1).is_some_and(|next| next.0 == *addr) || ends.contains(addr) {
            continue;
        }
        let at = engine
            .symbolize_line(*addr)
            .unwrap_or_else(|| panic!("no line at {addr:#x}"));
        assert_eq!(
            (at.line as u64, at.file.ends_with(file.as_str())),
            (*line, true)
        );
        assert_eq!(at.file, "./debug_args.c");
    }
    // Inside rivet_dbg_scale: the multiply is on line 4; the call in
    // rivet_dbg_entry on line 11.
    let lines_of = |start: u64| -> Vec<u32> {
        (start..start + 0x20)
            .filter_map(|a| engine.symbolize_line(a))
            .map(|l| l.line)
            .collect()
    };
    assert!(lines_of(scale).contains(&4), "{:?}", lines_of(scale));
    assert!(lines_of(entry).contains(&11), "{:?}", lines_of(entry));
    // The old symbolize still names the function.
    assert_eq!(
        engine.symbolize(scale + 1),
        Some(("rivet_dbg_scale".to_string(), 1))
    );
    assert_eq!(engine.symbolize_line(8), None, "an address in no module");

    // Without debugging the engine keeps no line table.
    let plain = rivet::create_mcjit_compiler(
        module(DEBUG_ARGS, "debug_args_plain"),
        machine(RelocModel::Pic, CodeModel::Small),
        Some(true),
    )
    .unwrap();
    plain.enable_gdb(false);
    let f = plain.get_function_address("rivet_dbg_scale").unwrap();
    assert!(plain.symbolize(f).is_some());
    assert_eq!(plain.symbolize_line(f), None);
}

/// What gdb registration costs a module: the figures README and
/// BENCHMARKS.md quote. Prints, for `MODULES` modules of the `-g` fixture
/// (each its own finalize), the debugger's image bytes per module, the line
/// table the engine keeps, the arena's committed bytes and the time to
/// compile and link each, with registration off and on. Run it in release:
/// `cargo test --release --test integration gdb_registration_cost -- --nocapture`.
/// Asserts only what does not depend on the machine: the DWARF never enters
/// the arena, and the image holds the module's DWARF.
#[test]
fn gdb_registration_cost_per_module() {
    const MODULES: usize = 200;
    // Compiled once, outside the measured part: the figures are rivet's.
    let objects: Vec<Vec<u8>> = (0..MODULES)
        .map(|i| {
            let ir = DEBUG_ARGS.replace("rivet_dbg_", &format!("rivet_cost{i}_"));
            object(&ir, &format!("cost{i}"))
        })
        .collect();
    let measure = |gdb_on: bool| {
        let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
        engine.enable_gdb(gdb_on);
        let start = Instant::now();
        let mut entries = Vec::with_capacity(MODULES);
        for (i, bytes) in objects.iter().enumerate() {
            engine
                .add_object_bytes(bytes.clone(), &format!("cost{i}"))
                .unwrap();
            let name = format!("rivet_cost{i}_entry");
            entries.push((engine.get_function_address(&name).unwrap(), name));
        }
        let elapsed = start.elapsed();
        let mut image_bytes = 0usize;
        let mut with_lines = 0usize;
        if gdb_on {
            let listed = gdb::registered_symfiles();
            for (addr, name) in &entries {
                image_bytes += listed
                    .iter()
                    .find(|f| names_at(f, name, *addr))
                    .expect("registered")
                    .len();
                with_lines += usize::from(engine.symbolize_line(*addr).is_some());
            }
        }
        let committed = engine.memory_stats().committed_bytes;
        (elapsed, image_bytes, with_lines, committed)
    };
    // Once each before measuring, so that LLVM and the arena are warm.
    let _ = measure(false);
    let (off_time, _, _, off_committed) = measure(false);
    let (on_time, image_bytes, with_lines, on_committed) = measure(true);
    // Without the timing list: the bytes of one fixture's line table.
    let table = {
        let engine = rivet::create_mcjit_compiler(
            module(DEBUG_ARGS, "cost_table"),
            machine(RelocModel::Pic, CodeModel::Small),
            Some(true),
        )
        .unwrap();
        engine.enable_gdb(true);
        let f = engine.get_function_address("rivet_dbg_entry").unwrap();
        let image = registered_image("rivet_dbg_entry", f);
        let elf = Elf::parse(&image).unwrap();
        let dwarf: Vec<rivet::link::DwarfSection> = elf
            .section_headers
            .iter()
            .filter_map(|h| {
                let name = elf.shdr_strtab.get_at(h.sh_name)?;
                name.starts_with(".debug_")
                    .then(|| rivet::link::DwarfSection {
                        name: name.to_string(),
                        data: image[h.sh_offset as usize..(h.sh_offset + h.sh_size) as usize]
                            .to_vec(),
                    })
            })
            .collect();
        let dwarf_bytes: usize = dwarf.iter().map(|d| d.data.len()).sum();
        let lines = rivet::debug::LineTable::from_dwarf(&dwarf).expect("a line table");
        (dwarf_bytes, lines.heap_bytes())
    };
    assert_eq!(with_lines, MODULES, "every module keeps its line table");
    assert_eq!(off_committed, on_committed, "DWARF never enters the arena");
    assert!(
        image_bytes / MODULES > table.0,
        "the image carries the DWARF"
    );
    eprintln!(
        "gdb registration, {MODULES} modules of fixtures/debug/debug_args.ll (one finalize each):\n\
         \x20 off: {:.1} us a module (link, objects compiled before), arena committed {} KiB\n\
         \x20 on:  {:.1} us a module (+{:.1} us), arena committed {} KiB (same);\n\
         \x20      image {} bytes a module (of which DWARF {} bytes), line table {} bytes a module",
        off_time.as_secs_f64() * 1e6 / MODULES as f64,
        off_committed / 1024,
        on_time.as_secs_f64() * 1e6 / MODULES as f64,
        (on_time.as_secs_f64() - off_time.as_secs_f64()) * 1e6 / MODULES as f64,
        on_committed / 1024,
        image_bytes / MODULES,
        table.0,
        table.1,
    );
}

/// A jitdump `JIT_CODE_DEBUG_INFO` record: its code address and entries
/// (address, line, discriminator, file name).
type DebugEntries = (u64, Vec<(u64, i32, i32, String)>);

fn parse_debug_info(body: &[u8]) -> DebugEntries {
    let code_addr = u64_at(body, 0);
    let count = u64_at(body, 8);
    let mut at = 16;
    let mut entries = Vec::new();
    for _ in 0..count {
        let addr = u64_at(body, at);
        let line = u32_at(body, at + 8) as i32;
        let discrim = u32_at(body, at + 12) as i32;
        let end = at + 16 + body[at + 16..].iter().position(|&b| b == 0).unwrap();
        let name = std::str::from_utf8(&body[at + 16..end])
            .unwrap()
            .to_string();
        entries.push((addr, line, discrim, name));
        at = end + 1;
    }
    assert_eq!(at, body.len(), "the entries fill the record");
    (code_addr, entries)
}

/// With jitdump on, each function of a `-g` module gets a
/// `JIT_CODE_DEBUG_INFO` record just before its `JIT_CODE_LOAD`, whose
/// entries are the module's DWARF line table (read here by gimli from the
/// image registered with gdb, independently of rivet) within the function.
#[test]
fn jitdump_debug_records_match_the_dwarf_line_table() {
    let dir = scratch("jitdump-debug");
    let engine = rivet::create_mcjit_compiler(
        module(DEBUG_ARGS, "debug_args_jitdump"),
        machine(RelocModel::Pic, CodeModel::Small),
        Some(true),
    )
    .unwrap();
    engine.enable_gdb(true);
    engine
        .enable_profiling(ProfilerOptions {
            jitdump: true,
            jitdump_dir: Some(dir.clone()),
            ..ProfilerOptions::default()
        })
        .unwrap();
    let entry = engine.get_function_address("rivet_dbg_entry").unwrap();
    let scale = engine.get_function_address("rivet_dbg_scale").unwrap();
    let (rows, ends) = dwarf_line_rows(&registered_image("rivet_dbg_entry", entry));
    drop(engine);
    let path = dir.join(format!("jit-{}.dump", std::process::id()));
    let (_, _, records) = parse_jitdump(&std::fs::read(&path).unwrap());

    // The row of the DWARF line table in effect at `addr`.
    let row_at = |addr: u64| {
        let before = rows.iter().rposition(|r| r.0 <= addr)?;
        let last_row = rows[before].0;
        // Past a sequence's end no row applies.
        if ends.iter().any(|&e| e > last_row && e <= addr) {
            return None;
        }
        // Of several rows at one address the last holds.
        Some(&rows[before])
    };
    let mut seen = BTreeMap::new();
    for pair in records.windows(2) {
        let (first, next) = (&pair[0], &pair[1]);
        if first.0 != 2 {
            continue;
        }
        assert_eq!(next.0, 0, "a JIT_CODE_LOAD follows each debug record");
        let (code_addr, entries) = parse_debug_info(&first.2);
        let load = &next.2;
        let (load_addr, size) = (u64_at(load, 16), u64_at(load, 24));
        let name_end = 40 + load[40..].iter().position(|&b| b == 0).unwrap();
        let function = std::str::from_utf8(&load[40..name_end])
            .unwrap()
            .to_string();
        assert_eq!(code_addr, load_addr, "{function}");
        assert!(!entries.is_empty());
        for (addr, line, _, file) in &entries {
            assert!(
                (code_addr..code_addr + size).contains(addr),
                "{function}: {addr:#x}"
            );
            let (_, dwarf_file, dwarf_line) =
                row_at(*addr).unwrap_or_else(|| panic!("{function}: no row at {addr:#x}"));
            assert_eq!(*line as u64, *dwarf_line, "{function} at {addr:#x}");
            assert!(
                file.ends_with(dwarf_file.as_str()),
                "{file} vs {dwarf_file}"
            );
        }
        // Every DWARF row with a line inside the function is an entry.
        for (addr, _, line) in rows
            .iter()
            .filter(|r| (code_addr..code_addr + size).contains(&r.0))
        {
            if *line != 0 && row_at(*addr).is_some_and(|r| r.0 == *addr && r.2 == *line) {
                assert!(
                    entries.iter().any(|e| e.0 == *addr && e.1 as u64 == *line),
                    "{function}: row {addr:#x} line {line} missing"
                );
            }
        }
        seen.insert(function, entries.iter().map(|e| e.1).collect::<Vec<_>>());
    }
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        ["rivet_dbg_entry", "rivet_dbg_scale"],
        "each function has its lines"
    );
    assert!(seen["rivet_dbg_scale"].contains(&4) && seen["rivet_dbg_scale"].contains(&5));
    assert!(seen["rivet_dbg_entry"].contains(&11));
    assert!(scale != entry);
    std::fs::remove_dir_all(&dir).unwrap();
}
