//! EPID evidence signed by the runtime test PKI, bound to a real statement: the full verification
//! succeeds, and each policy check rejects with its precise reason.

use enclave_attestation::test_pki::{evidence_from_parts, IasTestPki, ReportSpec};
use enclave_attestation::{
    inspect_evidence, verify, ChainError, EvidenceType, Policy, UnixTime, VerificationRequest,
    VerifyError,
};

const MRENCLAVE: [u8; 32] = [0x4d; 32];
const STATEMENT: &[u8] = b"\x0a\x20serialized fpc.AttestedData bytes";
/// 2026-11-24T00:00:00Z.
const T: i64 = 1_795_478_400;

fn pki() -> &'static IasTestPki {
    IasTestPki::shared()
}

fn spec() -> ReportSpec {
    ReportSpec::new(MRENCLAVE, STATEMENT, UnixTime::from_secs(T))
}

fn check(policy: &Policy, evidence: &[u8], now: i64) -> Result<(), VerifyError> {
    let mrenclave = hex::encode_upper(MRENCLAVE);
    verify(
        policy,
        &VerificationRequest {
            evidence,
            expected_mrenclave: &mrenclave,
            statement: STATEMENT,
            now: UnixTime::from_secs(now),
        },
    )
    .map(|_| ())
}

#[test]
fn a_well_formed_report_is_accepted() {
    let policy = pki().policy().unwrap();
    for linkable in [true, false] {
        let mut s = spec();
        s.linkable = linkable;
        let evidence = pki().evidence(&s).unwrap();
        let verified = verify(
            &policy,
            &VerificationRequest {
                evidence: &evidence,
                expected_mrenclave: &hex::encode(MRENCLAVE),
                statement: STATEMENT,
                now: UnixTime::from_secs(T + 60),
            },
        )
        .unwrap();
        let claims = verified.claims();
        let expected_type = if linkable {
            EvidenceType::EpidLinkable
        } else {
            EvidenceType::EpidUnlinkable
        };
        assert_eq!(verified.evidence_type(), expected_type);
        assert_eq!(claims.issued_at, Some(UnixTime::from_secs(T)));
        assert_eq!(claims.status.as_deref(), Some("OK"));
        let enclave = claims.enclave.as_ref().unwrap();
        assert_eq!(enclave.mrenclave, MRENCLAVE);
        assert!(!enclave.debug);
        let json = claims.to_json();
        assert_eq!(json["enclave"]["mrenclave"], hex::encode(MRENCLAVE));
        assert_eq!(json["issued_at"], "2026-11-24T00:00:00Z");
        assert_eq!(json["evidence_type"], expected_type.as_str());
    }
}

#[test]
fn the_default_intel_root_does_not_trust_the_test_pki() {
    let evidence = pki().evidence(&spec()).unwrap();
    assert!(matches!(
        check(&Policy::default(), &evidence, T),
        Err(VerifyError::CertificateChain(
            ChainError::UnknownIssuer { .. }
        ))
    ));
}

#[test]
fn policy_checks_reject_with_precise_reasons() {
    let policy = pki().policy().unwrap();
    let reason = |s: ReportSpec, now: i64| {
        check(&policy, &pki().evidence(&s).unwrap(), now)
            .unwrap_err()
            .to_string()
    };

    let mut s = spec();
    s.mrenclave = [0x11; 32];
    assert_eq!(
        reason(s, T),
        format!(
            "MRENCLAVE mismatch: expected {}, found {}",
            hex::encode(MRENCLAVE),
            hex::encode([0x11; 32])
        )
    );

    let s = ReportSpec::new(MRENCLAVE, b"another statement", UnixTime::from_secs(T));
    assert_eq!(reason(s, T), "report data does not match the attested data");

    // Right hash, but the second half of the report data is not zero.
    let mut s = spec();
    s.report_data[63] = 1;
    assert_eq!(reason(s, T), "report data does not match the attested data");

    let mut s = spec();
    s.debug = true;
    assert_eq!(reason(s, T), "debug enclave not allowed");

    for status in [
        "GROUP_REVOKED",
        "GROUP_OUT_OF_DATE",
        "SIGNATURE_INVALID",
        "SOMETHING_NEW",
    ] {
        let mut s = spec();
        s.quote_status = status.into();
        assert_eq!(reason(s, T), format!("quote status {status} not accepted"));
    }

    assert_eq!(
        reason(spec(), T + 86_401),
        "report is 86401 s old, more than the allowed 86400 s"
    );
    assert_eq!(
        reason(spec(), T - 10),
        "report was issued at 2026-11-24T00:00:00Z, after the transaction time 2026-11-23T23:59:50Z"
    );

    let mut p = policy.clone();
    p.max_report_age = 10;
    let evidence = pki().evidence(&spec()).unwrap();
    assert_eq!(
        check(&p, &evidence, T + 11).unwrap_err().to_string(),
        "report is 11 s old, more than the allowed 10 s"
    );
    assert_eq!(check(&p, &evidence, T + 10), Ok(()));
}

