use object::{Object, ObjectSection, ObjectSymbol};

use super::*;
use crate::Error;

const ANSWER_IR: &str = "\
define i32 @answer(i32 %x) {
entry:
  %y = add i32 %x, 42
  ret i32 %y
}
";

fn machine_for(triple: &str) -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        triple: Some(triple.to_owned()),
        ..TargetOptions::default()
    })
    .unwrap()
}

fn emit_answer(tm: &TargetMachine) -> Vec<u8> {
    let mut module = Module::parse_ir(ANSWER_IR, "answer.ll").unwrap();
    tm.emit_object(&mut module).unwrap()
}

fn u16_le(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_le(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

#[test]
fn thread_safety_markers() {
    assert_send::<Module>();
    assert_send::<TargetMachine>();
    assert_send::<TargetData>();
    assert_sync::<TargetData>();
}

#[test]
fn host_triple_is_normalized_and_nonempty() {
    let triple = host_triple();
    assert!(triple.split('-').count() >= 3, "{triple}");
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    assert!(
        triple.starts_with("x86_64-") && triple.contains("linux"),
        "{triple}"
    );
}

#[test]
fn parse_ir_ok() {
    let module = Module::parse_ir(ANSWER_IR, "answer.ll").unwrap();
    assert_eq!(module.name(), "answer.ll");
    assert_eq!(module.triple(), "");
    assert_eq!(module.data_layout(), "");
    let text = module.to_ir_string();
    assert!(text.contains("define i32 @answer(i32 %x)"), "{text}");
    assert!(text.contains("add i32 %x, 42"), "{text}");
}

#[test]
fn parse_ir_reads_triple_and_layout() {
    let ir = format!(
        "target datalayout = \"e-m:e-i64:64-n32:64-S128\"\ntarget triple = \"aarch64-unknown-linux-gnu\"\n{ANSWER_IR}"
    );
    let module = Module::parse_ir(&ir, "t.ll").unwrap();
    assert_eq!(module.triple(), "aarch64-unknown-linux-gnu");
    assert_eq!(module.data_layout(), "e-m:e-i64:64-n32:64-S128");
}

#[test]
fn parse_error_names_module_line_and_column() {
    let err = Module::parse_ir("define i32 @f() {\n  ret i64 0\n}\n", "bad.ll").unwrap_err();
    match &err {
        Error::IrParse { module, message } => {
            assert_eq!(module, "bad.ll");
            // LLVM prints `name:line:col: error: ...`.
            assert!(message.contains("bad.ll:2:7:"), "{message}");
            assert!(message.contains("error:"), "{message}");
        }
        other => panic!("expected IrParse, got {other:?}"),
    }
    assert!(err.to_string().contains("bad.ll"));
    // A malformed data layout in IR is a parse error, not LLVM's fatal error.
    let err = Module::parse_ir("target datalayout = \"e-Z\"\n", "layout.ll").unwrap_err();
    assert!(
        matches!(&err, Error::IrParse { message, .. } if message.contains("layout.ll:1:")),
        "{err}"
    );
}

#[test]
fn parse_error_on_garbage_and_nul_name() {
    assert!(matches!(
        Module::parse_ir("this is not IR", "junk.ll"),
        Err(Error::IrParse { .. })
    ));
    assert!(matches!(
        Module::parse_ir(ANSWER_IR, "a\0b"),
        Err(Error::IrParse { .. })
    ));
    // Non-UTF-8 bytes that are not bitcode are parsed as (bad) text.
    assert!(matches!(
        Module::parse(&[0xff, 0xfe, 0x00, 0x01], "bin"),
        Err(Error::IrParse { .. })
    ));
    // An empty input is a valid, empty module.
    let empty = Module::parse(b"", "empty.ll").unwrap();
    assert_eq!(empty.name(), "empty.ll");
}

#[test]
fn bitcode_roundtrip() {
    let module = Module::parse_ir(ANSWER_IR, "answer.ll").unwrap();
    let bitcode = module.to_bitcode();
    assert!(bitcode.starts_with(b"BC\xC0\xDE"));

    let back = Module::parse_bitcode(&bitcode, "answer.bc").unwrap();
    assert_eq!(back.name(), "answer.bc");
    assert!(back.to_ir_string().contains("define i32 @answer("));

    let detected = Module::parse(&bitcode, "detected").unwrap();
    assert!(detected.to_ir_string().contains("@answer"));

    let text = Module::parse(ANSWER_IR.as_bytes(), "text").unwrap();
    assert!(text.to_ir_string().contains("@answer"));
}

#[test]
fn bitcode_magic_detection() {
    assert!(module::is_bitcode(b"BC\xC0\xDE\x35\x14"));
    assert!(module::is_bitcode(&[0xDE, 0xC0, 0x17, 0x0B, 0, 0, 0, 0]));
    assert!(!module::is_bitcode(b"; ModuleID"));
    assert!(!module::is_bitcode(b"BC"));
}

#[test]
fn bad_bitcode_is_an_error_not_an_exit() {
    // Without a diagnostic handler LLVM would print and exit(1) here.
    let err = Module::parse_bitcode(b"BC\xC0\xDEgarbage", "bad.bc").unwrap_err();
    match err {
        Error::IrParse { module, message } => {
            assert_eq!(module, "bad.bc");
            assert!(!message.is_empty());
        }
        other => panic!("expected IrParse, got {other:?}"),
    }
    // Truncated valid bitcode.
    let bitcode = Module::parse_ir(ANSWER_IR, "a").unwrap().to_bitcode();
    let truncated = &bitcode[..bitcode.len() / 2];
    assert!(Module::parse(truncated, "truncated.bc").is_err());
    // Not bitcode at all.
    assert!(Module::parse_bitcode(b"hello", "hello").is_err());
}

#[test]
fn empty_module_keeps_any_name() {
    let module = Module::empty("with\0nul");
    assert_eq!(module.name(), "with\0nul");
    assert_eq!(module.triple(), "");
    assert!(!module.to_ir_string().contains("define"));
    assert_eq!(Module::empty("").name(), "");
}

#[test]
fn emit_host_elf() {
    let tm = TargetMachine::host().unwrap();
    assert_eq!(tm.options().reloc, RelocModel::Pic);
    assert_eq!(tm.options().code_model, CodeModel::Small);
    assert_eq!(tm.options().triple.as_deref(), Some(tm.triple()));
    let mut module = Module::parse_ir(ANSWER_IR, "answer.ll").unwrap();
    let obj = tm.emit_object(&mut module).unwrap();
    // The module was given the machine's triple and layout.
    assert_eq!(module.triple(), tm.triple());
    assert_eq!(module.data_layout(), tm.target_data().layout());
    #[cfg(target_os = "linux")]
    {
        assert_eq!(&obj[..4], b"\x7fELF");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(u16_le(&obj, 18), 62);
    }
    let file = object::File::parse(&*obj).unwrap();
    assert!(file.symbols().any(|s| s.name() == Ok("answer")));
}

#[test]
fn emit_aarch64_elf() {
    let tm = machine_for("aarch64-unknown-linux-gnu");
    let obj = emit_answer(&tm);
    assert_eq!(&obj[..4], b"\x7fELF");
    assert_eq!(obj[4], 2, "ELFCLASS64");
    assert_eq!(u16_le(&obj, 18), 183, "EM_AARCH64");
}

#[test]
fn cross_machine_defaults_to_generic_cpu() {
    #[cfg(target_arch = "x86_64")]
    {
        let tm = machine_for("aarch64-unknown-linux-gnu");
        assert_eq!(tm.options().cpu.as_deref(), Some("generic"));
        assert_eq!(tm.options().features.as_deref(), Some(""));
        let tm = machine_for("x86_64-apple-macosx10.15");
        assert_ne!(tm.options().cpu.as_deref(), Some("generic"));
    }
    let tm = TargetMachine::new(&TargetOptions {
        triple: Some("aarch64-unknown-linux-gnu".into()),
        cpu: Some("cortex-a72".into()),
        features: Some("+neon".into()),
        ..TargetOptions::default()
    })
    .unwrap();
    assert_eq!(tm.options().cpu.as_deref(), Some("cortex-a72"));
    assert_eq!(tm.options().features.as_deref(), Some("+neon"));
}

#[test]
fn emit_macho_x86_64() {
    let tm = machine_for("x86_64-apple-macosx10.15");
    let obj = emit_answer(&tm);
    assert_eq!(u32_le(&obj, 0), 0xFEED_FACF, "MH_MAGIC_64");
    assert_eq!(u32_le(&obj, 4), 0x0100_0007, "CPU_TYPE_X86_64");
    let file = object::File::parse(&*obj).unwrap();
    assert!(file.symbols().any(|s| s.name() == Ok("_answer")));
}

#[test]
fn emit_coff_x86_64() {
    let tm = machine_for("x86_64-pc-windows-msvc");
    let obj = emit_answer(&tm);
    assert_eq!(u16_le(&obj, 0), 0x8664, "IMAGE_FILE_MACHINE_AMD64");
    let file = object::File::parse(&*obj).unwrap();
    assert!(file.symbols().any(|s| s.name() == Ok("answer")));
}

#[test]
fn emit_large_static() {
    let tm = TargetMachine::new(&TargetOptions {
        triple: Some("x86_64-unknown-linux-gnu".into()),
        reloc: RelocModel::Static,
        code_model: CodeModel::Large,
        opt_level: OptLevel::Aggressive,
        ..TargetOptions::default()
    })
    .unwrap();
    let ir = "\
@counter = global i64 0
define i64 @bump() {
  %v = load i64, ptr @counter
  %n = add i64 %v, 1
  store i64 %n, ptr @counter
  ret i64 %n
}
";
    let mut module = Module::parse_ir(ir, "large.ll").unwrap();
    let obj = tm.emit_object(&mut module).unwrap();
    assert_eq!(&obj[..4], b"\x7fELF");
    let file = object::File::parse(&*obj).unwrap();
    // The large code model puts code in `.ltext` and reaches @counter with
    // a 64-bit absolute address.
    let text = file.section_by_name(".ltext").unwrap();
    assert!(text.relocations().any(|(_, r)| matches!(
        r.flags(),
        object::RelocationFlags::Elf { r_type } if r_type == object::elf::R_X86_64_64
    )));
}

#[test]
fn other_code_models_and_levels_emit() {
    for (code_model, opt_level, reloc) in [
        (CodeModel::Medium, OptLevel::None, RelocModel::Pic),
        (CodeModel::JitDefault, OptLevel::Less, RelocModel::Default),
    ] {
        let tm = TargetMachine::new(&TargetOptions {
            triple: Some("x86_64-unknown-linux-gnu".into()),
            code_model,
            opt_level,
            reloc,
            ..TargetOptions::default()
        })
        .unwrap();
        assert_eq!(&emit_answer(&tm)[..4], b"\x7fELF");
    }
}

#[test]
fn bad_triple_and_nul_are_errors() {
    let err = TargetMachine::new(&TargetOptions {
        triple: Some("nonsense-unknown-nowhere".into()),
        ..TargetOptions::default()
    })
    .unwrap_err();
    assert!(
        matches!(&err, Error::Llvm(m) if m.contains("nonsense")),
        "{err}"
    );
    let err = TargetMachine::new(&TargetOptions {
        cpu: Some("a\0b".into()),
        ..TargetOptions::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Llvm(_)));
    // An empty triple means the host's.
    let tm = TargetMachine::new(&TargetOptions {
        triple: Some(String::new()),
        ..TargetOptions::default()
    })
    .unwrap();
    assert_eq!(tm.triple(), host_triple());
}

#[test]
fn invalid_module_is_an_error_not_a_crash() {
    // Parses (forward references are allowed) but fails the verifier.
    let ir = "\
define i32 @f() {
  %a = add i32 %b, 1
  %b = add i32 1, 1
  ret i32 %a
}
";
    let mut module = Module::parse_ir(ir, "broken.ll").unwrap();
    let tm = TargetMachine::host().unwrap();
    let err = tm.emit_object(&mut module).unwrap_err();
    assert!(
        matches!(&err, Error::Llvm(m) if m.contains("dominate")),
        "{err}"
    );
    let err = tm.optimize(&mut module, "default<O2>").unwrap_err();
    assert!(matches!(err, Error::Llvm(_)));
}

#[test]
fn inline_asm_error_in_function_is_an_error() {
    let ir = "\
define void @f() {
  call void asm sideeffect \"notaninstruction %eax\", \"\"()
  ret void
}
";
    let mut module = Module::parse_ir(ir, "asm.ll").unwrap();
    let tm = machine_for("x86_64-unknown-linux-gnu");
    let err = tm.emit_object(&mut module).unwrap_err();
    assert!(
        matches!(&err, Error::Llvm(m) if m.contains("invalid instruction mnemonic")),
        "{err}"
    );
}

