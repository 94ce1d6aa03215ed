//! The IAS attestation verification report (the JSON body IAS signs): the fields the verifier
//! uses, read strictly (typed, no duplicates); fields it does not use are ignored.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use crate::envelope::parse_json;
use crate::error::MalformedEvidence;
use crate::ias::quote::QuoteBody;
use crate::limits::{MAX_ADVISORIES, MAX_IAS_REPORT_LEN};
use crate::time::{parse_ias_timestamp, UnixTime};

/// A parsed IAS report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IasReport {
    /// `id`.
    pub id: String,
    /// `timestamp` as IAS wrote it (UTC).
    pub timestamp_text: String,
    /// `timestamp`, whole seconds.
    pub timestamp: UnixTime,
    /// `version` (absent before API v4).
    pub version: Option<u32>,
    /// `isvEnclaveQuoteStatus`.
    pub quote_status: String,
    /// `isvEnclaveQuoteBody`, decoded.
    pub quote_body: QuoteBody,
    /// `advisoryIDs` (absent = none).
    pub advisory_ids: Vec<String>,
    /// `advisoryURL`.
    pub advisory_url: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `revocationReason` (present when the EPID group is revoked).
    pub revocation_reason: Option<u32>,
    /// `platformInfoBlob`.
    pub platform_info_blob: Option<String>,
}

#[derive(Deserialize)]
struct RawReport {
    id: String,
    timestamp: String,
    version: Option<u32>,
    #[serde(rename = "isvEnclaveQuoteStatus")]
    quote_status: String,
    #[serde(rename = "isvEnclaveQuoteBody")]
    quote_body: String,
    #[serde(rename = "advisoryIDs")]
    advisory_ids: Option<Vec<String>>,
    #[serde(rename = "advisoryURL")]
    advisory_url: Option<String>,
    nonce: Option<String>,
    #[serde(rename = "revocationReason")]
    revocation_reason: Option<u32>,
    #[serde(rename = "platformInfoBlob")]
    platform_info_blob: Option<String>,
}

impl IasReport {
    /// Parses the report bytes (at most [`MAX_IAS_REPORT_LEN`]).
    pub fn parse(bytes: &[u8]) -> Result<IasReport, MalformedEvidence> {
        let raw: RawReport = parse_json("IAS report", bytes, MAX_IAS_REPORT_LEN)?;
        let timestamp = parse_ias_timestamp(&raw.timestamp).ok_or_else(|| {
            MalformedEvidence::Timestamp(raw.timestamp.chars().take(64).collect())
        })?;
        let quote =
            STANDARD
                .decode(raw.quote_body.as_bytes())
                .map_err(|_| MalformedEvidence::Base64 {
                    field: "isvEnclaveQuoteBody",
                })?;
        let quote_body = QuoteBody::parse(&quote)?;
        let advisory_ids = raw.advisory_ids.unwrap_or_default();
        if advisory_ids.len() > MAX_ADVISORIES {
            return Err(MalformedEvidence::TooManyEntries {
                field: "advisoryIDs",
                max: MAX_ADVISORIES,
            });
        }
        Ok(IasReport {
            id: raw.id,
            timestamp_text: raw.timestamp,
            timestamp,
            version: raw.version,
            quote_status: raw.quote_status,
            quote_body,
            advisory_ids,
            advisory_url: raw.advisory_url,
            nonce: raw.nonce,
            revocation_reason: raw.revocation_reason,
            platform_info_blob: raw.platform_info_blob,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(fields: &str) -> String {
        let quote = STANDARD.encode([0u8; 432]);
        format!(
            r#"{{"id":"1","timestamp":"2020-01-01T00:00:00.000001","isvEnclaveQuoteStatus":"OK","isvEnclaveQuoteBody":"{quote}"{fields}}}"#
        )
    }

    #[test]
    fn parses_minimal_and_extended_reports() {
        let r = IasReport::parse(report("").as_bytes()).expect("valid");
        assert_eq!(r.timestamp, UnixTime::from_secs(1_577_836_800));
        assert!(r.advisory_ids.is_empty());
        let r = IasReport::parse(
            report(r#","version":4,"advisoryIDs":["INTEL-SA-00334"],"epidPseudonym":"x""#)
                .as_bytes(),
        )
        .expect("valid");
        assert_eq!(r.version, Some(4));
        assert_eq!(r.advisory_ids, vec!["INTEL-SA-00334".to_owned()]);
    }

    #[test]
    fn rejects_malformed_reports() {
        for (fields, expected) in [
            (
                r#","timestamp":"2020-01-01T00:00:00""#,
                "duplicate field `timestamp`",
            ),
            (r#","advisoryIDs":"INTEL-SA-1""#, "invalid type"),
            (r#","version":"4""#, "invalid type"),
            (r#","advisoryIDs":[1]"#, "invalid type"),
        ] {
            let err = IasReport::parse(report(fields).as_bytes())
                .expect_err(fields)
                .to_string();
            assert!(err.contains(expected), "{fields}: {err}");
        }
        let short = report("").replace("AAAA\"", "\"");
        assert!(matches!(
            IasReport::parse(short.as_bytes()),
            Err(MalformedEvidence::QuoteBodyLength { len: 429 })
        ));
        let bad_time = report("").replace("2020-01-01T00:00:00.000001", "yesterday");
        assert!(matches!(
            IasReport::parse(bad_time.as_bytes()),
            Err(MalformedEvidence::Timestamp(_))
        ));
    }
}
