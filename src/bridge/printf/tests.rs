use super::*;

struct List(Vec<u64>, Vec<f64>);
impl VarArgs for List {
    fn int(&mut self) -> Option<u64> {
        (!self.0.is_empty()).then(|| self.0.remove(0))
    }
    fn double(&mut self) -> Option<f64> {
        (!self.1.is_empty()).then(|| self.1.remove(0))
    }
}

fn kinds(format: &str) -> Result<Vec<(String, bool, bool, ArgKind)>, String> {
    Ok(parse(format.as_bytes())?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Conversion(c) => Some((
                c.spec.to_string_lossy().into_owned(),
                c.star_width,
                c.star_precision,
                c.kind,
            )),
            Piece::Literal(_) => None,
        })
        .collect())
}

#[test]
fn formats_parse_into_conversions() {
    let got = kinds("x=%-8.3f n=%lld %% %*.*s %c|%#lx %p %hhu").unwrap();
    let want = [
        ("%-8.3f", false, false, ArgKind::Double),
        ("%lld", false, false, ArgKind::Long),
        ("%%", false, false, ArgKind::None),
        ("%*.*s", true, true, ArgKind::Ptr),
        ("%c", false, false, ArgKind::Int),
        ("%#lx", false, false, ArgKind::Long),
        ("%p", false, false, ArgKind::Ptr),
        ("%hhu", false, false, ArgKind::Int),
    ];
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.1, g.2, g.3), w);
    }
    let literal: Vec<_> = parse(b"a%db").unwrap();
    assert_eq!(literal[0], Piece::Literal(b"a"));
    assert_eq!(literal[2], Piece::Literal(b"b"));
}

#[test]
fn unsupported_formats_are_refused() {
    for (format, why) in [
        ("%n", "%n"),
        ("%1$d", "positional"),
        ("%Lf", "long double"),
        ("%ls", "wide"),
        ("%y", "unknown conversion `%y`"),
        ("abc %", "ends inside"),
        ("%5%", "unknown conversion"),
    ] {
        let err = parse(format.as_bytes()).unwrap_err();
        assert!(err.contains(why), "{format}: {err}");
    }
}

#[test]
fn arguments_are_read_in_order_and_counted() {
    let pieces = parse(b"%*d %s %f %ld").unwrap();
    let mut args = List(vec![5, 0xffff_ffff_0000_002a, 0x1234, u64::MAX], vec![0.5]);
    let values = gather(&pieces, &mut args).unwrap();
    assert_eq!(values[0].0, vec![5]);
    assert!(
        matches!(values[0].1, Value::Int(42)),
        "low 32 bits of an int"
    );
    assert!(matches!(values[1].1, Value::Ptr(p) if p as usize == 0x1234));
    assert!(matches!(values[2].1, Value::Double(d) if d == 0.5));
    assert!(matches!(values[3].1, Value::Long(-1)));
    let err = gather(&pieces, &mut List(vec![1], vec![])).unwrap_err();
    assert!(err.contains("more arguments"), "{err}");
}

#[test]
fn a_refused_format_prints_nothing_and_returns_minus_one() {
    let status = print("test", c"%d then %n", &mut List(vec![1, 2], vec![]));
    assert_eq!(status, -1);
}
