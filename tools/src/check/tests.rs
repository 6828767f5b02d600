use super::*;

#[test]
fn checks_are_read_with_continuations() {
    let text = "\
# rtdyld-check: a = b
  # rtdyld-check: c = \\
  # rtdyld-check:     d
# jitlink-check: e = f
# rtdyld-check: g = \\
not a check
#rtdyld-check: nope = 1
# rtdyld-check: h = i \\
";
    assert_eq!(
        extract_checks(text, "rtdyld-check"),
        vec![
            (1, "a = b".to_string()),
            (2, "c =      d".to_string()),
            (5, "g =".to_string()),
            (8, "h = i".to_string()),
        ]
    );
    assert_eq!(
        extract_checks(text, "jitlink-check"),
        vec![(4, "e = f".to_string())]
    );
}

#[test]
fn the_only_llvm_prefix_in_use_chooses_the_layout() {
    let file = |text: &str| CheckFile {
        path: PathBuf::from("t.s"),
        text: text.to_string(),
    };
    let prefixes: Vec<String> = DEFAULT_PREFIXES.iter().map(|p| p.to_string()).collect();
    let jitlink = [file("# jitlink-check: a = a\n")];
    let rtdyld = [file("# rtdyld-check: a = a\n")];
    let both = [
        file("# jitlink-check: a = a\n"),
        file("# rtdyld-check: a = a\n"),
    ];
    assert_eq!(default_layout(&jitlink, &prefixes), Layout::Jitlink);
    assert_eq!(default_layout(&rtdyld, &prefixes), Layout::Rtdyld);
    assert_eq!(default_layout(&both, &prefixes), Layout::Rivet);
    assert_eq!(
        default_layout(&[file("no checks\n")], &prefixes),
        Layout::Rivet
    );
    // Only the prefixes read count: a file with both, read as rtdyld.
    let rtdyld_only = vec!["rtdyld-check".to_string()];
    assert_eq!(default_layout(&both, &rtdyld_only), Layout::Rtdyld);
    assert_eq!(
        default_layout(&jitlink, &["my-check".to_string()]),
        Layout::Rivet
    );
}

#[test]
fn option_values_parse() {
    assert_eq!(parse_page_size("0x4000"), Ok(0x4000));
    assert!(parse_page_size("0x3000").is_err());
    assert_eq!(parse_number("0x10"), Ok(16));
    assert_eq!(parse_number("10"), Ok(10));
    assert!(parse_number("1x").is_err());
    assert_eq!(
        parse_dummy_extern("foo=0x20"),
        Ok(("foo".to_string(), 0x20))
    );
    assert!(parse_dummy_extern("foo").is_err());
    assert_eq!(
        parse_map_section("a.o,__DATA,__data=0x5000"),
        Ok(MapSection {
            file: "a.o".into(),
            section: "__DATA,__data".into(),
            addr: 0x5000
        })
    );
    assert!(parse_map_section("a.o=0x10").is_err());
    assert_eq!(section_name("__DATA,__data"), "__data");
    assert_eq!(section_name(".text"), ".text");
}

#[test]
fn file_options_merge_and_conflict() {
    let mut options = CheckOptions {
        triple: Some("x86_64-unknown-linux-gnu".into()),
        ..CheckOptions::default()
    };
    let file = Path::new("dir/test.s");
    merge_file_options(
        &mut options,
        file,
        "--triple x86_64-unknown-linux-gnu --dummy-extern f=0x10 --target-addr-start 0x2000 other.s",
    )
    .unwrap();
    assert_eq!(options.dummy_externs, vec![("f".to_string(), 0x10)]);
    assert_eq!(options.target_addr_start, Some(0x2000));
    assert_eq!(options.inputs, vec![PathBuf::from("dir/other.s")]);
    let err =
        merge_file_options(&mut options, file, "--triple aarch64-unknown-linux-gnu").unwrap_err();
    assert!(err.to_string().contains("--triple"), "{err}");
    let err = merge_file_options(&mut options, file, "--bogus").unwrap_err();
    assert!(err.to_string().contains("bad"), "{err}");
}
