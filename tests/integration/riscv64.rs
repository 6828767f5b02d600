//! ELF RISC-V 64 (RV64GC, lp64d): clang-style IR compiles with the triple's
//! defaults, objects whose local labels share names link and run right (the
//! RuntimeDyld failure of llvmlite issues 923 and 1449), static code runs,
//! and the loader's pairing refuses what it cannot pair, by name.

use rivet::llvm::{Module, RelocModel, TargetMachine, TargetOptions};
use rivet::load::{Arch, ObjectFile, RelocKind, Target};
use rivet::ExecutionEngine;

const TRIPLE: &str = "riscv64-unknown-linux-gnu";

fn machine(reloc: RelocModel) -> TargetMachine {
    TargetMachine::new(&TargetOptions {
        triple: Some(TRIPLE.into()),
        reloc,
        ..TargetOptions::default()
    })
    .unwrap()
}

fn compile(tm: &TargetMachine, ir: &str, name: &str) -> Vec<u8> {
    let mut m = Module::parse_ir(ir, name).unwrap();
    tm.emit_object(&mut m).unwrap()
}

/// A module with a jump table: `pick_<tag>(k)` returns `base + table[k]`.
fn switch_module(tag: &str, base: i64) -> String {
    let cases: String = (0..12)
        .map(|k| format!("    i64 {k}, label %c{k}\n"))
        .collect();
    let blocks: String = (0..12)
        .map(|k| format!("c{k}:\n  ret i64 {}\n", base + k * 7 + 3))
        .collect();
    format!(
        "define i64 @pick_{tag}(i64 %k) {{\nentry:\n  switch i64 %k, label %other [\n{cases}  ]\n{blocks}other:\n  ret i64 -1\n}}\n"
    )
}

#[test]
fn the_target_machine_is_rv64gc_lp64d_by_default() {
    let tm = machine(RelocModel::Pic);
    assert_eq!(tm.options().features.as_deref(), Some("+m,+a,+f,+d,+c"));
    // The object says so too: RVC and the double-float ABI in e_flags.
    let bytes = compile(&tm, "define double @f(double %x) { ret double %x }", "f");
    let e_flags = u32::from_le_bytes(bytes[48..52].try_into().unwrap());
    const EF_RISCV_RVC: u32 = 0x1;
    const EF_RISCV_FLOAT_ABI_DOUBLE: u32 = 0x4;
    assert_eq!(e_flags & 0x7, EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE);
}

/// What clang writes for riscv64-unknown-linux-gnu: its own triple and
/// layout, the target-abi module flag and per-function features, linker
/// relaxation (`+relax`) included, so the object has RELAX, ALIGN and the
/// ADD/SUB and SET/SUB pairs of relaxable code in `.eh_frame`.
const CLANG_IR: &str = r#"
target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"
target triple = "riscv64-unknown-linux-gnu"
define dso_local double @scale(double noundef %x, i32 noundef signext %n) #0 {
  %f = sitofp i32 %n to double
  %r = fmul double %x, %f
  ret double %r
}
define dso_local double @sum_sines(double noundef %x, i32 noundef signext %n) #0 {
entry:
  %none = icmp sle i32 %n, 0
  br i1 %none, label %done, label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %next, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %sum, %loop ]
  %fi = sitofp i32 %i to double
  %arg = fmul double %x, %fi
  %s = call double @sin(double noundef %arg) #1
  %sum = fadd double %acc, %s
  %next = add nsw i32 %i, 1
  %more = icmp slt i32 %next, %n
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ 0.0, %entry ], [ %sum, %loop ]
  ret double %r
}
declare double @sin(double noundef) #1
attributes #0 = { nounwind uwtable(async) "target-cpu"="generic-rv64" "target-features"="+64bit,+a,+c,+d,+f,+m,+relax,+zicsr,+zifencei,-save-restore" }
attributes #1 = { nounwind }
!llvm.module.flags = !{!0, !1}
!0 = !{i32 1, !"target-abi", !"lp64d"}
!1 = !{i32 7, !"uwtable", i32 2}
"#;

#[test]
fn clang_style_ir_with_the_lp64d_abi_flag_compiles() {
    let bytes = compile(&machine(RelocModel::Pic), CLANG_IR, "clang.c");
    let object = ObjectFile::parse(&bytes, "clang.o").unwrap();
    assert_eq!(object.arch, Arch::Riscv64);
    assert!(object.symbols.iter().any(|s| s.name == "scale"));
    // Relaxable code: the unwind table's advances and lengths are
    // differences the linker computes (ADD/SUB, SET/SUB pairs).
    use rivet::arch::riscv64::Reloc as R;
    let eh_frame = object
        .sections
        .iter()
        .find(|s| s.name == ".eh_frame")
        .expect(".eh_frame");
    assert!(
        eh_frame.relocations.iter().any(|r| matches!(
            r.kind,
            RelocKind::Riscv64(R::Add32 | R::Sub32 | R::Set6 | R::Sub6 | R::Set8 | R::Sub8)
        )),
        "{:?}",
        eh_frame.relocations
    );
}

