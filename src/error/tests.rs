#[test]
fn overflow_values_show_their_sign() {
    let e = super::Error::RelocationOverflow {
        site: Box::new(super::RelocationSite {
            object: "o".into(),
            section: ".text".into(),
            offset: 4,
            kind: "PC32".into(),
            symbol: "far".into(),
        }),
        value: -0x1_0000_0000,
        min: -0x8000_0000,
        max: 0x7fff_ffff,
    };
    let message = e.to_string();
    assert!(
        message.ends_with("value -0x100000000 not in [-0x80000000, 0x7fffffff]"),
        "{message}"
    );
}

#[test]
fn error_stays_small() {
    // Results travel through hot paths (look-ups); keep the error compact.
    assert!(
        std::mem::size_of::<super::Error>() <= 96,
        "{}",
        std::mem::size_of::<super::Error>()
    );
}
