use super::*;

#[test]
fn bundle_round_trips_and_refuses_garbage() {
    let warmup = Bundle {
        functions: 1,
        entries: vec![("w.o".into(), vec![9])],
        lookups: vec!["f0".into()],
        warmup: None,
    };
    let bundle = Bundle {
        functions: 3,
        entries: vec![("a.o".into(), vec![1, 2, 3]), ("b".into(), vec![])],
        lookups: vec!["f0".into(), "f2".into()],
        warmup: Some(Box::new(warmup)),
    };
    let path = std::env::temp_dir().join(format!("rivet-bundle-test-{}", std::process::id()));
    bundle.write(&path).unwrap();
    assert_eq!(Bundle::read(&path).unwrap(), bundle);
    std::fs::write(&path, b"RVBENCH1\x01").unwrap();
    assert!(matches!(
        Bundle::read(&path),
        Err(Error::MalformedObject { .. })
    ));
    std::fs::remove_file(&path).unwrap();
}
