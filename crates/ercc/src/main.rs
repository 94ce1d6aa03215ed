//! The `ercc` binary: the FPC enclave registry chaincode (no subcommand) and its
//! operator subcommands.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// What `ercc --help` adds after the options: how the chaincode is run and configured.
const ENVIRONMENT_HELP: &str = "\
Without a subcommand, ercc runs the registry chaincode; the subcommands never do.

Chaincode environment (see the README for details):
  Normal mode (the peer launches ercc -peer.address=HOST:PORT):
    CORE_CHAINCODE_ID_NAME, CORE_PEER_TLS_ENABLED, CORE_PEER_TLS_ROOTCERT_FILE,
    CORE_TLS_CLIENT_KEY_FILE, CORE_TLS_CLIENT_CERT_FILE (or CORE_TLS_CLIENT_{KEY,CERT}_PATH),
    CORE_PEER_LOCALMSPID
  Chaincode as a service (both of the first two set):
    CHAINCODE_PKG_ID, CHAINCODE_SERVER_ADDRESS, CHAINCODE_TLS_DISABLED, CHAINCODE_TLS_KEY,
    CHAINCODE_TLS_CERT, CHAINCODE_CLIENT_CA_CERT
  Operations endpoint (/healthz, /metrics; off unless set):
    CHAINCODE_OPERATIONS_LISTEN_ADDRESS=HOST:PORT
  Logging: FABRIC_LOGGING_SPEC (e.g. info, ercc=debug:warning), FABRIC_LOGGING_FORMAT
    (a %{...} pattern or json; default Fabric's line format)
  Attestation policy (every organisation must use the same; see Policy:queryActivePolicy):
    ERCC_POLICY_FILE, ERCC_ACCEPTED_EVIDENCE, ERCC_IAS_ACCEPTED_QUOTE_STATUSES,
    ERCC_ALLOW_DEBUG_ENCLAVES, ERCC_MAX_REPORT_AGE, ERCC_IAS_ROOT_CA, ERCC_DCAP_ROOT_CA,
    ERCC_DCAP_ACCEPTED_TCB_STATUSES, ERCC_DCAP_REJECTED_ADVISORIES

Exit status: 0 success; 1 failure (ercc verify: the evidence is rejected); 2 usage error;
3 ercc verify could not check (unreadable input, bad policy, output failed).";

/// FPC enclave registry: run as chaincode (no subcommand) or use an operator tool.
#[derive(Debug, Parser)]
#[command(name = "ercc", version, about, after_help = ENVIRONMENT_HELP)]
struct Cli {
    /// Normal mode: the peer's chaincode address (`-peer.address=host:port` also works).
    #[arg(long = "peer.address", value_name = "HOST:PORT")]
    _peer_address: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[cfg(feature = "tools")]
#[derive(Debug, Subcommand)]
enum Command {
    /// Decode base64 credentials into readable JSON.
    Inspect(ercc::inspect::InspectArgs),
    /// Check credentials offline as registerEnclave would, at a given time (exit 1: rejected).
    Verify(ercc::verify::VerifyArgs),
    /// Build a Fabric install package for the registry and print its package id.
    Package(ercc::package::PackageArgs),
    /// Fetch DCAP collateral and turn a dcap attestation into verifiable dcap evidence.
    Convert(ercc::convert::ConvertArgs),
    /// An FPC enclave without SGX (simulated evidence): credentials and key distribution messages.
    MockEnclave(ercc::mock_enclave::MockEnclaveArgs),
}

/// A chaincode-only build (no `tools` feature): any subcommand is refused by name.
#[cfg(not(feature = "tools"))]
#[derive(Debug, Subcommand)]
enum Command {
    #[command(external_subcommand)]
    Missing(Vec<OsString>),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // The peer starts the chaincode with no arguments or with `-peer.address`; that path does
    // not need clap's parser (whose code would otherwise be paged in for the process's life).
    if args.get(1..).is_some_and(is_chaincode_invocation) {
        return ercc_registry::contract::run_chaincode();
    }
    let cli = Cli::parse_from(normalize_go_flags(args.into_iter()));
    let result = match cli.command {
        // The runtime reads `-peer.address` and the environment itself.
        None => return ercc_registry::contract::run_chaincode(),
        Some(command) => run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((e, code)) => {
            // Standard error may be closed too; that must not turn into a panic.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("ercc: {e}\n").as_bytes(),
            );
            ExitCode::from(code)
        }
    }
}

/// Runs an operator subcommand; `Err` carries the message and the exit status.
#[cfg(feature = "tools")]
fn run(command: Command) -> Result<(), (String, u8)> {
    match command {
        Command::Inspect(args) => ercc::inspect::run(args).map_err(|e| (e.to_string(), 1)),
        Command::Verify(args) => {
            ercc::verify::run(args).map_err(|e| (e.to_string(), e.exit_code()))
        }
        Command::Package(args) => ercc::package::run(args).map_err(|e| (e.to_string(), 1)),
        Command::Convert(args) => ercc::convert::run(args).map_err(|e| (e.to_string(), 1)),
        Command::MockEnclave(args) => ercc::mock_enclave::run(args).map_err(|e| (e.to_string(), 1)),
    }
}

/// A chaincode-only build refuses every subcommand with a usage error naming the feature.
#[cfg(not(feature = "tools"))]
fn run(command: Command) -> Result<(), (String, u8)> {
    let Command::Missing(args) = command;
    let name = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    Err((
        format!(
            "'{name}' is an operator tool: this ercc was built without the `tools` feature \
             and runs only the chaincode"
        ),
        2,
    ))
}

/// Whether `args` (without the program name) are exactly what a peer passes to chaincode:
/// nothing, `-peer.address=HOST:PORT`, or `-peer.address HOST:PORT` (also with `--`). Anything
/// else, including a flag without its value, goes through clap for its usual answer.
fn is_chaincode_invocation(args: &[OsString]) -> bool {
    let is_flag = |a: &OsString| matches!(a.to_str(), Some("-peer.address" | "--peer.address"));
    let is_value = |a: &OsString| {
        a.to_str()
            .is_some_and(|v| !v.is_empty() && !v.starts_with('-'))
    };
    match args {
        [] => true,
        [one] => one.to_str().is_some_and(|s| {
            ["-peer.address=", "--peer.address="]
                .iter()
                .any(|p| s.strip_prefix(p).is_some_and(|v| !v.is_empty()))
        }),
        [flag, value] => is_flag(flag) && is_value(value),
        _ => false,
    }
}

/// The peer starts chaincode with Go-style `-peer.address=h:p`; clap wants `--`.
fn normalize_go_flags(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    args.map(|a| match a.to_str() {
        Some(s) if s == "-peer.address" || s.starts_with("-peer.address=") => {
            format!("-{s}").into()
        }
        _ => a,
    })
    .collect()
}

#[cfg(all(test, not(feature = "tools")))]
mod tests {
    use super::*;

    /// A chaincode-only build refuses a subcommand as a usage error naming the feature.
    #[test]
    fn chaincode_only_build_names_the_missing_feature() {
        let (text, code) = run(Command::Missing(vec!["inspect".into()])).unwrap_err();
        assert_eq!(code, 2);
        assert!(
            text.contains("'inspect'") && text.contains("`tools` feature"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod invocation_tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    /// Only the peer's own invocations skip clap; help, subcommands and malformed flags do not.
    #[test]
    fn only_the_peers_invocations_skip_the_parser() {
        for peer in [
            &[][..],
            &["-peer.address=127.0.0.1:7052"],
            &["--peer.address=peer0:7052"],
            &["-peer.address", "peer0:7052"],
            &["--peer.address", "peer0:7052"],
        ] {
            assert!(is_chaincode_invocation(&args(peer)), "{peer:?}");
        }
        for other in [
            &["--help"][..],
            &["inspect"],
            &["-peer.address"],
            &["-peer.address="],
            &["-peer.address", "--help"],
            &["-peer.address=p:1", "inspect"],
            &["--version"],
        ] {
            assert!(!is_chaincode_invocation(&args(other)), "{other:?}");
        }
    }
}
