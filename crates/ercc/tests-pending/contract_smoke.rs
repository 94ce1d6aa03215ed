#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "../../fabric-chaincode/tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use base64::Engine;
use common::peer::{connect_caas, Ledger};
use common::start_caas;
use ercc::proto::*;
use fabric_chaincode::contract::ContractChaincode;
use prost::Message;

struct Fake;
impl ercc::EvidenceVerifier for Fake {
    fn verify(&self, e: &[u8], m: &str, _: &[u8], now: i64) -> Result<(), String> {
        assert_eq!(now, 1_700_000_000);
        if e == b"ok" && m == "ab".repeat(32) { Ok(()) } else { Err("nope".into()) }
    }
}

fn creds(evidence: &[u8], msp: &str) -> String {
    let ad = AttestedData {
        cc_params: Some(CcParameters { chaincode_id: "mycc".into(), version: "ab".repeat(32), sequence: 1, channel_id: "ch".into() }),
        host_params: Some(HostParameters { peer_msp_id: msp.into(), peer_endpoint: "peer0:7051".into(), certificate: vec![] }),
        enclave_vk: b"vk".to_vec(),
        chaincode_ek: b"ek".to_vec(),
        ..Default::default()
    };
    let c = Credentials {
        serialized_attested_data: Some(prost_types::Any { type_url: ATTESTED_DATA_TYPE_URL.into(), value: ad.encode_to_vec() }),
        attestation: vec![],
        evidence: evidence.to_vec(),
    };
    base64::engine::general_purpose::STANDARD.encode(c.encode_to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_over_the_real_protocol() {
    let contract = ercc::contract::RegistryContract::new(ercc::Registry::new(Fake));
    let cc = Arc::new(ContractChaincode::new(vec![Arc::new(contract)]));
    let server = start_caas(cc, None).await;
    let ledger = Arc::new(Ledger::default());
    let peer = connect_caas(server.addr, None, ledger.clone()).await.unwrap();

    let r = peer.invoke("ch", "t1", &["queryListEnclaveCredentials", "mycc"]).await;
    assert_eq!(r.response().status, 200);
    assert!(r.response().payload.is_empty());
    let r = peer.invoke("ch", "t2", &["QueryChaincodeEncryptionKey", "mycc"]).await;
    assert_eq!(r.response().message, "no enclave registered for chaincode mycc");
    let r = peer.invoke("ch", "t3", &["registerEnclave", &creds(b"bad", "Org1MSP")]).await;
    assert_eq!(r.response().message, "evidence verification failed: nope");
    assert!(ledger.state.lock().unwrap().is_empty());
    let r = peer.invoke("ch", "t4", &["registerEnclave", &creds(b"ok", "Org2MSP")]).await;
    assert_eq!(r.response().message, "creator identity evaluation failed: creator msp does not match owner msp");
    let r = peer.invoke("ch", "t5", &["Contract:RegisterEnclave", &creds(b"ok", "Org1MSP")]).await;
    assert_eq!(r.response().status, 200, "{:?}", r.response());
    assert_eq!(ledger.state.lock().unwrap().len(), 2);
    let r = peer.invoke("ch", "t6", &["queryListEnclaveCredentials", "mycc"]).await;
    assert_eq!(r.ok_payload(), format!("[\"{}\"]", creds(b"ok", "Org1MSP")));
    let r = peer.invoke("ch", "t7", &["queryListProvisionedEnclaves", "mycc"]).await;
    assert_eq!(r.ok_payload(), format!("[\"{}\"]", ercc::credentials::enclave_id(b"vk")));
    let r = peer.invoke("ch", "t8", &["queryChaincodeEndPoints", "mycc"]).await;
    assert_eq!(r.ok_payload(), "peer0:7051");
    let r = peer.invoke("ch", "t9", &["queryChaincodeEncryptionKey", "mycc"]).await;
    assert_eq!(r.ok_payload(), "ZWs=");
    let r = peer.invoke("ch", "t10", &["queryEnclaveCredentials", "mycc"]).await;
    assert_eq!(r.response().message, "incorrect number of params. Expected 2, received 1");
    let r = peer.invoke("ch", "t11", &["registerEnclave", &creds(b"ok", "Org1MSP")]).await;
    assert_eq!(r.response().message, "an enclave is already registered for chaincode mycc");
    let r = peer.invoke("ch", "t12", &["getKeyExport", "a", "b"]).await;
    assert_eq!(r.response().message, "not implemented yet");
    let r = peer.invoke("ch", "t13", &["org.hyperledger.fabric:GetMetadata"]).await;
    println!("{}", r.ok_payload());
    server.shutdown().await.unwrap();
}
