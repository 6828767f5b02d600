//! `printf` for callers of another convention: the format string says how
//! many arguments there are and of which kind, so the bridge reads them from
//! where the caller's convention put them ([`VarArgs`]) and prints each
//! conversion with the host's own `printf`, one argument at a time.
//!
//! Supported: flags, widths and precisions (`*` included), the length
//! modifiers `hh h l ll j z t q`, and the conversions `d i u o x X c s p
//! f F e E g G a A m %`. Refused (nothing is printed, the call returns -1
//! and says why on stderr): `%n`, positional arguments (`%1$d`), `long
//! double` (`%Lf`), wide characters (`%lc`, `%ls`) and unknown conversions.
//!
//! `l`, `ll`, `j`, `z`, `t` and `q` read 64 bits (System V's `long`);
//! other integers read the low 32 bits of their slot or register.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

/// Where the variadic arguments of one call are, in order.
pub(crate) trait VarArgs {
    /// The next integer or pointer argument (its whole 64-bit slot or
    /// register), or `None` when the convention has no more to give.
    fn int(&mut self) -> Option<u64>;
    /// The next `double` argument.
    fn double(&mut self) -> Option<f64>;
}

/// What one conversion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    /// Nothing (`%%`, `%m`).
    None,
    /// An `int` (also `char`, `short` after promotion).
    Int,
    /// A 64-bit integer.
    Long,
    Double,
    Ptr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Conversion {
    /// The conversion's own text, `%` to conversion character.
    spec: CString,
    star_width: bool,
    star_precision: bool,
    kind: ArgKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a [u8]),
    Conversion(Conversion),
}

/// An argument read for one conversion.
#[derive(Debug, Clone, Copy)]
enum Value {
    None,
    Int(c_int),
    Long(i64),
    Double(f64),
    Ptr(*const c_void),
}

/// Splits a format into literal text and conversions.
fn parse(format: &[u8]) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < format.len() {
        let Some(offset) = format[i..].iter().position(|&b| b == b'%') else {
            pieces.push(Piece::Literal(&format[i..]));
            break;
        };
        if offset > 0 {
            pieces.push(Piece::Literal(&format[i..i + offset]));
        }
        let start = i + offset;
        let (conversion, end) = parse_conversion(format, start)?;
        pieces.push(Piece::Conversion(conversion));
        i = end;
    }
    Ok(pieces)
}

/// Parses the conversion at `format[start]` (a `%`); gives it and the
/// index after it.
fn parse_conversion(format: &[u8], start: usize) -> Result<(Conversion, usize), String> {
    let at = |j: usize| format.get(j).copied().unwrap_or(0);
    let mut j = start + 1;
    while b"-+ #0'".contains(&at(j)) {
        j += 1;
    }
    let digits = |mut j: usize| {
        while at(j).is_ascii_digit() {
            j += 1;
        }
        j
    };
    let mut star_width = false;
    if at(j) == b'*' {
        star_width = true;
        j += 1;
    } else {
        j = digits(j);
    }
    if at(j) == b'$' {
        return Err("positional arguments (`%N$`) are not supported".into());
    }
    let mut star_precision = false;
    if at(j) == b'.' {
        j += 1;
        if at(j) == b'*' {
            star_precision = true;
            j += 1;
        } else {
            j = digits(j);
        }
    }
    let length_start = j;
    while b"hljztqL".contains(&at(j)) {
        j += 1;
    }
    let length = &format[length_start..j];
    let long = match length {
        b"" | b"h" | b"hh" => false,
        b"l" | b"ll" | b"j" | b"z" | b"t" | b"q" => true,
        b"L" => return Err("`long double` arguments (`%L`) are not supported".into()),
        other => {
            return Err(format!(
                "unknown length modifier `{}`",
                String::from_utf8_lossy(other)
            ))
        }
    };
    let conversion = at(j);
    let kind = match conversion {
        b'd' | b'i' | b'u' | b'o' | b'x' | b'X' if long => ArgKind::Long,
        b'd' | b'i' | b'u' | b'o' | b'x' | b'X' => ArgKind::Int,
        b'c' | b's' if long => {
            return Err("wide characters (`%lc`, `%ls`) are not supported".into())
        }
        b'c' => ArgKind::Int,
        b's' | b'p' => ArgKind::Ptr,
        b'f' | b'F' | b'e' | b'E' | b'g' | b'G' | b'a' | b'A' => ArgKind::Double,
        b'm' => ArgKind::None,
        b'%' if j == start + 1 => ArgKind::None,
        b'n' => return Err("`%n` is not supported".into()),
        0 => return Err("the format ends inside a conversion".into()),
        _ => {
            return Err(format!(
                "unknown conversion `{}`",
                String::from_utf8_lossy(format.get(start..=j).unwrap_or_default())
            ))
        }
    };
    let spec = CString::new(&format[start..=j])
        .map_err(|_| "a conversion contains a NUL byte".to_string())?;
    Ok((
        Conversion {
            spec,
            star_width,
            star_precision,
            kind,
        },
        j + 1,
    ))
}

