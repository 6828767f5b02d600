//! Runs AArch64 and RISC-V 64 code on any host, over the bytes rivet linked
//! (the optional `emulator` feature, which pulls in unicorn; GPL-2.0, so
//! never a default).
//!
//! rivet links AArch64 and RISC-V objects into ordinary host memory: on an
//! x86-64 host the arena is just bytes. An [`Emulator`] ([`Emulator::new`]
//! for AArch64, [`Emulator::riscv64`] for RV64GC) maps that host memory into
//! an emulated CPU *at the same addresses* (unicorn's
//! `mem_map_ptr`), so every address rivet computed (code, GOT slots, stubs,
//! data) is valid inside the emulator unchanged, and writes by the emulated
//! code land in the host's memory.
//!
//! Calls from emulated code to host functions go through a *bridge*: each
//! bridged name gets a trap address on a page the emulator owns; the engine
//! maps the name to that address ([`Aarch64Emulator::add_global_mappings`]),
//! and when emulated code branches there a hook calls the host function with
//! the guest's `x0`-`x7` and `d0`-`d7` (RISC-V: `a0`-`a7` and `fa0`-`fa7`),
//! writes its result to `x0` or `d0` (`a0` or `fa0`), and the `ret` at the
//! trap address returns to the caller.
//!
//! ```no_run
//! # use rivet::emulator::{Aarch64Emulator, HostReturn, Perms};
//! # fn run(engine: &rivet::ExecutionEngine, start: u64, len: u64) -> rivet::Result<()> {
//! let mut emulator = Aarch64Emulator::new()?;
//! emulator.bridge("sin", Box::new(|args| HostReturn::Float(args.d[0].sin())))?;
//! emulator.add_global_mappings(engine); // before the module is linked
//! let f = engine.get_function_address("f")?;
//! // SAFETY: the engine's memory stays mapped while the emulator is used.
//! unsafe { emulator.map_host_range(start, len)? };
//! let (x0, d0) = emulator.call(f, &[1, 2], &[0.5])?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use unicorn_engine::{Arch, Mode, Prot, RegisterARM64, RegisterRISCV, Unicorn};

use crate::memory::HostPages;
use crate::{Error, Result};

/// The guest's argument registers at a bridged call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostArgs {
    /// `x0`-`x7` (RISC-V `a0`-`a7`): integer and pointer arguments, in order.
    pub x: [u64; 8],
    /// `d0`-`d7` (RISC-V `fa0`-`fa7`): floating-point arguments, in order.
    pub d: [f64; 8],
}

/// The instruction set an [`Emulator`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AArch64 (AAPCS64).
    Aarch64,
    /// RISC-V 64, RV64GC with the lp64d convention.
    Riscv64,
}

/// The registers and instructions the emulator uses, per instruction set
/// (unicorn register numbers).
struct IsaInfo {
    arch: Arch,
    mode: Mode,
    name: &'static str,
    /// The instruction every trap address holds: a return to the caller.
    ret: u32,
    int_args: [i32; 8],
    float_args: [i32; 8],
    sp: i32,
    fp: i32,
    /// Where a call's return address goes.
    link: i32,
}

const AARCH64: IsaInfo = IsaInfo {
    arch: Arch::ARM64,
    mode: Mode::LITTLE_ENDIAN,
    name: "AArch64",
    ret: RET,
    int_args: [
        RegisterARM64::X0 as i32,
        RegisterARM64::X1 as i32,
        RegisterARM64::X2 as i32,
        RegisterARM64::X3 as i32,
        RegisterARM64::X4 as i32,
        RegisterARM64::X5 as i32,
        RegisterARM64::X6 as i32,
        RegisterARM64::X7 as i32,
    ],
    float_args: [
        RegisterARM64::D0 as i32,
        RegisterARM64::D1 as i32,
        RegisterARM64::D2 as i32,
        RegisterARM64::D3 as i32,
        RegisterARM64::D4 as i32,
        RegisterARM64::D5 as i32,
        RegisterARM64::D6 as i32,
        RegisterARM64::D7 as i32,
    ],
    sp: RegisterARM64::SP as i32,
    fp: RegisterARM64::X29 as i32,
    link: RegisterARM64::LR as i32,
};

