use super::*;

#[test]
fn initializer_sections_are_recognized_with_priorities() {
    assert_eq!(
        classify(".init_array"),
        Some((Role::Constructor, 65535, false))
    );
    assert_eq!(
        classify(".init_array.101"),
        Some((Role::Constructor, 101, false))
    );
    assert_eq!(
        classify(".fini_array.200"),
        Some((Role::Destructor, 200, true))
    );
    assert_eq!(classify(".ctors"), Some((Role::Constructor, 65535, true)));
    assert_eq!(
        classify(".ctors.65434"),
        Some((Role::Constructor, 101, true))
    );
    assert_eq!(classify(".dtors"), Some((Role::Destructor, 65535, false)));
    assert_eq!(
        classify("__mod_init_func"),
        Some((Role::Constructor, 65535, false))
    );
    assert_eq!(
        classify(".CRT$XCU"),
        Some((Role::Constructor, 65535, false))
    );
    assert_eq!(
        classify(".CRT$XCT00101"),
        Some((Role::Constructor, 101, false))
    );
    assert_eq!(classify(".init_array.x"), None);
    assert_eq!(classify(".data"), None);
    assert_eq!(classify(".init_arrayfoo"), None);
}
