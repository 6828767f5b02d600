//! `rivet check`: every asm-test through the command, fixtures that must
//! fail (with the line and both values), and the library entry point.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rivet::check::{CheckOptions, Outcome};
use rivet::llvm::{TargetMachine, TargetOptions};

const FOLDERS: [&str; 5] = [
    "elf-x86_64",
    "elf-aarch64",
    "macho-x86_64",
    "macho-arm64",
    "coff-x86_64",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rivet_check(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rivet"))
        .arg("check")
        .args(args)
        .output()
        .expect("run rivet")
}

/// The tests of one asm-tests folder: its `.s` files (not `Inputs/`).
fn tests_in(folder: &str) -> Vec<PathBuf> {
    let dir = root().join("asm-tests").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    files.sort();
    files
}

/// "N of M checks true" from the summary line.
fn checks_true(stdout: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("rivet check:"))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let of = words.iter().position(|w| *w == "of").expect("`of`");
    (
        words[of - 1].parse().unwrap(),
        words[of + 1].parse().unwrap(),
    )
}

#[test]
fn every_asm_test_passes() {
    let mut failures = Vec::new();
    for folder in FOLDERS {
        let files = tests_in(folder);
        assert!(!files.is_empty(), "asm-tests/{folder} has no tests");
        let (mut with_checks, mut expecting_errors, mut total) = (0, 0, 0);
        for file in &files {
            let out = rivet_check(&[file]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                failures.push(format!("{}:\n{stderr}{stdout}", file.display()));
                continue;
            }
            let (passed, of) = checks_true(&stdout);
            assert_eq!(passed, of, "{}: {stdout}", file.display());
            total += passed;
            let text = std::fs::read_to_string(file).unwrap();
            if text.contains("# rivet-check-error:") {
                assert_eq!(of, 0, "{}: error tests evaluate nothing", file.display());
                expecting_errors += 1;
            } else {
                assert!(passed > 0, "{}: no checks ran", file.display());
                with_checks += 1;
            }
        }
        eprintln!(
            "asm-tests/{folder}: {} files, {total} checks true, {expecting_errors} link errors as expected",
            files.len()
        );
        assert!(with_checks > 0 && expecting_errors > 0, "{folder}");
    }
    assert!(
        failures.is_empty(),
        "failing asm-tests:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_broken_expectation_fails_naming_the_line_and_both_values() {
    let file = root().join("fixtures/check/broken-expectation.s");
    let out = rivet_check(&[&file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // .data is pinned at 0x30000: `target` is there and `pointer` holds it.
    assert!(
        stderr.contains(
            "broken-expectation.s:16: error: check `*{8}pointer = target + 8` is false: 0x30000 != 0x30008"
        ),
        "{stderr}"
    );
    // The three true checks are counted, and only the broken one is reported.
    assert_eq!(stderr.matches(": error:").count(), 1, "{stderr}");
    assert!(stderr.contains("3 of 4 checks true: FAIL"), "{stderr}");
}

#[test]
fn each_way_of_failing_fails_the_run() {
    let cases = [
        ("no-checks.s", "no-checks.s: no checks"),
        (
            "unexpected-link-error.s",
            "linking failed: unresolved symbols: `nowhere` (referenced from `unexpected-link-error.o`)",
        ),
        (
            "wrong-link-error.s",
            "wrong-link-error.s:3: linking failed, but not with `duplicate symbol`: unresolved symbols",
        ),
        (
            "missing-link-error.s",
            "missing-link-error.s:3: linking was expected to fail with `out of range`, but it succeeded",
        ),
        (
            "bad-expression.s",
            "bad-expression.s:8: error: cannot evaluate `no_such_symbol = 0`: no symbol `no_such_symbol`",
        ),
        (
            "bad-expression.s",
            "bad-expression.s:9: error: cannot evaluate `decode_operand(f, 3) = 0`: operand 3 of the instruction at `f` does not exist: `retq` has 0 operands",
        ),
    ];
    for (name, message) in cases {
        let file = root().join("fixtures/check").join(name);
        let out = rivet_check(&[&file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(stderr.contains(": FAIL"), "{name}: {stderr}");
    }
}

#[test]
fn objects_and_separate_check_files_work_and_the_triple_comes_from_the_object() {
    let dir = std::env::temp_dir().join(format!("rivet-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tm = TargetMachine::new(&TargetOptions {
        triple: Some("aarch64-unknown-linux-gnu".into()),
        ..TargetOptions::default()
    })
    .unwrap();
    let object = tm
        .assemble(
            "  .text\n  .globl f\nf:\n  adrp x0, value\n  ldr x0, [x0, :lo12:value]\n  ret\n\
             \n  .data\n  .p2align 3\n  .globl value\nvalue:\n  .quad 0x1234\n",
        )
        .unwrap();
    let object_path = dir.join("prebuilt.o");
    std::fs::write(&object_path, object).unwrap();
    let checks = dir.join("expectations.txt");
    std::fs::write(
        &checks,
        "# jitlink-check: decode_operand(f, 1) = value[63:12] - f[63:12]\n\
         # jitlink-check: decode_operand(f + 4, 2) = value[11:3]\n\
         # jitlink-check: *{8}value = 0x1234\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .arg("check")
        .arg("--map-section")
        .arg("prebuilt.o,.data=0x12345678")
        .arg("--check")
        .arg(&checks)
        .arg(&object_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("3 of 3 checks true: PASS"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_library_reports_each_value() {
    let file = root().join("asm-tests/elf-x86_64/sections-symbols.s");
    let report = rivet::check::run(&CheckOptions {
        inputs: vec![file],
        ..CheckOptions::default()
    })
    .unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.link_error.is_none());
    let checks = &report.files[0].checks;
    let value_of = |expr: &str| {
        checks
            .iter()
            .find(|c| c.expr == expr)
            .map(|c| c.outcome.clone())
            .unwrap_or_else(|| panic!("no check `{expr}`"))
    };
    assert_eq!(value_of("main = 0x400000"), Outcome::True(0x400000));
    assert_eq!(
        value_of("absolute = 0xdeadbeef"),
        Outcome::True(0xdead_beef)
    );
    // Both modules' segments, from the start address upwards.
    let helper_text = report
        .segments
        .iter()
        .find(|s| s.0 == "helper.o" && s.1 == rivet::memory::SegmentClass::Text)
        .expect("helper.o's text");
    assert_eq!(helper_text.2, 0x4004e0);
}

#[test]
fn check_options_come_from_the_command_line_too() {
    // The same file with --target-addr-start on the command line conflicts
    // with the one its directive sets: an error, not a silent choice.
    let file = root().join("asm-tests/elf-x86_64/sections-symbols.s");
    let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .args(["check", "--target-addr-start", "0x800000"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("sets --target-addr-start differently"),
        "{stderr}"
    );
}
