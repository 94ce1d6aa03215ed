//! One verifier per evidence type behind a common trait, and the table that picks it. A new
//! evidence type is a variant of [`EvidenceType`], an implementation of [`EvidenceVerifier`] and one
//! arm in [`verifier_for`].
//!
//! `dcap` evidence is verified by [`crate::dcap`] (which applies no policy) through
//! [`DcapVerifier`]; the common appraisal then applies the DCAP part of the policy.

use crate::claims::{Claims, EvidenceType};
use crate::dcap::{self, DcapEvidence, DcapVerified, TcbInfoVersion};
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
        EvidenceType::Dcap => Some(&DcapVerifier),
    }
}

/// Adapter from [`crate::dcap`] (quote + collateral verification at `now`) to [`Claims`].
pub struct DcapVerifier;

impl EvidenceVerifier for DcapVerifier {
    fn verify(
        &self,
        envelope: &Envelope,
        policy: &Policy,
        now: UnixTime,
    ) -> Result<Claims, VerifyError> {
        let evidence = DcapEvidence::parse(envelope.evidence.as_bytes())?;
        let v = dcap::verify(&evidence, policy.dcap.root_ca.der(), now.as_secs())?;
        Ok(dcap_claims(
            v,
            dcap::tcb_info_version(&evidence.collateral)?,
        ))
    }

    fn inspect(&self, envelope: &Envelope) -> Result<serde_json::Value, VerifyError> {
        Ok(dcap::inspect(&DcapEvidence::parse(
            envelope.evidence.as_bytes(),
        )?))
    }
}

/// The claims of a verified DCAP quote judged under TCB info `tcb_info`.
pub(crate) fn dcap_claims(v: DcapVerified, tcb_info: TcbInfoVersion) -> Claims {
    Claims {
        evidence_type: EvidenceType::Dcap,
        enclave: Some(v.enclave_report()),
        status: Some(v.tcb_status),
        advisory_ids: v.advisory_ids,
        // Freshness is the collateral's validity window, already checked at `now`.
        issued_at: None,
        tcb_info: Some(tcb_info),
    }
}
