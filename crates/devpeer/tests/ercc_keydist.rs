//! Key distribution end to end: the real `ercc` on the real dev peer, in both run modes,
//! driven only through the registry's functions and `ercc mock-enclave` (the FPC enclave
//! without SGX). Two organisations' enclaves register for one chaincode (registry policy:
//! at most 2 enclaves), the first generates and registers the chaincode keys, the second is
//! refused until the first exports to it, a Node chaincode reads the export with
//! `getKeyExport` chaincode-to-chaincode, the second imports and registers, and both are
//! provisioned with the one chaincode key. Every refusal leaves the ledger (height and every
//! answer) unchanged; every transaction is endorsed by two endorsers that must agree. CaaS
//! also shows state written in single-enclave mode answering the same after a policy change.
//!
//! Needs the `ercc` binary built next to `devpeer`, and the Node fixture's modules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod ercc_common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::DevPeer;
use ercc_common::*;

const MR: [u8; 32] = [0x5e; 32];
const CC: &str = "kdcc";
/// Every transaction and query runs on two endorsers that must agree.
const TWO: [&str; 4] = ["--endorsers", "2", "--timestamp", TX_TIME];

/// One mock enclave: its state file, driven through `ercc mock-enclave`.
struct Mock {
    state: PathBuf,
}

impl Mock {
    /// `mock-enclave init` for `CC` on a peer of `msp`.
    fn init(dir: &Path, name: &str, msp: &str) -> Mock {
        let mock = Mock {
            state: dir.join(format!("{name}.json")),
        };
        let endpoint = format!("peer0.{msp}:7051");
        let mr = hex::encode(MR);
        mock.run(&[
            "init",
            "--chaincode-id",
            CC,
            "--mrenclave",
            &mr,
            "--channel",
            CHANNEL,
            "--msp",
            msp,
            "--endpoint",
            &endpoint,
        ]);
        mock
    }

    fn run(&self, args: &[&str]) -> String {
        let mut all = vec!["mock-enclave", "--state", self.state.to_str().unwrap()];
        all.extend_from_slice(args);
        ercc_ok(&all).trim().to_string()
    }

    fn id(&self) -> String {
        self.run(&["id"])
    }

    /// Credentials whose evidence `make` produces over the statement.
    fn credentials(&self, make: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
        let statement = STANDARD.decode(self.run(&["statement"])).unwrap();
        let evidence = self.state.with_extension("evidence.json");
        std::fs::write(&evidence, make(&statement)).unwrap();
        self.run(&["credentials", "--evidence-file", evidence.to_str().unwrap()])
    }

    /// A copy of this enclave (same keys), for a rogue that generates keys of its own.
    fn clone_as(&self, name: &str) -> Mock {
        let state = self.state.with_file_name(format!("{name}.json"));
        std::fs::copy(&self.state, &state).unwrap();
        Mock { state }
    }

    /// Base64 of the chaincode encryption key it holds (what the registry should answer).
    fn chaincode_ek_base64(&self) -> String {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap();
        STANDARD.encode(v["chaincode_keys"]["chaincode_ek"].as_str().unwrap())
    }
}

/// `function(args)` as a transaction from `msp`, on two endorsers.
fn invoke_as(peer: &DevPeer, msp: &str, function: &str, args: &[&str]) -> common::CliResult {
    let mut all = vec![function];
    all.extend_from_slice(args);
    let mut flags = TWO.to_vec();
    flags.extend(["--msp", msp]);
    peer.invoke("ercc", &all, &flags)
}

/// Submits `function(args)` as `msp`; asserts success and one new block.
fn submit(peer: &DevPeer, msp: &str, function: &str, args: &[&str]) {
    let before = snapshot(peer, "ercc", &[CC]);
    let out = invoke_as(peer, msp, function, args);
    assert!(
        out.success,
        "{function} failed: {}\n{}",
        out.stderr,
        chaincode_logs(&peer.home)
    );
    assert_eq!(out.stdout_str(), "", "{function} returns nothing");
    let after = snapshot(peer, "ercc", &[CC]);
    assert_ne!(before[0], after[0], "{function} committed no block");
}

