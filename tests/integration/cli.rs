//! The `rivet` command line, run as a user would.

use std::process::Command;

use crate::common::object;

fn rivet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rivet"))
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/ir/{name}", env!("CARGO_MANIFEST_DIR"))
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
