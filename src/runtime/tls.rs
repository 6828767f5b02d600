//! Thread-local storage for JIT code.
//!
//! rivet supports the dynamic TLS models x86-64 PIC code uses: general
//! dynamic (`R_X86_64_TLSGD`) and local dynamic (`R_X86_64_TLSLD` with
//! `R_X86_64_DTPOFF32/64`). The linker gives each module with thread-locals
//! a process-wide key and puts (key, offset) pairs in its GOT; calls to
//! `__tls_get_addr` reach [`rivet_tls_get_addr`], which finds or creates the
//! calling thread's copy of that module's block, initialized from the
//! module's `.tdata` image with `.tbss` zeroed. The static models
//! (initial exec, local exec) get a piece of the static TLS rivet
//! reserves ([`super::static_tls`]); [`register`] writes its initial values
//! into every thread rivet knows and into the image new threads start from.
//!
//! Mach-O thread-local variables reach the same dynamic blocks: code calls
//! the getter a variable's descriptor names (`__tlv_bootstrap`, which is
//! [`tlv_getter`]'s) with the descriptor, whose second and third words the
//! linker made the module's key and the variable's offset in its block.
//!
//! A thread's blocks are freed when the thread exits. Removing a module
//! frees its block in every thread at once: each thread's list of blocks
//! is shared (behind its own lock) with a process-wide registry of threads,
//! so what threads hold is bounded by the live modules, not by every
//! module a long-lived thread ever touched.
//!
//! Lock order: the static-TLS pieces (`static_tls::PIECES`, never held
//! while taking another), then `TEMPLATES`, then `THREADS`, then one
//! thread's own lock. A thread's lock also guards its static-TLS address,
//! which it clears on exit (before its memory goes), so a link that copies
//! initial values into other threads never writes into a thread that is gone.

use std::alloc::Layout;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use crate::link::TlsTemplate;

static TEMPLATES: RwLock<BTreeMap<u64, TlsTemplate>> = RwLock::new(BTreeMap::new());

/// One thread's copy of one module's block.
struct Block {
    key: u64,
    ptr: *mut u8,
    /// `None`: the thread's piece of static TLS, not heap memory.
    layout: Option<Layout>,
}

// SAFETY: a block is heap memory owned by this value alone; the global
// allocator frees it from any thread (`unregister` may drop another
// thread's block, under that thread's lock, once the module is gone).
unsafe impl Send for Block {}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(layout) = self.layout {
            // SAFETY: `ptr` came from `alloc_zeroed(layout)` in
            // `create_block` and is freed exactly once, here.
            unsafe { std::alloc::dealloc(self.ptr, layout) };
        }
    }
}

/// One thread's dynamic blocks, most recently created first, and the
/// address of its copy of the static reservation (0 once it exits).
#[derive(Default)]
struct ThreadState {
    blocks: Vec<Block>,
    static_base: usize,
}

/// One thread's state. The thread takes the lock on every look-up
/// (uncontended but for a removal or a link).
#[derive(Default)]
struct ThreadBlocks(Mutex<ThreadState>);

impl ThreadBlocks {
    fn lock(&self) -> std::sync::MutexGuard<'_, ThreadState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The thread's handle on its state; dropped when the thread exits.
struct ThreadHandle(Arc<ThreadBlocks>);

impl Drop for ThreadHandle {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        // The thread's static TLS goes with the thread: nobody may write
        // it from now on. Its blocks are freed here too.
        state.static_base = 0;
        state.blocks.clear();
    }
}

/// Every thread that has blocks (or had: dead entries are pruned).
static THREADS: Mutex<Vec<Weak<ThreadBlocks>>> = Mutex::new(Vec::new());

