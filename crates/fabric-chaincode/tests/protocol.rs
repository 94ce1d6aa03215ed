//! The protocol over real gRPC sockets (CaaS transport, plain): handshake, concurrency,
//! paging, stub calls, chaincode-to-chaincode calls, events, contract dispatch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::peer::{connect_caas, init_message, msg, Ledger, Outcome};
use common::{serve_test_cc, TestCc};
use fabric_chaincode::fabric_protos::peer::chaincode_message::Type;
use fabric_chaincode::fabric_protos::peer::{ChaincodeInput, ChaincodeMessage};
use fabric_chaincode::Execution;
use prost::Message;

async fn handshake_registers_package_id_and_runs_a_transaction(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let ledger = Arc::new(Ledger::default());
    let peer = connect_caas(caas.addr, None, Arc::clone(&ledger))
        .await
        .unwrap();
    assert_eq!(peer.name, "testcc:0123");
    assert_eq!(
        peer.invoke("ch1", "tx1", &["put", "a", "1"])
            .await
            .ok_payload(),
        "ok"
    );
    assert_eq!(
        peer.invoke("ch1", "tx2", &["get", "a"]).await.ok_payload(),
        "1"
    );
    assert_eq!(
        peer.invoke("ch1", "tx3", &["get", "zz"]).await.ok_payload(),
        "<none>"
    );
    // An empty value deletes, as on the peer.
    assert_eq!(
        peer.invoke("ch1", "tx4", &["put", "a", ""])
            .await
            .ok_payload(),
        "ok"
    );
    assert!(ledger.state.lock().unwrap().get("a").is_none());
    // An empty key is refused locally, with the Go shim's text.
    let r = peer.invoke("ch1", "tx5", &["put", "", "v"]).await;
    assert_eq!(r.response().status, 500);
    assert_eq!(r.response().message, "key must not be an empty string");
    caas.shutdown().await.unwrap();
}

async fn sixty_four_concurrent_transactions_on_one_stream(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let ledger = Arc::new(Ledger::default());
    let peer = connect_caas(caas.addr, None, Arc::clone(&ledger))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let peer = peer.clone();
        tasks.push(tokio::spawn(async move {
            let txid = format!("tx{i}");
            // Same txid on two channels must not collide.
            let ch = if i % 2 == 0 { "chA" } else { "chB" };
            let out = peer
                .invoke(ch, &txid, &["work", &format!("k{i}"), "5"])
                .await;
            (txid, out)
        }));
    }
    for t in tasks {
        let (txid, out) = t.await.unwrap();
        assert_eq!(out.ok_payload(), format!("{txid}:5"));
        match out {
            Outcome::Completed(_, m) => assert_eq!(m.txid, txid),
            Outcome::Error(..) => unreachable!(),
        }
    }
    assert_eq!(ledger.state.lock().unwrap().len(), 64 * 5);
    assert_eq!(ledger.requests.load(Ordering::SeqCst), 64 * 10);
    assert_eq!(
        ledger.overlapping.load(Ordering::SeqCst),
        0,
        "one outstanding request per tx"
    );
    caas.shutdown().await.unwrap();
}

