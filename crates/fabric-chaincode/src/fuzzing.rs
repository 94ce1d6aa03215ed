//! Body of the `peer_messages` fuzz target (in the repository's `fuzz/` directory): bytes from
//! the peer driven through the protocol handler without a network, in both run modes. Kept here
//! so it builds with the crate and runs as a unit test on corrupted seeds (no nightly needed).
//!
//! Input: a mode byte (bit 0 clear: normal mode, through the client's REGISTER deadline; set:
//! CaaS; bit 1 set: transactions run inline, else on threads), then frames of a big-endian
//! `u16` length and that many bytes. A frame that decodes as a `ChaincodeMessage` is delivered as the peer's next message; one that does not is what tonic
//! would deliver for it, a status error. The harness plays the peer in lock step: after each
//! message it waits (briefly) for the chaincode's answer, so replies meet waiting transactions
//! deterministically. The chaincode does ledger calls named by its arguments, so RESPONSE
//! payloads reach the stub's decoders.
//!
//! Panics only when an invariant breaks: a panic in the runtime, the handler not returning
//! once the stream ends, or an outbound message over the size limit.

use std::sync::Arc;
use std::time::Duration;

use fabric_protos::common::{ChannelHeader, Header, HeaderType};
use fabric_protos::peer::chaincode_message::Type;
use fabric_protos::peer::{
    ChaincodeId, ChaincodeInput, ChaincodeMessage, Proposal, SignedProposal,
};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::chaincode::{error, success, Chaincode, Execution, Response};
use crate::handler::{chat, shutdown_watch, HandlerSettings, MAX_MESSAGE_SIZE};
use crate::stub::ChaincodeStub;

/// How long the harness waits for the chaincode's answer to one message.
const ANSWER_WAIT: Duration = Duration::from_millis(50);
/// How long the handler may take to return once the peer's stream has ended.
const END_WAIT: Duration = Duration::from_secs(10);

/// Ledger calls by first argument: `get K`, `put K V`, `range A B`, `history K`; each runs as
/// the `Execution` says.
struct FuzzCc(Execution);

impl FuzzCc {
    fn run(stub: &mut ChaincodeStub) -> Response {
        let args = stub.string_args();
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
        let result = match arg(0) {
            "get" => stub.get_state(arg(1)).map(|v| v.unwrap_or_default()),
            "put" => stub
                .put_state(arg(1), arg(2).as_bytes())
                .map(|()| Vec::new()),
            "range" => stub
                .get_state_by_range(arg(1), arg(2))
                .map(|it| it.filter_map(Result::ok).flat_map(|kv| kv.value).collect()),
            "history" => stub
                .get_history_for_key(arg(1))
                .map(|it| it.filter_map(Result::ok).flat_map(|m| m.value).collect()),
            _ => return success(Vec::new()),
        };
        match result {
            Ok(v) => success(v),
            Err(e) => error(e.to_string()),
        }
    }
}

impl Chaincode for FuzzCc {
    fn init(&self, stub: &mut ChaincodeStub) -> Response {
        FuzzCc::run(stub)
    }

    fn invoke(&self, stub: &mut ChaincodeStub) -> Response {
        FuzzCc::run(stub)
    }

    fn execution(&self, _args: &[Vec<u8>]) -> Execution {
        self.0
    }
}

thread_local! {
    /// The runtime `start` builds (one thread, so inline transactions run inline), one per
    /// calling thread: a current-thread runtime shared between threads would move its tasks.
    static RUNTIME: tokio::runtime::Runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("fuzz harness cannot start a runtime: {e}"),
    };
}

/// Splits the input into the peer's messages (see the module docs).
fn frames(mut data: &[u8]) -> Vec<Result<ChaincodeMessage, tonic::Status>> {
    let mut out = Vec::new();
    while let [hi, lo, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (frame, tail) = rest.split_at(len);
        out.push(
            ChaincodeMessage::decode(frame)
                .map_err(|e| tonic::Status::internal(format!("decode: {e}"))),
        );
        data = tail;
    }
    out
}

