//! Points in time as the verifier sees them: whole seconds since the Unix epoch, always passed in
//! by the caller (the transaction timestamp) or read from signed evidence, never from the clock.
//!
//! The one home of the crate's time text: the IAS report `timestamp`, the RFC 3339 UTC text of
//! Intel's DCAP collateral (`2025-06-19T10:56:11Z`) and of error messages. The calendar is the
//! `time` crate's; this module only checks the fixed layouts strictly (ASCII digits in fixed
//! places, no zone but `Z`), which the `time` crate's RFC 3339 parser is looser about.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Seconds since 1970-01-01T00:00:00Z (UTC, leap seconds ignored as in Unix time).
///
/// The registry builds it from the transaction's `ChannelHeader.timestamp.seconds`; the verifier
/// never reads the wall clock, so every endorsing peer reaches the same verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(i64);

impl UnixTime {
    /// The time `secs` seconds after the Unix epoch (negative before it).
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// RFC 3339 text (`2018-07-11T19:30:35Z`), or `None` outside the years 0..=9999.
    pub fn to_rfc3339(self) -> Option<String> {
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_rfc3339() {
            Some(text) => f.write_str(&text),
            None => write!(f, "{} s after the Unix epoch", self.0),
        }
    }
}

/// Longest collateral timestamp accepted (`YYYY-MM-DDThh:mm:ss`, a fraction, `Z`): bounds the
/// fraction, which is dropped anyway.
const MAX_RFC3339_LEN: usize = 40;

/// Most fraction digits in an IAS timestamp (IAS writes six).
const MAX_IAS_FRACTION_DIGITS: usize = 9;

/// Parses the IAS report `timestamp`: `YYYY-MM-DDThh:mm:ss` with an optional fraction of up to
/// nine digits, UTC without a zone designator (IAS API v3/v4 §4.2.1). The fraction is dropped: the
/// verifier reasons in whole seconds.
pub(crate) fn parse_ias_timestamp(text: &str) -> Option<UnixTime> {
    let (when, rest) = parse_date_time(text.as_bytes())?;
    match rest.split_first() {
        None => {}
        Some((b'.', fraction))
            if fraction.len() <= MAX_IAS_FRACTION_DIGITS && all_digits(fraction) => {}
        Some(_) => return None,
    }
    Some(UnixTime(when.assume_utc().unix_timestamp()))
}

/// Parses `YYYY-MM-DDThh:mm:ss[.f...]Z` as Intel's collateral writes it (UTC only; the fraction,
/// at least one digit when present, is dropped), to Unix seconds.
pub(crate) fn parse_rfc3339_utc(text: &str) -> Option<i64> {
    if text.len() > MAX_RFC3339_LEN {
        return None;
    }
    let (when, rest) = parse_date_time(text.as_bytes())?;
    let zone = match rest.split_first() {
        Some((b'.', fraction_and_zone)) => {
            let (fraction, zone) = fraction_and_zone
                .split_at(fraction_and_zone.iter().position(|b| !b.is_ascii_digit())?);
            if fraction.is_empty() {
                return None;
            }
            zone
        }
        _ => rest,
    };
    (zone == b"Z").then(|| when.assume_utc().unix_timestamp())
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (as [`UnixTime`] displays).
pub(crate) fn format_rfc3339_utc(t: i64) -> String {
    UnixTime(t).to_string()
}

/// `YYYY-MM-DDThh:mm:ss.000000`, UTC, as IAS writes timestamps (`invalid` outside the `time`
/// crate's years, -9999..=9999), for the test PKI's reports.
#[cfg(any(test, feature = "test-pki"))]
pub(crate) fn format_ias_timestamp(t: UnixTime) -> String {
    match OffsetDateTime::from_unix_timestamp(t.0) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000000",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        Err(_) => "invalid".into(),
    }
}

