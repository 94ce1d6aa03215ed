//! End-to-end: the official Python shim (`fabric-chaincode-python`, CaaS only) served over TLS
//! with client authentication and driven by devpeer through a `ccaas` builder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// A virtualenv with the Python shim (created on first use); `None` when python3 is absent.
fn python() -> Option<PathBuf> {
    let dir = fixtures().join("python-chaincode");
    let py = dir.join(".venv/bin/python");
    if py.is_file() {
        return Some(py);
    }
    if Command::new("python3").arg("--version").output().is_err() {
        // .ci/run guarantees python3, so in CI a missing interpreter is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 is not installed (CI must install it)"
        );
        eprintln!("SKIPPED: python3 is not installed");
        return None;
    }
    let st = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir.join(".venv"))
        .status()
        .unwrap();
    assert!(st.success(), "python3 -m venv failed");
    let st = Command::new(dir.join(".venv/bin/pip"))
        .args(["install", "-q", "-r"])
        .arg(dir.join("requirements.txt"))
        .status()
        .unwrap();
    assert!(st.success(), "pip install fabric-chaincode-python failed");
    Some(py)
}

#[test]
fn python_shim_as_a_service_with_tls() {
    let Some(py) = python() else { return };
    let caas = CaasFixture::new("pyfixture", "127.0.0.1", None);
    let (port, pkg, id) = (caas.port, &caas.pkg, &caas.id);
    let log = std::fs::File::create(caas.file("py.log")).unwrap();
    let _server = KillOnDrop(
        Command::new(&py)
            .arg(fixtures().join("python-chaincode/chaincode.py"))
            .env("CHAINCODE_ID", id)
            .env("CHAINCODE_SERVER_ADDRESS", format!("127.0.0.1:{port}"))
            .env("PY_TLS_KEY", caas.file("server.key"))
            .env("PY_TLS_CERT", caas.file("server.crt"))
            .env("PY_TLS_CLIENT_CA", caas.file("ca.crt"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python"),
    );
    wait_for_listener(port, Duration::from_secs(30), "python chaincode server");
    let mut peer = DevPeer::start(node_options());
    assert_eq!(&peer.install("py.tgz", pkg), id);
    let d = peer.define("pyfixture", "1.0", 1, id);
    assert!(
        !d.stderr.contains("Warning"),
        "{}\n{}",
        d.stderr,
        std::fs::read_to_string(caas.file("py.log")).unwrap_or_default()
    );
    peer.invoke("pyfixture", &["Put", "a", "python"], &[]).ok();
    assert_eq!(peer.query("pyfixture", &["Get", "a"], &[]).ok(), "python");
    peer.invoke("pyfixture", &["PutMany", "p", "150"], &[]).ok();
    let keys: serde_json::Value =
        serde_json::from_str(&peer.query("pyfixture", &["Range", "p", "q"], &[]).ok()).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 150);
    let info: serde_json::Value =
        serde_json::from_str(&peer.query("pyfixture", &["TxInfo"], &[]).ok()).unwrap();
    assert_eq!(info["channel"], "mychannel");
    let e = peer.invoke("pyfixture", &["Fail", "nope"], &[]).err();
    assert!(e.contains("status: 500") && e.contains("nope"), "{e}");
    peer.invoke("pyfixture", &["Del", "a"], &[]).ok();
    assert_eq!(peer.query("pyfixture", &["Get", "a"], &[]).ok(), "");
    peer.restart();
    let keys: serde_json::Value =
        serde_json::from_str(&peer.query("pyfixture", &["Range", "p", "q"], &[]).ok()).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 150);
}