std::thread_local! {
    /// This thread's blocks; dropped (and freed) when the thread exits.
    static BLOCKS: ThreadHandle = {
        let blocks = Arc::new(ThreadBlocks::default());
        blocks.lock().static_base = super::static_tls::current_base().unwrap_or(0);
        let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain(|thread| thread.strong_count() > 0);
        threads.push(Arc::downgrade(&blocks));
        ThreadHandle(blocks)
    };
}

/// Makes the calling thread known to rivet's TLS run time, so that modules
/// linked later with thread-locals in the static TLS models (local and
/// initial exec) get their initial values copied into this thread's copy.
/// Threads created after such a module is linked need not call it; a
/// thread that exists before, does not call it, and runs the module's code
/// sees its copy uninitialized. Idempotent.
pub fn register_thread() {
    let _ = BLOCKS.try_with(|_| ());
}

/// Every live thread rivet knows.
fn live_threads() -> Vec<Arc<ThreadBlocks>> {
    let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    threads.retain(|thread| thread.strong_count() > 0);
    threads.iter().filter_map(Weak::upgrade).collect()
}

/// Makes module `template.key`'s block available to every thread: its
/// dynamic block on demand, and its static-TLS piece, if it has one, filled
/// in every thread rivet knows (the link wrote the image new threads start
/// from).
pub(crate) fn register(template: TlsTemplate) {
    if let Some((offset, size)) = super::static_tls::piece_of(template.key) {
        register_thread();
        // SAFETY: the module's finalized read-only segment outlives its
        // registration.
        let image = unsafe { initial_image(&template) };
        // The image new threads start from was written at link time.
        for thread in live_threads() {
            let state = thread.lock();
            if state.static_base != 0 {
                // SAFETY: `static_base` is that thread's copy of the
                // reservation, alive while it is non-zero (the thread clears
                // it under this lock before it exits); the piece lies inside
                // it; the module's code is not published yet, so no thread
                // reads or writes these bytes meanwhile.
                unsafe {
                    super::static_tls::fill((state.static_base + offset) as *mut u8, image, size)
                };
            }
        }
    }
    TEMPLATES
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(template.key, template);
}

/// The bytes a thread's copy of `template`'s block starts with: at most
/// the block's size. An empty image (a module with only `.tbss`, or a
/// `.tdata` of no bytes) may have no address at all; it is an empty slice.
///
/// # Safety
/// The template's module must still be linked: `image` is then `image_size`
/// readable bytes of its finalized read-only segment.
unsafe fn initial_image(template: &TlsTemplate) -> &[u8] {
    let len = template.image_size.min(template.size) as usize;
    if len == 0 || template.image == 0 {
        return &[];
    }
    // SAFETY: the caller keeps the module linked; its read-only segment
    // holds the image at `image`, `image_size` bytes long.
    unsafe { std::slice::from_raw_parts(template.image as *const u8, len) }
}

/// Forgets module `key`'s block and frees every thread's copy of it.
///
/// The template goes first: a thread that creates its copy does so under
/// its own lock, reading the template there, so either it sees the
/// template gone or its new copy is in its list before this takes the lock
/// and frees it.
pub(crate) fn unregister(key: u64) {
    super::static_tls::release(key);
    TEMPLATES
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&key);
    for thread in live_threads() {
        // Dropped outside the lock: freeing is the allocator's business.
        let gone: Vec<Block> = {
            let mut state = thread.lock();
            let (gone, kept) = std::mem::take(&mut state.blocks)
                .into_iter()
                .partition(|block| block.key == key);
            state.blocks = kept;
            gone
        };
        drop(gone);
    }
}

