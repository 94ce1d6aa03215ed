//! Cost of verifying one EPID evidence against the raw RSA signature checks it contains (the
//! report-signing certificate's signature under the root, and the report signature), measured in
//! the same run. Target: ratio under 1.5 (parsing, decoding and appraisal cost less than half of
//! the unavoidable cryptography).
//!
//! Run: `cargo bench -p enclave-attestation --bench epid --features test-pki`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use enclave_attestation::test_pki::{IasTestPki, ReportSpec};
use enclave_attestation::{
    verify, Policy, UnixTime, VerificationRequest, VerifyError, ACCEPTABLE_IAS_QUOTE_STATUSES,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm};

/// The signature algorithm IAS uses for both signatures (RSASSA-PKCS1-v1_5 SHA-256).
static RSA_SHA256: &dyn SignatureVerificationAlgorithm = webpki::ring::RSA_PKCS1_2048_8192_SHA256;

/// Minimal DER reading for the benchmark's setup only (outside the timed loops): the parts of a
/// certificate the raw signature checks need.
mod der {
    /// Splits one TLV off `input`: (tag, whole TLV, contents, rest).
    pub fn tlv(input: &[u8]) -> (u8, &[u8], &[u8], &[u8]) {
        let tag = input[0];
        let (len, header) = match input[1] {
            n if n < 0x80 => (usize::from(n), 2),
            0x81 => (usize::from(input[2]), 3),
            0x82 => (usize::from(input[2]) << 8 | usize::from(input[3]), 4),
            _ => panic!("unsupported DER length"),
        };
        (
            tag,
            &input[..header + len],
            &input[header..header + len],
            &input[header + len..],
        )
    }

    /// (tbsCertificate TLV, signature bytes, subjectPublicKey bytes) of a certificate.
    pub fn certificate_parts(cert: &[u8]) -> (&[u8], &[u8], &[u8]) {
        let (_, _, cert, _) = tlv(cert);
        let (_, tbs, tbs_contents, rest) = tlv(cert);
        let (_, _, _, rest) = tlv(rest); // signatureAlgorithm
        let (_, _, signature, _) = tlv(rest);
        let mut fields = tbs_contents;
        let (tag, _, _, rest) = tlv(fields);
        if tag == 0xa0 {
            fields = rest; // explicit version
        }
        // serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo.
        for _ in 0..5 {
            fields = tlv(fields).3;
        }
        let (_, _, spki, _) = tlv(fields);
        let (_, _, _, rest) = tlv(spki); // algorithm
        let (_, _, public_key, _) = tlv(rest);
        (tbs, &signature[1..], &public_key[1..])
    }
}

/// Fastest of `rounds` timings of `iters` calls, per call: on a shared machine, load only ever
/// adds time, so the minimum is the best estimate of the work itself.
fn measure(rounds: usize, iters: u32, mut f: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed() / iters
        })
        .collect();
    samples.sort();
    samples[0]
}

struct Case {
    name: &'static str,
    policy: Policy,
    evidence: Vec<u8>,
    mrenclave: String,
    statement: Vec<u8>,
    now: UnixTime,
    expect: Result<(), VerifyError>,
    /// (message, signature, signer's subjectPublicKey) of each RSA check the evidence contains.
    raw: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
}

fn raw_checks(
    chain_pem: &[u8],
    root_der: &[u8],
    report: &[u8],
    report_sig: &[u8],
) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let leaf = CertificateDer::pem_slice_iter(chain_pem)
        .next()
        .unwrap()
        .unwrap();
    let (leaf_tbs, leaf_sig, leaf_key) = der::certificate_parts(leaf.as_ref());
    let (_, _, root_key) = der::certificate_parts(root_der);
    let checks = vec![
        (leaf_tbs.to_vec(), leaf_sig.to_vec(), root_key.to_vec()),
        (report.to_vec(), report_sig.to_vec(), leaf_key.to_vec()),
    ];
    for (msg, sig, key) in &checks {
        RSA_SHA256
            .verify_signature(key, msg, sig)
            .expect("raw check must pass");
    }
    checks
}

