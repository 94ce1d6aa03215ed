//! The test plays the chaincode itself (with the TLS credentials devpeer hands to `run` in
//! chaincode.json) to check the peer side of the protocol: REGISTER bound to the launch's
//! certificate, ledger requests, and replies that break the protocol. Each violation fails the
//! transaction, ends at most that stream, and the chaincode is relaunched on next use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use fabric_protos::peer::chaincode_message::Type;
use fabric_protos::peer::chaincode_support_client::ChaincodeSupportClient;
use fabric_protos::peer::{
    write_record, ChaincodeAdditionalParams, ChaincodeId, ChaincodeInput, ChaincodeMessage,
    GetState, GetStateMultiple, GetStateMultipleResult, Response, WriteBatchState, WriteRecord,
};
use fabric_protos::prost::Message;
use tokio::sync::mpsc;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn wait_for(path: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(b) = std::fs::read(path) {
            return serde_json::from_slice(&b).unwrap();
        }
        assert!(Instant::now() < deadline, "no chaincode.json from run");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Chaincode {
    tx: mpsc::Sender<ChaincodeMessage>,
    rx: tonic::Streaming<ChaincodeMessage>,
}

fn m(t: Type, payload: Vec<u8>, txid: &str, channel: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: t as i32,
        payload,
        txid: txid.into(),
        channel_id: channel.into(),
        ..Default::default()
    }
}

/// A message in the transaction `t` (same txid and channel).
fn in_tx(t: &ChaincodeMessage, ty: Type, payload: Vec<u8>) -> ChaincodeMessage {
    m(ty, payload, &t.txid, &t.channel_id)
}

/// Waits (off the async runtime) for a CLI call started with [`spawn_cli`].
async fn finish(q: std::thread::JoinHandle<CliResult>) -> CliResult {
    tokio::task::spawn_blocking(move || q.join().unwrap())
        .await
        .unwrap()
}

/// Dials the peer with chaincode.json's credentials and sends REGISTER{name}.
async fn connect(cc: &serde_json::Value, name: &str) -> Chaincode {
    let addr = cc["peer_address"].as_str().unwrap();
    let host = addr.rsplit_once(':').unwrap().0;
    let key =
        fabric_formats::pem::normalize_private_key(cc["client_key"].as_str().unwrap().as_bytes())
            .unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(cc["root_cert"].as_str().unwrap()))
        .identity(Identity::from_pem(cc["client_cert"].as_str().unwrap(), key))
        .domain_name(host);
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let (tx, out) = mpsc::channel(16);
    let reg = ChaincodeId {
        name: name.into(),
        ..Default::default()
    };
    tx.send(m(Type::Register, reg.encode_to_vec(), "", ""))
        .await
        .unwrap();
    let rx = ChaincodeSupportClient::new(channel)
        .register(tokio_stream::wrappers::ReceiverStream::new(out))
        .await
        .unwrap()
        .into_inner();
    Chaincode { tx, rx }
}

impl Chaincode {
    async fn recv(&mut self) -> ChaincodeMessage {
        tokio::time::timeout(Duration::from_secs(20), self.rx.message())
            .await
            .expect("peer message")
            .expect("stream ok")
            .expect("stream open")
    }
    async fn send(&self, msg: ChaincodeMessage) {
        self.tx.send(msg).await.unwrap();
    }
}

fn spawn_cli(home: &Path, args: &[&str]) -> std::thread::JoinHandle<CliResult> {
    let home: PathBuf = home.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    std::thread::spawn(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_in(&home, &a)
    })
}

