//! `rivet check`: every asm-test through the command, fixtures that must
//! fail (with the line and both values), and the library entry point.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rivet::llvm::{TargetMachine, TargetOptions};
use rivet_tools::check::{CheckOptions, Outcome};

const FOLDERS: [&str; 7] = [
    "elf-x86_64",
    "elf-aarch64",
    "macho-x86_64",
    "macho-arm64",
    "coff-x86_64",
    "elf-riscv64",
    "coff-aarch64",
];

fn root() -> PathBuf {
    PathBuf::from(crate::REPO)
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
    // The same object with a triple of another instruction set is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .args(["check", "--triple", "x86_64-unknown-linux-gnu", "--check"])
        .arg(&checks)
        .arg(&object_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("`prebuilt.o` is Aarch64 code, but the triple is for X86_64"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_library_reports_each_value() {
    let file = root().join("asm-tests/elf-x86_64/sections-symbols.s");
    let report = rivet_tools::check::run(&CheckOptions {
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
    assert_eq!(helper_text.2, 0x4005e0);
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

/// The asm-tests written for one layout, with that layout.
const LAYOUT_TESTS: [(&str, &str); 6] = [
    ("elf-x86_64/layout-jitlink.s", "jitlink"),
    ("elf-x86_64/layout-rtdyld.s", "rtdyld"),
    ("elf-aarch64/layout-jitlink.s", "jitlink"),
    ("elf-aarch64/layout-rtdyld.s", "rtdyld"),
    ("macho-x86_64/layout-jitlink.s", "jitlink"),
    ("macho-x86_64/layout-rtdyld.s", "rtdyld"),
];

#[test]
fn each_layout_file_holds_under_its_layout_only() {
    for (file, own) in LAYOUT_TESTS {
        let path = root().join("asm-tests").join(file);
        for layout in ["rivet", "jitlink", "rtdyld"] {
            let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
                .args(["check", "--layout", layout])
                .arg(&path)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let (passed, of) = checks_true(&text);
            if layout == own {
                assert!(out.status.success(), "{file} --layout {layout}: {text}");
                assert_eq!(passed, of, "{file} --layout {layout}: {text}");
            } else {
                // It links, and its layout's expectations are false: the
                // option moves segments, it is not a no-op.
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "{file} --layout {layout}: {text}"
                );
                assert!(
                    !text.contains("linking failed"),
                    "{file} --layout {layout}: {text}"
                );
                assert!(of > 0 && passed < of, "{file} --layout {layout}: {text}");
            }
        }
    }
}

#[test]
fn the_check_prefix_chooses_the_default_layout() {
    for (file, own) in LAYOUT_TESTS {
        let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
            .args(["check", "--verbose"])
            .arg(root().join("asm-tests").join(file))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file}: {stdout}");
        assert!(
            stdout.lines().any(|line| line == format!("layout {own}")),
            "{file}: {stdout}"
        );
    }
    // Checks under both prefixes keep rivet's own layout.
    let both = root().join("asm-tests/elf-x86_64/got-symbol.s");
    let text = std::fs::read_to_string(&both).unwrap();
    assert!(text.contains("# rtdyld-check:") && text.contains("# jitlink-check:"));
    let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .args(["check", "--verbose"])
        .arg(&both)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|line| line == "layout rivet"),
        "{stdout}"
    );
}

#[test]
fn map_section_moves_a_whole_layout_group() {
    // Under rtdyld the stubs follow the text wherever --map-section puts
    // it; the data blocks are laid out from the start address around it.
    let file = root().join("asm-tests/elf-x86_64/layout-rtdyld.s");
    let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .args([
            "check",
            "--verbose",
            "--map-section",
            "layout-rtdyld.o,.text=0x2100",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let segment = |class: &str| {
        format!("{stdout}{stderr}")
            .lines()
            .find(|l| l.starts_with("segment") && l.split_whitespace().nth(3) == Some(class))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_else(|| panic!("no {class} segment in {stdout}{stderr}"))
    };
    assert_eq!(segment("text"), "0x0000000000002100");
    assert_eq!(segment("stubs"), "0x0000000000002120");
    // .data first-fits below the pinned text (0x1000 + a page + 0x100 of
    // separation reaches 0x2100 exactly), .rodata and .got after it.
    assert_eq!(segment("data"), "0x0000000000001000");
    assert_eq!(segment("rodata"), "0x0000000000003200");
    assert_eq!(segment("got"), "0x0000000000004300");
}

// Relocation types the LLVM assembler never writes (Mach-O SIGNED_1/2/4,
// COFF REL32_1..5, ABSOLUTE and a SECTION with an addend in its field,
// AArch64's withdrawn NONE code 256): assembled with the type it does
// write, then patched, then checked with rivet check like any other.

fn assemble(triple: &str, asm: &str) -> Vec<u8> {
    TargetMachine::new(&TargetOptions {
        triple: Some(triple.into()),
        ..TargetOptions::default()
    })
    .unwrap()
    .assemble(asm)
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Links `object` (written as `name`) and evaluates `checks` against it.
fn check_object(
    name: &str,
    object: &[u8],
    checks: &str,
    extra: &[&str],
) -> rivet_tools::check::Report {
    let dir = std::env::temp_dir().join(format!("rivet-check-patched-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let object_path = dir.join(name);
    std::fs::write(&object_path, object).unwrap();
    let check_path = dir.join(format!("{name}.checks"));
    std::fs::write(&check_path, checks).unwrap();
    let mut options = <CheckOptions as clap::Parser>::parse_from(
        ["rivet-check"].iter().chain(extra.iter()).copied(),
    );
    options.checks = vec![check_path];
    options.inputs = vec![object_path];
    let report = rivet_tools::check::run(&options).unwrap();
    assert!(report.passed(), "{name}:\n{report}");
    report
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn write_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// (file offset of each relocation entry, its r_address) for a Mach-O section.
fn macho_relocations(object: &[u8], section: &str) -> Vec<(usize, u32)> {
    let macho = goblin::mach::MachO::parse(object, 0).unwrap();
    for segment in macho.segments.iter() {
        for (header, _) in segment.sections().unwrap() {
            if header.name().unwrap() == section {
                return (0..header.nreloc as usize)
                    .map(|i| {
                        let at = header.reloff as usize + 8 * i;
                        (at, read_u32(object, at))
                    })
                    .collect();
            }
        }
    }
    panic!("no section {section}")
}

#[test]
fn macho_signed_1_2_4_relocations() {
    // Each instruction at a multiple of 16; after its displacement come 1,
    // 2 or 4 bytes of immediate. LLVM writes SIGNED for all of them.
    let asm = "
        .section __TEXT,__text,regular,pure_instructions
        .globl _main
_main:
s1:     movb    $0x12, _data+8(%rip)
        .org    0x10
s2:     movw    $0x1234, _data+12(%rip)
        .org    0x20
s4:     movl    $0x12345678, _data+16(%rip)
        .org    0x30
l1:     movb    $1, Lconst+4(%rip)
        .org    0x40
l2:     movw    $2, Lconst+6(%rip)
        .org    0x50
l4:     movl    $3, Lconst+8(%rip)
        .section __TEXT,__const
Lconst: .quad   0, 0
        .section __DATA,__data
        .globl  _data
_data:  .space  32
.subsections_via_symbols
";
    let mut object = assemble("x86_64-apple-macosx10.15", asm);
    let mut patched = Vec::new();
    for (at, address) in macho_relocations(&object, "__text") {
        let word = read_u32(&object, at + 4);
        assert_eq!(word >> 28, 1, "X86_64_RELOC_SIGNED at {address:#x}");
        let n_type = match address / 16 {
            0 | 3 => 6, // SIGNED_1
            1 | 4 => 7, // SIGNED_2
            _ => 8,     // SIGNED_4
        };
        write_u32(&mut object, at + 4, (word & 0x0fff_ffff) | (n_type << 28));
        patched.push(n_type);
    }
    patched.sort();
    assert_eq!(patched, [6, 6, 7, 7, 8, 8]);
    let checks = "
# jitlink-check: decode_operand(s1, 3) = _data + 8 - next_pc(s1)
# jitlink-check: decode_operand(s2, 3) = _data + 12 - next_pc(s2)
# jitlink-check: decode_operand(s4, 3) = _data + 16 - next_pc(s4)
# jitlink-check: decode_operand(l1, 3) = section_addr(signed.o, __const) + 4 - next_pc(l1)
# jitlink-check: decode_operand(l2, 3) = section_addr(signed.o, __const) + 6 - next_pc(l2)
# jitlink-check: decode_operand(l4, 3) = section_addr(signed.o, __const) + 8 - next_pc(l4)
";
    let report = check_object("signed.o", &object, checks, &[]);
    assert_eq!(report.files[0].checks.len(), 6);
}

/// (file offset of each relocation entry, its virtual address) of a COFF section.
fn coff_relocations(object: &[u8], section: &str) -> Vec<(usize, u32, usize)> {
    let coff = goblin::pe::Coff::parse(object).unwrap();
    let header = coff
        .sections
        .iter()
        .find(|s| s.name().unwrap() == section)
        .unwrap_or_else(|| panic!("no section {section}"));
    (0..header.number_of_relocations as usize)
        .map(|i| {
            let at = header.pointer_to_relocations as usize + 10 * i;
            let address = read_u32(object, at);
            (
                at,
                address,
                header.pointer_to_raw_data as usize + address as usize,
            )
        })
        .collect()
}

#[test]
fn coff_rel32_n_absolute_and_section_addend_relocations() {
    // Five pc-relative fields (REL32, to become REL32_1..5), a pointer (to
    // become ABSOLUTE: left alone), a SECTION whose field will hold an
    // addend, and a movb whose REL32 becomes REL32_1.
    let asm = "
        .text
        .globl  main
main:
        movb    $1, target+4(%rip)
        retq
        .section .rdata,\"dr\"
        .globl  target
target: .quad   0
        .data
pc1:    .long   target - .
pc2:    .long   target - .
pc3:    .long   target - .
pc4:    .long   target - .
pc5:    .long   target - .
pointer:
        .quad   target
section:
        .secidx target
";
    let mut object = assemble("x86_64-pc-windows-msvc", asm);
    let mut data = coff_relocations(&object, ".data");
    data.sort_by_key(|r| r.1);
    // Fields at .data+0, +4, ... +16 are REL32 (type 4); REL32_n is 4 + n
    // and counts from n bytes further, so n more goes into the field.
    for (n, &(at, address, field)) in data.iter().take(5).enumerate() {
        let n = n + 1;
        assert_eq!(address as usize, 4 * (n - 1));
        assert_eq!(u16::from_le_bytes([object[at + 8], object[at + 9]]), 4);
        object[at + 8..at + 10].copy_from_slice(&(4 + n as u16).to_le_bytes());
        let value = read_u32(&object, field);
        write_u32(&mut object, field, value + n as u32);
    }
    // The pointer: ABSOLUTE (0), a marker in its field.
    let (at, address, field) = data[5];
    assert_eq!(address, 20);
    object[at + 8..at + 10].copy_from_slice(&0u16.to_le_bytes());
    object[field..field + 8].copy_from_slice(&0x0123_4567_89ab_cdefu64.to_le_bytes());
    // SECTION (type 10) with 0x7ffd in its field; target's section, .rdata,
    // is section 4 (after .text, .data and .bss).
    let (at, address, field) = data[6];
    assert_eq!(
        (
            address,
            u16::from_le_bytes([object[at + 8], object[at + 9]])
        ),
        (28, 10)
    );
    object[field..field + 2].copy_from_slice(&0x7ffdu16.to_le_bytes());
    // The movb: REL32 holding -1 becomes REL32_1 holding 0.
    let (at, _, field) = coff_relocations(&object, ".text")[0];
    object[at + 8..at + 10].copy_from_slice(&5u16.to_le_bytes());
    let value = read_u32(&object, field);
    write_u32(&mut object, field, value.wrapping_add(1));

    let checks = "
# jitlink-check: *{4}pc1 = (target - pc1)[31:0]
# jitlink-check: *{4}pc2 = (target - pc2)[31:0]
# jitlink-check: *{4}pc3 = (target - pc3)[31:0]
# jitlink-check: *{4}pc4 = (target - pc4)[31:0]
# jitlink-check: *{4}pc5 = (target - pc5)[31:0]
# jitlink-check: *{8}pointer = 0x0123456789abcdef
# jitlink-check: *{2}section = 0x7ffd + 4
# jitlink-check: decode_operand(main, 3) = target + 4 - next_pc(main)
";
    let report = check_object("rel32n.o", &object, checks, &[]);
    assert_eq!(report.files[0].checks.len(), 8);
}

#[test]
fn aarch64_withdrawn_none_code_256_changes_nothing() {
    let asm = "
        .data
        .globl  target
target: .quad   0
marker:
        .reloc  ., R_AARCH64_NONE, target
        .word   0x11223344
";
    let mut object = assemble("aarch64-unknown-linux-gnu", asm);
    let elf = goblin::elf::Elf::parse(&object).unwrap();
    let (index, _) = elf
        .shdr_relocs
        .iter()
        .find(|(_, relocs)| relocs.len() == 1)
        .expect("the .rela.data section");
    let offset = elf.section_headers[*index].sh_offset as usize;
    drop(elf);
    // r_info (after r_offset): type in the low 32 bits; 0 becomes 256.
    assert_eq!(read_u32(&object, offset + 8), 0);
    write_u32(&mut object, offset + 8, 256);
    let report = check_object(
        "none256.o",
        &object,
        "# jitlink-check: *{4}marker = 0x11223344\n",
        &[],
    );
    assert_eq!(report.files[0].checks.len(), 1);
}

#[test]
fn the_readme_examples_are_asm_tests_and_their_output_is_what_rivet_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for folder in ["elf-x86_64", "macho-arm64", "coff-x86_64"] {
        let path = format!("asm-tests/{folder}/readme-example.s");
        let text = std::fs::read_to_string(root().join(&path)).unwrap();
        assert!(
            readme.contains(&format!("```asm\n{text}```")),
            "README.md does not show {path} as it is"
        );
        let verbose = folder == "elf-x86_64";
        let mut command = Command::new(env!("CARGO_BIN_EXE_rivet"));
        command.current_dir(root()).arg("check");
        if verbose {
            command.arg("-v");
        }
        let out = command.arg(&path).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let shown = format!(
            "$ rivet check {}{path}\n{}",
            if verbose { "-v " } else { "" },
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            readme.contains(&shown),
            "README.md does not show this output:\n{shown}"
        );
    }
    // And the failing example.
    let out = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .current_dir(root())
        .args(["check", "fixtures/check/broken-expectation.s"])
        .output()
        .unwrap();
    let shown = format!(
        "$ rivet check fixtures/check/broken-expectation.s\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(readme.contains(&shown), "README.md does not show:\n{shown}");
}

/// Inputs on which LLVM 22's assembler aborts (`report_fatal_error`),
/// traps (`llvm_unreachable`) or crashes instead of reporting an error:
/// `rivet check` assembles each input in a child process, so it exits 1
/// with a message naming the file and the signal (before: the check died
/// of that signal).
#[test]
fn inputs_that_crash_llvm_are_errors_not_signals() {
    let dir = std::env::temp_dir().join(format!("rivet-check-fatal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, triple, asm, signal) in [
        // COFF `.comm` alignment beyond what the format records.
        (
            "comm-align.s",
            "x86_64-pc-windows-msvc",
            ".comm x, 8, 128",
            "SIGABRT",
        ),
        // A COFF-only modifier in an ELF object.
        (
            "imgrel-elf.s",
            "x86_64-unknown-linux-gnu",
            "f: ret\n.long f@IMGREL",
            "SIGTRAP",
        ),
        // A negative `.fill` count.
        (
            "negative-fill.s",
            "x86_64-unknown-linux-gnu",
            ".fill -1, 1, 0",
            "SIGSEGV",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("# rivet-check-args: --triple {triple}\n# jitlink-check: 1 = 1\n{asm}\n"),
        )
        .unwrap();
        let out = rivet_check(&[&path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {:?} {stderr}",
            out.status
        );
        assert!(
            stderr.contains(&format!("cannot assemble `{}`", path.display()))
                && stderr.contains(&format!("crashed while assembling ({signal}")),
            "{name}: {stderr}"
        );
    }
    // The same child assembles a sound input.
    let sound = dir.join("sound.s");
    std::fs::write(
        &sound,
        "# rivet-check-args: --triple x86_64-pc-windows-msvc\n\
         # jitlink-check: *{1}f = 0xc3\nf: ret\n",
    )
    .unwrap();
    let out = rivet_check(&[&sound]);
    assert!(out.status.success(), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
