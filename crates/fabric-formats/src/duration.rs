//! Go's `time.ParseDuration`, exactly: an optional sign, then `0` alone or one or more
//! `<number><unit>` where a number is `digits`, `digits.`, `.digits` or `digits.digits` and a
//! unit is `ns`, `us`, `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`, `m` or `h`; the total must fit
//! Go's `time.Duration` (a signed 64-bit count of nanoseconds). Fabric writes and reads
//! `connection.json`'s `dial_timeout` with it.
//!
//! The texts of the errors are Go's (`time: invalid duration "x"`, ...), except
//! [`DurationError::Negative`], which Go does not have: [`parse_timeout`] refuses a negative
//! duration that Go would accept, because a negative timeout only fails later, at dial time.

#![deny(clippy::arithmetic_side_effects)]

use std::time::Duration;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not the grammar, or more than Go's `time.Duration` holds.
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit (`10`).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit Go does not know (`1d`, `1e3s`).
    #[error("time: unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// A valid but negative duration where a timeout is meant.
    #[error("invalid duration {0:?}: a timeout must not be negative")]
    Negative(String),
}

/// Largest magnitude Go accepts while summing: 2^63 (only a negative total may reach it).
const LIMIT: u64 = 1 << 63;

/// Parses `text` as Go's `time.ParseDuration` does, into signed nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or_default()),
        Some(b'+') => (false, text.get(1..).unwrap_or_default()),
        _ => (false, text),
    };
    if body == "0" {
        return Ok(0);
    }
    if body.is_empty() {
        return Err(invalid());
    }
    let mut rest = body.as_bytes();
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (nanos, after) = term(rest, text)?;
        total = total
            .checked_add(nanos)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
        rest = after;
    }
    if negative {
        // -2^63 is Go's smallest Duration; every other total is at most 2^63 - 1 here.
        return Ok(i64::try_from(total).map_or(i64::MIN, |t| t.wrapping_neg()));
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// Parses a timeout: Go's grammar through [`parse_duration`], refusing negative values.
/// `-0` is zero, as in Go, and is accepted.
pub fn parse_timeout(text: &str) -> Result<Duration, DurationError> {
    let nanos = parse_duration(text)?;
    let nanos = u64::try_from(nanos).map_err(|_| DurationError::Negative(text.to_owned()))?;
    Ok(Duration::from_nanos(nanos))
}

/// One `<number><unit>` at the start of `s`: its nanoseconds and what follows it.
fn term<'a>(s: &'a [u8], text: &str) -> Result<(u64, &'a [u8]), DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    // The next character must be [0-9.].
    if !s.first().is_some_and(|c| *c == b'.' || c.is_ascii_digit()) {
        return Err(invalid());
    }
    let (whole, s, had_whole) = leading_int(s).ok_or_else(invalid)?;
    let (fraction, scale, s, had_fraction) = match s.strip_prefix(b".") {
        Some(after_dot) => {
            let (f, scale, rest) = leading_fraction(after_dot);
            (f, scale, rest, rest.len() != after_dot.len())
        }
        None => (0, 1.0, s, false),
    };
    if !had_whole && !had_fraction {
        // No digits at all (".s", "-.s").
        return Err(invalid());
    }
    let unit_len = s
        .iter()
        .position(|c| *c == b'.' || c.is_ascii_digit())
        .unwrap_or(s.len());
    let (unit, rest) = s.split_at(unit_len);
    if unit.is_empty() {
        return Err(DurationError::MissingUnit(text.to_owned()));
    }
    let unit_nanos = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
        unit: String::from_utf8_lossy(unit).into_owned(),
        text: text.to_owned(),
    })?;
    let mut nanos = whole
        .checked_mul(unit_nanos)
        .filter(|v| *v <= LIMIT)
        .ok_or_else(invalid)?;
    if fraction > 0 {
        // As Go: float64 is exact enough for fractions of the largest unit (3.6e12 ns).
        let part = (fraction as f64 * (unit_nanos as f64 / scale)) as u64;
        nanos = nanos
            .checked_add(part)
            .filter(|v| *v <= LIMIT)
            .ok_or_else(invalid)?;
    }
    Ok((nanos, rest))
}

