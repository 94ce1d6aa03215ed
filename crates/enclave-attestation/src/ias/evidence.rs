//! The EPID evidence string FPC builds from the IAS response: `{"iasSignature", "iasCertificates",
//! "iasReport"}` (the `X-IASReport-Signature` header, the URL-encoded
//! `X-IASReport-Signing-Certificate` header, and the exact response body).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use crate::envelope::parse_json;
use crate::error::MalformedEvidence;
use crate::limits::{
    MAX_EVIDENCE_LEN, MAX_IAS_CERTIFICATES, MAX_IAS_CERTIFICATES_LEN, MAX_IAS_REPORT_LEN,
    MAX_IAS_SIGNATURE_LEN,
};

/// A parsed EPID evidence. Nothing in it is trusted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IasEvidence {
    /// The report signature (decoded `iasSignature`).
    pub signature: Vec<u8>,
    /// The certificates of `iasCertificates`, DER, in the order given (signing certificate first).
    pub certificates: Vec<CertificateDer<'static>>,
    /// The exact signed report bytes (`iasReport`).
    pub report: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIasEvidence {
    #[serde(rename = "iasSignature")]
    signature: String,
    #[serde(rename = "iasCertificates")]
    certificates: String,
    #[serde(rename = "iasReport")]
    report: String,
}

impl IasEvidence {
    /// Parses the `evidence` string of an `epid-*` envelope: exactly the three string fields,
    /// base64 signature, URL-encoded PEM chain of 1 to [`MAX_IAS_CERTIFICATES`] certificates.
    pub fn parse(evidence: &str) -> Result<IasEvidence, MalformedEvidence> {
        let raw: RawIasEvidence =
            parse_json("IAS evidence", evidence.as_bytes(), MAX_EVIDENCE_LEN)?;
        if raw.signature.len() > MAX_IAS_SIGNATURE_LEN {
            return Err(MalformedEvidence::TooLarge {
                what: "iasSignature",
                len: raw.signature.len(),
                max: MAX_IAS_SIGNATURE_LEN,
            });
        }
        if raw.report.len() > MAX_IAS_REPORT_LEN {
            return Err(MalformedEvidence::TooLarge {
                what: "iasReport",
                len: raw.report.len(),
                max: MAX_IAS_REPORT_LEN,
            });
        }
        let signature =
            STANDARD
                .decode(raw.signature.as_bytes())
                .map_err(|_| MalformedEvidence::Base64 {
                    field: "iasSignature",
                })?;
        let certificates = parse_certificate_chain(&raw.certificates)?;
        Ok(IasEvidence {
            signature,
            certificates,
            report: raw.report.into_bytes(),
        })
    }
}

/// URL-decodes `iasCertificates` and reads its PEM certificates.
pub(crate) fn parse_certificate_chain(
    encoded: &str,
) -> Result<Vec<CertificateDer<'static>>, MalformedEvidence> {
    if encoded.len() > MAX_IAS_CERTIFICATES_LEN {
        return Err(MalformedEvidence::TooLarge {
            what: "iasCertificates",
            len: encoded.len(),
            max: MAX_IAS_CERTIFICATES_LEN,
        });
    }
    let text = url_decode(encoded)?;
    let certificates = read_pem_certificates(&text)?;
    if certificates.is_empty() {
        return Err(MalformedEvidence::NoCertificates);
    }
    Ok(certificates)
}

const PEM_BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const PEM_END: &[u8] = b"-----END CERTIFICATE-----";