#[test]
fn every_pcrel_lo12_takes_its_high_part_by_place_not_name() {
    let tm = machine(RelocModel::Pic);
    let ir = format!(
        "@g = global i64 5\n@h = external global i64\n{}\ndefine i64 @load() {{\n  %a = load i64, ptr @g\n  %b = load i64, ptr @h\n  %c = add i64 %a, %b\n  ret i64 %c\n}}\n",
        switch_module("a", 0)
    );
    let bytes = compile(&tm, &ir, "pairs");
    let object = ObjectFile::parse(&bytes, "pairs.o").unwrap();
    let text = object
        .sections
        .iter()
        .find(|s| s.name == ".text")
        .expect(".text");
    let kinds: Vec<RelocKind> = text.relocations.iter().map(|r| r.kind).collect();
    use rivet::arch::riscv64::Reloc as R;
    let low_kinds = [R::PcrelLo12I, R::PcrelLo12S, R::GotPcrelLo12I];
    let lows: Vec<_> = text
        .relocations
        .iter()
        .filter(|r| matches!(r.kind, RelocKind::Riscv64(k) if low_kinds.contains(&k)))
        .collect();
    assert!(!lows.is_empty(), "{kinds:?}");
    assert!(
        kinds.contains(&RelocKind::Riscv64(R::GotPcrelLo12I)),
        "{kinds:?}"
    );
    for low in lows {
        // The low part names what its high part names (never the label),
        // with the distance between them in its addend.
        let high = text
            .relocations
            .iter()
            .filter(|h| {
                matches!(h.kind, RelocKind::Riscv64(R::PcrelHi20 | R::GotHi20))
                    && h.target == low.target
                    && low.offset > h.offset
            })
            .find(|h| low.addend == h.addend + (low.offset - h.offset) as i64);
        assert!(high.is_some(), "no high part for {low:?}");
        if let Target::Symbol(i) = low.target {
            assert!(!object.symbols[i as usize].name.starts_with(".Lpcrel_hi"));
        }
    }
}