/// `ret` (`jalr x0, 0(ra)`) on RISC-V.
const RISCV_RET: u32 = 0x0000_8067;
/// `mstatus.FS` = dirty: floating-point instructions do not trap.
const MSTATUS_FS: u64 = 0b11 << 13;

const RISCV64: IsaInfo = IsaInfo {
    arch: Arch::RISCV,
    mode: Mode::RISCV64,
    name: "RISC-V 64",
    ret: RISCV_RET,
    int_args: [
        RegisterRISCV::X10 as i32,
        RegisterRISCV::X11 as i32,
        RegisterRISCV::X12 as i32,
        RegisterRISCV::X13 as i32,
        RegisterRISCV::X14 as i32,
        RegisterRISCV::X15 as i32,
        RegisterRISCV::X16 as i32,
        RegisterRISCV::X17 as i32,
    ],
    float_args: [
        RegisterRISCV::F10 as i32,
        RegisterRISCV::F11 as i32,
        RegisterRISCV::F12 as i32,
        RegisterRISCV::F13 as i32,
        RegisterRISCV::F14 as i32,
        RegisterRISCV::F15 as i32,
        RegisterRISCV::F16 as i32,
        RegisterRISCV::F17 as i32,
    ],
    sp: RegisterRISCV::X2 as i32,
    fp: RegisterRISCV::X8 as i32,
    link: RegisterRISCV::X1 as i32,
};

impl Isa {
    fn info(self) -> &'static IsaInfo {
        match self {
            Isa::Aarch64 => &AARCH64,
            Isa::Riscv64 => &RISCV64,
        }
    }
}

/// What a bridged host function returns to the guest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HostReturn {
    /// Nothing: `x0` and `d0` are left as they are.
    Void,
    /// An integer or pointer, in `x0`.
    Int(u64),
    /// A double, in `d0`.
    Float(f64),
}

/// A host function that emulated code can call (see [`Aarch64Emulator::bridge`]).
pub(crate) type HostFn = Box<dyn FnMut(&HostArgs) -> HostReturn>;

/// Guest permissions of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

impl Perms {
    /// Read only.
    pub const R: Perms = Perms {
        read: true,
        write: false,
        exec: false,
    };
    /// Read and write.
    pub const RW: Perms = Perms {
        read: true,
        write: true,
        exec: false,
    };
    /// Read and execute.
    pub const RX: Perms = Perms {
        read: true,
        write: false,
        exec: true,
    };

    fn to_prot(self) -> Prot {
        let mut prot = Prot::NONE;
        if self.read {
            prot |= Prot::READ;
        }
        if self.write {
            prot |= Prot::WRITE;
        }
        if self.exec {
            prot |= Prot::EXEC;
        }
        prot
    }
}

/// The unicorn page: mappings are aligned to it.
const PAGE: u64 = 0x1000;
/// Bytes of the emulated stack.
const STACK_SIZE: u64 = 1 << 20;
/// Bytes of the trap page; one trap address every [`TRAP_STRIDE`] bytes.
const TRAP_PAGE_SIZE: u64 = PAGE;
const TRAP_STRIDE: u64 = 16;
/// `ret`, what every trap address holds.
const RET: u32 = 0xd65f_03c0;
/// CPACR_EL1.FPEN = 0b11: floating point and SIMD do not trap at EL0/EL1.
const CPACR_FPEN: u64 = 0b11 << 20;
/// Longest a call may run before it is reported as stuck (microseconds).
const CALL_TIMEOUT_US: u64 = 60 * 1_000_000;

