use super::switch_on;

#[test]
fn environment_switches() {
    assert!(!switch_on(None));
    assert!(!switch_on(Some("".into())));
    assert!(!switch_on(Some("0".into())));
    assert!(switch_on(Some("1".into())));
    assert!(switch_on(Some("yes".into())));
}
