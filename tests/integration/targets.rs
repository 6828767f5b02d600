//! One set of IR programs compiled for all seven targets rivet links — ELF
//! x86-64, Mach-O x86-64, COFF x86-64 (run natively on this x86-64 host),
//! ELF AArch64, Mach-O arm64, COFF arm64 (Windows on Arm) and ELF RISC-V 64
//! (run in the emulator over rivet's own arena) — must give the same results
//! as the same code computed on the host.

use rivet::llvm::{Module, TargetMachine, TargetOptions};
use rivet::ExecutionEngine;

/// Globals read and written, a 16-case switch (a jump table), constants from
/// a constant pool, a libm call, and a call to a function far from the code.
const PROGRAM: &str = r#"
@counter = global i64 0
@weights = global [4 x double] [double 1.5, double -2.25, double 3.125, double 0.5]
declare double @sin(double)
declare i64 @far_add(i64)

define i64 @bump(i64 %by) {
  %c = load i64, ptr @counter
  %n = add i64 %c, %by
  store i64 %n, ptr @counter
  ret i64 %n
}

define i64 @classify(i64 %k) {
entry:
  switch i64 %k, label %other [
    i64 0, label %c0  i64 1, label %c1  i64 2, label %c2  i64 3, label %c3
    i64 4, label %c4  i64 5, label %c5  i64 6, label %c6  i64 7, label %c7
    i64 8, label %c8  i64 9, label %c9  i64 10, label %c10  i64 11, label %c11
    i64 12, label %c12  i64 13, label %c13  i64 14, label %c14  i64 15, label %c15
  ]
c0: ret i64 101
c1: ret i64 203
c2: ret i64 307
c3: ret i64 401
c4: ret i64 509
c5: ret i64 601
c6: ret i64 701
c7: ret i64 809
c8: ret i64 907
c9: ret i64 1009
c10: ret i64 1103
c11: ret i64 1201
c12: ret i64 1301
c13: ret i64 1409
c14: ret i64 1511
c15: ret i64 1601
other: ret i64 -1
}

define double @poly(double %x) {
  %a = fmul double %x, 0x400921FB54442D18
  %b = fadd double %a, 1.234567e-3
  %c = fmul double %b, 2.718281828459045
  %p = getelementptr [4 x double], ptr @weights, i64 0, i64 2
  %w = load double, ptr %p
  %d = fadd double %c, %w
  ret double %d
}

define double @trig(double %x) {
  %s = call double @sin(double %x)
  %r = fmul double %s, 2.0
  ret double %r
}

define i64 @call_far(i64 %x) {
  %r = call i64 @far_add(i64 %x)
  %s = add i64 %r, 1
  ret i64 %s
}
"#;

/// Calls and data across two modules.
const PROVIDER: &str = r#"
@shared = global i64 7
define i64 @provide(i64 %x) {
  %s = load i64, ptr @shared
  %r = mul i64 %x, %s
  ret i64 %r
}
"#;

const USER: &str = r#"
@shared = external global i64
declare i64 @provide(i64)
define i64 @use_provider(i64 %x) {
  %a = call i64 @provide(i64 %x)
  %s = load i64, ptr @shared
  %n = add i64 %s, 1
  store i64 %n, ptr @shared
  %r = add i64 %a, %s
  ret i64 %r
}
"#;

const CLASSIFY: [i64; 16] = [
    101, 203, 307, 401, 509, 601, 701, 809, 907, 1009, 1103, 1201, 1301, 1409, 1511, 1601,
];

/// What the far function does: x + 100.
const FAR_ADD: i64 = 100;

fn poly_on_host(x: f64) -> f64 {
    (x * std::f64::consts::PI + 1.234567e-3) * std::f64::consts::E + 3.125
}

/// How a test calls the linked code of one target.
trait Runner {
    fn int(&mut self, name: &str, arg: i64) -> i64;
    fn float(&mut self, name: &str, arg: f64) -> f64;
}

