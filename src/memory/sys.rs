//! The operating system's side of the memory managers: every `mmap`,
//! `mprotect`, `madvise`, memory file (`memfd_create`, `fallocate`,
//! `pwrite`) and `membarrier` call of `memory` is made here, with the system
//! page size, instruction-cache maintenance and the JIT-execution probe.
//!
//! The calls only Linux has (memory files, hole punching, `membarrier`) are
//! behind `cfg(target_os)` here and nowhere else: elsewhere they fail with
//! `ENOSYS` (or do nothing), so the code above this file has no platform
//! arms. The arena does not offer the dual-mapped mode where memory files
//! are missing.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::SegmentClass;
use crate::{Error, Result};

/// The page size assumed when `sysconf` cannot tell (it never fails on Linux).
const FALLBACK_PAGE_SIZE: usize = 4096;

/// The system's page size in bytes (`sysconf(_SC_PAGESIZE)`, asked once).
pub fn page_size() -> usize {
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf only reads a system constant; it has no memory effects.
    let raw = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = match usize::try_from(raw) {
        Ok(size) if size.is_power_of_two() => size,
        _ => FALLBACK_PAGE_SIZE,
    };
    PAGE_SIZE.store(size, Ordering::Relaxed);
    size
}

/// Maps a page, writes a one-instruction function into it, makes it
/// executable (never writable at the same time) and calls it. Returns an error
/// that names the refusal (errno, with SELinux/PaX hints) when the system
/// forbids it.
///
/// The function is "return the constant 42" (x86-64: `mov eax, 42; ret`;
/// AArch64: `mov w0, #42; ret`), so a successful call proves the bytes really
/// ran from the page. On other architectures only the RW → RX change is
/// checked. A system that accepts the `mprotect` but then kills the process
/// on the call (no known Linux policy does) cannot be detected here.
pub fn check_jit_execution() -> Result<()> {
    // Embedders probe before they create engines (llvmlite's users, numba):
    // the registration for the barriers finalize needs starts now.
    start_core_sync_registration();
    let page = page_size();
    let mapping = map_anonymous(None, page, libc::PROT_READ | libc::PROT_WRITE, 0)
        .map_err(|source| Error::Memory { op: "mmap", source })?;
    let outcome = probe_page(&mapping);
    unmap(&mapping);
    outcome
}

/// The probe proper; the caller unmaps `mapping` whatever happens here.
fn probe_page(mapping: &Mapping) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    const CODE: &[u8] = &[0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3]; // mov eax, 42 ; ret
    #[cfg(target_arch = "aarch64")]
    const CODE: &[u8] = &[
        0x40, 0x05, 0x80, 0x52, // mov w0, #42
        0xC0, 0x03, 0x5F, 0xD6, // ret
    ];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const CODE: &[u8] = &[];

    // SAFETY: the mapping is ours, one page long (larger than CODE) and
    // currently PROT_READ|PROT_WRITE; nothing else refers to it.
    unsafe { std::ptr::copy_nonoverlapping(CODE.as_ptr(), mapping.base.as_ptr(), CODE.len()) };

    // SAFETY: the range is exactly the page we mapped above.
    if let Err(error) = unsafe {
        protect(
            mapping.base.as_ptr(),
            mapping.len,
            libc::PROT_READ | libc::PROT_EXEC,
        )
    } {
        let source = match error {
            Error::Memory { source, .. } => source,
            other => return Err(other),
        };
        return Err(Error::JitExecutionRefused {
            reason: refusal_reason(&source),
        });
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        // Only this thread runs the probe, from a page mapped for it and
        // unmapped before its address could reach another thread: no
        // barrier on other cores is needed (the process-wide one, whose
        // first use waits for the kernel's registration, is not paid here).
        // SAFETY: the page is mapped and readable (PROT_READ|PROT_EXEC).
        unsafe { publish_code_to_this_thread(mapping.base.as_ptr(), CODE.len()) };
        // SAFETY: the page now holds a complete function of the C ABI that
        // takes nothing, touches no memory, returns 42 in the return register,
        // and the page is executable and no longer writable.
        let function: extern "C" fn() -> u32 =
            unsafe { std::mem::transmute(mapping.base.as_ptr()) };
        let value = function();
        if value != 42 {
            return Err(Error::JitExecutionRefused {
                reason: format!(
                    "a probe function written to an executable page returned {value} instead of 42"
                ),
            });
        }
    }
    Ok(())
}

