//! The protocol loop shared by both run modes: REGISTER → REGISTERED → READY, KEEPALIVE echo,
//! routing of RESPONSE/ERROR to the waiting transaction, and each INIT/TRANSACTION run where
//! the chaincode asks: on a blocking thread, or inline on this loop's thread (`inline`). The
//! transport only supplies the inbound stream and the outbound queue.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use fabric_protos::peer::chaincode_message::Type;
use fabric_protos::peer::{ChaincodeAdditionalParams, ChaincodeId, ChaincodeMessage};
use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio_stream::{Stream, StreamExt};

use crate::chaincode::{Chaincode, Execution, ERROR};
use crate::error::RuntimeError;
use crate::inflight::{InFlight, TxKey};
use crate::inline::{Delivery, InlineTxs};
use crate::stub::{ChaincodeStub, TxData, Yielder};

/// gRPC message limit in both directions, as the Go shim and the peer set it.
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;

/// Capacity of the outbound queue; senders wait when the transport falls behind.
pub(crate) const OUTBOUND_QUEUE: usize = 1024;

/// Settings one stream's handler needs.
#[derive(Debug, Clone)]
pub(crate) struct HandlerSettings {
    /// Name sent in REGISTER (the package id).
    pub(crate) chaincode_name: String,
    /// `CORE_PEER_LOCALMSPID`, returned by `ChaincodeStub::msp_id`.
    pub(crate) msp_id: Option<String>,
}

/// Batch sizes below this are raised to it, as the Go shim does.
const MIN_BATCH_SIZE: u32 = 100;

/// What the peer offered in READY (Fabric 3.1+ `ChaincodeAdditionalParams`); `None` means the
/// message is not used (older peers, or the peer turned it off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PeerParams {
    /// Largest number of records one WRITE_BATCH_STATE may carry.
    pub(crate) write_batch: Option<usize>,
    /// Largest number of keys one GET_STATE_MULTIPLE may carry.
    pub(crate) get_multiple: Option<usize>,
}

impl PeerParams {
    /// Parses READY's payload leniently: empty or undecodable means nothing is offered (the Go
    /// shim ignores an unmarshal error too).
    fn from_ready(payload: &[u8]) -> PeerParams {
        if payload.is_empty() {
            return PeerParams::default();
        }
        let p = match ChaincodeAdditionalParams::decode(payload) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!("ignoring undecodable READY payload: {e}");
                return PeerParams::default();
            }
        };
        tracing::debug!(?p, "READY carried additional parameters");
        let size = |on: bool, max: u32| on.then(|| max.max(MIN_BATCH_SIZE) as usize);
        PeerParams {
            write_batch: size(p.use_write_batch, p.max_size_write_batch),
            get_multiple: size(p.use_get_multiple_keys, p.max_size_get_multiple_keys),
        }
    }
}

/// What one stream's transactions share: the single outbound queue (its consumer is the
/// transport's writer, so sends are serialized) and the in-flight table.
pub(crate) struct Conn {
    outbound: mpsc::Sender<ChaincodeMessage>,
    pub(crate) inflight: InFlight,
    pub(crate) msp_id: Option<String>,
    /// Set once, at READY, before any transaction starts.
    params: OnceLock<PeerParams>,
}

impl Conn {
    /// What the peer offered in READY.
    pub(crate) fn params(&self) -> PeerParams {
        self.params.get().copied().unwrap_or_default()
    }

    /// Queues a message from a blocking (transaction) thread; `false` when the stream is gone.
    pub(crate) fn send_blocking(&self, msg: ChaincodeMessage) -> bool {
        self.outbound.blocking_send(msg).is_ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Created,
    Established,
    Ready,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Established => "established",
            State::Ready => "ready",
        }
    }
}

pub(crate) fn type_name(t: i32) -> String {
    Type::try_from(t)
        .map(|t| t.as_str_name().to_owned())
        .unwrap_or_else(|_| format!("UNKNOWN({t})"))
}

