//! Fixups that cannot be made, stubs, and the GOT.

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel};
use rivet::memory::{SectionsConfig, SectionsManager};
use rivet::{Error, ExecutionEngine};

extern "C" fn host_forty_two() -> i64 {
    42
}

/// An engine for objects only (no target machine).
fn object_engine(lmm: bool) -> ExecutionEngine {
    ExecutionEngine::with_lmm(Some(lmm)).unwrap()
}

#[test]
fn out_of_range_absolute_fixup_is_a_typed_error() {
    // `movl $far, %eax` is R_X86_64_32: a zero-extended 32-bit address.
    let asm = ".text\n.globl take_far\ntake_far:\n  movl $far, %eax\n  ret\n";
    let obj = machine(RelocModel::Pic, CodeModel::Small)
        .assemble(asm)
        .unwrap();
    for lmm in BOTH {
        let engine = object_engine(lmm);
        engine.add_global_mapping("far", 0x1_2345_6789);
        let id = engine.add_object_bytes(obj.clone(), "crafted.o").unwrap();
        let err = engine.finalize_object().unwrap_err();
        match &err {
            Error::RelocationOverflow {
                site,
                value,
                min,
                max,
            } => {
                assert_eq!(site.object, "crafted.o");
                assert_eq!(site.section, ".text");
                assert_eq!(site.symbol, "far");
                assert_eq!(site.kind, "ABS32");
                assert_eq!(
                    site.offset, 1,
                    "the immediate of `movl` follows its opcode byte"
                );
                assert_eq!(*value, 0x1_2345_6789);
                assert_eq!((*min, *max), (0, 0xFFFF_FFFF));
            }
            other => panic!("expected RelocationOverflow, got {other}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("far") && message.contains("crafted.o"),
            "{message}"
        );
        assert_eq!(
            engine.memory_stats().allocations,
            0,
            "nothing stays allocated"
        );

        // The engine stays usable: the same object links once `far` fits.
        engine.remove_module(id).unwrap();
        engine.add_global_mapping("far", 0x1234);
        engine.add_object_bytes(obj.clone(), "crafted.o").unwrap();
        let f = engine.get_function_address("take_far").unwrap();
        // SAFETY: `take_far` returns the 32-bit immediate in eax.
        assert_eq!(unsafe { call0::<u32>(f) }, 0x1234);
    }
}

#[test]
fn far_data_forced_by_the_section_manager_is_an_error_not_a_truncation() {
    let ir = r#"
        @far_global = internal global i32 5
        define ptr @keep() { ret ptr @far_global }
        define i32 @read_far() nounwind { %v = load i32, ptr @far_global
          ret i32 %v }
    "#;
    let mut engine = ExecutionEngine::new(Box::new(SectionsManager::new(SectionsConfig {
        data_distance: 8 << 30,
    })));
    engine.set_target_machine(machine(RelocModel::Pic, CodeModel::Small));
    engine.add_module(module(ir, "far"));
    let err = engine.finalize_object().unwrap_err();
    match &err {
        Error::RelocationOverflow { site, value, .. } => {
            assert_eq!(site.kind, "PC32");
            // An internal global is reached through its section's symbol.
            assert_eq!(site.symbol, ".data");
            assert_eq!(site.section, ".text");
            assert!(value.unsigned_abs() >= 8 << 30, "{value:#x}");
        }
        other => panic!("expected RelocationOverflow, got {other}"),
    }
    // The large code model reaches any distance, in the same manager.
    let mut engine = ExecutionEngine::new(Box::new(SectionsManager::new(SectionsConfig {
        data_distance: 8 << 30,
    })));
    engine.set_target_machine(machine(RelocModel::Pic, CodeModel::Large));
    engine.add_module(module(ir, "far"));
    let f = engine.get_function_address("read_far").unwrap();
    let g = engine.get_global_value_address("read_far").unwrap();
    assert_eq!(f, g);
    // SAFETY: finalized `ptr ()`.
    let data = unsafe { call0::<u64>(engine.get_function_address("keep").unwrap()) };
    assert!(data.abs_diff(f) >= 8 << 30, "data {data:#x} text {f:#x}");
    // SAFETY: finalized `i32 ()`.
    assert_eq!(unsafe { call0::<i32>(f) }, 5);
}

#[test]
fn calls_out_of_reach_go_through_a_stub() {
    let ir = r#"
        declare i64 @host_fn()
        define i64 @call_host() { %r = call i64 @host_fn()
          %s = add i64 %r, 1
          ret i64 %s }
    "#;
    let engine = engine(&[ir], true);
    engine.keep_link_maps(true);
    let host = host_forty_two as *const () as u64;
    engine.add_global_mapping("host_fn", host);
    let f = engine.get_function_address("call_host").unwrap();
    // SAFETY: finalized `i64 ()`.
    assert_eq!(unsafe { call0::<i64>(f) }, 43);
    let maps = engine.link_maps();
    let (_, map) = &maps[0];
    let stub = map.stubs.iter().find(|(t, _)| t == "host_fn");
    let far = host.abs_diff(f) > i32::MAX as u64;
    assert!(
        stub.is_some(),
        "a stub is reserved for an external call: {map:?}"
    );
    // The stub jumps through host_fn's GOT slot, which holds host_fn: the
    // one place the module keeps its address.
    let (_, stub_addr) = stub.unwrap();
    let (_, slot, value) = map
        .got
        .iter()
        .find(|(t, _, _)| t == "host_fn")
        .expect("the stub's GOT slot");
    assert_eq!(*value, host);
    // SAFETY: the stub is finalized code and the slot a finalized GOT
    // entry, both mapped readable; read their bytes.
    let (bytes, held) = unsafe {
        (
            std::slice::from_raw_parts(*stub_addr as *const u8, 6),
            std::ptr::read_unaligned(*slot as *const u64),
        )
    };
    assert_eq!(&bytes[..2], &[0xFF, 0x25], "jmp *disp32(%rip)");
    let disp = i32::from_le_bytes(bytes[2..6].try_into().unwrap());
    assert_eq!(
        stub_addr.wrapping_add(6).wrapping_add_signed(disp.into()),
        *slot
    );
    assert_eq!(held, host);
    let _ = far;
}

#[test]
fn one_got_slot_per_target() {
    let ir = r#"
        @ext = external global i64
        define i64 @r1() { %v = load i64, ptr @ext
          ret i64 %v }
        define i64 @r2() { %v = load i64, ptr @ext
          %w = add i64 %v, 1
          ret i64 %w }
        define void @w1(i64 %x) { store i64 %x, ptr @ext
          ret void }
    "#;
    static mut EXT: i64 = 9;
    let engine = engine(&[ir], true);
    engine.keep_link_maps(true);
    engine.add_global_mapping("ext", &raw mut EXT as u64);
    let r2 = engine.get_function_address("r2").unwrap();
    let w1 = engine.get_function_address("w1").unwrap();
    // SAFETY: finalized functions of the signatures used; EXT is only touched
    // through JIT code in this test.
    unsafe {
        assert_eq!(call0::<i64>(r2), 10);
        call1::<i64, ()>(w1, 41);
        assert_eq!(call0::<i64>(r2), 42);
    }
    let maps = engine.link_maps();
    let got: Vec<_> = maps[0]
        .1
        .got
        .iter()
        .filter(|(t, _, _)| t == "ext")
        .collect();
    assert_eq!(
        got.len(),
        1,
        "three GOTPCREL uses share one slot: {:?}",
        maps[0].1.got
    );
    assert_eq!(
        got[0].2, &raw mut EXT as u64,
        "the slot holds the target's address"
    );
}

#[test]
fn absolute_32_bit_data_pointing_above_4_gib_is_an_error() {
    // A static object storing a 32-bit address of a global: the per-section
    // manager puts data wherever mmap does (far above 4 GiB here), so the
    // R_X86_64_32 must fail with an error, not be truncated.
    let ir = r#"
        @g = global i32 3
        @p = global i32 ptrtoint (ptr @g to i32)
    "#;
    let obj = {
        let mut m = module(ir, "static_small");
        machine(RelocModel::Static, CodeModel::Small)
            .emit_object(&mut m)
            .unwrap()
    };
    let engine = ExecutionEngine::with_lmm(Some(false)).unwrap();
    engine
        .add_object_bytes(obj.clone(), "static_small.o")
        .unwrap();
    match engine.finalize_object() {
        Err(Error::RelocationOverflow { site, value, .. }) => {
            assert_eq!(site.kind, "ABS32");
            assert_eq!(site.symbol, "g");
            assert_eq!(site.section, ".data");
            assert!(value > 0xFFFF_FFFF);
        }
        other => panic!("expected RelocationOverflow, got {other:?}"),
    }
    // The arena keeps memory in the low 2 GiB on x86-64, where it fits.
    let engine = ExecutionEngine::with_lmm(Some(true)).unwrap();
    engine.add_object_bytes(obj, "static_small.o").unwrap();
    let g = engine.get_global_value_address("g").unwrap();
    let p = engine.get_global_value_address("p").unwrap();
    // SAFETY: `p` is an i32 global.
    assert_eq!(unsafe { *(p as *const u32) } as u64, g);
}

/// Every ELF x86-64 relocation type rivet maps, including the ones LLVM's
/// code generator rarely emits, made with `.reloc` in a data table and
/// checked field by field against the psABI formula.
#[test]
fn every_elf_x86_64_relocation_type_patches_the_right_value() {
    let asm = include_str!("../../fixtures/x86_64-every-reloc.s");
    let obj = machine(RelocModel::Pic, CodeModel::Small)
        .assemble(asm)
        .unwrap();
    for lmm in BOTH {
        let engine = object_engine(lmm);
        engine.keep_link_maps(true);
        static EXT: u64 = 0;
        let ext = &EXT as *const u64 as u64;
        engine.add_global_mapping("ext", ext);
        engine.add_global_mapping("low32", 0x7fff_0000);
        engine.add_global_mapping("low16", 0xfffe);
        engine.add_global_mapping("low8", 0x7e);
        engine
            .add_object_bytes(obj.clone(), "every-reloc.o")
            .unwrap();
        let table = engine.get_global_value_address("rel_table").unwrap();
        let func = engine.get_function_address("func").unwrap();
        let sized = engine.get_global_value_address("sized").unwrap();
        assert_eq!(sized, table + 136);
        let maps = engine.link_maps();
        let got = &maps[0].1.got;
        let slot = |name: &str| got.iter().find(|(t, _, _)| t == name).unwrap().1;
        let got_base = got.iter().map(|(_, a, _)| *a).min().unwrap();
        assert_eq!(got.iter().find(|(t, _, _)| t == "ext").unwrap().2, ext);
        // SAFETY: `rel_table` is 16 quadwords of writable data.
        let field = |i: u64| unsafe { *((table + 8 * i) as *const u64) };
        let p = |i: u64| table + 8 * i;
        let near = table + 128;
        let i32_at = |i: u64| field(i) as u32 as i32 as i64;
        assert_eq!(field(0), 0x7fff_0010, "R_X86_64_32");
        assert_eq!(i32_at(1), slot("ext") as i64 - 4 - p(1) as i64, "GOTPCREL");
        assert_eq!(i32_at(2), slot("ext") as i64 - 4 - p(2) as i64, "GOTPCRELX");
        assert_eq!(i32_at(3), got_base as i64 + 3 - p(3) as i64, "GOTPC32");
        assert_eq!(field(4), (func + 5).wrapping_sub(got_base), "PLTOFF64");
        assert_eq!(i32_at(5), (slot("ext") - got_base) as i64, "GOT32");
        assert_eq!(field(6), 25, "SIZE32");
        assert_eq!(field(7), 32, "SIZE64");
        assert_eq!(field(8), 0xffff, "R_X86_64_16");
        assert_eq!(field(9), 0x7f, "R_X86_64_8");
        assert_eq!(
            field(10) as u16 as i16 as i64,
            (near + 2 - p(10)) as i64,
            "PC16"
        );
        assert_eq!(field(11) as u8 as i8 as i64, (near - p(11)) as i64, "PC8");
        assert_eq!(field(12), got_base.wrapping_sub(p(12)), "GOTPC64");
        assert_eq!(field(13), slot("ext") - got_base + 2, "GOT64");
        assert_eq!(field(14), slot("func") - got_base, "GOTPLT64");
        assert_eq!(field(15), (func - 8).wrapping_sub(p(15)), "PC64");
        // One slot per target although `ext` is used by four fixups.
        assert_eq!(got.len(), 2, "{got:?}");
    }
}

#[test]
fn import_pointers_and_linker_defined_symbols() {
    // `__imp_x` is a slot holding x's address (COFF's import convention, which
    // rivet provides for any format); `__ImageBase` is the module's lowest
    // address; `_fltused` exists.
    let asm = "
        .text
        .globl via_imp
        via_imp:
          movq __imp_host_value(%rip), %rax
          movq (%rax), %rax
          ret
        .globl image_base
        image_base:
          leaq __ImageBase(%rip), %rax
          ret
        .data
        .globl fltused_ref
        fltused_ref:
          .quad _fltused
    ";
    static HOST_VALUE: u64 = 0xfeed_beef;
    let obj = machine(RelocModel::Pic, CodeModel::Small)
        .assemble(asm)
        .unwrap();
    for lmm in BOTH {
        let engine = object_engine(lmm);
        engine.add_global_mapping("host_value", &HOST_VALUE as *const u64 as u64);
        engine.add_object_bytes(obj.clone(), "imports.o").unwrap();
        let via_imp = engine.get_function_address("via_imp").unwrap();
        let image_base = engine.get_function_address("image_base").unwrap();
        let fltused_ref = engine.get_global_value_address("fltused_ref").unwrap();
        // SAFETY: finalized functions returning u64; fltused_ref is a quadword.
        unsafe {
            assert_eq!(call0::<u64>(via_imp), 0xfeed_beef);
            let base = call0::<u64>(image_base);
            assert!(base <= via_imp && base <= fltused_ref, "{base:#x}");
            assert!(via_imp - base < 1 << 32);
            assert_ne!(*(fltused_ref as *const u64), 0);
        }
    }
}

#[test]
fn got_loads_of_a_modules_own_symbols_become_direct_in_the_arena() {
    // PIC code loads `local` (defined here, but preemptible as far as the
    // compiler knows) and `ext` through the GOT: `movq x@GOTPCREL(%rip)`,
    // R_X86_64_REX_GOTPCRELX.
    let ir = r#"
        @local = global i64 41
        @ext = external global i64
        define ptr @addr_local() { ret ptr @local }
        define i64 @get_local() { %v = load i64, ptr @local
          %r = add i64 %v, 1
          ret i64 %r }
        define i64 @get_ext() { %v = load i64, ptr @ext
          ret i64 %v }
    "#;
    static EXT: i64 = 7;
    for lmm in [true, false] {
        let engine = engine(&[ir], lmm);
        engine.keep_link_maps(true);
        engine.add_global_mapping("ext", &raw const EXT as u64);
        let addr_local = engine.get_function_address("addr_local").unwrap();
        let local = engine.get_global_value_address("local").unwrap();
        // SAFETY: finalized functions of the signatures used.
        unsafe {
            assert_eq!(call0::<u64>(addr_local), local, "lmm={lmm}");
            assert_eq!(
                call0::<i64>(engine.get_function_address("get_local").unwrap()),
                42
            );
            assert_eq!(
                call0::<i64>(engine.get_function_address("get_ext").unwrap()),
                7
            );
        }
        // SAFETY: the function's first three bytes are mapped readable
        // (executable code of a live module).
        let opcode = unsafe { std::slice::from_raw_parts(addr_local as *const u8, 3) };
        let got: Vec<String> = engine.link_maps()[0]
            .1
            .got
            .iter()
            .map(|(t, _, _)| t.clone())
            .collect();
        // Either way the mov of the slot became a lea of `local`: the
        // final addresses are in reach.
        assert_eq!(opcode, [0x48, 0x8D, 0x05], "lea local(%rip), %rax");
        if lmm {
            // The arena keeps a module within ±2 GiB of itself, so the
            // layout knew it before the addresses were: only `ext` has a slot.
            assert_eq!(got, ["ext"]);
        } else {
            // The per-section manager promises no such thing: the slot was
            // planned, and stays unused once the addresses are known.
            assert!(got.contains(&"local".to_string()), "{got:?}");
        }
    }
}

/// `mov $value, %eax; ret` in a page of its own that the kernel places
/// where it likes (on x86-64 Linux, near the libraries at 0x7f..., far
/// beyond ±2 GiB of the arena, which stays below 2 GiB); unmapped on drop.
struct HostCode {
    addr: *mut libc::c_void,
}

impl HostCode {
    fn returning(value: u32) -> HostCode {
        // SAFETY: an anonymous private mapping at an address of the
        // kernel's choosing touches no existing memory.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(addr, libc::MAP_FAILED, "mmap");
        let mut code = [0xB8, 0, 0, 0, 0, 0xC3];
        code[1..5].copy_from_slice(&value.to_le_bytes());
        // SAFETY: the page was just mapped writable, 4096 bytes long; it
        // becomes read + execute (never both writable and executable).
        unsafe {
            std::ptr::copy_nonoverlapping(code.as_ptr(), addr.cast::<u8>(), code.len());
            assert_eq!(
                libc::mprotect(addr, 4096, libc::PROT_READ | libc::PROT_EXEC),
                0
            );
        }
        HostCode { addr }
    }

    fn address(&self) -> u64 {
        self.addr as u64
    }
}

impl Drop for HostCode {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `returning`, which no engine still
        // calls into once the test drops it (engines are dropped first).
        unsafe { libc::munmap(self.addr, 4096) };
    }
}

