//! The operations endpoint, in the style of Fabric's operations service: `GET /healthz` and
//! Prometheus `GET /metrics` on `CHAINCODE_OPERATIONS_LISTEN_ADDRESS` (the chaincode's
//! `operations.listenAddress`). Off unless that variable is set.
//!
//! When off, nothing here costs anything per transaction: the contract layer sees
//! `None` from one atomic load and reads no clock. When on, a transaction costs a clock read
//! and a few atomic increments (counters and histograms are created once per function).
//!
//! - Health: normal mode is healthy while the stream to the peer is up (after READY); CaaS
//!   while the server is serving.
//! - Runtime metrics (namespace `chaincode`, subsystem `contract`): transactions by function
//!   and outcome, and transaction duration. Applications register their own metrics through
//!   [`register_metrics`] (the registry's `ercc_*` counters).

mod histogram;
mod http;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use histogram::AtomicHistogram;
pub use prometheus_client;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::error::ConfigError;
use crate::transport::config::split_host_port;

pub use http::serve;
pub(crate) use http::spawn as spawn_server;

/// The variable naming the operations listen address (`host:port`).
pub const ENV_LISTEN_ADDRESS: &str = "CHAINCODE_OPERATIONS_LISTEN_ADDRESS";

/// Set once the endpoint is configured; `None` inside means "configured off".
static OPERATIONS: OnceLock<Option<Operations>> = OnceLock::new();

struct Operations {
    address: String,
    registry: Mutex<Registry>,
    transactions: Family<[(&'static str, String); 2], Counter>,
    durations: Family<[(&'static str, String); 1], AtomicHistogram>,
}

/// Reads [`ENV_LISTEN_ADDRESS`] and turns the endpoint on when it is set. Only the first call
/// decides; later calls return the same answer. Call it before registering metrics.
pub fn enable_from_env() -> Result<bool, ConfigError> {
    let address = std::env::var(ENV_LISTEN_ADDRESS)
        .ok()
        .filter(|a| !a.is_empty());
    enable(address)
}

/// Turns the endpoint on at `address` (or keeps it off with `None`), unless already decided.
pub fn enable(address: Option<String>) -> Result<bool, ConfigError> {
    if let Some(a) = &address {
        split_host_port(a).map_err(|reason| ConfigError::Invalid {
            name: ENV_LISTEN_ADDRESS,
            reason,
        })?;
    }
    Ok(OPERATIONS
        .get_or_init(|| address.map(Operations::new))
        .is_some())
}

/// Whether the endpoint is on.
pub fn enabled() -> bool {
    matches!(OPERATIONS.get(), Some(Some(_)))
}

fn operations() -> Option<&'static Operations> {
    OPERATIONS.get().and_then(Option::as_ref)
}

/// Lets an application add its metrics to what `/metrics` serves. Runs `f` only when the
/// endpoint is on, and returns whether it ran.
pub fn register_metrics(f: impl FnOnce(&mut Registry)) -> bool {
    let Some(ops) = operations() else {
        return false;
    };
    let mut registry = ops.registry.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut registry);
    true
}

impl Operations {
    fn new(address: String) -> Operations {
        let mut registry = Registry::default();
        let transactions = Family::default();
        let durations = Family::default();
        let chaincode = registry.sub_registry_with_prefix("chaincode_contract");
        chaincode.register(
            "transactions",
            "Transactions run by the contract, by function and outcome (success, error)",
            transactions.clone(),
        );
        chaincode.register(
            "transaction_duration_seconds",
            "Time the contract took per transaction, ledger calls included, by function",
            durations.clone(),
        );
        Operations {
            address,
            registry: Mutex::new(registry),
            transactions,
            durations,
        }
    }

    fn encode(&self) -> Result<String, std::fmt::Error> {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
        Ok(text)
    }
}

/// Where the endpoint listens, when on.
pub(crate) fn listen_address() -> Option<&'static str> {
    operations().map(|o| o.address.as_str())
}

/// Label for transactions whose function the contract does not declare: the label set stays
/// bounded whatever clients send.
pub const UNKNOWN_FUNCTION: &str = "unknown";

struct FunctionMetrics {
    success: Counter,
    error: Counter,
    duration: AtomicHistogram,
}

/// The per-function metric handles of one contract chaincode, created once so a transaction
/// only increments atomics. Functions are found by every spelling the dispatcher accepts.
pub(crate) struct TransactionMetrics {
    index: BTreeMap<Vec<u8>, usize>,
    functions: Vec<FunctionMetrics>,
}

impl TransactionMetrics {
    /// `None` when the endpoint is off. `functions`: each label with the spellings of the
    /// first argument that select it; an [`UNKNOWN_FUNCTION`] entry is added.
    pub(crate) fn new(functions: Vec<(String, Vec<Vec<u8>>)>) -> Option<TransactionMetrics> {
        let ops = operations()?;
        let mut index = BTreeMap::new();
        let mut handles = Vec::new();
        let unknown = (UNKNOWN_FUNCTION.to_owned(), Vec::new());
        for (i, (label, spellings)) in functions.into_iter().chain([unknown]).enumerate() {
            for s in spellings {
                index.entry(s).or_insert(i);
            }
            let counter = |outcome: &str| {
                ops.transactions.get_or_create_owned(&[
                    ("function", label.clone()),
                    ("outcome", outcome.to_owned()),
                ])
            };
            handles.push(FunctionMetrics {
                success: counter("success"),
                error: counter("error"),
                duration: ops
                    .durations
                    .get_or_create_owned(&[("function", label.clone())]),
            });
        }
        Some(TransactionMetrics {
            index,
            functions: handles,
        })
    }

