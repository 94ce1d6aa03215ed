//! Hostile input for `dcap`: bit flips anywhere in the quote, the collateral or the evidence
//! JSON, truncations, garbage, wrong versions and types, oversize input. Every case must be
//! rejected with an error (never accepted, never a panic), and the obvious ones with a precise reason.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use enclave_attestation::dcap::{self, Collateral, DcapError, DcapEvidence};

fn vectors() -> PathBuf {
    test_vectors::path("dcap")
}

fn sample(name: &str) -> DcapEvidence {
    let dir = vectors().join("dcap-qvl-0.7.1-sample");
    DcapEvidence {
        quote: test_vectors::read(dir.join(name)),
        collateral: Collateral::parse_json(&test_vectors::read(
            dir.join(format!("{name}_collateral.json")),
        ))
        .unwrap(),
    }
}

const NOW: i64 = 1_751_624_924;

fn root() -> &'static [u8] {
    dcap::INTEL_SGX_ROOT_CA_DER
}

/// Positions to flip: every `stride`-th byte, plus the first and last.
fn positions(len: usize, stride: usize) -> impl Iterator<Item = usize> {
    (0..len).step_by(stride).chain(len.checked_sub(1))
}

#[test]
fn baseline_accepts() {
    dcap::verify(&sample("sgx_quote"), root(), NOW).unwrap();
}

#[test]
fn bit_flips_in_the_quote_are_rejected() {
    let ev = sample("sgx_quote");
    let n = ev.quote.len();
    // Every third byte of the fixed layout, every eleventh of the PEM chain behind it.
    for i in positions(1100, 3).chain(positions(n, 11).filter(|i| *i >= 1100)) {
        let mut t = ev.clone();
        t.quote[i] ^= 1 << (i % 8);
        let e =
            dcap::verify(&t, root(), NOW).expect_err(&format!("flip at quote byte {i} accepted"));
        // Precise reasons for the fixed-layout regions.
        match i {
            0..=1 => assert!(
                matches!(e, DcapError::UnsupportedQuoteVersion(_)),
                "{i}: {e}"
            ),
            2..=3 => assert!(
                matches!(e, DcapError::UnsupportedAttestationKeyType(_)),
                "{i}: {e}"
            ),
            4..=7 => assert!(matches!(e, DcapError::UnsupportedTeeType(_)), "{i}: {e}"),
            12..=27 => assert!(matches!(e, DcapError::UnknownQeVendor(_)), "{i}: {e}"),
            8..=11 | 28..=431 => {
                assert_eq!(e, DcapError::SignatureInvalid { what: "quote" }, "{i}")
            }
            432..=435 => assert!(matches!(e, DcapError::MalformedQuote(_)), "{i}: {e}"),
            436..=499 => assert_eq!(e, DcapError::SignatureInvalid { what: "quote" }, "{i}"),
            // Attestation key: not on the curve, or the quote signature fails.
            500..=563 => assert!(
                matches!(
                    e,
                    DcapError::MalformedQuote(_) | DcapError::SignatureInvalid { what: "quote" }
                ),
                "{i}: {e}"
            ),
            // The QE report: its report data binds the key, the rest is signed by the PCK.
            564..=883 | 948..=1011 => {
                assert_eq!(e, DcapError::SignatureInvalid { what: "QE report" }, "{i}")
            }
            884..=947 => assert_eq!(e, DcapError::AttestationKeyNotBound, "{i}"),
            _ => {}
        }
    }
}

