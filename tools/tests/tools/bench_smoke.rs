//! The benchmark's competitors are wired up, not timed: the same generated
//! code, linked by rivet, LLJIT with RuntimeDyld, LLJIT with JITLink, and
//! compiled end to end by rivet and by MCJIT, computes what the generator's
//! model says, for every input shape the benchmark uses (at a small N).

use crate::common::call1;
use rivet::load::ObjectFile;
use rivet::Error;
use rivet_tools::bench::floor::FloorPlan;
use rivet_tools::bench::gen::{self, CodeShape, Spec, Split};
use rivet_tools::bench::inputs;
use rivet_tools::bench::linkers::{self, Compiler, Linked, Linker};
use rivet_tools::orc::{Lljit, ObjectBuffer, OrcLinker};

const N: usize = 50;
const DEPTH: i64 = 3;

fn shapes() -> [(&'static str, Spec); 4] {
    [
        ("one object", Spec::single(N)),
        (
            "function and data sections",
            Spec {
                sections: true,
                ..Spec::single(N)
            },
        ),
        (
            "large-model static",
            Spec {
                shape: CodeShape::LargeStatic,
                ..Spec::single(N)
            },
        ),
        (
            "one module per function",
            Spec {
                split: Split::Linked,
                ..Spec::single(N)
            },
        ),
    ]
}

/// Functions to call: a few for one object, every one for split modules.
fn lookups(spec: &Spec) -> Vec<String> {
    if spec.split != Split::No {
        spec.lookups()
    } else {
        ["f0", "f7", "f49"].iter().map(|s| s.to_string()).collect()
    }
}

/// Calls every looked-up function with `DEPTH` and returns (name, result).
fn call_all(linked: &Linked<'_>, names: &[String]) -> Vec<(String, i64)> {
    assert_eq!(linked.addresses.len(), names.len());
    names
        .iter()
        .zip(linked.addresses)
        // SAFETY: each address is a finalized `i64 f(i64)` the linker under
        // test returned for a generated function; the linker is alive.
        .map(|(name, &address)| (name.clone(), unsafe { call1::<i64, i64>(address, DEPTH) }))
        .collect()
}

fn check_against_model(who: &str, results: &[(String, i64)]) {
    assert!(!results.is_empty(), "{who}: nothing was called");
    for (name, got) in results {
        let index: usize = name[1..].parse().unwrap();
        assert_eq!(
            *got,
            gen::expected(N, index, DEPTH as u32),
            "{who}: {name}({DEPTH})"
        );
    }
}

#[test]
fn every_linker_runs_the_same_objects_right() {
    for (shape, spec) in shapes() {
        let objects = inputs::compile(&spec).unwrap();
        let names = lookups(&spec);
        let mut per_linker = Vec::new();
        for linker in [
            Linker::Rivet,
            Linker::Orc(OrcLinker::RuntimeDyld),
            Linker::Orc(OrcLinker::JitLink),
        ] {
            let mut results = Vec::new();
            linkers::link(linker, &objects.objects, &names, &mut |linked| {
                results = call_all(linked, &names);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{shape}: {}: {e}", linker.name()));
            check_against_model(&format!("{shape}: {}", linker.name()), &results);
            per_linker.push(results);
        }
        assert!(per_linker.windows(2).all(|w| w[0] == w[1]), "{shape}");
    }
}

#[test]
fn rivet_and_mcjit_compile_and_link_the_same_ir_right() {
    for (shape, spec) in [shapes()[0], shapes()[3]] {
        let modules = spec.modules();
        let names = lookups(&spec);
        for compiler in Compiler::ALL {
            let mut results = Vec::new();
            linkers::compile_and_link(compiler, &modules, &names, &mut |linked| {
                results = call_all(linked, &names);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{shape}: {}: {e}", compiler.name()));
            check_against_model(&format!("{shape}: {}", compiler.name()), &results);
        }
    }
}

#[test]
fn generated_objects_have_the_documented_shape() {
    let objects = inputs::compile(&Spec::single(N)).unwrap();
    assert_eq!(objects.objects.len(), 1);
    // Five GOT loads, three calls, one .eh_frame entry, one table slot.
    assert_eq!(objects.relocations, 10 * N);
    let (_, bytes) = &objects.objects[0];
    let object = ObjectFile::parse(bytes, "bench.o").unwrap();
    assert!(object.sections.iter().any(|s| s.name == ".eh_frame"));

    let sections = inputs::compile(&Spec {
        sections: true,
        ..Spec::single(N)
    })
    .unwrap();
    // A text, a data and a bss section per function, plus the table and .eh_frame.
    assert!(sections.sections >= 3 * N, "{}", sections.sections);

    let split = inputs::compile(&Spec {
        split: Split::Linked,
        ..Spec::single(N)
    })
    .unwrap();
    assert_eq!(split.objects.len(), N);
    assert_eq!(split.relocations, 10 * N);
}

#[test]
fn floor_touches_every_relocation_site_once() {
    let objects = inputs::compile(&Spec::single(N)).unwrap();
    let parsed: Vec<ObjectFile<'_>> = objects
        .objects
        .iter()
        .map(|(name, bytes)| ObjectFile::parse(bytes, name).unwrap())
        .collect();
    let plan = FloorPlan::new(&parsed).unwrap();
    assert_eq!(plan.sites(), objects.relocations);
    let (image, _) = plan.run();
    assert_eq!(image.len(), plan.size());
    // The text was copied: the image holds the object's code bytes.
    let text = parsed[0]
        .sections
        .iter()
        .find(|s| s.name == ".text")
        .unwrap();
    assert!(image
        .windows(16)
        .any(|w| w == &text.data[text.data.len() - 16..]));
}

#[test]
fn lljit_reports_missing_symbols_and_bad_objects_as_errors() {
    for linker in [OrcLinker::RuntimeDyld, OrcLinker::JitLink] {
        let jit = Lljit::new(linker).unwrap();
        assert_eq!(jit.linker(), linker);
        match jit.lookup("rivet_no_such_symbol") {
            Err(Error::Llvm(message)) => {
                assert!(message.contains("rivet_no_such_symbol"), "{message}")
            }
            other => panic!("{}: {other:?}", linker.name()),
        }
        match jit.lookup_all(&["rivet_no_such_symbol_either"]) {
            Err(Error::Llvm(message)) => {
                assert!(message.contains("rivet_no_such_symbol_either"), "{message}")
            }
            other => panic!("{}: {other:?}", linker.name()),
        }
        // An absolute definition is found by a look-up.
        jit.define_absolute(&[("rivet_absolute", 0x1234)]).unwrap();
        assert_eq!(jit.lookup("rivet_absolute").unwrap(), 0x1234);
        // Defining it again is a duplicate.
        assert!(matches!(
            jit.define_absolute(&[("rivet_absolute", 0x5678)]),
            Err(Error::Llvm(_))
        ));
        let garbage = ObjectBuffer::copy_of(b"not an object at all", "garbage.o").unwrap();
        assert!(matches!(jit.add_object(garbage), Err(Error::Llvm(_))));
        jit.dispose().unwrap();
    }
}

#[test]
fn memory_bench_loads_removes_and_reloads_standalone_modules_with_every_manager() {
    use rivet::memory::ArenaMode;
    use rivet_tools::bench::memory::{self, Manager};
    const MODULES: usize = 24;
    let spec = Spec {
        split: Split::Standalone,
        ..Spec::single(MODULES)
    };
    let objects = inputs::compile(&spec).unwrap();
    assert_eq!(objects.objects.len(), MODULES);
    let warmup = inputs::compile(&Spec {
        functions: 3,
        ..spec
    })
    .unwrap();
    let sections = memory::section_bytes(&objects.objects).unwrap();
    assert!(sections > 100 * MODULES as u64, "{sections}");
    for manager in Manager::ALL {
        // Every function is called and checked against the model inside.
        let figures = memory::measure(manager, &spec, &objects.objects, &warmup.objects)
            .unwrap_or_else(|e| panic!("{}: {e}", manager.name()));
        assert_eq!(figures.modules, MODULES);
        assert!(figures.load_seconds > 0.0);
        match (manager, figures.own) {
            (Manager::Arena, Some(own)) => {
                assert!(own.live >= sections && own.committed >= own.live, "{own:?}");
                // Packed (the default mode): a few mappings whatever the
                // number of modules. The page mode gives each module pages.
                if memory::arena_mode() == ArenaMode::DualMapped {
                    assert!(own.mappings <= 8, "{own:?}");
                }
            }
            (Manager::Sections, Some(own)) => {
                assert!(own.mappings >= MODULES as u64, "{own:?}");
                assert!(own.live >= sections, "{own:?}");
            }
            (Manager::Orc(_), None) => {}
            (m, own) => panic!("{}: {own:?}", m.name()),
        }
    }
}