/// Go's `leadingInt`: the leading `[0-9]*`, whether there was any, or `None` past 2^63.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8], bool)> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let (number, rest) = s.split_at(digits);
    let mut x: u64 = 0;
    for c in number {
        x = x
            .checked_mul(10)?
            .checked_add(u64::from(c.wrapping_sub(b'0')))
            .filter(|v| *v <= LIMIT)?;
    }
    Some((x, rest, digits > 0))
}

/// Go's `leadingFraction`: the leading `[0-9]*` after a point as `x / scale`; digits past
/// what 63 bits hold only stop adding precision, they are not an error.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let (number, rest) = s.split_at(digits);
    let mut x: u64 = 0;
    let mut scale = 1.0;
    for c in number {
        let next = x
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c.wrapping_sub(b'0'))))
            .filter(|v| *v <= LIMIT);
        match next {
            Some(v) => {
                x = v;
                scale *= 10.0;
            }
            None => break,
        }
    }
    (x, scale, rest)
}

/// Nanoseconds in one of Go's units, matched on bytes (`µ` and `μ` are two bytes each).
fn unit_nanos(unit: &[u8]) -> Option<u64> {
    Some(match unit {
        b"ns" => 1,
        // U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU, both as Go accepts.
        b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
        b"ms" => 1_000_000,
        b"s" => 1_000_000_000,
        b"m" => 60_000_000_000,
        b"h" => 3_600_000_000_000,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn go_examples() {
        let ok: &[(&str, i64)] = &[
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            ("-5s", -5 * S),
            ("+5s", 5 * S),
            ("-0s", 0),
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600_000_000),
            ("5.s", 5 * S),
            (".5s", S / 2),
            ("1.0s", S),
            ("1.00s", S),
            ("1.004s", S + 4_000_000),
            ("100.00100s", 100 * S + 1_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14 * S),
            ("15m", 15 * 60 * S),
            ("16h", 16 * 3600 * S),
            ("3h30m", (3 * 3600 + 30 * 60) * S),
            ("10.5s4m", (4 * 60 + 10) * S + S / 2),
            ("-2m3.4s", -(2 * 60 * S + 3 * S + 400_000_000)),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("39h9m14.425s", 140_954_425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * 60 * S),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("0.100000000000000000000h", 6 * 60 * S),
            ("0.830103483285477580700h", 2_988_372_539_827),
            ("300ms", 300_000_000),
            ("-1.5h", -(90 * 60 * S)),
            ("2h45m", (2 * 3600 + 45 * 60) * S),
            ("1.5µs", 1500),
        ];
        for (text, nanos) in ok {
            assert_eq!(parse_duration(text), Ok(*nanos), "{text}");
        }
    }

    #[test]
    fn go_refusals() {
        for bad in [
            "",
            "3",
            "-",
            "+",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "1e3s",
            "\u{85}\u{85}",
            "\u{ff}",
            "hello \u{ff}\u{ff} world",
            "9223372036854775808ns",
            "9223372036854775.808us",
            "9223372036854ms775us808ns",
            "-9223372036854775809ns",
            "00",
            "1 s",
            "1s ",
            "1.2.3s",
            "10",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_error_texts() {
        assert_eq!(
            parse_duration("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_duration("10").unwrap_err().to_string(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse_duration("1e3s").unwrap_err().to_string(),
            "time: unknown unit \"e\" in duration \"1e3s\""
        );
        assert_eq!(
            parse_duration("3000000h").unwrap_err(),
            DurationError::Invalid("3000000h".into())
        );
    }

    #[test]
    fn timeouts_are_never_negative() {
        assert_eq!(parse_timeout("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_timeout("+1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_timeout("-0s"), Ok(Duration::ZERO));
        assert_eq!(
            parse_timeout("-1s"),
            Err(DurationError::Negative("-1s".into()))
        );
        assert!(parse_timeout("-1s")
            .unwrap_err()
            .to_string()
            .contains("must not be negative"));
        assert!(matches!(
            parse_timeout("ten seconds"),
            Err(DurationError::Invalid(_))
        ));
    }
}
