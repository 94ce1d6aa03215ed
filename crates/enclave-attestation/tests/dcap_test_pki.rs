//! The DCAP test PKI produces evidence that `dcap::verify` accepts under the test root (and only
//! there), bound to the chosen enclave and statement; revocation, expiry and TCB levels behave.

use enclave_attestation::dcap::test_pki::{
    DcapTestPki, QuoteParams, TestTcb, ATTRIBUTES_DEBUG, TEST_FMSPC,
};
use enclave_attestation::dcap::{self, DcapError, DcapEvidence};
use sha2::{Digest, Sha256};

const T0: i64 = 1_780_000_000; // 2026-05-28

fn params(version: u16) -> QuoteParams {
    QuoteParams {
        version,
        ..QuoteParams::for_statement([0xab; 32], b"attested data")
    }
}

#[test]
fn accepted_under_the_test_root_v3_and_v4() {
    let pki = DcapTestPki::new("accept", T0).unwrap();
    let (from, to) = pki.validity_window();
    for version in [3, 4] {
        let ev = pki.evidence(&params(version)).unwrap();
        // Round trip through the JSON format, as the registry sees it.
        let ev = DcapEvidence::parse(ev.to_json().as_bytes()).unwrap();
        for now in [from, from + 3600, to] {
            let v = dcap::verify(&ev, &pki.root_ca_der(), now).unwrap();
            assert_eq!(v.tcb_status, "UpToDate");
            assert!(v.advisory_ids.is_empty());
            assert_eq!(v.mrenclave, [0xab; 32]);
            assert_eq!(&v.report_data[..32], &Sha256::digest(b"attested data")[..]);
            assert_eq!(v.report_data[32..], [0u8; 32]);
            assert!(!v.debug);
            assert_eq!(v.fmspc, TEST_FMSPC);
            assert_eq!(v.quote_version, version);
            assert_eq!(
                (v.collateral_not_before, v.collateral_not_after),
                (from, to)
            );
        }
    }
}

#[test]
fn deterministic() {
    let a = DcapTestPki::new("same", T0)
        .unwrap()
        .evidence(&params(3))
        .unwrap();
    let b = DcapTestPki::new("same", T0)
        .unwrap()
        .evidence(&params(3))
        .unwrap();
    assert_eq!(a, b);
    let c = DcapTestPki::new("other", T0)
        .unwrap()
        .evidence(&params(3))
        .unwrap();
    assert_ne!(a.quote, c.quote);
}

#[test]
fn rejected_under_the_wrong_root() {
    let pki = DcapTestPki::new("accept", T0).unwrap();
    let ev = pki.evidence(&params(3)).unwrap();
    let other = DcapTestPki::new("someone else", T0).unwrap();
    let e = dcap::verify(&ev, &other.root_ca_der(), T0).unwrap_err();
    assert_eq!(
        e,
        DcapError::UntrustedRoot {
            what: "PCK certificate chain"
        }
    );
    assert_eq!(
        e.to_string(),
        "PCK certificate chain does not lead to the trusted root CA"
    );
    // And the real Intel root does not accept test evidence either.
    let e = dcap::verify(&ev, dcap::INTEL_SGX_ROOT_CA_DER, T0).unwrap_err();
    assert!(matches!(e, DcapError::UntrustedRoot { .. }), "{e}");
}

#[test]
fn revoked_pck_rejected() {
    let pki = DcapTestPki::new("revoked", T0)
        .unwrap()
        .with_revoked_pck(true)
        .unwrap();
    let e = dcap::verify(&pki.evidence(&params(3)).unwrap(), &pki.root_ca_der(), T0).unwrap_err();
    assert_eq!(
        e,
        DcapError::Revoked {
            what: "PCK certificate"
        }
    );
    assert_eq!(e.to_string(), "PCK certificate revoked");
}

