//! UTC timestamps as Intel's collateral writes them (`2025-06-19T10:56:11Z`), to and from Unix
//! seconds. Hand-rolled because only this one fixed format is needed and it must never read a clock.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC only; fractional seconds are truncated).
pub(crate) fn parse_rfc3339_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 40 {
        return None;
    }
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let y = digits(b.get(0..4)?)?;
    let mo = digits(b.get(5..7)?)?;
    let d = digits(b.get(8..10)?)?;
    let h = digits(b.get(11..13)?)?;
    let mi = digits(b.get(14..16)?)?;
    let sec = digits(b.get(17..19)?)?;
    let rest = b.get(19..)?;
    let rest = match rest.split_first() {
        Some((b'.', frac)) => {
            let (z, frac) = frac.split_last()?;
            if *z != b'Z' || digits(frac).is_none() {
                return None;
            }
            &[][..]
        }
        Some((b'Z', tail)) => tail,
        _ => return None,
    };
    if !rest.is_empty()
        || !(1..=12).contains(&mo)
        || d < 1
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn format_rfc3339_utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_instants() {
        assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_utc("2025-06-19T10:56:11Z"),
            Some(1_750_330_571)
        );
        assert_eq!(
            parse_rfc3339_utc("2025-07-19T10:01:18Z"),
            Some(1_752_919_278)
        );
        assert_eq!(
            parse_rfc3339_utc("2024-02-29T23:59:59.123Z"),
            Some(1_709_251_199)
        );
        assert_eq!(format_rfc3339_utc(1_750_330_571), "2025-06-19T10:56:11Z");
        assert_eq!(format_rfc3339_utc(-1), "1969-12-31T23:59:59Z");
        for t in [0i64, 951_782_400, 1_709_251_199, 4_102_444_799] {
            assert_eq!(parse_rfc3339_utc(&format_rfc3339_utc(t)), Some(t));
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2025-06-19 10:56:11Z",
            "2025-06-19T10:56:11",
            "2025-06-19T10:56:11+01:00",
            "2025-13-19T10:56:11Z",
            "2025-02-29T10:56:11Z",
            "2025-06-19T24:00:00Z",
            "2025-06-19T10:56:11.Z",
            "2025-06-19T10:56:11Zjunk",
            "+025-06-19T10:56:11Z",
        ] {
            assert_eq!(parse_rfc3339_utc(s), None, "{s}");
        }
    }
}
