//! Normal mode: dial the peer's `protos.ChaincodeSupport/Register` and run the protocol on it.
//! The stream's end is an error: the peer relaunches the chaincode, so the process should exit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fabric_protos::peer::chaincode_support_client::ChaincodeSupportClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::chaincode::Chaincode;
use crate::error::RuntimeError;
use crate::handler::{chat, shutdown_watch, HandlerSettings, MAX_MESSAGE_SIZE, OUTBOUND_QUEUE};
use crate::transport::config::{split_host_port, NormalConfig};
use crate::transport::tls::normalize_private_key_pem;

/// How long the TCP/TLS connection to the peer may take (the old Go shim's blocking dial).
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// The Go shim's keepalive; the peer enforces at least one minute between pings.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Connects to the peer and serves it until the stream ends (an error) or `shutdown` fires
/// (`Ok`).
pub async fn run(
    cc: Arc<dyn Chaincode>,
    cfg: NormalConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    let stop = shutdown_watch(shutdown);
    let endpoint = endpoint(&cfg)?;
    tracing::info!(peer = %cfg.peer_address, tls = cfg.tls.is_some(), name = %cfg.chaincode_name, "connecting to the peer");
    let channel = endpoint.connect().await?;
    let mut client = ChaincodeSupportClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let settings = HandlerSettings {
        chaincode_name: cfg.chaincode_name.clone(),
        msp_id: cfg.msp_id.clone(),
    };
    let inbound = async move {
        let response = client.register(ReceiverStream::new(rx)).await?;
        Ok::<_, RuntimeError>(response.into_inner())
    };
    chat(cc, settings, inbound, tx, stop).await
}

fn endpoint(cfg: &NormalConfig) -> Result<Endpoint, RuntimeError> {
    let (host, _) = split_host_port(&cfg.peer_address).map_err(|reason| {
        crate::error::ConfigError::Invalid {
            name: "peer.address",
            reason,
        }
    })?;
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", cfg.peer_address))
        .map_err(|e| crate::error::ConfigError::Invalid {
            name: "peer.address",
            reason: e.to_string(),
        })?
        .connect_timeout(DIAL_TIMEOUT)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    if let Some(tls) = &cfg.tls {
        let key = normalize_private_key_pem(&tls.client_key_pem)
            .map_err(|e| RuntimeError::Tls(format!("client key: {e}")))?;
        crate::transport::tls::check_certificates_pem(&tls.client_cert_pem)
            .map_err(|e| RuntimeError::Tls(format!("client certificate: {e}")))?;
        crate::transport::tls::check_certificates_pem(&tls.root_cert_pem)
            .map_err(|e| RuntimeError::Tls(format!("root certificate: {e}")))?;
        // No server-name override: SNI and verification use the host of peer.address, which
        // the peer's chaincode-listener certificate names (possibly as an IP SAN).
        let tls_config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&tls.root_cert_pem))
            .identity(Identity::from_pem(&tls.client_cert_pem, key))
            .domain_name(host);
        endpoint = endpoint
            .tls_config(tls_config)
            .map_err(|e| RuntimeError::Tls(e.to_string()))?;
    }
    Ok(endpoint)
}
