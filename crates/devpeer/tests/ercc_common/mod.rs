//! Shared pieces of the registry end-to-end tests (`tests/ercc_*.rs`): where the real `ercc`
//! binary and the repository's external builders are, the FPC messages (declared here from FPC's
//! own `.proto` definitions, independently of the registry's own `proto.rs`, so a wire mistake on
//! either side shows), credentials carrying simulated, test-PKI EPID and test-PKI DCAP evidence bound to
//! the real statement, helpers to call the registry through `devpeer` and read its answers, and
//! to deploy it in either mode (a normal-mode package; a CaaS server with its own TLS).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use enclave_attestation::test_pki::{IasTestPki as IasPki, ReportSpec};
use enclave_attestation::UnixTime;
use prost::Message;
use sha2::Digest;

use crate::common::{CliResult, DevPeer, KillOnDrop, Options};

/// The FPC messages the registry reads (package `fpc`).
pub mod fpc {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CcParameters {
        #[prost(string, tag = "1")]
        pub chaincode_id: String,
        #[prost(string, tag = "2")]
        pub version: String,
        #[prost(int64, tag = "3")]
        pub sequence: i64,
        #[prost(string, tag = "4")]
        pub channel_id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HostParameters {
        #[prost(string, tag = "1")]
        pub peer_msp_id: String,
        #[prost(string, tag = "2")]
        pub peer_endpoint: String,
        #[prost(bytes = "vec", tag = "3")]
        pub certificate: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AttestedData {
        #[prost(message, optional, tag = "1")]
        pub cc_params: Option<CcParameters>,
        #[prost(message, optional, tag = "2")]
        pub host_params: Option<HostParameters>,
        #[prost(bytes = "vec", tag = "3")]
        pub enclave_vk: Vec<u8>,
        #[prost(bytes = "vec", tag = "4")]
        pub channel_hash: Vec<u8>,
        #[prost(string, tag = "5")]
        pub tlcc_mrenclave: String,
        #[prost(bytes = "vec", tag = "6")]
        pub chaincode_ek: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Credentials {
        #[prost(message, optional, tag = "1")]
        pub serialized_attested_data: Option<prost_types::Any>,
        #[prost(bytes = "vec", tag = "2")]
        pub attestation: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        pub evidence: Vec<u8>,
    }
}

/// The channel every test runs on.
pub const CHANNEL: &str = "mychannel";
/// The transaction time of every registry call: inside both test PKIs' validity windows, and
/// long after IAS shut down, so nothing here can pass by reading the wall clock.
pub const TX_TIME: &str = "2025-06-15T16:00:00Z";
pub const TX_UNIX: i64 = 1_750_003_200;
/// The type URL an FPC enclave writes (not `type.googleapis.com/`).
pub const ATTESTED_DATA_TYPE_URL: &str = "github.com/fpc/fpc.AttestedData";
/// The peer id used by the CaaS packages (`CORE_PEER_ID`).
pub const PEER_ID: &str = "peer0.org1.example.com";

/// Repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The `fpc-c` builder (normal mode).
pub fn fpc_c_builder() -> PathBuf {
    repo_root().join("fabric/externalBuilder/chaincode")
}

/// The `fpc-external-launcher` builder (CaaS).
pub fn fpc_launcher_builder() -> PathBuf {
    repo_root().join("fabric/externalBuilder/chaincode_server")
}

/// The real `ercc` binary, next to the devpeer binary under test (`cargo test --workspace` and
/// `cargo build -p ercc` put it there).
pub fn ercc_bin() -> PathBuf {
    let devpeer = PathBuf::from(env!("CARGO_BIN_EXE_devpeer"));
    let ercc = devpeer
        .parent()
        .expect("target dir")
        .join(format!("ercc{}", std::env::consts::EXE_SUFFIX));
    assert!(
        ercc.is_file(),
        "the registry end-to-end tests need the real ercc binary at {}: build it first with \
         `cargo build -p ercc` (same profile and CARGO_TARGET_DIR as this test), or run \
         `cargo test --workspace`",
        ercc.display()
    );
    ercc
}

/// `ercc` with a clean environment for the policy (no `ERCC_*` inherited from the caller).
pub fn ercc_command() -> Command {
    let mut c = Command::new(ercc_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("ERCC_") || k.starts_with("CHAINCODE_") || k.starts_with("CORE_") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `ercc ARGS` and returns stdout (trimmed), panicking with stderr on failure.
pub fn ercc_ok(args: &[&str]) -> String {
    let out = ercc_command().args(args).output().expect("run ercc");
    assert!(
        out.status.success(),
        "ercc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The policy variables a builder must pass to the registry.
pub const POLICY_VARS: &[&str] = &[
    "ERCC_POLICY_FILE",
    "ERCC_ACCEPTED_EVIDENCE",
    "ERCC_IAS_ACCEPTED_QUOTE_STATUSES",
    "ERCC_ALLOW_DEBUG_ENCLAVES",
    "ERCC_MAX_REPORT_AGE",
    "ERCC_IAS_ROOT_CA",
    "ERCC_DCAP_ROOT_CA",
    "ERCC_DCAP_ACCEPTED_TCB_STATUSES",
    "ERCC_DCAP_REJECTED_ADVISORIES",
    "ERCC_MAX_REGISTRATION_AGE",
    "ERCC_CURRENT_DEFINITION_ONLY",
    "ERCC_ALLOW_UPGRADE_TRANSFER",
    "ERCC_MAX_ENCLAVES_PER_CHAINCODE",
    "FABRIC_LOGGING_SPEC",
];

/// The test trust anchors (IAS and DCAP test roots written to files) and evidence makers.
pub struct Trust {
    dir: tempfile::TempDir,
    pub ias_root: PathBuf,
    pub dcap_root: PathBuf,
    dcap: enclave_attestation::dcap::test_pki::DcapTestPki,
}

impl Trust {
    pub fn new() -> Trust {
        let dir = tempfile::Builder::new()
            .prefix("ercc-e2e-roots-")
            .tempdir()
            .unwrap();
        let ias_root = dir.path().join("ias-root.pem");
        std::fs::write(&ias_root, IasPki::shared().root_pem()).unwrap();
        // Collateral issued a day before the transaction, valid for 30 days.
        let dcap =
            enclave_attestation::dcap::test_pki::DcapTestPki::new("ercc-e2e", TX_UNIX - 86_400)
                .unwrap();
        let (from, to) = dcap.validity_window();
        assert!(from <= TX_UNIX && TX_UNIX <= to);
        let dcap_root = dir.path().join("dcap-root.pem");
        std::fs::write(&dcap_root, dcap.root_ca_pem()).unwrap();
        Trust {
            dir,
            ias_root,
            dcap_root,
            dcap,
        }
    }

    /// `ERCC_*` for a registry trusting the test roots; `simulated` accepted only when asked
    /// (otherwise the accepted list is the default one).
    pub fn policy_env(&self, simulated: bool) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "ERCC_IAS_ROOT_CA".to_string(),
                self.ias_root.display().to_string(),
            ),
            (
                "ERCC_DCAP_ROOT_CA".to_string(),
                self.dcap_root.display().to_string(),
            ),
            ("FABRIC_LOGGING_SPEC".to_string(), "ercc=debug:info".into()),
        ];
        if simulated {
            env.push((
                "ERCC_ACCEPTED_EVIDENCE".into(),
                "simulated,epid-linkable,epid-unlinkable,dcap".into(),
            ));
        }
        env
    }

    /// Test-PKI EPID evidence for `mrenclave` over `statement`, reported 10 minutes before the
    /// transaction.
    pub fn epid(&self, mrenclave: [u8; 32], statement: &[u8]) -> Vec<u8> {
        let spec = ReportSpec::new(mrenclave, statement, UnixTime::from_secs(TX_UNIX - 600));
        IasPki::shared().evidence(&spec).unwrap()
    }

    /// The DCAP test PKI (for collateral re-issued after a later TCB evaluation).
    pub fn dcap_pki(&self) -> &enclave_attestation::dcap::test_pki::DcapTestPki {
        &self.dcap
    }

    /// Test-PKI DCAP evidence (quote + collateral) for `mrenclave` over `statement`.
    pub fn dcap(&self, mrenclave: [u8; 32], statement: &[u8]) -> Vec<u8> {
        self.dcap.fpc_evidence(mrenclave, statement).unwrap()
    }
}

/// `simulated` evidence as an FPC enclave built for simulation produces it.
pub fn simulated_evidence() -> Vec<u8> {
    br#"{"attestation_type":"simulated","evidence":"MA=="}"#.to_vec()
}

/// An enclave of an FPC chaincode, as it describes itself in its attested data.
#[derive(Clone, Debug)]
pub struct Enclave {
    pub cc_id: String,
    /// The MRENCLAVE the enclave claims in `cc_params.version` (hex).
    pub version: String,
    pub sequence: i64,
    pub channel: String,
    pub msp: String,
    pub endpoint: String,
    /// PEM `PUBLIC KEY` of the enclave's signing key.
    pub vk: Vec<u8>,
    pub ek: Vec<u8>,
    pub host_params: bool,
}

impl Enclave {
    /// An enclave of `cc_id` with a fresh P-256 verifying key, hosted by Org1MSP.
    pub fn new(cc_id: &str, mrenclave: [u8; 32]) -> Enclave {
        let vk = rcgen::KeyPair::generate().unwrap().public_key_pem();
        let ek = rcgen::KeyPair::generate().unwrap().public_key_pem();
        Enclave {
            cc_id: cc_id.into(),
            version: hex::encode(mrenclave),
            sequence: 1,
            channel: CHANNEL.into(),
            msp: "Org1MSP".into(),
            endpoint: format!("{cc_id}.peer0.org1.example.com:7051"),
            vk: vk.into_bytes(),
            ek: ek.into_bytes(),
            host_params: true,
        }
    }

    /// The serialized `AttestedData`: the statement the evidence must be bound to.
    pub fn statement(&self) -> Vec<u8> {
        fpc::AttestedData {
            cc_params: Some(fpc::CcParameters {
                chaincode_id: self.cc_id.clone(),
                version: self.version.clone(),
                sequence: self.sequence,
                channel_id: self.channel.clone(),
            }),
            host_params: self.host_params.then(|| fpc::HostParameters {
                peer_msp_id: self.msp.clone(),
                peer_endpoint: self.endpoint.clone(),
                certificate: b"-----BEGIN CERTIFICATE-----\n(peer)\n".to_vec(),
            }),
            enclave_vk: self.vk.clone(),
            channel_hash: sha2::Sha256::digest(self.channel.as_bytes()).to_vec(),
            tlcc_mrenclave: String::new(),
            chaincode_ek: self.ek.clone(),
        }
        .encode_to_vec()
    }

    /// Upper-case hex SHA-256 of the verifying key, as the registry names enclaves.
    pub fn enclave_id(&self) -> String {
        hex::encode_upper(sha2::Sha256::digest(&self.vk))
    }

    /// Base64 `Credentials` holding this enclave's statement and `evidence`.
    pub fn credentials(&self, evidence: &[u8]) -> String {
        credentials(&self.statement(), evidence)
    }

    /// Base64 of the chaincode encryption key, as `queryChaincodeEncryptionKey` answers.
    pub fn ek_base64(&self) -> String {
        STANDARD.encode(&self.ek)
    }
}

/// Base64 `Credentials` with `statement` as the attested data and `evidence`.
pub fn credentials(statement: &[u8], evidence: &[u8]) -> String {
    STANDARD.encode(
        fpc::Credentials {
            serialized_attested_data: Some(prost_types::Any {
                type_url: ATTESTED_DATA_TYPE_URL.into(),
                value: statement.to_vec(),
            }),
            attestation: Vec::new(),
            evidence: evidence.to_vec(),
        }
        .encode_to_vec(),
    )
}

/// The message of a failed `devpeer invoke/query` (after `message: ` on stderr).
pub fn failure_message(r: &CliResult) -> String {
    let err = r.err();
    let line = err
        .lines()
        .find(|l| l.contains("endorsement failure"))
        .unwrap_or_else(|| panic!("no endorsement failure in: {err}"));
    let (_, msg) = line
        .split_once("message: ")
        .unwrap_or_else(|| panic!("no message in: {line}"));
    msg.to_string()
}

/// Upper-cases the first letter (the contract API accepts both spellings).
pub fn upper_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Extra flags every registry call carries: the fixed transaction time.
pub const AT: [&str; 2] = ["--timestamp", TX_TIME];

/// Calls a registry query under both capitalisations, asserts they agree, returns the payload.
pub fn query_both(peer: &DevPeer, name: &str, function: &str, args: &[&str]) -> String {
    let mut lower = vec![function];
    lower.extend_from_slice(args);
    let a = peer.query(name, &lower, &AT).ok();
    let upper_name = upper_first(function);
    let mut upper = vec![upper_name.as_str()];
    upper.extend_from_slice(args);
    let b = peer.query(name, &upper, &AT).ok();
    assert_eq!(a, b, "{function} and {upper_name} disagree");
    a
}

/// Everything the registry answers about `cc_ids` plus the ledger height: compared before and
/// after a rejected registration to show it wrote nothing.
pub fn snapshot(peer: &DevPeer, name: &str, cc_ids: &[&str]) -> Vec<String> {
    let status: serde_json::Value = serde_json::from_str(&peer.cli(&["status"]).ok()).unwrap();
    let mut out = vec![format!("height={}", status["height"])];
    for cc in cc_ids {
        for f in [
            "queryListEnclaveCredentials",
            "queryListProvisionedEnclaves",
            "queryChaincodeEndPoints",
        ] {
            out.push(format!(
                "{f}({cc})={}",
                peer.query(name, &[f, cc], &AT).ok()
            ));
        }
        let ek = peer.query(name, &["queryChaincodeEncryptionKey", cc], &AT);
        out.push(format!(
            "ek({cc})={}|{}",
            ek.stdout_str(),
            if ek.success { String::new() } else { ek.stderr }
        ));
    }
    out
}

/// Asserts what the registry answers for a chaincode with exactly these enclaves registered
/// (`(enclave, credentials)` in registration order; one per chaincode under the MVP rule).
pub fn assert_registered(peer: &DevPeer, name: &str, cc_id: &str, reg: &[(&Enclave, &str)]) {
    let list = query_both(peer, name, "queryListEnclaveCredentials", &[cc_id]);
    let prov = query_both(peer, name, "queryListProvisionedEnclaves", &[cc_id]);
    let eps = query_both(peer, name, "queryChaincodeEndPoints", &[cc_id]);
    if reg.is_empty() {
        assert_eq!(list, "", "no credentials for {cc_id}");
        assert_eq!(prov, "", "no provisioned enclaves for {cc_id}");
        assert_eq!(eps, "");
        let r = peer.query(name, &["queryChaincodeEncryptionKey", cc_id], &AT);
        assert_eq!(
            failure_message(&r),
            format!("no enclave registered for chaincode {cc_id}")
        );
        return;
    }
    // Go's json.Marshal of a []string; base64 has nothing it escapes.
    let creds: Vec<&str> = reg.iter().map(|(_, c)| *c).collect();
    assert_eq!(list, serde_json::to_string(&creds).unwrap());
    let ids: Vec<String> = reg.iter().map(|(e, _)| e.enclave_id()).collect();
    assert_eq!(prov, serde_json::to_string(&ids).unwrap());
    let endpoints: Vec<&str> = reg.iter().map(|(e, _)| e.endpoint.as_str()).collect();
    assert_eq!(eps, endpoints.join(","));
    for (e, c) in reg {
        let got = query_both(
            peer,
            name,
            "queryEnclaveCredentials",
            &[cc_id, &e.enclave_id()],
        );
        assert_eq!(got, *c);
    }
    assert_eq!(
        query_both(peer, name, "queryChaincodeEncryptionKey", &[cc_id]),
        reg[0].0.ek_base64()
    );
}

/// Asserts `GetMetadata` describes the Go registry's contract.
pub fn assert_metadata(peer: &DevPeer, name: &str) {
    let out = peer
        .query(name, &["org.hyperledger.fabric:GetMetadata"], &AT)
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let contract = &v["contracts"]["Contract"];
    assert_eq!(contract["name"], "Contract", "{out}");
    let mut names: Vec<&str> = contract["transactions"]
        .as_array()
        .unwrap_or_else(|| panic!("no transactions in {out}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "GetKeyExport",
            "MigrateRevocations",
            "PutKeyExport",
            "QueryChaincodeEncryptionKey",
            "QueryChaincodeEndPoints",
            "QueryEnclaveCredentials",
            "QueryEnclaveStatus",
            "QueryListEnclaveCredentials",
            "QueryListProvisionedEnclaves",
            "ReappraiseEnclave",
            "RegisterCCKeys",
            "RegisterEnclave",
            "RetireEnclave",
        ]
    );
    assert!(
        v["contracts"]["org.hyperledger.fabric"].is_object(),
        "{out}"
    );
}

/// Dumps the chaincode logs of a devpeer home (for failure diagnostics).
pub fn chaincode_logs(home: &Path) -> String {
    let mut out = String::new();
    if let Ok(dir) = std::fs::read_dir(home.join("logs")) {
        for e in dir.flatten() {
            out.push_str(&format!("== {}\n", e.path().display()));
            out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    out
}

/// Packages a registry for CaaS with `ercc package caas` and returns its package id.
pub fn package_caas(out: &Path, label: &str, address: &str, tls_root: Option<&Path>) -> String {
    let peer = format!("{PEER_ID}={address}");
    let out_s = out.to_str().unwrap();
    let mut args = vec![
        "package",
        "caas",
        "--label",
        label,
        "--out",
        out_s,
        "--peer",
        &peer,
        "--dial-timeout",
        "5s",
    ];
    let root;
    if let Some(r) = tls_root {
        root = r.to_str().unwrap().to_string();
        args.extend(["--tls-root-cert", root.as_str()]);
    }
    ercc_ok(&args)
}

/// A stand-in FPC chaincode for `mycc` & co: they only need a `_lifecycle` definition, which
/// devpeer ties to an installed package. This is a CaaS package (made by `ercc package caas`,
/// built by the real `fpc-external-launcher`) pointing at a port nobody listens on, so its
/// launch fails at once and harmlessly.
pub fn install_placeholder_cc(peer: &DevPeer, label: &str) -> String {
    let port = crate::common::free_port();
    let path = peer.home.join(format!("{label}.tar.gz"));
    let id = package_caas(&path, label, &format!("127.0.0.1:{port}"), None);
    let installed = peer
        .cli(&["install", path.to_str().unwrap()])
        .ok()
        .trim()
        .to_string();
    assert_eq!(installed, id);
    id
}

/// `devpeer define NAME --version V --sequence 1 --package-id ID`.
pub fn define(peer: &DevPeer, name: &str, version: &str, package_id: &str) {
    peer.define(name, version, 1, package_id).ok();
}

/// A devpeer with both FPC builders; the policy variables and `CORE_PEER_ID` are set in its
/// environment and propagated, as core.yaml would.
pub fn options(policy: Vec<(String, String)>) -> Options {
    let mut propagate: Vec<String> = POLICY_VARS.iter().map(|s| s.to_string()).collect();
    propagate.push("CORE_PEER_ID".into());
    let mut env = policy;
    env.push(("CORE_PEER_ID".into(), PEER_ID.into()));
    Options {
        tls: true,
        builders: vec![
            format!("fpc-c={}", fpc_c_builder().display()),
            format!("fpc-external-launcher={}", fpc_launcher_builder().display()),
        ],
        propagate,
        env,
        ..Options::default()
    }
}

/// `opts` plus the official Node shim's builder, for a chaincode that calls the registry
/// chaincode-to-chaincode as FPC chaincodes do (the fixture's `Call`/`Call2`).
pub fn with_node_builder(mut opts: Options) -> Options {
    let node = crate::common::node_options();
    opts.builders
        .extend(node.builders.into_iter().filter(|b| b.starts_with("node=")));
    opts.propagate.extend(node.propagate);
    opts.env.extend(node.env);
    opts
}

/// `ercc package normal` of the real binary, made once per test binary and shared by its tests:
/// gzip of a debug build's ~100 MB binary takes a debug-built packager tens of seconds.
pub fn normal_package() -> &'static (PathBuf, String) {
    static PKG: OnceLock<(PathBuf, String)> = OnceLock::new();
    PKG.get_or_init(|| {
        let pkg = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{}-normal.tar.gz", env!("CARGO_CRATE_NAME")));
        let ercc = ercc_bin();
        let id = ercc_ok(&[
            "package",
            "normal",
            "--label",
            "ercc_1.0",
            "--out",
            pkg.to_str().unwrap(),
            "--binary",
            ercc.to_str().unwrap(),
        ]);
        (pkg, id)
    })
}

/// `ercc package normal` → `devpeer install` → `devpeer define ercc`; returns the package id.
pub fn deploy_normal(peer: &DevPeer) -> String {
    let (pkg, id) = normal_package();
    let installed = peer.cli(&["install", pkg.to_str().unwrap()]).ok();
    assert_eq!(installed.trim(), id);
    let out = peer.define("ercc", "1.0", 1, id);
    assert!(out.success, "define ercc: {}", out.stderr);
    assert!(
        !out.stderr.contains("did not launch"),
        "ercc did not launch: {}\n{}",
        out.stderr,
        chaincode_logs(&peer.home)
    );
    id.clone()
}

pub fn height(peer: &DevPeer) -> u64 {
    let status: serde_json::Value = serde_json::from_str(&peer.cli(&["status"]).ok()).unwrap();
    status["height"].as_u64().unwrap()
}

/// Registers and asserts success (empty payload).
pub fn register(peer: &DevPeer, function: &str, creds: &str, extra: &[&str]) {
    let before = height(peer);
    let mut flags = AT.to_vec();
    flags.extend_from_slice(extra);
    let out = peer.invoke("ercc", &[function, creds], &flags);
    assert!(
        out.success,
        "{function} failed: {}\n{}",
        out.stderr,
        chaincode_logs(&peer.home)
    );
    assert_eq!(out.stdout_str(), "", "registerEnclave returns nothing");
    // One committed block: what the rejections' snapshots would see change.
    assert_eq!(height(peer), before + 1);
}

/// Registers, expects the exact rejection `expected`, and checks nothing was written.
pub fn rejected(peer: &DevPeer, creds: &str, extra: &[&str], cc_ids: &[&str], expected: &str) {
    let before = snapshot(peer, "ercc", cc_ids);
    let mut flags = AT.to_vec();
    flags.extend_from_slice(extra);
    let out = peer.invoke("ercc", &["registerEnclave", creds], &flags);
    assert_eq!(failure_message(&out), expected);
    assert_eq!(
        snapshot(peer, "ercc", cc_ids),
        before,
        "a rejected registration ({expected}) changed the ledger"
    );
}

/// A CA and a server certificate for 127.0.0.1 / localhost, written to `dir`.
pub fn server_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "ercc e2e CaaS CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut srv = CertificateParams::default();
    srv.distinguished_name.push(DnType::CommonName, "ercc");
    srv.subject_alt_names = vec![
        SanType::IpAddress("127.0.0.1".parse().unwrap()),
        SanType::DnsName("localhost".try_into().unwrap()),
    ];
    let cert = srv.signed_by(&key, &issuer).unwrap();
    let (ca_p, cert_p, key_p) = (
        dir.join("ca.pem"),
        dir.join("server.crt"),
        dir.join("server.key"),
    );
    std::fs::write(&ca_p, ca_cert.pem()).unwrap();
    std::fs::write(&cert_p, cert.pem()).unwrap();
    std::fs::write(&key_p, key.serialize_pem()).unwrap();
    (ca_p, cert_p, key_p)
}

pub fn wait_listening(port: u16, server: &mut KillOnDrop, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(s)) = server.0.try_wait() {
            panic!(
                "ercc server exited ({s}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "ercc server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A registry CaaS package (label `label`) installed nowhere yet, and `ercc` serving it over TLS
/// with `policy`: what a CaaS test needs before it starts its peer.
pub struct CaasRegistry {
    pub dir: tempfile::TempDir,
    pub tls: (PathBuf, PathBuf, PathBuf),
    pub port: u16,
    pub pkg: PathBuf,
    pub pkg_id: String,
    pub log: PathBuf,
    /// `None` between `stop_server` and `start_server`.
    server: Option<KillOnDrop>,
}

impl CaasRegistry {
    pub fn start(label: &str, policy: Vec<(String, String)>) -> CaasRegistry {
        let dir = tempfile::tempdir().unwrap();
        let tls = server_tls(dir.path());
        let port = crate::common::free_port();
        let pkg = dir.path().join("ercc-caas.tar.gz");
        let pkg_id = package_caas(&pkg, label, &format!("127.0.0.1:{port}"), Some(&tls.0));
        let log = dir.path().join("ercc-server.log");
        let mut registry = CaasRegistry {
            dir,
            tls,
            port,
            pkg,
            pkg_id,
            log,
            server: None,
        };
        registry.start_server(policy);
        registry
    }

    /// Installs the package on `peer` and defines `ercc` (sequence 1) with it.
    pub fn deploy(&self, peer: &DevPeer) {
        let installed = peer.cli(&["install", self.pkg.to_str().unwrap()]).ok();
        assert_eq!(installed.trim(), self.pkg_id);
        let out = peer.define("ercc", "1.0", 1, &self.pkg_id);
        assert!(
            out.success && !out.stderr.contains("did not launch"),
            "define: {}\nserver log:\n{}\npeer log:\n{}",
            out.stderr,
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            peer.log()
        );
    }

    /// Starts the server again (same package, port, TLS and log) with `policy`.
    pub fn start_server(&mut self, policy: Vec<(String, String)>) {
        assert!(self.server.is_none(), "the ercc server is already running");
        self.server = Some(start_server(
            &self.pkg_id,
            self.port,
            &self.tls,
            policy,
            &self.log,
        ));
    }

    /// SIGTERM; the server must exit 0. The package and TLS files stay.
    pub fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            stop_server(server, &self.log);
        }
    }

    /// SIGTERM; the server must exit 0.
    pub fn stop(mut self) {
        self.stop_server();
    }
}

/// `ercc` started by hand as a CaaS server, as an operator would; logs go to `log`.
pub fn start_server(
    pkg_id: &str,
    port: u16,
    tls: &(PathBuf, PathBuf, PathBuf),
    policy: Vec<(String, String)>,
    log: &Path,
) -> KillOnDrop {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut cmd = ercc_command();
    cmd.env("CHAINCODE_PKG_ID", pkg_id)
        .env("CHAINCODE_SERVER_ADDRESS", format!("127.0.0.1:{port}"))
        .env("CHAINCODE_TLS_CERT", &tls.1)
        .env("CHAINCODE_TLS_KEY", &tls.2)
        .envs(policy)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let mut server = KillOnDrop(cmd.spawn().unwrap());
    wait_listening(port, &mut server, log);
    server
}

/// SIGTERM, and the server must exit 0 within 10 s.
pub fn stop_server(mut server: KillOnDrop, log: &Path) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(server.0.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "ercc ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "ercc exit {status}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
