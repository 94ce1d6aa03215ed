//! Normal mode: dial the peer's `protos.ChaincodeSupport/Register` and run the protocol on it.
//! The stream's end is an error: the peer relaunches the chaincode, so the process should exit.
//!
//! Every step of connecting (TCP, TLS, HTTP/2, the peer's answer to REGISTER) shares one
//! deadline, [`NormalConfig::dial_timeout`]: a peer that accepts TCP and then says nothing
//! must not keep the chaincode waiting on TCP or HTTP/2 keepalive timers for minutes. A
//! failure names the address and the step ([`RuntimeError::Connect`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fabric_protos::peer::chaincode_message::Type;
use fabric_protos::peer::chaincode_support_client::ChaincodeSupportClient;
use fabric_protos::peer::ChaincodeMessage;
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::chaincode::Chaincode;
use crate::error::{ConfigError, ConnectError, RuntimeError, TlsError};
use crate::handler::{chat, shutdown_watch, HandlerSettings, MAX_MESSAGE_SIZE, OUTBOUND_QUEUE};
use crate::transport::config::{split_host_port, NormalConfig};
use crate::transport::tls::{certificates, private_key};

/// The Go shim's keepalive; the peer enforces at least one minute between pings.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Connects to the peer and serves it until the stream ends (an error) or `shutdown` fires
/// (`Ok`).
pub(crate) async fn run(
    cc: Arc<dyn Chaincode>,
    cfg: NormalConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    let stop = shutdown_watch(shutdown);
    let endpoint = endpoint(&cfg)?;
    tracing::info!(peer = %cfg.peer_address, tls = cfg.tls.is_some(), name = %cfg.chaincode_name, "connecting to the peer");
    let deadline = deadline_after(cfg.dial_timeout);
    let fail = Failure {
        address: cfg.peer_address.clone(),
        timeout: cfg.dial_timeout,
    };
    let channel = match timeout_at(deadline, endpoint.connect()).await {
        Ok(Ok(channel)) => channel,
        Ok(Err(e)) => return Err(fail.because(ConnectError::Transport(e))),
        Err(_) => return Err(fail.timed_out("the TCP, TLS and HTTP/2 handshake")),
    };
    let mut client = ChaincodeSupportClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let settings = HandlerSettings {
        chaincode_name: cfg.chaincode_name.clone(),
        msp_id: cfg.msp_id.clone(),
    };
    let inbound = async move {
        let response = match timeout_at(deadline, client.register(ReceiverStream::new(rx))).await {
            Ok(Ok(response)) => response,
            Ok(Err(status)) => return Err(fail.because(ConnectError::Refused(status))),
            Err(_) => return Err(fail.timed_out("the answer to REGISTER")),
        };
        first_message_by(deadline, response.into_inner(), fail).await
    };
    let health = crate::operations::peer_stream();
    let result = chat(cc, settings, inbound, tx, stop).await;
    health.down();
    result
}

/// `now + timeout`; a timeout past what `Instant` holds (`Duration::MAX` from an embedding
/// program) means about thirty years, as tokio's own far future, instead of a panic.
fn deadline_after(timeout: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

/// Waits for the peer's first message (REGISTERED) until `deadline`, then hands the stream on
/// with that message in front. Marks the peer stream up for `/healthz` on READY.
pub(crate) async fn first_message_by<S>(
    deadline: Instant,
    mut stream: S,
    fail: impl Into<Failure>,
) -> Result<impl Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin, RuntimeError>
where
    S: Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin,
{
    let fail = fail.into();
    let first = match timeout_at(deadline, stream.next()).await {
        Ok(Some(first)) => first,
        Ok(None) => return Err(fail.because(ConnectError::Closed)),
        Err(_) => return Err(fail.timed_out("REGISTERED")),
    };
    let health = crate::operations::peer_stream();
    Ok(tokio_stream::once(first).chain(stream).map(move |m| {
        if matches!(&m, Ok(m) if m.r#type == Type::Ready as i32) {
            health.up();
        }
        m
    }))
}

/// What a failed connection attempt reports: the peer's address and the dial timeout.
#[derive(Clone)]
pub(crate) struct Failure {
    address: String,
    timeout: Duration,
}

/// For callers without a dial timeout (the fuzz harness): an address alone.
impl From<&str> for Failure {
    fn from(address: &str) -> Self {
        Failure {
            address: address.to_owned(),
            timeout: Duration::ZERO,
        }
    }
}

impl Failure {
    fn because(&self, reason: ConnectError) -> RuntimeError {
        RuntimeError::Connect {
            address: self.address.clone(),
            reason,
        }
    }

    fn timed_out(&self, what: &'static str) -> RuntimeError {
        self.because(ConnectError::TimedOut {
            what,
            timeout: self.timeout,
        })
    }
}

fn endpoint(cfg: &NormalConfig) -> Result<Endpoint, RuntimeError> {
    let (host, _) = split_host_port(&cfg.peer_address).map_err(|reason| ConfigError::Invalid {
        name: "peer.address",
        reason,
    })?;
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", cfg.peer_address))
        .map_err(|e| ConfigError::Invalid {
            name: "peer.address",
            reason: e.to_string(),
        })?
        .connect_timeout(cfg.dial_timeout)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    if let Some(tls) = &cfg.tls {
        let key = private_key("client key", &tls.client_key_pem)?;
        certificates("client certificate", &tls.client_cert_pem)?;
        certificates("root certificate", &tls.root_cert_pem)?;
        // No server-name override: SNI and verification use the host of peer.address, which
        // the peer's chaincode-listener certificate names (possibly as an IP SAN).
        let tls_config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&tls.root_cert_pem))
            .identity(Identity::from_pem(&tls.client_cert_pem, key))
            .domain_name(host);
        endpoint = endpoint.tls_config(tls_config).map_err(TlsError::Config)?;
    }
    Ok(endpoint)
}