/// Runs the chaincode side of one stream until the peer closes it or breaks the handshake.
///
/// Returns `Err(StreamClosed)` when the peer ends the stream cleanly: in normal mode that ends
/// the process; in CaaS mode only this stream ends.
///
/// REGISTER is queued before `inbound` is awaited: a Go gRPC peer sends its response headers
/// only after it has read REGISTER, so in normal mode the inbound stream does not exist yet.
/// Returns `Ok(())` when `stop` fires.
pub(crate) async fn chat<S, F>(
    cc: Arc<dyn Chaincode>,
    settings: HandlerSettings,
    inbound: F,
    outbound: mpsc::Sender<ChaincodeMessage>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RuntimeError>
where
    F: Future<Output = Result<S, RuntimeError>>,
    S: Stream<Item = Result<ChaincodeMessage, tonic::Status>> + Unpin,
{
    // 1. Queue REGISTER, then wait for the stream the peer opens in answer.
    send_register(&outbound, &settings.chaincode_name).await?;
    let mut inbound = tokio::select! {
        s = inbound => s?,
        () = stopped(&mut stop) => return Ok(()),
    };
    // 2. Serve the peer's messages until the stream ends, breaks the protocol, or `stop` fires.
    let mut session = Session {
        conn: Arc::new(Conn {
            outbound: outbound.clone(),
            inflight: InFlight::default(),
            msp_id: settings.msp_id,
            params: OnceLock::new(),
        }),
        cc,
        outbound,
        name: settings.chaincode_name,
        state: State::Created,
        inline: InlineTxs::for_this_runtime(),
    };
    let result = loop {
        let next = tokio::select! {
            m = inbound.next() => m,
            () = stopped(&mut stop) => break Ok(()),
        };
        let handled = match next {
            None => Err(RuntimeError::StreamClosed),
            Some(Err(status)) => Err(RuntimeError::Status(status)),
            Some(Ok(msg)) => session.handle(msg).await,
        };
        if let Err(e) = handled {
            break Err(e);
        }
    };
    // 3. Wake the transactions still waiting for a reply: their ledger calls fail now.
    session.end();
    result
}

async fn send_register(
    outbound: &mpsc::Sender<ChaincodeMessage>,
    name: &str,
) -> Result<(), RuntimeError> {
    let register = ChaincodeMessage {
        r#type: Type::Register as i32,
        payload: ChaincodeId {
            name: name.to_owned(),
            ..Default::default()
        }
        .encode_to_vec(),
        ..Default::default()
    };
    outbound
        .send(register)
        .await
        .map_err(|_| RuntimeError::StreamClosed)?;
    tracing::debug!(%name, "sent REGISTER");
    Ok(())
}

/// One stream's protocol state and what its messages act on.
struct Session {
    cc: Arc<dyn Chaincode>,
    conn: Arc<Conn>,
    outbound: mpsc::Sender<ChaincodeMessage>,
    /// The name sent in REGISTER, for the log.
    name: String,
    state: State,
    /// `None` where transactions cannot run inline (a multi-threaded runtime).
    inline: Option<InlineTxs>,
}

impl Session {
    /// Acts on one message from the peer; an error ends the stream.
    async fn handle(&mut self, msg: ChaincodeMessage) -> Result<(), RuntimeError> {
        // KEEPALIVE is answered in every state, before the state check, like the Go shim.
        if msg.r#type == Type::Keepalive as i32 {
            return self.send(msg).await;
        }
        match (self.state, Type::try_from(msg.r#type)) {
            (State::Created, Ok(Type::Registered)) => {
                tracing::debug!("received REGISTERED");
                self.state = State::Established;
                Ok(())
            }
            (State::Established, Ok(Type::Ready)) => {
                // READY arrives once per stream: the state machine leaves Established here.
                let _ = self.conn.params.set(PeerParams::from_ready(&msg.payload));
                tracing::info!(name = %self.name, "chaincode registered with the peer and ready");
                self.state = State::Ready;
                Ok(())
            }
            (State::Ready, Ok(Type::Response | Type::Error)) => self.route_reply(msg).await,
            (State::Ready, Ok(t @ (Type::Init | Type::Transaction))) => {
                match self.start_transaction(msg, t == Type::Init) {
                    Some(reply) => self.send(reply).await,
                    None => Ok(()),
                }
            }
            _ => self.unexpected(msg).await,
        }
    }

    /// Starts an INIT/TRANSACTION where the chaincode asks. Returns what to send now: an
    /// inline transaction's first request or its result, or the ERROR when it cannot start.
    fn start_transaction(
        &mut self,
        msg: ChaincodeMessage,
        is_init: bool,
    ) -> Option<ChaincodeMessage> {
        let tx = match Transaction::begin(&self.cc, &self.conn, msg, is_init) {
            Ok(tx) => tx,
            Err(reply) => return Some(*reply),
        };
        let tx = match (&mut self.inline, self.cc.execution(&tx.data.args)) {
            (Some(inline), Execution::Inline) => match inline.start(tx) {
                Ok(first) => return Some(first),
                Err(tx) => *tx,
            },
            _ => tx,
        };
        tokio::task::spawn_blocking(move || tx.run_on_thread());
        None
    }

    /// Hands a RESPONSE/ERROR to the transaction waiting for it; answers a stray one with ERROR.
    async fn route_reply(&mut self, msg: ChaincodeMessage) -> Result<(), RuntimeError> {
        let delivery = match &mut self.inline {
            Some(inline) => inline.deliver(msg),
            None => Delivery::NotWaiting(msg),
        };
        let msg = match delivery {
            Delivery::Next(next) => return self.send(next).await,
            Delivery::NotWaiting(msg) => msg,
        };
        let Err(stray) = self.conn.inflight.deliver(msg) else {
            return Ok(());
        };
        let text = format!(
            "[{}] received {} for a transaction that is not waiting for a reply",
            short(&stray.txid),
            type_name(stray.r#type)
        );
        tracing::warn!(channel = %stray.channel_id, "{text}");
        self.send(error_message(text, &stray.txid, &stray.channel_id))
            .await
    }

    /// A message the protocol does not allow in this state: answered with ERROR; fatal only
    /// before READY.
    async fn unexpected(&self, msg: ChaincodeMessage) -> Result<(), RuntimeError> {
        let err = RuntimeError::UnexpectedMessage {
            state: self.state.name(),
            got: type_name(msg.r#type),
            txid: msg.txid.clone(),
        };
        tracing::error!(channel = %msg.channel_id, "{err}");
        // Like the Go shim: ERROR with the txid of the offending message, no channel.
        let reply = error_message(err.to_string(), &msg.txid, "");
        let _ = self.outbound.send(reply).await;
        // Before READY there is no way to continue the handshake. Once ready we keep the
        // stream: tearing it down (as Go does) would fail every other running transaction
        // because of one bad message.
        if self.state == State::Ready {
            Ok(())
        } else {
            Err(err)
        }
    }

    async fn send(&self, msg: ChaincodeMessage) -> Result<(), RuntimeError> {
        self.outbound
            .send(msg)
            .await
            .map_err(|_| RuntimeError::StreamClosed)
    }

    /// The stream is over: refuse new waiters and wake the current ones.
    fn end(&mut self) {
        self.conn.inflight.close();
        if let Some(inline) = &mut self.inline {
            inline.end();
        }
        let running = self.conn.inflight.running();
        if running > 0 {
            tracing::warn!(
                running,
                "stream ended with transactions still running; their ledger calls now fail"
            );
        }
    }
}

/// Resolves once shutdown was requested; never if the sender is gone without requesting it.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Turns a shutdown future into a watch that any number of streams can observe.
pub(crate) fn shutdown_watch(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown => { let _ = tx.send(true); }
            () = tx.closed() => {}
        }
    });
    rx
}

