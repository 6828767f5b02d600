//! The `rivet` command line, run as a user would.

use std::process::Command;

use crate::common::object;

fn rivet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rivet"))
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/ir/{name}", crate::REPO)
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rivet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn run_calls_main_with_arguments_and_passes_output_through() {
    for extra in [&[][..], &["--no-lmm"][..], &["-O", "0"][..]] {
        let out = rivet()
            .arg("run")
            .args(extra)
            .arg(fixture("hello_libm.ll"))
            .arg("4")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{extra:?}: {out:?}");
        let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("sin(")).collect();
        assert_eq!(rows.len(), 4, "{stdout}");
        let want = format!("sin(0.75) = {:+.6}  [three]", 0.75f64.sin());
        assert_eq!(rows[3], want);
        let sum: f64 = (0..4).map(|i| (i as f64 * 0.25).sin()).sum();
        assert!(
            stdout.contains(&format!("sum = {sum:.6} over 4 calls (ok)")),
            "{stdout}"
        );
    }
}

#[test]
fn run_exits_with_the_entry_points_status() {
    let path = temp("status.ll");
    std::fs::write(
        &path,
        "define i32 @main(i32 %argc, ptr %argv) { ret i32 %argc }\n\
         define i32 @other(i32 %argc, ptr %argv) { %r = add i32 %argc, 40\n ret i32 %r }\n",
    )
    .unwrap();
    let status = rivet()
        .args(["run", path.to_str().unwrap(), "a", "b"])
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "argc counts the program and two arguments"
    );
    let status = rivet()
        .args(["run", "--entry", "other", path.to_str().unwrap()])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(41));
}

