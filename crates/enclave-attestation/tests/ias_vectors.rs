//! The real Intel IAS reports (the `ias` vectors of `test-vectors`): verified at their own timestamps,
//! appraised under permissive and default policies, and tampered with.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use enclave_attestation::ias::{IasEvidence, IasReport};
use enclave_attestation::{
    inspect_evidence, verify, verify_evidence, ChainError, EvidenceType, Policy, UnixTime,
    VerificationRequest, VerifyError, ACCEPTABLE_IAS_QUOTE_STATUSES,
};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    test_vectors::path("ias")
}

struct Vector {
    name: String,
    meta: Value,
    evidence: Vec<u8>,
}

impl Vector {
    fn str(&self, key: &str) -> &str {
        self.meta[key].as_str().unwrap()
    }

    /// The IAS timestamp, whole seconds.
    fn time(&self) -> UnixTime {
        let text = self.str("timestamp");
        let evidence = IasEvidence::parse(
            serde_json::from_slice::<Value>(&self.evidence).unwrap()["evidence"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let report = IasReport::parse(&evidence.report).unwrap();
        assert_eq!(report.timestamp_text, text);
        report.timestamp
    }
}

fn vectors() -> Vec<Vector> {
    let manifest: Value =
        serde_json::from_slice(&test_vectors::read(vectors_dir().join("vectors.json"))).unwrap();
    let list = manifest.as_array().unwrap();
    assert_eq!(list.len(), 9, "the vector set changed");
    list.iter()
        .map(|meta| {
            let name = meta["name"].as_str().unwrap().to_owned();
            let evidence = test_vectors::read(vectors_dir().join(&name).join("fpc_evidence.json"));
            Vector {
                name,
                meta: meta.clone(),
                evidence,
            }
        })
        .collect()
}

/// Accepts every status that can be accepted, and debug enclaves; no age limit beyond a day.
fn permissive() -> Policy {
    let mut p = Policy::default();
    p.ias_accepted_quote_statuses = ACCEPTABLE_IAS_QUOTE_STATUSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    p.allow_debug_enclaves = true;
    p
}

#[test]
fn every_vector_verifies_at_its_report_time_with_the_expected_claims() {
    for v in vectors() {
        let claims = verify_evidence(&Policy::default(), &v.evidence, v.time())
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        let enclave = claims.enclave.as_ref().unwrap();
        assert_eq!(
            claims.evidence_type.as_str(),
            v.str("fpc_attestation_type"),
            "{}",
            v.name
        );
        assert_eq!(
            hex::encode(enclave.mrenclave),
            v.str("mrenclave"),
            "{}",
            v.name
        );
        assert_eq!(
            hex::encode(enclave.mrsigner),
            v.str("mrsigner"),
            "{}",
            v.name
        );
        assert_eq!(
            hex::encode(enclave.report_data),
            v.str("report_data"),
            "{}",
            v.name
        );
        assert_eq!(
            enclave.debug,
            v.meta["DEBUG"].as_bool().unwrap(),
            "{}",
            v.name
        );
        assert_eq!(
            u64::from(enclave.isv_prod_id),
            v.meta["isv_prod_id"].as_u64().unwrap(),
            "{}",
            v.name
        );
        assert_eq!(
            u64::from(enclave.isv_svn),
            v.meta["isv_svn"].as_u64().unwrap()
        );
        assert_eq!(
            claims.status.as_deref(),
            Some(v.str("isvEnclaveQuoteStatus"))
        );
        let advisories: Vec<String> = match &v.meta["advisoryIDs"] {
            Value::Null => Vec::new(),
            list => serde_json::from_value(list.clone()).unwrap(),
        };
        assert_eq!(claims.advisory_ids, advisories, "{}", v.name);
        assert_eq!(claims.issued_at, Some(v.time()));
    }
}

#[test]
fn permissive_policy_passes_every_check_up_to_the_statement_binding() {
    // The reports' report data are hashes of statements we do not have, so the full appraisal
    // must get as far as the report-data check and fail exactly there.
    for v in vectors() {
        let req = VerificationRequest {
            evidence: &v.evidence,
            expected_mrenclave: v.str("mrenclave"),
            statement: b"not the statement these reports attest",
            now: v.time(),
        };
        assert_eq!(
            verify(&permissive(), &req).unwrap_err(),
            VerifyError::ReportDataMismatch,
            "{}",
            v.name
        );
        // FPC's upper-case MRENCLAVE text is accepted too.
        let upper = v.str("mrenclave").to_uppercase();
        let req = VerificationRequest {
            expected_mrenclave: &upper,
            ..req
        };
        assert_eq!(
            verify(&permissive(), &req).unwrap_err(),
            VerifyError::ReportDataMismatch
        );
    }
}

#[test]
fn default_policy_rejects_with_the_precise_reason() {
    for v in vectors() {
        let req = VerificationRequest {
            evidence: &v.evidence,
            expected_mrenclave: v.str("mrenclave"),
            statement: b"",
            now: v.time(),
        };
        let status = v.str("isvEnclaveQuoteStatus");
        let expected = if status != "OK" {
            format!("quote status {status} not accepted")
        } else if v.meta["DEBUG"].as_bool().unwrap() {
            "debug enclave not allowed".to_owned()
        } else {
            "report data does not match the attested data".to_owned()
        };
        assert_eq!(
            verify(&Policy::default(), &req).unwrap_err().to_string(),
            expected,
            "{}",
            v.name
        );
    }
}

#[test]
fn debug_and_status_are_appraised_separately() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "pdo-wawaka-attestation-test")
        .unwrap();
    let req = VerificationRequest {
        evidence: &v.evidence,
        expected_mrenclave: v.str("mrenclave"),
        statement: b"",
        now: v.time(),
    };
    let mut p = permissive();
    p.allow_debug_enclaves = false;
    assert_eq!(verify(&p, &req).unwrap_err(), VerifyError::DebugEnclave);
    let mut p = permissive();
    p.ias_accepted_quote_statuses = ["OK".to_owned(), "SW_HARDENING_NEEDED".to_owned()].into();
    assert_eq!(
        verify(&p, &req).unwrap_err().to_string(),
        "quote status GROUP_OUT_OF_DATE not accepted"
    );
    let wrong = "ab".repeat(32);
    let req2 = VerificationRequest {
        expected_mrenclave: &wrong,
        ..req
    };
    assert_eq!(
        verify(&permissive(), &req2).unwrap_err().to_string(),
        format!(
            "MRENCLAVE mismatch: expected {wrong}, found c9cbf94a42e47705e8c0425ec6d8779294c3681cd6d5a034f1cdb4ae20d4d80a"
        )
    );
    let req3 = VerificationRequest {
        expected_mrenclave: "1.0",
        ..req
    };
    assert!(matches!(
        verify(&permissive(), &req3),
        Err(VerifyError::InvalidExpectedMrenclave(_))
    ));
}

