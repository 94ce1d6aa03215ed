//! The IAS signing checks: the report signature under the report-signing certificate, and that
//! certificate's path to the configured root at a given time. Path validation is webpki's
//! (RFC 5280 validity, issuer chaining, basic constraints, key usage, signature algorithms).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::time::Duration;

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

use crate::anchors::RootCa;
use crate::error::{ChainError, MalformedEvidence, VerifyError};
use crate::time::UnixTime;

/// Signature algorithms accepted in the chain. IAS uses sha256WithRSAEncryption throughout;
/// RSA moduli under 2048 bits are refused by these algorithms.
static CHAIN_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
];

/// The report signature: RSASSA-PKCS1-v1_5 with SHA-256 (IAS API §4.2.2).
pub(crate) static REPORT_SIGNATURE_ALGORITHM: &dyn SignatureVerificationAlgorithm =
    webpki::ring::RSA_PKCS1_2048_8192_SHA256;

/// The report-signing certificate, parsed.
pub(crate) struct SigningCertificate<'a> {
    cert: EndEntityCert<'a>,
}

impl<'a> SigningCertificate<'a> {
    /// Parses the first certificate of the chain.
    pub(crate) fn parse(der: &'a CertificateDer<'a>) -> Result<Self, MalformedEvidence> {
        EndEntityCert::try_from(der)
            .map(|cert| SigningCertificate { cert })
            .map_err(|e| MalformedEvidence::Certificate {
                index: 0,
                reason: format!("{e:?}"),
            })
    }

    /// Checks `signature` over the exact `report` bytes.
    pub(crate) fn verify_report(&self, report: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        self.cert
            .verify_signature(REPORT_SIGNATURE_ALGORITHM, report, signature)
            .map_err(|_| VerifyError::ReportSignature)
    }

    /// Validates the path from this certificate to `root` at time `at`, using the other
    /// certificates of the evidence as candidate intermediates (IAS sends its root there too).
    pub(crate) fn verify_chain(
        &self,
        others: &[CertificateDer<'_>],
        root: &RootCa,
        at: UnixTime,
    ) -> Result<(), VerifyError> {
        // The IAS root is dated 2016; a report time before 1970 cannot chain and is refused here
        // rather than wrapped into an unsigned time.
        let Ok(secs) = u64::try_from(at.as_secs()) else {
            return Err(VerifyError::CertificateChain(ChainError::Invalid(format!(
                "report time {at} is before 1970"
            ))));
        };
        let time = rustls_pki_types::UnixTime::since_unix_epoch(Duration::from_secs(secs));
        self.cert
            .verify_for_usage(
                CHAIN_ALGORITHMS,
                std::slice::from_ref(root.anchor()),
                others,
                time,
                AnyKeyPurpose,
                None,
                None,
            )
            .map(|_| ())
            .map_err(|e| VerifyError::CertificateChain(chain_error(e, at, root)))
    }
}

/// IAS report-signing certificates carry no extended key usage and no EKU is defined for report
/// signing (nor for DCAP's PCK and collateral-signing certificates), so any (well-formed) EKU
/// list, or none, is accepted; webpki still checks the rest.
pub(crate) struct AnyKeyPurpose;

impl ExtendedKeyUsageValidator for AnyKeyPurpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}

fn chain_error(e: webpki::Error, at: UnixTime, root: &RootCa) -> ChainError {
    let secs = |t: rustls_pki_types::UnixTime| {
        UnixTime::from_secs(i64::try_from(t.as_secs()).unwrap_or(i64::MAX))
    };
    match e {
        webpki::Error::CertExpired { not_after, .. } => ChainError::Expired {
            not_after: secs(not_after),
            at,
        },
        webpki::Error::CertNotValidYet { not_before, .. } => ChainError::NotYetValid {
            not_before: secs(not_before),
            at,
        },
        webpki::Error::UnknownIssuer => ChainError::UnknownIssuer {
            root_sha256: root.sha256_hex(),
        },
        webpki::Error::InvalidSignatureForPublicKey => ChainError::BadSignature,
        other => ChainError::Invalid(format!("{other:?}")),
    }
}
