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

/// A CIE "zPLR" whose personality encoding is `personality`, pointer
/// `pointer_bytes` long, followed by one FDE: the table a fuzzed object
/// gave the unwinder (libgcc aborted reading a personality encoded 0xff).
fn cie_with_personality(personality: u8, pointer_bytes: usize) -> Vec<u8> {
    let mut cie = vec![0, 0, 0, 0, 1, b'z', b'P', b'L', b'R', 0, 1, 0x78, 16];
    let data_len = 1 + pointer_bytes + 2;
    cie.push(data_len as u8);
    cie.push(personality);
    cie.extend(std::iter::repeat_n(0, pointer_bytes));
    cie.extend([0x1b, 0x1b]);
    while cie.len() % 4 != 0 {
        cie.push(0);
    }
    let mut table = (cie.len() as u32).to_le_bytes().to_vec();
    table.extend(&cie);
    let fde_at = table.len();
    let mut fde = ((fde_at + 4) as u32).to_le_bytes().to_vec();
    fde.extend([0; 8]); // start and length, 4 bytes each (sdata4)
    fde.push(0); // augmentation data length
    while fde.len() % 4 != 0 {
        fde.push(0);
    }
    table.extend((fde.len() as u32).to_le_bytes());
    table.extend(fde);
    table.extend([0; 4]);
    table
}

#[test]
fn a_personality_the_unwinder_cannot_read_is_refused() {
    // pc-relative sdata4, indirect: what compilers write.
    assert_eq!(check_eh_frame(&cie_with_personality(0x9b, 4)), Ok(()));
    assert_eq!(check_eh_frame(&cie_with_personality(0x00, 8)), Ok(()));
    let omitted = check_eh_frame(&cie_with_personality(0xff, 8)).unwrap_err();
    assert!(omitted.contains("personality"), "{omitted}");
    let unknown = check_eh_frame(&cie_with_personality(0x0f, 8)).unwrap_err();
    assert!(unknown.contains("pointer encoding 0xf"), "{unknown}");
}
