//! Unit tests of every registry function over [`MemLedger`] with a fake verifier.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use prost::Message;
use prost_types::Any;

use super::*;
use crate::keys;
use crate::ledger::MemLedger;
use crate::proto::{AttestedData, CcParameters, Credentials, HostParameters};

pub(crate) const CHANNEL: &str = "mychannel";
pub(crate) const CC: &str = "mycc";
const MSP: &str = "Org1MSP";
pub(crate) const NOW: i64 = 1_700_000_000;
pub(crate) const GOOD_EVIDENCE: &[u8] = br#"{"attestation_type":"fake","evidence":"ok"}"#;

pub(crate) fn mrenclave() -> String {
    "ab".repeat(32)
}

/// What the fake verifier was asked.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    evidence: Vec<u8>,
    mrenclave: String,
    statement: Vec<u8>,
    now: i64,
}

/// Accepts exactly [`GOOD_EVIDENCE`] and records every call.
#[derive(Clone, Default)]
pub(crate) struct FakeVerifier {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CredentialsVerifier for FakeVerifier {
    fn verify(
        &self,
        evidence: &[u8],
        expected_mrenclave: &str,
        statement: &[u8],
        now_unix: i64,
    ) -> Result<Judgement, VerifierError> {
        self.calls.lock().expect("lock").push(Call {
            evidence: evidence.to_vec(),
            mrenclave: expected_mrenclave.to_owned(),
            statement: statement.to_vec(),
            now: now_unix,
        });
        if evidence == GOOD_EVIDENCE {
            Ok(Judgement {
                evidence_type: "fake".into(),
                ..Judgement::default()
            })
        } else {
            Err(VerifierError::Refused(
                "quote status REVOKED not accepted".into(),
            ))
        }
    }
}

pub(crate) fn attested(vk: &[u8], endpoint: &str) -> AttestedData {
    AttestedData {
        cc_params: Some(CcParameters {
            chaincode_id: CC.into(),
            version: mrenclave(),
            sequence: 1,
            channel_id: CHANNEL.into(),
        }),
        host_params: Some(HostParameters {
            peer_msp_id: MSP.into(),
            peer_endpoint: endpoint.into(),
            certificate: b"cert".to_vec(),
        }),
        enclave_vk: vk.to_vec(),
        channel_hash: vec![1; 32],
        tlcc_mrenclave: String::new(),
        chaincode_ek: format!("ek-of-{endpoint}").into_bytes(),
        enclave_ek: Vec::new(),
    }
}

pub(crate) fn credentials_for(ad: &AttestedData) -> Credentials {
    Credentials {
        serialized_attested_data: Some(Any {
            type_url: "github.com/fpc/fpc.AttestedData".into(),
            value: ad.encode_to_vec(),
        }),
        attestation: br#"{"attestation_type":"fake","attestation":"x"}"#.to_vec(),
        evidence: GOOD_EVIDENCE.to_vec(),
    }
}

pub(crate) fn b64(c: &Credentials) -> String {
    STANDARD.encode(c.encode_to_vec())
}

fn good() -> Credentials {
    credentials_for(&attested(b"vk-1", "peer0:7051"))
}

fn setup() -> (Registry, FakeVerifier, MemLedger) {
    let verifier = FakeVerifier::default();
    let registry = Registry::new(verifier.clone());
    let mut ledger = MemLedger::new(CHANNEL, NOW, MSP);
    ledger.define_chaincode(CC, &mrenclave(), 1);
    (registry, verifier, ledger)
}

/// Runs `registerEnclave` expecting `message`, and checks nothing was written.
fn assert_rejected(registry: &Registry, ledger: &mut MemLedger, text: &str, message: &str) {
    let before = ledger.state.clone();
    let puts = ledger.puts;
    let err = registry.register_enclave(ledger, text).unwrap_err();
    assert_eq!(err.to_string(), message);
    assert_eq!(ledger.state, before, "state changed on failure");
    assert_eq!(ledger.puts, puts, "a write was attempted on failure");
}

fn with_attested(f: impl FnOnce(&mut AttestedData)) -> String {
    let mut ad = attested(b"vk-1", "peer0:7051");
    f(&mut ad);
    b64(&credentials_for(&ad))
}

#[test]
fn register_writes_go_layout_and_every_query_reads_it() {
    let (registry, verifier, mut ledger) = setup();
    let text = b64(&good());
    registry.register_enclave(&mut ledger, &text).unwrap();

    let eid = crate::credentials::enclave_id(b"vk-1");
    let cred_key = format!("\u{0}namespaces/credentials\u{0}{CC}\u{0}{eid}\u{0}");
    let prov_key = format!("\u{0}namespaces/provisioned\u{0}{CC}\u{0}{eid}\u{0}");
    let record_key = format!("\u{0}namespaces/appraisal\u{0}{CC}\u{0}{eid}\u{0}");
    assert_eq!(ledger.state.len(), 3);
    assert_eq!(
        String::from_utf8_lossy(&ledger.state[&record_key]),
        format!(
            r#"{{"version":1,"evidence_type":"fake","status":null,"advisory_ids":[],"attested_at":{NOW},"registered_at":{NOW},"mrenclave":"{}","sequence":1,"tcb_info":null,"reappraised_at":null,"revoked":null}}"#,
            mrenclave()
        )
    );
    assert_eq!(ledger.state[&cred_key], text.as_bytes());
    assert_eq!(ledger.state[&prov_key], b"a SignedCCKeyRegistrationMessage");

    // The verifier saw the exact Any.value bytes, the definition's version and tx time.
    let calls = verifier.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![Call {
            evidence: GOOD_EVIDENCE.to_vec(),
            mrenclave: mrenclave(),
            statement: attested(b"vk-1", "peer0:7051").encode_to_vec(),
            now: NOW,
        }]
    );

