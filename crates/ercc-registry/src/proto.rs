//! FPC wire messages the registry stores, returns and parses, declared with prost.
//!
//! These mirror FPC's `fpc` and `key_distribution` proto3 packages field for field
//! (tags and types), so bytes written by the Go components decode here and the
//! other way round. `google.protobuf.Any` comes from `prost-types`.

// Parses bytes from clients and the ledger: no indexing that can panic, no overflowing arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use prost_types::Any;

/// Full protobuf name of [`AttestedData`]; the last `/`-segment an `Any` type URL must carry.
pub const ATTESTED_DATA_NAME: &str = "fpc.AttestedData";
/// The type URL FPC enclaves write (not the `type.googleapis.com/` prefix).
pub const ATTESTED_DATA_TYPE_URL: &str = "github.com/fpc/fpc.AttestedData";

/// `fpc.CCParameters`: the chaincode an enclave runs.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CcParameters {
    /// The chaincode's name.
    #[prost(string, tag = "1")]
    pub chaincode_id: String,
    /// For FPC the chaincode version is the enclave's MRENCLAVE (64 hex chars).
    #[prost(string, tag = "2")]
    pub version: String,
    /// The chaincode definition's sequence.
    #[prost(int64, tag = "3")]
    pub sequence: i64,
    /// The channel.
    #[prost(string, tag = "4")]
    pub channel_id: String,
}

/// `fpc.HostParameters`: the peer hosting an enclave.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HostParameters {
    /// The hosting peer's organisation.
    #[prost(string, tag = "1")]
    pub peer_msp_id: String,
    /// The hosting peer's address.
    #[prost(string, tag = "2")]
    pub peer_endpoint: String,
    /// The hosting peer's certificate.
    #[prost(bytes = "vec", tag = "3")]
    pub certificate: Vec<u8>,
}

/// `fpc.AttestedData`: what the enclave's evidence binds (its `Any.value` bytes are the statement).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct AttestedData {
    /// The chaincode the enclave runs.
    #[prost(message, optional, tag = "1")]
    pub cc_params: Option<CcParameters>,
    /// The peer hosting it.
    #[prost(message, optional, tag = "2")]
    pub host_params: Option<HostParameters>,
    /// PEM `PUBLIC KEY` (PKIX) of the enclave's ECDSA verification key.
    #[prost(bytes = "vec", tag = "3")]
    pub enclave_vk: Vec<u8>,
    /// Hash of the channel (unused by the registry).
    #[prost(bytes = "vec", tag = "4")]
    pub channel_hash: Vec<u8>,
    /// MRENCLAVE of the trusted ledger enclave (unused by the registry).
    #[prost(string, tag = "5")]
    pub tlcc_mrenclave: String,
    /// FPC's MVP short-cut: the enclave's own chaincode encryption key (PEM `RSA PUBLIC KEY`).
    #[prost(bytes = "vec", tag = "6")]
    pub chaincode_ek: Vec<u8>,
    /// Not in FPC's proto (an ercc-rs extension, see `docs/key-distribution.md`): the
    /// enclave's own encryption key (PEM `RSA PUBLIC KEY`), bound by the evidence like every
    /// other field, to which a provisioned enclave encrypts an export. Go parsers skip it.
    #[prost(bytes = "vec", tag = "7")]
    pub enclave_ek: Vec<u8>,
}

/// `fpc.Credentials`: what `registerEnclave` receives (base64 of its encoding).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Credentials {
    /// `Any` holding an `fpc.AttestedData`; its value bytes are what the evidence binds.
    #[prost(message, optional, tag = "1")]
    pub serialized_attested_data: Option<Any>,
    /// JSON `{"attestation_type": T, "attestation": ...}` (the enclave's raw attestation).
    #[prost(bytes = "vec", tag = "2")]
    pub attestation: Vec<u8>,
    /// JSON `{"attestation_type": T, "evidence": ...}` (the verifiable evidence).
    #[prost(bytes = "vec", tag = "3")]
    pub evidence: Vec<u8>,
}

/// `key_distribution.CCKeyRegistrationMessage` (post-MVP key distribution, see `keydist`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CcKeyRegistrationMessage {
    /// SHA-256 of the enclave's attested `cc_params` encoding.
    #[prost(bytes = "vec", tag = "1")]
    pub cc_params_hash: Vec<u8>,
    /// The chaincode encryption key (PEM `RSA PUBLIC KEY`).
    #[prost(bytes = "vec", tag = "2")]
    pub chaincode_ek: Vec<u8>,
    /// The registering enclave's id.
    #[prost(bytes = "vec", tag = "3")]
    pub enclave_id: Vec<u8>,
}

/// `key_distribution.SignedCCKeyRegistrationMessage`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SignedCcKeyRegistrationMessage {
    /// `Any` holding the `CCKeyRegistrationMessage`; its value bytes are signed.
    #[prost(message, optional, tag = "1")]
    pub serialized_cckey_reg_msg: Option<Any>,
    /// DER ECDSA signature by the enclave over those bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
}

