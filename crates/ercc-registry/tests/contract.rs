//! The registry chaincode end to end in one process: the `fabric-chaincode` runtime serving
//! CaaS over real gRPC, `RegistryContract`, and the real attestation verifier (trusting the
//! test PKI), driven by a small peer that answers the chaincode's ledger requests and
//! `_lifecycle`, and commits a transaction's writes only when it succeeded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use enclave_attestation::test_pki::{evidence_from_parts, IasTestPki, ReportSpec};
use enclave_attestation::UnixTime;
use ercc_registry::policy_verifier::PolicyVerifier;
use ercc_registry::proto::{AttestedData, CcParameters, Credentials, HostParameters};
use fabric_chaincode::config::CaasConfig;
use fabric_chaincode::contract::ContractChaincode;
use fabric_chaincode::fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use fabric_chaincode::fabric_protos::lifecycle::{
    QueryChaincodeDefinitionArgs, QueryChaincodeDefinitionResult,
};
use fabric_chaincode::fabric_protos::msp::SerializedIdentity;
use fabric_chaincode::fabric_protos::peer::chaincode_client::ChaincodeClient;
use fabric_chaincode::fabric_protos::peer::chaincode_message::Type;
use fabric_chaincode::fabric_protos::peer::{
    ChaincodeInput, ChaincodeMessage, ChaincodeProposalPayload, ChaincodeSpec, DelState, GetState,
    GetStateByRange, Proposal, PutState, QueryResponse, QueryResultBytes, QueryStateClose,
    Response, SignedProposal,
};
use fabric_chaincode::fabric_protos::queryresult::Kv;
use prost::Message;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

const CHANNEL: &str = "mychannel";
const NOW: i64 = 1_750_000_000;
const MRENCLAVE: [u8; 32] = [0x42; 32];

/// The peer side of one CaaS stream, with committed world state and chaincode definitions.
struct TestPeer {
    out: mpsc::Sender<ChaincodeMessage>,
    inbound: tonic::Streaming<ChaincodeMessage>,
    state: BTreeMap<String, Vec<u8>>,
    definitions: BTreeMap<String, QueryChaincodeDefinitionResult>,
    next_tx: u64,
}

/// How a transaction ended, and how many writes the chaincode attempted.
struct Outcome {
    response: Response,
    writes: usize,
}

