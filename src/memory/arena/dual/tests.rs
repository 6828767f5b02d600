use super::*;

/// A new memory file is refused while it would leave the process less
/// than a quarter of its descriptor limit (at most 256), naming it.
#[test]
fn memory_files_leave_descriptors_for_the_process() {
    assert!(check_descriptors(10, 1024, 1).is_ok());
    assert!(check_descriptors(767, 1024, 1).is_ok());
    let error = check_descriptors(768, 1024, 1).unwrap_err().to_string();
    assert!(
        error.contains("RLIMIT_NOFILE") && error.contains("768 of the process's 1024"),
        "{error}"
    );
    assert!(check_descriptors(40, 64, 1).is_ok());
    assert!(check_descriptors(48, 64, 1).is_err());
    assert!(check_descriptors(1 << 20, 1 << 20, 1).is_err());
    assert!(check_descriptors(1000, 1 << 20, 1).is_ok());
}
