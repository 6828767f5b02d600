//! Static TLS for the initial- and local-exec models.
//!
//! Code compiled for the static TLS models reaches a thread-local at a
//! fixed offset from the thread pointer (`%fs:0` on x86-64, `tpidr_el0` on
//! AArch64), the same offset in every thread, with no call in between. So
//! the bytes must already exist in every thread, at that offset, before
//! the code runs: they cannot be created lazily as `__tls_get_addr` does.
//!
//! rivet reserves [`BUDGET`] bytes of the process's static TLS as one
//! thread-local array of its own (in `.tdata`, 64-byte aligned) and hands
//! out pieces of it to modules. This works where rivet is part of the
//! executable (the `rivet` tool, tests, a Rust program that links the
//! library): the executable's TLS block is static, at one offset from the
//! thread pointer in every thread. Where the library is itself loaded with
//! `dlopen` (the Python package) its TLS is dynamic, the array is at a
//! different offset in each thread, and [`reserve`] says so with
//! [`Error::StaticTlsExhausted`] (budget 0) rather than hand out offsets
//! that would be wrong.
//!
//! Each thread's copy of a module's piece gets the module's `.tdata` image
//! and zeroed `.tbss`:
//! - threads created after the module is linked get it from the C
//!   library, which initializes a new thread's static TLS from the
//!   executable's TLS initialization image: rivet writes the module's
//!   image into its part of that image (a read-only page, made writable
//!   for the write and then read-only again; never executable);
//! - threads that exist when the module is linked and that rivet knows
//!   (every thread that called [`crate::register_tls_thread`], linked a
//!   module, or called rivet's `__tls_get_addr`) get it copied into their
//!   copy at link time;
//! - a thread that existed before the module was linked and that rivet
//!   does not know keeps what its copy held (the reservation's fill or an
//!   earlier module's values). There is no portable way to find another
//!   thread's thread pointer, and local-exec code has no call rivet could
//!   use to initialize lazily. Such threads must call
//!   [`crate::register_tls_thread`] before the module is linked.
//!
//! A thread the C library creates while a link writes the image may copy
//! part old, part new bytes; it cannot have the new module's code yet, but
//! it would see this module's thread-locals half-initialized if it later
//! runs it. Create threads that will run a module after its link returns,
//! or register them before it.
//!
//! TLS descriptors resolve to a piece of this reservation too (the resolver
//! returns the offset the descriptor holds). On x86-64 a module reached
//! only through descriptors that does not fit gets a second resolver,
//! which finds the thread's dynamic block the way `__tls_get_addr` does.

use std::cell::UnsafeCell;
use std::sync::{Mutex, OnceLock};

use crate::{Error, Result};

/// Bytes of static TLS rivet reserves for modules.
pub const BUDGET: usize = 4096;
/// Alignment of the reservation (the largest block alignment it serves).
pub const ALIGN: usize = 64;
/// Fill of the reservation: non-zero, so that it is part of the TLS
/// initialization image (`.tdata`) rather than zero-fill (`.tbss`).
const FILL: u8 = 0xa5;

#[repr(C, align(64))]
struct Reservation(UnsafeCell<[u8; BUDGET]>);

std::thread_local! {
    /// The reservation: a plain `#[thread_local]` (const, no destructor),
    /// in the executable's static TLS block when rivet is linked into it.
    static RESERVATION: Reservation = const { Reservation(UnsafeCell::new([FILL; BUDGET])) };
}

/// The calling thread's thread pointer.
#[inline]
pub(crate) fn thread_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let tp: usize;
        // SAFETY: on x86-64 Linux `%fs:0` holds the thread control block's
        // own address (the thread pointer), readable in every thread.
        unsafe {
            std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags))
        };
        tp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let tp: usize;
        // SAFETY: reading `tpidr_el0` has no side effect.
        unsafe {
            std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nomem, nostack, preserves_flags))
        };
        tp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

/// The address of the calling thread's copy of the reservation.
pub(crate) fn current_base() -> Option<usize> {
    RESERVATION.try_with(|r| r.0.get() as usize).ok()
}

fn current_tp_offset() -> Option<i64> {
    current_base().map(|base| base.wrapping_sub(thread_pointer()) as i64)
}

/// Where the reservation is, found once.
struct Area {
    /// The reservation's offset from the thread pointer (every thread's).
    tp_offset: i64,
    /// The reservation's part of the process's TLS initialization image.
    init_image: usize,
}

static AREA: OnceLock<std::result::Result<Area, &'static str>> = OnceLock::new();

