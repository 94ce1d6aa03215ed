//! Re-appraisal of a registered enclave: its stored evidence re-verified with newer collateral for
//! its platform and judged again under the policy, at the transaction time. Only `dcap` evidence
//! can be re-appraised: EPID reports were signed by IAS, which is gone, so nothing newer exists.

use crate::appraisal::{self, Expected};
use crate::claims::{Claims, EvidenceType};
use crate::dcap::{self, Collateral, DcapEvidence, Rejudged, TcbInfoVersion};
use crate::envelope::Envelope;
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::time::UnixTime;

/// A registered enclave and the collateral offered to re-judge it.
#[derive(Debug, Clone, Copy)]
pub struct ReappraisalRequest<'a> {
    /// The enclave's stored `Credentials.evidence`.
    pub evidence: &'a [u8],
    /// The MRENCLAVE it registered under (its attested chaincode version).
    pub expected_mrenclave: &'a str,
    /// Its attested statement (the `Any.value` bytes of its attested data).
    pub statement: &'a [u8],
    /// The TCB info that judged it last (at registration or the last re-appraisal).
    pub applied: TcbInfoVersion,
    /// The offered collateral: a `collateral` object as in `dcap` evidence (`docs/dcap-evidence.md`).
    pub collateral: &'a [u8],
    /// The transaction time.
    pub now: UnixTime,
}

/// The outcome of a re-appraisal the registry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reappraisal {
    /// The TCB info now applied to the enclave.
    pub tcb_info: TcbInfoVersion,
    /// What the quote re-verified to; `None` when the collateral condemned the platform outright.
    pub claims: Option<Claims>,
    /// `Ok` when the policy still accepts the enclave, otherwise why it no longer does.
    pub verdict: Result<(), VerifyError>,
}

/// Re-judges a registered enclave with newer collateral. `Err` refuses the request (the evidence
/// is not `dcap`, the collateral is malformed, for another platform, not newer, or not authentic
/// and current at `now`); `Ok` carries the verdict, favourable or not.
pub fn reappraise(
    policy: &Policy,
    req: &ReappraisalRequest<'_>,
) -> Result<Reappraisal, VerifyError> {
    let envelope = Envelope::parse(req.evidence)?;
    if envelope.evidence_type != EvidenceType::Dcap {
        return Err(VerifyError::NotReappraisable(envelope.evidence_type));
    }
    let evidence = DcapEvidence::parse(envelope.evidence.as_bytes())?;
    let collateral = Collateral::parse_json(req.collateral)?;
    let (tcb_info, rejudged) = dcap::reappraise(
        &evidence.quote,
        &req.applied,
        &collateral,
        policy.dcap.root_ca.der(),
        req.now.as_secs(),
    )?;
    Ok(match rejudged {
        Rejudged::Verified(v) => {
            let claims = crate::verifier::dcap_claims(v, tcb_info);
            let verdict = appraisal::appraise(
                policy,
                &claims,
                &Expected {
                    mrenclave: req.expected_mrenclave,
                    statement: req.statement,
                    now: req.now,
                },
            );
            Reappraisal {
                tcb_info,
                claims: Some(claims),
                verdict,
            }
        }
        Rejudged::PlatformRejected(e) => Reappraisal {
            tcb_info,
            claims: None,
            verdict: Err(e.into()),
        },
    })
}