async fn range_iteration_pages_lazily_and_closes_early_iterators(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let ledger = Arc::new(Ledger::default());
    {
        let mut s = ledger.state.lock().unwrap();
        for i in 0..250 {
            s.insert(format!("key{i:04}"), b"v".to_vec());
        }
        // Composite keys must never show up in simple ranges.
        s.insert("\u{0}t\u{0}a\u{0}".into(), b"v".to_vec());
    }
    let peer = connect_caas(caas.addr, None, Arc::clone(&ledger))
        .await
        .unwrap();
    let all = peer
        .invoke("ch", "r1", &["range", "", "", "0"])
        .await
        .ok_payload();
    assert_eq!(all, "250:key0000:key0249");
    assert_eq!(
        ledger.query_next.load(Ordering::SeqCst),
        2,
        "two further pages of 100"
    );
    assert_eq!(
        ledger.query_close.load(Ordering::SeqCst),
        0,
        "exhausted iterator is gone on the peer"
    );

    let bounded = peer
        .invoke("ch", "r2", &["range", "key0010", "key0020", "0"])
        .await
        .ok_payload();
    assert_eq!(bounded, "10:key0010:key0019");

    // Stop after 150: one NEXT, then CLOSE on drop.
    let early = peer
        .invoke("ch", "r3", &["range", "", "", "150"])
        .await
        .ok_payload();
    assert_eq!(early, "150:key0000:key0149");
    assert_eq!(ledger.query_next.load(Ordering::SeqCst), 3);
    assert_eq!(ledger.query_close.load(Ordering::SeqCst), 1);

    // Ledger calls while an iterator is open, across page boundaries.
    {
        let mut s = ledger.state.lock().unwrap();
        for i in 95..105 {
            s.insert(format!("other-key{i:04}"), format!("o{i}").into_bytes());
        }
    }
    let before = ledger.query_next.load(Ordering::SeqCst);
    let nested = peer
        .invoke("ch", "r5", &["nested", "key0000", "key0105"])
        .await
        .ok_payload();
    let parts: Vec<&str> = nested.split(',').collect();
    assert_eq!(parts.len(), 105);
    assert_eq!(parts[0], "key0000=");
    assert_eq!(parts[99], "key0099=o99");
    assert_eq!(parts[104], "key0104=o104");
    assert_eq!(ledger.query_next.load(Ordering::SeqCst), before + 1);
    assert_eq!(ledger.overlapping.load(Ordering::SeqCst), 0);

    // Keys starting with 0x00 are refused as simple range bounds.
    let bad = peer.invoke("ch", "r4", &["range", "\u{0}x", "", "0"]).await;
    assert!(
        bad.response().message.contains("null character"),
        "{:?}",
        bad.response()
    );
    caas.shutdown().await.unwrap();
}

async fn composite_keys_partial_queries_pagination_history_private_data(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let ledger = Arc::new(Ledger::default());
    let peer = connect_caas(caas.addr, None, Arc::clone(&ledger))
        .await
        .unwrap();
    for (i, (cc, e)) in [("cc1", "e1"), ("cc1", "e2"), ("cc2", "e1")]
        .iter()
        .enumerate()
    {
        let out = peer
            .invoke(
                "ch",
                &format!("c{i}"),
                &["composite", "namespaces/credentials", cc, e],
            )
            .await;
        assert_eq!(out.ok_payload(), "ok");
    }
    assert!(ledger
        .state
        .lock()
        .unwrap()
        .contains_key("\u{0}namespaces/credentials\u{0}cc1\u{0}e1\u{0}"));
    let got = peer
        .invoke("ch", "p1", &["partial", "namespaces/credentials", "cc1"])
        .await;
    assert_eq!(got.ok_payload(), "cc1/e1,cc1/e2");
    let bad = peer
        .invoke("ch", "p2", &["composite", "t", "a\u{0}b"])
        .await;
    assert!(
        bad.response().message.contains("U+0000"),
        "{:?}",
        bad.response()
    );

    for i in 0..5 {
        peer.invoke("ch", &format!("w{i}"), &["put", &format!("p{i}"), "v"])
            .await
            .ok_payload();
    }
    let page1 = peer
        .invoke("ch", "pg1", &["paged", "p", "q", "2", ""])
        .await
        .ok_payload();
    assert_eq!(page1, "2|p2|p0,p1");
    let page2 = peer
        .invoke("ch", "pg2", &["paged", "p", "q", "2", "p2"])
        .await
        .ok_payload();
    assert_eq!(page2, "2|p4|p2,p3");

    peer.invoke("ch", "h1", &["put", "hk", "1"])
        .await
        .ok_payload();
    peer.invoke("ch", "h2", &["put", "hk", "2"])
        .await
        .ok_payload();
    peer.invoke("ch", "h3", &["del", "hk"]).await.ok_payload();
    assert_eq!(
        peer.invoke("ch", "h4", &["history", "hk"])
            .await
            .ok_payload(),
        "2"
    );

    let private = peer
        .invoke("ch", "pd", &["private", "coll", "pk", "pv"])
        .await
        .ok_payload();
    let expected_hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"pv"))
    };
    assert_eq!(private, format!("pv|{expected_hash}"));
    caas.shutdown().await.unwrap();
}

