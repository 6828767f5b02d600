use super::*;

#[test]
fn maps_lines_parse() {
    assert_eq!(
        parse_maps_line("7f00-7f10 r-xp 00000000 00:00 0   /x"),
        Some((0x7f00, 0x7f10, Perms::RX))
    );
    assert_eq!(
        parse_maps_line("1000-2000 rw-p 0 0:0 0"),
        Some((0x1000, 0x2000, Perms::RW))
    );
    assert_eq!(
        parse_maps_line("1000-2000 ---p 0 0:0 0").map(|(_, _, p)| p.read),
        Some(false)
    );
    assert_eq!(parse_maps_line("garbage"), None);
}

/// Hand-assembled code in an emulator-owned host page: the emulator runs
/// host memory at its host address, and a bridged call returns.
#[test]
fn runs_host_memory_and_bridges() {
    let mut emu = Aarch64Emulator::new().unwrap();
    let twice = emu
        .bridge("twice", Box::new(|a| HostReturn::Int(a.x[0] * 2 + a.x[1])))
        .unwrap();
    assert_eq!(emu.trap_address("twice"), Some(twice));
    let page = HostPages::new(PAGE as usize, "test page").unwrap();
    // f(a, b) = twice(a + 1, b) + 7, calling the bridge through x16:
    let code: [u32; 9] = [
        0xa9bf_7bfd,                                          // stp x29, x30, [sp, #-16]!
        0x9100_0400,                                          // add x0, x0, #1
        0xd280_0010 | ((twice & 0xffff) << 5) as u32,         // movz x16, #lo
        0xf2a0_0010 | (((twice >> 16) & 0xffff) << 5) as u32, // movk x16, #.., lsl 16
        0xf2c0_0010 | (((twice >> 32) & 0xffff) << 5) as u32, // movk x16, #.., lsl 32
        0xf2e0_0010 | (((twice >> 48) & 0xffff) << 5) as u32, // movk x16, #.., lsl 48
        0xd63f_0200,                                          // blr x16
        0x9100_1c00,                                          // add x0, x0, #7
        0xa8c1_7bfd,                                          // ldp x29, x30, [sp], #16
    ];
    // SAFETY: `page` is a live RW mapping of PAGE bytes.
    unsafe {
        let words = page.addr() as *mut u32;
        for (i, w) in code.iter().chain(&[RET]).enumerate() {
            words.add(i).write(*w);
        }
    }
    // SAFETY: `page` is a readable host page that stays mapped until
    // after `emu` is dropped (both are dropped explicitly, in that order).
    unsafe { emu.map_host(page.addr(), PAGE, Perms::RX).unwrap() };
    let (x0, _) = emu.call(page.addr(), &[20, 3], &[]).unwrap();
    assert_eq!(x0, (20 + 1) * 2 + 3 + 7);
    // A second overlapping mapping is refused.
    // SAFETY: nothing is mapped; the call fails before unicorn sees it.
    let again = unsafe { emu.map_host(page.addr() + 8, 4, Perms::R) };
    assert!(matches!(again, Err(Error::Emulator(_))), "{again:?}");
    drop(emu);
    drop(page);
}

/// The same on RISC-V 64: arguments in a0/a1 and fa0, the bridge
/// reached through a literal, the result back in a0.
#[test]
fn riscv64_runs_host_memory_and_bridges() {
    let mut emu = Emulator::riscv64().unwrap();
    assert_eq!(emu.isa(), Isa::Riscv64);
    let twice = emu
        .bridge(
            "twice",
            Box::new(|a| HostReturn::Int(a.x[0] * 2 + a.x[1] + a.d[0] as u64)),
        )
        .unwrap();
    let page = HostPages::new(PAGE as usize, "test page").unwrap();
    // f(a, b, x) = twice(a + 1, b, x + x) + 7:
    let code: [u32; 12] = [
        0xff01_0113, // addi sp, sp, -16
        0x0011_3423, // sd ra, 8(sp)
        0x0015_0513, // addi a0, a0, 1
        0x02a5_7553, // fadd.d fa0, fa0, fa0
        0x0000_0297, // auipc t0, 0
        0x0202_b283, // ld t0, 32(t0)
        0x0002_80e7, // jalr t0
        0x0075_0513, // addi a0, a0, 7
        0x0081_3083, // ld ra, 8(sp)
        0x0101_0113, // addi sp, sp, 16
        RISCV_RET,   // ret
        0x0000_0013, // nop
    ];
    // SAFETY: `page` is a live RW mapping of PAGE bytes; the literal
    // at byte 48 is 8-aligned.
    unsafe {
        let words = page.addr() as *mut u32;
        for (i, w) in code.iter().enumerate() {
            words.add(i).write(*w);
        }
        (page.addr() as *mut u64).add(6).write(twice);
    }
    // SAFETY: as in `runs_host_memory_and_bridges`.
    unsafe { emu.map_host(page.addr(), PAGE, Perms::RX).unwrap() };
    let (a0, _) = emu.call(page.addr(), &[20, 3], &[1.5]).unwrap();
    assert_eq!(a0, (20 + 1) * 2 + 3 + 3 + 7);
    let err = emu.call(0x1000, &[], &[]).unwrap_err();
    assert!(err.to_string().contains("0x1000"), "{err}");
    drop(emu);
    drop(page);
}

#[test]
fn faults_and_panics_are_errors() {
    let mut emu = Aarch64Emulator::new().unwrap();
    // Fetching from an unmapped address.
    let err = emu.call(0x1000, &[], &[]).unwrap_err();
    assert!(err.to_string().contains("0x1000"), "{err}");
    // A bridge that panics, called directly (its trap address runs `ret`).
    let boom = emu
        .bridge("boom", Box::new(|_| panic!("host function failed")))
        .unwrap();
    let err = emu.call(boom, &[], &[]).unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    // Too many arguments.
    assert!(emu.call(boom, &[0; 9], &[]).is_err());
}
