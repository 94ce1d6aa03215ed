//! A small but real peer for tests and the benchmark: the peer side of the chaincode protocol
//! over real gRPC (a `ChaincodeSupport` server for normal mode, a `Chaincode` client for CaaS
//! mode) with an in-memory ledger. It pages range queries by 100 like the real peer and counts
//! what it was asked, so tests can check paging, CLOSE and the one-request-per-tx rule.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fabric_chaincode::fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use fabric_chaincode::fabric_protos::msp::SerializedIdentity;
use fabric_chaincode::fabric_protos::peer::chaincode_client::ChaincodeClient;
use fabric_chaincode::fabric_protos::peer::chaincode_message::Type;
use fabric_chaincode::fabric_protos::peer::chaincode_support_server::{
    ChaincodeSupport, ChaincodeSupportServer,
};
use fabric_chaincode::fabric_protos::peer::write_record::Type as RecordType;
use fabric_chaincode::fabric_protos::peer::{
    ChaincodeAdditionalParams, ChaincodeId, ChaincodeInput, ChaincodeMessage,
    ChaincodeProposalPayload, ChaincodeSpec, DelState, GetHistoryForKey, GetState, GetStateByRange,
    Proposal, PutState, QueryMetadata, QueryResponse, QueryResponseMetadata, QueryResultBytes,
    QueryStateClose, QueryStateNext, Response, SignedProposal,
};
use fabric_chaincode::fabric_protos::peer::{
    GetStateMultiple, GetStateMultipleResult, WriteBatchState,
};
use fabric_chaincode::fabric_protos::queryresult::{KeyModification, Kv};
use fabric_chaincode::MAX_MESSAGE_SIZE;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint, Server, ServerTlsConfig};

pub const PAGE: usize = 100;

/// Shared in-memory world state plus history, with request counters.
#[derive(Default)]
pub struct Ledger {
    pub state: Mutex<BTreeMap<String, Vec<u8>>>,
    pub private: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    pub history: Mutex<BTreeMap<String, Vec<KeyModification>>>,
    pub query_next: AtomicUsize,
    pub query_close: AtomicUsize,
    pub requests: AtomicUsize,
    /// Requests that arrived while another request of the same transaction was unanswered.
    pub overlapping: AtomicUsize,
}

type Routes = Arc<Mutex<HashMap<(String, String), mpsc::UnboundedSender<ChaincodeMessage>>>>;

/// The peer's end of one registered stream.
#[derive(Clone)]
pub struct PeerConn {
    pub name: String,
    out: mpsc::Sender<ChaincodeMessage>,
    routes: Routes,
    unrouted: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<ChaincodeMessage>>>,
    pub ledger: Arc<Ledger>,
    /// Completes when the chaincode side ends the stream.
    pub closed: Arc<tokio::sync::Notify>,
    closed_flag: Arc<std::sync::atomic::AtomicBool>,
}

/// How a transaction ended.
#[derive(Debug)]
pub enum Outcome {
    Completed(Response, ChaincodeMessage),
    Error(String, ChaincodeMessage),
}

impl Outcome {
    pub fn response(&self) -> &Response {
        match self {
            Outcome::Completed(r, _) => r,
            Outcome::Error(e, _) => panic!("transaction failed with ERROR: {e}"),
        }
    }
    pub fn ok_payload(&self) -> String {
        let r = self.response();
        assert_eq!(r.status, 200, "status {} message {:?}", r.status, r.message);
        String::from_utf8(r.payload.clone()).unwrap()
    }
    pub fn error_text(&self) -> &str {
        match self {
            Outcome::Error(e, _) => e,
            Outcome::Completed(r, _) => panic!("expected ERROR, got COMPLETED {r:?}"),
        }
    }
}

pub fn msg(ty: Type, payload: Vec<u8>, txid: &str, channel: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: ty as i32,
        payload,
        txid: txid.into(),
        channel_id: channel.into(),
        ..Default::default()
    }
}

