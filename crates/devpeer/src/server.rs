//! Running the peer in the foreground: open the ledger, make the TLS material, serve
//! `protos.ChaincodeSupport/Register` and the admin socket, and on SIGINT/SIGTERM or
//! `POST /shutdown` stop every chaincode and exit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fabric_protos::peer::chaincode_support_server::{ChaincodeSupport, ChaincodeSupportServer};
use fabric_protos::peer::ChaincodeMessage;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

use crate::builder::Builders;
use crate::handler::{serve_stream, Expect};
use crate::ledger::Ledger;
use crate::peer::{Peer, PeerConfig, PeerTls, MAX_MSG};
use crate::tls::TlsCa;

/// Everything `devpeer start` needs.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The home directory.
    pub home: PathBuf,
    /// Where the chaincode listener binds.
    pub chaincode_listen: SocketAddr,
    /// Address handed to chaincode; default: the bound listen address.
    pub chaincode_address: Option<String>,
    /// TLS on the chaincode listener.
    pub tls: bool,
    /// The external builders.
    pub builders: Builders,
    /// The peer's settings.
    pub config: PeerConfig,
}

struct Support {
    peer: Arc<Peer>,
}

#[tonic::async_trait]
impl ChaincodeSupport for Support {
    type RegisterStream = ReceiverStream<Result<ChaincodeMessage, Status>>;

    async fn register(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> Result<Response<Self::RegisterStream>, Status> {
        let expect = if self.peer.tls.is_some() {
            let hash = request
                .peer_certs()
                .and_then(|certs| certs.first().map(|c| Sha256::digest(c.as_ref()).into()));
            Expect::CertHash(hash)
        } else {
            Expect::ByName
        };
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(serve_stream(
            self.peer.clone(),
            request.into_inner(),
            tx,
            expect,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// A started peer: its handle and the future that runs it.
pub struct Started {
    /// The peer.
    pub peer: Arc<Peer>,
    /// The address handed to chaincode.
    pub chaincode_address: String,
    /// Send `true` to stop the peer.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds everything and starts serving in background tasks.
pub async fn start(opts: StartOptions) -> Result<Started, String> {
    // 1. The ledger (one devpeer per home), the admin socket and the chaincode listener.
    std::fs::create_dir_all(&opts.home).map_err(|e| format!("{}: {e}", opts.home.display()))?;
    let ledger = Ledger::open(&opts.home.join("ledger.redb")).map_err(|e| {
        format!(
            "opening the ledger in {}: {e} (is another devpeer running with this home?)",
            opts.home.display()
        )
    })?;
    let admin_sock = opts.home.join("admin.sock");
    let admin = crate::admin::bind(&admin_sock).await?;
    let listener = tokio::net::TcpListener::bind(opts.chaincode_listen)
        .await
        .map_err(|e| {
            format!(
                "binding the chaincode listener {}: {e}",
                opts.chaincode_listen
            )
        })?;
    // 2. The address chaincode dials, and TLS material for its host.
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let address = opts
        .chaincode_address
        .clone()
        .unwrap_or_else(|| bound.to_string());
    let tls = if opts.tls {
        let ca = TlsCa::generate().map_err(|e| e.to_string())?;
        let server = ca
            .server_cert(&host_of(&address))
            .map_err(|e| e.to_string())?;
        Some(PeerTls { ca, server })
    } else {
        None
    };
    let builder = grpc_server(tls.as_ref())?;
    // 3. The peer, then its two services in background tasks.
    let peer = Arc::new(Peer::new(
        opts.config.clone(),
        opts.home.clone(),
        ledger,
        opts.builders.clone(),
        tls,
        address.clone(),
    ));
    let (shutdown, _) = tokio::sync::watch::channel(false);
    let grpc = serve_chaincode(builder, listener, peer.clone(), shutdown.subscribe());
    let admin_task = tokio::spawn(crate::admin::serve(peer.clone(), admin, shutdown.clone()));
    tracing::info!(
        home = %opts.home.display(),
        chaincode_address = %address,
        tls = opts.tls,
        channel = %opts.config.channel,
        admin = %admin_sock.display(),
        "devpeer started"
    );
    Ok(Started {
        peer,
        chaincode_address: address,
        shutdown,
        tasks: vec![grpc, admin_task],
    })
}

/// The host of a `host:port` address (an IPv6 literal without its brackets).
fn host_of(address: &str) -> String {
    address
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(address)
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// The chaincode listener's gRPC server: keepalives as a peer sends them, and with TLS a
/// server certificate and required client certificates from the peer's CA.
fn grpc_server(tls: Option<&PeerTls>) -> Result<Server, String> {
    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)));
    if let Some(t) = tls {
        let cfg = ServerTlsConfig::new()
            .identity(Identity::from_pem(
                &t.server.cert_pem,
                t.server.key_pem_pkcs8(),
            ))
            .client_ca_root(Certificate::from_pem(t.ca.cert_pem()));
        builder = builder.tls_config(cfg).map_err(|e| format!("TLS: {e}"))?;
    }
    Ok(builder)
}

/// Serves `protos.ChaincodeSupport/Register` on `listener` until shutdown is signalled.
fn serve_chaincode(
    mut builder: Server,
    listener: tokio::net::TcpListener,
    peer: Arc<Peer>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let svc = ChaincodeSupportServer::new(Support { peer })
        .max_decoding_message_size(MAX_MSG)
        .max_encoding_message_size(MAX_MSG);
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|v| *v).await;
        };
        if let Err(e) = builder
            .add_service(svc)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopped)
            .await
        {
            tracing::error!("chaincode listener: {e}");
        }
    })
}

impl Started {
    /// Runs until SIGINT, SIGTERM or an admin shutdown, then stops all chaincode.
    pub async fn run_until_stopped(self) {
        let mut rx = self.shutdown.subscribe();
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {},
            _ = rx.wait_for(|v| *v) => {},
        }
        tracing::info!("devpeer stopping");
        let _ = self.shutdown.send(true);
        self.peer.launcher.stop_all().await;
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        let _ = std::fs::remove_file(self.peer.home.join("admin.sock"));
    }
}
