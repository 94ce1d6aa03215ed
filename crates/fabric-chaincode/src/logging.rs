//! `tracing` set up as Fabric logs: the level from `FABRIC_LOGGING_SPEC`, Fabric's
//! `module[,module]=level:...:default` syntax (e.g. `INFO`, `ercc=DEBUG:warning`; module names
//! become tracing targets), and the line format from `FABRIC_LOGGING_FORMAT` (a `%{...}`
//! pattern, or `json`), by default Fabric's own:
//! `2026-12-01 20:01:13.292 UTC 0042 INFO [ercc] contract -> enclave registered channel=ch`.
//! Colour only when standard error is a terminal: chaincode logs end up in the peer's log file.
//!
//! A spec becomes a [`Targets`] filter (target prefixes and levels, which is all a Fabric spec
//! can say), so a chaincode does not carry `EnvFilter`'s span and field matching. This module
//! needs the `logging` cargo feature (on by default); without it the runtime only emits
//! `tracing` events and the program chooses its own subscriber.

mod format;

pub use format::{FormatError, LineFormat};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The spec could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid FABRIC_LOGGING_SPEC {spec:?}: {reason}")]
pub struct LoggingError {
    spec: String,
    reason: String,
}

fn level(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "debug" => Some("debug"),
        "info" => Some("info"),
        "warn" | "warning" => Some("warn"),
        // Fabric also has PANIC and FATAL; tracing's most severe level is error.
        "error" | "panic" | "dpanic" | "fatal" => Some("error"),
        _ => None,
    }
}

/// Translates a Fabric logging spec into `tracing` filter directives (`ercc=debug,warn`).
///
/// An empty spec means `info`, Fabric's default. The last default level given wins, as in
/// Fabric.
pub fn directives_from_spec(spec: &str) -> Result<String, LoggingError> {
    let fail = |reason: String| LoggingError {
        spec: spec.to_owned(),
        reason,
    };
    let mut default = "info";
    let mut modules: Vec<String> = Vec::new();
    for term in spec.split(':').map(str::trim).filter(|t| !t.is_empty()) {
        match term.split_once('=') {
            None => default = level(term).ok_or_else(|| fail(format!("unknown level {term:?}")))?,
            Some((names, lvl)) => {
                let lvl =
                    level(lvl.trim()).ok_or_else(|| fail(format!("unknown level {lvl:?}")))?;
                for name in names.split(',').map(str::trim) {
                    let valid = !name.is_empty()
                        && name.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
                        });
                    if !valid {
                        return Err(fail(format!("invalid module name {name:?}")));
                    }
                    // Fabric loggers are dotted ("ercc.registry"); tracing targets use "::".
                    let target = name.replace(['.', '/'], "::").replace('-', "_");
                    modules.push(format!("{target}={lvl}"));
                }
            }
        }
    }
    modules.push(default.to_owned());
    Ok(modules.join(","))
}

/// Builds the filter for a spec: each module a target prefix with its level, and the default.
pub fn filter_from_spec(spec: &str) -> Result<Targets, LoggingError> {
    let directives = directives_from_spec(spec)?;
    directives.parse::<Targets>().map_err(|e| LoggingError {
        spec: spec.to_owned(),
        reason: e.to_string(),
    })
}

/// Installs a stderr `tracing` subscriber configured from `FABRIC_LOGGING_SPEC` and
/// `FABRIC_LOGGING_FORMAT`.
///
/// An invalid spec falls back to `info`, an invalid format to Fabric's default, and each says
/// so; calling it twice is harmless.
pub fn init() {
    let spec = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_default();
    let (filter, problem) = match filter_from_spec(&spec) {
        Ok(f) => (f, None),
        Err(e) => (
            Targets::new().with_default(tracing::Level::INFO),
            Some(format!("{e}; logging at INFO")),
        ),
    };
    install(filter, problem);
}

/// Installs a stderr subscriber with `filter` (any global filter layer: the [`Targets`] of
/// [`filter_from_spec`], or an `EnvFilter` for programs with their own level variable, such as
/// `devpeer`) and the `FABRIC_LOGGING_FORMAT` line format. `problem` is logged as a warning
/// once the subscriber is in place.
pub fn install<F>(filter: F, problem: Option<String>)
where
    F: Layer<Registry> + Send + Sync + 'static,
{
    let (format, format_problem) = match LineFormat::from_env() {
        Ok(f) => (f, None),
        Err(e) => (LineFormat::default(), Some(e.to_string())),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .event_format(format.with_ansi(ansi));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .try_init()
        .is_ok();
    if installed {
        for p in [problem, format_problem].into_iter().flatten() {
            tracing::warn!("{p}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(directives_from_spec("INFO").unwrap(), "info");
        assert_eq!(directives_from_spec("").unwrap(), "info");
        assert_eq!(
            directives_from_spec("ercc=DEBUG:warning").unwrap(),
            "ercc=debug,warn"
        );
        assert_eq!(
            directives_from_spec("a,b.c=error:fabric_chaincode=debug:debug").unwrap(),
            "a=error,b::c=error,fabric_chaincode=debug,debug"
        );
        assert!(directives_from_spec("LOUD").is_err());
        assert!(directives_from_spec("x=LOUD").is_err());
        assert!(directives_from_spec("=info").is_err());
        assert!(filter_from_spec("ercc=DEBUG:warning").is_ok());
    }

    #[test]
    fn filters_by_module_prefix_then_default() {
        use tracing::Level;
        let f = filter_from_spec("ercc=DEBUG:fabric_chaincode.handler=error:warning").unwrap();
        assert!(f.would_enable("ercc", &Level::DEBUG));
        assert!(f.would_enable("ercc::registry", &Level::DEBUG));
        assert!(!f.would_enable("ercc::registry", &Level::TRACE));
        assert!(!f.would_enable("fabric_chaincode::handler", &Level::WARN));
        assert!(f.would_enable("fabric_chaincode::stub", &Level::WARN));
        assert!(!f.would_enable("h2", &Level::INFO));
        let f = filter_from_spec("").unwrap();
        assert!(f.would_enable("anything", &Level::INFO));
        assert!(!f.would_enable("anything", &Level::DEBUG));
    }
}
