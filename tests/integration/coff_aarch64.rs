//! COFF arm64 (Windows on Arm): clang's versioned triple compiles, the
//! loader maps LLVM's objects to AArch64 fixups with their implicit addends,
//! import pointers, COMDATs and veneers run in the emulator, and what rivet
//! does not link is refused by name.

use rivet::llvm::{Module, TargetMachine, TargetOptions};
use rivet::load::{Arch, Format, ObjectFile, RelocKind};
use rivet::Error;

/// clang's triple for Windows on Arm, with the MSVC version.
const TRIPLE: &str = "aarch64-pc-windows-msvc19.33.0";

fn compile(ir: &str, name: &str) -> Vec<u8> {
    let tm = TargetMachine::new(&TargetOptions {
        triple: Some(TRIPLE.into()),
        ..TargetOptions::default()
    })
    .unwrap();
    let mut m = Module::parse_ir(ir, name).unwrap();
    tm.emit_object(&mut m).unwrap()
}

/// A program with an import pointer, a COMDAT function, a global table, a
/// jump table, a libm call and the address of a function far away.
const PROGRAM: &str = r#"
$shared_helper = comdat any
@table = global [4 x i64] [i64 3, i64 5, i64 7, i64 11]
declare dllimport i64 @host_twice(i64)
declare double @sin(double)
declare i64 @far_away(i64)

define ptr @far_address() {
  ret ptr @far_away
}

define linkonce_odr i64 @shared_helper(i64 %x) comdat {
  %r = mul i64 %x, 3
  ret i64 %r
}

define i64 @imported(i64 %x) {
  %r = call i64 @host_twice(i64 %x)
  %s = add i64 %r, 1
  ret i64 %s
}

define i64 @lookup(i64 %k) {
  %p = getelementptr [4 x i64], ptr @table, i64 0, i64 %k
  %v = load i64, ptr %p
  %h = call i64 @shared_helper(i64 %v)
  ret i64 %h
}

define i64 @pick(i64 %k) {
entry:
  switch i64 %k, label %other [
    i64 0, label %c0  i64 1, label %c1  i64 2, label %c2  i64 3, label %c3
    i64 4, label %c4  i64 5, label %c5  i64 6, label %c6
  ]
c0: ret i64 10
c1: ret i64 21
c2: ret i64 32
c3: ret i64 43
c4: ret i64 54
c5: ret i64 65
c6: ret i64 76
other: ret i64 -1
}

define double @wave(double %x) {
  %s = call double @sin(double %x)
  %r = fmul double %s, 3.0
  ret double %r
}
"#;

/// A second module with its own copy of the COMDAT function.
#[cfg(feature = "emulator")]
const OTHER: &str = r#"
$shared_helper = comdat any
define linkonce_odr i64 @shared_helper(i64 %x) comdat {
  %r = mul i64 %x, 3
  ret i64 %r
}
define i64 @helper_from_other(i64 %x) {
  %r = call i64 @shared_helper(i64 %x)
  ret i64 %r
}
"#;

#[test]
fn llvm_objects_load_as_coff_arm64_with_their_fixups() {
    let bytes = compile(PROGRAM, "program");
    let object = ObjectFile::parse(&bytes, "program.o").unwrap();
    assert_eq!((object.format, object.arch), (Format::Coff, Arch::Aarch64));
    let kinds: Vec<String> = object
        .sections
        .iter()
        .flat_map(|s| s.relocations.iter())
        .map(|r| match r.kind {
            RelocKind::Aarch64(k) => k.name().to_string(),
            other => panic!("a COFF arm64 object has a {other} fixup"),
        })
        .collect();
    // The address of `far_away` (adrp + add of an undefined symbol) is
    // loaded from a GOT slot.
    for want in [
        "CALL26",
        "ADR_PREL_PG_HI21",
        "PAGEOFF12",
        "ADDR32NB",
        "ADR_GOT_PAGE",
        "PAGEOFFSET_12A_GOT",
    ] {
        assert!(kinds.iter().any(|k| k == want), "{want} in {kinds:?}");
    }
    // The import pointer is a symbol of its own.
    assert!(object.symbols.iter().any(|s| s.name == "__imp_host_twice"));
    // The COMDAT function is weak.
    let helper = object
        .symbols
        .iter()
        .find(|s| s.name == "shared_helper")
        .unwrap();
    assert_eq!(helper.binding, rivet::load::Binding::Weak);
}

/// Patches a copy of `bytes`: `f` gets the bytes and the file offset of
/// the first relocation record of section `name`.
fn patch_first_relocation(bytes: &[u8], name: &str, f: impl FnOnce(&mut [u8], usize)) -> Vec<u8> {
    use object::read::coff::CoffFile;
    use object::Object;
    let file: CoffFile = CoffFile::parse(bytes).unwrap();
    let section = file.section_by_name(name).unwrap();
    let header = section.coff_section();
    let at = header.pointer_to_relocations.get(object::LittleEndian) as usize;
    assert!(header.number_of_relocations.get(object::LittleEndian) > 0);
    let mut copy = bytes.to_vec();
    f(&mut copy, at);
    copy
}