/// First eight characters of a txid, as the Go shim prints them.
pub(crate) fn short(txid: &str) -> &str {
    txid.get(..8).unwrap_or(txid)
}

pub(crate) fn error_message(text: String, txid: &str, channel: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: Type::Error as i32,
        payload: text.into_bytes(),
        txid: txid.to_owned(),
        channel_id: channel.to_owned(),
        ..Default::default()
    }
}

/// An INIT/TRANSACTION that runs: marked in the in-flight table, its message decoded.
pub(crate) struct Transaction {
    cc: Arc<dyn Chaincode>,
    conn: Arc<Conn>,
    pub(crate) key: TxKey,
    pub(crate) data: TxData,
    is_init: bool,
}

impl Transaction {
    /// Marks the transaction as running and decodes it. Returns the ERROR to send when it
    /// cannot run: a duplicate, or an undecodable input or proposal.
    fn begin(
        cc: &Arc<dyn Chaincode>,
        conn: &Arc<Conn>,
        msg: ChaincodeMessage,
        is_init: bool,
    ) -> Result<Transaction, Box<ChaincodeMessage>> {
        let key = TxKey::of(&msg);
        if !conn.inflight.begin(key.clone()) {
            let text = format!(
                "[{}] duplicate transaction: channel {} txid {} is already running",
                short(&key.txid),
                key.channel,
                key.txid
            );
            tracing::error!("{text}");
            return Err(Box::new(error_message(text, &key.txid, &key.channel)));
        }
        match TxData::from_message(msg) {
            Ok(data) => Ok(Transaction {
                cc: Arc::clone(cc),
                conn: Arc::clone(conn),
                key,
                data,
                is_init,
            }),
            Err(text) => {
                conn.inflight.finish(&key);
                tracing::error!(txid = %key.txid, channel = %key.channel, "{text}");
                Err(Box::new(error_message(text, &key.txid, &key.channel)))
            }
        }
    }