/// Reads consecutive PEM `CERTIFICATE` sections; only whitespace may surround them.
///
/// Written here rather than taken from rustls-pki-types or the `pem` crate: both measured 13 to
/// 25 µs per IAS chain on the development machine (constant-time or line-by-line decoding), 15 to
/// 20 % of the RSA cost of a whole verification (benches/epid.rs); certificates are public, so
/// plain base64 over the section body does, in about 2 µs.
fn read_pem_certificates(text: &[u8]) -> Result<Vec<CertificateDer<'static>>, MalformedEvidence> {
    let mut certificates = Vec::new();
    let mut body = Vec::new();
    let mut rest = trim_start(text);
    while !rest.is_empty() {
        let after_begin = rest.strip_prefix(PEM_BEGIN).ok_or(MalformedEvidence::Pem)?;
        let end = find(after_begin, PEM_END).ok_or(MalformedEvidence::Pem)?;
        let (encoded, after) = after_begin.split_at(end);
        if certificates.len() == MAX_IAS_CERTIFICATES {
            return Err(MalformedEvidence::TooManyCertificates {
                max: MAX_IAS_CERTIFICATES,
            });
        }
        body.clear();
        body.extend(encoded.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let der = STANDARD.decode(&body).map_err(|_| MalformedEvidence::Pem)?;
        certificates.push(CertificateDer::from(der));
        rest = trim_start(after.get(PEM_END.len()..).unwrap_or_default());
    }
    Ok(certificates)
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Strict percent-decoding: every `%` must start a two-hex-digit escape. A literal `+` stays `+`
/// (IAS escapes `+` as `%2B`; form decoding, which turns `+` into a space, would corrupt base64).
fn url_decode(encoded: &str) -> Result<Vec<u8>, MalformedEvidence> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        let (plain, escape) = rest.split_at(at);
        out.extend_from_slice(plain);
        let hi = escape.get(1).and_then(|c| hex_value(*c));
        let lo = escape.get(2).and_then(|c| hex_value(*c));
        match (hi, lo) {
            (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
            _ => return Err(MalformedEvidence::UrlEncoding),
        }
        rest = escape.get(3..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    Ok(out)
}

fn hex_value(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_decoding_is_strict() {
        assert_eq!(url_decode("a%20b%2B+/%0A").as_deref(), Ok(&b"a b++/\n"[..]));
        for bad in ["%", "%2", "%zz", "abc%0"] {
            assert_eq!(
                url_decode(bad),
                Err(MalformedEvidence::UrlEncoding),
                "{bad}"
            );
        }
    }

    const CERT_A: &str = "-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----";
    const CERT_B: &str = "-----BEGIN CERTIFICATE-----\r\nBAUG\r\n-----END CERTIFICATE-----\r\n";

    #[test]
    fn reads_pem_certificate_sections() {
        let chain = format!("\n{CERT_A}\n{CERT_B}");
        let certs = read_pem_certificates(chain.as_bytes()).expect("two sections");
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].as_ref(), &[0, 1, 2, 3]);
        assert_eq!(certs[1].as_ref(), &[4, 5, 6]);
        assert_eq!(read_pem_certificates(b"  \n").map(|c| c.len()), Ok(0));
    }

    #[test]
    fn rejects_anything_but_certificate_sections() {
        for bad in [
            format!("junk{CERT_A}"),
            format!("{CERT_A}junk"),
            format!("{CERT_A}\n{CERT_A}\n{CERT_A}\n{CERT_A}\n{CERT_A}"),
            "-----BEGIN CERTIFICATE-----\nAAEC".to_owned(),
            "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----".to_owned(),
            "-----BEGIN CERTIFICATE-----\nA!EC\n-----END CERTIFICATE-----".to_owned(),
            "-----BEGIN CERTIFICATE-----\nAAE\n-----END CERTIFICATE-----".to_owned(),
        ] {
            assert!(read_pem_certificates(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_evidence_with_wrong_fields() {
        for (input, expected) in [
            (
                r#"{"iasSignature":"","iasCertificates":""}"#,
                "missing field `iasReport`",
            ),
            (
                r#"{"iasSignature":1,"iasCertificates":"","iasReport":""}"#,
                "invalid type",
            ),
            (
                r#"{"iasSignature":"","iasCertificates":"","iasReport":"","x":1}"#,
                "unknown field",
            ),
            (
                r#"{"iasSignature":"!","iasCertificates":"","iasReport":""}"#,
                "iasSignature is not valid base64",
            ),
            (
                r#"{"iasSignature":"","iasCertificates":"","iasReport":""}"#,
                "no PEM certificate",
            ),
            (
                r#"{"iasSignature":"","iasCertificates":"-----BEGIN%20CERTIFICATE-----%0A!!!%0A-----END%20CERTIFICATE-----%0A","iasReport":""}"#,
                "not a valid PEM",
            ),
        ] {
            let err = IasEvidence::parse(input).expect_err(input).to_string();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }
}
