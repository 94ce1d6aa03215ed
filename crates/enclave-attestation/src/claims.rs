//! What a verifier establishes about an enclave, normalised across evidence types, so that the
//! policy appraisal (`appraisal.rs`) is written once for EPID, DCAP and simulated evidence.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::fmt;
use std::str::FromStr;

use crate::dcap::TcbInfoVersion;
use crate::time::UnixTime;

/// The evidence types FPC knows (`attestation_type` in the evidence envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EvidenceType {
    /// No hardware: the enclave runs in SGX simulation mode and proves nothing.
    Simulated,
    /// EPID quote with a linkable signature, verified by Intel's Attestation Service (IAS).
    EpidLinkable,
    /// EPID quote with an unlinkable signature, verified by IAS.
    EpidUnlinkable,
    /// ECDSA quote with its PCS collateral (Data Center Attestation Primitives).
    Dcap,
}

impl EvidenceType {
    /// Every type, in the order used for display.
    pub const ALL: [EvidenceType; 4] = [
        EvidenceType::Simulated,
        EvidenceType::EpidLinkable,
        EvidenceType::EpidUnlinkable,
        EvidenceType::Dcap,
    ];

    /// The `attestation_type` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            EvidenceType::Simulated => "simulated",
            EvidenceType::EpidLinkable => "epid-linkable",
            EvidenceType::EpidUnlinkable => "epid-unlinkable",
            EvidenceType::Dcap => "dcap",
        }
    }

    /// True for the two EPID/IAS types.
    pub const fn is_epid(self) -> bool {
        matches!(
            self,
            EvidenceType::EpidLinkable | EvidenceType::EpidUnlinkable
        )
    }
}

impl fmt::Display for EvidenceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `attestation_type` that is not one of [`EvidenceType::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown evidence type {0:?} (known: simulated, epid-linkable, epid-unlinkable, dcap)")]
pub struct UnknownEvidenceType(pub String);

impl FromStr for EvidenceType {
    type Err = UnknownEvidenceType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EvidenceType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEvidenceType(s.chars().take(64).collect()))
    }
}

/// The SGX report fields a hardware quote attests (the `sgx_report_body_t` subset that matters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnclaveReport {
    /// MRENCLAVE: the enclave's measurement.
    pub mrenclave: [u8; 32],
    /// MRSIGNER: SHA-256 of the enclave signer's RSA modulus.
    pub mrsigner: [u8; 32],
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN.
    pub isv_svn: u16,
    /// REPORTDATA: for FPC, SHA-256(attested data) followed by 32 zero bytes.
    pub report_data: [u8; 64],
    /// The DEBUG attribute: a debug enclave's memory can be read by its host.
    pub debug: bool,
}

/// Normalised result of a cryptographic verification, before any policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The evidence type that was verified.
    pub evidence_type: EvidenceType,
    /// The attested enclave; `None` for simulated evidence, which attests nothing.
    pub enclave: Option<EnclaveReport>,
    /// IAS `isvEnclaveQuoteStatus` (EPID) or the TCB status (DCAP); `None` for simulated.
    pub status: Option<String>,
    /// Intel security advisories that apply to the platform (`INTEL-SA-xxxxx`).
    pub advisory_ids: Vec<String>,
    /// When the evidence was issued (the IAS report timestamp); `None` when the evidence has no
    /// issue time of its own (DCAP: its collateral validity is checked at the transaction time).
    pub issued_at: Option<UnixTime>,
    /// The TCB info that judged a `dcap` platform (what re-appraisal must be newer than); `None`
    /// for the other types.
    pub tcb_info: Option<TcbInfoVersion>,
}

impl Claims {
    /// Readable form for `ercc verify`: hex for byte fields, RFC 3339 for the issue time.
    pub fn to_json(&self) -> serde_json::Value {
        let enclave = self.enclave.as_ref().map(|e| {
            serde_json::json!({
                "mrenclave": hex::encode(e.mrenclave),
                "mrsigner": hex::encode(e.mrsigner),
                "isv_prod_id": e.isv_prod_id,
                "isv_svn": e.isv_svn,
                "report_data": hex::encode(e.report_data),
                "debug": e.debug,
            })
        });
        serde_json::json!({
            "evidence_type": self.evidence_type.as_str(),
            "enclave": enclave,
            "status": self.status,
            "advisory_ids": self.advisory_ids,
            "issued_at": self.issued_at.map(|t| t.to_string()),
            "tcb_info": self.tcb_info.map(|t| serde_json::json!({
                "fmspc": hex::encode_upper(t.fmspc),
                "issue_date": UnixTime::from_secs(t.issue_date).to_string(),
                "tcb_evaluation_data_number": t.evaluation_data_number,
            })),
        })
    }
}
