//! The evidence envelope `{"attestation_type": T, "evidence": "<string>"}` that FPC stores in
//! `Credentials.evidence`: parsed strictly (size first, then exact fields, known type).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use serde::Deserialize;

use crate::claims::EvidenceType;
use crate::error::MalformedEvidence;
use crate::limits::MAX_EVIDENCE_LEN;

/// A parsed evidence envelope: the declared type and the type-specific evidence text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The `attestation_type`.
    pub evidence_type: EvidenceType,
    /// The `evidence` string, whose format depends on the type.
    pub evidence: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    attestation_type: String,
    evidence: String,
}

impl Envelope {
    /// Parses `Credentials.evidence`. Unknown or duplicate fields, a non-string field, an unknown
    /// type and input over [`MAX_EVIDENCE_LEN`] are errors.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, MalformedEvidence> {
        let raw: RawEnvelope = parse_json("evidence envelope", bytes, MAX_EVIDENCE_LEN)?;
        Ok(Envelope {
            evidence_type: raw.attestation_type.parse()?,
            evidence: raw.evidence,
        })
    }
}

/// Deserialises `bytes` as `T` after checking the size, sorting serde's failures into "not JSON"
/// (syntax, truncation) and "wrong shape" (fields and types).
pub(crate) fn parse_json<'de, T: Deserialize<'de>>(
    what: &'static str,
    bytes: &'de [u8],
    max: usize,
) -> Result<T, MalformedEvidence> {
    if bytes.len() > max {
        return Err(MalformedEvidence::TooLarge {
            what,
            len: bytes.len(),
            max,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let reason = e.to_string();
        match e.classify() {
            serde_json::error::Category::Data => MalformedEvidence::WrongShape { what, reason },
            _ => MalformedEvidence::NotJson { what, reason },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fpc_envelopes() {
        let env = Envelope::parse(br#"{"attestation_type":"simulated","evidence":"MA=="}"#);
        assert_eq!(
            env,
            Ok(Envelope {
                evidence_type: EvidenceType::Simulated,
                evidence: "MA==".into()
            })
        );
    }

    #[test]
    fn rejects_bad_envelopes_with_typed_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "not valid JSON"),
            (b"{", "not valid JSON"),
            (b"[]", "expected form"),
            (
                br#"{"attestation_type":"simulated"}"#,
                "missing field `evidence`",
            ),
            (br#"{"attestation_type":1,"evidence":"x"}"#, "invalid type"),
            (
                br#"{"attestation_type":"simulated","evidence":{"a":1}}"#,
                "invalid type",
            ),
            (
                br#"{"attestation_type":"simulated","evidence":"x","extra":1}"#,
                "unknown field",
            ),
            (
                br#"{"attestation_type":"simulated","evidence":"x","evidence":"y"}"#,
                "duplicate field",
            ),
            (
                br#"{"attestation_type":"sgx","evidence":"x"}"#,
                "unknown evidence type \"sgx\"",
            ),
            (
                br#"{"attestation_type":"simulated","evidence":"x"} x"#,
                "trailing characters",
            ),
        ];
        for (input, expected) in cases {
            let err = Envelope::parse(input).expect_err("must fail").to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn rejects_deep_nesting_and_oversize_input() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(Envelope::parse(deep.as_bytes()).is_err());
        let huge = vec![b' '; MAX_EVIDENCE_LEN + 1];
        assert!(matches!(
            Envelope::parse(&huge),
            Err(MalformedEvidence::TooLarge { .. })
        ));
    }
}
