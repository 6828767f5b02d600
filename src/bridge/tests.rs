use super::*;

#[test]
fn classes_and_messages() {
    assert_eq!(ValueKind::Int(32).class(), Some(RegClass::Int));
    assert_eq!(ValueKind::Int(128).class(), None);
    assert_eq!(ValueKind::F32.class(), Some(RegClass::Float));
    assert_eq!(ValueKind::Void.class(), None);
    let sig = FunctionSignature {
        name: "f".into(),
        params: vec![ValueKind::Ptr, ValueKind::Other],
        ret: ValueKind::F64,
        variadic: true,
    };
    assert_eq!(
        sig.to_string(),
        "double f(ptr, <aggregate or other type>, ...)"
    );
    assert_eq!(
        sig.param_classes().unwrap_err(),
        "parameter 2 has type <aggregate or other type>"
    );
    assert!(sig.check_result().is_ok());
}

#[test]
fn host_addresses_and_libcalls() {
    let puts = host_address("puts").unwrap();
    assert_eq!(puts, libc::puts as *const () as u64);
    assert_eq!(host_address("no_such_function_anywhere_42"), None);
    assert_eq!(host_address("nul\0inside"), None);
    let memset = libcall_signature("memset").unwrap();
    assert_eq!(memset.to_string(), "ptr memset(ptr, i32, i64)");
    assert!(libcall_signature("puts").is_none());
    let sig = |name: &str| libcall_signature(name).map(|s| s.to_string());
    assert_eq!(sig("sin").as_deref(), Some("double sin(double)"));
    assert_eq!(sig("sinf").as_deref(), Some("float sinf(float)"));
    assert_eq!(sig("pow").as_deref(), Some("double pow(double, double)"));
    assert_eq!(sig("fmodf").as_deref(), Some("float fmodf(float, float)"));
    assert_eq!(sig("erf").as_deref(), Some("double erf(double)"));
    assert_eq!(sig("erff").as_deref(), Some("float erff(float)"));
    assert_eq!(sig("ldexp").as_deref(), Some("double ldexp(double, i32)"));
    assert_eq!(
        sig("fma").as_deref(),
        Some("double fma(double, double, double)")
    );
    assert_eq!(
        sig("sincos").as_deref(),
        Some("void sincos(double, ptr, ptr)")
    );
    assert_eq!(
        sig("__stack_chk_fail").as_deref(),
        Some("void __stack_chk_fail()")
    );
    assert_eq!(sig("puff"), None);
}
