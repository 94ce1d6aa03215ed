//! Bad input from the peer: malformed payloads, unknown types, stray and duplicate messages,
//! handshake violations, oversize messages, panicking contracts and a peer that vanishes
//! mid-transaction. Each must be logged and answered with ERROR where the protocol has one,
//! and must neither panic the runtime nor stall other transactions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::peer::{connect_caas, msg, open_caas, proposal_with_header, Ledger, PeerConn};
use common::{serve_test_cc, TestCc};
use fabric_chaincode::fabric_protos::common::{ChannelHeader, HeaderType};
use fabric_chaincode::fabric_protos::peer::chaincode_message::Type;
use fabric_chaincode::fabric_protos::peer::{ChaincodeInput, ChaincodeMessage, SignedProposal};
use fabric_chaincode::Execution;
use fabric_chaincode::{StubError, MAX_MESSAGE_SIZE};
use prost::Message;
use tokio_stream::StreamExt;

const WAIT: Duration = Duration::from_secs(10);

fn tx(txid: &str, args: &[&str]) -> ChaincodeMessage {
    let input = ChaincodeInput {
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        ..Default::default()
    };
    msg(Type::Transaction, input.encode_to_vec(), txid, "ch")
}

async fn expect_unrouted(peer: &PeerConn) -> ChaincodeMessage {
    peer.next_unrouted(WAIT).await.expect("a reply")
}

async fn malformed_payloads_and_proposals_get_error_replies(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let peer = connect_caas(caas.addr, None, Arc::default()).await.unwrap();

    let garbage = msg(Type::Transaction, vec![0xff, 0xff, 0xff], "bad1", "ch");
    let out = peer.execute(garbage).await;
    assert!(
        out.error_text().contains("failed to unmarshal input"),
        "{}",
        out.error_text()
    );

    let mut m = tx("bad2", &["get", "k"]);
    m.proposal = Some(SignedProposal {
        proposal_bytes: vec![0x0a, 0xff],
        signature: vec![],
    });
    let out = peer.execute(m).await;
    assert!(
        out.error_text()
            .contains("failed to create new ChaincodeStub"),
        "{}",
        out.error_text()
    );

    let mut m = tx("bad3", &["get", "k"]);
    let header = ChannelHeader {
        r#type: HeaderType::ConfigUpdate as i32,
        ..Default::default()
    };
    m.proposal = Some(proposal_with_header(header, &[]));
    let out = peer.execute(m).await;
    assert!(
        out.error_text().contains("invalid channel header type"),
        "{}",
        out.error_text()
    );

    // The stream is still fine.
    assert_eq!(
        peer.invoke("ch", "good", &["get", "k"]).await.ok_payload(),
        "<none>"
    );
    caas.shutdown().await.unwrap();
}

