//! The one place DCAP's ECDSA P-256 signatures are checked, all on `ring`: the raw `r || s`
//! signatures of the quote, the QE report and the JSON collateral directly, and the DER signatures
//! of certificates and CRLs as webpki's signature algorithm. Every check goes through [`Sigs`], so
//! the benchmark can record and replay them, and a failed certificate or CRL check leaves behind
//! the key that refused it (webpki's errors do not say which certificate failed).
//!
//! webpki checks a CRL's signature each time a path uses it, and Intel's root CA CRL serves two
//! paths (the PCK chain and the collateral signer's): a signature that already verified in this
//! verification, byte for byte the same key, message and signature, is not checked again.

use std::sync::Mutex;

use ring::signature::{UnparsedPublicKey, VerificationAlgorithm};
use rustls_pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};

/// One signature check made during verification (for the benchmark's baseline).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct SigCheck {
    /// What was signed: `quote`, `QE report`, `TCB info`, `QE identity`, or `certificate or CRL`
    /// (checked inside webpki's path validation).
    pub what: &'static str,
    /// `ECDSA_P256_SHA256_FIXED` (raw `r || s`) or `ECDSA_P256_SHA256_ASN1` (DER).
    pub algorithm: &'static dyn VerificationAlgorithm,
    /// Uncompressed SEC1 point.
    pub key: Vec<u8>,
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
}

impl SigCheck {
    /// Replays the check: SHA-256 of the message and one ECDSA P-256 verification, on ring.
    pub fn verify(&self) -> bool {
        UnparsedPublicKey::new(self.algorithm, &self.key)
            .verify(&self.message, &self.signature)
            .is_ok()
    }

    /// Whether `other` checks the same signature of the same message under the same key.
    pub fn same_as(&self, other: &SigCheck) -> bool {
        self.key == other.key && self.message == other.message && self.signature == other.signature
    }
}

/// Checks signatures, optionally recording each one; remembers the key of the last failed
/// certificate or CRL check. A `Mutex` because webpki wants its algorithms `Sync`; it is never
/// contended (one verification, one thread).
pub(crate) struct Sigs<'l> {
    log: Mutex<Option<&'l mut Vec<SigCheck>>>,
    failed_key: Mutex<Option<Vec<u8>>>,
    /// Certificate and CRL signatures that verified: `(key, message, signature)`.
    verified: Mutex<Vec<[Vec<u8>; 3]>>,
}

impl<'l> Sigs<'l> {
    pub(crate) fn new(log: Option<&'l mut Vec<SigCheck>>) -> Self {
        Sigs {
            log: Mutex::new(log),
            failed_key: Mutex::new(None),
            verified: Mutex::new(Vec::new()),
        }
    }

    fn already_verified(&self, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        self.verified.lock().is_ok_and(|v| {
            v.iter()
                .any(|[k, m, s]| s == signature && k == key && m == message)
        })
    }

    fn check(
        &self,
        what: &'static str,
        algorithm: &'static dyn VerificationAlgorithm,
        key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        if let Some(log) = self.log.lock().ok().as_deref_mut().and_then(Option::as_mut) {
            log.push(SigCheck {
                what,
                algorithm,
                key: key.to_vec(),
                message: message.to_vec(),
                signature: signature.to_vec(),
            });
        }
        UnparsedPublicKey::new(algorithm, key)
            .verify(message, signature)
            .is_ok()
    }

    /// A raw `r || s` signature (quotes, QE reports, Intel's JSON collateral) by `key`, an
    /// uncompressed SEC1 point. Any other length or encoding fails.
    pub(crate) fn verify_raw(
        &self,
        what: &'static str,
        key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        self.check(
            what,
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            key,
            message,
            signature,
        )
    }

    /// The key (uncompressed SEC1 point) that refused the last failed certificate or CRL check.
    pub(crate) fn failed_key(&self) -> Option<Vec<u8>> {
        self.failed_key.lock().ok().and_then(|k| k.clone())
    }

    /// The attestation key as quotes carry it (`x || y`), as an uncompressed SEC1 point. Whether
    /// it lies on the curve is ring's to decide when it checks the quote signature.
    pub(crate) fn raw_key(raw: &[u8; 64]) -> [u8; 65] {
        let mut sec1 = [0x04u8; 65];
        for (dst, src) in sec1.iter_mut().skip(1).zip(raw) {
            *dst = *src;
        }
        sec1
    }
}

impl std::fmt::Debug for Sigs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sigs(ECDSA P-256 SHA-256, ring)")
    }
}

/// webpki's ECDSA P-256 SHA-256 (the only algorithm Intel's PCK, TCB-signing and CRL chains use),
/// routed through [`Sigs`].
impl SignatureVerificationAlgorithm for Sigs<'_> {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        webpki::ring::ECDSA_P256_SHA256.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        webpki::ring::ECDSA_P256_SHA256.signature_alg_id()
    }

    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        if self.already_verified(public_key, message, signature) {
            return Ok(());
        }
        if self.check(
            "certificate or CRL",
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            public_key,
            message,
            signature,
        ) {
            if let Ok(mut v) = self.verified.lock() {
                v.push([public_key.to_vec(), message.to_vec(), signature.to_vec()]);
            }
            return Ok(());
        }
        if let Ok(mut k) = self.failed_key.lock() {
            *k = Some(public_key.to_vec());
        }
        Err(InvalidSignature)
    }

    fn fips(&self) -> bool {
        webpki::ring::ECDSA_P256_SHA256.fips()
    }
}