const ADD1_ASM: &str = "\
    .text
    .globl add1
    .type add1,@function
add1:
    leal 1(%rdi), %eax
    ret
    .size add1, .-add1
";

#[test]
fn assemble_x86_64() {
    let tm = machine_for("x86_64-unknown-linux-gnu");
    let obj = tm.assemble(ADD1_ASM).unwrap();
    assert_eq!(&obj[..4], b"\x7fELF");
    let file = object::File::parse(&*obj).unwrap();
    let add1 = file.symbols().find(|s| s.name() == Ok("add1")).unwrap();
    assert!(add1.is_global());
    assert_eq!(add1.size(), 4);
    let text = file.section_by_name(".text").unwrap();
    // lea 0x1(%rdi),%eax ; ret
    assert_eq!(text.data().unwrap(), &[0x8d, 0x47, 0x01, 0xc3]);
}

#[test]
fn assemble_intel_syntax_and_aarch64() {
    let tm = machine_for("x86_64-unknown-linux-gnu");
    let obj = tm
        .assemble(".intel_syntax noprefix\n.globl two\ntwo:\n mov eax, 2\n ret\n")
        .unwrap();
    let file = object::File::parse(&*obj).unwrap();
    assert!(file.symbols().any(|s| s.name() == Ok("two")));

    let tm = machine_for("aarch64-unknown-linux-gnu");
    let obj = tm
        .assemble(".text\n.globl three\nthree:\n mov w0, #3\n ret\n")
        .unwrap();
    assert_eq!(u16_le(&obj, 18), 183);
    let file = object::File::parse(&*obj).unwrap();
    let text = file.section_by_name(".text").unwrap();
    // mov w0, #3 = 0x52800060 ; ret = 0xd65f03c0
    assert_eq!(
        text.data().unwrap(),
        &[0x60, 0x00, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6]
    );
}

