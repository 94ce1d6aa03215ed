//! Contract layer with the dispatch rules of fabric-contract-api-go: `Contract:function`
//! names split at the last `:`, first-rune upper-casing, Go's error texts, Go's return
//! encodings, and the `org.hyperledger.fabric:GetMetadata` system contract.

use std::sync::{Arc, OnceLock};

use serde_json::{json, Map, Value};

use crate::chaincode::{error, success, Chaincode, Execution, Response};
use crate::go_json;
use crate::operations::TransactionMetrics;
use crate::stub::ChaincodeStub;

/// Name of the system contract every contract chaincode carries.
pub const SYSTEM_CONTRACT: &str = "org.hyperledger.fabric";

/// What a transaction function returns, and so how its success is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnKind {
    /// Go `error` only: empty payload.
    Nothing,
    /// Go `(string, error)`: raw UTF-8 payload.
    String,
    /// Go `([]string, error)`: JSON array payload, empty for a nil slice.
    StringList,
    /// Go `([]byte, error)`: raw payload.
    Bytes,
}

/// Whether clients should submit (order) or only evaluate a transaction; metadata only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxTag {
    /// Changes state; tagged `["submit","SUBMIT"]` in metadata.
    Submit,
    /// Read-only; tagged `["evaluate","EVALUATE"]` in metadata.
    Evaluate,
}

/// Describes one transaction function of a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionInfo {
    /// Exported (upper-case first letter) name, e.g. `"QueryListEnclaveCredentials"`.
    pub name: String,
    /// Number of string parameters the function takes.
    pub params: usize,
    /// How its result is encoded.
    pub returns: ReturnKind,
    /// Submit or evaluate.
    pub tag: TxTag,
}

impl TransactionInfo {
    /// A state-changing transaction.
    pub fn submit(name: &str, params: usize, returns: ReturnKind) -> Self {
        TransactionInfo {
            name: name.to_owned(),
            params,
            returns,
            tag: TxTag::Submit,
        }
    }

    /// A read-only transaction.
    pub fn evaluate(name: &str, params: usize, returns: ReturnKind) -> Self {
        TransactionInfo {
            name: name.to_owned(),
            params,
            returns,
            tag: TxTag::Evaluate,
        }
    }
}

/// A transaction function's successful result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnValue {
    /// Empty payload.
    Nothing,
    /// Raw UTF-8 payload (no JSON quoting).
    String(String),
    /// `None` is Go's nil slice (empty payload); `Some` is a JSON array, `[]` when empty.
    StringList(Option<Vec<String>>),
    /// Raw payload.
    Bytes(Vec<u8>),
}

impl ReturnValue {
    /// The payload Go's contract API would produce for this value.
    pub fn into_payload(self) -> Vec<u8> {
        match self {
            ReturnValue::Nothing | ReturnValue::StringList(None) => Vec::new(),
            ReturnValue::String(s) => s.into_bytes(),
            ReturnValue::StringList(Some(list)) => go_json::string_array(&list).into_bytes(),
            ReturnValue::Bytes(b) => b,
        }
    }
}

/// A contract: a named set of transaction functions taking string parameters.
pub trait Contract: Send + Sync + 'static {
    /// The contract name used before `:` in function names, e.g. `"Contract"`.
    fn name(&self) -> &str;
    /// The transaction functions, with exported (upper-case first letter) names.
    fn transactions(&self) -> &[TransactionInfo];
    /// Runs before every call to this contract, before the function is even looked up.
    /// An error becomes status 500 with its text and the function is not called.
    fn before_transaction(
        &self,
        _stub: &mut ChaincodeStub<'_>,
        _function: &str,
    ) -> Result<(), String> {
        Ok(())
    }
    /// Runs `function` (the exported name from `transactions()`) with exactly as many
    /// parameters as declared. An error becomes status 500 with its text as message.
    fn call(
        &self,
        stub: &mut ChaincodeStub<'_>,
        function: &str,
        params: &[String],
    ) -> Result<ReturnValue, String>;
    /// Where a call of `function` (an exported name, or one the contract does not declare)
    /// runs, see [`Chaincode::execution`]; on a thread unless the contract says otherwise.
    fn execution(&self, _function: &str) -> Execution {
        Execution::Thread
    }
}

