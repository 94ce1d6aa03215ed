//! Appraisal: the policy applied to verified [`Claims`], the same for every evidence type. Checks
//! run from the platform outwards (status, advisories, debug, age), then the enclave identity
//! (MRENCLAVE, then the binding of the report data to the attested statement).

use sha2::{Digest, Sha256};

use crate::claims::{Claims, EvidenceType};
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::time::UnixTime;

/// The data the evidence must be bound to.
pub(crate) struct Expected<'a> {
    pub(crate) mrenclave: &'a str,
    pub(crate) statement: &'a [u8],
    pub(crate) now: UnixTime,
}

/// Checks that the policy accepts the evidence type (before any verification work is spent).
pub(crate) fn check_type(policy: &Policy, evidence_type: EvidenceType) -> Result<(), VerifyError> {
    if policy.accepts(evidence_type) {
        Ok(())
    } else if evidence_type == EvidenceType::Simulated {
        Err(VerifyError::SimulatedNotAccepted)
    } else {
        Err(VerifyError::TypeNotAccepted(evidence_type))
    }
}

/// Applies the policy to verified claims.
pub(crate) fn appraise(
    policy: &Policy,
    claims: &Claims,
    expected: &Expected<'_>,
) -> Result<(), VerifyError> {
    check_type(policy, claims.evidence_type)?;
    let Some(enclave) = &claims.enclave else {
        // Only simulated evidence attests no enclave; it was admitted by `check_type`.
        return Ok(());
    };
    if let Some(status) = &claims.status {
        if claims.evidence_type.is_epid() {
            if !policy.ias_accepted_quote_statuses.contains(status) {
                return Err(VerifyError::QuoteStatusNotAccepted(status.clone()));
            }
        } else if !policy.dcap.accepted_tcb_statuses.contains(status) {
            return Err(VerifyError::TcbStatusNotAccepted(status.clone()));
        }
    }
    if claims.evidence_type == EvidenceType::Dcap {
        if let Some(advisory) = claims
            .advisory_ids
            .iter()
            .find(|a| policy.dcap.rejected_advisories.contains(*a))
        {
            return Err(VerifyError::AdvisoryRejected(advisory.clone()));
        }
    }
    if enclave.debug && !policy.allow_debug_enclaves {
        return Err(VerifyError::DebugEnclave);
    }
    if let Some(issued_at) = claims.issued_at {
        check_age(issued_at, expected.now, policy.max_report_age)?;
    }
    let want = parse_mrenclave(expected.mrenclave)?;
    if enclave.mrenclave != want {
        return Err(VerifyError::MrenclaveMismatch {
            expected: hex::encode(want),
            found: hex::encode(enclave.mrenclave),
        });
    }
    if enclave.report_data != expected_report_data(expected.statement) {
        return Err(VerifyError::ReportDataMismatch);
    }
    Ok(())
}

fn check_age(issued_at: UnixTime, now: UnixTime, max: u64) -> Result<(), VerifyError> {
    let age = now.as_secs().checked_sub(issued_at.as_secs());
    match age.map(u64::try_from) {
        Some(Ok(age)) if age <= max => Ok(()),
        Some(Ok(age)) => Err(VerifyError::ReportTooOld { age, max }),
        // Negative: issued after the transaction. (Overflow needs times ~292 billion years
        // apart; treat it as too old.)
        Some(Err(_)) => Err(VerifyError::ReportFromFuture { issued_at, now }),
        None => Err(VerifyError::ReportTooOld { age: u64::MAX, max }),
    }
}

/// The FPC binding: REPORTDATA = SHA-256(statement) || 32 zero bytes.
pub fn expected_report_data(statement: &[u8]) -> [u8; 64] {
    let mut data = [0u8; 64];
    let digest = Sha256::digest(statement);
    if let Some(head) = data.get_mut(..32) {
        head.copy_from_slice(&digest);
    }
    data
}

/// The chaincode definition's version as a MRENCLAVE: 64 hex digits, either case (FPC compares
/// upper-case hex text; comparing bytes is the same and accepts what either case produced).
fn parse_mrenclave(text: &str) -> Result<[u8; 32], VerifyError> {
    let mut out = [0u8; 32];
    match hex::decode_to_slice(text, &mut out) {
        Ok(()) => Ok(out),
        Err(_) => Err(VerifyError::InvalidExpectedMrenclave(
            text.chars().take(80).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bounds() {
        let t = UnixTime::from_secs;
        assert_eq!(check_age(t(100), t(100), 0), Ok(()));
        assert_eq!(check_age(t(100), t(200), 100), Ok(()));
        assert_eq!(
            check_age(t(100), t(201), 100),
            Err(VerifyError::ReportTooOld { age: 101, max: 100 })
        );
        assert_eq!(
            check_age(t(101), t(100), 100),
            Err(VerifyError::ReportFromFuture {
                issued_at: t(101),
                now: t(100)
            })
        );
        assert!(check_age(t(i64::MIN), t(i64::MAX), u64::MAX).is_err());
    }

    #[test]
    fn mrenclave_text() {
        assert_eq!(parse_mrenclave(&"AB".repeat(32)), Ok([0xab; 32]));
        assert_eq!(parse_mrenclave(&"ab".repeat(32)), Ok([0xab; 32]));
        for bad in [
            "",
            "1.0",
            &"ab".repeat(31),
            &"ab".repeat(33),
            &"zz".repeat(32),
        ] {
            assert!(
                matches!(
                    parse_mrenclave(bad),
                    Err(VerifyError::InvalidExpectedMrenclave(_))
                ),
                "{bad}"
            );
        }
    }
}
