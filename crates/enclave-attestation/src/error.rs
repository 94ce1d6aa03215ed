//! Why evidence was rejected. Every variant's `Display` is a sentence an operator can act on; the
//! registry prints it after `evidence verification failed: `.

use crate::claims::{EvidenceType, UnknownEvidenceType};
use crate::time::UnixTime;

/// The outcome of [`crate::verify`] when the evidence is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The evidence bytes do not have the expected structure.
    #[error("malformed evidence: {0}")]
    Malformed(#[from] MalformedEvidence),
    /// The evidence is `simulated` and the policy does not enable simulated evidence.
    #[error("simulated evidence not accepted by policy")]
    SimulatedNotAccepted,
    /// The evidence type is not in the policy's accepted list.
    #[error("evidence type {0} not accepted")]
    TypeNotAccepted(EvidenceType),
    /// The policy accepts the type but this build has no verifier for it.
    #[error("evidence type {0} is not supported by this build")]
    Unsupported(EvidenceType),
    /// The report-signing certificate does not chain to the configured root at the report's time.
    #[error("certificate chain: {0}")]
    CertificateChain(ChainError),
    /// The IAS signature over the report bytes does not verify with the signing certificate.
    #[error("IAS report signature does not verify with the report-signing certificate")]
    ReportSignature,
    /// The IAS `isvEnclaveQuoteStatus` is not in the policy's accepted list.
    #[error("quote status {0} not accepted")]
    QuoteStatusNotAccepted(String),
    /// The DCAP TCB status is not in the policy's accepted list.
    #[error("TCB status {0} not accepted")]
    TcbStatusNotAccepted(String),
    /// The platform is affected by an advisory the policy rejects.
    #[error("advisory {0} rejected by policy")]
    AdvisoryRejected(String),
    /// The enclave runs with the DEBUG attribute and the policy refuses debug enclaves.
    #[error("debug enclave not allowed")]
    DebugEnclave,
    /// The report is older than the policy's maximum age at the transaction time.
    #[error("report is {age} s old, more than the allowed {max} s")]
    ReportTooOld {
        /// Transaction time minus report time, in seconds.
        age: u64,
        /// The policy's maximum report age, in seconds.
        max: u64,
    },
    /// The report claims to be issued after the transaction that presents it.
    #[error("report was issued at {issued_at}, after the transaction time {now}")]
    ReportFromFuture {
        /// The report's own timestamp.
        issued_at: UnixTime,
        /// The transaction time.
        now: UnixTime,
    },
    /// The expected MRENCLAVE (the chaincode definition's version) is not a 32-byte hex value.
    #[error("expected MRENCLAVE {0:?} is not 64 hex characters")]
    InvalidExpectedMrenclave(String),
    /// The attested MRENCLAVE is not the one the chaincode definition names.
    #[error("MRENCLAVE mismatch: expected {expected}, found {found}")]
    MrenclaveMismatch {
        /// The chaincode definition's MRENCLAVE, lower-case hex.
        expected: String,
        /// The attested MRENCLAVE, lower-case hex.
        found: String,
    },
    /// The attested report data is not SHA-256(statement) followed by 32 zero bytes.
    #[error("report data does not match the attested data")]
    ReportDataMismatch,
    /// `dcap` evidence is malformed or does not verify (quote, collateral, chains, CRLs).
    #[error("{0}")]
    Dcap(#[from] crate::dcap::DcapError),
    /// Only `dcap` evidence has collateral that can be renewed; EPID's IAS is gone.
    #[error("{0} evidence cannot be re-appraised (only dcap evidence has newer collateral)")]
    NotReappraisable(EvidenceType),
}

/// Evidence that does not parse. `what` names the part (`evidence envelope`, `IAS evidence`,
/// `IAS report`), so the reason points at the layer that is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedEvidence {
    /// A part is larger than its limit (checked before it is parsed or decoded).
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The part.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A part is not syntactically valid JSON.
    #[error("{what} is not valid JSON: {reason}")]
    NotJson {
        /// The part.
        what: &'static str,
        /// The parser's reason, with line and column.
        reason: String,
    },
    /// A part is JSON but misses fields, has unknown or duplicate fields, or fields of the wrong type.
    #[error("{what} does not have the expected form: {reason}")]
    WrongShape {
        /// The part.
        what: &'static str,
        /// The parser's reason, with line and column.
        reason: String,
    },
    /// The envelope names an evidence type FPC does not define.
    #[error("{0}")]
    UnknownType(#[from] UnknownEvidenceType),
    /// A base64 field does not decode.
    #[error("{field} is not valid base64")]
    Base64 {
        /// The field.
        field: &'static str,
    },
    /// `iasCertificates` has a `%` not followed by two hex digits, or decodes to non-UTF-8.
    #[error("iasCertificates is not valid URL-encoded text")]
    UrlEncoding,
    /// `iasCertificates` holds no PEM certificate.
    #[error("iasCertificates holds no PEM certificate")]
    NoCertificates,
    /// `iasCertificates` holds more certificates than any IAS chain has.
    #[error("iasCertificates holds more than {max} certificates")]
    TooManyCertificates {
        /// The limit.
        max: usize,
    },
    /// A PEM section of `iasCertificates` is broken.
    #[error("iasCertificates is not a valid PEM certificate chain")]
    Pem,
    /// A certificate does not parse as X.509.
    #[error("certificate {index} of iasCertificates does not parse: {reason}")]
    Certificate {
        /// Position in the chain, 0 = the report-signing certificate.
        index: usize,
        /// The X.509 parser's reason.
        reason: String,
    },
    /// The IAS report `timestamp` is not `YYYY-MM-DDThh:mm:ss[.ffffff]`.
    #[error("IAS report timestamp {0:?} is not a valid IAS timestamp")]
    Timestamp(String),
    /// The quote body is not the 432-byte `sgx_quote_t` without signature.
    #[error("isvEnclaveQuoteBody is {len} bytes, expected 432")]
    QuoteBodyLength {
        /// The decoded length.
        len: usize,
    },
    /// The quote's EPID signature type contradicts the declared evidence type.
    #[error(
        "evidence type {declared} does not match the quote's signature type {sign_type} ({actual})"
    )]
    SignTypeMismatch {
        /// The envelope's evidence type.
        declared: EvidenceType,
        /// The quote's `sign_type` field.
        sign_type: u16,
        /// What that field means.
        actual: &'static str,
    },
    /// A list in the report is longer than allowed.
    #[error("{field} has more than {max} entries")]
    TooManyEntries {
        /// The field.
        field: &'static str,
        /// The limit.
        max: usize,
    },
}

/// Why the IAS certificate chain is not valid at the report's time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A certificate's validity ended before the report time.
    #[error("a certificate expired at {not_after}, not valid at {at}")]
    Expired {
        /// The certificate's notAfter.
        not_after: UnixTime,
        /// The report time at which the chain was checked.
        at: UnixTime,
    },
    /// A certificate's validity starts after the report time.
    #[error("a certificate is valid only from {not_before}, not valid at {at}")]
    NotYetValid {
        /// The certificate's notBefore.
        not_before: UnixTime,
        /// The report time at which the chain was checked.
        at: UnixTime,
    },
    /// No path leads from the signing certificate to the configured root.
    #[error("the report-signing certificate is not issued by the configured IAS root CA (sha256:{root_sha256})")]
    UnknownIssuer {
        /// SHA-256 of the configured root certificate, hex.
        root_sha256: String,
    },
    /// A certificate signature in the path does not verify.
    #[error("a certificate signature does not verify")]
    BadSignature,
    /// Any other path-validation failure, with the validator's reason.
    #[error("the chain is not valid: {0}")]
    Invalid(String),
}
