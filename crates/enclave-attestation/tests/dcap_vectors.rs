//! `dcap::verify` and `dcap::inspect` on the real SGX quote and collateral shipped with dcap-qvl
//! 0.7.1 (the `dcap` vectors of `test-vectors`): accepted inside the collateral's validity window, rejected
//! outside it and on any tampering, with a precise reason; never a panic.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use enclave_attestation::dcap::{self, Collateral, DcapError, DcapEvidence};

fn vectors() -> PathBuf {
    test_vectors::path("dcap")
}

fn root() -> Vec<u8> {
    test_vectors::read(vectors().join("Intel_SGX_Root_CA.der"))
}

fn sgx_evidence() -> DcapEvidence {
    let dir = vectors().join("dcap-qvl-0.7.1-sample");
    let quote = test_vectors::read(dir.join("sgx_quote"));
    let collateral =
        Collateral::parse_json(&test_vectors::read(dir.join("sgx_quote_collateral.json"))).unwrap();
    DcapEvidence { quote, collateral }
}

/// The window in which dcap-qvl 0.7.1 accepts the sample (see the vectors' README).
const FIRST: i64 = 1_750_330_571; // 2025-06-19T10:56:11Z, TCB info issueDate
const LAST: i64 = 1_752_919_278; // 2025-07-19T10:01:18Z, QE identity nextUpdate

#[test]
fn embedded_root_is_the_vectors_root() {
    assert_eq!(dcap::INTEL_SGX_ROOT_CA_DER, root().as_slice());
}

#[test]
fn real_sgx_quote_verifies_inside_its_window() {
    let ev = sgx_evidence();
    for now in [FIRST, 1_751_624_924, LAST] {
        let v = dcap::verify(&ev, &root(), now).unwrap();
        assert_eq!(v.tcb_status, "ConfigurationAndSWHardeningNeeded");
        assert_eq!(v.advisory_ids, ["INTEL-SA-00289", "INTEL-SA-00615"]);
        assert_eq!(
            hex::encode(v.mrenclave),
            "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
        );
        assert_eq!(
            hex::encode(v.mrsigner),
            "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
        );
        assert_eq!((v.isv_prod_id, v.isv_svn, v.debug), (0, 0, false));
        let mut rd = [0u8; 64];
        rd[..13].copy_from_slice(b"Hello, world!");
        assert_eq!(v.report_data, rd);
        assert_eq!(hex::encode_upper(v.fmspc), "00A067110000");
        assert_eq!(
            (v.collateral_not_before, v.collateral_not_after),
            (FIRST, LAST)
        );
        assert_eq!(v.quote_version, 3);
    }
}

#[test]
fn real_sgx_quote_rejected_outside_its_window() {
    let ev = sgx_evidence();
    let e = dcap::verify(&ev, &root(), FIRST - 1).unwrap_err();
    assert!(
        matches!(
            e,
            DcapError::CollateralNotYetValid {
                what: "TCB info",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "collateral not yet valid: TCB info issued at 2025-06-19T10:56:11Z (verification time 2025-06-19T10:56:10Z)"
    );
    let e = dcap::verify(&ev, &root(), LAST + 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "collateral expired at 2025-07-19T10:01:18Z: QE identity next update passed (verification time 2025-07-19T10:01:19Z)"
    );
    // Today (well after every nextUpdate) the first stale item is the root CA CRL.
    let e = dcap::verify(&ev, &root(), 1_795_000_000).unwrap_err();
    assert!(matches!(e, DcapError::CrlExpired { .. }), "{e}");
    assert!(e.to_string().starts_with("root CA CRL expired at "), "{e}");
}

#[test]
fn root_crl_url_of_intel_chain() {
    let ev = sgx_evidence();
    assert_eq!(
        dcap::root_crl_url(&ev.collateral.qe_identity_issuer_chain).as_deref(),
        Some("https://certificates.trustedservices.intel.com/IntelSGXRootCA.der")
    );
    assert_eq!(dcap::root_crl_url("garbage"), None);
}

#[test]
fn root_ca_from_pem() {
    let pem = test_vectors::read(vectors().join("Intel_SGX_Root_CA.pem"));
    assert_eq!(dcap::root_ca_der_from_pem(&pem).unwrap(), root());
    let two = [pem.clone(), pem.clone()].concat();
    assert!(dcap::root_ca_der_from_pem(&two).is_err());
    assert!(dcap::root_ca_der_from_pem(b"nonsense").is_err());
    let commented = [
        b"subject=CN=Intel SGX Root CA\n".as_slice(),
        &pem_crlf(&pem),
    ]
    .concat();
    assert_eq!(dcap::root_ca_der_from_pem(&commented).unwrap(), root());
}

fn pem_crlf(pem: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(pem)
        .replace('\n', " \r\n")
        .into_bytes()
}

#[test]
fn each_signature_of_the_real_sample_is_checked_once() {
    let (verified, checks) = dcap::verify_recording(&sgx_evidence(), &root(), 1_751_624_924);
    verified.unwrap();
    // quote, QE report, PCK certificate, PCK CA, both CRLs, TCB signing certificate, TCB info,
    // QE identity: the root CA CRL serves two paths but is checked once.
    assert_eq!(
        checks.len(),
        9,
        "{:?}",
        checks.iter().map(|c| c.what).collect::<Vec<_>>()
    );
    for (i, a) in checks.iter().enumerate() {
        assert!(a.verify(), "check {i} ({}) does not replay", a.what);
        assert!(
            !checks[..i].iter().any(|b| b.same_as(a)),
            "check {i} ({}) repeated",
            a.what
        );
    }
}
