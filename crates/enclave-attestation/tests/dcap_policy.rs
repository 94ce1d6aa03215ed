//! `dcap` evidence through the common entry point: the DCAP verifier plugged into dispatch and the
//! DCAP part of the policy (trust anchor, TCB statuses, debug, MRENCLAVE, report data) applied by
//! the common appraisal.

use enclave_attestation::dcap::test_pki::{DcapTestPki, QuoteParams, TestTcb, ATTRIBUTES_DEBUG};
use enclave_attestation::{verify, Policy, RootCa, UnixTime, VerificationRequest};

const MRENCLAVE: [u8; 32] = [0x5a; 32];
const STATEMENT: &[u8] = b"serialized fpc.AttestedData";
const ISSUED: i64 = 1_790_000_000;

fn policy_for(pki: &DcapTestPki) -> Policy {
    let mut policy = Policy::default();
    policy.dcap.root_ca =
        RootCa::from_pem(pki.root_ca_pem().as_bytes(), "test root").expect("test root parses");
    policy
}

fn check(policy: &Policy, evidence: &[u8], mrenclave: [u8; 32]) -> Result<(), String> {
    verify(
        policy,
        &VerificationRequest {
            evidence,
            expected_mrenclave: &hex::encode_upper(mrenclave),
            statement: STATEMENT,
            now: UnixTime::from_secs(ISSUED + 3600),
        },
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[test]
fn test_pki_dcap_evidence_passes_verify_and_appraisal() {
    let pki = DcapTestPki::new("dcap-policy", ISSUED).expect("pki");
    let evidence = pki.fpc_evidence(MRENCLAVE, STATEMENT).expect("evidence");
    assert_eq!(check(&policy_for(&pki), &evidence, MRENCLAVE), Ok(()));
}

#[test]
fn default_policy_trusts_only_intel_root() {
    let pki = DcapTestPki::new("dcap-policy", ISSUED).expect("pki");
    let evidence = pki.fpc_evidence(MRENCLAVE, STATEMENT).expect("evidence");
    let err = check(&Policy::default(), &evidence, MRENCLAVE).unwrap_err();
    assert!(err.contains("root"), "{err}");
}

#[test]
fn appraisal_rejects_wrong_mrenclave_statement_and_debug() {
    let pki = DcapTestPki::new("dcap-policy", ISSUED).expect("pki");
    let policy = policy_for(&pki);
    let evidence = pki.fpc_evidence(MRENCLAVE, STATEMENT).expect("evidence");
    let err = check(&policy, &evidence, [0x11; 32]).unwrap_err();
    assert!(err.starts_with("MRENCLAVE mismatch: expected "), "{err}");

    let other = pki
        .fpc_evidence(MRENCLAVE, b"other statement")
        .expect("evidence");
    assert_eq!(
        check(&policy, &other, MRENCLAVE).unwrap_err(),
        "report data does not match the attested data"
    );

    let mut params = QuoteParams::for_statement(MRENCLAVE, STATEMENT);
    params.attributes = ATTRIBUTES_DEBUG;
    let debug = pki
        .evidence(&params)
        .expect("evidence")
        .to_fpc_evidence()
        .into_bytes();
    assert_eq!(
        check(&policy, &debug, MRENCLAVE).unwrap_err(),
        "debug enclave not allowed"
    );
}

#[test]
fn tcb_status_must_be_accepted_by_policy() {
    let pki = DcapTestPki::new("dcap-policy", ISSUED)
        .and_then(|p| p.with_tcb(TestTcb::SwHardeningNeeded))
        .expect("pki");
    let mut policy = policy_for(&pki);
    let evidence = pki.fpc_evidence(MRENCLAVE, STATEMENT).expect("evidence");
    assert_eq!(
        check(&policy, &evidence, MRENCLAVE).unwrap_err(),
        "TCB status SWHardeningNeeded not accepted"
    );
    policy
        .dcap
        .accepted_tcb_statuses
        .insert("SWHardeningNeeded".to_string());
    assert_eq!(check(&policy, &evidence, MRENCLAVE), Ok(()));
}
