//! Hyperledger Fabric chaincode runtime: the peer protocol in both run modes, the stub, and
//! fabric-contract-api-go compatible contract dispatch.
//!
//! # Writing a chaincode
//! Implement [`contract::Contract`] (fabric-contract-api-go's dispatch rules) or, lower down,
//! [`Chaincode`], and hand it to [`start`] from `main`. `examples/kv_chaincode.rs` is a
//! complete contract; `cargo build -p fabric-chaincode --example kv_chaincode` builds it, and
//! it runs like a Go chaincode (see below for the environment):
//!
//! ```no_run
//! use std::sync::Arc;
//! use fabric_chaincode::contract::{
//!     Contract, ContractChaincode, ReturnKind, ReturnValue, TransactionInfo,
//! };
//! use fabric_chaincode::ChaincodeStub;
//!
//! struct Kv(Vec<TransactionInfo>);
//!
//! impl Contract for Kv {
//!     fn name(&self) -> &str {
//!         "KV"
//!     }
//!     fn transactions(&self) -> &[TransactionInfo] {
//!         &self.0
//!     }
//!     fn call(&self, stub: &mut ChaincodeStub, _function: &str, params: &[String])
//!         -> Result<ReturnValue, String> {
//!         let [key, value] = params else { return Err("need a key and a value".into()) };
//!         stub.put_state(key, value.as_bytes()).map_err(|e| e.to_string())?;
//!         Ok(ReturnValue::Nothing)
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     fabric_chaincode::logging::init();
//!     let kv = Kv(vec![TransactionInfo::submit("Put", 2, ReturnKind::Nothing)]);
//!     fabric_chaincode::start(Arc::new(ContractChaincode::new(vec![Arc::new(kv)])))
//! }
//! ```
//!
//! [`run_normal`] and [`serve_caas`] run one transport with an explicit configuration
//! ([`config`]) and shutdown future, for tests and for embedding the runtime in a larger process.
//!
//! # Run modes
//! [`run`] picks the mode from the environment:
//! - **Normal mode** (neither `CHAINCODE_PKG_ID` nor `CHAINCODE_SERVER_ADDRESS` set): dials the
//!   peer at the `-peer.address=HOST:PORT` / `--peer.address HOST:PORT` flag and registers as
//!   `CORE_CHAINCODE_ID_NAME`. `CORE_PEER_TLS_ENABLED` (Go `ParseBool`) turns on TLS with the
//!   client key/certificate from `CORE_TLS_CLIENT_{KEY,CERT}_FILE` (PEM; preferred when set) or
//!   `CORE_TLS_CLIENT_{KEY,CERT}_PATH` (base64 of PEM), verifying the peer against
//!   `CORE_PEER_TLS_ROOTCERT_FILE` under the host name of `peer.address`. ALPN `h2`, 100 MiB
//!   messages. Keys labelled "EC PRIVATE KEY" that really are PKCS#8 (as Fabric writes them)
//!   are accepted. When the peer closes the stream, [`run`] returns an error: the process
//!   should exit non-zero and the peer relaunches it.
//! - **Chaincode-as-a-service** (both set): serves `protos.Chaincode/Connect` on
//!   `CHAINCODE_SERVER_ADDRESS` and registers every stream as `CHAINCODE_PKG_ID` (or
//!   `CHAINCODE_ID`, the name Fabric's samples use; both set and different is refused). Any number of
//!   peers may connect at once and reconnect later. TLS:
//!   `CHAINCODE_TLS_DISABLED=true` serves plain gRPC; otherwise `CHAINCODE_TLS_KEY` and
//!   `CHAINCODE_TLS_CERT` (PEM files) enable TLS, and `CHAINCODE_CLIENT_CA_CERT` (PEM file)
//!   makes it mutual. **With none of these set the server runs without TLS** (as FPC's Go
//!   ercc does) and logs a warning; `CHAINCODE_TLS_DISABLED=false` without a key and
//!   certificate, or a key without a certificate, is refused.
//! - Only one of the two set: refused with [`ConfigError::HalfCaas`].
//!
//! SIGTERM and SIGINT end [`run`] with `Ok(())`.
//!
//! Normal mode's connection set-up (TCP, TLS, HTTP/2, the peer's answer to REGISTER) is bounded
//! by the dial timeout (10 s); failing, [`run`] returns [`RuntimeError::Connect`] naming the
//! address and the step. With `CHAINCODE_OPERATIONS_LISTEN_ADDRESS` set, [`run`] also serves
//! `/healthz` and `/metrics` ([`operations`]). `logging` (cargo feature `logging`, on by
//! default) writes Fabric's log line format.
//!
//! # Protocol behaviour worth knowing
//! - Each INIT/TRANSACTION runs [`Chaincode`] where [`Chaincode::execution`] says: on its own
//!   blocking thread (the default), or inline on the stream's thread as a coroutine
//!   ([`Execution::Inline`], for short transactions: no thread hand-off per ledger call).
//!   Either way stub calls return with the peer's reply, and a transaction has at most one
//!   outstanding request.
//! - Messages the protocol does not allow in the ready state (unknown types, stray replies
//!   for transactions that are not waiting) are logged and answered with ERROR, but the
//!   stream stays up so other transactions are not affected (the Go shim tears it down).
//! - A transaction whose input or proposal cannot be decoded gets ERROR; so does one whose
//!   contract panics, or whose result exceeds the message limit.