/// What the hooks share with the emulator.
struct Bridges {
    /// The registers of the emulated instruction set.
    isa: &'static IsaInfo,
    /// Host function by trap address.
    functions: BTreeMap<u64, HostFn>,
    /// A bridged function that panicked, to report after the run.
    failure: Option<String>,
}

/// An emulated AArch64 or RISC-V 64 CPU over host memory (see the module docs).
///
/// Not `Send`: unicorn instances belong to the thread that made them.
pub struct Emulator {
    // Dropped first: closes unicorn before the memory it maps goes away.
    uc: Unicorn<'static, Bridges>,
    /// The stack (`STACK_SIZE` bytes), then the trap page.
    owned: HostPages,
    /// Bridged names and their trap addresses.
    names: BTreeMap<String, u64>,
    /// Guest ranges mapped so far, to refuse overlaps clearly.
    mapped: Vec<(u64, u64)>,
    isa: Isa,
}

/// The AArch64 emulator's earlier name: [`Emulator::new`] makes an AArch64 CPU.
pub type Aarch64Emulator = Emulator;

fn uc_error(what: &str, e: unicorn_engine::uc_error) -> Error {
    Error::Emulator(format!("{what}: {e:?}"))
}

impl Emulator {
    /// A fresh AArch64 CPU with a 1 MiB stack and a trap page, floating
    /// point enabled.
    pub fn new() -> Result<Emulator> {
        Self::with_isa(Isa::Aarch64)
    }

    /// A fresh RISC-V 64 CPU (RV64GC) with a 1 MiB stack and a trap page,
    /// floating point enabled.
    pub fn riscv64() -> Result<Emulator> {
        Self::with_isa(Isa::Riscv64)
    }

    /// The instruction set this emulator runs.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// A fresh CPU of `isa` with a 1 MiB stack and a trap page, floating
    /// point enabled.
    pub fn with_isa(isa: Isa) -> Result<Emulator> {
        let info = isa.info();
        let bridges = Bridges {
            isa: info,
            functions: BTreeMap::new(),
            failure: None,
        };
        let mut uc = Unicorn::new_with_data(info.arch, info.mode, bridges)
            .map_err(|e| uc_error(&format!("cannot create an {} CPU", info.name), e))?;
        let owned = HostPages::new(
            (STACK_SIZE + TRAP_PAGE_SIZE) as usize,
            "mmap (emulator stack and trap page)",
        )?;
        let stack = owned.addr();
        let trap_page = stack + STACK_SIZE;
        // Every trap address holds `ret`, so a bridged call returns to its
        // caller once the hook has run.
        // SAFETY: the trap page is the last TRAP_PAGE_SIZE bytes of `owned`,
        // a live read-write mapping of ours; u32 stores are aligned (page start).
        unsafe {
            let words = trap_page as *mut u32;
            for i in 0..(TRAP_PAGE_SIZE / 4) as usize {
                words.add(i).write(info.ret.to_le());
            }
        }
        // SAFETY: both ranges lie in `owned`, which lives as long as `uc`
        // (dropped after it) and is never unmapped or re-protected meanwhile.
        unsafe {
            uc.mem_map_ptr(
                stack,
                STACK_SIZE,
                Prot::READ | Prot::WRITE,
                stack as *mut std::ffi::c_void,
            )
            .map_err(|e| uc_error("cannot map the stack", e))?;
            uc.mem_map_ptr(
                trap_page,
                TRAP_PAGE_SIZE,
                Prot::READ | Prot::EXEC,
                (trap_page as *mut u8).cast(),
            )
            .map_err(|e| uc_error("cannot map the trap page", e))?;
        }
        uc.add_code_hook(trap_page, trap_page + TRAP_PAGE_SIZE - 1, on_trap)
            .map_err(|e| uc_error("cannot hook the trap page", e))?;
        let (control, enable) = match isa {
            Isa::Aarch64 => (RegisterARM64::CPACR_EL1 as i32, CPACR_FPEN),
            Isa::Riscv64 => (RegisterRISCV::MSTATUS as i32, MSTATUS_FS),
        };
        let value = uc
            .reg_read(control)
            .map_err(|e| uc_error("cannot read the floating-point control register", e))?;
        uc.reg_write(control, value | enable)
            .map_err(|e| uc_error("cannot enable floating point", e))?;
        Ok(Emulator {
            uc,
            owned,
            names: BTreeMap::new(),
            mapped: vec![(stack, stack + STACK_SIZE + TRAP_PAGE_SIZE)],
            isa,
        })
    }

