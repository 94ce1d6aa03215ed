//! Why a `dcap` evidence was rejected: one variant per reason, so callers can branch on it and
//! operators read a precise sentence (the registry prints it after "evidence verification failed: ").

use crate::time::UnixTime;

/// A reason to reject `dcap` evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DcapError {
    // --- the evidence envelope ---
    /// The evidence is larger than [`MAX_EVIDENCE_LEN`](super::MAX_EVIDENCE_LEN).
    #[error("dcap evidence is {size} bytes, more than the {max} allowed")]
    EvidenceTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The evidence JSON is not of the documented form.
    #[error("invalid dcap evidence: {0}")]
    InvalidEvidence(String),
    /// The evidence `version` is not 1.
    #[error("unsupported dcap evidence version {0} (supported: 1)")]
    UnsupportedEvidenceVersion(u64),

    // --- the quote ---
    /// The quote is larger than [`MAX_QUOTE_LEN`](super::MAX_QUOTE_LEN).
    #[error("quote is {size} bytes, more than the {max} allowed")]
    QuoteTooLarge {
        /// Its size (estimated from its base64 length when refused before decoding).
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The quote's bytes do not have the quote layout (truncated, trailing bytes, ...).
    #[error("malformed quote: {0}")]
    MalformedQuote(String),
    /// A quote version other than 3 and 4.
    #[error("unsupported quote version {0} (supported: 3, 4)")]
    UnsupportedQuoteVersion(u16),
    /// Not an SGX quote (a TDX one, say).
    #[error("unsupported TEE type {0:#x} (only SGX quotes are accepted)")]
    UnsupportedTeeType(u32),
    /// The attestation key is not ECDSA P-256.
    #[error("unsupported attestation key type {0} (only 2, ECDSA P-256, is accepted)")]
    UnsupportedAttestationKeyType(u16),
    /// The quoting enclave is not Intel's.
    #[error("unknown QE vendor id {0}")]
    UnknownQeVendor(String),
    /// Certification data of another type than the one expected: `(found, expected)`.
    #[error("unsupported certification data type {0} (expected {1})")]
    UnsupportedCertificationDataType(u16, u16),

    // --- certificates and CRLs ---
    /// A certificate (or chain) that cannot be used.
    #[error("invalid {what}: {detail}")]
    InvalidCertificate {
        /// Which certificate or chain.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error("{what} is not signed by its issuer")]
    CertificateSignatureInvalid {
        /// Which certificate.
        what: &'static str,
    },
    /// A chain that does not end at the configured trust anchor.
    #[error("{what} does not lead to the trusted root CA")]
    UntrustedRoot {
        /// Which chain.
        what: &'static str,
    },
    /// A certificate expired before the verification time.
    #[error("{what} expired at {not_after} (verification time {now})")]
    CertificateExpired {
        /// Which certificate.
        what: &'static str,
        /// Its last valid second.
        not_after: UnixTime,
        /// The verification time.
        now: UnixTime,
    },
    /// A certificate not yet valid at the verification time.
    #[error("{what} is not valid before {not_before} (verification time {now})")]
    CertificateNotYetValid {
        /// Which certificate.
        what: &'static str,
        /// Its first valid second.
        not_before: UnixTime,
        /// The verification time.
        now: UnixTime,
    },
    /// A CRL that cannot be used.
    #[error("invalid {what}: {detail}")]
    InvalidCrl {
        /// Which CRL.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A CRL's signature does not verify with its issuer's key.
    #[error("{what} signature invalid")]
    CrlSignatureInvalid {
        /// Which CRL.
        what: &'static str,
    },
    /// A CRL whose next update passed before the verification time.
    #[error("{what} expired at {next_update} (verification time {now})")]
    CrlExpired {
        /// Which CRL.
        what: &'static str,
        /// Its next update (the first second it is stale).
        next_update: UnixTime,
        /// The verification time.
        now: UnixTime,
    },
    /// A CRL issued after the verification time.
    #[error("{what} is not valid before {this_update} (verification time {now})")]
    CrlNotYetValid {
        /// Which CRL.
        what: &'static str,
        /// Its issue time.
        this_update: UnixTime,
        /// The verification time.
        now: UnixTime,
    },
    /// A certificate listed by its issuer's CRL.
    #[error("{what} revoked")]
    Revoked {
        /// Which certificate.
        what: &'static str,
    },

    // --- TCB info and QE identity ---
    /// TCB info or QE identity JSON that cannot be used.
    #[error("invalid {what}: {detail}")]
    InvalidCollateral {
        /// Which item.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// TCB info or QE identity whose next update passed before the verification time.
    #[error("collateral expired at {at}: {what} next update passed (verification time {now})")]
    CollateralExpired {
        /// Which item.
        what: &'static str,
        /// Its next update.
        at: UnixTime,
        /// The verification time.
        now: UnixTime,
    },
    /// TCB info or QE identity issued after the verification time.
    #[error("collateral not yet valid: {what} issued at {at} (verification time {now})")]
    CollateralNotYetValid {
        /// Which item.
        what: &'static str,
        /// Its issue date.
        at: UnixTime,
        /// The verification time.
        now: UnixTime,
    },
    /// Collateral for another platform or CA than the quote's.
    #[error("collateral does not match the quote: {0}")]
    CollateralMismatch(String),

    // --- signatures and bindings inside the quote ---
    /// A raw ECDSA signature (quote, QE report, TCB info, QE identity) that does not verify.
    #[error("{what} signature invalid")]
    SignatureInvalid {
        /// What was signed.
        what: &'static str,
    },
    /// The QE report's data is not SHA-256(attestation key || QE authentication data) || 0^32.
    #[error("QE report does not bind the attestation key (report data mismatch)")]
    AttestationKeyNotBound,
    /// The quoting enclave's identity is not the one the QE identity collateral describes.
    #[error("quoting enclave not accepted by the QE identity: {0}")]
    QeIdentityMismatch(String),
    /// No TCB level of the collateral applies to the platform or QE named.
    #[error("no TCB level matches the {0}")]
    NoMatchingTcbLevel(&'static str),
    /// The platform's TCB is revoked: no policy may accept it.
    #[error("TCB status is Revoked")]
    TcbRevoked,

    // --- re-appraisal of a registered enclave against newer collateral ---
    /// Newer collateral for another platform than the enclave's.
    #[error("collateral is for FMSPC {offered}, the enclave's platform is {platform}")]
    ForeignCollateral {
        /// The collateral's FMSPC.
        offered: String,
        /// The enclave's.
        platform: String,
    },
    /// Collateral not newer than the one the enclave was last judged with.
    #[error("collateral is not newer than the TCB info already applied: {0}")]
    CollateralNotNewer(String),
}
