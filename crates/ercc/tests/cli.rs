//! The `ercc inspect` and `ercc verify` subcommands as an operator runs them: the real
//! binary, credentials from a file or standard input, the policy from `ERCC_*` variables;
//! `--help`, exit codes, closed and full standard output, refusal to start. Also (in this
//! process, which runs nothing else in-process) the registry's metrics on the operations
//! endpoint, scraped over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use enclave_attestation::test_pki::{evidence_from_parts, IasTestPki, ReportSpec};
use enclave_attestation::UnixTime;
use ercc_registry::proto::{AttestedData, CcParameters, Credentials, HostParameters};
use prost::Message;

const TIME: &str = "2025-06-15T16:00:00Z";
const TIME_UNIX: i64 = 1_750_003_200;
const MRENCLAVE: [u8; 32] = [0x42; 32];

fn ercc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ercc"));
    // The policy comes from the environment only: start from a clean one.
    for (k, _) in std::env::vars() {
        if k.starts_with("ERCC_") {
            c.env_remove(k);
        }
    }
    c
}

fn credentials(evidence: Vec<u8>) -> String {
    let statement = AttestedData {
        cc_params: Some(CcParameters {
            chaincode_id: "mycc".into(),
            version: hex::encode(MRENCLAVE),
            sequence: 2,
            channel_id: "mychannel".into(),
        }),
        host_params: Some(HostParameters {
            peer_msp_id: "Org1MSP".into(),
            peer_endpoint: "peer0.org1:7051".into(),
            certificate: vec![],
        }),
        enclave_vk: b"vk".to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    let evidence = if evidence.is_empty() {
        let pki = IasTestPki::shared();
        let spec = ReportSpec::new(MRENCLAVE, &statement, UnixTime::from_secs(TIME_UNIX - 600));
        let report = spec.report_json();
        let signature = pki.sign(report.as_bytes()).unwrap();
        evidence_from_parts(spec.evidence_type(), &report, &signature, &pki.chain_pem())
    } else {
        evidence
    };
    let c = Credentials {
        serialized_attested_data: Some(prost_types::Any {
            type_url: ercc_registry::proto::ATTESTED_DATA_TYPE_URL.into(),
            value: statement,
        }),
        attestation: vec![],
        evidence,
    };
    STANDARD.encode(c.encode_to_vec())
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may exit before reading (a bad policy variable): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn test_root_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(IasTestPki::shared().root_pem().as_bytes())
        .unwrap();
    f
}

fn verify_args(cmd: &mut Command, mrenclave: &str) {
    cmd.args([
        "verify",
        "--mrenclave",
        mrenclave,
        "--channel",
        "mychannel",
        "--time",
        TIME,
    ]);
}

#[test]
fn inspect_reads_stdin_and_prints_json() {
    let mut cmd = ercc();
    cmd.arg("inspect");
    let out = run_with_stdin(cmd, &format!("{}\n", credentials(vec![])));
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["attested_data"]["cc_params"]["chaincode_id"], "mycc");
    assert_eq!(v["attested_data"]["cc_params"]["sequence"], 2);
    assert_eq!(
        v["enclave_id"],
        ercc_registry::credentials::enclave_id(b"vk")
    );
    assert_eq!(v["evidence"]["attestation_type"], "epid-linkable");
    assert_eq!(v["evidence"]["quote"]["mrenclave"], hex::encode(MRENCLAVE));
}

#[test]
fn inspect_refuses_garbage_with_the_registry_text() {
    let out = ercc().args(["inspect", "%%%"]).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "ercc: invalid credential bytes: illegal base64 data at input byte 0"
    );
}