    fn trap_page(&self) -> u64 {
        self.owned.addr() + STACK_SIZE
    }

    /// The address calls return to: the first trap address, which is never
    /// a bridge; a run stops when it reaches it.
    pub(crate) fn return_sentinel(&self) -> u64 {
        self.trap_page()
    }

    /// Maps `len` bytes of host memory at `addr` into the guest at the same
    /// address with `perms`. `addr` and `len` are rounded out to 4 KiB pages.
    ///
    /// # Errors
    ///
    /// [`Error::Emulator`] when the range overlaps one mapped before or
    /// unicorn refuses it.
    ///
    /// # Safety
    ///
    /// The whole page-rounded range must be host memory that stays mapped,
    /// and readable (writable where `perms.write`, as the guest writes it
    /// directly), for as long as this emulator lives: guest accesses go
    /// straight to it, and a host fault there would crash the process.
    pub unsafe fn map_host(&mut self, addr: u64, len: u64, perms: Perms) -> Result<()> {
        let start = addr & !(PAGE - 1);
        let end = addr
            .checked_add(len)
            .and_then(|e| e.checked_add(PAGE - 1))
            .ok_or_else(|| Error::Emulator(format!("range {addr:#x}+{len:#x} wraps")))?
            & !(PAGE - 1);
        if end == start {
            return Ok(());
        }
        if let Some((a, b)) = self
            .mapped
            .iter()
            .find(|(a, b)| start < *b && *a < end)
            .copied()
        {
            return Err(Error::Emulator(format!(
                "{start:#x}..{end:#x} overlaps {a:#x}..{b:#x}, mapped before"
            )));
        }
        // SAFETY: the caller promises the range stays mapped with at least
        // `perms` for the emulator's life.
        unsafe {
            self.uc
                .mem_map_ptr(start, end - start, perms.to_prot(), start as *mut _)
        }
        .map_err(|e| uc_error(&format!("cannot map {start:#x}..{end:#x}"), e))?;
        self.mapped.push((start, end));
        Ok(())
    }

    /// Maps every host mapping that `/proc/self/maps` lists inside
    /// `[start, start + len)` (page-rounded) into the guest at the same
    /// addresses, with the host's own permissions, and returns how many
    /// pieces it mapped. Pages the host cannot access (`---`, such as the
    /// arena's unused reservation) stay unmapped, so a guest access there is
    /// an emulator error rather than a host crash.
    ///
    /// Map after the engine's finalize: permissions are taken as they are now.
    ///
    /// # Errors
    ///
    /// As [`Aarch64Emulator::map_host`]; also when `/proc/self/maps` cannot
    /// be read.
    ///
    /// # Safety
    ///
    /// The host memory in the range must stay mapped with the permissions it
    /// has now for as long as this emulator lives (for rivet's memory: keep
    /// the engine and its modules alive, and do not finalize new code into
    /// the range, while the emulator is used).
    pub unsafe fn map_host_range(&mut self, start: u64, len: u64) -> Result<usize> {
        let lo = start & !(PAGE - 1);
        let hi = start.saturating_add(len).saturating_add(PAGE - 1) & !(PAGE - 1);
        let maps = std::fs::read_to_string("/proc/self/maps")
            .map_err(|e| Error::Emulator(format!("cannot read /proc/self/maps: {e}")))?;
        let mut count = 0;
        for (a, b, perms) in maps.lines().filter_map(parse_maps_line) {
            let (a, b) = (a.max(lo), b.min(hi));
            if a >= b || !perms.read {
                continue;
            }
            // SAFETY: the host maps [a, b) readable (and writable where
            // `perms.write`) now; the caller promises it stays so.
            unsafe { self.map_host(a, b - a, perms)? };
            count += 1;
        }
        Ok(count)
    }

