//! Re-appraisal of a registered enclave's quote against newer collateral for its platform: which
//! TCB info judged a platform ([`TcbInfoVersion`]), whether offered collateral is newer and for the
//! same platform (FMSPC), and the quote re-verified with it. The verification itself is the
//! ordinary pipeline ([`super::verify`]) with the stored quote and the new collateral; this module
//! only decides which of its failures are a verdict on the platform and which are a refusal of the
//! collateral. No policy here.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::{tcb, Collateral, DcapError, DcapEvidence, DcapVerified};
use crate::time::UnixTime;

/// Which TCB info judged a platform: the one a later re-appraisal must be newer than.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcbInfoVersion {
    /// The platform (FMSPC) the TCB info is for.
    pub fmspc: [u8; 6],
    /// `issueDate`, Unix seconds.
    pub issue_date: i64,
    /// `tcbEvaluationDataNumber` (absent in some older TCB info).
    pub evaluation_data_number: Option<u32>,
}

impl TcbInfoVersion {
    /// Why `self` (offered) is not newer than `applied`, or `None` when it is: a later issue date
    /// and no lower evaluation data number (Intel reissues TCB info daily under one number).
    fn not_newer_than(&self, applied: &TcbInfoVersion) -> Option<String> {
        if let (Some(offered), Some(applied)) =
            (self.evaluation_data_number, applied.evaluation_data_number)
        {
            if offered < applied {
                return Some(format!(
                    "tcbEvaluationDataNumber {offered} is lower than the applied {applied}"
                ));
            }
        }
        (self.issue_date <= applied.issue_date).then(|| {
            format!(
                "issueDate {} is not after the applied {}",
                UnixTime::from_secs(self.issue_date),
                UnixTime::from_secs(applied.issue_date)
            )
        })
    }
}

/// The version of a collateral's TCB info (parsed, not verified).
pub fn tcb_info_version(collateral: &Collateral) -> Result<TcbInfoVersion, DcapError> {
    let info = tcb::parse_tcb_info(&collateral.tcb_info)?;
    let (issue_date, _) = tcb::window("TCB info", &info.issue_date, &info.next_update)?;
    Ok(TcbInfoVersion {
        fmspc: tcb::hex_field::<6>("TCB info", "fmspc", &info.fmspc)?,
        issue_date,
        evaluation_data_number: info.tcb_evaluation_data_number,
    })
}

/// What authentic, newer collateral says about the stored quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejudged {
    /// The quote still verifies; its new TCB status and advisories are for the policy to judge.
    Verified(DcapVerified),
    /// The collateral condemns the platform: its TCB level is `Revoked` or no longer listed, or
    /// the new CRLs revoke its PCK certificate or PCK CA.
    PlatformRejected(DcapError),
}

/// Re-verifies `quote` (verified when its enclave registered, under TCB info `applied`) with
/// `collateral` at `now`, returning the TCB info version now applied and the verdict. Refused
/// (`Err`, nothing to record) when the collateral is for another FMSPC, not newer than `applied`,
/// or not authentic and current under `root_ca_der`.
///
/// A revoked PCK certificate or PCK CA is found (from authentic CRLs) before the TCB info's
/// signature is checked, so then the TCB info version stays `applied`: unverified TCB info must
/// never become what later collateral has to be newer than.
pub fn reappraise(
    quote: &[u8],
    applied: &TcbInfoVersion,
    collateral: &Collateral,
    root_ca_der: &[u8],
    now: i64,
) -> Result<(TcbInfoVersion, Rejudged), DcapError> {
    let offered = tcb_info_version(collateral)?;
    if offered.fmspc != applied.fmspc {
        return Err(DcapError::ForeignCollateral {
            offered: hex::encode_upper(offered.fmspc),
            platform: hex::encode_upper(applied.fmspc),
        });
    }
    if let Some(reason) = offered.not_newer_than(applied) {
        return Err(DcapError::CollateralNotNewer(reason));
    }
    let evidence = DcapEvidence {
        quote: quote.to_vec(),
        collateral: collateral.clone(),
    };
    match super::verify(&evidence, root_ca_der, now) {
        Ok(v) => Ok((offered, Rejudged::Verified(v))),
        Err(e @ DcapError::Revoked { .. }) if condemns_platform(&e) => {
            Ok((*applied, Rejudged::PlatformRejected(e)))
        }
        Err(e) if condemns_platform(&e) => Ok((offered, Rejudged::PlatformRejected(e))),
        Err(e) => Err(e),
    }
}

/// Failures that authentic collateral causes by judging the platform (not by being bad itself).
/// Signatures, chains and validity windows of the collateral are checked before any of these.
fn condemns_platform(e: &DcapError) -> bool {
    matches!(
        e,
        DcapError::TcbRevoked
            | DcapError::NoMatchingTcbLevel(_)
            | DcapError::Revoked {
                what: "PCK certificate" | "PCK CA certificate"
            }
    )
}