/// `key_distribution.ExportMessage`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ExportMessage {
    /// SHA-256 of the sender's attested `cc_params` encoding.
    #[prost(bytes = "vec", tag = "1")]
    pub cc_params_hash: Vec<u8>,
    /// The chaincode encryption key.
    #[prost(bytes = "vec", tag = "2")]
    pub chaincode_ek: Vec<u8>,
    /// The chaincode keys, encrypted to the receiver's `enclave_ek`.
    #[prost(bytes = "vec", tag = "3")]
    pub cckeys_enc: Vec<u8>,
    /// The receiver enclave's `enclave_vk`.
    #[prost(bytes = "vec", tag = "4")]
    pub receiver_enclave_vk: Vec<u8>,
    /// The sender enclave's `enclave_vk`.
    #[prost(bytes = "vec", tag = "5")]
    pub sender_enclave_vk: Vec<u8>,
}

/// `key_distribution.SignedExportMessage`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SignedExportMessage {
    /// `Any` holding the `ExportMessage`; its value bytes are signed.
    #[prost(message, optional, tag = "1")]
    pub serialized_export_msg_bytes: Option<Any>,
    /// DER ECDSA signature by the sender over those bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// Bytes hand-assembled from the proto3 wire format (tag = field << 3 | wire type),
    /// so a wrong tag or type in the declarations above fails here.
    #[test]
    fn credentials_decode_from_hand_made_wire_bytes() {
        // CCParameters{chaincode_id:"cc", version:"v", sequence:7, channel_id:"ch"}
        let cc = [
            0x0a, 2, b'c', b'c', 0x12, 1, b'v', 0x18, 7, 0x22, 2, b'c', b'h',
        ];
        // HostParameters{peer_msp_id:"M", peer_endpoint:"e", certificate:[9]}
        let host = [0x0a, 1, b'M', 0x12, 1, b'e', 0x1a, 1, 9];
        let mut ad = vec![0x0a, cc.len() as u8];
        ad.extend_from_slice(&cc);
        ad.extend_from_slice(&[0x12, host.len() as u8]);
        ad.extend_from_slice(&host);
        ad.extend_from_slice(&[0x1a, 1, 0xAA, 0x22, 1, 0xBB, 0x2a, 1, b'T', 0x32, 1, 0xCC]);
        let decoded = AttestedData::decode(ad.as_slice()).expect("attested data decodes");
        assert_eq!(
            decoded,
            AttestedData {
                cc_params: Some(CcParameters {
                    chaincode_id: "cc".into(),
                    version: "v".into(),
                    sequence: 7,
                    channel_id: "ch".into(),
                }),
                host_params: Some(HostParameters {
                    peer_msp_id: "M".into(),
                    peer_endpoint: "e".into(),
                    certificate: vec![9],
                }),
                enclave_vk: vec![0xAA],
                channel_hash: vec![0xBB],
                tlcc_mrenclave: "T".into(),
                chaincode_ek: vec![0xCC],
                enclave_ek: vec![],
            }
        );

        // Any{type_url:"u", value:<ad>}
        let mut any = vec![0x0a, 1, b'u', 0x12, ad.len() as u8];
        any.extend_from_slice(&ad);
        let mut creds = vec![0x0a, any.len() as u8];
        creds.extend_from_slice(&any);
        creds.extend_from_slice(&[0x12, 1, b'a', 0x1a, 1, b'e']);
        let decoded = Credentials::decode(creds.as_slice()).expect("credentials decode");
        let any = decoded
            .serialized_attested_data
            .clone()
            .expect("any present");
        assert_eq!(any.type_url, "u");
        assert_eq!(any.value, ad);
        assert_eq!(decoded.attestation, b"a");
        assert_eq!(decoded.evidence, b"e");
        assert_eq!(decoded.encode_to_vec(), creds);
    }

    #[test]
    fn key_distribution_messages_round_trip() {
        let reg = SignedCcKeyRegistrationMessage {
            serialized_cckey_reg_msg: Some(Any {
                type_url: "x/key_distribution.CCKeyRegistrationMessage".into(),
                value: CcKeyRegistrationMessage {
                    cc_params_hash: vec![1],
                    chaincode_ek: vec![2],
                    enclave_id: vec![3],
                }
                .encode_to_vec(),
            }),
            signature: vec![4],
        };
        let back = SignedCcKeyRegistrationMessage::decode(reg.encode_to_vec().as_slice())
            .expect("decodes");
        assert_eq!(back, reg);
        let export = SignedExportMessage {
            serialized_export_msg_bytes: Some(Any {
                type_url: "x".into(),
                value: ExportMessage {
                    cc_params_hash: vec![1],
                    chaincode_ek: vec![2],
                    cckeys_enc: vec![3],
                    receiver_enclave_vk: vec![4],
                    sender_enclave_vk: vec![5],
                }
                .encode_to_vec(),
            }),
            signature: vec![6],
        };
        let back = SignedExportMessage::decode(export.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(back, export);
    }
}
