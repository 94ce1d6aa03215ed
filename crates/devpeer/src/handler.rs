//! The peer side of one chaincode stream (either mode): the REGISTER handshake, sending
//! INIT/TRANSACTION and waiting for COMPLETED/ERROR, and serving the chaincode's ledger
//! requests for the transactions in flight. A protocol violation ends this stream only.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fabric_protos::peer::chaincode_message::Type as MsgType;
use fabric_protos::peer::{
    ChaincodeId, ChaincodeInput, ChaincodeMessage, ChaincodeSpec, DelState, GetHistoryForKey,
    GetState, GetStateByRange, GetStateMultiple, GetStateMultipleResult, PutState, QueryMetadata,
    QueryResponse, QueryResponseMetadata, QueryResultBytes, QueryStateClose, QueryStateNext,
    SignedProposal, StateMetadataResult, WriteBatchState,
};
use fabric_protos::prost::Message;
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

use crate::peer::Peer;
use crate::simulator::{QueryIter, Simulation};

/// What goes out on a stream (an `Err` ends a server-side stream with that status).
pub type Outbound = mpsc::Sender<Result<ChaincodeMessage, Status>>;

/// One transaction as seen by one chaincode.
pub struct TxContext {
    /// The channel of the transaction.
    pub channel: String,
    /// Its transaction id.
    pub txid: String,
    /// Namespace (chaincode name) whose state this execution reads and writes.
    pub namespace: String,
    /// The signed proposal the chaincode may read (`GetSignedProposal`).
    pub proposal: Option<SignedProposal>,
    /// The simulation every chaincode of the transaction reads and writes.
    pub sim: Arc<Mutex<Simulation>>,
    /// Endorser index: chaincode-to-chaincode calls stay on the same endorser.
    pub slot: usize,
    /// Chaincode-to-chaincode depth, bounded so recursion cannot run away.
    pub depth: u32,
}

struct ActiveTx {
    ctx: Arc<TxContext>,
    done: Mutex<Option<oneshot::Sender<ChaincodeMessage>>>,
    /// Requests of one transaction are served one at a time, in order.
    serial: tokio::sync::Mutex<()>,
    iterators: Mutex<BTreeMap<String, QueryIter>>,
    next_iter: AtomicU64,
}

/// Why an execution failed before the chaincode produced a result.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The stream ended before the chaincode answered.
    #[error("chaincode stream terminated")]
    StreamClosed,
    /// The chaincode did not answer within the execute timeout.
    #[error("timeout expired while executing transaction")]
    Timeout,
    /// The same transaction id is already executing on this stream.
    #[error("transaction {0} is already executing on this chaincode")]
    Duplicate(String),
}

/// A registered chaincode stream.
pub struct Handler {
    /// The package id the chaincode registered as.
    pub package_id: String,
    /// The endorser slot it serves.
    pub slot: usize,
    out: Outbound,
    txs: Mutex<HashMap<String, Arc<ActiveTx>>>,
    alive: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn msg(t: MsgType, payload: Vec<u8>, txid: &str, channel: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: t as i32,
        payload,
        txid: txid.to_string(),
        channel_id: channel.to_string(),
        ..Default::default()
    }
}

impl Handler {
    /// True until the stream ends.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && !self.out.is_closed()
    }

    /// Sends INIT or TRANSACTION and waits for the chaincode's COMPLETED or ERROR.
    pub async fn execute(
        &self,
        ctx: Arc<TxContext>,
        is_init: bool,
        input: ChaincodeInput,
        timeout: Duration,
    ) -> Result<ChaincodeMessage, ExecError> {
        let key = format!("{}{}", ctx.channel, ctx.txid);
        let (tx, rx) = oneshot::channel();
        {
            let mut txs = lock(&self.txs);
            if txs.contains_key(&key) {
                return Err(ExecError::Duplicate(ctx.txid.clone()));
            }
            txs.insert(
                key.clone(),
                Arc::new(ActiveTx {
                    ctx: ctx.clone(),
                    done: Mutex::new(Some(tx)),
                    serial: tokio::sync::Mutex::new(()),
                    iterators: Mutex::new(BTreeMap::new()),
                    next_iter: AtomicU64::new(1),
                }),
            );
        }
        let t = if is_init {
            MsgType::Init
        } else {
            MsgType::Transaction
        };
        let mut m = msg(t, input.encode_to_vec(), &ctx.txid, &ctx.channel);
        m.proposal = ctx.proposal.clone();
        let result = if self.out.send(Ok(m)).await.is_err() {
            Err(ExecError::StreamClosed)
        } else {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(_)) => Err(ExecError::StreamClosed),
                Err(_) => Err(ExecError::Timeout),
            }
        };
        let active = lock(&self.txs).remove(&key);
        if let Some(active) = active {
            // All of a transaction's iterators close when it completes.
            let iters = std::mem::take(&mut *lock(&active.iterators));
            let mut sim = lock(&ctx.sim);
            for (_, it) in iters {
                sim.finish(it);
            }
        }
        result
    }

    fn shutdown(&self) {
        self.alive.store(false, Ordering::SeqCst);
        // Dropping the senders wakes every waiting execute() with StreamClosed.
        let txs = std::mem::take(&mut *lock(&self.txs));
        for (_, t) in txs {
            lock(&t.done).take();
        }
    }
}

