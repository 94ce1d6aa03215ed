//! Cost of verifying one `dcap` evidence, measured in the same run against two baselines:
//! dcap-qvl 0.7.1 (ring backend) verifying the same quote and collateral, and the raw ECDSA P-256
//! checks the verification contains, replayed on ring (the fastest backend we ship), each distinct
//! check once. The ratios say how we compare with dcap-qvl and how much the parsing, path building
//! and bookkeeping around the signatures cost. Rounds alternate between the contenders so that
//! machine load hits them alike; the best round counts.
//! Run: `cargo bench -p enclave-attestation --bench dcap --features test-pki`.
//!
//! On a loaded machine, instruction counts compare more steadily than time: with
//! `DCAP_BENCH_ONLY=ours|dcap-qvl|raw` the binary runs only that contender on the real sample,
//! `PROFILE_ITERATIONS` times (`none`: only the set-up, to subtract), for
//! `valgrind --tool=callgrind` (see the crate README). Rounds are short (5 verifications) and
//! many, so that the best of them is likely to have run undisturbed.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use enclave_attestation::dcap::test_pki::{DcapTestPki, QuoteParams};
use enclave_attestation::dcap::{self, Collateral, DcapEvidence, SigCheck};

const ROUNDS: usize = 200;
const PER_ROUND: u32 = 5;

fn per_iter(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        f();
    }
    start.elapsed() / PER_ROUND
}

/// The checks one verification makes, each distinct one once (webpki checks the root CA CRL's
/// signature once per chain that uses it; the baseline counts it once).
fn distinct_checks(ev: &DcapEvidence, root: &[u8], now: i64) -> (Vec<SigCheck>, usize) {
    let (verified, checks) = dcap::verify_recording(ev, root, now);
    verified.unwrap();
    let made = checks.len();
    let mut distinct: Vec<SigCheck> = Vec::new();
    for c in checks {
        if !distinct.iter().any(|d| d.same_as(&c)) {
            distinct.push(c);
        }
    }
    assert!(distinct.iter().all(SigCheck::verify));
    (distinct, made)
}

fn dcap_qvl_collateral(c: &Collateral) -> dcap_qvl::QuoteCollateralV3 {
    dcap_qvl::QuoteCollateralV3 {
        pck_crl_issuer_chain: c.pck_crl_issuer_chain.clone(),
        root_ca_crl: c.root_ca_crl.clone(),
        pck_crl: c.pck_crl.clone(),
        tcb_info_issuer_chain: c.tcb_info_issuer_chain.clone(),
        tcb_info: c.tcb_info.clone(),
        tcb_info_signature: c.tcb_info_signature.clone(),
        qe_identity_issuer_chain: c.qe_identity_issuer_chain.clone(),
        qe_identity: c.qe_identity.clone(),
        qe_identity_signature: c.qe_identity_signature.clone(),
        pck_certificate_chain: None,
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// `with_dcap_qvl`: only evidence under Intel's root (dcap-qvl trusts no other).
fn bench(label: &str, ev: &DcapEvidence, root: &[u8], now: i64, with_dcap_qvl: bool) {
    let (checks, made) = distinct_checks(ev, root, now);
    let mut kinds = BTreeMap::<&str, usize>::new();
    for c in &checks {
        *kinds.entry(c.what).or_default() += 1;
    }
    let qvl_collateral = dcap_qvl_collateral(&ev.collateral);
    let qvl_now = u64::try_from(now).unwrap();
    if with_dcap_qvl {
        dcap_qvl::verify::ring::verify(&ev.quote, &qvl_collateral, qvl_now).unwrap();
    }
    let json = ev.to_json();
    let [mut ours, mut parsed, mut raw, mut qvl] = [Duration::MAX; 4];
    for _ in 0..ROUNDS {
        ours = ours.min(per_iter(|| {
            black_box(dcap::verify(black_box(ev), root, now).unwrap());
        }));
        if with_dcap_qvl {
            qvl = qvl.min(per_iter(|| {
                black_box(
                    dcap_qvl::verify::ring::verify(black_box(&ev.quote), &qvl_collateral, qvl_now)
                        .unwrap(),
                );
            }));
        }
        raw = raw.min(per_iter(|| {
            for c in &checks {
                assert!(black_box(c).verify());
            }
        }));
        parsed = parsed.min(per_iter(|| {
            let e = DcapEvidence::parse(black_box(json.as_bytes())).unwrap();
            black_box(dcap::verify(&e, root, now).unwrap());
        }));
    }
    println!("{label}:");
    println!(
        "  ECDSA P-256 checks: {} distinct {kinds:?}, {made} made",
        checks.len()
    );
    println!(
        "  raw distinct checks on ring (SHA-256 + verify): {:>8.1} us",
        us(raw)
    );
    if with_dcap_qvl {
        println!(
            "  dcap-qvl 0.7.1 verify (ring):                   {:>8.1} us",
            us(qvl)
        );
    }
    println!(
        "  dcap::verify:                                   {:>8.1} us  {:.3}x raw (target <= 1.5)",
        us(ours),
        ratio(ours, raw)
    );
    if with_dcap_qvl {
        println!(
            "                                                              {:.3}x dcap-qvl (target <= 1.0)",
            ratio(ours, qvl)
        );
    }
    println!(
        "  DcapEvidence::parse ({} B JSON) + verify:     {:>8.1} us  {:.3}x raw",
        json.len(),
        us(parsed),
        ratio(parsed, raw)
    );
}

const PROFILE_ITERATIONS: usize = 20;

/// One contender alone, for an instruction-count profile.
fn profile_only(which: &str, ev: &DcapEvidence, now: i64) {
    let root = dcap::INTEL_SGX_ROOT_CA_DER;
    let (checks, _) = distinct_checks(ev, root, now);
    let qvl_collateral = dcap_qvl_collateral(&ev.collateral);
    for _ in 0..PROFILE_ITERATIONS {
        match which {
            "ours" => {
                black_box(dcap::verify(black_box(ev), root, now).unwrap());
            }
            "dcap-qvl" => {
                black_box(
                    dcap_qvl::verify::ring::verify(&ev.quote, &qvl_collateral, now as u64).unwrap(),
                );
            }
            "raw" => {
                for c in &checks {
                    assert!(black_box(c).verify());
                }
            }
            // The set-up alone, to subtract from the others.
            "none" => {}
            other => panic!("DCAP_BENCH_ONLY={other}: expected ours, dcap-qvl, raw or none"),
        }
    }
}

fn main() {
    let dir = test_vectors::path("dcap/dcap-qvl-0.7.1-sample");
    let real = DcapEvidence {
        quote: test_vectors::read(dir.join("sgx_quote")),
        collateral: Collateral::parse_json(&test_vectors::read(
            dir.join("sgx_quote_collateral.json"),
        ))
        .unwrap(),
    };
    if let Ok(which) = std::env::var("DCAP_BENCH_ONLY") {
        profile_only(&which, &real, 1_751_624_924);
        return;
    }
    bench(
        "real Intel SGX quote v3 + PCS collateral (dcap-qvl sample)",
        &real,
        dcap::INTEL_SGX_ROOT_CA_DER,
        1_751_624_924,
        true,
    );

    let pki = DcapTestPki::new("bench", 1_780_000_000).unwrap();
    let ev = pki
        .evidence(&QuoteParams::for_statement([1; 32], b"bench"))
        .unwrap();
    bench(
        "test PKI quote v3",
        &ev,
        &pki.root_ca_der(),
        1_780_000_000,
        false,
    );
}
