//! Trust anchors: the root certificates evidence must chain to. Intel's two production roots are
//! embedded as the defaults (they are the product's trust decision, not test data); operators
//! and tests replace them with a PEM file.
//!
//! Each root is embedded once, in this folder: the IAS root as PEM, the SGX root as DER (the form
//! `dcap::verify` takes, re-exported as `dcap::INTEL_SGX_ROOT_CA_DER`).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use sha2::{Digest, Sha256};

/// "Intel SGX Attestation Report Signing CA": the root of every IAS report-signing certificate.
/// SHA-256(DER) 7B:42:E4:1E:...:40:73:5D, valid 2016-11-14 .. 2049-12-31.
pub(crate) const INTEL_IAS_ROOT_PEM: &str = include_str!("Intel_SGX_Attestation_RootCA.pem");

/// "Intel SGX Root CA": the root of the DCAP PCK, TCB-signing and CRL chains, DER.
/// SHA-256(DER) 44:A0:19:6B:...:B6:74:D3, valid 2018-05-21 .. 2049-12-31.
pub(crate) const INTEL_SGX_ROOT_DER: &[u8] = include_bytes!("Intel_SGX_Root_CA.der");

/// A root certificate the verifier trusts, parsed once when the policy is built.
///
/// Like any trust anchor (RFC 5280 §6.1.1), its own validity dates and signature are not checked;
/// only the certificates below it are.
#[derive(Clone)]
pub struct RootCa {
    der: Vec<u8>,
    anchor: TrustAnchor<'static>,
    sha256: [u8; 32],
    origin: String,
}

/// A trust-anchor PEM that holds no certificate, more than one, or one that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct AnchorError {
    /// Where the PEM came from (a file path or `embedded ...`).
    pub origin: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RootCa {
    /// Parses a PEM file holding exactly one certificate. `origin` says where it came from, for
    /// error messages and the policy summary.
    pub fn from_pem(pem: &[u8], origin: impl Into<String>) -> Result<RootCa, AnchorError> {
        let origin = origin.into();
        let fail = |reason: &str| AnchorError {
            origin: origin.clone(),
            reason: reason.to_owned(),
        };
        let mut certs = CertificateDer::pem_slice_iter(pem);
        let first = match certs.next() {
            Some(Ok(cert)) => cert,
            Some(Err(_)) => return Err(fail("not a valid PEM certificate")),
            None => return Err(fail("holds no PEM certificate")),
        };
        if certs.next().is_some() {
            return Err(fail(
                "holds more than one certificate; give the root certificate alone",
            ));
        }
        RootCa::from_der(first.as_ref(), origin)
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8], origin: impl Into<String>) -> Result<RootCa, AnchorError> {
        let origin = origin.into();
        let cert = CertificateDer::from(der);
        let anchor = match webpki::anchor_from_trusted_cert(&cert) {
            Ok(anchor) => anchor.to_owned(),
            Err(e) => {
                return Err(AnchorError {
                    origin,
                    reason: format!("not a valid X.509 certificate ({e:?})"),
                })
            }
        };
        Ok(RootCa {
            der: der.to_vec(),
            anchor,
            sha256: Sha256::digest(der).into(),
            origin,
        })
    }

    /// The embedded Intel SGX Attestation Report Signing CA (the IAS default).
    pub fn intel_ias_root() -> RootCa {
        RootCa::embedded(RootCa::from_pem(
            INTEL_IAS_ROOT_PEM.as_bytes(),
            "embedded Intel SGX Attestation Report Signing CA",
        ))
    }

    /// The embedded Intel SGX Root CA (the DCAP default).
    pub fn intel_sgx_root() -> RootCa {
        RootCa::embedded(RootCa::from_der(
            INTEL_SGX_ROOT_DER,
            "embedded Intel SGX Root CA",
        ))
    }

    fn embedded(parsed: Result<RootCa, AnchorError>) -> RootCa {
        match parsed {
            Ok(root) => root,
            // The embedded roots are fixed at compile time and covered by the tests below.
            Err(e) => unreachable!("embedded trust anchor does not parse: {e}"),
        }
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER certificate, lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Where the certificate came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub(crate) fn anchor(&self) -> &TrustAnchor<'static> {
        &self.anchor
    }

    /// Refuses a root whose key cannot sign what it must anchor: IAS report-signing chains are
    /// RSA, DCAP chains ECDSA P-256. A root of the other kind would make every registration of
    /// that evidence type fail with a signature error long after start, so it is refused here.
    pub(crate) fn check_kind(&self, kind: AnchorKind) -> Result<(), AnchorError> {
        let fail = |reason: String| AnchorError {
            origin: self.origin.clone(),
            reason,
        };
        match kind {
            AnchorKind::IasRsa => {
                use der::Decode as _;
                let cert = x509_cert::Certificate::from_der(&self.der)
                    .map_err(|e| fail(format!("not a valid X.509 certificate ({e})")))?;
                let oid = cert.tbs_certificate.subject_public_key_info.algorithm.oid;
                if oid != RSA_ENCRYPTION {
                    return Err(fail(format!(
                        "is not an RSA certificate (key algorithm {}); the IAS root must be the \
                         RSA \"Intel SGX Attestation Report Signing CA\", not a DCAP root",
                        key_algorithm_name(oid)
                    )));
                }
            }
            AnchorKind::DcapP256 => {
                crate::dcap::x509::Cert::from_der(&self.der, "root CA certificate").map_err(
                    |e| {
                        fail(format!(
                            "is not an ECDSA P-256 certificate ({e}); the DCAP root must be the \
                             \"Intel SGX Root CA\", not an IAS root"
                        ))
                    },
                )?;
            }
        }
        Ok(())
    }
}

/// The key a trust anchor must carry, by the evidence it anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnchorKind {
    /// IAS report signing: RSA.
    IasRsa,
    /// DCAP PCK, TCB and CRL chains: ECDSA P-256.
    DcapP256,
}

const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

fn key_algorithm_name(oid: der::asn1::ObjectIdentifier) -> String {
    if oid == crate::dcap::x509::EC_PUBLIC_KEY {
        "EC".to_owned()
    } else {
        oid.to_string()
    }
}

impl PartialEq for RootCa {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for RootCa {}

impl fmt::Debug for RootCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootCa(sha256:{}, {})", self.sha256_hex(), self.origin)
    }
}

impl fmt::Display for RootCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{} ({})", self.sha256_hex(), self.origin)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn embedded_anchors_are_intels_roots() {
        assert_eq!(
            RootCa::intel_ias_root().sha256_hex(),
            "7b42e41ec43b91db834a065de4f98a13c44d695570e839cfa8921e584e40735d"
        );
        assert_eq!(
            RootCa::intel_sgx_root().sha256_hex(),
            "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
        );
    }

    /// The embedded SGX root as PEM, for tests that need it as a file.
    pub(crate) fn sgx_root_pem() -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(INTEL_SGX_ROOT_DER);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn sgx_root_pem_round_trips() {
        let root = RootCa::from_pem(sgx_root_pem().as_bytes(), "x").expect("parses");
        assert_eq!(root.der(), INTEL_SGX_ROOT_DER);
    }

    #[test]
    fn rejects_bad_anchor_files() {
        assert!(RootCa::from_pem(b"", "x").is_err());
        assert!(RootCa::from_pem(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "x"
        )
        .is_err());
        let two = format!("{INTEL_IAS_ROOT_PEM}{}", sgx_root_pem());
        let err = RootCa::from_pem(two.as_bytes(), "two.pem").expect_err("two certs");
        assert!(err.to_string().contains("more than one"), "{err}");
    }
}
