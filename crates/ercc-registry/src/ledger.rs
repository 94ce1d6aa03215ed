//! What the registry needs from a transaction: its context (channel, time, creator),
//! world state, and the `_lifecycle` chaincode definition. The runtime's stub
//! implements [`RegistryLedger`] for real transactions; [`MemLedger`] is an in-memory one for
//! tests and fuzzing.

use std::collections::BTreeMap;

use fabric_protos::lifecycle::{
    QueryChaincodeDefinitionArgs, QueryChaincodeDefinitionResult, QUERY_CHAINCODE_DEFINITION,
};
use fabric_protos::peer::Response;
use prost::Message;

use fabric_chaincode::StubError;

use crate::keys;

/// A failed ledger call; its text is returned to the client as the error message
/// (as the Go registry returns shim errors unchanged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A call through the runtime's stub failed (the peer's or the shim's text).
    #[error(transparent)]
    Stub(#[from] StubError),
    /// A composite key could not be built from the registry's key components.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
}

/// Why `_lifecycle` gave no chaincode definition, in FPC's `GetChaincodeDefinition` texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DefinitionError {
    /// `_lifecycle` answered with a status other than 200.
    #[error("error while retrieving chaincode definition: [{status}] {message}")]
    Lifecycle {
        /// The response status (404 when the chaincode is not defined).
        status: i32,
        /// The response message.
        message: String,
    },
    /// `_lifecycle` answered 200 with an empty payload.
    #[error("no chaincode definition found for chaincode='{0}'")]
    NotFound(String),
    /// The payload is not a `QueryChaincodeDefinitionResult`.
    #[error("invalid QueryChaincodeDefinitionResult: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// The transaction as the registry sees it. Calls are blocking and sequential; every