/// An INIT message with `args` (`is_init` set) and a client's proposal, on channel `ch`.
pub fn init_message(args: &[&str], txid: &str) -> ChaincodeMessage {
    let input = ChaincodeInput {
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        is_init: true,
        ..Default::default()
    };
    let mut m = msg(Type::Init, input.encode_to_vec(), txid, "ch");
    m.proposal = Some(proposal("ch", txid, &[]));
    m
}

/// A signed proposal like a client's: endorser transaction header, creator, transient map.
pub fn proposal(channel: &str, txid: &str, transient: &[(&str, &[u8])]) -> SignedProposal {
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        channel_id: channel.into(),
        tx_id: txid.into(),
        timestamp: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 42,
        }),
        epoch: 7,
        ..Default::default()
    };
    proposal_with_header(channel_header, transient)
}

pub fn proposal_with_header(
    channel_header: ChannelHeader,
    transient: &[(&str, &[u8])],
) -> SignedProposal {
    let creator = SerializedIdentity {
        mspid: "Org1MSP".into(),
        id_bytes: b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n".to_vec(),
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: SignatureHeader {
            creator: creator.encode_to_vec(),
            nonce: b"nonce".to_vec(),
        }
        .encode_to_vec(),
    };
    let payload = ChaincodeProposalPayload {
        input: Vec::new(),
        transient_map: transient
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect(),
    };
    SignedProposal {
        proposal_bytes: Proposal {
            header: header.encode_to_vec(),
            payload: payload.encode_to_vec(),
            extension: Vec::new(),
        }
        .encode_to_vec(),
        signature: b"sig".to_vec(),
    }
}

impl PeerConn {
    /// Runs the peer side of the handshake on a fresh stream: expects REGISTER, sends
    /// REGISTERED and READY (with Fabric 3.1's additional parameters).
    pub async fn handshake<S>(
        mut inbound: S,
        out: mpsc::Sender<ChaincodeMessage>,
        ledger: Arc<Ledger>,
    ) -> PeerConn
    where
        S: Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin + Send + 'static,
    {
        let first = tokio::time::timeout(Duration::from_secs(10), inbound.next())
            .await
            .expect("REGISTER in time")
            .expect("stream open")
            .expect("no error");
        assert_eq!(
            first.r#type,
            Type::Register as i32,
            "first message must be REGISTER"
        );
        let name = ChaincodeId::decode(first.payload.as_slice()).unwrap().name;
        out.send(msg(Type::Registered, vec![], "", ""))
            .await
            .unwrap();
        let params = ChaincodeAdditionalParams {
            use_write_batch: true,
            max_size_write_batch: 1000,
            use_get_multiple_keys: true,
            max_size_get_multiple_keys: 1000,
        };
        out.send(msg(Type::Ready, params.encode_to_vec(), "", ""))
            .await
            .unwrap();
        PeerConn::wrap(name, inbound, out, ledger)
    }

    /// Wraps a stream whose handshake the caller performs by hand (handshake tests).
    pub fn wrap<S>(
        name: String,
        mut inbound: S,
        out: mpsc::Sender<ChaincodeMessage>,
        ledger: Arc<Ledger>,
    ) -> PeerConn
    where
        S: Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin + Send + 'static,
    {
        let routes: Routes = Arc::default();
        let (unrouted_tx, unrouted_rx) = mpsc::unbounded_channel();
        let closed = Arc::new(tokio::sync::Notify::new());
        let closed_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let routes = Arc::clone(&routes);
            let closed = Arc::clone(&closed);
            let closed_flag = Arc::clone(&closed_flag);
            tokio::spawn(async move {
                while let Some(Ok(m)) = inbound.next().await {
                    let key = (m.channel_id.clone(), m.txid.clone());
                    let route = routes.lock().unwrap().get(&key).cloned();
                    match route {
                        Some(r) if r.send(m.clone()).is_ok() => {}
                        _ => {
                            let _ = unrouted_tx.send(m);
                        }
                    }
                }
                closed_flag.store(true, Ordering::SeqCst);
                routes.lock().unwrap().clear();
                closed.notify_waiters();
            });
        }
        PeerConn {
            name,
            out,
            routes,
            unrouted: Arc::new(tokio::sync::Mutex::new(unrouted_rx)),
            ledger,
            closed,
            closed_flag,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed_flag.load(Ordering::SeqCst)
    }