#[test]
fn assemble_errors_do_not_abort() {
    let tm = machine_for("x86_64-unknown-linux-gnu");
    let err = tm
        .assemble("    .text\nf:\n    frobnicate %rax\n    ret\n")
        .unwrap_err();
    match &err {
        Error::Llvm(m) => {
            assert!(
                m.contains("invalid instruction mnemonic 'frobnicate'"),
                "{m}"
            );
            // The message points at line 3 of the text.
            assert!(m.contains(":3:"), "{m}");
        }
        other => panic!("expected Llvm, got {other:?}"),
    }
    // Bad operands and unknown directives too.
    assert!(tm.assemble("movq %rax\n").is_err());
    assert!(tm.assemble(".notadirective 1\n").is_err());
    // A wrong-architecture instruction.
    assert!(tm.assemble("mov w0, #3\n").is_err());
    // Errors found after parsing, while laying out or writing the object.
    for bad in [
        ".org 0x10\nnop\n.org 0x0\n",
        ".quad a - b\n",
        ".cfi_startproc\nnop\n",
        ".set x, y\n.set y, x\n.quad x\n",
        ".macro m\n",
        ".incbin \"/nonexistent/rivet\"\n",
    ] {
        assert!(
            matches!(tm.assemble(bad), Err(Error::Llvm(_))),
            "{bad:?} should fail"
        );
    }
    // The machine is still usable afterwards.
    assert!(tm.assemble(ADD1_ASM).is_ok());
}