    assert_eq!(
        registry
            .query_list_enclave_credentials(&mut ledger, CC)
            .unwrap(),
        Some(vec![text.clone()])
    );
    assert_eq!(
        registry
            .query_enclave_credentials(&mut ledger, CC, &eid)
            .unwrap(),
        text
    );
    assert_eq!(
        registry
            .query_list_provisioned_enclaves(&mut ledger, CC)
            .unwrap(),
        Some(vec![eid.clone()])
    );
    assert_eq!(
        registry
            .query_chaincode_end_points(&mut ledger, CC)
            .unwrap(),
        "peer0:7051"
    );
    assert_eq!(
        registry
            .query_chaincode_encryption_key(&mut ledger, CC)
            .unwrap(),
        STANDARD.encode(b"ek-of-peer0:7051")
    );
}

#[test]
fn queries_on_unknown_chaincode_answer_like_go() {
    let (registry, _, mut ledger) = setup();
    assert_eq!(
        registry
            .query_list_enclave_credentials(&mut ledger, "other")
            .unwrap(),
        None
    );
    assert_eq!(
        registry
            .query_enclave_credentials(&mut ledger, "other", "E")
            .unwrap(),
        ""
    );
    assert_eq!(
        registry
            .query_list_provisioned_enclaves(&mut ledger, "other")
            .unwrap(),
        None
    );
    assert_eq!(
        registry
            .query_chaincode_end_points(&mut ledger, "other")
            .unwrap(),
        ""
    );
    assert_eq!(
        registry
            .query_chaincode_encryption_key(&mut ledger, "other")
            .unwrap_err()
            .to_string(),
        "no enclave registered for chaincode other"
    );
    // A prefix of a registered chaincode id is a different chaincode.
    registry
        .register_enclave(&mut ledger, &b64(&good()))
        .unwrap();
    assert_eq!(
        registry
            .query_list_enclave_credentials(&mut ledger, "myc")
            .unwrap(),
        None
    );
}

#[test]
fn step1_invalid_credentials() {
    let (registry, verifier, mut ledger) = setup();
    assert_rejected(
        &registry,
        &mut ledger,
        "",
        "invalid credential bytes: credential input empty",
    );
    assert_rejected(
        &registry,
        &mut ledger,
        "not base64!",
        "invalid credential bytes: illegal base64 data at input byte 3",
    );
    let huge = "A".repeat(crate::credentials::MAX_CREDENTIALS_BASE64_LEN + 1);
    assert_rejected(
        &registry,
        &mut ledger,
        &huge,
        "invalid credential bytes: credentials too large: 1048577 bytes of base64, the limit is 1048576",
    );
    // Truncated protobuf: a length-delimited field cut short.
    let bytes = good().encode_to_vec();
    let cut = STANDARD.encode(&bytes[..bytes.len() / 2]);
    let err = registry.register_enclave(&mut ledger, &cut).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid credential bytes: cannot parse fpc.Credentials: "),
        "{err}"
    );
    assert_eq!(ledger.puts, 0);
    assert!(verifier.calls.lock().unwrap().is_empty());
}

