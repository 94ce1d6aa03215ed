//! EPID evidence (`epid-linkable`, `epid-unlinkable`): Intel Attestation Service reports.
//!
//! Verification order: parse the evidence; check the report signature with the signing
//! certificate (so nothing in the report is read before it is authenticated beyond its size);
//! parse the report; validate the certificate path to the configured root **at the report's own
//! IAS timestamp** (IAS is gone and its signing certificate expired on 2026-11-20, so checking at
//! the transaction time would reject every report ever issued; the report's age against the
//! transaction time is bounded by the policy instead).

mod evidence;
mod quote;
mod report;
pub(crate) mod signing;

pub use evidence::IasEvidence;
pub use quote::{QuoteBody, QUOTE_BODY_LEN};
pub use report::IasReport;

use sha2::{Digest, Sha256};

use crate::claims::{Claims, EvidenceType};
use crate::envelope::Envelope;
use crate::error::{MalformedEvidence, VerifyError};
use crate::policy::Policy;
use crate::time::UnixTime;
use crate::verifier::EvidenceVerifier;
use signing::SigningCertificate;

/// The verifier for both EPID evidence types.
#[derive(Debug, Clone, Copy, Default)]
pub struct EpidVerifier;

/// An IAS report whose signature and certificate chain have been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIasReport {
    /// The report.
    pub report: IasReport,
}

/// Verifies an EPID evidence string against `root`: report signature, then the path from the
/// signing certificate to `root` at the report's timestamp, then that the quote's EPID signature
/// type matches `declared`. No policy is applied.
pub fn verify_ias_evidence(
    declared: EvidenceType,
    evidence: &str,
    root: &crate::anchors::RootCa,
) -> Result<VerifiedIasReport, VerifyError> {
    let evidence = IasEvidence::parse(evidence)?;
    let (leaf, others) = match evidence.certificates.split_first() {
        Some(split) => split,
        None => return Err(MalformedEvidence::NoCertificates.into()),
    };
    let signing = SigningCertificate::parse(leaf)?;
    signing.verify_report(&evidence.report, &evidence.signature)?;
    let report = IasReport::parse(&evidence.report)?;
    signing.verify_chain(others, root, report.timestamp)?;
    check_sign_type(declared, &report.quote_body)?;
    Ok(VerifiedIasReport { report })
}

fn check_sign_type(declared: EvidenceType, quote: &QuoteBody) -> Result<(), MalformedEvidence> {
    let actual = match quote.sign_type {
        0 => EvidenceType::EpidUnlinkable,
        1 => EvidenceType::EpidLinkable,
        _ => {
            return Err(MalformedEvidence::SignTypeMismatch {
                declared,
                sign_type: quote.sign_type,
                actual: "unknown",
            })
        }
    };
    if actual == declared {
        Ok(())
    } else {
        Err(MalformedEvidence::SignTypeMismatch {
            declared,
            sign_type: quote.sign_type,
            actual: actual.as_str(),
        })
    }
}

impl EvidenceVerifier for EpidVerifier {
    fn verify(
        &self,
        envelope: &Envelope,
        policy: &Policy,
        _now: UnixTime,
    ) -> Result<Claims, VerifyError> {
        let verified = verify_ias_evidence(
            envelope.evidence_type,
            &envelope.evidence,
            &policy.ias_root_ca,
        )?;
        let report = verified.report;
        Ok(Claims {
            evidence_type: envelope.evidence_type,
            enclave: Some(report.quote_body.enclave_report()),
            status: Some(report.quote_status),
            advisory_ids: report.advisory_ids,
            issued_at: Some(report.timestamp),
            tcb_info: None,
        })
    }

    fn inspect(&self, envelope: &Envelope) -> Result<serde_json::Value, VerifyError> {
        let evidence = IasEvidence::parse(&envelope.evidence)?;
        let report = IasReport::parse(&evidence.report)?;
        let certificates: Vec<serde_json::Value> = evidence
            .certificates
            .iter()
            .map(|c| serde_json::json!({ "sha256": hex::encode(Sha256::digest(c.as_ref())), "der_len": c.as_ref().len() }))
            .collect();
        Ok(serde_json::json!({
            "attestation_type": envelope.evidence_type.as_str(),
            "verified": false,
            "ias": {
                "id": report.id,
                "timestamp": report.timestamp_text,
                "timestamp_utc": report.timestamp.to_string(),
                "version": report.version,
                "isvEnclaveQuoteStatus": report.quote_status,
                "advisoryIDs": report.advisory_ids,
                "advisoryURL": report.advisory_url,
                "nonce": report.nonce,
                "revocationReason": report.revocation_reason,
                "platformInfoBlob": report.platform_info_blob,
                "report_sha256": hex::encode(Sha256::digest(&evidence.report)),
                "signature_len": evidence.signature.len(),
                "certificates": certificates,
            },
            "quote": report.quote_body.to_json(),
        }))
    }
}