/// A `Chaincode` that dispatches to contracts like fabric-contract-api-go's `ContractChaincode`.
pub struct ContractChaincode {
    contracts: Vec<Arc<dyn Contract>>,
    metadata: String,
    /// Created on the first transaction: `None` inside when the operations endpoint is off.
    metrics: OnceLock<Option<TransactionMetrics>>,
}

impl ContractChaincode {
    /// The first contract is the default one (used when a function name has no `Contract:`).
    pub fn new(contracts: Vec<Arc<dyn Contract>>) -> Self {
        let metadata = build_metadata(&contracts);
        ContractChaincode {
            contracts,
            metadata,
            metrics: OnceLock::new(),
        }
    }

    /// Runs `dispatch`, counted and timed when the operations endpoint is on.
    fn measured(&self, stub: &mut ChaincodeStub<'_>) -> Response {
        let metrics = self
            .metrics
            .get_or_init(|| TransactionMetrics::new(function_spellings(&self.contracts)));
        let Some(metrics) = metrics else {
            return self.dispatch(stub);
        };
        let started = std::time::Instant::now();
        let response = self.dispatch(stub);
        let function = stub.args().first().map(Vec::as_slice).unwrap_or_default();
        metrics.record(function, response.status, started.elapsed());
        response
    }

    /// The JSON `org.hyperledger.fabric:GetMetadata` returns.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// `[Contract:]function` as (contract name, function); no `:` means the default contract.
    fn split<'s>(&'s self, ns_fn: &'s str) -> (&'s str, &'s str) {
        match ns_fn.rsplit_once(':') {
            Some(parts) => parts,
            None => (self.contracts.first().map_or("", |c| c.name()), ns_fn),
        }
    }

    fn dispatch(&self, stub: &mut ChaincodeStub<'_>) -> Response {
        let (ns_fn, params) = stub.function_and_parameters();
        let (namespace, function) = self.split(&ns_fn);
        if namespace == SYSTEM_CONTRACT {
            if function.is_empty() {
                return error("Blank function name passed");
            }
            return if upper_first(function) == "GetMetadata" {
                success(self.metadata.clone())
            } else {
                error(format!(
                    "Function {function} not found in contract {namespace}"
                ))
            };
        }
        let Some(contract) = self.contracts.iter().find(|c| c.name() == namespace) else {
            return error(format!("Contract not found with name {namespace}"));
        };
        if function.is_empty() {
            return error("Blank function name passed");
        }
        if let Err(e) = contract.before_transaction(stub, function) {
            return error(e);
        }
        let exported = upper_first(function);
        let Some(info) = contract.transactions().iter().find(|t| t.name == exported) else {
            return error(format!(
                "Function {function} not found in contract {namespace}"
            ));
        };
        if params.len() < info.params {
            return error(format!(
                "incorrect number of params. Expected {}, received {}",
                info.params,
                params.len()
            ));
        }
        match contract.call(stub, &info.name, &params[..info.params]) {
            Ok(value) => success(value.into_payload()),
            Err(e) => error(e),
        }
    }
}

impl Chaincode for ContractChaincode {
    fn init(&self, stub: &mut ChaincodeStub<'_>) -> Response {
        if stub.args().first().is_none_or(|a| a.is_empty()) {
            return success("Default initiator successful.");
        }
        self.measured(stub)
    }

    fn invoke(&self, stub: &mut ChaincodeStub<'_>) -> Response {
        self.measured(stub)
    }

    /// The called contract's choice; inline for what is answered without contract code (the
    /// system contract's metadata, a missing contract's error).
    fn execution(&self, args: &[Vec<u8>]) -> Execution {
        let ns_fn = args.first().map(|a| String::from_utf8_lossy(a));
        let (namespace, function) = self.split(ns_fn.as_deref().unwrap_or_default());
        match self.contracts.iter().find(|c| c.name() == namespace) {
            Some(contract) => contract.execution(&upper_first(function)),
            None => Execution::Inline,
        }
    }
}

