//! Body of the `dcap_quote` fuzz target (in the repository's `fuzz/` directory): a binary DCAP
//! quote from outside, with collateral that is valid for the seed quotes, through every entry
//! point that reads quote bytes: `dcap::collateral_request` (what `ercc convert` runs on an
//! attestation before fetching collateral), `dcap::inspect` and `dcap::verify`. Seeds are v3
//! and v4 quotes of the DCAP test PKI that verify, so mutations start next to every check.
//! Kept in the crate so it also runs as a unit test (no nightly needed).
//!
//! Panics only when an invariant breaks: a parser panicking, or a quote whose header was
//! corrupted still verifying.

use std::sync::OnceLock;

use crate::dcap::test_pki::{DcapTestPki, QuoteParams};
use crate::dcap::{self, Collateral, DcapEvidence};

/// When the fixture's collateral is issued, and the time quotes are verified at.
const ISSUED_AT: i64 = 1_750_000_000;

struct Fixture {
    pki: DcapTestPki,
    collateral: Collateral,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Deterministic: keys derive from the seed name, signatures are RFC 6979.
        let built = DcapTestPki::new("fuzz dcap_quote", ISSUED_AT)
            .and_then(|pki| pki.collateral().map(|c| (pki, c)));
        match built {
            Ok((pki, collateral)) => Fixture { pki, collateral },
            Err(e) => panic!("fuzz fixture: {e}"),
        }
    })
}

/// Target `dcap_quote`.
pub fn dcap_quote(data: &[u8]) {
    let f = fixture();
    let _ = dcap::collateral_request(data);
    let ev = DcapEvidence {
        quote: data.to_vec(),
        collateral: f.collateral.clone(),
    };
    let _ = dcap::inspect(&ev);
    if let Ok(v) = dcap::verify(&ev, &f.pki.root_ca_der(), ISSUED_AT + 60) {
        // The header is signed: what verified carries the version it says.
        let version = data.get(..2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        assert_eq!(Some(v.quote_version), version, "verified quote's version");
    }
}

/// Seeds: a v3 and a v4 quote that verify against the fixture's collateral.
pub fn dcap_quote_seeds() -> Vec<Vec<u8>> {
    let f = fixture();
    [3, 4]
        .into_iter()
        .map(|version| {
            let mut p = QuoteParams::for_statement([0x42; 32], b"fuzz statement");
            p.version = version;
            f.pki.quote(&p)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regenerates `fuzz/corpus/dcap_quote/seed-*`:
    /// `cargo test -p enclave-attestation -- --ignored write_seed_corpus`.
    #[test]
    #[ignore = "writes the fuzz seed corpus into the source tree"]
    fn write_seed_corpus() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/dcap_quote");
        std::fs::create_dir_all(&dir).expect("corpus dir");
        for (i, seed) in dcap_quote_seeds().iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).expect("write seed");
        }
    }

    #[test]
    fn seeds_verify() {
        let f = fixture();
        for (seed, version) in dcap_quote_seeds().into_iter().zip([3, 4]) {
            let ev = DcapEvidence {
                quote: seed.clone(),
                collateral: f.collateral.clone(),
            };
            let v = dcap::verify(&ev, &f.pki.root_ca_der(), ISSUED_AT + 60).expect("seed verifies");
            assert_eq!(v.quote_version, version);
            dcap_quote(&seed);
        }
    }

    /// Truncations, and byte flips across the header, report, signature data, QE report and
    /// certification data of both seeds: never a panic, and a corrupted header never verifies.
    #[test]
    fn truncated_and_corrupted_quotes_never_panic() {
        let f = fixture();
        for seed in dcap_quote_seeds() {
            for cut in (0..seed.len()).step_by(97) {
                dcap_quote(&seed[..cut]);
            }
            for i in (0..seed.len()).step_by(41) {
                for v in [0x00, 0xff, seed[i] ^ 0x80] {
                    let mut q = seed.clone();
                    q[i] = v;
                    dcap_quote(&q);
                    if i < 48 && v != seed[i] {
                        let ev = DcapEvidence {
                            quote: q,
                            collateral: f.collateral.clone(),
                        };
                        assert!(dcap::verify(&ev, &f.pki.root_ca_der(), ISSUED_AT + 60).is_err());
                    }
                }
            }
        }
    }
}