fn area() -> std::result::Result<&'static Area, &'static str> {
    AREA.get_or_init(|| {
        if cfg!(not(any(target_arch = "x86_64", target_arch = "aarch64"))) {
            return Err("no thread pointer on this machine");
        }
        let here = current_tp_offset().ok_or("thread exiting")?;
        // A static block is at the same offset in every thread; a dynamic
        // one (rivet loaded with dlopen) is not.
        let there = std::thread::spawn(current_tp_offset)
            .join()
            .ok()
            .flatten()
            .ok_or("cannot start a thread")?;
        if here != there {
            return Err(
                "rivet's reservation is in dynamic TLS here (the library was loaded \
                        with dlopen), not at one offset from the thread pointer",
            );
        }
        let base = current_base().ok_or("thread exiting")?;
        let init_image = find_init_image(base)
            .ok_or("the reservation's TLS initialization image was not found")?;
        Ok(Area {
            tp_offset: here,
            init_image,
        })
    })
    .as_ref()
    .map_err(|e| *e)
}

/// The address of the TLS initialization image bytes that the calling
/// thread's `base` was initialized from, through `dl_iterate_phdr`.
fn find_init_image(base: usize) -> Option<usize> {
    struct Search {
        base: usize,
        found: Option<usize>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `Search` passed below; `info` is valid for
        // the duration of the callback (dl_iterate_phdr's contract) and its
        // program headers are `dlpi_phnum` entries at `dlpi_phdr`.
        let (search, info) = unsafe { (&mut *(data as *mut Search), &*info) };
        let tls_data = info.dlpi_tls_data as usize;
        if tls_data == 0 || info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: see above.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        for ph in phdrs.iter().filter(|ph| ph.p_type == libc::PT_TLS) {
            let offset = search.base.wrapping_sub(tls_data) as u64;
            if search.base >= tls_data && offset + BUDGET as u64 <= ph.p_filesz {
                search.found =
                    Some((info.dlpi_addr as usize) + ph.p_vaddr as usize + offset as usize);
                return 1;
            }
        }
        0
    }
    let mut search = Search { base, found: None };
    // SAFETY: `visit` only reads what it is given and writes `search`,
    // which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), &mut search as *mut Search as *mut libc::c_void) };
    search.found
}

/// One module's piece of the reservation.
struct Piece {
    key: u64,
    offset: usize,
    size: usize,
}

static PIECES: Mutex<Vec<Piece>> = Mutex::new(Vec::new());

fn pieces() -> std::sync::MutexGuard<'static, Vec<Piece>> {
    PIECES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a piece of `size` bytes aligned to `align` fits among `pieces`
/// (sorted by offset) in `budget` bytes: first fit.
fn fit(pieces: &[Piece], size: usize, align: usize, budget: usize) -> Option<usize> {
    let mut cursor = 0usize;
    for piece in pieces {
        let at = cursor.checked_next_multiple_of(align)?;
        if at.checked_add(size)? <= piece.offset {
            return Some(at);
        }
        cursor = cursor.max(piece.offset + piece.size);
    }
    let at = cursor.checked_next_multiple_of(align)?;
    (at.checked_add(size)? <= budget).then_some(at)
}

/// Gives module `key` (named `module` in errors) `size` bytes of static
/// TLS aligned to `align`; returns their offset from the thread pointer.
pub(crate) fn reserve(key: u64, size: u64, align: u64, module: &str) -> Result<i64> {
    let mut pieces = pieces();
    let used: usize = pieces.iter().map(|p| p.size).sum();
    let exhausted = |reason: String, budget: usize| Error::StaticTlsExhausted {
        module: module.to_string(),
        needed: size,
        align,
        free: (budget.saturating_sub(used)) as u64,
        budget: budget as u64,
        reason,
    };
    let area = area().map_err(|why| exhausted(why.to_string(), 0))?;
    if align > ALIGN as u64 || !align.max(1).is_power_of_two() {
        return Err(exhausted(
            format!("rivet's static TLS is aligned to {ALIGN} bytes"),
            BUDGET,
        ));
    }
    let size_n = usize::try_from(size.max(1)).unwrap_or(usize::MAX);
    let at = fit(&pieces, size_n, align.max(1) as usize, BUDGET).ok_or_else(|| {
        exhausted(
            "no free run is large enough; remove modules to give theirs back".to_string(),
            BUDGET,
        )
    })?;
    let index = pieces.partition_point(|p| p.offset < at);
    pieces.insert(
        index,
        Piece {
            key,
            offset: at,
            size: size_n,
        },
    );
    Ok(area.tp_offset + at as i64)
}

/// Gives module `key`'s piece back (nothing if it has none).
pub(crate) fn release(key: u64) {
    pieces().retain(|p| p.key != key);
}

/// Module `key`'s piece: (offset in the reservation, size).
pub(crate) fn piece_of(key: u64) -> Option<(usize, usize)> {
    pieces()
        .iter()
        .find(|p| p.key == key)
        .map(|p| (p.offset, p.size))
}

