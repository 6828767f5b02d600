//! `rivet run` and `rivet check` as a user runs them: thread-local
//! programs, the arena mode variable, gdb and perf over `rivet run`, and
//! inputs the checker's memory must refuse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use goblin::elf::Elf;
use rivet_tools::check::CheckOptions;

use crate::common::{
    assemble_x86_64 as assemble, backtraces, dwarf_line_rows, output_within, scratch, tool_on_path,
    HUGE_ZERO_FILL, SMALL,
};

/// Output of the fixtures as the native build of their C source and lli
/// print it.
const NATIVE_OUTPUT: &str = "thread 1: 110127\nthread 2: 120127\nthread 3: 130127\n\
                             thread 4: 140127\nmain: 100 0 7\n";

#[test]
fn rivet_run_gives_the_native_output_for_local_and_initial_exec_programs() {
    for name in ["tls_local_exec.ll", "tls_initial_exec.ll"] {
        let path = format!("{}/fixtures/ir/{name}", crate::REPO);
        let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
            .args(["run", &path])
            .output()
            .expect("rivet run");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            NATIVE_OUTPUT,
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name}: {:?}", out.status);
    }
}

#[test]
fn rivet_run_gives_the_native_output_for_a_tls_descriptor_program() {
    let path = format!("{}/fixtures/ir/tls_descriptor.ll", crate::REPO);
    let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .args(["run", &path])
        .output()
        .expect("rivet run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "thread 1: 52\nthread 2: 62\nthread 3: 72\nthread 4: 82\nmain: 42 43\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{:?}", out.status);
}

/// clang's IR for fixtures/tlv/threads.c for an Apple x86-64 target: its
/// thread-locals go through Mach-O TLV descriptors (`__thread_vars`,
/// `X86_64_RELOC_TLV`), which rivet links to its own TLS run time. The
/// output is the native (ELF) build's.
#[test]
fn rivet_run_gives_the_native_output_for_macho_thread_local_variables() {
    let path = format!(
        "{}/fixtures/tlv/threads.x86_64-apple-macosx14.0.0.ll",
        crate::REPO
    );
    for extra in [&[][..], &["--no-lmm"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
            .args(["run", "--triple", "x86_64-apple-macosx14.0.0"])
            .args(extra)
            .arg(&path)
            .output()
            .expect("rivet run");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "thread 1: 10100 1\nthread 2: 20100 2\nthread 3: 30100 3\nthread 4: 40100 4\n\
             main: 107 0\n",
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{extra:?}: {:?}", out.status);
    }
}

/// fixtures/tlv/single.c (thread-locals on one thread) for both Apple
/// targets: natively on x86-64 through rivet's run time, and for arm64 in
/// the emulator through the module's own getter and block.
#[test]
fn rivet_run_gives_the_native_output_for_macho_thread_locals_on_each_apple_target() {
    let mut triples = vec!["x86_64-apple-macosx14.0.0"];
    if cfg!(feature = "emulator") {
        triples.push("arm64-apple-macosx14.0.0");
    }
    for triple in triples {
        let path = format!("{}/fixtures/tlv/single.{triple}.ll", crate::REPO);
        let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
            .args(["run", "--triple", triple, &path])
            .output()
            .expect("rivet run");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "ok 7\n",
            "{triple}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(7), "{triple}: {out:?}");
    }
}

#[test]
fn the_mode_variable_reaches_the_command_line_tool() {
    let fixture = format!("{}/fixtures/ir/hello_libm.ll", crate::REPO);
    let run = |mode: &str| {
        Command::new(env!("CARGO_BIN_EXE_rivet"))
            .env(rivet::memory::ArenaMode::ENV, mode)
            .args(["run", &fixture, "2"])
            .output()
            .unwrap()
    };
    for mode in ["pages", "dual"] {
        let out = run(mode);
        assert!(out.status.success(), "{mode}: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("over 2 calls (ok)"), "{mode}: {stdout}");
    }
    let out = run("bogus");
    assert!(!out.status.success(), "an unknown mode is an error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("RIVET_ARENA_MODE") && stderr.contains("bogus"),
        "{stderr}"
    );
}

/// `steps.c` compiled by clang 22 with `-g -O0` (see the fixture's header).
const STEPS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/debug");

/// gdb in batch mode over `rivet run FIXTURE`, from the fixture's directory
/// (so gdb finds the source the DWARF names as `./steps.c`), breaking at
/// `steps.c:11`. `extra` goes before the file (options of `rivet run`);
/// `env` is set for the program.
fn gdb_over_rivet_run(gdb: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(gdb);
    command
        .current_dir(STEPS_DIR)
        .args(["-nx", "-batch"])
        .args(["-ex", "set debuginfod enabled off"])
        .args(["-ex", "set startup-with-shell off"])
        .args(["-ex", "set breakpoint pending on"])
        .args(["-ex", "break steps.c:11"])
        .args(["-ex", "run"])
        .args(["-ex", "bt 2"])
        .args(["-ex", "next"])
        .args(["-ex", "info locals"])
        .args(["-ex", "kill"])
        .arg("--args")
        .arg(env!("CARGO_BIN_EXE_rivet"))
        .arg("run")
        .args(extra)
        .arg("steps.ll");
    command.env_remove("RIVET_GDB");
    for (k, v) in env {
        command.env(k, v);
    }
    let (status, output) = output_within(command, Duration::from_secs(300));
    assert!(status.is_some(), "gdb did not finish in time:\n{output}");
    output
}

/// As with lli: `rivet run` on a `-g` C program registers it with gdb by
/// default, so a `file:line` breakpoint set before the code exists binds;
/// the backtrace shows source lines and argument values; `next` steps to
/// the next line.
#[test]
fn gdb_over_rivet_run_breaks_by_file_and_line_and_steps() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED gdb_over_rivet_run_breaks_by_file_and_line_and_steps: steps.ll is compiled for x86-64");
        return;
    }
    let Some(gdb) = tool_on_path("gdb") else {
        eprintln!(
            "SKIPPED gdb_over_rivet_run_breaks_by_file_and_line_and_steps: \
             gdb is not on PATH (scripts/setup.sh installs it)"
        );
        return;
    };
    let output = gdb_over_rivet_run(&gdb, &[], &[]);
    // `Breakpoint 1, weigh (count=1, grams=10) at ./steps.c:11`, then the
    // source line itself.
    let stop = output
        .lines()
        .find(|l| l.contains("Breakpoint 1, "))
        .unwrap_or_else(|| panic!("the breakpoint was not hit:\n{output}"));
    assert!(
        stop.contains("weigh (count=1, grams=10) at ") && stop.ends_with("steps.c:11"),
        "{stop}\n{output}"
    );
    assert!(
        output
            .lines()
            .any(|l| l == "11\t    long total = count * grams;"),
        "the source line is shown:\n{output}"
    );
    let traces = backtraces(&output);
    assert_eq!(traces.len(), 1, "{output}");
    let frames = &traces[0];
    assert!(
        frames[0].contains("weigh (count=1, grams=10) at ") && frames[0].ends_with("steps.c:11"),
        "{output}"
    );
    assert!(
        frames.len() >= 2
            && frames[1].contains(" in main (argc=1, argv=0x")
            && frames[1].ends_with("steps.c:20"),
        "frame 1 is the JIT caller, with its arguments and line:\n{output}"
    );
    // `next` stops at line 12, after `total` was computed.
    assert!(
        output
            .lines()
            .any(|l| l == "12\t    long padded = total + 7;"),
        "next steps to line 12:\n{output}"
    );
    assert!(output.lines().any(|l| l == "total = 10"), "{output}");
}

/// `--no-gdb` and `RIVET_GDB=0` turn the registration off: the breakpoint
/// never binds and the program runs to its end.
#[test]
fn rivet_run_without_gdb_registration_is_invisible_to_gdb() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED rivet_run_without_gdb_registration_is_invisible_to_gdb: steps.ll is compiled for x86-64");
        return;
    }
    let Some(gdb) = tool_on_path("gdb") else {
        eprintln!(
            "SKIPPED rivet_run_without_gdb_registration_is_invisible_to_gdb: \
             gdb is not on PATH (scripts/setup.sh installs it)"
        );
        return;
    };
    for (extra, env) in [
        (&["--no-gdb"][..], &[][..]),
        (&[][..], &[("RIVET_GDB", "0")][..]),
    ] {
        let output = gdb_over_rivet_run(&gdb, extra, env);
        assert!(
            !output.contains("Breakpoint 1, "),
            "{extra:?} {env:?}:\n{output}"
        );
        assert!(
            output.lines().any(|l| l == "sum 81"),
            "{extra:?} {env:?}: the program ran:\n{output}"
        );
    }
}

