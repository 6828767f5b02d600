//! Thread-local storage for JIT code.
//!
//! rivet supports the dynamic TLS models x86-64 PIC code uses: general
//! dynamic (`R_X86_64_TLSGD`) and local dynamic (`R_X86_64_TLSLD` with
//! `R_X86_64_DTPOFF32/64`). The linker gives each module with thread-locals
//! a process-wide key and puts (key, offset) pairs in its GOT; calls to
//! `__tls_get_addr` reach [`rivet_tls_get_addr`], which finds or creates the
//! calling thread's copy of that module's block, initialized from the
//! module's `.tdata` image with `.tbss` zeroed. The static models
//! (initial exec, local exec) need the process's static TLS area and are
//! refused when the object is loaded.
//!
//! A thread's blocks are freed when the thread exits; removing a module
//! frees the calling thread's block at once and other threads' at their exit.

use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::link::TlsTemplate;

static TEMPLATES: RwLock<BTreeMap<u64, TlsTemplate>> = RwLock::new(BTreeMap::new());

/// One thread's copy of one module's block.
struct Block {
    key: u64,
    ptr: *mut u8,
    layout: Layout,
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed(layout)` in `create_block`
        // and is freed exactly once, here.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

std::thread_local! {
    /// This thread's blocks, most recently created first.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Makes module `template.key`'s block available to every thread.
pub(crate) fn register(template: TlsTemplate) {
    TEMPLATES
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(template.key, template);
}

/// Forgets module `key`'s block (and frees this thread's copy).
pub(crate) fn unregister(key: u64) {
    TEMPLATES
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&key);
    // During thread teardown the list may already be gone: nothing to free.
    let _ = BLOCKS.try_with(|b| b.borrow_mut().retain(|block| block.key != key));
}

fn create_block(key: u64) -> Option<Block> {
    let template = *TEMPLATES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)?;
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
    // SAFETY: the image is `image_size` readable bytes of the module's
    // finalized read-only segment (the template is unregistered before the
    // module's memory is freed), and the block holds at least that many.
    unsafe {
        std::ptr::copy_nonoverlapping(
            template.image as *const u8,
            ptr,
            template.image_size.min(template.size) as usize,
        )
    };
    Some(Block { key, ptr, layout })
}

/// rivet's `__tls_get_addr`: the address of `offset` in the calling
/// thread's copy of module `key`'s block, from the pair `index` points at.
/// Returns null for a module that is gone.
///
/// # Safety
/// `index` must point at a (key, offset) pair the linker wrote.
pub unsafe extern "C" fn rivet_tls_get_addr(index: *const [u64; 2]) -> *mut u8 {
    // SAFETY: guaranteed by the caller (JIT code passes its GOT pair).
    let [key, offset] = unsafe { *index };
    BLOCKS
        .try_with(|blocks| {
            let mut blocks = blocks.borrow_mut();
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