/// Explains why `mprotect(PROT_READ|PROT_EXEC)` was refused.
pub(super) fn refusal_reason(source: &io::Error) -> String {
    let errno = source.raw_os_error().unwrap_or(0);
    let hint = if errno == libc::EACCES || errno == libc::EPERM {
        "SELinux `execmem`/`deny_execmem` or PaX MPROTECT may forbid executable anonymous memory"
    } else if errno == libc::ENOMEM {
        "the process may have reached its mapping limit (vm.max_map_count) or memory limit"
    } else {
        "the system does not allow making anonymous memory executable"
    };
    format!(
        "mprotect(PROT_READ|PROT_EXEC) of an anonymous page failed with {} ({source}); {hint}",
        errno_name(errno)
    )
}

/// The symbolic name of the errno values memory system calls return.
pub(super) fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        libc::EEXIST => "EEXIST",
        libc::EAGAIN => "EAGAIN",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

/// The final protection of a class: never writable and executable at once.
pub(super) fn final_protection(class: SegmentClass) -> libc::c_int {
    match class {
        SegmentClass::Text | SegmentClass::Stubs => libc::PROT_READ | libc::PROT_EXEC,
        SegmentClass::Got | SegmentClass::ReadOnly => libc::PROT_READ,
        SegmentClass::Data => libc::PROT_READ | libc::PROT_WRITE,
    }
}