#[test]
fn report_age_is_measured_against_the_transaction_time() {
    for v in vectors() {
        let t = v.time().as_secs();
        let at = |now: i64| VerificationRequest {
            evidence: &v.evidence,
            expected_mrenclave: v.str("mrenclave"),
            statement: b"",
            now: UnixTime::from_secs(now),
        };
        // Exactly the maximum age still passes the age check (and stops at the report data).
        assert_eq!(
            verify(&permissive(), &at(t + 86_400)).unwrap_err(),
            VerifyError::ReportDataMismatch
        );
        assert_eq!(
            verify(&permissive(), &at(t + 86_401))
                .unwrap_err()
                .to_string(),
            "report is 86401 s old, more than the allowed 86400 s"
        );
        assert!(matches!(
            verify(&permissive(), &at(t - 1)).unwrap_err(),
            VerifyError::ReportFromFuture { .. }
        ));
        // Today (2026-11-24, after IAS's shutdown and the signing certificate's expiry): far too old.
        assert!(matches!(
            verify(&permissive(), &at(1_795_478_400)).unwrap_err(),
            VerifyError::ReportTooOld { max: 86_400, .. }
        ));
        // The chain itself is checked at the report time, so it still verifies today.
        assert!(verify_evidence(
            &permissive(),
            &v.evidence,
            UnixTime::from_secs(1_795_478_400)
        )
        .is_ok());
    }
}

fn pdo_parts() -> (String, String, String) {
    let dir = vectors_dir().join("pdo-wawaka-attestation-test");
    let read = |f: &str| test_vectors::read_to_string(dir.join(f));
    let chain =
        test_vectors::read_to_string(vectors_dir().join("Intel_IAS_chain_leaf_then_root.pem"));
    (read("report.json"), read("signature.b64"), chain)
}

fn envelope(evidence_type: &str, report: &str, signature_b64: &str, chain_pem: &str) -> Vec<u8> {
    let inner = serde_json::json!({
        "iasSignature": signature_b64.trim(),
        "iasCertificates": enclave_attestation::test_pki::url_encode_chain(chain_pem),
        "iasReport": report,
    });
    serde_json::json!({"attestation_type": evidence_type, "evidence": inner.to_string()})
        .to_string()
        .into_bytes()
}

