//! The enclave lifecycle end to end (`docs/enclave-lifecycle.md`): the real `ercc` on the real
//! dev peer, in both run modes, under `ERCC_CURRENT_DEFINITION_ONLY=true` and
//! `ERCC_MAX_REGISTRATION_AGE=3600`. A v1 enclave registers; the definition is upgraded; the v2
//! enclave (DCAP) registers and is all clients see while `queryEnclaveCredentials` still finds
//! v1; v1 is retired by its organisation (refused for another); v2 expires at a later
//! `--timestamp` and renews; newer TCB info from the DCAP test PKI marking its platform
//! OutOfDate revokes it. Every refusal leaves the ledger unchanged; writes run on two endorsers
//! that must agree.
//!
//! Needs the `ercc` binary built next to `devpeer` (`cargo build -p ercc`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod ercc_common;

use std::time::Instant;

use common::DevPeer;
use enclave_attestation::dcap::test_pki::TestTcb;
use enclave_attestation::UnixTime;
use ercc_common::*;

const MR_V1: [u8; 32] = [0xa1; 32];
const MR_V2: [u8; 32] = [0xb2; 32];
const CC: &str = "lccc";
const MAX_AGE: i64 = 3600;
/// After v2's registration at `TX_UNIX` has expired.
const T_EXPIRED: i64 = TX_UNIX + MAX_AGE + 1;
/// The re-appraisals, a minute after the renewal.
const T_REAPPRAISE: i64 = T_EXPIRED + 60;

/// The lifecycle settings of these tests, on top of the test trust anchors.
fn lifecycle_env(trust: &Trust) -> Vec<(String, String)> {
    let mut env = trust.policy_env(false);
    env.push(("ERCC_CURRENT_DEFINITION_ONLY".into(), "true".into()));
    env.push(("ERCC_MAX_REGISTRATION_AGE".into(), MAX_AGE.to_string()));
    env
}

fn at(t: i64) -> String {
    UnixTime::from_secs(t).to_string()
}

/// What `queryEnclaveCredentials` answers for `e` (both spellings).
fn found(peer: &DevPeer, e: &Enclave) -> String {
    query_both(
        peer,
        "ercc",
        "queryEnclaveCredentials",
        &[CC, &e.enclave_id()],
    )
}

/// Invokes and asserts success with one committed block; returns the payload.
fn invoke_ok(peer: &DevPeer, args: &[&str], flags: &[&str]) -> String {
    let before = height(peer);
    let out = peer.invoke("ercc", args, flags);
    assert!(
        out.success,
        "{args:?} failed: {}\n{}",
        out.stderr,
        chaincode_logs(&peer.home)
    );
    assert_eq!(height(peer), before + 1);
    out.stdout_str()
}

/// Invokes, expects the exact refusal `expected`, and checks nothing was written.
fn refused(peer: &DevPeer, args: &[&str], flags: &[&str], expected: &str) {
    let before = snapshot(peer, "ercc", &[CC]);
    let out = peer.invoke("ercc", args, flags);
    assert_eq!(failure_message(&out), expected, "{:?}", &args[..1]);
    assert_eq!(
        snapshot(peer, "ercc", &[CC]),
        before,
        "a refusal ({expected}) changed the ledger"
    );
}

fn status(peer: &DevPeer, e: &Enclave, t: i64) -> serde_json::Value {
    let out = peer
        .query(
            "ercc",
            &["queryEnclaveStatus", CC, &e.enclave_id()],
            &["--timestamp", &at(t)],
        )
        .ok();
    serde_json::from_str(&out).unwrap()
}