/// How a stream's REGISTER is matched to a launch.
pub enum Expect {
    /// Normal mode with TLS: the client certificate the chaincode presented.
    CertHash(Option<[u8; 32]>),
    /// Normal mode without TLS: by name, first waiting launch.
    ByName,
    /// CaaS: the peer dialled this launch.
    Dialled {
        /// The package the peer dialled for.
        package_id: String,
        /// The endorser slot.
        slot: usize,
        /// Receives the handler once the chaincode registered.
        notify: oneshot::Sender<Arc<Handler>>,
    },
}

/// Serves one chaincode stream until it ends.
pub async fn serve_stream<S>(peer: Arc<Peer>, mut inbound: S, out: Outbound, expect: Expect)
where
    S: tokio_stream::Stream<Item = Result<ChaincodeMessage, Status>> + Unpin + Send + 'static,
{
    use tokio_stream::StreamExt;
    let first = tokio::time::timeout(peer.config.launch_timeout, inbound.next()).await;
    let first = match first {
        Ok(Some(Ok(m))) => m,
        Ok(Some(Err(e))) => {
            tracing::warn!("chaincode stream failed before REGISTER: {e}");
            return;
        }
        Ok(None) => return,
        Err(_) => {
            let _ = out
                .send(Err(Status::deadline_exceeded("no REGISTER received")))
                .await;
            return;
        }
    };
    let (package_id, slot, notify) = match register(&peer, &first, expect) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("refusing chaincode registration: {e}");
            let _ = out
                .send(Ok(msg(
                    MsgType::Error,
                    e.clone().into_bytes(),
                    &first.txid,
                    "",
                )))
                .await;
            let _ = out.send(Err(Status::permission_denied(e))).await;
            return;
        }
    };
    let handler = Arc::new(Handler {
        package_id: package_id.clone(),
        slot,
        out: out.clone(),
        txs: Mutex::new(HashMap::new()),
        alive: AtomicBool::new(true),
    });
    if out
        .send(Ok(msg(MsgType::Registered, vec![], "", "")))
        .await
        .is_err()
        || out
            .send(Ok(msg(MsgType::Ready, ready_payload(&peer), "", "")))
            .await
            .is_err()
    {
        return;
    }
    if notify.send(handler.clone()).is_err() {
        // The launch gave up (timeout) before the chaincode registered.
        let _ = out.send(Err(Status::aborted("launch was abandoned"))).await;
        return;
    }
    tracing::info!(chaincode = %package_id, slot, "chaincode registered");
    while let Some(item) = inbound.next().await {
        let m = match item {
            Ok(m) => m,
            Err(e) => {
                tracing::info!(chaincode = %package_id, "chaincode stream error: {e}");
                break;
            }
        };
        if let Err(e) = dispatch(&peer, &handler, m).await {
            tracing::warn!(chaincode = %package_id, slot, "protocol error, closing stream: {e}");
            let _ = out.send(Err(Status::invalid_argument(e))).await;
            break;
        }
    }
    handler.shutdown();
    tracing::info!(chaincode = %package_id, slot, "chaincode stream ended");
}

type Registered = (String, usize, oneshot::Sender<Arc<Handler>>);

/// READY's payload: Fabric 3.1's `chaincode.runtimeParams` defaults, or nothing (Fabric 2.x).
fn ready_payload(peer: &Peer) -> Vec<u8> {
    if !peer.config.runtime_params {
        return Vec::new();
    }
    fabric_protos::peer::ChaincodeAdditionalParams {
        use_write_batch: true,
        max_size_write_batch: 1000,
        use_get_multiple_keys: true,
        max_size_get_multiple_keys: 1000,
    }
    .encode_to_vec()
}

