//! One verifier per evidence type behind a common trait, and the table that picks it. A new
//! evidence type is a variant of [`EvidenceType`], an implementation of [`EvidenceVerifier`] and one
//! arm in [`verifier_for`].

use crate::claims::{Claims, EvidenceType};
use crate::envelope::Envelope;
use crate::error::VerifyError;
use crate::ias::EpidVerifier;
use crate::policy::Policy;
use crate::simulated::SimulatedVerifier;
use crate::time::UnixTime;

/// Cryptographic verification of one evidence type. Implementations check that the evidence is
/// authentic (signatures, certificate chains, collateral validity) and return what it attests;
/// they apply no acceptance policy beyond the trust anchors taken from `policy`. Appraisal
/// (statuses, debug, age, MRENCLAVE, report data) is done once, on the [`Claims`].
pub trait EvidenceVerifier: Sync {
    /// Verifies the envelope's evidence at transaction time `now`.
    fn verify(
        &self,
        envelope: &Envelope,
        policy: &Policy,
        now: UnixTime,
    ) -> Result<Claims, VerifyError>;

    /// Decodes the evidence into readable JSON without verifying it (`ercc inspect`).
    fn inspect(&self, envelope: &Envelope) -> Result<serde_json::Value, VerifyError>;
}

/// The verifier for an evidence type, or `None` when this build has none.
pub fn verifier_for(evidence_type: EvidenceType) -> Option<&'static dyn EvidenceVerifier> {
    match evidence_type {
        EvidenceType::Simulated => Some(&SimulatedVerifier),
        EvidenceType::EpidLinkable | EvidenceType::EpidUnlinkable => Some(&EpidVerifier),
        // Wired by the DCAP integration: `Some(&crate::dcap::DcapVerifier)`.
        EvidenceType::Dcap => None,
    }
}