impl TestPeer {
    async fn connect(addr: std::net::SocketAddr) -> TestPeer {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        // The generated `connect` is the `Chaincode/Connect` RPC.
        let mut client = ChaincodeClient::new(channel);
        let (out, rx) = mpsc::channel(64);
        let mut inbound = client
            .connect(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let register = inbound.message().await.unwrap().unwrap();
        assert_eq!(register.r#type, Type::Register as i32);
        for ty in [Type::Registered, Type::Ready] {
            out.send(message(ty, vec![], "")).await.unwrap();
        }
        TestPeer {
            out,
            inbound,
            state: BTreeMap::new(),
            definitions: BTreeMap::new(),
            next_tx: 0,
        }
    }

    /// Runs one transaction created by a member of `msp`; commits its writes on status 200.
    async fn invoke(&mut self, msp: &str, args: &[&str]) -> Outcome {
        self.next_tx += 1;
        let txid = format!("tx{}", self.next_tx);
        let input = ChaincodeInput {
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            ..Default::default()
        };
        let mut m = message(Type::Transaction, input.encode_to_vec(), &txid);
        m.proposal = Some(proposal(&txid, msp));
        self.out.send(m).await.unwrap();
        let mut pending: Vec<(String, Vec<u8>)> = Vec::new();
        loop {
            let req = self.inbound.message().await.unwrap().unwrap();
            let ty = Type::try_from(req.r#type).unwrap();
            let reply = match ty {
                Type::Completed => {
                    let response = Response::decode(req.payload.as_slice()).unwrap();
                    let writes = pending.len();
                    if response.status == 200 {
                        for (k, v) in pending {
                            if v.is_empty() {
                                self.state.remove(&k);
                            } else {
                                self.state.insert(k, v);
                            }
                        }
                    }
                    return Outcome { response, writes };
                }
                Type::Error => panic!("ERROR: {}", String::from_utf8_lossy(&req.payload)),
                // Simulation reads committed state, never the transaction's own writes.
                Type::GetState => {
                    let g = GetState::decode(req.payload.as_slice()).unwrap();
                    self.state.get(&g.key).cloned().unwrap_or_default()
                }
                Type::PutState => {
                    let p = PutState::decode(req.payload.as_slice()).unwrap();
                    pending.push((p.key, p.value));
                    vec![]
                }
                Type::DelState => {
                    let d = DelState::decode(req.payload.as_slice()).unwrap();
                    pending.push((d.key, vec![]));
                    vec![]
                }
                Type::GetStateByRange => {
                    let r = GetStateByRange::decode(req.payload.as_slice()).unwrap();
                    let results = self
                        .state
                        .range(r.start_key.clone()..)
                        .take_while(|(k, _)| r.end_key.is_empty() || **k < r.end_key)
                        .map(|(k, v)| QueryResultBytes {
                            result_bytes: Kv {
                                namespace: "ercc".into(),
                                key: k.clone(),
                                value: v.clone(),
                            }
                            .encode_to_vec(),
                        })
                        .collect();
                    QueryResponse {
                        results,
                        has_more: false,
                        id: "it".into(),
                        metadata: vec![],
                    }
                    .encode_to_vec()
                }
                Type::QueryStateClose => {
                    let c = QueryStateClose::decode(req.payload.as_slice()).unwrap();
                    QueryResponse {
                        id: c.id,
                        ..Default::default()
                    }
                    .encode_to_vec()
                }
                Type::InvokeChaincode => self.lifecycle(&req),
                other => panic!("unexpected request {other:?}"),
            };
            let mut r = message(Type::Response, reply, &txid);
            r.channel_id = req.channel_id;
            self.out.send(r).await.unwrap();
        }
    }

    /// `_lifecycle` QueryChaincodeDefinition, answered as the peer does (404 when unknown).
    fn lifecycle(&self, req: &ChaincodeMessage) -> Vec<u8> {
        let spec = ChaincodeSpec::decode(req.payload.as_slice()).unwrap();
        let name = spec.chaincode_id.unwrap().name;
        assert_eq!(name, format!("_lifecycle/{CHANNEL}"));
        let args = spec.input.unwrap().args;
        assert_eq!(args.len(), 2);
        assert_eq!(args[0], b"QueryChaincodeDefinition");
        let cc = QueryChaincodeDefinitionArgs::decode(args[1].as_slice())
            .unwrap()
            .name;
        let response = match self.definitions.get(&cc) {
            Some(def) => Response {
                status: 200,
                message: String::new(),
                payload: def.encode_to_vec(),
            },
            None => Response {
                status: 404,
                message: format!("namespace {cc} is not defined"),
                payload: vec![],
            },
        };
        let mut inner = message(Type::Completed, response.encode_to_vec(), &req.txid);
        inner.channel_id = req.channel_id.clone();
        inner.encode_to_vec()
    }
}

fn message(ty: Type, payload: Vec<u8>, txid: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: ty as i32,
        payload,
        txid: txid.into(),
        channel_id: if txid.is_empty() { "" } else { CHANNEL }.into(),
        ..Default::default()
    }
}

fn proposal(txid: &str, msp: &str) -> SignedProposal {
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        channel_id: CHANNEL.into(),
        tx_id: txid.into(),
        timestamp: Some(prost_types::Timestamp {
            seconds: NOW,
            nanos: 0,
        }),
        ..Default::default()
    };
    let creator = SerializedIdentity {
        mspid: msp.into(),
        id_bytes: b"-----BEGIN CERTIFICATE-----\n".to_vec(),
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: SignatureHeader {
            creator: creator.encode_to_vec(),
            nonce: b"nonce".to_vec(),
        }
        .encode_to_vec(),
    };
    SignedProposal {
        proposal_bytes: Proposal {
            header: header.encode_to_vec(),
            payload: ChaincodeProposalPayload::default().encode_to_vec(),
            extension: vec![],
        }
        .encode_to_vec(),
        signature: b"sig".to_vec(),
    }
}

/// Credentials of an enclave of `cc` hosted by `msp`, with test-PKI EPID evidence bound to
/// the exact attested-data bytes (or to `other_statement` when given).
fn credentials(cc: &str, vk: &[u8], msp: &str, other_statement: Option<&[u8]>) -> String {
    let statement = AttestedData {
        cc_params: Some(CcParameters {
            chaincode_id: cc.into(),
            version: hex::encode(MRENCLAVE),
            sequence: 1,
            channel_id: CHANNEL.into(),
        }),
        host_params: Some(HostParameters {
            peer_msp_id: msp.into(),
            peer_endpoint: format!("peer0.{msp}:7051"),
            certificate: vec![],
        }),
        enclave_vk: vk.to_vec(),
        chaincode_ek: b"chaincode-ek".to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    let pki = IasTestPki::shared();
    let bound = other_statement.unwrap_or(&statement);
    let spec = ReportSpec::new(MRENCLAVE, bound, UnixTime::from_secs(NOW - 300));
    let report = spec.report_json();
    let signature = pki.sign(report.as_bytes()).unwrap();
    let evidence = evidence_from_parts(spec.evidence_type(), &report, &signature, &pki.chain_pem());
    let c = Credentials {
        serialized_attested_data: Some(prost_types::Any {
            type_url: ercc_registry::proto::ATTESTED_DATA_TYPE_URL.into(),
            value: statement,
        }),
        attestation: vec![],
        evidence,
    };
    STANDARD.encode(c.encode_to_vec())
}

async fn start() -> (TestPeer, oneshot::Sender<()>) {
    let verifier = PolicyVerifier::new(IasTestPki::shared().policy().unwrap());
    let active = ercc_registry::active_policy::ActivePolicy {
        attestation: verifier.policy().clone(),
        registry: ercc_registry::registry_policy::RegistryPolicy::default(),
    };
    let contract =
        ercc_registry::contract::RegistryContract::new(ercc_registry::Registry::new(verifier));
    let policy = ercc_registry::active_policy::PolicyContract::new(active);
    let cc = Arc::new(ContractChaincode::new(vec![
        Arc::new(contract),
        Arc::new(policy),
    ]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = CaasConfig {
        address: addr.to_string(),
        package_id: "ercc:0000".into(),
        tls: None,
        msp_id: Some("Org1MSP".into()),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(fabric_chaincode::serve_caas(
        cc,
        cfg,
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut peer = TestPeer::connect(addr).await;
    peer.definitions.insert(
        "mycc".into(),
        QueryChaincodeDefinitionResult {
            sequence: 1,
            version: hex::encode(MRENCLAVE),
            ..Default::default()
        },
    );
    (peer, stop)
}

fn ok(o: &Outcome) -> String {
    assert_eq!(o.response.status, 200, "{:?}", o.response);
    String::from_utf8(o.response.payload.clone()).unwrap()
}

fn rejected(o: &Outcome) -> &str {
    assert_eq!(o.response.status, 500, "{:?}", o.response);
    assert!(o.response.payload.is_empty());
    assert_eq!(o.writes, 0, "a rejected transaction attempted writes");
    &o.response.message
}

#[tokio::test(flavor = "multi_thread")]
async fn register_and_query_through_the_runtime() {
    let (mut peer, _stop) = start().await;
    let creds = credentials("mycc", b"vk-1", "Org1MSP", None);
    let enclave_id = ercc_registry::credentials::enclave_id(b"vk-1");

    // Nothing registered yet.
    let o = peer
        .invoke("Org1MSP", &["queryListEnclaveCredentials", "mycc"])
        .await;
    assert_eq!(ok(&o), "");
    let o = peer
        .invoke("Org1MSP", &["QueryChaincodeEncryptionKey", "mycc"])
        .await;
    assert_eq!(rejected(&o), "no enclave registered for chaincode mycc");

    // Rejections, in the Go registry's words, writing nothing.
    let o = peer.invoke("Org2MSP", &["registerEnclave", &creds]).await;
    assert_eq!(
        rejected(&o),
        "creator identity evaluation failed: creator msp does not match owner msp"
    );
    let bad = credentials("mycc", b"vk-1", "Org1MSP", Some(b"another statement"));
    let o = peer.invoke("Org1MSP", &["registerEnclave", &bad]).await;
    assert!(
        rejected(&o).starts_with("evidence verification failed: "),
        "{}",
        o.response.message
    );
    let ghost = credentials("ghost", b"vk-1", "Org1MSP", None);
    let o = peer.invoke("Org1MSP", &["RegisterEnclave", &ghost]).await;
    assert_eq!(
        rejected(&o),
        "cannot get chaincode definition: error while retrieving chaincode definition: [404] namespace ghost is not defined"
    );
    let o = peer
        .invoke("Org1MSP", &["registerEnclave", "not base64"])
        .await;
    assert_eq!(
        rejected(&o),
        "invalid credential bytes: illegal base64 data at input byte 3"
    );
    assert!(peer.state.is_empty());

    // Registration (with the contract prefix) writes the Go layout, plus the appraisal record.
    let o = peer
        .invoke("Org1MSP", &["Contract:RegisterEnclave", &creds])
        .await;
    assert_eq!(ok(&o), "");
    assert_eq!(o.writes, 3);
    assert!(peer.state.contains_key(&format!(
        "\u{0}namespaces/appraisal\u{0}mycc\u{0}{enclave_id}\u{0}"
    )));
    assert_eq!(
        peer.state[&format!("\u{0}namespaces/credentials\u{0}mycc\u{0}{enclave_id}\u{0}")],
        creds.as_bytes()
    );
    assert_eq!(
        peer.state[&format!("\u{0}namespaces/provisioned\u{0}mycc\u{0}{enclave_id}\u{0}")],
        b"a SignedCCKeyRegistrationMessage"
    );

    // Every query, both spellings.
    let o = peer
        .invoke("Org1MSP", &["queryListEnclaveCredentials", "mycc"])
        .await;
    assert_eq!(ok(&o), format!("[\"{creds}\"]"));
    let o = peer
        .invoke("Org1MSP", &["QueryEnclaveCredentials", "mycc", &enclave_id])
        .await;
    assert_eq!(ok(&o), creds);
    let o = peer
        .invoke("Org1MSP", &["queryListProvisionedEnclaves", "mycc"])
        .await;
    assert_eq!(ok(&o), format!("[\"{enclave_id}\"]"));
    let o = peer
        .invoke("Org1MSP", &["queryChaincodeEndPoints", "mycc"])
        .await;
    assert_eq!(ok(&o), "peer0.Org1MSP:7051");
    let o = peer
        .invoke("Org1MSP", &["queryChaincodeEncryptionKey", "mycc"])
        .await;
    assert_eq!(ok(&o), STANDARD.encode(b"chaincode-ek"));

    // One enclave per chaincode.
    let second = credentials("mycc", b"vk-2", "Org1MSP", None);
    let o = peer.invoke("Org1MSP", &["registerEnclave", &second]).await;
    assert_eq!(
        rejected(&o),
        "an enclave is already registered for chaincode mycc"
    );

    // Key distribution (no export stored), argument counts, unknown functions, metadata.
    let o = peer
        .invoke("Org1MSP", &["getKeyExport", "mycc", &enclave_id])
        .await;
    assert_eq!(
        rejected(&o),
        format!("no key export stored for enclave {enclave_id} of chaincode mycc")
    );
    let o = peer
        .invoke("Org1MSP", &["queryEnclaveCredentials", "mycc"])
        .await;
    assert_eq!(
        rejected(&o),
        "incorrect number of params. Expected 2, received 1"
    );
    let o = peer.invoke("Org1MSP", &["deleteEverything"]).await;
    assert_eq!(
        rejected(&o),
        "Function deleteEverything not found in contract Contract"
    );
    let o = peer
        .invoke("Org1MSP", &["org.hyperledger.fabric:GetMetadata"])
        .await;
    let metadata: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    let names: Vec<&str> = metadata["contracts"]["Contract"]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "GetKeyExport",
            "MigrateRevocations",
            "PutKeyExport",
            "QueryChaincodeEncryptionKey",
            "QueryChaincodeEndPoints",
            "QueryEnclaveCredentials",
            "QueryEnclaveStatus",
            "QueryListEnclaveCredentials",
            "QueryListProvisionedEnclaves",
            "ReappraiseEnclave",
            "RegisterCCKeys",
            "RegisterEnclave",
            "RetireEnclave"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_active_policy_returns_the_settings_and_their_digest() {
    let (mut peer, _stop) = start().await;
    // Not a function of the Go registry's contract, which stays as it was.
    let o = peer.invoke("Org1MSP", &["queryActivePolicy"]).await;
    assert_eq!(
        rejected(&o),
        "Function queryActivePolicy not found in contract Contract"
    );
    let o = peer.invoke("Org1MSP", &["Policy:queryActivePolicy"]).await;
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    let expected = ercc_registry::active_policy::ActivePolicy {
        attestation: IasTestPki::shared().policy().unwrap(),
        registry: ercc_registry::registry_policy::RegistryPolicy::default(),
    };
    assert_eq!(v["policy"], expected.settings());
    assert_eq!(v["sha256"], expected.sha256_hex());
    assert_eq!(
        v["policy"]["attestation"]["ias_root_ca_sha256"],
        IasTestPki::shared()
            .policy()
            .unwrap()
            .ias_root_ca
            .sha256_hex()
    );
    assert_eq!(o.writes, 0);
}
