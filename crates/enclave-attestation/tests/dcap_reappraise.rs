//! Re-appraisal of a registered `dcap` enclave with newer collateral from the DCAP test PKI: the
//! verdict under the policy when Intel re-evaluates the platform, and the refusals (older, foreign,
//! badly signed collateral, non-dcap evidence) that leave nothing to record.

#![allow(clippy::unwrap_used)]

use enclave_attestation::dcap::test_pki::{DcapTestPki, TestTcb};
use enclave_attestation::dcap::{tcb_info_version, TcbInfoVersion};
use enclave_attestation::{
    reappraise, verify, Policy, Reappraisal, ReappraisalRequest, RootCa, UnixTime,
    VerificationRequest, VerifyError,
};

const MRENCLAVE: [u8; 32] = [0x5a; 32];
const MRENCLAVE_HEX: &str = "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A";
const STATEMENT: &[u8] = b"serialized fpc.AttestedData";
const ISSUED: i64 = 1_790_000_000;
const DAY: i64 = 86_400;

fn pki() -> DcapTestPki {
    DcapTestPki::new("dcap-reappraise", ISSUED).unwrap()
}

fn policy_for(pki: &DcapTestPki) -> Policy {
    let mut policy = Policy::default();
    policy.dcap.root_ca = RootCa::from_pem(pki.root_ca_pem().as_bytes(), "test root").unwrap();
    policy
}

/// Registers (verifies) the enclave at `ISSUED + 1 h` and returns its evidence and the TCB info
/// version it was judged under.
fn registered(pki: &DcapTestPki) -> (Vec<u8>, TcbInfoVersion) {
    let evidence = pki.fpc_evidence(MRENCLAVE, STATEMENT).unwrap();
    let verified = verify(
        &policy_for(pki),
        &VerificationRequest {
            evidence: &evidence,
            expected_mrenclave: &hex::encode(MRENCLAVE),
            statement: STATEMENT,
            now: UnixTime::from_secs(ISSUED + 3600),
        },
    )
    .unwrap();
    let applied = verified.claims().tcb_info.unwrap();
    assert_eq!(
        applied,
        tcb_info_version(&pki.collateral().unwrap()).unwrap()
    );
    (evidence, applied)
}

fn request<'a>(
    evidence: &'a [u8],
    applied: TcbInfoVersion,
    collateral: &'a [u8],
) -> ReappraisalRequest<'a> {
    ReappraisalRequest {
        evidence,
        expected_mrenclave: MRENCLAVE_HEX,
        statement: STATEMENT,
        applied,
        collateral,
        now: UnixTime::from_secs(ISSUED + 5 * DAY),
    }
}

#[test]
fn newer_tcb_info_marking_the_platform_out_of_date_turns_the_verdict() {
    let pki = pki();
    let (evidence, applied) = registered(&pki);
    assert_eq!(applied.evaluation_data_number, Some(17));
    let newer = pki
        .reevaluated_collateral(ISSUED + 4 * DAY, 18, TestTcb::UpToDate, "OutOfDate")
        .unwrap()
        .to_json();
    let r = reappraise(
        &policy_for(&pki),
        &request(&evidence, applied, newer.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        r.verdict.unwrap_err().to_string(),
        "TCB status OutOfDate not accepted"
    );
    assert_eq!(r.tcb_info.issue_date, ISSUED + 4 * DAY);
    assert_eq!(r.tcb_info.evaluation_data_number, Some(18));
    assert_eq!(r.claims.unwrap().status.as_deref(), Some("OutOfDate"));

    // The same re-evaluation under a policy that accepts OutOfDate keeps the enclave.
    let mut lenient = policy_for(&pki);
    lenient
        .dcap
        .accepted_tcb_statuses
        .insert("OutOfDate".into());
    let r = reappraise(&lenient, &request(&evidence, applied, newer.as_bytes())).unwrap();
    assert_eq!(r.verdict, Ok(()));

    // Marked Revoked: condemned whatever the policy, with no claims.
    let revoked = pki
        .reevaluated_collateral(ISSUED + 4 * DAY, 18, TestTcb::UpToDate, "Revoked")
        .unwrap()
        .to_json();
    let r = reappraise(&lenient, &request(&evidence, applied, revoked.as_bytes())).unwrap();
    assert_eq!(r.verdict.unwrap_err().to_string(), "TCB status is Revoked");
    assert_eq!(r.claims, None);
}

#[test]
fn older_same_and_foreign_collateral_is_refused() {
    let pki = pki();
    let (evidence, applied) = registered(&pki);
    let policy = policy_for(&pki);
    // The very collateral it registered with: not newer.
    let same = pki.collateral().unwrap().to_json();
    let e = reappraise(&policy, &request(&evidence, applied, same.as_bytes())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "collateral is not newer than the TCB info already applied: issueDate 2026-09-21T14:13:20Z is not after the applied 2026-09-21T14:13:20Z"
    );
    // A later issue date under a lower evaluation number: older.
    let lower = pki
        .reevaluated_collateral(ISSUED + DAY, 16, TestTcb::UpToDate, "UpToDate")
        .unwrap()
        .to_json();
    let e = reappraise(&policy, &request(&evidence, applied, lower.as_bytes())).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("tcbEvaluationDataNumber 16 is lower than the applied 17"),
        "{e}"
    );
    // Another platform's collateral.
    let foreign = TcbInfoVersion {
        fmspc: [1, 2, 3, 4, 5, 6],
        ..applied
    };
    let newer = pki
        .reevaluated_collateral(ISSUED + DAY, 18, TestTcb::UpToDate, "UpToDate")
        .unwrap()
        .to_json();
    let e = reappraise(&policy, &request(&evidence, foreign, newer.as_bytes())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "collateral is for FMSPC 00906ED50000, the enclave's platform is 010203040506"
    );
}

