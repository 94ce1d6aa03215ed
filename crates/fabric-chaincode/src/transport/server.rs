//! Chaincode-as-a-service: serve `protos.Chaincode/Connect`. Every stream (one per peer, and a
//! new one after a peer restart) gets its own handler with its own REGISTER; the server keeps
//! running when a stream ends.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use fabric_formats::pem::normalize_private_key;
use fabric_protos::peer::chaincode_server::{Chaincode as ConnectService, ChaincodeServer};
use fabric_protos::peer::ChaincodeMessage;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::chaincode::Chaincode;
use crate::error::RuntimeError;
use crate::handler::{
    chat, shutdown_watch, stopped, HandlerSettings, MAX_MESSAGE_SIZE, OUTBOUND_QUEUE,
};
use crate::transport::config::CaasConfig;
use crate::transport::tls::check_certificates_pem;

/// Go's `ChaincodeServer` defaults.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// TCP keepalive idle time of accepted connections: Go's `net.Listen` default, which the Go
/// `ChaincodeServer` inherits.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);
/// How long shutdown waits for connections to drain after every stream was ended.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

struct Service {
    cc: Arc<dyn Chaincode>,
    settings: HandlerSettings,
    stop: watch::Receiver<bool>,
}

type OutboundStream = Pin<Box<dyn Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl ConnectService for Service {
    type ConnectStream = OutboundStream;

    async fn connect(
        &self,
        request: tonic::Request<tonic::Streaming<ChaincodeMessage>>,
    ) -> Result<tonic::Response<Self::ConnectStream>, tonic::Status> {
        let remote = request
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unknown".into());
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let cc = Arc::clone(&self.cc);
        let settings = self.settings.clone();
        let stop = self.stop.clone();
        tracing::info!(%remote, "peer connected");
        tokio::spawn(async move {
            let inbound = std::future::ready(Ok::<_, RuntimeError>(inbound));
            match chat(cc, settings, inbound, tx, stop).await {
                Ok(()) => tracing::info!(%remote, "stream ended by shutdown"),
                Err(RuntimeError::StreamClosed) => tracing::info!(%remote, "peer disconnected"),
                Err(e) => tracing::warn!(%remote, "peer stream ended: {e}"),
            }
        });
        Ok(tonic::Response::new(Box::pin(
            ReceiverStream::new(rx).map(Ok),
        )))
    }
}

/// Binds `cfg.address` and serves until `shutdown` fires.
pub async fn run(
    cc: Arc<dyn Chaincode>,
    cfg: CaasConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    let listener = TcpListener::bind(&cfg.address)
        .await
        .map_err(|source| RuntimeError::Bind {
            address: cfg.address.clone(),
            source,
        })?;
    serve(cc, cfg, listener, shutdown).await
}

/// Serves on an already bound listener (tests bind port 0) until `shutdown` fires.
pub async fn serve(
    cc: Arc<dyn Chaincode>,
    cfg: CaasConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    let local: Option<SocketAddr> = listener.local_addr().ok();
    let mut stop = shutdown_watch(shutdown);
    let service = Service {
        cc,
        settings: HandlerSettings {
            chaincode_name: cfg.package_id.clone(),
            msp_id: cfg.msp_id.clone(),
        },
        stop: stop.clone(),
    };
    // TCP options belong on the incoming stream (see `incoming`); the builder's are ignored.
    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT));
    match &cfg.tls {
        Some(tls) => {
            let key = normalize_private_key(&tls.key_pem)
                .map_err(|e| RuntimeError::Tls(format!("server key: {e}")))?;
            check_certificates_pem(&tls.cert_pem)
                .map_err(|e| RuntimeError::Tls(format!("server certificate: {e}")))?;
            let mut tls_config =
                ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, key));
            if let Some(ca) = &tls.client_ca_pem {
                check_certificates_pem(ca)
                    .map_err(|e| RuntimeError::Tls(format!("client CA certificate: {e}")))?;
                tls_config = tls_config.client_ca_root(Certificate::from_pem(ca));
            }
            builder = builder
                .tls_config(tls_config)
                .map_err(|e| RuntimeError::Tls(e.to_string()))?;
            tracing::info!(address = ?local, package_id = %cfg.package_id, mutual_tls = tls.client_ca_pem.is_some(), "serving chaincode over TLS");
        }
        None => {
            tracing::warn!(address = ?local, package_id = %cfg.package_id, "serving chaincode WITHOUT TLS (no CHAINCODE_TLS_KEY/CHAINCODE_TLS_CERT, or CHAINCODE_TLS_DISABLED=true)");
        }
    }
    let router = builder.add_service(
        ChaincodeServer::new(service)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
    );
    let mut drain_stop = stop.clone();
    let serving = router.serve_with_incoming_shutdown(incoming(listener), async move {
        stopped(&mut drain_stop).await;
    });
    tokio::pin!(serving);
    let _serving = crate::operations::serving();
    tokio::select! {
        r = &mut serving => return r.map_err(RuntimeError::from),
        () = stopped(&mut stop) => {}
    }
    // Every stream's handler has been told to stop; give connections a moment to close.
    match tokio::time::timeout(DRAIN_TIMEOUT, serving).await {
        Ok(r) => r.map_err(RuntimeError::from),
        Err(_) => {
            tracing::warn!("connections did not close within {DRAIN_TIMEOUT:?}; stopping anyway");
            Ok(())
        }
    }
}

/// The accepted connections, with the socket options set on each one. tonic's
/// `serve_with_incoming*` ignores the builder's `tcp_nodelay`/`tcp_keepalive`, so they are set
/// here: without `TCP_NODELAY` every small reply waits for Nagle's algorithm and the peer's
/// delayed ACK (tens of milliseconds per request at one request in flight).
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(TCP_KEEPALIVE))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the options back from a connection the real listener accepted.
    #[tokio::test]
    async fn accepted_connections_have_nodelay_and_keepalive() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut accepted = incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = accepted.next().await.unwrap().unwrap();
        assert!(stream.nodelay().unwrap(), "TCP_NODELAY not set");
        let sock = socket2::SockRef::from(&stream);
        assert!(sock.keepalive().unwrap(), "SO_KEEPALIVE not set");
        assert_eq!(sock.tcp_keepalive_time().unwrap(), TCP_KEEPALIVE);
    }
}