#[test]
fn bit_flips_in_binary_collateral_are_rejected() {
    let ev = sample("sgx_quote");
    type Field = fn(&mut Collateral) -> &mut Vec<u8>;
    let byte_fields: [(&str, Field); 4] = [
        ("root_ca_crl", |c| &mut c.root_ca_crl),
        ("pck_crl", |c| &mut c.pck_crl),
        ("tcb_info_signature", |c| &mut c.tcb_info_signature),
        ("qe_identity_signature", |c| &mut c.qe_identity_signature),
    ];
    for (name, field) in byte_fields {
        let n = field(&mut ev.collateral.clone()).len();
        for i in positions(n, if n == 64 { 2 } else { 5 }) {
            let mut t = ev.clone();
            field(&mut t.collateral)[i] ^= 1 << (i % 8);
            dcap::verify(&t, root(), NOW)
                .expect_err(&format!("flip in {name} at byte {i} accepted"));
        }
    }
}

#[test]
fn bit_flips_in_text_collateral_are_rejected() {
    let ev = sample("sgx_quote");
    type TextField = fn(&mut Collateral) -> &mut String;
    let text_fields: [(&str, TextField); 5] = [
        ("pck_crl_issuer_chain", |c| &mut c.pck_crl_issuer_chain),
        ("tcb_info_issuer_chain", |c| &mut c.tcb_info_issuer_chain),
        ("tcb_info", |c| &mut c.tcb_info),
        ("qe_identity_issuer_chain", |c| {
            &mut c.qe_identity_issuer_chain
        }),
        ("qe_identity", |c| &mut c.qe_identity),
    ];
    for (name, field) in text_fields {
        let n = field(&mut ev.collateral.clone()).len();
        for i in positions(n, 23) {
            let mut t = ev.clone();
            let mut bytes = std::mem::take(field(&mut t.collateral)).into_bytes();
            bytes[i] ^= 1 << (i % 7); // stay ASCII so the string stays valid UTF-8
            *field(&mut t.collateral) = String::from_utf8(bytes).unwrap();
            dcap::verify(&t, root(), NOW)
                .expect_err(&format!("flip in {name} at byte {i} accepted"));
        }
    }
}

#[test]
fn signature_flips_have_precise_reasons() {
    let ev = sample("sgx_quote");
    let mut t = ev.clone();
    t.collateral.tcb_info_signature[10] ^= 1;
    assert_eq!(
        dcap::verify(&t, root(), NOW).unwrap_err().to_string(),
        "TCB info signature invalid"
    );
    let mut t = ev.clone();
    t.collateral.qe_identity_signature[40] ^= 0x80;
    assert_eq!(
        dcap::verify(&t, root(), NOW).unwrap_err().to_string(),
        "QE identity signature invalid"
    );
    let mut t = ev.clone();
    t.collateral.tcb_info = t.collateral.tcb_info.replace(
        "\"tcbStatus\":\"SWHardeningNeeded\"",
        "\"tcbStatus\":\"UpToDate\"",
    );
    assert_eq!(
        dcap::verify(&t, root(), NOW).unwrap_err().to_string(),
        "TCB info signature invalid"
    );
    let mut t = ev.clone();
    t.quote[48 + 64] ^= 1; // MRENCLAVE
    assert_eq!(
        dcap::verify(&t, root(), NOW).unwrap_err().to_string(),
        "quote signature invalid"
    );
    let mut t = ev;
    let n = t.collateral.pck_crl.len();
    t.collateral.pck_crl[n - 5] ^= 4; // inside the signature value
    let e = dcap::verify(&t, root(), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            DcapError::CrlSignatureInvalid { what: "PCK CRL" } | DcapError::InvalidCrl { .. }
        ),
        "{e}"
    );
}

#[test]
fn bit_flips_in_the_evidence_json_are_rejected() {
    let json = sample("sgx_quote").to_json().into_bytes();
    assert!(DcapEvidence::parse(&json).is_ok());
    for i in positions(json.len(), 41) {
        let mut t = json.clone();
        t[i] ^= 1 << (i % 8);
        if let Ok(ev) = DcapEvidence::parse(&t) {
            dcap::verify(&ev, root(), NOW)
                .expect_err(&format!("flip at evidence byte {i} accepted"));
        }
    }
}