async fn invoke_chaincode_unwraps_like_the_go_shim(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let peer = connect_caas(caas.addr, None, Arc::default()).await.unwrap();
    // Callee COMPLETED: its Response as is; channel appended as name/channel.
    let ok = peer
        .invoke("ch", "i1", &["invoke", "echo", "", "a", "b"])
        .await
        .ok_payload();
    assert_eq!(ok, "200||a,b@");
    let other = peer
        .invoke("ch", "i2", &["invoke", "echo", "ch2", "x"])
        .await
        .ok_payload();
    assert_eq!(other, "200||x@ch2");
    let nf = peer
        .invoke("ch", "i3", &["invoke", "notfound", "", "x"])
        .await
        .ok_payload();
    assert_eq!(nf, "404|namespace notfound is not defined|");
    // Peer-side failure (top-level ERROR): 500, empty message, error text as payload.
    let missing = peer
        .invoke("ch", "i4", &["invoke", "nosuch", "", "x"])
        .await
        .ok_payload();
    assert_eq!(
        missing,
        "500||INVOKE_CHAINCODE failed: transaction ID: i4: chaincode nosuch not found"
    );
    // Callee ERROR: 500 whose payload is the marshalled inner ChaincodeMessage.
    let raw = peer.invoke("ch", "i5", &["invoke-raw", "fails"]).await;
    let inner = ChaincodeMessage::decode(raw.response().payload.as_slice()).unwrap();
    assert_eq!(inner.r#type, Type::Error as i32);
    assert_eq!(inner.payload, b"callee exploded");
    caas.shutdown().await.unwrap();
}

async fn transaction_data_events_init_and_keepalive(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let peer = connect_caas(caas.addr, None, Arc::default()).await.unwrap();
    let info: serde_json::Value = serde_json::from_str(
        &peer
            .invoke("mych", "txinfo1", &["txinfo"])
            .await
            .ok_payload(),
    )
    .unwrap();
    assert_eq!(info["txid"], "txinfo1");
    assert_eq!(info["channel"], "mych");
    assert_eq!(info["ts"], serde_json::json!([1_700_000_000, 42]));
    assert_eq!(info["creator"], "Org1MSP");
    assert_eq!(info["secret"], "s3cr3t");
    assert_eq!(info["signed"], true);
    assert_eq!(info["msp"], "Org1MSP");
    // binding = sha256(nonce || creator || epoch LE)
    let creator = fabric_chaincode::fabric_protos::msp::SerializedIdentity {
        mspid: "Org1MSP".into(),
        id_bytes: b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n".to_vec(),
    }
    .encode_to_vec();
    let expected = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"nonce");
        h.update(&creator);
        h.update(7u64.to_le_bytes());
        hex::encode(h.finalize())
    };
    assert_eq!(info["binding"], expected);

    match peer
        .invoke("ch", "ev", &["event", "Registered", "data"])
        .await
    {
        Outcome::Completed(r, m) => {
            assert_eq!(r.status, 200);
            let ev = m.chaincode_event.expect("event sent with COMPLETED");
            assert_eq!(ev.event_name, "Registered");
            assert_eq!(ev.payload, b"data");
        }
        Outcome::Error(e, _) => panic!("{e}"),
    }
    let empty_event = peer.invoke("ch", "ev2", &["event", "", "data"]).await;
    assert_eq!(
        empty_event.response().message,
        "event name can not be empty string"
    );

    // INIT: success is COMPLETED; status >= 500 is ERROR carrying the message.
    assert_eq!(
        peer.execute(init_message(&["x"], "init1"))
            .await
            .ok_payload(),
        "init ok"
    );
    assert_eq!(
        peer.execute(init_message(&["fail"], "init2"))
            .await
            .error_text(),
        "init failed"
    );

    // Contract errors are COMPLETED with status 500, not ERROR.
    let failed = peer.invoke("ch", "f1", &["fail"]).await;
    assert_eq!(failed.response().status, 500);
    assert_eq!(failed.response().message, "nope");

    // KEEPALIVE is echoed unchanged.
    let ka = msg(Type::Keepalive, vec![], "", "");
    peer.send_raw(ka.clone()).await;
    let echo = peer
        .next_unrouted(Duration::from_secs(5))
        .await
        .expect("echo");
    assert_eq!(echo, ka);

    // A transaction without a proposal still runs (nil proposal is allowed).
    let input = ChaincodeInput {
        args: vec![b"txinfo".to_vec()],
        ..Default::default()
    };
    let bare = peer
        .execute(msg(Type::Transaction, input.encode_to_vec(), "bare", "ch"))
        .await;
    let v: serde_json::Value = serde_json::from_str(&bare.ok_payload()).unwrap();
    assert_eq!(v["signed"], false);
    assert_eq!(v["creator"], serde_json::Value::Null);
    caas.shutdown().await.unwrap();
}