/// `value` rounded up to a multiple of `align` (a power of two); `None` on overflow.
pub(super) fn round_up(value: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// `value` rounded up to a multiple of `align` (a power of two); `None` on overflow.
pub(super) fn round_up_usize(value: usize, align: usize) -> Option<usize> {
    debug_assert!(align.is_power_of_two());
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// An anonymous mapping made by this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mapping {
    pub(super) base: NonNull<u8>,
    pub(super) len: usize,
}

impl Mapping {
    /// The first address.
    pub(super) fn start(&self) -> usize {
        self.base.as_ptr() as usize
    }
    /// One past the last address.
    pub(super) fn end(&self) -> usize {
        self.start() + self.len
    }
}

/// `mmap(hint, len, prot, MAP_PRIVATE|MAP_ANONYMOUS|extra_flags)`.
///
/// `extra_flags` must not contain `MAP_FIXED` (that could replace memory
/// someone else owns); `MAP_FIXED_NOREPLACE` and `MAP_NORESERVE` are fine.
pub(super) fn map_anonymous(
    hint: Option<usize>,
    len: usize,
    prot: libc::c_int,
    extra_flags: libc::c_int,
) -> io::Result<Mapping> {
    debug_assert_eq!(extra_flags & libc::MAP_FIXED, 0);
    if len == 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let hint = hint.unwrap_or(0) as *mut libc::c_void;
    // SAFETY: without MAP_FIXED the kernel only ever picks address space that
    // is not mapped yet, so no existing memory is affected; the result is
    // checked for MAP_FAILED before use.
    let raw = unsafe {
        libc::mmap(
            hint,
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra_flags,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    match NonNull::new(raw.cast::<u8>()) {
        Some(base) => Ok(Mapping { base, len }),
        None => {
            // A mapping at address 0 (only possible with vm.mmap_min_addr = 0)
            // is not something we hand out.
            // SAFETY: the kernel just created this mapping for us.
            unsafe { libc::munmap(raw, len) };
            Err(io::Error::from_raw_os_error(libc::ENOMEM))
        }
    }
}

/// Maps `len` bytes with PROT_NONE whose start is a multiple of `align`
/// (a power of two, at least the page size), anywhere the kernel likes.
pub(super) fn map_aligned(
    hint: Option<usize>,
    len: usize,
    align: usize,
    extra_flags: libc::c_int,
) -> io::Result<Mapping> {
    let page = page_size();
    let align = align.max(page);
    let too_big = || io::Error::from_raw_os_error(libc::ENOMEM);
    let padded = len.checked_add(align - page).ok_or_else(too_big)?;
    let mapping = map_anonymous(hint, padded, libc::PROT_NONE, extra_flags)?;
    if align == page {
        return Ok(mapping);
    }
    let start = mapping.start();
    let aligned = round_up_usize(start, align).ok_or_else(too_big)?;
    let head = aligned - start;
    let tail = padded - head - len;
    if head > 0 {
        // SAFETY: [start, aligned) is the page-aligned head of the mapping we
        // just made and nothing refers to it.
        unsafe { libc::munmap(mapping.base.as_ptr().cast(), head) };
    }
    let base = mapping.base.as_ptr().wrapping_add(head);
    if tail > 0 {
        // SAFETY: [aligned + len, end) is the page-aligned tail of the same
        // fresh mapping and nothing refers to it.
        unsafe { libc::munmap(base.wrapping_add(len).cast(), tail) };
    }
    match NonNull::new(base) {
        Some(base) => Ok(Mapping { base, len }),
        None => Err(too_big()),
    }
}

/// Unmaps a mapping made by this module ([`map_anonymous`],
/// [`map_aligned`], [`map_near`]).
pub(super) fn unmap(mapping: &Mapping) {
    // SAFETY: the caller gives back a mapping this module created and that
    // nothing refers to any more; munmap of it cannot affect other memory.
    // Failure (only EINVAL for bad arguments) leaves the mapping in place,
    // which leaks address space but is harmless.
    unsafe { libc::munmap(mapping.base.as_ptr().cast(), mapping.len) };
}

/// `mprotect(addr, len, prot)`, as a crate error.
///
/// # Safety
///
/// `[addr, addr + len)` must be page-aligned memory owned by the caller's
/// manager that no Rust reference depends on being accessible in a way `prot`
/// forbids.
pub(super) unsafe fn protect(addr: *mut u8, len: usize, prot: libc::c_int) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: guaranteed by the caller (see above).
    let rc = unsafe { libc::mprotect(addr.cast(), len, prot) };
    if rc != 0 {
        return Err(Error::Memory {
            op: "mprotect",
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Makes freshly written code at `[addr, addr + len)` visible to instruction
/// fetch on every thread.
///
/// AArch64 needs the data cache cleaned to the point of unification and the
/// instruction cache invalidated (broadcast to the inner shareable domain),
/// then a context synchronization on this thread. x86-64 keeps caches
/// coherent, but its cross-modifying-code rule still asks every other
/// processor that may run the new bytes to execute a serializing
/// instruction first: code can be written at an address another thread
/// ran earlier code from (an arena reuses freed space), and the dual-mapped
/// arena changes no protection at finalize, so no TLB shootdown serializes
/// for it. On Linux both get that step on every thread of the process
/// through `membarrier(PRIVATE_EXPEDITED_SYNC_CORE)` ([`sync_all_cores`]).
///
/// # Safety
///
/// The range must be mapped and readable.
pub(super) unsafe fn publish_code(addr: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { publish_code_to_this_thread(addr, len) };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sync_all_cores();
}

/// The part of [`publish_code`] that concerns the calling thread only: the
/// cache maintenance of AArch64 (ending with a context synchronization of
/// this thread), nothing on x86-64, whose caches are coherent and which
/// orders a thread's own stores before its later instruction fetches.
/// Enough for code that no other thread can have run or can learn the
/// address of (a page mapped for it alone, unmapped before it is shared).
///
/// # Safety
///
/// The range must be mapped and readable.
unsafe fn publish_code_to_this_thread(addr: *const u8, len: usize) {
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: forwarded from the caller.
        unsafe { aarch64::clear_cache(addr as usize, len) };
    }
    #[cfg(not(target_arch = "aarch64"))]
    let _ = (addr, len);
}

/// Whether code is written where code was before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodePlace {
    /// Bytes no code was ever handed out over: no thread can have run or
    /// prefetched instructions from them as code.
    Fresh,
    /// Bytes that held code before (an arena reuses freed space).
    Reused,
}

/// [`publish_code`] for several ranges, with one barrier on every core for
/// all of them (none when every range is empty). On x86-64, code written
/// over bytes that never held code needs no barrier: the cross-modifying
/// code rule concerns instructions another processor may have run or
/// fetched from those addresses, and a thread learns the new address only
/// through the engine's lock. AArch64 gets its barrier either way.
///
/// # Safety
///
/// Every range must be mapped and readable.
pub(super) unsafe fn publish_code_ranges(
    ranges: impl IntoIterator<Item = (*const u8, usize)>,
    place: CodePlace,
) {
    let mut any = false;
    for (addr, len) in ranges {
        if len > 0 {
            // SAFETY: forwarded from the caller.
            unsafe { publish_code_to_this_thread(addr, len) };
            any = true;
        }
    }
    let needed = any && (place == CodePlace::Reused || !cfg!(target_arch = "x86_64"));
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if needed {
        sync_all_cores();
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = needed;
}

/// Whether this process may ask the kernel for a core-serializing barrier
/// on all its threads, once known.
#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CoreSync {
    /// Registered for `MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE`.
    Registered,
    /// The kernel lacks it (before 4.16, or not on this architecture).
    Unavailable,
}

/// Whether the process is registered for core-serializing barriers:
/// [`CORE_SYNC_UNKNOWN`] until a registration completed, then
/// [`CORE_SYNC_REGISTERED`] or [`CORE_SYNC_UNAVAILABLE`] (the kernel lacks
/// the command).
#[cfg(any(target_os = "linux", target_os = "android"))]
static CORE_SYNC: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(CORE_SYNC_UNKNOWN);
#[cfg(any(target_os = "linux", target_os = "android"))]
const CORE_SYNC_UNKNOWN: u8 = 0;
#[cfg(any(target_os = "linux", target_os = "android"))]
const CORE_SYNC_REGISTERED: u8 = 1;
#[cfg(any(target_os = "linux", target_os = "android"))]
const CORE_SYNC_UNAVAILABLE: u8 = 2;

/// The process id of the process whose thread [`start_core_sync_registration`]
/// started (0: none). A child forked meanwhile has another id, so it never
/// waits for a thread it does not have.
#[cfg(any(target_os = "linux", target_os = "android"))]
static REGISTERING_IN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

// Barriers issued through `sync_all_cores` on each thread (a test hook).
#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
std::thread_local! {
    /// Counted per thread: tests running beside each other finalize too.
    static CORE_SYNCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Registers the process for `MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE`
/// and records the outcome. Registering twice (two threads at once) is
/// harmless: the kernel makes it idempotent.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn register_core_sync() -> u8 {
    use std::sync::atomic::Ordering;
    const REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 6;
    // SAFETY: membarrier registration has no memory effects; bad commands
    // only return an error.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
            0,
            0,
        )
    };
    let state = if rc == 0 {
        CORE_SYNC_REGISTERED
    } else {
        CORE_SYNC_UNAVAILABLE
    };
    CORE_SYNC.store(state, Ordering::Release);
    state
}

/// Whether the process has a single thread (`Threads:` in
/// `/proc/self/status`); `false` when it cannot tell.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .is_some_and(|count| count.trim() == "1")
    })
}