#[test]
fn step2_evidence_empty_comes_before_attested_data() {
    let (registry, _, mut ledger) = setup();
    let mut c = good();
    c.evidence.clear();
    assert_rejected(&registry, &mut ledger, &b64(&c), "evidence is empty");
    c.serialized_attested_data = None;
    assert_rejected(&registry, &mut ledger, &b64(&c), "evidence is empty");
}

#[test]
fn step3_attested_data() {
    let (registry, _, mut ledger) = setup();
    let mut c = good();
    c.serialized_attested_data = None;
    assert_rejected(
        &registry,
        &mut ledger,
        &b64(&c),
        "invalid attested data message: attested data is empty",
    );

    for (url, named) in [
        ("type.googleapis.com/fpc.Credentials", "fpc.Credentials"),
        ("github.com/fpc/fpc.AttestedDataX", "fpc.AttestedDataX"),
        ("", ""),
        ("fpc.AttestedData/", ""),
    ] {
        let mut c = good();
        c.serialized_attested_data.as_mut().unwrap().type_url = url.into();
        assert_rejected(
            &registry,
            &mut ledger,
            &b64(&c),
            &format!("invalid attested data message: invalid attested data message: proto: mismatched message type: got \"fpc.AttestedData\", want \"{named}\""),
        );
    }
    let mut c = good();
    c.serialized_attested_data.as_mut().unwrap().value = vec![0x0a, 0x7f, 0x00];
    let err = registry
        .register_enclave(&mut ledger, &b64(&c))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid attested data message: invalid attested data message: failed to decode Protobuf message"),
        "{err}"
    );
    assert_eq!(ledger.puts, 0);
    // The type.googleapis.com prefix is accepted as well.
    let mut c = good();
    c.serialized_attested_data.as_mut().unwrap().type_url =
        "type.googleapis.com/fpc.AttestedData".into();
    registry.register_enclave(&mut ledger, &b64(&c)).unwrap();
}

#[test]
fn step4_wrong_channel() {
    let (registry, verifier, mut ledger) = setup();
    let text = with_attested(|ad| {
        ad.cc_params.as_mut().unwrap().channel_id = "otherchannel".into();
        // Also a wrong version: the channel is checked first.
        ad.cc_params.as_mut().unwrap().version = "00".into();
    });
    assert_rejected(
        &registry,
        &mut ledger,
        &text,
        "wrong channel! expected=mychannel, actual=otherchannel",
    );
    let text = with_attested(|ad| ad.cc_params = None);
    assert_rejected(&registry, &mut ledger, &text, "cc params are empty");
    assert!(verifier.calls.lock().unwrap().is_empty());
}

#[test]
fn step5_chaincode_definition_missing() {
    let (registry, verifier, mut ledger) = setup();
    let text = with_attested(|ad| ad.cc_params.as_mut().unwrap().chaincode_id = "ghost".into());
    assert_rejected(
        &registry,
        &mut ledger,
        &text,
        "cannot get chaincode definition: error while retrieving chaincode definition: [404] namespace ghost is not defined",
    );
    assert!(verifier.calls.lock().unwrap().is_empty());
}

#[test]
fn step6_and_7_definition_mismatch() {
    let (registry, verifier, mut ledger) = setup();
    let text = with_attested(|ad| {
        let p = ad.cc_params.as_mut().unwrap();
        p.version = "cd".repeat(32);
        p.sequence = 9;
    });
    assert_rejected(
        &registry,
        &mut ledger,
        &text,
        "mrenclave does not match chaincode definition",
    );
    // Case differs: FPC compares the strings exactly.
    let text = with_attested(|ad| ad.cc_params.as_mut().unwrap().version = "AB".repeat(32));
    assert_rejected(
        &registry,
        &mut ledger,
        &text,
        "mrenclave does not match chaincode definition",
    );
    let text = with_attested(|ad| ad.cc_params.as_mut().unwrap().sequence = 2);
    assert_rejected(
        &registry,
        &mut ledger,
        &text,
        "sequence does not match chaincode definition",
    );
    assert!(verifier.calls.lock().unwrap().is_empty());
}