/// Submits as `msp`, expects the exact refusal, and checks the ledger is unchanged.
fn refused(peer: &DevPeer, msp: &str, function: &str, args: &[&str], expected: &str) {
    let before = snapshot(peer, "ercc", &[CC]);
    let out = invoke_as(peer, msp, function, args);
    assert_eq!(failure_message(&out), expected, "{function}");
    assert_eq!(
        snapshot(peer, "ercc", &[CC]),
        before,
        "a refused {function} ({expected}) changed the ledger"
    );
}

/// A query on two endorsers that must agree.
fn query(peer: &DevPeer, function: &str, args: &[&str]) -> String {
    let mut all = vec![function];
    all.extend_from_slice(args);
    peer.query("ercc", &all, &TWO).ok()
}

/// Base64 message text with `from` replaced by `to` (same length) inside its bytes.
fn edited(message: &str, from: &[u8], to: &[u8]) -> String {
    assert_eq!(from.len(), to.len());
    let mut bytes = STANDARD.decode(message).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{} not in message", String::from_utf8_lossy(from)));
    bytes[at..at + from.len()].copy_from_slice(to);
    STANDARD.encode(bytes)
}

/// Installs the Node fixture (which calls other chaincodes) as `nodecc`.
fn deploy_node_caller(peer: &DevPeer) {
    let node_id = peer.install("node.tgz", &common::node_package("nodecc"));
    peer.define("nodecc", "1", 1, &node_id).ok();
}

/// `getKeyExport(CC, eid)` from the Node chaincode, chaincode-to-chaincode.
fn get_key_export_c2c(peer: &DevPeer, eid: &str) -> serde_json::Value {
    let out = peer
        .query("nodecc", &["Call2", "ercc", "getKeyExport", CC, eid], &TWO)
        .ok();
    serde_json::from_str(&out).unwrap()
}

/// `ERCC_*` for a registry trusting the test roots and allowing two enclaves per chaincode.
fn two_enclave_policy(trust: &Trust) -> Vec<(String, String)> {
    let mut env = trust.policy_env(false);
    env.push(("ERCC_MAX_ENCLAVES_PER_CHAINCODE".into(), "2".into()));
    env
}