    /// Bridges `name` to the host function `f`: returns the trap address
    /// that stands for it in the guest. A bridge made again for the same
    /// name replaces the function and keeps the address.
    ///
    /// The function gets the guest's `x0`-`x7` and `d0`-`d7`; what it
    /// returns goes to `x0` or `d0` (AAPCS64: integers and pointers in `x`,
    /// doubles in `d`; arguments on the stack are not supported). A function
    /// that panics stops the run, and [`Aarch64Emulator::call`] reports it.
    ///
    /// # Errors
    ///
    /// [`Error::Emulator`] when every trap address of the page is taken.
    pub fn bridge(&mut self, name: &str, f: HostFn) -> Result<u64> {
        let addr = match self.names.get(name) {
            Some(&addr) => addr,
            None => {
                let index = self.names.len() as u64 + 1; // 0 is the return sentinel
                if index >= TRAP_PAGE_SIZE / TRAP_STRIDE {
                    return Err(Error::Emulator(format!(
                        "cannot bridge `{name}`: all {} trap addresses are taken",
                        TRAP_PAGE_SIZE / TRAP_STRIDE - 1
                    )));
                }
                let addr = self.trap_page() + index * TRAP_STRIDE;
                self.names.insert(name.to_string(), addr);
                addr
            }
        };
        self.uc.get_data_mut().functions.insert(addr, f);
        Ok(addr)
    }

    /// The trap address of a bridged name.
    pub fn trap_address(&self, name: &str) -> Option<u64> {
        self.names.get(name).copied()
    }

    /// Every bridged name with its trap address, in name order.
    pub fn bridges(&self) -> Vec<(String, u64)> {
        self.names.iter().map(|(n, &a)| (n.clone(), a)).collect()
    }

    /// Maps every bridged name to its trap address in `engine`
    /// (`add_global_mapping`), so that modules linked from now on call the
    /// host functions through the bridge.
    pub fn add_global_mappings(&self, engine: &crate::ExecutionEngine) {
        for (name, &addr) in &self.names {
            engine.add_global_mapping(name, addr);
        }
    }

