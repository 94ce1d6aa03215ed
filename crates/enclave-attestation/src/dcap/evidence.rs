//! The versioned `dcap` evidence JSON (the string inside `{"attestation_type":"dcap","evidence":...}`):
//! the quote plus every piece of collateral, so verification needs no network. Encodings are strict
//! (canonical base64, lower-case hex, no unknown fields) so that every bit of the evidence matters.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::DcapError;

/// Largest accepted evidence JSON; real evidence is about 30 KiB.
pub const MAX_EVIDENCE_LEN: usize = 256 * 1024;
/// Largest accepted quote; a real SGX quote with its PCK chain is under 5 KiB.
pub const MAX_QUOTE_LEN: usize = 32 * 1024;
/// Largest accepted CRL (DER); Intel's PCK CRLs are a few hundred bytes to a few KiB.
pub const MAX_CRL_LEN: usize = 64 * 1024;
/// Largest accepted TCB info or QE identity JSON.
pub const MAX_JSON_COLLATERAL_LEN: usize = 64 * 1024;
/// Largest accepted PEM issuer chain.
pub const MAX_CHAIN_LEN: usize = 16 * 1024;

/// The collateral a quote is verified against, as Intel's PCS/PCCS serves it.
/// Field names follow `dcap_qvl::QuoteCollateralV3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collateral {
    /// PEM chain of the PCK CRL's issuer (PCK Processor or Platform CA, then the root).
    pub pck_crl_issuer_chain: String,
    /// DER CRL of the root CA.
    pub root_ca_crl: Vec<u8>,
    /// DER CRL of the PCK CA.
    pub pck_crl: Vec<u8>,
    /// PEM chain of the TCB signing certificate, then the root.
    pub tcb_info_issuer_chain: String,
    /// The exact signed TCB info JSON (the `tcbInfo` object of the PCS response).
    pub tcb_info: String,
    /// Raw 64-byte `r || s` ECDSA signature over `tcb_info`.
    pub tcb_info_signature: Vec<u8>,
    /// PEM chain of the QE identity signer, then the root.
    pub qe_identity_issuer_chain: String,
    /// The exact signed QE identity JSON (the `enclaveIdentity` object).
    pub qe_identity: String,
    /// Raw 64-byte `r || s` ECDSA signature over `qe_identity`.
    pub qe_identity_signature: Vec<u8>,
}

/// `dcap` evidence: a quote and its collateral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcapEvidence {
    /// The raw quote (version 3 or 4, SGX, ECDSA P-256 attestation key).
    pub quote: Vec<u8>,
    /// What the quote is verified with (certificates, CRLs, TCB info, QE identity).
    pub collateral: Collateral,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvidence {
    version: u64,
    quote: String,
    collateral: WireCollateral,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCollateral {
    pck_crl_issuer_chain: String,
    root_ca_crl: String,
    pck_crl: String,
    tcb_info_issuer_chain: String,
    tcb_info: String,
    tcb_info_signature: String,
    qe_identity_issuer_chain: String,
    qe_identity: String,
    qe_identity_signature: String,
}

fn invalid(msg: impl Into<String>) -> DcapError {
    DcapError::InvalidEvidence(msg.into())
}

/// Lower-case hex only: accepting both cases would let a bit flip (0x20) pass unnoticed.
fn strict_hex(field: &str, s: &str, max_bytes: usize) -> Result<Vec<u8>, DcapError> {
    if s.len() > max_bytes.saturating_mul(2) {
        return Err(invalid(format!("{field} is longer than {max_bytes} bytes")));
    }
    if !s
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return Err(invalid(format!("{field} is not lower-case hex")));
    }
    hex::decode(s).map_err(|e| invalid(format!("{field} is not hex: {e}")))
}

fn limited(field: &str, s: String, max: usize) -> Result<String, DcapError> {
    if s.len() > max {
        return Err(invalid(format!("{field} is longer than {max} bytes")));
    }
    Ok(s)
}