#[test]
fn step8_evidence_verification() {
    let (registry, verifier, mut ledger) = setup();
    let mut c = good();
    c.evidence = b"forged".to_vec();
    // Also no host params: evidence is checked first.
    let mut ad = attested(b"vk-1", "peer0:7051");
    ad.host_params = None;
    c.serialized_attested_data.as_mut().unwrap().value = ad.encode_to_vec();
    assert_rejected(
        &registry,
        &mut ledger,
        &b64(&c),
        "evidence verification failed: quote status REVOKED not accepted",
    );
    assert_eq!(verifier.calls.lock().unwrap().len(), 1);

    ledger.tx_timestamp = None;
    assert_rejected(
        &registry,
        &mut ledger,
        &b64(&good()),
        "evidence verification failed: the transaction has no timestamp",
    );
}

#[test]
fn step9_host_params_empty() {
    let (registry, _, mut ledger) = setup();
    ledger.creator_msp_id = Some("Org2MSP".into());
    let text = with_attested(|ad| ad.host_params = None);
    assert_rejected(&registry, &mut ledger, &text, "host params are empty");
}

#[test]
fn step10_creator_msp() {
    let (registry, _, mut ledger) = setup();
    ledger.creator_msp_id = Some("Org2MSP".into());
    assert_rejected(
        &registry,
        &mut ledger,
        &b64(&good()),
        "creator identity evaluation failed: creator msp does not match owner msp",
    );
    ledger.creator_msp_id = None;
    assert_rejected(
        &registry,
        &mut ledger,
        &b64(&good()),
        "creator identity evaluation failed: the proposal has no creator identity",
    );
}

#[test]
fn step11_one_enclave_per_chaincode() {
    let (registry, _, mut ledger) = setup();
    registry
        .register_enclave(&mut ledger, &b64(&good()))
        .unwrap();
    let second = b64(&credentials_for(&attested(b"vk-2", "peer1:7051")));
    assert_rejected(
        &registry,
        &mut ledger,
        &second,
        "an enclave is already registered for chaincode mycc",
    );
    // The same enclave again is refused too.
    assert_rejected(
        &registry,
        &mut ledger,
        &b64(&good()),
        "an enclave is already registered for chaincode mycc",
    );
    // The creator check comes first.
    ledger.creator_msp_id = Some("Org2MSP".into());
    assert_rejected(
        &registry,
        &mut ledger,
        &second,
        "creator identity evaluation failed: creator msp does not match owner msp",
    );
}

#[test]
fn chaincode_id_with_forbidden_rune_fails_with_shim_text() {
    let (registry, _, mut ledger) = setup();
    let bad = "my\u{0}cc";
    ledger.define_chaincode(bad, &mrenclave(), 1);
    let text = with_attested(|ad| ad.cc_params.as_mut().unwrap().chaincode_id = bad.into());
    let expected = "input contains unicode U+0000 starting at position [2]. U+0000 and U+10FFFF are not allowed in the input attribute of a composite key";
    assert_rejected(&registry, &mut ledger, &text, expected);
    assert_eq!(
        registry
            .query_list_enclave_credentials(&mut ledger, bad)
            .unwrap_err()
            .to_string(),
        expected
    );
    assert_eq!(
        registry
            .query_enclave_credentials(&mut ledger, CC, "E\u{10FFFF}")
            .unwrap_err()
            .to_string(),
        "input contains unicode U+10FFFF starting at position [1]. U+0000 and U+10FFFF are not allowed in the input attribute of a composite key"
    );
}