#[test]
fn badly_signed_or_malformed_collateral_and_epid_evidence_are_refused() {
    let pki = pki();
    let (evidence, applied) = registered(&pki);
    let policy = policy_for(&pki);
    let mut forged = pki
        .reevaluated_collateral(ISSUED + DAY, 18, TestTcb::UpToDate, "OutOfDate")
        .unwrap();
    forged.tcb_info = forged.tcb_info.replace("OutOfDate", "UpToDate");
    let forged = forged.to_json();
    let e = reappraise(&policy, &request(&evidence, applied, forged.as_bytes())).unwrap_err();
    assert_eq!(e.to_string(), "TCB info signature invalid");

    // Signed by another test PKI's TCB signer: not under the policy's root.
    let other = DcapTestPki::new("another root", ISSUED).unwrap();
    let foreign_signed = other
        .reevaluated_collateral(ISSUED + DAY, 18, TestTcb::UpToDate, "OutOfDate")
        .unwrap()
        .to_json();
    let e = reappraise(
        &policy,
        &request(&evidence, applied, foreign_signed.as_bytes()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("root"), "{e}");

    let e = reappraise(&policy, &request(&evidence, applied, b"{}")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("invalid dcap evidence: collateral: "),
        "{e}"
    );

    let epid = br#"{"attestation_type":"epid-linkable","evidence":"{}"}"#;
    let newer = pki
        .reevaluated_collateral(ISSUED + DAY, 18, TestTcb::UpToDate, "OutOfDate")
        .unwrap()
        .to_json();
    assert_eq!(
        reappraise(&policy, &request(epid, applied, newer.as_bytes())).unwrap_err(),
        VerifyError::NotReappraisable(enclave_attestation::EvidenceType::EpidLinkable)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Garbage offered as collateral is refused, never a panic or a verdict.
    #[test]
    fn garbage_collateral_is_refused(collateral in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let pki = fixture();
        let r = reappraise(&pki.1, &request(&pki.0, pki.2, &collateral));
        proptest::prop_assert!(r.is_err());
    }

    /// Newer collateral that re-appraises, with one byte changed anywhere: refused, or (a change
    /// that means the same, such as one line break for another in a PEM chain) judged exactly as
    /// the original. Never a panic, never another verdict.
    #[test]
    fn a_changed_byte_of_valid_collateral_changes_no_verdict(
        index in proptest::prelude::any::<proptest::sample::Index>(),
        byte in proptest::prelude::any::<u8>(),
    ) {
        let pki = fixture();
        let (original, newer) = &pki.3;
        let mut changed = newer.clone();
        let i = index.index(changed.len());
        proptest::prop_assume!(changed[i] != byte);
        changed[i] = byte;
        if let Ok(r) = reappraise(&pki.1, &request(&pki.0, pki.2, &changed)) {
            proptest::prop_assert_eq!(&r, original, "byte {} changed to {:#04x}", i, byte);
        }
    }
}

/// The fixture's registered enclave, its policy, the TCB info it was judged under, and newer
/// collateral (with the verdict it gives).
type Fixture = (Vec<u8>, Policy, TcbInfoVersion, (Reappraisal, Vec<u8>));

/// One registered enclave shared by the property tests' cases (the test PKI takes a while).
fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let pki = pki();
        let (evidence, applied) = registered(&pki);
        let policy = policy_for(&pki);
        let newer = pki
            .reevaluated_collateral(ISSUED + 4 * DAY, 18, TestTcb::UpToDate, "OutOfDate")
            .unwrap()
            .to_json()
            .into_bytes();
        let verdict = reappraise(&policy, &request(&evidence, applied, &newer)).unwrap();
        (evidence, policy, applied, (verdict, newer))
    })
}
