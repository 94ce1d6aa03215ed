//! The key-distribution messages as the registry receives them: base64 text →
//! `Signed*` wrapper → the `Any` whose `value` bytes are what the enclave signed → the inner
//! message, plus the enclave-signature check and the `cc_params_hash` of a registration; and
//! the enclave side, [`EnclaveKey`], which signs and wraps them (the mock enclave, tests and
//! fuzz seeds all emit messages through it).
//! The rules (type URLs, id encodings, signed bytes) are written down in
//! `docs/key-distribution.md`; this module is their one implementation.
//!
//! # Limits
//! Each message arrives as at most [`MAX_KEY_MESSAGE_BASE64_LEN`] (64 KiB) of base64, refused
//! before decoding. A registration holds a ~600-byte RSA PEM; an export adds `cckeys_enc`
//! (a few KiB) and two ~180-byte ECDSA PEMs, so the limit only stops abuse.

// Parses bytes from clients and the ledger: no indexing that can panic, no overflowing arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use prost::Message;
use prost_types::Any;
use sha2::{Digest, Sha256};

use crate::credentials::{self, any_message_name, Base64Error};
use crate::proto::{
    CcKeyRegistrationMessage, ExportMessage, SignedCcKeyRegistrationMessage, SignedExportMessage,
};

/// Longest base64 text of a key-distribution message accepted (64 KiB).
pub const MAX_KEY_MESSAGE_BASE64_LEN: usize = 64 << 10;
/// Full protobuf name of [`CcKeyRegistrationMessage`] (last `/`-segment of its type URL).
pub const CC_KEY_REGISTRATION_NAME: &str = "key_distribution.CCKeyRegistrationMessage";
/// Full protobuf name of [`ExportMessage`].
pub const EXPORT_NAME: &str = "key_distribution.ExportMessage";
/// The type URLs our mock enclave writes (FPC's `github.com/fpc/` prefix convention).
pub const CC_KEY_REGISTRATION_TYPE_URL: &str =
    "github.com/fpc/key_distribution.CCKeyRegistrationMessage";
/// Type URL of `key_distribution.ExportMessage` in a `SignedExportMessage`.
pub const EXPORT_TYPE_URL: &str = "github.com/fpc/key_distribution.ExportMessage";

/// Why a key-distribution message cannot be used, before the ledger is consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyMessageError {
    /// The base64 text could not be decoded.
    #[error(transparent)]
    Base64(#[from] Base64Error),
    /// The input decodes to no bytes.
    #[error("message input empty")]
    Empty,
    /// The bytes are not the named protobuf message.
    #[error("cannot parse {message}: {reason}")]
    Protobuf {
        /// The message expected.
        message: &'static str,
        /// The decoding error.
        reason: prost::DecodeError,
    },
    /// The `Signed*` wrapper has no `Any`.
    #[error("the signed message is empty")]
    MissingAny,
    /// The `Any` names another message type.
    #[error("wrong message type: want \"{want}\", got type URL {got:?}")]
    WrongType {
        /// The message type expected.
        want: &'static str,
        /// The type URL found.
        got: String,
    },
    /// A required field is empty (the field's name).
    #[error("{0} is empty")]
    MissingField(&'static str),
    /// `cc_params_hash` is not 32 bytes (its length).
    #[error("cc_params_hash must be 32 bytes (SHA-256), got {0}")]
    CcParamsHashLength(usize),
    /// `enclave_id` is neither 64 hex characters nor 32 raw bytes (its length).
    #[error("enclave_id must be 64 hex characters or 32 raw bytes, got {0} bytes")]
    EnclaveIdEncoding(usize),
}

/// A decoded `SignedCCKeyRegistrationMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRegistration {
    /// The decoded message.
    pub message: CcKeyRegistrationMessage,
    /// The exact `Any.value` bytes: what the enclave signed.
    pub signed_bytes: Vec<u8>,
    /// DER ECDSA signature.
    pub signature: Vec<u8>,
    /// The enclave id in its canonical form (upper-case hex).
    pub enclave_id: String,
}

/// A decoded `SignedExportMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyExport {
    /// The decoded message.
    pub message: ExportMessage,
    /// The exact `Any.value` bytes: what the sender enclave signed.
    pub signed_bytes: Vec<u8>,
    /// DER ECDSA signature.
    pub signature: Vec<u8>,
    /// Id of `sender_enclave_vk`.
    pub sender_id: String,
    /// Id of `receiver_enclave_vk`.
    pub receiver_id: String,
}