/// Reads `N` bytes of finalized code or GOT at `addr`.
fn bytes_at<const N: usize>(addr: u64) -> [u8; N] {
    // SAFETY: callers pass addresses of finalized, readable code or GOT
    // slots of a live engine.
    unsafe { std::ptr::read_unaligned(addr as *const [u8; N]) }
}

/// Two modules linked together: `caller.o` reaches `callee.o`'s function
/// and data through GOTPCRELX (`call *f@GOTPCREL(%rip)`, `jmp *...`,
/// `movq x@GOTPCREL(%rip)`), which the linker relaxes into direct
/// references once the addresses are final and in reach; and it calls a
/// host function far away through a stub, which jumps through the host
/// function's GOT slot. Executed in both memory managers.
#[test]
fn calls_through_stubs_and_relaxed_got_accesses_execute() {
    const CALLER: &str = "
        .text
        .globl call_via_got
    call_via_got:
        pushq %rbx
        call *callee_fn@GOTPCREL(%rip)
        addq $1, %rax
        popq %rbx
        retq
        .globl jump_via_got
    jump_via_got:
        jmp *callee_fn@GOTPCREL(%rip)
        .globl load_via_got
    load_via_got:
        movq callee_data@GOTPCREL(%rip), %rax
        movq (%rax), %rax
        retq
        .globl call_far
    call_far:
        pushq %rbx
        call far_fn@PLT
        addq $2, %rax
        popq %rbx
        retq
        .globl tail_far
    tail_far:
        jmp far_fn@PLT
    ";
    const CALLEE: &str = "
        .text
        .globl callee_fn
    callee_fn:
        movq $41, %rax
        retq
        .data
        .p2align 3
        .globl callee_data
    callee_data:
        .quad 0x1234
    ";
    let tm = machine(RelocModel::Pic, CodeModel::Small);
    let caller = tm.assemble(CALLER).unwrap();
    let callee = tm.assemble(CALLEE).unwrap();
    let far = HostCode::returning(7);
    for lmm in BOTH {
        let engine = object_engine(lmm);
        engine.keep_link_maps(true);
        engine.add_global_mapping("far_fn", far.address());
        engine.add_object_bytes(caller.clone(), "caller.o").unwrap();
        engine.add_object_bytes(callee.clone(), "callee.o").unwrap();
        engine.finalize_object().unwrap();
        let addr = |name: &str| engine.get_function_address(name).unwrap();
        let callee_fn = addr("callee_fn");
        let callee_data = engine.get_global_value_address("callee_data").unwrap();
        // SAFETY: finalized functions of type `i64 ()`.
        unsafe {
            assert_eq!(call0::<i64>(addr("call_via_got")), 42, "lmm={lmm}");
            assert_eq!(call0::<i64>(addr("jump_via_got")), 41, "lmm={lmm}");
            assert_eq!(call0::<i64>(addr("load_via_got")), 0x1234, "lmm={lmm}");
            assert_eq!(call0::<i64>(addr("call_far")), 9, "lmm={lmm}");
            assert_eq!(call0::<i64>(addr("tail_far")), 7, "lmm={lmm}");
        }

        // The GOT accesses, where the callee is in reach (always in the
        // arena), were rewritten: `addr32 call`, `jmp; nop`, `leaq`.
        let in_reach = |site: u64, target: u64| target.abs_diff(site) < 1 << 31;
        let call_site = addr("call_via_got") + 1;
        if lmm || in_reach(call_site, callee_fn) {
            assert_eq!(bytes_at::<2>(call_site), [0x67, 0xE8], "lmm={lmm}");
            let rel = i32::from_le_bytes(bytes_at::<4>(call_site + 2));
            assert_eq!((call_site + 6).wrapping_add_signed(rel.into()), callee_fn);
        }
        let jump_site = addr("jump_via_got");
        if lmm || in_reach(jump_site, callee_fn) {
            let bytes = bytes_at::<6>(jump_site);
            assert_eq!((bytes[0], bytes[5]), (0xE9, 0x90), "lmm={lmm}");
            let rel = i32::from_le_bytes(bytes[1..5].try_into().unwrap());
            assert_eq!((jump_site + 5).wrapping_add_signed(rel.into()), callee_fn);
        }
        let load_site = addr("load_via_got");
        if lmm || in_reach(load_site, callee_data) {
            assert_eq!(bytes_at::<3>(load_site), [0x48, 0x8D, 0x05], "lmm={lmm}");
        }

        // far_fn is out of reach of the arena: the call lands on the stub,
        // `jmp *slot(%rip)`, and the slot holds far_fn.
        let maps = engine.link_maps();
        let map = &maps
            .iter()
            .find(|(_, m)| m.stubs.iter().any(|(n, _)| n == "far_fn"))
            .expect("caller.o's map")
            .1;
        let (_, stub) = map.stubs.iter().find(|(n, _)| n == "far_fn").unwrap();
        let (_, slot, value) = map.got.iter().find(|(n, _, _)| n == "far_fn").unwrap();
        assert_eq!(*value, far.address());
        assert_eq!(u64::from_le_bytes(bytes_at::<8>(*slot)), far.address());
        assert_eq!(bytes_at::<2>(*stub), [0xFF, 0x25]);
        let rel = i32::from_le_bytes(bytes_at::<4>(stub + 2));
        assert_eq!((stub + 6).wrapping_add_signed(rel.into()), *slot);
        let call_far_site = addr("call_far") + 1;
        if lmm {
            assert!(
                !in_reach(call_far_site, far.address()),
                "{:#x}",
                far.address()
            );
        }
        if !in_reach(call_far_site, far.address()) {
            let rel = i32::from_le_bytes(bytes_at::<4>(call_far_site + 1));
            assert_eq!((call_far_site + 5).wrapping_add_signed(rel.into()), *stub);
        }
        drop(engine);
    }
}
