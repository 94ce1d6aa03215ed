//! Normal mode: the chaincode dials a peer over real gRPC, plain and with TLS (client
//! certificate, Fabric's PKCS#8-in-"EC PRIVATE KEY" key, IP SAN), the Go shim's configuration,
//! and the process behaviour (non-zero exit when the peer goes away, clean SIGTERM).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::peer::NormalPeer;
use common::{
    ended, env_of, example_binary, exit_of, kv_normal_mode, sigterm, silent_peer, Pki, TestCc,
};
use fabric_chaincode::config::{normal_from_env, ClientTls, NormalConfig, DEFAULT_DIAL_TIMEOUT};
use fabric_chaincode::{ConfigError, RuntimeError};
use tokio::sync::oneshot;
use tonic::transport::{Certificate, ServerTlsConfig};

/// Plain normal mode to `peer_address`, registering as `name`.
fn plain(peer_address: String, name: &str, dial_timeout: Duration) -> NormalConfig {
    NormalConfig {
        peer_address,
        chaincode_name: name.into(),
        tls: None,
        msp_id: None,
        dial_timeout,
    }
}

/// The Go shim's TLS environment with PEM files for the client key and certificate.
fn tls_env(key: &Path, cert: &Path, root: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("CORE_CHAINCODE_ID_NAME", "mycc:tls".into()),
        ("CORE_PEER_TLS_ENABLED", "true".into()),
        ("CORE_TLS_CLIENT_KEY_FILE", s(key)),
        ("CORE_TLS_CLIENT_CERT_FILE", s(cert)),
        ("CORE_PEER_TLS_ROOTCERT_FILE", s(root)),
    ]
}