fn intel_case() -> Case {
    let dir = test_vectors::path("ias");
    let v = dir.join("pdo-wawaka-attestation-test");
    let mut policy = Policy::default();
    policy.ias_accepted_quote_statuses = ACCEPTABLE_IAS_QUOTE_STATUSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    policy.allow_debug_enclaves = true;
    let report = test_vectors::read(v.join("report.json"));
    let sig = STANDARD
        .decode(test_vectors::read_to_string(v.join("signature.b64")).trim())
        .unwrap();
    let chain = test_vectors::read(dir.join("Intel_IAS_chain_leaf_then_root.pem"));
    Case {
        name: "Intel IAS vector (pdo-wawaka), RSA-3072 root, RSA-2048 signing key",
        raw: raw_checks(&chain, policy.ias_root_ca.der(), &report, &sig),
        policy,
        evidence: test_vectors::read(v.join("fpc_evidence.json")),
        mrenclave: "C9CBF94A42E47705E8C0425EC6D8779294C3681CD6D5A034F1CDB4AE20D4D80A".into(),
        // The real statement is unknown: every check runs, and the last (report data) fails.
        statement: b"unknown".to_vec(),
        now: UnixTime::from_secs(1_531_337_435),
        expect: Err(VerifyError::ReportDataMismatch),
    }
}

fn test_pki_case() -> Case {
    let pki = IasTestPki::shared();
    let statement = b"serialized fpc.AttestedData".to_vec();
    let now = UnixTime::from_secs(1_795_478_400);
    let spec = ReportSpec::new([0x4d; 32], &statement, now);
    let report = spec.report_json();
    let sig = pki.sign(report.as_bytes()).unwrap();
    Case {
        name: "test PKI, RSA-2048 root and signing key, accepted",
        raw: raw_checks(
            pki.chain_pem().as_bytes(),
            pki.root_der(),
            report.as_bytes(),
            &sig,
        ),
        policy: pki.policy().unwrap(),
        evidence: pki.evidence(&spec).unwrap(),
        mrenclave: hex::encode([0x4d; 32]),
        statement,
        now,
        expect: Ok(()),
    }
}

fn main() {
    // `cargo test --benches` runs benches with `--bench`-less arguments; keep that run short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, iters) = if quick { (3, 5) } else { (200, 50) };
    if quick {
        println!("quick run (not `cargo bench`): the figures below are not meaningful");
    }
    for case in [intel_case(), test_pki_case()] {
        let req = VerificationRequest {
            evidence: &case.evidence,
            expected_mrenclave: &case.mrenclave,
            statement: &case.statement,
            now: case.now,
        };
        assert_eq!(
            verify(&case.policy, &req).map(|_| ()),
            case.expect,
            "{}",
            case.name
        );
        // Interleave the two measurements so load changes on a shared machine hit both.
        let (mut full, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            full.push(measure(rounds, iters, || {
                let _ = black_box(verify(black_box(&case.policy), black_box(&req)));
            }));
            raw.push(measure(rounds, iters, || {
                for (msg, sig, key) in &case.raw {
                    let _ = black_box(RSA_SHA256.verify_signature(
                        black_box(key),
                        black_box(msg),
                        black_box(sig),
                    ));
                }
            }));
        }
        let full = full.into_iter().min().unwrap();
        let raw = raw.into_iter().min().unwrap();
        println!("{}", case.name);
        println!(
            "  verify one EPID evidence:          {:>9.1} µs",
            full.as_secs_f64() * 1e6
        );
        println!(
            "  raw RSA checks it contains ({}):    {:>9.1} µs",
            case.raw.len(),
            raw.as_secs_f64() * 1e6
        );
        println!(
            "  ratio: {:.3} (target < 1.5)",
            full.as_secs_f64() / raw.as_secs_f64()
        );
    }
}
