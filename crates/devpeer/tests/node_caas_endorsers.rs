//! End-to-end: the Node shim as a chaincode server (CaaS, TLS with client auth) and
//! endorsement by two launches that must agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn caas_mode_with_tls_and_client_auth() {
    let node = node_fixture();
    // The server certificate only names "localhost": the domain override must be used.
    let caas = CaasFixture::new("fixture-caas", "localhost", Some("localhost"));
    let (port, pkg, id) = (caas.port, &caas.pkg, &caas.id);
    let _server = KillOnDrop(
        Command::new("node")
            .arg(node.join("node_modules/fabric-shim/cli.js"))
            .args([
                "server",
                "--chaincode-address",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--chaincode-id", id])
            .arg("--module-path")
            .arg(&node)
            .arg("--chaincode-tls-cert-file")
            .arg(caas.file("server.crt"))
            .arg("--chaincode-tls-key-file")
            .arg(caas.file("server.key"))
            .arg("--chaincode-tls-client-cacert-file")
            .arg(caas.file("ca.crt"))
            .env("CORE_PEER_LOCALMSPID", "Org1MSP")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node"),
    );
    wait_for_listener(port, Duration::from_secs(20), "node chaincode server");

    let mut peer = DevPeer::start(node_options());
    assert_eq!(&peer.install("caas.tgz", pkg), id);
    let d = peer.define("fixture", "1.0", 1, id);
    assert!(!d.stderr.contains("Warning"), "{}", d.stderr);
    peer.invoke("fixture", &["Put", "x", "served"], &[]).ok();
    assert_eq!(peer.query("fixture", &["Get", "x"], &[]).ok(), "served");
    peer.invoke("fixture", &["PutMany", "r", "120"], &[]).ok();
    let keys: serde_json::Value =
        serde_json::from_str(&peer.query("fixture", &["Range", "r", "s"], &[]).ok()).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 120);
    // Two endorsers = two Connect streams to the same server, as two peers would open.
    peer.invoke("fixture", &["Put", "y", "both"], &["--endorsers", "2"])
        .ok();
    assert_eq!(
        peer.query("fixture", &["Get", "y"], &["--endorsers", "2"])
            .ok(),
        "both"
    );
    // The peer dials again after a restart.
    peer.restart();
    assert_eq!(peer.query("fixture", &["Get", "x"], &[]).ok(), "served");
}

#[test]
fn caas_dial_failure_is_reported_and_peer_keeps_serving() {
    let port = free_port();
    let conn = serde_json::json!({
        "address": format!("127.0.0.1:{port}"), "dial_timeout": "1s", "tls_required": false,
    })
    .to_string();
    let pkg = package("nobody", "ccaas", &[("connection.json", conn.as_bytes())]);
    let peer = DevPeer::start(node_options());
    let id = peer.install("nobody.tgz", &pkg);
    let d = peer.define("nobody", "1.0", 1, &id);
    assert!(d.stderr.contains("could not connect"), "{}", d.stderr);
    let e = peer.query("nobody", &["Get", "x"], &[]).err();
    assert!(e.contains("could not connect to chaincode server"), "{e}");
    // A connection.json with tls_required as a string is refused by the builder.
    let bad = package(
        "badconn",
        "ccaas",
        &[(
            "connection.json",
            br#"{"address":"h:1","tls_required":"true"}"#,
        )],
    );
    let e = peer.install_bytes("bad.tgz", &bad).err();
    assert!(e.contains("boolean tls_required"), "{e}");
}

#[test]
fn two_endorsers_must_agree() {
    let peer = DevPeer::start(node_options());
    let id = peer.install("fixture.tgz", &node_package("fixture"));
    peer.define("fixture", "1.0", 1, &id).ok();
    peer.invoke("fixture", &["Put", "k", "v"], &["--endorsers", "2"])
        .ok();
    assert_eq!(
        peer.query("fixture", &["Get", "k"], &["--endorsers", "2"])
            .ok(),
        "v"
    );
    // Two chaincode processes ran.
    let logs: Vec<_> = std::fs::read_dir(peer.home.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(logs.iter().any(|l| l.ends_with("-0.log")), "{logs:?}");
    assert!(logs.iter().any(|l| l.ends_with("-1.log")), "{logs:?}");
    // A non-deterministic transaction: the write sets differ, nothing is committed.
    let e = peer
        .invoke("fixture", &["Random"], &["--endorsers", "2"])
        .err();
    assert!(e.contains("do not match"), "{e}");
    assert_eq!(peer.query("fixture", &["Get", "random"], &[]).ok(), "");
    // With one endorser the same transaction commits.
    peer.invoke("fixture", &["Random"], &[]).ok();
    assert_eq!(
        peer.query("fixture", &["Get", "random"], &[]).ok().len(),
        16
    );
}

#[test]
fn normal_mode_without_tls() {
    let mut opts = node_options();
    opts.tls = false;
    let peer = DevPeer::start(opts);
    let id = peer.install("fixture.tgz", &node_package("fixture"));
    peer.define("fixture", "1.0", 1, &id).ok();
    peer.invoke("fixture", &["Put", "plain", "text"], &["--endorsers", "2"])
        .ok();
    assert_eq!(peer.query("fixture", &["Get", "plain"], &[]).ok(), "text");
    let cc = std::fs::read_to_string(peer.home.join("externalbuilder/run").join(format!(
        "{}-0/chaincode.json",
        devpeer::package::sanitize_id(&id)
    )))
    .unwrap();
    let cc: serde_json::Value = serde_json::from_str(&cc).unwrap();
    assert_eq!(cc["client_cert"], "", "no TLS material without TLS");
}

#[test]
fn concurrent_read_modify_write_keeps_mvcc() {
    let peer = DevPeer::start(node_options());
    let id = peer.install("fixture.tgz", &node_package("fixture"));
    peer.define("fixture", "1.0", 1, &id).ok();
    let home = peer.home.clone();
    let threads: Vec<_> = (0..12)
        .map(|_| {
            let home = home.clone();
            std::thread::spawn(move || {
                cli_in(
                    &home,
                    &["invoke", "fixture", "-c", r#"{"Args":["Incr","n"]}"#],
                )
            })
        })
        .collect();
    let results: Vec<CliResult> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.success).count();
    for r in results.iter().filter(|r| !r.success) {
        assert!(r.stderr.contains("MVCC_READ_CONFLICT"), "{}", r.stderr);
    }
    // Every committed increment is counted exactly once; conflicting ones changed nothing.
    assert!(ok >= 1);
    assert_eq!(
        peer.query("fixture", &["Get", "n"], &[]).ok(),
        ok.to_string()
    );
    eprintln!("{ok} of 12 concurrent increments committed, the rest hit MVCC_READ_CONFLICT");
}
