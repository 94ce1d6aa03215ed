//! The evidence verifier the `ercc` binary uses (chaincode and `ercc verify`): the one
//! place where the registry meets the attestation crate and its policy.
//!
//! Until `enclave-attestation` is wired in here, [`verifier_from_env`] refuses to build a
//! verifier, so this build rejects every registration rather than accepting any.
//! Wiring (once the attestation crate has its API on main): declare `mod policy_verifier;`
//! in `lib.rs` (the file is ready, with its tests) and make [`verifier_from_env`] return
//! `crate::policy_verifier::from_env()`.

use crate::registry::EvidenceVerifier;

/// Why no verifier could be built (bad policy configuration, or none available).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VerifierSetupError(pub String);

/// The verifier configured from the environment (`ERCC_POLICY_FILE`, `ERCC_ACCEPTED_EVIDENCE`,
/// ...), with a one-line description of its policy for the start log.
pub fn verifier_from_env() -> Result<(Box<dyn EvidenceVerifier>, String), VerifierSetupError> {
    Err(VerifierSetupError(
        "no attestation verifier in this build: enclave-attestation is not wired into ercc yet"
            .into(),
    ))
}
