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
}