    /// Calls the function at `addr` with up to eight integer or pointer
    /// arguments (`x0`-`x7`; RISC-V `a0`-`a7`) and up to eight doubles
    /// (`d0`-`d7`; `fa0`-`fa7`), on a fresh stack, and runs it until it
    /// returns. Gives `(x0, d0)` (`(a0, fa0)`) at the return; the caller
    /// reads the one its signature returns.
    ///
    /// The translation cache is flushed first, so a call always runs the
    /// bytes that are in memory now.
    ///
    /// # Errors
    ///
    /// [`Error::Emulator`] for more than eight arguments of a kind, a fault
    /// in the guest (with the PC and unicorn's reason), a run that does not
    /// return within a minute, or a bridged function that panicked.
    pub fn call(&mut self, addr: u64, int_args: &[u64], float_args: &[f64]) -> Result<(u64, f64)> {
        if int_args.len() > 8 || float_args.len() > 8 {
            return Err(Error::Emulator(format!(
                "{} integer and {} float arguments: at most 8 of each are passed in registers",
                int_args.len(),
                float_args.len()
            )));
        }
        let reg = |what: &'static str| move |e| uc_error(what, e);
        self.uc
            .ctl_flush_tb()
            .map_err(reg("cannot flush the translation cache"))?;
        let info = self.isa.info();
        for (i, &value) in int_args.iter().enumerate() {
            self.uc
                .reg_write(info.int_args[i], value)
                .map_err(reg("cannot write an integer argument register"))?;
        }
        for (i, &value) in float_args.iter().enumerate() {
            self.uc
                .reg_write(info.float_args[i], value.to_bits())
                .map_err(reg("cannot write a floating-point argument register"))?;
        }
        let sentinel = self.return_sentinel();
        let stack_top = self.owned.addr() + STACK_SIZE;
        self.uc
            .reg_write(info.sp, stack_top)
            .map_err(reg("cannot write sp"))?;
        self.uc
            .reg_write(info.fp, 0)
            .map_err(reg("cannot write fp"))?;
        self.uc
            .reg_write(info.link, sentinel)
            .map_err(reg("cannot write the link register"))?;
        self.uc.get_data_mut().failure = None;
        let run = self.uc.emu_start(addr, sentinel, CALL_TIMEOUT_US, 0);
        let pc = self.uc.pc_read().unwrap_or(0);
        if let Some(failure) = self.uc.get_data_mut().failure.take() {
            return Err(Error::Emulator(failure));
        }
        if let Err(e) = run {
            return Err(Error::Emulator(format!(
                "the guest stopped at pc {pc:#x} calling {addr:#x}: {e:?}"
            )));
        }
        if pc != sentinel {
            return Err(Error::Emulator(format!(
                "the call to {addr:#x} did not return (stopped at pc {pc:#x})"
            )));
        }
        let x0 = self
            .uc
            .reg_read(info.int_args[0])
            .map_err(reg("cannot read the integer result"))?;
        let d0 = self
            .uc
            .reg_read(info.float_args[0])
            .map_err(reg("cannot read the floating-point result"))?;
        Ok((x0, f64::from_bits(d0)))
    }
}

/// The code hook over the trap page: runs the bridged function of `addr`,
/// if there is one (the return sentinel has none; the run stops there).
fn on_trap(uc: &mut Unicorn<'_, Bridges>, addr: u64, _size: u32) {
    if !uc.get_data().functions.contains_key(&addr) {
        return;
    }
    let mut args = HostArgs {
        x: [0; 8],
        d: [0.0; 8],
    };
    let info = uc.get_data().isa;
    for i in 0..8 {
        args.x[i] = uc.reg_read(info.int_args[i]).unwrap_or(0);
        args.d[i] = f64::from_bits(uc.reg_read(info.float_args[i]).unwrap_or(0));
    }
    let outcome = match uc.get_data_mut().functions.get_mut(&addr) {
        // A panic must not unwind into unicorn's C frames.
        Some(f) => catch_unwind(AssertUnwindSafe(|| f(&args))),
        None => return,
    };
    let written = match outcome {
        Ok(HostReturn::Void) => Ok(()),
        Ok(HostReturn::Int(v)) => uc.reg_write(info.int_args[0], v),
        Ok(HostReturn::Float(v)) => uc.reg_write(info.float_args[0], v.to_bits()),
        Err(_) => {
            uc.get_data_mut().failure =
                Some(format!("the bridged host function at {addr:#x} panicked"));
            let _ = uc.emu_stop();
            return;
        }
    };
    if let Err(e) = written {
        uc.get_data_mut().failure = Some(format!(
            "cannot return the result of the bridged function at {addr:#x}: {e:?}"
        ));
        let _ = uc.emu_stop();
    }
}

/// One line of `/proc/self/maps`: (start, end, permissions).
fn parse_maps_line(line: &str) -> Option<(u64, u64, Perms)> {
    let mut parts = line.split_whitespace();
    let (a, b) = parts.next()?.split_once('-')?;
    let perms = parts.next()?.as_bytes();
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
        Perms {
            read: perms.first() == Some(&b'r'),
            write: perms.get(1) == Some(&b'w'),
            exec: perms.get(2) == Some(&b'x'),
        },
    ))
}

#[cfg(test)]
mod tests;