#[test]
fn verify_accepts_test_pki_evidence_with_its_root_configured() {
    let root = test_root_file();
    let creds = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(creds.path(), credentials(vec![])).unwrap();
    let mut cmd = ercc();
    cmd.env("ERCC_IAS_ROOT_CA", root.path());
    verify_args(&mut cmd, &hex::encode(MRENCLAVE));
    let out = cmd
        .args(["--sequence", "2", "-f"])
        .arg(creds.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["peer_endpoint"], "peer0.org1:7051");
    // The active policy is shown on stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy: accepted evidence:"));
}

#[test]
fn verify_rejections_carry_the_registry_texts() {
    let creds = credentials(vec![]);
    // Default policy: the test PKI is not Intel's root.
    let mut cmd = ercc();
    verify_args(&mut cmd, &hex::encode(MRENCLAVE));
    let out = run_with_stdin(cmd, &creds);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "rejected: {err}");
    assert!(
        err.contains("ercc: evidence verification failed: "),
        "{err}"
    );

    // Another MRENCLAVE is refused before the evidence is looked at.
    // mock-enclave prints through the same path (`id` reads only enclave_vk of the state).
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let fields = [
        "signing_key",
        "enclave_vk",
        "enclave_dk",
        "enclave_ek",
        "chaincode_id",
        "version",
        "channel_id",
        "peer_msp_id",
        "peer_endpoint",
    ];
    let mut json = serde_json::Map::new();
    for f in fields {
        json.insert(f.into(), "x".into());
    }
    json.insert("sequence".into(), 1.into());
    json.insert("chaincode_keys".into(), serde_json::Value::Null);
    std::fs::write(&state, serde_json::Value::Object(json).to_string()).unwrap();
    let out = ercc()
        .args(["mock-enclave", "--state"])
        .arg(&state)
        .arg("id")
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ercc: cannot write to standard output: No space left on device"),
        "{err}"
    );

    let root = test_root_file();
    let mut cmd = ercc();
    cmd.env("ERCC_IAS_ROOT_CA", root.path());
    verify_args(&mut cmd, &"00".repeat(32));
    let out = run_with_stdin(cmd, &creds);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .last(),
        Some("ercc: mrenclave does not match chaincode definition")
    );

    // A bad policy variable stops before anything is verified.
    let mut cmd = ercc();
    cmd.env("ERCC_MAX_REPORT_AGE", "soon");
    verify_args(&mut cmd, &hex::encode(MRENCLAVE));
    let out = run_with_stdin(cmd, &creds);
    assert_eq!(out.status.code(), Some(3), "could not check");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ERCC_MAX_REPORT_AGE"));
}