#[test]
fn tampered_vectors_are_rejected() {
    let dir = vectors_dir().join("pdo-wawaka-attestation-test");
    let (report, signature, chain) = pdo_parts();
    let now = UnixTime::from_secs(1_531_337_435);
    // Rebuilt from parts, the vector verifies (so the failures below are due to the tampering).
    let good = envelope("epid-linkable", &report, &signature, &chain);
    assert!(verify_evidence(&permissive(), &good, now).is_ok());

    let bad_signature = test_vectors::read_to_string(dir.join("bad_signature.b64"));
    let bad = envelope("epid-linkable", &report, &bad_signature, &chain);
    assert_eq!(
        verify_evidence(&permissive(), &bad, now).unwrap_err(),
        VerifyError::ReportSignature
    );

    let with_newline =
        test_vectors::read_to_string(dir.join("report.committed-with-trailing-newline.json"));
    assert!(with_newline.ends_with('\n'));
    let bad = envelope("epid-linkable", &with_newline, &signature, &chain);
    assert_eq!(
        verify_evidence(&permissive(), &bad, now)
            .unwrap_err()
            .to_string(),
        "IAS report signature does not verify with the report-signing certificate"
    );

    // One changed character of the signed report (the quote status).
    let forged = report.replace("GROUP_OUT_OF_DATE", "OK");
    let bad = envelope("epid-linkable", &forged, &signature, &chain);
    assert_eq!(
        verify_evidence(&permissive(), &bad, now).unwrap_err(),
        VerifyError::ReportSignature
    );

    // Declared unlinkable, quote is linkable.
    let bad = envelope("epid-unlinkable", &report, &signature, &chain);
    assert_eq!(
        verify_evidence(&permissive(), &bad, now).unwrap_err().to_string(),
        "malformed evidence: evidence type epid-unlinkable does not match the quote's signature type 1 (epid-linkable)"
    );

    // Only the signing certificate: still chains to the configured root.
    let leaf = test_vectors::read_to_string(
        vectors_dir().join("Intel_SGX_Attestation_Report_Signing.pem"),
    );
    let leaf_only = envelope("epid-linkable", &report, &signature, &leaf);
    assert!(verify_evidence(&permissive(), &leaf_only, now).is_ok());

    // The root alone is not a signing certificate for this report.
    let root = test_vectors::read_to_string(vectors_dir().join("Intel_SGX_Attestation_RootCA.pem"));
    let bad = envelope("epid-linkable", &report, &signature, &root);
    assert_eq!(
        verify_evidence(&permissive(), &bad, now).unwrap_err(),
        VerifyError::ReportSignature
    );
}

#[test]
fn the_chain_must_lead_to_the_configured_root() {
    let v = vectors().into_iter().next().unwrap();
    let mut p = permissive();
    // Trust Intel's DCAP root instead of the IAS root: the IAS chain does not lead there.
    p.ias_root_ca = enclave_attestation::RootCa::intel_sgx_root();
    match verify_evidence(&p, &v.evidence, v.time()).unwrap_err() {
        VerifyError::CertificateChain(ChainError::UnknownIssuer { root_sha256 }) => {
            assert!(root_sha256.starts_with("44a0196b"))
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn policy_type_gate_comes_first() {
    let v = vectors().into_iter().next().unwrap();
    let mut p = permissive();
    p.accepted_evidence = [EvidenceType::EpidUnlinkable, EvidenceType::Dcap].into();
    assert_eq!(
        verify_evidence(&p, &v.evidence, v.time())
            .unwrap_err()
            .to_string(),
        "evidence type epid-linkable not accepted"
    );
    let sim = br#"{"attestation_type":"simulated","evidence":"MA=="}"#;
    assert_eq!(
        verify_evidence(&Policy::default(), sim, v.time())
            .unwrap_err()
            .to_string(),
        "simulated evidence not accepted by policy"
    );
}

#[test]
fn inspect_shows_the_report_and_quote() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "oasis-avr-v4-sw-hardening-needed")
        .unwrap();
    let json = inspect_evidence(&v.evidence).unwrap();
    assert_eq!(json["attestation_type"], "epid-linkable");
    assert_eq!(json["verified"], false);
    assert_eq!(json["ias"]["isvEnclaveQuoteStatus"], "SW_HARDENING_NEEDED");
    assert_eq!(json["ias"]["timestamp"], "2020-05-11T09:21:15.454051");
    assert_eq!(json["ias"]["timestamp_utc"], "2020-05-11T09:21:15Z");
    assert_eq!(json["ias"]["advisoryIDs"][0], "INTEL-SA-00334");
    assert_eq!(json["ias"]["version"], 4);
    assert_eq!(json["quote"]["mrenclave"], v.str("mrenclave"));
    assert_eq!(json["quote"]["debug"], true);
    assert_eq!(json["ias"]["certificates"].as_array().unwrap().len(), 2);
}
