//! The `ercc` binary: the FPC enclave registry chaincode (no subcommand) and its
//! operator subcommands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// FPC enclave registry: run as chaincode (no subcommand) or use an operator tool.
#[derive(Debug, Parser)]
#[command(name = "ercc", version, about)]
struct Cli {
    /// Normal mode: the peer's chaincode address (`-peer.address=host:port` also works).
    #[arg(long = "peer.address", value_name = "HOST:PORT")]
    _peer_address: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode base64 credentials into readable JSON.
    Inspect(ercc::inspect::InspectArgs),
    /// Check credentials offline as registerEnclave would, at a given time.
    Verify(ercc::verify::VerifyArgs),
    /// Build a Fabric install package for the registry and print its package id.
    Package(ercc::package::PackageArgs),
    /// Fetch DCAP collateral and turn a dcap attestation into verifiable dcap evidence.
    Convert(ercc::convert::ConvertArgs),
    /// An FPC enclave without SGX (simulated evidence): credentials and key distribution messages.
    MockEnclave(ercc::mock_enclave::MockEnclaveArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalize_go_flags(std::env::args_os()));
    let result = match cli.command {
        Some(Command::Inspect(args)) => ercc::inspect::run(args).map_err(|e| e.to_string()),
        Some(Command::Verify(args)) => ercc::verify::run(args).map_err(|e| e.to_string()),
        Some(Command::Package(args)) => ercc::package::run(args).map_err(|e| e.to_string()),
        Some(Command::Convert(args)) => ercc::convert::run(args).map_err(|e| e.to_string()),
        Some(Command::MockEnclave(args)) => {
            ercc::mock_enclave::run(args).map_err(|e| e.to_string())
        }
        // The runtime reads `-peer.address` and the environment itself.
        None => return ercc::contract::run_chaincode(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ercc: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The peer starts chaincode with Go-style `-peer.address=h:p`; clap wants `--`.
fn normalize_go_flags(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    args.map(|a| match a.to_str() {
        Some(s) if s == "-peer.address" || s.starts_with("-peer.address=") => {
            format!("-{s}").into()
        }
        _ => a,
    })
    .collect()
}