/// `YYYY-MM-DDThh:mm:ss` at the start of `text` (ASCII digits and separators in fixed places,
/// a real calendar date and time of day), and what follows it.
fn parse_date_time(text: &[u8]) -> Option<(PrimitiveDateTime, &[u8])> {
    let (head, rest) = text.split_at_checked(19)?;
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| head.get(i) != Some(&c)) {
        return None;
    }
    let field = |from: usize, to: usize| -> Option<u16> {
        let digits = head.get(from..to)?;
        if !all_digits(digits) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let year = i32::from(field(0, 4)?);
    let month = Month::try_from(u8::try_from(field(5, 7)?).ok()?).ok()?;
    let day = u8::try_from(field(8, 10)?).ok()?;
    let hour = u8::try_from(field(11, 13)?).ok()?;
    let minute = u8::try_from(field(14, 16)?).ok()?;
    let second = u8::try_from(field(17, 19)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some((PrimitiveDateTime::new(date, time), rest))
}

fn all_digits(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range the formats can write.
    const FIRST: i64 = -62_167_219_200;
    const LAST: i64 = 253_402_300_799;

    /// An independent calendar (Howard Hinnant's `days_from_civil` and `civil_from_days`, the
    /// arithmetic this crate used before it moved to the `time` crate), to show the results are
    /// the same.
    mod oracle {
        // Plain calendar arithmetic on small numbers, for the comparison only.
        #![allow(clippy::arithmetic_side_effects)]
        pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
            let y = if m <= 2 { y - 1 } else { y };
            let era = y.div_euclid(400);
            let yoe = y - era * 400;
            let mp = (m + 9) % 12;
            let doy = (153 * mp + 2) / 5 + d - 1;
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            era * 146_097 + doe - 719_468
        }

        pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
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

        pub fn format(t: i64) -> String {
            let (y, m, d) = civil_from_days(t.div_euclid(86_400));
            let secs = t.rem_euclid(86_400);
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                secs / 3600,
                (secs / 60) % 60,
                secs % 60
            )
        }

        pub fn unix(y: i64, m: i64, d: i64, (h, mi, s): (i64, i64, i64)) -> i64 {
            days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s
        }

        pub fn is_leap(y: i64) -> bool {
            (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        }
    }

    #[test]
    fn parses_ias_timestamps() {
        assert_eq!(
            parse_ias_timestamp("2018-07-11T19:30:35.556996"),
            Some(UnixTime(1_531_337_435))
        );
        assert_eq!(
            parse_ias_timestamp("1970-01-01T00:00:00"),
            Some(UnixTime(0))
        );
        assert_eq!(UnixTime(1_531_337_435).to_string(), "2018-07-11T19:30:35Z");
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "",
            "2018-07-11",
            "2018-07-11T19:30:35Z",
            "2018-07-11T19:30:35.",
            "2018-07-11T19:30:35.1234567890",
            "2018-13-11T19:30:35",
            "2018-02-30T19:30:35",
            "2018-07-11T24:30:35",
            "2018-07-11 19:30:35",
            "+018-07-11T19:30:35",
            "2018-07-11T19:30:35.12a",
            "２018-07-11T19:30:35",
        ] {
            assert_eq!(parse_ias_timestamp(bad), None, "{bad}");
        }
    }

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

    #[test]
    fn edges_of_the_calendar() {
        // Leap years: every 4th, not every 100th, every 400th.
        for (date, leap) in [
            ("2000-02-29", true),
            ("1900-02-29", false),
            ("2024-02-29", true),
            ("2023-02-29", false),
            ("2100-02-29", false),
            ("0000-02-29", true),
            ("9996-02-29", true),
        ] {
            let text = format!("{date}T00:00:00Z");
            assert_eq!(parse_rfc3339_utc(&text).is_some(), leap, "{text}");
            let ias = format!("{date}T00:00:00.000000");
            assert_eq!(parse_ias_timestamp(&ias).is_some(), leap, "{ias}");
        }
        // 1970, the first and last representable seconds, and one past them.
        assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_utc("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(parse_rfc3339_utc("0000-01-01T00:00:00Z"), Some(FIRST));
        assert_eq!(parse_rfc3339_utc("9999-12-31T23:59:59Z"), Some(LAST));
        assert_eq!(format_rfc3339_utc(FIRST), "0000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_utc(LAST), "9999-12-31T23:59:59Z");
        assert_eq!(
            format_rfc3339_utc(LAST + 1),
            "253402300800 s after the Unix epoch"
        );
        assert_eq!(
            format_rfc3339_utc(i64::MIN),
            format!("{} s after the Unix epoch", i64::MIN)
        );
        assert_eq!(
            format_ias_timestamp(UnixTime(LAST)),
            "9999-12-31T23:59:59.000000"
        );
        assert_eq!(format_ias_timestamp(UnixTime(LAST + 1)), "invalid");
        // A long fraction is allowed up to the length bound (collateral), up to nine digits (IAS).
        let long = format!("2025-06-19T10:56:11.{}Z", "1".repeat(19));
        assert_eq!(long.len(), MAX_RFC3339_LEN);
        assert_eq!(parse_rfc3339_utc(&long), Some(1_750_330_571));
        assert_eq!(parse_rfc3339_utc(&long.replacen('.', ".1", 1)), None);
        assert_eq!(
            parse_ias_timestamp("2025-06-19T10:56:11.123456789"),
            Some(UnixTime(1_750_330_571))
        );
    }

    proptest! {
        #[test]
        fn format_agrees_with_the_independent_calendar(t in FIRST..=LAST) {
            let text = format_rfc3339_utc(t);
            prop_assert_eq!(&text, &oracle::format(t));
            prop_assert_eq!(parse_rfc3339_utc(&text), Some(t));
            let ias = format_ias_timestamp(UnixTime(t));
            prop_assert_eq!(parse_ias_timestamp(&ias), Some(UnixTime(t)));
            prop_assert_eq!(UnixTime(t).to_rfc3339(), Some(text));
        }

        #[test]
        fn parse_agrees_with_the_independent_calendar(
            y in 0i64..=9999, m in 0i64..=13, d in 0i64..=32,
            h in 0i64..=24, mi in 0i64..=60, s in 0i64..=60,
        ) {
            let text = format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
            let days_in_month = match m {
                2 if oracle::is_leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let valid = (1..=12).contains(&m)
                && (1..=days_in_month).contains(&d)
                && h < 24 && mi < 60 && s < 60;
            let expected = valid.then(|| {
                oracle::unix(y, m, d, (h, mi, s))
            });
            prop_assert_eq!(parse_rfc3339_utc(&text), expected);
            let ias = format!("{}.5", text.trim_end_matches('Z'));
            prop_assert_eq!(parse_ias_timestamp(&ias), expected.map(UnixTime));
        }

        #[test]
        fn garbage_is_refused_without_panic(text in "[0-9T:.Z+ -]{0,44}") {
            if let Some(t) = parse_rfc3339_utc(&text) {
                prop_assert!(text.ends_with('Z'));
                prop_assert!((FIRST..=LAST).contains(&t));
            }
            if let Some(t) = parse_ias_timestamp(&text) {
                prop_assert!(!text.ends_with('Z'));
                prop_assert!((FIRST..=LAST).contains(&t.as_secs()));
            }
        }
    }
}
