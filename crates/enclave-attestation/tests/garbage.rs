//! Hostile input: random bytes, truncations and mutations of valid evidence never panic, and a
//! mutation is either rejected or changes nothing that was attested.
#![allow(clippy::unwrap_used)]

use enclave_attestation::ias::{IasEvidence, IasReport, QuoteBody};
use enclave_attestation::test_pki::{IasTestPki, ReportSpec};
use enclave_attestation::{
    inspect_evidence, verify, verify_evidence, Envelope, Policy, UnixTime, VerificationRequest,
    ACCEPTABLE_IAS_QUOTE_STATUSES,
};
use proptest::prelude::*;

const T: i64 = 1_795_478_400;
const STATEMENT: &[u8] = b"statement";

fn policy() -> Policy {
    let mut p = IasTestPki::shared().policy().unwrap();
    p.accepted_evidence
        .insert(enclave_attestation::EvidenceType::Simulated);
    p.ias_accepted_quote_statuses = ACCEPTABLE_IAS_QUOTE_STATUSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    p.allow_debug_enclaves = true;
    p
}

fn valid_evidence() -> Vec<u8> {
    let spec = ReportSpec::new([7; 32], STATEMENT, UnixTime::from_secs(T));
    IasTestPki::shared().evidence(&spec).unwrap()
}

fn request(evidence: &[u8]) -> VerificationRequest<'_> {
    VerificationRequest {
        evidence,
        expected_mrenclave: "0707070707070707070707070707070707070707070707070707070707070707",
        statement: STATEMENT,
        now: UnixTime::from_secs(T),
    }
}

/// Every parse entry point, on the same bytes.
fn exercise(bytes: &[u8]) {
    let _ = Envelope::parse(bytes);
    let _ = inspect_evidence(bytes);
    let _ = verify(&policy(), &request(bytes));
    let _ = IasReport::parse(bytes);
    let _ = QuoteBody::parse(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = IasEvidence::parse(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
        // Random bytes are no signed evidence: a verifier that accepted them would otherwise pass.
        prop_assert!(verify(&policy(), &request(&bytes)).is_err());
    }

    #[test]
    fn random_envelopes_never_panic(kind in "(simulated|epid-linkable|epid-unlinkable|dcap|x)", inner in ".{0,512}") {
        let envelope = serde_json::json!({"attestation_type": kind, "evidence": inner}).to_string();
        exercise(envelope.as_bytes());
    }

    #[test]
    fn mutated_evidence_is_rejected_or_attests_the_same(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let good = valid_evidence();
        let original = verify(&policy(), &request(&good)).unwrap();
        let mut bad = good.clone();
        let i = index.index(bad.len());
        bad[i] = byte;
        exercise(&bad);
        if let Ok(verified) = verify(&policy(), &request(&bad)) {
            // Only bytes outside what is signed or trusted can change without effect
            // (e.g. the escape case in the URL-encoded chain, or the root copy in the chain).
            prop_assert_eq!(verified.claims(), original.claims());
        }
    }

    #[test]
    fn mutated_reports_are_rejected(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let spec = ReportSpec::new([7; 32], STATEMENT, UnixTime::from_secs(T));
        let report = spec.report_json();
        let signature = IasTestPki::shared().sign(report.as_bytes()).unwrap();
        let mut bytes = report.into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()); };
        let evidence = enclave_attestation::test_pki::evidence_from_parts(
            spec.evidence_type(), &text, &signature, &IasTestPki::shared().chain_pem());
        prop_assert!(verify_evidence(&policy(), &evidence, UnixTime::from_secs(T)).is_err());
    }
}

#[test]
fn every_truncation_of_valid_evidence_is_rejected() {
    let good = valid_evidence();
    assert!(verify(&policy(), &request(&good)).is_ok());
    for len in 0..good.len() {
        let cut = &good[..len];
        assert!(
            verify(&policy(), &request(cut)).is_err(),
            "prefix of {len} bytes accepted"
        );
        let _ = inspect_evidence(cut);
    }
}

#[test]
fn every_truncation_of_real_vectors_is_rejected() {
    let dir = test_vectors::path("ias");
    let mut p = Policy::default();
    p.ias_accepted_quote_statuses = ACCEPTABLE_IAS_QUOTE_STATUSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    for name in ["pdo-wawaka-attestation-test", "powersoftau-sgx-old"] {
        let evidence = test_vectors::read(dir.join(name).join("fpc_evidence.json"));
        let now = UnixTime::from_secs(1_600_000_000);
        assert!(verify_evidence(&p, &evidence, now).is_ok(), "{name}");
        // Step through the prefixes (all of them near both ends, where the structure closes).
        let n = evidence.len();
        for len in (0..n).filter(|l| *l < 64 || *l > n - 64 || l % 7 == 0) {
            assert!(
                verify_evidence(&p, &evidence[..len], now).is_err(),
                "{name}: {len}"
            );
            let _ = inspect_evidence(&evidence[..len]);
        }
    }
}

#[test]
fn oversize_and_deep_inputs_are_refused_quickly() {
    let huge = format!(
        r#"{{"attestation_type":"epid-linkable","evidence":"{}"}}"#,
        "A".repeat(200_000)
    );
    assert!(verify(&policy(), &request(huge.as_bytes()))
        .unwrap_err()
        .to_string()
        .contains("more than the limit"));
    let deep_inner = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep =
        serde_json::json!({"attestation_type":"epid-linkable","evidence": deep_inner}).to_string();
    assert!(verify(&policy(), &request(deep.as_bytes())).is_err());
    let many_certs = serde_json::json!({
        "iasSignature": "",
        "iasReport": "{}",
        "iasCertificates": enclave_attestation::test_pki::url_encode_chain(&IasTestPki::shared().chain_pem().repeat(3)),
    })
    .to_string();
    assert_eq!(
        IasEvidence::parse(&many_certs).unwrap_err().to_string(),
        "iasCertificates holds more than 4 certificates"
    );
}