/// Registers the process for core-serializing barriers ahead of the first
/// finalize, off its critical path. In a process of several threads the
/// kernel completes a registration only after an RCU grace period (10–20 ms
/// measured, once per process), so this starts it on a thread of its own,
/// which overlaps the wait with the embedder's work; a single-threaded
/// process registers at once (the kernel skips the grace period then, about
/// 20 µs), so that programs that start no thread get none. Memory managers
/// call this when they are created. [`sync_all_cores`] waits for a
/// registration under way (or registers itself), so no barrier is skipped.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn start_core_sync_registration() {
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Set by the first caller: one registration per process.
    static STARTED: AtomicBool = AtomicBool::new(false);
    if CORE_SYNC.load(Ordering::Acquire) != CORE_SYNC_UNKNOWN
        || STARTED.swap(true, Ordering::AcqRel)
    {
        return;
    }
    if single_threaded() {
        register_core_sync();
        return;
    }
    REGISTERING_IN.store(std::process::id(), Ordering::Release);
    let spawned = std::thread::Builder::new()
        .name("rivet-membarrier".into())
        .stack_size(64 << 10)
        .spawn(|| {
            register_core_sync();
        });
    if spawned.is_err() {
        // No thread: the first barrier registers, as it would have.
        REGISTERING_IN.store(0, Ordering::Release);
    }
}

/// Starts nothing: only Linux has the barrier.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn start_core_sync_registration() {}

/// The registration's outcome: waits for a registration a thread of this
/// process has under way, else (or if it takes implausibly long) registers
/// on the calling thread.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn core_sync_registered() -> bool {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    let mut state = CORE_SYNC.load(Ordering::Acquire);
    if state == CORE_SYNC_UNKNOWN && REGISTERING_IN.load(Ordering::Acquire) == std::process::id() {
        // A grace period is tens of milliseconds; a second is a stuck
        // thread, and registering here is then the way out.
        let give_up = Instant::now() + Duration::from_secs(1);
        while state == CORE_SYNC_UNKNOWN && Instant::now() < give_up {
            std::thread::sleep(Duration::from_micros(100));
            state = CORE_SYNC.load(Ordering::Acquire);
        }
    }
    if state == CORE_SYNC_UNKNOWN {
        state = register_core_sync();
    }
    state == CORE_SYNC_REGISTERED
}

