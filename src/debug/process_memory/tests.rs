#[test]
fn reads_own_bytes_and_refuses_unmapped_addresses() {
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let copy = super::read(data.as_ptr() as u64, data.len()).unwrap();
    assert_eq!(copy, data);
    // Page 0 is never mapped in a Linux process.
    let err = super::read(8, 16).unwrap_err();
    assert!(matches!(err, crate::Error::Memory { .. }), "{err}");
}
