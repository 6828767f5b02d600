//! The soak test: a fixed 100,000 cycles of add → finalize → call → remove
//! on one engine, with the committed bytes and the kernel memory areas
//! (`/proc/self/maps`) flat after warm-up.
//!
//! The object is compiled once; each cycle links the same bytes again, so
//! the cycle measures the linker and the arena, not code generation. The
//! arena's mode is the environment's (`RIVET_ARENA_MODE`), so CI runs it in
//! both.

use std::time::Instant;

use crate::common::*;
use crate::memory::{engine_over, SharedArena};
use rivet::memory::ArenaConfig;

const CYCLES: usize = 100_000;
const WARM_UP: usize = 1_000;

#[test]
fn one_hundred_thousand_add_finalize_call_remove_cycles_stay_flat() {
    let object = object(
        r#"@hits = global i64 0
           define i64 @soak(i64 %x) {
             %h = load i64, ptr @hits
             %n = add i64 %h, 1
             store i64 %n, ptr @hits
             %r = mul i64 %x, 3
             %s = add i64 %r, %n
             ret i64 %s }"#,
        "soak",
    );
    let shared = SharedArena::new(ArenaConfig::default());
    let engine = engine_over(Box::new(shared.clone()));
    // A module that stays, so the arena is never empty.
    engine.add_module(module("define i32 @resident() { ret i32 11 }", "resident"));
    engine.finalize_object().unwrap();

    let started = Instant::now();
    let mut warm = None;
    for cycle in 0..CYCLES {
        let id = engine.add_object_bytes(object.clone(), "soak.o").unwrap();
        engine.finalize_object().unwrap();
        let soak = engine.get_function_address("soak").unwrap();
        let x = cycle as i64;
        assert_eq!(
            // SAFETY: finalized `i64 (i64)`; each cycle's module is fresh, so
            // its counter starts at zero and the call makes it one.
            unsafe { call1::<i64, i64>(soak, x) },
            3 * x + 1,
            "cycle {cycle}"
        );
        engine.remove_module(id).unwrap();
        if cycle + 1 == WARM_UP {
            let stats = engine.memory_stats();
            warm = Some((stats, shared.areas_in_maps()));
        }
    }
    let elapsed = started.elapsed();
    let (warm, warm_areas) = warm.unwrap();
    let end = engine.memory_stats();
    let end_areas = shared.areas_in_maps();
    eprintln!(
        "soak ({:?} arena): {CYCLES} cycles in {elapsed:.2?} ({:.1?} a cycle); \
         committed {} bytes, {} mappings ({} in /proc/self/maps), {} region(s)",
        shared.arena().mode(),
        elapsed / CYCLES as u32,
        end.committed_bytes,
        end.mappings,
        end_areas,
        end.regions,
    );
    assert_eq!(end.allocations, 1, "only the resident module is left");
    assert_eq!(
        end.committed_bytes, warm.committed_bytes,
        "committed bytes stay flat"
    );
    assert_eq!(
        end.mappings, warm.mappings,
        "the arena's mappings stay flat"
    );
    assert_eq!(end_areas, warm_areas, "/proc/self/maps stays flat");
    assert_eq!(end.mappings, end_areas);
    assert_eq!(end.regions, 1, "no growth");
    assert_eq!(end.reserved_bytes, warm.reserved_bytes);
    assert!(engine.get_function_address("soak").is_err(), "removed");
    assert_eq!(
        // SAFETY: finalized `i32 ()`.
        unsafe { call0::<i32>(engine.get_function_address("resident").unwrap()) },
        11
    );
}