/// Fabric 3.1: the peer offers write batches and multi-key reads in READY, and the runtime
/// uses them when the contract asks: 250 writes (and a delete) in one WRITE_BATCH_STATE sent
/// before COMPLETED, 250 reads in one GET_STATE_MULTIPLE.
async fn fabric_31_write_batches_and_multi_key_reads_save_round_trips(execution: Execution) {
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let ledger = Arc::new(Ledger::default());
    let peer = connect_caas(caas.addr, None, Arc::clone(&ledger))
        .await
        .unwrap();
    let r = peer.invoke("ch", "tx1", &["batch", "b", "250"]).await;
    assert_eq!(r.ok_payload(), "ok");
    assert_eq!(ledger.requests.load(Ordering::SeqCst), 1, "one batch");
    assert_eq!(ledger.state.lock().unwrap().len(), 249, "b-0 deleted again");
    let r = peer.invoke("ch", "tx2", &["many", "b", "250"]).await;
    assert_eq!(r.ok_payload(), "249");
    assert_eq!(
        ledger.requests.load(Ordering::SeqCst),
        2,
        "one multi-key read"
    );
    caas.shutdown().await.unwrap();
}

/// Before Fabric 3.1 (READY without parameters) the same contract makes one request per write
/// and per key, as the Go shim does.
async fn without_ready_parameters_every_write_and_read_is_its_own_request(execution: Execution) {
    use tokio_stream::StreamExt;
    let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
    let ledger = Arc::new(Ledger::default());
    let (out, mut inbound) = common::peer::open_caas(caas.addr, None).await.unwrap();
    let register = inbound.next().await.unwrap().unwrap();
    assert_eq!(register.r#type, Type::Register as i32);
    out.send(msg(Type::Registered, vec![], "", ""))
        .await
        .unwrap();
    out.send(msg(Type::Ready, vec![], "", "")).await.unwrap();
    let peer = common::peer::PeerConn::wrap("testcc".into(), inbound, out, Arc::clone(&ledger));
    let r = peer.invoke("ch", "tx1", &["batch", "b", "3"]).await;
    assert_eq!(r.ok_payload(), "ok");
    assert_eq!(
        ledger.requests.load(Ordering::SeqCst),
        4,
        "3 PUT_STATE + 1 DEL_STATE"
    );
    assert_eq!(ledger.state.lock().unwrap().len(), 2);
    let r = peer.invoke("ch", "tx2", &["many", "b", "3"]).await;
    assert_eq!(r.ok_payload(), "2");
    assert_eq!(ledger.requests.load(Ordering::SeqCst), 7, "3 GET_STATE");
    caas.shutdown().await.unwrap();
}

/// Inline transactions run on the thread that serves the stream, suspending at each ledger
/// call; the others on a thread of the blocking pool. Both answer the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_transactions_run_on_the_streams_own_thread() {
    for (execution, expected) in [
        (Execution::Inline, common::SERVER_THREAD),
        (Execution::Thread, "tokio-rt-worker"),
    ] {
        let caas = serve_test_cc(Arc::new(TestCc::running(execution))).await;
        let ledger = Arc::new(Ledger::default());
        ledger
            .state
            .lock()
            .unwrap()
            .insert("k".into(), b"v".to_vec());
        let peer = connect_caas(caas.addr, None, Arc::clone(&ledger))
            .await
            .unwrap();
        let r = peer.invoke("ch1", "tx1", &["where", "k"]).await;
        assert_eq!(r.ok_payload(), format!("{expected}|v"), "{execution:?}");
        caas.shutdown().await.unwrap();
    }
}

in_both_executions!(
    handshake_registers_package_id_and_runs_a_transaction,
    sixty_four_concurrent_transactions_on_one_stream,
    range_iteration_pages_lazily_and_closes_early_iterators,
    composite_keys_partial_queries_pagination_history_private_data,
    invoke_chaincode_unwraps_like_the_go_shim,
    transaction_data_events_init_and_keepalive,
    fabric_31_write_batches_and_multi_key_reads_save_round_trips,
    without_ready_parameters_every_write_and_read_is_its_own_request,
);