fn register(peer: &Peer, first: &ChaincodeMessage, expect: Expect) -> Result<Registered, String> {
    if first.r#type != MsgType::Register as i32 {
        return Err(format!(
            "expected REGISTER as the first message, got {}",
            type_name(first.r#type)
        ));
    }
    let id = ChaincodeId::decode(first.payload.as_slice())
        .map_err(|e| format!("malformed REGISTER payload: {e}"))?;
    if id.name.is_empty() {
        return Err("REGISTER with an empty chaincode name".into());
    }
    let (package_id, slot, notify) = match expect {
        Expect::Dialled {
            package_id,
            slot,
            notify,
        } => (package_id, slot, notify),
        Expect::CertHash(hash) => {
            let hash = hash.ok_or("chaincode presented no TLS client certificate")?;
            peer.launcher.take_pending_by_cert(&hash, &id.name)?
        }
        Expect::ByName => peer.launcher.take_pending_by_name(&id.name).ok_or_else(|| {
            format!(
                "peer will not accept external chaincode connection {} (no launch is waiting for it, or it is already registered)",
                id.name
            )
        })?,
    };
    if id.name != package_id {
        return Err(format!(
            "chaincode {} belongs to a different chaincode ({package_id})",
            id.name
        ));
    }
    Ok((package_id, slot, notify))
}

fn type_name(t: i32) -> String {
    MsgType::try_from(t)
        .map(|t| t.as_str_name().to_string())
        .unwrap_or_else(|_| format!("unknown type {t}"))
}

/// Handles one message from a registered chaincode; an `Err` is a protocol violation that
/// ends the stream.
async fn dispatch(peer: &Arc<Peer>, h: &Arc<Handler>, m: ChaincodeMessage) -> Result<(), String> {
    let t =
        MsgType::try_from(m.r#type).map_err(|_| format!("unknown message type {}", m.r#type))?;
    match t {
        MsgType::Keepalive => Ok(()),
        MsgType::Completed | MsgType::Error => {
            complete(h, t, m);
            Ok(())
        }
        t if is_ledger_request(t) => {
            serve_request(peer, h, t, m).await;
            Ok(())
        }
        other => Err(format!(
            "peer cannot handle message ({}) while in ready state",
            other.as_str_name()
        )),
    }
}

/// The requests a chaincode may make while one of its transactions executes.
fn is_ledger_request(t: MsgType) -> bool {
    matches!(
        t,
        MsgType::GetState
            | MsgType::GetStateMultiple
            | MsgType::PutState
            | MsgType::DelState
            | MsgType::WriteBatchState
            | MsgType::GetStateByRange
            | MsgType::QueryStateNext
            | MsgType::QueryStateClose
            | MsgType::GetHistoryForKey
            | MsgType::GetQueryResult
            | MsgType::GetStateMetadata
            | MsgType::PutStateMetadata
            | MsgType::GetPrivateDataHash
            | MsgType::PurgePrivateData
            | MsgType::InvokeChaincode
    )
}

/// COMPLETED or ERROR: hands the reply to the `execute` waiting for it.
fn complete(h: &Handler, t: MsgType, m: ChaincodeMessage) {
    let key = format!("{}{}", m.channel_id, m.txid);
    let active = lock(&h.txs).get(&key).cloned();
    match active.and_then(|a| lock(&a.done).take()) {
        Some(done) => {
            let _ = done.send(m);
        }
        None => tracing::warn!(
            txid = %m.txid,
            "ignoring {} for a transaction that is not executing",
            t.as_str_name()
        ),
    }
}

/// A ledger request: answered with ERROR if its transaction is not executing, else served in
/// the background, in order with the transaction's other requests.
async fn serve_request(peer: &Arc<Peer>, h: &Handler, t: MsgType, m: ChaincodeMessage) {
    let key = format!("{}{}", m.channel_id, m.txid);
    let active = lock(&h.txs).get(&key).cloned();
    let out = h.out.clone();
    let Some(active) = active else {
        let e = format!(
            "{} failed: transaction ID: {}: no ledger context",
            t.as_str_name(),
            m.txid
        );
        let _ = out
            .send(Ok(msg(
                MsgType::Error,
                e.into_bytes(),
                &m.txid,
                &m.channel_id,
            )))
            .await;
        return;
    };
    let peer = peer.clone();
    tokio::spawn(async move {
        let _serial = active.serial.lock().await;
        let reply = match handle_request(&peer, &active, t, &m).await {
            Ok(payload) => msg(MsgType::Response, payload, &m.txid, &m.channel_id),
            Err(e) => msg(
                MsgType::Error,
                format!(
                    "{} failed: transaction ID: {}: {e}",
                    t.as_str_name(),
                    m.txid
                )
                .into_bytes(),
                &m.txid,
                &m.channel_id,
            ),
        };
        let _ = out.send(Ok(reply)).await;
    });
}

fn decode<M: Message + Default>(payload: &[u8], what: &str) -> Result<M, String> {
    M::decode(payload).map_err(|e| format!("unmarshal {what}: {e}"))
}

fn no_private(collection: &str) -> Result<(), String> {
    if collection.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "private data (collection {collection}) is not supported by devpeer"
        ))
    }
}