/// What clients see at `t`: credentials list, provisioned ids, endpoints.
fn client_view(peer: &DevPeer, t: i64) -> [String; 3] {
    let ts = at(t);
    [
        "queryListEnclaveCredentials",
        "queryListProvisionedEnclaves",
        "queryChaincodeEndPoints",
    ]
    .map(|f| peer.query("ercc", &[f, CC], &["--timestamp", &ts]).ok())
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The whole lifecycle on a peer whose registry runs under [`lifecycle_env`].
fn lifecycle(peer: &DevPeer, trust: &Trust) {
    let placeholder = install_placeholder_cc(peer, "fpccc");
    define(peer, CC, &hex::encode(MR_V1), &placeholder);

    // v1 registers (EPID).
    let v1 = Enclave::new(CC, MR_V1);
    let v1_creds = v1.credentials(&trust.epid(MR_V1, &v1.statement()));
    register(peer, "registerEnclave", &v1_creds, &[]);
    assert_registered(peer, "ercc", CC, &[(&v1, &v1_creds)]);
    assert_eq!(status(peer, &v1, TX_UNIX)["state"], "provisioned");

    // The definition moves on: v2, sequence 2. v1 is superseded at once.
    peer.define(CC, &hex::encode(MR_V2), 2, &placeholder).ok();
    assert_registered(peer, "ercc", CC, &[]);
    let st = status(peer, &v1, TX_UNIX);
    assert_eq!(st["state"], "superseded", "{st}");
    // A registration for the superseded definition is refused.
    let late = Enclave::new(CC, MR_V1);
    rejected(
        peer,
        &late.credentials(&trust.epid(MR_V1, &late.statement())),
        &[],
        &[CC],
        "mrenclave does not match chaincode definition",
    );

    // v2 (DCAP) registers on two endorsers although v1 is still registered.
    let v2 = Enclave {
        sequence: 2,
        endpoint: format!("{CC}.peer1.org1.example.com:7051"),
        ..Enclave::new(CC, MR_V2)
    };
    let v2_creds = v2.credentials(&trust.dcap(MR_V2, &v2.statement()));
    register(peer, "registerEnclave", &v2_creds, &["--endorsers", "2"]);
    assert_registered(peer, "ercc", CC, &[(&v2, &v2_creds)]);
    // What an FPC chaincode calls to judge an endorsement still finds v1.
    assert_eq!(found(peer, &v1), v1_creds);
    let st = status(peer, &v2, TX_UNIX);
    assert_eq!(st["record"]["evidence_type"], "dcap", "{st}");
    assert_eq!(st["record"]["status"], "UpToDate", "{st}");
    assert_eq!(st["record"]["tcb_info"]["fmspc"], "00906ED50000", "{st}");

    // Retirement of v1: refused for another organisation, done by its own.
    refused(
        peer,
        &["retireEnclave", CC, &v1.enclave_id()],
        &["--timestamp", TX_TIME, "--msp", "Org2MSP"],
        "creator identity evaluation failed: creator msp Org2MSP is not the enclave's organisation Org1MSP",
    );
    invoke_ok(
        peer,
        &["retireEnclave", CC, &v1.enclave_id()],
        &["--timestamp", TX_TIME, "--endorsers", "2"],
    );
    assert_eq!(found(peer, &v1), "");
    refused(
        peer,
        &["retireEnclave", CC, &v1.enclave_id()],
        &AT,
        &format!(
            "enclave {} is not registered for chaincode {CC}",
            v1.enclave_id()
        ),
    );

    // Expiry: an hour after its attestation v2 is left out; it renews with fresh evidence.
    let expired = client_view(peer, T_EXPIRED);
    assert_eq!(expired, [String::new(), String::new(), String::new()]);
    assert_eq!(
        status(peer, &v2, T_EXPIRED)["reason"],
        "attested 3601 s ago, more than the allowed 3600 s"
    );
    invoke_ok(
        peer,
        &["registerEnclave", &v2_creds],
        &["--timestamp", &at(T_EXPIRED), "--endorsers", "2"],
    );
    let renewed = client_view(peer, T_EXPIRED);
    assert_eq!(renewed[2], v2.endpoint);
    assert_eq!(
        status(peer, &v2, T_EXPIRED)["record"]["attested_at"],
        T_EXPIRED
    );

    // Re-appraisal: older, foreign and badly signed collateral is refused.
    let pki = trust.dcap_pki();
    let v2_id = v2.enclave_id();
    let reappraise = |collateral: &str| -> Vec<String> {
        ["reappraiseEnclave", CC, &v2_id, collateral]
            .map(str::to_owned)
            .to_vec()
    };
    let ts = at(T_REAPPRAISE);
    let flags = ["--timestamp", ts.as_str()];
    let same = pki.collateral().unwrap().to_json();
    let issued = pki.validity_window().0;
    refused(
        peer,
        &strs(&reappraise(&same)),
        &flags,
        &format!(
            "re-appraisal refused: collateral is not newer than the TCB info already applied: issueDate {} is not after the applied {}",
            at(issued),
            at(issued)
        ),
    );
    let newer = pki
        .reevaluated_collateral(T_EXPIRED, 18, TestTcb::UpToDate, "OutOfDate")
        .unwrap();
    let mut foreign = newer.clone();
    foreign.tcb_info = foreign.tcb_info.replace("00906ED50000", "00906ED50001");
    foreign.tcb_info_signature = pki.sign_collateral_json(&foreign.tcb_info);
    refused(
        peer,
        &strs(&reappraise(&foreign.to_json())),
        &flags,
        "re-appraisal refused: collateral is for FMSPC 00906ED50001, the enclave's platform is 00906ED50000",
    );
    let mut forged = newer.clone();
    forged.tcb_info = forged.tcb_info.replace("OutOfDate", "UpToDate");
    refused(
        peer,
        &strs(&reappraise(&forged.to_json())),
        &flags,
        "re-appraisal refused: TCB info signature invalid",
    );

    // Newer TCB info marking the platform OutOfDate revokes v2 (on two endorsers).
    let two = [flags[0], flags[1], "--endorsers", "2"];
    let record = invoke_ok(peer, &strs(&reappraise(&newer.to_json())), &two);
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["status"], "OutOfDate", "{record}");
    assert_eq!(
        record["revoked"]["reason"],
        "TCB status OutOfDate not accepted"
    );
    assert_eq!(
        client_view(peer, T_REAPPRAISE),
        [String::new(), String::new(), String::new()]
    );
    let r = peer.query(
        "ercc",
        &["queryChaincodeEncryptionKey", CC],
        &["--timestamp", &at(T_REAPPRAISE)],
    );
    assert_eq!(
        failure_message(&r),
        format!("no enclave registered for chaincode {CC}")
    );
    assert_eq!(
        peer.query(
            "ercc",
            &["queryEnclaveCredentials", CC, &v2.enclave_id()],
            &["--timestamp", &at(T_REAPPRAISE)],
        )
        .ok(),
        ""
    );
    assert_eq!(status(peer, &v2, T_REAPPRAISE)["state"], "revoked");
    refused(
        peer,
        &strs(&reappraise(&newer.to_json())),
        &flags,
        &format!(
            "enclave {} is already revoked: TCB status OutOfDate not accepted",
            v2.enclave_id()
        ),
    );
    // This build moved the revoked credentials itself: the migration finds nothing to move.
    assert_eq!(
        invoke_ok(peer, &["migrateRevocations"], &flags),
        r#"{"moved":[]}"#
    );
}

