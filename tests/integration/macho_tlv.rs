//! Mach-O thread-local variables executed natively (x86-64): code reaches
//! a variable through its descriptor in `__thread_vars` (`X86_64_RELOC_TLV`
//! to load the descriptor's address, a call through its first word), and
//! rivet's getter finds the calling thread's copy of the module's block.

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel, TargetMachine, TargetOptions};
use rivet::load::{ObjectFile, SectionKind};
use rivet::ExecutionEngine;

const TRIPLE: &str = "x86_64-apple-macosx10.15";

/// `counter` (initialized) and `zeroed` (zero-fill) per thread; `bump`
/// adds to both and returns counter * 1000 + zeroed.
const PROVIDER: &str = r#"
@counter = thread_local global i64 100
@zeroed = thread_local global i64 0
declare ptr @llvm.threadlocal.address.p0(ptr)
define i64 @bump(i64 %n) {
  %c = call ptr @llvm.threadlocal.address.p0(ptr @counter)
  %z = call ptr @llvm.threadlocal.address.p0(ptr @zeroed)
  %cv = load i64, ptr %c
  %c2 = add i64 %cv, %n
  store i64 %c2, ptr %c
  %zv = load i64, ptr %z
  %z2 = add i64 %zv, 1
  store i64 %z2, ptr %z
  %r = mul i64 %c2, 1000
  %s = add i64 %r, %z2
  ret i64 %s
}
"#;

/// Another module reading the provider's `counter` (an external
/// thread-local: its descriptor is the provider's).
const CLIENT: &str = r#"
@counter = external thread_local global i64
declare ptr @llvm.threadlocal.address.p0(ptr)
define i64 @read_counter() {
  %c = call ptr @llvm.threadlocal.address.p0(ptr @counter)
  %v = load i64, ptr %c
  ret i64 %v
}
"#;

fn compile(ir: &str, name: &str) -> Vec<u8> {
    let machine = TargetMachine::new(&TargetOptions {
        triple: Some(TRIPLE.into()),
        reloc: RelocModel::Pic,
        code_model: CodeModel::Small,
        ..TargetOptions::default()
    })
    .unwrap();
    let mut m = module(ir, name);
    machine.emit_object(&mut m).unwrap()
}

#[test]
fn each_thread_has_its_own_copy_of_a_macho_thread_local() {
    let provider = compile(PROVIDER, "provider");
    let parsed = ObjectFile::parse(&provider, "provider.o").unwrap();
    assert!(
        parsed
            .sections
            .iter()
            .any(|s| s.kind == SectionKind::TlvDescriptors),
        "the object reaches its thread-locals through descriptors"
    );
    for lmm in BOTH {
        let engine = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
        engine
            .add_object_bytes(provider.clone(), "provider.o")
            .unwrap();
        engine
            .add_object_bytes(compile(CLIENT, "client"), "client.o")
            .unwrap();
        engine.finalize_object().unwrap();
        let bump = engine.get_function_address("bump").unwrap() as usize;
        let read = engine.get_function_address("read_counter").unwrap() as usize;
        // SAFETY: a finalized `i64 (i64)`, alive while `engine` is.
        let bump = move |n: i64| unsafe { call1::<i64, i64>(bump as u64, n) };
        // SAFETY: a finalized `i64 ()`, alive while `engine` is.
        let read = move || unsafe { call0::<i64>(read as u64) };
        assert_eq!(bump(5), 105_001, "lmm={lmm}");
        assert_eq!(bump(5), 110_002, "lmm={lmm}");
        assert_eq!(read(), 110, "the other module sees this thread's copy");
        let others: Vec<_> = (1..=4i64)
            .map(|n| {
                std::thread::spawn(move || {
                    let first = bump(n);
                    let second = bump(n);
                    (first, second, read())
                })
            })
            .collect();
        for (n, thread) in (1..=4i64).zip(others) {
            let (first, second, seen) = thread.join().unwrap();
            assert_eq!(first, (100 + n) * 1000 + 1, "thread {n}, lmm={lmm}");
            assert_eq!(second, (100 + 2 * n) * 1000 + 2, "thread {n}, lmm={lmm}");
            assert_eq!(seen, 100 + 2 * n);
        }
        assert_eq!(read(), 110, "this thread's copy is untouched");
    }
}