/// Writes a module's initial values (`image`, then zeros up to `size`)
/// into `dest`.
///
/// # Safety
/// `dest` must be `size` writable bytes nobody else accesses meanwhile,
/// and `image` `image.len()` readable bytes.
pub(crate) unsafe fn fill(dest: *mut u8, image: &[u8], size: usize) {
    let n = image.len().min(size);
    // SAFETY: guaranteed by the caller.
    unsafe {
        std::ptr::copy_nonoverlapping(image.as_ptr(), dest, n);
        std::ptr::write_bytes(dest.add(n), 0, size - n);
    }
}

/// Writes the initial values of the piece at `offset` into the process's
/// TLS initialization image, so threads created from now on start with
/// them. The image's pages are read-only (RELRO) or writable data; they
/// are made writable for the write and given their protection back.
pub(crate) fn write_init_image(offset: usize, image: &[u8], size: usize) -> Result<()> {
    // One writer at a time: two links must not interleave protection changes.
    static WRITER: Mutex<()> = Mutex::new(());
    let _writer = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    let area = area().map_err(|why| Error::Memory {
        op: "static TLS",
        source: std::io::Error::other(why),
    })?;
    let start = area.init_image + offset;
    let end = start + size;
    let page = page_size();
    let first = start & !(page - 1);
    let last = (end + page - 1) & !(page - 1);
    let protections = page_protections(first, last);
    let os_error = |op| Error::Memory {
        op,
        source: std::io::Error::last_os_error(),
    };
    for &(lo, hi, prot) in &protections {
        if prot & libc::PROT_EXEC != 0 {
            return Err(Error::Memory {
                op: "static TLS",
                source: std::io::Error::other("TLS initialization image is executable"),
            });
        }
        // SAFETY: [lo, hi) are whole pages of the executable's mapped
        // data segment; making them writable (never executable) changes
        // no byte.
        if unsafe { libc::mprotect(lo as *mut _, hi - lo, libc::PROT_READ | libc::PROT_WRITE) } != 0
        {
            return Err(os_error("mprotect"));
        }
    }
    // SAFETY: [start, end) lies in the reservation's part of the image,
    // which only rivet writes (under the engine's link), and the pages
    // are writable now.
    unsafe { fill(start as *mut u8, image, size) };
    for &(lo, hi, prot) in &protections {
        // SAFETY: restores the protection the pages had.
        if unsafe { libc::mprotect(lo as *mut _, hi - lo, prot) } != 0 {
            return Err(os_error("mprotect"));
        }
    }
    Ok(())
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}

/// The protections of the pages in [first, last), by mapping, from
/// `/proc/self/maps` (read and write when it cannot be read).
fn page_protections(first: usize, last: usize) -> Vec<(usize, usize, i32)> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((lo, hi)) = range.split_once('-') else {
            continue;
        };
        let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
        else {
            continue;
        };
        let (lo, hi) = (lo.max(first), hi.min(last));
        if lo >= hi {
            continue;
        }
        let bytes = perms.as_bytes();
        let mut prot = 0;
        if bytes.first() == Some(&b'r') {
            prot |= libc::PROT_READ;
        }
        if bytes.get(1) == Some(&b'w') {
            prot |= libc::PROT_WRITE;
        }
        if bytes.get(2) == Some(&b'x') {
            prot |= libc::PROT_EXEC;
        }
        out.push((lo, hi, prot));
    }
    if out.is_empty() {
        out.push((first, last, libc::PROT_READ | libc::PROT_WRITE));
    }
    out
}

// The TLS descriptor resolver for static TLS. A descriptor is two words:
// the resolver's address and its argument, which for rivet is the
// target's offset from the thread pointer. The resolver is called with
// the descriptor's address (x86-64: in %rax; AArch64: in x0), returns the
// offset in that register and must keep every other register, which is
// why it is assembly: it loads the second word and returns.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".pushsection .text.rivet_tlsdesc_static,\"ax\",@progbits",
    ".p2align 4",
    ".globl rivet_tlsdesc_static",
    ".hidden rivet_tlsdesc_static",
    ".type rivet_tlsdesc_static,@function",
    "rivet_tlsdesc_static:",
    "mov rax, qword ptr [rax + 8]",
    "ret",
    ".size rivet_tlsdesc_static, . - rivet_tlsdesc_static",
    ".popsection",
);
#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".pushsection .text.rivet_tlsdesc_static,\"ax\",@progbits",
    ".p2align 2",
    ".globl rivet_tlsdesc_static",
    ".hidden rivet_tlsdesc_static",
    ".type rivet_tlsdesc_static,%function",
    "rivet_tlsdesc_static:",
    "ldr x0, [x0, #8]",
    "ret",
    ".size rivet_tlsdesc_static, . - rivet_tlsdesc_static",
    ".popsection",
);

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
extern "C" {
    /// Not callable from Rust (its convention is the descriptor's own);
    /// only its address is used.
    fn rivet_tlsdesc_static();
}

