//! Answers to `_lifecycle` invoked by chaincode (INVOKE_CHAINCODE): only
//! `QueryChaincodeDefinition`, with the peer's argument rules and its 404 for an undefined
//! namespace.
#![deny(clippy::indexing_slicing)]

use fabric_protos::common::{application_policy, ApplicationPolicy};
use fabric_protos::lifecycle::{
    QueryChaincodeDefinitionArgs, QueryChaincodeDefinitionResult, QUERY_CHAINCODE_DEFINITION,
};
use fabric_protos::peer::Response;
use fabric_protos::prost::Message;

use crate::ledger::Ledger;

fn error(status: i32, message: String) -> Response {
    Response {
        status,
        message,
        payload: Vec::new(),
    }
}

/// Runs one `_lifecycle` invocation. `local_msp` is the approving organisation.
pub fn invoke(ledger: &Ledger, local_msp: &str, args: &[Vec<u8>]) -> Response {
    let [function, input] = args else {
        return error(
            500,
            format!(
                "lifecycle scc operations require exactly two arguments but received {}",
                args.len()
            ),
        );
    };
    let function = String::from_utf8_lossy(function);
    if function != QUERY_CHAINCODE_DEFINITION {
        return error(
            500,
            format!(
                "failed to invoke backing implementation of '{function}': devpeer's _lifecycle only serves {QUERY_CHAINCODE_DEFINITION}"
            ),
        );
    }
    let q = match QueryChaincodeDefinitionArgs::decode(input.as_slice()) {
        Ok(q) => q,
        Err(e) => {
            return error(
                500,
                format!("failed to decode input arg to '{QUERY_CHAINCODE_DEFINITION}': {e}"),
            )
        }
    };
    let def = match ledger.definition(&q.name) {
        Ok(Some(d)) => d,
        Ok(None) => return error(404, format!("namespace {} is not defined", q.name)),
        Err(e) => {
            return error(
                500,
                format!(
                "failed to invoke backing implementation of '{QUERY_CHAINCODE_DEFINITION}': {e}"
            ),
            )
        }
    };
    let validation_parameter = ApplicationPolicy {
        r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
            "/Channel/Application/Endorsement".to_string(),
        )),
    }
    .encode_to_vec();
    let mut approvals = std::collections::BTreeMap::new();
    approvals.insert(local_msp.to_string(), true);
    let result = QueryChaincodeDefinitionResult {
        sequence: def.sequence,
        version: def.version,
        endorsement_plugin: "escc".into(),
        validation_plugin: "vscc".into(),
        validation_parameter,
        collections: Vec::new(),
        init_required: def.init_required,
        approvals,
    };
    Response {
        status: 200,
        message: String::new(),
        payload: result.encode_to_vec(),
    }
}
