use super::*;

#[test]
fn float_results_are_nan_boxed_and_int_results_sign_extended() {
    let one = HostReturn::Float(f64::from_bits(u64::from(1.0f32.to_bits())));
    let HostReturn::Float(boxed) = to_guest(ValueKind::F32, one) else {
        panic!("a float result");
    };
    assert_eq!(boxed.to_bits(), NAN_BOX | u64::from(1.0f32.to_bits()));
    assert_eq!(
        to_guest(ValueKind::F64, HostReturn::Float(2.5)),
        HostReturn::Float(2.5)
    );
    // The host's upper half is garbage; the guest's is the sign.
    assert_eq!(
        to_guest(ValueKind::Int(32), HostReturn::Int(0xdead_beef_ffff_fffe)),
        HostReturn::Int(-2i64 as u64)
    );
    assert_eq!(
        to_guest(ValueKind::Int(32), HostReturn::Int(0xdead_beef_0000_0007)),
        HostReturn::Int(7)
    );
    assert_eq!(
        to_guest(ValueKind::Int(64), HostReturn::Int(0xdead_beef_0000_0007)),
        HostReturn::Int(0xdead_beef_0000_0007)
    );
    assert_eq!(
        to_guest(ValueKind::Ptr, HostReturn::Int(0x7f00_8000_0000)),
        HostReturn::Int(0x7f00_8000_0000)
    );
}

#[test]
fn variadic_doubles_come_from_integer_registers_in_order() {
    let args = HostArgs {
        x: [0, 5, 2.5f64.to_bits(), 9, 0, 0, 0, 0],
        d: [99.0; 8],
    };
    let mut regs = IntegerRegisters {
        args: &args,
        next: 1,
    };
    assert_eq!(regs.int(), Some(5));
    assert_eq!(regs.double(), Some(2.5));
    assert_eq!(regs.int(), Some(9));
    for _ in 4..8 {
        assert!(regs.int().is_some());
    }
    assert_eq!(regs.int(), None);
}