fn spawn_client(
    cfg: NormalConfig,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), RuntimeError>>,
) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(fabric_chaincode::run_normal(
        Arc::new(TestCc::default()),
        cfg,
        async move {
            let _ = rx.await;
        },
    ));
    (tx, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_normal_mode_and_clean_shutdown() {
    let mut peer = NormalPeer::start(None).await;
    let cfg = plain(peer.addr.to_string(), "mycc:abc", DEFAULT_DIAL_TIMEOUT);
    let (stop, task) = spawn_client(cfg);
    let conn = peer.next_conn().await;
    assert_eq!(conn.name, "mycc:abc");
    assert_eq!(
        conn.invoke("ch", "t1", &["put", "k", "v"])
            .await
            .ok_payload(),
        "ok"
    );
    assert_eq!(
        conn.invoke("ch", "t2", &["get", "k"]).await.ok_payload(),
        "v"
    );
    stop.send(()).unwrap();
    let r = ended(Duration::from_secs(5), task).await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_peer_is_an_error() {
    let mut peer = NormalPeer::start(None).await;
    let cfg = plain(peer.addr.to_string(), "mycc:abc", DEFAULT_DIAL_TIMEOUT);
    let (_stop, task) = spawn_client(cfg);
    let conn = peer.next_conn().await;
    assert_eq!(
        conn.invoke("ch", "t1", &["get", "k"]).await.ok_payload(),
        "<none>"
    );
    drop(conn); // the peer ends the stream
    let r = ended(Duration::from_secs(5), task).await;
    assert!(
        matches!(r, Err(RuntimeError::StreamClosed | RuntimeError::Status(_))),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_listening_is_a_connect_error_naming_the_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    // Duration::MAX (an embedding program's "no limit") must not overflow the deadline.
    for dial_timeout in [DEFAULT_DIAL_TIMEOUT, Duration::MAX] {
        let cfg = plain(addr.to_string(), "x:1", dial_timeout);
        let (_stop, task) = spawn_client(cfg);
        let r = ended(Duration::from_secs(15), task).await;
        let text = error_text(&r);
        assert!(
            text.starts_with(&format!("cannot connect to the peer at {addr} (connect): ")),
            "{text}"
        );
        assert!(text.contains("refused"), "{text}");
    }
}

struct TlsFiles {
    _dir: tempfile::TempDir,
    key: PathBuf,
    cert: PathBuf,
    key_b64: PathBuf,
    cert_b64: PathBuf,
    root: PathBuf,
}

/// A peer whose chaincode listener requires a client certificate from `client_ca`, like
/// Fabric's (ephemeral CA, IP SAN 127.0.0.1), plus the files the peer would hand the chaincode.
async fn tls_peer() -> (NormalPeer, TlsFiles, Pki) {
    let ca = Pki::new("peer-ephemeral-ca");
    let server = ca.server();
    let tls = ServerTlsConfig::new()
        .identity(server.tonic_identity())
        .client_ca_root(Certificate::from_pem(ca.ca_pem()));
    let peer = NormalPeer::start(Some(tls)).await;
    let client = ca.client();
    assert!(client.key_pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, data: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let files = TlsFiles {
        key: write("client_pem.key", client.key_pem.as_bytes()),
        cert: write("client_pem.crt", client.cert_pem.as_bytes()),
        key_b64: write("client.key", b64(&client.key_pem).as_bytes()),
        cert_b64: write("client.crt", b64(&client.cert_pem).as_bytes()),
        root: write("peer.crt", ca.ca_pem().as_bytes()),
        _dir: dir,
    };
    (peer, files, ca)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_pem_files() {
    let (mut peer, f, _ca) = tls_peer().await;
    let args = vec![format!("-peer.address=127.0.0.1:{}", peer.addr.port())];
    let mut vars = tls_env(&f.key, &f.cert, &f.root);
    vars.push(("CORE_PEER_LOCALMSPID", "Org1MSP".into()));
    let env = env_of(&vars);
    let cfg = normal_from_env(&args, &env).unwrap();
    let (stop, task) = spawn_client(cfg);
    let conn = peer.next_conn().await;
    assert_eq!(conn.name, "mycc:tls");
    let info = conn.invoke("ch", "t1", &["txinfo"]).await.ok_payload();
    assert!(info.contains("\"msp\":\"Org1MSP\""), "{info}");
    stop.send(()).unwrap();
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_base64_path_files_and_go_flag_spelling() {
    let (mut peer, f, _ca) = tls_peer().await;
    let args = vec![
        "--peer.address".to_string(),
        format!("127.0.0.1:{}", peer.addr.port()),
    ];
    let env = env_of(&[
        ("CORE_CHAINCODE_ID_NAME", "mycc:b64".into()),
        ("CORE_PEER_TLS_ENABLED", "T".into()),
        ("CORE_TLS_CLIENT_KEY_PATH", s(&f.key_b64)),
        ("CORE_TLS_CLIENT_CERT_PATH", s(&f.cert_b64)),
        ("CORE_PEER_TLS_ROOTCERT_FILE", s(&f.root)),
    ]);
    let cfg = normal_from_env(&args, &env).unwrap();
    let (stop, task) = spawn_client(cfg);
    let conn = peer.next_conn().await;
    assert_eq!(
        conn.invoke("ch", "t1", &["put", "a", "b"])
            .await
            .ok_payload(),
        "ok"
    );
    stop.send(()).unwrap();
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_refuses_an_untrusted_peer_and_a_missing_client_cert() {
    let (peer, f, _ca) = tls_peer().await;
    let other = Pki::new("someone-else");
    let wrong_root = f.root.with_file_name("wrong.crt");
    std::fs::write(&wrong_root, other.ca_pem()).unwrap();
    let args = vec![format!("-peer.address=127.0.0.1:{}", peer.addr.port())];
    let env = env_of(&tls_env(&f.key, &f.cert, &wrong_root));
    let (_stop, task) = spawn_client(normal_from_env(&args, &env).unwrap());
    let r = ended(Duration::from_secs(15), task).await;
    let text = error_text(&r);
    assert!(
        text.starts_with(&format!(
            "cannot connect to the peer at 127.0.0.1:{} (connect): ",
            peer.addr.port()
        )),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");

    // A client certificate from a CA the peer does not trust: the peer rejects the stream.
    let stranger = other.client();
    let key = f.root.with_file_name("stranger.key");
    let cert = f.root.with_file_name("stranger.crt");
    std::fs::write(&key, stranger.key_pem).unwrap();
    std::fs::write(&cert, stranger.cert_pem).unwrap();
    let env = env_of(&tls_env(&key, &cert, &f.root));
    let (_stop, task) = spawn_client(normal_from_env(&args, &env).unwrap());
    let r = ended(Duration::from_secs(15), task).await;
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn normal_environment_like_the_go_shim() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("k.pem");
    std::fs::write(&pem, "pem").unwrap();
    let b64 = dir.path().join("k.b64");
    std::fs::write(
        &b64,
        base64::engine::general_purpose::STANDARD.encode("from-path"),
    )
    .unwrap();
    let args = vec!["-peer.address=peer0:7052".to_string()];
    let base = vec![
        ("CORE_CHAINCODE_ID_NAME", "cc:1".to_string()),
        ("CORE_PEER_TLS_ENABLED", "false".to_string()),
    ];
    let cfg = normal_from_env(&args, &env_of(&base)).unwrap();
    assert_eq!(cfg.peer_address, "peer0:7052");
    assert!(cfg.tls.is_none());

    assert!(
        matches!(normal_from_env(&[], &env_of(&base)), Err(ConfigError::Missing(m)) if m.contains("peer.address"))
    );
    let no_name = env_of(&base[1..]);
    assert!(
        matches!(normal_from_env(&args, &no_name), Err(ConfigError::Missing(m)) if m.contains("CORE_CHAINCODE_ID_NAME"))
    );
    for bad in ["", "yes", "on"] {
        let e = env_of(&[base[0].clone(), ("CORE_PEER_TLS_ENABLED", bad.to_string())]);
        let err = normal_from_env(&args, &e).unwrap_err();
        assert!(
            err.to_string().contains("must be set to 'true' or 'false'"),
            "{err}"
        );
    }
    let bad_addr = vec!["-peer.address=nocolon".to_string()];
    assert!(normal_from_env(&bad_addr, &env_of(&base)).is_err());

    // TLS: *_FILE wins when set (even empty), *_PATH is base64 of the PEM.
    let tls = |extra: Vec<(&'static str, String)>| {
        let mut v = vec![
            ("CORE_CHAINCODE_ID_NAME", "cc:1".to_string()),
            ("CORE_PEER_TLS_ENABLED", "1".to_string()),
            ("CORE_PEER_TLS_ROOTCERT_FILE", s(&pem)),
        ];
        v.extend(extra);
        normal_from_env(&args, &env_of(&v))
    };
    let cfg = tls(vec![
        ("CORE_TLS_CLIENT_KEY_FILE", s(&pem)),
        ("CORE_TLS_CLIENT_KEY_PATH", s(&b64)),
        ("CORE_TLS_CLIENT_CERT_PATH", s(&b64)),
    ])
    .unwrap();
    let t = cfg.tls.unwrap();
    assert_eq!(t.client_key_pem, b"pem");
    assert_eq!(t.client_cert_pem, b"from-path");
    let empty_file = tls(vec![
        ("CORE_TLS_CLIENT_KEY_FILE", String::new()),
        ("CORE_TLS_CLIENT_KEY_PATH", s(&b64)),
        ("CORE_TLS_CLIENT_CERT_PATH", s(&b64)),
    ]);
    assert!(matches!(
        empty_file,
        Err(ConfigError::File {
            name: "CORE_TLS_CLIENT_KEY_FILE",
            ..
        })
    ));
    let not_b64 = tls(vec![
        ("CORE_TLS_CLIENT_KEY_PATH", s(&pem)),
        ("CORE_TLS_CLIENT_CERT_PATH", s(&b64)),
    ]);
    assert!(matches!(not_b64, Err(ConfigError::File { .. })));
    let no_root = normal_from_env(
        &args,
        &env_of(&[
            ("CORE_CHAINCODE_ID_NAME", "cc:1".to_string()),
            ("CORE_PEER_TLS_ENABLED", "true".to_string()),
            ("CORE_TLS_CLIENT_KEY_FILE", s(&pem)),
            ("CORE_TLS_CLIENT_CERT_FILE", s(&pem)),
        ]),
    );
    assert!(matches!(no_root, Err(ConfigError::Missing(m)) if m.contains("ROOTCERT")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_exits_nonzero_when_the_peer_goes_away_and_zero_on_sigterm() {
    let mut peer = NormalPeer::start(None).await;
    let addr = peer.addr;
    let spawn = || kv_normal_mode(addr).spawn().unwrap();

    let child = spawn();
    let conn = peer.next_conn().await;
    let out = conn.invoke("ch", "t1", &["KV:put", "k", "v"]).await;
    assert_eq!(out.response().status, 200);
    assert_eq!(
        conn.invoke("ch", "t2", &["get", "k"]).await.ok_payload(),
        "v"
    );
    drop(conn);
    let (code, stderr) = exit_of(child).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("lost the connection to the peer"),
        "{stderr}"
    );

    let child = spawn();
    let conn = peer.next_conn().await;
    assert_eq!(
        conn.invoke("ch", "t3", &["get", "k"]).await.ok_payload(),
        "v"
    );
    sigterm(&child);
    let (code, stderr) = exit_of(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_refuses_half_caas_configuration() {
    let out = tokio::process::Command::new(example_binary())
        .env("CHAINCODE_PKG_ID", "kv:1")
        .env_remove("CHAINCODE_SERVER_ADDRESS")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("only CHAINCODE_PKG_ID is set"), "{stderr}");
}

async fn assert_gives_up_on_silent_peer(tls: Option<ClientTls>) {
    let addr = silent_peer();
    let cfg = NormalConfig {
        tls,
        ..plain(addr.to_string(), "x:1", Duration::from_secs(2))
    };
    let started = std::time::Instant::now();
    let (_stop, task) = spawn_client(cfg);
    let r = ended(Duration::from_secs(10), task).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let text = error_text(&r);
    assert!(
        text.starts_with(&format!(
            "cannot connect to the peer at {addr} (timeout): no "
        )),
        "{text}"
    );
    assert!(text.contains("within the dial timeout of 2s"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_plain_peer_is_given_up_within_the_dial_timeout() {
    assert_gives_up_on_silent_peer(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_peer_is_given_up_within_the_dial_timeout() {
    let (_peer, f, _pki) = tls_peer().await;
    let tls = ClientTls {
        root_cert_pem: std::fs::read(&f.root).unwrap(),
        client_cert_pem: std::fs::read(&f.cert).unwrap(),
        client_key_pem: std::fs::read(&f.key).unwrap(),
    };
    assert_gives_up_on_silent_peer(Some(tls)).await;
}

/// The error's text, or "" when `r` is `Ok`.
fn error_text(r: &Result<(), RuntimeError>) -> String {
    r.as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default()
}