/// Decodes base64 `SignedCCKeyRegistrationMessage` text and checks its form.
pub fn decode_key_registration(text: &str) -> Result<KeyRegistration, KeyMessageError> {
    let bytes = decode_text(text)?;
    let signed = SignedCcKeyRegistrationMessage::decode(bytes.as_slice()).map_err(|reason| {
        KeyMessageError::Protobuf {
            message: "key_distribution.SignedCCKeyRegistrationMessage",
            reason,
        }
    })?;
    let any = signed
        .serialized_cckey_reg_msg
        .ok_or(KeyMessageError::MissingAny)?;
    let message: CcKeyRegistrationMessage = decode_any(&any, CC_KEY_REGISTRATION_NAME)?;
    check_hash(&message.cc_params_hash)?;
    non_empty(&message.chaincode_ek, "chaincode_ek")?;
    non_empty(&signed.signature, "signature")?;
    let enclave_id = canonical_enclave_id(&message.enclave_id)?;
    Ok(KeyRegistration {
        message,
        signed_bytes: any.value,
        signature: signed.signature,
        enclave_id,
    })
}

/// Decodes base64 `SignedExportMessage` text and checks its form.
pub fn decode_export(text: &str) -> Result<KeyExport, KeyMessageError> {
    let bytes = decode_text(text)?;
    let signed = SignedExportMessage::decode(bytes.as_slice()).map_err(|reason| {
        KeyMessageError::Protobuf {
            message: "key_distribution.SignedExportMessage",
            reason,
        }
    })?;
    let any = signed
        .serialized_export_msg_bytes
        .ok_or(KeyMessageError::MissingAny)?;
    let message: ExportMessage = decode_any(&any, EXPORT_NAME)?;
    check_hash(&message.cc_params_hash)?;
    non_empty(&message.chaincode_ek, "chaincode_ek")?;
    non_empty(&message.cckeys_enc, "cckeys_enc")?;
    non_empty(&message.sender_enclave_vk, "sender_enclave_vk")?;
    non_empty(&message.receiver_enclave_vk, "receiver_enclave_vk")?;
    non_empty(&signed.signature, "signature")?;
    Ok(KeyExport {
        sender_id: credentials::enclave_id(&message.sender_enclave_vk),
        receiver_id: credentials::enclave_id(&message.receiver_enclave_vk),
        message,
        signed_bytes: any.value,
        signature: signed.signature,
    })
}

fn decode_text(text: &str) -> Result<Vec<u8>, KeyMessageError> {
    let bytes = credentials::decode_go_base64(text, MAX_KEY_MESSAGE_BASE64_LEN)?;
    if bytes.is_empty() {
        return Err(KeyMessageError::Empty);
    }
    Ok(bytes)
}

/// The inner message of an `Any`, accepted when the type URL's last `/`-segment is `name`.
fn decode_any<M: Message + Default>(any: &Any, name: &'static str) -> Result<M, KeyMessageError> {
    if any_message_name(&any.type_url) != name {
        return Err(KeyMessageError::WrongType {
            want: name,
            got: any.type_url.clone(),
        });
    }
    M::decode(any.value.as_slice()).map_err(|reason| KeyMessageError::Protobuf {
        message: name,
        reason,
    })
}

fn check_hash(hash: &[u8]) -> Result<(), KeyMessageError> {
    if hash.len() == 32 {
        Ok(())
    } else {
        Err(KeyMessageError::CcParamsHashLength(hash.len()))
    }
}

fn non_empty(field: &[u8], name: &'static str) -> Result<(), KeyMessageError> {
    if field.is_empty() {
        Err(KeyMessageError::MissingField(name))
    } else {
        Ok(())
    }
}

/// `enclave_id` bytes → the registry's id form (upper-case hex of the SHA-256). Accepted:
/// 64 ASCII hex digits of either case (FPC's string id) or the 32 raw digest bytes.
pub fn canonical_enclave_id(bytes: &[u8]) -> Result<String, KeyMessageError> {
    match bytes.len() {
        32 => Ok(hex::encode_upper(bytes)),
        64 if bytes.iter().all(u8::is_ascii_hexdigit) => {
            Ok(String::from_utf8_lossy(bytes).to_ascii_uppercase())
        }
        n => Err(KeyMessageError::EnclaveIdEncoding(n)),
    }
}

