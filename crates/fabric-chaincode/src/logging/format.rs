//! Fabric's log line formats for `tracing`: the `%{...}` patterns of fabric-lib-go's
//! `flogging` (`FABRIC_LOGGING_FORMAT`) and its `json` format. Events are shown as Fabric
//! shows a logger's entries: `[module]` is the tracing target with `::` as `.` (the name
//! `FABRIC_LOGGING_SPEC` filters on), `shortfunc` the current span's name or the target's last
//! segment, and the message is followed by the event's other fields as `key=value`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Fabric's default `FABRIC_LOGGING_FORMAT`.
pub const DEFAULT_FORMAT: &str = "%{color}%{time:2006-01-02 15:04:05.000 MST} %{id:04x} \
     %{level:.4s}%{color:reset} [%{module}] %{color:bold}%{shortfunc}%{color:reset} -> %{message}";

/// Widest `%{id}` padding accepted, as Go's `fmt` refuses widths over 1e6: every log line
/// writes the padding, so an unbounded width from the environment would allocate that much
/// per line.
const MAX_ID_WIDTH: usize = 1_000_000;

/// Sequence number of log entries (`%{id}`), shared by every formatter as in Fabric.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A `FABRIC_LOGGING_FORMAT` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid FABRIC_LOGGING_FORMAT {format:?}: {reason}; using Fabric's default format")]
pub struct FormatError {
    format: String,
    reason: String,
}

/// A parsed line format.
#[derive(Debug, Clone)]
pub struct LineFormat {
    parts: Option<Vec<Part>>, // None: json
    ansi: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Color,
    Bold,
    Reset,
    Time(Vec<TimeToken>),
    Id { width: usize, hex: bool },
    Level { max: Option<usize> },
    Module,
    ShortFunc,
    Message,
}

#[derive(Debug, Clone, PartialEq)]
enum TimeToken {
    Text(String),
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Fraction(usize),
    Zone,
    Offset { colon: bool, z: bool },
}

impl Default for LineFormat {
    fn default() -> Self {
        match LineFormat::parse(DEFAULT_FORMAT) {
            Ok(f) => f,
            // DEFAULT_FORMAT is fixed and covered by the tests.
            Err(e) => unreachable!("default format does not parse: {e}"),
        }
    }
}

impl LineFormat {
    /// `FABRIC_LOGGING_FORMAT`, or the default when unset or empty.
    pub fn from_env() -> Result<LineFormat, FormatError> {
        match std::env::var("FABRIC_LOGGING_FORMAT") {
            Ok(f) if !f.trim().is_empty() => LineFormat::parse(&f),
            _ => Ok(LineFormat::default()),
        }
    }

