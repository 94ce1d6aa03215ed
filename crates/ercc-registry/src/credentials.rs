//! Parsing enclave credentials: base64 text → `fpc.Credentials` → `fpc.AttestedData`,
//! and the enclave id derived from them.
//!
//! # Size limit
//! Credentials arrive as base64 text. Text longer than [`MAX_CREDENTIALS_BASE64_LEN`]
//! (1 MiB = 1,048,576 characters, i.e. at most 768 KiB of protobuf) is refused before
//! anything is decoded or allocated. Real FPC credentials are a few KiB (an IAS report,
//! its certificate chain and the attested data), so the limit only stops abuse.
//!
//! # Compatibility
//! Decoding follows Go's `base64.StdEncoding` (what FPC uses): the standard alphabet,
//! padding required, `\r` and `\n` ignored, non-zero trailing bits tolerated. Error texts
//! are Go's where Go has one (`credential input empty`, `illegal base64 data at input
//! byte N`, `attested data is empty`, `invalid attested data message: proto: mismatched
//! message type: ...`).

// Parses bytes from clients and the ledger: no indexing that can panic, no overflowing arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use prost::Message;
use prost_types::Any;
use sha2::{Digest, Sha256};

use crate::proto::{AttestedData, Credentials, ATTESTED_DATA_NAME};

/// Longest base64 credentials text accepted, in bytes (1 MiB).
pub const MAX_CREDENTIALS_BASE64_LEN: usize = 1 << 20;

/// Go's `base64.StdEncoding` decoder: padded, lenient about trailing bits.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// Why base64 credentials could not be turned into an `fpc.Credentials`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The text is longer than [`MAX_CREDENTIALS_BASE64_LEN`]; nothing was decoded.
    #[error("credentials too large: {len} bytes of base64, the limit is {limit}")]
    TooLarge {
        /// Length of the base64 text.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid standard padded base64 (Go's `CorruptInputError` text).
    #[error("illegal base64 data at input byte {offset}")]
    Base64 {
        /// Byte offset of the first illegal character.
        offset: usize,
    },
    /// The text decodes to no bytes at all (Go's text).
    #[error("credential input empty")]
    Empty,
    /// The bytes are not an `fpc.Credentials` protobuf.
    #[error("cannot parse fpc.Credentials: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

/// Why the attested data inside credentials is unusable. `Display` is the text of FPC's
/// `UnmarshalAttestedData` (the registry prefixes `invalid attested data message: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestedDataError {
    /// `serialized_attested_data` is absent.
    #[error("attested data is empty")]
    Missing,
    /// The `Any` names another message type (Go's `anypb.UnmarshalTo` text, which names
    /// the expected type as "got" and the URL's type as "want").
    #[error("invalid attested data message: proto: mismatched message type: got \"{ATTESTED_DATA_NAME}\", want \"{}\"", any_message_name(.type_url))]
    WrongType {
        /// The `Any`'s type URL.
        type_url: String,
    },
    /// The `Any` value is not an `fpc.AttestedData` protobuf.
    #[error("invalid attested data message: {0}")]
    Protobuf(prost::DecodeError),
}

/// The message name an `Any` type URL names: the text after its last `/` (or all of it).
pub fn any_message_name(type_url: &str) -> &str {
    type_url.rsplit_once('/').map_or(type_url, |(_, name)| name)
}

/// Decodes base64 credentials text (as submitted to `registerEnclave` and stored on the
/// ledger) into `fpc.Credentials`, enforcing [`MAX_CREDENTIALS_BASE64_LEN`] first.
pub fn decode_credentials(text: &str) -> Result<Credentials, CredentialsError> {
    let bytes = decode_base64_limited(text)?;
    if bytes.is_empty() {
        return Err(CredentialsError::Empty);
    }
    Ok(Credentials::decode(bytes.as_slice())?)
}

/// Base64 → bytes with Go `StdEncoding` semantics and the credentials size limit.
fn decode_base64_limited(text: &str) -> Result<Vec<u8>, CredentialsError> {
    decode_go_base64(text, MAX_CREDENTIALS_BASE64_LEN).map_err(|e| match e {
        Base64Error::TooLarge { len, limit } => CredentialsError::TooLarge { len, limit },
        Base64Error::Illegal { offset } => CredentialsError::Base64 { offset },
    })
}