/// Why an enclave signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The enclave's `enclave_vk` is not a P-256 public key in PEM.
    #[error("enclave_vk is not a PEM PUBLIC KEY of a P-256 ECDSA key: {0}")]
    VerifyingKey(String),
    /// The signature bytes are not DER ECDSA.
    #[error("signature is not a DER ECDSA signature: {0}")]
    Encoding(String),
    /// The signature is not the enclave's over the message.
    #[error("signature does not verify")]
    Mismatch,
}

/// Checks a DER ECDSA P-256 signature over SHA-256 of `message` with a PEM `PUBLIC KEY`
/// (named-curve SPKI) verification key, as FPC's Go `VerifyMessage` does.
pub fn verify_enclave_signature(
    enclave_vk_pem: &[u8],
    message: &[u8],
    signature_der: &[u8],
) -> Result<(), SignatureError> {
    let pem = std::str::from_utf8(enclave_vk_pem)
        .map_err(|_| SignatureError::VerifyingKey("not UTF-8 text".into()))?;
    let key = VerifyingKey::from_public_key_pem(pem)
        .map_err(|e| SignatureError::VerifyingKey(e.to_string()))?;
    let signature =
        Signature::from_der(signature_der).map_err(|e| SignatureError::Encoding(e.to_string()))?;
    key.verify(message, &signature)
        .map_err(|_| SignatureError::Mismatch)
}

/// An enclave's ECDSA P-256 signing key with its `enclave_vk` (SPKI PEM, LF line endings, the
/// exact bytes its id is the hash of): signs and wraps key-distribution messages as an FPC
/// enclave would.
#[derive(Clone)]
pub struct EnclaveKey {
    key: SigningKey,
    vk_pem: Vec<u8>,
}

impl std::fmt::Debug for EnclaveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnclaveKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl EnclaveKey {
    /// The key for `key`.
    pub fn new(key: SigningKey) -> Result<Self, SignatureError> {
        use p256::pkcs8::{EncodePublicKey as _, LineEnding};
        let vk_pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| SignatureError::VerifyingKey(e.to_string()))?
            .into_bytes();
        Ok(Self { key, vk_pem })
    }

    /// A fixed key from a one-byte seed, for tests and fuzz worlds (never for an enclave).
    /// 32 equal bytes in 0x01..=0x7f are a scalar below the P-256 order, so it does not fail.
    pub fn fixed(seed: u8) -> Result<Self, SignatureError> {
        let bytes = [seed.clamp(1, 0x7f); 32];
        SigningKey::from_bytes(&bytes.into())
            .map_err(|e| SignatureError::VerifyingKey(e.to_string()))
            .and_then(Self::new)
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// `enclave_vk`: PEM `PUBLIC KEY`.
    pub fn vk_pem(&self) -> &[u8] {
        &self.vk_pem
    }

    /// The enclave id (upper-case hex SHA-256 of [`Self::vk_pem`]).
    pub fn id(&self) -> String {
        credentials::enclave_id(&self.vk_pem)
    }

    /// DER ECDSA signature over SHA-256 of `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer as _;
        let sig: Signature = self.key.sign(bytes);
        sig.to_der().as_bytes().to_vec()
    }

    /// Protobuf `SignedCCKeyRegistrationMessage` of `message`, signed over its encoding.
    pub fn sign_key_registration(&self, message: &CcKeyRegistrationMessage) -> Vec<u8> {
        let value = message.encode_to_vec();
        SignedCcKeyRegistrationMessage {
            signature: self.sign(&value),
            serialized_cckey_reg_msg: Some(Any {
                type_url: CC_KEY_REGISTRATION_TYPE_URL.into(),
                value,
            }),
        }
        .encode_to_vec()
    }

    /// Protobuf `SignedExportMessage` of `message`, signed over its encoding.
    pub fn sign_export(&self, message: &ExportMessage) -> Vec<u8> {
        let value = message.encode_to_vec();
        SignedExportMessage {
            signature: self.sign(&value),
            serialized_export_msg_bytes: Some(Any {
                type_url: EXPORT_TYPE_URL.into(),
                value,
            }),
        }
        .encode_to_vec()
    }
}

