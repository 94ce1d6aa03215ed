//! The registry end to end: the real `ercc` binary on the real dev peer, in both run modes,
//! through the repository's external builders with TLS on. Normal mode: `ercc package normal`,
//! the `fpc-c` builder, registrations with simulated, test-PKI EPID and test-PKI DCAP evidence,
//! every query under both capitalisations, every rejection of `registerEnclave` with its exact
//! text and nothing written, two endorsers agreeing, a restart. CaaS: `ercc package caas`, the
//! `fpc-external-launcher` builder, `ercc` started by hand as a TLS server. And `devpeer up`.
//!
//! Needs the `ercc` binary built next to `devpeer` (`cargo build -p ercc`, or
//! `cargo test --workspace`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod ercc_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{DevPeer, KillOnDrop};
use ercc_common::*;

const MR_A: [u8; 32] = [0xa1; 32];
const MR_B: [u8; 32] = [0xb2; 32];
const MR_C: [u8; 32] = [0xc3; 32];

/// The log of the registry's endorser `slot` (normal mode: one `ercc` process per slot).
fn endorser_log(peer: &DevPeer, slot: usize) -> String {
    let id = &normal_package().1;
    let name = format!("{}-{slot}.log", id.replace(':', "-"));
    std::fs::read_to_string(peer.home.join("logs").join(&name)).unwrap_or_else(|e| {
        panic!(
            "no log {name} for endorser {slot} ({e}):\n{}",
            chaincode_logs(&peer.home)
        )
    })
}

/// The registry's "enclave registered" log lines (not the "no enclave registered" rejections).
fn registered_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("enclave registered") && !l.contains("no enclave"))
        .collect()
}

/// The registry's start lines naming its attestation policy.
fn policy_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("accepted evidence:"))
        .collect()
}

/// Simulated evidence under a policy that does not accept it: refused, nothing written.
fn refused_as_simulated(peer: &DevPeer, creds: &str, cc_ids: &[&str]) {
    rejected(
        peer,
        creds,
        &[],
        cc_ids,
        "evidence verification failed: simulated evidence not accepted by policy",
    );
}

#[test]
fn normal_mode_registers_every_evidence_type_and_survives_a_restart() {
    let t0 = Instant::now();
    let trust = Trust::new();
    let mut peer = DevPeer::start(options(trust.policy_env(false)));
    deploy_normal(&peer);
    let placeholder = install_placeholder_cc(&peer, "fpccc");
    define(&peer, "epidcc", &hex::encode(MR_A), &placeholder);
    define(&peer, "dcapcc", &hex::encode(MR_B), &placeholder);
    define(&peer, "simcc", &hex::encode(MR_C), &placeholder);

    assert_metadata(&peer, "ercc");
    for cc in ["epidcc", "dcapcc", "simcc", "unknowncc"] {
        assert_registered(&peer, "ercc", cc, &[]);
    }

    // EPID (test PKI, ERCC_IAS_ROOT_CA), upper-camel name as FPC's peer.sh sends it.
    let epid = Enclave::new("epidcc", MR_A);
    let epid_creds = epid.credentials(&trust.epid(MR_A, &epid.statement()));
    register(&peer, "RegisterEnclave", &epid_creds, &[]);
    assert_registered(&peer, "ercc", "epidcc", &[(&epid, &epid_creds)]);

    // DCAP (test PKI, ERCC_DCAP_ROOT_CA) on two endorsers that must agree.
    let dcap = Enclave::new("dcapcc", MR_B);
    let dcap_creds = dcap.credentials(&trust.dcap(MR_B, &dcap.statement()));
    register(&peer, "registerEnclave", &dcap_creds, &["--endorsers", "2"]);
    assert_registered(&peer, "ercc", "dcapcc", &[(&dcap, &dcap_creds)]);
    // Two registry processes each ran (and logged) the registration: endorser 0 has also run
    // the EPID one, endorser 1 only this one.
    for (slot, registrations) in [(0, 2), (1, 1)] {
        let log = endorser_log(&peer, slot);
        let lines = registered_lines(&log);
        assert_eq!(lines.len(), registrations, "endorser {slot}: {lines:?}");
    }
    // The builder passed FABRIC_LOGGING_SPEC (ercc=debug) and the policy on to the registry.
    let log = endorser_log(&peer, 0);
    // Fabric's line format: `... UTC 0004 DEBU [ercc.contract] contract -> Invoke ...`.
    assert!(log.contains(" DEBU [ercc."), "no debug lines: {log}");
    let policies = policy_lines(&log);
    assert!(
        !policies.is_empty() && policies.iter().all(|l| !l.contains("simulated")),
        "{policies:?}"
    );
    // Queries agree across two endorsers too.
    let two = peer
        .query(
            "ercc",
            &["queryListProvisionedEnclaves", "dcapcc"],
            &["--endorsers", "2", "--timestamp", TX_TIME],
        )
        .ok();
    assert_eq!(two, format!("[\"{}\"]", dcap.enclave_id()));

    // Simulated evidence under the default accepted list: refused, nothing written.
    let sim = Enclave::new("simcc", MR_C);
    let sim_creds = sim.credentials(&simulated_evidence());
    refused_as_simulated(&peer, &sim_creds, &["simcc", "epidcc", "dcapcc"]);
    eprintln!("normal mode, first run: {:?}", t0.elapsed());

    // Restart with a policy that enables simulated evidence: the state is still there.
    peer.opts.env = options(trust.policy_env(true)).env;
    peer.restart();
    assert_registered(&peer, "ercc", "epidcc", &[(&epid, &epid_creds)]);
    assert_registered(&peer, "ercc", "dcapcc", &[(&dcap, &dcap_creds)]);
    assert_registered(&peer, "ercc", "simcc", &[]);
    register(&peer, "registerEnclave", &sim_creds, &[]);
    assert_registered(&peer, "ercc", "simcc", &[(&sim, &sim_creds)]);
    let log = endorser_log(&peer, 0);
    let policies = policy_lines(&log);
    assert!(
        policies.last().is_some_and(|l| l.contains("simulated")),
        "{policies:?}"
    );
    // The other chaincodes are untouched.
    assert_registered(&peer, "ercc", "epidcc", &[(&epid, &epid_creds)]);
    assert_registered(&peer, "ercc", "unknowncc", &[]);
    eprintln!("normal mode, total: {:?}", t0.elapsed());
}

