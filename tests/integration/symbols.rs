//! Symbol semantics: weak, common, duplicates, missing names, resolution order.

use crate::common::*;
use rivet::Error;

extern "C" fn host_seven() -> i32 {
    7
}

extern "C" fn host_eleven() -> i32 {
    11
}

extern "C" fn fake_sin(_: f64) -> f64 {
    -123.0
}

#[test]
fn strong_beats_an_earlier_weak_definition_in_one_finalize() {
    // The weak module comes first: its own references must still bind to the
    // strong definition (RuntimeDyld binds them to the weak copy).
    let weak = r#"
        @w = weak global i32 1
        define weak i32 @wf() { ret i32 1 }
        define i32 @read_from_weak_module() {
          %v = load i32, ptr @w
          %f = call i32 @wf()
          %r = mul i32 %v, 10
          %s = add i32 %r, %f
          ret i32 %s
        }
    "#;
    let strong = r#"
        @w = global i32 2
        define i32 @wf() { ret i32 2 }
    "#;
    for lmm in BOTH {
        let engine = engine(&[weak, strong], lmm);
        let f = engine
            .get_function_address("read_from_weak_module")
            .unwrap();
        // SAFETY: finalized `i32 ()`.
        assert_eq!(unsafe { call0::<i32>(f) }, 22, "lmm={lmm}");
        let w = engine.get_global_value_address("w").unwrap();
        // SAFETY: `w` is an i32 global.
        assert_eq!(unsafe { *(w as *const i32) }, 2);
    }
}

#[test]
fn first_weak_definition_wins_and_later_objects_bind_to_it() {
    let first = r#"
        @w = weak global i32 100
        define i32 @first_reads() { %v = load i32, ptr @w
          ret i32 %v }
    "#;
    let second = r#"
        @w = weak global i32 200
        define i32 @second_reads() { %v = load i32, ptr @w
          ret i32 %v }
        define void @second_writes(i32 %x) { store i32 %x, ptr @w
          ret void }
    "#;
    let engine = engine(&[first, second], true);
    let a = engine.get_function_address("first_reads").unwrap();
    let b = engine.get_function_address("second_reads").unwrap();
    let wr = engine.get_function_address("second_writes").unwrap();
    // SAFETY: finalized functions of the signatures used.
    unsafe {
        assert_eq!(call0::<i32>(a), 100);
        assert_eq!(call0::<i32>(b), 100, "second binds to the first weak copy");
        call1::<i32, ()>(wr, 5);
        assert_eq!(call0::<i32>(a), 5, "one storage for both");
    }
    // A weak definition arriving in a later finalize binds to the existing one.
    engine.add_module(module(
        r#"@w = weak global i32 300
           define i32 @third_reads() { %v = load i32, ptr @w
             ret i32 %v }"#,
        "third",
    ));
    let c = engine.get_function_address("third_reads").unwrap();
    // SAFETY: finalized `i32 ()`.
    assert_eq!(unsafe { call0::<i32>(c) }, 5);
}