#[test]
fn what_rivet_does_not_link_is_refused_by_name() {
    let bytes = compile(PROGRAM, "program");
    // ARM64EC (arm64 code with the x64 convention).
    let mut ec = bytes.clone();
    ec[0..2].copy_from_slice(&0xa641u16.to_le_bytes());
    let err = ObjectFile::parse(&ec, "ec.o").unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedObject { .. }) && err.to_string().contains("ARM64EC"),
        "{err}"
    );
    // IMAGE_REL_ARM64_TOKEN (0x0c), which only the image loader uses.
    let token = patch_first_relocation(&bytes, ".text", |b, at| {
        b[at + 8..at + 10].copy_from_slice(&0x000cu16.to_le_bytes());
    });
    let err = ObjectFile::parse(&token, "token.o").unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedRelocation { kind, .. } if kind == "IMAGE_REL_ARM64_TOKEN"),
        "{err}"
    );
    // A relocation whose field lies past the end of its section.
    let outside = patch_first_relocation(&bytes, ".text", |b, at| {
        b[at..at + 4].copy_from_slice(&0x00ff_fff0u32.to_le_bytes());
    });
    let err = ObjectFile::parse(&outside, "outside.o").unwrap_err();
    assert!(
        matches!(err, Error::MalformedObject { .. }) && err.to_string().contains("outside"),
        "{err}"
    );
}

#[cfg(feature = "emulator")]
mod emulated {
    use super::*;
    use rivet::emulator::{Emulator, HostReturn};
    use rivet::ExecutionEngine;

    /// Maps everything `engine` linked (sections, GOT, stubs) into `emu`.
    fn map_linked(emu: &mut Emulator, engine: &ExecutionEngine) {
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        for (_, map) in engine.link_maps() {
            let spans = map
                .sections
                .iter()
                .map(|s| (s.1, s.2))
                .chain(map.got.iter().map(|g| (g.1, 8)))
                .chain(map.stubs.iter().map(|s| (s.1, 16)));
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
    fn import_pointers_comdats_and_jump_tables_run() {
        let mut emu = Emulator::new().unwrap();
        emu.bridge("sin", Box::new(|a| HostReturn::Float(a.d[0].sin())))
            .unwrap();
        emu.bridge(
            "host_twice",
            Box::new(|a| HostReturn::Int(a.x[0].wrapping_mul(2))),
        )
        .unwrap();
        let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
        engine.keep_link_maps(true);
        emu.add_global_mappings(&engine);
        // Far beyond adrp's ±4 GiB from the arena.
        const FAR_AWAY: u64 = 0x7f00_0000_1230;
        engine.add_global_mapping("far_away", FAR_AWAY);
        engine
            .add_object_bytes(compile(PROGRAM, "program"), "program.o")
            .unwrap();
        engine
            .add_object_bytes(compile(OTHER, "other"), "other.o")
            .unwrap();
        engine.finalize_object().unwrap();
        map_linked(&mut emu, &engine);

        // The import pointer is a GOT slot holding the bridge's address.
        let maps = engine.link_maps();
        assert!(
            maps.iter()
                .any(|(_, m)| m.got.iter().any(|g| g.0.contains("host_twice"))),
            "a slot for __imp_host_twice"
        );
        let imported = engine.get_function_address("imported").unwrap();
        assert_eq!(emu.call(imported, &[20], &[]).unwrap().0, 41);

        let lookup = engine.get_function_address("lookup").unwrap();
        let from_other = engine.get_function_address("helper_from_other").unwrap();
        for (k, v) in [3u64, 5, 7, 11].iter().enumerate() {
            assert_eq!(emu.call(lookup, &[k as u64], &[]).unwrap().0, v * 3);
        }
        assert_eq!(emu.call(from_other, &[9], &[]).unwrap().0, 27);
        // One copy of the COMDAT function serves both modules.
        let helper = engine.get_function_address("shared_helper").unwrap();
        assert_ne!(helper, 0);

        let pick = engine.get_function_address("pick").unwrap();
        for (k, want) in [10i64, 21, 32, 43, 54, 65, 76, -1].iter().enumerate() {
            assert_eq!(emu.call(pick, &[k as u64], &[]).unwrap().0 as i64, *want);
        }
        let far_address = engine.get_function_address("far_address").unwrap();
        assert_eq!(emu.call(far_address, &[], &[]).unwrap().0, FAR_AWAY);

        let wave = engine.get_function_address("wave").unwrap();
        assert_eq!(emu.call(wave, &[], &[0.5]).unwrap().1, 0.5f64.sin() * 3.0);
    }
}