/// Each declared transaction's metric label (`Contract:Function`, or `Function` in the default
/// contract) with the first arguments that select it: `[Contract:]function`, first letter as
/// declared or lower-cased.
fn function_spellings(contracts: &[Arc<dyn Contract>]) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    for (i, contract) in contracts.iter().enumerate() {
        for t in contract.transactions() {
            let mut lower = t.name.clone();
            if let Some(first) = lower.get(..1) {
                let first = first.to_ascii_lowercase();
                lower.replace_range(..1, &first);
            }
            let mut spellings = Vec::new();
            for name in [&t.name, &lower] {
                spellings.push(format!("{}:{name}", contract.name()).into_bytes());
                if i == 0 {
                    spellings.push(name.clone().into_bytes());
                }
            }
            let label = if i == 0 {
                t.name.clone()
            } else {
                format!("{}:{}", contract.name(), t.name)
            };
            out.push((label, spellings));
        }
    }
    out
}

/// Upper-cases the first character, as Go's `toFirstRuneUpperCase` does.
fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn schema(kind: ReturnKind) -> Option<Value> {
    match kind {
        ReturnKind::Nothing => None,
        ReturnKind::String => Some(json!({"type": "string"})),
        ReturnKind::StringList => Some(json!({"type": "array", "items": {"type": "string"}})),
        ReturnKind::Bytes => Some(
            json!({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}}),
        ),
    }
}

fn transaction_metadata(t: &TransactionInfo) -> Value {
    let mut tx = Map::new();
    if t.params > 0 {
        let params: Vec<Value> = (0..t.params)
            .map(|i| json!({"name": format!("param{i}"), "schema": {"type": "string"}}))
            .collect();
        tx.insert("parameters".into(), Value::Array(params));
    }
    if let Some(s) = schema(t.returns) {
        tx.insert("returns".into(), s);
    }
    let tag = match t.tag {
        TxTag::Submit => json!(["submit", "SUBMIT"]),
        TxTag::Evaluate => json!(["evaluate", "EVALUATE"]),
    };
    tx.insert("tag".into(), tag);
    tx.insert("name".into(), Value::String(t.name.clone()));
    Value::Object(tx)
}

fn contract_metadata(name: &str, txs: &[TransactionInfo], default: bool) -> Value {
    json!({
        "info": {"title": name, "version": "latest"},
        "name": name,
        "transactions": txs.iter().map(transaction_metadata).collect::<Vec<_>>(),
        "default": default,
    })
}

fn build_metadata(contracts: &[Arc<dyn Contract>]) -> String {
    let mut all = Map::new();
    for (i, c) in contracts.iter().enumerate() {
        all.insert(
            c.name().to_owned(),
            contract_metadata(c.name(), c.transactions(), i == 0),
        );
    }
    let system = [TransactionInfo::evaluate(
        "GetMetadata",
        0,
        ReturnKind::String,
    )];
    all.insert(
        SYSTEM_CONTRACT.to_owned(),
        contract_metadata(SYSTEM_CONTRACT, &system, false),
    );
    json!({
        "info": {"title": "undefined", "version": "latest"},
        "contracts": all,
        "components": {},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_rune_upper() {
        assert_eq!(upper_first("queryX"), "QueryX");
        assert_eq!(upper_first("QUERYX"), "QUERYX");
        assert_eq!(upper_first("éa"), "Éa");
        assert_eq!(upper_first(""), "");
    }

    #[test]
    fn return_encoding() {
        assert_eq!(ReturnValue::StringList(None).into_payload(), b"");
        assert_eq!(ReturnValue::StringList(Some(vec![])).into_payload(), b"[]");
        assert_eq!(
            ReturnValue::StringList(Some(vec!["a".into(), "<b>".into()])).into_payload(),
            br#"["a","\u003cb\u003e"]"#
        );
        assert_eq!(ReturnValue::String("x y".into()).into_payload(), b"x y");
        assert_eq!(ReturnValue::Nothing.into_payload(), b"");
    }
}