/// Every rejection of `registerEnclave`, in the Go registry's check order, each with its exact
/// text and nothing written; around them, good registrations of `mycc` (first) and `othercc`
/// (last). Needs a registry trusting the test roots under the default accepted evidence list.
fn rejection_suite(peer: &DevPeer, trust: &Trust, placeholder: &str) {
    define(peer, "mycc", &hex::encode(MR_A), placeholder);
    define(peer, "othercc", &hex::encode(MR_B), placeholder);
    let mine = Enclave::new("mycc", MR_A);
    let mine_creds = mine.credentials(&trust.epid(MR_A, &mine.statement()));
    register(peer, "registerEnclave", &mine_creds, &[]);
    assert_registered(peer, "ercc", "mycc", &[(&mine, &mine_creds)]);

    let ccs = &["mycc", "othercc", "nosuchcc"];
    let good = Enclave::new("othercc", MR_B);
    let epid_for = |e: &Enclave| e.credentials(&trust.epid(MR_B, &e.statement()));

    // 1. base64 and protobuf.
    rejected(
        peer,
        "%%%",
        &[],
        ccs,
        "invalid credential bytes: illegal base64 data at input byte 0",
    );
    rejected(
        peer,
        "",
        &[],
        ccs,
        "invalid credential bytes: credential input empty",
    );
    // 2. no evidence.
    rejected(peer, &good.credentials(b""), &[], ccs, "evidence is empty");
    // 4. channel.
    let wrong_channel = Enclave {
        channel: "otherchannel".into(),
        ..good.clone()
    };
    rejected(
        peer,
        &epid_for(&wrong_channel),
        &[],
        ccs,
        "wrong channel! expected=mychannel, actual=otherchannel",
    );
    // 5. no chaincode definition.
    let undefined = Enclave {
        cc_id: "nosuchcc".into(),
        ..good.clone()
    };
    rejected(
        peer,
        &epid_for(&undefined),
        &[],
        ccs,
        "cannot get chaincode definition: error while retrieving chaincode definition: [404] namespace nosuchcc is not defined",
    );
    // 6. MRENCLAVE (cc_params.version) is not the definition's version.
    let other_mr = Enclave {
        version: hex::encode(MR_A),
        ..good.clone()
    };
    rejected(
        peer,
        &other_mr.credentials(&trust.epid(MR_A, &other_mr.statement())),
        &[],
        ccs,
        "mrenclave does not match chaincode definition",
    );
    // 7. sequence.
    let seq2 = Enclave {
        sequence: 2,
        ..good.clone()
    };
    rejected(
        peer,
        &epid_for(&seq2),
        &[],
        ccs,
        "sequence does not match chaincode definition",
    );
    // 8. evidence: simulated under the default policy, another enclave's MRENCLAVE, a quote
    // bound to other data (EPID and DCAP).
    rejected(
        peer,
        &good.credentials(&simulated_evidence()),
        &[],
        ccs,
        "evidence verification failed: simulated evidence not accepted by policy",
    );
    rejected(
        peer,
        &good.credentials(&trust.epid(MR_A, &good.statement())),
        &[],
        ccs,
        &format!(
            "evidence verification failed: MRENCLAVE mismatch: expected {}, found {}",
            hex::encode(MR_B),
            hex::encode(MR_A)
        ),
    );
    let other_statement = Enclave::new("othercc", MR_B).statement();
    rejected(
        peer,
        &good.credentials(&trust.epid(MR_B, &other_statement)),
        &[],
        ccs,
        "evidence verification failed: report data does not match the attested data",
    );
    rejected(
        peer,
        &good.credentials(&trust.dcap(MR_B, &other_statement)),
        &[],
        ccs,
        "evidence verification failed: report data does not match the attested data",
    );
    // 9. host params.
    let no_host = Enclave {
        host_params: false,
        ..good.clone()
    };
    rejected(peer, &epid_for(&no_host), &[], ccs, "host params are empty");
    // 10. the creator's MSP is not the host's.
    rejected(
        peer,
        &epid_for(&good),
        &["--msp", "Org2MSP"],
        ccs,
        "creator identity evaluation failed: creator msp does not match owner msp",
    );
    // 11. a second enclave for a chaincode that has one.
    let second = Enclave::new("mycc", MR_A);
    rejected(
        peer,
        &second.credentials(&trust.epid(MR_A, &second.statement())),
        &[],
        ccs,
        "an enclave is already registered for chaincode mycc",
    );

    // The good one still goes through afterwards; the first registration is untouched.
    let good_creds = epid_for(&good);
    register(peer, "registerEnclave", &good_creds, &[]);
    assert_registered(peer, "ercc", "othercc", &[(&good, &good_creds)]);
    assert_registered(peer, "ercc", "mycc", &[(&mine, &mine_creds)]);
}