async fn unknown_types_and_stray_replies_are_answered_without_teardown(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let peer = connect_caas(caas.addr, None, Arc::default()).await.unwrap();

    let unknown = ChaincodeMessage {
        r#type: 99,
        txid: "u1".into(),
        channel_id: "ch".into(),
        ..Default::default()
    };
    peer.send_raw(unknown).await;
    let reply = expect_unrouted(&peer).await;
    assert_eq!(reply.r#type, Type::Error as i32);
    assert_eq!(reply.txid, "u1");
    assert!(String::from_utf8_lossy(&reply.payload).contains("UNKNOWN(99)"));

    // A type that is valid, but not from a peer in the ready state.
    peer.send_raw(msg(Type::Register, vec![], "u2", "ch")).await;
    let reply = expect_unrouted(&peer).await;
    assert_eq!(reply.r#type, Type::Error as i32);
    assert!(String::from_utf8_lossy(&reply.payload).contains("REGISTER"));

    // RESPONSE for a transaction that is not running.
    peer.send_raw(msg(Type::Response, b"x".to_vec(), "ghost", "ch"))
        .await;
    let reply = expect_unrouted(&peer).await;
    assert_eq!(reply.r#type, Type::Error as i32);
    assert_eq!(reply.txid, "ghost");
    assert_eq!(reply.channel_id, "ch");

    assert_eq!(
        peer.invoke("ch", "still", &["put", "a", "b"])
            .await
            .ok_payload(),
        "ok"
    );
    caas.shutdown().await.unwrap();
}

async fn duplicate_transaction_is_refused_and_the_original_completes(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let peer = connect_caas(caas.addr, None, Arc::default()).await.unwrap();
    peer.send_raw(tx("dup", &["block"])).await;
    let get = expect_unrouted(&peer).await;
    assert_eq!(get.r#type, Type::GetState as i32);

    peer.send_raw(tx("dup", &["get", "k"])).await;
    let refused = expect_unrouted(&peer).await;
    assert_eq!(refused.r#type, Type::Error as i32);
    assert!(String::from_utf8_lossy(&refused.payload).contains("duplicate transaction"));

    peer.send_raw(msg(Type::Response, b"value".to_vec(), "dup", "ch"))
        .await;
    let done = expect_unrouted(&peer).await;
    assert_eq!(done.r#type, Type::Completed as i32);
    caas.shutdown().await.unwrap();
}

async fn handshake_violation_ends_only_that_stream_and_keepalive_works_before_it(
    execution: Execution,
) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let (out, mut inbound) = open_caas(caas.addr, None).await.unwrap();
    let register = inbound.next().await.unwrap().unwrap();
    assert_eq!(register.r#type, Type::Register as i32);
    // KEEPALIVE is echoed even before REGISTERED.
    out.send(msg(Type::Keepalive, vec![], "", ""))
        .await
        .unwrap();
    let echo = inbound.next().await.unwrap().unwrap();
    assert_eq!(echo.r#type, Type::Keepalive as i32);
    // READY before REGISTERED breaks the handshake: ERROR, then the stream ends.
    out.send(msg(Type::Ready, vec![], "h1", "")).await.unwrap();
    let err = inbound.next().await.unwrap().unwrap();
    assert_eq!(err.r#type, Type::Error as i32);
    assert!(String::from_utf8_lossy(&err.payload).contains("while in state: created"));
    let end = tokio::time::timeout(WAIT, inbound.next()).await.unwrap();
    assert!(matches!(end, None | Some(Err(_))));

    let good = connect_caas(caas.addr, None, Arc::default()).await.unwrap();
    assert_eq!(
        good.invoke("ch", "t", &["get", "x"]).await.ok_payload(),
        "<none>"
    );
    caas.shutdown().await.unwrap();
}

async fn oversize_messages_in_both_directions(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let victim = connect_caas(caas.addr, None, Arc::default()).await.unwrap();
    let other = connect_caas(caas.addr, None, Arc::default()).await.unwrap();

    // Results over the limit become ERROR instead of a message the peer would reject.
    let out = other
        .invoke("ch", "big1", &["big", &(MAX_MESSAGE_SIZE + 10).to_string()])
        .await;
    assert!(out.error_text().contains("exceeds"), "{}", out.error_text());
    // A request over the limit fails locally with a typed error.
    let out = other
        .invoke(
            "ch",
            "big2",
            &["bigput", &(MAX_MESSAGE_SIZE + 10).to_string()],
        )
        .await;
    assert!(
        out.response().message.contains("exceeds the"),
        "{:?}",
        out.response().message
    );
    // Just under the limit passes.
    let out = other
        .invoke(
            "ch",
            "big3",
            &["big", &(MAX_MESSAGE_SIZE - 1024).to_string()],
        )
        .await;
    assert_eq!(out.response().payload.len(), MAX_MESSAGE_SIZE - 1024);

    // A peer message over 100 MiB: gRPC refuses it and that stream ends; others go on.
    victim
        .send_raw(tx("huge", &["put", "k", &"x".repeat(MAX_MESSAGE_SIZE + 1)]))
        .await;
    assert!(
        victim.wait_closed(WAIT).await,
        "oversize message ends the stream"
    );
    assert_eq!(
        other
            .invoke("ch", "after", &["get", "k"])
            .await
            .ok_payload(),
        "<none>"
    );
    caas.shutdown().await.unwrap();
}

async fn panicking_contract_gets_error_reply(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let peer = connect_caas(caas.addr, None, Arc::default()).await.unwrap();
    let out = peer.invoke("ch", "p", &["panic"]).await;
    assert!(out.error_text().contains("panicked"));
    assert_eq!(
        peer.invoke("ch", "p2", &["get", "k"]).await.ok_payload(),
        "<none>"
    );
    caas.shutdown().await.unwrap();
}

async fn peer_vanishing_mid_transaction_fails_that_call_only(execution: Execution) {
    let cc = Arc::new(TestCc::running(execution));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    *cc.blocked_done.lock().unwrap() = Some(done_tx);
    let caas = serve_test_cc(cc.clone()).await;
    let vanishing = connect_caas(caas.addr, None, Arc::new(Ledger::default()))
        .await
        .unwrap();
    let staying = connect_caas(caas.addr, None, Arc::new(Ledger::default()))
        .await
        .unwrap();

    vanishing.send_raw(tx("v1", &["block"])).await;
    let get = expect_unrouted(&vanishing).await;
    assert_eq!(get.r#type, Type::GetState as i32);
    drop(vanishing); // the peer goes away without answering

    let err = tokio::task::spawn_blocking(move || done_rx.recv_timeout(WAIT))
        .await
        .unwrap()
        .expect("the blocked ledger call returned");
    assert_eq!(err, StubError::Disconnected);
    assert_eq!(
        staying
            .invoke("ch", "s1", &["put", "a", "b"])
            .await
            .ok_payload(),
        "ok"
    );
    caas.shutdown().await.unwrap();
}

/// Bytes that are not a `ChaincodeMessage`: field 1 (type, a varint) sent as a string.
#[derive(Clone, PartialEq, prost::Message)]
struct NotAChaincodeMessage {
    #[prost(string, tag = "1")]
    garbage: String,
}

async fn malformed_protobuf_ends_only_that_stream(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", caas.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<NotAChaincodeMessage>(4);
    let codec = tonic_prost::ProstCodec::<NotAChaincodeMessage, ChaincodeMessage>::default();
    let mut inbound = grpc
        .streaming(
            tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx)),
            tonic::codegen::http::uri::PathAndQuery::from_static("/protos.Chaincode/Connect"),
            codec,
        )
        .await
        .unwrap()
        .into_inner();
    let register = inbound.next().await.unwrap().unwrap();
    assert_eq!(register.r#type, Type::Register as i32);
    tx.send(NotAChaincodeMessage {
        garbage: "not an enum".into(),
    })
    .await
    .unwrap();
    let end = tokio::time::timeout(WAIT, inbound.next())
        .await
        .expect("stream ends");
    assert!(matches!(end, None | Some(Err(_))), "{end:?}");

    let good = connect_caas(caas.addr, None, Arc::default()).await.unwrap();
    assert_eq!(
        good.invoke("ch", "t", &["get", "x"]).await.ok_payload(),
        "<none>"
    );
    caas.shutdown().await.unwrap();
}

in_both_executions!(
    malformed_payloads_and_proposals_get_error_replies,
    unknown_types_and_stray_replies_are_answered_without_teardown,
    duplicate_transaction_is_refused_and_the_original_completes,
    handshake_violation_ends_only_that_stream_and_keepalive_works_before_it,
    oversize_messages_in_both_directions,
    panicking_contract_gets_error_reply,
    peer_vanishing_mid_transaction_fails_that_call_only,
    malformed_protobuf_ends_only_that_stream,
);