#[test]
fn permissive_settings_admit_what_they_name() {
    let mut policy = pki().policy().unwrap();
    policy.allow_debug_enclaves = true;
    policy
        .ias_accepted_quote_statuses
        .insert("SW_HARDENING_NEEDED".into());
    let mut s = spec();
    s.debug = true;
    s.quote_status = "SW_HARDENING_NEEDED".into();
    s.advisory_ids = vec!["INTEL-SA-00334".into()];
    assert_eq!(check(&policy, &pki().evidence(&s).unwrap(), T), Ok(()));
}

#[test]
fn the_signing_certificate_must_be_valid_at_the_report_time() {
    // Signing certificate valid 2020-01-01 .. 2025-01-01.
    let (nb, na) = (1_577_836_800, 1_735_689_600);
    let pki = IasTestPki::with_signing_validity(UnixTime::from_secs(nb), UnixTime::from_secs(na))
        .unwrap();
    let mut policy = pki.policy().unwrap();
    policy.max_report_age = u64::MAX;
    let at = |t: i64| {
        let s = ReportSpec::new(MRENCLAVE, STATEMENT, UnixTime::from_secs(t));
        check(&policy, &pki.evidence(&s).unwrap(), T)
    };
    // Inside the window: accepted, even though the certificate has expired by the transaction time.
    assert_eq!(at(na - 1), Ok(()));
    assert_eq!(at(nb), Ok(()));
    assert_eq!(
        at(na + 1).unwrap_err().to_string(),
        "certificate chain: a certificate expired at 2025-01-01T00:00:00Z, not valid at 2025-01-01T00:00:01Z"
    );
    assert_eq!(
        at(nb - 1).unwrap_err().to_string(),
        "certificate chain: a certificate is valid only from 2020-01-01T00:00:00Z, not valid at 2019-12-31T23:59:59Z"
    );
}

#[test]
fn a_different_root_is_not_trusted() {
    let other = IasTestPki::other_root().unwrap();
    let evidence = other.evidence(&spec()).unwrap();
    // Same subject names, different keys: the path does not verify under the configured root.
    let err = check(&pki().policy().unwrap(), &evidence, T).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::CertificateChain(
                ChainError::BadSignature | ChainError::UnknownIssuer { .. }
            )
        ),
        "{err}"
    );
    // And it verifies under its own root.
    assert_eq!(check(&other.policy().unwrap(), &evidence, T), Ok(()));
}

#[test]
fn a_chain_with_a_foreign_root_copy_still_needs_the_configured_root() {
    // Evidence carrying the other root in its chain (as IAS put its root there): the copy is not
    // trusted just because it is present.
    let other = IasTestPki::other_root().unwrap();
    let s = spec();
    let report = s.report_json();
    let sig = other.sign(report.as_bytes()).unwrap();
    let evidence = evidence_from_parts(s.evidence_type(), &report, &sig, &other.chain_pem());
    assert!(matches!(
        check(&pki().policy().unwrap(), &evidence, T),
        Err(VerifyError::CertificateChain(_))
    ));
}

#[test]
fn simulated_evidence_needs_the_policy() {
    let sim = br#"{"attestation_type":"simulated","evidence":"MA=="}"#;
    let mut policy = Policy::default();
    assert_eq!(
        check(&policy, sim, T).unwrap_err().to_string(),
        "simulated evidence not accepted by policy"
    );
    policy.accepted_evidence.insert(EvidenceType::Simulated);
    assert_eq!(check(&policy, sim, T), Ok(()));
    assert_eq!(inspect_evidence(sim).unwrap()["evidence"], "MA==");
}
