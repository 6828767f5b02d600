//! Holds N one-function modules in one engine, each added, finalized and
//! looked up on its own (the modules of `rivet bench`'s memory case), and
//! prints how much the malloc heap grew: rivet's bookkeeping a module
//! (issue 16 asks for at most 512 bytes with 2,000 modules).
//!
//! ```text
//! cargo run --release -p rivet-tools --example hold_modules -- [N]   # N = 2000
//! ```
//!
//! The heap is glibc's `mallinfo2` count of bytes handed out; the modules'
//! own sections live in the engine's arena, outside it. Under
//! `valgrind --tool=massif` the peak snapshot shows where the bytes are.

use rivet_tools::bench::gen::{self, Spec, Split};
use rivet_tools::bench::inputs;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_in_use() -> i64 {
    // SAFETY: mallinfo2 only reads the allocator's counters (glibc 2.33+).
    let info = unsafe { libc::mallinfo2() };
    info.uordblks as i64
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_in_use() -> i64 {
    0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 2000,
    };
    let spec = Spec {
        split: Split::Standalone,
        ..Spec::single(count.max(1))
    };
    let objects = inputs::compile(&spec)?.objects;
    let engine = rivet::ExecutionEngine::with_lmm(Some(true))?;
    for (name, address) in gen::externals() {
        engine.add_symbol(name, address);
    }
    let mut ids = Vec::with_capacity(objects.len());
    let before = heap_in_use();
    for (i, (name, bytes)) in objects.iter().enumerate() {
        // The engine frees its copy of the bytes once the module is linked:
        // what stays is its bookkeeping.
        ids.push(engine.add_object_bytes(bytes.clone(), name)?);
        engine.finalize_object()?;
        engine.get_function_address(&format!("f{i}"))?;
    }
    let grown = heap_in_use() - before;
    println!(
        "{} modules held: heap +{} bytes, {} bytes a module",
        ids.len(),
        grown,
        grown / ids.len().max(1) as i64
    );
    Ok(())
}
