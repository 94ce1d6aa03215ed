//! Cost of verifying one `dcap` evidence beside the raw ECDSA P-256 checks it contains, in the
//! same run: the ratio says how much the parsing and bookkeeping around the signatures costs.
//! Rounds alternate between the two so that machine load hits both alike; the best round counts.
//! Run: `cargo bench -p enclave-attestation --bench dcap`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use enclave_attestation::dcap::test_pki::{QuoteParams, TestPki};
use enclave_attestation::dcap::{self, Collateral, DcapEvidence};

const ROUNDS: usize = 30;
const PER_ROUND: u32 = 10;

fn best_per_iter(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        f();
    }
    start.elapsed() / PER_ROUND
}

fn bench(label: &str, ev: &DcapEvidence, root: &[u8], now: i64) {
    let (verified, checks) = dcap::verify_recording(ev, root, now);
    verified.unwrap();
    assert!(checks.iter().all(|c| c.verify()));
    let mut kinds = BTreeMap::<&str, usize>::new();
    for c in &checks {
        *kinds.entry(c.what).or_default() += 1;
    }
    let json = ev.to_json();
    let (mut full, mut parsed, mut raw) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        parsed = parsed.min(best_per_iter(|| {
            let e = DcapEvidence::parse(black_box(json.as_bytes())).unwrap();
            black_box(dcap::verify(&e, root, now).unwrap());
        }));
        full = full.min(best_per_iter(|| {
            black_box(dcap::verify(black_box(ev), root, now).unwrap());
        }));
        raw = raw.min(best_per_iter(|| {
            for c in &checks {
                assert!(black_box(c).verify());
            }
        }));
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |d: Duration| d.as_secs_f64() / raw.as_secs_f64();
    println!("{label}:");
    println!(
        "  ECDSA P-256 checks in one verification: {} {kinds:?}",
        checks.len()
    );
    println!(
        "  raw checks alone (SHA-256 + ECDSA verify): {:>8.1} us",
        us(raw)
    );
    println!(
        "  dcap::verify:                             {:>8.1} us  ratio {:.3} (target < 1.5)",
        us(full),
        ratio(full)
    );
    println!(
        "  DcapEvidence::parse ({} B JSON) + verify: {:>8.1} us  ratio {:.3}",
        json.len(),
        us(parsed),
        ratio(parsed)
    );
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/dcap/dcap-qvl-0.7.1-sample");
    let real = DcapEvidence {
        quote: std::fs::read(dir.join("sgx_quote")).unwrap(),
        collateral: Collateral::parse_json(
            &std::fs::read(dir.join("sgx_quote_collateral.json")).unwrap(),
        )
        .unwrap(),
    };
    bench(
        "real Intel SGX quote v3 + PCS collateral (dcap-qvl sample)",
        &real,
        dcap::INTEL_SGX_ROOT_CA_DER,
        1_751_624_924,
    );

    let pki = TestPki::new("bench", 1_780_000_000).unwrap();
    let ev = pki
        .evidence(&QuoteParams::for_statement([1; 32], b"bench"))
        .unwrap();
    bench("test PKI quote v3", &ev, &pki.root_ca_der(), 1_780_000_000);
}
