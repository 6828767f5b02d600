use super::*;

#[test]
fn pages_are_writable_then_executable_and_never_both() {
    let mut pages = HostPages::new(10, "test").unwrap();
    assert_eq!(pages.len(), super::super::page_size());
    assert!(pages.as_mut_slice().iter().all(|&b| b == 0), "zeroed");
    let addr = pages.addr();
    // The kernel may merge the mapping with a neighbour of the same
    // protection: find the line whose range holds the address.
    let perms_at = |addr: u64| {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().find_map(|l| {
            let (range, rest) = l.split_once(' ')?;
            let (a, b) = range.split_once('-')?;
            let (a, b) = (
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            );
            (a..b)
                .contains(&addr)
                .then(|| rest.split_whitespace().next().unwrap().to_string())
        })
    };
    let perms = move || perms_at(addr);
    assert_eq!(perms().as_deref(), Some("rw-p"));
    if cfg!(target_arch = "x86_64") {
        // mov eax, 42; ret
        let code = [0xB8, 42, 0, 0, 0, 0xC3];
        let runnable = HostPages::with_code(&code, "test code").unwrap();
        let addr = runnable.addr();
        assert_eq!(perms_at(addr).as_deref(), Some("r-xp"));
        // SAFETY: the pages hold `mov eax, 42; ret` and are executable.
        let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(addr as usize) };
        assert_eq!(f(), 42);
    }
    pages.make_executable("test").unwrap();
    assert_eq!(perms().as_deref(), Some("r-xp"));
}