#[test]
fn normal_mode_rejects_every_bad_registration_and_writes_nothing() {
    let t0 = Instant::now();
    let trust = Trust::new();
    // Also the official Node shim's builder: a chaincode written against fabric-shim calls the
    // registry chaincode-to-chaincode, as FPC chaincodes do.
    let opts = with_node_builder(options(trust.policy_env(false)));
    let peer = DevPeer::start(opts);
    deploy_normal(&peer);
    let placeholder = install_placeholder_cc(&peer, "fpccc");
    rejection_suite(&peer, &trust, &placeholder);

    // The key-distribution functions (the Go registry's post-MVP ones) on garbage, and the
    // contract API's argument count check (ercc_keydist.rs runs them for real).
    for (f, args, message) in [
        (
            "registerCCKeys",
            vec!["x"],
            "invalid key registration message: illegal base64 data at input byte 1",
        ),
        (
            "PutKeyExport",
            vec!["x"],
            "invalid export message: illegal base64 data at input byte 1",
        ),
        (
            "getKeyExport",
            vec!["mycc", "x"],
            "no key export stored for enclave x of chaincode mycc",
        ),
    ] {
        let mut all = vec![f];
        all.extend(args);
        let before = snapshot(&peer, "ercc", &["mycc"]);
        let r = peer.invoke("ercc", &all, &AT);
        assert_eq!(failure_message(&r), message, "{f}");
        assert_eq!(snapshot(&peer, "ercc", &["mycc"]), before);
    }
    let r = peer.query("ercc", &["queryEnclaveCredentials", "mycc"], &AT);
    assert_eq!(
        failure_message(&r),
        "incorrect number of params. Expected 2, received 1"
    );

    // Chaincode-to-chaincode from a Node chaincode, on the same channel.
    let node_id = peer.install("node.tgz", &common::node_package("nodecc"));
    peer.define("nodecc", "1", 1, &node_id).ok();
    let call = |f: &str, arg: &str| -> serde_json::Value {
        let out = peer.query("nodecc", &["Call", "ercc", f, arg], &AT).ok();
        serde_json::from_str(&out).unwrap()
    };
    let listed = call("queryListProvisionedEnclaves", "othercc");
    assert_eq!(listed["status"], 200, "{listed}");
    let ids: Vec<String> = serde_json::from_str(listed["payload"].as_str().unwrap()).unwrap();
    assert_eq!(ids.len(), 1);
    let creds = call("queryListEnclaveCredentials", "othercc");
    let creds: Vec<String> = serde_json::from_str(creds["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        creds,
        [peer
            .query(
                "ercc",
                &["queryEnclaveCredentials", "othercc", &ids[0]],
                &AT
            )
            .ok()]
    );
    let missing = call("queryChaincodeEncryptionKey", "nosuchcc");
    assert_eq!(missing["status"], 500, "{missing}");
    assert_eq!(
        missing["message"],
        "no enclave registered for chaincode nosuchcc"
    );
    eprintln!("normal mode rejections: {:?}", t0.elapsed());
}

#[test]
fn caas_mode_serves_the_registry_over_tls() {
    let t0 = Instant::now();
    let trust = Trust::new();
    let mut registry = CaasRegistry::start("ercc_caas_1", trust.policy_env(false));

    // The peer has no policy of its own in this mode: the server's environment is the policy.
    let mut peer = DevPeer::start(options(Vec::new()));
    registry.deploy(&peer);
    assert_metadata(&peer, "ercc");
    let placeholder = install_placeholder_cc(&peer, "fpccc");

    // EPID registrations and every rejection.
    rejection_suite(&peer, &trust, &placeholder);

    // DCAP, on two endorsers (two Connect streams to the server) that must agree.
    define(&peer, "dcapcc", &hex::encode(MR_C), &placeholder);
    assert_registered(&peer, "ercc", "dcapcc", &[]);
    let dcap = Enclave::new("dcapcc", MR_C);
    let dcap_creds = dcap.credentials(&trust.dcap(MR_C, &dcap.statement()));
    register(&peer, "RegisterEnclave", &dcap_creds, &["--endorsers", "2"]);
    assert_registered(&peer, "ercc", "dcapcc", &[(&dcap, &dcap_creds)]);

    // Simulated evidence is refused until the operator enables it: restart the server with
    // simulated accepted, and the peer (whose state survives).
    define(&peer, "simcc", &hex::encode(MR_C), &placeholder);
    let sim = Enclave::new("simcc", MR_C);
    let sim_creds = sim.credentials(&simulated_evidence());
    refused_as_simulated(&peer, &sim_creds, &["simcc", "dcapcc"]);
    registry.stop_server();
    peer.stop();
    registry.start_server(trust.policy_env(true));
    peer.restart();
    assert_registered(&peer, "ercc", "dcapcc", &[(&dcap, &dcap_creds)]);
    register(&peer, "registerEnclave", &sim_creds, &[]);
    assert_registered(&peer, "ercc", "simcc", &[(&sim, &sim_creds)]);
    peer.stop();
    registry.stop();
    eprintln!("caas mode: {:?}", t0.elapsed());
}

#[test]
fn caas_refuses_to_start_with_only_one_of_the_two_variables() {
    for (set, value) in [
        ("CHAINCODE_PKG_ID", "ercc_caas_1:00"),
        ("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:1"),
    ] {
        let mut child = ercc_command()
            .env(set, value)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It must refuse at once, not try to dial a peer.
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("ercc with only {set} did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(!status.success(), "ercc with only {set} exited 0");
        assert!(
            err.contains("CHAINCODE_PKG_ID") && err.contains("CHAINCODE_SERVER_ADDRESS"),
            "with only {set}: {err}"
        );
    }
}

#[test]
fn devpeer_up_runs_the_real_registry() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // Defaults: the ercc next to devpeer, the fpc-c builder found above the current directory.
    let _ = ercc_bin();
    let mut child = KillOnDrop(
        Command::new(common::devpeer_bin())
            .arg("--home")
            .arg(&home)
            .args(["up", "--chaincode-listen", "127.0.0.1:0"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("up.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let shown = common::read_up_banner(&mut child.0);
    let query = shown
        .iter()
        .find(|l| l.contains(" query ercc "))
        .unwrap_or_else(|| panic!("no query shown: {shown:?}"));
    assert!(query.contains("QueryListProvisionedEnclaves"), "{query}");
    let invoke = shown
        .iter()
        .find(|l| l.contains(" invoke ercc "))
        .unwrap_or_else(|| panic!("no invoke shown: {shown:?}"));
    // The -c argument exactly as shown, without the shell quotes.
    let shown_args = |line: &str| -> String {
        let (_, quoted) = line
            .split_once(" -c '")
            .unwrap_or_else(|| panic!("no -c in {line}"));
        quoted.strip_suffix('\'').unwrap().to_string()
    };

    // The shown query works on the real registry: nothing registered yet.
    let q = common::cli_in(&home, &["query", "ercc", "-c", &shown_args(query)]);
    assert_eq!(q.ok(), "");
    let q = common::cli_in(
        &home,
        &[
            "query",
            "ercc",
            "-c",
            r#"{"Args":["queryListEnclaveCredentials","mycc"]}"#,
        ],
    );
    assert_eq!(q.ok(), "");
    // The shown invoke reaches the registry, which refuses a placeholder.
    let r = common::cli_in(&home, &["invoke", "ercc", "-c", &shown_args(invoke)]);
    assert!(
        failure_message(&r).starts_with("invalid credential bytes: illegal base64 data"),
        "{}",
        r.stderr
    );
    common::cli_in(&home, &["stop"]).ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "devpeer up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
