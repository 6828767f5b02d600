//! Linker-defined section bounds executed: registries that C code builds
//! with `__attribute__((section("NAME")))` and walks from `__start_NAME` to
//! `__stop_NAME` (ELF) or `section$start$SEG$SECT` to `section$end$...`
//! (Mach-O), in each memory manager, two modules each walking its own.

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel, TargetMachine, TargetOptions};
use rivet::ExecutionEngine;

/// A registry of three `{ key, function }` entries in section `section`
/// (with `comdat`, the third in a COMDAT group of its own, so a second
/// input section of that name; Mach-O has no COMDATs), walked by `walk_SUFFIX`, which returns the sum of
/// key * function() over the entries between `start` and `stop`.
fn registry(suffix: &str, keys: [i64; 3], section: &str, bounds: &(String, String)) -> String {
    let [k1, k2, k3] = keys;
    let (start, stop) = bounds;
    let comdat = if section.contains(',') {
        ("", "internal", "")
    } else {
        (
            "$reg_three_{suffix} = comdat any",
            "linkonce_odr",
            ", comdat",
        )
    };
    let (comdat_decl, third_linkage, third_comdat) = comdat;
    let comdat_decl = comdat_decl.replace("{suffix}", suffix);
    format!(
        r#"
%entry = type {{ i64, ptr }}
{comdat_decl}
@reg_one_{suffix} = internal global %entry {{ i64 {k1}, ptr @ten_{suffix} }}, section "{section}", align 8
@reg_two_{suffix} = internal global %entry {{ i64 {k2}, ptr @twenty_{suffix} }}, section "{section}", align 8
@between_{suffix} = global i64 99, align 8
@reg_three_{suffix} = {third_linkage} global %entry {{ i64 {k3}, ptr @thirty_{suffix} }}, section "{section}"{third_comdat}, align 8
@llvm.used = appending global [3 x ptr] [ptr @reg_one_{suffix}, ptr @reg_two_{suffix}, ptr @reg_three_{suffix}], section "llvm.metadata"
; One bound reached directly (hidden), the other through the GOT.
@"{start}" = external hidden global %entry
@"{stop}" = external global %entry

define internal i64 @ten_{suffix}() {{ ret i64 10 }}
define internal i64 @twenty_{suffix}() {{ ret i64 20 }}
define internal i64 @thirty_{suffix}() {{ ret i64 30 }}

define i64 @walk_{suffix}() {{
entry:
  br label %loop
loop:
  %p = phi ptr [ @"{start}", %entry ], [ %next, %body ]
  %acc = phi i64 [ 0, %entry ], [ %sum, %body ]
  %done = icmp eq ptr %p, @"{stop}"
  br i1 %done, label %exit, label %body
body:
  %key = load i64, ptr %p
  %fp = getelementptr %entry, ptr %p, i32 0, i32 1
  %f = load ptr, ptr %fp
  %v = call i64 %f()
  %kv = mul i64 %key, %v
  %sum = add i64 %acc, %kv
  %next = getelementptr %entry, ptr %p, i32 1
  br label %loop
exit:
  ret i64 %acc
}}
"#
    )
}

fn machine(triple: Option<&str>) -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        triple: triple.map(Into::into),
        reloc: RelocModel::Pic,
        code_model: CodeModel::Small,
        ..TargetOptions::default()
    })
    .expect("target machine")
}

/// Links the two registries' objects (for `triple`, the host's when
/// `None`) into one engine per memory manager and checks each walk.
fn walk_both(triple: Option<&str>, section: &str, bounds: impl Fn(&str) -> (String, String)) {
    let mut objects = Vec::new();
    for (suffix, keys) in [("a", [1, 2, 4]), ("b", [3, 5, 7])] {
        let ir = registry(suffix, keys, section, &bounds(section));
        let mut m = module(&ir, suffix);
        objects.push(machine(triple).emit_object(&mut m).expect("emit object"));
    }
    for lmm in BOTH {
        let engine = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
        for (i, bytes) in objects.iter().enumerate() {
            engine
                .add_object_bytes(bytes.clone(), &format!("registry{i}.o"))
                .unwrap();
        }
        engine.finalize_object().unwrap();
        for (suffix, want) in [("a", 10 + 40 + 120), ("b", 30 + 100 + 210)] {
            let walk = engine
                .get_function_address(&format!("walk_{suffix}"))
                .unwrap();
            // SAFETY: `walk_*` is a finalized `i64 ()`.
            let got = unsafe { call0::<i64>(walk) };
            assert_eq!(got, want, "{triple:?} walk_{suffix} lmm={lmm}");
        }
    }
}

#[test]
fn elf_registry_is_walked_from_start_to_stop() {
    walk_both(None, "my_registry", |s| {
        (format!("__start_{s}"), format!("__stop_{s}"))
    });
}

#[test]
fn macho_registry_is_walked_from_section_start_to_end() {
    // `\01` keeps LLVM from adding Darwin's underscore: the names are the
    // linker's, as C code spells them with `__asm("section$start$...")`.
    walk_both(Some("x86_64-apple-macosx10.15"), "__DATA,__reg", |s| {
        let (segment, section) = s.split_once(',').unwrap();
        (
            format!("\\01section$start${segment}${section}"),
            format!("\\01section$end${segment}${section}"),
        )
    });
}
