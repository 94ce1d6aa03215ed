//! SGX enclave attestation for the FPC enclave registry: evidence parsing, cryptographic
//! verification at a given time, and appraisal against an explicit [`Policy`].
//!
//! No I/O and no clock: the caller hands in the configuration (variables and a [`ReadFile`] for
//! the files they name) and the transaction time, so every endorsing peer reaches the same verdict.
//!
//! ```text
//! Credentials.evidence ─ Envelope::parse ─ policy accepts the type? ─ verifier_for(type).verify
//!     (signatures, chains, collateral) ─ Claims ─ appraise (status, debug, age, MRENCLAVE,
//!     report data) ─ Verified
//! ```
#![deny(missing_docs)]
#![deny(clippy::expect_used)]

mod anchors;
mod appraisal;
mod bytes;
mod claims;
pub mod dcap;
mod envelope;
mod error;
pub mod ias;
pub mod limits;
mod policy;
mod reappraisal;
mod simulated;
mod time;
mod verifier;

#[cfg(feature = "test-pki")]
pub mod test_pki;

/// Fuzz target bodies (they need the DCAP test PKI for valid collateral).
#[cfg(feature = "test-pki")]
pub mod fuzzing;

pub use anchors::{AnchorError, RootCa};
pub use appraisal::expected_report_data;
pub use claims::{Claims, EnclaveReport, EvidenceType, UnknownEvidenceType};
pub use envelope::Envelope;
pub use error::{ChainError, MalformedEvidence, VerifyError};
/// The policy-file key of an `ERCC_*` setting (shared with the registry's own policy).
pub use policy::file_key as policy_file_key;
pub use policy::{
    DcapPolicy, Policy, PolicyError, ReadFile, ACCEPTABLE_DCAP_TCB_STATUSES,
    ACCEPTABLE_IAS_QUOTE_STATUSES, DEFAULT_MAX_REPORT_AGE, ENV_ACCEPTED_EVIDENCE,
    ENV_ALLOW_DEBUG_ENCLAVES, ENV_DCAP_ACCEPTED_TCB_STATUSES, ENV_DCAP_REJECTED_ADVISORIES,
    ENV_DCAP_ROOT_CA, ENV_IAS_ACCEPTED_QUOTE_STATUSES, ENV_IAS_ROOT_CA, ENV_MAX_REPORT_AGE,
    ENV_POLICY_FILE,
};
pub use reappraisal::{reappraise, Reappraisal, ReappraisalRequest};
pub use simulated::SimulatedVerifier;
pub use time::UnixTime;
pub use verifier::{verifier_for, EvidenceVerifier};

/// What to verify: the evidence and what it must be bound to.
#[derive(Debug, Clone, Copy)]
pub struct VerificationRequest<'a> {
    /// `Credentials.evidence`: `{"attestation_type": T, "evidence": ...}`.
    pub evidence: &'a [u8],
    /// The chaincode definition's version, which for FPC is the MRENCLAVE (64 hex characters).
    pub expected_mrenclave: &'a str,
    /// The attested statement: the `Any.value` bytes of `Credentials.serialized_attested_data`.
    pub statement: &'a [u8],
    /// The transaction timestamp. Never the wall clock.
    pub now: UnixTime,
}

/// Evidence that passed verification and appraisal. Only [`verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    claims: Claims,
}

impl Verified {
    /// What the evidence established.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The verified evidence type.
    pub fn evidence_type(&self) -> EvidenceType {
        self.claims.evidence_type
    }
}

/// Verifies evidence and appraises it against `policy`: the evidence type must be accepted, the
/// evidence authentic, its status accepted, the enclave not in debug mode (unless allowed), the
/// report not older than the policy allows at `now`, its MRENCLAVE the expected one and its report
/// data SHA-256(statement) || 32 zero bytes.
pub fn verify(policy: &Policy, req: &VerificationRequest<'_>) -> Result<Verified, VerifyError> {
    let claims = verify_evidence(policy, req.evidence, req.now)?;
    appraisal::appraise(
        policy,
        &claims,
        &appraisal::Expected {
            mrenclave: req.expected_mrenclave,
            statement: req.statement,
            now: req.now,
        },
    )?;
    Ok(Verified { claims })
}

/// The first half of [`verify`]: the policy must accept the evidence type, and the evidence must
/// be authentic (with the policy's trust anchors, at `now`). Returns what it attests without
/// appraising it (no status, debug, age, MRENCLAVE or report-data check), for `ercc verify` to
/// show and for tests on real evidence whose statement is unknown.
pub fn verify_evidence(
    policy: &Policy,
    evidence: &[u8],
    now: UnixTime,
) -> Result<Claims, VerifyError> {
    let envelope = Envelope::parse(evidence)?;
    appraisal::check_type(policy, envelope.evidence_type)?;
    let verifier = verifier_for(envelope.evidence_type)
        .ok_or(VerifyError::Unsupported(envelope.evidence_type))?;
    verifier.verify(&envelope, policy, now)
}

/// Decodes evidence into readable JSON (type, IAS status, timestamp, advisories, quote fields in
/// hex) without verifying anything, for `ercc inspect`.
pub fn inspect_evidence(evidence: &[u8]) -> Result<serde_json::Value, VerifyError> {
    let envelope = Envelope::parse(evidence)?;
    let verifier = verifier_for(envelope.evidence_type)
        .ok_or(VerifyError::Unsupported(envelope.evidence_type))?;
    verifier.inspect(&envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_types_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Policy>();
        send_sync::<Verified>();
        send_sync::<VerifyError>();
        send_sync::<PolicyError>();
    }
}