#![deny(missing_docs)]
#![deny(clippy::expect_used)]

mod chaincode;
pub mod contract;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod go_json;
mod handler;
mod inflight;
mod inline;
mod keys;
#[cfg(feature = "logging")]
pub mod logging;
pub mod operations;
mod stub;
mod transport;

use std::future::Future;
use std::sync::Arc;

pub use chaincode::{error, success, Chaincode, Execution, Response, ERROR, ERROR_THRESHOLD, OK};
pub use error::{
    ConfigError, ConnectError, FileError, KeyError, PemError, RuntimeError, StubError, TlsError,
};
pub use fabric_protos;
pub use handler::MAX_MESSAGE_SIZE;
pub use keys::{create_composite_key, partial_composite_key_range, split_composite_key};
pub use stub::{ChaincodeStub, HistoryIterator, Page, QueryIterator, StateIterator};
pub use transport::config;
pub use transport::config::{CaasConfig, ClientTls, Mode, NormalConfig, ServerTls};

/// Runs the chaincode in the mode the environment selects (see the crate docs) until SIGTERM
/// or SIGINT (`Ok`) or a fatal error. In normal mode the peer closing the stream is an error.
pub async fn run(cc: Arc<dyn Chaincode>) -> Result<(), RuntimeError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = transport::config::mode_from_env(&args, &|name| std::env::var(name).ok())?;
    run_mode(cc, mode).await
}

/// Runs with an explicit configuration, stopping on SIGTERM/SIGINT.
pub async fn run_mode(cc: Arc<dyn Chaincode>, mode: Mode) -> Result<(), RuntimeError> {
    let signals = termination_signal()?;
    operations::enable_from_env()?;
    operations::spawn_server().await?;
    match mode {
        Mode::Normal(cfg) => transport::client::run(cc, cfg, signals).await,
        Mode::Caas(cfg) => transport::server::run(cc, cfg, signals).await,
    }
}

/// Normal mode with an explicit configuration: dials the peer and serves it until the stream
/// ends (an error: [`RuntimeError::StreamClosed`] or [`RuntimeError::Status`]) or `shutdown`
/// resolves (`Ok`). Installs no signal handler and no operations endpoint.
pub async fn run_normal(
    cc: Arc<dyn Chaincode>,
    cfg: NormalConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    transport::client::run(cc, cfg, shutdown).await
}

/// Chaincode-as-a-service on an already bound listener (`cfg.address` is not bound again;
/// tests bind port 0): serves every peer that connects until `shutdown` resolves. Installs no
/// signal handler and no operations endpoint.
pub async fn serve_caas(
    cc: Arc<dyn Chaincode>,
    cfg: CaasConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    transport::server::serve(cc, cfg, listener, shutdown).await
}

/// Builds a Tokio runtime, runs [`run`], logs the outcome and returns the process exit code
/// (failure when the peer connection is lost in normal mode). Install a `tracing` subscriber
/// first (`logging::init` with the `logging` feature).
pub fn start(cc: Arc<dyn Chaincode>) -> std::process::ExitCode {
    // One thread runs the protocol (gRPC, TLS, reply routing) and the inline transactions;
    // the others run on the blocking pool. Per message that work is small, so worker threads
    // would only add idle stacks, allocator arenas and cross-thread wake-ups (CPU and RSS on
    // every request). Inline transactions need this: a current-thread runtime.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cc)) {
        Ok(()) => {
            tracing::info!("chaincode stopped");
            std::process::ExitCode::SUCCESS
        }
        Err(e @ (RuntimeError::StreamClosed | RuntimeError::Status(_))) => {
            tracing::error!(
                "lost the connection to the peer ({e}); exiting so the peer can relaunch the chaincode"
            );
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            tracing::error!("chaincode stopped: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT. Installed eagerly so a signal that arrives while
/// connecting is not lost.
fn termination_signal(
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, RuntimeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
        }
    })
}
