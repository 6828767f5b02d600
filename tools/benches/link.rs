//! `cargo bench`: rivet against LLJIT (RuntimeDyld and JITLink layers) and
//! the floor, linking the same object bytes. The inputs come from rivet's
//! benchmark generator and are compiled once, before anything is timed;
//! each iteration links into a fresh linker instance (see
//! `rivet_tools::bench::linkers` for what the clock covers).
//!
//! `rivet bench` prints the fuller table (RSS, committed bytes, mappings,
//! MCJIT end to end, code speed) from one process per linker.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rivet_tools::bench::gen::{Spec, Split};
use rivet_tools::bench::inputs::{self, Objects};
use rivet_tools::bench::linkers::{self, Linker};

fn bench_case(c: &mut Criterion, group_name: &str, objects: &Objects) {
    let mut group = c.benchmark_group(group_name);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(objects.relocations as u64));
    for linker in Linker::ALL {
        group.bench_function(linker.name(), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total +=
                        linkers::link(linker, &objects.objects, &objects.lookups, &mut |_| Ok(()))
                            .unwrap_or_else(|e| panic!("{}: {e}", linker.name()));
                }
                total
            })
        });
    }
    group.finish();
}

fn link_5k(c: &mut Criterion) {
    let objects = inputs::compile(&Spec::single(5_000)).expect("compile the 5k object");
    bench_case(c, "link-5k", &objects);
}

fn link_1k_modules(c: &mut Criterion) {
    let spec = Spec {
        split: Split::Linked,
        ..Spec::single(1_000)
    };
    let objects = inputs::compile(&spec).expect("compile 1k one-function objects");
    bench_case(c, "link-1k-modules", &objects);
}

criterion_group!(benches, link_5k, link_1k_modules);
criterion_main!(benches);