fn query_response(results: Vec<Vec<u8>>, has_more: bool, id: &str) -> Vec<u8> {
    query_response_msg(results, has_more, id.to_string(), Vec::new()).encode_to_vec()
}

fn query_response_msg(
    results: Vec<Vec<u8>>,
    has_more: bool,
    id: String,
    metadata: Vec<u8>,
) -> QueryResponse {
    QueryResponse {
        results: results
            .into_iter()
            .map(|r| QueryResultBytes { result_bytes: r })
            .collect(),
        has_more,
        id,
        metadata,
    }
}

fn open_iterator(active: &ActiveTx, sim: &mut Simulation, mut it: QueryIter) -> Vec<u8> {
    let (batch, more) = it.next_batch();
    let id = format!("{}", active.next_iter.fetch_add(1, Ordering::SeqCst));
    if more {
        lock(&active.iterators).insert(id.clone(), it);
    } else {
        sim.finish(it);
    }
    query_response(batch, more, &id)
}

/// Serves one ledger request of an executing transaction; the payload of its RESPONSE, or
/// the reason for an ERROR.
async fn handle_request(
    peer: &Arc<Peer>,
    active: &ActiveTx,
    t: MsgType,
    m: &ChaincodeMessage,
) -> Result<Vec<u8>, String> {
    let ctx = &active.ctx;
    let ns = ctx.namespace.as_str();
    let p = m.payload.as_slice();
    if t == MsgType::InvokeChaincode {
        let spec: ChaincodeSpec = decode(p, "ChaincodeSpec")?;
        let reply = peer.invoke_from_chaincode(ctx, spec).await?;
        return Ok(reply.encode_to_vec());
    }
    let mut sim = lock(&ctx.sim);
    let sim = &mut *sim;
    match t {
        MsgType::GetState => get_state(sim, ns, p),
        MsgType::GetStateMultiple => get_state_multiple(sim, ns, p),
        MsgType::PutState => put_state(sim, ns, p),
        MsgType::DelState => del_state(sim, ns, p),
        MsgType::WriteBatchState => write_batch(sim, ns, p),
        MsgType::GetStateByRange => range_request(active, sim, ns, p),
        MsgType::GetHistoryForKey => history(active, sim, ns, p),
        MsgType::QueryStateNext => query_next(active, sim, p),
        MsgType::QueryStateClose => query_close(active, sim, p),
        MsgType::GetStateMetadata => {
            // devpeer keeps no key-level metadata (validation parameters), so there is none.
            Ok(StateMetadataResult { entries: vec![] }.encode_to_vec())
        }
        MsgType::GetQueryResult => Err("ExecuteQuery not supported for leveldb".into()),
        MsgType::PutStateMetadata => {
            Err("key-level endorsement metadata is not supported by devpeer".into())
        }
        _ => Err("private data is not supported by devpeer".into()),
    }
}

fn sim_err(e: crate::simulator::SimError) -> String {
    e.to_string()
}

/// GET_STATE: the committed value (empty when absent).
fn get_state(sim: &mut Simulation, ns: &str, p: &[u8]) -> Result<Vec<u8>, String> {
    let r: GetState = decode(p, "GetState")?;
    no_private(&r.collection)?;
    sim.get(ns, &r.key).map_err(sim_err)
}

/// GET_STATE_MULTIPLE: the committed values, in the order of the keys.
fn get_state_multiple(sim: &mut Simulation, ns: &str, p: &[u8]) -> Result<Vec<u8>, String> {
    let r: GetStateMultiple = decode(p, "GetStateMultiple")?;
    no_private(&r.collection)?;
    let mut values = Vec::with_capacity(r.keys.len());
    for k in &r.keys {
        values.push(sim.get(ns, k).map_err(sim_err)?);
    }
    Ok(GetStateMultipleResult { values }.encode_to_vec())
}