/// The address of the static-TLS descriptor resolver (0 where there is none).
pub(crate) fn tlsdesc_static() -> u64 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        rivet_tlsdesc_static as *const () as u64
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

// The TLS descriptor resolver for dynamic blocks (x86-64): the descriptor's
// second word packs (module key << 32 | offset). It must keep every
// register but %rax, and it calls Rust code (which may call malloc, whose
// string functions use vector registers), so it saves the general-purpose
// registers the call may clobber and the whole extended state with
// `xsave` into a stack area of `RIVET_XSAVE_SIZE` bytes (the size CPUID
// reports for the enabled state components), 64-byte aligned.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".pushsection .text.rivet_tlsdesc_dynamic,\"ax\",@progbits",
    ".p2align 4",
    ".globl rivet_tlsdesc_dynamic",
    ".hidden rivet_tlsdesc_dynamic",
    ".type rivet_tlsdesc_dynamic,@function",
    "rivet_tlsdesc_dynamic:",
    "push rbp",
    "mov rbp, rsp",
    "push rdi",
    "push rsi",
    "push rdx",
    "push rcx",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "mov r11, qword ptr [rax + 8]",
    // The xsave area and a 16-byte (key, offset) pair below it.
    "sub rsp, qword ptr [rip + {xsave_size}]",
    "sub rsp, 16",
    "and rsp, -64",
    // xrstor requires the header's reserved bytes to be zero.
    "xor eax, eax",
    "mov qword ptr [rsp + 512], rax",
    "mov qword ptr [rsp + 520], rax",
    "mov qword ptr [rsp + 528], rax",
    "mov qword ptr [rsp + 536], rax",
    "mov qword ptr [rsp + 544], rax",
    "mov qword ptr [rsp + 552], rax",
    "mov qword ptr [rsp + 560], rax",
    "mov qword ptr [rsp + 568], rax",
    "mov eax, -1",
    "mov edx, -1",
    "xsave [rsp]",
    "mov rdi, qword ptr [rip + {xsave_size}]",
    "add rdi, rsp",
    "mov rsi, r11",
    "shr rsi, 32",
    "mov qword ptr [rdi], rsi",
    "mov esi, r11d",
    "mov qword ptr [rdi + 8], rsi",
    "call {get_addr}",
    "sub rax, qword ptr fs:[0]",
    "mov r11, rax",
    "mov eax, -1",
    "mov edx, -1",
    "xrstor [rsp]",
    "mov rax, r11",
    "lea rsp, [rbp - 64]",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rcx",
    "pop rdx",
    "pop rsi",
    "pop rdi",
    "pop rbp",
    "ret",
    ".size rivet_tlsdesc_dynamic, . - rivet_tlsdesc_dynamic",
    ".popsection",
    get_addr = sym super::tls::rivet_tls_get_addr,
    // By `sym`, never by a name exported from the library: in a shared
    // object (the Python extension) a RIP-relative load of an exported,
    // preemptible symbol cannot be linked.
    xsave_size = sym RIVET_XSAVE_SIZE,
);

/// Bytes of the `xsave` area for the enabled state components (0 until
/// measured, or without `xsave`); read by `rivet_tlsdesc_dynamic`.
#[cfg(target_arch = "x86_64")]
static mut RIVET_XSAVE_SIZE: u64 = 0;

#[cfg(target_arch = "x86_64")]
extern "C" {
    /// Not callable from Rust; only its address is used.
    fn rivet_tlsdesc_dynamic();
}

/// The address of the dynamic descriptor resolver, 0 where there is none.
pub(crate) fn tlsdesc_dynamic() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        static MEASURED: OnceLock<u64> = OnceLock::new();
        let size = *MEASURED.get_or_init(|| {
            if !std::arch::is_x86_feature_detected!("xsave") {
                return 0;
            }
            // CPUID leaf 0xD exists where xsave does; sub-leaf 0's EBX is
            // the area size for the components XCR0 enables.
            let ebx = std::arch::x86_64::__cpuid_count(0xd, 0).ebx;
            let size = u64::from(ebx).next_multiple_of(64);
            // SAFETY: written once, before the resolver's address is handed
            // out (OnceLock orders it before every later read of MEASURED,
            // and code reaches the resolver only through a descriptor
            // written after this returns).
            unsafe { RIVET_XSAVE_SIZE = size };
            size
        });
        if size == 0 {
            0
        } else {
            rivet_tlsdesc_dynamic as *const () as u64
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

#[cfg(test)]
mod tests;