/// Why base64 text (of any registry argument) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// Longer than the caller's limit; nothing was decoded.
    #[error("input too large: {len} bytes of base64, the limit is {limit}")]
    TooLarge {
        /// Length of the base64 text.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid standard padded base64 (Go's `CorruptInputError` text).
    #[error("illegal base64 data at input byte {offset}")]
    Illegal {
        /// Byte offset of the first illegal character.
        offset: usize,
    },
}

/// Base64 text → bytes as Go's `base64.StdEncoding` decodes (see the module docs), refusing
/// text longer than `limit` bytes before decoding anything.
pub fn decode_go_base64(text: &str, limit: usize) -> Result<Vec<u8>, Base64Error> {
    if text.len() > limit {
        return Err(Base64Error::TooLarge {
            len: text.len(),
            limit,
        });
    }
    // Go's decoder skips line breaks anywhere; dropping them first keeps that behaviour.
    let cleaned: std::borrow::Cow<'_, str> = if text.contains(['\r', '\n']) {
        text.chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect::<String>()
            .into()
    } else {
        text.into()
    };
    GO_STD_BASE64
        .decode(cleaned.as_bytes())
        .map_err(|e| Base64Error::Illegal {
            offset: base64_error_offset(&e, &cleaned),
        })
}

fn base64_error_offset(e: &base64::DecodeError, input: &str) -> usize {
    match e {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => *offset,
        base64::DecodeError::InvalidLength(len) => *len,
        base64::DecodeError::InvalidPadding => input.find('=').unwrap_or(input.len()),
    }
}

/// True when an `Any` type URL names `fpc.AttestedData`: the whole URL, or its last
/// `/`-segment (FPC enclaves write `github.com/fpc/fpc.AttestedData`).
pub fn is_attested_data_type_url(type_url: &str) -> bool {
    any_message_name(type_url) == ATTESTED_DATA_NAME
}

/// The `Any` holding the attested data; its `value` bytes are the evidence statement.
pub fn attested_data_any(credentials: &Credentials) -> Result<&Any, AttestedDataError> {
    credentials
        .serialized_attested_data
        .as_ref()
        .ok_or(AttestedDataError::Missing)
}

/// Unpacks the `fpc.AttestedData` of credentials, checking the `Any` type URL.
pub fn decode_attested_data(credentials: &Credentials) -> Result<AttestedData, AttestedDataError> {
    let any = attested_data_any(credentials)?;
    if !is_attested_data_type_url(&any.type_url) {
        return Err(AttestedDataError::WrongType {
            type_url: any.type_url.clone(),
        });
    }
    AttestedData::decode(any.value.as_slice()).map_err(AttestedDataError::Protobuf)
}

