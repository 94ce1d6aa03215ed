//! The registry benchmarks' setup through the dev peer: a peer with the benchmark builders,
//! chaincodes installed and defined in normal mode or started by hand as chaincode servers
//! (CaaS, mutual TLS), FPC chaincode definitions, and enclaves registered with simulated
//! evidence (accepted because the benchmark's registry runs with
//! `ERCC_ACCEPTED_EVIDENCE=simulated`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use devpeer::peer::Peer;
use devpeer::server::StartOptions;
use devpeer::tls::TlsCa;

use crate::ercc_common::{simulated_evidence, Enclave, CHANNEL};
use crate::util::{define, payload_of, tx, ACCEPTED_EVIDENCE_VAR};

/// The peer of the registry benchmarks, on the channel the enclaves' credentials name, its
/// `bench-rust` builder running the registry with simulated evidence accepted (set for the
/// builder's programs, not in this process's environment).
pub fn peer_options(home: PathBuf, fabric31: bool, node_dir: Option<&Path>) -> StartOptions {
    let mut opts = crate::util::peer_options(home, CHANNEL, fabric31, node_dir);
    for b in opts
        .builders
        .list
        .iter_mut()
        .filter(|b| b.name == "bench-rust")
    {
        b.set_environment
            .push((ACCEPTED_EVIDENCE_VAR.to_owned(), "simulated".to_owned()));
    }
    opts
}

/// A chaincode server this benchmark started (killed on drop).
pub struct CaasServer {
    child: Child,
}

impl CaasServer {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for CaasServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args` as a chaincode server for `name` with mutual TLS (the variables our
/// runtime reads; the Node bench contract reads the same), installs a `ccaas` package pointing
/// at it and defines it. `wait` bounds the server's start.
pub async fn launch_caas(
    peer: &Arc<Peer>,
    dir: &Path,
    name: &str,
    program: &Path,
    args: &[&str],
    wait: Duration,
) -> CaasServer {
    let ca = TlsCa::generate().unwrap();
    let server = ca.server_cert("localhost").unwrap();
    let client = ca.client_cert("peer0").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let conn = serde_json::json!({
        "address": address,
        "dial_timeout": "10s",
        "tls_required": true,
        "client_auth_required": true,
        "domain": "localhost",
        "root_cert": ca.cert_pem(),
        "client_cert": client.cert_pem,
        "client_key": client.key_pem_fabric(),
    })
    .to_string();
    let package = crate::common::package(name, "ccaas", &[("connection.json", conn.as_bytes())]);
    let installed = peer.install(&package).await.expect("install ccaas package");
    let files = dir.join(name);
    std::fs::create_dir_all(&files).unwrap();
    let (key, cert, ca_file) = (
        files.join("server.key"),
        files.join("server.crt"),
        files.join("ca.crt"),
    );
    std::fs::write(&key, server.key_pem_pkcs8()).unwrap();
    std::fs::write(&cert, &server.cert_pem).unwrap();
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let child = Command::new(program)
        .args(args)
        .env("CHAINCODE_SERVER_ADDRESS", &address)
        .env("CHAINCODE_PKG_ID", &installed.package_id)
        .env("CHAINCODE_TLS_KEY", &key)
        .env("CHAINCODE_TLS_CERT", &cert)
        .env("CHAINCODE_CLIENT_CA_CERT", &ca_file)
        .env("CORE_PEER_LOCALMSPID", "Org1MSP")
        .env(ACCEPTED_EVIDENCE_VAR, "simulated")
        .env("FABRIC_LOGGING_SPEC", "warning")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let server = CaasServer { child };
    let deadline = std::time::Instant::now() + wait;
    while tokio::net::TcpStream::connect(&address).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: chaincode server did not listen"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    define(peer, name, "1.0", &installed.package_id).await;
    server
}

/// The FPC chaincode `cc_id` an enclave belongs to: a `_lifecycle` definition whose version is
/// the enclave's MRENCLAVE, tied to an installed (running) package, as registerEnclave checks.
pub async fn define_fpc_chaincode(peer: &Arc<Peer>, cc_id: &str, mrenclave: [u8; 32], pkg: &str) {
    define(peer, cc_id, &hex::encode(mrenclave), pkg).await;
}

/// Registers an enclave of `cc_id` with simulated evidence in the registry `ercc`, checks the
/// commit, and returns the enclave and its base64 credentials.
pub async fn register(
    peer: &Arc<Peer>,
    ercc: &str,
    cc_id: &str,
    mrenclave: [u8; 32],
) -> (Enclave, String) {
    let enclave = Enclave::new(cc_id, mrenclave);
    let creds = enclave.credentials(&simulated_evidence());
    register_credentials(peer, ercc, &creds).await;
    (enclave, creds)
}

/// `registerEnclave(creds)`, committed; panics with the registry's message on failure.
pub async fn register_credentials(peer: &Arc<Peer>, ercc: &str, creds: &str) {
    let out = peer
        .transact(tx(ercc, &["registerEnclave", creds], true))
        .await;
    assert_eq!(payload_of(&out, "registerEnclave"), b"");
    assert!(out.block.is_some(), "registerEnclave was not committed");
}
