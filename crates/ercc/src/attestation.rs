//! The evidence verifier the `ercc` binary uses (chaincode and `ercc verify`): the one
//! place where the registry meets the attestation crate and its policy.
//!
//! The verifier is [`crate::policy_verifier::PolicyVerifier`]: `enclave_attestation::verify`
//! under the policy from the environment.

use crate::registry::EvidenceVerifier;

/// Why no verifier could be built (bad policy configuration, or none available).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VerifierSetupError(pub String);

/// The verifier configured from the environment (`ERCC_POLICY_FILE`, `ERCC_ACCEPTED_EVIDENCE`,
/// ...), with a one-line description of its policy for the start log.
pub fn verifier_from_env() -> Result<(Box<dyn EvidenceVerifier>, String), VerifierSetupError> {
    crate::policy_verifier::from_env()
}
