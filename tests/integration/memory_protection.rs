//! W^X: what `/proc/self/maps` shows after finalize.

use crate::common::*;

const LAYOUT: &str = r#"
@data = global i64 1
@konst = constant [4 x i64] [i64 1, i64 2, i64 3, i64 4]
define i64 @code() { %v = load i64, ptr @data
  ret i64 %v }
define ptr @konst_addr() { ret ptr @konst }
"#;

#[test]
fn no_mapping_is_writable_and_executable_after_finalize() {
    for lmm in BOTH {
        let engine = engine(&[LAYOUT, crate::programs::PROGRAM], lmm);
        engine.finalize_object().unwrap();
        let code = engine.get_function_address("code").unwrap();
        let data = engine.get_global_value_address("data").unwrap();
        let konst = engine.get_global_value_address("konst").unwrap();
        assert_eq!(perms_at(code).as_deref(), Some("r-xp"), "lmm={lmm} text");
        assert_eq!(perms_at(data).as_deref(), Some("rw-p"), "lmm={lmm} data");
        assert_eq!(perms_at(konst).as_deref(), Some("r--p"), "lmm={lmm} rodata");
        let wx: Vec<_> = maps()
            .into_iter()
            .filter(|(_, _, p)| p.contains('w') && p.contains('x'))
            .collect();
        assert!(wx.is_empty(), "writable and executable: {wx:x?}");
        // SAFETY: finalized functions of the signatures used.
        unsafe {
            assert_eq!(call0::<i64>(code), 1);
            assert_eq!(
                call0::<u64>(engine.get_function_address("konst_addr").unwrap()),
                konst
            );
        }
    }
}

#[test]
fn check_jit_execution_passes_here() {
    rivet::check_jit_execution().unwrap();
}