#[test]
fn peer_side_protocol_and_violations() {
    let ccdir = tempfile::tempdir().unwrap();
    let ccjson = ccdir.path().join("chaincode.json");
    let opts = Options {
        builders: vec![format!(
            "manual={}",
            fixtures().join("builders/manual").display()
        )],
        propagate: vec!["MANUAL_CHAINCODE_DIR".into()],
        env: vec![(
            "MANUAL_CHAINCODE_DIR".into(),
            ccdir.path().display().to_string(),
        )],
        extra_args: [
            "--launch-timeout",
            "20s",
            "--execute-timeout",
            "3s",
            "--runtime-params",
            "true",
        ]
        .map(String::from)
        .to_vec(),
        ..Options::default()
    };
    let peer = DevPeer::start(opts);
    let id = peer.install("m.tgz", &package("manual", "manual", &[("a", b"a")]));
    let home = peer.home.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let define = spawn_cli(
            &home,
            &[
                "define",
                "manual",
                "--version",
                "1",
                "--sequence",
                "1",
                "--package-id",
                &id,
            ],
        );
        let cc = wait_for(&ccjson);
        assert_eq!(cc["chaincode_id"], id.as_str());
        assert_eq!(cc["mspid"], "Org1MSP");
        assert!(cc["client_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY-----"));

        // The certificate is bound to this package id: another name is refused.
        let mut wrong = connect(&cc, "someone-else:00").await;
        let e = wrong.recv().await;
        assert_eq!(e.r#type, Type::Error as i32);
        let text = String::from_utf8_lossy(&e.payload).into_owned();
        assert!(text.contains("belongs to a different chaincode"), "{e:?}");

        // The binding survives a wrong name: the real chaincode registers on it.
        let q = spawn_cli(&home, &["query", "manual", "-c", r#"{"Args":["Get","a"]}"#]);
        let mut c = connect(&cc, &id).await;
        assert_eq!(c.recv().await.r#type, Type::Registered as i32);
        let ready = c.recv().await;
        assert_eq!(ready.r#type, Type::Ready as i32);
        let params = ChaincodeAdditionalParams::decode(ready.payload.as_slice()).unwrap();
        assert!(params.use_write_batch && params.max_size_write_batch == 1000);
        let out = tokio::task::spawn_blocking(move || define.join().unwrap())
            .await
            .unwrap();
        assert!(!out.stderr.contains("Warning"), "{}", out.stderr);

        // 1. A well-behaved transaction with a GET_STATE, and a stray request refused.
        let t = c.recv().await;
        assert_eq!(t.r#type, Type::Transaction as i32);
        assert_eq!(t.channel_id, "mychannel");
        assert!(t.proposal.is_some());
        let input = ChaincodeInput::decode(t.payload.as_slice()).unwrap();
        assert_eq!(input.args, vec![b"Get".to_vec(), b"a".to_vec()]);
        c.send(in_tx(
            &t,
            Type::GetState,
            GetState {
                key: "a".into(),
                collection: String::new(),
            }
            .encode_to_vec(),
        ))
        .await;
        let r = c.recv().await;
        assert_eq!(r.r#type, Type::Response as i32);
        assert!(r.payload.is_empty());
        c.send(m(
            Type::GetState,
            GetState {
                key: "a".into(),
                collection: String::new(),
            }
            .encode_to_vec(),
            "not-a-tx",
            &t.channel_id,
        ))
        .await;
        let r = c.recv().await;
        assert_eq!(r.r#type, Type::Error as i32);
        assert!(String::from_utf8_lossy(&r.payload).contains("no ledger context"));
        let ok = Response {
            status: 200,
            message: String::new(),
            payload: b"manual-ok".to_vec(),
        };
        c.send(in_tx(&t, Type::Completed, ok.encode_to_vec())).await;
        let out = finish(q).await;
        assert_eq!(out.ok(), "manual-ok");

        // 1b. Fabric 3.1 write batch and multi-key read; reads do not see the pending write.
        let q = spawn_cli(&home, &["invoke", "manual", "-c", r#"{"Args":["Batch"]}"#]);
        let t = c.recv().await;
        let batch = WriteBatchState {
            rec: vec![WriteRecord {
                key: "wb".into(),
                value: b"1".to_vec(),
                r#type: write_record::Type::PutState as i32,
                ..Default::default()
            }],
        };
        c.send(in_tx(&t, Type::WriteBatchState, batch.encode_to_vec()))
            .await;
        assert_eq!(c.recv().await.r#type, Type::Response as i32);
        let multi = GetStateMultiple {
            keys: vec!["a".into(), "wb".into()],
            collection: String::new(),
        };
        c.send(in_tx(&t, Type::GetStateMultiple, multi.encode_to_vec()))
            .await;
        let r = c.recv().await;
        let values = GetStateMultipleResult::decode(r.payload.as_slice())
            .unwrap()
            .values;
        assert_eq!(values, vec![Vec::<u8>::new(), Vec::new()]);
        c.send(in_tx(&t, Type::Completed, ok.encode_to_vec())).await;
        let out = finish(q).await;
        assert_eq!(out.ok(), "manual-ok");

        // 1c. No reply at all: the execute timeout fails the transaction; a late reply is ignored.
        let q = spawn_cli(&home, &["invoke", "manual", "-c", r#"{"Args":["Slow"]}"#]);
        let t = c.recv().await;
        let out = finish(q).await;
        assert!(
            out.err()
                .contains("timeout expired while executing transaction"),
            "{}",
            out.stderr
        );
        c.send(in_tx(&t, Type::Completed, ok.encode_to_vec())).await;

        // 2. A COMPLETED whose payload is not a Response: the transaction fails, nothing commits.
        let q = spawn_cli(&home, &["invoke", "manual", "-c", r#"{"Args":["Put"]}"#]);
        let t = c.recv().await;
        c.send(in_tx(&t, Type::Completed, vec![0xff, 0xff, 0xff]))
            .await;
        let out = finish(q).await;
        assert!(
            out.err().contains("failed to unmarshal chaincode response"),
            "{}",
            out.stderr
        );

        // 3. A second REGISTER on the established stream: the peer ends this stream.
        std::fs::remove_file(&ccjson).unwrap();
        let q = spawn_cli(&home, &["query", "manual", "-c", r#"{"Args":["Get","a"]}"#]);
        let t = c.recv().await;
        assert_eq!(t.r#type, Type::Transaction as i32);
        let reg = ChaincodeId {
            name: id.clone(),
            ..Default::default()
        };
        c.send(m(Type::Register, reg.encode_to_vec(), "", "")).await;
        let out = finish(q).await;
        assert!(
            out.err().contains("chaincode stream terminated"),
            "{}",
            out.stderr
        );
        let end = tokio::time::timeout(Duration::from_secs(10), c.rx.message())
            .await
            .unwrap();
        assert!(
            end.is_err(),
            "the stream must end with an error status: {end:?}"
        );

        // 4. Reconnecting with the used certificate is refused.
        let mut again = connect(&cc, &id).await;
        let e = again.recv().await;
        assert!(String::from_utf8_lossy(&e.payload).contains("not found in registry"));

        // 5. The next transaction relaunches the chaincode with fresh credentials.
        let q = spawn_cli(&home, &["query", "manual", "-c", r#"{"Args":["Get","a"]}"#]);
        let cc2 = wait_for(&ccjson);
        assert_ne!(cc2["client_cert"], cc["client_cert"]);
        let mut c = connect(&cc2, &id).await;
        assert_eq!(c.recv().await.r#type, Type::Registered as i32);
        assert_eq!(c.recv().await.r#type, Type::Ready as i32);
        let t = c.recv().await;
        let wb = GetState {
            key: "wb".into(),
            collection: String::new(),
        };
        c.send(in_tx(&t, Type::GetState, wb.encode_to_vec())).await;
        let ok = Response {
            status: 200,
            message: String::new(),
            payload: c.recv().await.payload,
        };
        c.send(in_tx(&t, Type::Completed, ok.encode_to_vec())).await;
        let out = finish(q).await;
        assert_eq!(out.ok(), "1", "the batched write was committed");
    });
    let status: serde_json::Value = serde_json::from_str(&peer.cli(&["status"]).ok()).unwrap();
    assert_eq!(
        status["height"], 1,
        "only the batch transaction was committed"
    );
}
