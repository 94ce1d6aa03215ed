//! Points in time as the verifier sees them: whole seconds since the Unix epoch, always passed in
//! by the caller (the transaction timestamp) or read from signed evidence, never from the clock.

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

    /// RFC 3339 text (`2018-07-11T19:30:35Z`), or `None` outside the years 1..9999.
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

/// Parses the IAS report `timestamp`: `YYYY-MM-DDThh:mm:ss` with an optional fraction of up to
/// nine digits, UTC without a zone designator (IAS API v3/v4 §4.2.1). The fraction is dropped: the
/// verifier reasons in whole seconds.
pub(crate) fn parse_ias_timestamp(text: &str) -> Option<UnixTime> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    if let Some(fraction) = fraction {
        if fraction.is_empty()
            || fraction.len() > 9
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
    }
    let bytes = whole.as_bytes();
    if bytes.len() != 19 {
        return None;
    }
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| bytes.get(i) != Some(&c)) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = whole.get(range)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let day = u8::try_from(number(8..10)?).ok()?;
    let hour = u8::try_from(number(11..13)?).ok()?;
    let minute = u8::try_from(number(14..16)?).ok()?;
    let second = u8::try_from(number(17..19)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(UnixTime(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