/// Runs a context-synchronizing (serializing) event on every thread of the
/// process, so none runs stale prefetched instructions. The process
/// registers once, on first use, or earlier ([`start_core_sync_registration`]);
/// the barrier is refused (`EPERM`) before the registration is complete,
/// so a barrier waits for one under way. Best effort: where the kernel
/// lacks the command, the code is still correct for threads that first
/// learn the address through a lock (which the engine uses).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn sync_all_cores() {
    const PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 5;
    if core_sync_registered() {
        // SAFETY: the command only interrupts this process's threads to
        // make them execute a serializing event; no memory effects.
        let rc = unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) };
        #[cfg(test)]
        if rc == 0 {
            CORE_SYNCS.with(|count| count.set(count.get() + 1));
        }
        #[cfg(not(test))]
        let _ = rc;
    }
}

/// What [`sync_all_cores`] found, and the barriers it has issued on this
/// thread; `None` before the registration completed.
#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
pub(super) fn core_sync_state() -> (Option<CoreSync>, u64) {
    let state = match CORE_SYNC.load(std::sync::atomic::Ordering::Acquire) {
        CORE_SYNC_REGISTERED => Some(CoreSync::Registered),
        CORE_SYNC_UNAVAILABLE => Some(CoreSync::Unavailable),
        _ => None,
    };
    (state, CORE_SYNCS.with(std::cell::Cell::get))
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use core::arch::asm;

    /// The equivalent of compiler-rt's `__clear_cache` for AArch64.
    ///
    /// # Safety
    ///
    /// `[start, start + len)` must be mapped and readable (cache maintenance
    /// by virtual address faults like a load otherwise).
    pub(super) unsafe fn clear_cache(start: usize, len: usize) {
        let ctr: u64;
        // SAFETY: CTR_EL0 is readable from EL0 on Linux and macOS (the
        // kernel sets SCTLR_EL1.UCT or traps and emulates the read); it only
        // writes the output register.
        unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
        let end = start.saturating_add(len);
        // Bit 28 (IDC): no data-cache clean needed for coherence.
        if ctr & (1 << 28) == 0 {
            let line = 4usize << ((ctr >> 16) & 0xf);
            let mut address = start & !(line - 1);
            while address < end {
                // SAFETY: the line is inside the caller's readable range;
                // `dc cvau` only writes back the cache line.
                unsafe { asm!("dc cvau, {}", in(reg) address, options(nostack, preserves_flags)) };
                address += line;
            }
        }
        // SAFETY: a barrier, no memory effects beyond ordering.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
        // Bit 29 (DIC): no instruction-cache invalidation needed.
        if ctr & (1 << 29) == 0 {
            let line = 4usize << (ctr & 0xf);
            let mut address = start & !(line - 1);
            while address < end {
                // SAFETY: the line is inside the caller's readable range;
                // `ic ivau` only invalidates instruction-cache lines.
                unsafe { asm!("ic ivau, {}", in(reg) address, options(nostack, preserves_flags)) };
                address += line;
            }
            // SAFETY: a barrier, no memory effects beyond ordering.
            unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
        }
        // SAFETY: an instruction synchronization barrier for this thread.
        unsafe { asm!("isb", options(nostack, preserves_flags)) };
    }
}

/// `MFD_EXEC` (Linux 6.3+): the memfd may be mapped executable even where
/// `vm.memfd_noexec` makes new memfds non-executable by default.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MFD_EXEC: libc::c_uint = 0x0010;

