use super::*;

#[test]
fn child_figures_round_trip_through_their_line() {
    let f = ChildFigures {
        times: vec![0.001, 0.002],
        rss_delta: -4096,
        committed_delta: 1 << 20,
        maps_delta: 3,
        peak_rss: 1 << 30,
        base_rss: 1 << 29,
        rivet_committed: Some(12345),
        rivet_mappings: Some(4),
    };
    let back = ChildFigures::from_output(&format!("noise\n{}\n", f.to_line())).unwrap();
    assert_eq!(back.times, f.times);
    assert_eq!(back.rss_delta, -4096);
    assert_eq!(back.committed_delta, 1 << 20);
    assert_eq!(back.maps_delta, 3);
    assert_eq!(back.peak_rss, 1 << 30);
    assert_eq!(back.rivet_committed, Some(12345));
    assert!(ChildFigures::from_output("nothing here").is_none());
}

#[test]
fn merged_figures_keep_every_time_and_the_highest_peak() {
    let part = |t: f64, rss: i64, peak: u64| ChildFigures {
        times: vec![t],
        rss_delta: rss,
        peak_rss: peak,
        base_rss: peak / 2,
        ..ChildFigures::default()
    };
    let m = ChildFigures::merge(&[part(1.0, 10, 100), part(2.0, 30, 300), part(3.0, 20, 200)]);
    assert_eq!(m.times, [1.0, 2.0, 3.0]);
    assert_eq!(m.rss_delta, 20);
    assert_eq!(m.peak_rss, 300);
    assert_eq!(m.base_rss, 50);
    assert_eq!(m.rivet_committed, None);
}

#[test]
fn case_names_are_unique_and_selectable() {
    for (i, a) in CASES.iter().enumerate() {
        assert!(
            CASES[i + 1..].iter().all(|b| b.name != a.name),
            "{}",
            a.name
        );
    }
    let opts = Options {
        cases: vec!["5k".into(), "code-speed".into()],
        ..Options::default()
    };
    let names: Vec<&str> = selected(&opts).unwrap().iter().map(|c| c.name).collect();
    assert_eq!(names, ["5k", "code-speed"]);
    let opts = Options {
        cases: vec!["no-such-case".into()],
        ..Options::default()
    };
    let err = selected(&opts).unwrap_err().to_string();
    assert!(
        err.contains("no-such-case") && err.contains("5k-sections"),
        "{err}"
    );
}

#[test]
fn table_is_aligned_markdown() {
    let mut out = String::new();
    push_table(
        &mut out,
        &[
            vec!["case".into(), "linker".into(), "ms".into()],
            vec!["5k".into(), "rivet".into(), "1.250".into()],
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "| case | linker |    ms |");
    assert_eq!(lines[1], "| ---- | ------ | ----: |");
    assert_eq!(lines[2], "| 5k   | rivet  | 1.250 |");
}