/// value is the transaction's (never the wall clock), so endorsers agree.
pub trait RegistryLedger {
    /// The transaction's channel.
    fn channel_id(&self) -> &str;
    /// `ChannelHeader.timestamp` in Unix seconds; `None` if the proposal has none.
    fn tx_timestamp_unix(&self) -> Option<i64>;
    /// `mspid` of the proposal creator's `SerializedIdentity`; `None` if there is none.
    fn creator_msp_id(&self) -> Option<&str>;
    /// A world-state value; `None` when the key is absent (an empty value counts as absent).
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LedgerError>;
    /// Several world-state values, in the order of `keys` (`None` for an absent key): one
    /// round trip when [`reads_keys_together`](Self::reads_keys_together), else one read
    /// per key, in order.
    fn get_states(&mut self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, LedgerError> {
        keys.iter().map(|k| self.get_state(k)).collect()
    }
    /// Whether [`get_states`](Self::get_states) takes one round trip (a Fabric 3.1 peer). The
    /// registry reads a key ahead of need only then, so that an older peer sees exactly the
    /// reads (and read set) it always did.
    fn reads_keys_together(&self) -> bool {
        false
    }
    /// Writes a value (an empty value deletes, as in Fabric).
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LedgerError>;
    /// `GetStateByPartialCompositeKey`: every `(key, value)` under the partial key, in
    /// key (byte) order. Invalid components fail with the shim's text.
    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attrs: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, LedgerError>;
    /// `_lifecycle` `QueryChaincodeDefinition` for a chaincode on this channel. The error
    /// is FPC's text, e.g. `error while retrieving chaincode definition: [404] namespace
    /// X is not defined` (build it with [`chaincode_definition_from_response`]).
    fn query_chaincode_definition(
        &mut self,
        chaincode_id: &str,
    ) -> Result<QueryChaincodeDefinitionResult, DefinitionError>;
}

/// Arguments of the `_lifecycle` call (exactly two: function name, marshalled args).
pub fn query_chaincode_definition_args(chaincode_id: &str) -> Vec<Vec<u8>> {
    vec![
        QUERY_CHAINCODE_DEFINITION.as_bytes().to_vec(),
        QueryChaincodeDefinitionArgs {
            name: chaincode_id.to_owned(),
        }
        .encode_to_vec(),
    ]
}

/// Interprets `_lifecycle`'s response to the query for `chaincode_id` the way FPC's
/// `GetChaincodeDefinition` does, with its texts: any status but 200 is `error while
/// retrieving chaincode definition: [<status>] <message>`; an empty payload is `no
/// chaincode definition found for chaincode='<id>'`.
pub fn chaincode_definition_from_response(
    chaincode_id: &str,
    response: &Response,
) -> Result<QueryChaincodeDefinitionResult, DefinitionError> {
    if response.status != 200 {
        return Err(DefinitionError::Lifecycle {
            status: response.status,
            message: response.message.clone(),
        });
    }
    if response.payload.is_empty() {
        return Err(DefinitionError::NotFound(chaincode_id.to_owned()));
    }
    Ok(QueryChaincodeDefinitionResult::decode(
        response.payload.as_slice(),
    )?)
}

/// An in-memory [`RegistryLedger`] for unit tests and fuzzing: a sorted map as world state
/// (same byte order as the peer's state database) and a table of chaincode definitions.
#[derive(Debug, Clone, Default)]
pub struct MemLedger {
    /// The transaction's channel.
    pub channel_id: String,
    /// The transaction time (Unix seconds); `None` for a proposal without one.
    pub tx_timestamp: Option<i64>,
    /// The creator's MSP id; `None` for a proposal without a creator.
    pub creator_msp_id: Option<String>,
    /// World state.
    pub state: BTreeMap<String, Vec<u8>>,
    /// What `_lifecycle` answers, by chaincode name; missing names get the 404 text.
    pub definitions: BTreeMap<String, QueryChaincodeDefinitionResult>,
    /// How many `put_state` calls were made, to assert that failures write nothing.
    pub puts: usize,
    /// Read like a Fabric 3.1 peer: `get_states` in one round trip.
    pub reads_together: bool,
    /// Round trips of point reads (`get_state`, `get_states`), to assert batching.
    pub reads: usize,
    /// Range scans (`get_state_by_partial_composite_key`).
    pub scans: usize,
}

impl MemLedger {
    /// A ledger on `channel_id` at `tx_timestamp`, created by a member of `creator_msp_id`.
    pub fn new(channel_id: &str, tx_timestamp: i64, creator_msp_id: &str) -> Self {
        Self {
            channel_id: channel_id.to_owned(),
            tx_timestamp: Some(tx_timestamp),
            creator_msp_id: Some(creator_msp_id.to_owned()),
            ..Self::default()
        }
    }

    /// A key's value as the peer reads it: an empty value is an absent key.
    fn value(&self, key: &str) -> Option<Vec<u8>> {
        self.state.get(key).filter(|v| !v.is_empty()).cloned()
    }

    /// Records a committed chaincode definition (version = MRENCLAVE for FPC).
    pub fn define_chaincode(&mut self, name: &str, version: &str, sequence: i64) {
        self.definitions.insert(
            name.to_owned(),
            QueryChaincodeDefinitionResult {
                sequence,
                version: version.to_owned(),
                ..Default::default()
            },
        );
    }
}

impl RegistryLedger for MemLedger {
    fn channel_id(&self) -> &str {
        &self.channel_id
    }

    fn tx_timestamp_unix(&self) -> Option<i64> {
        self.tx_timestamp
    }

    fn creator_msp_id(&self) -> Option<&str> {
        self.creator_msp_id.as_deref()
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        self.reads += 1;
        Ok(self.value(key))
    }