/// Whether this system has the memory files [`memfd`] makes.
pub(super) const HAS_MEMFD: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// A new anonymous memory file (`memfd_create`, close-on-exec) of `len`
/// bytes, all holes: it uses no memory until pages are written.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn memfd(_len: usize) -> io::Result<std::os::fd::OwnedFd> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// A new anonymous memory file (`memfd_create`, close-on-exec) of `len`
/// bytes, all holes: it uses no memory until pages are written.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn memfd(len: usize) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let name = c"rivet-arena";
    let mut fd = -1;
    for flags in [libc::MFD_CLOEXEC | MFD_EXEC, libc::MFD_CLOEXEC] {
        // SAFETY: `name` is a NUL-terminated string; memfd_create only
        // creates a new file descriptor.
        fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        // Kernels before 6.3 do not know MFD_EXEC and say EINVAL.
        if fd >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            break;
        }
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by memfd_create and nothing else owns it.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    let size = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: ftruncate on a file descriptor we own; it only sets the size.
    if unsafe { libc::ftruncate(std::os::fd::AsRawFd::as_raw_fd(&file), size) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Maps `len` bytes of `fd` from `offset` privately at exactly `addr`
/// (`MAP_PRIVATE|MAP_FIXED`), replacing what was there. Never writable:
/// `prot` must not contain `PROT_WRITE`, so the view never copies a page on
/// write and always shows the file's current bytes.
///
/// # Safety
///
/// `[addr, addr + len)` must be page-aligned address space owned by the
/// caller that nothing else uses (its old contents are discarded).
pub(super) unsafe fn map_file_fixed(
    addr: *mut u8,
    len: usize,
    prot: libc::c_int,
    fd: std::os::fd::BorrowedFd<'_>,
    offset: usize,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    debug_assert_eq!(prot & libc::PROT_WRITE, 0);
    let offset =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: guaranteed by the caller: MAP_FIXED only replaces address space
    // the caller owns and no longer uses.
    let raw = unsafe {
        libc::mmap(
            addr.cast(),
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_FIXED,
            fd.as_raw_fd(),
            offset,
        )
    };
    if raw == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Turns `[addr, addr + len)` back into reserved address space: a fresh
/// private anonymous `PROT_NONE`, `MAP_NORESERVE` mapping, exactly there.
///
/// # Safety
///
/// As [`map_file_fixed`]: the range is the caller's and unused.
pub(super) unsafe fn map_none_fixed(addr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: guaranteed by the caller (see above).
    let raw = unsafe {
        libc::mmap(
            addr.cast(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Frees the file's pages in `[offset, offset + len)`: they read as zero
/// afterwards, through every mapping of the file, and use no memory.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn punch_hole(
    _fd: std::os::fd::BorrowedFd<'_>,
    _offset: usize,
    _len: usize,
) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Frees the file's pages in `[offset, offset + len)`: they read as zero
/// afterwards, through every mapping of the file, and use no memory.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn punch_hole(
    fd: std::os::fd::BorrowedFd<'_>,
    offset: usize,
    len: usize,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    // SAFETY: fallocate on a descriptor the caller owns; punching a hole only
    // changes the file's contents in the range (to zeros).
    let rc = unsafe {
        libc::fallocate(
            fd.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset,
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The byte that, repeated, makes code of this machine trap when run:
/// `int3` on x86-64; elsewhere 0 (`udf #0` on AArch64, an illegal
/// instruction on RISC-V).
pub(super) const TRAP_FILL: u8 = if cfg!(target_arch = "x86_64") {
    0xcc
} else {
    0
};

/// Writes `len` copies of `byte` into the file at `offset` (`pwrite`),
/// without a writable mapping of it.
pub(super) fn write_fill(
    fd: std::os::fd::BorrowedFd<'_>,
    mut offset: usize,
    mut len: usize,
    byte: u8,
) -> io::Result<()> {
    let block = [byte; 4096];
    while len > 0 {
        let chunk = len.min(block.len());
        write_at(fd, offset, &block[..chunk])?;
        offset += chunk;
        len -= chunk;
    }
    Ok(())
}

/// Writes `bytes` into the file at `offset` (`pwrite`), without a writable
/// mapping of it.
pub(super) fn write_at(
    fd: std::os::fd::BorrowedFd<'_>,
    mut offset: usize,
    mut bytes: &[u8],
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    while !bytes.is_empty() {
        let at = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: pwrite reads `bytes.len()` readable bytes and writes them
        // into a file the caller owns; no memory of ours is written.
        let written =
            unsafe { libc::pwrite(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), at) };
        if written < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if written == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        offset += written as usize;
        bytes = &bytes[written as usize..];
    }
    Ok(())
}

/// The most buffers one [`write_vectored_at`] call takes (Linux's
/// `IOV_MAX`).
pub(super) const MAX_IOVECS: usize = 1024;

/// Writes `buffers` one after the other into the file from `offset`
/// (`pwritev`: one system call for neighbouring pieces), without a
/// writable mapping of it. At most [`MAX_IOVECS`] buffers.
pub(super) fn write_vectored_at(
    fd: std::os::fd::BorrowedFd<'_>,
    mut offset: usize,
    buffers: &[&[u8]],
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    debug_assert!(buffers.len() <= MAX_IOVECS);
    let mut iovecs: Vec<libc::iovec> = buffers
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut first = 0;
    while first < iovecs.len() {
        let at = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let count = libc::c_int::try_from(iovecs.len() - first)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: each iovec describes a readable buffer of `buffers`
        // (or the unwritten tail of one), alive for the call; pwritev only
        // reads them and writes into a file the caller owns.
        let written = unsafe { libc::pwritev(fd.as_raw_fd(), iovecs[first..].as_ptr(), count, at) };
        if written < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if written == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        // A short write: skip what went, resume inside the buffer it ended in.
        let mut left = written as usize;
        offset += left;
        while first < iovecs.len() && left >= iovecs[first].iov_len {
            left -= iovecs[first].iov_len;
            first += 1;
        }
        if left > 0 {
            let iovec = &mut iovecs[first];
            iovec.iov_base = iovec.iov_base.wrapping_byte_add(left);
            iovec.iov_len -= left;
        }
    }
    Ok(())
}

/// The process's limit on open file descriptors (`RLIMIT_NOFILE`, the soft
/// limit); `None` when it is unlimited or unknown.
pub(super) fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(limit.rlim_cur)
}

/// The inode number of an open file (what `/proc/self/maps` shows).
pub(super) fn inode(fd: std::os::fd::BorrowedFd<'_>) -> u64 {
    use std::os::fd::AsRawFd;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes one `struct stat` into the buffer given.
    if unsafe { libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return 0;
    }
    // SAFETY: fstat succeeded, so the struct is filled in (and it was
    // zeroed before).
    unsafe { stat.assume_init() }.st_ino
}

/// Discards private anonymous pages: they read as zero afterwards and use no
/// memory (`madvise(MADV_DONTNEED)`).
///
/// # Safety
///
/// The range must be page-aligned private anonymous memory of the caller
/// whose contents nobody needs any more.
pub(super) unsafe fn discard(addr: *mut u8, len: usize) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: guaranteed by the caller (see above).
    if unsafe { libc::madvise(addr.cast(), len, libc::MADV_DONTNEED) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How many entries `/proc/self/maps` shows for a range of `len` bytes made
/// of the given pieces `(offset, len, kind)` in address order, the rest
/// being reserved (`PROT_NONE`) address space: adjacent pieces of the same
/// kind are one entry, as the kernel merges them.
pub(super) fn count_areas<K: PartialEq + Copy>(
    len: usize,
    none: K,
    pieces: impl IntoIterator<Item = (usize, usize, K)>,
) -> u64 {
    let mut count = 0;
    let mut cursor = 0;
    let mut last: Option<K> = None;
    let mut push = |kind: K, last: &mut Option<K>| {
        if *last != Some(kind) {
            count += 1;
            *last = Some(kind);
        }
    };
    for (offset, piece_len, kind) in pieces {
        if piece_len == 0 {
            continue;
        }
        if offset > cursor {
            push(none, &mut last);
        }
        push(kind, &mut last);
        cursor = offset + piece_len;
    }
    if cursor < len {
        push(none, &mut last);
    }
    count
}

/// Tries one address: `MAP_FIXED_NOREPLACE` where the system has it, so the
/// mapping lands exactly there or not at all; a plain hint otherwise (and
/// when the kernel does not know the flag). Never replaces existing memory.
/// The mapping is `PROT_NONE`; `extra_flags` may add `MAP_NORESERVE`.
pub(super) fn map_near(hint: usize, len: usize, extra_flags: libc::c_int) -> Option<Mapping> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        match map_anonymous(
            Some(hint),
            len,
            libc::PROT_NONE,
            libc::MAP_FIXED_NOREPLACE | extra_flags,
        ) {
            Ok(mapping) => return Some(mapping),
            // Taken, or beyond the address space: a plain hint would land
            // wherever the kernel likes, so try the next address instead.
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::EEXIST) | Some(libc::ENOMEM)
                ) =>
            {
                return None
            }
            Err(_) => {}
        }
    }
    map_anonymous(Some(hint), len, libc::PROT_NONE, extra_flags).ok()
}

#[cfg(test)]
mod tests;