/// Runs the same checks on every target.
fn check(target: &str, run: &mut dyn Runner) {
    assert_eq!(run.int("bump", 5), 5, "{target}");
    assert_eq!(run.int("bump", 37), 42, "{target}: global written and read");
    for (k, want) in CLASSIFY.iter().enumerate() {
        assert_eq!(run.int("classify", k as i64), *want, "{target}: case {k}");
    }
    assert_eq!(run.int("classify", 16), -1, "{target}");
    for x in [0.0, 0.75, -1.5] {
        assert_eq!(run.float("poly", x), poly_on_host(x), "{target}: constants");
        assert_eq!(run.float("trig", x), x.sin() * 2.0, "{target}: libm sin");
    }
    assert_eq!(
        run.int("call_far", 1),
        1 + FAR_ADD + 1,
        "{target}: far call"
    );
    assert_eq!(
        run.int("use_provider", 3),
        3 * 7 + 7,
        "{target}: across modules"
    );
    assert_eq!(
        run.int("use_provider", 2),
        2 * 8 + 8,
        "{target}: shared data"
    );
}

/// Compiles the three modules for `triple` and adds them as objects.
fn link(engine: &ExecutionEngine, triple: &str) {
    let tm = TargetMachine::new(&TargetOptions {
        triple: Some(triple.into()),
        ..TargetOptions::default()
    })
    .unwrap();
    for (i, ir) in [PROGRAM, PROVIDER, USER].iter().enumerate() {
        let mut m = Module::parse_ir(ir, &format!("{triple}-{i}")).unwrap();
        let bytes = tm.emit_object(&mut m).unwrap();
        engine
            .add_object_bytes(bytes, &format!("{triple}-{i}.o"))
            .unwrap();
    }
    engine.finalize_object().unwrap();
}

mod native {
    use super::*;

    extern "C" fn far_add(x: i64) -> i64 {
        x + FAR_ADD
    }
    extern "win64" fn far_add_win64(x: i64) -> i64 {
        x + FAR_ADD
    }
    extern "win64" fn sin_win64(x: f64) -> f64 {
        // SAFETY: libm's sin, through the C ABI.
        unsafe { libm_sin(x) }
    }
    extern "C" {
        #[link_name = "sin"]
        fn libm_sin(x: f64) -> f64;
    }

    struct SysV(ExecutionEngine);
    impl Runner for SysV {
        fn int(&mut self, name: &str, arg: i64) -> i64 {
            let a = self.0.get_function_address(name).unwrap();
            // SAFETY: a finalized `i64 (i64)` function, System V convention.
            let f: extern "C" fn(i64) -> i64 = unsafe { std::mem::transmute(a as usize) };
            f(arg)
        }
        fn float(&mut self, name: &str, arg: f64) -> f64 {
            let a = self.0.get_function_address(name).unwrap();
            // SAFETY: a finalized `double (double)` function.
            let f: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(a as usize) };
            f(arg)
        }
    }

    struct Win64(ExecutionEngine);
    impl Runner for Win64 {
        fn int(&mut self, name: &str, arg: i64) -> i64 {
            let a = self.0.get_function_address(name).unwrap();
            // SAFETY: a finalized `i64 (i64)` function, Windows x64 convention.
            let f: extern "win64" fn(i64) -> i64 = unsafe { std::mem::transmute(a as usize) };
            f(arg)
        }
        fn float(&mut self, name: &str, arg: f64) -> f64 {
            let a = self.0.get_function_address(name).unwrap();
            // SAFETY: a finalized `double (double)` function, Windows x64.
            let f: extern "win64" fn(f64) -> f64 = unsafe { std::mem::transmute(a as usize) };
            f(arg)
        }
    }

    #[test]
    fn elf_x86_64() {
        for lmm in [true, false] {
            let engine = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
            engine.add_global_mapping("far_add", far_add as *const () as u64);
            link(&engine, "x86_64-unknown-linux-gnu");
            check(&format!("ELF x86-64 lmm={lmm}"), &mut SysV(engine));
        }
    }

    #[test]
    fn macho_x86_64() {
        for lmm in [true, false] {
            let engine = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
            engine.add_global_mapping("far_add", far_add as *const () as u64);
            link(&engine, "x86_64-apple-macosx10.15");
            check(&format!("Mach-O x86-64 lmm={lmm}"), &mut SysV(engine));
        }
    }

    #[test]
    fn coff_x86_64() {
        for lmm in [true, false] {
            let engine = ExecutionEngine::with_lmm(Some(lmm)).unwrap();
            // Host functions called from Windows-convention code go through
            // Rust's own win64 wrappers.
            engine.add_global_mapping("far_add", far_add_win64 as *const () as u64);
            engine.add_symbol("sin", sin_win64 as *const () as u64);
            link(&engine, "x86_64-pc-windows-msvc");
            check(&format!("COFF x86-64 lmm={lmm}"), &mut Win64(engine));
        }
    }
}