#[test]
fn run_links_extra_objects() {
    let helper = temp("helper.o");
    std::fs::write(
        &helper,
        object(
            "define i32 @helper(i32 %x) { %r = mul i32 %x, 7\n ret i32 %r }",
            "helper",
        ),
    )
    .unwrap();
    let main = temp("uses_helper.ll");
    std::fs::write(
        &main,
        "declare i32 @helper(i32)\n\
         define i32 @main(i32 %argc, ptr %argv) { %r = call i32 @helper(i32 6)\n ret i32 %r }\n",
    )
    .unwrap();
    let status = rivet()
        .args([
            "run",
            "--object",
            helper.to_str().unwrap(),
            main.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(42));
}

#[test]
fn run_reports_errors_without_crashing() {
    let path = temp("missing_symbol.ll");
    std::fs::write(
        &path,
        "declare i32 @nowhere_to_be_found()\n\
         define i32 @main(i32 %argc, ptr %argv) { %r = call i32 @nowhere_to_be_found()\n ret i32 %r }\n",
    )
    .unwrap();
    let out = rivet()
        .args(["run", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unresolved symbols") && stderr.contains("nowhere_to_be_found"),
        "{stderr}"
    );
}

#[test]
fn link_map_lists_sections_symbols_got_and_memory() {
    let obj = temp("mapped.o");
    std::fs::write(
        &obj,
        object(
            "@counter = global i64 0\n\
             @ext = external global i64\n\
             declare double @sin(double)\n\
             define i64 @bump() { %v = load i64, ptr @counter\n %n = add i64 %v, 1\n store i64 %n, ptr @counter\n ret i64 %n }\n\
             define i64 @read_ext() { %v = load i64, ptr @ext\n ret i64 %v }\n\
             define double @s(double %x) { %r = call double @sin(double %x)\n ret double %r }\n",
            "mapped",
        ),
    )
    .unwrap();
    // `ext` is not defined anywhere: the link must fail and say so.
    let out = rivet()
        .args(["link", "--map", obj.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`ext`"));

    let provider = temp("provider.o");
    std::fs::write(&provider, object("@ext = global i64 5", "provider")).unwrap();
    let out = rivet()
        .args([
            "link",
            "--map",
            obj.to_str().unwrap(),
            provider.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for needle in [
        "module ",
        ".text",
        "r-x",
        "rw-",
        " bump",
        " counter",
        "got:",
        " ext",
        "stubs:",
        " sin",
        "memory: reserved",
        "mapping(s)",
        "region(s)",
        "bytes of pages its own",
        "largest free run",
    ] {
        assert!(stdout.contains(needle), "missing `{needle}` in:\n{stdout}");
    }
    // The address printed for `bump` lies inside the printed `.text`.
    let addr_of = |name: &str| -> u64 {
        let line = stdout
            .lines()
            .find(|l| {
                l.trim_end().ends_with(&format!(" {name}")) && l.trim_start().starts_with("0x")
            })
            .unwrap_or_else(|| panic!("no line for {name}"));
        u64::from_str_radix(
            line.split_whitespace()
                .next()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap()
    };
    let text = addr_of(".text");
    let bump = addr_of("bump");
    assert!(bump >= text && bump < text + 4096, "{bump:#x} vs {text:#x}");
}

/// Every target `rivet run --triple` runs: x86-64 ELF, Mach-O and COFF
/// natively (COFF through win64 → System V thunks), AArch64 ELF and Mach-O
/// in the emulator when the binary has it.
const NATIVE_TRIPLES: [&str; 3] = [
    "x86_64-unknown-linux-gnu",
    "x86_64-apple-macosx10.15",
    "x86_64-pc-windows-msvc",
];
const EMULATED_TRIPLES: [&str; 4] = [
    "aarch64-unknown-linux-gnu",
    "arm64-apple-macosx11.0",
    "riscv64-unknown-linux-gnu",
    "aarch64-pc-windows-msvc",
];

/// The triples this test binary's `rivet` can run (the binary is built with
/// the test's features).
fn runnable_triples() -> Vec<&'static str> {
    let mut triples = NATIVE_TRIPLES.to_vec();
    if cfg!(feature = "emulator") {
        triples.extend(EMULATED_TRIPLES);
    }
    triples
}

/// What fixtures/ir/targets.ll prints and returns, computed here.
fn targets_expected(word: Option<&str>) -> (String, i32) {
    let classify = [
        101i64, 203, 307, 401, 509, 601, 701, 809, 907, 1009, 1103, 1201, 1301, 1409, 1511, 1601,
    ];
    let argc = 1 + word.is_some() as i64;
    let sum: i64 = classify.iter().sum();
    let poly = (0.75 * std::f64::consts::PI + 1.234567e-3) * std::f64::consts::E + 3.125;
    let mut text = format!("targets: argc={argc}");
    if let Some(w) = word {
        text += &format!(" word={w} len={}", w.len());
    }
    text += &format!(
        "\nsin(0.75) * 1e6 = {}\nswitch: sum={sum} other=-1\npoly(0.75) * 1e9 = {}\ncounter: 42\n",
        (0.75f64.sin() * 1e6) as i64,
        (poly * 1e9) as i64
    );
    (text, ((sum + 42 + argc) % 251) as i32)
}

#[test]
fn run_triple_gives_the_same_output_and_status_on_every_target() {
    let triples = runnable_triples();
    for word in [None, Some("hello-world")] {
        let (want, status) = targets_expected(word);
        for triple in &triples {
            for extra in [&[][..], &["-O", "0", "--no-lmm"][..]] {
                let out = rivet()
                    .args(["run", "--triple", triple])
                    .args(extra)
                    .arg(fixture("targets.ll"))
                    .args(word)
                    .output()
                    .unwrap();
                let what = format!("{triple} {extra:?} {word:?}");
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    want,
                    "{what}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(out.status.code(), Some(status), "{what}");
                assert!(out.stderr.is_empty(), "{what}: {out:?}");
            }
        }
    }
}

/// clang's own IR for fixtures/libm/libm.c, one file per target, with the
/// triple clang wrote (OS versions included).
const LIBM_TRIPLES: [(&str, bool); 7] = [
    ("x86_64-unknown-linux-gnu", false),
    ("x86_64-apple-macosx14.0.0", false),
    ("x86_64-pc-windows-msvc19.33.0", false),
    ("arm64-apple-macosx14.0.0", true),
    ("aarch64-unknown-linux-gnu", true),
    ("aarch64-pc-windows-msvc19.33.0", true),
    ("riscv64-unknown-linux-gnu", true),
];

/// What fixtures/libm/libm.c prints, computed here as the native build does.
fn libm_expected() -> String {
    let x = 0.75f64;
    let rows = [
        ("sin", x.sin()),
        ("cos", x.cos()),
        ("pow", x.powf(2.5)),
        ("exp", x.exp()),
        ("log", x.ln()),
        ("fmod", (x * 10.0) % 3.0),
        ("sqrt", x.sqrt()),
        ("floor", (x * 7.0).floor()),
    ];
    let mut text: String = rows
        .iter()
        .map(|(label, v)| format!("{label} {}\n", (v * 1e6) as i64))
        .collect();
    text += "rrrrr\n";
    text
}

/// The Apple targets' IR is compiled with the stack protector, which loads
/// `__stack_chk_guard` (defined by rivet) and calls `__stack_chk_fail`; the
/// libm calls come from intrinsics LLVM lowers to library calls.
#[test]
fn run_triple_runs_clangs_libm_program_for_every_target() {
    let want = libm_expected();
    assert!(want.starts_with("sin 681638\n"), "{want}");
    for (triple, emulated) in LIBM_TRIPLES {
        if emulated && !cfg!(feature = "emulator") {
            continue;
        }
        let path = format!("{}/fixtures/libm/{triple}.ll", crate::REPO);
        let out = rivet()
            .args(["run", "--triple", triple, &path])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            want,
            "{triple}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // main returns argc.
        assert_eq!(out.status.code(), Some(1), "{triple}: {out:?}");
        assert!(out.stderr.is_empty(), "{triple}: {out:?}");
    }
    // Natively, without --triple, as the reference output is made.
    let native = rivet()
        .args([
            "run",
            &format!("{}/fixtures/libm/x86_64-unknown-linux-gnu.ll", crate::REPO),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&native.stdout), want);
}

#[test]
fn run_triple_forwards_printf_where_the_convention_allows() {
    let native = rivet()
        .args(["run", fixture("hello_libm.ll").as_str(), "5"])
        .output()
        .unwrap();
    assert!(native.status.success(), "{native:?}");
    let rows = String::from_utf8_lossy(&native.stdout).into_owned();
    assert!(rows.contains("sin(1.00) = +0.841471  [four]"), "{rows}");
    // Windows x64, ELF AArch64 and RISC-V pass variadic arguments where the
    // bridge reads them: the same text as the host's printf.
    let mut forwarded = vec!["x86_64-pc-windows-msvc"];
    if cfg!(feature = "emulator") {
        forwarded.push("aarch64-unknown-linux-gnu");
        // RISC-V passes variadic doubles in integer registers; the bridge
        // reads them there.
        forwarded.push("riscv64-unknown-linux-gnu");
        // Windows arm64 too (doubles included, as integers in x1-x7).
        forwarded.push("aarch64-pc-windows-msvc");
    }
    for triple in forwarded {
        let out = rivet()
            .args([
                "run",
                "--triple",
                triple,
                fixture("hello_libm.ll").as_str(),
                "5",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{triple}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), rows, "{triple}");
    }
    // Apple arm64 passes them on the stack, which the bridge does not read:
    // refused before anything runs, naming the function.
    if cfg!(feature = "emulator") {
        let out = rivet()
            .args(["run", "--triple", "arm64-apple-macosx11.0"])
            .arg(fixture("hello_libm.ll"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("`printf`") && stderr.contains("on the stack"),
            "{stderr}"
        );
    }
}

#[test]
fn run_triple_refuses_what_it_cannot_bridge_by_name() {
    let variadic = temp("variadic.ll");
    std::fs::write(
        &variadic,
        "@fmt = private constant [3 x i8] c\"%d\\00\"\n\
         declare i32 @snprintf(ptr, i64, ptr, ...)\n\
         define i32 @main(i32 %argc, ptr %argv) {\n\
           %b = alloca [16 x i8]\n\
           %r = call i32 (ptr, i64, ptr, ...) @snprintf(ptr %b, i64 16, ptr @fmt, i32 %argc)\n\
           ret i32 %r\n\
         }\n",
    )
    .unwrap();
    let six = temp("six_args.ll");
    std::fs::write(
        &six,
        "declare ptr @mmap(ptr, i64, i32, i32, i32, i64)\n\
         define i32 @main(i32 %argc, ptr %argv) {\n\
           %p = call ptr @mmap(ptr null, i64 4096, i32 3, i32 34, i32 -1, i64 0)\n\
           ret i32 0\n\
         }\n",
    )
    .unwrap();
    let mut cases = vec![
        (
            "x86_64-pc-windows-msvc",
            &variadic,
            "`snprintf`",
            "variadic",
        ),
        ("x86_64-pc-windows-msvc", &six, "`mmap`", "6 arguments"),
    ];
    if cfg!(feature = "emulator") {
        cases.push((
            "aarch64-unknown-linux-gnu",
            &variadic,
            "`snprintf`",
            "variadic",
        ));
        cases.push((
            "aarch64-pc-windows-msvc",
            &variadic,
            "`snprintf`",
            "variadic",
        ));
    }
    for (triple, file, name, why) in cases {
        let out = rivet()
            .args(["run", "--triple", triple, file.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{triple} {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(name) && stderr.contains(why),
            "{triple}: {stderr}"
        );
    }
    // The System V targets call the host directly: no bridge, no refusal.
    let out = rivet()
        .args([
            "run",
            "--triple",
            "x86_64-apple-macosx10.15",
            six.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn run_triple_reports_mismatches_and_missing_support() {
    let pinned = temp("pinned.ll");
    std::fs::write(
        &pinned,
        "target triple = \"x86_64-unknown-linux-gnu\"\n\
         define i32 @main(i32 %argc, ptr %argv) { ret i32 7 }\n",
    )
    .unwrap();
    let out = rivet()
        .args([
            "run",
            "--triple",
            "x86_64-pc-windows-msvc",
            pinned.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("x86_64-unknown-linux-gnu") && stderr.contains("--triple"),
        "{stderr}"
    );
    // The module's own triple, given again, is fine.
    let status = rivet()
        .args([
            "run",
            "--triple",
            "x86_64-unknown-linux-gnu",
            pinned.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));

    // clang's versioned MSVC triple is the same target as the unversioned one.
    if cfg!(feature = "emulator") {
        let versioned = temp("versioned.ll");
        std::fs::write(
            &versioned,
            "target triple = \"aarch64-pc-windows-msvc19.33.0\"\n\
             define i32 @main(i32 %argc, ptr %argv) { ret i32 9 }\n",
        )
        .unwrap();
        let out = rivet()
            .args([
                "run",
                "--triple",
                "aarch64-pc-windows-msvc",
                versioned.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(9), "{out:?}");
        let out = rivet()
            .args([
                "run",
                "--triple",
                "x86_64-pc-windows-msvc",
                versioned.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
    }

    let out = rivet()
        .args(["run", "--triple", "nonsense-cpu-none"])
        .arg(fixture("targets.ll"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no target for triple `nonsense-cpu-none`"),
        "{stderr}"
    );

    if !cfg!(feature = "emulator") {
        for triple in EMULATED_TRIPLES {
            let out = rivet()
                .args(["run", "--triple", triple, fixture("targets.ll").as_str()])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("built without the emulator"), "{stderr}");
        }
    }
}

#[test]
fn run_calls_static_constructors_before_main_and_destructors_after() {
    let path = temp("ctors.ll");
    std::fs::write(
        &path,
        r#"@msg_ctor = private constant [6 x i8] c"ctor!\00"
@msg_main = private constant [6 x i8] c"main!\00"
@msg_dtor = private constant [6 x i8] c"dtor!\00"
@ready = global i32 0
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @init, ptr null }]
@llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @fini, ptr null }]
declare i32 @puts(ptr)
define internal void @init() { call i32 @puts(ptr @msg_ctor)
  store i32 7, ptr @ready
  ret void }
define internal void @fini() { call i32 @puts(ptr @msg_dtor)
  ret void }
define i32 @main(i32 %argc, ptr %argv) {
  call i32 @puts(ptr @msg_main)
  %r = load i32, ptr @ready
  ret i32 %r
}
"#,
    )
    .unwrap();
    let out = rivet()
        .args(["run", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "main saw the constructor's store"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ctor!\nmain!\ndtor!\n"
    );
}

/// The cells of the memory table's row for `manager`.
fn memory_row<'a>(report: &'a str, manager: &str) -> Vec<&'a str> {
    let line = report
        .lines()
        .find(|l| l.starts_with(&format!("| {manager} ")))
        .unwrap_or_else(|| panic!("no row for {manager}:\n{report}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

#[test]
fn bench_memory_case_prints_mappings_and_committed_bytes_for_every_manager() {
    // The arena in its default (dual-mapped) mode, whatever this run's
    // RIVET_ARENA_MODE says: the page mode gives each module pages.
    let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .args(["bench", "--case", "memory-1k-modules"])
        .env_remove("RIVET_ARENA_MODE")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("1000 one-function modules"), "{report}");
    // Columns: manager, load s, maps, reserved, committed, resident,
    // committed ÷ sections, heap, remove half s, maps half removed,
    // committed half removed, re-add s, maps re-added, committed re-added.
    let number = |cell: &str| cell.parse::<f64>().unwrap_or_else(|_| panic!("{cell}"));
    let arena = memory_row(&report, "rivet-arena");
    let rtdyld = memory_row(&report, "lljit-rtdyld");
    let sections = memory_row(&report, "rivet-sections");
    memory_row(&report, "lljit-jitlink");
    // LLVM's SectionMemoryManager maps memory per module; the arena does not.
    assert!(number(rtdyld[2]) >= 2000.0, "{rtdyld:?}");
    assert!(number(sections[2]) >= 2000.0, "{sections:?}");
    assert!(number(arena[2]) <= 20.0, "{arena:?}");
    assert!(
        number(arena[4]) * 10.0 < number(rtdyld[4]),
        "{arena:?} {rtdyld:?}"
    );
    // Removing half the modules gives LLVM's mappings back, and the arena
    // reuses its memory for the modules added again.
    assert!(number(rtdyld[9]) < number(rtdyld[2]) * 0.6, "{rtdyld:?}");
    assert!(number(arena[12]) <= number(arena[2]), "{arena:?}");
    assert!(number(arena[13]) <= number(arena[4]), "{arena:?}");
    assert!(
        report.contains("rivet-arena (dual-mapped mode): rivet's manager reports"),
        "{report}"
    );
}