/// Enclave id: upper-case hex of SHA-256 over the `enclave_vk` bytes (FPC's rule).
pub fn enclave_id(enclave_vk: &[u8]) -> String {
    hex::encode_upper(Sha256::digest(enclave_vk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::CcParameters;
    use base64::engine::general_purpose::STANDARD;

    fn sample() -> Credentials {
        Credentials {
            serialized_attested_data: Some(Any {
                type_url: "github.com/fpc/fpc.AttestedData".into(),
                value: AttestedData {
                    cc_params: Some(CcParameters {
                        chaincode_id: "cc".into(),
                        ..Default::default()
                    }),
                    enclave_vk: b"vk".to_vec(),
                    ..Default::default()
                }
                .encode_to_vec(),
            }),
            attestation: b"{}".to_vec(),
            evidence: b"{}".to_vec(),
        }
    }

    #[test]
    fn decodes_valid_credentials_and_attested_data() {
        let text = STANDARD.encode(sample().encode_to_vec());
        let creds = decode_credentials(&text).unwrap();
        assert_eq!(creds, sample());
        let ad = decode_attested_data(&creds).unwrap();
        assert_eq!(ad.cc_params.unwrap().chaincode_id, "cc");
    }

    #[test]
    fn line_breaks_are_ignored_like_go() {
        let text = STANDARD.encode(sample().encode_to_vec());
        let (a, b) = text.split_at(10);
        let wrapped = format!("{a}\r\n{b}\n");
        assert_eq!(decode_credentials(&wrapped).unwrap(), sample());
    }

    #[test]
    fn empty_input_has_go_text() {
        let e = decode_credentials("").unwrap_err();
        assert_eq!(e.to_string(), "credential input empty");
    }

    #[test]
    fn invalid_base64_reports_offset() {
        let e = decode_credentials("AAAA*AAA").unwrap_err();
        assert_eq!(e.to_string(), "illegal base64 data at input byte 4");
        // Unpadded input is refused, as Go's StdEncoding does.
        assert!(matches!(
            decode_credentials("AAA").unwrap_err(),
            CredentialsError::Base64 { .. }
        ));
        // URL-safe alphabet is not the standard one.
        assert!(matches!(
            decode_credentials("ab-_").unwrap_err(),
            CredentialsError::Base64 { offset: 2 }
        ));
    }

    #[test]
    fn non_canonical_trailing_bits_are_tolerated_like_go() {
        // "AB==" has non-zero trailing bits; Go's StdEncoding decodes it to [0x00].
        let e = decode_credentials("AB==").unwrap_err();
        // One 0x00 byte is a protobuf field with tag 0: invalid, but base64 passed.
        assert!(matches!(e, CredentialsError::Protobuf(_)), "{e:?}");
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let huge = "A".repeat(MAX_CREDENTIALS_BASE64_LEN + 4);
        let e = decode_credentials(&huge).unwrap_err();
        assert_eq!(
            e,
            CredentialsError::TooLarge {
                len: MAX_CREDENTIALS_BASE64_LEN + 4,
                limit: MAX_CREDENTIALS_BASE64_LEN
            }
        );
        // Exactly at the limit is decoded (and then fails as protobuf, being zeros).
        let at_limit = "A".repeat(MAX_CREDENTIALS_BASE64_LEN);
        assert!(matches!(
            decode_credentials(&at_limit).unwrap_err(),
            CredentialsError::Protobuf(_)
        ));
    }

    #[test]
    fn truncated_protobuf_is_an_error() {
        let bytes = sample().encode_to_vec();
        for cut in 1..bytes.len() {
            let text = STANDARD.encode(&bytes[..cut]);
            // Some prefixes end on a field boundary and decode; none may panic.
            let _ = decode_credentials(&text);
        }
        // A length prefix pointing past the end.
        let text = STANDARD.encode([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]);
        assert!(matches!(
            decode_credentials(&text).unwrap_err(),
            CredentialsError::Protobuf(_)
        ));
    }

    #[test]
    fn type_url_rule() {
        assert!(is_attested_data_type_url("github.com/fpc/fpc.AttestedData"));
        assert!(is_attested_data_type_url(
            "type.googleapis.com/fpc.AttestedData"
        ));
        assert!(is_attested_data_type_url("fpc.AttestedData"));
        assert!(is_attested_data_type_url("/fpc.AttestedData"));
        assert!(!is_attested_data_type_url(
            "github.com/fpc/fpc.AttestedData/"
        ));
        assert!(!is_attested_data_type_url("github.com/fpc/fpc.Credentials"));
        assert!(!is_attested_data_type_url(
            "github.com/fpc/xfpc.AttestedData"
        ));
        assert!(!is_attested_data_type_url("fpc.AttestedDataX"));
        assert!(!is_attested_data_type_url(""));
    }

    #[test]
    fn attested_data_errors_have_go_texts() {
        let mut creds = sample();
        creds.serialized_attested_data = None;
        assert_eq!(
            decode_attested_data(&creds).unwrap_err().to_string(),
            "attested data is empty"
        );
        let mut creds = sample();
        if let Some(any) = creds.serialized_attested_data.as_mut() {
            any.type_url = "type.googleapis.com/google.protobuf.Empty".into();
        }
        let e = decode_attested_data(&creds).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid attested data message: proto: mismatched message type: got \"fpc.AttestedData\", want \"google.protobuf.Empty\""
        );
        let mut creds = sample();
        if let Some(any) = creds.serialized_attested_data.as_mut() {
            any.value = vec![0x0a, 0x05, 0x01];
        }
        let e = decode_attested_data(&creds).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("invalid attested data message: failed to decode Protobuf message"));
        assert!(matches!(e, AttestedDataError::Protobuf(_)));
    }

    #[test]
    fn enclave_id_is_upper_hex_sha256() {
        // SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            enclave_id(b"abc"),
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
    }
}