/// State exactly as the Go registry leaves it (keys typed out byte by byte), read back.
#[test]
fn state_written_by_go_registry_reads_back() {
    let (registry, _, mut ledger) = setup();
    let c1 = b64(&credentials_for(&attested(b"vk-1", "peer0:7051")));
    let c2 = b64(&credentials_for(&attested(b"vk-2", "peer1:7051")));
    let (e1, e2) = ("1111", "2222");
    for (eid, text) in [(e2, &c2), (e1, &c1)] {
        ledger.state.insert(
            format!("\x00namespaces/credentials\x00mycc\x00{eid}\x00"),
            text.as_bytes().to_vec(),
        );
        ledger.state.insert(
            format!("\x00namespaces/provisioned\x00mycc\x00{eid}\x00"),
            b"a SignedCCKeyRegistrationMessage".to_vec(),
        );
    }
    assert_eq!(
        registry
            .query_list_enclave_credentials(&mut ledger, CC)
            .unwrap(),
        Some(vec![c1.clone(), c2.clone()])
    );
    assert_eq!(
        registry
            .query_enclave_credentials(&mut ledger, CC, e2)
            .unwrap(),
        c2
    );
    assert_eq!(
        registry
            .query_list_provisioned_enclaves(&mut ledger, CC)
            .unwrap(),
        Some(vec![e1.to_string(), e2.to_string()])
    );
    assert_eq!(
        registry
            .query_chaincode_end_points(&mut ledger, CC)
            .unwrap(),
        "peer0:7051,peer1:7051"
    );
    assert_eq!(
        registry
            .query_chaincode_encryption_key(&mut ledger, CC)
            .unwrap(),
        STANDARD.encode(b"ek-of-peer0:7051")
    );
    assert_rejected(
        &registry,
        &mut ledger,
        &b64(&credentials_for(&attested(b"vk-3", "peer2:7051"))),
        "an enclave is already registered for chaincode mycc",
    );
}

