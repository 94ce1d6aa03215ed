//! Why a `dcap` evidence was rejected: one variant per reason, so callers can branch on it and
//! operators read a precise sentence (the registry prints it after "evidence verification failed: ").

use super::time::format_rfc3339_utc;

/// A Unix time that displays as RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcSeconds(pub i64);

impl std::fmt::Display for UtcSeconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_rfc3339_utc(self.0))
    }
}

/// A reason to reject `dcap` evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DcapError {
    // --- the evidence envelope ---
    #[error("dcap evidence is {size} bytes, more than the {max} allowed")]
    EvidenceTooLarge { size: usize, max: usize },
    #[error("invalid dcap evidence: {0}")]
    InvalidEvidence(String),
    #[error("unsupported dcap evidence version {0} (supported: 1)")]
    UnsupportedEvidenceVersion(u64),

    // --- the quote ---
    #[error("quote is {size} bytes, more than the {max} allowed")]
    QuoteTooLarge { size: usize, max: usize },
    #[error("malformed quote: {0}")]
    MalformedQuote(String),
    #[error("unsupported quote version {0} (supported: 3, 4)")]
    UnsupportedQuoteVersion(u16),
    #[error("unsupported TEE type {0:#x} (only SGX quotes are accepted)")]
    UnsupportedTeeType(u32),
    #[error("unsupported attestation key type {0} (only 2, ECDSA P-256, is accepted)")]
    UnsupportedAttestationKeyType(u16),
    #[error("unknown QE vendor id {0}")]
    UnknownQeVendor(String),
    #[error("unsupported certification data type {0} (expected {1})")]
    UnsupportedCertificationDataType(u16, u16),

    // --- certificates and CRLs ---
    #[error("invalid {what}: {detail}")]
    InvalidCertificate { what: &'static str, detail: String },
    #[error("{what} is not signed by its issuer")]
    CertificateSignatureInvalid { what: &'static str },
    #[error("{what} does not lead to the trusted root CA")]
    UntrustedRoot { what: &'static str },
    #[error("{what} expired at {not_after} (verification time {now})")]
    CertificateExpired {
        what: &'static str,
        not_after: UtcSeconds,
        now: UtcSeconds,
    },
    #[error("{what} is not valid before {not_before} (verification time {now})")]
    CertificateNotYetValid {
        what: &'static str,
        not_before: UtcSeconds,
        now: UtcSeconds,
    },
    #[error("invalid {what}: {detail}")]
    InvalidCrl { what: &'static str, detail: String },
    #[error("{what} signature invalid")]
    CrlSignatureInvalid { what: &'static str },
    #[error("{what} expired at {next_update} (verification time {now})")]
    CrlExpired {
        what: &'static str,
        next_update: UtcSeconds,
        now: UtcSeconds,
    },
    #[error("{what} is not valid before {this_update} (verification time {now})")]
    CrlNotYetValid {
        what: &'static str,
        this_update: UtcSeconds,
        now: UtcSeconds,
    },
    #[error("{what} revoked")]
    Revoked { what: &'static str },

    // --- TCB info and QE identity ---
    #[error("invalid {what}: {detail}")]
    InvalidCollateral { what: &'static str, detail: String },
    #[error("collateral expired at {at}: {what} next update passed (verification time {now})")]
    CollateralExpired {
        what: &'static str,
        at: UtcSeconds,
        now: UtcSeconds,
    },
    #[error("collateral not yet valid: {what} issued at {at} (verification time {now})")]
    CollateralNotYetValid {
        what: &'static str,
        at: UtcSeconds,
        now: UtcSeconds,
    },
    #[error("collateral does not match the quote: {0}")]
    CollateralMismatch(String),

    // --- signatures and bindings inside the quote ---
    #[error("{what} signature invalid")]
    SignatureInvalid { what: &'static str },
    #[error("QE report does not bind the attestation key (report data mismatch)")]
    AttestationKeyNotBound,
    #[error("quoting enclave not accepted by the QE identity: {0}")]
    QeIdentityMismatch(String),
    #[error("no TCB level matches the {0}")]
    NoMatchingTcbLevel(&'static str),
    #[error("TCB status is Revoked")]
    TcbRevoked,

    // --- re-appraisal of a registered enclave against newer collateral ---
    #[error("collateral is for FMSPC {offered}, the enclave's platform is {platform}")]
    ForeignCollateral { offered: String, platform: String },
    #[error("collateral is not newer than the TCB info already applied: {0}")]
    CollateralNotNewer(String),
}