#[test]
fn truncations_and_extensions_never_panic() {
    let ev = sample("sgx_quote");
    for len in 0..ev.quote.len() {
        let t = DcapEvidence {
            quote: ev.quote[..len].to_vec(),
            collateral: ev.collateral.clone(),
        };
        let e = dcap::verify(&t, root(), NOW).unwrap_err();
        assert!(
            matches!(e, DcapError::MalformedQuote(_)),
            "length {len}: {e}"
        );
        let _ = dcap::inspect(&t);
        let _ = dcap::collateral_request(&t.quote);
    }
    let mut t = ev.clone();
    t.quote.push(0);
    let e = dcap::verify(&t, root(), NOW).unwrap_err();
    assert_eq!(
        e.to_string(),
        "malformed quote: 1 trailing bytes after the quote"
    );
    let json = ev.to_json();
    for len in (0..json.len()).step_by(97) {
        assert!(DcapEvidence::parse(&json.as_bytes()[..len]).is_err());
    }
}

/// xorshift64*: deterministic garbage.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn garbage_never_panics() {
    let ev = sample("sgx_quote");
    for seed in 0..120u64 {
        let len = (seed as usize * 37) % 6000;
        let g = garbage(seed, len);
        assert!(DcapEvidence::parse(&g).is_err());
        let _ = Collateral::parse_json(&g);
        // Garbage after a valid header and inside the signature data.
        let mut q = ev.quote[..48.min(ev.quote.len())].to_vec();
        q.extend_from_slice(&g);
        let t = DcapEvidence {
            quote: q,
            collateral: ev.collateral.clone(),
        };
        assert!(dcap::verify(&t, root(), NOW).is_err());
        let _ = dcap::inspect(&t);
        let mut q = ev.quote.clone();
        let start = 436 + (seed as usize * 131) % (q.len() - 436);
        let end = (start + 16).min(q.len());
        q[start..end].copy_from_slice(
            &g[..(end - start).min(g.len())]
                .iter()
                .copied()
                .chain(std::iter::repeat(0xff))
                .take(end - start)
                .collect::<Vec<_>>(),
        );
        let t = DcapEvidence {
            quote: q,
            collateral: ev.collateral.clone(),
        };
        assert!(dcap::verify(&t, root(), NOW).is_err());
        // Garbage as each piece of collateral.
        let mut c = ev.clone();
        c.collateral.pck_crl = g.clone();
        assert!(dcap::verify(&c, root(), NOW).is_err());
        let mut c = ev.clone();
        c.collateral.tcb_info = String::from_utf8_lossy(&g).into_owned();
        assert!(dcap::verify(&c, root(), NOW).is_err());
        let _ = dcap::inspect(&c);
        // Garbage as the trust anchor.
        assert!(dcap::verify(&ev, &g, NOW).is_err());
    }
}

