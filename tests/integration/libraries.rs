//! JIT libraries (ORC's JITDylibs, llvmlite's `JITLibraryBuilder`): link
//! order and imports, export lists, private names, the process only when
//! asked for, constructors at link, destructors once at dispose, memory
//! back, and a library that another one binds to.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::common::*;
use rivet::llvm::{CodeModel, RelocModel};
use rivet::{Error, ExecutionEngine, LibraryBuilder};

fn engine() -> ExecutionEngine {
    let mut engine = ExecutionEngine::with_lmm(None).expect("engine");
    engine.set_target_machine(machine(RelocModel::Pic, CodeModel::Small));
    engine
}

const SUM: &str = "define i64 @sum(i64 %a, i64 %b) { %r = add i64 %a, %b\n ret i64 %r }";

/// Links library `name` holding `sum`, exported.
fn link_sum(engine: &ExecutionEngine, name: &str) -> rivet::LinkedLibrary {
    engine
        .link_library(
            name,
            LibraryBuilder::new()
                .add_ir(module(SUM, name))
                .export_symbol("sum"),
        )
        .unwrap()
}

extern "C" fn host_scale(x: i64) -> i64 {
    x * 10
}

#[test]
fn link_order_and_imports_resolve_a_librarys_undefined_names() {
    let engine = engine();
    let sum = link_sum(&engine, "sum");
    assert_eq!(sum.exports[0].0, "sum");
    let user = engine
        .link_library(
            "user",
            LibraryBuilder::new()
                .add_ir(module(
                    "declare i64 @sum(i64, i64)\ndeclare i64 @scale(i64)\n\
                     define i64 @user(i64 %x) {\n\
                       %s = call i64 @sum(i64 %x, i64 2)\n\
                       %r = call i64 @scale(i64 %s)\n ret i64 %r }",
                    "user",
                ))
                .add_library("sum")
                .import_symbol("scale", host_scale as *const () as u64)
                .export_symbol("user"),
        )
        .unwrap();
    let f = user.exports[0].1;
    assert_eq!(engine.lookup_in_library("user", "user").unwrap(), f);
    // SAFETY: a linked `i64 (i64)`.
    assert_eq!(unsafe { call1::<i64, i64>(f, 4) }, 60);
    // The engine's own namespace does not see libraries.
    assert!(matches!(
        engine.get_function_address("user"),
        Err(Error::SymbolNotFound(_))
    ));
}

#[test]
fn a_name_not_exported_is_not_visible_and_private_names_do_not_clash() {
    let engine = engine();
    let private = |value: i64, entry: &str| {
        format!(
            "define i64 @helper() {{ ret i64 {value} }}\n\
             define i64 @{entry}() {{ %v = call i64 @helper()\n ret i64 %v }}"
        )
    };
    for (name, value) in [("one", 1), ("two", 2)] {
        engine
            .link_library(
                name,
                LibraryBuilder::new()
                    .add_ir(module(&private(value, &format!("entry_{name}")), name))
                    .export_symbol(&format!("entry_{name}")),
            )
            .unwrap();
    }
    for (name, value) in [("one", 1i64), ("two", 2)] {
        let f = engine
            .lookup_in_library(name, &format!("entry_{name}"))
            .unwrap();
        assert_eq!(
            // SAFETY: a linked `i64 ()`.
            unsafe { call0::<i64>(f) },
            value,
            "each uses its own helper"
        );
        assert!(matches!(
            engine.lookup_in_library(name, "helper"),
            Err(Error::SymbolNotFound(ref n)) if n == "helper"
        ));
    }
    // A library linking against `one` cannot reach its unexported helper.
    let err = engine
        .link_library(
            "needs_helper",
            LibraryBuilder::new()
                .add_ir(module(
                    "declare i64 @helper()\n\
                     define i64 @outer() { %v = call i64 @helper()\n ret i64 %v }",
                    "outer",
                ))
                .add_library("one")
                .export_symbol("outer"),
        )
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("Failed to materialize symbols: { (needs_helper, { outer }) }"),
        "{message}"
    );
    assert!(message.contains("helper"), "{message}");
    assert!(matches!(
        engine.lookup_in_library("needs_helper", "outer"),
        Err(Error::LibraryNotFound(_))
    ));
    assert!(matches!(
        engine.lookup_in_library("nowhere", "outer"),
        Err(Error::LibraryNotFound(_))
    ));
}

#[test]
fn the_process_resolves_only_when_asked_for() {
    let ir = "declare i64 @labs(i64)\n\
              define i64 @absolute(i64 %x) { %r = call i64 @labs(i64 %x)\n ret i64 %r }";
    let engine = engine();
    let err = engine
        .link_library(
            "isolated",
            LibraryBuilder::new()
                .add_ir(module(ir, "isolated"))
                .export_symbol("absolute"),
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::LibraryLink { source, .. }
            if matches!(**source, Error::UnresolvedSymbols { .. })),
        "{err}"
    );
    let linked = engine
        .link_library(
            "with_process",
            LibraryBuilder::new()
                .add_current_process()
                .add_ir(module(ir, "with_process"))
                .export_symbol("absolute"),
        )
        .unwrap();
    // SAFETY: a linked `i64 (i64)`.
    assert_eq!(unsafe { call1::<i64, i64>(linked.exports[0].1, -7) }, 7);
}

