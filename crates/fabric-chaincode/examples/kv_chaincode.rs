//! A small get/put contract run by the runtime: the benchmark's workload and the process the
//! normal-mode tests launch. Run it like any Go chaincode:
//! `CORE_CHAINCODE_ID_NAME=kv:1 CORE_PEER_TLS_ENABLED=false kv_chaincode -peer.address=127.0.0.1:7052`
//! or in CaaS mode with `CHAINCODE_PKG_ID` and `CHAINCODE_SERVER_ADDRESS`.

use std::process::ExitCode;
use std::sync::Arc;

use fabric_chaincode::contract::{
    Contract, ContractChaincode, ReturnKind, ReturnValue, TransactionInfo,
};
use fabric_chaincode::ChaincodeStub;

struct Kv {
    txs: Vec<TransactionInfo>,
}

impl Contract for Kv {
    fn name(&self) -> &str {
        "KV"
    }

    fn transactions(&self) -> &[TransactionInfo] {
        &self.txs
    }

    fn call(
        &self,
        stub: &mut ChaincodeStub,
        function: &str,
        params: &[String],
    ) -> Result<ReturnValue, String> {
        let [key, rest @ ..] = params else {
            return Err("missing key".into());
        };
        match function {
            "Put" => {
                let value = rest.first().ok_or("missing value")?;
                stub.put_state(key, value.as_bytes())
                    .map_err(|e| e.to_string())?;
                Ok(ReturnValue::Nothing)
            }
            "Get" => {
                let value = stub.get_state(key).map_err(|e| e.to_string())?;
                let value = value.ok_or_else(|| format!("{key} does not exist"))?;
                Ok(ReturnValue::String(
                    String::from_utf8_lossy(&value).into_owned(),
                ))
            }
            "Update" => {
                // Read-modify-write: the benchmark's transaction (one GET_STATE, one PUT_STATE).
                let old = stub
                    .get_state(key)
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                let value = rest.first().ok_or("missing value")?;
                stub.put_state(key, value.as_bytes())
                    .map_err(|e| e.to_string())?;
                Ok(ReturnValue::String(old.len().to_string()))
            }
            "Call" => {
                // Chaincode to chaincode: `key` names the callee, the second parameter holds its
                // space-separated arguments (devpeer's hot_path benchmark calls the registry
                // this way, as FPC's chaincode does).
                let line = rest.first().ok_or("missing callee arguments")?;
                let args: Vec<Vec<u8>> = line
                    .split_whitespace()
                    .map(|a| a.as_bytes().to_vec())
                    .collect();
                let r = stub.invoke_chaincode(key, &args, "");
                if r.status != fabric_chaincode::OK {
                    return Err(format!("{key} answered {}: {}", r.status, r.message));
                }
                Ok(ReturnValue::String(
                    String::from_utf8_lossy(&r.payload).into_owned(),
                ))
            }
            other => Err(format!("unknown function {other}")),
        }
    }
}

fn main() -> ExitCode {
    fabric_chaincode::logging::init();
    let contract = Kv {
        txs: vec![
            TransactionInfo::submit("Put", 2, ReturnKind::Nothing),
            TransactionInfo::evaluate("Get", 1, ReturnKind::String),
            TransactionInfo::submit("Update", 2, ReturnKind::String),
            TransactionInfo::evaluate("Call", 2, ReturnKind::String),
        ],
    };
    fabric_chaincode::start(Arc::new(ContractChaincode::new(vec![Arc::new(contract)])))
}