    fn get_states(&mut self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, LedgerError> {
        if !self.reads_together {
            return keys.iter().map(|k| self.get_state(k)).collect();
        }
        self.reads += 1;
        Ok(keys.iter().map(|k| self.value(k)).collect())
    }

    fn reads_keys_together(&self) -> bool {
        self.reads_together
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LedgerError> {
        if key.is_empty() {
            // The stub's refusal, before anything is sent.
            return Err(
                StubError::InvalidArgument("key must not be an empty string".into()).into(),
            );
        }
        self.puts += 1;
        if value.is_empty() {
            self.state.remove(key);
        } else {
            self.state.insert(key.to_owned(), value.to_vec());
        }
        Ok(())
    }

    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attrs: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, LedgerError> {
        self.scans += 1;
        let (start, end) = keys::partial_composite_key_range(object_type, attrs)?;
        Ok(self
            .state
            .range(start..end)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn query_chaincode_definition(
        &mut self,
        chaincode_id: &str,
    ) -> Result<QueryChaincodeDefinitionResult, DefinitionError> {
        // What the peer's `_lifecycle` answers for an undefined chaincode.
        let not_defined = || DefinitionError::Lifecycle {
            status: 404,
            message: format!("namespace {chaincode_id} is not defined"),
        };
        self.definitions
            .get(chaincode_id)
            .cloned()
            .ok_or_else(not_defined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_args_and_response_follow_fpc() {
        let args = query_chaincode_definition_args("mycc");
        assert_eq!(args.len(), 2);
        assert_eq!(args[0], b"QueryChaincodeDefinition");
        assert_eq!(
            QueryChaincodeDefinitionArgs::decode(args[1].as_slice())
                .unwrap()
                .name,
            "mycc"
        );
        let not_found = Response {
            status: 404,
            message: "namespace mycc is not defined".into(),
            payload: vec![],
        };
        assert_eq!(
            chaincode_definition_from_response("mycc", &not_found)
                .unwrap_err()
                .to_string(),
            "error while retrieving chaincode definition: [404] namespace mycc is not defined"
        );
        let def = QueryChaincodeDefinitionResult {
            sequence: 2,
            version: "v".into(),
            ..Default::default()
        };
        let ok = Response {
            status: 200,
            message: String::new(),
            payload: def.encode_to_vec(),
        };
        assert_eq!(
            chaincode_definition_from_response("mycc", &ok).unwrap(),
            def
        );
        let garbage = Response {
            status: 200,
            message: String::new(),
            payload: vec![0x12, 0x09],
        };
        assert!(chaincode_definition_from_response("mycc", &garbage)
            .unwrap_err()
            .to_string()
            .starts_with("invalid QueryChaincodeDefinitionResult: "));
        let empty = Response {
            status: 200,
            message: String::new(),
            payload: vec![],
        };
        assert_eq!(
            chaincode_definition_from_response("mycc", &empty)
                .unwrap_err()
                .to_string(),
            "no chaincode definition found for chaincode='mycc'"
        );
    }

    #[test]
    fn mem_ledger_scans_in_key_order_within_the_partial_key() {
        let mut l = MemLedger::new("ch", 0, "Org1MSP");
        for (cc, e) in [("cc", "B"), ("cc", "A"), ("cc2", "A"), ("c", "Z")] {
            let k = keys::credentials_key(cc, e).unwrap();
            l.put_state(&k, e.as_bytes()).unwrap();
        }
        let got = l
            .get_state_by_partial_composite_key(keys::CREDENTIALS_OBJECT_TYPE, &["cc"])
            .unwrap();
        let ids: Vec<_> = got
            .iter()
            .map(|(k, _)| keys::split_composite_key(k).unwrap().1[1].clone())
            .collect();
        assert_eq!(ids, ["A", "B"]);
        assert!(l
            .get_state_by_partial_composite_key(keys::CREDENTIALS_OBJECT_TYPE, &["c\u{0}"])
            .is_err());
        // Empty value deletes.
        let k = keys::credentials_key("cc", "A").unwrap();
        l.put_state(&k, b"").unwrap();
        assert_eq!(l.get_state(&k).unwrap(), None);
        assert_eq!(
            l.query_chaincode_definition("nope")
                .unwrap_err()
                .to_string(),
            "error while retrieving chaincode definition: [404] namespace nope is not defined"
        );
    }
}