#[cfg(feature = "emulator")]
mod emulated {
    use super::*;
    use rivet::emulator::{Emulator, HostReturn, Isa, Perms};

    /// The arena mapped into an emulator. Field order: the emulator goes
    /// before the memory it maps.
    struct Emulated {
        emu: Emulator,
        engine: ExecutionEngine,
        far_page: u64,
    }

    impl Runner for Emulated {
        fn int(&mut self, name: &str, arg: i64) -> i64 {
            let a = self.engine.get_function_address(name).unwrap();
            let (x0, _) = self.emu.call(a, &[arg as u64], &[]).unwrap();
            x0 as i64
        }
        fn float(&mut self, name: &str, arg: f64) -> f64 {
            let a = self.engine.get_function_address(name).unwrap();
            self.emu.call(a, &[], &[arg]).unwrap().1
        }
    }

    impl Drop for Emulated {
        fn drop(&mut self) {
            // SAFETY: the page mapped in `run`; the emulator mapping it is
            // dropped with `self` and nothing calls into it any more.
            unsafe { libc::munmap(self.far_page as *mut libc::c_void, 4096) };
        }
    }

    fn run(triple: &str, isa: Isa) -> Emulated {
        // far_add in code of our own, far from the arena (the arena is in
        // the low 2 GiB, this page wherever mmap puts it).
        let code: [u32; 2] = match isa {
            Isa::Aarch64 => [
                0x9101_9000, // add x0, x0, #100
                0xd65f_03c0, // ret
            ],
            Isa::Riscv64 => [
                0x0645_0513, // addi a0, a0, 100
                0x0000_8067, // ret
            ],
        };
        // SAFETY: a fresh anonymous page, written then made read-only.
        let page = unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            std::ptr::copy_nonoverlapping(code.as_ptr(), p.cast::<u32>(), code.len());
            assert_eq!(libc::mprotect(p, 4096, libc::PROT_READ), 0);
            p as u64
        };
        let mut emu = Emulator::with_isa(isa).unwrap();
        emu.bridge("sin", Box::new(|args| HostReturn::Float(args.d[0].sin())))
            .unwrap();
        // SAFETY: the page stays mapped until `Emulated` is dropped.
        unsafe { emu.map_host(page, 4096, Perms::RX).unwrap() };
        let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
        engine.keep_link_maps(true);
        emu.add_global_mappings(&engine);
        engine.add_global_mapping("far_add", page);
        link(&engine, triple);
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
        let far_call = engine.get_function_address("call_far").unwrap();
        assert!(
            page.abs_diff(far_call) > 4 << 30,
            "the far call needs a veneer or stub"
        );
        assert!(
            engine
                .link_maps()
                .iter()
                .any(|(_, map)| map.stubs.iter().any(|s| s.0.contains("far_add"))),
            "a stub for far_add"
        );
        // SAFETY: the engine's finalized arena, kept alive in `Emulated`.
        unsafe { emu.map_host_range(lo, hi - lo) }.unwrap();
        Emulated {
            emu,
            engine,
            far_page: page,
        }
    }

    #[test]
    fn elf_aarch64() {
        check(
            "ELF AArch64",
            &mut run("aarch64-unknown-linux-gnu", Isa::Aarch64),
        );
    }

    #[test]
    fn macho_arm64() {
        check(
            "Mach-O arm64",
            &mut run("arm64-apple-macosx11.0", Isa::Aarch64),
        );
    }

    #[test]
    fn coff_arm64() {
        // Windows arm64 calls `sin` and `far_add` with the AAPCS64 registers;
        // `far_add` is out of `bl`'s reach, so the call goes through a veneer.
        check(
            "COFF arm64",
            &mut run("aarch64-pc-windows-msvc", Isa::Aarch64),
        );
    }

    #[test]
    fn elf_riscv64() {
        check(
            "ELF RISC-V 64",
            &mut run("riscv64-unknown-linux-gnu", Isa::Riscv64),
        );
    }
}
