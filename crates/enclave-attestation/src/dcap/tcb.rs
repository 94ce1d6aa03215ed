//! Intel's signed TCB info (SGX, version 3) and QE identity (version 2) JSON: their validity
//! windows, matching the platform's and the quoting enclave's TCB level, and the combined status.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use serde::Deserialize;

use super::quote::EnclaveReport;
use super::x509::PckExtension;
use super::DcapError;
use crate::time::parse_rfc3339_utc;
use crate::time::UnixTime;

/// A TCB status as Intel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TcbStatus {
    /// The platform is patched.
    UpToDate,
    /// Patched, but software mitigations are needed in the enclave.
    SWHardeningNeeded,
    /// Patched, but the platform's configuration needs changes.
    ConfigurationNeeded,
    /// Both of the above.
    ConfigurationAndSWHardeningNeeded,
    /// Missing security updates.
    OutOfDate,
    /// Missing security updates, and the configuration needs changes.
    OutOfDateConfigurationNeeded,
    /// The platform's keys are compromised.
    Revoked,
}

impl TcbStatus {
    /// Intel's name of the status, as in TCB info.
    pub fn as_str(self) -> &'static str {
        match self {
            TcbStatus::UpToDate => "UpToDate",
            TcbStatus::SWHardeningNeeded => "SWHardeningNeeded",
            TcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            TcbStatus::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            TcbStatus::OutOfDate => "OutOfDate",
            TcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            TcbStatus::Revoked => "Revoked",
        }
    }

    /// Intel QVL's convergence of the platform status with the QE's: only an out-of-date or
    /// revoked quoting enclave lowers the platform status.
    fn converge_with_qe(self, qe: TcbStatus) -> TcbStatus {
        use TcbStatus::*;
        match (qe, self) {
            (Revoked, _) => Revoked,
            (OutOfDate, UpToDate | SWHardeningNeeded) => OutOfDate,
            (OutOfDate, ConfigurationNeeded | ConfigurationAndSWHardeningNeeded) => {
                OutOfDateConfigurationNeeded
            }
            _ => self,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TcbInfo {
    pub id: String,
    pub version: u32,
    pub issue_date: String,
    pub next_update: String,
    pub fmspc: String,
    pub pce_id: String,
    /// Intel's counter of TCB evaluations; a newer evaluation has a higher number.
    #[serde(default)]
    pub tcb_evaluation_data_number: Option<u32>,
    pub tcb_levels: Vec<TcbLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TcbLevel {
    pub tcb: SgxTcb,
    pub tcb_status: TcbStatus,
    #[serde(default, rename = "advisoryIDs")]
    pub advisory_ids: Vec<String>,
}

#[derive(Deserialize)]
pub(crate) struct SgxTcb {
    pub sgxtcbcomponents: Vec<SvnComponent>,
    pub pcesvn: u16,
}

#[derive(Deserialize)]
pub(crate) struct SvnComponent {
    pub svn: u8,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QeIdentity {
    pub id: String,
    pub version: u32,
    pub issue_date: String,
    pub next_update: String,
    pub miscselect: String,
    pub miscselect_mask: String,
    pub attributes: String,
    pub attributes_mask: String,
    pub mrsigner: String,
    pub isvprodid: u16,
    pub tcb_levels: Vec<QeTcbLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QeTcbLevel {
    pub tcb: QeTcb,
    pub tcb_status: TcbStatus,
    #[serde(default, rename = "advisoryIDs")]
    pub advisory_ids: Vec<String>,
}

#[derive(Deserialize)]
pub(crate) struct QeTcb {
    pub isvsvn: u16,
}

/// The `[issueDate, nextUpdate]` window (both inclusive) of a signed JSON collateral.
pub(crate) fn window(what: &'static str, issue: &str, next: &str) -> Result<(i64, i64), DcapError> {
    let bad = |f: &str| DcapError::InvalidCollateral {
        what,
        detail: format!("{f} is not an RFC 3339 UTC time"),
    };
    Ok((
        parse_rfc3339_utc(issue).ok_or_else(|| bad("issueDate"))?,
        parse_rfc3339_utc(next).ok_or_else(|| bad("nextUpdate"))?,
    ))
}

pub(crate) fn check_window(
    what: &'static str,
    (issue, next): (i64, i64),
    now: i64,
) -> Result<(), DcapError> {
    if now < issue {
        return Err(DcapError::CollateralNotYetValid {
            what,
            at: UnixTime::from_secs(issue),
            now: UnixTime::from_secs(now),
        });
    }
    if now > next {
        return Err(DcapError::CollateralExpired {
            what,
            at: UnixTime::from_secs(next),
            now: UnixTime::from_secs(now),
        });
    }
    Ok(())
}

pub(crate) fn parse_tcb_info(json: &str) -> Result<TcbInfo, DcapError> {
    let what = "TCB info";
    let info: TcbInfo = serde_json::from_str(json).map_err(|e| DcapError::InvalidCollateral {
        what,
        detail: e.to_string(),
    })?;
    if info.id != "SGX" || info.version != 3 {
        return Err(DcapError::InvalidCollateral {
            what,
            detail: format!(
                "id {:?} version {} is not SGX TCB info version 3",
                info.id, info.version
            ),
        });
    }
    if info
        .tcb_levels
        .iter()
        .any(|l| l.tcb.sgxtcbcomponents.len() != 16)
    {
        return Err(DcapError::InvalidCollateral {
            what,
            detail: "a TCB level does not have 16 SGX components".into(),
        });
    }
    Ok(info)
}

pub(crate) fn parse_qe_identity(json: &str) -> Result<QeIdentity, DcapError> {
    let what = "QE identity";
    let id: QeIdentity = serde_json::from_str(json).map_err(|e| DcapError::InvalidCollateral {
        what,
        detail: e.to_string(),
    })?;
    if id.id != "QE" || id.version != 2 {
        return Err(DcapError::InvalidCollateral {
            what,
            detail: format!(
                "id {:?} version {} is not the SGX QE identity version 2",
                id.id, id.version
            ),
        });
    }
    Ok(id)
}

pub(crate) fn hex_field<const N: usize>(
    what: &'static str,
    field: &str,
    s: &str,
) -> Result<[u8; N], DcapError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| DcapError::InvalidCollateral {
        what,
        detail: format!("{field} is not {N} bytes of hex"),
    })?;
    Ok(out)
}

/// The platform's TCB level: the first level (Intel orders them best first) that the PCK
/// certificate's component SVNs and PCESVN all reach.
pub(crate) fn match_platform<'t>(
    info: &'t TcbInfo,
    pck: &PckExtension,
) -> Result<&'t TcbLevel, DcapError> {
    let fmspc = hex_field::<6>("TCB info", "fmspc", &info.fmspc)?;
    if fmspc != pck.fmspc {
        return Err(DcapError::CollateralMismatch(format!(
            "TCB info is for FMSPC {}, the PCK certificate has {}",
            info.fmspc,
            hex::encode_upper(pck.fmspc)
        )));
    }
    let pce_id = hex_field::<2>("TCB info", "pceId", &info.pce_id)?;
    if pce_id != pck.pce_id {
        return Err(DcapError::CollateralMismatch(format!(
            "TCB info is for PCE-ID {}, the PCK certificate has {}",
            info.pce_id,
            hex::encode_upper(pck.pce_id)
        )));
    }
    info.tcb_levels
        .iter()
        .find(|l| {
            pck.pce_svn >= l.tcb.pcesvn
                && l.tcb
                    .sgxtcbcomponents
                    .iter()
                    .zip(pck.comp_svn.iter())
                    .all(|(c, have)| *have >= c.svn)
        })
        .ok_or(DcapError::NoMatchingTcbLevel(
            "platform (PCK certificate TCB)",
        ))
}

/// Checks the QE report against the QE identity and returns the QE's TCB level.
pub(crate) fn match_qe<'q>(
    id: &'q QeIdentity,
    qe: &EnclaveReport,
) -> Result<&'q QeTcbLevel, DcapError> {
    let what = "QE identity";
    let mrsigner = hex_field::<32>(what, "mrsigner", &id.mrsigner)?;
    if mrsigner != qe.mr_signer {
        return Err(DcapError::QeIdentityMismatch(format!(
            "MRSIGNER {} is not {}",
            hex::encode(qe.mr_signer),
            id.mrsigner
        )));
    }
    if qe.isv_prod_id != id.isvprodid {
        return Err(DcapError::QeIdentityMismatch(format!(
            "ISVPRODID {} is not {}",
            qe.isv_prod_id, id.isvprodid
        )));
    }
    let misc = u32::from_le_bytes(hex_field::<4>(what, "miscselect", &id.miscselect)?);
    let misc_mask =
        u32::from_le_bytes(hex_field::<4>(what, "miscselectMask", &id.miscselect_mask)?);
    if qe.misc_select & misc_mask != misc & misc_mask {
        return Err(DcapError::QeIdentityMismatch(format!(
            "MISCSELECT {:08x} does not match",
            qe.misc_select
        )));
    }
    let attrs = hex_field::<16>(what, "attributes", &id.attributes)?;
    let attrs_mask = hex_field::<16>(what, "attributesMask", &id.attributes_mask)?;
    if qe
        .attributes
        .iter()
        .zip(attrs_mask.iter())
        .zip(attrs.iter())
        .any(|((a, m), e)| a & m != e & m)
    {
        return Err(DcapError::QeIdentityMismatch(format!(
            "ATTRIBUTES {} do not match",
            hex::encode(qe.attributes)
        )));
    }
    id.tcb_levels
        .iter()
        .find(|l| qe.isv_svn >= l.tcb.isvsvn)
        .ok_or(DcapError::NoMatchingTcbLevel(
            "quoting enclave (QE report ISVSVN)",
        ))
}

/// The final status and advisories (platform's first, then the QE's not already listed).
pub(crate) fn combine(platform: &TcbLevel, qe: &QeTcbLevel) -> (TcbStatus, Vec<String>) {
    let status = platform.tcb_status.converge_with_qe(qe.tcb_status);
    let mut advisories = platform.advisory_ids.clone();
    for a in &qe.advisory_ids {
        if !advisories.contains(a) {
            advisories.push(a.clone());
        }
    }
    (status, advisories)
}
