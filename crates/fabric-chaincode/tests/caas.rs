//! Chaincode-as-a-service: TLS off / server-only / mutual, several peers at once, peer
//! reconnects, clean shutdown with open streams, and the CaaS environment variables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::peer::{connect_caas, Ledger};
use common::{env_of, exit_of, sigterm, start_caas, Pki, TestCc};
use fabric_chaincode::config::{caas_from_env, mode_from_env, Mode};
use fabric_chaincode::ConfigError;
use tonic::transport::{Certificate, ClientTlsConfig};

fn client_tls(pki: &Pki, with_cert: bool) -> ClientTlsConfig {
    let mut t = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.ca_pem()))
        .domain_name("127.0.0.1");
    if with_cert {
        t = t.identity(pki.client().tonic_identity());
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_fabric_style_keys() {
    let server_pki = Pki::new("server-ca");
    let client_pki = Pki::new("client-ca");
    let tls = server_pki.server_tls(Some(&client_pki));
    let caas = start_caas(Arc::new(TestCc::default()), Some(tls)).await;

    // Peer presenting a certificate from the client CA: served.
    let t = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(server_pki.ca_pem()))
        .domain_name("127.0.0.1")
        .identity(client_pki.client().tonic_identity());
    let peer = connect_caas(caas.addr, Some(t), Arc::default())
        .await
        .unwrap();
    assert_eq!(
        peer.invoke("ch", "t1", &["put", "k", "v"])
            .await
            .ok_payload(),
        "ok"
    );

    // Without a client certificate: refused.
    let no_cert = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(server_pki.ca_pem()))
        .domain_name("127.0.0.1");
    assert!(connect_caas(caas.addr, Some(no_cert), Arc::default())
        .await
        .is_err());
    // With a certificate from another CA: refused.
    assert!(connect_caas(
        caas.addr,
        Some(client_tls(&server_pki, true)),
        Arc::default()
    )
    .await
    .is_err());
    // Plain gRPC against a TLS server: refused.
    assert!(connect_caas(caas.addr, None, Arc::default()).await.is_err());
    // The authorised stream still works after those attempts.
    assert_eq!(
        peer.invoke("ch", "t2", &["get", "k"]).await.ok_payload(),
        "v"
    );
    caas.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_only_tls() {
    let pki = Pki::new("ca");
    let caas = start_caas(Arc::new(TestCc::default()), Some(pki.server_tls(None))).await;
    let peer = connect_caas(caas.addr, Some(client_tls(&pki, false)), Arc::default())
        .await
        .unwrap();
    assert_eq!(
        peer.invoke("ch", "t1", &["get", "nothing"])
            .await
            .ok_payload(),
        "<none>"
    );
    caas.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_at_once_and_reconnect() {
    let caas = start_caas(Arc::new(TestCc::default()), None).await;
    let org1 = Arc::new(Ledger::default());
    let org2 = Arc::new(Ledger::default());
    let p1 = connect_caas(caas.addr, None, Arc::clone(&org1))
        .await
        .unwrap();
    let p2 = connect_caas(caas.addr, None, Arc::clone(&org2))
        .await
        .unwrap();
    assert_eq!(p1.name, "testcc:0123");
    assert_eq!(p2.name, "testcc:0123");
    // Interleave: the same txid on both streams is fine, each peer has its own ledger.
    let (a, b) = tokio::join!(
        p1.invoke("ch", "same", &["work", "o1", "20"]),
        p2.invoke("ch", "same", &["work", "o2", "20"])
    );
    assert_eq!(a.ok_payload(), "same:20");
    assert_eq!(b.ok_payload(), "same:20");
    assert_eq!(org1.state.lock().unwrap().len(), 20);
    assert!(org1
        .state
        .lock()
        .unwrap()
        .keys()
        .all(|k| k.starts_with("o1-")));
    assert!(org2
        .state
        .lock()
        .unwrap()
        .keys()
        .all(|k| k.starts_with("o2-")));

    // Peer 1 restarts: its stream goes away, a new one registers, peer 2 is unaffected.
    drop(p1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let p1 = connect_caas(caas.addr, None, Arc::clone(&org1))
        .await
        .unwrap();
    assert_eq!(
        p1.invoke("ch", "after", &["get", "o1-3"])
            .await
            .ok_payload(),
        "same:3"
    );
    assert_eq!(
        p2.invoke("ch", "after", &["get", "o2-3"])
            .await
            .ok_payload(),
        "same:3"
    );
    caas.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams() {
    let caas = start_caas(Arc::new(TestCc::default()), None).await;
    let peer = connect_caas(caas.addr, None, Arc::default()).await.unwrap();
    assert_eq!(
        peer.invoke("ch", "t", &["get", "k"]).await.ok_payload(),
        "<none>"
    );
    let started = std::time::Instant::now();
    caas.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(
        peer.wait_closed(Duration::from_secs(5)).await,
        "stream ended by shutdown"
    );
}

#[test]
fn caas_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("ca");
    let s = pki.server();
    let key = dir.path().join("key.pem");
    let cert = dir.path().join("cert.pem");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&key, &s.key_pem).unwrap();
    std::fs::write(&cert, &s.cert_pem).unwrap();
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let p = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let base = vec![
        ("CHAINCODE_PKG_ID", "ercc:abc".to_string()),
        ("CHAINCODE_SERVER_ADDRESS", "0.0.0.0:9999".to_string()),
    ];

    // Nothing about TLS: plain (documented; FPC's Go ercc runs like this).
    let cfg = caas_from_env(&env_of(&base)).unwrap();
    assert!(cfg.tls.is_none());
    assert_eq!(cfg.package_id, "ercc:abc");

    let mut with_tls = base.clone();
    with_tls.push(("CHAINCODE_TLS_KEY", p(&key)));
    with_tls.push(("CHAINCODE_TLS_CERT", p(&cert)));
    let cfg = caas_from_env(&env_of(&with_tls)).unwrap();
    let tls = cfg.tls.unwrap();
    assert!(tls.client_ca_pem.is_none());
    assert_eq!(tls.cert_pem, s.cert_pem.as_bytes());

    let mut mutual = with_tls.clone();
    mutual.push(("CHAINCODE_CLIENT_CA_CERT", p(&ca)));
    assert!(caas_from_env(&env_of(&mutual))
        .unwrap()
        .tls
        .unwrap()
        .client_ca_pem
        .is_some());

    let mut disabled = mutual.clone();
    disabled.push(("CHAINCODE_TLS_DISABLED", "TRUE".into()));
    // Disabled TLS with a client CA is contradictory.
    assert!(caas_from_env(&env_of(&disabled)).is_err());
    let mut disabled = with_tls.clone();
    disabled.push(("CHAINCODE_TLS_DISABLED", "t".into()));
    assert!(caas_from_env(&env_of(&disabled)).unwrap().tls.is_none());

    let mut forced = base.clone();
    forced.push(("CHAINCODE_TLS_DISABLED", "false".into()));
    assert!(matches!(
        caas_from_env(&env_of(&forced)),
        Err(ConfigError::Missing(_))
    ));
    let mut bad_bool = base.clone();
    bad_bool.push(("CHAINCODE_TLS_DISABLED", "nope".into()));
    assert!(caas_from_env(&env_of(&bad_bool)).is_err());
    let mut half = base.clone();
    half.push(("CHAINCODE_TLS_KEY", p(&key)));
    assert!(caas_from_env(&env_of(&half)).is_err());
    let mut missing_file = base.clone();
    missing_file.push(("CHAINCODE_TLS_KEY", "/nonexistent/key.pem".into()));
    missing_file.push(("CHAINCODE_TLS_CERT", p(&cert)));
    assert!(matches!(
        caas_from_env(&env_of(&missing_file)),
        Err(ConfigError::File { .. })
    ));
    let mut bad_addr = base.clone();
    bad_addr[1].1 = "noport".into();
    assert!(caas_from_env(&env_of(&bad_addr)).is_err());
}

#[test]
fn mode_selection() {
    let no_args: Vec<String> = vec![];
    let only_pkg = env_of(&[("CHAINCODE_PKG_ID", "x:1".into())]);
    assert!(matches!(
        mode_from_env(&no_args, &only_pkg),
        Err(ConfigError::HalfCaas {
            set: "CHAINCODE_PKG_ID"
        })
    ));
    let only_addr = env_of(&[("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:1".into())]);
    let err = mode_from_env(&no_args, &only_addr).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::HalfCaas {
            set: "CHAINCODE_SERVER_ADDRESS"
        }
    ));
    assert!(err
        .to_string()
        .contains("needs both CHAINCODE_PKG_ID (or CHAINCODE_ID) and CHAINCODE_SERVER_ADDRESS"));
    let both = env_of(&[
        ("CHAINCODE_PKG_ID", "x:1".into()),
        ("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:1".into()),
    ]);
    assert!(matches!(mode_from_env(&no_args, &both), Ok(Mode::Caas(_))));
    let normal = env_of(&[
        ("CORE_CHAINCODE_ID_NAME", "x:1".into()),
        ("CORE_PEER_TLS_ENABLED", "false".into()),
    ]);
    let args = vec!["-peer.address=127.0.0.1:7052".to_string()];
    assert!(matches!(mode_from_env(&args, &normal), Ok(Mode::Normal(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_in_caas_mode_from_the_environment() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = tokio::process::Command::new(common::example_binary())
        .env("CHAINCODE_PKG_ID", "kv:caas")
        .env("CHAINCODE_SERVER_ADDRESS", addr.to_string())
        .env("FABRIC_LOGGING_SPEC", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let peer = loop {
        match connect_caas(addr, None, Arc::default()).await {
            Ok(p) => break p,
            Err(e) if std::time::Instant::now() > deadline => panic!("server never came up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(peer.name, "kv:caas");
    assert_eq!(
        peer.invoke("ch", "t1", &["KV:Put", "k", "v"])
            .await
            .response()
            .status,
        200
    );
    assert_eq!(
        peer.invoke("ch", "t2", &["Get", "k"]).await.ok_payload(),
        "v"
    );
    let second = connect_caas(addr, None, Arc::default()).await.unwrap();
    let missing = second.invoke("ch", "t3", &["Get", "k"]).await;
    assert_eq!(missing.response().message, "k does not exist");

    sigterm(&child);
    let (code, stderr) = exit_of(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("WITHOUT TLS"),
        "plain CaaS is announced: {stderr}"
    );
}
