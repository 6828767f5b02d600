use super::*;
use crate::bridge::FunctionSignature;

extern "C" fn mix(a: u64, b: f64, c: u64, d: f32) -> f64 {
    a as f64 * 1000.0 + b * 100.0 + c as f64 * 10.0 + f64::from(d)
}
extern "C" fn halve(x: f32) -> f32 {
    x / 2.0
}

fn host(
    name: &str,
    params: &[ValueKind],
    ret: ValueKind,
    variadic: bool,
    address: u64,
) -> HostFunction {
    HostFunction {
        signature: FunctionSignature {
            name: name.into(),
            params: params.to_vec(),
            ret,
            variadic,
        },
        address,
    }
}

#[test]
fn host_calls_take_registers_per_kind() {
    let mut args = HostArgs {
        x: [3, 4, 0, 0, 0, 0, 0, 0],
        d: [
            0.5,
            f64::from_bits(u64::from(1.5f32.to_bits())),
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
    };
    let got = call_host(mix as *const () as u64, ValueKind::F64, &args);
    assert_eq!(got, HostReturn::Float(3000.0 + 50.0 + 40.0 + 1.5));
    args.d[0] = f64::from_bits(u64::from(5.0f32.to_bits()));
    let HostReturn::Float(bits) = call_host(halve as *const () as u64, ValueKind::F32, &args)
    else {
        panic!("a float result");
    };
    assert_eq!(f32::from_bits(bits.to_bits() as u32), 2.5);
}

#[test]
fn unsupported_functions_are_refused_by_name() {
    use ValueKind::{Int, Ptr};
    let mut emu = Aarch64Emulator::new().unwrap();
    let printf = host("printf", &[Ptr], Int(32), true, 0);
    let err = bridge_host_functions(
        &mut emu,
        "p.ll",
        std::slice::from_ref(&printf),
        VariadicArgs::OnStack,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`printf`") && err.contains("on the stack") && err.contains("p.ll"),
        "{err}"
    );
    bridge_host_functions(&mut emu, "p.ll", &[printf], VariadicArgs::InRegisters).unwrap();
    assert!(emu.trap_address("printf").is_some());
    let seven = host("seven", &[Int(64); 7], Int(64), false, 0);
    let err = bridge_host_functions(&mut emu, "p.ll", &[seven], VariadicArgs::InRegisters)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`seven`") && err.contains("7 integer"),
        "{err}"
    );
    let scanf = host("scanf", &[Ptr], Int(32), true, 0);
    let err = bridge_host_functions(&mut emu, "p.ll", &[scanf], VariadicArgs::InRegisters)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`scanf`") && err.contains("variadic"), "{err}");
}