#[test]
fn imports_can_be_exported_and_a_missing_export_is_an_error() {
    let engine = engine();
    let linked = engine
        .link_library(
            "foo",
            LibraryBuilder::new()
                .import_symbol("__xyzzy", 1234)
                .export_symbol("__xyzzy"),
        )
        .unwrap();
    assert_eq!(linked.exports, [("__xyzzy".to_string(), 1234)]);
    assert_eq!(engine.lookup_in_library("foo", "__xyzzy").unwrap(), 1234);
    let err = engine
        .link_library("bar", LibraryBuilder::new().export_symbol("nothing"))
        .unwrap_err();
    assert!(err.to_string().contains("nothing"), "{err}");
    // A live library's name cannot be taken.
    assert!(matches!(
        engine.link_library("foo", LibraryBuilder::new()),
        Err(Error::LibraryExists(_))
    ));
}

static CTOR_DTOR: AtomicI64 = AtomicI64::new(0);

extern "C" fn count_ctor() {
    CTOR_DTOR.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn count_dtor() {
    CTOR_DTOR.fetch_add(100, Ordering::SeqCst);
}

#[test]
fn constructors_run_at_link_destructors_once_at_dispose_and_memory_comes_back() {
    let engine = engine();
    let empty = engine.memory_stats();
    let ir = r#"declare void @count_ctor()
        declare void @count_dtor()
        define internal void @init() { call void @count_ctor()
          ret void }
        define internal void @fini() { call void @count_dtor()
          ret void }
        define i64 @answer() { ret i64 42 }
        @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }]
          [{ i32, ptr, ptr } { i32 65535, ptr @init, ptr null }]
        @llvm.global_dtors = appending global [1 x { i32, ptr, ptr }]
          [{ i32, ptr, ptr } { i32 65535, ptr @fini, ptr null }]"#;
    for round in 0..3i64 {
        let linked = engine
            .link_library(
                "counted",
                LibraryBuilder::new()
                    .add_ir(module(ir, "counted"))
                    .import_symbol("count_ctor", count_ctor as *const () as u64)
                    .import_symbol("count_dtor", count_dtor as *const () as u64)
                    .export_symbol("answer"),
            )
            .unwrap();
        assert_eq!(
            CTOR_DTOR.load(Ordering::SeqCst),
            round * 101 + 1,
            "constructor ran"
        );
        let stats = engine.library_memory_stats(linked.id).unwrap();
        assert!(stats.bytes() > 0);
        // SAFETY: a linked `i64 ()`.
        assert_eq!(unsafe { call0::<i64>(linked.exports[0].1) }, 42);
        engine.dispose_library(linked.id).unwrap();
        assert_eq!(
            CTOR_DTOR.load(Ordering::SeqCst),
            round * 101 + 101,
            "destructor ran once"
        );
        assert!(matches!(
            engine.dispose_library(linked.id),
            Err(Error::LibraryNotFound(_))
        ));
        assert!(matches!(
            engine.lookup_in_library("counted", "answer"),
            Err(Error::LibraryNotFound(_))
        ));
        let now = engine.memory_stats();
        assert_eq!(now.allocations, empty.allocations, "round {round}");
        assert_eq!(now.live_bytes, empty.live_bytes, "round {round}");
    }
    drop(engine);
    assert_eq!(CTOR_DTOR.load(Ordering::SeqCst), 303, "nothing runs twice");
}

#[test]
fn a_library_another_one_binds_to_keeps_its_memory_until_that_one_goes() {
    let engine = engine();
    let sum = link_sum(&engine, "sum");
    let user = engine
        .link_library(
            "user",
            LibraryBuilder::new()
                .add_ir(module(
                    "declare i64 @sum(i64, i64)\n\
                     define i64 @twice(i64 %x) { %r = call i64 @sum(i64 %x, i64 %x)\n ret i64 %r }",
                    "user",
                ))
                .add_library("sum")
                .export_symbol("twice"),
        )
        .unwrap();
    engine.dispose_library(sum.id).unwrap();
    assert_eq!(engine.quiesce(), 1, "sum is kept: user binds to it");
    for k in 0..32 {
        let other = link_sum(&engine, &format!("other{k}"));
        engine.dispose_library(other.id).unwrap();
        // SAFETY: `user` is live and its binding keeps `sum`'s code.
        assert_eq!(unsafe { call1::<i64, i64>(user.exports[0].1, 21) }, 42);
    }
    engine.dispose_library(user.id).unwrap();
    assert_eq!(engine.quiesce(), 0);
    assert_eq!(engine.memory_stats().allocations, 0);
    // The name can be linked again.
    link_sum(&engine, "sum");
}

#[test]
fn assembly_and_objects_are_units_too() {
    let engine = engine();
    let asm = engine
        .link_library(
            "asm",
            LibraryBuilder::new()
                .add_native_assembly(".text\n.globl seven\nseven:\n movl $7, %eax\n retq\n")
                .export_symbol("seven"),
        )
        .unwrap();
    // SAFETY: `int seven(void)`.
    assert_eq!(unsafe { call0::<i32>(asm.exports[0].1) }, 7);
    let obj = engine
        .link_library(
            "obj",
            LibraryBuilder::new()
                .add_object(object(SUM, "sum"), "sum.o")
                .export_symbol("sum"),
        )
        .unwrap();
    assert_eq!(
        // SAFETY: a linked `i64 (i64, i64)`.
        unsafe { call2::<i64, i64, i64>(obj.exports[0].1, 40, 2) },
        42
    );
}