/// The whole flow on a registry allowing two enclaves per chaincode, with `nodecc` deployed.
fn key_distribution_flow(peer: &DevPeer, trust: &Trust, dir: &Path) {
    let placeholder = install_placeholder_cc(peer, "fpckd");
    define(peer, CC, &hex::encode(MR), &placeholder);
    let e1 = Mock::init(dir, "e1", "Org1MSP");
    let e2 = Mock::init(dir, "e2", "Org2MSP");
    let (id1, id2) = (e1.id(), e2.id());
    let mut both = vec![id1.clone(), id2.clone()];
    both.sort();

    // Each organisation registers its enclave (test-PKI EPID and DCAP evidence).
    let c1 = e1.credentials(|s| trust.epid(MR, s));
    let c2 = e2.credentials(|s| trust.dcap(MR, s));
    submit(peer, "Org1MSP", "registerEnclave", &[&c1]);
    submit(peer, "Org2MSP", "registerEnclave", &[&c2]);
    assert_eq!(query(peer, "queryListProvisionedEnclaves", &[CC]), "");
    let mut eps: Vec<String> = query(peer, "queryChaincodeEndPoints", &[CC])
        .split(',')
        .map(str::to_string)
        .collect();
    eps.sort();
    assert_eq!(eps, ["peer0.Org1MSP:7051", "peer0.Org2MSP:7051"]);
    // A third is over the policy's limit.
    let e3 = Mock::init(dir, "e3", "Org3MSP");
    let c3 = e3.credentials(|s| trust.epid(MR, s));
    refused(
        peer,
        "Org3MSP",
        "registerEnclave",
        &[&c3],
        &format!("chaincode {CC} already has 2 enclaves registered, the registry policy allows at most 2"),
    );

    // E1 generates the chaincode keys and registers them.
    let reg1 = e1.run(&["generate-keys"]);
    let reg_type = b"key_distribution.CCKeyRegistrationMessage";
    let bad_inputs = [
        (
            "Org2MSP",
            reg1.clone(),
            "creator identity evaluation failed: creator msp does not match owner msp".to_string(),
        ),
        (
            "Org1MSP",
            edited(&reg1, reg_type, b"key_distribution.CCKeyRegistrationMessagX"),
            "invalid key registration message: wrong message type: want \"key_distribution.CCKeyRegistrationMessage\", got type URL \"github.com/fpc/key_distribution.CCKeyRegistrationMessagX\"".to_string(),
        ),
        (
            "Org1MSP",
            edited(&reg1, b"-----BEGIN RSA PUBLIC KEY-----\nM", b"-----BEGIN RSA PUBLIC KEY-----\nN"),
            format!("invalid signature of enclave {id1}: signature does not verify"),
        ),
        (
            "Org1MSP",
            "A".repeat(65_540),
            "invalid key registration message: input too large: 65540 bytes of base64, the limit is 65536".to_string(),
        ),
        (
            "Org1MSP",
            "not base64".to_string(),
            "invalid key registration message: illegal base64 data at input byte 3".to_string(),
        ),
        (
            "Org3MSP",
            e3.run(&["generate-keys"]),
            format!("enclave {} is not registered", e3.id()),
        ),
    ];
    for (msp, text, expected) in &bad_inputs {
        refused(peer, msp, "registerCCKeys", &[text], expected);
    }
    submit(peer, "Org1MSP", "registerCCKeys", &[&reg1]);
    let ek = e1.chaincode_ek_base64();
    assert_eq!(query(peer, "queryChaincodeEncryptionKey", &[CC]), ek);
    assert_eq!(
        query(peer, "queryListProvisionedEnclaves", &[CC]),
        serde_json::to_string(&[&id1]).unwrap()
    );
    refused(
        peer,
        "Org1MSP",
        "registerCCKeys",
        &[&reg1],
        &format!("enclave {id1} is already provisioned for chaincode {CC}"),
    );

    // E2 cannot be provisioned on its own: keys of its own are not the chaincode's, and it
    // cannot pass off E1's message or sign in E1's name.
    let rogue = e2.clone_as("e2-rogue");
    let rogue_reg = rogue.run(&["generate-keys"]);
    refused(
        peer,
        "Org2MSP",
        "registerCCKeys",
        &[&rogue_reg],
        &format!(
            "chaincode_ek differs from the chaincode encryption key registered for chaincode {CC}"
        ),
    );
    let in_e1_name = edited(&rogue_reg, id2.as_bytes(), id1.as_bytes());
    refused(
        peer,
        "Org1MSP",
        "registerCCKeys",
        &[&in_e1_name],
        &format!("invalid signature of enclave {id1}: signature does not verify"),
    );
    // Nor can an unprovisioned enclave export, nor E1 export to an unregistered enclave.
    refused(
        peer,
        "Org2MSP",
        "putKeyExport",
        &[&rogue.run(&["export", "--to", &c1])],
        &format!("sender enclave {id2} is not provisioned with chaincode keys for chaincode {CC}"),
    );
    refused(
        peer,
        "Org1MSP",
        "putKeyExport",
        &[&e1.run(&["export", "--to", &c3])],
        &format!(
            "receiver enclave {} is not registered for chaincode {CC}",
            e3.id()
        ),
    );
    let none = get_key_export_c2c(peer, &id2);
    assert_eq!(none["status"], 500, "{none}");
    assert_eq!(
        none["message"],
        format!("no key export stored for enclave {id2} of chaincode {CC}")
    );

    // E1 exports to E2; a replay is refused; the export is readable chaincode-to-chaincode.
    let export = e1.run(&["export", "--to", &c2]);
    refused(
        peer,
        "Org1MSP",
        "putKeyExport",
        &[&edited(&export, b"key_distribution.ExportMessage", b"key_distribution.ExportMessagX")],
        "invalid export message: wrong message type: want \"key_distribution.ExportMessage\", got type URL \"github.com/fpc/key_distribution.ExportMessagX\"",
    );
    submit(peer, "Org1MSP", "putKeyExport", &[&export]);
    refused(
        peer,
        "Org1MSP",
        "putKeyExport",
        &[&export],
        &format!("an export to enclave {id2} of chaincode {CC} is already stored"),
    );
    let fetched = get_key_export_c2c(peer, &id2);
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert_eq!(fetched["payload"], export.as_str());
    assert_eq!(query(peer, "getKeyExport", &[CC, &id2]), export);

    // E2 imports what it fetched and registers the same key: both provisioned, one key.
    let reg2 = e2.run(&["import", "--export", fetched["payload"].as_str().unwrap()]);
    assert_eq!(e2.chaincode_ek_base64(), ek);
    submit(peer, "Org2MSP", "registerCCKeys", &[&reg2]);
    assert_eq!(
        query(peer, "queryListProvisionedEnclaves", &[CC]),
        serde_json::to_string(&both).unwrap()
    );
    assert_eq!(query(peer, "queryChaincodeEncryptionKey", &[CC]), ek);
    assert_eq!(query(peer, "QueryChaincodeEncryptionKey", &[CC]), ek);
    refused(
        peer,
        "Org2MSP",
        "registerCCKeys",
        &[&reg2],
        &format!("enclave {id2} is already provisioned for chaincode {CC}"),
    );
}