/// PUT_STATE: a buffered write (an empty key is refused, as the peer does).
fn put_state(sim: &mut Simulation, ns: &str, p: &[u8]) -> Result<Vec<u8>, String> {
    let r: PutState = decode(p, "PutState")?;
    no_private(&r.collection)?;
    if r.key.is_empty() {
        return Err("key must not be an empty string".into());
    }
    sim.put(ns, &r.key, Some(r.value)).map_err(sim_err)?;
    Ok(Vec::new())
}

/// DEL_STATE: a buffered delete.
fn del_state(sim: &mut Simulation, ns: &str, p: &[u8]) -> Result<Vec<u8>, String> {
    let r: DelState = decode(p, "DelState")?;
    no_private(&r.collection)?;
    sim.put(ns, &r.key, None).map_err(sim_err)?;
    Ok(Vec::new())
}

/// WRITE_BATCH_STATE: its PUT_STATE (9) and DEL_STATE (10) records, in order.
fn write_batch(sim: &mut Simulation, ns: &str, p: &[u8]) -> Result<Vec<u8>, String> {
    let r: WriteBatchState = decode(p, "WriteBatchState")?;
    for rec in r.rec {
        no_private(&rec.collection)?;
        match rec.r#type {
            9 => sim.put(ns, &rec.key, Some(rec.value)).map_err(sim_err)?,
            10 => sim.put(ns, &rec.key, None).map_err(sim_err)?,
            other => {
                return Err(format!(
                    "write batch record type {other} is not supported by devpeer"
                ))
            }
        }
    }
    Ok(Vec::new())
}

/// GET_STATE_BY_RANGE: one page if the metadata asks for paging, else an iterator.
fn range_request(
    active: &ActiveTx,
    sim: &mut Simulation,
    ns: &str,
    p: &[u8],
) -> Result<Vec<u8>, String> {
    let r: GetStateByRange = decode(p, "GetStateByRange")?;
    no_private(&r.collection)?;
    let meta: Option<QueryMetadata> = if r.metadata.is_empty() {
        None
    } else {
        Some(decode(&r.metadata, "QueryMetadata")?)
    };
    match meta.filter(|q| q.page_size > 0 || !q.bookmark.is_empty()) {
        Some(q) => {
            let size = usize::try_from(q.page_size).unwrap_or(0);
            let (results, bookmark) = sim
                .range_page(ns, &r.start_key, &r.end_key, size, &q.bookmark)
                .map_err(sim_err)?;
            let metadata = QueryResponseMetadata {
                fetched_records_count: results.len() as i32,
                bookmark,
            }
            .encode_to_vec();
            let id = format!("{}", active.next_iter.fetch_add(1, Ordering::SeqCst));
            Ok(query_response_msg(results, false, id, metadata).encode_to_vec())
        }
        None => {
            let it = sim.range(ns, &r.start_key, &r.end_key).map_err(sim_err)?;
            Ok(open_iterator(active, sim, it))
        }
    }
}

/// GET_HISTORY_FOR_KEY: an iterator over the key's committed versions.
fn history(active: &ActiveTx, sim: &mut Simulation, ns: &str, p: &[u8]) -> Result<Vec<u8>, String> {
    let r: GetHistoryForKey = decode(p, "GetHistoryForKey")?;
    let it = sim.history(ns, &r.key).map_err(sim_err)?;
    Ok(open_iterator(active, sim, it))
}

/// QUERY_STATE_NEXT: the next batch of an open iterator, which is closed once exhausted.
fn query_next(active: &ActiveTx, sim: &mut Simulation, p: &[u8]) -> Result<Vec<u8>, String> {
    let r: QueryStateNext = decode(p, "QueryStateNext")?;
    let mut iters = lock(&active.iterators);
    let it = iters
        .get_mut(&r.id)
        .ok_or_else(|| format!("query iterator not found: {}", r.id))?;
    let (batch, more) = it.next_batch();
    if !more {
        if let Some(it) = iters.remove(&r.id) {
            sim.finish(it);
        }
    }
    Ok(query_response(batch, more, &r.id))
}

/// QUERY_STATE_CLOSE: closes an iterator (an unknown id is not an error).
fn query_close(active: &ActiveTx, sim: &mut Simulation, p: &[u8]) -> Result<Vec<u8>, String> {
    let r: QueryStateClose = decode(p, "QueryStateClose")?;
    if let Some(it) = lock(&active.iterators).remove(&r.id) {
        sim.finish(it);
    }
    Ok(query_response(Vec::new(), false, &r.id))
}