    /// Waits until the chaincode side has ended the stream.
    pub async fn wait_closed(&self, within: Duration) -> bool {
        let notified = self.closed.notified();
        if self.is_closed() {
            return true;
        }
        tokio::time::timeout(within, notified).await.is_ok() || self.is_closed()
    }

    /// Sends any message as is (bad-input tests).
    pub async fn send_raw(&self, m: ChaincodeMessage) {
        self.out.send(m).await.unwrap();
    }

    /// Next message that belonged to no running transaction (KEEPALIVE echoes, ERRORs about
    /// stray messages).
    pub async fn next_unrouted(&self, within: Duration) -> Option<ChaincodeMessage> {
        let mut rx = self.unrouted.lock().await;
        tokio::time::timeout(within, rx.recv()).await.ok().flatten()
    }

    /// Runs one transaction to its end, serving the chaincode's ledger requests.
    pub async fn invoke(&self, channel: &str, txid: &str, args: &[&str]) -> Outcome {
        let input = ChaincodeInput {
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            ..Default::default()
        };
        let mut m = msg(Type::Transaction, input.encode_to_vec(), txid, channel);
        m.proposal = Some(proposal(channel, txid, &[("secret", b"s3cr3t")]));
        self.execute(m).await
    }

    /// Sends INIT/TRANSACTION `m` and serves the transaction until COMPLETED/ERROR.
    pub async fn execute(&self, m: ChaincodeMessage) -> Outcome {
        let key = (m.channel_id.clone(), m.txid.clone());
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.routes.lock().unwrap().insert(key.clone(), tx);
        self.out.send(m).await.expect("stream open");
        let mut iterators: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        let mut next_iter = 0usize;
        let outcome = loop {
            let Some(req) = rx.recv().await else {
                panic!("stream closed while transaction {key:?} was running");
            };
            if !rx.is_empty() {
                self.ledger.overlapping.fetch_add(1, Ordering::SeqCst);
            }
            let ty = Type::try_from(req.r#type).unwrap_or(Type::Undefined);
            if ty == Type::Completed {
                let r =
                    Response::decode(req.payload.as_slice()).expect("COMPLETED carries a Response");
                break Outcome::Completed(r, req);
            }
            if ty == Type::Error {
                break Outcome::Error(String::from_utf8_lossy(&req.payload).into_owned(), req);
            }
            self.ledger.requests.fetch_add(1, Ordering::SeqCst);
            let reply = self.serve(&req, ty, &mut iterators, &mut next_iter);
            let (rty, payload) = match reply {
                Ok(p) => (Type::Response, p),
                Err(e) => (
                    Type::Error,
                    format!(
                        "{} failed: transaction ID: {}: {e}",
                        ty.as_str_name(),
                        req.txid
                    )
                    .into_bytes(),
                ),
            };
            self.out
                .send(msg(rty, payload, &req.txid, &req.channel_id))
                .await
                .expect("stream open");
        };
        self.routes.lock().unwrap().remove(&key);
        outcome
    }

    fn serve(
        &self,
        req: &ChaincodeMessage,
        ty: Type,
        iterators: &mut HashMap<String, Vec<Vec<u8>>>,
        next_iter: &mut usize,
    ) -> Result<Vec<u8>, String> {
        let l = &self.ledger;
        match ty {
            Type::GetState => {
                let g = GetState::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                if g.collection.is_empty() {
                    Ok(l.state
                        .lock()
                        .unwrap()
                        .get(&g.key)
                        .cloned()
                        .unwrap_or_default())
                } else {
                    Ok(l.private
                        .lock()
                        .unwrap()
                        .get(&(g.collection, g.key))
                        .cloned()
                        .unwrap_or_default())
                }
            }
            Type::PutState => {
                let p = PutState::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                let delete = p.value.is_empty();
                if !p.collection.is_empty() {
                    let mut m = l.private.lock().unwrap();
                    if delete {
                        m.remove(&(p.collection, p.key));
                    } else {
                        m.insert((p.collection, p.key), p.value);
                    }
                    return Ok(vec![]);
                }
                l.history
                    .lock()
                    .unwrap()
                    .entry(p.key.clone())
                    .or_default()
                    .push(KeyModification {
                        tx_id: req.txid.clone(),
                        value: p.value.clone(),
                        timestamp: None,
                        is_delete: delete,
                    });
                let mut m = l.state.lock().unwrap();
                if delete {
                    m.remove(&p.key);
                } else {
                    m.insert(p.key, p.value);
                }
                Ok(vec![])
            }
            Type::GetStateMultiple => {
                let g =
                    GetStateMultiple::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                let state = l.state.lock().unwrap();
                let values = g
                    .keys
                    .iter()
                    .map(|k| state.get(k).cloned().unwrap_or_default())
                    .collect();
                Ok(GetStateMultipleResult { values }.encode_to_vec())
            }
            Type::WriteBatchState => {
                // Public PUT_STATE / DEL_STATE records (what the tests batch).
                let b =
                    WriteBatchState::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                let mut state = l.state.lock().unwrap();
                for r in b.rec {
                    match RecordType::try_from(r.r#type) {
                        Ok(RecordType::PutState) if !r.value.is_empty() => {
                            state.insert(r.key, r.value);
                        }
                        Ok(RecordType::PutState | RecordType::DelState) => {
                            state.remove(&r.key);
                        }
                        _ => return Err(format!("unsupported write record type {}", r.r#type)),
                    }
                }
                Ok(vec![])
            }
            Type::DelState => {
                let d = DelState::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                if d.collection.is_empty() {
                    l.state.lock().unwrap().remove(&d.key);
                } else {
                    l.private.lock().unwrap().remove(&(d.collection, d.key));
                }
                Ok(vec![])
            }
            Type::GetStateByRange => {
                let r =
                    GetStateByRange::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                let meta =
                    QueryMetadata::decode(r.metadata.as_slice()).map_err(|e| e.to_string())?;
                let paginated = meta.page_size > 0 || !meta.bookmark.is_empty();
                let start = if meta.bookmark.is_empty() {
                    r.start_key.clone()
                } else {
                    meta.bookmark.clone()
                };
                let state = l.state.lock().unwrap();
                let in_range = state
                    .range(start..)
                    .take_while(|(k, _)| r.end_key.is_empty() || **k < r.end_key);
                if paginated {
                    let mut all = in_range.map(|(k, v)| (k.clone(), v.clone()));
                    let page: Vec<_> = all.by_ref().take(meta.page_size as usize).collect();
                    let bookmark = all.next().map(|(k, _)| k).unwrap_or_default();
                    let results = page
                        .iter()
                        .map(|(k, v)| QueryResultBytes {
                            result_bytes: kv(k, v),
                        })
                        .collect();
                    return Ok(QueryResponse {
                        results,
                        has_more: false,
                        id: String::new(),
                        metadata: QueryResponseMetadata {
                            fetched_records_count: page.len() as i32,
                            bookmark,
                        }
                        .encode_to_vec(),
                    }
                    .encode_to_vec());
                }
                let all: Vec<Vec<u8>> = in_range.map(|(k, v)| kv(k, v)).collect();
                drop(state);
                *next_iter += 1;
                let id = format!("iter{next_iter}");
                iterators.insert(id.clone(), all);
                Ok(page_of(iterators, &id))
            }
            Type::QueryStateNext => {
                l.query_next.fetch_add(1, Ordering::SeqCst);
                let n =
                    QueryStateNext::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                if !iterators.contains_key(&n.id) {
                    return Err(format!("query iterator not found: {}", n.id));
                }
                Ok(page_of(iterators, &n.id))
            }
            Type::QueryStateClose => {
                l.query_close.fetch_add(1, Ordering::SeqCst);
                let c =
                    QueryStateClose::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                iterators.remove(&c.id);
                Ok(QueryResponse {
                    has_more: false,
                    id: c.id,
                    ..Default::default()
                }
                .encode_to_vec())
            }
            Type::GetHistoryForKey => {
                let h =
                    GetHistoryForKey::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                let mods = l
                    .history
                    .lock()
                    .unwrap()
                    .get(&h.key)
                    .cloned()
                    .unwrap_or_default();
                let results = mods
                    .iter()
                    .map(|m| QueryResultBytes {
                        result_bytes: m.encode_to_vec(),
                    })
                    .collect();
                Ok(QueryResponse {
                    results,
                    has_more: false,
                    id: "hist".into(),
                    metadata: vec![],
                }
                .encode_to_vec())
            }
            Type::GetPrivateDataHash => {
                let g = GetState::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                let v = l
                    .private
                    .lock()
                    .unwrap()
                    .get(&(g.collection, g.key))
                    .cloned();
                Ok(v.map(|v| {
                    use sha2::Digest;
                    sha2::Sha256::digest(v).to_vec()
                })
                .unwrap_or_default())
            }
            Type::InvokeChaincode => {
                let spec =
                    ChaincodeSpec::decode(req.payload.as_slice()).map_err(|e| e.to_string())?;
                let name = spec.chaincode_id.map(|c| c.name).unwrap_or_default();
                let args: Vec<String> = spec
                    .input
                    .map(|i| {
                        i.args
                            .iter()
                            .map(|a| String::from_utf8_lossy(a).into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                let (cc, channel) = name.split_once('/').unwrap_or((&name, ""));
                let inner = match cc {
                    "echo" => msg(
                        Type::Completed,
                        Response {
                            status: 200,
                            message: String::new(),
                            payload: format!("{}@{}", args.join(","), channel).into_bytes(),
                        }
                        .encode_to_vec(),
                        &req.txid,
                        &req.channel_id,
                    ),
                    "notfound" => msg(
                        Type::Completed,
                        Response {
                            status: 404,
                            message: format!("namespace {cc} is not defined"),
                            payload: vec![],
                        }
                        .encode_to_vec(),
                        &req.txid,
                        &req.channel_id,
                    ),
                    "fails" => msg(
                        Type::Error,
                        b"callee exploded".to_vec(),
                        &req.txid,
                        &req.channel_id,
                    ),
                    _ => return Err(format!("chaincode {cc} not found")),
                };
                Ok(inner.encode_to_vec())
            }
            other => Err(format!("unsupported request {}", other.as_str_name())),
        }
    }
}

fn kv(k: &str, v: &[u8]) -> Vec<u8> {
    Kv {
        namespace: "cc".into(),
        key: k.into(),
        value: v.to_vec(),
    }
    .encode_to_vec()
}

fn page_of(iterators: &mut HashMap<String, Vec<Vec<u8>>>, id: &str) -> Vec<u8> {
    let rest = iterators
        .get_mut(id)
        .map(std::mem::take)
        .unwrap_or_default();
    let mut rest = rest.into_iter();
    let results: Vec<QueryResultBytes> = rest
        .by_ref()
        .take(PAGE)
        .map(|b| QueryResultBytes { result_bytes: b })
        .collect();
    let remaining: Vec<Vec<u8>> = rest.collect();
    let has_more = !remaining.is_empty();
    if has_more {
        iterators.insert(id.to_owned(), remaining);
    } else {
        // Like the real peer: the last batch frees the iterator.
        iterators.remove(id);
    }
    QueryResponse {
        results,
        has_more,
        id: id.to_owned(),
        metadata: vec![],
    }
    .encode_to_vec()
}

// ---------- normal mode: the peer is the gRPC server ----------

struct SupportService {
    ledger: Arc<Ledger>,
    conns: mpsc::UnboundedSender<PeerConn>,
}

type Out = Pin<Box<dyn Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl ChaincodeSupport for SupportService {
    type RegisterStream = Out;
    async fn register(
        &self,
        request: tonic::Request<tonic::Streaming<ChaincodeMessage>>,
    ) -> Result<tonic::Response<Out>, tonic::Status> {
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        let ledger = Arc::clone(&self.ledger);
        let conns = self.conns.clone();
        tokio::spawn(async move {
            let conn = PeerConn::handshake(inbound, tx, ledger).await;
            let _ = conns.send(conn);
        });
        Ok(tonic::Response::new(Box::pin(
            ReceiverStream::new(rx).map(Ok),
        )))
    }
}

/// A normal-mode peer listening on 127.0.0.1; every chaincode that registers appears on the
/// returned receiver.
pub struct NormalPeer {
    pub addr: SocketAddr,
    pub ledger: Arc<Ledger>,
    pub conns: mpsc::UnboundedReceiver<PeerConn>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl NormalPeer {
    pub async fn start(tls: Option<ServerTlsConfig>) -> NormalPeer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ledger = Arc::new(Ledger::default());
        let (ctx, crx) = mpsc::unbounded_channel();
        let (stx, srx) = tokio::sync::oneshot::channel::<()>();
        let svc = ChaincodeSupportServer::new(SupportService {
            ledger: Arc::clone(&ledger),
            conns: ctx,
        })
        .max_decoding_message_size(MAX_MESSAGE_SIZE * 2)
        .max_encoding_message_size(MAX_MESSAGE_SIZE * 2);
        let mut builder = Server::builder().tcp_nodelay(true);
        if let Some(t) = tls {
            builder = builder.tls_config(t).unwrap();
        }
        let router = builder.add_service(svc);
        tokio::spawn(async move {
            let _ = router
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = srx.await;
                })
                .await;
        });
        NormalPeer {
            addr,
            ledger,
            conns: crx,
            shutdown: Some(stx),
        }
    }

    pub async fn next_conn(&mut self) -> PeerConn {
        tokio::time::timeout(Duration::from_secs(20), self.conns.recv())
            .await
            .expect("a chaincode registered in time")
            .expect("peer running")
    }

    pub fn stop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

// ---------- CaaS mode: the peer is the gRPC client ----------

/// Opens a `Connect` stream to a chaincode server (the peer's side of CaaS).
pub async fn connect_caas(
    addr: SocketAddr,
    tls: Option<ClientTlsConfig>,
    ledger: Arc<Ledger>,
) -> Result<PeerConn, String> {
    let (tx, inbound) = open_caas(addr, tls).await?;
    Ok(PeerConn::handshake(inbound, tx, ledger).await)
}

/// How long opening a stream may take, refused or not.
const OPEN_WAIT: Duration = Duration::from_secs(20);

/// Opens a `Connect` stream and returns its raw halves (handshake tests).
pub async fn open_caas(
    addr: SocketAddr,
    tls: Option<ClientTlsConfig>,
) -> Result<
    (
        mpsc::Sender<ChaincodeMessage>,
        tonic::Streaming<ChaincodeMessage>,
    ),
    String,
> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut ep = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    if let Some(t) = tls {
        ep = ep.tls_config(t).map_err(|e| e.to_string())?;
    }
    // Bounded: a refused peer must be told so, never left waiting (that fails the test).
    let opened = tokio::time::timeout(OPEN_WAIT, async move {
        let channel: Channel = ep.connect().await.map_err(|e| format!("{e:?}"))?;
        let mut client = ChaincodeClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_SIZE * 2)
            .max_encoding_message_size(MAX_MESSAGE_SIZE * 2);
        let (tx, rx) = mpsc::channel(1024);
        let inbound = client
            .connect(ReceiverStream::new(rx))
            .await
            .map_err(|e| format!("{e:?}"))?
            .into_inner();
        Ok((tx, inbound))
    });
    opened
        .await
        .unwrap_or_else(|_| panic!("opening a stream to {addr} took over {OPEN_WAIT:?}"))
}
