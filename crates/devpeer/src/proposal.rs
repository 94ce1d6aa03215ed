//! Building a signed endorsement proposal as a Fabric client SDK does: channel header of type
//! ENDORSER_TRANSACTION with tx id = hex(SHA-256(nonce ‖ creator)), signature header with the
//! creator's serialized identity, and an ECDSA signature over the proposal bytes.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;

use fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::peer::{
    chaincode_spec, ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ChaincodeSpec, Proposal, SignedProposal,
};
use fabric_protos::prost::Message;
use sha2::{Digest, Sha256};

use crate::identity::Identity;

/// What to propose.
pub struct ProposalSpec<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The chaincode called.
    pub chaincode: &'a str,
    /// Its arguments, the function first.
    pub args: Vec<Vec<u8>>,
    /// The transient map (not part of the signed header's payload hash).
    pub transient: BTreeMap<String, Vec<u8>>,
    /// Marks the input as an `Init` call.
    pub is_init: bool,
    /// The channel header's timestamp.
    pub timestamp: prost_types::Timestamp,
}

/// A signed proposal and the values derived while building it.
pub struct BuiltProposal {
    /// The signed proposal sent with the transaction.
    pub signed: SignedProposal,
    /// Its transaction id (SHA-256 of nonce and creator).
    pub txid: String,
    /// The chaincode input the chaincode receives.
    pub input: ChaincodeInput,
    /// The serialized identity of the signer.
    pub creator: Vec<u8>,
}

/// Fabric's transaction id derivation.
pub fn compute_txid(nonce: &[u8], creator: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(nonce);
    h.update(creator);
    hex::encode(h.finalize())
}

/// Builds and signs a proposal with `identity`; `nonce` is the client's fresh randomness.
pub fn build(identity: &Identity, spec: ProposalSpec<'_>, nonce: &[u8]) -> BuiltProposal {
    let creator = SerializedIdentity {
        mspid: identity.msp_id.clone(),
        id_bytes: identity.cert_pem.as_bytes().to_vec(),
    }
    .encode_to_vec();
    let txid = compute_txid(nonce, &creator);
    let cc_id = ChaincodeId {
        name: spec.chaincode.to_string(),
        ..Default::default()
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        version: 0,
        timestamp: Some(spec.timestamp),
        channel_id: spec.channel.to_string(),
        tx_id: txid.clone(),
        epoch: 0,
        extension: ChaincodeHeaderExtension {
            chaincode_id: Some(cc_id.clone()),
        }
        .encode_to_vec(),
        tls_cert_hash: Vec::new(),
    };
    let signature_header = SignatureHeader {
        creator: creator.clone(),
        nonce: nonce.to_vec(),
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: signature_header.encode_to_vec(),
    };
    let input = ChaincodeInput {
        args: spec.args,
        decorations: Default::default(),
        is_init: spec.is_init,
    };
    let invocation = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            r#type: chaincode_spec::Type::Golang as i32,
            chaincode_id: Some(cc_id),
            input: Some(input.clone()),
            timeout: 0,
        }),
    };
    let payload = ChaincodeProposalPayload {
        input: invocation.encode_to_vec(),
        transient_map: spec.transient.into_iter().collect(),
    };
    let proposal = Proposal {
        header: header.encode_to_vec(),
        payload: payload.encode_to_vec(),
        extension: Vec::new(),
    };
    let proposal_bytes = proposal.encode_to_vec();
    let signature = identity.sign(&proposal_bytes);
    BuiltProposal {
        signed: SignedProposal {
            proposal_bytes,
            signature,
        },
        txid,
        input,
        creator,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identities;

    #[test]
    fn proposal_has_fabric_shape() {
        let dir = tempfile::tempdir().unwrap();
        let id = Identities::new(dir.path().to_path_buf())
            .get("Org1MSP")
            .unwrap();
        let nonce = [7u8; 24];
        let b = build(
            &id,
            ProposalSpec {
                channel: "mychannel",
                chaincode: "cc",
                args: vec![b"f".to_vec()],
                transient: BTreeMap::new(),
                is_init: false,
                timestamp: prost_types::Timestamp {
                    seconds: 5,
                    nanos: 0,
                },
            },
            &nonce,
        );
        let p = Proposal::decode(b.signed.proposal_bytes.as_slice()).unwrap();
        let h = Header::decode(p.header.as_slice()).unwrap();
        let ch = ChannelHeader::decode(h.channel_header.as_slice()).unwrap();
        let sh = SignatureHeader::decode(h.signature_header.as_slice()).unwrap();
        assert_eq!(ch.r#type, 3);
        assert_eq!(ch.channel_id, "mychannel");
        assert_eq!(ch.tx_id, compute_txid(&sh.nonce, &sh.creator));
        assert_eq!(ch.tx_id, b.txid);
        let creator = SerializedIdentity::decode(sh.creator.as_slice()).unwrap();
        assert_eq!(creator.mspid, "Org1MSP");
    }
}