#[test]
fn normal_mode_runs_the_enclave_lifecycle() {
    let t0 = Instant::now();
    let trust = Trust::new();
    let peer = DevPeer::start(options(lifecycle_env(&trust)));
    deploy_normal(&peer);
    lifecycle(&peer, &trust);
    eprintln!("normal mode lifecycle: {:?}", t0.elapsed());
}

/// On a peer that announces Fabric 3.1's READY parameters the registry reads several keys in
/// one GET_STATE_MULTIPLE (an enclave with its record, provisioned markers, what a
/// retirement deletes): the same lifecycle gives the same answers.
#[test]
fn caas_mode_runs_the_enclave_lifecycle_on_a_fabric_3_1_peer() {
    let t0 = Instant::now();
    let trust = Trust::new();
    let mut env = lifecycle_env(&trust);
    // The runtime logs the READY parameters it took at debug level.
    env.push(("FABRIC_LOGGING_SPEC".into(), "debug".into()));
    let registry = CaasRegistry::start("ercc_caas_lc", env);
    let mut opts = options(Vec::new());
    opts.extra_args
        .extend(["--runtime-params".to_string(), "true".to_string()]);
    let mut peer = DevPeer::start(opts);
    registry.deploy(&peer);
    lifecycle(&peer, &trust);
    peer.stop();
    let log = std::fs::read_to_string(&registry.log).unwrap();
    assert!(
        log.contains("READY carried additional parameters")
            && log.contains("use_get_multiple_keys: true"),
        "the peer did not offer GET_STATE_MULTIPLE:\n{log}"
    );
    registry.stop();
    eprintln!("caas mode lifecycle: {:?}", t0.elapsed());
}