#[test]
fn strong_definition_in_a_later_finalize_takes_over_the_name() {
    let engine = engine(
        &[r#"define weak i32 @late() { ret i32 1 }
             define i32 @old_caller() { %r = call i32 @late()
               ret i32 %r }"#],
        true,
    );
    let old_caller = engine.get_function_address("old_caller").unwrap();
    engine.add_module(module(r#"define i32 @late() { ret i32 2 }"#, "strong"));
    // As in MCJIT, a look-up of a linked name answers at once: the weak
    // definition, until the strong one is linked.
    let weak_late = engine.get_function_address("late").unwrap();
    // SAFETY: finalized `i32 ()`.
    assert_eq!(unsafe { call0::<i32>(weak_late) }, 1);
    engine.finalize_object().unwrap();
    let late = engine.get_function_address("late").unwrap();
    // SAFETY: finalized `i32 ()` functions.
    unsafe {
        assert_eq!(call0::<i32>(late), 2, "look-ups see the strong definition");
        assert_eq!(
            call0::<i32>(old_caller),
            1,
            "finalized code keeps its binding"
        );
    }
}

#[test]
fn common_symbols_share_one_storage() {
    let a = r#"
        @c = common global i64 0, align 8
        define void @a_set(i64 %x) { store i64 %x, ptr @c
          ret void }
        define ptr @a_addr() { ret ptr @c }
    "#;
    let b = r#"
        @c = common global i64 0, align 8
        define i64 @b_get() { %v = load i64, ptr @c
          ret i64 %v }
        define ptr @b_addr() { ret ptr @c }
    "#;
    for lmm in BOTH {
        let engine = engine(&[a, b], lmm);
        let set = engine.get_function_address("a_set").unwrap();
        let get = engine.get_function_address("b_get").unwrap();
        let a_addr = engine.get_function_address("a_addr").unwrap();
        let b_addr = engine.get_function_address("b_addr").unwrap();
        // SAFETY: finalized functions of the signatures used.
        unsafe {
            assert_eq!(call0::<u64>(a_addr), call0::<u64>(b_addr));
            assert_eq!(
                call0::<u64>(a_addr),
                engine.get_global_value_address("c").unwrap()
            );
            assert_eq!(call0::<i64>(get), 0, "common storage starts zeroed");
            call1::<i64, ()>(set, 77);
            assert_eq!(call0::<i64>(get), 77);
        }
    }
}

#[test]
fn duplicate_strong_symbol_is_an_error_naming_both_objects() {
    let engine = engine(&[r#"define i32 @dup() { ret i32 1 }"#], true);
    let first = engine.get_function_address("dup").unwrap();
    let bad = engine.add_module(module(r#"define i32 @dup() { ret i32 2 }"#, "second_dup"));
    match engine.finalize_object() {
        Err(Error::DuplicateSymbol {
            name,
            first,
            second,
        }) => {
            assert_eq!(name, "dup");
            assert_eq!(first, "m0");
            assert_eq!(second, "second_dup");
        }
        other => panic!("expected DuplicateSymbol, got {other:?}"),
    }
    // The engine stays usable: the first definition still runs, and removing
    // the offending module lets later modules link.
    // SAFETY: finalized `i32 ()`.
    assert_eq!(unsafe { call0::<i32>(first) }, 1);
    engine.remove_module(bad).unwrap();
    engine.add_module(module(r#"define i32 @other() { ret i32 3 }"#, "other"));
    let other = engine.get_function_address("other").unwrap();
    // SAFETY: finalized `i32 ()`.
    assert_eq!(unsafe { call0::<i32>(other) }, 3);
    assert_eq!(engine.get_function_address("dup").unwrap(), first);
}

#[test]
fn duplicate_within_one_finalize_is_an_error() {
    let engine = engine(&[r#"@g = global i32 1"#, r#"@g = global i32 2"#], true);
    let err = engine.finalize_object().unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateSymbol { name, first, second } if name == "g" && first == "m0" && second == "m1"),
        "{err}"
    );
}

#[test]
fn missing_symbols_are_all_listed_and_can_be_supplied_later() {
    let engine = engine(
        &[r#"
        declare i32 @missing_one()
        declare i32 @missing_two()
        @missing_data = external global i32
        define i32 @needs_them() {
          %a = call i32 @missing_one()
          %b = call i32 @missing_two()
          %c = load i32, ptr @missing_data
          %s = add i32 %a, %b
          %t = add i32 %s, %c
          ret i32 %t
        }"#],
        true,
    );
    let err = engine.get_function_address("needs_them").unwrap_err();
    let Error::UnresolvedSymbols { symbols } = &err else {
        panic!("expected UnresolvedSymbols, got {err}");
    };
    let mut names: Vec<&str> = symbols.iter().map(|(s, _)| s.as_str()).collect();
    names.sort();
    assert_eq!(names, ["missing_data", "missing_one", "missing_two"]);
    assert!(symbols.iter().all(|(_, obj)| obj == "m0"));
    let message = err.to_string();
    assert!(
        message.contains("missing_one") && message.contains("missing_two"),
        "{message}"
    );
    assert_eq!(
        engine.memory_stats().allocations,
        0,
        "nothing stays allocated"
    );

    static DATA: i32 = 100;
    engine.add_symbol("missing_one", host_seven as *const () as u64);
    engine.add_symbol("missing_two", host_eleven as *const () as u64);
    engine.add_symbol("missing_data", &DATA as *const i32 as u64);
    let f = engine.get_function_address("needs_them").unwrap();
    // SAFETY: finalized `i32 ()`.
    assert_eq!(unsafe { call0::<i32>(f) }, 118);
}

#[test]
fn undefined_weak_resolves_to_zero() {
    let engine = engine(
        &[r#"
        @maybe = extern_weak global i32
        declare extern_weak i32 @maybe_fn()
        define i32 @probe() {
          %a = icmp eq ptr @maybe, null
          %b = icmp eq ptr @maybe_fn, null
          %c = and i1 %a, %b
          %r = zext i1 %c to i32
          ret i32 %r
        }"#],
        true,
    );
    let f = engine.get_function_address("probe").unwrap();
    // SAFETY: finalized `i32 ()`.
    assert_eq!(unsafe { call0::<i32>(f) }, 1);
}

#[test]
fn resolution_order_mappings_modules_user_symbols_process() {
    let provider = r#"define i32 @by_module() { ret i32 1 }
                      define i32 @mapped() { ret i32 2 }"#;
    let user = r#"
        declare i32 @by_module()
        declare i32 @mapped()
        declare double @sin(double)
        define i32 @call_module() { %r = call i32 @by_module()
          ret i32 %r }
        define i32 @call_mapped() { %r = call i32 @mapped()
          ret i32 %r }
        define double @call_sin(double %x) { %r = call double @sin(double %x)
          ret double %r }
    "#;
    let engine = engine(&[provider, user], true);
    // 1. A global mapping comes before the engine's own modules.
    engine.add_global_mapping("mapped", host_seven as *const () as u64);
    // 3. User symbols come after the modules...
    engine.add_symbol("by_module", host_eleven as *const () as u64);
    // ...but before the process.
    engine.add_symbol("sin", fake_sin as *const () as u64);
    let call_module = engine.get_function_address("call_module").unwrap();
    let call_mapped = engine.get_function_address("call_mapped").unwrap();
    let call_sin = engine.get_function_address("call_sin").unwrap();
    // SAFETY: finalized functions of the signatures used.
    unsafe {
        assert_eq!(call0::<i32>(call_module), 1);
        assert_eq!(call0::<i32>(call_mapped), 7);
        assert_eq!(call1::<f64, f64>(call_sin, 1.0), -123.0);
    }
}

#[test]
fn libraries_resolve_after_user_symbols() {
    let engine = engine(
        &[r#"declare double @ldexp(double, i32)
             define double @scale(double %x) { %r = call double @ldexp(double %x, i32 4)
               ret double %r }"#],
        true,
    );
    engine.load_library_permanently("libm.so.6").unwrap();
    let f = engine.get_function_address("scale").unwrap();
    // SAFETY: finalized `double (double)`.
    assert_eq!(unsafe { call1::<f64, f64>(f, 3.0) }, 48.0);
    let err = engine
        .load_library_permanently("no-such-library-zzz.so")
        .unwrap_err();
    assert!(matches!(err, Error::Library { ref name, .. } if name.contains("no-such-library-zzz")));
}

#[test]
fn a_symbol_resolver_callback_comes_after_add_symbol_and_before_the_process() {
    let engine = engine(
        &[r#"declare i32 @from_resolver()
             declare i32 @from_add_symbol()
             declare double @sin(double)
             define i32 @total() {
               %a = call i32 @from_resolver()
               %b = call i32 @from_add_symbol()
               %r = add i32 %a, %b
               ret i32 %r }
             define double @s(double %x) { %r = call double @sin(double %x)
               ret double %r }"#],
        true,
    );
    engine.add_symbol("from_add_symbol", host_eleven as *const () as u64);
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = asked.clone();
    engine.set_symbol_resolver(Some(Box::new(move |name: &str| {
        log.lock().unwrap().push(name.to_string());
        match name {
            "from_resolver" => Some(host_seven as *const () as u64),
            "from_add_symbol" => Some(0xdead),
            _ => None,
        }
    })));
    let total = engine.get_function_address("total").unwrap();
    let s = engine.get_function_address("s").unwrap();
    // SAFETY: finalized functions of the signatures used.
    unsafe {
        assert_eq!(call0::<i32>(total), 18, "add_symbol wins over the resolver");
        assert_eq!(
            call1::<f64, f64>(s, 0.5),
            0.5f64.sin(),
            "process after the resolver"
        );
    }
    let asked = asked.lock().unwrap();
    assert!(asked.contains(&"from_resolver".to_string()));
    assert!(
        asked.contains(&"sin".to_string()),
        "asked before the process: {asked:?}"
    );
    assert!(!asked.contains(&"from_add_symbol".to_string()));
}

#[test]
fn later_strong_definitions_win_when_allowed_as_in_mcjit() {
    let first = r#"define i32 @sum(i32 %a, i32 %b) { %r = add i32 %a, %b
                     ret i32 %r }
                   define i32 @old_caller() { %r = call i32 @sum(i32 3, i32 2)
                     ret i32 %r }"#;
    let second = r#"define i32 @sum(i32 %a, i32 %b) { %r = sub i32 %a, %b
                      ret i32 %r }"#;
    // By default a second strong definition is an error, across finalizes too.
    let engine = engine(&[first], true);
    engine.finalize_object().unwrap();
    engine.add_module(module(second, "second"));
    assert!(matches!(
        engine.finalize_object(),
        Err(Error::DuplicateSymbol { ref name, .. }) if name == "sum"
    ));
    // With allow_redefinition the later one wins for look-ups; finalized
    // code keeps its binding.
    let engine = engine_with_redefinition(first);
    let old_caller = engine.get_function_address("old_caller").unwrap();
    engine.add_module(module(second, "second"));
    engine.finalize_object().unwrap();
    let sum = engine.get_function_address("sum").unwrap();
    // SAFETY: finalized functions of the signatures used.
    unsafe {
        assert_eq!(call2::<i32, i32, i32>(sum, 3, 2), 1, "the later definition");
        assert_eq!(call0::<i32>(old_caller), 5, "the old binding");
    }
    // Two strong definitions in one finalize are still an error.
    let engine = engine_with_redefinition(first);
    engine.add_module(module(second, "second"));
    engine.add_module(module(second, "third"));
    assert!(matches!(
        engine.finalize_object(),
        Err(Error::DuplicateSymbol { ref first, ref second, .. }) if first == "second" && second == "third"
    ));
}

fn engine_with_redefinition(ir: &str) -> rivet::ExecutionEngine {
    let engine = engine(&[ir], true);
    engine.allow_redefinition(true);
    engine.finalize_object().unwrap();
    engine
}

#[test]
fn stack_chk_guard_is_defined_by_the_linker_when_nothing_else_defines_it() {
    // Code compiled with the stack protector for Apple or RISC-V targets
    // loads `__stack_chk_guard`; glibc does not export one.
    let reader = |suffix: &str| {
        format!(
            r#"
            @__stack_chk_guard = external global i64
            define i64 @guard_value_{suffix}() {{
              %v = load i64, ptr @__stack_chk_guard
              ret i64 %v
            }}
            define ptr @guard_address_{suffix}() {{ ret ptr @__stack_chk_guard }}
            "#
        )
    };
    let (a, b) = (reader("a"), reader("b"));
    for lmm in BOTH {
        let engine = engine(&[&a, &b], lmm);
        let value = |name: &str| {
            let f = engine.get_function_address(name).unwrap();
            // SAFETY: finalized `i64 ()` / `ptr ()` functions.
            unsafe { call0::<u64>(f) }
        };
        let (va, vb) = (value("guard_value_a"), value("guard_value_b"));
        assert_eq!(va, vb, "every module checks against the process's guard");
        assert_ne!(va >> 8, 0, "a random guard, lmm={lmm}");
        assert_eq!(va & 0xff, 0, "low byte zero stops string copies");
        let (pa, pb) = (value("guard_address_a"), value("guard_address_b"));
        assert_ne!(pa, 0);
        // Each module has its own word, in its own memory: readable, and
        // never executable.
        assert_ne!(pa, pb, "lmm={lmm}");
        for p in [pa, pb] {
            let perms = perms_at(p).expect("guard word is mapped");
            assert!(perms.starts_with('r') && !perms.contains('x'), "{perms}");
        }
    }
}