#[test]
fn target_data_of_x86_64() {
    let td = machine_for("x86_64-unknown-linux-gnu").target_data();
    assert!(td.layout().starts_with("e-"), "{}", td.layout());
    assert_eq!(td.pointer_size(), 8);
    assert!(td.is_little_endian());
    assert_eq!(td.abi_size("i64").unwrap(), 8);
    assert_eq!(td.abi_alignment("i64").unwrap(), 8);
    assert_eq!(td.abi_size("ptr").unwrap(), 8);
    assert_eq!(td.abi_size("{ i32, double }").unwrap(), 16);
    assert_eq!(td.abi_alignment("{ i32, double }").unwrap(), 8);
    assert_eq!(td.element_offset("{ i32, double }", 0).unwrap(), 0);
    assert_eq!(td.element_offset("{ i32, double }", 1).unwrap(), 8);
    assert_eq!(td.element_offset("<{ i8, i32 }>", 1).unwrap(), 1);
    assert_eq!(td.abi_size("[4 x float]").unwrap(), 16);
    assert_eq!(td.abi_size("<4 x i32>").unwrap(), 16);
    assert_eq!(td.abi_size("{}").unwrap(), 0);
    assert_eq!(td.abi_size("i1").unwrap(), 1);
    // Asking again gives the same (cached) answer.
    for _ in 0..3 {
        assert_eq!(td.element_offset("{ i32, double }", 1).unwrap(), 8);
    }
}