#[test]
fn expired_and_not_yet_valid_collateral_rejected() {
    let pki = DcapTestPki::new("expiry", T0)
        .unwrap()
        .with_validity(86_400)
        .unwrap();
    let ev = pki.evidence(&params(3)).unwrap();
    let root = pki.root_ca_der();
    let e = dcap::verify(&ev, &root, T0 + 86_401).unwrap_err();
    assert!(
        matches!(
            e,
            DcapError::CrlExpired {
                what: "root CA CRL",
                ..
            }
        ),
        "{e}"
    );
    let e = dcap::verify(&ev, &root, T0 - 1).unwrap_err();
    assert!(matches!(e, DcapError::CrlNotYetValid { .. }), "{e}");
    // Ten years on, the certificates themselves have expired.
    let e = dcap::verify(&ev, &root, T0 + 11 * 365 * 86_400).unwrap_err();
    assert!(
        matches!(
            e,
            DcapError::CertificateExpired {
                what: "root CA certificate",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn tcb_levels_and_advisories() {
    for (tcb, status, adv) in [
        (
            TestTcb::SwHardeningNeeded,
            "SWHardeningNeeded",
            vec!["INTEL-SA-00615"],
        ),
        (
            TestTcb::OutOfDate,
            "OutOfDate",
            vec!["INTEL-SA-00289", "INTEL-SA-00615"],
        ),
    ] {
        let pki = DcapTestPki::new("tcb", T0).unwrap().with_tcb(tcb).unwrap();
        let v = dcap::verify(&pki.evidence(&params(3)).unwrap(), &pki.root_ca_der(), T0).unwrap();
        assert_eq!(v.tcb_status, status);
        assert_eq!(v.advisory_ids, adv);
    }
    let pki = DcapTestPki::new("tcb", T0)
        .unwrap()
        .with_tcb(TestTcb::Revoked)
        .unwrap();
    let e = dcap::verify(&pki.evidence(&params(3)).unwrap(), &pki.root_ca_der(), T0).unwrap_err();
    assert_eq!(e, DcapError::TcbRevoked);
}

#[test]
fn debug_enclave_is_reported_not_judged() {
    let pki = DcapTestPki::new("debug", T0).unwrap();
    let p = QuoteParams {
        attributes: ATTRIBUTES_DEBUG,
        ..params(3)
    };
    let v = dcap::verify(&pki.evidence(&p).unwrap(), &pki.root_ca_der(), T0).unwrap();
    assert!(v.debug);
}

#[test]
fn fpc_evidence_envelope() {
    let pki = DcapTestPki::new("fpc", T0).unwrap();
    let bytes = pki.fpc_evidence([7; 32], b"statement").unwrap();
    let outer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(outer["attestation_type"], "dcap");
    let ev = DcapEvidence::parse(outer["evidence"].as_str().unwrap().as_bytes()).unwrap();
    let v = dcap::verify(&ev, &pki.root_ca_der(), T0).unwrap();
    assert_eq!(v.mrenclave, [7; 32]);
    let info = dcap::inspect(&ev);
    assert_eq!(info["tcb_status"], "UpToDate");
    assert_eq!(info["mrenclave"], hex::encode([7u8; 32]));
    assert_eq!(info["fmspc"], "00906ED50000");
}

#[test]
fn collateral_request_from_quote() {
    let pki = DcapTestPki::new("req", T0).unwrap();
    let r = dcap::collateral_request(&pki.quote(&params(4))).unwrap();
    assert_eq!(r.fmspc, TEST_FMSPC);
    assert_eq!(r.pck_ca, dcap::PckCa::Processor);
}

/// Re-signed collateral that disagrees with the quote: rejected with a precise reason.
#[test]
fn signed_but_mismatching_collateral() {
    let pki = DcapTestPki::new("mismatch", T0).unwrap();
    let ev = pki.evidence(&params(3)).unwrap();
    let root = pki.root_ca_der();
    let with_tcb_info = |from: &str, to: &str| {
        let mut t = ev.clone();
        t.collateral.tcb_info = t.collateral.tcb_info.replacen(from, to, 1);
        assert_ne!(t.collateral.tcb_info, ev.collateral.tcb_info, "{from}");
        t.collateral.tcb_info_signature = pki.sign_collateral_json(&t.collateral.tcb_info);
        dcap::verify(&t, &root, T0).unwrap_err().to_string()
    };
    assert_eq!(
        with_tcb_info("\"fmspc\":\"00906ED50000\"", "\"fmspc\":\"00A067110000\""),
        "collateral does not match the quote: TCB info is for FMSPC 00A067110000, the PCK certificate has 00906ED50000"
    );
    assert_eq!(
        with_tcb_info("\"pceId\":\"0000\"", "\"pceId\":\"0100\""),
        "collateral does not match the quote: TCB info is for PCE-ID 0100, the PCK certificate has 0000"
    );
    assert_eq!(
        with_tcb_info("\"id\":\"SGX\"", "\"id\":\"TDX\""),
        "invalid TCB info: id \"TDX\" version 3 is not SGX TCB info version 3"
    );
    // Only levels above the platform's: no level matches.
    let mut t = ev.clone();
    let mut info: serde_json::Value = serde_json::from_str(&t.collateral.tcb_info).unwrap();
    info["tcbLevels"].as_array_mut().unwrap().truncate(0);
    t.collateral.tcb_info = info.to_string();
    t.collateral.tcb_info_signature = pki.sign_collateral_json(&t.collateral.tcb_info);
    assert_eq!(
        dcap::verify(&t, &root, T0).unwrap_err().to_string(),
        "no TCB level matches the platform (PCK certificate TCB)"
    );
    // TCB info expired while the CRLs are still current.
    let early_next = dcap_time(T0 + 10);
    let next_field = format!("\"nextUpdate\":\"{}\"", dcap_time(T0 + 30 * 86_400));
    let new_field = format!("\"nextUpdate\":\"{early_next}\"");
    let mut t = ev.clone();
    t.collateral.tcb_info = t.collateral.tcb_info.replacen(&next_field, &new_field, 1);
    t.collateral.tcb_info_signature = pki.sign_collateral_json(&t.collateral.tcb_info);
    assert!(dcap::verify(&t, &root, T0 + 10).is_ok());
    assert_eq!(
        dcap::verify(&t, &root, T0 + 11).unwrap_err().to_string(),
        format!("collateral expired at {early_next}: TCB info next update passed (verification time {})", dcap_time(T0 + 11))
    );
    // A QE identity for another quoting enclave.
    let mut t = ev.clone();
    t.collateral.qe_identity =
        t.collateral
            .qe_identity
            .replacen("\"isvprodid\":1", "\"isvprodid\":2", 1);
    t.collateral.qe_identity_signature = pki.sign_collateral_json(&t.collateral.qe_identity);
    assert_eq!(
        dcap::verify(&t, &root, T0).unwrap_err().to_string(),
        "quoting enclave not accepted by the QE identity: ISVPRODID 1 is not 2"
    );
    let mut t = ev.clone();
    t.collateral.qe_identity = t
        .collateral
        .qe_identity
        .replacen("\"isvsvn\":8", "\"isvsvn\":9", 1);
    t.collateral.qe_identity_signature = pki.sign_collateral_json(&t.collateral.qe_identity);
    let v = dcap::verify(&t, &root, T0).unwrap();
    assert_eq!(
        (v.tcb_status.as_str(), v.advisory_ids.as_slice()),
        ("OutOfDate", ["INTEL-SA-00615".to_string()].as_slice())
    );
}

#[test]
fn v4_bit_flips_rejected() {
    let pki = DcapTestPki::new("v4 flips", T0).unwrap();
    let ev = pki.evidence(&params(4)).unwrap();
    dcap::verify(&ev, &pki.root_ca_der(), T0).unwrap();
    for i in (0..ev.quote.len()).step_by(13) {
        let mut t = ev.clone();
        t.quote[i] ^= 1 << (i % 8);
        dcap::verify(&t, &pki.root_ca_der(), T0)
            .expect_err(&format!("flip at v4 quote byte {i} accepted"));
    }
}

fn dcap_time(t: i64) -> String {
    // The same RFC 3339 form Intel (and the test PKI) write.
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        yoe + era * 400 + i64::from(m <= 2),
        m,
        doy - (153 * mp + 2) / 5 + 1,
    )
}

#[test]
fn a_leaf_is_no_trust_anchor() {
    let pki = DcapTestPki::new("anchor", T0).unwrap();
    let ev = pki.evidence(&params(3)).unwrap();
    // The TCB signing certificate (first of its issuer chain) is not a CA.
    let chain = &ev.collateral.tcb_info_issuer_chain;
    let end = chain.find("-----END CERTIFICATE-----").unwrap() + 25;
    let leaf = dcap::root_ca_der_from_pem(&chain.as_bytes()[..end]).unwrap();
    let e = dcap::verify(&ev, &leaf, T0).unwrap_err();
    assert_eq!(e.to_string(), "invalid root CA certificate: not a CA");
}