#[test]
fn a_pcrel_lo12_without_a_high_part_or_a_lone_sub_uleb128_is_refused_by_name() {
    let tm = machine(RelocModel::Pic);
    let cases = [
        (
            "lo_in_other_section",
            "        .text\nlabel:\n        auipc a0, %pcrel_hi(x)\n        .section .text.b,\"ax\",@progbits\n        .reloc ., R_RISCV_PCREL_LO12_I, label\n        addi a0, a0, 0\n        .data\nx:\n        .quad 0\n",
            "the label is in another section than the low part",
        ),
        (
            "lone_sub",
            "        .data\nx:\n        .reloc ., R_RISCV_SUB_ULEB128, x\n        .byte 0\n",
            "R_RISCV_SUB_ULEB128 at .data+0x0 does not follow an R_RISCV_SET_ULEB128",
        ),
    ];
    for (name, asm, message) in cases {
        let bytes = tm.assemble(asm).unwrap();
        let err = ObjectFile::parse(&bytes, &format!("{name}.o"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(message) && err.contains(&format!("{name}.o")),
            "{name}: {err}"
        );
    }
}

#[test]
fn thread_locals_link_through_general_dynamic_pairs() {
    // PIC code reaches a thread-local through TLS_GD_HI20 + PCREL_LO12_I and
    // a call to __tls_get_addr (rivet's own); the link gives the module a
    // TLS block and a GOT pair. (Linked, not run: the emulator does not map
    // the host thread's TLS blocks.)
    let ir = r#"
@counter = thread_local global i64 5
define ptr @where() {
  %p = call ptr @llvm.threadlocal.address.p0(ptr @counter)
  ret ptr %p
}
declare ptr @llvm.threadlocal.address.p0(ptr)
"#;
    let bytes = compile(&machine(RelocModel::Pic), ir, "tls");
    let object = ObjectFile::parse(&bytes, "tls.o").unwrap();
    use rivet::arch::riscv64::Reloc as R;
    let kinds: Vec<RelocKind> = object
        .sections
        .iter()
        .flat_map(|s| s.relocations.iter().map(|r| r.kind))
        .collect();
    assert!(
        kinds.contains(&RelocKind::Riscv64(R::TlsGdHi20)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&RelocKind::Riscv64(R::TlsGdPcrelLo12I)),
        "{kinds:?}"
    );
    let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
    engine.keep_link_maps(true);
    engine.add_object_bytes(bytes, "tls.o").unwrap();
    engine.finalize_object().unwrap();
    assert_ne!(engine.get_function_address("where").unwrap(), 0);
    let maps = engine.link_maps();
    assert!(
        maps.iter()
            .any(|(_, m)| m.sections.iter().any(|s| s.0 == ".tdata")),
        "the TLS template is placed: {maps:?}"
    );
}

#[cfg(feature = "emulator")]
mod emulated {
    use super::*;
    use rivet::emulator::{Emulator, HostReturn};

    /// The local (`.L`) symbol names of an object.
    fn local_labels(bytes: &[u8]) -> Vec<String> {
        let object = ObjectFile::parse(bytes, "labels.o").unwrap();
        assert_eq!(object.arch, Arch::Riscv64);
        object
            .symbols
            .iter()
            .filter(|s| s.name.starts_with(".L"))
            .map(|s| s.name.to_string())
            .collect()
    }

    /// Links `objects` into a fresh engine with `sin` bridged, maps what it
    /// linked into a RISC-V emulator and returns both (the emulator first,
    /// so it is dropped before the memory it maps).
    fn link_and_map(objects: Vec<(Vec<u8>, &str)>) -> (Emulator, ExecutionEngine) {
        let mut emu = Emulator::riscv64().unwrap();
        emu.bridge("sin", Box::new(|a| HostReturn::Float(a.d[0].sin())))
            .unwrap();
        let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
        engine.keep_link_maps(true);
        emu.add_global_mappings(&engine);
        for (bytes, name) in objects {
            engine.add_object_bytes(bytes, name).unwrap();
        }
        engine.finalize_object().unwrap();
        map_linked(&mut emu, &engine);
        (emu, engine)
    }

    /// Maps everything `engine` linked (sections, GOT, stubs) into `emu`.
    fn map_linked(emu: &mut Emulator, engine: &ExecutionEngine) {
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        for (_, map) in engine.link_maps() {
            let spans = map
                .sections
                .iter()
                .map(|s| (s.1, s.2))
                .chain(map.got.iter().map(|g| (g.1, 8)))
                .chain(map.stubs.iter().map(|s| (s.1, 24)));
            for (a, len) in spans {
                lo = lo.min(a);
                hi = hi.max(a + len);
            }
        }
        // SAFETY: the engine's finalized memory, which outlives the emulator
        // (the caller keeps both and drops the emulator first).
        unsafe { emu.map_host_range(lo, hi - lo) }.unwrap();
    }

    #[test]
    fn jump_tables_in_objects_with_colliding_local_labels_run_right() {
        let tm = machine(RelocModel::Pic);
        let a = compile(&tm, &switch_module("a", 1000), "a");
        let b = compile(&tm, &switch_module("b", 5000), "b");
        let shared: Vec<String> = local_labels(&a)
            .into_iter()
            .filter(|l| local_labels(&b).contains(l))
            .collect();
        assert!(
            shared.iter().any(|l| l.starts_with(".Lpcrel_hi")),
            "both objects name a .Lpcrel_hi label alike: {shared:?}"
        );
        let (mut emu, engine) = link_and_map(vec![(a, "a.o"), (b, "b.o")]);
        let pick_a = engine.get_function_address("pick_a").unwrap();
        let pick_b = engine.get_function_address("pick_b").unwrap();
        for k in 0..12u64 {
            let (ra, _) = emu.call(pick_a, &[k], &[]).unwrap();
            let (rb, _) = emu.call(pick_b, &[k], &[]).unwrap();
            assert_eq!(ra as i64, 1000 + k as i64 * 7 + 3, "pick_a({k})");
            assert_eq!(rb as i64, 5000 + k as i64 * 7 + 3, "pick_b({k})");
        }
        assert_eq!(emu.call(pick_b, &[12], &[]).unwrap().0 as i64, -1);
        drop(emu);
    }

    #[test]
    fn two_jump_tables_in_one_module_and_doubles_through_the_bridge() {
        let ir = format!(
            "{}{}declare double @sin(double)\ndefine double @wave(double %x, i64 %k) {{\n  %s = call double @sin(double %x)\n  %p = call i64 @pick_y(i64 %k)\n  %f = sitofp i64 %p to double\n  %r = fadd double %s, %f\n  ret double %r\n}}\n",
            switch_module("x", 100),
            switch_module("y", 200)
        );
        let bytes = compile(&machine(RelocModel::Pic), &ir, "two");
        let (mut emu, engine) = link_and_map(vec![(bytes, "two.o")]);
        let pick_x = engine.get_function_address("pick_x").unwrap();
        let wave = engine.get_function_address("wave").unwrap();
        for k in [0u64, 5, 11] {
            assert_eq!(
                emu.call(pick_x, &[k], &[]).unwrap().0 as i64,
                100 + k as i64 * 7 + 3
            );
            let (_, fa0) = emu.call(wave, &[k], &[0.5]).unwrap();
            assert_eq!(fa0, 0.5f64.sin() + (200 + k as i64 * 7 + 3) as f64);
        }
        drop(emu);
    }

    #[test]
    fn clang_style_relaxable_code_with_unwind_tables_runs() {
        let bytes = compile(&machine(RelocModel::Pic), CLANG_IR, "clang.c");
        let (mut emu, engine) = link_and_map(vec![(bytes, "clang.o")]);
        let scale = engine.get_function_address("scale").unwrap();
        let sum_sines = engine.get_function_address("sum_sines").unwrap();
        assert_eq!(emu.call(scale, &[-3i64 as u64], &[1.25]).unwrap().1, -3.75);
        let want: f64 = (0..5).map(|i| (0.5 * f64::from(i)).sin()).sum();
        assert_eq!(emu.call(sum_sines, &[5], &[0.5]).unwrap().1, want);
        drop(emu);
    }

    /// A host `int host_neg(int)` as System V lets it be: the result in the
    /// low half of rax, the upper half anything (here, on purpose, not the
    /// sign).
    extern "C" fn host_neg(x: u64) -> u64 {
        u64::from((x as u32 as i32).wrapping_neg() as u32) | 0xdead_beef_0000_0000
    }

    #[test]
    fn int_results_of_bridged_host_functions_are_sign_extended() {
        use rivet::bridge::aarch64::{bridge_host_functions, VariadicArgs};
        use rivet::bridge::{FunctionSignature, HostFunction, ValueKind};
        // RISC-V code takes a returned i32 as sign-extended to 64 bits (as
        // clang declares it, `signext`: the `sext` below is no instruction);
        // the host leaves the upper half of its register as it likes.
        let ir = r#"
declare signext i32 @host_neg(i32 signext)
define i64 @wide_neg(i32 %x) {
  %r = call signext i32 @host_neg(i32 signext %x)
  %w = sext i32 %r to i64
  ret i64 %w
}
"#;
        let bytes = compile(&machine(RelocModel::Pic), ir, "neg");
        let mut emu = Emulator::riscv64().unwrap();
        let host = HostFunction {
            signature: FunctionSignature {
                name: "host_neg".into(),
                params: vec![ValueKind::Int(32)],
                ret: ValueKind::Int(32),
                variadic: false,
            },
            address: host_neg as *const () as u64,
        };
        bridge_host_functions(&mut emu, "neg.ll", &[host], VariadicArgs::IntegerRegisters).unwrap();
        let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
        engine.keep_link_maps(true);
        emu.add_global_mappings(&engine);
        engine.add_object_bytes(bytes, "neg.o").unwrap();
        engine.finalize_object().unwrap();
        map_linked(&mut emu, &engine);
        let f = engine.get_function_address("wide_neg").unwrap();
        assert_eq!(emu.call(f, &[2], &[]).unwrap().0 as i64, -2);
        assert_eq!(emu.call(f, &[-7i64 as u64], &[]).unwrap().0 as i64, 7);
        drop(emu);
    }

    #[test]
    fn static_code_with_absolute_hi20_lo12_runs_from_the_low_arena() {
        let ir = r#"
@table = global [4 x i64] [i64 11, i64 22, i64 33, i64 44]
define i64 @at(i64 %i) {
  %p = getelementptr [4 x i64], ptr @table, i64 0, i64 %i
  %v = load i64, ptr %p
  store i64 0, ptr %p
  ret i64 %v
}
"#;
        let bytes = compile(&machine(RelocModel::Static), ir, "static");
        let object = ObjectFile::parse(&bytes, "static.o").unwrap();
        use rivet::arch::riscv64::Reloc as R;
        assert!(object.sections.iter().any(|s| s
            .relocations
            .iter()
            .any(|r| r.kind == RelocKind::Riscv64(R::Hi20))));
        let (mut emu, engine) = link_and_map(vec![(bytes, "static.o")]);
        let at = engine.get_function_address("at").unwrap();
        assert_eq!(emu.call(at, &[2], &[]).unwrap().0, 33);
        assert_eq!(emu.call(at, &[2], &[]).unwrap().0, 0, "stored through it");
        assert_eq!(emu.call(at, &[3], &[]).unwrap().0, 44);
        drop(emu);
    }
}

/// rivet's RISC-V loader against goblin: every relocation goblin reads is in
/// the model at its offset, in order, except `RELAX`, `ALIGN` (not fixups)
/// and `SUB_ULEB128` (folded into its `SET_ULEB128`); a `PCREL_LO12` holds
/// the target and addend of the high part goblin finds at its label.
#[test]
fn relocations_agree_with_goblin() {
    use goblin::elf::reloc::{
        R_RISCV_ALIGN, R_RISCV_GOT_HI20, R_RISCV_NONE, R_RISCV_PCREL_HI20, R_RISCV_PCREL_LO12_I,
        R_RISCV_PCREL_LO12_S, R_RISCV_RELAX, R_RISCV_SET_ULEB128, R_RISCV_SUB_ULEB128,
        R_RISCV_TLS_GD_HI20,
    };
    let tm = machine(RelocModel::Pic);
    let mut objects = vec![
        ("clang", compile(&tm, CLANG_IR, "clang")),
        ("switch", compile(&tm, &switch_module("a", 0), "switch")),
    ];
    for file in [
        "code-relocations.s",
        "data-relocations.s",
        "pcrel-pairs.s",
        "tls.s",
    ] {
        let path = format!(
            "{}/asm-tests/elf-riscv64/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap();
        objects.push((file, tm.assemble(&text).unwrap()));
    }
    for (what, bytes) in objects {
        let ours = ObjectFile::parse(&bytes, what).unwrap();
        let elf = goblin::elf::Elf::parse(&bytes).unwrap();
        let mut compared = 0;
        for (rel_index, relocs) in &elf.shdr_relocs {
            let applies_to = elf.section_headers[*rel_index].sh_info as usize;
            let section = &ours.sections[applies_to];
            if !section.kind.is_loaded() {
                continue;
            }
            let all: Vec<_> = relocs.iter().collect();
            let kept: Vec<_> = all
                .iter()
                .filter(|r| {
                    ![
                        R_RISCV_NONE,
                        R_RISCV_RELAX,
                        R_RISCV_ALIGN,
                        R_RISCV_SUB_ULEB128,
                    ]
                    .contains(&r.r_type)
                })
                .collect();
            assert_eq!(
                section.relocations.len(),
                kept.len(),
                "{what}: {}",
                section.name
            );
            for (mine, r) in section.relocations.iter().zip(kept) {
                assert_eq!(mine.offset, r.r_offset, "{what}");
                let (sym, addend) = match r.r_type {
                    R_RISCV_PCREL_LO12_I | R_RISCV_PCREL_LO12_S => {
                        let label = elf.syms.get(r.r_sym).unwrap().st_value;
                        let high = all
                            .iter()
                            .find(|h| {
                                h.r_offset == label
                                    && [R_RISCV_PCREL_HI20, R_RISCV_GOT_HI20, R_RISCV_TLS_GD_HI20]
                                        .contains(&h.r_type)
                            })
                            .unwrap_or_else(|| panic!("{what}: no high part at {label:#x}"));
                        let distance = (r.r_offset - high.r_offset) as i64;
                        (high.r_sym, high.r_addend.unwrap_or(0) + distance)
                    }
                    R_RISCV_SET_ULEB128 => {
                        let sub = all
                            .iter()
                            .find(|s| s.r_type == R_RISCV_SUB_ULEB128 && s.r_offset == r.r_offset);
                        let a = r.r_addend.unwrap_or(0);
                        match sub {
                            Some(sub) => {
                                assert!(mine.subtrahend.is_some(), "{what}");
                                (r.r_sym, a - sub.r_addend.unwrap_or(0))
                            }
                            None => (r.r_sym, a),
                        }
                    }
                    _ => (r.r_sym, r.r_addend.unwrap_or(0)),
                };
                assert_eq!(mine.addend, addend, "{what}: {mine:?}");
                match mine.target {
                    Target::Symbol(s) => assert_eq!(s as usize, sym, "{what}"),
                    Target::Section(s) => {
                        assert_eq!(s as usize, elf.syms.get(sym).unwrap().st_shndx, "{what}")
                    }
                }
                compared += 1;
            }
        }
        assert!(compared > 0, "{what}: no relocations compared");
    }
}