#[test]
fn normal_mode_distributes_keys_between_two_organisations() {
    let t0 = Instant::now();
    let trust = Trust::new();
    let dir = tempfile::tempdir().unwrap();
    let opts = with_node_builder(options(two_enclave_policy(&trust)));
    let mut peer = DevPeer::start(opts);
    deploy_normal(&peer);
    deploy_node_caller(&peer);
    key_distribution_flow(&peer, &trust, dir.path());
    peer.stop();
    eprintln!("normal mode key distribution: {:?}", t0.elapsed());
}

#[test]
fn caas_mode_distributes_keys_and_keeps_single_enclave_state() {
    let t0 = Instant::now();
    let trust = Trust::new();
    // First FPC's default: one enclave, provisioned at registration (the Go registry's state).
    let mut registry = CaasRegistry::start("ercc_kd", trust.policy_env(false));
    let opts = with_node_builder(options(Vec::new()));
    let mut peer = DevPeer::start(opts);
    peer.cli(&["install", registry.pkg.to_str().unwrap()]).ok();
    let out = peer.define("ercc", "1.0", 1, &registry.pkg_id);
    assert!(out.success, "define: {}", out.stderr);
    deploy_node_caller(&peer);
    let placeholder = install_placeholder_cc(&peer, "fpcmvp");
    define(&peer, "mvpcc", &hex::encode(MR), &placeholder);
    let mvp = Enclave::new("mvpcc", MR);
    let mvp_creds = mvp.credentials(&trust.epid(MR, &mvp.statement()));
    let r = peer.invoke("ercc", &["registerEnclave", &mvp_creds], &TWO);
    assert!(r.success, "{}", r.stderr);
    assert_registered(&peer, "ercc", "mvpcc", &[(&mvp, &mvp_creds)]);
    let single = snapshot(&peer, "ercc", &["mvpcc"]);

    // The operator allows two enclaves: the single-enclave state answers exactly as before.
    registry.stop_server();
    peer.stop();
    registry.start_server(two_enclave_policy(&trust));
    peer.restart();
    assert_eq!(snapshot(&peer, "ercc", &["mvpcc"]), single);
    assert_registered(&peer, "ercc", "mvpcc", &[(&mvp, &mvp_creds)]);
    let server_log = std::fs::read_to_string(&registry.log).unwrap();
    assert!(
        server_log.contains("max enclaves per chaincode: 2"),
        "{server_log}"
    );

    key_distribution_flow(&peer, &trust, registry.dir.path());
    peer.stop();
    registry.stop();
    eprintln!("caas mode key distribution: {:?}", t0.elapsed());
}
