use super::*;
use crate::debug::DebugSymbol;
use crate::load::Arch;

/// Without libLLVM in the process, rivet registers through its own
/// exported descriptor, which lists the module until it is dropped.
#[test]
fn without_libllvm_rivet_registers_through_its_own_descriptor() {
    assert!(process_interface().is_none(), "no libLLVM in this binary");
    let own = own::interface().unwrap();
    assert_eq!(interface().unwrap().descriptor, own.descriptor);
    // SAFETY: reading the version of rivet's own static descriptor.
    assert_eq!(
        unsafe { ptr::addr_of!((*own.descriptor).version).read() },
        1
    );

    let symbols = [DebugSymbol {
        name: "rivet_own_descriptor_probe",
        addr: 0x7000_1000,
        size: 16,
        is_function: true,
    }];
    let image = ModuleImage {
        name: "m",
        arch: Arch::X86_64,
        sections: &[],
        symbols: &symbols,
        dwarf: &[],
    };
    let registration = GdbRegistration::register(&image).unwrap().unwrap();
    let listed = |r: &GdbRegistration| registered_symfiles().iter().any(|f| f == r.symfile());
    assert!(listed(&registration));
    let _guard = lock();
    // SAFETY: under the lock; the descriptor is rivet's own static.
    let first = unsafe { ptr::addr_of!((*own.descriptor).first_entry).read() };
    assert!(!first.is_null());
    drop(_guard);
    let copy = registration.symfile().to_vec();
    drop(registration);
    assert!(!registered_symfiles().contains(&copy), "gone after drop");
}