#[test]
fn target_data_bad_input_is_err() {
    let td = machine_for("x86_64-unknown-linux-gnu").target_data();
    for bad in [
        "",
        "i64x",
        "notatype",
        "{ i32, ",
        "void",
        "label",
        "i32 (i32)",
        "%undefined",
        "<vscale x 4 x i32>",
        "{ <vscale x 4 x i32> }",
        "i32\n@h = global i32 0",
        "i32\0",
    ] {
        assert!(td.abi_size(bad).is_err(), "abi_size({bad:?}) should fail");
        assert!(td.abi_alignment(bad).is_err(), "abi_alignment({bad:?})");
    }
    assert!(td.element_offset("i64", 0).is_err());
    assert!(td.element_offset("[2 x i32]", 0).is_err());
    assert!(td.element_offset("{ i32, double }", 2).is_err());
    assert!(td.element_offset("{}", 0).is_err());
}

#[test]
fn target_data_from_layout() {
    let td = TargetData::from_layout("E-p:32:32-i64:64").unwrap();
    assert_eq!(td.layout(), "E-p:32:32-i64:64");
    assert!(!td.is_little_endian());
    assert_eq!(td.pointer_size(), 4);
    assert_eq!(td.abi_size("ptr").unwrap(), 4);
    assert_eq!(td.element_offset("{ i8, i64 }", 1).unwrap(), 8);

    let default = TargetData::from_layout("").unwrap();
    assert_eq!(default.pointer_size(), 8);
    assert!(default.is_little_endian());

    // LLVM would exit the process on these; rivet returns errors.
    for bad in [
        "e-Z",
        "p:7",
        "e-p:64:64:64:64:64:64",
        "\"",
        "e\0",
        "i64:notanumber",
    ] {
        assert!(TargetData::from_layout(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn target_data_is_shareable() {
    let td = std::sync::Arc::new(machine_for("x86_64-unknown-linux-gnu").target_data());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let td = td.clone();
            std::thread::spawn(move || {
                for n in 1..50u64 {
                    let ty = format!("{{ i8, [{n} x i32], double, i{} }}", 8 * (i + 1));
                    assert!(td.abi_size(&ty).unwrap() >= 4 * n + 9);
                    assert_eq!(td.element_offset(&ty, 1).unwrap(), 4);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn optimize_runs_pipeline() {
    let ir = "\
define internal i32 @helper(i32 %x) {
  %y = mul i32 %x, 2
  ret i32 %y
}
define i32 @entry() {
  %a = call i32 @helper(i32 3)
  %b = add i32 %a, 4
  ret i32 %b
}
";
    let tm = TargetMachine::host().unwrap();
    let mut module = Module::parse_ir(ir, "opt.ll").unwrap();
    tm.optimize(&mut module, "default<O2>").unwrap();
    let text = module.to_ir_string();
    assert!(text.contains("ret i32 10"), "{text}");
    assert!(!text.contains("@helper"), "{text}");
    assert_eq!(module.triple(), tm.triple());
    // The optimized module still emits.
    assert!(!tm.emit_object(&mut module).unwrap().is_empty());

    let err = tm.optimize(&mut module, "no-such-pass").unwrap_err();
    assert!(
        matches!(&err, Error::Llvm(m) if m.contains("no-such-pass")),
        "{err}"
    );
    assert!(tm.optimize(&mut module, "default<O2").is_err());
    assert!(tm.optimize(&mut module, "a\0b").is_err());
}

#[test]
fn modules_and_machines_move_between_threads() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let module = Module::parse_ir(ANSWER_IR, &format!("m{i}")).unwrap();
            let tm = TargetMachine::host().unwrap();
            std::thread::spawn(move || {
                let mut module = module;
                let obj = tm.emit_object(&mut module).unwrap();
                (module.name(), obj.len())
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (name, len) = h.join().unwrap();
        assert_eq!(name, format!("m{i}"));
        assert!(len > 0);
    }
}

#[test]
fn triples_are_normalized_as_users_write_them() {
    for (written, normal) in [
        ("x86_64-windows-msvc", "x86_64-unknown-windows-msvc"),
        ("x86_64-w64-mingw32", "x86_64-w64-windows-gnu"),
        ("aarch64-w64-mingw32", "aarch64-w64-windows-gnu"),
        (
            "x86_64-pc-windows-msvc19.33.0",
            "x86_64-pc-windows-msvc19.33.0",
        ),
        ("arm64-apple-macos", "arm64-apple-macos"),
        ("x86_64-linux-gnu", "x86_64-unknown-linux-gnu"),
        ("", ""),
    ] {
        assert_eq!(super::normalize_triple(written), normal, "{written}");
    }
}

#[test]
fn same_target_ignores_vendor_and_versions_only() {
    use super::same_target;
    for (a, b) in [
        ("aarch64-pc-windows-msvc19.33.0", "aarch64-pc-windows-msvc"),
        ("aarch64-pc-windows-msvc", "aarch64-pc-windows-msvc19.33.0"),
        ("x86_64-pc-windows-msvc19.33.0", "x86_64-windows-msvc"),
        ("arm64-apple-macosx11.0", "arm64-apple-macosx"),
        ("arm64-apple-macosx14.0.0", "arm64-apple-macos"),
        ("arm64-apple-macosx14.0.0", "aarch64-apple-darwin"),
        ("x86_64-w64-mingw32", "x86_64-pc-windows-gnu"),
        ("x86_64-pc-windows-msvc", "x86_64-pc-windows-msvc"),
        ("x86_64-unknown-linux-gnu", "x86_64-pc-linux-gnu"),
    ] {
        assert!(same_target(a, b), "{a} is {b}");
    }
    for (a, b) in [
        ("aarch64-pc-windows-msvc19.33.0", "x86_64-pc-windows-msvc"),
        ("aarch64-pc-windows-gnu", "aarch64-pc-windows-msvc"),
        ("x86_64-pc-linux-gnu", "x86_64-pc-windows-gnu"),
        ("riscv64", "riscv32"),
    ] {
        assert!(!same_target(a, b), "{a} is not {b}");
    }
}

/// A triple without a vendor is read as users mean it: Windows, so COFF
/// (before, LLVM took `windows` for a vendor and assembled ELF).
#[test]
fn a_vendorless_windows_triple_assembles_coff() {
    for triple in [
        "x86_64-windows-msvc",
        "x86_64-w64-mingw32",
        "aarch64-windows-msvc",
    ] {
        let tm = TargetMachine::new(&TargetOptions {
            triple: Some(triple.into()),
            ..TargetOptions::default()
        })
        .unwrap();
        let object = tm.assemble(".text\nf:\n  ret\n").unwrap();
        let machine = u16::from_le_bytes([object[0], object[1]]);
        assert!(
            machine == 0x8664 || machine == 0xaa64,
            "{triple}: not a COFF object: {:x?}",
            &object[..4]
        );
    }
}