    /// Runs on a blocking thread and queues the result.
    fn run_on_thread(self) {
        let conn = Arc::clone(&self.conn);
        let key = self.key.clone();
        let reply = self.run(None);
        if !conn.send_blocking(reply) {
            tracing::warn!(txid = %key.txid, channel = %key.channel, "could not send the transaction result: stream closed");
        }
    }

    /// Runs the chaincode and leaves the in-flight table: the COMPLETED/ERROR message to send.
    pub(crate) fn run(self, inline: Option<&Yielder>) -> ChaincodeMessage {
        let Transaction {
            cc,
            conn,
            key,
            data,
            is_init,
        } = self;
        let stub = ChaincodeStub::new(Arc::clone(&conn), key.clone(), data, inline);
        let reply = execute(&*cc, stub, &key, is_init);
        conn.inflight.finish(&key);
        reply
    }
}

fn execute(
    cc: &dyn Chaincode,
    mut stub: ChaincodeStub<'_>,
    key: &TxKey,
    is_init: bool,
) -> ChaincodeMessage {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if is_init {
            cc.init(&mut stub)
        } else {
            cc.invoke(&mut stub)
        }
    }));
    let (txid, channel) = (key.txid.as_str(), key.channel.as_str());
    let response = match outcome {
        Ok(r) => r,
        Err(_) => {
            // A panicking contract must not leave the peer waiting for its 30 s timeout.
            let text = format!("[{}] chaincode panicked while executing", short(txid));
            tracing::error!(%channel, "{text}");
            return error_message(text, txid, channel);
        }
    };
    let mut reply = if is_init && response.status >= ERROR {
        // The Go shim reports a failed Init as ERROR carrying the message (its batched
        // writes are never sent).
        error_message(response.message, txid, channel)
    } else {
        // Writes the contract batched go to the peer before the result, as in the Go shim.
        if let Err(e) = stub.finish_write_batch() {
            let text = format!("[{}] failed send batch: {e}", short(txid));
            tracing::error!(%channel, "{text}");
            return error_message(text, txid, channel);
        }
        ChaincodeMessage {
            r#type: Type::Completed as i32,
            payload: response.encode_to_vec(),
            txid: txid.to_owned(),
            channel_id: channel.to_owned(),
            ..Default::default()
        }
    };
    reply.chaincode_event = stub.take_event();
    if reply.encoded_len() > MAX_MESSAGE_SIZE {
        let text = format!(
            "[{}] transaction result of {} bytes exceeds the {MAX_MESSAGE_SIZE} byte message limit",
            short(txid),
            reply.encoded_len()
        );
        tracing::error!(%channel, "{text}");
        return error_message(text, txid, channel);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inline::MAX_SUSPENDED;
    use fabric_protos::peer::ChaincodeInput;

    /// Reads one key: suspends inline until the (never sent) reply.
    struct ReadsOneKey;

    impl Chaincode for ReadsOneKey {
        fn init(&self, stub: &mut ChaincodeStub<'_>) -> fabric_protos::peer::Response {
            self.invoke(stub)
        }
        fn invoke(&self, stub: &mut ChaincodeStub<'_>) -> fabric_protos::peer::Response {
            match stub.get_state("k") {
                Ok(_) => crate::chaincode::success(""),
                Err(e) => crate::chaincode::error(e.to_string()),
            }
        }
    }

    #[tokio::test]
    async fn inline_transactions_beyond_the_limit_are_given_back_for_a_thread() {
        let (outbound, _peer) = mpsc::channel(1);
        let conn = Arc::new(Conn {
            outbound,
            inflight: InFlight::default(),
            msp_id: None,
            params: OnceLock::new(),
        });
        let cc: Arc<dyn Chaincode> = Arc::new(ReadsOneKey);
        let transaction = |i: usize| {
            let msg = ChaincodeMessage {
                r#type: Type::Transaction as i32,
                payload: ChaincodeInput::default().encode_to_vec(),
                txid: format!("tx{i}"),
                channel_id: "ch".into(),
                ..Default::default()
            };
            Transaction::begin(&cc, &conn, msg, false).unwrap()
        };
        let mut inline = InlineTxs::for_this_runtime().expect("a current-thread runtime");
        for i in 0..MAX_SUSPENDED {
            let first = inline.start(transaction(i)).ok().expect("runs inline");
            assert_eq!(first.r#type, Type::GetState as i32, "suspended in its read");
        }
        let over = inline.start(transaction(MAX_SUSPENDED));
        assert!(over.is_err(), "one more is given back, to run on a thread");
        // The suspended ones end with "disconnected" once the stream is over.
        conn.inflight.close();
        inline.end();
        assert_eq!(
            conn.inflight.running(),
            1,
            "only the one given back is left"
        );
    }

    fn params(write: bool, max_write: u32, multi: bool, max_multi: u32) -> Vec<u8> {
        ChaincodeAdditionalParams {
            use_write_batch: write,
            max_size_write_batch: max_write,
            use_get_multiple_keys: multi,
            max_size_get_multiple_keys: max_multi,
        }
        .encode_to_vec()
    }

    #[test]
    fn ready_parameters_like_the_go_shim() {
        assert_eq!(PeerParams::from_ready(b""), PeerParams::default());
        assert_eq!(
            PeerParams::from_ready(&[0xff, 0xff]),
            PeerParams::default(),
            "undecodable: ignored"
        );
        let p = PeerParams::from_ready(&params(true, 1000, true, 5));
        assert_eq!(p.write_batch, Some(1000));
        assert_eq!(
            p.get_multiple,
            Some(100),
            "sizes below 100 are raised to 100"
        );
        let p = PeerParams::from_ready(&params(false, 1000, true, 0));
        assert_eq!(p.write_batch, None, "not offered");
        assert_eq!(p.get_multiple, Some(100));
    }
}
