//! The registry's Prometheus metrics, served by the runtime's operations endpoint
//! (`CHAINCODE_OPERATIONS_LISTEN_ADDRESS`) next to the runtime's own:
//! `ercc_registry_registrations_total{evidence_type}`,
//! `ercc_registry_rejections_total{evidence_type,reason}` and
//! `ercc_attestation_verification_duration_seconds{evidence_type,outcome}`.
//!
//! Labels come from fixed sets (the evidence types, the registry's error kinds), never from
//! client text. With the endpoint off nothing is created and recording is one atomic load.

use std::sync::OnceLock;
use std::time::Duration;

use fabric_chaincode::operations::prometheus_client::metrics::counter::Counter;
use fabric_chaincode::operations::prometheus_client::metrics::family::Family;
use fabric_chaincode::operations::AtomicHistogram;

use crate::registry::RegistryError;

type Labels1 = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];

struct RegistryMetrics {
    registrations: Family<Labels1, Counter>,
    rejections: Family<Labels2, Counter>,
    verification: Family<Labels2, AtomicHistogram>,
}

static METRICS: OnceLock<RegistryMetrics> = OnceLock::new();

/// Registers the registry's metrics with the operations endpoint, when it is on.
pub fn register() {
    fabric_chaincode::operations::register_metrics(|registry| {
        let m = METRICS.get_or_init(|| RegistryMetrics {
            registrations: Family::default(),
            rejections: Family::default(),
            verification: Family::default(),
        });
        let ercc = registry.sub_registry_with_prefix("ercc");
        ercc.register(
            "registry_registrations",
            "Enclaves registered, by evidence type",
            m.registrations.clone(),
        );
        ercc.register(
            "registry_rejections",
            "registerEnclave calls refused, by evidence type and reason",
            m.rejections.clone(),
        );
        ercc.register(
            "attestation_verification_duration_seconds",
            "Time to verify and appraise evidence, by evidence type and outcome",
            m.verification.clone(),
        );
    });
}

/// Whether recording does anything (so callers can skip reading the clock).
pub fn enabled() -> bool {
    METRICS.get().is_some()
}

/// The evidence type named by evidence bytes, or `unknown`.
pub fn evidence_type(evidence: &[u8]) -> &'static str {
    enclave_attestation::Envelope::parse(evidence)
        .map(|e| e.evidence_type.as_str())
        .unwrap_or("unknown")
}

/// Counts a `registerEnclave` outcome for base64 `credentials`.
pub fn registration(credentials: &str, result: &Result<(), RegistryError>) {
    let Some(m) = METRICS.get() else {
        return;
    };
    let kind = crate::credentials::decode_credentials(credentials)
        .map(|c| evidence_type(&c.evidence))
        .unwrap_or("unknown");
    match result {
        Ok(()) => m
            .registrations
            .get_or_create(&[("evidence_type", kind)])
            .inc(),
        Err(e) => m
            .rejections
            .get_or_create(&[("evidence_type", kind), ("reason", reason(e))])
            .inc(),
    };
}

/// Records one verification of `evidence` that took `elapsed`.
pub fn verification(evidence: &[u8], accepted: bool, elapsed: Duration) {
    let Some(m) = METRICS.get() else {
        return;
    };
    let outcome = if accepted { "accepted" } else { "rejected" };
    m.verification
        .get_or_create(&[
            ("evidence_type", evidence_type(evidence)),
            ("outcome", outcome),
        ])
        .observe(elapsed);
}

/// A bounded label for why a registration was refused.
pub fn reason(e: &RegistryError) -> &'static str {
    match e {
        RegistryError::InvalidCredentials(_) => "invalid_credentials",
        RegistryError::EvidenceEmpty => "evidence_empty",
        RegistryError::AttestedData(_) => "invalid_attested_data",
        RegistryError::CcParamsEmpty | RegistryError::HostParamsEmpty => "missing_parameters",
        RegistryError::WrongChannel { .. } => "wrong_channel",
        RegistryError::ChaincodeDefinition(_) => "chaincode_definition",
        RegistryError::MrenclaveMismatch => "mrenclave_mismatch",
        RegistryError::SequenceMismatch => "sequence_mismatch",
        RegistryError::EvidenceVerification(_) => "evidence_verification",
        RegistryError::CreatorIdentity(_) => "creator_identity",
        RegistryError::AlreadyRegistered(_) => "already_registered",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::DefinitionError;
    use crate::registry::{CreatorError, VerifierError};

    /// The label comes from the error's variant: a reason whose text reads like another
    /// check's failure keeps its own label.
    #[test]
    fn rejection_reasons_follow_variants_not_texts() {
        let verification = RegistryError::EvidenceVerification(VerifierError::Refused(
            "wrong channel! expected=a, actual=b".into(),
        ));
        assert_eq!(reason(&verification), "evidence_verification");
        let definition = RegistryError::ChaincodeDefinition(DefinitionError::Lifecycle {
            status: 500,
            message: "evidence verification failed: mrenclave does not match".into(),
        });
        assert_eq!(reason(&definition), "chaincode_definition");
        let no_time = RegistryError::EvidenceVerification(VerifierError::NoTimestamp);
        assert_eq!(reason(&no_time), "evidence_verification");
        let creator = RegistryError::CreatorIdentity(CreatorError::NoCreator);
        assert_eq!(reason(&creator), "creator_identity");
    }
}
