//! `simulated` evidence: what an enclave built for SGX simulation mode produces. It attests
//! nothing, so it is accepted only when the policy enables it (the Go registry accepted it always).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use crate::claims::{Claims, EvidenceType};
use crate::envelope::Envelope;
use crate::error::{MalformedEvidence, VerifyError};
use crate::limits::MAX_SIMULATED_LEN;
use crate::policy::Policy;
use crate::time::UnixTime;
use crate::verifier::EvidenceVerifier;

/// The verifier for `simulated` evidence: it only bounds the evidence's size.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedVerifier;

fn check(envelope: &Envelope) -> Result<(), MalformedEvidence> {
    if envelope.evidence.len() > MAX_SIMULATED_LEN {
        return Err(MalformedEvidence::TooLarge {
            what: "simulated evidence",
            len: envelope.evidence.len(),
            max: MAX_SIMULATED_LEN,
        });
    }
    Ok(())
}

impl EvidenceVerifier for SimulatedVerifier {
    fn verify(
        &self,
        envelope: &Envelope,
        _policy: &Policy,
        _now: UnixTime,
    ) -> Result<Claims, VerifyError> {
        check(envelope)?;
        Ok(Claims {
            evidence_type: EvidenceType::Simulated,
            enclave: None,
            status: None,
            advisory_ids: Vec::new(),
            issued_at: None,
            tcb_info: None,
        })
    }

    fn inspect(&self, envelope: &Envelope) -> Result<serde_json::Value, VerifyError> {
        check(envelope)?;
        Ok(serde_json::json!({
            "attestation_type": EvidenceType::Simulated.as_str(),
            "evidence": envelope.evidence,
            "note": "simulated evidence attests nothing",
        }))
    }
}