#[test]
fn wrong_versions_types_and_sizes() {
    let ev = sample("sgx_quote");
    let with = |off: usize, bytes: &[u8]| {
        let mut t = ev.clone();
        t.quote[off..off + bytes.len()].copy_from_slice(bytes);
        dcap::verify(&t, root(), NOW).unwrap_err().to_string()
    };
    assert_eq!(
        with(0, &5u16.to_le_bytes()),
        "unsupported quote version 5 (supported: 3, 4)"
    );
    assert_eq!(
        with(0, &2u16.to_le_bytes()),
        "unsupported quote version 2 (supported: 3, 4)"
    );
    assert_eq!(
        with(2, &3u16.to_le_bytes()),
        "unsupported attestation key type 3 (only 2, ECDSA P-256, is accepted)"
    );
    assert_eq!(
        with(4, &0x81u32.to_le_bytes()),
        "unsupported TEE type 0x81 (only SGX quotes are accepted)"
    );
    // Certification data type (v3: after 436 + 64 + 64 + 384 + 64 + 2 + 32 auth bytes).
    let auth_len = u16::from_le_bytes([ev.quote[1012], ev.quote[1013]]) as usize;
    assert_eq!(
        with(1014 + auth_len, &3u16.to_le_bytes()),
        "unsupported certification data type 3 (expected 5)"
    );

    // A real TDX quote is refused for its TEE type.
    let e = dcap::verify(&sample("tdx_quote"), root(), NOW).unwrap_err();
    assert_eq!(e, DcapError::UnsupportedTeeType(0x81));

    // TDX collateral with the SGX quote: the TCB info is not SGX.
    let tdx = sample("tdx_quote");
    let mut t = ev.clone();
    t.collateral.tcb_info = tdx.collateral.tcb_info.clone();
    t.collateral.tcb_info_signature = tdx.collateral.tcb_info_signature.clone();
    let e = dcap::verify(&t, root(), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            DcapError::InvalidCollateral {
                what: "TCB info",
                ..
            }
        ),
        "{e}"
    );
    let mut t = ev.clone();
    t.collateral.qe_identity = tdx.collateral.qe_identity.clone();
    t.collateral.qe_identity_signature = tdx.collateral.qe_identity_signature.clone();
    let e = dcap::verify(&t, root(), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            DcapError::InvalidCollateral {
                what: "QE identity",
                ..
            }
        ),
        "{e}"
    );

    // Collateral for another platform's PCK CA.
    let mut t = ev.clone();
    t.collateral.pck_crl_issuer_chain = tdx.collateral.tcb_info_issuer_chain.clone();
    let e = dcap::verify(&t, root(), NOW).unwrap_err();
    assert!(matches!(e, DcapError::CollateralMismatch(_)), "{e}");

    // Size limits are enforced before decoding.
    let big = vec![b' '; dcap::MAX_EVIDENCE_LEN + 1];
    assert!(matches!(
        DcapEvidence::parse(&big),
        Err(DcapError::EvidenceTooLarge { .. })
    ));
    let mut t = ev.clone();
    t.quote = vec![0; dcap::MAX_QUOTE_LEN + 1];
    let json = t.to_json();
    assert!(matches!(
        DcapEvidence::parse(json.as_bytes()),
        Err(DcapError::QuoteTooLarge { .. })
    ));

    // Strict encodings.
    let json = ev.to_json();
    let upper = json.replacen(
        &hex::encode(&ev.collateral.pck_crl),
        &hex::encode_upper(&ev.collateral.pck_crl),
        1,
    );
    assert_eq!(
        DcapEvidence::parse(upper.as_bytes())
            .unwrap_err()
            .to_string(),
        "invalid dcap evidence: pck_crl is not lower-case hex"
    );
    let extra = json.replacen("{\"version\":1,", "{\"version\":1,\"extra\":0,", 1);
    assert!(DcapEvidence::parse(extra.as_bytes()).is_err());
    let v2 = json.replacen("{\"version\":1,", "{\"version\":2,", 1);
    assert_eq!(
        DcapEvidence::parse(v2.as_bytes()).unwrap_err(),
        DcapError::UnsupportedEvidenceVersion(2)
    );
}

#[test]
fn inspect_real_sample() {
    let info = dcap::inspect(&sample("sgx_quote"));
    assert_eq!(info["verified"], false);
    assert_eq!(info["fmspc"], "00A067110000");
    assert_eq!(info["tcb_status"], "ConfigurationAndSWHardeningNeeded");
    assert_eq!(
        info["advisory_ids"],
        serde_json::json!(["INTEL-SA-00289", "INTEL-SA-00615"])
    );
    assert_eq!(
        info["mrenclave"],
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    );
    assert_eq!(
        info["mrsigner"],
        "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
    );
    assert_eq!(info["isv_prod_id"], 0);
    assert_eq!(info["isv_svn"], 0);
    assert_eq!(info["debug"], false);
    assert_eq!(
        info["collateral_validity"]["not_before"],
        "2025-06-19T10:56:11Z"
    );
    assert_eq!(
        info["collateral_validity"]["not_after"],
        "2025-07-19T10:01:18Z"
    );
}