fn create_block(key: u64) -> Option<Block> {
    let template = *TEMPLATES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)?;
    // A module with a piece of static TLS has one copy per thread, there:
    // `__tls_get_addr` returns it too, so that every TLS model in the
    // module reaches the same variable.
    if let Some((offset, _)) = super::static_tls::piece_of(key) {
        let base = super::static_tls::current_base()?;
        return Some(Block {
            key,
            ptr: (base + offset) as *mut u8,
            layout: None,
        });
    }
    let layout = Layout::from_size_align(
        template.size.max(1) as usize,
        template.align.max(1) as usize,
    )
    .ok()?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the template is unregistered before the module's memory is
    // freed, so its image is readable here.
    let image = unsafe { initial_image(&template) };
    // SAFETY: the block holds `template.size` bytes, at least the image's
    // length (`initial_image` caps it there); `ptr` is fresh, so the two
    // do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), ptr, image.len()) };
    Some(Block {
        key,
        ptr,
        layout: Some(layout),
    })
}

/// rivet's `__tls_get_addr`: the address of `offset` in the calling
/// thread's copy of module `key`'s block, from the pair `index` points at.
/// Returns null for a module that is gone.
///
/// # Safety
/// `index` must point at a (key, offset) pair the linker wrote.
pub(crate) unsafe extern "C" fn rivet_tls_get_addr(index: *const [u64; 2]) -> *mut u8 {
    // SAFETY: guaranteed by the caller (JIT code passes its GOT pair).
    let [key, offset] = unsafe { *index };
    BLOCKS
        .try_with(|handle| {
            let mut state = handle.0.lock();
            let blocks = &mut state.blocks;
            let base = match blocks.iter().find(|b| b.key == key) {
                Some(block) => block.ptr,
                None => match create_block(key) {
                    Some(block) => {
                        let ptr = block.ptr;
                        blocks.insert(0, block);
                        ptr
                    }
                    None => return std::ptr::null_mut(),
                },
            };
            base.wrapping_add(offset as usize)
        })
        .unwrap_or(std::ptr::null_mut())
}

/// The address of `descriptor`'s variable in the calling thread: the
/// descriptor is Mach-O's (getter, module key, offset in the block).
/// Returns null for a module that is gone.
///
/// # Safety
/// `descriptor` must point at a descriptor the linker wrote.
unsafe extern "C" fn rivet_tlv_address(descriptor: *const [u64; 3]) -> *mut u8 {
    // SAFETY: guaranteed by the caller (the getter passes JIT code's
    // descriptor on).
    let [_, key, offset] = unsafe { *descriptor };
    // SAFETY: a (key, offset) pair, as `rivet_tls_get_addr` reads it.
    unsafe { rivet_tls_get_addr(&[key, offset]) }
}

// The getter of Mach-O thread-local variable descriptors on x86-64. Code
// calls it as `call *(%rdi)` with the descriptor in %rdi and gets the
// variable's address in %rax; it may count on every general register but
// %rax and %rdi being kept (LLVM's `CSR_64_TLS_Darwin`: the callee-saved
// ones and %rcx, %rdx, %rsi, %r8-%r11), and on no vector register. So it
// saves those the call into Rust may clobber, aligns the stack and calls
// `rivet_tlv_address`.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".pushsection .text.rivet_tlv_get_addr,\"ax\",@progbits",
    ".p2align 4",
    ".globl rivet_tlv_get_addr",
    ".hidden rivet_tlv_get_addr",
    ".type rivet_tlv_get_addr,@function",
    "rivet_tlv_get_addr:",
    "push rbp",
    "mov rbp, rsp",
    "push rcx",
    "push rdx",
    "push rsi",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "and rsp, -16",
    "call {address}",
    "lea rsp, [rbp - 56]",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rbp",
    "ret",
    ".size rivet_tlv_get_addr, . - rivet_tlv_get_addr",
    ".popsection",
    address = sym rivet_tlv_address,
);

#[cfg(target_arch = "x86_64")]
extern "C" {
    /// Not callable from Rust (its convention is the descriptor's own);
    /// only its address is used.
    fn rivet_tlv_get_addr();
}

/// The address of the Mach-O descriptor getter for this host's code (0
/// where there is none: only x86-64 has one).
pub(crate) fn tlv_getter() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        rivet_tlv_get_addr as *const () as u64
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}