    /// Parses `json` or a `%{verb[:argument]}` pattern (verbs `color` (`:bold`, `:reset`),
    /// `time` (a Go layout), `id`, `level`, `module`, `shortfunc`, `message`).
    pub fn parse(format: &str) -> Result<LineFormat, FormatError> {
        if format.trim().eq_ignore_ascii_case("json") {
            return Ok(LineFormat {
                parts: None,
                ansi: false,
            });
        }
        let fail = |reason: String| FormatError {
            format: format.to_owned(),
            reason,
        };
        let mut parts = Vec::new();
        let mut rest = format;
        while let Some(start) = rest.find("%{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| fail("unterminated %{".into()))?;
            let verb = &rest[start + 2..start + end];
            parts.push(parse_verb(verb).map_err(fail)?);
            rest = &rest[start + end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(LineFormat {
            parts: Some(parts),
            ansi: false,
        })
    }

    /// With colour codes (`%{color}`) written, or left out.
    pub fn with_ansi(mut self, ansi: bool) -> LineFormat {
        self.ansi = ansi;
        self
    }

    /// Formats one entry (also used by the tests, without a subscriber).
    fn write_entry(&self, out: &mut impl fmt::Write, e: &Entry<'_>) -> fmt::Result {
        let Some(parts) = &self.parts else {
            return write_json(out, e);
        };
        for part in parts {
            match part {
                Part::Text(t) => out.write_str(t)?,
                Part::Color if self.ansi => out.write_str(level_color(e.level))?,
                Part::Bold if self.ansi => out.write_str("\x1b[1m")?,
                Part::Reset if self.ansi => out.write_str("\x1b[0m")?,
                Part::Color | Part::Bold | Part::Reset => {}
                Part::Time(tokens) => write_time(out, e.time, tokens)?,
                Part::Id { width, hex: true } => write!(out, "{:0width$x}", e.id)?,
                Part::Id { width, hex: false } => write!(out, "{:0width$}", e.id)?,
                Part::Level { max } => {
                    let name = level_name(e.level);
                    out.write_str(max.and_then(|m| name.get(..m)).unwrap_or(name))?
                }
                Part::Module => out.write_str(&e.module)?,
                Part::ShortFunc => out.write_str(e.function)?,
                Part::Message => {
                    out.write_str(&e.message)?;
                    for (k, v) in &e.fields {
                        write!(out, " {k}={v}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn parse_verb(verb: &str) -> Result<Part, String> {
    let (name, arg) = match verb.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (verb, None),
    };
    Ok(match (name, arg) {
        ("color", None) => Part::Color,
        ("color", Some("bold")) => Part::Bold,
        ("color", Some("reset")) => Part::Reset,
        ("time", arg) => Part::Time(parse_layout(arg.unwrap_or("2006-01-02T15:04:05.000Z07:00"))),
        ("id", arg) => {
            let spec = arg.unwrap_or("d");
            let (digits, hex) = match spec.strip_suffix('x') {
                Some(d) => (d, true),
                None => (
                    spec.strip_suffix('d')
                        .ok_or(format!("bad id format {spec:?}"))?,
                    false,
                ),
            };
            let width = if digits.is_empty() {
                0
            } else {
                digits
                    .parse()
                    .ok()
                    .filter(|w| *w <= MAX_ID_WIDTH)
                    .ok_or_else(|| format!("bad id format {spec:?}"))?
            };
            Part::Id { width, hex }
        }
        ("level", None) => Part::Level { max: None },
        ("level", Some(spec)) => {
            let max = spec
                .strip_prefix('.')
                .and_then(|s| s.strip_suffix('s'))
                .and_then(|n| n.parse().ok())
                .ok_or(format!("bad level format {spec:?}"))?;
            Part::Level { max: Some(max) }
        }
        ("module", _) => Part::Module,
        ("shortfunc", _) => Part::ShortFunc,
        ("message", _) => Part::Message,
        _ => return Err(format!("unknown verb %{{{verb}}}")),
    })
}

/// Go reference-time layout tokens, longest first where one is a prefix of another.
fn parse_layout(layout: &str) -> Vec<TimeToken> {
    const TOKENS: [(&str, TimeToken); 12] = [
        ("2006", TimeToken::Year),
        (
            "Z07:00",
            TimeToken::Offset {
                colon: true,
                z: true,
            },
        ),
        (
            "-07:00",
            TimeToken::Offset {
                colon: true,
                z: false,
            },
        ),
        (
            "-0700",
            TimeToken::Offset {
                colon: false,
                z: false,
            },
        ),
        (".000000000", TimeToken::Fraction(9)),
        (".000000", TimeToken::Fraction(6)),
        (".000", TimeToken::Fraction(3)),
        ("MST", TimeToken::Zone),
        ("01", TimeToken::Month),
        ("02", TimeToken::Day),
        ("15", TimeToken::Hour),
        ("04", TimeToken::Minute),
    ];
    let mut out = Vec::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (text, token) in &TOKENS {
            if let Some(r) = rest.strip_prefix(text) {
                out.push(token.clone());
                rest = r;
                continue 'outer;
            }
        }
        if let Some(r) = rest.strip_prefix("05") {
            out.push(TimeToken::Second);
            rest = r;
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        match out.last_mut() {
            Some(TimeToken::Text(t)) => t.push(c),
            _ => out.push(TimeToken::Text(c.to_string())),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Times are always UTC: `MST` prints `UTC`, offsets print `Z` or `+00:00`.
fn write_time(out: &mut impl fmt::Write, t: OffsetDateTime, tokens: &[TimeToken]) -> fmt::Result {
    for token in tokens {
        match token {
            TimeToken::Text(s) => out.write_str(s)?,
            TimeToken::Year => write!(out, "{:04}", t.year())?,
            TimeToken::Month => write!(out, "{:02}", u8::from(t.month()))?,
            TimeToken::Day => write!(out, "{:02}", t.day())?,
            TimeToken::Hour => write!(out, "{:02}", t.hour())?,
            TimeToken::Minute => write!(out, "{:02}", t.minute())?,
            TimeToken::Second => write!(out, "{:02}", t.second())?,
            TimeToken::Fraction(digits) => {
                let nanos = format!("{:09}", t.nanosecond());
                write!(out, ".{}", nanos.get(..*digits).unwrap_or(&nanos))?
            }
            TimeToken::Zone => out.write_str("UTC")?,
            TimeToken::Offset { z: true, .. } => out.write_str("Z")?,
            TimeToken::Offset { colon: true, .. } => out.write_str("+00:00")?,
            TimeToken::Offset { colon: false, .. } => out.write_str("+0000")?,
        }
    }
    Ok(())
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE | Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// flogging's colours: debug cyan, info blue, warning yellow, error red.
fn level_color(level: Level) -> &'static str {
    match level {
        Level::TRACE | Level::DEBUG => "\x1b[36m",
        Level::INFO => "\x1b[34m",
        Level::WARN => "\x1b[33m",
        Level::ERROR => "\x1b[31m",
    }
}

/// Fabric's JSON encoder (zap's): `level`, `ts` (seconds), `name`, `caller`, `msg`, fields.
fn write_json(out: &mut impl fmt::Write, e: &Entry<'_>) -> fmt::Result {
    let mut m = serde_json::Map::new();
    m.insert(
        "level".into(),
        level_name(e.level).to_ascii_lowercase().into(),
    );
    let ts = e.time.unix_timestamp_nanos() as f64 / 1e9;
    m.insert("ts".into(), ts.into());
    m.insert("name".into(), e.module.clone().into());
    m.insert("caller".into(), e.caller.clone().into());
    m.insert("msg".into(), e.message.clone().into());
    for (k, v) in &e.fields {
        m.entry(k.clone()).or_insert_with(|| v.clone().into());
    }
    out.write_str(&serde_json::Value::Object(m).to_string())
}

/// What one line shows.
struct Entry<'a> {
    time: OffsetDateTime,
    id: u64,
    level: Level,
    module: String,
    function: &'a str,
    caller: String,
    message: String,
    fields: Vec<(String, String)>,
}

#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(String, String)>,
}

impl Fields {
    fn push(&mut self, field: &Field, text: String) {
        if field.name() == "message" {
            self.message.push_str(&text);
        } else {
            self.others.push((field.name().to_owned(), text));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = meta.target();
        let span = ctx.lookup_current().map(|s| s.name());
        let last = target.rsplit("::").next().unwrap_or(target);
        let entry = Entry {
            time: OffsetDateTime::now_utc(),
            id: SEQUENCE.fetch_add(1, Ordering::Relaxed) + 1,
            level: *meta.level(),
            module: target.replace("::", "."),
            function: span.unwrap_or(last),
            caller: format!(
                "{}:{}",
                meta.file().unwrap_or("?"),
                meta.line().unwrap_or(0)
            ),
            message: fields.message,
            fields: fields.others,
        };
        self.write_entry(&mut writer, &entry)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            // 2026-12-01 20:01:13.292 UTC
            time: OffsetDateTime::from_unix_timestamp_nanos(1_796_155_273_292_000_000).unwrap(),
            id: 0x42,
            level: Level::INFO,
            module: "chaincode".into(),
            function: "Launch",
            caller: "src/x.rs:7".into(),
            message: "launched chaincode".into(),
            fields: vec![("name".into(), "mycc".into())],
        }
    }

    fn line(format: &LineFormat) -> String {
        let mut s = String::new();
        format.write_entry(&mut s, &entry()).unwrap();
        s
    }

    #[test]
    fn default_format_is_fabrics() {
        assert_eq!(
            line(&LineFormat::default()),
            "2026-12-01 20:01:13.292 UTC 0042 INFO [chaincode] Launch -> launched chaincode name=mycc"
        );
        assert_eq!(
            line(&LineFormat::default().with_ansi(true)),
            "\x1b[34m2026-12-01 20:01:13.292 UTC 0042 INFO\x1b[0m [chaincode] \x1b[1mLaunch\x1b[0m -> \
             launched chaincode name=mycc"
        );
    }

    #[test]
    fn custom_patterns_and_json() {
        let f = LineFormat::parse(
            "%{time:2006-01-02T15:04:05.000000Z07:00} %{level} %{id:d} %{message}",
        )
        .unwrap();
        assert_eq!(
            line(&f),
            "2026-12-01T20:01:13.292000Z INFO 66 launched chaincode name=mycc"
        );
        let json: serde_json::Value =
            serde_json::from_str(&line(&LineFormat::parse("json").unwrap())).unwrap();
        assert_eq!(json["level"], "info");
        assert_eq!(json["name"], "chaincode");
        assert_eq!(json["msg"], "launched chaincode");
        assert_eq!(json["name"], "chaincode");
        assert_eq!(json["caller"], "src/x.rs:7");
        assert!((json["ts"].as_f64().unwrap() - 1_796_155_273.292).abs() < 1e-3);
        assert!(LineFormat::parse("%{id:1000000x}").is_ok());
        for bad in [
            "%{nope}",
            "%{level",
            "%{id:zz}",
            "%{level:4}",
            "%{id:1000001d}",
            "%{id:99999999999999999999999x}",
        ] {
            assert!(LineFormat::parse(bad).is_err(), "{bad}");
        }
    }
}