/// Where perf is installed and may record this user's processes:
/// `perf record -k mono` over `rivet run` of the `-g` program with
/// `RIVET_JITDUMP=1`, then `perf inject --jit`, gives an ELF file per JIT
/// function whose `.debug_line` (written by perf from the jitdump's debug
/// records) maps the code to the C source lines.
#[test]
fn perf_inject_jit_maps_code_to_source_lines() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!(
            "SKIPPED perf_inject_jit_maps_code_to_source_lines: steps.ll is compiled for x86-64"
        );
        return;
    }
    let Some(perf) = tool_on_path("perf") else {
        eprintln!("SKIPPED perf_inject_jit_maps_code_to_source_lines: perf is not on PATH");
        return;
    };
    let dir = scratch("perf-inject");
    let data = dir.join("perf.data");
    let mut record = Command::new(&perf);
    record
        .current_dir(STEPS_DIR)
        .env("RIVET_JITDUMP", "1")
        .env("JITDUMPDIR", &dir)
        .args(["record", "-q", "-k", "mono", "-o"])
        .arg(&data)
        .arg(env!("CARGO_BIN_EXE_rivet"))
        .args(["run", "--no-gdb", "steps.ll"]);
    let (status, output) = output_within(record, Duration::from_secs(120));
    if status != Some(0) || !data.is_file() {
        eprintln!(
            "SKIPPED perf_inject_jit_maps_code_to_source_lines: \
             perf record cannot record here:\n{output}"
        );
        return;
    }
    assert!(output.contains("sum 81"), "{output}");
    let mut inject = Command::new(&perf);
    inject
        .args(["inject", "--jit", "-i"])
        .arg(&data)
        .arg("-o")
        .arg(dir.join("perf.jit.data"));
    let (status, output) = output_within(inject, Duration::from_secs(120));
    assert_eq!(status, Some(0), "perf inject --jit:\n{output}");

    // The jitted-PID-N.so files perf wrote next to the jitdump.
    let mut lines_by_function: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut pending = vec![dir.clone()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !(name.starts_with("jitted-") && name.ends_with(".so")) {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let elf = Elf::parse(&bytes).unwrap();
            let function = elf
                .syms
                .iter()
                .filter(|s| s.is_function())
                .find_map(|s| elf.strtab.get_at(s.st_name))
                .unwrap_or_default()
                .to_string();
            let (rows, _) = dwarf_line_rows(&bytes);
            assert!(
                rows.iter().all(|r| r.1.ends_with("steps.c")),
                "{name}: {rows:?}"
            );
            lines_by_function.insert(function, rows.iter().map(|r| r.2).collect());
        }
    }
    let weigh = lines_by_function
        .get("weigh")
        .unwrap_or_else(|| panic!("no ELF file for weigh: {lines_by_function:?}"));
    assert!(weigh.contains(&11) && weigh.contains(&12), "{weigh:?}");
    let main = &lines_by_function["main"];
    assert!(main.contains(&20) && main.contains(&21), "{main:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sets the alignment (`sh_addralign`) of ELF section `name`.
fn set_section_align(bytes: &mut [u8], name: &str, align: u64) {
    let elf = Elf::parse(bytes).unwrap();
    let index = elf
        .section_headers
        .iter()
        .position(|h| elf.shdr_strtab.get_at(h.sh_name) == Some(name))
        .unwrap_or_else(|| panic!("no section {name}"));
    let header = elf.header.e_shoff as usize + index * usize::from(elf.header.e_shentsize);
    bytes[header + 48..header + 56].copy_from_slice(&align.to_le_bytes());
}

/// `rivet check`'s memory refuses the same inputs: the link fails with a
/// message (before: the checker aborted the process).
#[test]
fn rivet_check_reports_untrusted_sizes_as_link_errors() {
    let dir = std::env::temp_dir().join(format!("rivet-input-sizes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let checks = dir.join("checks.txt");
    std::fs::write(&checks, "# rtdyld-check: *{1}f = 0xc3\n").unwrap();
    let run = |name: &str, bytes: &[u8]| {
        let path: PathBuf = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let report = rivet_tools::check::run(&CheckOptions {
            triple: Some("x86_64-unknown-linux-gnu".into()),
            checks: vec![checks.clone()],
            inputs: vec![path],
            ..CheckOptions::default()
        })
        .expect("check runs");
        report.link_error
    };
    let zero_fill = run("zero-fill.o", &assemble(HUGE_ZERO_FILL));
    let mut aligned = assemble(SMALL);
    set_section_align(&mut aligned, ".text.g", 1 << 40);
    let alignment = run("aligned.o", &aligned);
    let sound = run("sound.o", &assemble(SMALL));
    let _ = std::fs::remove_dir_all(&dir);
    let zero_fill = zero_fill.expect("16 TiB of zero-fill fails to link");
    assert!(
        zero_fill.contains("out of memory") && zero_fill.contains("data segment"),
        "{zero_fill}"
    );
    let alignment = alignment.expect("a 1 TiB alignment fails to link");
    assert!(alignment.contains("text segment"), "{alignment}");
    assert_eq!(sound, None, "a sound object links");
}