/// Target `peer_messages`.
pub fn peer_messages(data: &[u8]) {
    let _ = session(data);
}

/// Runs the session and returns what the chaincode sent, REGISTER first.
fn session(data: &[u8]) -> Vec<ChaincodeMessage> {
    let Some((mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    let normal_mode = mode & 1 == 0;
    let execution = if mode & 2 == 0 {
        Execution::Thread
    } else {
        Execution::Inline
    };
    let messages = frames(rest);
    RUNTIME.with(|rt| rt.block_on(drive(normal_mode, execution, messages)))
}

async fn drive(
    normal_mode: bool,
    execution: Execution,
    messages: Vec<Result<ChaincodeMessage, tonic::Status>>,
) -> Vec<ChaincodeMessage> {
    let (peer_tx, peer_rx) = mpsc::channel(messages.len().max(1));
    let (out_tx, mut out_rx) = mpsc::channel(crate::handler::OUTBOUND_QUEUE);
    let settings = HandlerSettings {
        chaincode_name: "fuzz:1".into(),
        msp_id: Some("Org1MSP".into()),
    };
    let stop = shutdown_watch(std::future::pending());
    let stream = ReceiverStream::new(peer_rx);
    let handler = tokio::spawn(async move {
        let inbound = async move {
            if normal_mode {
                let deadline = tokio::time::Instant::now() + END_WAIT;
                let s =
                    crate::transport::client::first_message_by(deadline, stream, "fuzz").await?;
                Ok(Box::pin(s)
                    as std::pin::Pin<
                        Box<dyn tokio_stream::Stream<Item = _> + Send>,
                    >)
            } else {
                Ok(Box::pin(stream)
                    as std::pin::Pin<
                        Box<dyn tokio_stream::Stream<Item = _> + Send>,
                    >)
            }
        };
        chat(Arc::new(FuzzCc(execution)), settings, inbound, out_tx, stop).await
    });
    let mut sent = Vec::new();
    let mut keep = |m: ChaincodeMessage| {
        assert!(
            m.encoded_len() <= MAX_MESSAGE_SIZE,
            "outbound message over the limit"
        );
        sent.push(m);
    };
    // REGISTER comes first, always.
    if let Some(first) = out_rx.recv().await {
        assert_eq!(
            first.r#type,
            Type::Register as i32,
            "first message is not REGISTER"
        );
        keep(first);
    }
    for m in messages {
        // The handshake messages get no answer; everything else does (a request, COMPLETED,
        // ERROR or the KEEPALIVE echo).
        let handshake = matches!(&m, Ok(m) if m.r#type == Type::Registered as i32
            || m.r#type == Type::Ready as i32);
        if peer_tx.send(m).await.is_err() {
            break; // the handler gave up on the stream
        }
        if !handshake {
            if let Ok(Some(answer)) = tokio::time::timeout(ANSWER_WAIT, out_rx.recv()).await {
                keep(answer);
            }
        }
    }
    drop(peer_tx);
    // Drain what is left so senders never block, until the handler returns.
    let ended = tokio::time::timeout(END_WAIT, async {
        while let Some(m) = out_rx.recv().await {
            keep(m);
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the handler did not end after the peer's stream ended"
    );
    let joined = tokio::time::timeout(END_WAIT, handler).await;
    assert!(matches!(joined, Ok(Ok(_))), "the handler panicked or hung");
    sent
}

fn frame(out: &mut Vec<u8>, m: &ChaincodeMessage) {
    let bytes = m.encode_to_vec();
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

fn message(ty: Type, payload: Vec<u8>, txid: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: ty as i32,
        payload,
        txid: txid.into(),
        channel_id: "ch".into(),
        ..Default::default()
    }
}

fn transaction(txid: &str, args: &[&str]) -> ChaincodeMessage {
    let input = ChaincodeInput {
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        ..Default::default()
    };
    // The smallest proposal the stub accepts, so mutations reach its decoders too.
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        tx_id: txid.into(),
        ..Default::default()
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: Vec::new(),
    };
    let proposal = Proposal {
        header: header.encode_to_vec(),
        ..Default::default()
    };
    let mut m = message(Type::Transaction, input.encode_to_vec(), txid);
    m.proposal = Some(SignedProposal {
        proposal_bytes: proposal.encode_to_vec(),
        signature: Vec::new(),
    });
    m
}

/// Seeds: a handshake and transactions whose ledger calls get answers, in both modes, with
/// transactions on threads and inline.
pub fn peer_messages_seeds() -> Vec<Vec<u8>> {
    use fabric_protos::peer::{QueryResponse, QueryResultBytes};
    let kv = fabric_protos::queryresult::Kv {
        key: "a".into(),
        value: b"1".to_vec(),
        ..Default::default()
    };
    let page = QueryResponse {
        results: vec![QueryResultBytes {
            result_bytes: kv.encode_to_vec(),
        }],
        has_more: false,
        id: "it".into(),
        ..Default::default()
    };
    let registered = ChaincodeId::default().encode_to_vec();
    let mut session = Vec::new();
    for m in [
        message(Type::Registered, registered, ""),
        message(Type::Ready, Vec::new(), ""),
        message(Type::Keepalive, Vec::new(), ""),
        transaction("tx1", &["get", "a"]),
        message(Type::Response, b"1".to_vec(), "tx1"),
        transaction("tx2", &["put", "a", "2"]),
        message(Type::Response, Vec::new(), "tx2"),
        transaction("tx3", &["range", "a", "z"]),
        message(Type::Response, page.encode_to_vec(), "tx3"),
        transaction("tx4", &["history", "a"]),
        message(Type::Error, b"no history".to_vec(), "tx4"),
        message(Type::Response, Vec::new(), "stray"),
    ] {
        frame(&mut session, &m);
    }
    (0u8..4)
        .map(|mode| {
            let mut seed = vec![mode];
            seed.extend_from_slice(&session);
            seed
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regenerates `fuzz/corpus/peer_messages/seed-*`:
    /// `cargo test -p fabric-chaincode -- --ignored write_seed_corpus`.
    #[test]
    #[ignore = "writes the fuzz seed corpus into the source tree"]
    fn write_seed_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/peer_messages");
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in peer_messages_seeds().iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
        }
    }

    #[test]
    fn seeds_run_the_whole_session() {
        use crate::chaincode::Response;
        for seed in peer_messages_seeds() {
            let sent = session(&seed);
            let types: Vec<i32> = sent.iter().map(|m| m.r#type).collect();
            let t = |t: Type| t as i32;
            assert_eq!(
                types,
                [
                    t(Type::Register),
                    t(Type::Keepalive),
                    t(Type::GetState),
                    t(Type::Completed),
                    t(Type::PutState),
                    t(Type::Completed),
                    t(Type::GetStateByRange),
                    t(Type::Completed),
                    t(Type::GetHistoryForKey),
                    t(Type::Completed),
                    t(Type::Error),
                ],
                "mode {}",
                seed[0]
            );
            let first = Response::decode(sent[3].payload.as_slice()).unwrap();
            assert_eq!((first.status, first.payload.as_slice()), (200, &b"1"[..]));
            let range = Response::decode(sent[7].payload.as_slice()).unwrap();
            assert_eq!(range.payload, b"1");
            let history = Response::decode(sent[9].payload.as_slice()).unwrap();
            assert_eq!(
                (history.status, history.message.as_str()),
                (500, "no history")
            );
        }
    }

    /// Every truncation of the seeds (cutting through frames and headers), and a byte flip at
    /// every 7th position with three values: corrupt types, txids, lengths and payloads.
    #[test]
    fn truncated_and_corrupted_seeds_never_panic_or_hang() {
        let seed = &peer_messages_seeds()[0];
        for cut in (0..seed.len()).step_by(5) {
            peer_messages(&seed[..cut]);
        }
        for mode in 0u8..4 {
            for i in (1..seed.len()).step_by(7) {
                for v in [0x00, 0xff, seed[i] ^ 0x01] {
                    let mut s = seed.clone();
                    s[0] = mode;
                    s[i] = v;
                    peer_messages(&s);
                }
            }
        }
    }
}