/// `cc_params_hash` of a registration: SHA-256 of the exact bytes of field 1 (`cc_params`)
/// of the attested data (its `Any.value`), as the enclave received them. Protobuf encoding
/// is not canonical, so the raw bytes are hashed, never a re-encoding.
pub fn cc_params_hash(attested_data: &[u8]) -> Result<[u8; 32], String> {
    let raw = raw_length_delimited_field(attested_data, 1)?
        .ok_or_else(|| "the attested data has no cc_params".to_owned())?;
    Ok(Sha256::digest(raw).into())
}

/// The bytes of the one occurrence of length-delimited field `field` of a protobuf message
/// (`None` when absent; an error when repeated, as the hash would then be ambiguous).
fn raw_length_delimited_field(mut buf: &[u8], field: u32) -> Result<Option<&[u8]>, String> {
    use prost::encoding::{decode_key, decode_varint, WireType};
    let mut found = None;
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).map_err(|e| e.to_string())?;
        let skip = match wire_type {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(|e| e.to_string())?;
                0
            }
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).map_err(|e| e.to_string())?;
                usize::try_from(len).map_err(|_| "length overflows".to_owned())?
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err("groups are not supported".into())
            }
        };
        if skip > buf.len() {
            return Err("truncated field".into());
        }
        let (value, rest) = buf.split_at(skip);
        if tag == field && wire_type == WireType::LengthDelimited {
            if found.is_some() {
                return Err(format!("field {field} occurs more than once"));
            }
            found = Some(value);
        }
        buf = rest;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{AttestedData, CcParameters};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    fn registration(type_url: &str, msg: &CcKeyRegistrationMessage) -> String {
        STANDARD.encode(
            SignedCcKeyRegistrationMessage {
                serialized_cckey_reg_msg: Some(Any {
                    type_url: type_url.into(),
                    value: msg.encode_to_vec(),
                }),
                signature: vec![0x30],
            }
            .encode_to_vec(),
        )
    }

    fn good_msg() -> CcKeyRegistrationMessage {
        CcKeyRegistrationMessage {
            cc_params_hash: vec![7; 32],
            chaincode_ek: b"ek".to_vec(),
            enclave_id: "ab".repeat(32).into_bytes(),
        }
    }

    #[test]
    fn registration_type_urls_and_ids() {
        for url in [
            CC_KEY_REGISTRATION_TYPE_URL,
            "type.googleapis.com/key_distribution.CCKeyRegistrationMessage",
            "key_distribution.CCKeyRegistrationMessage",
        ] {
            let r = decode_key_registration(&registration(url, &good_msg())).unwrap();
            assert_eq!(r.enclave_id, "AB".repeat(32));
            assert_eq!(r.signed_bytes, good_msg().encode_to_vec());
        }
        let e = decode_key_registration(&registration(
            "github.com/fpc/key_distribution.ExportMessage",
            &good_msg(),
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "wrong message type: want \"key_distribution.CCKeyRegistrationMessage\", got type URL \"github.com/fpc/key_distribution.ExportMessage\""
        );
        let mut raw = good_msg();
        raw.enclave_id = vec![0xAB; 32];
        let r = decode_key_registration(&registration(CC_KEY_REGISTRATION_TYPE_URL, &raw)).unwrap();
        assert_eq!(r.enclave_id, "AB".repeat(32));
        for (bad, text) in [
            (
                b"AB".to_vec(),
                "enclave_id must be 64 hex characters or 32 raw bytes, got 2 bytes",
            ),
            (
                "zz".repeat(32).into_bytes(),
                "enclave_id must be 64 hex characters or 32 raw bytes, got 64 bytes",
            ),
        ] {
            let mut m = good_msg();
            m.enclave_id = bad;
            let e = decode_key_registration(&registration(CC_KEY_REGISTRATION_TYPE_URL, &m))
                .unwrap_err();
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn malformed_registrations_are_refused_with_reasons() {
        let mut m = good_msg();
        m.cc_params_hash = vec![1; 31];
        let e = decode_key_registration(&registration(CC_KEY_REGISTRATION_TYPE_URL, &m));
        assert_eq!(e.unwrap_err(), KeyMessageError::CcParamsHashLength(31));
        let mut m = good_msg();
        m.chaincode_ek.clear();
        let e = decode_key_registration(&registration(CC_KEY_REGISTRATION_TYPE_URL, &m));
        assert_eq!(e.unwrap_err().to_string(), "chaincode_ek is empty");
        assert_eq!(
            decode_key_registration("").unwrap_err().to_string(),
            "message input empty"
        );
        let huge = "A".repeat(MAX_KEY_MESSAGE_BASE64_LEN + 4);
        assert_eq!(
            decode_key_registration(&huge).unwrap_err().to_string(),
            "input too large: 65540 bytes of base64, the limit is 65536"
        );
        let e = decode_key_registration(&STANDARD.encode([0x0a, 0x05, 0x01])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot parse key_distribution.SignedCCKeyRegistrationMessage: "),
            "{e}"
        );
        let no_any = STANDARD.encode([0x12, 0x01, 0x30]);
        assert_eq!(
            decode_key_registration(&no_any).unwrap_err(),
            KeyMessageError::MissingAny
        );
    }

    #[test]
    fn cc_params_hash_is_over_the_raw_field_bytes() {
        let cc = CcParameters {
            chaincode_id: "cc".into(),
            version: "v".into(),
            sequence: 1,
            channel_id: "ch".into(),
        };
        let ad = AttestedData {
            cc_params: Some(cc.clone()),
            enclave_vk: b"vk".to_vec(),
            ..Default::default()
        }
        .encode_to_vec();
        let expected: [u8; 32] = Sha256::digest(cc.encode_to_vec()).into();
        assert_eq!(cc_params_hash(&ad).unwrap(), expected);
        // A non-canonical encoding (fields in reverse order) hashes its own bytes.
        let reversed = [
            0x22, 2, b'c', b'h', 0x18, 1, 0x12, 1, b'v', 0x0a, 2, b'c', b'c',
        ];
        let mut ad = vec![0x1a, 1, b'k', 0x0a, reversed.len() as u8];
        ad.extend_from_slice(&reversed);
        let expected: [u8; 32] = Sha256::digest(reversed).into();
        assert_eq!(cc_params_hash(&ad).unwrap(), expected);
        assert_eq!(
            cc_params_hash(&[0x1a, 1, b'k']).unwrap_err(),
            "the attested data has no cc_params"
        );
        assert_eq!(
            cc_params_hash(&[0x0a, 0, 0x0a, 0]).unwrap_err(),
            "field 1 occurs more than once"
        );
        assert_eq!(
            cc_params_hash(&[0x0a, 9, 1]).unwrap_err(),
            "truncated field"
        );
    }

    #[test]
    fn enclave_key_signatures_verify_and_fixed_keys_are_stable() {
        let key = EnclaveKey::fixed(7).unwrap();
        assert_eq!(key.id(), EnclaveKey::fixed(7).unwrap().id());
        assert_ne!(key.id(), EnclaveKey::fixed(8).unwrap().id());
        assert!(key.vk_pem().starts_with(b"-----BEGIN PUBLIC KEY-----\n"));
        let text = STANDARD.encode(key.sign_key_registration(&CcKeyRegistrationMessage {
            enclave_id: key.id().into_bytes(),
            ..good_msg()
        }));
        let r = decode_key_registration(&text).unwrap();
        verify_enclave_signature(key.vk_pem(), &r.signed_bytes, &r.signature).unwrap();
        let other = EnclaveKey::fixed(8).unwrap();
        assert_eq!(
            verify_enclave_signature(other.vk_pem(), &r.signed_bytes, &r.signature),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn both_s_halves_verify_like_go() {
        let key = EnclaveKey::fixed(3).unwrap();
        let sig = Signature::from_der(&key.sign(b"m")).unwrap();
        let (r, s) = sig.split_scalars();
        let flipped = Signature::from_scalars(r, -s).unwrap();
        for sig in [sig, flipped] {
            let der = sig.to_der();
            verify_enclave_signature(key.vk_pem(), b"m", der.as_bytes()).unwrap();
        }
    }

    #[test]
    fn signature_errors_name_the_reason() {
        let e = verify_enclave_signature(b"not pem", b"m", &[0x30]).unwrap_err();
        assert!(matches!(e, SignatureError::VerifyingKey(_)), "{e}");
    }
}