#[test]
fn verify_exit_codes_tell_usage_and_io_errors_from_rejection() {
    let creds = credentials(vec![]);
    let root = test_root_file();
    // Accepted: 0.
    let mut cmd = ercc();
    cmd.env("ERCC_IAS_ROOT_CA", root.path());
    verify_args(&mut cmd, &hex::encode(MRENCLAVE));
    assert_eq!(run_with_stdin(cmd, &creds).status.code(), Some(0));
    // Usage: a missing option (clap) and an unparsable time: 2.
    let out = ercc().args(["verify", "--channel", "c"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let mut cmd = ercc();
    cmd.args([
        "verify",
        "--mrenclave",
        "00",
        "--channel",
        "c",
        "--time",
        "noon",
    ]);
    let out = run_with_stdin(cmd, &creds);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // Unreadable input: 3.
    let mut cmd = ercc();
    verify_args(&mut cmd, &hex::encode(MRENCLAVE));
    cmd.args(["--file", "/nonexistent/creds.b64"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn help_says_what_runs_the_chaincode_and_lists_the_variables() {
    let out = ercc().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains(
            "Without a subcommand, ercc runs the registry chaincode; the subcommands never do."
        ),
        "{help}"
    );
    for var in [
        "CORE_CHAINCODE_ID_NAME",
        "CORE_PEER_TLS_ENABLED",
        "CHAINCODE_SERVER_ADDRESS",
        "CHAINCODE_PKG_ID",
        "CHAINCODE_OPERATIONS_LISTEN_ADDRESS",
        "FABRIC_LOGGING_FORMAT",
        "ERCC_POLICY_FILE",
        "ERCC_DCAP_ROOT_CA",
    ] {
        assert!(help.contains(var), "{var} missing from --help");
    }
}

#[test]
fn closed_or_full_stdout_is_no_panic() {
    let creds = credentials(vec![]);
    // `ercc inspect | head -c0`: the reader is gone before ercc writes.
    let mut child = ercc()
        .arg("inspect")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child
        .stdin
        .take()
        .unwrap()
        .write_all(creds.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");

    // `> /dev/full`: the write fails; a clear error, no panic.
    for args in [vec!["inspect", creds.as_str()], vec!["--help"]] {
        let out = ercc()
            .args(&args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] == "inspect" {
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(
                err.contains("ercc: cannot write to standard output: No space left on device"),
                "{err}"
            );
        }
    }
    let root = test_root_file();
    let mut cmd = ercc();
    cmd.env("ERCC_IAS_ROOT_CA", root.path())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .stderr(Stdio::piped())
        .stdin(Stdio::piped());
    verify_args(&mut cmd, &hex::encode(MRENCLAVE));
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(creds.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn chaincode_refuses_to_start_with_a_trust_anchor_of_the_wrong_kind() {
    let dcap = enclave_attestation::dcap::test_pki::DcapTestPki::new("kinds", TIME_UNIX).unwrap();
    let mut ec_root = tempfile::NamedTempFile::new().unwrap();
    ec_root.write_all(dcap.root_ca_pem().as_bytes()).unwrap();
    let rsa_root = test_root_file();
    for (var, file, expected) in [
        (
            "ERCC_IAS_ROOT_CA",
            ec_root.path(),
            "is not an RSA certificate",
        ),
        (
            "ERCC_DCAP_ROOT_CA",
            rsa_root.path(),
            "is not an ECDSA P-256 certificate",
        ),
    ] {
        let out = ercc()
            .env(var, file)
            .env("CORE_CHAINCODE_ID_NAME", "ercc:1")
            .env("CORE_PEER_TLS_ENABLED", "false")
            .arg("-peer.address=127.0.0.1:1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("cannot configure evidence verification"),
            "{err}"
        );
        assert!(
            err.contains(&format!("trust anchor {}: {expected}", file.display())),
            "{err}"
        );
        assert!(
            !err.contains("connecting to the peer"),
            "stopped before connecting: {err}"
        );
    }
}

/// Credentials carrying test-PKI `dcap` evidence bound to the attested data.
fn dcap_credentials(pki: &enclave_attestation::dcap::test_pki::DcapTestPki) -> String {
    let with_ias = credentials(vec![]);
    let mut c = Credentials::decode(STANDARD.decode(with_ias).unwrap().as_slice()).unwrap();
    let statement = c.serialized_attested_data.as_ref().unwrap().value.clone();
    c.evidence = pki.fpc_evidence(MRENCLAVE, &statement).unwrap();
    STANDARD.encode(c.encode_to_vec())
}

#[test]
fn inspect_and_verify_understand_dcap_evidence() {
    use enclave_attestation::dcap::test_pki::{DcapTestPki as DcapPki, TEST_FMSPC};
    let pki = DcapPki::new("ercc-cli", TIME_UNIX - 3600).unwrap();
    let creds = dcap_credentials(&pki);

    let mut cmd = ercc();
    cmd.arg("inspect");
    let out = run_with_stdin(cmd, &creds);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ev = &v["evidence"];
    assert_eq!(ev["attestation_type"], "dcap");
    assert_eq!(ev["fmspc"], hex::encode_upper(TEST_FMSPC));
    assert_eq!(ev["mrenclave"], hex::encode(MRENCLAVE));
    assert_eq!(ev["tcb_status"], "UpToDate");
    assert!(ev["mrsigner"].is_string() && ev["isv_svn"].is_number());
    assert!(ev["collateral_validity"]["not_after"].is_string());

    // Verified under the test root, with the claims shown.
    let mut root = tempfile::NamedTempFile::new().unwrap();
    root.write_all(pki.root_ca_pem().as_bytes()).unwrap();
    let mut cmd = ercc();
    cmd.env("ERCC_DCAP_ROOT_CA", root.path());
    verify_args(&mut cmd, &hex::encode(MRENCLAVE));
    let out = run_with_stdin(cmd, &creds);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["evidence"]["tcb_status"], "UpToDate");
    assert_eq!(v["evidence"]["fmspc"], hex::encode_upper(TEST_FMSPC));

    // Under the default policy (Intel's root) the same evidence is refused.
    let mut cmd = ercc();
    verify_args(&mut cmd, &hex::encode(MRENCLAVE));
    let out = run_with_stdin(cmd, &creds);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("evidence verification failed: "));
}

fn register(
    registry: &ercc_registry::Registry,
    ledger: &mut ercc_registry::MemLedger,
    creds: &str,
) {
    let result = registry.register_enclave(ledger, creds);
    ercc_registry::metrics::registration(creds, &result);
}

fn metric(samples: &[prometheus_parse::Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let s = samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no {name} {labels:?}"));
    match s.value {
        prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: {other:?}"),
    }
}

/// Registrations and rejections by evidence type and reason, verification duration by outcome.
#[test]
fn registry_metrics_are_scraped_from_the_operations_endpoint() {
    use ercc_registry::policy_verifier::PolicyVerifier;
    assert!(fabric_chaincode::operations::enable(Some("127.0.0.1:0".into())).unwrap());
    ercc_registry::metrics::register();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(fabric_chaincode::operations::serve(listener));

    let registry =
        ercc_registry::Registry::new(PolicyVerifier::new(IasTestPki::shared().policy().unwrap()));
    let creds = credentials(vec![]);
    let evidence = Credentials::decode(STANDARD.decode(&creds).unwrap().as_slice())
        .unwrap()
        .evidence;
    let kind = ercc_registry::metrics::evidence_type(&evidence);
    assert_eq!(kind, "epid-linkable");
    let mut elsewhere = ercc_registry::MemLedger::new("otherchannel", TIME_UNIX, "Org1MSP");
    register(&registry, &mut elsewhere, &creds); // wrong channel
    let mut ledger = ercc_registry::MemLedger::new("mychannel", TIME_UNIX, "Org1MSP");
    ledger.define_chaincode("mycc", &hex::encode(MRENCLAVE), 2);
    register(&registry, &mut ledger, &creds); // registered
    register(&registry, &mut ledger, &creds); // already registered
    register(&registry, &mut ledger, "%%%"); // not base64

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(5)))
        .build()
        .into();
    let mut r = agent
        .get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap();
    let text = r.body_mut().read_to_string().unwrap();
    let samples = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap()
        .samples;
    let rej = "ercc_registry_rejections_total";
    let by = |reason| [("evidence_type", kind), ("reason", reason)];
    assert_eq!(
        metric(
            &samples,
            "ercc_registry_registrations_total",
            &[("evidence_type", kind)]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(metric(&samples, rej, &by("wrong_channel")), 1.0);
    assert_eq!(metric(&samples, rej, &by("already_registered")), 1.0);
    let garbage = [
        ("evidence_type", "unknown"),
        ("reason", "invalid_credentials"),
    ];
    assert_eq!(metric(&samples, rej, &garbage), 1.0);
    // Verified twice: the registration and the duplicate (refused after verification); the
    // wrong channel is refused before it.
    let count = "ercc_attestation_verification_duration_seconds_count";
    let accepted = [("evidence_type", kind), ("outcome", "accepted")];
    assert_eq!(metric(&samples, count, &accepted), 2.0, "{text}");
}
