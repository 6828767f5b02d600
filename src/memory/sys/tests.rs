use super::*;

#[test]
fn page_size_is_a_cached_power_of_two() {
    let first = page_size();
    assert!(first.is_power_of_two());
    assert!(first >= 4096);
    assert_eq!(page_size(), first);
}

#[test]
fn jit_execution_is_allowed_here() {
    check_jit_execution().expect("this test host allows JIT execution");
}

#[test]
fn rounding_refuses_overflow() {
    assert_eq!(round_up(0, 4096), Some(0));
    assert_eq!(round_up(1, 4096), Some(4096));
    assert_eq!(round_up(4096, 4096), Some(4096));
    assert_eq!(round_up(u64::MAX, 4096), None);
    assert_eq!(round_up_usize(usize::MAX - 10, 16), None);
}

#[test]
fn aligned_mapping_is_aligned() {
    let align = 1 << 21;
    let mapping = map_aligned(None, 3 * page_size(), align, 0).expect("map");
    assert_eq!(mapping.start() % align, 0);
    assert_eq!(mapping.len, 3 * page_size());
    unmap(&mapping);
}

#[test]
fn refusal_names_errno_and_hint() {
    let reason = refusal_reason(&io::Error::from_raw_os_error(libc::EACCES));
    assert!(reason.contains("EACCES"), "{reason}");
    assert!(reason.contains("SELinux"), "{reason}");
    assert!(reason.contains("PaX MPROTECT"), "{reason}");
    let reason = refusal_reason(&io::Error::from_raw_os_error(libc::EPERM));
    assert!(
        reason.contains("EPERM") && reason.contains("deny_execmem"),
        "{reason}"
    );
}