#[test]
fn corrupt_state_is_an_error_not_a_panic() {
    let (registry, _, mut ledger) = setup();
    ledger.state.insert(
        keys::credentials_key(CC, "E").unwrap(),
        vec![0xff, 0xfe, b'!'],
    );
    ledger.state.insert(
        "\x00namespaces/credentials\x00mycc\x00tail-without-separator".into(),
        b"x".to_vec(),
    );
    for err in [
        registry
            .query_chaincode_end_points(&mut ledger, CC)
            .unwrap_err(),
        registry
            .query_chaincode_encryption_key(&mut ledger, CC)
            .unwrap_err(),
        registry
            .query_list_provisioned_enclaves(&mut ledger, CC)
            .unwrap_err(),
    ] {
        assert!(matches!(err, RegistryError::CorruptState(_)), "{err:?}");
        assert!(err.to_string().starts_with("corrupt registry state: "));
    }
    // Listing returns the stored bytes as text, as Go does.
    assert_eq!(
        registry
            .query_list_enclave_credentials(&mut ledger, CC)
            .unwrap()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn huge_arguments_are_harmless() {
    let (registry, _, mut ledger) = setup();
    let huge = "x".repeat(4 << 20);
    assert_eq!(
        registry
            .query_list_enclave_credentials(&mut ledger, &huge)
            .unwrap(),
        None
    );
    assert_eq!(
        registry
            .query_enclave_credentials(&mut ledger, &huge, &huge)
            .unwrap(),
        ""
    );
    let text =
        with_attested(|ad| ad.cc_params.as_mut().unwrap().chaincode_id = "y".repeat(1 << 16));
    assert_rejected(
        &registry,
        &mut ledger,
        &text,
        &format!(
            "cannot get chaincode definition: error while retrieving chaincode definition: [404] namespace {} is not defined",
            "y".repeat(1 << 16)
        ),
    );
}

#[test]
fn offline_check_reports_the_enclave() {
    let (registry, _, _) = setup();
    let checked = registry
        .check_credentials(&b64(&good()), CHANNEL, Some(NOW), |cc| {
            assert_eq!(cc.chaincode_id, CC);
            Ok(fabric_protos::lifecycle::QueryChaincodeDefinitionResult {
                version: mrenclave(),
                sequence: 1,
                ..Default::default()
            })
        })
        .unwrap();
    assert_eq!(checked.enclave_id, crate::credentials::enclave_id(b"vk-1"));
    assert_eq!(checked.host_params.peer_endpoint, "peer0:7051");
}

#[test]
fn provisioned_list_needs_credentials_and_marker() {
    let (registry, _, mut ledger) = setup();
    // Credentials without a marker: registered, not provisioned.
    ledger.state.insert(
        "\x00namespaces/credentials\x00mycc\x00AAAA\x00".into(),
        b"x".to_vec(),
    );
    // A marker without credentials is not an enclave.
    ledger.state.insert(
        "\x00namespaces/provisioned\x00mycc\x00BBBB\x00".into(),
        b"a SignedCCKeyRegistrationMessage".to_vec(),
    );
    assert_eq!(
        registry
            .query_list_provisioned_enclaves(&mut ledger, CC)
            .unwrap(),
        None
    );
    ledger.state.insert(
        "\x00namespaces/provisioned\x00mycc\x00AAAA\x00".into(),
        b"anything".to_vec(),
    );
    assert_eq!(
        registry
            .query_list_provisioned_enclaves(&mut ledger, CC)
            .unwrap(),
        Some(vec!["AAAA".to_string()])
    );
}

/// A ledger whose writes fail from the `fail_from`-th on (0-based).
struct FailingPuts {
    inner: MemLedger,
    fail_from: usize,
}

impl crate::ledger::RegistryLedger for FailingPuts {
    fn channel_id(&self) -> &str {
        self.inner.channel_id()
    }
    fn tx_timestamp_unix(&self) -> Option<i64> {
        self.inner.tx_timestamp_unix()
    }
    fn creator_msp_id(&self) -> Option<&str> {
        self.inner.creator_msp_id()
    }
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        self.inner.get_state(key)
    }
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LedgerError> {
        if self.inner.puts >= self.fail_from {
            return Err(fabric_chaincode::StubError::Peer(
                "PUT_STATE failed: transaction ID: t: boom".into(),
            )
            .into());
        }
        self.inner.put_state(key, value)
    }
    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attrs: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, LedgerError> {
        self.inner
            .get_state_by_partial_composite_key(object_type, attrs)
    }
    fn query_chaincode_definition(
        &mut self,
        chaincode_id: &str,
    ) -> Result<
        fabric_protos::lifecycle::QueryChaincodeDefinitionResult,
        crate::ledger::DefinitionError,
    > {
        self.inner.query_chaincode_definition(chaincode_id)
    }
}

#[test]
fn write_failures_have_go_texts() {
    let (registry, _, ledger) = setup();
    let mut l = FailingPuts {
        inner: ledger.clone(),
        fail_from: 0,
    };
    assert_eq!(
        registry
            .register_enclave(&mut l, &b64(&good()))
            .unwrap_err()
            .to_string(),
        "cannot store credentials: PUT_STATE failed: transaction ID: t: boom"
    );
    let mut l = FailingPuts {
        inner: ledger,
        fail_from: 1,
    };
    assert_eq!(
        registry
            .register_enclave(&mut l, &b64(&good()))
            .unwrap_err()
            .to_string(),
        "cannot store provisionedKey: PUT_STATE failed: transaction ID: t: boom"
    );
}

/// Two endorsers running the same transaction must write and answer byte-identically.
#[test]
fn two_endorsers_agree() {
    let run = || {
        let (registry, _, mut ledger) = setup();
        let first = b64(&credentials_for(&attested(b"vk-9", "peer9:7051")));
        registry.register_enclave(&mut ledger, &first).unwrap();
        let answers = (
            registry
                .query_list_enclave_credentials(&mut ledger, CC)
                .unwrap(),
            registry
                .query_list_provisioned_enclaves(&mut ledger, CC)
                .unwrap(),
            registry
                .query_chaincode_end_points(&mut ledger, CC)
                .unwrap(),
            registry
                .query_chaincode_encryption_key(&mut ledger, CC)
                .unwrap(),
        );
        (ledger.state, answers)
    };
    assert_eq!(run(), run());
}

#[path = "lifecycle_tests.rs"]
mod lifecycle;

#[test]
fn stored_values_come_back_as_text_and_bad_bytes_as_replacement_characters() {
    assert_eq!(stored_text(b"Q3JlZHM=".to_vec()), "Q3JlZHM=");
    assert_eq!(stored_text(vec![b'a', 0xff, b'b']), "a\u{fffd}b");
    let mut ledger = MemLedger::new(CHANNEL, NOW, MSP);
    let key = keys::credentials_key(CC, "e1").unwrap();
    ledger.state.insert(key, vec![b'x', 0xc3]);
    let registry = Registry::new(FakeVerifier::default());
    assert_eq!(
        registry
            .query_enclave_credentials(&mut ledger, CC, "e1")
            .unwrap(),
        "x\u{fffd}"
    );
}