impl Collateral {
    fn from_wire(w: WireCollateral) -> Result<Self, DcapError> {
        Ok(Collateral {
            pck_crl_issuer_chain: limited(
                "pck_crl_issuer_chain",
                w.pck_crl_issuer_chain,
                MAX_CHAIN_LEN,
            )?,
            root_ca_crl: strict_hex("root_ca_crl", &w.root_ca_crl, MAX_CRL_LEN)?,
            pck_crl: strict_hex("pck_crl", &w.pck_crl, MAX_CRL_LEN)?,
            tcb_info_issuer_chain: limited(
                "tcb_info_issuer_chain",
                w.tcb_info_issuer_chain,
                MAX_CHAIN_LEN,
            )?,
            tcb_info: limited("tcb_info", w.tcb_info, MAX_JSON_COLLATERAL_LEN)?,
            tcb_info_signature: strict_hex("tcb_info_signature", &w.tcb_info_signature, 64)?,
            qe_identity_issuer_chain: limited(
                "qe_identity_issuer_chain",
                w.qe_identity_issuer_chain,
                MAX_CHAIN_LEN,
            )?,
            qe_identity: limited("qe_identity", w.qe_identity, MAX_JSON_COLLATERAL_LEN)?,
            qe_identity_signature: strict_hex(
                "qe_identity_signature",
                &w.qe_identity_signature,
                64,
            )?,
        })
    }

    fn to_wire(&self) -> WireCollateral {
        WireCollateral {
            pck_crl_issuer_chain: self.pck_crl_issuer_chain.clone(),
            root_ca_crl: hex::encode(&self.root_ca_crl),
            pck_crl: hex::encode(&self.pck_crl),
            tcb_info_issuer_chain: self.tcb_info_issuer_chain.clone(),
            tcb_info: self.tcb_info.clone(),
            tcb_info_signature: hex::encode(&self.tcb_info_signature),
            qe_identity_issuer_chain: self.qe_identity_issuer_chain.clone(),
            qe_identity: self.qe_identity.clone(),
            qe_identity_signature: hex::encode(&self.qe_identity_signature),
        }
    }

    /// Parses the `collateral` object alone (the serde JSON form of `dcap_qvl::QuoteCollateralV3`
    /// without `pck_certificate_chain`).
    pub fn parse_json(bytes: &[u8]) -> Result<Self, DcapError> {
        if bytes.len() > MAX_EVIDENCE_LEN {
            return Err(DcapError::EvidenceTooLarge {
                size: bytes.len(),
                max: MAX_EVIDENCE_LEN,
            });
        }
        let w: WireCollateral =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("collateral: {e}")))?;
        Self::from_wire(w)
    }

    /// The `collateral` object as JSON.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail.
        serde_json::to_string(&self.to_wire()).unwrap_or_default()
    }
}

impl DcapEvidence {
    /// Parses the evidence JSON, enforcing the size limits before decoding anything.
    pub fn parse(bytes: &[u8]) -> Result<Self, DcapError> {
        if bytes.len() > MAX_EVIDENCE_LEN {
            return Err(DcapError::EvidenceTooLarge {
                size: bytes.len(),
                max: MAX_EVIDENCE_LEN,
            });
        }
        let w: WireEvidence = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if w.version != 1 {
            return Err(DcapError::UnsupportedEvidenceVersion(w.version));
        }
        // base64 expands 3 bytes to 4: bound the text before decoding.
        const MAX_QUOTE_BASE64_LEN: usize = MAX_QUOTE_LEN.div_ceil(3) * 4;
        if w.quote.len() > MAX_QUOTE_BASE64_LEN {
            return Err(DcapError::QuoteTooLarge {
                size: (w.quote.len() / 4).saturating_mul(3),
                max: MAX_QUOTE_LEN,
            });
        }
        // The standard engine rejects non-zero trailing bits and missing padding: one encoding per quote.
        let quote = base64::engine::general_purpose::STANDARD
            .decode(w.quote.as_bytes())
            .map_err(|e| invalid(format!("quote is not canonical base64: {e}")))?;
        if quote.len() > MAX_QUOTE_LEN {
            return Err(DcapError::QuoteTooLarge {
                size: quote.len(),
                max: MAX_QUOTE_LEN,
            });
        }
        Ok(DcapEvidence {
            quote,
            collateral: Collateral::from_wire(w.collateral)?,
        })
    }

    /// The evidence JSON (`{"version":1,"quote":...,"collateral":{...}}`), as `parse` reads it.
    pub fn to_json(&self) -> String {
        let w = WireEvidence {
            version: 1,
            quote: base64::engine::general_purpose::STANDARD.encode(&self.quote),
            collateral: self.collateral.to_wire(),
        };
        serde_json::to_string(&w).unwrap_or_default()
    }

    /// The FPC evidence envelope `{"attestation_type":"dcap","evidence":"<to_json()>"}`
    /// that `Credentials.evidence` holds.
    pub fn to_fpc_evidence(&self) -> String {
        serde_json::json!({"attestation_type": "dcap", "evidence": self.to_json()}).to_string()
    }
}
