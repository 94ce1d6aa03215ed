//! Contract dispatch over the wire, with fabric-contract-api-go's rules and texts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::peer::{connect_caas, init_message, PeerConn};
use common::start_caas;
use fabric_chaincode::contract::{
    Contract, ContractChaincode, ReturnKind, ReturnValue, TransactionInfo,
};
use fabric_chaincode::fabric_protos::peer::Response;
use fabric_chaincode::ChaincodeStub;

struct Registry {
    txs: Vec<TransactionInfo>,
    before: Mutex<Vec<String>>,
}

impl Contract for Registry {
    fn name(&self) -> &str {
        "Contract"
    }
    fn transactions(&self) -> &[TransactionInfo] {
        &self.txs
    }
    fn before_transaction(&self, _stub: &mut ChaincodeStub, function: &str) -> Result<(), String> {
        self.before.lock().unwrap().push(function.to_owned());
        if function == "forbidden" {
            return Err("not allowed".into());
        }
        Ok(())
    }
    fn call(
        &self,
        stub: &mut ChaincodeStub,
        function: &str,
        params: &[String],
    ) -> Result<ReturnValue, String> {
        match function {
            "QueryListEnclaveCredentials" => {
                Ok(ReturnValue::StringList(match params[0].as_str() {
                    "nil" => None,
                    "empty" => Some(vec![]),
                    p => Some(vec![p.to_owned(), "<b>&".to_owned()]),
                }))
            }
            "QueryEnclaveCredentials" => {
                assert_eq!(params.len(), 2, "extra args are not passed on");
                Ok(ReturnValue::String(format!("{}+{}", params[0], params[1])))
            }
            "RegisterEnclave" => {
                if params[0] == "bad" {
                    return Err("evidence verification failed: x".into());
                }
                stub.put_state("reg", params[0].as_bytes())
                    .map_err(|e| e.to_string())?;
                Ok(ReturnValue::Nothing)
            }
            other => Err(format!("unexpected {other}")),
        }
    }
}

struct Other;
impl Contract for Other {
    fn name(&self) -> &str {
        "Other"
    }
    fn transactions(&self) -> &[TransactionInfo] {
        static TXS: std::sync::OnceLock<Vec<TransactionInfo>> = std::sync::OnceLock::new();
        TXS.get_or_init(|| vec![TransactionInfo::evaluate("Hello", 0, ReturnKind::String)])
    }
    fn call(&self, _: &mut ChaincodeStub, _: &str, _: &[String]) -> Result<ReturnValue, String> {
        Ok(ReturnValue::String("hi".into()))
    }
}

async fn call(peer: &PeerConn, txid: &str, args: &[&str]) -> Response {
    peer.invoke("ch", txid, args).await.response().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_follows_the_go_contract_api() {
    let registry = Arc::new(Registry {
        txs: vec![
            TransactionInfo::evaluate("QueryListEnclaveCredentials", 1, ReturnKind::StringList),
            TransactionInfo::evaluate("QueryEnclaveCredentials", 2, ReturnKind::String),
            TransactionInfo::submit("RegisterEnclave", 1, ReturnKind::Nothing),
        ],
        before: Mutex::default(),
    });
    let cc = ContractChaincode::new(vec![registry.clone(), Arc::new(Other)]);
    let caas = start_caas(Arc::new(cc), None).await;
    let peer = connect_caas(caas.addr, None, Arc::default()).await.unwrap();

    // First-rune upper-casing, optional contract prefix, last-':' split.
    let r = call(&peer, "t1", &["queryEnclaveCredentials", "a", "b"]).await;
    assert_eq!((r.status, r.payload.as_slice()), (200, &b"a+b"[..]));
    let r = call(
        &peer,
        "t2",
        &["Contract:QueryEnclaveCredentials", "a", "b", "extra"],
    )
    .await;
    assert_eq!(r.payload, b"a+b");
    let r = call(&peer, "t3", &["Other:hello"]).await;
    assert_eq!(r.payload, b"hi");
    let r = call(&peer, "t4", &["QUERYENCLAVECREDENTIALS", "a", "b"]).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message,
        "Function QUERYENCLAVECREDENTIALS not found in contract Contract"
    );
    let r = call(&peer, "t5", &["a:b:QueryEnclaveCredentials"]).await;
    assert_eq!(r.message, "Contract not found with name a:b");
    let r = call(&peer, "t6", &["Contract:"]).await;
    assert_eq!(r.message, "Blank function name passed");
    let r = call(&peer, "t7", &[]).await;
    assert_eq!(r.message, "Blank function name passed");
    let r = call(&peer, "t8", &["QueryEnclaveCredentials", "only-one"]).await;
    assert_eq!(
        r.message,
        "incorrect number of params. Expected 2, received 1"
    );
    assert!(r.payload.is_empty());

    // Return encodings.
    let r = call(&peer, "l1", &["QueryListEnclaveCredentials", "nil"]).await;
    assert_eq!((r.status, r.payload.len()), (200, 0));
    let r = call(&peer, "l2", &["QueryListEnclaveCredentials", "empty"]).await;
    assert_eq!(r.payload, b"[]");
    let r = call(&peer, "l3", &["QueryListEnclaveCredentials", "x"]).await;
    assert_eq!(r.payload, br#"["x","\u003cb\u003e\u0026"]"#);
    let r = call(&peer, "e1", &["RegisterEnclave", "bad"]).await;
    assert_eq!(
        (r.status, r.message.as_str()),
        (500, "evidence verification failed: x")
    );
    let r = call(&peer, "e2", &["RegisterEnclave", "good"]).await;
    assert_eq!((r.status, r.payload.len()), (200, 0));
    assert_eq!(
        peer.ledger.state.lock().unwrap().get("reg").unwrap(),
        b"good"
    );

    // BeforeTransaction runs before the lookup and can veto.
    let r = call(&peer, "b1", &["forbidden"]).await;
    assert_eq!(r.message, "not allowed");
    assert!(registry
        .before
        .lock()
        .unwrap()
        .contains(&"forbidden".to_string()));

    // Metadata from transactions().
    let r = call(&peer, "m1", &["org.hyperledger.fabric:GetMetadata"]).await;
    assert_eq!(r.status, 200);
    let md: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(md["info"]["title"], "undefined");
    assert_eq!(md["contracts"]["Contract"]["default"], true);
    assert_eq!(md["contracts"]["Other"]["default"], false);
    let names: Vec<&str> = md["contracts"]["Contract"]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "QueryListEnclaveCredentials",
            "QueryEnclaveCredentials",
            "RegisterEnclave"
        ]
    );
    let list = &md["contracts"]["Contract"]["transactions"][0];
    assert_eq!(list["tag"], serde_json::json!(["evaluate", "EVALUATE"]));
    assert_eq!(
        list["returns"],
        serde_json::json!({"type": "array", "items": {"type": "string"}})
    );
    assert_eq!(list["parameters"][0]["name"], "param0");
    assert!(md["contracts"]["org.hyperledger.fabric"].is_object());

    // Init: empty first argument is the default initiator; otherwise dispatch.
    assert_eq!(
        peer.execute(init_message(&[""], "i1")).await.ok_payload(),
        "Default initiator successful."
    );
    assert_eq!(
        peer.execute(init_message(&["Other:Hello"], "i2"))
            .await
            .ok_payload(),
        "hi"
    );
    caas.shutdown().await.unwrap();
}