/// Reads every argument the pieces need, in order.
fn gather(
    pieces: &[Piece<'_>],
    args: &mut dyn VarArgs,
) -> Result<Vec<(Vec<c_int>, Value)>, String> {
    let missing =
        || "the format needs more arguments than the call passes in registers".to_string();
    let mut out = Vec::new();
    for piece in pieces {
        let Piece::Conversion(c) = piece else {
            continue;
        };
        let mut stars = Vec::new();
        for star in [c.star_width, c.star_precision] {
            if star {
                stars.push(args.int().ok_or_else(missing)? as u32 as c_int);
            }
        }
        let value = match c.kind {
            ArgKind::None => Value::None,
            ArgKind::Int => Value::Int(args.int().ok_or_else(missing)? as u32 as c_int),
            ArgKind::Long => Value::Long(args.int().ok_or_else(missing)? as i64),
            ArgKind::Double => Value::Double(args.double().ok_or_else(missing)?),
            ArgKind::Ptr => Value::Ptr(args.int().ok_or_else(missing)? as usize as *const c_void),
        };
        out.push((stars, value));
    }
    Ok(out)
}

/// Prints one conversion with the host's printf.
///
/// # Safety
///
/// `value` must be what `spec` reads (a `%s` pointer must point at a
/// NUL-terminated string), as for any call of printf.
unsafe fn print_one(spec: &CStr, stars: &[c_int], value: Value) -> c_int {
    let f = spec.as_ptr();
    macro_rules! with_stars {
        ($($v:expr),*) => {
            match stars {
                [] => libc::printf(f $(, $v)*),
                [a] => libc::printf(f, *a $(, $v)*),
                [a, b, ..] => libc::printf(f, *a, *b $(, $v)*),
            }
        };
    }
    // SAFETY: the argument list matches the conversion (the caller's
    // contract) and `spec` is NUL-terminated.
    unsafe {
        match value {
            Value::None => with_stars!(),
            Value::Int(v) => with_stars!(v),
            Value::Long(v) => with_stars!(v),
            Value::Double(v) => with_stars!(v),
            Value::Ptr(v) => with_stars!(v),
        }
    }
}

/// printf(`format`, args...) on the host's stdout, reading the arguments
/// from `args`. Returns what printf returns: the number of bytes written, or
/// -1 on error. A format this bridge does not support prints nothing,
/// returns -1 and says why on stderr, prefixed with `context`.
pub(crate) fn print(context: &str, format: &CStr, args: &mut dyn VarArgs) -> c_int {
    let prepared = parse(format.to_bytes()).and_then(|pieces| {
        let values = gather(&pieces, args)?;
        Ok((pieces, values))
    });
    let (pieces, values) = match prepared {
        Ok(p) => p,
        Err(why) => {
            eprintln!("rivet: {context}: format {format:?}: {why}");
            return -1;
        }
    };
    let mut values = values.into_iter();
    let mut total: c_int = 0;
    let mut failed = false;
    for piece in &pieces {
        let written = match piece {
            Piece::Literal(text) => {
                let len = c_int::try_from(text.len()).unwrap_or(c_int::MAX);
                // SAFETY: `%.*s` reads exactly `len` bytes of `text`.
                unsafe { libc::printf(c"%.*s".as_ptr(), len, text.as_ptr().cast::<c_char>()) }
            }
            Piece::Conversion(c) => match values.next() {
                // SAFETY: the values were read for exactly this conversion;
                // that they are what the caller meant is the C caller's
                // contract with printf.
                Some((stars, value)) => unsafe { print_one(&c.spec, &stars, value) },
                None => -1,
            },
        };
        if written < 0 {
            failed = true;
        } else {
            total = total.saturating_add(written);
        }
    }
    if failed {
        -1
    } else {
        total
    }
}

#[cfg(test)]
mod tests;