    /// Counts one transaction: `function` is its first argument, `status` the response's.
    pub(crate) fn record(&self, function: &[u8], status: i32, elapsed: Duration) {
        let i = self
            .index
            .get(function)
            .copied()
            .unwrap_or(self.functions.len() - 1);
        let Some(m) = self.functions.get(i) else {
            return;
        };
        if status < crate::ERROR_THRESHOLD {
            m.success.inc();
        } else {
            m.error.inc();
        }
        m.duration.observe(elapsed);
    }
}

const MODE_NONE: u8 = 0;
const MODE_NORMAL: u8 = 1;
const MODE_CAAS: u8 = 2;
static MODE: AtomicU8 = AtomicU8::new(MODE_NONE);
static UP: AtomicBool = AtomicBool::new(false);

/// Normal mode's health: the stream to the peer.
pub(crate) struct PeerStream;

/// Declares normal mode; the stream counts as down until [`PeerStream::up`].
pub(crate) fn peer_stream() -> PeerStream {
    MODE.store(MODE_NORMAL, Ordering::Relaxed);
    PeerStream
}

impl PeerStream {
    /// The peer sent READY.
    pub(crate) fn up(&self) {
        UP.store(true, Ordering::Relaxed);
    }

    /// The stream ended.
    pub(crate) fn down(&self) {
        UP.store(false, Ordering::Relaxed);
    }
}

/// CaaS health: serving while this guard lives.
pub(crate) struct Serving;

/// Declares CaaS mode and marks the server serving until the guard is dropped.
pub(crate) fn serving() -> Serving {
    MODE.store(MODE_CAAS, Ordering::Relaxed);
    UP.store(true, Ordering::Relaxed);
    Serving
}

impl Drop for Serving {
    fn drop(&mut self) {
        UP.store(false, Ordering::Relaxed);
    }
}

/// The failed health checks, as `(component, reason)`; empty when healthy.
pub(crate) fn failed_checks() -> Vec<(&'static str, &'static str)> {
    let up = UP.load(Ordering::Relaxed);
    match MODE.load(Ordering::Relaxed) {
        MODE_NORMAL if !up => vec![("peer_stream", "the stream to the peer is not up")],
        MODE_CAAS if !up => vec![("chaincode_server", "the chaincode server is not serving")],
        MODE_NORMAL | MODE_CAAS => Vec::new(),
        _ => vec![("runtime", "the chaincode runtime has not started")],
    }
}
