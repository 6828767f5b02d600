//! Links one benchmark case with rivet again and again, for profilers
//! (`perf record`, `valgrind --tool=callgrind`): the clock, the bundle and
//! the engine calls are those of `rivet bench`'s rivet row.
//!
//! ```text
//! cargo run --release -p rivet-tools --example link_loop -- [--case 5k|5k-sections|1k-modules]
//!     [--links N] [--write-object FILE] [--object FILE]
//! ```
//!
//! `--write-object` saves the case's (first) object and exits; `--object`
//! links a saved object instead of compiling the case (no LLVM code
//! generation under a profiler). Under callgrind, count only the link:
//! `--collect-atstart=no --toggle-collect='rivet::engine::ExecutionEngine::add_object_bytes'`
//! `--toggle-collect='rivet::engine::ExecutionEngine::finalize_object'`
//! `--toggle-collect='rivet::engine::ExecutionEngine::get_function_address'`.

use rivet_tools::bench::gen::{Spec, Split};
use rivet_tools::bench::inputs;
use rivet_tools::bench::linkers::{self, Linker};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut case, mut links) = ("5k".to_string(), 200usize);
    let (mut object, mut write_object) = (None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--case" => case = value()?,
            "--links" => links = value()?.parse()?,
            "--object" => object = Some(value()?),
            "--write-object" => write_object = Some(value()?),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let spec = match case.as_str() {
        "5k" => Spec::single(5_000),
        "5k-sections" => Spec {
            sections: true,
            ..Spec::single(5_000)
        },
        "1k-modules" => Spec {
            split: Split::Linked,
            ..Spec::single(1_000)
        },
        other => return Err(format!("unknown case `{other}`").into()),
    };
    let (objects, lookups) = match &object {
        Some(path) => {
            let bytes = std::fs::read(path)?;
            (vec![(path.clone(), bytes)], spec.lookups())
        }
        None => {
            let compiled = inputs::compile(&spec)?;
            (compiled.objects, compiled.lookups)
        }
    };
    if let Some(path) = write_object {
        let first = objects.first().ok_or("the case has no object")?;
        std::fs::write(path, &first.1)?;
        return Ok(());
    }
    let mut times = Vec::with_capacity(links);
    for _ in 0..links.max(1) {
        let time = linkers::link(Linker::Rivet, &objects, &lookups, &mut |_| Ok(()))?;
        times.push(time.as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{case}: {} links, median {:.3} ms, min {:.3} ms",
        times.len(),
        times[times.len() / 2],
        times[0]
    );
    Ok(())
}
